//! CPU and memory from /proc: the server's (by pid) and the tool's own.
//! They share the machine's cores, so every scenario reports both.

use std::fs;
use std::io;
use std::time::{Duration, Instant};

fn clock_ticks() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 { t as f64 } else { 100.0 }
}

/// utime + stime, in clock ticks, from the text of /proc/<pid>/stat.
/// The command name (field 2) may hold spaces and parentheses, so the
/// fields are counted from the last `)`.
pub fn parse_stat_ticks(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // rest[0] is field 3 (state); utime is field 14, stime field 15.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// CPU seconds (user + system) a process has used.
pub fn process_cpu(pid: u32) -> io::Result<f64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let ticks = parse_stat_ticks(&stat)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "unreadable /proc/pid/stat"))?;
    Ok(ticks as f64 / clock_ticks())
}

/// A `Key:   1234 kB` line of /proc/<pid>/status, in KiB.
pub fn parse_status_kib(status: &str, key: &str) -> Option<u64> {
    status.lines().find_map(|line| {
        let (k, v) = line.split_once(':')?;
        if k != key {
            return None;
        }
        v.split_whitespace().next()?.parse().ok()
    })
}

/// Resident memory of a process: VmRSS, RssAnon, RssFile (KiB).
#[derive(Debug, Clone, Copy, Default)]
pub struct Rss {
    pub total_kib: u64,
    pub anon_kib: u64,
    pub file_kib: u64,
    pub threads: u64,
}

pub fn process_rss(pid: u32) -> io::Result<Rss> {
    let s = fs::read_to_string(format!("/proc/{pid}/status"))?;
    Ok(Rss {
        total_kib: parse_status_kib(&s, "VmRSS").unwrap_or(0),
        anon_kib: parse_status_kib(&s, "RssAnon").unwrap_or(0),
        file_kib: parse_status_kib(&s, "RssFile").unwrap_or(0),
        threads: parse_status_kib(&s, "Threads").unwrap_or(0),
    })
}

/// Open file descriptors of a process.
pub fn fd_count(pid: u32) -> Option<usize> {
    Some(fs::read_dir(format!("/proc/{pid}/fd")).ok()?.count())
}

fn rusage(who: libc::c_int) -> f64 {
    // SAFETY: getrusage fills the struct we hand it.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(who, &mut ru) } != 0 {
        return 0.0;
    }
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

/// CPU seconds of this process's children that have exited and been
/// waited for (under `all`: the servers and the client processes).
pub fn children_cpu() -> f64 {
    rusage(libc::RUSAGE_CHILDREN)
}

/// The 1, 5 and 15 minute load averages, as /proc/loadavg gives them.
pub fn load_average() -> String {
    fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

/// CPU seconds of this process. (Not its children: under `all` the server
/// is one, and it is measured on its own; the idle scenario's client
/// processes report their own use.)
pub fn own_cpu() -> f64 {
    rusage(libc::RUSAGE_SELF)
}

/// The inode of the socket listening on `port`, from /proc/net/tcp(6) text.
pub fn parse_listen_inode(table: &str, port: u16) -> Option<u64> {
    table.lines().skip(1).find_map(|line| {
        let f: Vec<&str> = line.split_whitespace().collect();
        let local = f.get(1)?;
        let state = f.get(3)?;
        let (_, p) = local.rsplit_once(':')?;
        if *state != "0A" || u16::from_str_radix(p, 16).ok()? != port {
            return None;
        }
        f.get(9)?.parse().ok()
    })
}

/// The process listening on a local TCP port, found through its socket's
/// inode in /proc/*/fd. Needs permission to read other processes' fds.
pub fn find_listener_pid(port: u16) -> Option<u32> {
    let inode = ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .filter_map(|p| fs::read_to_string(p).ok())
        .find_map(|t| parse_listen_inode(&t, port))?;
    let needle = format!("socket:[{inode}]");
    for entry in fs::read_dir("/proc").ok()?.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(fds) = fs::read_dir(format!("/proc/{pid}/fd")) else {
            continue;
        };
        for fd in fds.flatten() {
            if fs::read_link(fd.path()).is_ok_and(|l| l.to_string_lossy() == needle) {
                return Some(pid);
            }
        }
    }
    None
}

/// Machine-wide CPU ticks from the first line of /proc/stat: time in
/// processes (user, nice, system), in interrupts (irq, softirq: on loopback
/// that is mostly the network stack carrying the test's own packets, which
/// no process's utime/stime includes), and stolen by the hypervisor.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MachineTicks {
    pub processes: u64,
    pub interrupts: u64,
    pub steal: u64,
}

