"""Real clients of pvs, given only the URLs a user would type, follow what the server
advertises: every further request goes to a URL taken from a document the server gave, and
every such URL must start with the expected public base (scheme, host, port, path prefix).

Usage: advertised_clients.py CONFIG.json

CONFIG holds:
  ows         entry URL of WMS, WCS and WMTS (e.g. http://127.0.0.1:8080/ows)
  opensearch  entry URL of the OpenSearch description (e.g. http://127.0.0.1:8080/opensearch)
  tilejson    the documented TileJSON URL of the collection (nothing links to it), or null
  web         the web client's URL (e.g. http://127.0.0.1:8080/pvs/), or null
  ows_base    the public base the documents reached from `ows` must name
  os_base     the public base the documents reached from `opensearch` must name
  collection, product: the layer / collection and the product (coverage) id
  footprint   [west, south, east, north] of the product, EPSG:4326
  colours     {"nw": [r, g, b], "ne": ..., "sw": ..., "se": ...}: the product's four quadrants
  begin, end  the product's time (RFC 3339)
  workdir     a directory for the fetched images

Uses OWSLib (WebMapService 1.1.1 and 1.3.0, WebCoverageService 2.0.1, WebMapTileService),
requests and GDAL's command-line tools. Prints "every check passed" and a JSON summary (the
URLs requested) on success; raises (exit code 1) naming the failed check otherwise.
"""

import json
import math
import os
import re
import subprocess
import sys
from urllib.parse import urlencode, urljoin, urlsplit

import requests
from lxml import etree
from owslib.wcs import WebCoverageService
from owslib.wms import WebMapService
from owslib.wmts import WebMapTileService

CONFIG = json.load(open(sys.argv[1]))
WORK = CONFIG["workdir"]
W, S, E, N = CONFIG["footprint"]
COLOURS = {k: tuple(v) for k, v in CONFIG["colours"].items()}
COLLECTION = CONFIG["collection"]
PRODUCT = CONFIG["product"]
TOLERANCE = 12

# Every request any client makes (OWSLib uses requests too), in order.
REQUESTED = []
_send = requests.Session.send


def _logged_send(self, request, **kwargs):
    REQUESTED.append(request.url)
    return _send(self, request, **kwargs)


requests.Session.send = _logged_send

CHECKS = []


def check(condition, what):
    if not condition:
        raise AssertionError(what)
    CHECKS.append(what.split(":")[0])


def advertised(url, base, what):
    """An advertised URL: it must be under the expected public base."""
    check(
        url == base or url.startswith(base + "/"),
        f"{what}: advertised URL {url!r} is not under the public base {base!r}",
    )
    return url


LOCAL_URL = re.compile(r"https?://(?:127\.0\.0\.1|localhost|\[::1\])[^\"'<>\s]*")


def no_other_local_urls(text, base, what):
    """Every URL of the document naming this machine is under the base (catches
    `http://localhost/ows` and a lost port or prefix anywhere in it)."""
    for url in LOCAL_URL.findall(text):
        url = url.replace("&amp;", "&")
        check(
            url == base or url.startswith(base + "/") or url.startswith(base + "?"),
            f"{what}: the document names {url!r}, not under the public base {base!r}",
        )


def operation_urls(service, base, what):
    """The GET URL of each operation an OWSLib service read from the capabilities, each
    checked to be under the base."""
    urls = {}
    for operation in service.operations:
        for method in operation.methods:
            urls[operation.name] = advertised(method["url"], base, f"{what} {operation.name}")
    return urls


def kvp(url, params):
    """`url` (an advertised endpoint, possibly ending with `?` or `&`) with `params`."""
    query = urlencode(params)
    if "?" not in url:
        return f"{url}?{query}"
    if url.endswith("?") or url.endswith("&"):
        return url + query
    return f"{url}&{query}"


