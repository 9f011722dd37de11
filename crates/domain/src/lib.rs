//! Weft's domain: ids, entities, validation and rules.
//!
//! Pure by design: no I/O, no async, and no clock — every "now" is passed in, which is what
//! makes replicas replayable and the rules testable.
//!
//! ```
//! use weft_domain::{validate, Priority};
//! assert_eq!("urgent".parse::<Priority>().unwrap(), Priority::Urgent);
//! assert!(validate::name("channel name", "").is_err());
//! ```

pub mod analytics;
pub mod audit;
pub mod board;
pub mod calendar;
pub mod channel;
pub mod error;
pub mod file;
pub mod focus;
pub mod ics;
pub mod id;
pub mod integration;
pub mod meeting;
pub mod message;
pub mod notification;
pub mod order;
pub mod profile;
pub mod recurrence;
pub mod search;
pub mod time;
pub mod validate;
pub mod workspace;

pub use analytics::{TeamDay, UserDay};
pub use audit::{AuditAction, AuditEntry};
pub use board::{Board, Column, Comment, Label, Priority, Subtask, Task, TaskActivity};
pub use calendar::{Attendee, Event, EventType, Reminder, Rsvp};
pub use channel::{Channel, ChannelKind, NotificationLevel};
pub use error::DomainError;
pub use file::FileMeta;
pub use focus::{DailyGoal, FocusKind, FocusSession, FocusState, FocusStats};
pub use id::Id;
pub use integration::{Integration, IntegrationKind, IntegrationRun, RunStatus};
pub use meeting::{Meeting, MeetingStatus, Participant, ParticipantStatus};
pub use message::{Attachment, Edit, Mention, Message};
pub use notification::{DndSchedule, Notification, NotificationKind, NotificationPrefs};
pub use profile::{Profile, Settings, Theme, UserStatus};
pub use recurrence::{Frequency, Recurrence};
pub use time::Timestamp;
pub use workspace::{
    CallServer, DeviceRecord, MAX_CALL_SERVER_URLS, MAX_CALL_SERVERS, Member, Role, Workspace,
    WorkspaceSettings,
};
