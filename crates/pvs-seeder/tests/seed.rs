//! Seeding against a real PostGIS catalog, COGs drawn by the renderer library and tiles on
//! the S3 test server: the command line's job function and the seed_queue worker on a real
//! Redis fill exactly the tiles computed independently from the footprints.

mod support;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use geo_types::MultiPolygon;
use pvs_model::{CollectionConfig, Collections};
use pvs_queue::testing::TestRedis;
use pvs_queue::{QueueName, Stage, Status, StatusSet, WorkQueue};
use pvs_seeder::{Counts, PlanError, RunOptions, SeedJob, Seeder, WorkerSettings, seed_job};
use pvs_tiles::{Tile, TileFormat, TileKey, TileMatrixSet, TileTime};
use support::{World, at, expected_keys, rect, stored};

const BOTH: [&str; 2] = ["WebMercatorQuad", "WorldCRS84Quad"];

fn job(collection: &str, time: (&str, &str), zoom: [u8; 2]) -> SeedJob {
    SeedJob {
        collections: vec![collection.to_owned()],
        start: at(time.0),
        end: at(time.1),
        zoom,
        bbox: None,
        matrix_sets: TileMatrixSet::ALL.to_vec(),
        formats: vec![TileFormat::Png],
        outlines: false,
    }
}

