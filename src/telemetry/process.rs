//! Process metrics read from `/proc/self` at each scrape, under the names
//! every Prometheus dashboard knows (`process_open_fds`, `process_max_fds`,
//! `process_resident_memory_bytes`, `process_virtual_memory_bytes`,
//! `process_cpu_seconds_total`, `process_start_time_seconds`,
//! `process_threads`). A socket server lives and dies by its descriptors,
//! so those matter most.
//!
//! Read here rather than with the `prometheus` crate's process collector:
//! the same values without its `procfs`/`rustix` dependency tree, from
//! three small files read into one reused buffer (and `/proc/stat` once,
//! for the boot time).

use std::io::Read;
use std::sync::Mutex;

use prometheus::core::Collector;
use prometheus::{Counter, Gauge, IntGauge, Registry};

pub struct ProcessMetrics {
    open_fds: IntGauge,
    max_fds: IntGauge,
    resident: IntGauge,
    virtual_memory: IntGauge,
    cpu: Counter,
    start_time: Gauge,
    threads: IntGauge,
    buf: Mutex<String>,
}

impl ProcessMetrics {
    pub fn register(registry: &Registry) -> Self {
        let int = |name: &str, help: &str| IntGauge::new(name, help).expect("valid metric name");
        let m = Self {
            open_fds: int("process_open_fds", "Number of open file descriptors."),
            max_fds: int(
                "process_max_fds",
                "Maximum number of open file descriptors.",
            ),
            resident: int(
                "process_resident_memory_bytes",
                "Resident memory size in bytes.",
            ),
            virtual_memory: int(
                "process_virtual_memory_bytes",
                "Virtual memory size in bytes.",
            ),
            cpu: Counter::new(
                "process_cpu_seconds_total",
                "Total user and system CPU time spent in seconds.",
            )
            .expect("valid metric name"),
            start_time: Gauge::new(
                "process_start_time_seconds",
                "Start time of the process since unix epoch in seconds.",
            )
            .expect("valid metric name"),
            threads: int("process_threads", "Number of OS threads in the process."),
            buf: Mutex::new(String::with_capacity(4096)),
        };
        let collectors: Vec<Box<dyn Collector>> = vec![
            Box::new(m.open_fds.clone()),
            Box::new(m.max_fds.clone()),
            Box::new(m.resident.clone()),
            Box::new(m.virtual_memory.clone()),
            Box::new(m.cpu.clone()),
            Box::new(m.start_time.clone()),
            Box::new(m.threads.clone()),
        ];
        for c in collectors {
            registry.register(c).expect("metric names are unique");
        }
        m
    }

    /// Reads `/proc/self` now. A file that cannot be read leaves its
    /// gauges as they were.
    pub fn refresh(&self) {
        if let Ok(dir) = std::fs::read_dir("/proc/self/fd") {
            // The directory's own descriptor is one of the entries.
            self.open_fds.set(dir.count().saturating_sub(1) as i64);
        }
        let Ok(mut buf) = self.buf.lock() else {
            return;
        };
        if read(&mut buf, "/proc/self/limits")
            && let Some(soft) = buf
                .lines()
                .find(|l| l.starts_with("Max open files"))
                .and_then(|l| l["Max open files".len()..].split_whitespace().next())
                .and_then(|v| v.parse::<i64>().ok())
        {
            self.max_fds.set(soft);
        }
        if read(&mut buf, "/proc/self/stat") {
            self.read_stat(&buf);
        }
    }

    /// `/proc/self/stat`: fields after the command name (which is in
    /// parentheses and may hold spaces), numbered as in proc(5) from 3.
    fn read_stat(&self, stat: &str) {
        let Some((_, rest)) = stat.rsplit_once(')') else {
            return;
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let field = |n: usize| fields.get(n - 3).and_then(|v| v.parse::<u64>().ok());
        let tick = clock_ticks();
        if let (Some(utime), Some(stime)) = (field(14), field(15)) {
            let total = (utime + stime) as f64 / tick;
            let delta = total - self.cpu.get();
            if delta > 0.0 {
                self.cpu.inc_by(delta);
            }
        }
        if let Some(n) = field(20) {
            self.threads.set(n as i64);
        }
        if let Some(bytes) = field(23) {
            self.virtual_memory.set(bytes as i64);
        }
        if let Some(pages) = field(24) {
            self.resident.set(pages as i64 * page_size());
        }
        if self.start_time.get() == 0.0
            && let (Some(start), Some(boot)) = (field(22), boot_time())
        {
            self.start_time.set(boot as f64 + start as f64 / tick);
        }
    }
}

fn read(buf: &mut String, path: &str) -> bool {
    buf.clear();
    std::fs::File::open(path)
        .and_then(|mut f| f.read_to_string(buf))
        .is_ok()
}

fn clock_ticks() -> f64 {
    // SAFETY: sysconf only reads a configuration value.
    let n = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if n > 0 { n as f64 } else { 100.0 }
}

fn page_size() -> i64 {
    // SAFETY: sysconf only reads a configuration value.
    let n = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if n > 0 { n as i64 } else { 4096 }
}

/// Seconds since the epoch at boot (`btime` of `/proc/stat`).
fn boot_time() -> Option<u64> {
    std::fs::read_to_string("/proc/stat")
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("btime "))
        .and_then(|v| v.trim().parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_this_process() {
        let registry = Registry::new();
        let m = ProcessMetrics::register(&registry);
        m.refresh();
        assert!(m.open_fds.get() >= 3);
        assert!(m.max_fds.get() >= m.open_fds.get());
        assert!(m.resident.get() > 0);
        assert!(m.virtual_memory.get() >= m.resident.get());
        assert!(m.threads.get() >= 1);
        assert!(m.start_time.get() > 1.7e9);
    }

    #[test]
    fn a_command_name_with_spaces_and_parentheses_is_skipped() {
        let registry = Registry::new();
        let m = ProcessMetrics::register(&registry);
        let stat = "42 (a (b) c) S 1 2 3 4 5 6 7 8 9 10 250 150 0 0 20 0 7 0 100 123456 10 rest";
        m.read_stat(stat);
        assert_eq!(m.threads.get(), 7);
        assert_eq!(m.virtual_memory.get(), 123456);
        assert_eq!(m.resident.get(), 10 * page_size());
        assert!((m.cpu.get() - 400.0 / clock_ticks()).abs() < 1e-9);
    }
}
