"""The STAC world's own tools against the STAC API of pvs (crates/pvs/tests/stac_clients.rs).

Usage: stac_clients.py CONFIG.json

CONFIG holds:
  name        the deployment ("pvs up", "renderer on PostGIS")
  root        the landing page, e.g. http://127.0.0.1:8080/stac: the only URL given; every
              other request goes to a URL the API advertised (links, `next` links)
  base        the public base every advertised URL must start with
  behind_nginx  whether the STAC API is reached through deploy/nginx (which answers bodies
              over pvs's limit itself)
  products    what was registered: [{"id", "collection", "geometry" (GeoJSON, lon/lat),
              "begin", "end" (RFC 3339), "properties" {...}, "extensions" [schema URLs]}]
  validator   {"collection", "geometry"}: what stac-api-validator is given
  write       {"collection", "headers", "data_href"}: a Transaction's collection, the
              credentials (headers) and a storage key of a spare COG for new Items
  schemas     the folder of the vendored extension schemas (crates/pvs/tests/stac-schemas)

Checks, each failing with what was asked, what came back and what was expected:

1. stac-api-validator (pinned in scripts/setup.sh) passes for every conformance class the API
   declares that it can check. It runs offline: every JSON Schema it (and pystac, stac-check,
   stac-validator) fetches comes from a local copy (`Offline`): the STAC 1.1.0 core and
   GeoJSON schemas shipped inside pystac's wheel, the extension schemas vendored beside this
   script. A schema with no local copy fails the run naming its URL.
2. pystac-client searches (GET and POST), pages by `next` links only, and reads Items and
   Collections: bbox (also across the antimeridian), intersects, datetime with open ends,
   collections, ids, limit, sortby, fields, filter (CQL2 text and JSON); results are
   compared with what was registered (ids, numberMatched, order).
3. Every Item and Collection returned validates against the JSON Schemas of its STAC version
   and of each of its `stac_extensions` (jsonschema, local schemas only).
4. Bad input (malformed Items, unknown collections, bad CQL2, huge `intersects`, `limit` out
   of range) is refused with 400/404/413 and a JSON body naming the field; none of it is
   registered. Transactions: POST, 409 on a repeat, PUT, DELETE, each followed until the
   registrar has done it.

Known defects of pvs are named in KNOWN_DEFECTS (each a TODO for pvs-stac): a check of one
does not fail the run while the defect is there, and fails it once the defect is fixed, so
that the TODO is removed. Prints "every check passed" and a JSON summary on success.
"""

import copy
import io
import json
import os
import re
import sys
import time
import urllib.error
import urllib.request
import urllib.response
import email.message
import warnings
from datetime import datetime, timezone
from urllib.parse import quote

import jsonschema
import pystac
import pystac.validation.jsonschemas
import requests
import shapely
import urllib3
from pystac_client import Client
from pystac_client.conformance import ConformanceClasses
from pystac_client.warnings import DoesNotConformTo
from referencing import Registry, Resource
from shapely.geometry import box, shape
from urllib3.connectionpool import HTTPConnectionPool

CONFIG = json.load(open(sys.argv[1]))
NAME = CONFIG["name"]
ROOT = CONFIG["root"]
BASE = CONFIG["base"]
PRODUCTS = {p["id"]: p for p in CONFIG["products"]}
COLLECTIONS = sorted({p["collection"] for p in CONFIG["products"]})
WRITE = CONFIG["write"]
SCHEMAS = CONFIG["schemas"]

CHECKS = []


def check(condition, what):
    if not condition:
        raise AssertionError(f"{NAME}: {what}")
    CHECKS.append(what.split(":")[0])


def parse_time(text):
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(timezone.utc)


for product in PRODUCTS.values():
    product["shape"] = shape(product["geometry"])
    product["begin_t"] = parse_time(product["begin"])
    product["end_t"] = parse_time(product["end"])


# ---------------------------------------------------------------------------------------
# Known defects of pvs (each reported; TODO: pvs-stac fixes them, then the entry goes).

KNOWN_DEFECTS = {}
DEFECTS_SEEN = set()


def known_defect(name, correct, what):
    """A check that does not fail the run while the defect `name` is there; once the behaviour
    is correct the run fails at its end, asking for the TODO to be removed."""
    assert name in KNOWN_DEFECTS, name
    if correct:
        FIXED.setdefault(name, what)
    else:
        DEFECTS_SEEN.add(name)


FIXED = {}


# ---------------------------------------------------------------------------------------
# Offline: JSON Schemas from local copies. Everything (requests, pystac's urllib3, stdlib
# urllib) that goes elsewhere than this machine is answered from the local schemas, or fails
# at once naming the URL.

PYSTAC_SCHEMAS = os.path.dirname(pystac.validation.jsonschemas.__file__)
SCHEMAS_SERVED = set()


def local_schema_path(url):
    url = url.split("#")[0]
    core = "https://schemas.stacspec.org/v1.1.0/"
    if url.startswith(core) and url.endswith(".json"):
        return os.path.join(PYSTAC_SCHEMAS, "stac-spec", "v1.1.0", url.rsplit("/", 1)[1])
    if url.startswith("https://geojson.org/schema/"):
        return os.path.join(PYSTAC_SCHEMAS, "geojson", url.rsplit("/", 1)[1])
    extensions = "https://stac-extensions.github.io/"
    if url.startswith(extensions):
        return os.path.join(SCHEMAS, "stac-extensions.github.io", url[len(extensions) :])
    return None


class Offline(Exception):
    pass


def schema_bytes(url):
    path = local_schema_path(url)
    if path is None or not os.path.isfile(path):
        raise Offline(f"no network here, and no local copy of {url}")
    SCHEMAS_SERVED.add(url.split("#")[0])
    with open(path, "rb") as f:
        return f.read()


LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1", "[::1]")
_pool_urlopen = HTTPConnectionPool.urlopen


def _offline_urlopen(self, method, url, *args, **kwargs):
    if self.host in LOCAL_HOSTS:
        return _pool_urlopen(self, method, url, *args, **kwargs)
    full = f"{self.scheme}://{self.host}{url}"
    return urllib3.HTTPResponse(
        body=io.BytesIO(schema_bytes(full)),
        headers={"Content-Type": "application/schema+json"},
        status=200,
        preload_content=kwargs.get("preload_content", True),
        decode_content=False,
        request_url=full,
        request_method=method,
    )


