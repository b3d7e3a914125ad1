//! A renderer on an ephemeral port over a real PostGIS catalog holding one product (a SAR
//! browse of the ngEO fixtures converted to a COG), shared by the renderer's tests.

// Each test binary uses part of this module.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use pvs_catalog::testing::TestDatabase;
use pvs_catalog::{Catalog, Collection, PostgisCatalog, Product};
use pvs_model::{BrowseReport, Footprint};
use pvs_raster::convert::{CogOptions, Placement, to_cog};
use pvs_renderer::{Renderer, Settings, routes};
use pvs_test_support::{fixtures, local_storage};

pub struct Server {
    _database: TestDatabase,
    _storage_dir: tempfile::TempDir,
    pub base: String,
    /// The SAR product's COG, footprint centre (lon, lat), footprint and id.
    pub cog: PathBuf,
    pub centre: (f64, f64),
    pub footprint: geo::MultiPolygon<f64>,
    pub product_id: String,
    /// The catalog the renderer reads.
    pub catalog: Arc<PostgisCatalog>,
}

/// Converts the first browse of a fixture report into `<storage>/SAR/<id>.tif` and
/// registers it; returns the COG path and the footprint's box centre.
async fn add_product(
    catalog: &dyn Catalog,
    storage_dir: &Path,
    report: &str,
    image: &str,
) -> (PathBuf, (f64, f64), geo::MultiPolygon<f64>, String) {
    let report =
        BrowseReport::parse(&std::fs::read(fixtures::ngeo().join(report)).unwrap()).unwrap();
    let browse = report.valid_browses().next().unwrap();
    let Footprint::Wgs84(footprint) = &browse.footprint else {
        panic!("an EPSG:4326 footprint");
    };
    let id = browse.identifier.as_ref().unwrap().to_string();
    let key = format!("SAR/{id}.tif");
    let output = storage_dir.join(&key);
    std::fs::create_dir_all(output.parent().unwrap()).unwrap();
    to_cog(
        fixtures::ngeo().join(image).to_str().unwrap(),
        &Placement {
            geolocation: &browse.geolocation,
            reference_system: browse.reference_system,
            footprint: Some(footprint.clone()),
        },
        &output,
        &CogOptions::default(),
    )
    .unwrap();
    catalog
        .register(&Product {
            properties: Default::default(),
            id: id.clone(),
            collection: "SAR".into(),
            product_type: None,
            footprint: footprint.clone(),
            begin: browse.start,
            end: browse.end,
            location: key,
            metadata: serde_json::json!({}),
        })
        .await
        .unwrap();
    let rect = geo::BoundingRect::bounding_rect(footprint).unwrap();
    (
        output,
        (rect.center().x, rect.center().y),
        footprint.clone(),
        id,
    )
}

/// Serves a renderer over `catalog` and the COGs under `storage_dir` on an ephemeral port;
/// returns its base URL.
pub async fn serve(catalog: Arc<dyn Catalog>, storage_dir: &Path, settings: Settings) -> String {
    let renderer = Arc::new(Renderer::new(catalog, local_storage(storage_dir), settings));
    pvs_test_support::serve(routes(renderer)).await
}

impl Server {
    pub async fn start() -> Self {
        Self::start_with(Settings::default()).await
    }

    /// A server with these settings (styles, limits).
    pub async fn start_with(settings: Settings) -> Self {
        let database = TestDatabase::create().await;
        let catalog = Arc::new(database.catalog().await);
        catalog
            .upsert_collection(&Collection::new("SAR").unwrap())
            .await
            .unwrap();
        catalog
            .upsert_collection(&Collection::new("EMPTY").unwrap())
            .await
            .unwrap();
        let storage_dir = tempfile::tempdir().unwrap();
        let (cog, centre, footprint, product_id) = add_product(
            catalog.as_ref(),
            storage_dir.path(),
            "reference_test_data/browseReport_ASA_IM__0P_20100722_213840.xml",
            "reference_test_data/ASA_IM__0P_20100722_213840.jpg",
        )
        .await;
        let base = serve(catalog.clone(), storage_dir.path(), settings).await;
        Self {
            _database: database,
            _storage_dir: storage_dir,
            base,
            cog,
            centre,
            footprint,
            product_id,
            catalog,
        }
    }

    pub async fn get(&self, query: &str) -> (u16, String, Vec<u8>) {
        pvs_test_support::net::get(&format!("{}/ows?{query}", self.base)).await
    }
}

/// As a client reads them: the WMS 1.3.0 capabilities of the renderer at `base`, and the
/// GetMap URL they advertise (ending with `?` or `&`, the request's parameters to follow).
pub async fn advertised_get_map(base: &str) -> (String, String) {
    let (status, _, body) = pvs_test_support::net::get(&format!(
        "{base}/ows?SERVICE=WMS&REQUEST=GetCapabilities&VERSION=1.3.0"
    ))
    .await;
    assert_eq!(status, 200);
    let capabilities = String::from_utf8(body).unwrap();
    let get_map = capabilities
        .split("<GetMap>")
        .nth(1)
        .and_then(|rest| rest.split("xlink:href=\"").nth(1))
        .and_then(|rest| rest.split('"').next())
        .expect("a GetMap OnlineResource")
        .replace("&amp;", "&");
    (capabilities, get_map)
}

/// The OGC schemas `scripts/setup.sh` fetches.
pub fn schemas() -> PathBuf {
    let dir = std::env::var_os("PVS_OGC_SCHEMAS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").expect("HOME")).join(".cache/pvs/ogc-schemas")
        });
    assert!(
        dir.join("wms/1.3.0/capabilities_1_3_0.xsd").is_file(),
        "the OGC schemas are not in {} (run scripts/setup.sh)",
        dir.display()
    );
    dir
}

/// The xmllint check of WMS capabilities of `version`: 1.3.0 against
/// `capabilities_1_3_0.xsd`, 1.1.1 against `WMS_MS_Capabilities.dtd`.
pub fn capabilities_check(version: &str) -> [&'static str; 2] {
    match version {
        "1.3.0" => ["--schema", "wms/1.3.0/capabilities_1_3_0.xsd"],
        _ => ["--dtdvalid", "wms/1.1.1/WMS_MS_Capabilities.dtd"],
    }
}

/// Checks `xml`, a WMS capabilities document of `version`, with xmllint against the OGC
/// schema (in `dir`, a scratch folder); panics with xmllint's complaint.
pub fn assert_valid_capabilities(version: &str, xml: &str, dir: &Path) {
    let [option, schema] = capabilities_check(version);
    let file = dir.join(format!("capabilities-{version}.xml"));
    std::fs::write(&file, xml).unwrap();
    let output = std::process::Command::new("xmllint")
        .args(["--noout", "--nonet", option])
        .arg(schemas().join(schema))
        .arg(&file)
        .output()
        .expect("xmllint (libxml2-utils, scripts/setup.sh)");
    assert!(
        output.status.success(),
        "{version} capabilities are not valid:\n{}\n{xml}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Runs `program` with `args` on a blocking thread and waits for it: its output. Panics
/// when it cannot be started.
pub async fn run(program: &'static str, args: Vec<String>) -> std::process::Output {
    tokio::task::spawn_blocking(move || {
        std::process::Command::new(program)
            .args(&args)
            .output()
            .unwrap_or_else(|error| panic!("{program}: {error}"))
    })
    .await
    .unwrap()
}
