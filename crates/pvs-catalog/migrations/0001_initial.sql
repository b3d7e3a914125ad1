-- pvs catalog schema 1: collections and their products.
-- Applied once per database by pvs-catalog; never edit it after release (add a migration).

CREATE EXTENSION IF NOT EXISTS postgis;

-- Names and ids use the "C" collation: byte order, the same on every server and backend,
-- which the search order (begin time desc, then id) relies on.
CREATE TABLE collections (
    name         text COLLATE "C" PRIMARY KEY,
    product_type text,
    metadata     jsonb NOT NULL DEFAULT '{}',
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE products (
    id            text COLLATE "C" PRIMARY KEY,
    collection    text COLLATE "C" NOT NULL REFERENCES collections (name) ON DELETE RESTRICT,
    product_type  text,
    footprint     geometry(MultiPolygon, 4326) NOT NULL,
    begin_time    timestamptz NOT NULL,
    end_time      timestamptz NOT NULL,
    location      text NOT NULL,
    metadata      jsonb NOT NULL DEFAULT '{}',
    registered_at timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT products_time_order CHECK (begin_time <= end_time),
    CONSTRAINT products_footprint_valid CHECK (ST_IsValid(footprint))
);

-- bbox / geometry searches
CREATE INDEX products_footprint_idx ON products USING gist (footprint);
-- a collection's products, newest first (the renderer's mosaic order and paging)
CREATE INDEX products_collection_begin_idx ON products (collection, begin_time DESC, id);
-- time filters
CREATE INDEX products_time_idx ON products (begin_time, end_time);
