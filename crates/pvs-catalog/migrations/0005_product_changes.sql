-- pvs catalog schema 5: where products changed, for what is kept drawn from them (the
-- renderer's overview mosaics). Every insert, update and delete of a product, by any path,
-- records its collection and the box of its footprint (before and after an update), with the
-- transaction that made the change: a reader that remembers the oldest transaction still
-- running when it last read (its snapshot's xmin) reads every change committed since, even
-- those of transactions that took their sequence number before others committed.
-- Applied once per database by pvs-catalog; never edit it after release (add a migration).

CREATE TABLE product_changes (
    seq        bigserial PRIMARY KEY,
    xid        xid8 NOT NULL DEFAULT pg_current_xact_id(),
    collection text COLLATE "C" NOT NULL,
    west       double precision NOT NULL,
    south      double precision NOT NULL,
    east       double precision NOT NULL,
    north      double precision NOT NULL
);
CREATE INDEX product_changes_xid_idx ON product_changes (xid);

CREATE FUNCTION pvs_record_product_change() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    recorded bigint;
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        INSERT INTO product_changes (collection, west, south, east, north)
        VALUES (OLD.collection, ST_XMin(OLD.footprint), ST_YMin(OLD.footprint),
                ST_XMax(OLD.footprint), ST_YMax(OLD.footprint))
        RETURNING seq INTO recorded;
    END IF;
    IF TG_OP IN ('UPDATE', 'INSERT') THEN
        INSERT INTO product_changes (collection, west, south, east, north)
        VALUES (NEW.collection, ST_XMin(NEW.footprint), ST_YMin(NEW.footprint),
                ST_XMax(NEW.footprint), ST_YMax(NEW.footprint))
        RETURNING seq INTO recorded;
    END IF;
    -- The newest 100,000 changes are kept; a reader further behind starts afresh.
    IF recorded % 1000 = 0 THEN
        DELETE FROM product_changes WHERE seq <= recorded - 100000;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER products_changed AFTER INSERT OR UPDATE OR DELETE ON products
    FOR EACH ROW EXECUTE FUNCTION pvs_record_product_change();
