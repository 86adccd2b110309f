//! Contract §4, the operator interface: the binary's commands, run as a
//! separate process the way an operator runs them, against real servers.

use tokio::process::Command;

use alerthub_test_support::process::{alerthub, free_port, serve};
use alerthub_test_support::*;

async fn run(cmd: &mut Command) -> (bool, String, String) {
    let out = cmd.output().await.expect("the binary runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

#[actix_web::test]
async fn help_lists_every_command() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, out, _) = run(alerthub(dir.path()).arg("--help")).await;
    assert!(ok);
    for command in ["serve", "migrate", "send-test-alert", "token"] {
        assert!(out.contains(command), "{command} missing from:\n{out}");
    }
    let (ok, out, _) = run(alerthub(dir.path()).args(["token", "--help"])).await;
    assert!(ok);
    for command in ["create", "revoke", "jwt"] {
        assert!(out.contains(command), "{command} missing from:\n{out}");
    }
}

/// The long flags a help text lists.
fn flags(help: &str) -> Vec<&str> {
    help.split_whitespace()
        .filter(|w| w.starts_with("--"))
        .filter(|w| *w != "--help" && *w != "--version")
        .collect()
}

#[actix_web::test]
async fn each_command_help_lists_only_the_options_it_uses() {
    let dir = tempfile::tempdir().unwrap();
    let help = |args: &'static [&'static str]| {
        let dir = dir.path().to_owned();
        async move {
            let (ok, out, err) = run(alerthub(&dir).args(args).arg("--help")).await;
            assert!(ok, "{err}");
            out
        }
    };
    let top = help(&[]).await;
    for flag in ["--redis-url", "--retention-days", "--jwt-secret", "--bind"] {
        assert!(flags(&top).contains(&flag), "{flag} missing from:\n{top}");
    }
    // The test-only unit is not advertised.
    assert!(!top.contains("retention-unit"), "{top}");
    let cases: [(&[&str], &[&str]); 6] = [
        (&["serve"], &[]),
        (&["migrate"], &["--database-url", "--db-timeout-secs"]),
        (
            &["send-test-alert"],
            &[
                "--bind",
                "--severity",
                "--database-url",
                "--url",
                "--service-keys",
                "--db-timeout-secs",
            ],
        ),
        (
            &["token", "create"],
            &["--database-url", "--db-timeout-secs"],
        ),
        (
            &["token", "revoke"],
            &[
                "--bind",
                "--url",
                "--database-url",
                "--service-keys",
                "--db-timeout-secs",
            ],
        ),
        (
            &["token", "jwt"],
            &[
                "--bind",
                "--ttl",
                "--database-url",
                "--jwt-secret",
                "--jwt-public-key",
                "--jwt-user-claim",
                "--db-timeout-secs",
                "--dev",
            ],
        ),
    ];
    for (command, expected) in cases {
        let out = help(command).await;
        let mut listed = flags(&out);
        listed.sort();
        if command == ["serve"] {
            // `serve` reads every setting.
            assert_eq!(
                listed,
                {
                    let mut t = flags(&top);
                    t.sort();
                    t
                },
                "{out}"
            );
            continue;
        }
        let mut expected = expected.to_vec();
        expected.sort();
        assert_eq!(
            listed,
            expected,
            "alerthub {} --help:\n{out}",
            command.join(" ")
        );
    }
    // Hidden flags are still accepted (they are global): no command breaks
    // on a setting it ignores.
    let (ok, _, err) =
        run(alerthub(dir.path()).args(["migrate", "--redis-url", "redis://127.0.0.1:9"])).await;
    assert!(ok, "{err}");
}

#[actix_web::test]
async fn migrate_creates_the_default_database_file() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, _, err) = run(alerthub(dir.path()).arg("migrate")).await;
    assert!(ok, "{err}");
    assert!(dir.path().join("alerthub.db").exists());
}

