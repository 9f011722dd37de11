//! Messages: threads, reactions, edits with history, pins, mentions, tombstones, attachments.

use crate::{Id, Timestamp};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A chat message. Its id doubles as the client message id: a resend with the same id is a
/// no-op, which is what makes sending idempotent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(default)]
pub struct Message {
    pub id: Option<Id>,
    pub channel: Option<Id>,
    pub author: Option<Id>,
    pub text: String,
    /// The thread root this is a reply to.
    pub parent: Option<Id>,
    pub created_at: Timestamp,
    pub edited_at: Option<Timestamp>,
    /// Earlier versions, oldest first.
    pub edits: Vec<Edit>,
    pub deleted_at: Option<Timestamp>,
    /// `"<emoji> <user id>"` -> reacted. One flat key per person and emoji, so concurrent
    /// reactions never collide on a shared sub-map.
    pub reactions: BTreeMap<String, bool>,
    // The three below are left out while they hold their default: a message is the most
    // numerous entity, and every field written is an operation on every replica for the life of
    // the document. Only a plain field can be: `edits` and `reactions` stay, because two devices
    // each creating the missing list or map at once would lose one side's entry.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub pinned: bool,
    /// Set when the message is sent and never changed after.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<Attachment>,
    /// Also posted to the channel (a thread reply shown in the channel).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub broadcast: bool,
}

/// An earlier version of an edited message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(default)]
pub struct Edit {
    pub text: String,
    /// When this version was replaced.
    pub replaced_at: Timestamp,
}

/// A file attached to a message. The content lives in sealed chunks (local cache and relay);
/// a file attached with the message carries its whole record here, so it is written in the
/// message's own change, under the channel's key, and a private channel's files stay its
/// members' (documents keep a fixed set of collections, so the record cannot go beside the
/// message). A reference to a file shared earlier has no record: that one is in the workspace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(default)]
pub struct Attachment {
    pub file: Option<Id>,
    pub name: String,
    pub size: u64,
    pub mime: String,
    pub record: Option<crate::FileMeta>,
}

impl Attachment {
    /// The attachment as the engine shows it: its record without the file's key
    /// ([`crate::FileMeta::shown`]).
    pub fn shown(self) -> Attachment {
        Attachment {
            record: self.record.map(crate::FileMeta::shown),
            ..self
        }
    }
}

/// Who a message mentions.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Mention {
    /// `@username`
    User(String),
    /// `@channel`: everyone in the channel.
    Channel,
    /// `@here`: everyone in the channel who is online.
    Here,
}

impl Message {
    /// The message as the engine shows it: its files' records without their keys
    /// ([`crate::FileMeta::shown`]).
    pub fn shown(mut self) -> Message {
        self.attachments = self
            .attachments
            .into_iter()
            .map(Attachment::shown)
            .collect();
        self
    }

    /// Whether the message is a tombstone.
    pub fn is_deleted(&self) -> bool {
        self.deleted_at.is_some()
    }

    /// The text a reader sees: empty for a deleted message, whatever an edit racing the delete
    /// wrote (delete wins).
    pub fn visible_text(&self) -> &str {
        if self.is_deleted() { "" } else { &self.text }
    }

    /// Reactions as (emoji, count, users), leaving out withdrawn ones.
    pub fn reaction_counts(&self) -> Vec<(String, usize, Vec<String>)> {
        let mut by: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        for (k, on) in &self.reactions {
            if let (true, Some((emoji, user))) = (*on, k.rsplit_once(' ')) {
                by.entry(emoji).or_default().push(user.to_owned());
            }
        }
        by.into_iter()
            .map(|(e, who)| (e.to_owned(), who.len(), who))
            .collect()
    }
}

/// Finds `@user`, `@channel` and `@here` in a message body, outside code spans and blocks.
pub fn mentions(text: &str) -> Vec<Mention> {
    let mut out = Vec::new();
    let mut in_block = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            in_block = !in_block;
            continue;
        }
        if in_block {
            continue;
        }
        let mut in_code = false;
        let chars: Vec<char> = line.chars().collect();
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            if c == '`' {
                in_code = !in_code;
            } else if c == '@' && !in_code && (i == 0 || !chars[i - 1].is_alphanumeric()) {
                let name: String = chars[i + 1..]
                    .iter()
                    .take_while(|c| c.is_alphanumeric() || matches!(c, '.' | '-' | '_'))
                    .collect();
                let name = name.trim_end_matches('.').to_lowercase();
                i += name.chars().count();
                match name.as_str() {
                    "" => {}
                    "channel" | "everyone" => out.push(Mention::Channel),
                    "here" => out.push(Mention::Here),
                    _ => out.push(Mention::User(name)),
                }
            }
            i += 1;
        }
    }
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_mentions_but_not_emails_or_code() {
        let m = mentions(
            "hi @Ada and @here, mail bob@example.org, `@notme`\n```\n@nor\n```\n@channel.",
        );
        assert_eq!(
            m,
            vec![Mention::User("ada".into()), Mention::Channel, Mention::Here]
        );
    }

    #[test]
    fn reactions_count_per_emoji() {
        let m = Message {
            reactions: [
                ("👍 u1".into(), true),
                ("👍 u2".into(), true),
                ("🎉 u1".into(), false),
            ]
            .into_iter()
            .collect(),
            ..Default::default()
        };
        assert_eq!(
            m.reaction_counts(),
            vec![("👍".into(), 2, vec!["u1".into(), "u2".into()])]
        );
    }

    #[test]
    fn deleted_message_shows_no_text() {
        let m = Message {
            text: "secret".into(),
            deleted_at: Some(Timestamp(5)),
            ..Default::default()
        };
        assert_eq!(m.visible_text(), "");
    }
}
