//! Boards, columns, tasks and everything hanging off a task.

use crate::{Id, Timestamp, string_enum};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

string_enum!(
    /// How urgent a task is.
    Priority, "priority", { Low => "low", Medium => "medium", High => "high", Urgent => "urgent" }
);

/// A Kanban board.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(default)]
pub struct Board {
    pub id: Option<Id>,
    pub name: String,
    pub description: String,
    pub archived: bool,
    pub created_by: Option<Id>,
    pub created_at: Timestamp,
}

/// An ordered column of a board.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(default)]
pub struct Column {
    pub id: Option<Id>,
    pub name: String,
    /// Fractional order key (see [`crate::order`]).
    pub pos: String,
    /// Tasks moved here count as done (for "tasks completed").
    pub done: bool,
    pub deleted_at: Option<Timestamp>,
    pub created_at: Timestamp,
}

/// A card on a board.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(default)]
pub struct Task {
    pub id: Option<Id>,
    pub title: String,
    pub description: String,
    pub assignee: Option<Id>,
    pub priority: Option<Priority>,
    pub due: Option<Timestamp>,
    /// Column and order key as ONE value (`"<column id>|<key>"`), so that concurrent moves can
    /// never leave a card in two columns or in a column at another column's position.
    pub place: String,
    /// label id -> on.
    pub labels: BTreeMap<String, bool>,
    pub subtasks: BTreeMap<String, Subtask>,
    pub comments: BTreeMap<String, Comment>,
    pub attachments: Vec<crate::Attachment>,
    /// The message this task was made from.
    pub from_message: Option<Id>,
    pub created_by: Option<Id>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub completed_at: Option<Timestamp>,
    pub deleted_at: Option<Timestamp>,
    pub activity: Vec<TaskActivity>,
}

impl Task {
    /// The task as the engine shows it: its files' records without their keys
    /// ([`crate::FileMeta::shown`]).
    pub fn shown(mut self) -> Task {
        self.attachments = self
            .attachments
            .into_iter()
            .map(crate::Attachment::shown)
            .collect();
        self
    }

    /// The column and order key of `place`.
    pub fn column_and_pos(&self) -> Option<(Id, &str)> {
        let (c, p) = self.place.split_once('|')?;
        Some((c.parse().ok()?, p))
    }

    /// Encodes a place.
    pub fn place_of(column: Id, pos: &str) -> String {
        format!("{column}|{pos}")
    }

    /// Label ids currently on the task.
    pub fn label_ids(&self) -> Vec<String> {
        self.labels
            .iter()
            .filter(|(_, on)| **on)
            .map(|(k, _)| k.clone())
            .collect()
    }
}

/// A checklist item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(default)]
pub struct Subtask {
    pub title: String,
    pub done: bool,
    pub pos: String,
    pub deleted: bool,
}

/// A comment on a task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(default)]
pub struct Comment {
    pub author: Option<Id>,
    pub text: String,
    pub created_at: Timestamp,
    pub edited_at: Option<Timestamp>,
    pub deleted_at: Option<Timestamp>,
}

/// A coloured label, defined per workspace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(default)]
pub struct Label {
    pub id: Option<Id>,
    pub name: String,
    pub color: String,
}

/// One entry of a task's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(default)]
pub struct TaskActivity {
    pub at: Timestamp,
    pub by: Option<Id>,
    /// What happened: `created`, `moved`, `assigned`, `edited title`, `commented`, ...
    pub what: String,
}
