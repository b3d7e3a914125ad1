//! Browse types and EOxServer's WMS vendor parameters, drawn and checked pixel by pixel:
//! `<collection>__<browse>` layers (band expressions, per-channel ranges, no-data, colormaps),
//! `<collection>__outlined`, `dim_bands`, `dim_range`, `STYLES`, `cql`, `sortBy`, several
//! `LAYERS` composited, `GetLegendGraphic`, and what is refused (real PostGIS, GeoTIFFs made
//! here, the expected colours computed from the band values in the test).

mod support;

use std::path::Path;
use std::sync::Arc;

use gdal::DriverManager;
use gdal::raster::Buffer;
use gdal::spatial_ref::SpatialRef;
use geo::{LineString, MultiPolygon, Polygon};
use pvs_catalog::testing::TestDatabase;
use pvs_catalog::{Catalog, Collection, Product};
use pvs_raster::style::Colormap;
use pvs_renderer::Settings;
use pvs_test_support::images;

/// The collections file of the tests: S2 with band names, a default browse and three more.
const CONFIG: &str = r#"
[collections.S2]
band_names = ["B02", "B03", "B04", "B08"]
default_browse = "TRUE_COLOR"

[collections.S2.browses.TRUE_COLOR]
red = "B04"
green = "B03"
blue = "B02"
ranges = [[0, 1020]]

[collections.S2.browses.NDVI]
grey = "(B08 - B04) / (B08 + B04)"
ranges = [[-1, 1]]
colormap = "rdylgn"

[collections.S2.browses.BLUE_OR_NOTHING]
grey = "B02"
nodata = 52

[collections.S2.masks.clouds]

[collections.S2.masks.validity]
validity = true
"#;

/// The band values (B02, B03, B04, B08) of the two products, and their cloud cover.
const OLDER: ([u16; 4], f64) = ([100, 200, 300, 900], 5.0);
const NEWER: ([u16; 4], f64) = ([52, 60, 700, 100], 30.0);

/// A 4-band UInt16 GeoTIFF over lon 10..12, lat 40..42, each band one value.
fn raster(path: &Path, values: [u16; 4]) {
    let size = 64;
    let driver = DriverManager::get_driver_by_name("GTiff").unwrap();
    let mut dataset = driver
        .create_with_band_type::<u16, _>(path, size, size, 4)
        .unwrap();
    dataset
        .set_geo_transform(&[10.0, 2.0 / 64.0, 0.0, 42.0, 0.0, -2.0 / 64.0])
        .unwrap();
    dataset
        .set_spatial_ref(&SpatialRef::from_epsg(4326).unwrap())
        .unwrap();
    for (index, value) in values.into_iter().enumerate() {
        let mut buffer = Buffer::new((size, size), vec![value; size * size]);
        dataset
            .rasterband(index + 1)
            .unwrap()
            .write((0, 0), (size, size), &mut buffer)
            .unwrap();
    }
}

struct Fixture {
    _database: TestDatabase,
    _storage: tempfile::TempDir,
    base: String,
    /// The GetMap URL the capabilities give (ending with `?`), asked for every request.
    get_map: String,
    /// The WMS 1.3.0 capabilities, as the fixture started.
    capabilities: String,
}

