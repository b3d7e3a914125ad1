//! What every pvs service shares, and nothing service-specific:
//!
//! - [`config`]: environment variables parsed once into typed values, with one registry of every
//!   variable pvs reads (the source of `docs/configuration.md`) and errors that name the variable;
//! - [`logging`]: `tracing` output, human text or JSON lines;
//! - [`http`]: the HTTP skeleton every service runs (`/health`, `/ready`, `/metrics`, request
//!   ids and request log lines, graceful shutdown);
//! - [`metrics`]: request counts and latencies, and the collectors of everything else, in the
//!   Prometheus text format.
//!
//! Backends (queue, catalog, storage) live in their own crates; this crate only parses the
//! settings that select them.

#![forbid(unsafe_code)]

pub mod config;
pub mod http;
pub mod logging;
pub mod metrics;
pub mod public_url;
