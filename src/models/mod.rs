//! What alerthub stores and the types that guard what goes in.

pub mod batch;
pub mod domain;
pub mod new_alert;
pub mod push;
pub mod row;
pub mod schema;
pub mod time;
pub mod view;
pub mod wire_schema;

pub use batch::{BATCH_MAX, parse_batch};
pub use domain::{Severity, UserId};
pub use new_alert::{FieldErrors, NewAlert};
pub use row::{AlertRow, NEW_ALERT_COLUMNS, NewAlertRow};
pub use view::AlertView;