def get(url, what, expect_type=None):
    answer = requests.get(url, timeout=60)
    check(
        answer.status_code == 200,
        f"{what}: GET {url} answered {answer.status_code}: {answer.text[:500]}",
    )
    if expect_type is not None:
        got = answer.headers.get("content-type", "")
        check(got.startswith(expect_type), f"{what}: content type {got!r}, not {expect_type!r}")
    return answer


# ---------------------------------------------------------------------------------- rasters


def save(data, name):
    path = os.path.join(WORK, name)
    with open(path, "wb") as out:
        out.write(data)
    return path


def gdalinfo(path, stats=False):
    args = ["gdalinfo", "-json"] + (["-stats"] if stats else []) + [path]
    return json.loads(subprocess.run(args, check=True, capture_output=True).stdout)


class Image:
    """The pixels of an image file, read through GDAL (palettes expanded)."""

    def __init__(self, path):
        info = gdalinfo(path)
        self.width, self.height = info["size"]
        raw = path + ".raw"
        args = ["gdal_translate", "-q", "-of", "ENVI", "-co", "INTERLEAVE=BSQ", "-ot", "Byte"]
        if any("colorTable" in b for b in info["bands"]):
            args += ["-expand", "rgba"]
        subprocess.run(args + [path, raw], check=True, capture_output=True)
        self.data = open(raw, "rb").read()
        self.bands = len(self.data) // (self.width * self.height)

    def pixel(self, x, y):
        size = self.width * self.height
        return tuple(self.data[b * size + y * self.width + x] for b in range(self.bands))


def close_to(got, want):
    return all(abs(g - w) <= TOLERANCE for g, w in zip(got, want))


def quadrant(lon, lat):
    """The colour of the product at lon/lat (a point well inside one quadrant)."""
    mid_lon, mid_lat = (W + E) / 2, (S + N) / 2
    return COLOURS[("n" if lat > mid_lat else "s") + ("e" if lon > mid_lon else "w")]


def inside_points():
    """The centres of the four quadrants."""
    qw, qh = (E - W) / 4, (N - S) / 4
    return [(W + qw, N - qh), (E - qw, N - qh), (W + qw, S + qh), (E - qw, S + qh)]


def check_pixels(image, to_pixel, inside, outside, what):
    """`to_pixel(lon, lat)` → (column, row) in `image`: opaque product colours at `inside`,
    transparent at `outside`."""
    check(image.bands == 4, f"{what}: {image.bands} bands, RGBA expected")
    for lon, lat in inside:
        x, y = to_pixel(lon, lat)
        got = image.pixel(x, y)
        want = quadrant(lon, lat) + (255,)
        check(close_to(got, want), f"{what}: pixel at {lon},{lat} ({x},{y}) is {got}, not {want}")
    for lon, lat in outside:
        x, y = to_pixel(lon, lat)
        got = image.pixel(x, y)
        check(got[3] == 0, f"{what}: pixel at {lon},{lat} ({x},{y}) is {got}, not transparent")


# ---------------------------------------------------------------------------------- WMS


def wms(version):
    base = CONFIG["ows_base"]
    what = f"WMS {version}"
    service = WebMapService(CONFIG["ows"], version=version)
    check(service.identification.version == version, f"{what}: version {service.identification.version}")
    urls = operation_urls(service, base, what)
    check("GetMap" in urls, f"{what}: no GetMap operation in {sorted(urls)}")
    check(COLLECTION in service.contents, f"{what}: no layer {COLLECTION} in {sorted(service.contents)}")
    box = service[COLLECTION].boundingBoxWGS84
    check(
        all(abs(a - b) < 0.05 for a, b in zip(box, (W, S, E, N))),
        f"{what}: layer box {box}, footprint {(W, S, E, N)}",
    )
    no_other_local_urls(service.getServiceXML().decode(), base, f"{what} capabilities")
    # A map a little larger than the footprint: 80 × 80 pixels.
    margin = (E - W) / 2
    bbox = (W - margin, S - margin, E + margin, N + margin)
    size = 80
    answer = service.getmap(
        layers=[COLLECTION],
        styles=[""],
        srs="EPSG:4326",
        bbox=bbox,
        size=(size, size),
        format="image/png",
        transparent=True,
    )
    check(
        answer.geturl().startswith(urls["GetMap"].rstrip("?&")),
        f"{what}: GetMap went to {answer.geturl()}, not to the advertised {urls['GetMap']}",
    )
    check(answer.info()["Content-Type"] == "image/png", f"{what}: GetMap answered {answer.info()['Content-Type']}")
    image = Image(save(answer.read(), f"wms-{version}.png"))
    step_x = (bbox[2] - bbox[0]) / size
    step_y = (bbox[3] - bbox[1]) / size

    def to_pixel(lon, lat):
        return int((lon - bbox[0]) / step_x), int((bbox[3] - lat) / step_y)

    outside = [(bbox[0] + margin / 4, bbox[3] - margin / 4), (bbox[2] - margin / 4, bbox[1] + margin / 4)]
    check_pixels(image, to_pixel, inside_points(), outside, f"{what} GetMap")
    return answer.geturl()


