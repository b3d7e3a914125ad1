"""OWSLib as a WCS 2.0.1 client of pvs: reads the capabilities and the description of the
first coverage, and fetches a 0.2° × 0.2° trim around a point as GeoTIFF.

Usage: owslib_wcs.py URL LON LAT OUTPUT
Prints one JSON object: version, coverage ids, formats, operations, the grid's axis labels
and high limits, the envelope's CRS; writes the coverage to OUTPUT. Raises (exit code 1)
when OWSLib cannot parse or fetch.
"""

import json
import sys

from owslib.wcs import WebCoverageService

url, lon, lat, output = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
wcs = WebCoverageService(url, version="2.0.1")
coverage_id = sorted(wcs.contents)[0]
coverage = wcs[coverage_id]
grid = coverage.grid
boxes = coverage.boundingboxes
response = wcs.getCoverage(
    identifier=coverage_id,
    format="image/tiff",
    subsets=[("Lat", lat - 0.1, lat + 0.1), ("Long", lon - 0.1, lon + 0.1)],
)
data = response.read()
if data[:4] not in (b"II*\x00", b"MM\x00*"):
    raise SystemExit("not a TIFF: %r" % data[:200])
with open(output, "wb") as f:
    f.write(data)
print(
    json.dumps(
        {
            "version": wcs.version,
            "title": wcs.identification.title,
            "coverages": sorted(wcs.contents),
            "formats": coverage.supportedFormats,
            "operations": [op.name for op in wcs.operations],
            "axis_labels": grid.axislabels,
            "grid_high": grid.highlimits,
            "origin": grid.origin,
            "offsets": grid.offsetvectors,
            "native_srs": boxes[0]["nativeSrs"],
            "bbox": boxes[0]["bbox"],
            "coverage_bytes": len(data),
        }
    )
)
