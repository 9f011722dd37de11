//! The engine's side of syncing through relays: accounts, the logs it follows, what to push,
//! what to do with what arrives, access lists, invites and key rotation. No I/O here beyond
//! the store: `net.rs` moves the frames.
//!
//! Logs: one per workspace (its id), holding the envelopes of the workspace, calendar, board
//! and channel documents and the key envelopes; and one per user (the user id) holding the
//! personal document, listed for that user's devices only.

use crate::keys::{hex, invite_doc, keys_doc, open_with, scope, unhex};
use crate::{CoreError, Engine, ImportReport, Result};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use weft_crypto::{DeviceKeys, Envelope, InviteSecret, SymKey};
use weft_domain::{DeviceRecord, Id, Member, Role};
use weft_proto::{AccessList, BlobId, Entry, Invite};
use weft_store::AccountRow;
use weft_sync::{Credential, DocId, DocKind};

/// Most changes one push carries.
pub(crate) const PUSH_CHANGES: usize = 512;
/// About the most bytes one push carries.
const PUSH_BYTES: usize = 1 << 20;
/// Most entries a log holds while waiting for the key that opens them.
pub const MAX_HELD: u64 = 100_000;
/// How long typing is shown after the last keystroke heard.
pub const TYPING_MS: i64 = 6_000;
/// How long presence lasts without being heard again.
pub const PRESENCE_MS: i64 = 90_000;

/// A relay account as `weft status` shows it.
#[derive(Debug, Clone, serde::Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct AccountView {
    pub id: i64,
    pub url: String,
    pub logs: Vec<LogView>,
}

/// One followed log.
#[derive(Debug, Clone, serde::Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct LogView {
    pub log: String,
    pub kind: String,
    /// Workspace name, for workspace logs.
    pub name: Option<String>,
    pub cursor: u64,
    /// Local changes not yet acknowledged by the relay.
    pub pending: u64,
    /// Entries this device could not open (e.g. written after it was removed).
    pub unreadable: u64,
    pub access_version: u64,
    pub joining: bool,
}

/// A parsed `weft://join/<workspace>?relay=<url>#<secret>` link.
#[derive(Debug, Clone)]
pub struct JoinLink {
    pub workspace: Id,
    pub relay: String,
    pub secret: InviteSecret,
}

impl JoinLink {
    /// Parses a link, with a clear error for each way it can be wrong.
    pub fn parse(link: &str) -> Result<JoinLink> {
        let bad = |why: &str| {
            CoreError::Invalid(weft_domain::DomainError::Invalid(format!(
                "invite link: {why}"
            )))
        };
        let rest = link
            .trim()
            .strip_prefix("weft://join/")
            .ok_or_else(|| bad("it must start with weft://join/"))?;
        let (rest, secret) = rest
            .split_once('#')
            .ok_or_else(|| bad("the secret after '#' is missing"))?;
        let (ws, query) = rest
            .split_once("?relay=")
            .ok_or_else(|| bad("the relay address (?relay=) is missing"))?;
        let workspace: Id = ws
            .parse()
            .map_err(|_| bad("the workspace id is not valid"))?;
        if !(query.starts_with("ws://") || query.starts_with("wss://")) {
            return Err(bad("the relay address must be a ws:// or wss:// URL"));
        }
        let secret = InviteSecret::from_link_text(secret)
            .map_err(|_| bad("the secret is not valid (was the link cut short?)"))?;
        Ok(JoinLink {
            workspace,
            relay: query.to_owned(),
            secret,
        })
    }

    /// The link as text.
    pub fn to_link(&self) -> String {
        format!(
            "weft://join/{}?relay={}#{}",
            self.workspace,
            self.relay,
            self.secret.to_link_text()
        )
    }
}

/// What the connection needs to start: the device, how to authenticate, and each log with
/// its cursor.
pub struct SyncPlan {
    pub url: String,
    pub keys: DeviceKeys,
    pub credential: Credential,
    pub logs: Vec<LogPlan>,
}

/// One log to subscribe to.
#[derive(Debug, Clone)]
pub struct LogPlan {
    pub log: [u8; 16],
    pub cursor: u64,
    pub access_version: u64,
}

/// An access list to publish: (log, version, the signed list).
pub type AccessDue = ([u8; 16], u64, Vec<u8>);

/// Presence and typing heard from others, kept in memory only.
#[derive(Debug, Default)]
pub struct Live {
    /// (workspace, user) → (status, heard at).
    presence: HashMap<(Id, Id), (String, i64)>,
    /// (channel, user) → heard at.
    typing: HashMap<(Id, Id), i64>,
    /// Ephemeral payloads waiting to go out: (log, data).
    outgoing: Vec<([u8; 16], Vec<u8>)>,
    /// Call signals heard for this device, oldest first, until the app takes them.
    calls: std::collections::VecDeque<CallSignal>,
}

/// Most call signals held for the app (a call that isn't being read can't grow memory).
const MAX_HELD_SIGNALS: usize = 512;

/// Largest call signal payload (an SDP offer is a few kilobytes; the relay's ephemeral frame
/// takes 64 KiB with the envelope around it).
pub const MAX_CALL_SIGNAL: usize = 48 * 1024;

/// A call signal from another device, checked: its device signed it, that device is on the
/// workspace's access list (so its person is who the list says), and that person may be in
/// the channel. The relay can drop one, but not forge or alter one.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct CallSignal {
    pub channel: Id,
    /// The call (meeting id).
    pub call: String,
    /// The sending device (its public key, hex) and its person.
    pub from_device: String,
    pub from_user: Id,
    /// The device it is for; `None`: every device in the call.
    pub to: Option<String>,
    /// What `weft-call` said (its JSON), untouched.
    pub signal: String,
}

/// An invite made on this device, kept until the relay's access list carries it.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
struct PendingInvite {
    /// The invite's signing key, hex.
    key: String,
    expires_at: u64,
    max_uses: u32,
    role: Role,
}

impl PendingInvite {
    /// As the access list carries it.
    fn on_list(&self) -> Option<Invite> {
        Some(Invite {
            key: unhex::<32>(&self.key)?,
            expires_at: self.expires_at,
            max_uses: self.max_uses,
            role: role_on_list(self.role),
        })
    }
}

/// One entry of a batch, for one of this log's documents, still sealed.
struct Sealed {
    seq: u64,
    author: [u8; 32],
    env: Envelope,
    /// It waited in the store for a key.
    was_held: bool,
    doc: DocId,
}

/// Below this many envelopes a batch is opened on one thread.
const OPEN_PARALLEL_MIN: usize = 64;

/// What became of one envelope of a batch: `None` when this device holds no key of its
/// epoch (yet), so the entry is kept until one arrives; else its changes, or why it is refused.
type Opened = Option<Result<Vec<Vec<u8>>>>;

fn open_one(env: &Envelope, keys: &HashMap<u32, Vec<SymKey>>) -> Opened {
    let keys = keys.get(&env.epoch).map(Vec::as_slice).unwrap_or(&[]);
    match open_with(env, keys) {
        Ok(None) => None,
        Ok(Some(plain)) => Some(weft_sync::wire::decode_changes(&plain).map_err(Into::into)),
        Err(e) => Some(Err(e.into())),
    }
}

