#!/usr/bin/env python3
"""Writes the committed seed corpus of every fuzz target into fuzz/corpus/<target>/: requests,
messages and documents as clients, providers and the services send them, some from the
repository's fixtures (fixtures/ngeo, crates/pvs-model/tests/fixtures/eo) and documentation
(the collections files of docs/*.md). Run again after changing
it: `python3 fuzz/seeds.py` (it rewrites the seed_* files only; inputs picked from grown
corpora, named otherwise, stay)."""

import hashlib
import json
import pathlib

HERE = pathlib.Path(__file__).resolve().parent
REPO = HERE.parent
NGEO = REPO / "fixtures" / "ngeo"

ITEM = {
    "type": "Feature",
    "stac_version": "1.0.0",
    "id": "S2A_20240101",
    "collection": "S2",
    "geometry": {"type": "Polygon", "coordinates": [[[2, 45], [7, 45], [7, 48], [2, 48], [2, 45]]]},
    "bbox": [2, 45, 7, 48],
    "properties": {"datetime": None, "start_datetime": "2024-01-01T10:00:00Z",
                   "end_datetime": "2024-01-01T10:00:10Z", "platform": "sentinel-2a"},
    "assets": {"data": {"href": "S2/S2A_20240101.tif", "type": "image/tiff; application=geotiff"}},
    "links": [],
}
BROWSE_ITEM = {
    "id": "b_id_1", "collection": "SAR", "file": "ingest/ASA.jpg",
    "geolocation": {"type": "regular_grid", "col_node_number": 2, "row_node_number": 2,
                    "col_step": 100.0, "row_step": 100.0,
                    "coord_lists": ["52.86 -2.79 53.08 -1.22", "49.46 -1.49 49.68 -0.03"]},
    "reference_system": "EPSG:4326",
    "start": "2010-07-22T21:38:40Z", "end": "2010-07-22T21:39:38Z",
    "report": {"name": "r.xml", "responsible_org_name": "ESA", "date_time": "2010-07-23T00:00:00Z",
               "browse_type": "SAR"},
}


def texts(*values):
    return [v.encode() for v in values]


def flagged(flags, *values):
    """Inputs whose first byte selects a mode of the target."""
    return [bytes([f]) + v.encode() for f in flags for v in values]


def fixtures(pattern, folder=NGEO, limit=64 * 1024):
    return [p.read_bytes() for p in sorted(folder.rglob(pattern)) if p.stat().st_size <= limit][:40]


def documented_collections():
    """The collections files the documentation shows (its ```toml blocks)."""
    blocks = []
    for doc in sorted((REPO / "docs").glob("*.md")):
        for block in doc.read_text().split("```toml")[1:]:
            text = block.split("```")[0]
            if "[collections." in text:
                blocks.append(text.lstrip("\n").encode())
    return blocks


