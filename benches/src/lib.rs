//! Benchmarks of pvs live in `benches/` (criterion). See `benches/README.md`.
