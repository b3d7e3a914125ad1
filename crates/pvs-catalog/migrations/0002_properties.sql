-- pvs catalog schema 2: product properties by STAC name (eo:cloud_cover, platform, ...), the
-- fields that filters (STAC API, WMS cql, OpenSearch EO) and sorts apply to.
-- Applied once per database by pvs-catalog; never edit it after release (add a migration).

ALTER TABLE products ADD COLUMN properties jsonb NOT NULL DEFAULT '{}';

-- the most common property filter of EO searches
CREATE INDEX products_cloud_cover_idx ON products (((properties ->> 'eo:cloud_cover')::float8));

-- product types compare in byte order, like ids and names, in filters and sorts
ALTER TABLE products ALTER COLUMN product_type TYPE text COLLATE "C";