SEEDS = {
    "ogc_kvp": texts(
        "SERVICE=WMS&REQUEST=GetMap&VERSION=1.3.0&LAYERS=SAR&STYLES=&CRS=EPSG:4326&BBOX=48,-5,52,1&WIDTH=256&HEIGHT=256&FORMAT=image/png",
        "service=wms&request=GetCapabilities", "a=1&a=2&&=x&b=%20c%20&c", "q=%E2%82%AC&+x+=+y+",
        "SERVICE=WCS&VERSION=2.0.1&REQUEST=GetCoverage&COVERAGEID=b_id_1&SUBSET=x(0,1)&SUBSET=y(0,1)"),
    "wms": texts(
        "SERVICE=WMS&REQUEST=GetMap&VERSION=1.3.0&LAYERS=SAR&STYLES=&CRS=EPSG:4326&BBOX=48,-5,52,1&WIDTH=256&HEIGHT=256&FORMAT=image/png&TRANSPARENT=TRUE",
        "SERVICE=WMS&REQUEST=GetMap&VERSION=1.1.1&LAYERS=SAR,SAR__outlines&STYLES=,&SRS=EPSG:3857&BBOX=-556597,6106854,111319,6800125&WIDTH=512&HEIGHT=300&FORMAT=image/jpeg&TIME=2010-07-22T00:00:00Z/2010-07-23T00:00:00Z",
        "SERVICE=WMS&REQUEST=GetFeatureInfo&VERSION=1.3.0&LAYERS=SAR&QUERY_LAYERS=SAR&STYLES=&CRS=CRS:84&BBOX=-5,48,1,52&WIDTH=256&HEIGHT=256&I=10&J=20&INFO_FORMAT=application/json",
        "SERVICE=WMS&REQUEST=GetLegendGraphic&VERSION=1.3.0&LAYER=SAR&FORMAT=image/png",
        "VERSION=1.3.0&REQUEST=GetMap&LAYERS=S2&CRS=EPSG:32632&BBOX=300000,5000000,400000,5100000&WIDTH=10&HEIGHT=10&DIM_BANDS=B4,B3,B2&DIM_RANGE=0,3000"),
    "wcs": texts(
        "SERVICE=WCS&VERSION=2.0.1&REQUEST=GetCoverage&COVERAGEID=b_id_1&FORMAT=image/tiff&SUBSET=Long(-2,0)&SUBSET=Lat(50,51)&SCALEFACTOR=0.5",
        "SERVICE=WCS&VERSION=2.0.1&REQUEST=GetCoverage&COVERAGEID=b_id_1&SCALESIZE=x(100),y(50)&SUBSETTINGCRS=http://www.opengis.net/def/crs/EPSG/0/4326",
        "SERVICE=WCS&VERSION=2.0.1&REQUEST=DescribeCoverage&COVERAGEID=b_id_1,b_id_2",
        "service=wcs&request=GetCapabilities&acceptversions=2.0.1"),
    "ogc_crs": texts("EPSG:4326", "CRS:84", "EPSG:3857", "http://www.opengis.net/def/crs/EPSG/0/32633",
                     "urn:ogc:def:crs:EPSG::4326", "urn:ogc:def:crs:OGC:1.3:CRS84", "epsg:900913"),
    "ogc_time": texts("2010-07-22T21:38:40Z", "2010-07-22", "2010-07-22T21:38:40.123+02:00", "2010-07",
                      "2010", "2010-07-22T21:38Z", "-0001-01-01T00:00:00Z"),
    "tile_time": texts("2010-07-22T21:38:40Z/2010-07-22T21:39:38Z", "default", "2010-07-22",
                       "2010-07-22T00:00:00Z--2010-07-23T00:00:00Z", "2010-07-22/P1D"),
    "tiles": texts(
        "/wmts/SAR/default/default/WebMercatorQuad/5/10/15.png",
        "/wmts/1.0.0/SAR/default/2010-07-22T21:38:40Z--2010-07-22T21:39:38Z/WorldCRS84Quad/3/2/7.jpg",
        "/tiles/SAR/5/15/10.png?time=2010-07-22",
        "/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&LAYER=SAR&STYLE=default&TILEMATRIXSET=WebMercatorQuad&TILEMATRIX=5&TILEROW=10&TILECOL=15&FORMAT=image/png&TIME=default",
        "/ows?SERVICE=WMS&REQUEST=GetMap&VERSION=1.1.1&LAYERS=SAR&STYLES=&SRS=EPSG:3857&BBOX=-20037508.34,0,0,20037508.34&WIDTH=256&HEIGHT=256&FORMAT=image/png&TILED=true"),
    "opensearch_request": flagged([0, 1, 2, 5],
        "bbox=-5,48,1,52&start=2010-07-01T00:00:00Z&end=2010-08-01T00:00:00Z&count=10&startIndex=1",
        "geom=POLYGON((-5 48,1 48,1 52,-5 52,-5 48))&uid=b_id_1&format=json",
        "lat=50&lon=-2&radius=10000&q=SAR&count=0&startPage=2",
        "timerel=intersects&start=2010-07-22&sort=date&eo:productType=ASA_IM"),
    "opensearch_wkt": texts("POINT(-2 50)", "POLYGON((-5 48,1 48,1 52,-5 52,-5 48))",
                            "MULTIPOLYGON(((-5 48,1 48,1 52,-5 48)),((170 -10,-170 -10,-170 10,170 -10)))",
                            "LINESTRING(-5 48,1 52)", "polygon ((0 0, 1 0, 1 1, 0 0))"),
    "stac_search_get": flagged([0, 1],
        "collections=SAR,S2&bbox=-5,48,1,52&datetime=2010-07-01T00:00:00Z/..&limit=10",
        "ids=b_id_1&fields=id,-assets&sortby=-properties.datetime&token=next:10",
        'intersects={"type":"Polygon","coordinates":[[[2,45],[7,45],[7,48],[2,48],[2,45]]]}',
        "filter=eo:cloud_cover<10 AND platform='sentinel-2a'&filter-lang=cql2-text"),
    "stac_search_post": [json.dumps(v).encode() for v in [
        {"collections": ["SAR"], "bbox": [-5, 48, 1, 52], "datetime": "2010-07-22T00:00:00Z/2010-07-23T00:00:00Z", "limit": 5},
        {"ids": ["b_id_1"], "intersects": {"type": "Point", "coordinates": [-2, 50]}, "sortby": [{"field": "datetime", "direction": "desc"}]},
        {"filter-lang": "cql2-json", "filter": {"op": "and", "args": [{"op": "=", "args": [{"property": "collection"}, "SAR"]}, {"op": "s_intersects", "args": [{"property": "geometry"}, {"type": "Point", "coordinates": [0, 0]}]}]}},
        {"fields": {"include": ["id"], "exclude": ["assets"]}, "token": "next:1"}]],
    "cql2_text": texts("eo:cloud_cover < 10", "platform = 'sentinel-2a' AND eo:cloud_cover BETWEEN 0 AND 20",
                       "S_INTERSECTS(geometry, POLYGON((0 0,1 0,1 1,0 0)))",
                       "T_INTERSECTS(datetime, INTERVAL('2024-01-01T00:00:00Z','2024-02-01T00:00:00Z'))",
                       "id IN ('a','b') OR NOT (collection LIKE 'S%')", "datetime > TIMESTAMP('2024-01-01T00:00:00Z')"),
    "cql2_json": [json.dumps(v).encode() for v in [
        {"op": "<", "args": [{"property": "eo:cloud_cover"}, 10]},
        {"op": "and", "args": [{"op": "=", "args": [{"property": "platform"}, "sentinel-2a"]}, {"op": "between", "args": [{"property": "eo:cloud_cover"}, 0, 20]}]},
        {"op": "t_intersects", "args": [{"property": "datetime"}, {"interval": ["2024-01-01T00:00:00Z", ".."]}]},
        {"op": "in", "args": [{"property": "id"}, ["a", "b"]]},
        {"op": "not", "args": [{"op": "like", "args": [{"property": "collection"}, "S%"]}]}]],
    "register_message": texts("SAR/b_id_1/b_id_1.json", "SAR/b_id_1/", "data/product_folder",
                              json.dumps(ITEM), "  SAR/../x.json\n", "{\"id\": \"x\"}"),
    "deregistration": texts("b_id_1", "SAR/b_id_1", '{"collection":"SAR","id":"b_id_1"}', "SAR:b_id_1", ""),
    "preprocess_message": texts("incoming/package.tar.gz", '{"key":"incoming/p1.tif","collection":"S2"}',
                                json.dumps({"item": ITEM}), json.dumps(BROWSE_ITEM)),
    "stac_item": flagged([0, 1], json.dumps(ITEM),
                         json.dumps({**ITEM, "properties": {"datetime": "2024-01-01T10:00:00Z"}, "collection": None})),
    "collections": documented_collections() + texts(
        '[collections.SAR]\nbrowse_types = ["SAR"]\nproduct_type = "ASA_IM"\nseed_zoom = [0, 6]\nstrategy = "merge"\nmerge_threshold = "1h"\n',
        '[collections.S2]\nbrowse_types = ["S2"]\n[collections.S2.browses.TRUE_COLOR]\nbands = ["B4", "B3", "B2"]\nrange = [0, 3000]\n[collections.S2.masks.clouds]\nvalidity = false\n'),
    "eo_metadata": fixtures("*.xml", REPO / "crates" / "pvs-model" / "tests" / "fixtures" / "eo")
    + fixtures("browseReport_ASA_IM__0P_20100722_213840.xml"),
    "band_expression": texts("B4", "(B8 - B4) / (B8 + B4)", "B1 * 2 + -B2 / 0", "((B12))", "B3 - 1e3 * B2 ^ 2"),
    "browse_report": fixtures("browseReport*.xml"),
}


def main():
    for target, inputs in SEEDS.items():
        folder = HERE / "corpus" / target
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.glob("seed_*"):
            old.unlink()
        for data in inputs:
            (folder / f"seed_{hashlib.sha1(data).hexdigest()[:16]}").write_bytes(data)
        print(f"{target}: {len(inputs)} seeds")


if __name__ == "__main__":
    main()
