//! What alerthub stores and the types that guard what goes in.

pub mod alert;
pub mod domain;
pub mod schema;

pub use alert::{AlertRow, AlertView, FieldErrors, NewAlert, NewAlertRow};
pub use domain::{Severity, UserId};
