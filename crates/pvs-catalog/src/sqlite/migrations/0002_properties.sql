-- pvs embedded catalog schema 2 (SQLite): product properties by STAC name (eo:cloud_cover,
-- platform, ...), the fields that filters (STAC API, WMS cql, OpenSearch EO) and sorts apply to.
-- Applied once per file by pvs-catalog; never edit it after release (add a migration).

ALTER TABLE products ADD COLUMN properties TEXT NOT NULL DEFAULT '{}';  -- a JSON object

-- the most common property filter of EO searches
CREATE INDEX products_cloud_cover_idx ON products (json_extract(properties, '$."eo:cloud_cover"'));
