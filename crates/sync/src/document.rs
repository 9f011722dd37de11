//! One Automerge document with Weft's entity layout, and the local and remote changes to it.

use crate::{DocId, Hash, SyncError, json};
use automerge::legacy::{
    Key as LegacyKey, ObjectId as LegacyObj, Op as LegacyOp, OpId as LegacyOpId,
};
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
    /// The current value of touched entities the batch created whole, read off its operations
    /// (reading them back from the document costs more than applying them); the others are
    /// read with [`Document::get_json`].
    pub values: Values,
}

/// Entities' current values, by (collection, key).
pub type Values = HashMap<(String, String), serde_json::Value>;

/// Entities being rebuilt from the operations that created them, in [`Document::touched_by`].
#[derive(Default)]
struct Built {
    /// The object made at each entity's key, or `None` once the entity cannot be rebuilt from
    /// this batch alone (an existing entity, an overwrite, a delete, an out-of-order insert).
    entities: HashMap<(String, String), Option<LegacyOpId>>,
    objects: HashMap<LegacyOpId, BuiltObj>,
}

enum BuiltObj {
    Map(
        serde_json::Map<String, serde_json::Value>,
        HashMap<String, LegacyOpId>,
    ),
    /// Items, and the element the next append must come after.
    List(Vec<Slot>, Option<LegacyOpId>),
}

enum Slot {
    Value(serde_json::Value),
    Obj(LegacyOpId),
}

/// Deepest nesting rebuilt from operations; deeper entities are read from the document.
const MAX_BUILT_DEPTH: usize = 32;

impl Built {
    /// An operation on a collection, at an entity's key.
    fn entity_op(&mut self, entity: &(String, String), op: &LegacyOp, id: LegacyOpId) {
        use automerge::legacy::OpType;
        let fresh = !self.entities.contains_key(entity)
            && op.pred.is_empty()
            && matches!(op.action, OpType::Make(ObjType::Map | ObjType::List));
        if !fresh {
            self.entities.insert(entity.clone(), None);
            return;
        }
        let obj = match op.action {
            OpType::Make(ObjType::List) => BuiltObj::List(Vec::new(), None),
            _ => BuiltObj::Map(serde_json::Map::new(), HashMap::new()),
        };
        self.objects.insert(id.clone(), obj);
        self.entities.insert(entity.clone(), Some(id));
    }

    /// An operation on an object inside an entity.
    /// An edit of an entity not (yet) seen made in this batch (it was made earlier, or the
    /// batch lists the edit before the change that made it) rules the entity out.
    fn inner_op(&mut self, entity: &(String, String), op: &LegacyOp, id: LegacyOpId) {
        let building = matches!(self.entities.get(entity), Some(Some(_)));
        if !building || !self.inner_op_ok(op, id) {
            self.entities.insert(entity.clone(), None);
        }
    }

    fn inner_op_ok(&mut self, op: &LegacyOp, id: LegacyOpId) -> bool {
        use automerge::legacy::{ElementId, OpType};
        let LegacyObj::Id(target) = &op.obj else {
            return false;
        };
        if !op.pred.is_empty() {
            return false;
        }
        let slot = match &op.action {
            OpType::Put(s) => Slot::Value(json::from_scalar(s)),
            OpType::Make(ObjType::Map) => {
                let obj = BuiltObj::Map(serde_json::Map::new(), HashMap::new());
                self.objects.insert(id.clone(), obj);
                Slot::Obj(id.clone())
            }
            OpType::Make(ObjType::List) => {
                self.objects
                    .insert(id.clone(), BuiltObj::List(Vec::new(), None));
                Slot::Obj(id.clone())
            }
            _ => return false,
        };
        match (self.objects.get_mut(target), &op.key) {
            (Some(BuiltObj::Map(values, children)), LegacyKey::Map(k)) if !op.insert => {
                let k = k.to_string();
                if values.contains_key(&k) || children.contains_key(&k) {
                    return false;
                }
                match slot {
                    Slot::Value(v) => {
                        values.insert(k, v);
                    }
                    Slot::Obj(o) => {
                        children.insert(k, o);
                    }
                }
                true
            }
            (Some(BuiltObj::List(items, last)), LegacyKey::Seq(after)) if op.insert => {
                let appends = match (after, &*last) {
                    (ElementId::Head, None) => true,
                    (ElementId::Id(a), Some(l)) => a == l,
                    _ => false,
                };
                if appends {
                    items.push(slot);
                    *last = Some(id);
                }
                appends
            }
            _ => false,
        }
    }

    /// The value of every entity rebuilt whole and confirmed by `alone` (no rival value).
    fn finish(mut self, mut alone: impl FnMut(&str, &str) -> bool) -> Values {
        let entities = std::mem::take(&mut self.entities);
        let mut out = Values::new();
        for ((coll, key), root) in entities {
            let Some(root) = root else { continue };
            if !alone(&coll, &key) {
                continue;
            }
            if let Some(v) = self.render(&root, 0) {
                out.insert((coll, key), v);
            }
        }
        out
    }

