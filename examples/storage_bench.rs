//! Storage benchmark: the unread count and a 100-alert replay with
//! 1,000,000 stored alerts for 10,000 users, on SQLite or PostgreSQL.
//!
//! ```sh
//! # SQLite, in a fresh file in a temporary folder:
//! cargo run --release --example storage_bench
//! # PostgreSQL: creates a fresh database on that server, drops it at the end:
//! cargo run --release --example storage_bench -- --database-url postgres://postgres@127.0.0.1:5432/test
//! ```
//!
//! What it does, in order:
//!
//! 1. Opens the database through `alerthub::storage::connect`, exactly as the
//!    server does, so the embedded migrations (tables and indexes) apply.
//! 2. Fills it with `--alerts` alerts spread at random over `--users` users,
//!    written through the server's own write path, `storage::insert_alerts`
//!    (`ON CONFLICT DO NOTHING … RETURNING`, per-user advisory locks on
//!    PostgreSQL), in transactions of `--batch` rows: 5,000 by default, the
//!    largest group the server's `AlertWriter` commits at once. The rows are
//!    `NewAlertRow`s, the shape the server stores. Users' alerts interleave
//!    in id order as they would in production, so one user's rows are spread
//!    over the whole table rather than packed together. Breach ids grow
//!    (`BREACH_0000001`, …) unless `--random-breach-ids` scrambles them.
//!    The fill prints the time taken so far every 100,000 alerts.
//! 3. Marks `--read-fraction` (70 %) of the alerts read, each alert picked
//!    independently, with `UPDATE … WHERE id IN (…)` in chunks of 10,000. This
//!    is a bulk path on purpose: `storage::mark_read` is one transaction (one
//!    fsync on SQLite) per alert, which would take longer than the whole fill,
//!    and the end state is the same — the rows were inserted unread, then
//!    updated, so PostgreSQL carries the same dead tuples and index entries.
//!    On PostgreSQL the benchmark then runs `VACUUM (ANALYZE) alerts`, which
//!    autovacuum does on its own after this many changes; SQLite gets no
//!    `ANALYZE`, because the server never runs one.
//! 4. Times `storage::unread_count` for `--samples` users drawn at random, and
//!    `storage::replay_since` with `max = 100` for as many users drawn among
//!    those with at least 100 alerts, with `since` chosen so that exactly 100
//!    alerts come back. Each call is timed alone on one connection held
//!    throughout (no pool check-out), after an untimed warm-up that fills
//!    diesel's prepared-statement cache. The two queries and a bare
//!    `SELECT 1` (`storage::ping`, the cost of a round trip alone) take turns,
//!    so noise from a busy machine shows in all three. Every answer is checked
//!    against what the benchmark wrote.
//! 5. Prints p50/p99/max in milliseconds, then the query plans of both queries
//!    as diesel generated them: the SQL is captured from diesel's own
//!    instrumentation while the real storage functions run, and explained with
//!    the same bind values (`EXPLAIN QUERY PLAN` on SQLite, a prepared
//!    statement and `EXPLAIN (ANALYZE, BUFFERS) EXECUTE` on PostgreSQL, once
//!    on the first execution and once after five more, when PostgreSQL may
//!    have switched to the generic plan that diesel's cached statement keeps).
//!
//! The target is under 5 ms per call for both queries.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use alerthub::models::NewAlertRow;
use alerthub::models::schema::alerts;
use alerthub::storage::{self, AnyConnection, DatabaseUrl, PoolOptions};
use chrono::{DateTime, NaiveDateTime};
use clap::Parser;
use diesel::connection::{Instrumentation, InstrumentationEvent, SimpleConnection};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Integer, Text};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// The unread count and a 100-alert replay over a million stored alerts.
#[derive(Debug, Parser)]
#[command(name = "storage_bench")]
struct Args {
    /// `postgres://…`: the server to use (a fresh database is created on it,
    /// named alerthub_bench_<pid>, and dropped at the end). `sqlite://PATH` or
    /// a path: a new SQLite file, removed at the end. Default: a SQLite file
    /// in a new temporary folder.
    #[arg(long)]
    database_url: Option<String>,
    /// Alerts to store.
    #[arg(long, default_value_t = 1_000_000)]
    alerts: usize,
    /// Users they are spread over (uniformly at random).
    #[arg(long, default_value_t = 10_000)]
    users: usize,
    /// Share of the alerts marked read after the fill.
    #[arg(long, default_value_t = 0.7)]
    read_fraction: f64,
    /// Alerts per `insert_alerts` transaction (the server commits at most 5,000).
    #[arg(long, default_value_t = 5_000)]
    batch: usize,
    /// Timed calls of each query, each for a random user.
    #[arg(long, default_value_t = 5_000)]
    samples: usize,
    /// Alerts a replay returns.
    #[arg(long, default_value_t = 100)]
    replay: usize,
    /// Seed of the random data and of the user draws.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Keep the database afterwards (its URL is printed).
    #[arg(long)]
    keep: bool,
    /// Breach ids with no order at all (a scrambled counter) instead of
    /// growing ones (`BREACH_0000001`, …): the worst case for the locality
    /// of the (breach_id, user_id) index.
    #[arg(long)]
    random_breach_ids: bool,
}