# ---------------------------------------------------------------------------------- WCS

NS = {
    "gml": "http://www.opengis.net/gml/3.2",
    "wcs": "http://www.opengis.net/wcs/2.0",
    "os": "http://a9.com/-/spec/opensearch/1.1/",
}


def corners(info):
    c = info["cornerCoordinates"]
    return (c["upperLeft"][0], c["lowerRight"][1], c["lowerRight"][0], c["upperLeft"][1])


def wcs():
    base = CONFIG["ows_base"]
    what = "WCS 2.0.1"
    service = WebCoverageService(CONFIG["ows"], version="2.0.1")
    urls = operation_urls(service, base, what)
    for name in ("DescribeCoverage", "GetCoverage"):
        check(name in urls, f"{what}: no {name} operation in {sorted(urls)}")
    check(PRODUCT in service.contents, f"{what}: no coverage {PRODUCT} in {sorted(service.contents)}")
    no_other_local_urls(etree.tostring(service._capabilities).decode(), base, f"{what} capabilities")

    # DescribeCoverage at the advertised URL (OWSLib would use the entry URL).
    url = kvp(
        urls["DescribeCoverage"],
        {"SERVICE": "WCS", "VERSION": "2.0.1", "REQUEST": "DescribeCoverage", "COVERAGEID": PRODUCT},
    )
    answer = get(url, f"{what} DescribeCoverage")
    document = etree.fromstring(answer.content)
    lower = document.findtext(".//gml:Envelope/gml:lowerCorner", namespaces=NS).split()
    upper = document.findtext(".//gml:Envelope/gml:upperCorner", namespaces=NS).split()
    # EPSG:4326: latitude first.
    envelope = (float(lower[1]), float(lower[0]), float(upper[1]), float(upper[0]))
    check(
        all(abs(a - b) < 0.02 for a, b in zip(envelope, (W, S, E, N))),
        f"{what} DescribeCoverage: envelope {envelope}, footprint {(W, S, E, N)}",
    )

    # GetCoverage through OWSLib (it uses the advertised GetCoverage URL): the whole
    # coverage, then a trim inside the north-east quadrant.
    whole = service.getCoverage(identifier=PRODUCT, format="image/tiff")
    check(
        whole.geturl().startswith(urls["GetCoverage"].rstrip("?&")),
        f"{what}: GetCoverage went to {whole.geturl()}, not to the advertised {urls['GetCoverage']}",
    )
    info = gdalinfo(save(whole.read(), "wcs-whole.tif"), stats=True)
    got = corners(info)
    check(
        all(abs(a - b) < 0.02 for a, b in zip(got, (W, S, E, N))),
        f"{what} GetCoverage: extent {got}, footprint {(W, S, E, N)}",
    )
    reds = [COLOURS[q][0] for q in COLOURS]
    red = info["bands"][0]
    check(
        abs(red["minimum"] - min(reds)) <= TOLERANCE and abs(red["maximum"] - max(reds)) <= TOLERANCE,
        f"{what} GetCoverage: red from {red['minimum']} to {red['maximum']}, not {min(reds)} to {max(reds)}",
    )
    qw, qh = (E - W) / 4, (N - S) / 4
    trim = (E - qw * 1.5, N - qh * 1.5, E - qw * 0.5, N - qh * 0.5)
    part = service.getCoverage(
        identifier=PRODUCT,
        format="image/tiff",
        subsets=[("Lat", trim[1], trim[3]), ("Long", trim[0], trim[2])],
    )
    info = gdalinfo(save(part.read(), "wcs-trim.tif"), stats=True)
    got = corners(info)
    # The pixels the trim touches: at most one pixel (0.01°) more on each side.
    check(
        all(abs(a - b) <= 0.015 for a, b in zip(got, trim)),
        f"{what} GetCoverage trim: extent {got}, asked {trim}",
    )
    for band, want in zip(info["bands"], COLOURS["ne"]):
        check(
            abs(band["minimum"] - want) <= TOLERANCE and abs(band["maximum"] - want) <= TOLERANCE,
            f"{what} GetCoverage trim: band {band['band']} from {band['minimum']} to {band['maximum']}, not {want}",
        )


