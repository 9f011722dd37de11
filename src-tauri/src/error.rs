//! The one error type every command returns: `{ kind, message }`, a stable kind for the UI to
//! branch on and a sentence for a person.

use serde::Serialize;
use specta::Type;
use weft_core::CoreError;

/// A command's failure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Type)]
pub struct AppError {
    /// `invalid`, `not_found`, `forbidden`, `no_profile`, `conflict`, `storage`, `internal`, ...
    pub kind: String,
    pub message: String,
}

impl AppError {
    /// A failure with its kind and sentence.
    pub fn new(kind: &str, message: impl Into<String>) -> AppError {
        AppError {
            kind: kind.into(),
            message: message.into(),
        }
    }

    /// A failure of the shell itself, not of the engine.
    pub fn internal(message: &str) -> AppError {
        AppError {
            kind: "internal".into(),
            message: message.into(),
        }
    }
}

impl From<CoreError> for AppError {
    fn from(e: CoreError) -> AppError {
        AppError {
            kind: e.kind().into(),
            message: e.to_string(),
        }
    }
}

impl std::fmt::Display for AppError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.message, self.kind)
    }
}