const TARGET_MS: f64 = 5.0;
const WARM_UP: usize = 200;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    if args.users == 0 || args.alerts == 0 || args.batch == 0 || args.samples == 0 {
        return Err("--alerts, --users, --batch and --samples must be positive".into());
    }
    if !(0.0..=1.0).contains(&args.read_fraction) {
        return Err("--read-fraction must be between 0 and 1".into());
    }
    let target = BenchDatabase::create(args.database_url.as_deref(), args.keep)?;
    let url = DatabaseUrl::parse(&target.url)?;
    let backend = if url.is_sqlite() {
        "sqlite"
    } else {
        "postgres"
    };
    eprintln!("database: {}", url.redacted());

    let pool = storage::connect(
        &url,
        &PoolOptions {
            max_size: 1,
            connect_timeout: Duration::from_secs(30),
        },
    )?;
    let mut pooled = pool.get()?;
    let conn: &mut AnyConnection = &mut pooled;
    let mut rng = StdRng::seed_from_u64(args.seed);

    let data = fill(conn, &args, &mut rng)?;

    let unread_users: Vec<usize> = (0..args.samples)
        .map(|_| rng.random_range(0..args.users))
        .collect();
    let replay_candidates: Vec<usize> = (0..args.users)
        .filter(|&u| data.ids[u].len() >= args.replay)
        .collect();
    if replay_candidates.is_empty() {
        return Err(format!("no user has {} alerts to replay", args.replay).into());
    }
    let replay_users: Vec<usize> = (0..args.samples)
        .map(|_| replay_candidates[rng.random_range(0..replay_candidates.len())])
        .collect();
    let max = args.replay as i64;

    // Warm-up, untimed: prepares and caches both statements.
    for &u in unread_users.iter().take(WARM_UP) {
        storage::unread_count(conn, &user_id(u))?;
    }
    for &u in replay_users.iter().take(WARM_UP) {
        storage::replay_since(conn, &user_id(u), data.since(u, args.replay), max)?;
    }

    // The three calls take turns, so background noise on a shared machine
    // hits them alike; `ping` (`SELECT 1`) shows what a bare round trip costs
    // in the same moments.
    eprintln!("timing {} calls of each query", args.samples);
    let mut unread_times = Vec::with_capacity(args.samples);
    let mut replay_times = Vec::with_capacity(args.samples);
    let mut ping_times = Vec::with_capacity(args.samples);
    for (&u, &r) in unread_users.iter().zip(&replay_users) {
        let user = user_id(u);
        let start = Instant::now();
        let n = storage::unread_count(conn, &user)?;
        unread_times.push(start.elapsed());
        if n != data.unread[u] {
            return Err(format!("unread_count({user}) = {n}, expected {}", data.unread[u]).into());
        }

        let user = user_id(r);
        let since = data.since(r, args.replay);
        let start = Instant::now();
        let (rows, truncated) = storage::replay_since(conn, &user, since, max)?;
        replay_times.push(start.elapsed());
        let expected = &data.ids[r][data.ids[r].len() - args.replay..];
        if truncated || rows.iter().map(|row| row.id).ne(expected.iter().copied()) {
            return Err(format!(
                "replay_since({user}, {since}) did not return the expected {max} alerts"
            )
            .into());
        }

        let start = Instant::now();
        storage::ping(conn)?;
        ping_times.push(start.elapsed());
    }

    println!();
    println!(
        "{} alerts, {} users, {:.0} % read, {} samples per query",
        args.alerts,
        args.users,
        args.read_fraction * 100.0,
        args.samples
    );
    println!(
        "| backend | query | p50 ms | p99 ms | max ms | calls of {TARGET_MS} ms or more | p50 and p99 under {TARGET_MS} ms |"
    );
    println!("|---|---|---:|---:|---:|---:|---|");
    let mut all_met = true;
    for (name, times) in [
        ("unread_count".to_string(), &mut unread_times),
        (
            format!("replay_since ({} alerts)", args.replay),
            &mut replay_times,
        ),
    ] {
        let s = Summary::of(times);
        let met = s.p50 < TARGET_MS && s.p99 < TARGET_MS;
        all_met &= met;
        println!(
            "| {backend} | {name} | {:.3} | {:.3} | {:.3} | {} of {} | {} |",
            s.p50,
            s.p99,
            s.max,
            s.slow,
            times.len(),
            if met { "yes" } else { "NO" }
        );
    }
    let s = Summary::of(&mut ping_times);
    println!(
        "| {backend} | round trip alone (`SELECT 1`), for scale | {:.3} | {:.3} | {:.3} | {} of {} | |",
        s.p50,
        s.p99,
        s.max,
        s.slow,
        ping_times.len()
    );

    // Query plans, from the SQL diesel generated for the real functions.
    let sample = unread_users[0];
    let unread_sql = captured_sql(conn, |c| {
        storage::unread_count(c, &user_id(sample)).map(drop)
    })?;
    let replay_user = replay_users[0];
    let since = data.since(replay_user, args.replay);
    let replay_sql = captured_sql(conn, |c| {
        storage::replay_since(c, &user_id(replay_user), since, max).map(drop)
    })?;
    println!();
    match conn {
        AnyConnection::Sqlite(c) => {
            println!("## unread_count (SQLite)\n\n{unread_sql}\n");
            let plan = diesel::sql_query(format!("EXPLAIN QUERY PLAN {unread_sql}"))
                .bind::<Text, _>(user_id(sample))
                .bind::<Bool, _>(false)
                .load::<SqlitePlanRow>(c)?;
            println!("{}", render_sqlite_plan(&plan));
            println!("## replay_since (SQLite)\n\n{replay_sql}\n");
            let plan = diesel::sql_query(format!("EXPLAIN QUERY PLAN {replay_sql}"))
                .bind::<Text, _>(user_id(replay_user))
                .bind::<BigInt, _>(since)
                .bind::<BigInt, _>(max + 1)
                .load::<SqlitePlanRow>(c)?;
            println!("{}", render_sqlite_plan(&plan));
        }
        AnyConnection::Postgresql(c) => {
            let unread_args = format!("'{}', false", user_id(sample));
            let replay_args = format!("'{}', {since}, {}", user_id(replay_user), max + 1);
            println!("## unread_count (PostgreSQL)\n\n{unread_sql}\n");
            explain_postgres(c, "bench_unread", &unread_sql, &unread_args)?;
            println!("## replay_since (PostgreSQL)\n\n{replay_sql}\n");
            explain_postgres(c, "bench_replay", &replay_sql, &replay_args)?;
        }
    }

    drop(pooled);
    drop(pool);
    if args.keep {
        eprintln!("kept: {}", target.url);
    }
    drop(target);
    if all_met {
        println!("target met: both queries under {TARGET_MS} ms at p50 and p99");
        Ok(())
    } else {
        Err(format!("target missed: a query took {TARGET_MS} ms or more at p50 or p99").into())
    }
}