impl Fixture {
    async fn start() -> Self {
        let database = TestDatabase::create().await;
        let catalog = Arc::new(database.catalog().await);
        catalog
            .upsert_collection(&Collection::new("S2").unwrap())
            .await
            .unwrap();
        let storage = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(storage.path().join("S2")).unwrap();
        let square = MultiPolygon::new(vec![Polygon::new(
            LineString::from(vec![
                (10.0, 40.0),
                (12.0, 40.0),
                (12.0, 42.0),
                (10.0, 42.0),
                (10.0, 40.0),
            ]),
            Vec::new(),
        )]);
        // The newer product's masks: clouds over its western half, valid data in its
        // southern half.
        let box_of = |[w, s, e, n]: [f64; 4]| serde_json::json!({"type": "MultiPolygon", "coordinates": [[[[w, s], [e, s], [e, n], [w, n], [w, s]]]]});
        let newer_masks = serde_json::json!({
            "clouds": box_of([10.0, 40.0, 11.0, 42.0]),
            "validity": box_of([10.0, 40.0, 12.0, 41.0]),
        });
        for (id, (values, cloud), time, masks) in [
            (
                "older",
                OLDER,
                "2020-01-01T00:00:00Z",
                serde_json::json!({}),
            ),
            ("newer", NEWER, "2020-02-01T00:00:00Z", newer_masks),
        ] {
            let location = format!("S2/{id}.tif");
            raster(&storage.path().join(&location), values);
            let time = time.parse().unwrap();
            let mut properties = serde_json::Map::new();
            properties.insert("eo:cloud_cover".into(), cloud.into());
            catalog
                .register(&Product {
                    properties,
                    id: id.into(),
                    collection: "S2".into(),
                    product_type: None,
                    footprint: square.clone(),
                    begin: time,
                    end: time,
                    location,
                    metadata: serde_json::json!({"masks": masks}),
                })
                .await
                .unwrap();
        }
        // A collection whose name has `__`: its own name wins over S2's looks.
        catalog
            .upsert_collection(&Collection::new("S2__EXTRA").unwrap())
            .await
            .unwrap();
        std::fs::create_dir_all(storage.path().join("S2__EXTRA")).unwrap();
        raster(
            &storage.path().join("S2__EXTRA/extra.tif"),
            [10, 20, 30, 40],
        );
        let time = "2020-03-01T00:00:00Z".parse().unwrap();
        catalog
            .register(&Product {
                properties: Default::default(),
                id: "extra".into(),
                collection: "S2__EXTRA".into(),
                product_type: None,
                footprint: square.clone(),
                begin: time,
                end: time,
                location: "S2__EXTRA/extra.tif".into(),
                metadata: serde_json::json!({}),
            })
            .await
            .unwrap();
        let styles =
            pvs_renderer::styles(&pvs_model::Collections::from_toml(CONFIG).unwrap()).unwrap();
        let settings = Settings {
            styles,
            ..Settings::default()
        };
        let base = support::serve(catalog, storage.path(), settings).await;
        // As a client does: the capabilities say where maps are asked for.
        let (capabilities, get_map) = support::advertised_get_map(&base).await;
        Self {
            _database: database,
            _storage: storage,
            base,
            get_map,
            capabilities,
        }
    }

    async fn get(&self, query: &str) -> (u16, String, Vec<u8>) {
        pvs_test_support::net::get(&format!("{}{query}", self.get_map)).await
    }

    /// The `LegendURL` the capabilities give `style` of `layer`.
    fn legend_url(&self, layer: &str, style: &str) -> String {
        let needle = format!("layer={layer}&amp;style={style}\"");
        let end = self
            .capabilities
            .find(&needle)
            .unwrap_or_else(|| panic!("no legend of {layer} in {style}"))
            + needle.len()
            - 1;
        let start = self.capabilities[..end].rfind("xlink:href=\"").unwrap() + 12;
        self.capabilities[start..end].replace("&amp;", "&")
    }

    /// The centre pixel of a 32 × 32 map inside both products, with `extra` parameters.
    async fn centre(&self, layers: &str, extra: &str) -> [u8; 4] {
        self.pixel(layers, extra, 16, 16).await
    }

    /// A pixel of a 32 × 32 map of lon 10.5..11.5, lat 40.5..41.5 (inside both products),
    /// with `extra` parameters.
    async fn pixel(&self, layers: &str, extra: &str, x: isize, y: isize) -> [u8; 4] {
        let (status, content_type, body) = self
            .get(&format!(
                "SERVICE=WMS&REQUEST=GetMap&VERSION=1.3.0&LAYERS={layers}&CRS=CRS:84&BBOX=10.5,40.5,11.5,41.5&WIDTH=32&HEIGHT=32&FORMAT=image/png&TRANSPARENT=TRUE{extra}"
            ))
            .await;
        assert_eq!(
            (status, content_type.as_str()),
            (200, "image/png"),
            "{layers}{extra}: {}",
            String::from_utf8_lossy(&body)
        );
        let pixel = images::pixel(&images::open(&body), x, y);
        [pixel[0], pixel[1], pixel[2], pixel[3]]
    }