async fn seed(world: &World, job: &SeedJob, force: bool) -> pvs_seeder::Summary {
    let cache = world.cache();
    seed_job(
        &cache,
        job,
        RunOptions {
            force,
            concurrency: 4,
        },
        &mut |_: &Counts| {},
        None,
    )
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_fills_exactly_the_tiles_of_its_products_and_a_rerun_resumes() {
    let world = World::new(&["SEED", "OTHER"]).await;
    let a = world
        .add_product(
            "a",
            "SEED",
            MultiPolygon(vec![rect(10.3, 44.2, 12.7, 46.6)]),
            "2020-05-01T10:00:00.250Z",
            "2020-05-01T10:00:30Z",
            [200, 30, 30],
        )
        .await;
    // Split at the antimeridian: two polygons.
    let b = world
        .add_product(
            "b",
            "SEED",
            MultiPolygon(vec![
                rect(177.3, -20.6, 180.0, -18.3),
                rect(-180.0, -20.6, -178.1, -18.3),
            ]),
            "2020-05-03T00:00:00Z",
            "2020-05-03T00:00:00Z",
            [30, 200, 30],
        )
        .await;
    // Outside the job's time, and another collection in it: not seeded.
    world
        .add_product(
            "late",
            "SEED",
            MultiPolygon(vec![rect(100.4, 10.2, 101.6, 11.3)]),
            "2020-06-01T00:00:00Z",
            "2020-06-01T01:00:00Z",
            [30, 30, 200],
        )
        .await;
    world
        .add_product(
            "other",
            "OTHER",
            MultiPolygon(vec![rect(-60.4, -20.6, -57.9, -18.3)]),
            "2020-05-02T00:00:00Z",
            "2020-05-02T00:00:00Z",
            [30, 30, 200],
        )
        .await;
    let job = job(
        "SEED",
        ("2020-05-01T00:00:00Z", "2020-05-31T00:00:00Z"),
        [0, 5],
    );

    let expected = expected_keys("SEED", &[&a, &b], &BOTH, 0..=5);
    let summary = seed(&world, &job, false).await;
    assert_eq!(stored(&world.tiles, "SEED").await, expected);
    assert!(stored(&world.tiles, "OTHER").await.is_empty());
    assert_eq!(summary.products, 2);
    assert_eq!(summary.total, expected.len() as u64);
    assert_eq!(summary.counts.present, 0);
    assert_eq!(summary.counts.failed, 0, "{:?}", summary.failures);
    assert_eq!(
        summary.counts.rendered + summary.counts.empty,
        summary.total
    );
    // Tiles of the footprints' boxes that miss the footprint are empty; here footprints are
    // their boxes, so every tile has data.
    assert_eq!(summary.counts.empty, 0);
    assert!(!summary.interrupted);

    // A rerun makes nothing.
    let again = seed(&world, &job, false).await;
    assert_eq!(again.counts.present, again.total);
    assert_eq!(again.counts.rendered + again.counts.empty, 0);

    // Tiles lost (an interrupted run, or deleted): a rerun makes exactly those.
    let lost: Vec<&String> = expected.iter().step_by(7).collect();
    for key in &lost {
        world
            .tiles
            .storage()
            .delete(&format!("tiles/{key}").parse().unwrap())
            .await
            .unwrap();
    }
    assert_eq!(
        stored(&world.tiles, "SEED").await.len(),
        expected.len() - lost.len()
    );
    let resumed = seed(&world, &job, false).await;
    assert_eq!(resumed.counts.rendered, lost.len() as u64);
    assert_eq!(resumed.counts.present, resumed.total - lost.len() as u64);
    assert_eq!(stored(&world.tiles, "SEED").await, expected);

    // --force draws everything again.
    let forced = seed(&world, &job, true).await;
    assert_eq!(forced.counts.rendered, forced.total);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_box_limits_the_tiles_and_outlines_are_seeded_alike() {
    let world = World::new(&["BOX"]).await;
    let a = world
        .add_product(
            "a",
            "BOX",
            MultiPolygon(vec![rect(10.3, 44.2, 14.7, 46.6)]),
            "2020-05-01T10:00:00Z",
            "2020-05-01T10:00:30Z",
            [200, 30, 30],
        )
        .await;
    world
        .add_product(
            "far",
            "BOX",
            MultiPolygon(vec![rect(-60.4, -20.6, -57.9, -18.3)]),
            "2020-05-01T10:00:00Z",
            "2020-05-01T10:00:30Z",
            [200, 30, 30],
        )
        .await;
    let mut job = job(
        "BOX",
        ("2020-05-01T00:00:00Z", "2020-05-02T00:00:00Z"),
        [3, 6],
    );
    job.bbox = Some([12.1, 40.0, 20.0, 45.3]);
    job.matrix_sets = vec![TileMatrixSet::WorldCRS84Quad];
    job.outlines = true;
    let summary = seed(&world, &job, false).await;
    assert_eq!(summary.counts.failed, 0, "{:?}", summary.failures);
    // The far product is outside the box; product a's box is clipped to the job's.
    let clipped = pvs_catalog::Product {
        footprint: MultiPolygon(vec![rect(12.1, 44.2, 14.7, 45.3)]),
        ..a.clone()
    };
    let expected = expected_keys("BOX", &[&clipped], &["WorldCRS84Quad"], 3..=6);
    assert_eq!(stored(&world.tiles, "BOX").await, expected);
    let outlines: BTreeSet<String> = expected
        .iter()
        .map(|k| k.replacen("BOX/", "BOX__outlines/", 1))
        .collect();
    assert_eq!(stored(&world.tiles, "BOX__outlines").await, outlines);
    assert_eq!(summary.total, 2 * expected.len() as u64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_collections_are_refused_by_name() {
    let world = World::new(&["SEED"]).await;
    let cache = world.cache();
    let job = job(
        "NOPE",
        ("2020-05-01T00:00:00Z", "2020-05-02T00:00:00Z"),
        [0, 1],
    );
    let error = seed_job(
        &cache,
        &job,
        RunOptions::default(),
        &mut |_: &Counts| {},
        None,
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&error, PlanError::UnknownCollection { name, known } if name == "NOPE" && known == "SEED"),
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_request_interrupts_the_run_and_a_rerun_finishes_it() {
    let world = World::new(&["STOP"]).await;
    let a = world
        .add_product(
            "a",
            "STOP",
            MultiPolygon(vec![rect(10.3, 44.2, 12.7, 46.6)]),
            "2020-05-01T10:00:00Z",
            "2020-05-01T10:00:30Z",
            [200, 30, 30],
        )
        .await;
    let job = job(
        "STOP",
        ("2020-05-01T00:00:00Z", "2020-05-02T00:00:00Z"),
        [0, 6],
    );
    let cache = world.cache();
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let summary = seed_job(
        &cache,
        &job,
        RunOptions {
            force: false,
            concurrency: 1,
        },
        &mut |counts: &Counts| {
            if counts.done() == 3 {
                let _ = stop_tx.send(true);
            }
        },
        Some(stop_rx),
    )
    .await
    .unwrap();
    assert!(summary.interrupted);
    assert_eq!(summary.counts.done(), 3);
    assert!(
        summary
            .line()
            .contains("run the same job again to continue")
    );
    assert_eq!(stored(&world.tiles, "STOP").await.len(), 3);
    let rest = seed(&world, &job, false).await;
    assert_eq!(rest.counts.present, 3);
    assert_eq!(rest.counts.rendered, rest.total - 3);
    assert_eq!(
        stored(&world.tiles, "STOP").await,
        expected_keys("STOP", &[&a], &BOTH, 0..=6)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_queue_worker_seeds_intervals_and_records_failures() {
    let world = World::new(&["QS", "QUIET"]).await;
    let redis = TestRedis::new().await;
    let a = world
        .add_product(
            "a",
            "QS",
            MultiPolygon(vec![rect(10.3, 44.2, 12.7, 46.6)]),
            "2010-07-22T21:38:40Z",
            "2010-07-22T21:39:38.5Z",
            [200, 30, 30],
        )
        .await;
    // Another time of the same collection, and a collection without seed_zoom.
    world
        .add_product(
            "b",
            "QS",
            MultiPolygon(vec![rect(-60.4, -20.6, -57.9, -18.3)]),
            "2011-01-01T00:00:00Z",
            "2011-01-01T00:00:00Z",
            [200, 30, 30],
        )
        .await;
    world
        .add_product(
            "quiet",
            "QUIET",
            MultiPolygon(vec![rect(10.3, 44.2, 12.7, 46.6)]),
            "2010-07-22T21:38:40Z",
            "2010-07-22T21:39:38.5Z",
            [200, 30, 30],
        )
        .await;
    let mut collections = Collections::default();
    collections.collections.insert(
        "QS".to_owned(),
        CollectionConfig {
            seed_zoom: Some([1, 4]),
            ..CollectionConfig::for_browse_type("QS")
        },
    );
    collections.collections.insert(
        "QUIET".to_owned(),
        CollectionConfig::for_browse_type("QUIET"),
    );
    let seeder = Arc::new(Seeder::new(
        redis.queue.clone(),
        Arc::new(world.cache()),
        collections,
        WorkerSettings::default(),
    ));
    assert_eq!(seeder.seeded_collections(), vec![("QS".to_owned(), [1, 4])]);

    // What the registrar pushes for product a, and garbage.
    let message = pvs_registrar::seed_message(a.begin, a.end);
    assert_eq!(message, "2010-07-22T21:38:40Z/2010-07-22T21:39:38.500Z");
    redis.push(QueueName::Seed, "garbage").await.unwrap();
    redis.push(QueueName::Seed, &message).await.unwrap();

    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let worker = tokio::spawn(seeder.clone().run("seeder-test", stop_rx));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    loop {
        let done = redis
            .members(Stage::Seed, StatusSet::Success)
            .await
            .unwrap();
        let failed = redis
            .members(Stage::Seed, StatusSet::Failure)
            .await
            .unwrap();
        if done.len() + failed.len() >= 2 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the worker did not finish"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    stop_tx.send(true).unwrap();
    worker.await.unwrap().unwrap();

    assert_eq!(
        redis
            .members(Stage::Seed, StatusSet::Success)
            .await
            .unwrap(),
        vec![message.clone()]
    );
    match redis.status(Stage::Seed, "garbage").await.unwrap() {
        Status::Failed { reason } => assert!(
            reason.contains("\"garbage\" is not a time interval START/END"),
            "{reason}"
        ),
        other => panic!("garbage: {other:?}"),
    }
    assert!(
        redis
            .members(Stage::Seed, StatusSet::InFlight)
            .await
            .unwrap()
            .is_empty()
    );
    // Nothing left waiting or half-done.
    assert_eq!(redis.len(QueueName::Seed).await.unwrap(), 0);
    assert!(
        redis
            .processing(QueueName::Seed)
            .await
            .unwrap()
            .iter()
            .all(|(_, items)| items.is_empty())
    );
    assert_eq!(
        stored(&world.tiles, "QS").await,
        expected_keys("QS", &[&a], &BOTH, 1..=4)
    );
    assert!(stored(&world.tiles, "QUIET").await.is_empty());

    // A tile of the interval, as a client would ask for it, is served from the store.
    let time = TileTime::parse(&pvs_tiles::time::interval_value(a.begin, a.end)).unwrap();
    let key = TileKey::new(
        "QS",
        time,
        TileMatrixSet::WorldCRS84Quad,
        Tile { z: 1, x: 2, y: 0 },
        TileFormat::Png,
    )
    .unwrap();
    let cache = world.cache();
    assert!(!cache.tile(&key).await.unwrap().is_empty());
    assert_eq!(
        cache
            .stats()
            .hits
            .load(std::sync::atomic::Ordering::Relaxed),
        1
    );
}
