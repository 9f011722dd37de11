//! The engine: one profile's data directory, its documents and read model, and the single
//! path every edit takes (document change, read-model rows, outbox: one transaction).

use crate::{Clock, CoreError, Result, SystemClock, notify::NotifyState};
use std::{
    collections::HashMap,
    path::{Path, PathBuf},
    sync::mpsc,
};
use weft_domain::{Id, Profile, Timestamp};
use weft_store::{Source, Store, Tx};
use weft_sync::{DocId, DocKind, Document, Touched};

/// Changes after which the timer tick snapshots a document (bounds load time and storage).
pub const COMPACT_EVERY: usize = 256;
/// Changes after which an edit snapshots its document itself, when no tick has run.
pub const COMPACT_HARD: usize = 8 * COMPACT_EVERY;
/// Longest one upkeep call spends merging index segments (it holds the database meanwhile).
pub const UPKEEP_BUDGET: std::time::Duration = std::time::Duration::from_millis(50);
/// Documents kept decoded in memory.
pub const DOC_CACHE: usize = 128;

/// This device's identity in the profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Identity {
    pub user: Id,
    pub device: Id,
}

impl Identity {
    fn actor(&self) -> [u8; 16] {
        self.device.to_bytes()
    }
}

/// What changed, for UIs that subscribe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeEvent {
    /// The document that changed (`ws:…`, `ch:…`, `board:…`, `cal:…`, `me:…`).
    pub doc: String,
    /// The entities touched: (collection, key).
    pub entities: Vec<(String, String)>,
    /// Whether the change came from another replica.
    pub remote: bool,
}

struct Cached {
    doc: Document,
    changes_since_snapshot: usize,
    last_used: u64,
}

/// The engine the desktop app and the CLI share.
pub struct Engine {
    pub(crate) store: Store,
    dir: PathBuf,
    pub(crate) me: Option<Identity>,
    pub(crate) clock: Box<dyn Clock>,
    docs: HashMap<DocId, Cached>,
    uses: u64,
    listeners: Vec<mpsc::Sender<ChangeEvent>>,
    pub(crate) notify: NotifyState,
    pub(crate) vault: Option<crate::Vault>,
    pub(crate) device: Option<weft_crypto::DeviceKeys>,
    /// Scope keys opened so far, by secret name.
    pub(crate) keys: HashMap<String, weft_crypto::SymKey>,
    /// Woken when a local edit queued something for the relay.
    pub(crate) outbox_notify: std::sync::Arc<tokio::sync::Notify>,
    /// Woken when a call signal for this device is heard.
    pub(crate) call_notify: std::sync::Arc<tokio::sync::Notify>,
    /// Presence and typing heard from other devices (never stored).
    pub(crate) live: crate::sync::Live,
    /// Most changes one push carries.
    pub(crate) push_changes: usize,
    /// Files sealed into the chunk cache and not yet sent: id → (order staged, workspace,
    /// record).
    pub(crate) staged: std::collections::BTreeMap<Id, (u64, Id, weft_domain::FileMeta)>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("dir", &self.dir)
            .field("me", &self.me)
            .finish()
    }
}

/// An edit in progress on one document; records what it touches.
pub struct Edit<'a> {
    pub(crate) doc: &'a mut Document,
    pub(crate) touched: Touched,
}

impl Edit<'_> {
    /// Writes a new entity.
    pub fn create<T: serde::Serialize>(&mut self, coll: &str, key: &str, v: &T) -> Result<()> {
        self.doc.create(coll, key, v)?;
        self.touched.insert((coll.into(), key.into()));
        Ok(())
    }
    /// Sets a field (or nested key) of an entity.
    pub fn set<T: serde::Serialize>(
        &mut self,
        coll: &str,
        key: &str,
        path: &[&str],
        v: &T,
    ) -> Result<()> {
        self.doc.set(coll, key, path, v)?;
        self.touched.insert((coll.into(), key.into()));
        Ok(())
    }
    /// Appends to a list field of an entity.
    pub fn push<T: serde::Serialize>(
        &mut self,
        coll: &str,
        key: &str,
        field: &str,
        v: &T,
    ) -> Result<()> {
        self.doc.push(coll, key, field, v)?;
        self.touched.insert((coll.into(), key.into()));
        Ok(())
    }
    /// Creates an entity, or sets each top-level field that differs when it exists (so a
    /// concurrent edit of another field survives).
    pub fn upsert<T: serde::Serialize>(&mut self, coll: &str, key: &str, v: &T) -> Result<()> {
        let new = serde_json::to_value(v).map_err(weft_store::StoreError::from)?;
        let old = self.doc.get_json(coll, key)?;
        match (old, new) {
            (Some(serde_json::Value::Object(old)), serde_json::Value::Object(fields)) => {
                for (k, v) in fields {
                    if old.get(&k) != Some(&v) {
                        self.set(coll, key, &[&k], &v)?;
                    }
                }
                Ok(())
            }
            (_, new) => self.create(coll, key, &new),
        }
    }
    /// Whether an entity exists.
    pub fn contains(&self, coll: &str, key: &str) -> Result<bool> {
        Ok(self.doc.contains(coll, key)?)
    }
}

