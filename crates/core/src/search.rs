//! One search box over messages, files, tasks, events, people and channels, answered from the
//! local replica.

use crate::{Engine, Result};
use serde::Serialize;
use weft_domain::{
    Id,
    search::{Query, SearchKind},
};
use weft_store::{MessageSearch, SearchHit, SearchOrder};

use crate::chat::MessageView;

/// Search results.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct SearchResults {
    pub query: String,
    pub messages: Vec<MessageView>,
    pub others: Vec<SearchHit>,
}

impl Engine {
    /// Searches a workspace. `q` uses the filters `in:#channel from:@user has:file has:link
    /// before:DATE after:DATE is:message|task|event|file|person|channel`.
    pub fn search(&self, ws: Id, q: &str, ranked: bool, limit: usize) -> Result<SearchResults> {
        self.my_role(ws)?;
        let me = self.me()?.user.to_string();
        let tz = weft_domain::time::parse_tz(&self.settings()?.timezone).unwrap_or(chrono_tz::UTC);
        let query: Query = weft_domain::search::parse(q, tz)?;
        let limit = limit.clamp(1, 500);
        let mut terms: Vec<String> = query.terms.clone();
        terms.extend(query.phrases.iter().cloned());
        let want = |k: SearchKind| query.kinds.is_empty() || query.kinds.contains(&k);
        let w = ws.to_string();
        let filtered = query.in_channel.is_some()
            || query.from_user.is_some()
            || query.has_file
            || query.has_link;
        let mut messages = Vec::new();
        if want(SearchKind::Message) && (!terms.is_empty() || filtered) {
            let channel = match &query.in_channel {
                Some(name) => Some(self.find_channel(ws, name)?.to_string()),
                None => None,
            };
            let author = match &query.from_user {
                Some(u) => Some(self.find_user(ws, u)?.to_string()),
                None => None,
            };
            let s = MessageSearch {
                workspace: w.clone(),
                terms: terms.clone(),
                channel,
                author,
                has_file: query.has_file,
                has_link: query.has_link,
                before: query.before.map(|t| t.0),
                after: query.after.map(|t| t.0),
                hidden_channels: self.store.hidden_channels(&w, &me)?,
                order: if ranked {
                    SearchOrder::Ranked
                } else {
                    SearchOrder::Newest
                },
                limit,
            };
            for row in self.store.search_messages(&s)? {
                messages.push(crate::chat::view_of(row)?);
            }
        }
        let mut kinds: Vec<&str> = Vec::new();
        for (k, name) in [
            (SearchKind::Task, "task"),
            (SearchKind::Event, "event"),
            (SearchKind::File, "file"),
            (SearchKind::Person, "person"),
            (SearchKind::Channel, "channel"),
        ] {
            if want(k) {
                kinds.push(name);
            }
        }
        let others = if kinds.is_empty() || terms.is_empty() || filtered {
            Vec::new()
        } else {
            self.store.search_other(&w, &terms, &kinds, limit)?
        };
        Ok(SearchResults {
            query: query.text(),
            messages,
            others,
        })
    }
}
