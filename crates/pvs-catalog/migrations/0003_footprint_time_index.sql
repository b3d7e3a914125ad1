-- pvs catalog schema 3: one GiST index over footprint and acquisition times, so that a search
-- by place and time (the common EO search) is answered by one index scan instead of a
-- footprint scan filtered by time (or the reverse). btree_gist gives GiST its timestamp
-- operators; it ships with PostgreSQL (contrib) and is a trusted extension.
-- Applied once per database by pvs-catalog; never edit it after release (add a migration).

CREATE EXTENSION IF NOT EXISTS btree_gist;

CREATE INDEX products_footprint_time_idx ON products USING gist (footprint, begin_time, end_time);

-- the new index leads with the footprint: it answers footprint-only searches as well
DROP INDEX products_footprint_idx;
