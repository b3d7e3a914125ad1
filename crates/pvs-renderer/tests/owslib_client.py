"""OWSLib as a WMS client of pvs: reads the capabilities of one version, fetches a map and
asks what is at its centre (GetFeatureInfo).

Usage: owslib_client.py URL VERSION LON LAT
Prints one JSON object: the layers, the SAR layer's box, time positions, the map's size and
whether it is a PNG, and the ids GetFeatureInfo found. Raises (exit code 1) when OWSLib
cannot parse or fetch.
"""

import json
import sys

from owslib.wms import WebMapService

url, version, lon, lat = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
wms = WebMapService(url, version=version)
layer = wms["SAR"]
size = 0.2
# OWSLib takes the box as x/y (lon/lat) and writes it in the CRS's axis order for 1.3.0.
image = wms.getmap(
    layers=["SAR"],
    srs="EPSG:4326",
    bbox=(lon - size, lat - size, lon + size, lat + size),
    size=(64, 64),
    format="image/png",
    transparent=True,
)
data = image.read()
info = wms.getfeatureinfo(
    layers=["SAR"],
    srs="EPSG:4326",
    bbox=(lon - size, lat - size, lon + size, lat + size),
    size=(64, 64),
    format="image/png",
    query_layers=["SAR"],
    info_format="application/json",
    xy=(32, 32),
)
features = json.loads(info.read())["features"]
print(
    json.dumps(
        {
            "identification": wms.identification.type,
            "version": wms.identification.version,
            "layers": sorted(wms.contents),
            "bbox_wgs84": list(layer.boundingBoxWGS84),
            "timepositions": layer.timepositions,
            "getmap_formats": wms.getOperationByName("GetMap").formatOptions,
            "map_bytes": len(data),
            "map_is_png": data[:8] == b"\x89PNG\r\n\x1a\n",
            "feature_ids": [f["id"] for f in features],
        }
    )
)