# ---------------------------------------------------------------------------------- WMTS

METRES_PER_DEGREE = 6378137 * 2 * math.pi / 360


def wmts():
    base = CONFIG["ows_base"]
    what = "WMTS"
    service = WebMapTileService(CONFIG["ows"], version="1.0.0")
    urls = operation_urls(service, base, what)
    check("GetTile" in urls, f"{what}: no GetTile operation in {sorted(urls)}")
    check(COLLECTION in service.contents, f"{what}: no layer {COLLECTION} in {sorted(service.contents)}")
    layer = service[COLLECTION]
    no_other_local_urls(service.getServiceXML().decode(), base, f"{what} capabilities")
    templates = [r["template"] for r in layer.resourceURLs if r["format"] == "image/png"]
    check(templates, f"{what}: no image/png ResourceURL in {layer.resourceURLs}")
    for r in layer.resourceURLs:
        advertised(r["template"], base, f"{what} ResourceURL")
    time = layer.dimensions["Time"]["default"]

    # The tile of zoom 6 holding the north-west quadrant's centre, from the advertised matrix.
    matrix_set = "WorldCRS84Quad"
    matrix = service.tilematrixsets[matrix_set].tilematrix["6"]
    span = matrix.scaledenominator * 0.00028 / METRES_PER_DEGREE * matrix.tilewidth
    check(abs(span * matrix.matrixwidth - 360) < 1e-6, f"{what}: {matrix.matrixwidth} tiles of {span}°")
    left, top = matrix.topleftcorner
    lon, lat = inside_points()[0]
    col, row = int((lon - left) / span), int((top - lat) / span)
    tile_w, tile_n = left + col * span, top - row * span
    outside = (tile_w + span / 10, tile_n - span / 10)
    check(
        not (W - 0.1 <= outside[0] <= E + 0.1 and S - 0.1 <= outside[1] <= N + 0.1),
        f"{what}: the tile's corner {outside} is not outside the footprint",
    )
    inside = [p for p in inside_points() + [(lon, lat)] if tile_w < p[0] < tile_w + span and tile_n - span < p[1] < tile_n]

    def to_pixel(x, y):
        return int((x - tile_w) / span * 256), int((tile_n - y) / span * 256)

    tile = service.gettile(
        layer=COLLECTION,
        style="default",
        format="image/png",
        tilematrixset=matrix_set,
        tilematrix="6",
        row=row,
        column=col,
    )
    check(
        tile.geturl().startswith(urls["GetTile"].rstrip("?&")),
        f"{what}: GetTile went to {tile.geturl()}, not to the advertised {urls['GetTile']}",
    )
    image = Image(save(tile.read(), "wmts-kvp.png"))
    check_pixels(image, to_pixel, inside, [outside], f"{what} KVP GetTile")

    rest = (
        templates[0]
        .replace("{Style}", "default")
        .replace("{Time}", time)
        .replace("{TileMatrixSet}", matrix_set)
        .replace("{TileMatrix}", "6")
        .replace("{TileRow}", str(row))
        .replace("{TileCol}", str(col))
    )
    answer = get(rest, f"{what} REST tile", "image/png")
    image = Image(save(answer.content, "wmts-rest.png"))
    check_pixels(image, to_pixel, inside, [outside], f"{what} REST tile")


