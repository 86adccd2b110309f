//! The command line of the contract, section 4: serve, migrate, tokens and
//! the test alert (the old `manage.py test_breach_alert`).

pub mod args;

use serde_json::{Value, json};

use self::args::{Cli, Command, TokenCommand};
use crate::auth::mint_jwt;
use crate::config::secrets::{Secrets, SecretsError};
use crate::config::{ConfigError, Settings};
use crate::models::UserId;
use crate::models::domain::Severity;
use crate::startup::{Application, StartupError};
use crate::storage::{self, DatabaseUrl, DbConn, StorageError};

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Startup(#[from] StartupError),
    #[error(transparent)]
    Secrets(#[from] SecretsError),
    #[error("database {url}: {source}")]
    Storage { url: String, source: StorageError },
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("the server at {url} did not answer: {reason}")]
    Request { url: String, reason: String },
    #[error("the server at {url} refused the test alert: {why}")]
    Refused { url: String, why: String },
}

pub fn run(cli: Cli) -> Result<(), CliError> {
    let settings = Settings::from_options(&cli.options)?;
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(settings),
        Command::Migrate => {
            open(&settings)?;
            println!("migrations applied to {}", settings.database.redacted());
            Ok(())
        }
        Command::Token(TokenCommand::Create { user_id }) => {
            let user = parse_user(&user_id)?;
            let mut conn = open(&settings)?;
            let token = storage::create_token(&mut conn, user.as_str())
                .map_err(|e| storage_error(&settings, e))?;
            println!("{token}");
            Ok(())
        }
        Command::Token(TokenCommand::Revoke { token, url }) => {
            let mut conn = open(&settings)?;
            if storage::revoke_token(&mut conn, token.trim())
                .map_err(|e| storage_error(&settings, e))?
            {
                eprintln!("token revoked");
                close_sessions_of(&settings, &mut conn, token.trim(), url);
                Ok(())
            } else {
                Err(CliError::Usage("no live token matches".into()))
            }
        }
        Command::Token(TokenCommand::Jwt { user_id, ttl }) => {
            let user = parse_user(&user_id)?;
            let mut conn = open(&settings)?;
            let secrets = Secrets::resolve(&settings, &mut conn)?;
            let secret = secrets.jwt_secret.ok_or_else(|| {
                CliError::Usage("token jwt needs an HS256 secret (ALERTHUB_JWT_SECRET); only a public key is set".into())
            })?;
            let token = mint_jwt(&secret, &settings.jwt_user_claim, &user, ttl.as_secs())
                .map_err(|e| CliError::Usage(e.to_string()))?;
            println!("{token}");
            Ok(())
        }
        Command::SendTestAlert {
            user_id,
            severity,
            url,
        } => send_test_alert(&settings, &user_id, &severity, url),
    }
}

fn parse_user(raw: &str) -> Result<UserId, CliError> {
    UserId::parse(raw).map_err(|e| CliError::Usage(format!("user id {raw:?} {e}")))
}

fn storage_error(settings: &Settings, source: StorageError) -> CliError {
    CliError::Storage {
        url: settings.database.redacted(),
        source,
    }
}

/// Connects (applying migrations) and returns one connection.
fn open(settings: &Settings) -> Result<DbConn, CliError> {
    let pool = storage::connect(&settings.database, &settings.pool)
        .map_err(|e| storage_error(settings, e))?;
    pool.get().map_err(|e| storage_error(settings, e.into()))
}

fn serve(settings: Settings) -> Result<(), CliError> {
    actix_web::rt::System::new().block_on(async move {
        let app = Application::build(settings).await?;
        app.run_until_stopped().await?;
        Ok(())
    })
}

