//! One Automerge document with Weft's entity layout, and the local and remote changes to it.

use crate::{DocId, Hash, SyncError, json};
use automerge::legacy::{Key as LegacyKey, ObjectId as LegacyObj};
use automerge::{
    ActorId, AutoCommit, Change, ChangeHash, ObjId, ObjType, Prop, ReadDoc, Value,
    transaction::{CommitOptions, Transactable},
};
use serde::{Serialize, de::DeserializeOwned};
use std::collections::{BTreeSet, HashMap, HashSet};

/// Entities a change touched: (collection, entity key).
pub type Touched = BTreeSet<(String, String)>;

/// What applying a batch of remote changes did.
#[derive(Debug, Default)]
pub struct Applied {
    /// Entities whose state may have changed.
    pub touched: Touched,
    /// The changes new to this document, as received.
    pub new_changes: Vec<LocalChange>,
}

/// Where an object sits in a Weft document.
#[derive(Debug, Clone)]
enum Place {
    Root,
    Collection(String),
    Entity(String, String),
    Unknown,
}

/// A change with its hash: made on this device, or new from a peer; ready to store and send.
#[derive(Debug, Clone)]
pub struct LocalChange {
    pub hash: Hash,
    pub bytes: Vec<u8>,
}

/// Every replica makes the genesis change with this actor and time, so it hashes the same.
const GENESIS_ACTOR: [u8; 16] = *b"weft-genesis-v1\0";

/// A Weft document.
pub struct Document {
    id: DocId,
    doc: AutoCommit,
}

impl std::fmt::Debug for Document {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Document")
            .field("id", &self.id.to_string())
            .finish()
    }
}

impl Document {
    /// A new document: the shared genesis change, then `actor` for this device's edits.
    pub fn new(id: DocId, actor: [u8; 16]) -> Document {
        let mut doc = AutoCommit::new().with_actor(ActorId::from(&GENESIS_ACTOR[..]));
        for name in id.kind().collections() {
            // A fresh document accepts these puts; failure would be a bug in automerge.
            let _ = doc.put_object(automerge::ROOT, *name, ObjType::Map);
        }
        doc.commit_with(CommitOptions::default().with_time(0));
        doc.set_actor(ActorId::from(&actor[..]));
        Document { id, doc }
    }

    /// Loads a saved document (snapshot and appended changes), refusing corrupt bytes.
    pub fn load(id: DocId, bytes: &[u8], actor: [u8; 16]) -> Result<Document, SyncError> {
        let doc = AutoCommit::load(bytes)
            .map_err(|e| SyncError::Corrupt {
                doc: id.to_string(),
                reason: e.to_string(),
            })?
            .with_actor(ActorId::from(&actor[..]));
        let mut d = Document { id, doc };
        d.check_layout()?;
        Ok(d)
    }

    /// The document's id.
    pub fn id(&self) -> &DocId {
        &self.id
    }

    fn check_layout(&mut self) -> Result<(), SyncError> {
        for name in self.id.kind().collections() {
            match self.doc.get(automerge::ROOT, *name)? {
                Some((Value::Object(ObjType::Map), _)) => {}
                _ => {
                    return Err(SyncError::Corrupt {
                        doc: self.id.to_string(),
                        reason: format!("collection {name} is missing"),
                    });
                }
            }
        }
        Ok(())
    }

    fn collection(&self, name: &str) -> Result<ObjId, SyncError> {
        match self.doc.get(automerge::ROOT, name)? {
            Some((Value::Object(ObjType::Map), id)) => Ok(id),
            _ => Err(SyncError::NotFound(format!(
                "collection {name} in {}",
                self.id
            ))),
        }
    }

    fn entity(&self, coll: &str, key: &str) -> Result<ObjId, SyncError> {
        let c = self.collection(coll)?;
        match self.doc.get(&c, key)? {
            Some((Value::Object(_), id)) => Ok(id),
            _ => Err(SyncError::NotFound(format!("{key} in {coll}"))),
        }
    }

    /// Whether an entity (or scalar entry) exists.
    pub fn contains(&self, coll: &str, key: &str) -> Result<bool, SyncError> {
        let c = self.collection(coll)?;
        Ok(self.doc.get(&c, key)?.is_some())
    }

