//! What the integration tests of pvs share, written once: each crate's `tests/` used to carry
//! its own copy. A dev-dependency only (`publish = false`); nothing here runs in a service.
//!
//! - [`net`]: free loopback ports and addresses, an axum router served on one.
//! - [`process`]: a child process killed when the test ends however it ends (or stopped by a
//!   signal first), and commands with a clean environment.
//! - [`wait`]: waiting with a deadline for a condition, a value, or a URL answering 200.
//! - [`s3`]: the S3-compatible test server (`PVS_TEST_S3_ENDPOINT`): a bucket per test, and
//!   the variables that give a `pvs` process that bucket.
//! - [`storage`]: local storage in a folder (`file://`).
//! - [`fixtures`]: the repository's test data.
//! - [`images`] (feature `images`, GDAL): images the services answer, decoded to pixels.
//!
//! Not here: what belongs to one backend and its contract suite stays in that backend's
//! `testing` module (feature `contract`): `pvs_catalog::testing` (a PostGIS database per test,
//! `PVS_TEST_DATABASE_URL`), `pvs_queue::testing` (Redis under a key prefix of its own,
//! `PVS_TEST_REDIS_URL`) and `pvs_storage::testing` (re-exported as [`s3`]). Neither is what
//! one crate's tests share only among themselves (a stack of services, its fixtures).

#![forbid(unsafe_code)]

pub mod fixtures;
#[cfg(feature = "images")]
pub mod images;
pub mod net;
pub mod process;
pub mod s3;
pub mod storage;
pub mod wait;

pub use net::{free_address, free_port, serve};
pub use process::{Process, Signal, clean_command};
pub use storage::{file_url, local_storage};
pub use wait::{answers_ok, wait_for, wait_ok, wait_until};
