//! Storage: one code path for SQLite and PostgreSQL.
//!
//! The pool hands out `AnyConnection`, diesel's `MultiConnection` over both
//! backends, so the server, the CLI and the tests share one type. Queries
//! that read or update are written once; the two places where SQL really
//! differs — opening a write transaction and serialising one user's inserts —
//! are spelled out per backend with `on_backend!`, which expands the same
//! diesel expression for each concrete connection. We pick the backend from
//! the URL scheme ourselves rather than through `MultiConnection::establish`,
//! whose error hides the real cause from operators.
//!
//! Everything here is blocking; the `DbActor` runs it on its own threads.

pub mod alerts;
pub mod checkpoint;
pub mod connection;
pub mod health;
pub mod held;
pub mod pool;
pub mod push;
pub mod refusal;
pub mod retention;
pub mod settings;
pub mod sign_outs;
pub mod tokens;

pub use alerts::*;
pub use connection::{AnyConnection, StorageError};
pub use health::DbHealth;
pub use held::{HeldConnection, Retry};
pub use pool::*;
pub use push::*;
pub use retention::*;
pub use settings::*;
pub use sign_outs::*;
pub use tokens::*;
