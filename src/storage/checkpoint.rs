//! SQLite's WAL, kept off the commit path and kept small.
//!
//! A thread of its own copies committed pages from the WAL into the
//! database file every 250 ms (`PASSIVE`: it never blocks the writer or a
//! reader), so under a light load the trigger's commits do not (measured
//! in docs/BENCHMARKS.md: it halves the trigger's tail latency). Under a
//! steady load the WAL passes `wal_autocheckpoint` (10,000 frames) and
//! each commit checkpoints too, which is what lets SQLite start the WAL
//! over (docs/storage.md, measured against other bounds).
//!
//! `PASSIVE` alone lets the WAL grow without bound under a steady write
//! load: SQLite starts the WAL over only when a writer finds every frame
//! already copied, and while the group commit writes continuously the copy
//! never catches up. After a million inserts the WAL was 0.6–1.7 GB, every
//! page read searched up to ~100 WAL index blocks and every commit past
//! `wal_autocheckpoint` ran a checkpoint attempt inside it. So once the WAL
//! passes [`RESTART_FRAMES`], right after a `PASSIVE` pass has copied
//! nearly all of it, a `RESTART` checkpoint copies the rest and makes the
//! next writer start the WAL over. It holds the writer back meanwhile (the
//! frames written since the `PASSIVE` pass, the database file's fsync, the
//! readers still on older frames), so it must be rare: at 64 MiB it came
//! every 2–3 s of the fan-out's load and its p99 doubled; at 256 MiB the
//! fan-out reads as before and batch triggers gain ~5% (docs/BENCHMARKS.md,
//! "Fourth session").
//! `journal_size_limit` (set on every connection) then truncates the file.

use std::sync::Weak;
use std::time::Duration;

use diesel::prelude::*;
use diesel::sql_types::Integer;

use super::connection::AnyConnection;

/// How often the WAL is copied into the database file.
const EVERY: Duration = Duration::from_millis(250);

/// WAL frames (pages) past which the checkpointer starts the WAL over:
/// 65,536 × 4 KiB = 256 MiB.
pub const RESTART_FRAMES: i32 = 65_536;

/// The three numbers `PRAGMA wal_checkpoint` answers.
#[derive(QueryableByName, Debug)]
struct Outcome {
    /// 1 when a lock kept the checkpoint from finishing.
    #[diesel(sql_type = Integer)]
    busy: i32,
    /// Frames in the WAL.
    #[diesel(sql_type = Integer)]
    log: i32,
    /// Frames of it now in the database file.
    #[diesel(sql_type = Integer)]
    checkpointed: i32,
}

fn checkpoint(conn: &mut SqliteConnection, mode: &str) -> QueryResult<Outcome> {
    diesel::sql_query(format!("PRAGMA wal_checkpoint({mode})")).get_result(conn)
}

/// One round: copy what is committed; start the WAL over if it holds more
/// than `restart_frames`. Answers the WAL's frames before the round.
fn round(conn: &mut SqliteConnection, restart_frames: i32) -> QueryResult<i32> {
    let passive = checkpoint(conn, "PASSIVE")?;
    if passive.log > restart_frames {
        let restart = checkpoint(conn, "RESTART")?;
        if restart.busy != 0 {
            log::debug!(
                "WAL restart postponed: {} of {} frames copied",
                restart.checkpointed,
                restart.log
            );
        }
    }
    Ok(passive.log)
}

/// Starts the checkpoint thread on `conn`; it stops once `alive` is gone
/// (the pool was dropped). PostgreSQL needs none: nothing is started.
pub fn spawn(conn: AnyConnection, alive: Weak<()>) {
    let AnyConnection::Sqlite(mut conn) = conn else {
        return;
    };
    let spawned = std::thread::Builder::new()
        .name("sqlite-checkpoint".into())
        .spawn(move || {
            while alive.upgrade().is_some() {
                std::thread::sleep(EVERY);
                if let Err(e) = round(&mut conn, RESTART_FRAMES) {
                    log::warn!("WAL checkpoint failed: {e}");
                }
            }
        });
    if let Err(e) = spawned {
        log::warn!("no WAL checkpoint thread ({e}); SQLite checkpoints inside commits instead");
    }
}

#[cfg(test)]
mod tests {
    use diesel::connection::SimpleConnection;

    use super::*;

    fn open(path: &str) -> SqliteConnection {
        let mut c = SqliteConnection::establish(path).unwrap();
        c.batch_execute(
            "PRAGMA busy_timeout = 5000; PRAGMA journal_mode = WAL; \
             PRAGMA synchronous = NORMAL; PRAGMA wal_autocheckpoint = 0;",
        )
        .unwrap();
        c
    }

    fn write(c: &mut SqliteConnection, commits: usize) {
        for _ in 0..commits {
            c.batch_execute("INSERT INTO t (b) VALUES (zeroblob(32000));")
                .unwrap();
        }
    }

    /// A reader on an old snapshot keeps `PASSIVE` from copying the whole
    /// WAL (as the next group commit, always already under way, does under
    /// load), and SQLite appends to a WAL that is not wholly copied: alone,
    /// `PASSIVE` lets it grow. The round's `RESTART` waits for the reader and
    /// the next commit starts the WAL over.
    #[test]
    fn a_large_wal_starts_over_although_a_reader_held_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wal.db").to_string_lossy().into_owned();
        let (mut writer, mut reader) = (open(&path), open(&path));
        writer
            .batch_execute("CREATE TABLE t (id INTEGER PRIMARY KEY, b BLOB NOT NULL);")
            .unwrap();
        write(&mut writer, 20);
        reader
            .batch_execute("BEGIN; SELECT count(*) FROM t;")
            .unwrap();
        write(&mut writer, 20);
        let checkpointer = {
            let path = path.clone();
            std::thread::spawn(move || round(&mut open(&path), 64).unwrap())
        };
        // The round's PASSIVE pass runs while the reader holds its snapshot.
        std::thread::sleep(Duration::from_millis(300));
        reader.batch_execute("COMMIT;").unwrap();
        let before = checkpointer.join().unwrap();
        write(&mut writer, 1);
        let after = checkpoint(&mut writer, "PASSIVE").unwrap().log;
        assert!(before > 64, "the WAL held only {before} frames");
        assert!(after < 20, "the WAL did not start over: {after} frames");
    }
}
