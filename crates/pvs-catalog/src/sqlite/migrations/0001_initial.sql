-- pvs embedded catalog schema 1 (SQLite): collections and their products.
-- Applied once per file by pvs-catalog, which records it in PRAGMA user_version; never edit it
-- after release (add a migration). Times are integer microseconds since 1970-01-01T00:00:00Z.
-- Text compares with SQLite's BINARY collation: byte order, as the PostGIS schema's "C".

CREATE TABLE collections (
    name         TEXT PRIMARY KEY NOT NULL,
    product_type TEXT,
    metadata     TEXT NOT NULL,    -- a JSON object
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
) STRICT;

CREATE TABLE products (
    pk            INTEGER PRIMARY KEY,
    id            TEXT NOT NULL UNIQUE,
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
    CONSTRAINT products_time_order CHECK (begin_time <= end_time)
) STRICT;

-- search order (begin time desc, then id) and time filters
CREATE INDEX products_begin_idx ON products (begin_time DESC, id);
-- a collection's products, newest first (the renderer's mosaic order and paging)
CREATE INDEX products_collection_begin_idx ON products (collection, begin_time DESC, id);

-- One row per polygon of a footprint (footprints are split at the antimeridian, so each part
-- has an ordinary box); `part` is also the polygon's row in footprint_index.
CREATE TABLE footprint_parts (
    part    INTEGER PRIMARY KEY,
    product INTEGER NOT NULL REFERENCES products (pk) ON DELETE CASCADE
) STRICT;
CREATE INDEX footprint_parts_product_idx ON footprint_parts (product);

-- The bounding box of each part: candidates for bbox and geometry searches, whose exact test
-- is done with `geo` on the footprint. R*Tree stores 32-bit floats rounded outwards, so a box
-- never shrinks: no product is missed.
CREATE VIRTUAL TABLE footprint_index USING rtree (part, min_x, max_x, min_y, max_y);
