//! Validation and rule errors, each precise enough to show a user.

use thiserror::Error;

/// Why an input or an operation was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum DomainError {
    #[error("{field} must not be empty")]
    Empty { field: &'static str },
    #[error("{field} is too long: {len} characters, at most {max}")]
    TooLong {
        field: &'static str,
        len: usize,
        max: usize,
    },
    #[error("{field} has an invalid character {ch:?}")]
    BadChar { field: &'static str, ch: char },
    #[error("unknown {kind} {value:?}; expected one of: {expected}")]
    UnknownValue {
        kind: &'static str,
        value: String,
        expected: &'static str,
    },
    #[error("end ({end}) is before start ({start})")]
    EndBeforeStart { start: String, end: String },
    #[error("invalid id {0:?}")]
    BadId(String),
    #[error("unknown time zone {0:?}")]
    BadTimeZone(String),
    #[error("invalid date or time {0:?}")]
    BadDateTime(String),
    #[error("invalid recurrence: {0}")]
    BadRecurrence(String),
    #[error("invalid ICS: {0}")]
    BadIcs(String),
    #[error("invalid search query: {0}")]
    BadQuery(String),
    #[error("column {column} belongs to another board")]
    ColumnOfAnotherBoard { column: String },
    #[error("{0} not found")]
    NotFound(String),
    #[error("{0} was deleted")]
    Deleted(String),
    #[error("not allowed: {0}")]
    Forbidden(String),
    #[error("{0}")]
    Invalid(String),
}

/// Result with a [`DomainError`].
pub type Result<T, E = DomainError> = std::result::Result<T, E>;