#[actix_web::test]
async fn token_create_prints_a_working_token_and_revoke_ends_it() {
    let app = spawn_app().await;
    let dir = tempfile::tempdir().unwrap();
    let db = [("DATABASE_URL", app.database_url.as_str())];
    let (ok, out, err) = run(alerthub(dir.path()).args(["token", "create", "3"]).envs(db)).await;
    assert!(ok, "{err}");
    assert_eq!(
        out.lines().count(),
        1,
        "the token is alone on stdout: {out:?}"
    );
    let token = out.trim();
    // `ahk_<64 hex>_<64 hex tag>`: see docs/protocol.md.
    let parts: Vec<&str> = token.split('_').collect();
    assert!(
        parts.len() == 3 && parts[0] == "ahk" && parts[1].len() == 64 && parts[2].len() == 64,
        "{token}"
    );
    let url = app.ws_url(&format!("/ws/breach-alerts/3/?token={token}"));
    WsClient::open(&url)
        .await
        .unwrap()
        .expect("connection_established")
        .await;
    let (status, body) = app
        .get_as("/api/v1/alerts/unread-count", &format!("Token {token}"))
        .await;
    assert_eq!((status, body["count"].as_i64()), (200, Some(0)));

    let (ok, _, err) = run(alerthub(dir.path())
        .args(["token", "revoke", token])
        .envs(db))
    .await;
    assert!(ok, "{err}");
    // The server learns of a revocation by another process within its
    // token cache's lifetime.
    outlast_token_cache().await;
    assert_eq!(close_of(&url).await.code, 4003);
    // Revoking again says so.
    let (ok, _, err) = run(alerthub(dir.path())
        .args(["token", "revoke", token])
        .envs(db))
    .await;
    assert!(!ok && err.contains("no live token"), "{err}");
}

#[actix_web::test]
async fn token_jwt_signs_with_the_configured_secret() {
    let app = spawn_app().await;
    let dir = tempfile::tempdir().unwrap();
    let (ok, out, err) = run(alerthub(dir.path())
        .args(["token", "jwt", "4", "--ttl", "1h"])
        .env("ALERTHUB_JWT_SECRET", JWT_SECRET))
    .await;
    assert!(ok, "{err}");
    let url = app.ws_url(&format!("/ws/breach-alerts/4/?token={}", out.trim()));
    WsClient::open(&url)
        .await
        .unwrap()
        .expect("connection_established")
        .await;
    let (ok, _, err) = run(alerthub(dir.path()).args(["token", "jwt", "4", "--ttl", "1y"])).await;
    assert!(!ok && err.contains("unit"), "{err}");
}

#[actix_web::test]
async fn send_test_alert_reaches_live_sessions() {
    let app = spawn_app().await;
    let mut ws = app.connect("5").await;
    let dir = tempfile::tempdir().unwrap();
    let (ok, out, err) = run(alerthub(dir.path())
        .args([
            "send-test-alert",
            "5",
            "--severity",
            "low",
            "--url",
            &app.address,
        ])
        .env("ALERTHUB_SERVICE_KEYS", SERVICE_KEY))
    .await;
    assert!(ok, "{err}");
    assert!(out.contains("\"created\": true"), "{out}");
    let alert = ws.expect("breach_alert").await;
    assert_eq!(alert["message"]["severity"], "LOW");
    // Plain text: a UI shows it as is, so no Markdown backticks.
    for field in ["title", "description", "source"] {
        let text = alert["message"][field].as_str().unwrap();
        assert!(!text.contains('`'), "{field}: {text}");
    }
    assert!(
        alert["message"]["breach_id"]
            .as_str()
            .unwrap()
            .starts_with("TEST_")
    );
    // ALERTHUB_BIND names the server when --url is not given.
    let (ok, _, err) = run(alerthub(dir.path())
        .args(["send-test-alert", "5"])
        .env("ALERTHUB_BIND", format!("127.0.0.1:{}", app.port))
        .env("ALERTHUB_SERVICE_KEYS", SERVICE_KEY))
    .await;
    assert!(ok, "{err}");
    assert_eq!(
        ws.expect("breach_alert").await["message"]["severity"],
        "HIGH"
    );
}

