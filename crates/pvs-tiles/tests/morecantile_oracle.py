"""Oracle for crates/pvs-tiles/tests/morecantile.rs: reads cases as JSON on stdin, answers
with morecantile's computation of the same things as JSON on stdout.

Cases: {"tiles": [[tms, z, west, south, east, north], ...],
        "bounds": [[tms, z, x, y], ...]}
Answers: {"tiles": [[[x, y], ...], ...] (sorted), "bounds": [[xy_bounds..., lonlat bounds...], ...]}
"""

import json
import sys

import morecantile

cases = json.load(sys.stdin)
matrix_sets = {name: morecantile.tms.get(name) for name in ("WebMercatorQuad", "WorldCRS84Quad")}

tiles = []
for name, z, west, south, east, north in cases["tiles"]:
    tms = matrix_sets[name]
    found = sorted({(t.x, t.y) for t in tms.tiles(west, south, east, north, [z])})
    tiles.append([list(t) for t in found])

bounds = []
for name, z, x, y in cases["bounds"]:
    tms = matrix_sets[name]
    tile = morecantile.Tile(x, y, z)
    bounds.append(list(tms.xy_bounds(tile)) + list(tms.bounds(tile)))

matrices = {}
for name, tms in matrix_sets.items():
    matrices[name] = [
        [m.matrixWidth, m.matrixHeight, m.scaleDenominator] for m in tms.tileMatrices
    ]

json.dump({"tiles": tiles, "bounds": bounds, "matrices": matrices}, sys.stdout)
