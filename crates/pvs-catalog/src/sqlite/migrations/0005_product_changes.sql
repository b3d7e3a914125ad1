-- pvs embedded catalog schema 5 (SQLite): where products changed, for what is kept drawn from
-- them (the renderer's overview mosaics). Every insert, update and delete of a product, by
-- any path, records its collection and the box of its footprint (before and after an
-- update). SQLite writes one transaction at a time, so the sequence is the commit order.
-- Applied once per file by pvs-catalog; never edit it after release (add a migration).

CREATE TABLE product_changes (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    collection TEXT NOT NULL,
    west       REAL NOT NULL,
    south      REAL NOT NULL,
    east       REAL NOT NULL,
    north      REAL NOT NULL
) STRICT;

CREATE TRIGGER products_inserted AFTER INSERT ON products BEGIN
    INSERT INTO product_changes (collection, west, south, east, north)
    VALUES (NEW.collection, NEW.west, NEW.south, NEW.east, NEW.north);
END;

CREATE TRIGGER products_updated AFTER UPDATE ON products BEGIN
    INSERT INTO product_changes (collection, west, south, east, north)
    VALUES (OLD.collection, OLD.west, OLD.south, OLD.east, OLD.north),
           (NEW.collection, NEW.west, NEW.south, NEW.east, NEW.north);
END;

CREATE TRIGGER products_deleted AFTER DELETE ON products BEGIN
    INSERT INTO product_changes (collection, west, south, east, north)
    VALUES (OLD.collection, OLD.west, OLD.south, OLD.east, OLD.north);
END;

-- The newest 100,000 changes are kept; a reader further behind starts afresh.
CREATE TRIGGER product_changes_pruned AFTER INSERT ON product_changes
WHEN NEW.seq % 1000 = 0 BEGIN
    DELETE FROM product_changes WHERE seq <= NEW.seq - 100000;
END;