HTTPConnectionPool.urlopen = _offline_urlopen


class _OfflineHttps(urllib.request.HTTPSHandler):
    def https_open(self, req):
        headers = email.message.Message()
        headers["Content-Type"] = "application/schema+json"
        body = io.BytesIO(schema_bytes(req.full_url))
        return urllib.response.addinfourl(body, headers, req.full_url, 200)


urllib.request.install_opener(urllib.request.build_opener(_OfflineHttps))


def _retrieve(uri):
    return Resource.from_contents(json.loads(schema_bytes(uri)))


REGISTRY = Registry(retrieve=_retrieve)
VALIDATED = {"Item": 0, "Collection": 0, "Catalog": 0}


def validate_stac(obj, where):
    """`obj` against the JSON Schema of its type and STAC version and of each extension."""
    kind = {"Feature": "Item"}.get(obj.get("type"), obj.get("type"))
    spec = {"Item": "item", "Collection": "collection", "Catalog": "catalog"}[kind]
    version = obj.get("stac_version")
    check(version == "1.1.0", f"{where}: stac_version {version!r} (local schemas: 1.1.0)")
    urls = [f"https://schemas.stacspec.org/v{version}/{spec}-spec/json-schema/{spec}.json"]
    urls += obj.get("stac_extensions", [])
    for url in urls:
        schema = json.loads(schema_bytes(url))
        validator = jsonschema.Draft7Validator(schema, registry=REGISTRY)
        errors = sorted(validator.iter_errors(obj), key=lambda e: list(e.path))
        check(
            not errors,
            f"{where}: invalid against {url}: "
            + "; ".join(f"{list(e.path)}: {e.message[:300]}" for e in errors[:5]),
        )
    VALIDATED[kind] += 1


# Every extension prefix of a property, and the schema URL start naming that extension.
EXTENSION_PREFIXES = {
    "eo": "https://stac-extensions.github.io/eo/",
    "view": "https://stac-extensions.github.io/view/",
    "sat": "https://stac-extensions.github.io/sat/",
    "sar": "https://stac-extensions.github.io/sar/",
    "processing": "https://stac-extensions.github.io/processing/",
    "product": "https://stac-extensions.github.io/product/",
}


# (Item id, extension prefix) of every Item property whose extension the Item does not name.
UNDECLARED = set()


def undeclared_extensions(item):
    declared = item.get("stac_extensions", [])
    prefixes = {k.split(":")[0] for k in item.get("properties", {}) if ":" in k}
    return sorted(
        p
        for p in prefixes
        if p in EXTENSION_PREFIXES
        and not any(d.startswith(EXTENSION_PREFIXES[p]) for d in declared)
    )


# ---------------------------------------------------------------------------------------
# Every request, in order (pystac-client, the validator and this script use requests).

REQUESTED = []
_session_send = requests.Session.send


def _logged_send(self, request, **kwargs):
    REQUESTED.append((request.method, request.url, request.body))
    return _session_send(self, request, **kwargs)


requests.Session.send = _logged_send
HTTP = requests.Session()
# A server may close an idle keep-alive connection just as the client reuses it (hyper
# closes connections idle for 30 s); a client then retries an idempotent request once on a
# new connection, as browsers do. Errors that repeat, and every answer, still count.
HTTP.mount(
    "http://",
    requests.adapters.HTTPAdapter(
        max_retries=urllib3.util.Retry(
            total=2, connect=2, read=2, status=0, other=0, redirect=0,
            allowed_methods=frozenset(["GET", "HEAD", "PUT", "DELETE", "OPTIONS"]),
            raise_on_status=False,
        )
    ),
)


def advertised(url, what):
    check(
        url == BASE or url.startswith(BASE + "/"),
        f"{what}: advertised URL {url!r} is not under the public base {BASE!r}",
    )
    return url


def link(obj, rel, method=None):
    found = [
        l
        for l in obj.get("links", [])
        if l.get("rel") == rel and (method is None or l.get("method", "GET") == method)
    ]
    return found[0] if found else None


# ---------------------------------------------------------------------------------------
# What the registered products say a search must find.


def meets_bbox(product, bbox):
    west, south, east, north = bbox
    boxes = [box(west, south, east, north)]
    if west > east:
        boxes = [box(west, south, 180, north), box(-180, south, east, north)]
    return any(product["shape"].intersects(b) for b in boxes)


def meets_datetime(product, text):
    if "/" not in text:
        t = parse_time(text)
        return product["begin_t"] <= t <= product["end_t"]
    start, end = text.split("/")
    if start not in ("", "..") and product["end_t"] < parse_time(start):
        return False
    if end not in ("", "..") and product["begin_t"] > parse_time(end):
        return False
    return True


def sort_key_value(product, field):
    field = field.removeprefix("properties.")
    if field in ("datetime", "start_datetime"):
        return product["begin_t"]
    if field == "end_datetime":
        return product["end_t"]
    if field == "id":
        return product["id"]
    if field == "collection":
        return product["collection"]
    return product["properties"].get(field)


def expected_order(products, sortby):
    """The documented order: each field in turn, missing values last either way, then id."""
    if not sortby:
        sortby = [("datetime", True)]
    ordered = sorted(products, key=lambda p: p["id"])
    for field, descending in reversed(sortby):
        present = [p for p in ordered if sort_key_value(p, field) is not None]
        missing = [p for p in ordered if sort_key_value(p, field) is None]
        present.sort(key=lambda p: sort_key_value(p, field), reverse=descending)
        ordered = present + missing
    return [p["id"] for p in ordered]


def all_products():
    return list(PRODUCTS.values())


# ---------------------------------------------------------------------------------------
# 1. stac-api-validator