    /// The exception code and locator of a request that must fail.
    async fn refused(&self, query: &str) -> (String, String) {
        let (status, _, body) = self
            .get(&format!(
                "SERVICE=WMS&REQUEST=GetMap&VERSION=1.3.0&CRS=CRS:84&BBOX=10.5,40.5,11.5,41.5&WIDTH=32&HEIGHT=32&FORMAT=image/png&{query}"
            ))
            .await;
        let text = String::from_utf8_lossy(&body).into_owned();
        assert_eq!(status, 400, "{query}: {text}");
        let attribute = |name: &str| {
            text.split(&format!("{name}=\""))
                .nth(1)
                .and_then(|rest| rest.split('"').next())
                .unwrap_or_default()
                .to_owned()
        };
        (attribute("code"), attribute("locator"))
    }
}

/// A value stretched from `[low, high]` to 0..255, as a browse type's range does.
fn stretch(value: f64, [low, high]: [f64; 2]) -> u8 {
    ((value - low) / (high - low) * 255.0)
        .round()
        .clamp(0.0, 255.0) as u8
}

fn rgb(values: [u16; 4], channels: [usize; 3], range: [f64; 2]) -> [u8; 4] {
    let [r, g, b] = channels.map(|c| stretch(f64::from(values[c]), range));
    [r, g, b, 255]
}

fn ndvi(values: [u16; 4]) -> f64 {
    let (red, nir) = (f64::from(values[2]), f64::from(values[3]));
    (nir - red) / (nir + red)
}

fn opaque([r, g, b]: [u8; 3]) -> [u8; 4] {
    [r, g, b, 255]
}

const B02: usize = 0;
const B03: usize = 1;
const B04: usize = 2;
const B08: usize = 3;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browse_types_draw_their_expressions() {
    let fixture = Fixture::start().await;
    let range = [0.0, 1020.0];
    let true_colour = rgb(NEWER.0, [B04, B03, B02], range);
    // The newest product on top; the collection's layer is its default browse type.
    assert_eq!(fixture.centre("S2__TRUE_COLOR", "").await, true_colour);
    assert_eq!(fixture.centre("S2", "").await, true_colour);
    // NDVI through the colormap, from the band arithmetic.
    let ndvi_newer = stretch(ndvi(NEWER.0), [-1.0, 1.0]);
    assert_eq!(ndvi_newer, 32, "(100 - 700) / 800 = -0.75");
    assert_eq!(
        fixture.centre("S2__NDVI", "").await,
        opaque(Colormap::RdYlGn.colour(ndvi_newer))
    );
    // No data in the newer product: the older one shows through.
    assert_eq!(
        fixture.centre("S2__BLUE_OR_NOTHING", "").await,
        [100, 100, 100, 255]
    );
    // dim_bands and dim_range change the channels and the stretch.
    assert_eq!(
        fixture
            .centre("S2", "&dim_bands=B08,B04,B03&dim_range=0%201020")
            .await,
        rgb(NEWER.0, [B08, B04, B03], range)
    );
    assert_eq!(
        fixture
            .centre(
                "S2",
                "&dim_bands=B04,B03,B02&dim_range=0%202040,0%201020,0%20255"
            )
            .await,
        [
            stretch(700.0, [0.0, 2040.0]),
            stretch(60.0, [0.0, 1020.0]),
            stretch(52.0, [0.0, 255.0]),
            255
        ]
    );
    // Bands by number: b3 is B04, b1 is B02.
    let grey = stretch((700.0 - 52.0) / 2.0, range);
    assert_eq!(
        fixture
            .centre("S2", "&dim_bands=(b3-b1)/2&dim_range=0%201020")
            .await,
        [grey, grey, grey, 255]
    );
    // STYLES: another colormap for a single channel.
    assert_eq!(
        fixture.centre("S2__NDVI", "&STYLES=viridis").await,
        opaque(Colormap::Viridis.colour(ndvi_newer))
    );
    assert_eq!(
        fixture.centre("S2__NDVI", "&STYLES=default").await,
        opaque(Colormap::RdYlGn.colour(ndvi_newer))
    );
}

