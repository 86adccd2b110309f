//! Parsers for what the command line takes: loopback-only targets and
//! durations.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

/// `http://HOST:PORT[/]` with HOST in 127.0.0.0/8, `[::1]` or `localhost`.
/// Anything else is refused: this tool only loads the machine it runs on.
pub fn parse_target(raw: &str) -> Result<SocketAddr, String> {
    let rest = raw
        .strip_prefix("http://")
        .ok_or_else(|| format!("{raw:?}: the URL must start with http://"))?;
    let hostport = rest.trim_end_matches('/');
    if hostport.contains('/') {
        return Err(format!("{raw:?}: give the base URL only, without a path"));
    }
    let addr: SocketAddr = if let Some(port) = hostport.strip_prefix("localhost:") {
        let port: u16 = port
            .parse()
            .map_err(|_| format!("{raw:?}: bad port {port:?}"))?;
        SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port)
    } else {
        hostport
            .parse()
            .map_err(|_| format!("{raw:?}: expected http://127.0.0.1:PORT or http://[::1]:PORT"))?
    };
    if !is_loopback(addr.ip()) {
        return Err(format!(
            "{raw:?}: refusing a non-loopback target; this tool only loads 127.0.0.0/8 or ::1"
        ));
    }
    if addr.port() == 0 {
        return Err(format!("{raw:?}: port 0 is not a server"));
    }
    Ok(addr)
}

pub fn is_loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.octets()[0] == 127,
        IpAddr::V6(v6) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    }
}

/// `250ms`, `10s`, `2m`, or plain seconds (`1.5`).
pub fn parse_duration(raw: &str) -> Result<Duration, String> {
    let raw = raw.trim();
    let split = raw
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(raw.len());
    let (num, unit) = raw.split_at(split);
    let n: f64 = num
        .parse()
        .map_err(|_| format!("{raw:?} is not a duration such as 10s or 250ms"))?;
    let secs = match unit {
        "" | "s" => n,
        "ms" => n / 1000.0,
        "m" => n * 60.0,
        _ => return Err(format!("{raw:?}: unit must be ms, s or m")),
    };
    if !secs.is_finite() || !(0.0..=3600.0).contains(&secs) {
        return Err(format!("{raw:?}: must be between 0 and 1 hour"));
    }
    Ok(Duration::from_secs_f64(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_targets_are_accepted() {
        assert_eq!(
            parse_target("http://127.0.0.1:8000").unwrap(),
            "127.0.0.1:8000".parse().unwrap()
        );
        assert_eq!(
            parse_target("http://127.0.0.9:80/").unwrap(),
            "127.0.0.9:80".parse().unwrap()
        );
        assert_eq!(
            parse_target("http://localhost:9000").unwrap(),
            "127.0.0.1:9000".parse().unwrap()
        );
        assert_eq!(
            parse_target("http://[::1]:8000").unwrap(),
            "[::1]:8000".parse().unwrap()
        );
    }

    #[test]
    fn other_targets_are_refused() {
        for bad in [
            "http://10.0.0.1:8000",
            "http://192.168.1.2:8000",
            "http://0.0.0.0:8000",
            "http://[::]:8000",
            "http://[2001:db8::1]:8000",
            "http://example.com:8000",
            "https://127.0.0.1:8000",
            "127.0.0.1:8000",
            "http://127.0.0.1",
            "http://127.0.0.1:0",
            "http://127.0.0.1:8000/api",
        ] {
            assert!(parse_target(bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("10s").unwrap(), Duration::from_secs(10));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_duration("1.5").unwrap(), Duration::from_millis(1500));
        assert!(parse_duration("10h").is_err());
        assert!(parse_duration("s").is_err());
        assert!(parse_duration("2m30s").is_err());
        assert!(parse_duration("7200").is_err());
    }
}