    /// An entity or scalar entry as JSON.
    pub fn get_json(&self, coll: &str, key: &str) -> Result<Option<serde_json::Value>, SyncError> {
        let c = self.collection(coll)?;
        Ok(match self.doc.get(&c, key)? {
            None => None,
            Some((Value::Scalar(s), _)) => Some(json::from_scalar(&s)),
            Some((Value::Object(_), id)) => Some(json::from_hydrate(&self.doc.hydrate(&id, None)?)),
        })
    }

    /// An entity decoded into its domain type.
    pub fn get<T: DeserializeOwned>(&self, coll: &str, key: &str) -> Result<Option<T>, SyncError> {
        match self.get_json(coll, key)? {
            None => Ok(None),
            Some(v) => serde_json::from_value(v)
                .map(Some)
                .map_err(|e| SyncError::Decode {
                    collection: coll.into(),
                    key: key.into(),
                    reason: e.to_string(),
                }),
        }
    }

    /// Keys of a collection, sorted.
    pub fn keys(&self, coll: &str) -> Result<Vec<String>, SyncError> {
        let c = self.collection(coll)?;
        Ok(self.doc.keys(&c).collect())
    }

    /// Number of entries in a collection.
    pub fn len(&self, coll: &str) -> Result<usize, SyncError> {
        let c = self.collection(coll)?;
        Ok(self.doc.length(&c))
    }

    /// Writes a new entity (or replaces one wholesale; prefer [`Document::set`] for edits).
    pub fn create<T: Serialize>(
        &mut self,
        coll: &str,
        key: &str,
        value: &T,
    ) -> Result<(), SyncError> {
        let c = self.collection(coll)?;
        let mut v = to_json(value)?;
        // An absent optional field reads back as `None`; not writing it saves an operation
        // per field on every replica, for the life of the document.
        strip_nulls(&mut v);
        json::put(&mut self.doc, &c, Prop::Map(key.into()), &v, 0)?;
        Ok(())
    }

    /// Sets one field (or a nested key, by `path`) of an existing entity; the path's
    /// intermediate maps must exist. A concurrent edit of another field survives.
    pub fn set<T: Serialize>(
        &mut self,
        coll: &str,
        key: &str,
        path: &[&str],
        value: &T,
    ) -> Result<(), SyncError> {
        let Some((last, parents)) = path.split_last() else {
            return Err(SyncError::NotFound("empty path".into()));
        };
        let mut obj = self.entity(coll, key)?;
        for p in parents {
            obj = match self.doc.get(&obj, *p)? {
                Some((Value::Object(ObjType::Map), id)) => id,
                _ => return Err(SyncError::NotFound(format!("{p} of {key} in {coll}"))),
            };
        }
        let v = to_json(value)?;
        json::put(&mut self.doc, &obj, Prop::Map((*last).into()), &v, 0)?;
        Ok(())
    }

    /// Sets a scalar entry of a collection (for collections of scalars, e.g. read state).
    pub fn put_entry<T: Serialize>(
        &mut self,
        coll: &str,
        key: &str,
        value: &T,
    ) -> Result<(), SyncError> {
        self.create(coll, key, value)
    }

    /// Appends to a list field of an entity, creating the list if the entity has none yet.
    pub fn push<T: Serialize>(
        &mut self,
        coll: &str,
        key: &str,
        field: &str,
        value: &T,
    ) -> Result<(), SyncError> {
        let obj = self.entity(coll, key)?;
        let list = match self.doc.get(&obj, field)? {
            Some((Value::Object(ObjType::List), id)) => id,
            _ => self.doc.put_object(&obj, field, ObjType::List)?,
        };
        let len = self.doc.length(&list);
        let v = to_json(value)?;
        json::insert(&mut self.doc, &list, len, &v, 0)?;
        Ok(())
    }

    /// Ends the pending edit as one change made at `at` (ms); `None` when nothing changed.
    pub fn commit(&mut self, at: i64) -> Option<LocalChange> {
        let hash = self
            .doc
            .commit_with(CommitOptions::default().with_time(at / 1000))?;
        let change = self.doc.get_change_by_hash(&hash)?;
        Some(LocalChange {
            hash: hash.0,
            bytes: change.raw_bytes().to_vec(),
        })
    }

