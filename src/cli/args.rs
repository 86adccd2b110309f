//! The command line's grammar: the commands of the contract (§4), with the
//! operator settings (`config::Options`) as global flags.

use std::time::Duration;

use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};

use crate::config::options::Options;

#[derive(Debug, Parser)]
#[command(
    name = "alerthub",
    version,
    about = "Real-time security alerts over WebSocket"
)]
pub struct Cli {
    #[command(flatten)]
    pub options: Options,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (applies migrations first). The default command.
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Trigger a test alert through the running server, so live sessions see it.
    SendTestAlert {
        user_id: String,
        #[arg(long, default_value = "HIGH")]
        severity: String,
        /// Base URL of the running server; defaults to http://ALERTHUB_BIND.
        #[arg(long)]
        url: Option<String>,
    },
    /// Manage user tokens.
    #[command(subcommand)]
    Token(TokenCommand),
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create an opaque API token for a user and print it alone on stdout.
    Create { user_id: String },
    /// Revoke an opaque API token, then ask the running server to close
    /// the sessions it opened (contract §5).
    Revoke {
        token: String,
        /// Base URL of the running server; defaults to http://ALERTHUB_BIND.
        #[arg(long)]
        url: Option<String>,
    },
    /// Print a JWT signed with the configured HS256 secret.
    Jwt {
        user_id: String,
        /// Lifetime, e.g. 30m, 1h, 7d.
        #[arg(long, default_value = "1h", value_parser = parse_ttl)]
        ttl: Duration,
    },
}

/// The settings each command reads (by argument id). The operator settings
/// are global flags, so every command accepts all of them; a command's
/// `--help` shows only these. `serve` (and no command) reads them all.
const USED: &[(&[&str], &[&str])] = &[
    (&["migrate"], &["database_url", "db_timeout_secs"]),
    (
        &["send-test-alert"],
        &["bind", "database_url", "db_timeout_secs", "service_keys"],
    ),
    (&["token"], &[]),
    (&["token", "create"], &["database_url", "db_timeout_secs"]),
    // Revoke also asks the running server (at --url, else ALERTHUB_BIND)
    // to close the token's sessions, with a service key.
    (
        &["token", "revoke"],
        &["bind", "database_url", "db_timeout_secs", "service_keys"],
    ),
    (
        &["token", "jwt"],
        &[
            "bind",
            "database_url",
            "db_timeout_secs",
            "dev",
            "jwt_secret",
            "jwt_public_key",
            "jwt_user_claim",
        ],
    ),
];

/// The command line, with each command's help trimmed to what it reads.
/// Each command of `USED` gets its own copy of every global setting flag,
/// hidden unless the command reads it: clap propagates a global flag only
/// to commands without a flag of that id, so the copies win, every flag is
/// still accepted everywhere (and still global), and only the used ones
/// are listed.
pub fn command() -> clap::Command {
    let settings: Vec<clap::Arg> = Options::augment_args(clap::Command::new("options"))
        .get_arguments()
        .cloned()
        .collect();
    let mut cmd = Cli::command();
    for (path, used) in USED {
        let own: Vec<clap::Arg> = settings
            .iter()
            .map(|a| a.clone().hide(!used.contains(&a.get_id().as_str())))
            .collect();
        cmd = hide_in(cmd, path, &own);
    }
    cmd
}

fn hide_in(cmd: clap::Command, path: &[&str], own: &[clap::Arg]) -> clap::Command {
    match path.split_first() {
        None => cmd.args(own.iter().cloned()),
        Some((name, rest)) => cmd.mut_subcommand(*name, |sub| hide_in(sub, rest, own)),
    }
}

/// Parses the process's arguments (exits with clap's message on an error).
pub fn parse() -> Cli {
    let matches = command().get_matches();
    Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit())
}

/// `30s`, `15m`, `1h`, `7d` or plain seconds.
pub fn parse_ttl(raw: &str) -> Result<Duration, String> {
    let raw = raw.trim();
    let (num, unit) = raw.split_at(raw.find(|c: char| !c.is_ascii_digit()).unwrap_or(raw.len()));
    let n: u64 = num
        .parse()
        .map_err(|_| format!("{raw:?} is not a duration such as 1h"))?;
    let secs = match unit {
        "" | "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        "d" => n * 86400,
        _ => return Err(format!("{raw:?}: unit must be s, m, h or d")),
    };
    Ok(Duration::from_secs(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttls_parse() {
        assert_eq!(parse_ttl("1h").unwrap(), Duration::from_secs(3600));
        assert_eq!(parse_ttl("90").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_ttl("2d").unwrap(), Duration::from_secs(172_800));
        assert!(parse_ttl("1y").is_err());
        assert!(parse_ttl("h").is_err());
    }
}