fn user_id(u: usize) -> String {
    // Django-style numeric user ids.
    (100_000 + u).to_string()
}

/// What the benchmark wrote, to pick `since` and check every answer.
struct Written {
    /// Each user's alert ids, ascending.
    ids: Vec<Vec<i64>>,
    unread: Vec<i64>,
}

impl Written {
    /// The cursor after which exactly `n` of the user's alerts follow.
    fn since(&self, user: usize, n: usize) -> i64 {
        let ids = &self.ids[user];
        if ids.len() > n {
            ids[ids.len() - n - 1]
        } else {
            0
        }
    }
}

/// The `i`th alert's breach id: growing, or scrambled (multiplying by an
/// odd number is a bijection on u64, so the ids stay unique).
fn breach_id(i: usize, random: bool) -> String {
    if random {
        format!(
            "BREACH_{:016x}",
            (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
        )
    } else {
        format!("BREACH_{i:07}")
    }
}

fn fill(
    conn: &mut AnyConnection,
    args: &Args,
    rng: &mut StdRng,
) -> Result<Written, Box<dyn std::error::Error>> {
    const SEVERITIES: [&str; 4] = ["LOW", "MEDIUM", "HIGH", "CRITICAL"];
    const SOURCES: [&str; 3] = ["hibp", "dehashed", "internal-scan"];
    // 2025-01-01T00:00:00Z, one alert every 30 ms of simulated time.
    let start: NaiveDateTime = DateTime::from_timestamp(1_735_689_600, 0)
        .expect("valid timestamp")
        .naive_utc();
    let mut ids: Vec<Vec<i64>> = vec![Vec::new(); args.users];
    let mut to_mark: Vec<i64> = Vec::new();
    let mut unread = vec![0i64; args.users];

    eprintln!(
        "filling: {} alerts for {} users, {} per insert_alerts transaction, {} breach ids",
        args.alerts,
        args.users,
        args.batch,
        if args.random_breach_ids {
            "scrambled"
        } else {
            "growing"
        }
    );
    let began = Instant::now();
    let mut written = 0;
    while written < args.alerts {
        let n = args.batch.min(args.alerts - written);
        let rows: Vec<NewAlertRow> = (written..written + n)
            .map(|i| {
                let user = rng.random_range(0..args.users);
                let created_at = start + chrono::Duration::milliseconds(30 * i as i64);
                NewAlertRow {
                    user_id: user_id(user),
                    breach_id: breach_id(i, args.random_breach_ids),
                    title: format!("Your credentials appeared in breach #{i}"),
                    severity: SEVERITIES[rng.random_range(0..4)].to_owned(),
                    confidence: rng.random_range(0.5..1.0),
                    detected_at: created_at
                        - chrono::Duration::seconds(rng.random_range(0..86_400)),
                    description: rng.random_bool(0.6).then(|| {
                        "An email address and password hash of this account were found \
                         in a dump published on a paste site."
                            .to_owned()
                    }),
                    source: rng
                        .random_bool(0.8)
                        .then(|| SOURCES[rng.random_range(0..3)].to_owned()),
                    read: false,
                    created_at,
                    push_due_at: None,
                }
            })
            .collect();
        let stored = storage::insert_alerts(conn, &rows)?;
        for (row, created) in stored {
            assert!(created, "breach ids are unique, every alert is new");
            let user = (row.user_id.parse::<usize>()?) - 100_000;
            ids[user].push(row.id);
            if rng.random_bool(args.read_fraction) {
                to_mark.push(row.id);
            } else {
                unread[user] += 1;
            }
        }
        written += n;
        if written % 100_000 < n || written == args.alerts {
            eprintln!(
                "  {written} alerts stored, {:.1} s",
                began.elapsed().as_secs_f64()
            );
        }
    }
    let insert_secs = began.elapsed().as_secs_f64();
    for list in &mut ids {
        list.sort_unstable();
    }

    let began = Instant::now();
    to_mark.sort_unstable();
    for chunk in to_mark.chunks(10_000) {
        diesel::update(alerts::table)
            .filter(alerts::id.eq_any(chunk))
            .set(alerts::read.eq(true))
            .execute(conn)?;
    }
    let mark_secs = began.elapsed().as_secs_f64();
    let began = Instant::now();
    if let AnyConnection::Postgresql(c) = conn {
        c.batch_execute("VACUUM (ANALYZE) alerts")?;
    }
    eprintln!(
        "filled: insert {insert_secs:.1} s ({:.0} alerts/s), marked {} read in {mark_secs:.1} s, \
         vacuum {:.1} s",
        args.alerts as f64 / insert_secs,
        to_mark.len(),
        began.elapsed().as_secs_f64()
    );
    Ok(Written { ids, unread })
}

struct Summary {
    p50: f64,
    p99: f64,
    max: f64,
    /// Calls that took the target or longer.
    slow: usize,
}

impl Summary {
    /// Nearest-rank percentiles, in milliseconds.
    fn of(times: &mut [Duration]) -> Self {
        times.sort_unstable();
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        let rank = |p: f64| {
            let i = (p * times.len() as f64).ceil() as usize;
            times[i.clamp(1, times.len()) - 1]
        };
        Self {
            p50: ms(rank(0.50)),
            p99: ms(rank(0.99)),
            max: ms(*times.last().expect("at least one sample")),
            slow: times.iter().filter(|&&d| ms(d) >= TARGET_MS).count(),
        }
    }
}

/// Runs `f` with diesel's instrumentation on and returns the SQL of the last
/// query it sent, without its bind values.
fn captured_sql(
    conn: &mut AnyConnection,
    f: impl FnOnce(&mut AnyConnection) -> Result<(), storage::StorageError>,
) -> Result<String, Box<dyn std::error::Error>> {
    let last = Arc::new(Mutex::new(None::<String>));
    let sink = last.clone();
    conn.set_instrumentation(move |event: InstrumentationEvent<'_>| {
        if let InstrumentationEvent::StartQuery { query, .. } = event {
            *sink.lock().unwrap() = Some(query.to_string());
        }
    });
    let result = f(conn);
    conn.set_instrumentation(NoInstrumentation);
    result?;
    let text = last.lock().unwrap().take().ok_or("no query was captured")?;
    // diesel prints "SQL -- binds: [...]".
    Ok(match text.rsplit_once(" -- binds: ") {
        Some((sql, _)) => sql.to_owned(),
        None => text,
    })
}