# Each conformance class the API may declare: the validator's option that checks it, or
# None with where this script checks it instead.
CLASSES = {
    "https://api.stacspec.org/v1.0.0/core": "core",
    "https://api.stacspec.org/v1.0.0/collections": "collections",
    "https://api.stacspec.org/v1.0.0/ogcapi-features": "features",
    "https://api.stacspec.org/v1.0.0/item-search": "item-search",
    "https://api.stacspec.org/v1.0.0/item-search#sort": "item-search#sort",
    "https://api.stacspec.org/v1.0.0/ogcapi-features#sort": "features#sort",
    "https://api.stacspec.org/v1.0.0/item-search#fields": "item-search#fields",
    "https://api.stacspec.org/v1.0.0/ogcapi-features#fields": "features#fields",
    "https://api.stacspec.org/v1.0.0-rc.3/item-search#filter": "item-search#filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter": "features#filter",
    # Read by the validator's Features and Filter checks, and checked below (search_checks,
    # filter_checks):
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core": None,
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson": None,
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30": None,
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter": None,
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2": None,
    "http://www.opengis.net/spec/cql2/1.0/conf/advanced-comparison-operators": None,
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text": None,
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-json": None,
    # The validator's `transaction` check cannot run here: it posts an Item whose data asset
    # is on AWS (no network here; the registrar fetches http(s) data), expects 201 and the
    # Item readable 2 s later (pvs answers 202 and registers asynchronously, which the
    # Transaction extension allows), and PATCHes. transaction_checks does the same with a
    # COG pvs can read, following each write until the registrar has done it.
    "https://api.stacspec.org/v1.0.0/ogcapi-features/extensions/transaction": None,
    "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/simpletx": None,
}

# The validator's errors that are known defects of pvs (KNOWN_DEFECTS), and those that are
# the validator's own mistakes: each error must match one, and each must still match an
# error (else it is fixed, and goes).
VALIDATOR_ERRORS_OF_DEFECTS = {}
VALIDATOR_MISTAKES = {
    # Its Sort check POSTs `"collections": "S2"`; Item Search's POST body takes an array of
    # collection ids, and pvs refuses a string naming `collections` (400).
    "collections-as-string": [
        r'POST .* body=\{"sortby": .*"collections": "[^"]+"\} had unexpected status code 400',
    ],
    # CQL2 1.0 (OGC 21-065r2) `between` takes three arguments (property, low, high); the
    # validator still sends the draft's two (property, [low, high]). pvs refuses it (400)
    # and answers the standard form: filter_checks.
    "cql2-between-two-args": [
        r'"op": "between", "args": \[\{"property": "eo:cloud_cover"\}, \[0, 50\]\]\}.* unexpected status code 400',
    ],
}


def run_validator(landing):
    from stac_api_validator.validations import QueryConfig, validate_api

    declared = landing["conformsTo"]
    unknown = [c for c in declared if c not in CLASSES]
    check(not unknown, f"validator: conformance classes this test does not know: {unknown}")
    options = sorted({CLASSES[c] for c in declared if CLASSES[c]})
    vc = CONFIG["validator"]
    started = time.time()
    warns, errors = validate_api(
        root_url=ROOT,
        ccs_to_validate=options,
        collection=vc["collection"],
        geometry=json.dumps(vc["geometry"]),
        auth_bearer_token=None,
        auth_query_parameter=None,
        fields_nested_property="properties.eo:cloud_cover",
        validate_pagination=True,
        query_config=QueryConfig(*([None] * 13)),
        transaction_collection=None,
        headers={},
    )
    errors = [e if isinstance(e, str) else " ".join(map(str, e)) for e in errors]
    unexplained = []
    matched = set()
    for error in errors:
        hits = [
            name
            for group in (VALIDATOR_ERRORS_OF_DEFECTS, VALIDATOR_MISTAKES)
            for name, patterns in group.items()
            if any(re.search(p, error) for p in patterns)
        ]
        check(len(hits) <= 1, f"validator: the error {error!r} is explained by several entries: {hits}")
        if hits:
            matched.add(hits[0])
        else:
            unexplained.append(error)
    check(
        not unexplained,
        "stac-api-validator "
        + " ".join(f"--conformance {o}" for o in options)
        + " found errors:\n  - "
        + "\n  - ".join(unexplained),
    )
    for name in VALIDATOR_ERRORS_OF_DEFECTS:
        known_defect(name, name not in matched, "stac-api-validator no longer reports it")
    for name in VALIDATOR_MISTAKES:
        check(name in matched, f"validator: its known mistake {name!r} no longer shows: remove it")
    return {
        "options": options,
        "seconds": round(time.time() - started, 1),
        "warnings": [str(w) for w in warns],
        "known_defect_errors": len(errors),
    }


# ---------------------------------------------------------------------------------------
# 2. and 3. pystac-client


def item_matches_product(item, where):
    product = PRODUCTS.get(item["id"])
    check(product is not None, f"{where}: an Item {item['id']!r} that was not registered")
    check(item["collection"] == product["collection"], f"{where}: {item['id']} collection {item['collection']}")
    geometry = shape(item["geometry"])
    check(
        geometry.symmetric_difference(product["shape"]).area < 1e-9,
        f"{where}: {item['id']} geometry {item['geometry']} is not the registered footprint {product['geometry']}",
    )
    props = item["properties"]
    if product["begin"] == product["end"]:
        check(parse_time(props["datetime"]) == product["begin_t"], f"{where}: {item['id']} datetime {props.get('datetime')}")
    else:
        check(props.get("datetime") is None, f"{where}: {item['id']} datetime {props.get('datetime')} for an interval")
        check(
            parse_time(props["start_datetime"]) == product["begin_t"]
            and parse_time(props["end_datetime"]) == product["end_t"],
            f"{where}: {item['id']} start/end {props.get('start_datetime')}/{props.get('end_datetime')}",
        )
    for key, value in product["properties"].items():
        check(props.get(key) == value, f"{where}: {item['id']} properties.{key} is {props.get(key)!r}, registered {value!r}")
    west, south, east, north = item["bbox"]
    minx, miny, maxx, maxy = product["shape"].bounds
    crosses = minx <= -180 and maxx >= 180
    if crosses:
        check(west > east, f"{where}: {item['id']} bbox {item['bbox']} of a footprint split at the antimeridian must have west > east (RFC 7946 5.2)")
    else:
        check(
            [round(v, 9) for v in item["bbox"]] == [round(v, 9) for v in (minx, miny, maxx, maxy)],
            f"{where}: {item['id']} bbox {item['bbox']}, footprint bounds {(minx, miny, maxx, maxy)}",
        )
    for rel in ("self", "parent", "collection", "root"):
        l = link(item, rel)
        check(l is not None, f"{where}: {item['id']} has no {rel} link")
        advertised(l["href"], f"{where}: {item['id']} {rel} link")
    for key, asset in item["assets"].items():
        advertised(asset["href"], f"{where}: {item['id']} asset {key}")
    validate_stac(item, f"{where}: Item {item['id']}")
    for prefix in undeclared_extensions(item):
        UNDECLARED.add((item["id"], prefix))


