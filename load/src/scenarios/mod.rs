//! The scenarios, one file each, and what they share: the context (target,
//! credentials, the server's pid) and the [`Scenario`] trait through which
//! the command line and `all` run any of them the same way. The sockets
//! they open and the alerts they trigger live in [`crate::fleet`] and
//! [`crate::trigger`].

pub mod cluster;
pub mod fanout;
pub mod handshakes;
pub mod idle;
pub mod reads;
pub mod reconnect;
pub mod replay;
pub mod throughput;

use std::net::SocketAddr;

use futures_util::future::BoxFuture;

use crate::cli::Target;
use crate::jwt::Minter;
use crate::procstat;
use crate::report::Row;

/// One load against one running server, with its sizes.
pub trait Scenario: Send + Sync {
    /// Its name in `all --only`.
    fn name(&self) -> &'static str;
    /// The figure and target of the row shown when it cannot run.
    fn figure(&self) -> (&'static str, &'static str);
    /// The database the server must use, when not a fresh SQLite file.
    fn database_url(&self) -> Option<&str> {
        None
    }
    /// Runs it; every phase is bounded in time.
    fn run<'a>(&'a self, ctx: &'a Ctx) -> BoxFuture<'a, Vec<Row>>;
}

#[derive(Clone)]
pub struct Ctx {
    pub addr: SocketAddr,
    /// Where triggers go: the server's services listener if it has one,
    /// else `addr`.
    pub service: SocketAddr,
    pub minter: Minter,
    pub service_auth: String,
    pub server_pid: Option<u32>,
    /// A short random tag: user ids and breach ids of this run are unique.
    pub run: String,
    pub jwt_secret: String,
    pub user_claim: String,
}

impl Ctx {
    pub fn new(
        addr: SocketAddr,
        jwt_secret: &str,
        user_claim: &str,
        service_key: &str,
        server_pid: Option<u32>,
    ) -> Result<Self, String> {
        let run = format!("{:06x}", rand::random::<u32>() & 0xff_ffff);
        Ok(Self {
            addr,
            service: addr,
            minter: Minter::new(jwt_secret, user_claim)?,
            service_auth: format!("Bearer {service_key}"),
            server_pid,
            run,
            jwt_secret: jwt_secret.to_owned(),
            user_claim: user_claim.to_owned(),
        })
    }

    pub fn from_target(t: &Target) -> Result<Self, String> {
        let pid = t
            .server_pid
            .or_else(|| procstat::find_listener_pid(t.url.port()));
        if pid.is_none() {
            eprintln!(
                "note: no process found listening on port {}; server CPU and RSS will not be reported (give --server-pid)",
                t.url.port()
            );
        }
        Self::new(t.url, &t.jwt_secret, &t.user_claim, &t.service_key, pid)
    }

    /// Triggers go to `service` (a listener with workers of its own).
    pub fn with_service(mut self, service: Option<SocketAddr>) -> Self {
        self.service = service.unwrap_or(self.addr);
        self
    }

    /// A user id unique to this run: `<tag><run>_<i>`.
    pub fn user(&self, tag: &str, i: usize) -> String {
        format!("{tag}{}_{i}", self.run)
    }
}
