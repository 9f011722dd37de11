//! Replicas meeting with no relay: every document's changes written to a file, and a file's
//! changes merged in.

use crate::{CoreError, Engine, ImportReport, Result};
use weft_sync::{Bundle, DocKind};

impl Engine {
    /// Every change this replica holds (my own personal document included, other people's
    /// never), as a change file.
    pub fn export_changes(&mut self) -> Result<Vec<u8>> {
        let me = self.me()?;
        let mut bundle = Bundle::default();
        for id in self.doc_ids()? {
            if id.kind() == DocKind::Personal && id.object_id() != Some(me.user) {
                continue;
            }
            let changes = self.changes_since(&id, &[])?;
            bundle.docs.push((id, changes));
        }
        Ok(bundle.encode())
    }

    /// Merges a change file. A malformed file changes nothing; a document whose changes do not
    /// decode is refused whole, leaving the others merged.
    pub fn import_changes(&mut self, bytes: &[u8]) -> Result<ImportReport> {
        let me = self.me()?;
        let bundle = Bundle::decode(bytes)?;
        let mut total = ImportReport::default();
        let mut errors = Vec::new();
        // Workspace documents first, so channels and boards are known when their contents land.
        let mut docs = bundle.docs;
        docs.sort_by_key(|(id, _)| id.kind());
        for (id, changes) in docs {
            if id.kind() == DocKind::Personal && id.object_id() != Some(me.user) {
                continue;
            }
            match self.apply_remote(&id, changes) {
                Ok(r) => {
                    total.documents += 1;
                    total.changes_received += r.changes_received;
                    total.changes_new += r.changes_new;
                    total.entities_updated += r.entities_updated;
                    total.entities_rejected += r.entities_rejected;
                    total.changes_pending += r.changes_pending;
                }
                Err(e) => errors.push(format!("{id}: {e}")),
            }
        }
        self.adopt_workspaces()?;
        if !errors.is_empty() {
            return Err(CoreError::Sync(weft_sync::SyncError::BadBundle(format!(
                "{} document(s) refused ({} merged): {}",
                errors.len(),
                total.documents,
                errors.join("; ")
            ))));
        }
        Ok(total)
    }
}