    /// Drops the pending edit.
    pub fn rollback(&mut self) {
        self.doc.rollback();
    }

    /// Applies remote changes (in any order; ones whose dependencies are missing wait inside
    /// the document) and returns the entities whose state changed.
    pub fn apply(&mut self, changes: Vec<Vec<u8>>) -> Result<Touched, SyncError> {
        Ok(self.apply_batch(changes)?.touched)
    }

    /// Applies remote changes as [`Document::apply`] does and also returns the changes that
    /// became part of the document (to store), in the order received.
    ///
    /// When nothing waits for missing dependencies before or after, the entities touched are
    /// read off the changes' operations (an operation on a collection map touches the entity
    /// at its key; one on an object inside an entity touches that entity), which costs a
    /// fraction of diffing the document. Otherwise (changes released from the queue are not at
    /// hand) the document is diffed between the heads before and after.
    pub fn apply_batch(&mut self, changes: Vec<Vec<u8>>) -> Result<Applied, SyncError> {
        let mut decoded = Vec::with_capacity(changes.len());
        for bytes in changes {
            decoded.push(verified_change(&self.id, bytes)?);
        }
        let queued_before = !self.doc.get_missing_deps(&[]).is_empty();
        let hashes: Vec<ChangeHash> = decoded.iter().map(Change::hash).collect();
        let absent: HashSet<ChangeHash> = self.doc.get_missing_deps(&hashes).into_iter().collect();
        let mut fresh: Vec<Change> = Vec::with_capacity(absent.len());
        let mut seen = HashSet::with_capacity(absent.len());
        for c in &decoded {
            if absent.contains(&c.hash()) && seen.insert(c.hash()) {
                fresh.push(c.clone());
            }
        }
        let before = self.doc.get_heads();
        self.doc.apply_changes_batch(decoded)?;
        let after = self.doc.get_heads();
        if before == after {
            return Ok(Applied::default());
        }
        let quick = if queued_before || !self.doc.get_missing_deps(&[]).is_empty() {
            None
        } else {
            self.touched_by(&fresh)
        };
        let Some(touched) = quick else {
            let touched = self.touched_between(&before, &after);
            let new_changes = self
                .doc
                .get_changes(&before)
                .into_iter()
                .map(|c| LocalChange {
                    hash: c.hash().0,
                    bytes: c.raw_bytes().to_vec(),
                })
                .collect();
            return Ok(Applied {
                touched,
                new_changes,
            });
        };
        Ok(Applied {
            touched,
            new_changes: fresh
                .iter()
                .map(|c| LocalChange {
                    hash: c.hash().0,
                    bytes: c.raw_bytes().to_vec(),
                })
                .collect(),
        })
    }

    /// Entities the operations of `changes` (all applied) write to; `None` when an operation
    /// sits somewhere the layout does not place (the caller diffs instead).
    fn touched_by(&mut self, changes: &[Change]) -> Option<Touched> {
        // Where each object sits: the document root, a collection, or inside an entity.
        let mut place: HashMap<LegacyObj, Place> = HashMap::new();
        place.insert(LegacyObj::Root, Place::Root);
        let mut out = Touched::new();
        for change in changes {
            let expanded = change.decode();
            let start = expanded.start_op.get();
            for (i, op) in expanded.operations.iter().enumerate() {
                let at = match place.get(&op.obj) {
                    Some(p) => p.clone(),
                    None => {
                        let p = self.place_of(&op.obj);
                        place.insert(op.obj.clone(), p.clone());
                        p
                    }
                };
                let key = match &op.key {
                    LegacyKey::Map(k) => Some(k.to_string()),
                    LegacyKey::Seq(_) => None,
                };
                let here = match (&at, key) {
                    (Place::Root, Some(coll)) => Place::Collection(coll),
                    (Place::Collection(coll), Some(key)) => {
                        out.insert((coll.clone(), key.clone()));
                        Place::Entity(coll.clone(), key)
                    }
                    (Place::Entity(coll, key), _) => {
                        out.insert((coll.clone(), key.clone()));
                        at.clone()
                    }
                    _ => return None,
                };
                if matches!(op.action, automerge::legacy::OpType::Make(_)) {
                    let id = automerge::legacy::OpId(start + i as u64, expanded.actor_id.clone());
                    place.insert(LegacyObj::Id(id), here);
                }
            }
        }
        Some(out)
    }