    fn render(&mut self, id: &LegacyOpId, depth: usize) -> Option<serde_json::Value> {
        if depth > MAX_BUILT_DEPTH {
            return None;
        }
        match self.objects.remove(id)? {
            BuiltObj::Map(mut values, children) => {
                for (k, child) in children {
                    let v = self.render(&child, depth + 1)?;
                    values.insert(k, v);
                }
                Some(serde_json::Value::Object(values))
            }
            BuiltObj::List(items, _) => {
                let mut out = Vec::with_capacity(items.len());
                for item in items {
                    out.push(match item {
                        Slot::Value(v) => v,
                        Slot::Obj(child) => self.render(&child, depth + 1)?,
                    });
                }
                Some(serde_json::Value::Array(out))
            }
        }
    }
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
        let Some((touched, values)) = quick else {
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
                values: Values::new(),
            });
        };
        Ok(Applied {
            touched,
            values,
            new_changes: fresh
                .iter()
                .map(|c| LocalChange {
                    hash: c.hash().0,
                    bytes: c.raw_bytes().to_vec(),
                })
                .collect(),
        })
    }

    /// Entities the operations of `changes` (all applied) write to, and the current value of
    /// each one they created whole; `None` when an operation sits somewhere the layout does not
    /// place (the caller diffs instead).
    fn touched_by(&mut self, changes: &[Change]) -> Option<(Touched, Values)> {
        // Where each object sits: the document root, a collection, or inside an entity.
        let mut place: HashMap<LegacyObj, Place> = HashMap::new();
        place.insert(LegacyObj::Root, Place::Root);
        let mut out = Touched::new();
        let mut built = Built::default();
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
                let id = || automerge::legacy::OpId(start + i as u64, expanded.actor_id.clone());
                let here = match (&at, key) {
                    (Place::Root, Some(coll)) => Place::Collection(coll),
                    (Place::Collection(coll), Some(key)) => {
                        let entity = (coll.clone(), key.clone());
                        built.entity_op(&entity, op, id());
                        out.insert(entity);
                        Place::Entity(coll.clone(), key)
                    }
                    (Place::Entity(coll, key), _) => {
                        let entity = (coll.clone(), key.clone());
                        built.inner_op(&entity, op, id());
                        out.insert(entity);
                        at.clone()
                    }
                    _ => return None,
                };
                if matches!(op.action, automerge::legacy::OpType::Make(_)) {
                    place.insert(LegacyObj::Id(id()), here);
                }
            }
        }
        let values = built.finish(|coll, key| {
            // The entity is what this batch made only if no other value sits at its key (one
            // made concurrently elsewhere, or before and never seen by its author).
            self.collection(coll)
                .ok()
                .and_then(|c| self.doc.get_all(&c, key).ok())
                .is_some_and(|all| all.len() == 1)
        });
        Some((out, values))
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
                    &json!({"name": format!("n{at}"), "tags": {}, "log": [{"at": at}, [1, 2]], "gone": null}),
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
                for ((coll, key), v) in &applied.values {
                    proptest::prop_assert!(applied.touched.contains(&(coll.clone(), key.clone())));
                    proptest::prop_assert_eq!(Some(v.clone()), b.get_json(coll, key).unwrap());
                }
            }
            let mut a2 = a;
            sync_pair(&mut a2, &mut c);
            proptest::prop_assert_eq!(b.heads(), a2.heads());
        }
    }

    /// Entities a batch creates whole are read off its operations, equal to what the document
    /// holds; an entity another device created at the same key at the same time is not (its
    /// value depends on which one wins), and is read back from the document instead.
    #[test]
    fn created_entities_are_rebuilt_from_their_operations() {
        let mut a = Document::new(ws(), [1; 16]);
        let v = json!({"name": "bug", "n": 3, "on": true, "tags": {"x": {"y": [1, "two", {"z": false}]}},
                       "log": [[], {}, 2.5]});
        a.create("labels", "l1", &v).unwrap();
        a.create("labels", "l2", &json!({"name": "ux"})).unwrap();
        a.commit(1).unwrap();
        a.create("labels", "l3", &json!({"name": "later"})).unwrap();
        a.commit(2).unwrap();
        let mut b = Document::new(ws(), [2; 16]);
        let applied = b.apply_batch(a.changes_since(&[])).unwrap();
        assert_eq!(
            applied.values.len(),
            3,
            "{:?} of {:?}",
            applied.values,
            applied.touched
        );
        for ((coll, key), v) in &applied.values {
            assert_eq!(Some(v.clone()), b.get_json(coll, key).unwrap(), "{key}");
        }
        assert_eq!(applied.values[&("labels".into(), "l1".into())], v);

        // Concurrent creation of one key: neither side's batch claims to know the value.
        let mut c = Document::new(ws(), [3; 16]);
        c.create("labels", "l1", &json!({"name": "rival"})).unwrap();
        c.commit(3).unwrap();
        let applied = c.apply_batch(a.changes_since(&[])).unwrap();
        assert!(!applied.values.contains_key(&("labels".into(), "l1".into())));
        assert!(applied.values.contains_key(&("labels".into(), "l2".into())));
        assert!(applied.touched.contains(&("labels".into(), "l1".into())));

        // An edit of an existing entity is read from the document.
        a.set("labels", "l2", &["name"], &"design").unwrap();
        let edit = a.commit(4).unwrap();
        let applied = b.apply_batch(vec![edit.bytes]).unwrap();
        assert!(applied.values.is_empty());
        assert_eq!(applied.touched.len(), 1);
        assert_eq!(
            b.get_json("labels", "l2").unwrap(),
            Some(json!({"name": "design"}))
        );
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