#[actix_web::test]
async fn a_newcomer_with_no_configuration_can_try_it_as_the_log_says() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let (mut server, log) = serve(dir.path(), port, &[]).await;
    let log = log.join("\n");
    assert!(log.contains("ALERTHUB_JWT_SECRET is not set"), "{log}");
    assert!(
        log.contains("token jwt 1") && log.contains("send-test-alert 1"),
        "{log}"
    );

    // Step 1: mint a token with the same (default) database.
    let (ok, token, err) = run(alerthub(dir.path()).args(["token", "jwt", "1"])).await;
    assert!(ok, "{err}");
    let mut ws = WsClient::open(&format!(
        "ws://127.0.0.1:{port}/ws/breach-alerts/1/?token={}",
        token.trim()
    ))
    .await
    .unwrap();
    ws.expect("connection_established").await;
    // Step 3: the test alert, with the generated service key.
    let (ok, _, err) = run(alerthub(dir.path())
        .args(["send-test-alert", "1"])
        .env("ALERTHUB_BIND", format!("127.0.0.1:{port}")))
    .await;
    assert!(ok, "{err}");
    assert_eq!(
        ws.expect("breach_alert").await["message"]["title"],
        "Test breach alert"
    );

    // SIGTERM closes every session with 1001 and the process exits cleanly.
    let pid = server.id().unwrap().to_string();
    assert!(
        std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    assert_eq!(ws.expect_close().await.code, 1001);
    let status = tokio::time::timeout(PATIENCE, server.wait())
        .await
        .expect("exits in time")
        .unwrap();
    assert!(status.success(), "{status}");
}

#[actix_web::test]
async fn outside_dev_mode_missing_secrets_are_a_clear_start_up_error() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, _, err) = run(alerthub(dir.path())
        .arg("serve")
        .env("ALERTHUB_BIND", "0.0.0.0:0"))
    .await;
    assert!(!ok);
    assert!(err.contains("ALERTHUB_JWT_SECRET is not set"), "{err}");
    let (ok, _, err) = run(alerthub(dir.path())
        .arg("serve")
        .env("ALERTHUB_BIND", "0.0.0.0:0")
        .env("ALERTHUB_JWT_SECRET", "x"))
    .await;
    assert!(!ok);
    assert!(err.contains("ALERTHUB_SERVICE_KEYS is not set"), "{err}");
    // A services listener off loopback is as exposed as the main one, and
    // the error names it.
    let (ok, _, err) = run(alerthub(dir.path())
        .arg("serve")
        .env("ALERTHUB_BIND", "127.0.0.1:0")
        .env("ALERTHUB_SERVICE_BIND", "0.0.0.0:0"))
    .await;
    assert!(!ok);
    assert!(
        err.contains("ALERTHUB_JWT_SECRET is not set") && err.contains("0.0.0.0:0"),
        "{err}"
    );
}

#[actix_web::test]
async fn alerthub_dev_allows_generated_secrets_off_loopback() {
    let dir = tempfile::tempdir().unwrap();
    // `token jwt` resolves secrets the way `serve` does, without listening.
    let off_loopback = [("ALERTHUB_BIND", "0.0.0.0:8000")];
    let (ok, _, err) = run(alerthub(dir.path())
        .args(["token", "jwt", "1"])
        .envs(off_loopback))
    .await;
    assert!(!ok && err.contains("ALERTHUB_DEV=1"), "{err}");
    for yes in ["1", "true", "yes", "on"] {
        let (ok, out, err) = run(alerthub(dir.path())
            .args(["token", "jwt", "1"])
            .envs(off_loopback)
            .env("ALERTHUB_DEV", yes))
        .await;
        assert!(
            ok && out.trim().split('.').count() == 3,
            "ALERTHUB_DEV={yes}: {err}"
        );
    }
    // What docs/deploy.md and deploy/alerthub.env.example say is off.
    for no in ["0", "false", "no", "off", "FALSE"] {
        let (ok, _, err) = run(alerthub(dir.path())
            .args(["token", "jwt", "1"])
            .envs(off_loopback)
            .env("ALERTHUB_DEV", no))
        .await;
        assert!(
            !ok && err.contains("is not set"),
            "ALERTHUB_DEV={no}: {err}"
        );
    }
    let (ok, _, err) = run(alerthub(dir.path())
        .args(["token", "jwt", "1"])
        .env("ALERTHUB_DEV", "maybe"))
    .await;
    assert!(!ok && err.contains("maybe"), "{err}");
}

