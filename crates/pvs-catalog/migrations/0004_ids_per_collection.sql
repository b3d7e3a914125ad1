-- pvs catalog schema 4: product ids are unique per collection, as ngEO's browse identifiers
-- are per browse layer: the same id in two collections is two products.
-- Applied once per database by pvs-catalog; never edit it after release (add a migration).

ALTER TABLE products DROP CONSTRAINT products_pkey;
ALTER TABLE products ADD PRIMARY KEY (collection, id);

-- the products of one id in any collection (WMS product layers, OpenSearch uid, STAC ids)
CREATE INDEX products_id_idx ON products (id);