/// Counts from importing changes.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct ImportReport {
    pub documents: usize,
    pub changes_received: usize,
    pub changes_new: usize,
    pub entities_updated: usize,
    /// Entities whose content could not be read (kept in the document, left out of the views).
    pub entities_rejected: usize,
    /// Changes waiting for earlier changes that have not arrived.
    pub changes_pending: usize,
}

impl Engine {
    /// Opens (creating) the data directory `dir`.
    pub fn open(dir: &Path) -> Result<Engine> {
        Engine::open_with_clock(dir, Box::new(SystemClock))
    }

    /// Opens with a given clock.
    pub fn open_with_clock(dir: &Path, clock: Box<dyn Clock>) -> Result<Engine> {
        std::fs::create_dir_all(dir).map_err(|source| CoreError::Io {
            path: dir.display().to_string(),
            source,
        })?;
        let store = Store::open(&dir.join("weft.db"))?;
        let me = match (store.local("user")?, store.local("device")?) {
            (Some(u), Some(d)) => Some(Identity {
                user: u.parse()?,
                device: d.parse()?,
            }),
            _ => None,
        };
        let mut e = Engine {
            store,
            dir: dir.to_owned(),
            me,
            clock,
            docs: HashMap::new(),
            uses: 0,
            listeners: Vec::new(),
            notify: NotifyState::default(),
            vault: None,
            device: None,
            keys: HashMap::new(),
            outbox_notify: Default::default(),
            call_notify: Default::default(),
            live: Default::default(),
            push_changes: crate::sync::PUSH_CHANGES,
            staged: Default::default(),
        };
        e.check_heads()?;
        e.reload_notify_state()?;
        // Space only: a sweep that fails leaves the cache as it was. At most once a day (a
        // CLI opens the engine for every command).
        let now = e.now().0;
        let last: i64 = e
            .store
            .local("chunks.swept_at")?
            .and_then(|v| v.parse().ok())
            .unwrap_or(i64::MIN);
        if now.saturating_sub(last) >= 86_400_000 || now < last {
            match e.sweep_chunks(crate::files::SWEEP_AFTER) {
                Ok(_) => e
                    .store
                    .write(|tx| tx.set_local("chunks.swept_at", &now.to_string()))?,
                Err(err) => tracing::warn!(error = %err, "the chunk cache was not swept"),
            }
        }
        Ok(e)
    }

    /// The data directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// This device's identity, once a profile exists.
    pub fn identity(&self) -> Option<Identity> {
        self.me
    }

    pub(crate) fn me(&self) -> Result<Identity> {
        self.me.ok_or(CoreError::NoProfile)
    }

    /// The current time on the engine's clock.
    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// A fresh id made now.
    pub fn new_id(&self) -> Id {
        Id::from_parts(self.now(), rand_u128())
    }

    /// Subscribes to change events.
    pub fn subscribe(&mut self) -> mpsc::Receiver<ChangeEvent> {
        let (tx, rx) = mpsc::channel();
        self.listeners.push(tx);
        rx
    }

    pub(crate) fn emit(&mut self, ev: ChangeEvent) {
        self.listeners.retain(|l| l.send(ev.clone()).is_ok());
    }

    /// A device-local preference (never replicated), e.g. the CLI's current workspace.
    pub fn local_pref(&self, key: &str) -> Result<Option<String>> {
        Ok(self.store.local(&format!("pref.{key}"))?)
    }

