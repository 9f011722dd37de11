//! Weft's documents: Automerge CRDTs holding every entity, and the sans-IO exchange of their
//! changes between replicas.
//!
//! A document is a root map of *collections*; a collection maps an entity id to the entity (a
//! map of fields) or to a scalar. Every replica starts each document from the same genesis
//! change, so the collections are the same objects everywhere and never conflict.
//!
//! ```
//! use weft_sync::{DocId, Document};
//! let ws = "01JD0000000000000000000000".parse().unwrap();
//! let mut a = Document::new(DocId::workspace(ws), [1; 16]);
//! a.create("labels", "l1", &serde_json::json!({"name": "bug", "color": "red"})).unwrap();
//! let change = a.commit(1_000).unwrap();
//! let mut b = Document::new(DocId::workspace(ws), [2; 16]);
//! let touched = b.apply(vec![change.bytes]).unwrap();
//! assert!(touched.contains(&("labels".to_string(), "l1".to_string())));
//! assert_eq!(b.get_json("labels", "l1").unwrap().unwrap()["name"], "bug");
//! ```

pub mod bundle;
pub mod doc_id;
pub mod document;
pub mod error;
mod json;
pub mod session;
pub mod wire;

pub use bundle::Bundle;
pub use doc_id::{DocId, DocKind};
pub use document::{Applied, Document, LocalChange, Touched, Values};
pub use error::SyncError;
pub use session::{Credential, Event, Session, SessionState};

/// A change hash (SHA-256 of the change).
pub type Hash = [u8; 32];
