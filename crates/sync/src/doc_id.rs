//! Document ids: which document holds an entity follows from the id, with no lookup.

use crate::SyncError;
use std::{fmt, str::FromStr};
use weft_domain::Id;

/// The kinds of document (see ARCHITECTURE.md, "Documents").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DocKind {
    /// Settings, members, roles, channel and board directory, labels, files, audit log.
    Workspace,
    /// One bounded segment of a channel's messages.
    Channel,
    /// A board: columns and tasks.
    Board,
    /// A workspace's calendar: events and meetings.
    Calendar,
    /// One user's private state, shared only among that user's devices.
    Personal,
}

impl DocKind {
    /// The collections every document of this kind starts with (in its genesis change).
    pub fn collections(self) -> &'static [&'static str] {
        match self {
            DocKind::Workspace => &[
                "audit",
                "boards",
                "channels",
                "files",
                "focus_days",
                "integration_runs",
                "integrations",
                "labels",
                "members",
                "profiles",
                "workspace",
            ],
            DocKind::Channel => &["messages"],
            DocKind::Board => &["board", "columns", "tasks"],
            DocKind::Calendar => &["events", "meetings"],
            DocKind::Personal => &[
                "focus",
                "goals",
                "inbox_read",
                "notify",
                "read_state",
                "reminders",
                "saved",
                "scheduled",
                "settings",
            ],
        }
    }
}

/// A document's id: `ws:<ws>`, `ch:<ws>:<channel>:<segment>`, `board:<ws>:<board>`,
/// `cal:<ws>`, `me:<user>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DocId {
    kind: DocKind,
    workspace: Option<Id>,
    object: Option<Id>,
    segment: u32,
}

/// Highest segment number accepted from a file or a peer.
pub const MAX_SEGMENT: u32 = 1_000_000;

impl DocId {
    /// A workspace document.
    pub fn workspace(ws: Id) -> DocId {
        DocId {
            kind: DocKind::Workspace,
            workspace: Some(ws),
            object: None,
            segment: 0,
        }
    }
    /// A channel segment.
    pub fn channel(ws: Id, channel: Id, segment: u32) -> DocId {
        DocId {
            kind: DocKind::Channel,
            workspace: Some(ws),
            object: Some(channel),
            segment,
        }
    }
    /// A board.
    pub fn board(ws: Id, board: Id) -> DocId {
        DocId {
            kind: DocKind::Board,
            workspace: Some(ws),
            object: Some(board),
            segment: 0,
        }
    }
    /// A workspace calendar.
    pub fn calendar(ws: Id) -> DocId {
        DocId {
            kind: DocKind::Calendar,
            workspace: Some(ws),
            object: None,
            segment: 0,
        }
    }
    /// A user's personal document.
    pub fn personal(user: Id) -> DocId {
        DocId {
            kind: DocKind::Personal,
            workspace: None,
            object: Some(user),
            segment: 0,
        }
    }
    /// The kind of document.
    pub fn kind(&self) -> DocKind {
        self.kind
    }
    /// The workspace it belongs to (none for personal documents).
    pub fn workspace_id(&self) -> Option<Id> {
        self.workspace
    }
    /// The channel, board or user it is about.
    pub fn object_id(&self) -> Option<Id> {
        self.object
    }
    /// The segment number (channel documents).
    pub fn segment(&self) -> u32 {
        self.segment
    }
}

impl fmt::Display for DocId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (w, o) = (self.workspace, self.object);
        match (self.kind, w, o) {
            (DocKind::Workspace, Some(w), _) => write!(f, "ws:{w}"),
            (DocKind::Channel, Some(w), Some(c)) => write!(f, "ch:{w}:{c}:{}", self.segment),
            (DocKind::Board, Some(w), Some(b)) => write!(f, "board:{w}:{b}"),
            (DocKind::Calendar, Some(w), _) => write!(f, "cal:{w}"),
            (DocKind::Personal, _, Some(u)) => write!(f, "me:{u}"),
            // Constructors make every other combination impossible.
            _ => write!(f, "invalid"),
        }
    }
}

impl FromStr for DocId {
    type Err = SyncError;
    fn from_str(s: &str) -> Result<DocId, SyncError> {
        let bad = || SyncError::BadDocId(s.chars().take(80).collect());
        let id = |p: &str| p.parse::<Id>().map_err(|_| bad());
        let parts: Vec<&str> = s.split(':').collect();
        match parts.as_slice() {
            ["ws", w] => Ok(DocId::workspace(id(w)?)),
            ["ch", w, c, seg] => {
                let seg: u32 = seg.parse().map_err(|_| bad())?;
                if seg > MAX_SEGMENT {
                    return Err(bad());
                }
                Ok(DocId::channel(id(w)?, id(c)?, seg))
            }
            ["board", w, b] => Ok(DocId::board(id(w)?, id(b)?)),
            ["cal", w] => Ok(DocId::calendar(id(w)?)),
            ["me", u] => Ok(DocId::personal(id(u)?)),
            _ => Err(bad()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doc_ids_round_trip() {
        let w: Id = "01JD0000000000000000000000".parse().unwrap();
        let c: Id = "01JD0000000000000000000001".parse().unwrap();
        for d in [
            DocId::workspace(w),
            DocId::channel(w, c, 7),
            DocId::board(w, c),
            DocId::calendar(w),
            DocId::personal(c),
        ] {
            assert_eq!(d.to_string().parse::<DocId>().unwrap(), d);
        }
    }

    #[test]
    fn hostile_doc_ids_are_refused() {
        for s in [
            "",
            "ws:",
            "ws:xyz",
            "ch:a:b:c:d",
            "ch:01JD0000000000000000000000:01JD0000000000000000000001:99999999999",
            "zz:01JD0000000000000000000000",
        ] {
            assert!(
                matches!(s.parse::<DocId>(), Err(SyncError::BadDocId(_))),
                "{s}"
            );
        }
    }
}
