//! Integration tests of pvs-storage against real backends: a local directory, and a real
//! S3-compatible server at `PVS_TEST_S3_ENDPOINT` (default http://127.0.0.1:9000, started by
//! `scripts/s3-server.sh start`). S3 tests fail, never skip, when the server does not answer.

mod contract;
mod gdal;
mod s3;
mod support;