def search_ids(client, method, **kwargs):
    """Every Item of a search, its pages followed through `next` links by pystac-client;
    checks that each page after the first was asked for exactly as its `next` link said."""
    search = client.search(method=method, **kwargs)
    first = len(REQUESTED)
    pages = list(search.pages_as_dicts())
    requests_made = [r for r in REQUESTED[first:] if "/stac/search" in r[1]]
    if not pages:
        # pystac-client yields no page when the first has no Items.
        check(len(requests_made) == 1, f"{method} {kwargs}: {len(requests_made)} requests for no Items")
        check(search.matched() == 0, f"{method} {kwargs}: no Items, yet numberMatched {search.matched()}")
        return [], []
    check(len(requests_made) == len(pages), f"{method} {kwargs}: {len(requests_made)} requests for {len(pages)} pages")
    ids = []
    for number, page in enumerate(pages):
        where = f"{method} search {kwargs} page {number + 1}"
        check(page["type"] == "FeatureCollection", f"{where}: type {page.get('type')}")
        limit = kwargs.get("limit")
        if limit:
            check(len(page["features"]) <= limit, f"{where}: {len(page['features'])} Items, limit {limit}")
        check(page.get("numberReturned") == len(page["features"]), f"{where}: numberReturned {page.get('numberReturned')}")
        nxt = link(page, "next")
        if number + 1 < len(pages):
            check(nxt is not None, f"{where}: no next link, yet pystac-client read another page")
            advertised(nxt["href"], f"{where}: next link")
            method_sent, url_sent, body_sent = requests_made[number + 1]
            check(method_sent == nxt.get("method", "GET"), f"{where}: next page asked with {method_sent}, link says {nxt}")
            if method_sent == "GET":
                check(url_sent == nxt["href"], f"{where}: next page asked at {url_sent}, link says {nxt['href']}")
            else:
                check(json.loads(body_sent) == nxt["body"], f"{where}: next page body {body_sent}, link says {nxt['body']}")
        else:
            check(nxt is None, f"{where}: a next link on the last page: {nxt}")
        ids += [f["id"] for f in page["features"]]
        if not kwargs.get("fields"):
            for feature in page["features"]:
                item_matches_product(feature, where)
    check(len(ids) == len(set(ids)), f"{method} {kwargs}: an Item twice across pages: {ids}")
    matched = pages[0].get("numberMatched") if pages else None
    check(matched == len(ids), f"{method} {kwargs}: numberMatched {matched}, {len(ids)} Items over the pages")
    return ids, pages


def expect_search(client, what, expected_ids, sortby=None, ordered=False, **kwargs):
    """The search `kwargs`, by GET and by POST, finds `expected_ids` (in that order when
    `ordered`), 2 Items a page."""
    for method in ("GET", "POST"):
        ids, _ = search_ids(client, method, limit=2, sortby=sortby, **kwargs)
        where = f"{what} ({method} {kwargs}{', sortby ' + str(sortby) if sortby else ''})"
        if ordered:
            check(ids == expected_ids, f"{where}: found {ids}, expected {expected_ids}")
        else:
            check(sorted(ids) == sorted(expected_ids), f"{where}: found {sorted(ids)}, expected {sorted(expected_ids)}")


def collection_checks(client):
    collections = list(client.get_collections())
    ids = sorted(c.id for c in collections)
    check(ids == COLLECTIONS, f"collections: {ids}, registered {COLLECTIONS}")
    for collection in collections:
        body = collection.to_dict(transform_hrefs=False)
        where = f"Collection {collection.id}"
        validate_stac(body, where)
        collection.validate()
        products = [p for p in PRODUCTS.values() if p["collection"] == collection.id]
        begin = min(p["begin_t"] for p in products)
        end = max(p["end_t"] for p in products)
        interval = body["extent"]["temporal"]["interval"][0]
        check(
            parse_time(interval[0]) == begin and parse_time(interval[1]) == end,
            f"{where}: temporal extent {interval}, products from {begin} to {end}",
        )
        west, south, east, north = body["extent"]["spatial"]["bbox"][0]
        for p in products:
            minx, miny, maxx, maxy = p["shape"].bounds
            check(
                west <= minx and south <= miny and maxx <= east and maxy <= north,
                f"{where}: spatial extent {body['extent']['spatial']['bbox']} does not hold {p['id']} {p['shape'].bounds}",
            )
        for rel in ("self", "root", "items"):
            advertised(link(body, rel)["href"], f"{where}: {rel} link")
        # Its Items, through the items link (pystac-client pages by next links).
        items = list(collection.get_items())
        check(
            sorted(i.id for i in items) == sorted(p["id"] for p in products),
            f"{where}: get_items found {sorted(i.id for i in items)}, registered {sorted(p['id'] for p in products)}",
        )
        for item in items:
            item.validate()
            item_matches_product(item.to_dict(transform_hrefs=False), f"{where} get_items")
        # One Item by its id.
        one = products[0]["id"]
        item = collection.get_item(one)
        check(item is not None and item.id == one, f"{where}: get_item({one}) found {item}")
    return len(collections)