# ---------------------------------------------------------------------------------- TileJSON


def tilejson():
    base = CONFIG["ows_base"]
    what = "TileJSON"
    answer = get(CONFIG["tilejson"], what)
    no_other_local_urls(answer.text, base, what)
    document = answer.json()
    template = advertised(document["tiles"][0], base, f"{what} tiles")
    z = 7
    lon, lat = inside_points()[3]
    n = 2**z

    def position(x_lon, y_lat):
        x = (x_lon + 180) / 360 * n
        r = math.radians(y_lat)
        y = (1 - math.log(math.tan(r) + 1 / math.cos(r)) / math.pi) / 2 * n
        return x, y

    fx, fy = position(lon, lat)
    x, y = int(fx), int(fy)
    url = template.replace("{z}", str(z)).replace("{x}", str(x)).replace("{y}", str(y))
    answer = get(url, f"{what} tile", "image/png")
    image = Image(save(answer.content, "xyz.png"))
    inside = [p for p in inside_points() if int(position(*p)[0]) == x and int(position(*p)[1]) == y]
    # A point of the tile outside the footprint: its south-east corner region.
    corner = None
    for i in range(1, 10):
        for j in range(1, 10):
            p_lon = (x + i / 10) / n * 360 - 180
            p_lat = math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * (y + j / 10) / n))))
            if not (W - 0.1 <= p_lon <= E + 0.1 and S - 0.1 <= p_lat <= N + 0.1):
                corner = (p_lon, p_lat)
    check(corner is not None, f"{what}: tile {z}/{x}/{y} lies inside the footprint")

    def to_pixel(p_lon, p_lat):
        px, py = position(p_lon, p_lat)
        return int((px - x) * 256), int((py - y) * 256)

    check_pixels(image, to_pixel, inside, [corner], f"{what} tile")


# ---------------------------------------------------------------------------------- OpenSearch


def fill(url_element, values):
    """The element's template with `values` ({(namespace, local name): value}) filled in and
    every other parameter left empty."""
    nsmap = url_element.nsmap

    def replace(match):
        name = match.group(1)
        if ":" in name:
            prefix, local = name.split(":", 1)
            namespace = nsmap.get(prefix)
        else:
            namespace, local = NS["os"], name
        return values.get((namespace, local), "")

    return re.sub(r"\{([^}?]+)\??\}", replace, url_element.get("template"))


GEO = "http://a9.com/-/opensearch/extensions/geo/1.0/"
TIME = "http://a9.com/-/opensearch/extensions/time/1.0/"


def search_url(description_url, rel, what):
    base = CONFIG["os_base"]
    answer = get(description_url, what, "application/opensearchdescription+xml")
    no_other_local_urls(answer.text, base, what)
    document = etree.fromstring(answer.content)
    urls = document.findall("os:Url", namespaces=NS)
    check(urls, f"{what}: no Url element")
    for url in urls:
        advertised(url.get("template"), base, f"{what} Url template")
    chosen = [u for u in urls if u.get("type") == "application/geo+json" and u.get("rel", "results") == rel]
    check(chosen, f"{what}: no GeoJSON Url with rel={rel}")
    return chosen[0]


