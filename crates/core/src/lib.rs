//! Weft's engine: the API the desktop app and the `weft` CLI share.
//!
//! It opens one profile's data directory and owns the store, the documents and the timers.
//! Every edit becomes one Automerge change stored with its read-model rows and outbox entry in
//! one SQLite transaction; every read is answered from SQLite.
//!
//! ```
//! use weft_core::Engine;
//! let dir = tempfile::tempdir().unwrap();
//! let mut e = Engine::open(dir.path()).unwrap();
//! e.init_profile(weft_domain::Profile { display_name: "Ada".into(), ..Default::default() }).unwrap();
//! let ws = e.create_workspace("Acme", "").unwrap().id.unwrap();
//! let general = e.find_channel(ws, "#general").unwrap();
//! e.send(general, "hello **team**", Default::default()).unwrap();
//! assert_eq!(e.messages(general, None, 50).unwrap()[0].message.text, "hello **team**");
//! ```

mod analytics;
mod board;
mod calendar;
mod chat;
mod clock;
mod engine;
mod error;
mod exchange;
mod files;
mod focus;
mod inbox;
mod keys;
mod net;
mod notify;
mod profile;
mod search;
mod sync;
mod timers;
mod vault;
mod workspace;

pub use board::{ColumnView, MAX_TASK_ATTACHMENTS, NewTask, TaskPatch};
pub use calendar::{Agenda, NewEvent, Occurrence};
pub use chat::{ChannelView, MessageView, Scheduled, SendOptions};
pub use clock::{Clock, ManualClock, SystemClock};
pub use engine::{
    APPLY_STEP, COMPACT_EVERY, ChangeEvent, Engine, Identity, ImportReport, PIPELINE_MIN,
};
pub use error::{CoreError, Result};
pub use files::{
    FileState, MAX_PREVIEW_BYTES, MAX_STAGED, PREVIEW_EDGE, SWEEP_AFTER, mime_of, preview,
};
pub use focus::FocusEnd;
pub use net::{
    RELAY_READ_CHUNK, SyncMode, SyncReport, SyncStatus, relay_client_config, sync_account,
};
pub use search::SearchResults;
pub use sync::{AccountView, CallSignal, JoinLink, LogView, MAX_CALL_SIGNAL};
pub use timers::TickReport;
pub use vault::{Vault, VaultBackend, is_new as vault_is_new, keychain_wanted};
pub use weft_store::{InboxRow, SearchHit, TaskFilter};
pub use workspace::MemberView;