/// A name is a collection of that name first: `S2__EXTRA` is its own collection, though `S2`
/// has products there (and no browse type `EXTRA`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_collection_named_with_a_separator_is_itself() {
    let fixture = Fixture::start().await;
    assert_eq!(fixture.centre("S2__EXTRA", "").await, [10, 20, 30, 255]);
    assert_eq!(
        fixture.centre("S2", "").await,
        rgb(NEWER.0, [B04, B03, B02], [0.0, 1020.0])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cql_and_sort_by_choose_and_order_the_products() {
    let fixture = Fixture::start().await;
    let range = [0.0, 1020.0];
    let (older, newer) = (
        rgb(OLDER.0, [B04, B03, B02], range),
        rgb(NEWER.0, [B04, B03, B02], range),
    );
    // The least cloudy on top, whatever its age.
    assert_eq!(fixture.centre("S2", "&sortBy=cloudCover%20A").await, older);
    assert_eq!(fixture.centre("S2", "&sortBy=cloudCover%20D").await, newer);
    assert_eq!(fixture.centre("S2", "&sortBy=beginTime%20A").await, older);
    // cql keeps the products it selects.
    assert_eq!(fixture.centre("S2", "&cql=cloudCover%3C10").await, older);
    assert_eq!(
        fixture
            .centre("S2", "&cql=cloudCover%20BETWEEN%2010%20AND%2050")
            .await,
        newer
    );
    assert_eq!(
        fixture.centre("S2", "&cql=identifier%3D%27older%27").await,
        older
    );
    assert_eq!(
        fixture.centre("S2", "&cql=cloudCover%3E90").await,
        [0, 0, 0, 0],
        "nothing selected: transparent"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outlined_layers_and_several_layers_composite_in_order() {
    let fixture = Fixture::start().await;
    // A view larger than the footprint: lon 9..13 on 64 pixels, the west edge at x = 16.
    let map = |layers: &str, extra: &str| {
        format!(
            "SERVICE=WMS&REQUEST=GetMap&VERSION=1.3.0&LAYERS={layers}&CRS=CRS:84&BBOX=9,39,13,43&WIDTH=64&HEIGHT=64&FORMAT=image/png&TRANSPARENT=TRUE{extra}"
        )
    };
    let edge = |image: &gdal::Dataset, colour: [u8; 3]| {
        (14..=18).any(|x| images::pixel(image, x, 32)[..] == [colour[0], colour[1], colour[2], 255])
    };
    let (status, _, body) = fixture.get(&map("S2__outlined", "")).await;
    assert_eq!(status, 200);
    let outlined = images::open(&body);
    assert!(edge(&outlined, [255, 64, 0]), "the outline over the images");
    let true_colour = rgb(NEWER.0, [B04, B03, B02], [0.0, 1020.0]);
    assert_eq!(images::pixel(&outlined, 32, 32), true_colour.to_vec());
    assert_eq!(images::pixel(&outlined, 2, 2), vec![0, 0, 0, 0]);
    // NDVI, then blue outlines over it; in the reverse order the NDVI covers them.
    let (status, _, body) = fixture
        .get(&map("S2__NDVI,S2__outlines", "&STYLES=,blue"))
        .await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let both = images::open(&body);
    assert!(edge(&both, [0, 0, 255]), "blue outlines on top");
    let ndvi_colour = opaque(Colormap::RdYlGn.colour(stretch(ndvi(NEWER.0), [-1.0, 1.0])));
    assert_eq!(images::pixel(&both, 32, 32), ndvi_colour.to_vec());
    let (_, _, body) = fixture
        .get(&map("S2__outlines,S2__NDVI", "&STYLES=blue,"))
        .await;
    let reversed = images::open(&body);
    // The outline is 2 pixels wide on the edge (x = 15 and 16): on top it shows on both; under
    // the NDVI only outside the footprint (x = 15).
    let blue = vec![0, 0, 255, 255];
    assert_eq!(images::pixel(&both, 16, 32), blue);
    assert_eq!(images::pixel(&reversed, 16, 32), ndvi_colour.to_vec());
    assert_eq!(images::pixel(&reversed, 15, 32), blue);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn masks_are_drawn_and_cut_the_products() {
    let fixture = Fixture::start().await;
    let range = [0.0, 1020.0];
    let (older, newer) = (
        rgb(OLDER.0, [B04, B03, B02], range),
        rgb(NEWER.0, [B04, B03, B02], range),
    );
    // Pixel (8, 24): lon 10.77, lat 40.73, west and south; (24, 8): lon 11.27, lat 41.23,
    // east and north.
    let (south_west, north_east) = ((8, 24), (24, 8));
    // The newer product's clouds are cut out of it: the older one shows there.
    for (layer, at, expected) in [
        ("S2__masked_clouds", south_west, older),
        ("S2__masked_clouds", north_east, newer),
        // Only its valid area is kept.
        ("S2__masked_validity", south_west, newer),
        ("S2__masked_validity", north_east, older),
        ("S2", south_west, newer),
    ] {
        assert_eq!(
            fixture.pixel(layer, "", at.0, at.1).await,
            expected,
            "{layer} at {at:?}"
        );
    }
    // The masks themselves, half transparent: clouds in orange, validity in green, or as
    // STYLES says.
    assert_eq!(
        fixture.pixel("S2__clouds", "", 8, 24).await,
        [255, 64, 0, 128]
    );
    assert_eq!(fixture.pixel("S2__clouds", "", 24, 8).await, [0, 0, 0, 0]);
    assert_eq!(
        fixture.pixel("S2__validity", "", 8, 24).await,
        [0, 160, 0, 128]
    );
    assert_eq!(
        fixture.pixel("S2__clouds", "&STYLES=blue", 8, 24).await,
        [0, 0, 255, 128]
    );
    // Product layers have their masks too.
    assert_eq!(
        fixture.pixel("newer__masked_clouds", "", 8, 24).await,
        [0, 0, 0, 0]
    );
    assert_eq!(
        fixture.pixel("newer__masked_clouds", "", 24, 8).await,
        newer
    );
    assert_eq!(
        fixture.refused("LAYERS=S2__snow").await,
        ("LayerNotDefined".to_owned(), "layers".to_owned())
    );
    assert_eq!(
        fixture.refused("LAYERS=S2__masked_snow").await,
        ("LayerNotDefined".to_owned(), "layers".to_owned())
    );
    assert_eq!(
        fixture.refused("LAYERS=S2__clouds&dim_bands=B02").await,
        ("InvalidParameterValue".to_owned(), "dim_bands".to_owned())
    );
}

/// OWSLib and GDAL, as QGIS plugins and scripts use them, find the browse and mask types in the
/// capabilities and draw them: OWSLib with a style and its legend, GDAL's WMS driver through
/// the subdataset it lists for the layer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn owslib_and_gdal_draw_the_browse_types() {
    let fixture = Fixture::start().await;
    let dir = tempfile::tempdir().unwrap();
    let ndvi = stretch(ndvi(NEWER.0), [-1.0, 1.0]);
    for version in ["1.1.1", "1.3.0"] {
        let (map, legend) = (
            dir.path().join(format!("map-{version}.png")),
            dir.path().join(format!("legend-{version}.png")),
        );
        let args = [
            concat!(env!("CARGO_MANIFEST_DIR"), "/tests/owslib_browse.py").to_owned(),
            format!("{}/ows", fixture.base),
            version.to_owned(),
            map.display().to_string(),
            legend.display().to_string(),
        ];
        let output = support::run("python3", args.to_vec()).await;
        assert!(
            output.status.success(),
            "OWSLib {version}:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let result: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        for layer in [
            "S2",
            "S2__NDVI",
            "S2__TRUE_COLOR",
            "S2__clouds",
            "S2__masked_clouds",
        ] {
            assert!(
                result["layers"].as_array().unwrap().contains(&layer.into()),
                "{version}: {layer} in {result}"
            );
        }
        assert!(
            result["ndvi_styles"]
                .as_array()
                .unwrap()
                .contains(&"viridis".into()),
            "{result}"
        );
        assert_eq!(
            colour_at(&images::Pixels::open(&map), 16, 16),
            Colormap::Viridis.colour(ndvi),
            "{version}"
        );
        assert_eq!(
            colour_at(&images::Pixels::open(&legend), 0, 0),
            Colormap::Viridis.colour(0),
            "{version}"
        );
    }

    // GDAL's WMS driver lists the layers as subdatasets; the NDVI one, translated to a PNG of
    // the products' inside, shows the NDVI colour.
    let capabilities = format!(
        "WMS:{}/ows?SERVICE=WMS&VERSION=1.1.1&REQUEST=GetCapabilities",
        fixture.base
    );
    let info = support::run("gdalinfo", vec![capabilities]).await;
    let listing = String::from_utf8_lossy(&info.stdout).into_owned();
    assert!(info.status.success(), "{listing}");
    let subdataset = listing
        .lines()
        .filter_map(|line| line.trim().split_once("_NAME="))
        .map(|(_, name)| name.to_owned())
        .find(|name| name.contains("LAYERS=S2__NDVI&"))
        .unwrap_or_else(|| panic!("no S2__NDVI subdataset in {listing}"));
    let png = dir.path().join("gdal.png");
    let arguments = [
        "-of".to_owned(),
        "PNG".to_owned(),
        "-outsize".to_owned(),
        "16".to_owned(),
        "16".to_owned(),
        "-projwin".to_owned(),
        "10.6".to_owned(),
        "41.4".to_owned(),
        "11.4".to_owned(),
        "40.6".to_owned(),
        subdataset,
        png.display().to_string(),
    ];
    let output = support::run("gdal_translate", arguments.to_vec()).await;
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // GDAL resamples the blocks it fetches: within 2 of the colour on each channel.
    let got = colour_at(&images::Pixels::open(&png), 8, 8);
    let expected = Colormap::RdYlGn.colour(ndvi);
    assert!(
        got.iter().zip(expected).all(|(g, e)| g.abs_diff(e) <= 2),
        "{got:?} and {expected:?}"
    );
}

/// The red, green and blue of a pixel of an RGB or RGBA image.
fn colour_at(pixels: &images::Pixels, x: usize, y: usize) -> [u8; 3] {
    assert!(pixels.bands.len() >= 3, "{} bands", pixels.bands.len());
    let index = y * pixels.width + x;
    [0, 1, 2].map(|band| pixels.bands[band][index])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_cannot_be_drawn_is_refused_naming_the_parameter() {
    let fixture = Fixture::start().await;
    for (query, code, locator) in [
        ("LAYERS=S2__NOPE", "LayerNotDefined", "layers"),
        ("LAYERS=S2__NDVI&STYLES=jet", "StyleNotDefined", "styles"),
        ("LAYERS=S2&STYLES=viridis", "StyleNotDefined", "styles"),
        (
            "LAYERS=S2,S2__NDVI&STYLES=viridis",
            "StyleNotDefined",
            "styles",
        ),
        (
            "LAYERS=S2__outlines&STYLES=viridis",
            "StyleNotDefined",
            "styles",
        ),
        (
            "LAYERS=S2&dim_bands=B09",
            "InvalidParameterValue",
            "dim_bands",
        ),
        (
            "LAYERS=S2&dim_bands=B04,B03",
            "InvalidParameterValue",
            "dim_bands",
        ),
        (
            "LAYERS=S2&dim_bands=(B04",
            "InvalidParameterValue",
            "dim_bands",
        ),
        (
            "LAYERS=S2&dim_range=5%201",
            "InvalidParameterValue",
            "dim_range",
        ),
        (
            "LAYERS=S2&dim_range=0%201,0%201",
            "InvalidParameterValue",
            "dim_range",
        ),
        (
            "LAYERS=S2&cql=cloudCover%3C",
            "InvalidParameterValue",
            "cql",
        ),
        (
            "LAYERS=S2&cql=cloudiness%3C1",
            "InvalidParameterValue",
            "cql",
        ),
        (
            "LAYERS=S2&sortBy=cloudCover%20X",
            "InvalidParameterValue",
            "sortBy",
        ),
        (
            "LAYERS=S2&ELEVATION=100",
            "InvalidParameterValue",
            "elevation",
        ),
        ("LAYERS=S2&SLD_BODY=x", "InvalidParameterValue", "sld_body"),
        (
            "LAYERS=S2&DIM_WAVELENGTHS=665",
            "InvalidParameterValue",
            "dim_wavelengths",
        ),
        ("LAYERS=S2,", "LayerNotDefined", "layers"),
    ] {
        assert_eq!(
            fixture.refused(query).await,
            (code.to_owned(), locator.to_owned()),
            "{query}"
        );
    }
    // A filter nested thousands deep (it would overflow the parser's stack) is refused, and
    // the service goes on.
    let deep = format!("LAYERS=S2&cql={}cloudCover%3C1", "NOT%20".repeat(2000));
    assert_eq!(
        fixture.refused(&deep).await,
        ("InvalidParameterValue".to_owned(), "cql".to_owned())
    );
    assert_eq!(fixture.centre("S2", "").await[3], 255, "still drawing");
    // A bad expression in the configuration is refused at start-up, naming where.
    let bad = pvs_model::Collections::from_toml("[collections.S2.browses.X]\ngrey = \"B09 + 1\"\n")
        .unwrap();
    let error = pvs_renderer::styles(&bad).unwrap_err();
    assert!(
        error.contains("[collections.S2.browses.X]") && error.contains("no band \"B09\""),
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn legends_and_capabilities_advertise_the_browse_types() {
    let fixture = Fixture::start().await;
    let (status, content_type, body) =
        pvs_test_support::net::get(&fixture.legend_url("S2__NDVI", "default")).await;
    assert_eq!((status, content_type.as_str()), (200, "image/png"));
    let legend = images::open(&body);
    assert_eq!(legend.raster_size(), (256, 20));
    assert_eq!(
        images::pixel(&legend, 0, 10),
        opaque(Colormap::RdYlGn.colour(0)).to_vec()
    );
    assert_eq!(
        images::pixel(&legend, 255, 10),
        opaque(Colormap::RdYlGn.colour(255)).to_vec()
    );
    // A client may ask for another size.
    let magma = fixture.legend_url("S2__NDVI", "magma");
    let (status, _, body) =
        pvs_test_support::net::get(&format!("{magma}&WIDTH=10&HEIGHT=100")).await;
    assert_eq!(status, 200);
    let tall = images::open(&body);
    assert_eq!(
        images::pixel(&tall, 5, 0),
        opaque(Colormap::Magma.colour(255)).to_vec()
    );
    let (status, _, body) = fixture
        .get("SERVICE=WMS&REQUEST=GetLegendGraphic&VERSION=1.3.0&LAYER=S2")
        .await;
    assert_eq!(status, 400, "an RGB layer has no ramp");
    assert!(String::from_utf8_lossy(&body).contains("no legend"));

    let dir = tempfile::tempdir().unwrap();
    for version in ["1.3.0", "1.1.1"] {
        let (status, _, body) = fixture
            .get(&format!(
                "SERVICE=WMS&REQUEST=GetCapabilities&VERSION={version}"
            ))
            .await;
        assert_eq!(status, 200);
        let xml = String::from_utf8(body).unwrap();
        for name in [
            "S2",
            "S2__outlines",
            "S2__outlined",
            "S2__TRUE_COLOR",
            "S2__NDVI",
            "S2__BLUE_OR_NOTHING",
            "S2__clouds",
            "S2__masked_clouds",
            "S2__validity",
            "S2__masked_validity",
        ] {
            assert!(
                xml.contains(&format!("<Name>{name}</Name>")),
                "{version}: {name}"
            );
        }
        assert!(
            xml.contains("<Style><Name>viridis</Name>"),
            "{version}: ramps"
        );
        assert!(
            xml.contains("<Style><Name>blue</Name>"),
            "{version}: colours"
        );
        assert!(
            xml.contains(
                "request=GetLegendGraphic&amp;version=1.3.0&amp;format=image/png&amp;layer=S2__NDVI"
            ),
            "{version}: legend URLs"
        );
        support::assert_valid_capabilities(version, &xml, dir.path());
    }
}
