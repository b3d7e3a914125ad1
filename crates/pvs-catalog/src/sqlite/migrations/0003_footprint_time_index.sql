-- pvs embedded catalog schema 3 (SQLite): the box index of footprint parts also holds the
-- product's time span, so that a search by place and time (the common EO search) finds its
-- candidates in one R*Tree lookup instead of intersecting a place lookup with a time range.
-- Applied once per file by pvs-catalog; never edit it after release (add a migration).

-- The box of each footprint part and the acquisition time of its product, in microseconds
-- since 1970 like products.begin_time and end_time. R*Tree stores 32-bit floats rounded
-- outwards (for times, about two minutes in 2026): a box never shrinks, so a lookup finds a
-- superset of the products; searches test the exact times and footprints on them.
CREATE VIRTUAL TABLE footprint_boxes USING rtree (part, min_x, max_x, min_y, max_y, min_t, max_t);

INSERT INTO footprint_boxes (part, min_x, max_x, min_y, max_y, min_t, max_t)
SELECT i.part, i.min_x, i.max_x, i.min_y, i.max_y, p.begin_time, p.end_time
FROM footprint_index i
JOIN footprint_parts f ON f.part = i.part
JOIN products p ON p.pk = f.product;

DROP TABLE footprint_index;