def search_checks(client):
    everything = all_products()
    # Every Item, paged by 2, newest first then id (the documented default order).
    expect_search(client, "all, default order", expected_order(everything, None), ordered=True)
    check(client.search(max_items=None, limit=3).matched() == len(everything), "matched: numberMatched of all")
    # limit: the page size.
    for method in ("GET", "POST"):
        _, pages = search_ids(client, method, limit=4)
        sizes = [len(p["features"]) for p in pages]
        check(sizes[:-1] == [4] * (len(sizes) - 1) and 0 < sizes[-1] <= 4, f"limit 4 ({method}): page sizes {sizes}")

    # bbox, also across the antimeridian (west > east), and touching edges.
    for bbox in (
        [10.5, 44.5, 11.5, 45.5],
        [-10, 40, 15, 60],
        [179, -17.5, -179, -16.5],
        [170, -30, -170, 0],
        [-179.5, -17.5, -179, -17],
        [179.2, -17.5, 179.8, -17],
        [12, 46, 12.5, 46.5],
        [100, -50, 120, -40],
    ):
        expected = [p["id"] for p in everything if meets_bbox(p, bbox)]
        expect_search(client, f"bbox {bbox}", expected, bbox=bbox)

    # intersects: a Point, a Polygon, a MultiPolygon on both sides of the antimeridian.
    for geometry in (
        {"type": "Point", "coordinates": [11.5, 45.5]},
        {"type": "Polygon", "coordinates": [[[-4, 48], [8, 48], [8, 53], [-4, 53], [-4, 48]]]},
        {
            "type": "MultiPolygon",
            "coordinates": [
                [[[179, -17.5], [180, -17.5], [180, -16.5], [179, -16.5], [179, -17.5]]],
                [[[-180, -17.5], [-179, -17.5], [-179, -16.5], [-180, -16.5], [-180, -17.5]]],
            ],
        },
    ):
        target = shape(geometry)
        expected = [p["id"] for p in everything if p["shape"].intersects(target)]
        expect_search(client, f"intersects {geometry['type']}", expected, intersects=geometry)

    # datetime: instants, closed intervals, open ends (`..` and empty).
    for text in (
        "2021-04-01T10:00:00Z",
        "2021-01-01T00:30:00Z",
        "2021-03-01T00:00:00Z/2021-05-01T10:00:00Z",
        "2021-05-01T10:00:00Z/..",
        "../2021-01-01T00:00:00Z",
        "2022-01-01T00:00:00Z/",
        "/2021-02-01T09:00:00Z",
    ):
        expected = [p["id"] for p in everything if meets_datetime(p, text)]
        expect_search(client, f"datetime {text}", expected, datetime=text)

    # collections and ids, alone and with the others.
    for collection in COLLECTIONS:
        expected = [p["id"] for p in everything if p["collection"] == collection]
        expect_search(client, f"collections [{collection}]", expected, collections=[collection])
    some = sorted(PRODUCTS)[::3]
    expect_search(client, f"ids {some}", some, ids=some)
    expect_search(
        client,
        "ids with collections",
        [i for i in some if PRODUCTS[i]["collection"] == COLLECTIONS[0]],
        ids=some,
        collections=[COLLECTIONS[0]],
    )

    # sortby: queryables both ways, missing values last, ties by id.
    for sortby in (
        [("eo:cloud_cover", True)],
        [("eo:cloud_cover", False)],
        [("datetime", False)],
        [("properties.platform", False), ("datetime", True)],
        [("end_datetime", True)],
        [("id", True)],
    ):
        text = ",".join(("-" if d else "+") + f for f, d in sortby)
        expect_search(client, f"sortby {text}", expected_order(everything, sortby), sortby=text, ordered=True)


# (CQL2 text, CQL2 JSON, the reference predicate on a product)
def _cc(p):
    return p["properties"].get("eo:cloud_cover")


def _platform(p):
    return p["properties"].get("platform")


FILTERS = [
    (
        "eo:cloud_cover < 30",
        {"op": "<", "args": [{"property": "eo:cloud_cover"}, 30]},
        lambda p: _cc(p) is not None and _cc(p) < 30,
    ),
    (
        "platform = 'sentinel-2a' AND eo:cloud_cover >= 5",
        {
            "op": "and",
            "args": [
                {"op": "=", "args": [{"property": "platform"}, "sentinel-2a"]},
                {"op": ">=", "args": [{"property": "eo:cloud_cover"}, 5]},
            ],
        },
        lambda p: _platform(p) == "sentinel-2a" and _cc(p) is not None and _cc(p) >= 5,
    ),
    (
        "eo:cloud_cover BETWEEN 10 AND 50",
        {"op": "between", "args": [{"property": "eo:cloud_cover"}, 10, 50]},
        lambda p: _cc(p) is not None and 10 <= _cc(p) <= 50,
    ),
    (
        "platform IN ('landsat-8', 'landsat-9')",
        {"op": "in", "args": [{"property": "platform"}, ["landsat-8", "landsat-9"]]},
        lambda p: _platform(p) in ("landsat-8", "landsat-9"),
    ),
    (
        "platform LIKE 'sentinel-2%'",
        {"op": "like", "args": [{"property": "platform"}, "sentinel-2%"]},
        lambda p: _platform(p) is not None and _platform(p).startswith("sentinel-2"),
    ),
    (
        "eo:cloud_cover IS NULL",
        {"op": "isNull", "args": [{"property": "eo:cloud_cover"}]},
        lambda p: _cc(p) is None,
    ),
    (
        "NOT (eo:cloud_cover > 20)",
        {"op": "not", "args": [{"op": ">", "args": [{"property": "eo:cloud_cover"}, 20]}]},
        lambda p: _cc(p) is not None and not _cc(p) > 20,
    ),
    (
        "datetime >= TIMESTAMP('2021-05-01T10:00:00Z')",
        {"op": ">=", "args": [{"property": "datetime"}, {"timestamp": "2021-05-01T10:00:00Z"}]},
        lambda p: p["begin_t"] >= parse_time("2021-05-01T10:00:00Z"),
    ),
    (
        "id = 'S2_A' OR collection = 'L8'",
        {
            "op": "or",
            "args": [
                {"op": "=", "args": [{"property": "id"}, "S2_A"]},
                {"op": "=", "args": [{"property": "collection"}, "L8"]},
            ],
        },
        lambda p: p["id"] == "S2_A" or p["collection"] == "L8",
    ),
    (
        "view:off_nadir > 1 AND sat:orbit_state = 'descending'",
        {
            "op": "and",
            "args": [
                {"op": ">", "args": [{"property": "view:off_nadir"}, 1]},
                {"op": "=", "args": [{"property": "sat:orbit_state"}, "descending"]},
            ],
        },
        lambda p: (p["properties"].get("view:off_nadir") or 0) > 1
        and p["properties"].get("sat:orbit_state") == "descending",
    ),
]