/// The token is revoked in the database, which every node reads; the
/// running server is asked to close the sessions the token opened, on every
/// node. If no server answers, no session can be open on it: that is said,
/// not failed.
fn close_sessions_of(settings: &Settings, conn: &mut DbConn, token: &str, url: Option<String>) {
    let key = Secrets::resolve(settings, conn)
        .ok()
        .and_then(|s| s.service_keys.first().cloned())
        .unwrap_or_default();
    let base = url.unwrap_or_else(|| format!("http://{}", settings.bind));
    let endpoint = format!("{}/api/v1/tokens/revoke", base.trim_end_matches('/'));
    let asked = actix_web::rt::System::new().block_on(async {
        awc::Client::builder()
            .timeout(std::time::Duration::from_secs(5))
            .finish()
            .post(&endpoint)
            .bearer_auth(&key)
            .send_json(&json!({ "token": token }))
            .await
            .map(|r| r.status())
    });
    match asked {
        Ok(status) if status.is_success() => eprintln!("its sessions were closed"),
        Ok(status) => eprintln!(
            "the server at {base} answered HTTP {status}: sessions it opened were not closed"
        ),
        Err(e) => eprintln!("no server answered at {base} ({e}); no session was closed"),
    }
}

fn send_test_alert(
    settings: &Settings,
    user_id: &str,
    severity: &str,
    url: Option<String>,
) -> Result<(), CliError> {
    let user = parse_user(user_id)?;
    let severity =
        Severity::parse(severity).map_err(|e| CliError::Usage(format!("--severity {e}")))?;
    let key = match settings.service_keys.first() {
        Some(key) => key.clone(),
        None => development_service_key(settings)?,
    };
    let base = url.unwrap_or_else(|| format!("http://{}", settings.bind));
    let endpoint = format!("{}/api/v1/alerts", base.trim_end_matches('/'));
    let now = chrono::Utc::now();
    let body = json!({
        "user_id": user.as_str(),
        "breach_id": format!("TEST_{}", now.timestamp_micros()),
        "title": "Test breach alert",
        "severity": severity.as_str(),
        "confidence": 0.95,
        "description": "A test alert sent by alerthub send-test-alert.",
        "source": "alerthub-cli",
    });
    let request_error = |reason: String| CliError::Request {
        url: endpoint.clone(),
        reason,
    };
    let (status, answer) = actix_web::rt::System::new().block_on(async {
        let mut response = awc::Client::new()
            .post(&endpoint)
            .bearer_auth(&key)
            .send_json(&body)
            .await
            .map_err(|e| request_error(e.to_string()))?;
        let bytes = response
            .body()
            .await
            .map_err(|e| request_error(e.to_string()))?;
        let answer: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Ok::<_, CliError>((response.status(), answer))
    })?;
    if status.is_success() {
        println!(
            "{}",
            serde_json::to_string_pretty(&answer).unwrap_or_default()
        );
        return Ok(());
    }
    let why = match status.as_u16() {
        401 => "HTTP 401: it does not accept this service key. Use one of the server's \
                ALERTHUB_SERVICE_KEYS, or for a development server (which generated its key) \
                run this with the server's DATABASE_URL and no ALERTHUB_SERVICE_KEYS"
            .to_owned(),
        _ => match answer["error"]["message"].as_str() {
            Some(message) => format!("HTTP {status}: {message}"),
            None => format!("HTTP {status}"),
        },
    };
    Err(CliError::Refused { url: endpoint, why })
}

/// The key a development server generated and keeps in its database, read
/// without creating anything: a database that does not exist, or holds no
/// key, is not the server's.
fn development_service_key(settings: &Settings) -> Result<String, CliError> {
    let no_key = |why: String| {
        CliError::Usage(format!(
            "no service key: set ALERTHUB_SERVICE_KEYS to one of the server's keys, or \
             DATABASE_URL to the database of a development server, which keeps the key it \
             generated there ({why})"
        ))
    };
    let url = settings.database.redacted();
    if let DatabaseUrl::Sqlite(path) = &settings.database
        && !std::path::Path::new(path).exists()
    {
        return Err(no_key(format!("{url} does not exist")));
    }
    let mut conn = open(settings)?;
    Secrets::stored_service_key(&mut conn)
        .map_err(|e| storage_error(settings, e))?
        .ok_or_else(|| no_key(format!("{url} holds no generated key")))
}