def opensearch():
    base = CONFIG["os_base"]
    qw, qh = (E - W) / 4, (N - S) / 4
    box = f"{W + qw},{S + qh},{E - qw},{N - qh}"
    values = {
        (GEO, "box"): box,
        (TIME, "start"): CONFIG["begin"],
        (TIME, "end"): CONFIG["end"],
    }
    what = "OpenSearch collections"
    template = search_url(CONFIG["opensearch"], "collection", f"{what} description")
    url = fill(template, values)
    answer = get(url, f"{what} search", "application/geo+json")
    no_other_local_urls(answer.text, base, f"{what} search")
    found = [f for f in answer.json()["features"] if f["id"] == COLLECTION]
    check(found, f"{what} search: no collection {COLLECTION} in {answer.text[:1000]}")
    description = advertised(
        found[0]["properties"]["links"]["search"][0]["href"], base, f"{what} search link"
    )

    what = "OpenSearch products"
    template = search_url(description, "results", f"{what} description")
    url = fill(template, values)
    answer = get(url, f"{what} search", "application/geo+json")
    no_other_local_urls(answer.text, base, f"{what} search")
    found = [f for f in answer.json()["features"] if f["id"] == PRODUCT]
    check(found, f"{what} search: no product {PRODUCT} in {answer.text[:1000]}")
    links = found[0]["properties"]["links"]

    # The preview: a WMS GetMap over the footprint's box.
    preview = advertised(links["previews"][0]["href"], base, f"{what} preview link")
    answer = get(preview, f"{what} preview", "image/png")
    image = Image(save(answer.content, "preview.png"))
    step_x, step_y = (E - W) / image.width, (N - S) / image.height

    def to_pixel(lon, lat):
        return int((lon - W) / step_x), int((N - lat) / step_y)

    check_pixels(image, to_pixel, inside_points(), [], f"{what} preview")

    # The data: a WCS GetCoverage of the product.
    data = advertised(links["data"][0]["href"], base, f"{what} data link")
    answer = get(data, f"{what} data", "image/tiff")
    info = gdalinfo(save(answer.content, "data.tif"), stats=True)
    got = corners(info)
    check(
        all(abs(a - b) < 0.02 for a, b in zip(got, (W, S, E, N))),
        f"{what} data: extent {got}, footprint {(W, S, E, N)}",
    )


# ---------------------------------------------------------------------------------- web client


def web():
    what = "web client"
    page = get(CONFIG["web"], what, "text/html")
    scripts = re.findall(r"<script[^>]*\bsrc=\"([^\"]+)\"", page.text)
    check("app.js" in scripts, f"{what}: the page loads no app.js: {scripts}")
    check(
        not any(s.startswith("/") or "://" in s for s in scripts + re.findall(r"href=\"([^\"]+\.css)\"", page.text)),
        f"{what}: the page names its files by absolute paths: {scripts}",
    )
    url = urljoin(page.url, "app.js")
    answer = get(url, f"{what} app.js")
    got = answer.headers.get("content-type", "")
    check("javascript" in got, f"{what} app.js: content type {got!r}")
    check(len(answer.content) > 1000, f"{what} app.js: {len(answer.content)} bytes")


def main():
    wms_urls = {version: wms(version) for version in ("1.1.1", "1.3.0")}
    wcs()
    wmts()
    if CONFIG.get("tilejson"):
        tilejson()
    opensearch()
    if CONFIG.get("web"):
        web()

    # Nothing was asked of a URL the client made up: the entry URLs, else advertised ones.
    entries = {CONFIG[k].split("?")[0] for k in ("ows", "opensearch", "tilejson", "web") if CONFIG.get(k)}
    bases = {CONFIG["ows_base"], CONFIG["os_base"]}
    for url in REQUESTED:
        path = url.split("?")[0]
        check(
            path in entries or any(url.startswith(b + "/") for b in bases),
            f"requests: {url} is neither an entry URL nor under the public base {bases}",
        )
    print("every check passed")
    print(
        json.dumps(
            {
                "checks": len(CHECKS),
                "requests": REQUESTED,
                "getmap": wms_urls,
                "hosts": sorted({urlsplit(u).netloc for u in REQUESTED}),
            },
            indent=1,
        )
    )


main()