def filter_checks(client):
    everything = all_products()
    for text, cql_json, predicate in FILTERS:
        expected = [p["id"] for p in everything if predicate(p)]
        check(expected, f"filter {text}: the products make it find something")
        for method, value, lang in (
            ("GET", text, "cql2-text"),
            ("POST", cql_json, "cql2-json"),
            ("GET", json.dumps(cql_json), "cql2-json"),
            ("POST", text, "cql2-text"),
        ):
            ids, _ = search_ids(client, method, limit=2, filter=value, filter_lang=lang)
            check(
                sorted(ids) == sorted(expected),
                f"filter {lang} {value!r} ({method}): found {sorted(ids)}, expected {sorted(expected)}",
            )
    # The queryables name every property filtered on.
    queryables_link = link(client.to_dict(), "http://www.opengis.net/def/rel/ogc/1.0/queryables")
    response = HTTP.get(advertised(queryables_link["href"], "queryables link"))
    check(response.status_code == 200, f"queryables: {response.status_code}")
    names = set(response.json()["properties"])
    for needed in ("eo:cloud_cover", "platform", "datetime", "view:off_nadir", "sat:orbit_state", "id", "collection"):
        check(needed in names, f"queryables: no {needed} in {sorted(names)}")


def fields_checks(client):
    one = sorted(PRODUCTS)[0]
    for method in ("GET", "POST"):
        ids, pages = search_ids(client, method, ids=[one], fields=["id", "properties.eo:cloud_cover", "bbox"])
        feature = pages[0]["features"][0]
        check(
            set(feature) <= {"type", "stac_version", "id", "collection", "properties", "bbox"}
            and "bbox" in feature
            and "geometry" not in feature
            and "assets" not in feature,
            f"fields include ({method}): members {sorted(feature)}",
        )
        check(set(feature.get("properties", {})) <= {"eo:cloud_cover"}, f"fields include ({method}): properties {feature.get('properties')}")
        ids, pages = search_ids(client, method, ids=[one], fields=["-geometry", "-assets"])
        feature = pages[0]["features"][0]
        check(
            "geometry" not in feature and "assets" not in feature and "properties" in feature and "links" in feature,
            f"fields exclude ({method}): members {sorted(feature)}",
        )
        # Empty fields, and excludes only in a GET: the default set (Fields 1 and 4).
        url = advertised(link(client.to_dict(), "search", method)["href"], "search link")
        if method == "GET":
            answers = [HTTP.get(url, params={"ids": one, "fields": f}) for f in ("", "-geometry")]
        else:
            answers = [HTTP.post(url, json={"ids": [one], "fields": {}})]
        default = True
        for answer in answers:
            check(answer.status_code == 200, f"empty fields ({method}): {answer.status_code} {answer.text[:300]}")
            default = default and "eo:cloud_cover" not in answer.json()["features"][0]["properties"]
        check(default, f"empty fields ({method})")
        # An include of a property winning over the exclusion of properties (Fields 5.1).
        ids, pages = search_ids(client, method, collections=["S2"], limit=1, fields=["-properties", "properties.eo:cloud_cover"])
        props = pages[0]["features"][0].get("properties", {})
        check("eo:cloud_cover" in props, f"fields nested include ({method}) gives {props}")


def asset_checks(client):
    """An Item's COG and metadata document, through the asset hrefs."""
    item = next(client.search(collections=["S2"], max_items=1, limit=1).items())
    data = item.assets["data"].href
    head = HTTP.head(advertised(data, "data asset"))
    check(head.status_code == 200 and head.headers["Content-Type"].startswith("image/tiff"), f"HEAD {data}: {head.status_code} {head.headers}")
    part = HTTP.get(data, headers={"Range": "bytes=0-3"})
    check(part.status_code == 206 and part.content in (b"II*\x00", b"MM\x00*", b"II+\x00"), f"GET {data} bytes 0-3: {part.status_code} {part.content!r}")
    metadata = HTTP.get(advertised(item.assets["metadata"].href, "metadata asset"))
    check(metadata.status_code == 200 and metadata.json(), f"metadata asset: {metadata.status_code}")
    thumbnail = HTTP.get(advertised(item.assets["thumbnail"].href, "thumbnail asset"))
    check(
        thumbnail.status_code == 200 and thumbnail.content.startswith(b"\x89PNG"),
        f"thumbnail asset: {thumbnail.status_code} {thumbnail.headers.get('Content-Type')}",
    )


# ---------------------------------------------------------------------------------------
# 4. Bad input and transactions


def refused(response, status, field, what):
    body_text = response.text[:500]
    check(response.status_code == status, f"{what}: status {response.status_code}, expected {status}: {body_text}")
    check(
        response.headers.get("Content-Type", "").startswith("application/json"),
        f"{what}: Content-Type {response.headers.get('Content-Type')}",
    )
    body = response.json()
    check(isinstance(body.get("code"), str) and isinstance(body.get("description"), str), f"{what}: body {body}")
    check(body["description"].startswith(field), f"{what}: the description {body['description']!r} does not start with {field!r}")
    return body


def good_item(item_id, **properties):
    return {
        "type": "Feature",
        "stac_version": "1.1.0",
        "stac_extensions": ["https://stac-extensions.github.io/eo/v2.0.0/schema.json"],
        "id": item_id,
        "geometry": {"type": "Polygon", "coordinates": [[[30, 10], [31, 10], [31, 11], [30, 11], [30, 10]]]},
        "bbox": [30, 10, 31, 11],
        "properties": {"datetime": "2024-02-02T02:02:02Z", "platform": "sentinel-2c", "eo:cloud_cover": 7.0, **properties},
        "assets": {
            "data": {
                "href": WRITE["data_href"],
                "type": "image/tiff; application=geotiff; profile=cloud-optimized",
                "roles": ["data"],
            }
        },
        "links": [],
    }


def wait_status(url, status, what, check_body=None, within=90):
    deadline = time.time() + within
    last = None
    while time.time() < deadline:
        last = HTTP.get(url)
        if last.status_code == status and (check_body is None or check_body(last.json())):
            return last
        time.sleep(0.3)
    check(False, f"{what}: {url} still answers {last.status_code} {last.text[:300]} after {within} s")


