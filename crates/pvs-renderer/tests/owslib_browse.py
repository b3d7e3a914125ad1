"""OWSLib as a WMS client of pvs's browse and mask types: reads the capabilities of one
version, finds the browse type's layer and its styles, fetches a map in the `viridis` style
and that style's legend through the LegendURL the capabilities give.

Usage: owslib_browse.py URL VERSION MAP_PATH LEGEND_PATH
Writes the map and the legend (PNG) to the paths and prints one JSON object: the layers and
the styles of S2__NDVI. Raises (exit code 1) when OWSLib cannot parse or fetch.
"""

import json
import sys
import urllib.request

from owslib.wms import WebMapService

url, version, map_path, legend_path = sys.argv[1:5]
wms = WebMapService(url, version=version)
layer = wms["S2__NDVI"]
image = wms.getmap(
    layers=["S2__NDVI"],
    styles=["viridis"],
    srs="EPSG:4326",
    bbox=(10.5, 40.5, 11.5, 41.5),
    size=(32, 32),
    format="image/png",
    transparent=True,
)
with open(map_path, "wb") as out:
    out.write(image.read())
with urllib.request.urlopen(layer.styles["viridis"]["legend"]) as legend:
    with open(legend_path, "wb") as out:
        out.write(legend.read())
print(
    json.dumps(
        {
            "layers": sorted(wms.contents),
            "ndvi_styles": sorted(layer.styles),
        }
    )
)
