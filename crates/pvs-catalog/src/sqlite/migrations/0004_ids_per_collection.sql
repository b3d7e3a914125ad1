-- pvs embedded catalog schema 4 (SQLite): product ids are unique per collection, as ngEO's
-- browse identifiers are per browse layer: the same id in two collections is two products.
-- Applied once per file by pvs-catalog; never edit it after release (add a migration).
--
-- SQLite cannot drop the column constraint UNIQUE (id), so the products table is rebuilt
-- (SQLite's "making other kinds of table schema changes"). This runs in the migration
-- transaction with foreign keys on: footprint_parts, which refers to products and would lose
-- its rows to ON DELETE CASCADE when the old table is dropped, is set aside and rebuilt too.
-- Row keys (products.pk, footprint_parts.part) are kept, so footprint_boxes stays valid.

CREATE TABLE products_new (
    pk            INTEGER PRIMARY KEY,
    id            TEXT NOT NULL,
    collection    TEXT NOT NULL REFERENCES collections (name) ON DELETE RESTRICT,
    product_type  TEXT,
    footprint     BLOB NOT NULL,   -- WKB MultiPolygon, EPSG:4326 longitude/latitude
    -- the footprint's extent, exact (the collection summaries)
    west          REAL NOT NULL,
    south         REAL NOT NULL,
    east          REAL NOT NULL,
    north         REAL NOT NULL,
    begin_time    INTEGER NOT NULL,
    end_time      INTEGER NOT NULL,
    location      TEXT NOT NULL,
    metadata      TEXT NOT NULL,   -- a JSON object
    registered_at INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    properties    TEXT NOT NULL DEFAULT '{}',  -- a JSON object
    CONSTRAINT products_time_order CHECK (begin_time <= end_time),
    CONSTRAINT products_key UNIQUE (collection, id)
) STRICT;

INSERT INTO products_new (pk, id, collection, product_type, footprint, west, south, east,
                          north, begin_time, end_time, location, metadata, registered_at,
                          updated_at, properties)
SELECT pk, id, collection, product_type, footprint, west, south, east, north, begin_time,
       end_time, location, metadata, registered_at, updated_at, properties
FROM products;

CREATE TEMP TABLE footprint_parts_saved AS SELECT part, product FROM footprint_parts;
DROP TABLE footprint_parts;
DROP TABLE products;
ALTER TABLE products_new RENAME TO products;

CREATE TABLE footprint_parts (
    part    INTEGER PRIMARY KEY,
    product INTEGER NOT NULL REFERENCES products (pk) ON DELETE CASCADE
) STRICT;
INSERT INTO footprint_parts (part, product) SELECT part, product FROM footprint_parts_saved;
DROP TABLE footprint_parts_saved;
CREATE INDEX footprint_parts_product_idx ON footprint_parts (product);

-- search order (begin time desc, then id and collection) and time filters
CREATE INDEX products_begin_idx ON products (begin_time DESC, id);
-- a collection's products, newest first (the renderer's mosaic order and paging)
CREATE INDEX products_collection_begin_idx ON products (collection, begin_time DESC, id);
-- the most common property filter of EO searches
CREATE INDEX products_cloud_cover_idx ON products (json_extract(properties, '$."eo:cloud_cover"'));
-- the products of one id in any collection (WMS product layers, OpenSearch uid, STAC ids)
CREATE INDEX products_id_idx ON products (id);
