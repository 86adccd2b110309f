//! What the service tells its operators: Prometheus metrics and the log.
//! Both are written so that no credential can reach them.

pub mod logging;
pub mod metrics;
pub mod node_gauges;
pub mod process;