pub fn parse_machine_ticks(stat: &str) -> Option<MachineTicks> {
    let line = stat.lines().next()?;
    let f: Vec<u64> = line
        .strip_prefix("cpu ")?
        .split_whitespace()
        .filter_map(|x| x.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal
    if f.len() < 8 {
        return None;
    }
    Some(MachineTicks {
        processes: f[0] + f[1] + f[2],
        interrupts: f[5] + f[6],
        steal: f[7],
    })
}

/// (processes, interrupts, steal) in CPU seconds, machine-wide.
pub fn machine_cpu() -> Option<(f64, f64, f64)> {
    let t = parse_machine_ticks(&fs::read_to_string("/proc/stat").ok()?)?;
    let hz = clock_ticks();
    Some((
        t.processes as f64 / hz,
        t.interrupts as f64 / hz,
        t.steal as f64 / hz,
    ))
}

/// Microseconds in which some task stalled on I/O (PSI), if the kernel tells.
pub fn parse_io_some_us(pressure: &str) -> Option<u64> {
    pressure
        .lines()
        .find(|l| l.starts_with("some "))?
        .split_whitespace()
        .find_map(|kv| kv.strip_prefix("total="))?
        .parse()
        .ok()
}

fn io_some_us() -> Option<u64> {
    parse_io_some_us(&fs::read_to_string("/proc/pressure/io").ok()?)
}

/// CPU used by the server and by the tool over one phase, and what the
/// rest of the machine did meanwhile (other processes share these cores
/// and this disk).
#[derive(Debug, Clone, Copy, Default)]
pub struct CpuUse {
    pub wall: Duration,
    /// CPU seconds; `None` when the server's pid is unknown.
    pub server: Option<f64>,
    pub tool: f64,
    /// CPU seconds of every other process on the machine (builds, tests,
    /// databases, kernel threads).
    pub others: Option<f64>,
    /// CPU seconds in interrupts and softirq (the loopback network stack).
    pub interrupts: Option<f64>,
    /// CPU seconds the hypervisor took away.
    pub steal: Option<f64>,
    /// Share of the wall time some task was stalled on I/O (PSI).
    pub io_stall: Option<f64>,
}

impl CpuUse {
    /// Average cores busy: CPU seconds over wall seconds.
    pub fn server_cores(&self) -> Option<f64> {
        let w = self.wall.as_secs_f64();
        self.server.filter(|_| w > 0.0).map(|s| s / w)
    }
    pub fn tool_cores(&self) -> f64 {
        let w = self.wall.as_secs_f64();
        if w > 0.0 { self.tool / w } else { 0.0 }
    }
    pub fn others_cores(&self) -> Option<f64> {
        let w = self.wall.as_secs_f64();
        self.others.filter(|_| w > 0.0).map(|o| (o / w).max(0.0))
    }
    pub fn describe(&self) -> String {
        let server = self
            .server_cores()
            .map_or("? (pid unknown)".into(), |s| format!("{s:.2} cores"));
        let others = self
            .others_cores()
            .map_or(String::new(), |o| format!(", other processes {o:.2} cores"));
        let io = self
            .io_stall
            .map_or(String::new(), |p| format!(", I/O stall {:.0}%", p * 100.0));
        let w = self.wall.as_secs_f64().max(1e-9);
        let irq = self
            .interrupts
            .map_or(String::new(), |i| format!(", softirq {:.2} cores", i / w));
        let steal = self
            .steal
            .filter(|s| *s / w >= 0.01)
            .map_or(String::new(), |s| format!(", steal {:.2} cores", s / w));
        format!(
            "server {server}, tool {:.2} cores{others}{irq}{steal}{io} (over {:.1} s)",
            self.tool_cores(),
            self.wall.as_secs_f64()
        )
    }
}

pub struct CpuMeter {
    pid: Option<u32>,
    start: Instant,
    server0: Option<f64>,
    tool0: f64,
    machine0: Option<(f64, f64, f64)>,
    io0: Option<u64>,
}

impl CpuMeter {
    pub fn start(pid: Option<u32>) -> Self {
        Self {
            pid,
            start: Instant::now(),
            server0: pid.and_then(|p| process_cpu(p).ok()),
            tool0: own_cpu(),
            machine0: machine_cpu(),
            io0: io_some_us(),
        }
    }

    pub fn finish(&self) -> CpuUse {
        let wall = self.start.elapsed();
        let server = match (self.pid, self.server0) {
            (Some(p), Some(s0)) => process_cpu(p).ok().map(|s| s - s0),
            _ => None,
        };
        let tool = own_cpu() - self.tool0;
        let machine = match (self.machine0, machine_cpu()) {
            (Some(m0), Some(m1)) => Some((m1.0 - m0.0, m1.1 - m0.1, m1.2 - m0.2)),
            _ => None,
        };
        let others = machine.map(|m| m.0 - tool - server.unwrap_or(0.0));
        let io_stall = match (self.io0, io_some_us()) {
            (Some(a), Some(b)) if wall > Duration::ZERO => {
                Some((b.saturating_sub(a) as f64 / 1e6 / wall.as_secs_f64()).min(1.0))
            }
            _ => None,
        };
        CpuUse {
            wall,
            server,
            tool,
            others,
            interrupts: machine.map(|m| m.1),
            steal: machine.map(|m| m.2),
            io_stall,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_lines_with_odd_names_parse() {
        let stat = "1234 (alert hub (x)) S 1 1234 1234 0 -1 4194560 1000 0 0 0 250 75 0 0 20 0 9 0 100 0 0";
        assert_eq!(parse_stat_ticks(stat), Some(325));
        assert_eq!(parse_stat_ticks("garbage"), None);
        assert_eq!(parse_stat_ticks("1 (x) S 1 2"), None);
    }

    #[test]
    fn own_stat_is_readable() {
        let me = std::process::id();
        assert!(process_cpu(me).unwrap() >= 0.0);
        let rss = process_rss(me).unwrap();
        assert!(rss.total_kib > 0 && rss.threads >= 1);
        assert!(fd_count(me).unwrap() >= 3);
    }

    #[test]
    fn status_lines_parse() {
        let s = "Name:\talerthub\nVmRSS:\t   12345 kB\nRssAnon:\t    9000 kB\nThreads:\t5\n";
        assert_eq!(parse_status_kib(s, "VmRSS"), Some(12345));
        assert_eq!(parse_status_kib(s, "RssAnon"), Some(9000));
        assert_eq!(parse_status_kib(s, "Threads"), Some(5));
        assert_eq!(parse_status_kib(s, "VmSwap"), None);
    }

    #[test]
    fn listening_sockets_are_found_by_port() {
        let table = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   0: 0100007F:1F40 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 55501 1 0000000000000000 100 0 0 10 0\n   1: 0100007F:1F40 0100007F:D431 01 00000000:00000000 00:00000000 00000000     0        0 55502 1 0000000000000000 100 0 0 10 0\n";
        assert_eq!(parse_listen_inode(table, 8000), Some(55501));
        assert_eq!(parse_listen_inode(table, 8001), None);
    }

    #[test]
    fn cpu_use_reports_cores() {
        let c = CpuUse {
            wall: Duration::from_secs(2),
            server: Some(3.0),
            tool: 1.0,
            others: Some(0.4),
            interrupts: Some(0.2),
            steal: Some(0.0),
            io_stall: Some(0.25),
        };
        assert_eq!(c.server_cores(), Some(1.5));
        assert_eq!(c.tool_cores(), 0.5);
        assert_eq!(c.others_cores(), Some(0.2));
        let d = c.describe();
        assert!(d.contains("server 1.50 cores"), "{d}");
        assert!(d.contains("other processes 0.20 cores"), "{d}");
        assert!(d.contains("I/O stall 25%"), "{d}");
        assert!(d.contains("softirq 0.10 cores"), "{d}");
        assert!(!d.contains("steal"), "{d}");
    }

    #[test]
    fn machine_and_pressure_lines_parse() {
        let stat = "cpu  100 5 50 1000 40 3 2 1 0 0\ncpu0 50 2 25 500 20 1 1 0 0 0\n";
        assert_eq!(
            parse_machine_ticks(stat),
            Some(MachineTicks {
                processes: 155,
                interrupts: 5,
                steal: 1
            })
        );
        assert_eq!(parse_machine_ticks("intr 1 2"), None);
        let psi = "some avg10=12.33 avg60=7.08 avg300=2.96 total=34878838\nfull avg10=8.50 avg60=4.37 avg300=1.54 total=16836943\n";
        assert_eq!(parse_io_some_us(psi), Some(34_878_838));
        assert_eq!(parse_io_some_us("garbage"), None);
    }
}
