//! The tile matrix sets against an independent computation: morecantile (Python, PyPI,
//! installed by `scripts/setup.sh`), fed random and chosen cases at every zoom level of both
//! matrix sets: boxes anywhere (crossing the antimeridian, reaching the poles), tile bounds,
//! matrix sizes and scale denominators.

use std::collections::BTreeSet;
use std::io::Write;
use std::process::{Command, Stdio};

use pvs_tiles::{Tile, TileMatrixSet};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

/// The deepest zoom morecantile defines: 24 for WebMercatorQuad, 23 for WorldCRS84Quad.
fn oracle_max_zoom(tms: TileMatrixSet) -> u8 {
    match tms {
        TileMatrixSet::WebMercatorQuad => 24,
        TileMatrixSet::WorldCRS84Quad => 23,
    }
}

fn oracle(cases: &Value) -> Value {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/morecantile_oracle.py");
    let mut child = Command::new("python3")
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 runs (scripts/setup.sh installs morecantile)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(cases.to_string().as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "the morecantile oracle failed (run scripts/setup.sh): {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

/// A box of about `tiles_across` tiles a side at zoom `z`, anywhere; west may wrap past
/// the antimeridian (then west > east).
fn random_box(rng: &mut StdRng, tms: TileMatrixSet, z: u8) -> [f64; 4] {
    let (columns, rows) = tms.matrix_size(z);
    let tile_lon = 360.0 / f64::from(columns);
    let tile_lat = 180.0 / f64::from(rows);
    let width = tile_lon * rng.random_range(0.01..5.0);
    let height = (tile_lat * rng.random_range(0.01..5.0)).min(179.0);
    let west = rng.random_range(-180.0..180.0);
    let south = rng.random_range(-90.0..(90.0 - height));
    let mut east = west + width;
    if east > 180.0 {
        east -= 360.0;
    }
    [west, south, east.min(180.0), south + height]
}

fn our_tiles(tms: TileMatrixSet, bbox: [f64; 4], z: u8) -> BTreeSet<(u32, u32)> {
    tms.tiles(bbox, z)
        .iter()
        .flat_map(|r| r.tiles().map(|t| (t.x, t.y)).collect::<Vec<_>>())
        .collect()
}

#[test]
fn tiles_bounds_and_matrices_agree_with_morecantile() {
    let mut rng = StdRng::seed_from_u64(20261123);
    let mut tile_cases = Vec::new();
    let mut bound_cases = Vec::new();
    for tms in TileMatrixSet::ALL {
        for z in 0..=oracle_max_zoom(tms) {
            for _ in 0..25 {
                tile_cases.push((tms, z, random_box(&mut rng, tms, z)));
            }
            let (columns, rows) = tms.matrix_size(z);
            // Chosen places, a few tiles wide at every zoom: across the antimeridian, at
            // both poles (beyond Web Mercator's edge too), a corner, and the whole world.
            let (tile_lon, tile_lat) = (360.0 / f64::from(columns), 180.0 / f64::from(rows));
            let lon = rng.random_range(-170.0..170.0);
            let mut chosen = vec![
                [
                    180.0 - 1.5 * tile_lon,
                    -0.3 * tile_lat,
                    -180.0 + 0.7 * tile_lon,
                    0.4 * tile_lat,
                ],
                [
                    180.0 - 0.2 * tile_lon,
                    10.0,
                    -180.0 + 0.1 * tile_lon,
                    10.0 + 0.5 * tile_lat,
                ],
                [lon, 90.0 - 2.0 * tile_lat, lon + 2.0 * tile_lon, 90.0],
                [lon, -90.0, lon + 1.5 * tile_lon, -90.0 + 1.2 * tile_lat],
                [lon, 86.0, lon + tile_lon, 90.0],
                [-180.0, 90.0 - tile_lat, -180.0 + 0.5 * tile_lon, 90.0],
            ];
            if z <= 5 {
                chosen.push([-180.0, -90.0, 180.0, 90.0]);
            }
            for bbox in chosen {
                tile_cases.push((tms, z, bbox));
            }
            for _ in 0..10 {
                let (x, y) = (rng.random_range(0..columns), rng.random_range(0..rows));
                bound_cases.push((tms, Tile { z, x, y }));
            }
            bound_cases.push((
                tms,
                Tile {
                    z,
                    x: columns - 1,
                    y: rows - 1,
                },
            ));
            bound_cases.push((tms, Tile { z, x: 0, y: 0 }));
        }
    }
    let answers = oracle(&json!({
        "tiles": tile_cases
            .iter()
            .map(|(tms, z, b)| json!([tms.id(), z, b[0], b[1], b[2], b[3]]))
            .collect::<Vec<_>>(),
        "bounds": bound_cases
            .iter()
            .map(|(tms, t)| json!([tms.id(), t.z, t.x, t.y]))
            .collect::<Vec<_>>(),
    }));

    let mut disagreements = Vec::new();
    for ((tms, z, bbox), expected) in tile_cases.iter().zip(answers["tiles"].as_array().unwrap()) {
        let expected: BTreeSet<(u32, u32)> = expected
            .as_array()
            .unwrap()
            .iter()
            .map(|t| (t[0].as_u64().unwrap() as u32, t[1].as_u64().unwrap() as u32))
            .collect();
        let ours = our_tiles(*tms, *bbox, *z);
        if ours != expected {
            disagreements.push(format!(
                "{tms} z{z} {bbox:?}: ours {} tiles, morecantile {} (only ours: {:?}; only theirs: {:?})",
                ours.len(),
                expected.len(),
                ours.difference(&expected).take(4).collect::<Vec<_>>(),
                expected.difference(&ours).take(4).collect::<Vec<_>>(),
            ));
        }
    }
    for ((tms, tile), expected) in bound_cases
        .iter()
        .zip(answers["bounds"].as_array().unwrap())
    {
        let expected: Vec<f64> = expected
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        let native = tms.bounds(*tile);
        let lonlat = tms.wgs84_bounds(*tile);
        let side = tms.resolution(tile.z) * 256.0;
        for (i, (ours, theirs)) in native.iter().zip(&expected[..4]).enumerate() {
            // A millionth of a tile: floating-point rounding, not a different grid.
            if (ours - theirs).abs() > side * 1e-6 {
                disagreements.push(format!(
                    "{tms} {tile} native bound {i}: ours {ours}, morecantile {theirs}"
                ));
            }
        }
        for (i, (ours, theirs)) in lonlat.iter().zip(&expected[4..]).enumerate() {
            if (ours - theirs).abs() > 1e-9 {
                disagreements.push(format!(
                    "{tms} {tile} lon/lat bound {i}: ours {ours}, morecantile {theirs}"
                ));
            }
        }
    }
    for tms in TileMatrixSet::ALL {
        let matrices = answers["matrices"][tms.id()].as_array().unwrap();
        assert_eq!(matrices.len(), usize::from(oracle_max_zoom(tms)) + 1);
        for (z, m) in matrices.iter().enumerate() {
            let z = z as u8;
            let (columns, rows) = tms.matrix_size(z);
            assert_eq!(
                (m[0].as_u64().unwrap(), m[1].as_u64().unwrap()),
                (u64::from(columns), u64::from(rows)),
                "{tms} z{z}"
            );
            let scale = m[2].as_f64().unwrap();
            assert!(
                (tms.scale_denominator(z) - scale).abs() / scale < 1e-9,
                "{tms} z{z}: {} vs {scale}",
                tms.scale_denominator(z)
            );
        }
    }
    assert!(tile_cases.len() > 1200, "{} cases", tile_cases.len());
    assert!(
        disagreements.is_empty(),
        "{} of {} tile cases and {} bound cases disagree:\n{}",
        disagreements.len(),
        tile_cases.len(),
        bound_cases.len(),
        disagreements.join("\n")
    );
}