    /// Where an object made by an earlier change sits, from its path in the document.
    fn place_of(&mut self, obj: &LegacyObj) -> Place {
        let Ok((id, _)) = self.doc.import(&obj.to_string()) else {
            return Place::Unknown;
        };
        let Ok(parents) = self.doc.parents(&id) else {
            return Place::Unknown;
        };
        let path = parents.path();
        match (path.first(), path.get(1)) {
            (None, _) => Place::Root,
            (Some((_, Prop::Map(coll))), None) => Place::Collection(coll.clone()),
            (Some((_, Prop::Map(coll))), Some((_, Prop::Map(key)))) => {
                Place::Entity(coll.clone(), key.clone())
            }
            _ => Place::Unknown,
        }
    }

    /// Entities whose state differs between two sets of heads.
    pub fn touched_between(&mut self, before: &[ChangeHash], after: &[ChangeHash]) -> Touched {
        let mut out = Touched::new();
        for patch in self.doc.diff(before, after) {
            let mut path = patch.path.iter().map(|(_, p)| p);
            match (path.next(), path.next()) {
                (Some(Prop::Map(coll)), Some(Prop::Map(key))) => {
                    out.insert((coll.clone(), key.clone()));
                }
                (Some(Prop::Map(coll)), None) => {
                    if let automerge::PatchAction::PutMap { key, .. }
                    | automerge::PatchAction::DeleteMap { key } = &patch.action
                    {
                        out.insert((coll.clone(), key.clone()));
                    }
                }
                _ => {}
            }
        }
        out
    }

    /// Current heads, sorted.
    pub fn heads(&mut self) -> Vec<Hash> {
        let mut h: Vec<Hash> = self.doc.get_heads().into_iter().map(|h| h.0).collect();
        h.sort();
        h
    }

    /// The whole document, compressed.
    pub fn save(&mut self) -> Vec<u8> {
        self.doc.save()
    }

    /// Every change (raw bytes) not covered by `heads`.
    pub fn changes_since(&mut self, heads: &[Hash]) -> Vec<Vec<u8>> {
        let have: Vec<ChangeHash> = heads.iter().map(|h| ChangeHash(*h)).collect();
        self.doc
            .get_changes(&have)
            .into_iter()
            .map(|c| c.raw_bytes().to_vec())
            .collect()
    }

    /// Whether this document has every change behind `heads`.
    pub fn has_all(&mut self, heads: &[Hash]) -> bool {
        let hs: Vec<ChangeHash> = heads.iter().map(|h| ChangeHash(*h)).collect();
        self.doc.get_missing_deps(&hs).is_empty()
            && hs.iter().all(|h| self.doc.get_change_by_hash(h).is_some())
    }

    /// Changes received whose dependencies have not arrived yet.
    pub fn pending_changes(&mut self) -> usize {
        self.doc.get_missing_deps(&[]).len()
    }
}

/// Decodes a change and checks its header checksum, which Automerge's parser does not: the
/// 4 bytes after the magic are the first 4 of the SHA-256 the change hash is, so a flipped bit
/// anywhere is caught instead of becoming a different, valid-looking change.
fn verified_change(doc: &DocId, bytes: Vec<u8>) -> Result<Change, SyncError> {
    let corrupt = |reason: String| SyncError::Corrupt {
        doc: doc.to_string(),
        reason,
    };
    let header: Option<[u8; 4]> = bytes.get(4..8).and_then(|b| b.try_into().ok());
    let c = Change::from_bytes(bytes).map_err(|e| corrupt(format!("bad change: {e}")))?;
    if header != c.hash().0.get(..4).and_then(|b| b.try_into().ok()) {
        return Err(corrupt("change checksum mismatch".into()));
    }
    Ok(c)
}

/// Removes `null` members from every map in `v` (list items are kept: positions matter).
fn strip_nulls(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Object(m) => {
            m.retain(|_, x| !x.is_null());
            m.values_mut().for_each(strip_nulls);
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(strip_nulls),
        _ => {}
    }
}

