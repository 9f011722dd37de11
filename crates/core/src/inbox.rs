//! Notification preferences, the inbox and the summary of what focus or do-not-disturb held.

use crate::{Engine, Result};
use weft_domain::{DndSchedule, NotificationPrefs};
use weft_store::InboxRow;
use weft_sync::DocId;

/// Most keywords one may watch.
pub const MAX_KEYWORDS: usize = 100;

impl Engine {
    /// My notification preferences.
    pub fn prefs(&self) -> NotificationPrefs {
        self.notify.prefs.clone()
    }

    /// Changes my notification preferences (synced to my devices).
    pub fn update_prefs(
        &mut self,
        f: impl FnOnce(&mut NotificationPrefs),
    ) -> Result<NotificationPrefs> {
        let me = self.me()?.user;
        let mut p = self.prefs();
        f(&mut p);
        p.keywords = p
            .keywords
            .iter()
            .map(|k| k.trim().to_lowercase())
            .filter(|k| !k.is_empty())
            .collect();
        p.keywords.sort();
        p.keywords.dedup();
        if p.keywords.len() > MAX_KEYWORDS || p.keywords.iter().any(|k| k.chars().count() > 100) {
            return Err(weft_domain::DomainError::Invalid(format!(
                "at most {MAX_KEYWORDS} keywords of up to 100 characters"
            ))
            .into());
        }
        check_dnd(&p.dnd)?;
        self.edit(&DocId::personal(me), |e| e.upsert("notify", "prefs", &p))?;
        Ok(p)
    }

    /// The inbox, newest first.
    pub fn inbox(&self, unread_only: bool, limit: usize) -> Result<Vec<InboxRow>> {
        Ok(self.store.inbox(unread_only, limit.clamp(1, 10_000))?)
    }

    /// Marks inbox entries read on all my devices.
    pub fn mark_inbox_read(&mut self, keys: &[String]) -> Result<()> {
        let me = self.me()?.user;
        self.edit(&DocId::personal(me), |e| {
            for k in keys {
                e.create("inbox_read", k, &true)?;
            }
            Ok(())
        })
    }

    /// Unread inbox entries (the badge).
    pub fn unread_badge(&self) -> Result<usize> {
        Ok(self.store.inbox(true, 10_000)?.len())
    }

    /// What is being held back right now, per kind.
    pub fn held_summary(&self) -> Result<Vec<(String, i64)>> {
        Ok(self.store.held_summary()?)
    }
}

fn check_dnd(d: &DndSchedule) -> Result<()> {
    if d.start_minute >= 24 * 60 || d.end_minute >= 24 * 60 {
        return Err(weft_domain::DomainError::Invalid(
            "do-not-disturb times must be within a day".into(),
        )
        .into());
    }
    if d.enabled && !d.timezone.is_empty() {
        weft_domain::time::parse_tz(&d.timezone)?;
    }
    Ok(())
}