#[actix_web::test]
async fn send_test_alert_says_what_is_wrong_and_creates_no_database() {
    let app = spawn_app().await;
    let dir = tempfile::tempdir().unwrap();
    // No key and no DATABASE_URL: the default database does not exist, and
    // is not created; the message says what to set.
    let (ok, _, err) =
        run(alerthub(dir.path()).args(["send-test-alert", "5", "--url", &app.address])).await;
    assert!(!ok);
    assert!(
        err.contains("no service key")
            && err.contains("ALERTHUB_SERVICE_KEYS")
            && err.contains("DATABASE_URL"),
        "{err}"
    );
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "send-test-alert left files behind"
    );
    // A key the server does not accept: a 401, said as such.
    let (ok, out, err) = run(alerthub(dir.path())
        .args(["send-test-alert", "5", "--url", &app.address])
        .env("ALERTHUB_SERVICE_KEYS", "not-the-servers-key"))
    .await;
    assert!(!ok && out.is_empty(), "{out}");
    assert!(
        err.contains("refused") && err.contains("401") && err.contains("service key"),
        "{err}"
    );
    assert!(!err.contains("did not answer"), "{err}");
    assert!(
        !err.contains("not-the-servers-key"),
        "the key leaked: {err}"
    );
    // Nothing listening: that one is "did not answer".
    let (ok, _, err) = run(alerthub(dir.path())
        .args([
            "send-test-alert",
            "5",
            "--url",
            &format!("http://127.0.0.1:{}", free_port()),
        ])
        .env("ALERTHUB_SERVICE_KEYS", SERVICE_KEY))
    .await;
    assert!(!ok && err.contains("did not answer"), "{err}");
}

#[actix_web::test]
async fn bad_database_urls_name_the_real_cause() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, _, err) = run(alerthub(dir.path())
        .arg("migrate")
        .env("DATABASE_URL", "mysql://x@y/z"))
    .await;
    assert!(!ok && err.contains("neither sqlite"), "{err}");
    let (ok, _, err) = run(alerthub(dir.path())
        .arg("migrate")
        .env("DATABASE_URL", "postgres://nobody@127.0.0.1:1/none"))
    .await;
    assert!(
        !ok && err.contains("cannot connect") && err.contains("127.0.0.1"),
        "{err}"
    );
    let (ok, _, err) = run(alerthub(dir.path())
        .arg("serve")
        .env("ALERTHUB_BIND", "not-an-address"))
    .await;
    assert!(!ok && err.contains("ALERTHUB_BIND"), "{err}");
}

#[actix_web::test]
async fn flags_override_environment_variables() {
    let app = spawn_app().await;
    let dir = tempfile::tempdir().unwrap();
    // The environment names a wrong key; the flag wins.
    let (ok, _, err) = run(alerthub(dir.path())
        .args([
            "send-test-alert",
            "6",
            "--url",
            &app.address,
            "--service-keys",
            SERVICE_KEY,
        ])
        .env("ALERTHUB_SERVICE_KEYS", "wrong"))
    .await;
    assert!(ok, "{err}");
}

#[actix_web::test]
async fn token_revoke_closes_the_open_sessions_of_the_token_at_once() {
    let app = spawn_app().await;
    let dir = tempfile::tempdir().unwrap();
    let env = [
        ("DATABASE_URL", app.database_url.as_str()),
        ("ALERTHUB_SERVICE_KEYS", SERVICE_KEY),
    ];
    let (ok, out, err) = run(alerthub(dir.path())
        .args(["token", "create", "31"])
        .envs(env))
    .await;
    assert!(ok, "{err}");
    let token = out.trim().to_owned();
    let url = app.ws_url(&format!("/ws/breach-alerts/31/?token={token}"));
    let mut ws = WsClient::open(&url).await.unwrap();
    ws.expect("connection_established").await;
    let mut other = app.connect("31").await;

    let (ok, _, err) = run(alerthub(dir.path())
        .args(["token", "revoke", &token, "--url", &app.address])
        .envs(env))
    .await;
    assert!(ok && err.contains("sessions were closed"), "{err}");
    // The server was told before the command returned: the close is on its way.
    let closed = tokio::time::timeout(std::time::Duration::from_secs(1), ws.expect_close())
        .await
        .expect("closed within 1 s");
    assert_eq!(
        closed,
        Closed {
            code: 4003,
            reason: "token revoked".into()
        }
    );
    other.assert_alive().await;
    assert!(!err.contains(&token), "the token is never echoed: {err}");
}