fn to_json<T: Serialize>(value: &T) -> Result<serde_json::Value, SyncError> {
    serde_json::to_value(value).map_err(|e| SyncError::Decode {
        collection: String::new(),
        key: String::new(),
        reason: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ws() -> DocId {
        DocId::workspace("01JD0000000000000000000000".parse().unwrap())
    }

    fn sync_pair(a: &mut Document, b: &mut Document) {
        let ha = a.heads();
        let hb = b.heads();
        let to_b = a.changes_since(&hb);
        let to_a = b.changes_since(&ha);
        b.apply(to_b).unwrap();
        a.apply(to_a).unwrap();
    }

    #[test]
    fn genesis_is_identical_on_every_replica() {
        let mut a = Document::new(ws(), [1; 16]);
        let mut b = Document::new(ws(), [2; 16]);
        assert_eq!(a.heads(), b.heads());
    }

    #[test]
    fn concurrent_entities_in_one_collection_both_survive() {
        let mut a = Document::new(ws(), [1; 16]);
        let mut b = Document::new(ws(), [2; 16]);
        a.create("labels", "l1", &json!({"name": "bug"})).unwrap();
        a.commit(1).unwrap();
        b.create("labels", "l2", &json!({"name": "ux"})).unwrap();
        b.commit(1).unwrap();
        sync_pair(&mut a, &mut b);
        assert_eq!(a.keys("labels").unwrap(), vec!["l1", "l2"]);
        assert_eq!(a.heads(), b.heads());
    }

    #[test]
    fn concurrent_edits_of_different_fields_both_survive() {
        let mut a = Document::new(ws(), [1; 16]);
        a.create("labels", "l1", &json!({"name": "bug", "color": "red"}))
            .unwrap();
        a.commit(1).unwrap();
        let mut b = Document::new(ws(), [2; 16]);
        b.apply(a.changes_since(&[])).unwrap();
        a.set("labels", "l1", &["name"], &"defect").unwrap();
        a.commit(2).unwrap();
        b.set("labels", "l1", &["color"], &"blue").unwrap();
        b.commit(2).unwrap();
        sync_pair(&mut a, &mut b);
        let v = b.get_json("labels", "l1").unwrap().unwrap();
        assert_eq!(v, json!({"name": "defect", "color": "blue"}));
    }

    #[test]
    fn apply_reports_what_changed() {
        let mut a = Document::new(ws(), [1; 16]);
        a.create("labels", "l1", &json!({"name": "bug", "tags": {"x": true}}))
            .unwrap();
        a.commit(1).unwrap();
        let mut b = Document::new(ws(), [2; 16]);
        let t = b.apply(a.changes_since(&[])).unwrap();
        assert_eq!(
            t.into_iter().collect::<Vec<_>>(),
            vec![("labels".into(), "l1".into())]
        );
        a.set("labels", "l1", &["tags", "y"], &true).unwrap();
        let c = a.commit(2).unwrap();
        let t = b.apply(vec![c.bytes.clone()]).unwrap();
        assert_eq!(t.len(), 1);
        // Applying the same change again is a no-op.
        assert!(b.apply(vec![c.bytes]).unwrap().is_empty());
    }

    /// One random edit of the label collection: create, set a field, set a nested key,
    /// append to a list, or overwrite a scalar entry.
    fn random_edit(d: &mut Document, op: u8, k: u8, at: i64) {
        let key = format!("l{}", k % 6);
        let exists = d.contains("labels", &key).unwrap()
            && d.get_json("labels", &key)
                .unwrap()
                .is_some_and(|v| v.is_object());
        match (op % 5, exists) {
            (0, _) | (_, false) => d
                .create(
                    "labels",
                    &key,
                    &json!({"name": format!("n{at}"), "tags": {}, "log": [], "gone": null}),
                )
                .unwrap(),
            (1, true) => d.set("labels", &key, &["name"], &format!("x{at}")).unwrap(),
            (2, true) => d.set("labels", &key, &["tags", "t"], &at).unwrap(),
            (3, true) => d.push("labels", &key, "log", &json!({"at": at})).unwrap(),
            _ => d.put_entry("labels", &format!("e{}", k % 3), &at).unwrap(),
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
        /// Reading the touched entities off the operations never misses one that the document
        /// diff reports, whatever the edits, their interleaving and the batches they arrive in.
        #[test]
        fn touched_entities_cover_every_visible_change(
            edits in proptest::collection::vec((0u8..2, 0u8..5, 0u8..12), 1..40),
            cuts in proptest::collection::vec(1usize..6, 1..10),
            reverse in proptest::bool::ANY,
        ) {
            let mut a = Document::new(ws(), [1; 16]);
            let mut c = Document::new(ws(), [3; 16]);
            for (i, (who, op, k)) in edits.iter().enumerate() {
                let d = if *who == 0 { &mut a } else { &mut c };
                random_edit(d, *op, *k, i as i64);
                d.commit(i as i64);
                if i % 7 == 6 {
                    sync_pair(&mut a, &mut c);
                }
            }
            let mut all = a.changes_since(&[]);
            for ch in c.changes_since(&[]) {
                if !all.contains(&ch) {
                    all.push(ch);
                }
            }
            if reverse {
                all.reverse();
            }
            let mut b = Document::new(ws(), [2; 16]);
            let mut rest = all.as_slice();
            let mut cut = cuts.iter().cycle();
            while !rest.is_empty() {
                let n = (*cut.next().unwrap()).min(rest.len());
                let (batch, tail) = rest.split_at(n);
                rest = tail;
                let before: Vec<ChangeHash> = b.heads().into_iter().map(ChangeHash).collect();
                let applied = b.apply_batch(batch.to_vec()).unwrap();
                let after: Vec<ChangeHash> = b.heads().into_iter().map(ChangeHash).collect();
                let truth = b.touched_between(&before, &after);
                proptest::prop_assert!(
                    truth.is_subset(&applied.touched),
                    "missed {:?}",
                    truth.difference(&applied.touched).collect::<Vec<_>>()
                );
                for ch in &applied.new_changes {
                    proptest::prop_assert!(batch.contains(&ch.bytes) || reverse);
                }
            }
            let mut a2 = a;
            sync_pair(&mut a2, &mut c);
            proptest::prop_assert_eq!(b.heads(), a2.heads());
        }
    }

    #[test]
    fn corrupt_changes_and_snapshots_are_refused() {
        let mut a = Document::new(ws(), [1; 16]);
        assert!(matches!(
            a.apply(vec![vec![1, 2, 3]]),
            Err(SyncError::Corrupt { .. })
        ));
        let mut saved = a.save();
        let n = saved.len();
        saved.truncate(n / 2);
        assert!(Document::load(ws(), &saved, [1; 16]).is_err());
        assert!(Document::load(ws(), b"", [1; 16]).is_err());
    }

    #[test]
    fn every_flipped_byte_of_a_change_is_refused() {
        let mut a = Document::new(ws(), [1; 16]);
        a.create("labels", "l1", &json!({"name": "bug", "color": "red"}))
            .unwrap();
        let c = a.commit(5).unwrap();
        for i in 0..c.bytes.len() {
            let mut b = c.bytes.clone();
            b[i] ^= 0x55;
            let mut d = Document::new(ws(), [2; 16]);
            assert!(d.apply(vec![b]).is_err(), "flip at byte {i} accepted");
            assert!(!d.contains("labels", "l1").unwrap());
        }
    }

    #[test]
    fn save_and_load_keep_everything() {
        let mut a = Document::new(ws(), [1; 16]);
        a.create("labels", "l1", &json!({"name": "bug"})).unwrap();
        a.push("labels", "l1", "history", &json!({"at": 1}))
            .unwrap();
        a.commit(1).unwrap();
        let bytes = a.save();
        let mut b = Document::load(ws(), &bytes, [2; 16]).unwrap();
        assert_eq!(b.heads(), a.heads());
        assert_eq!(
            b.get_json("labels", "l1").unwrap(),
            a.get_json("labels", "l1").unwrap()
        );
    }

    #[test]
    fn too_deep_json_is_refused() {
        let mut a = Document::new(ws(), [1; 16]);
        let mut v = json!(1);
        for _ in 0..40 {
            v = json!({ "x": v });
        }
        assert!(a.create("labels", "deep", &v).is_err());
        a.rollback();
    }
}
