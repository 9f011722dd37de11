//! Weft's SQLite store — the only crate with SQL in it.
//!
//! It keeps the documents (snapshot plus changes since), the outbox, and a read model derived
//! from the documents: tables and indexes per access path and FTS5 trigram indexes for
//! partial-word search. A local edit stores its change, the read-model rows and the outbox entry
//! in ONE transaction ([`Store::write`]).
//!
//! ```
//! let mut store = weft_store::Store::open_in_memory().unwrap();
//! store.write(|tx| tx.set_local("greeting", "hello")).unwrap();
//! assert_eq!(store.local("greeting").unwrap().as_deref(), Some("hello"));
//! ```

pub mod error;
mod project;
mod query;
mod schema;
mod store;
mod sync_state;

pub use error::StoreError;
pub use project::{Projection, Source};
pub use query::{
    ChannelRow, EventRow, InboxRow, MessageRow, MessageSearch, SearchHit, SearchOrder, TaskFilter,
    TaskRow, UnreadRow,
};
pub use schema::SCHEMA_VERSION;
pub use store::{DocRow, Store, StoredDoc, Tx, log_of};
pub use sync_state::{AccountRow, LogRow, OutboxRow};