def bad_input_checks(client, landing):
    collections_url = advertised(link(landing, "data")["href"], "data link")
    write = WRITE["collection"]
    items_url = f"{collections_url}/{write}/items"
    headers = {"Content-Type": "application/json", **WRITE["headers"]}
    before = client.search(limit=1).matched()

    def post(body, url=items_url, raw=None):
        data = raw if raw is not None else json.dumps(body)
        return HTTP.post(url, data=data, headers=headers)

    bad_ids = []

    def bad(item_id, mutate):
        item = good_item(item_id)
        mutate(item)
        bad_ids.append(item_id)
        return item

    cases = [
        ("no stac_version", bad("bad_version", lambda i: i.pop("stac_version")), 400, "stac_version"),
        ("a Point geometry", bad("bad_point", lambda i: i.update(geometry={"type": "Point", "coordinates": [30, 10]})), 400, "geometry"),
        ("an open ring", bad("bad_ring", lambda i: i["geometry"]["coordinates"][0].pop()), 400, "geometry"),
        ("latitudes past 90", bad("bad_lat", lambda i: i["geometry"]["coordinates"][0].__setitem__(2, [31, 95])), 400, "geometry"),
        ("no datetime", bad("bad_time", lambda i: i["properties"].pop("datetime")), 400, "properties"),
        ("a malformed datetime", bad("bad_time2", lambda i: i["properties"].update(datetime="yesterday")), 400, "properties.datetime"),
        ("no data asset", bad("bad_assets", lambda i: i.update(assets={})), 400, "assets"),
        ("another collection", bad("bad_coll", lambda i: i.update(collection="L8")), 400, "collection"),
        ("not a Feature", bad("bad_type", lambda i: i.update(type="FeatureCollection")), 400, "type"),
        ("an id with a slash", bad("bad/id", lambda i: None), 400, "id"),
    ]
    for what, item, status, field in cases:
        refused(post(item), status, field, f"POST an Item with {what}")
    text_cover = post(bad("bad_cc", lambda i: i["properties"].update({"eo:cloud_cover": "low"})))
    check(text_cover.status_code == 400, f"answered {text_cover.status_code}")
    refused(post(None, raw="{not json"), 400, "body", "POST an Item that is not JSON")
    refused(post(None, raw="[]"), 400, "(document)", "POST a JSON array as an Item")
    huge = good_item("bad_huge")
    bad_ids.append("bad_huge")
    huge["properties"]["padding"] = "x" * (1024 * 1024 + 10)
    # Bodies over 1 MiB on a connection of their own: pvs answers 413 before reading them
    # and then closes the connection, without saying so (no `Connection: close`), so a
    # client reusing it fails its next request.
    response = requests.post(items_url, data=json.dumps(huge), headers=headers)
    check(response.status_code == 413, f"POST an Item over 1 MiB: {response.status_code} {response.text[:200]}")
    refused(post(good_item("bad_nocoll"), url=f"{collections_url}/NO_SUCH/items"), 404, "collection", "POST an Item to an unknown collection")
    bad_ids.append("bad_nocoll")

    search = advertised(link(landing, "search", "POST")["href"], "search link")
    get_search = advertised(link(landing, "search", "GET")["href"], "search link")
    # Unknown collections.
    refused(HTTP.get(get_search, params={"collections": "NO_SUCH"}), 404, "collection", "GET search of an unknown collection")
    refused(HTTP.post(search, json={"collections": ["NO_SUCH"]}), 404, "collection", "POST search of an unknown collection")
    refused(HTTP.get(f"{collections_url}/NO_SUCH"), 404, "collection", "GET an unknown collection")
    refused(HTTP.get(f"{collections_url}/NO_SUCH/items"), 404, "collection", "GET the items of an unknown collection")
    refused(HTTP.get(f"{collections_url}/{write}/items/NO_SUCH"), 404, "item", "GET an unknown item")
    # Bad CQL2.
    for params in (
        {"filter": "eo:cloud_cover <"},
        {"filter": "no_such_property = 1"},
        {"filter": "eo:cloud_cover = 'low'"},
        {"filter": "S_INTERSECTS(geometry, POINT(1 2))"},
        {"filter": '{"op": "<", "args": [{"property": "eo:cloud_cover"}]}', "filter-lang": "cql2-json"},
        {"filter": "eo:cloud_cover < 10", "filter-lang": "cql3"},
    ):
        field = "filter-lang" if params.get("filter-lang") == "cql3" else "filter"
        refused(HTTP.get(get_search, params=params), 400, field, f"GET search with {params}")
    for body in (
        {"filter": {"op": "<<", "args": [{"property": "eo:cloud_cover"}, 1]}},
        {"filter": {"op": "=", "args": [{"property": "eo:cloud_cover"}, {"property": "gsd"}]}},
        {"filter": "eo:cloud_cover < ", "filter-lang": "cql2-text"},
    ):
        refused(HTTP.post(search, json=body), 400, "filter", f"POST search with {body}")
    # limit out of range: below 1, not a whole number (above 10000: see below).
    for value in ("0", "-5", "ten", "1.5"):
        refused(HTTP.get(get_search, params={"limit": value}), 400, "limit", f"GET search with limit={value}")
        refused(HTTP.get(f"{collections_url}/{write}/items", params={"limit": value}), 400, "limit", f"GET items with limit={value}")
    refused(HTTP.post(search, json={"limit": 0}), 400, "limit", "POST search with limit 0")
    refused(HTTP.post(search, json={"limit": "ten"}), 400, "limit", "POST search with limit 'ten'")
    # Over the maximum (10000): to be read as the maximum, no error (STAC API Item Search).
    answers = [HTTP.get(get_search, params={"limit": v}) for v in ("10001", "1000000")]
    answers.append(HTTP.post(search, json={"limit": 100000}))
    check(
        all(a.status_code == 200 and a.json()["numberReturned"] == before for a in answers),
        f"limit over 10000 answers {[a.status_code for a in answers]}",
    )
    # Huge and broken intersects.
    ring = [[30 + 0.0001 * k, 10] for k in range(10_500)] + [[31, 11], [30, 11], [30, 10]]
    refused(HTTP.post(search, json={"intersects": {"type": "Polygon", "coordinates": [ring]}}), 400, "intersects", "POST search with 10,503 positions")
    too_large = requests.post(search, json={"intersects": {"type": "MultiPoint", "coordinates": [[0, 0]] * 200_000}})
    if CONFIG["behind_nginx"]:
        # The project's nginx refuses bodies over pvs's limit itself
        # (deploy/nginx/locations.conf), with its own page.
        check(too_large.status_code == 413, f"POST search with a body over 1 MiB: {too_large.status_code}")
    else:
        refused(too_large, 413, "body", "POST search with a body over 1 MiB")
    refused(HTTP.post(search, json={"intersects": {"type": "Polygon", "coordinates": [[[0, 0], [1, 1]]]}}), 400, "intersects", "POST search with a broken polygon")
    refused(HTTP.post(search, json={"intersects": {"type": "Point", "coordinates": [0, 0]}, "bbox": [0, 0, 1, 1]}), 400, "intersects", "POST search with intersects and bbox")
    refused(HTTP.get(get_search, params={"bbox": "1,2,3"}), 400, "bbox", "GET search with 3 bbox numbers")
    refused(HTTP.get(get_search, params={"datetime": "../.."}), 400, "datetime", "GET search with datetime ../..")
    refused(HTTP.get(get_search, params={"datetime": "2021-13-01T00:00:00Z"}), 400, "datetime", "GET search with month 13")
    refused(HTTP.get(get_search, params={"sortby": "-no_such"}), 400, "sortby", "GET search sorted by an unknown field")
    refused(HTTP.post(search, data="[1, 2]", headers={"Content-Type": "application/json"}), 400, "body", "POST search with a JSON array")

    # Nothing of it was registered: a good Item posted after every bad one is registered
    # (the registrar takes register_queue in order), and then no bad id is there.
    sentinel = good_item("txn_1")
    validate_stac(sentinel, "the Item posted")
    response = post(sentinel)
    check(response.status_code == 202, f"POST a good Item: {response.status_code} {response.text[:300]}")
    location = advertised(response.headers.get("Location", ""), "Location of a posted Item")
    wait_status(location, 200, "the posted Item registered")
    found = HTTP.post(search, json={"ids": bad_ids}).json()
    check(found.get("features") == [], f"the refused Items are not registered: {found}")
    for item_id in bad_ids:
        url = f"{collections_url}/{write}/items/{quote(item_id, safe='')}"
        refused(HTTP.get(url), 404, "item", f"the refused Item {item_id} is not registered")
    check(client.search(limit=1).matched() == before + 1, "after the bad input: only the good Item was added")
    return location, before