/// Verifies, decrypts and decodes a batch's envelopes on every core, in order.
fn open_all(wanted: &[Sealed], keys: &HashMap<u32, Vec<SymKey>>) -> Vec<Opened> {
    // Asked once: on Linux the answer reads the cgroup's files.
    static CORES: std::sync::LazyLock<usize> = std::sync::LazyLock::new(|| {
        std::thread::available_parallelism().map_or(1, |n| n.get().min(8))
    });
    if wanted.len() < OPEN_PARALLEL_MIN || *CORES == 1 {
        return wanted.iter().map(|w| open_one(&w.env, keys)).collect();
    }
    std::thread::scope(|s| {
        let parts: Vec<_> = wanted
            .chunks(wanted.len().div_ceil(*CORES))
            .map(|part| {
                s.spawn(move || {
                    part.iter()
                        .map(|w| open_one(&w.env, keys))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        parts
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    })
}

fn pending_invites_key(ws: Id) -> String {
    format!("pending_invites.{ws}")
}

/// An ephemeral payload, sealed like everything else (typing says which channel).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(tag = "t", rename_all = "snake_case")]
enum Ephemeral {
    Presence {
        user: Id,
        status: String,
    },
    Typing {
        user: Id,
        channel: Id,
    },
    Call {
        channel: Id,
        call: String,
        to: Option<String>,
        signal: String,
    },
}

fn role_on_list(r: Role) -> weft_proto::Role {
    match r {
        Role::Owner => weft_proto::Role::Owner,
        Role::Admin => weft_proto::Role::Admin,
        Role::Member | Role::Guest => weft_proto::Role::Member,
    }
}

fn role_from_list(r: weft_proto::Role) -> Role {
    match r {
        weft_proto::Role::Owner => Role::Owner,
        weft_proto::Role::Admin => Role::Admin,
        weft_proto::Role::Member => Role::Member,
    }
}

/// Name of the sealed secret of the invite a device is joining a workspace by.
fn joining_name(ws: Id) -> String {
    format!("joining:{ws}")
}

fn rand16() -> [u8; 16] {
    ulid::Ulid::new().to_bytes()
}

impl Engine {
    /// Adds an account on the relay at `url` and puts `workspaces` (and my personal log) on it.
    pub fn add_account(&mut self, url: &str, workspaces: &[Id]) -> Result<AccountRow> {
        let me = self.me()?;
        if !(url.starts_with("ws://") || url.starts_with("wss://")) {
            return Err(weft_domain::DomainError::Invalid(format!(
                "relay address {url:?}: expected ws://host:port/ or wss://..."
            ))
            .into());
        }
        for ws in workspaces {
            self.workspace(*ws)?;
        }
        self.device_keys()?;
        let now = self.now().0;
        let user = me.user.to_string();
        let id = self.store.write(|tx| -> Result<i64> {
            let id = tx.add_account(url, now)?;
            tx.follow_log(&user, id, "personal")?;
            for ws in workspaces {
                tx.follow_log(&ws.to_string(), id, "workspace")?;
            }
            Ok(id)
        })?;
        for ws in workspaces {
            self.ensure_key(&scope(false, *ws))?;
            self.ensure_device_record(*ws)?;
        }
        self.ensure_key(&scope(true, me.user))?;
        self.store
            .accounts()?
            .into_iter()
            .find(|a| a.id == id)
            .ok_or_else(|| CoreError::NotFound("account".into()))
    }

    /// The relay accounts.
    pub fn accounts(&self) -> Result<Vec<AccountRow>> {
        Ok(self.store.accounts()?)
    }

    /// Accounts with their logs, for `weft status` and the UI.
    pub fn sync_overview(&mut self) -> Result<Vec<AccountView>> {
        let mut out = Vec::new();
        for a in self.store.accounts()? {
            let mut logs = Vec::new();
            for l in self.store.sync_logs(Some(a.id))? {
                let id: Id = l.log.parse()?;
                logs.push(LogView {
                    name: (l.kind == "workspace")
                        .then(|| self.workspace(id).ok().map(|w| w.name))
                        .flatten(),
                    pending: self.store.outbox_len(&l.log)?,
                    joining: self.is_joining(id)?,
                    log: l.log,
                    kind: l.kind,
                    cursor: l.cursor,
                    unreadable: l.unreadable + self.store.held_count(&id.to_string())?,
                    access_version: l.access_version,
                });
            }
            out.push(AccountView {
                id: a.id,
                url: a.url,
                logs,
            });
        }
        Ok(out)
    }

    /// Local changes not yet acknowledged by the relay, and file chunks not yet stored on it,
    /// over an account's logs.
    pub fn sync_pending(&mut self, account: i64) -> Result<u64> {
        let mut n = 0;
        for l in self.store.sync_logs(Some(account))? {
            n += self.store.outbox_len(&l.log)? + self.chunks_to_upload(&l.log)?;
        }
        Ok(n)
    }

    /// Records this device under my membership of `ws`, so admins list it and wrap keys to it.
    pub(crate) fn ensure_device_record(&mut self, ws: Id) -> Result<()> {
        let me = self.me()?;
        let device = self.device_keys()?.public();
        let Some(j) = self
            .store
            .entity("members", &ws.to_string(), &me.user.to_string())?
        else {
            return Ok(());
        };
        let m: Member = crate::workspace::parse(&j)?;
        let sign = hex(&device.sign);
        if m.devices.contains_key(&sign) {
            return Ok(());
        }
        let invite = self
            .store
            .local(&format!("joined_by.{ws}"))?
            .filter(|s| !s.is_empty());
        let rec = DeviceRecord {
            agree: hex(&device.agree),
            invite,
            added_at: self.now(),
        };
        let key = me.user.to_string();
        self.edit(&DocId::workspace(ws), |e| {
            match e.set("members", &key, &["devices", &sign], &rec) {
                Ok(()) => Ok(()),
                // A record from before devices were kept: write the whole map.
                Err(_) => e.set(
                    "members",
                    &key,
                    &["devices"],
                    &BTreeMap::from([(sign.clone(), rec.clone())]),
                ),
            }
        })
    }

    /// Everything the connection to one account needs (queueing any unpublished history).
    pub fn sync_plan(&mut self, account: i64) -> Result<SyncPlan> {
        self.me()?;
        let acc = self
            .store
            .accounts()?
            .into_iter()
            .find(|a| a.id == account)
            .ok_or_else(|| CoreError::NotFound(format!("account {account}")))?;
        let keys = self.device_keys()?;
        let mut credential = Credential::Device;
        let mut logs = Vec::new();
        for l in self.store.sync_logs(Some(account))? {
            let id: Id = l.log.parse()?;
            let personal = l.kind == "personal";
            if let Some(secret) = self.joining_secret(id)? {
                credential = Credential::Join {
                    workspace: id.to_bytes(),
                    invite: secret,
                };
            }
            if !l.published {
                self.publish_history(&l.log, personal)?;
            }
            if !personal {
                self.ensure_device_record(id)?;
            }
            logs.push(LogPlan {
                log: id.to_bytes(),
                cursor: l.cursor,
                access_version: l.access_version,
            });
        }
        Ok(SyncPlan {
            url: acc.url,
            keys,
            credential,
            logs,
        })
    }

    /// Access lists this device should publish now, for an account's logs: (log, version,
    /// signed list). Owners open their workspaces on the relay; admins list new member
    /// devices and invites, and drop removed members.
    pub fn sync_access_due(&mut self, account: i64) -> Result<Vec<AccessDue>> {
        let keys = self.device_keys()?;
        let mut out = Vec::new();
        for l in self.store.sync_logs(Some(account))? {
            let id: Id = l.log.parse()?;
            let due = if l.kind == "personal" {
                self.desired_personal_access(id, &keys, l.access.as_deref())?
            } else {
                self.desired_access(id, &keys, l.access.as_deref())?
            };
            if let Some((v, list)) = due {
                out.push((id.to_bytes(), v, list));
            }
        }
        Ok(out)
    }

    /// The secret of the invite this device is joining `ws` by, until it has joined.
    fn joining_secret(&mut self, ws: Id) -> Result<Option<InviteSecret>> {
        self.sealed_invite(&joining_name(ws))
    }

    /// Whether this device is still joining `ws` (it holds the invite, not yet the keys).
    fn is_joining(&self, ws: Id) -> Result<bool> {
        Ok(self.store.secret(&joining_name(ws))?.is_some())
    }

    /// An invite secret kept sealed under `name`.
    fn sealed_invite(&mut self, name: &str) -> Result<Option<InviteSecret>> {
        let Some(sealed) = self.store.secret(name)? else {
            return Ok(None);
        };
        let plain = self.vault()?.open_sealed(name, &sealed)?;
        let text = std::str::from_utf8(&plain).map_err(|_| {
            CoreError::Invalid(weft_domain::DomainError::Invalid(format!(
                "stored invite secret {name} is not text"
            )))
        })?;
        Ok(Some(InviteSecret::from_link_text(text)?))
    }

    /// Queues a log's whole history for the relay, once (changes made before it had one).
    fn publish_history(&mut self, log: &str, personal: bool) -> Result<()> {
        let mut ids: Vec<DocId> = if personal {
            vec![DocId::personal(log.parse()?)]
        } else {
            self.store
                .docs(Some(log))?
                .into_iter()
                .filter_map(|d| d.doc_id.parse().ok())
                .collect()
        };
        ids.sort_by_key(|d| (d.kind(), d.to_string()));
        let mut all = Vec::new();
        for id in ids {
            let changes = self.changes_since(&id, &[])?;
            all.push((id.to_string(), changes));
        }
        let now = self.now().0;
        self.store.write(|tx| -> Result<()> {
            tx.drop_log_outbox(log, tx.outbox_head()?)?;
            for (doc, changes) in &all {
                for c in changes {
                    tx.push_outbox(doc, &[], c, now)?;
                }
            }
            tx.set_published(log)?;
            Ok(())
        })
    }

    fn signed(keys: &DeviceKeys, mut list: AccessList) -> (u64, Vec<u8>) {
        list.signer = keys.public().sign;
        list.signature = keys.sign(weft_proto::ACCESS_DOMAIN, &list.signed_part());
        (list.version, list.encode())
    }

    fn desired_personal_access(
        &mut self,
        user: Id,
        keys: &DeviceKeys,
        current: Option<&[u8]>,
    ) -> Result<Option<(u64, Vec<u8>)>> {
        if current.is_some() {
            return Ok(None);
        }
        let list = AccessList {
            workspace: user.to_bytes(),
            version: 1,
            members: vec![weft_proto::Member {
                device: keys.public().sign,
                user: user.to_bytes(),
                role: weft_proto::Role::Owner,
            }],
            invites: vec![],
            signer: [0; 32],
            signature: [0; 64],
        };
        Ok(Some(Engine::signed(keys, list)))
    }

    /// The access list the workspace's members and open invites call for, when it differs
    /// from the relay's and this device may sign it.
    fn desired_access(
        &mut self,
        ws: Id,
        keys: &DeviceKeys,
        current: Option<&[u8]>,
    ) -> Result<Option<(u64, Vec<u8>)>> {
        let Ok(role) = self.my_role(ws) else {
            return Ok(None);
        };
        if !role.is_admin() {
            return Ok(None);
        }
        let current = current.map(AccessList::decode).transpose().map_err(|e| {
            CoreError::Invalid(weft_domain::DomainError::Invalid(format!(
                "stored access list: {e}"
            )))
        })?;
        let mine = keys.public().sign;
        if current.is_none() && role != Role::Owner {
            // Only the owner's device may open a workspace on a relay.
            return Ok(None);
        }
        let mut members = Vec::new();
        let mut revoked = BTreeSet::new();
        for mv in self.members(ws)? {
            let user: Id = mv.user.parse()?;
            for (sign, rec) in &mv.member.devices {
                let Some(device) = unhex::<32>(sign) else {
                    continue;
                };
                if mv.member.removed_at.is_some() {
                    if let Some(inv) = rec.invite.as_deref().and_then(unhex::<32>) {
                        revoked.insert(inv);
                    }
                    continue;
                }
                members.push(weft_proto::Member {
                    device,
                    user: user.to_bytes(),
                    role: role_on_list(mv.member.role),
                });
            }
        }
        members.sort_by_key(|m| m.device);
        members.dedup_by_key(|m| m.device);
        let now = self.now().0.max(0) as u64;
        let mut invites: Vec<Invite> = current
            .as_ref()
            .map(|c| c.invites.clone())
            .unwrap_or_default();
        invites.extend(
            self.pending_invites(ws)?
                .iter()
                .filter_map(PendingInvite::on_list),
        );
        invites.retain(|i| i.expires_at > now && !revoked.contains(&i.key));
        invites.sort_by_key(|i| i.key);
        invites.dedup_by_key(|i| i.key);
        if !members.iter().any(|m| m.device == mine) {
            return Ok(None);
        }
        if let Some(c) = &current {
            let mut cm = c.members.clone();
            cm.sort_by_key(|m| m.device);
            let mut ci = c.invites.clone();
            ci.sort_by_key(|i| i.key);
            if cm == members && ci == invites {
                return Ok(None);
            }
        }
        let list = AccessList {
            workspace: ws.to_bytes(),
            version: current.as_ref().map(|c| c.version).unwrap_or(0) + 1,
            members,
            invites,
            signer: [0; 32],
            signature: [0; 64],
        };
        Ok(Some(Engine::signed(keys, list)))
    }

    /// Invites created here that the relay's access list does not carry yet.
    fn pending_invites(&self, ws: Id) -> Result<Vec<PendingInvite>> {
        Ok(self
            .store
            .local(&pending_invites_key(ws))?
            .and_then(|j| serde_json::from_str(&j).ok())
            .unwrap_or_default())
    }

    fn set_pending_invites(tx: &weft_store::Tx<'_>, ws: Id, p: &[PendingInvite]) -> Result<()> {
        let j = serde_json::to_string(p).map_err(weft_store::StoreError::from)?;
        Ok(tx.set_local(&pending_invites_key(ws), &j)?)
    }

    /// Creates an invite link to `ws` (admins): valid for `valid_ms`, for `max_uses` devices.
    /// The link's secret never leaves this device except in the link itself.
    pub fn create_invite(
        &mut self,
        ws: Id,
        role: Role,
        valid_ms: i64,
        max_uses: u32,
    ) -> Result<JoinLink> {
        let mine = self.require_admin(ws)?;
        mine.check_manage(role)?;
        if role == Role::Owner {
            return Err(CoreError::Forbidden(
                "an invite cannot make an owner".into(),
            ));
        }
        if !(60_000..=30 * 86_400_000).contains(&valid_ms) || !(1..=10_000).contains(&max_uses) {
            return Err(weft_domain::DomainError::Invalid(
                "an invite lasts 1 minute to 30 days, for 1 to 10000 devices".into(),
            )
            .into());
        }
        let log = self.store.sync_log(&ws.to_string())?.ok_or_else(|| {
            CoreError::NotFound(format!(
                "a relay account for workspace {ws}: run `weft account add URL` first"
            ))
        })?;
        let url = self
            .store
            .accounts()?
            .into_iter()
            .find(|a| a.id == log.account)
            .map(|a| a.url)
            .ok_or_else(|| CoreError::NotFound("account".into()))?;
        let secret = InviteSecret::generate();
        let key = secret.signing_public();
        let expires = (self.now().0 + valid_ms).max(0) as u64;
        let mut pending = self.pending_invites(ws)?;
        pending.push(PendingInvite {
            key: hex(&key),
            expires_at: expires,
            max_uses,
            role,
        });
        let sc = scope(false, ws);
        self.ensure_key(&sc)?;
        let boxed = self.invite_box(ws, &sc, &secret)?;
        let secret_name = format!("invite:{ws}:{}", hex(&key));
        let sealed = self
            .vault()?
            .seal(&secret_name, secret.to_link_text().as_bytes());
        let now = self.now().0;
        self.store.write(|tx| -> Result<()> {
            Engine::set_pending_invites(tx, ws, &pending)?;
            tx.put_secret(&secret_name, &sealed)?;
            tx.push_outbox(&format!("!{ws}:{}", invite_doc(&key)), &[], &boxed, now)?;
            Ok(())
        })?;
        self.audit(
            ws,
            weft_domain::AuditAction::InviteCreated,
            format!("invite:{}", hex(&key)),
            format!("{role}, {max_uses} use(s)"),
        )?;
        self.outbox_notify.notify_one();
        Ok(JoinLink {
            workspace: ws,
            relay: url,
            secret,
        })
    }

    /// Starts joining a workspace by its invite link: the next sync authenticates with the
    /// invite, reads the workspace's keys from the invite box, and adds me as a member.
    pub fn join(&mut self, link: &str) -> Result<Id> {
        self.me()?;
        let link = JoinLink::parse(link)?;
        let ws = link.workspace;
        if self.workspace(ws).is_ok() && self.my_role(ws).is_ok() {
            return Err(CoreError::ProfileExists);
        }
        self.device_keys()?;
        let name = joining_name(ws);
        let sealed = self
            .vault()?
            .seal(&name, link.secret.to_link_text().as_bytes());
        let now = self.now().0;
        let user = self.me()?.user.to_string();
        let invite_hex = hex(&link.secret.signing_public());
        self.store.write(|tx| -> Result<()> {
            let id = tx.add_account(&link.relay, now)?;
            tx.follow_log(&ws.to_string(), id, "workspace")?;
            tx.set_published(&ws.to_string())?;
            tx.follow_log(&user, id, "personal")?;
            tx.put_secret(&name, &sealed)?;
            tx.set_local(&format!("joined_by.{ws}"), &invite_hex)?;
            Ok(())
        })?;
        let me = self.me()?.user;
        self.ensure_key(&scope(true, me))?;
        Ok(ws)
    }

    /// Pushes for `log`: envelopes of queued changes, each with its blob id (kept, so a
    /// push repeated after a restart is stored once), at most `max`.
    /// `in_flight` names the pushes this connection sent and the relay has not acknowledged
    /// yet; they are not sent again.
    pub fn sync_pushes(
        &mut self,
        log: [u8; 16],
        max: usize,
        in_flight: &BTreeSet<BlobId>,
    ) -> Result<Vec<(BlobId, Vec<u8>)>> {
        let id = Id::from_bytes(log);
        let Some(l) = self.store.sync_log(&id.to_string())? else {
            return Ok(Vec::new());
        };
        if !l.published || self.is_joining(id)? {
            // Nothing goes out before the history is queued, or before a joiner has keys.
            return Ok(Vec::new());
        }
        let personal = l.kind == "personal";
        let sc = scope(personal, id);
        let per_push = self.push_changes;
        let mut rows = self
            .store
            .outbox(&l.log, (max + in_flight.len()) * per_push)?;
        rows.retain(|r| {
            r.blob
                .as_deref()
                .and_then(|b| <[u8; 16]>::try_from(b).ok())
                .is_none_or(|b| !in_flight.contains(&b))
        });
        // Key envelopes first: everything else is sealed under the newest key.
        let keys_prefix = format!("!{}:keys:", l.log);
        rows.sort_by_key(|r| !r.doc_id.starts_with(&keys_prefix));
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let Some(key) = self.current_key(&sc)? else {
            return Ok(Vec::new());
        };
        let device = self.device_keys()?;
        // Group: rows already sent go again under their blob; new rows by document, in order.
        struct Group {
            blob: Option<Vec<u8>>,
            doc: String,
            bytes: usize,
            rows: Vec<weft_store::OutboxRow>,
        }
        let mut groups: Vec<Group> = Vec::new();
        for r in rows {
            let special = r.doc_id.starts_with('!');
            let extend = groups.last_mut().filter(|g| {
                !special
                    && !g.doc.starts_with('!')
                    && g.blob == r.blob
                    && g.doc == r.doc_id
                    && g.rows.len() < per_push
                    && g.bytes + r.data.len() <= PUSH_BYTES
            });
            match extend {
                Some(g) => {
                    g.bytes += r.data.len();
                    g.rows.push(r);
                }
                None => groups.push(Group {
                    blob: r.blob.clone(),
                    doc: r.doc_id.clone(),
                    bytes: r.data.len(),
                    rows: vec![r],
                }),
            }
        }
        groups.truncate(max);
        let mut out = Vec::new();
        let mut assign: Vec<(Vec<i64>, [u8; 16])> = Vec::new();
        for Group {
            blob, doc, rows, ..
        } in groups
        {
            let blob: [u8; 16] = match blob.as_deref().map(<[u8; 16]>::try_from) {
                Some(Ok(b)) => b,
                _ => {
                    let b = rand16();
                    assign.push((rows.iter().map(|r| r.seq).collect(), b));
                    b
                }
            };
            let data = if doc.starts_with('!') {
                rows[0].data.clone()
            } else {
                let payload = weft_sync::wire::encode_changes(
                    &rows.iter().map(|r| r.data.as_slice()).collect::<Vec<_>>(),
                );
                Envelope::seal(&device, &key, log, &doc, &payload)?.to_bytes()
            };
            out.push((blob, data));
        }
        if !assign.is_empty() {
            self.store.write(|tx| -> Result<()> {
                for (seqs, b) in &assign {
                    tx.assign_blob(seqs, b)?;
                }
                Ok(())
            })?;
        }
        Ok(out)
    }

    /// Sets the most changes one push carries (default 512). One models a device that pushes
    /// each edit as it is made (benchmarks).
    pub fn set_changes_per_push(&mut self, n: usize) {
        self.push_changes = n.clamp(1, PUSH_CHANGES);
    }

    /// The relay holds these pushes: their changes leave the outbox (one transaction).
    pub fn sync_acked(&mut self, blobs: &[BlobId]) -> Result<()> {
        self.store.write(|tx| -> Result<()> {
            for b in blobs {
                tx.acked(b)?;
            }
            Ok(())
        })
    }

    /// An access list from the relay: kept when it is signed, for this log, newer than the
    /// one held, and signed by an admin of that one.
    pub fn sync_access(&mut self, log: [u8; 16], bytes: &[u8]) -> Result<()> {
        let id = Id::from_bytes(log);
        let bad = |why: String| CoreError::Relay {
            code: "Access".into(),
            message: format!("access list refused: {why}"),
        };
        let list = AccessList::decode(bytes).map_err(|e| bad(e.to_string()))?;
        if list.workspace != log {
            return Err(bad("it is for another log".into()));
        }
        weft_crypto::verify(
            &list.signer,
            weft_proto::ACCESS_DOMAIN,
            &list.signed_part(),
            &list.signature,
        )
        .map_err(|e| bad(e.to_string()))?;
        let Some(l) = self.store.sync_log(&id.to_string())? else {
            return Ok(());
        };
        if list.version <= l.access_version {
            return Ok(());
        }
        if let Some(cur) = l.access.as_deref().and_then(|b| AccessList::decode(b).ok())
            && !cur.role_of(&list.signer).is_some_and(|r| r.is_admin())
        {
            return Err(bad("not signed by an admin of the list before it".into()));
        }
        // Invites the relay's list now carries are no longer pending.
        let mut keep = self.pending_invites(id)?;
        keep.retain(|p| {
            !p.on_list()
                .is_some_and(|p| list.invites.iter().any(|i| i.key == p.key))
        });
        self.store.write(|tx| -> Result<()> {
            tx.set_access(&l.log, list.version, bytes)?;
            Engine::set_pending_invites(tx, id, &keep)
        })
    }

    /// New entries of a log: opened, checked and applied in ONE transaction with the cursor.
    pub fn sync_entries(&mut self, log: [u8; 16], entries: &[Entry]) -> Result<ImportReport> {
        let me = self.me()?;
        let id = Id::from_bytes(log);
        let Some(l) = self.store.sync_log(&id.to_string())? else {
            return Ok(ImportReport::default());
        };
        let personal = l.kind == "personal";
        let sc = scope(personal, id);
        let access = l.access.as_deref().and_then(|b| AccessList::decode(b).ok());
        let joining = self.joining_secret(id)?;
        let mut per_doc: BTreeMap<DocId, Vec<Vec<u8>>> = BTreeMap::new();
        let mut sealed_keys = BTreeMap::new();
        let mut unreadable = 0u64;
        let mut last = l.cursor;
        // Pass 1: keys (a batch's data may need a key that comes later in the log).
        let mut data: Vec<(u64, [u8; 32], Envelope, bool)> = Vec::new();
        for e in entries {
            last = last.max(e.seq);
            let env = match Envelope::from_bytes(&e.data) {
                Ok(env) if env.workspace == log && env.author == e.author => env,
                Ok(_) | Err(_) => {
                    tracing::warn!(log = %id, seq = e.seq, "entry is not a well-formed envelope for this log");
                    unreadable += 1;
                    continue;
                }
            };
            if env.doc.starts_with("keys:") {
                if env.doc != keys_doc(env.epoch) {
                    unreadable += 1;
                    continue;
                }
                let admin = access
                    .as_ref()
                    .and_then(|a| a.role_of(&env.author))
                    .is_some_and(|r| r.is_admin());
                if !admin {
                    tracing::warn!(log = %id, seq = e.seq, "key envelope not from an admin: ignored");
                    unreadable += 1;
                    continue;
                }
                match self.open_key_envelope(&env, id, &sc) {
                    Ok(Some(k)) => {
                        let (name, s) = self.seal_key(&sc, &k)?;
                        sealed_keys.insert(name, s);
                    }
                    // Not for this device: it was removed, or joined after.
                    Ok(None) => {}
                    Err(err) => {
                        tracing::warn!(log = %id, seq = e.seq, error = %err, "key envelope refused");
                        unreadable += 1;
                    }
                }
                continue;
            }
            if env.doc.starts_with("invite:") {
                if let Some(secret) = &joining
                    && env.doc == invite_doc(&secret.signing_public())
                {
                    match Engine::open_invite_box(&env, id, secret) {
                        Ok(keys) => {
                            for k in keys {
                                let (name, s) = self.seal_key(&sc, &k)?;
                                sealed_keys.insert(name, s);
                            }
                        }
                        Err(err) => {
                            tracing::warn!(log = %id, error = %err, "invite box refused");
                            unreadable += 1;
                        }
                    }
                }
                continue;
            }
            data.push((e.seq, e.author, env, false));
        }
        if !sealed_keys.is_empty() {
            // New keys: what waited for them is tried again, in log order, first.
            let mut held = Vec::new();
            for (seq, _author, bytes) in self.store.held_entries(&id.to_string())? {
                if let Ok(env) = Envelope::from_bytes(&bytes) {
                    held.push((seq, env.author, env, true));
                }
            }
            held.append(&mut data);
            data = held;
        }
        // Pass 2: the documents' changes. Each epoch's keys are looked up once; then the
        // envelopes are verified, decrypted and decoded on every core (a catch-up is mostly
        // this and the apply, and a signature check costs as much as applying the change).
        let mut wanted: Vec<Sealed> = Vec::with_capacity(data.len());
        for (seq, author, env, was_held) in data {
            let doc: DocId = match env.doc.parse() {
                Ok(d) => d,
                Err(_) => {
                    unreadable += 1;
                    continue;
                }
            };
            let belongs = if personal {
                doc == DocId::personal(me.user) && id == me.user
            } else {
                doc.kind() != DocKind::Personal && doc.workspace_id() == Some(id)
            };
            if !belongs {
                tracing::warn!(log = %id, doc = %doc, "envelope for a document outside its log");
                unreadable += 1;
                continue;
            }
            wanted.push(Sealed {
                seq,
                author,
                env,
                was_held,
                doc,
            });
        }
        // A key this device cannot read back (a locked vault, a store error) fails the batch
        // before anything is applied, so its entries come again; they are not unreadable.
        let mut keys: HashMap<u32, Vec<SymKey>> = HashMap::new();
        for w in &wanted {
            if let std::collections::hash_map::Entry::Vacant(slot) = keys.entry(w.env.epoch) {
                slot.insert(self.sym_keys(&sc, w.env.epoch)?);
            }
        }
        let opened = open_all(&wanted, &keys);
        let mut hold: Vec<(u64, [u8; 32], Vec<u8>)> = Vec::new();
        let mut release: Vec<u64> = Vec::new();
        for (w, opened) in wanted.into_iter().zip(opened) {
            let Sealed {
                seq,
                author,
                env,
                was_held,
                doc,
            } = w;
            let Some(changes) = opened else {
                if !was_held {
                    hold.push((seq, author, env.to_bytes()));
                }
                continue;
            };
            if was_held {
                release.push(seq);
            }
            match changes {
                Ok(c) => per_doc.entry(doc).or_default().extend(c),
                Err(err) => {
                    tracing::warn!(log = %id, seq, error = %err, "envelope refused");
                    unreadable += 1;
                }
            }
        }
        let log_s = id.to_string();
        let held_before = if hold.is_empty() {
            0
        } else {
            self.store
                .held_count(&log_s)?
                .saturating_sub(release.len() as u64)
        };
        let docs: Vec<_> = per_doc.into_iter().collect();
        let report = self.apply_remote_docs(docs, |tx| {
            Engine::put_keys(tx, &sealed_keys)?;
            let mut given_up = 0;
            let mut room = MAX_HELD.saturating_sub(held_before);
            for (seq, author, bytes) in &hold {
                if room == 0 {
                    given_up += 1;
                    continue;
                }
                room -= 1;
                tx.hold_entry(&log_s, *seq, author, bytes)?;
            }
            for seq in &release {
                tx.release_entry(&log_s, *seq)?;
            }
            tx.set_cursor(&log_s, last, unreadable + given_up)?;
            Ok(())
        });
        let report = match report {
            Ok(r) => r,
            Err(e @ CoreError::Sync(_)) => {
                // A document's changes that do not apply are refused whole; the cursor
                // moves on so one bad entry never blocks the log.
                tracing::warn!(log = %id, error = %e, "batch refused");
                self.store.write(|tx| -> Result<()> {
                    Engine::put_keys(tx, &sealed_keys)?;
                    tx.set_cursor(&log_s, last, entries.len() as u64)?;
                    Ok(())
                })?;
                return Err(e);
            }
            Err(e) => return Err(e),
        };
        self.adopt_workspaces()?;
        Ok(report)
    }

    /// A log's backlog has arrived: a joiner becomes a member now that it holds the
    /// workspace's keys and documents.
    pub fn sync_up_to_date(&mut self, log: [u8; 16]) -> Result<()> {
        let id = Id::from_bytes(log);
        if !self.is_joining(id)? {
            return Ok(());
        }
        if self.current_key(&scope(false, id))?.is_none() || self.workspace(id).is_err() {
            return Err(CoreError::Forbidden(format!(
                "the invite to workspace {id} did not give this device its keys: \
                 the invite may have been revoked or used up"
            )));
        }
        let me = self.me()?;
        let l = self.store.sync_log(&id.to_string())?;
        let invite_hex = self
            .store
            .local(&format!("joined_by.{id}"))?
            .unwrap_or_default();
        let role = l
            .and_then(|l| l.access)
            .and_then(|b| AccessList::decode(&b).ok())
            .and_then(|a| {
                let k = unhex::<32>(&invite_hex)?;
                a.invite(&k).map(|i| role_from_list(i.role))
            })
            .unwrap_or(Role::Member);
        let now = self.now();
        let member = Member {
            role,
            joined_at: now,
            ..Member::default()
        };
        let key = me.user.to_string();
        self.edit(&DocId::workspace(id), |e| {
            if !e.contains("members", &key)? {
                e.create("members", &key, &member)?;
            }
            Ok(())
        })?;
        // Joined: the invite's secret has served its purpose.
        self.store.write(|tx| tx.delete_secret(&joining_name(id)))?;
        self.ensure_device_record(id)?;
        let profile = self.profile()?;
        self.publish_profile(id, &profile)?;
        self.audit(
            id,
            weft_domain::AuditAction::MemberJoined,
            format!("user:{}", me.user),
            format!("by invite {invite_hex}"),
        )?;
        if self.local_pref("workspace")?.is_none() {
            self.set_local_pref("workspace", &id.to_string())?;
        }
        Ok(())
    }

    /// After a member's removal: a new key epoch, wrapped to every remaining member device, and
    /// fresh invite boxes for invites still open. Nothing written from now on is readable by
    /// the removed member's devices.
    pub(crate) fn rotate_key(&mut self, ws: Id) -> Result<()> {
        let sc = scope(false, ws);
        let Some(cur) = self.current_key(&sc)? else {
            return Ok(()); // never synced: nothing was shared under a key
        };
        let next = weft_crypto::SymKey::generate(cur.epoch + 1);
        let mut recipients = Vec::new();
        for mv in self.members(ws)? {
            if mv.member.removed_at.is_some() {
                continue;
            }
            for rec in mv.member.devices.values() {
                if let Some(a) = unhex::<32>(&rec.agree) {
                    recipients.push(a);
                }
            }
        }
        recipients.sort();
        recipients.dedup();
        let env = self.key_envelope(ws, &sc, &next, &recipients)?;
        let (name, sealed) = self.seal_key(&sc, &next)?;
        let mut boxes = Vec::new();
        for n in self.store.secret_names(&format!("invite:{ws}:"))? {
            let Some(secret) = self.sealed_invite(&n)? else {
                continue;
            };
            boxes.push((secret.signing_public(), self.invite_box(ws, &sc, &secret)?));
        }
        let now = self.now().0;
        self.store.write(|tx| -> Result<()> {
            tx.put_secret(&name, &sealed)?;
            tx.push_outbox(&format!("!{ws}:{}", keys_doc(next.epoch)), &[], &env, now)?;
            for (k, b) in &boxes {
                tx.push_outbox(
                    &format!("!{ws}:{}:{}", invite_doc(k), next.epoch),
                    &[],
                    b,
                    now,
                )?;
            }
            Ok(())
        })?;
        self.outbox_notify.notify_one();
        Ok(())
    }

    /// Whether this device holds the key that opens an envelope of a workspace log (what a
    /// removed member's device can no longer do for anything written after its removal).
    pub fn can_open(&mut self, envelope: &[u8]) -> Result<bool> {
        let env = Envelope::from_bytes(envelope)?;
        let ws = Id::from_bytes(env.workspace);
        Ok(matches!(
            self.open_envelope(&env, &scope(false, ws)),
            Ok(Some(_))
        ))
    }

    /// The notifier woken when a local edit queues something for the relay.
    pub fn outbox_waker(&self) -> std::sync::Arc<tokio::sync::Notify> {
        self.outbox_notify.clone()
    }

    /// Says I am typing in a channel (sent to the workspace's connected devices, never stored).
    pub fn typing(&mut self, channel: Id) -> Result<()> {
        let me = self.me()?;
        let ws = self.channel_workspace(channel)?;
        self.queue_ephemeral(
            ws,
            &Ephemeral::Typing {
                user: me.user,
                channel,
            },
        )
    }

    /// Announces my presence (`active`, `away`, or a custom status) to a workspace.
    pub fn announce_presence(&mut self, ws: Id, status: &str) -> Result<()> {
        let me = self.me()?;
        self.queue_ephemeral(
            ws,
            &Ephemeral::Presence {
                user: me.user,
                status: status.chars().take(100).collect(),
            },
        )
    }

    /// This device's id as calls name it: its signing key, hex.
    pub fn device_id(&mut self) -> Result<String> {
        Ok(crate::keys::hex(&self.device_keys()?.public().sign))
    }

    /// Sends a call signal to the devices of a channel's call (`to`: one device). Only a
    /// person who may be in the channel can.
    pub fn send_call_signal(
        &mut self,
        channel: Id,
        call: &str,
        to: Option<&str>,
        signal: &str,
    ) -> Result<()> {
        let ws = match self.channel(channel) {
            Ok((ws, c)) => {
                self.require_channel_access(ws, &c)?;
                ws
            }
            // A meeting of invited people and no channel: its id stands for the channel.
            Err(_) => {
                let (ws, m) = self.meeting_ctx(channel)?;
                if !m.participants.contains_key(&self.me()?.user.to_string()) {
                    return Err(CoreError::Forbidden(
                        "you are not invited to this meeting".into(),
                    ));
                }
                ws
            }
        };
        if signal.len() > MAX_CALL_SIGNAL || call.len() > 64 || to.is_some_and(|t| t.len() > 64) {
            return Err(weft_domain::DomainError::Invalid(format!(
                "call signal of {} bytes (at most {MAX_CALL_SIGNAL}, ids at most 64)",
                signal.len()
            ))
            .into());
        }
        self.queue_ephemeral(
            ws,
            &Ephemeral::Call {
                channel,
                call: call.to_owned(),
                to: to.map(str::to_owned),
                signal: signal.to_owned(),
            },
        )
    }

    /// The person a device belongs to, as the workspace's signed access list says.
    pub fn device_owner(&self, ws: Id, device: &str) -> Result<Option<Id>> {
        let Some(key) = unhex::<32>(device) else {
            return Ok(None);
        };
        Ok(self
            .store
            .sync_log(&ws.to_string())?
            .and_then(|l| l.access)
            .and_then(|b| AccessList::decode(&b).ok())
            .and_then(|a| {
                a.members
                    .iter()
                    .find(|m| m.device == key)
                    .map(|m| Id::from_bytes(m.user))
            }))
    }

    /// The notifier woken when a call signal for this device is heard (a permit is kept if
    /// nobody is waiting, so none is missed).
    pub fn call_signal_waker(&self) -> std::sync::Arc<tokio::sync::Notify> {
        self.call_notify.clone()
    }

    /// The signals of one call heard since the last time, oldest first.
    pub fn take_call_signals(&mut self, call: &str) -> Vec<CallSignal> {
        let mut mine = Vec::new();
        self.live.calls.retain(|s| {
            if s.call == call {
                mine.push(s.clone());
                false
            } else {
                true
            }
        });
        mine
    }

    /// Whether a person may be in a channel's call: a public channel's are the workspace's
    /// members, a private channel's or DM's its own; a meeting with no channel, those invited.
    fn may_join_call(&self, ws: Id, channel: Id, user: Id) -> Result<bool> {
        let Ok((cws, c)) = self.channel(channel) else {
            // A meeting with no channel: those invited.
            let (mws, m) = self.meeting_ctx(channel)?;
            return Ok(mws == ws && m.participants.contains_key(&user.to_string()));
        };
        if cws != ws {
            return Ok(false);
        }
        let member = c.members.get(&user.to_string()).copied().unwrap_or(false);
        Ok(member || c.kind == weft_domain::ChannelKind::Public)
    }

    fn channel_workspace(&self, channel: Id) -> Result<Id> {
        Ok(self.channel(channel)?.0)
    }

    fn queue_ephemeral(&mut self, ws: Id, e: &Ephemeral) -> Result<()> {
        let Some(key) = self.current_key(&scope(false, ws))? else {
            return Ok(()); // not on a relay: nobody to tell
        };
        let device = self.device_keys()?;
        let body = serde_json::to_vec(e).map_err(weft_store::StoreError::from)?;
        let env = Envelope::seal(&device, &key, ws.to_bytes(), "eph", &body)?;
        self.live.outgoing.push((ws.to_bytes(), env.to_bytes()));
        self.outbox_notify.notify_one();
        Ok(())
    }

    /// Ephemeral payloads waiting to be sent.
    pub fn take_ephemeral(&mut self) -> Vec<([u8; 16], Vec<u8>)> {
        std::mem::take(&mut self.live.outgoing)
    }

    /// An ephemeral payload from another device: presence or typing, kept in memory.
    pub fn sync_ephemeral(&mut self, log: [u8; 16], data: &[u8]) -> Result<()> {
        let ws = Id::from_bytes(log);
        let env = Envelope::from_bytes(data)?;
        if env.workspace != log || env.doc != "eph" {
            return Ok(());
        }
        let Some(body) = self.open_envelope(&env, &scope(false, ws))? else {
            return Ok(());
        };
        let now = self.now().0;
        // Only what is still shown is kept, so the maps stay as small as the team.
        self.live.typing.retain(|_, at| now - *at < TYPING_MS);
        self.live
            .presence
            .retain(|_, (_, at)| now - *at < PRESENCE_MS);
        match serde_json::from_slice::<Ephemeral>(&body) {
            Ok(Ephemeral::Typing { user, channel }) => {
                self.live.typing.insert((channel, user), now);
            }
            Ok(Ephemeral::Presence { user, status }) => {
                self.live.presence.insert((ws, user), (status, now));
            }
            Ok(Ephemeral::Call {
                channel,
                call,
                to,
                signal,
            }) => return self.heard_call_signal(ws, &env, channel, call, to, signal),
            Err(_) => {}
        }
        self.emit_live(ws);
        Ok(())
    }

    fn heard_call_signal(
        &mut self,
        ws: Id,
        env: &Envelope,
        channel: Id,
        call: String,
        to: Option<String>,
        signal: String,
    ) -> Result<()> {
        let from_device = crate::keys::hex(&env.author);
        let me = self.device_id()?;
        if from_device == me || to.as_ref().is_some_and(|t| *t != me) {
            return Ok(());
        }
        // Who the device belongs to is what the admins' signed access list says, not what
        // the message claims.
        let from_user = self.device_owner(ws, &from_device)?;
        let Some(from_user) = from_user else {
            tracing::warn!(device = %from_device, "call signal from a device not on the access list: ignored");
            return Ok(());
        };
        if !matches!(self.may_join_call(ws, channel, from_user), Ok(true)) {
            tracing::warn!(user = %from_user, %channel, "call signal from someone not in the channel: ignored");
            return Ok(());
        }
        if self.live.calls.len() >= MAX_HELD_SIGNALS {
            self.live.calls.pop_front();
        }
        self.live.calls.push_back(CallSignal {
            channel,
            call,
            from_device,
            from_user,
            to,
            signal,
        });
        self.call_notify.notify_one();
        let ev = crate::ChangeEvent {
            doc: format!("call:{channel}"),
            entities: Vec::new(),
            remote: true,
        };
        self.emit(ev);
        Ok(())
    }

    fn emit_live(&mut self, ws: Id) {
        let ev = crate::ChangeEvent {
            doc: format!("live:{ws}"),
            entities: Vec::new(),
            remote: true,
        };
        self.emit(ev);
    }

    /// Who is typing in a channel now (their user ids).
    pub fn typing_in(&self, channel: Id) -> Vec<Id> {
        let now = self.now().0;
        let mut v: Vec<Id> = self
            .live
            .typing
            .iter()
            .filter(|((c, _), at)| *c == channel && now - **at < TYPING_MS)
            .map(|((_, u), _)| *u)
            .collect();
        v.sort();
        v
    }

    /// Members heard from recently, with their status.
    pub fn presence(&self, ws: Id) -> Vec<(Id, String)> {
        let now = self.now().0;
        let mut v: Vec<(Id, String)> = self
            .live
            .presence
            .iter()
            .filter(|((w, _), (_, at))| *w == ws && now - *at < PRESENCE_MS)
            .map(|((_, u), (s, _))| (*u, s.clone()))
            .collect();
        v.sort();
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn engine(dir: &std::path::Path, name: &str) -> Engine {
        let mut e = Engine::open(dir).unwrap();
        e.unlock("test", false).unwrap();
        e.init_profile(weft_domain::Profile {
            display_name: name.into(),
            username: name.to_lowercase(),
            ..Default::default()
        })
        .unwrap();
        e
    }

    fn entry(seq: u64, author: [u8; 32], data: Vec<u8>) -> Entry {
        Entry {
            seq,
            blob: [seq as u8; 16],
            author,
            data,
        }
    }

    /// Ada's workspace, with a log on a relay never connected to (only the keys and the log's
    /// bookkeeping are made), and Bob, a member whose replica has her changes.
    struct Pair {
        a: Engine,
        b: Engine,
        ws: Id,
        general: Id,
        key: SymKey,
    }

    fn ada_and_bob(dir: &std::path::Path) -> Pair {
        let mut a = engine(&dir.join("a"), "Ada");
        let ws = a.create_workspace("Acme", "").unwrap().id.unwrap();
        let general = a.find_channel(ws, "general").unwrap();
        a.add_account("ws://127.0.0.1:9/", &[ws]).unwrap();
        let key = a.current_key(&scope(false, ws)).unwrap().unwrap();
        let mut b = engine(&dir.join("b"), "Bob");
        let bob_user = b.identity().unwrap().user;
        a.add_member(ws, bob_user, Role::Member).unwrap();
        b.import_changes(&a.export_changes().unwrap()).unwrap();
        Pair {
            a,
            b,
            ws,
            general,
            key,
        }
    }

    /// Whatever a peer or the relay puts in a log, the engine opens only envelopes that are
    /// well formed, for this log, by the device the relay names, for a document of this
    /// workspace, under a key it holds; the rest is counted and the log goes on.
    #[test]
    fn hostile_entries_are_refused_and_the_log_goes_on() {
        let tmp = tempfile::tempdir().unwrap();
        let Pair {
            mut a,
            mut b,
            ws,
            general,
            key,
        } = ada_and_bob(tmp.path());
        // Bob's replica writes a message; its change is what a genuine entry carries.
        let doc = DocId::channel(ws, general, 0);
        let before = b.doc_state(&doc).unwrap().map(|s| s.0).unwrap_or_default();
        b.send(general, "the genuine one", Default::default())
            .unwrap();
        let change = wire_batch(b.changes_since(&doc, &before).unwrap());
        let mid = b.doc_state(&doc).unwrap().unwrap().0;
        b.send(general, "the one under the twin key", Default::default())
            .unwrap();
        let change2 = wire_batch(b.changes_since(&doc, &mid).unwrap());
        let twin = SymKey::generate(key.epoch);
        let (name, sealed) = a.seal_key(&scope(false, ws), &twin).unwrap();
        a.store.write(|tx| tx.put_secret(&name, &sealed)).unwrap();
        let bob = DeviceKeys::generate();
        let bk = bob.public().sign;
        let log = ws.to_bytes();
        let seal = |keys: &DeviceKeys, k: &weft_crypto::SymKey, w: [u8; 16], d: &str, p: &[u8]| {
            Envelope::seal(keys, k, w, d, p).unwrap().to_bytes()
        };
        let other = Id::from_bytes([9; 16]);
        let stranger = weft_crypto::SymKey::generate(key.epoch);
        let entries = vec![
            entry(1, bk, b"not an envelope".to_vec()),
            // The relay says Mallory wrote what Bob signed.
            entry(2, [7; 32], seal(&bob, &key, log, &doc.to_string(), &change)),
            // A document of another workspace smuggled into this log.
            entry(
                3,
                bk,
                seal(
                    &bob,
                    &key,
                    log,
                    &DocId::channel(other, general, 0).to_string(),
                    &change,
                ),
            ),
            // An envelope made for another log.
            entry(
                4,
                bk,
                seal(&bob, &key, other.to_bytes(), &doc.to_string(), &change),
            ),
            // A key envelope from a device that is not an admin.
            entry(
                5,
                bk,
                seal(
                    &bob,
                    &SymKey::from_bytes(2, [0; 32]),
                    log,
                    "keys:2",
                    b"\0\0\0\0",
                ),
            ),
            // Sealed under a key nobody here has, at the current epoch.
            entry(6, bk, seal(&bob, &stranger, log, &doc.to_string(), &change)),
            // Right key, but the payload is not a batch of changes.
            entry(
                7,
                bk,
                seal(&bob, &key, log, &doc.to_string(), b"\xff\xff\xff\xff"),
            ),
            entry(8, bk, seal(&bob, &key, log, &doc.to_string(), &change)),
            // Sealed under the other key of this epoch, made by an admin who rotated at the
            // same time as another: it opens too.
            entry(9, bk, seal(&bob, &twin, log, &doc.to_string(), &change2)),
        ];
        let r = a.sync_entries(log, &entries).unwrap();
        assert_eq!(r.changes_new, 2, "{r:?}");
        let texts: Vec<String> = a
            .messages(general, None, 10)
            .unwrap()
            .into_iter()
            .map(|m| m.message.text)
            .collect();
        assert_eq!(texts.len(), 2, "{texts:?}");
        assert!(texts.contains(&"the genuine one".to_string()), "{texts:?}");
        assert!(
            texts.contains(&"the one under the twin key".to_string()),
            "{texts:?}"
        );
        let view = &a.sync_overview().unwrap()[0];
        let l = view.logs.iter().find(|l| l.kind == "workspace").unwrap();
        assert_eq!(l.cursor, 9);
        assert_eq!(l.unreadable, 7, "{l:?}");
    }

    /// A long batch is opened on every core; what each entry becomes is what it would be
    /// alone, in log order: the genuine ones applied, the ones under a key nobody here has
    /// or with a payload that is not changes counted unreadable, and one of an epoch not
    /// received yet kept for when its key arrives.
    #[test]
    fn a_long_batch_opened_in_parallel_keeps_each_entrys_verdict() {
        let tmp = tempfile::tempdir().unwrap();
        let Pair {
            mut a,
            mut b,
            ws,
            general,
            key,
        } = ada_and_bob(tmp.path());
        let doc = DocId::channel(ws, general, 0);
        let bob = DeviceKeys::generate();
        let bk = bob.public().sign;
        let log = ws.to_bytes();
        let seal = |k: &SymKey, p: &[u8]| {
            Envelope::seal(&bob, k, log, &doc.to_string(), p)
                .unwrap()
                .to_bytes()
        };
        let stranger = SymKey::generate(key.epoch);
        let later = SymKey::generate(key.epoch + 1);
        let n = 3 * OPEN_PARALLEL_MIN;
        let mut entries = Vec::new();
        let mut later_seq = 0;
        let mut head = b.doc_state(&doc).unwrap().map(|s| s.0).unwrap_or_default();
        for i in 0..n {
            b.send(general, &format!("message {i}"), Default::default())
                .unwrap();
            let change = wire_batch(b.changes_since(&doc, &head).unwrap());
            head = b.doc_state(&doc).unwrap().unwrap().0;
            entries.push(entry(entries.len() as u64 + 1, bk, seal(&key, &change)));
            match i {
                10 => entries.push(entry(
                    entries.len() as u64 + 1,
                    bk,
                    seal(&stranger, &change),
                )),
                100 => entries.push(entry(entries.len() as u64 + 1, bk, seal(&key, b"\xff\xff"))),
                150 => {
                    later_seq = entries.len() as u64 + 1;
                    entries.push(entry(later_seq, bk, seal(&later, &change)));
                }
                _ => {}
            }
        }
        let r = a.sync_entries(log, &entries).unwrap();
        assert_eq!(r.changes_new, n, "{r:?}");
        // Every genuine message, once (messages sent in the same millisecond may list in
        // either order).
        let mut texts: Vec<String> = a
            .messages(general, None, 1_000)
            .unwrap()
            .into_iter()
            .map(|m| m.message.text)
            .collect();
        texts.sort();
        let mut want: Vec<String> = (0..n).map(|i| format!("message {i}")).collect();
        want.sort();
        assert_eq!(texts, want);
        let view = &a.sync_overview().unwrap()[0];
        let l = view.logs.iter().find(|l| l.kind == "workspace").unwrap();
        assert_eq!(l.cursor, entries.len() as u64);
        // Two refused, and the one waiting for its key (shown as unreadable until then).
        let held: Vec<u64> = a
            .store
            .held_entries(&ws.to_string())
            .unwrap()
            .into_iter()
            .map(|(seq, _, _)| seq)
            .collect();
        assert_eq!(
            held,
            vec![later_seq],
            "the entry held is the one of the later epoch"
        );
        assert_eq!(l.unreadable, 3, "{l:?}");
    }

    fn wire_batch(changes: Vec<Vec<u8>>) -> Vec<u8> {
        weft_sync::wire::encode_changes(&changes)
    }

    use weft_crypto::SymKey;
}
