"""OWSLib's WMTS client against the cache: reads the capabilities, fetches one tile by KVP
GetTile with TIME and the same tile by the layer's RESTful ResourceURL template.

Usage: owslib_wmts.py WMTS_URL LAYER TIME MATRIX_SET MATRIX ROW COL KVP_OUT REST_OUT
Prints a JSON summary on stdout.
"""

import json
import sys
import urllib.request

from owslib.wmts import WebMapTileService

url, layer, time, tms, matrix, row, col, kvp_out, rest_out = sys.argv[1:]
service = WebMapTileService(url, version="1.0.0")
content = service[layer]
tile = service.gettile(
    layer=layer,
    style="default",
    format="image/png",
    tilematrixset=tms,
    tilematrix=matrix,
    row=int(row),
    column=int(col),
    time=time,
)
with open(kvp_out, "wb") as out:
    out.write(tile.read())
png_template = [
    r["template"] for r in content.resourceURLs if r["format"] == "image/png"
][0]
rest_url = (
    png_template.replace("{Time}", time)
    .replace("{Style}", "default")
    .replace("{TileMatrixSet}", tms)
    .replace("{TileMatrix}", matrix)
    .replace("{TileRow}", row)
    .replace("{TileCol}", col)
)
with urllib.request.urlopen(rest_url) as answer, open(rest_out, "wb") as out:
    out.write(answer.read())
print(
    json.dumps(
        {
            "version": service.version,
            "layers": sorted(service.contents),
            "formats": content.formats,
            "styles": sorted(content.styles),
            "matrix_sets": sorted(content.tilematrixsetlinks),
            "matrices": {
                name: len(service.tilematrixsets[name].tilematrix)
                for name in sorted(service.tilematrixsets)
            },
            "time": content.dimensions["Time"],
            "bbox": list(content.boundingBoxWGS84),
            "rest_url": rest_url,
        }
    )
)