struct NoInstrumentation;

impl Instrumentation for NoInstrumentation {
    fn on_connection_event(&mut self, _: InstrumentationEvent<'_>) {}
}

#[derive(QueryableByName)]
struct SqlitePlanRow {
    #[diesel(sql_type = Integer)]
    id: i32,
    #[diesel(sql_type = Integer)]
    parent: i32,
    #[diesel(sql_type = Text)]
    detail: String,
}

/// The tree the sqlite3 shell draws for `EXPLAIN QUERY PLAN`.
fn render_sqlite_plan(rows: &[SqlitePlanRow]) -> String {
    let mut out = String::from("QUERY PLAN\n");
    for row in rows {
        let mut depth = 0;
        let mut parent = row.parent;
        while parent != 0 {
            depth += 1;
            parent = rows.iter().find(|r| r.id == parent).map_or(0, |r| r.parent);
        }
        out.push_str(&"   ".repeat(depth));
        out.push_str("`--");
        out.push_str(&row.detail);
        out.push('\n');
    }
    out
}

#[derive(QueryableByName)]
struct PgPlanLine {
    #[diesel(sql_type = Text, column_name = "QUERY PLAN")]
    line: String,
}

/// Prepares `sql` as diesel does (a named statement), explains its first
/// execution, runs it five more times, and explains it again: from the sixth
/// execution on PostgreSQL may keep a generic plan, as it will for diesel's
/// cached statement in the server.
fn explain_postgres(
    c: &mut diesel::PgConnection,
    name: &str,
    sql: &str,
    args: &str,
) -> Result<(), Box<dyn std::error::Error>> {
    c.batch_execute(&format!("PREPARE {name} AS {sql}"))?;
    let explain = |c: &mut diesel::PgConnection| {
        diesel::sql_query(format!("EXPLAIN (ANALYZE, BUFFERS) EXECUTE {name}({args})"))
            .load::<PgPlanLine>(c)
            .map(|lines| {
                lines
                    .into_iter()
                    .map(|l| l.line)
                    .collect::<Vec<_>>()
                    .join("\n")
            })
    };
    println!("EXPLAIN (ANALYZE, BUFFERS) EXECUTE {name}({args})  -- first execution\n");
    println!("{}\n", explain(c)?);
    for _ in 0..5 {
        c.batch_execute(&format!("EXECUTE {name}({args})"))?;
    }
    println!("EXPLAIN (ANALYZE, BUFFERS) EXECUTE {name}({args})  -- seventh execution\n");
    println!("{}\n", explain(c)?);
    c.batch_execute(&format!("DEALLOCATE {name}"))?;
    Ok(())
}

/// A database made for one run and removed afterwards.
struct BenchDatabase {
    url: String,
    keep: bool,
    cleanup: Cleanup,
}

enum Cleanup {
    SqliteFile(PathBuf, Option<tempfile::TempDir>),
    PostgresDatabase { admin_url: String, name: String },
}

impl BenchDatabase {
    fn create(url: Option<&str>, keep: bool) -> Result<Self, Box<dyn std::error::Error>> {
        let Some(raw) = url else {
            let dir = tempfile::tempdir()?;
            let path = dir.path().join("bench.db");
            // With --keep the folder outlives the run.
            let dir = if keep {
                let _kept = dir.keep();
                None
            } else {
                Some(dir)
            };
            return Ok(Self {
                url: format!("sqlite://{}", path.display()),
                keep,
                cleanup: Cleanup::SqliteFile(path, dir),
            });
        };
        match DatabaseUrl::parse(raw)? {
            DatabaseUrl::Sqlite(path) => {
                let path = PathBuf::from(path);
                if path.exists() {
                    return Err(format!(
                        "{} exists; the benchmark wants a new file",
                        path.display()
                    )
                    .into());
                }
                Ok(Self {
                    url: format!("sqlite://{}", path.display()),
                    keep,
                    cleanup: Cleanup::SqliteFile(path, None),
                })
            }
            DatabaseUrl::Postgres(admin_url) => {
                let name = format!("alerthub_bench_{}", std::process::id());
                let mut admin = diesel::PgConnection::establish(&admin_url)
                    .map_err(|e| format!("cannot connect to {raw}: {e}"))?;
                diesel::sql_query(format!("CREATE DATABASE {name}")).execute(&mut admin)?;
                Ok(Self {
                    url: alerthub::storage::postgres_url_with_database(&admin_url, &name),
                    keep,
                    cleanup: Cleanup::PostgresDatabase { admin_url, name },
                })
            }
        }
    }
}

impl Drop for BenchDatabase {
    fn drop(&mut self) {
        if self.keep {
            return;
        }
        match &mut self.cleanup {
            Cleanup::SqliteFile(path, dir) => {
                for suffix in ["", "-wal", "-shm"] {
                    let mut p = path.clone().into_os_string();
                    p.push(suffix);
                    let _ = std::fs::remove_file(p);
                }
                drop(dir.take());
            }
            Cleanup::PostgresDatabase { admin_url, name } => {
                let dropped = diesel::PgConnection::establish(admin_url).and_then(|mut c| {
                    diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .execute(&mut c)
                        .map_err(|e| ConnectionError::BadConnection(e.to_string()))
                });
                if let Err(e) = dropped {
                    eprintln!("could not drop database {name}: {e}; drop it by hand");
                }
            }
        }
    }
}
