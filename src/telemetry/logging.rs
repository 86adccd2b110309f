//! The process's logger: env_logger (`RUST_LOG`, default `info`), behind a
//! filter that keeps peers' garbage out of the ERROR level.
//!
//! actix-http answers a request it cannot parse (a bad request line, an
//! invalid header or `Content-Length`, a head too large) with an empty
//! 400/431 of its own and then logs `stream error: …` at ERROR through
//! tracing's `log` bridge, target `actix_http::h1::dispatcher`. Anyone can
//! send such bytes without a credential, so at ERROR they would flood the
//! log and drown real errors. `PeerErrorsAsDebug` passes those records on
//! at DEBUG instead; every other record, including the dispatcher's other
//! ERROR lines (a failing response body, an upgrade handler error: our
//! side's faults), is passed on unchanged.

use log::{Level, Log, Metadata, Record};

/// The target actix-http's HTTP/1 dispatcher logs under.
pub const DISPATCHER_TARGET: &str = "actix_http::h1::dispatcher";

/// Installs env_logger behind `PeerErrorsAsDebug`. Call once, first thing.
pub fn init() {
    let inner =
        env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).build();
    let max = inner.filter();
    if log::set_boxed_logger(Box::new(PeerErrorsAsDebug::new(inner))).is_ok() {
        log::set_max_level(max);
    }
}

/// Passes every record to `inner`, except that the dispatcher's ERROR
/// records about a peer's stream arrive at DEBUG.
pub struct PeerErrorsAsDebug<L> {
    inner: L,
}

impl<L: Log> PeerErrorsAsDebug<L> {
    pub fn new(inner: L) -> Self {
        Self { inner }
    }
}

/// A record actix-http writes when a peer's bytes could not be served:
/// `stream error: <parse error | I/O error | head too large>`.
fn is_peer_stream_error(record: &Record<'_>) -> bool {
    record.level() == Level::Error
        && record.target() == DISPATCHER_TARGET
        && match record.args().as_str() {
            Some(text) => text.starts_with("stream error:"),
            None => record.args().to_string().starts_with("stream error:"),
        }
}

impl<L: Log> Log for PeerErrorsAsDebug<L> {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        // The message is not known yet: say what `inner` says, and demote
        // in `log`, which checks again.
        self.inner.enabled(metadata)
    }

    fn log(&self, record: &Record<'_>) {
        if !is_peer_stream_error(record) {
            self.inner.log(record);
            return;
        }
        let demoted = Record::builder()
            .args(*record.args())
            .level(Level::Debug)
            .target(record.target())
            .module_path(record.module_path())
            .file(record.file())
            .line(record.line())
            .build();
        if self.inner.enabled(demoted.metadata()) {
            self.inner.log(&demoted);
        }
    }

    fn flush(&self) {
        self.inner.flush();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    /// Keeps what reaches it, at up to `max`.
    struct Capture {
        max: Level,
        seen: Mutex<Vec<(Level, String, String)>>,
    }

    impl Log for Capture {
        fn enabled(&self, metadata: &Metadata<'_>) -> bool {
            metadata.level() <= self.max
        }

        fn log(&self, record: &Record<'_>) {
            if self.enabled(record.metadata()) {
                self.seen.lock().unwrap().push((
                    record.level(),
                    record.target().to_owned(),
                    record.args().to_string(),
                ));
            }
        }

        fn flush(&self) {}
    }

    fn logger(max: Level) -> PeerErrorsAsDebug<Capture> {
        PeerErrorsAsDebug::new(Capture {
            max,
            seen: Mutex::new(Vec::new()),
        })
    }

    fn send(logger: &PeerErrorsAsDebug<Capture>, level: Level, target: &str, text: &str) {
        logger.log(
            &Record::builder()
                .args(format_args!("{text}"))
                .level(level)
                .target(target)
                .build(),
        );
    }

    fn seen(logger: &PeerErrorsAsDebug<Capture>) -> Vec<(Level, String, String)> {
        logger.inner.seen.lock().unwrap().clone()
    }

    #[test]
    fn a_peers_stream_error_arrives_at_debug() {
        let l = logger(Level::Debug);
        let parse = "stream error: request parse error: invalid Header provided";
        send(&l, Level::Error, DISPATCHER_TARGET, parse);
        assert_eq!(
            seen(&l),
            [(Level::Debug, DISPATCHER_TARGET.to_owned(), parse.to_owned())]
        );
        // At the default level (info) it is not shown at all.
        let l = logger(Level::Info);
        send(&l, Level::Error, DISPATCHER_TARGET, parse);
        assert!(seen(&l).is_empty());
    }

    #[test]
    fn everything_else_passes_unchanged() {
        let l = logger(Level::Info);
        let cases = [
            // Our side's faults, from the same target, stay errors.
            (
                Level::Error,
                DISPATCHER_TARGET,
                "Upgrade handler error: boom",
            ),
            (
                Level::Error,
                DISPATCHER_TARGET,
                "Response payload stream error: x",
            ),
            // The same words from another target are not actix-http's.
            (Level::Error, "alerthub::storage", "stream error: disk"),
            (Level::Warn, DISPATCHER_TARGET, "stream error: x"),
            (Level::Info, "alerthub::startup", "listening"),
        ];
        for (level, target, text) in cases {
            send(&l, level, target, text);
        }
        let expected: Vec<_> = cases
            .iter()
            .map(|(level, target, text)| (*level, (*target).to_owned(), (*text).to_owned()))
            .collect();
        assert_eq!(seen(&l), expected);
    }

    #[test]
    fn enabled_defers_to_the_inner_logger() {
        let l = logger(Level::Info);
        let meta = |level| {
            Metadata::builder()
                .level(level)
                .target(DISPATCHER_TARGET)
                .build()
        };
        assert!(l.enabled(&meta(Level::Error)));
        assert!(!l.enabled(&meta(Level::Debug)));
    }
}