    /// Sets a device-local preference.
    pub fn set_local_pref(&mut self, key: &str, value: &str) -> Result<()> {
        let k = format!("pref.{key}");
        self.store.write(|tx| Ok(tx.set_local(&k, value)?))
    }

    /// Direct read access to the store's queries.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Creates the local profile: a user id, this device's id, and the profile itself.
    pub fn init_profile(&mut self, profile: Profile) -> Result<Profile> {
        let user = self.new_id();
        self.init_device(user, profile)
    }

    /// Sets this data directory up as another device of an existing user (its own device id
    /// and Automerge actor; the personal document is shared with the user's other devices).
    pub fn init_device(&mut self, user: Id, profile: Profile) -> Result<Profile> {
        if self.me.is_some() {
            return Err(CoreError::ProfileExists);
        }
        let p = crate::profile::validated(profile)?;
        let now = self.now();
        let me = Identity {
            user,
            device: self.new_id(),
        };
        let p = Profile {
            id: Some(me.user),
            created_at: now,
            updated_at: now,
            ..p
        };
        let json = serde_json::to_string(&p).map_err(weft_store::StoreError::from)?;
        self.store.write(|tx| -> Result<()> {
            tx.set_local("user", &me.user.to_string())?;
            tx.set_local("device", &me.device.to_string())?;
            tx.set_local("profile", &json)?;
            Ok(())
        })?;
        self.me = Some(me);
        Ok(p)
    }

    fn source(doc: &DocId) -> (Option<String>, Option<String>) {
        (
            doc.workspace_id().map(|w| w.to_string()),
            doc.object_id().map(|o| o.to_string()),
        )
    }

    pub(crate) fn with_source<R>(doc: &DocId, f: impl FnOnce(Source<'_>) -> R) -> R {
        let (ws, obj) = Engine::source(doc);
        let ws = ws.as_deref().unwrap_or("");
        let obj = obj.as_deref().unwrap_or("");
        let src = match doc.kind() {
            DocKind::Workspace => Source::Workspace { ws },
            DocKind::Channel => Source::Channel {
                ws,
                channel: obj,
                segment: doc.segment(),
            },
            DocKind::Board => Source::Board { ws, board: obj },
            DocKind::Calendar => Source::Calendar { ws },
            DocKind::Personal => Source::Personal,
        };
        f(src)
    }

    fn kind_name(k: DocKind) -> &'static str {
        match k {
            DocKind::Workspace => "workspace",
            DocKind::Channel => "channel",
            DocKind::Board => "board",
            DocKind::Calendar => "calendar",
            DocKind::Personal => "personal",
        }
    }

    /// Loads a document into the cache; with `create`, makes it (genesis) when absent.
    pub(crate) fn load(&mut self, id: &DocId, create: bool) -> Result<bool> {
        self.uses += 1;
        if let Some(c) = self.docs.get_mut(id) {
            c.last_used = self.uses;
            return Ok(true);
        }
        let actor = self.me.map(|m| m.actor()).unwrap_or([0xff; 16]);
        let (doc, n) = match self.store.load_doc(&id.to_string())? {
            Some(stored) => (
                Document::load(id.clone(), &stored.bytes, actor)?,
                stored.changes_since_snapshot,
            ),
            None if create => {
                let mut doc = Document::new(id.clone(), actor);
                let snapshot = doc.save();
                let heads = flat(&doc.heads());
                let ws = id.workspace_id().map(|w| w.to_string());
                self.store.write(|tx| {
                    tx.create_doc(
                        &id.to_string(),
                        Engine::kind_name(id.kind()),
                        ws.as_deref(),
                        &snapshot,
                        &heads,
                    )
                })?;
                (doc, 0)
            }
            None => return Ok(false),
        };
        let cached = Cached {
            doc,
            changes_since_snapshot: n,
            last_used: self.uses,
        };
        self.cache(id.clone(), cached);
        Ok(true)
    }

    /// Keeps a document in the cache, evicting the least recently used one when full.
    fn cache(&mut self, id: DocId, cached: Cached) {
        if self.docs.len() >= DOC_CACHE
            && !self.docs.contains_key(&id)
            && let Some(oldest) = self
                .docs
                .iter()
                .min_by_key(|(_, c)| c.last_used)
                .map(|(k, _)| k.clone())
        {
            self.docs.remove(&oldest);
        }
        self.docs.insert(id, cached);
    }

