//! alerthub-reference: a minimal in-memory server of alerthub's wire
//! contract, built beside the load tool so that every figure can be read
//! as a ratio to what this machine can do at all. No storage, no Redis, no
//! read state: the WebSocket session (JWT check, greeting, `since` replay
//! from memory, `ping`/`pong`, a WebSocket Ping every 15 s and a close
//! after 45 s of silence), the two trigger endpoints with the service key
//! (ids, idempotency, push to the user's open sockets), and `/health` with
//! `connections`.
//!
//! Configured like alerthub, so the load tool starts either the same way:
//! `ALERTHUB_BIND` (loopback only), `ALERTHUB_JWT_SECRET`,
//! `ALERTHUB_SERVICE_KEYS`, `ALERTHUB_JWT_USER_CLAIM`; the other variables
//! alerthub reads (DATABASE_URL, ...) are ignored. An optional `serve`
//! argument is accepted and ignored.

mod alerts;
mod auth;
mod http;
mod outbox;
mod session;
mod store;

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use clap::Parser;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpSocket;

/// The allocator alerthub uses, so that memory figures compare the
/// servers' own structures rather than two allocators.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug, Parser)]
#[command(
    name = "alerthub-reference",
    version,
    about = "A minimal in-memory server of alerthub's wire contract, the load tool's yardstick."
)]
struct Args {
    /// Ignored (alerthub's subcommand, so both start alike).
    #[arg(value_parser = ["serve"])]
    command: Option<String>,
    /// Listen address; loopback only.
    #[arg(long, env = "ALERTHUB_BIND", default_value = "127.0.0.1:8000")]
    bind: SocketAddr,
    #[arg(long, env = "ALERTHUB_JWT_SECRET", hide_env_values = true)]
    jwt_secret: String,
    /// Comma-separated service keys for the trigger.
    #[arg(
        long,
        env = "ALERTHUB_SERVICE_KEYS",
        hide_env_values = true,
        value_delimiter = ','
    )]
    service_keys: Vec<String>,
    #[arg(long, env = "ALERTHUB_JWT_USER_CLAIM", default_value = "user_id")]
    user_claim: String,
}

fn main() -> ExitCode {
    let args = Args::parse();
    if !args.bind.ip().is_loopback() {
        eprintln!(
            "alerthub-reference: {} is not a loopback address",
            args.bind
        );
        return ExitCode::FAILURE;
    }
    let verifier = match auth::Verifier::new(&args.jwt_secret, &args.user_claim) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("alerthub-reference: {e}");
            return ExitCode::FAILURE;
        }
    };
    let (beat_tx, beat) = tokio::sync::watch::channel(());
    let app = Arc::new(http::App {
        store: Arc::default(),
        beat,
        verifier,
        service_keys: args
            .service_keys
            .into_iter()
            .filter(|k| !k.is_empty())
            .collect(),
        started: Instant::now(),
    });
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("alerthub-reference: {e}");
            return ExitCode::FAILURE;
        }
    };
    rt.spawn(session::heartbeat(beat_tx));
    match rt.block_on(serve(args.bind, app)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("alerthub-reference: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Accepts connections until SIGTERM or SIGINT.
async fn serve(bind: SocketAddr, app: Arc<http::App>) -> std::io::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    // The same accept backlog as alerthub's (`src/startup/server.rs`):
    // tokio's `bind` asks for 1,024, and a handshake step that found the
    // queue full timed a dropped SYN's 1 s retransmit, not the server.
    let socket = if bind.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(bind)?;
    let listener = socket.listen(4096)?;
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    loop {
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                // Out of descriptors and the like: keep serving the others.
                Err(_) => {
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                    continue;
                }
            },
            _ = term.recv() => return Ok(()),
            _ = int.recv() => return Ok(()),
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| http::handle(app.clone(), req));
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .with_upgrades()
                .await;
        });
    }
}
