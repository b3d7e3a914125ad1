//! The pvs ingestor: where data providers meet pvs.

pub mod watch;