    /// Reads a document (loading it); `None` when this replica does not have it.
    pub(crate) fn read_doc<R>(
        &mut self,
        id: &DocId,
        f: impl FnOnce(&Document) -> Result<R>,
    ) -> Result<Option<R>> {
        if !self.load(id, false)? {
            return Ok(None);
        }
        let c = self
            .docs
            .get(id)
            .ok_or_else(|| CoreError::NotFound(id.to_string()))?;
        f(&c.doc).map(Some)
    }

    /// THE edit path: runs `f` on the document, commits one change, and in one SQLite
    /// transaction stores the change, the new heads, the read-model rows of every touched
    /// entity and the outbox entry. `after` runs inside that transaction (notifications).
    pub(crate) fn edit<R>(
        &mut self,
        id: &DocId,
        f: impl FnOnce(&mut Edit<'_>) -> Result<R>,
    ) -> Result<R> {
        self.load(id, true)?;
        let now = self.now();
        let cached = self
            .docs
            .get_mut(id)
            .ok_or_else(|| CoreError::NotFound(id.to_string()))?;
        let mut edit = Edit {
            doc: &mut cached.doc,
            touched: Touched::new(),
        };
        let out = match f(&mut edit) {
            Ok(out) => out,
            Err(e) => {
                edit.doc.rollback();
                return Err(e);
            }
        };
        let touched = std::mem::take(&mut edit.touched);
        let Some(change) = cached.doc.commit(now.0) else {
            return Ok(out);
        };
        let heads = flat(&cached.doc.heads());
        let mut rows = Vec::with_capacity(touched.len());
        for (coll, key) in &touched {
            rows.push((coll.clone(), key.clone(), cached.doc.get_json(coll, key)?));
        }
        cached.changes_since_snapshot += 1;
        let snapshot = (cached.changes_since_snapshot >= COMPACT_HARD).then(|| cached.doc.save());
        let doc_id = id.to_string();
        let notify = &self.notify;
        let me = self.me;
        let res = self.store.write(|tx| -> Result<()> {
            tx.append_change(&doc_id, &change.hash, &change.bytes)?;
            tx.set_heads(&doc_id, &heads, true)?;
            tx.push_outbox(&doc_id, &change.hash, &change.bytes, now.0)?;
            for (coll, key, value) in &rows {
                if let Some(v) = value {
                    let p = Engine::with_source(id, |src| tx.project(src, coll, key, v))?;
                    crate::notify::after_projection(
                        tx, notify, me, id, coll, key, v, &p, true, now,
                    )?;
                }
            }
            if let Some(s) = &snapshot {
                tx.compact(&doc_id, s)?;
            }
            Ok(())
        });
        if let Err(e) = res {
            // The document in memory is now ahead of the database: drop it, reload next time.
            self.docs.remove(id);
            return Err(e);
        }
        self.written(
            id,
            snapshot.is_some(),
            doc_id,
            touched.into_iter().collect(),
            false,
        )?;
        Ok(out)
    }

    /// Creates many entities in one collection, one change each, in ONE transaction: the bulk
    /// path for imports and benchmarks.
    pub(crate) fn edit_many<T: serde::Serialize>(
        &mut self,
        id: &DocId,
        items: &[(String, T)],
    ) -> Result<()> {
        let coll = match id.kind() {
            DocKind::Channel => "messages",
            _ => {
                return Err(CoreError::NotFound(
                    "bulk edits exist for messages only".into(),
                ));
            }
        };
        self.load(id, true)?;
        let now = self.now();
        let cached = self
            .docs
            .get_mut(id)
            .ok_or_else(|| CoreError::NotFound(id.to_string()))?;
        let mut changes = Vec::with_capacity(items.len());
        let mut rows = Vec::with_capacity(items.len());
        for (key, v) in items {
            if let Err(e) = cached.doc.create(coll, key, v) {
                cached.doc.rollback();
                self.docs.remove(id);
                return Err(e.into());
            }
            if let Some(c) = cached.doc.commit(now.0) {
                changes.push(c);
            }
            rows.push((key.clone(), cached.doc.get_json(coll, key)?));
        }
        let heads = flat(&cached.doc.heads());
        cached.changes_since_snapshot += changes.len();
        let snapshot = (cached.changes_since_snapshot >= COMPACT_HARD).then(|| cached.doc.save());
        let doc_id = id.to_string();
        let res = self.store.write(|tx| -> Result<()> {
            for c in &changes {
                tx.append_change(&doc_id, &c.hash, &c.bytes)?;
                tx.push_outbox(&doc_id, &c.hash, &c.bytes, now.0)?;
            }
            tx.set_heads(&doc_id, &heads, true)?;
            for (key, v) in &rows {
                if let Some(v) = v {
                    Engine::with_source(id, |src| tx.project(src, coll, key, v))?;
                }
            }
            if let Some(s) = &snapshot {
                tx.compact(&doc_id, s)?;
            }
            Ok(())
        });
        if let Err(e) = res {
            self.docs.remove(id);
            return Err(e);
        }
        let entities = rows
            .into_iter()
            .map(|(k, _)| (coll.to_owned(), k))
            .collect();
        self.written(id, snapshot.is_some(), doc_id, entities, false)
    }

    /// Applies changes from another replica to one document, storing and projecting them in one
    /// transaction.
    pub fn apply_remote(&mut self, id: &DocId, changes: Vec<Vec<u8>>) -> Result<ImportReport> {
        self.apply_remote_docs(vec![(id.clone(), changes)], |_| Ok(()))
    }

    /// Applies changes to several documents in ONE transaction, in which `extra` also runs (a
    /// relay cursor, keys received). Workspace documents go first, so the channels and boards
    /// that messages and tasks refer to are known when those land.
    ///
    /// A large batch is applied in steps of [`APPLY_STEP`] changes on two threads: while the
    /// store writes one step's rows, the next step is applied to the documents (the two halves
    /// cost about the same, and a catch-up is nothing but this). Either side's error rolls the
    /// whole transaction back and drops the documents from the cache, so memory never holds
    /// what the store does not.
    pub(crate) fn apply_remote_docs(
        &mut self,
        docs: Vec<(DocId, Vec<Vec<u8>>)>,
        extra: impl FnOnce(&Tx<'_>) -> Result<()> + Send,
    ) -> Result<ImportReport> {
        // One entry per document, in kind order.
        let mut merged: Vec<(DocId, Vec<Vec<u8>>)> = Vec::with_capacity(docs.len());
        for (id, changes) in docs {
            match merged.iter_mut().find(|(d, _)| *d == id) {
                Some((_, c)) => c.extend(changes),
                None => merged.push((id, changes)),
            }
        }
        merged.sort_by_key(|(id, _)| id.kind());
        for (id, _) in &merged {
            if id.kind() == DocKind::Personal
                && self
                    .me
                    .and_then(|m| id.object_id().map(|o| o != m.user))
                    .unwrap_or(true)
            {
                // Another user's private document has no business here.
                return Err(CoreError::Forbidden(format!(
                    "{id} is another user's personal document"
                )));
            }
        }
        // The documents leave the cache while they change, and return only once stored.
        let mut work: Vec<Work> = Vec::with_capacity(merged.len());
        for (id, changes) in merged {
            self.load(&id, true)?;
            let cached = self
                .docs
                .remove(&id)
                .ok_or_else(|| CoreError::NotFound(id.to_string()))?;
            work.push(Work {
                doc_id: id.to_string(),
                id,
                cached,
                changes,
                touched: Touched::new(),
                snapshot: false,
            });
        }
        let now = self.now();
        let total: usize = work.iter().map(|w| w.changes.len()).sum();
        let mut report = ImportReport::default();
        let (store, notify, me) = (&mut self.store, &self.notify, self.me);
        let (produced, written) = if total >= PIPELINE_MIN {
            std::thread::scope(|s| {
                let (send, pieces) = std::sync::mpsc::sync_channel::<Piece>(2);
                let writer = s.spawn(move || {
                    store.write(|tx| -> Result<(usize, usize)> {
                        let counts = write_pieces(tx, notify, me, now, pieces.into_iter())?;
                        extra(tx)?;
                        Ok(counts)
                    })
                });
                let produced = produce(&mut work, &mut report, |p| send.send(p).is_ok());
                if produced.is_ok() {
                    let _ = send.send(Piece::Done);
                }
                drop(send);
                let written = writer.join().unwrap_or_else(|_| {
                    Err(CoreError::Net(
                        "the store writer stopped unexpectedly".into(),
                    ))
                });
                (produced, written)
            })
        } else {
            let mut pieces = Vec::new();
            let produced = produce(&mut work, &mut report, |p| {
                pieces.push(p);
                true
            });
            let written = match &produced {
                Ok(()) => {
                    pieces.push(Piece::Done);
                    store.write(|tx| -> Result<(usize, usize)> {
                        let counts = write_pieces(tx, notify, me, now, pieces.into_iter())?;
                        extra(tx)?;
                        Ok(counts)
                    })
                }
                Err(_) => Ok((0, 0)),
            };
            (produced, written)
        };
        // An apply error explains more than the writer's "stopped early"; either way the
        // transaction rolled back and the changed documents are dropped with `work`.
        produced?;
        let (ok, bad) = written?;
        report.entities_updated = ok;
        report.entities_rejected = bad;
        for w in work {
            self.uses += 1;
            let mut cached = w.cached;
            cached.last_used = self.uses;
            if w.snapshot {
                cached.changes_since_snapshot = 0;
            }
            self.cache(w.id.clone(), cached);
            self.written(
                &w.id,
                false,
                w.doc_id,
                w.touched.into_iter().collect(),
                true,
            )?;
        }
        Ok(report)
    }

    /// What every write path does once its transaction committed: note a snapshot, refresh
    /// the cached rules when the personal document changed, and tell subscribers.
    fn written(
        &mut self,
        id: &DocId,
        snapshot: bool,
        doc: String,
        entities: Vec<(String, String)>,
        remote: bool,
    ) -> Result<()> {
        if snapshot && let Some(c) = self.docs.get_mut(id) {
            c.changes_since_snapshot = 0;
        }
        if id.kind() == DocKind::Personal {
            self.reload_notify_state()?;
        }
        if !remote {
            self.outbox_notify.notify_one();
        }
        if !entities.is_empty() {
            self.emit(ChangeEvent {
                doc,
                entities,
                remote,
            });
        }
        Ok(())
    }

    /// Start-up check: every document whose read model lags its heads is re-projected.
    fn check_heads(&mut self) -> Result<()> {
        let stale: Vec<String> = self
            .store
            .docs(None)?
            .into_iter()
            .filter(|d| d.heads != d.projected_heads)
            .map(|d| d.doc_id)
            .collect();
        for d in stale {
            tracing::info!(doc = %d, "read model behind its document: re-projecting");
            self.reproject(&d.parse()?)?;
        }
        Ok(())
    }

    /// Re-projects every entity of one document.
    pub(crate) fn reproject(&mut self, id: &DocId) -> Result<usize> {
        if !self.load(id, false)? {
            return Ok(0);
        }
        let cached = self
            .docs
            .get_mut(id)
            .ok_or_else(|| CoreError::NotFound(id.to_string()))?;
        let mut rows = Vec::new();
        for coll in id.kind().collections() {
            for key in cached.doc.keys(coll)? {
                if let Some(v) = cached.doc.get_json(coll, &key)? {
                    rows.push((coll.to_string(), key, v));
                }
            }
        }
        let heads = flat(&cached.doc.heads());
        let doc_id = id.to_string();
        let now = self.now();
        let notify = &self.notify;
        let me = self.me;
        self.store.write(|tx| -> Result<()> {
            for (coll, key, v) in &rows {
                match Engine::with_source(id, |src| tx.project(src, coll, key, v)) {
                    Ok(p) => crate::notify::after_projection(
                        tx, notify, me, id, coll, key, v, &p, false, now,
                    )?,
                    Err(weft_store::StoreError::Entity { .. }) => {}
                    Err(e) => return Err(e.into()),
                }
            }
            tx.set_heads(&doc_id, &heads, true)?;
            Ok(())
        })?;
        Ok(rows.len())
    }

    /// Drops the whole read model and rebuilds it from the documents.
    pub fn rebuild_read_model(&mut self) -> Result<usize> {
        self.store.write(|tx| tx.clear_read_model())?;
        let mut n = 0;
        // Workspace documents first: messages and tasks refer to their channels and boards.
        let mut docs: Vec<DocId> = self
            .store
            .docs(None)?
            .into_iter()
            .filter_map(|d| d.doc_id.parse().ok())
            .collect();
        docs.sort_by_key(|d: &DocId| (d.kind(), d.to_string()));
        for d in docs {
            n += self.reproject(&d)?;
        }
        self.reload_notify_state()?;
        Ok(n)
    }

    /// Snapshots every document that has changes since its last snapshot (storage compaction).
    pub fn compact_all(&mut self) -> Result<usize> {
        Ok(self.compact_docs(1, None)?.0)
    }

    /// Background upkeep, off the edit path: snapshots documents with many changes, merges
    /// full-text index segments (at most `UPKEEP_BUDGET` per call) and checkpoints the WAL.
    /// Returns whether index merging has work left for the next call.
    pub fn maintain(&mut self) -> Result<bool> {
        let started = std::time::Instant::now();
        let more = self.compact_docs(COMPACT_EVERY, Some(UPKEEP_BUDGET / 2))?.1;
        let left = UPKEEP_BUDGET.saturating_sub(started.elapsed());
        Ok(self.store.upkeep(left)? || more)
    }

    /// Snapshots documents with at least `min` changes since their last snapshot, stopping
    /// once `budget` is spent; returns how many, and whether some were left for next time.
    fn compact_docs(
        &mut self,
        min: usize,
        budget: Option<std::time::Duration>,
    ) -> Result<(usize, bool)> {
        let started = std::time::Instant::now();
        let mut n = 0;
        for doc in self.store.docs_to_compact(min)? {
            if budget.is_some_and(|b| started.elapsed() >= b) {
                return Ok((n, true));
            }
            let id: DocId = doc.parse()?;
            self.load(&id, false)?;
            let Some(c) = self.docs.get_mut(&id) else {
                continue;
            };
            let snapshot = c.doc.save();
            c.changes_since_snapshot = 0;
            let doc_id = id.to_string();
            self.store.write(|tx| tx.compact(&doc_id, &snapshot))?;
            n += 1;
        }
        Ok((n, false))
    }

    /// Every document this replica holds.
    pub fn doc_ids(&self) -> Result<Vec<DocId>> {
        Ok(self
            .store
            .docs(None)?
            .into_iter()
            .filter_map(|d| d.doc_id.parse().ok())
            .collect())
    }

    /// Saved bytes and heads of one document, for comparing replicas in tests.
    pub fn doc_state(&mut self, id: &DocId) -> Result<Option<(Vec<[u8; 32]>, serde_json::Value)>> {
        self.read_doc(id, |d| {
            let mut all = serde_json::Map::new();
            for coll in id.kind().collections() {
                let mut m = serde_json::Map::new();
                for k in d.keys(coll)? {
                    m.insert(k.clone(), d.get_json(coll, &k)?.unwrap_or_default());
                }
                all.insert((*coll).into(), m.into());
            }
            Ok(all.into())
        })?
        .map(|state| {
            let heads = self
                .docs
                .get_mut(id)
                .map(|c| c.doc.heads())
                .unwrap_or_default();
            Ok((heads, state))
        })
        .transpose()
    }

    /// Every change of a document not covered by `heads`.
    pub fn changes_since(&mut self, id: &DocId, heads: &[[u8; 32]]) -> Result<Vec<Vec<u8>>> {
        if !self.load(id, false)? {
            return Ok(Vec::new());
        }
        Ok(self
            .docs
            .get_mut(id)
            .map(|c| c.doc.changes_since(heads))
            .unwrap_or_default())
    }

    pub(crate) fn tx_write<R>(&mut self, f: impl FnOnce(&Tx<'_>) -> Result<R>) -> Result<R> {
        self.store.write(f)
    }
}

/// Changes applied per step of a large remote batch (see [`Engine::apply_remote_docs`]).
pub const APPLY_STEP: usize = 250;
/// Batches with fewer changes are applied on the calling thread alone.
pub const PIPELINE_MIN: usize = 2 * APPLY_STEP;

/// A document taken out of the cache while a remote batch changes it.
struct Work {
    id: DocId,
    doc_id: String,
    cached: Cached,
    changes: Vec<Vec<u8>>,
    touched: Touched,
    /// A snapshot replaced its stored changes.
    snapshot: bool,
}

/// What one step of a remote batch hands the store.
enum Piece {
    /// Changes new to a document and the entities they touched, with their current values.
    Step {
        id: DocId,
        doc_id: String,
        new_changes: Vec<weft_sync::LocalChange>,
        rows: Vec<(String, String, Option<serde_json::Value>)>,
    },
    /// A document is done: its heads, what waits for missing changes, and a snapshot to keep.
    End {
        doc_id: String,
        heads: Vec<u8>,
        pending: usize,
        snapshot: Option<Vec<u8>>,
    },
    /// Every document is done; without this the transaction rolls back.
    Done,
}

/// Applies each document's changes step by step, handing each step to `send` (which says
/// whether the store still listens).
fn produce(
    work: &mut [Work],
    report: &mut ImportReport,
    mut send: impl FnMut(Piece) -> bool,
) -> Result<()> {
    for w in work.iter_mut() {
        report.documents += 1;
        report.changes_received += w.changes.len();
        let mut changes = std::mem::take(&mut w.changes).into_iter().peekable();
        let mut new_total = 0;
        while changes.peek().is_some() {
            let step: Vec<Vec<u8>> = changes.by_ref().take(APPLY_STEP).collect();
            let applied = w.cached.doc.apply_batch(step)?;
            let mut values = applied.values;
            let mut rows = Vec::with_capacity(applied.touched.len());
            for (coll, key) in &applied.touched {
                let value = match values.remove(&(coll.clone(), key.clone())) {
                    Some(v) => Some(v),
                    None => w.cached.doc.get_json(coll, key)?,
                };
                rows.push((coll.clone(), key.clone(), value));
            }
            new_total += applied.new_changes.len();
            w.touched.extend(applied.touched);
            let piece = Piece::Step {
                id: w.id.clone(),
                doc_id: w.doc_id.clone(),
                new_changes: applied.new_changes,
                rows,
            };
            if !send(piece) {
                return Err(CoreError::Net("the store stopped taking changes".into()));
            }
        }
        report.changes_new += new_total;
        let pending = w.cached.doc.pending_changes();
        report.changes_pending += pending;
        w.cached.changes_since_snapshot += new_total;
        let snapshot =
            (w.cached.changes_since_snapshot >= COMPACT_HARD).then(|| w.cached.doc.save());
        w.snapshot = snapshot.is_some();
        let piece = Piece::End {
            doc_id: w.doc_id.clone(),
            heads: flat(&w.cached.doc.heads()),
            pending,
            snapshot,
        };
        if !send(piece) {
            return Err(CoreError::Net("the store stopped taking changes".into()));
        }
    }
    Ok(())
}

/// Writes the pieces of a remote batch into one transaction; returns the entities projected
/// and those refused. Fails (rolling back) when the pieces stop before [`Piece::Done`].
fn write_pieces(
    tx: &Tx<'_>,
    notify: &crate::notify::NotifyState,
    me: Option<Identity>,
    now: Timestamp,
    pieces: impl Iterator<Item = Piece>,
) -> Result<(usize, usize)> {
    let (mut ok, mut bad) = (0, 0);
    for piece in pieces {
        match piece {
            Piece::Step {
                id,
                doc_id,
                new_changes,
                rows,
            } => {
                for c in &new_changes {
                    tx.append_change(&doc_id, &c.hash, &c.bytes)?;
                }
                for (coll, key, value) in &rows {
                    let Some(v) = value else { continue };
                    match Engine::with_source(&id, |src| tx.project(src, coll, key, v)) {
                        Ok(pr) => {
                            ok += 1;
                            crate::notify::after_projection(
                                tx, notify, me, &id, coll, key, v, &pr, false, now,
                            )?;
                        }
                        Err(weft_store::StoreError::Entity {
                            collection,
                            key,
                            reason,
                        }) => {
                            tracing::warn!(doc = %doc_id, %collection, %key, %reason, "entity left out of the read model");
                            bad += 1;
                        }
                        Err(e) => return Err(e.into()),
                    }
                }
            }
            Piece::End {
                doc_id,
                heads,
                pending,
                snapshot,
            } => {
                tx.set_heads(&doc_id, &heads, true)?;
                tx.set_pending(&doc_id, pending)?;
                if let Some(s) = &snapshot {
                    tx.compact(&doc_id, s)?;
                }
            }
            Piece::Done => return Ok((ok, bad)),
        }
    }
    Err(CoreError::Net(
        "a remote batch stopped before its end".into(),
    ))
}

/// Heads as one sorted byte string (how the store keeps them).
pub(crate) fn flat(heads: &[[u8; 32]]) -> Vec<u8> {
    heads.iter().flat_map(|h| h.iter().copied()).collect()
}

/// A change's hash, as Automerge computes it.
/// 80 random bits for an id.
pub(crate) fn rand_u128() -> u128 {
    ulid::Ulid::new().random()
}
