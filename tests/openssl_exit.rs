//! OpenSSL — libpq's TLS — stays set up until the process is gone
//! (`storage::establish_postgres` says why: with OpenSSL's exit handler, a
//! thread that used TLS and ends while the process exits frees OpenSSL's
//! state a second time, and the process aborts with "double free or
//! corruption").
//!
//! Only a process's own exit shows it, so this test has no harness: its
//! `main` registers an exit handler before anything sets OpenSSL up, opens
//! and closes a PostgreSQL connection the way the server does, and
//! returns. Exit handlers run last registered first, so this one runs after
//! OpenSSL's, if OpenSSL registered one; it then asks OpenSSL whether it is
//! still set up, and fails the process if not.

use std::ffi::{c_int, c_void};

/// `OPENSSL_INIT_BASE_ONLY`: only the base set-up, and no error raised when
/// OpenSSL was already cleaned up (it then answers 0).
const OPENSSL_INIT_BASE_ONLY: u64 = 0x0004_0000;

unsafe extern "C" {
    // libcrypto, linked through alerthub's openssl dependency.
    fn OPENSSL_init_crypto(opts: u64, settings: *const c_void) -> c_int;
}

extern "C" fn after_openssls_exit_handler() {
    // SAFETY: no pointers are passed; with BASE_ONLY, OpenSSL only reads
    // whether it was stopped.
    let set_up = unsafe { OPENSSL_init_crypto(OPENSSL_INIT_BASE_ONLY, std::ptr::null()) } == 1;
    if !set_up {
        eprintln!("FAILED: OpenSSL was cleaned up at exit, while other threads may still use it");
        // SAFETY: ends the process at once with a failure, as intended.
        unsafe { libc::_exit(1) };
    }
    println!("ok: OpenSSL was still set up after every other exit handler had run");
}

fn main() {
    let Ok(url) = std::env::var("ALERTHUB_TEST_DATABASE_URL") else {
        println!(
            "SKIPPED openssl_exit: PostgreSQL only: set ALERTHUB_TEST_DATABASE_URL=postgres://…"
        );
        return;
    };
    // SAFETY: registers a plain function with no captured state.
    if unsafe { libc::atexit(after_openssls_exit_handler) } != 0 {
        panic!("atexit refused the handler");
    }
    let connection = alerthub::storage::establish_postgres(&url)
        .unwrap_or_else(|e| panic!("ALERTHUB_TEST_DATABASE_URL does not connect: {e}"));
    drop(connection);
}