def transaction_checks(client, landing, location, before):
    collections_url = link(landing, "data")["href"]
    write = WRITE["collection"]
    items_url = f"{collections_url}/{write}/items"
    headers = {"Content-Type": "application/json", **WRITE["headers"]}
    item = HTTP.get(location).json()
    validate_stac(item, "the posted Item")
    check(item["properties"]["eo:cloud_cover"] == 7.0, f"posted Item: {item['properties']}")
    # POST again: 409.
    refused(HTTP.post(items_url, data=json.dumps(good_item("txn_1")), headers=headers), 409, "id", "POST of a registered id")
    # Writes need the credentials where they are configured.
    if WRITE["headers"]:
        response = HTTP.post(items_url, data=json.dumps(good_item("txn_2")), headers={"Content-Type": "application/json"})
        check(response.status_code == 401 and "WWW-Authenticate" in response.headers, f"POST without credentials: {response.status_code}")
    # PUT: replaced, once the registrar has done it.
    replacement = good_item("txn_1", **{"eo:cloud_cover": 55.5, "platform": "sentinel-2d"})
    without_id = {k: v for k, v in replacement.items() if k != "id"}
    response = HTTP.put(location, data=json.dumps(without_id), headers=headers)
    check(response.status_code in (200, 202, 204), f"answered {response.status_code}")
    response = HTTP.put(location, data=json.dumps(replacement), headers=headers)
    check(response.status_code in (200, 202, 204), f"PUT: {response.status_code} {response.text[:300]}")
    wait_status(location, 200, "the replaced Item", lambda body: body["properties"].get("eo:cloud_cover") == 55.5)
    refused(HTTP.put(f"{items_url}/txn_other", data=json.dumps(replacement), headers=headers), 400, "id", "PUT of an Item whose id is not the path's")
    # PATCH (RFC 7386 merge patch).
    response = HTTP.patch(location, data=json.dumps({"properties": {"eo:cloud_cover": 1.0}}), headers={**headers, "Content-Type": "application/merge-patch+json"})
    check(response.status_code in (200, 202, 204), f"PATCH answers {response.status_code}")
    # Writes are queued: wait for this one before the next (a DELETE could overtake it).
    wait_status(location, 200, "the patched Item", lambda body: body["properties"].get("eo:cloud_cover") == 1.0)
    # DELETE: gone once the registrar has done it.
    response = HTTP.delete(location, headers=WRITE["headers"])
    check(response.status_code in (200, 202, 204), f"DELETE: {response.status_code} {response.text[:300]}")
    wait_status(location, 404, "the deleted Item")
    refused(HTTP.delete(location, headers=WRITE["headers"]), 404, "item", "DELETE of an unknown Item")
    check(client.search(limit=1).matched() == before, "after the transactions: the products registered at first, no more")


# ---------------------------------------------------------------------------------------


def main():
    warnings.simplefilter("error", DoesNotConformTo)
    landing = HTTP.get(ROOT)
    check(landing.status_code == 200, f"landing page: {landing.status_code}")
    landing = landing.json()
    validate_stac(landing, "landing page")

    summary = {"validator": run_validator(landing)}

    client = Client.open(ROOT)
    for cls in (
        ConformanceClasses.CORE,
        ConformanceClasses.COLLECTIONS,
        ConformanceClasses.FEATURES,
        ConformanceClasses.ITEM_SEARCH,
        ConformanceClasses.SORT,
        ConformanceClasses.FIELDS,
        ConformanceClasses.FILTER,
        ConformanceClasses.TRANSACTION,
    ):
        check(client.conforms_to(cls), f"pystac-client: the API does not conform to {cls}")
    summary["collections"] = collection_checks(client)
    search_checks(client)
    filter_checks(client)
    fields_checks(client)
    asset_checks(client)
    location, before = bad_input_checks(client, landing)
    transaction_checks(client, landing, location, before)
    check(
        not UNDECLARED,
        "every Item names the extensions of its properties",
    )
    check(
        not FIXED,
        "known defects fixed (remove them from KNOWN_DEFECTS in stac_clients.py and make "
        "their checks plain): " + "; ".join(f"{k} ({v})" for k, v in FIXED.items()),
    )

    summary.update(
        checks=len(CHECKS),
        requests=len(REQUESTED),
        validated=VALIDATED,
        schemas=sorted(SCHEMAS_SERVED),
        known_defects=sorted(DEFECTS_SEEN),
    )
    print("every check passed")
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
