//! The engine's keys: this device's keys, the symmetric key of each scope (a workspace, or the
//! user's personal log) by epoch, and the special envelopes that hand keys to devices.
//!
//! Every secret is sealed by the [`Vault`] before it reaches SQLite. A scope's keys reach a
//! member device in a *key envelope* (document `keys:<epoch>`) that holds the new key wrapped
//! to each member device's X25519 key; an invitee finds them in an *invite box* (document
//! `invite:<key>`), sealed under the key its link's secret derives.

use crate::{CoreError, Engine, Result, Vault};
use std::collections::BTreeMap;
use weft_crypto::{
    CryptoError, DeviceKeys, Envelope, InviteSecret, SymKey, WrappedKey, unwrap_key, wrap_key,
};
use weft_domain::Id;
use weft_store::Tx;

/// Document id of a key envelope for `epoch`.
pub(crate) fn keys_doc(epoch: u32) -> String {
    format!("keys:{epoch}")
}

/// Document id of an invite box.
pub(crate) fn invite_doc(invite_key: &[u8; 32]) -> String {
    format!("invite:{}", hex(invite_key))
}

/// The scope of a log's keys.
pub(crate) fn scope(kind_personal: bool, log: Id) -> String {
    if kind_personal {
        format!("me:{log}")
    } else {
        format!("ws:{log}")
    }
}

/// `key:<scope>:<epoch>:<fingerprint>`: names sort by epoch, then by fingerprint.
fn key_secret_name(scope: &str, key: &SymKey) -> String {
    use sha2::Digest;
    let fp = sha2::Sha256::digest(key.bytes());
    format!("key:{scope}:{:010}:{}", key.epoch, hex(&fp[..8]))
}

fn epoch_of(name: &str) -> Option<u32> {
    name.rsplit(':').nth(1)?.parse().ok()
}

/// Key envelopes only frame and sign keys that are already wrapped to each recipient: their
/// AEAD key is public, fixed per epoch.
fn framing_key(epoch: u32) -> SymKey {
    SymKey::from_bytes(epoch, [0; 32])
}

fn wrap_context(scope: &str) -> Vec<u8> {
    format!("weft/scope-key/{scope}").into_bytes()
}

pub(crate) fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

pub(crate) fn unhex<const N: usize>(s: &str) -> Option<[u8; N]> {
    if s.len() != 2 * N {
        return None;
    }
    let mut out = [0u8; N];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

impl Engine {
    /// The vault, opened on first use (it may ask the keychain or derive a passphrase key).
    pub(crate) fn vault(&mut self) -> Result<&Vault> {
        if self.vault.is_none() {
            self.vault = Some(Vault::open(self.dir(), None)?);
        }
        self.vault
            .as_ref()
            .ok_or_else(|| CoreError::NotFound("vault".into()))
    }

    /// Opens the vault with a passphrase (used where no keychain answers, or always with
    /// `keychain` false) instead of reading `WEFT_PASSPHRASE` and `WEFT_KEYCHAIN`.
    pub fn unlock(&mut self, passphrase: &str, keychain: bool) -> Result<()> {
        self.vault = Some(Vault::open_with(self.dir(), Some(passphrase), keychain)?);
        Ok(())
    }

    /// This device's keys, made and sealed into the store on first use.
    pub fn device_keys(&mut self) -> Result<DeviceKeys> {
        if let Some(k) = &self.device {
            return Ok(k.clone());
        }
        self.me()?;
        let sealed = self.store.secret("device")?;
        let keys = match sealed {
            Some(s) => {
                let plain = self.vault()?.open_sealed("device", &s)?;
                DeviceKeys::from_secret_bytes(&fixed::<64>(&plain, "device keys")?)
            }
            None => {
                let k = DeviceKeys::generate();
                let sealed = self.vault()?.seal("device", &k.secret_bytes()[..]);
                self.store.write(|tx| tx.put_secret("device", &sealed))?;
                k
            }
        };
        self.device = Some(keys.clone());
        Ok(keys)
    }

    /// A scope's keys at one epoch. Usually one; two admins who rotated concurrently made
    /// two, and every member holds both, so nothing sealed under either is lost.
    pub(crate) fn sym_keys(&mut self, scope: &str, epoch: u32) -> Result<Vec<SymKey>> {
        let prefix = format!("key:{scope}:{epoch:010}:");
        let mut names = self.store.secret_names(&prefix)?;
        // Keys received in the batch being applied are known before they are stored.
        names.extend(self.keys.keys().filter(|n| n.starts_with(&prefix)).cloned());
        names.sort();
        names.dedup();
        let mut out = Vec::with_capacity(names.len());
        for name in names {
            if let Some(k) = self.keys.get(&name) {
                out.push(k.clone());
                continue;
            }
            let Some(sealed) = self.store.secret(&name)? else {
                continue;
            };
            let plain = self.vault()?.open_sealed(&name, &sealed)?;
            let k = SymKey::from_bytes(epoch, fixed::<32>(&plain, "scope key")?);
            self.keys.insert(name, k.clone());
            out.push(k);
        }
        Ok(out)
    }

    /// A scope's key at one epoch, if this device holds one.
    pub(crate) fn sym_key(&mut self, scope: &str, epoch: u32) -> Result<Option<SymKey>> {
        Ok(self.sym_keys(scope, epoch)?.into_iter().next())
    }

    /// Opens an envelope with whichever of its epoch's keys seals it: `None` when this device
    /// holds no key of that epoch.
    pub(crate) fn open_envelope(&mut self, env: &Envelope, scope: &str) -> Result<Option<Vec<u8>>> {
        let keys = self.sym_keys(scope, env.epoch)?;
        Ok(open_with(env, &keys)?)
    }

    /// A scope's newest key; of two made at once, the same one on every device (the smaller
    /// fingerprint), so members converge on one key.
    pub(crate) fn current_key(&mut self, scope: &str) -> Result<Option<SymKey>> {
        let names = self.store.secret_names(&format!("key:{scope}:"))?;
        let Some(epoch) = names.iter().filter_map(|n| epoch_of(n)).max() else {
            return Ok(None);
        };
        self.sym_key(scope, epoch)
    }

    /// Every key of a scope this device holds.
    pub(crate) fn all_keys(&mut self, scope: &str) -> Result<Vec<SymKey>> {
        let names = self.store.secret_names(&format!("key:{scope}:"))?;
        let mut epochs: Vec<u32> = names.iter().filter_map(|n| epoch_of(n)).collect();
        epochs.dedup();
        let mut out = Vec::new();
        for e in epochs {
            out.extend(self.sym_keys(scope, e)?);
        }
        Ok(out)
    }

    /// Seals a key for the store (inside a transaction the caller commits).
    pub(crate) fn seal_key(&mut self, scope: &str, key: &SymKey) -> Result<(String, Vec<u8>)> {
        let name = key_secret_name(scope, key);
        let sealed = self.vault()?.seal(&name, key.bytes());
        self.keys.insert(name.clone(), key.clone());
        Ok((name, sealed))
    }

    /// Makes a scope's first key (epoch 1) when it has none; returns the current key.
    pub(crate) fn ensure_key(&mut self, scope: &str) -> Result<SymKey> {
        if let Some(k) = self.current_key(scope)? {
            return Ok(k);
        }
        let k = SymKey::generate(1);
        let (name, sealed) = self.seal_key(scope, &k)?;
        self.store.write(|tx| tx.put_secret(&name, &sealed))?;
        Ok(k)
    }

    /// A key envelope handing `key` to `recipients` (X25519 keys), signed by this device.
    pub(crate) fn key_envelope(
        &mut self,
        log: Id,
        scope: &str,
        key: &SymKey,
        recipients: &[[u8; 32]],
    ) -> Result<Vec<u8>> {
        let device = self.device_keys()?;
        let ctx = wrap_context(scope);
        let mut payload = Vec::new();
        payload.extend_from_slice(&(recipients.len() as u32).to_le_bytes());
        for r in recipients {
            payload.extend_from_slice(r);
            payload.extend_from_slice(&wrap_key(key, r, &ctx).to_bytes());
        }
        let env = Envelope::seal(
            &device,
            &framing_key(key.epoch),
            log.to_bytes(),
            &keys_doc(key.epoch),
            &payload,
        )?;
        Ok(env.to_bytes())
    }

    /// Opens a key envelope addressed (among others) to this device.
    pub(crate) fn open_key_envelope(
        &mut self,
        env: &Envelope,
        log: Id,
        scope: &str,
    ) -> Result<Option<SymKey>> {
        let device = self.device_keys()?;
        let plain = env.open(
            &framing_key(env.epoch),
            log.to_bytes(),
            &keys_doc(env.epoch),
        )?;
        let mine = device.public().agree;
        let mut b = plain.as_slice();
        let n = take_u32(&mut b)? as usize;
        let item = 32 + weft_crypto::WRAPPED_LEN;
        if n.checked_mul(item) != Some(b.len()) {
            return Err(bad("key envelope length"));
        }
        for chunk in b.chunks(item) {
            if chunk[..32] == mine {
                let w = WrappedKey::from_bytes(&chunk[32..])?;
                let k = unwrap_key(&device, &w, &wrap_context(scope))?;
                return Ok(Some(k));
            }
        }
        Ok(None)
    }

    /// An invite box: every key of the scope, sealed under the invite's box key.
    pub(crate) fn invite_box(
        &mut self,
        log: Id,
        scope: &str,
        invite: &InviteSecret,
    ) -> Result<Vec<u8>> {
        let device = self.device_keys()?;
        let keys = self.all_keys(scope)?;
        let mut payload = Vec::new();
        payload.extend_from_slice(&(keys.len() as u32).to_le_bytes());
        for k in &keys {
            payload.extend_from_slice(&k.epoch.to_le_bytes());
            payload.extend_from_slice(k.bytes());
        }
        let env = Envelope::seal(
            &device,
            &invite.box_key(),
            log.to_bytes(),
            &invite_doc(&invite.signing_public()),
            &payload,
        )?;
        Ok(env.to_bytes())
    }

    /// Opens an invite box with the invite's secret.
    pub(crate) fn open_invite_box(
        env: &Envelope,
        log: Id,
        invite: &InviteSecret,
    ) -> Result<Vec<SymKey>> {
        let plain = env.open(
            &invite.box_key(),
            log.to_bytes(),
            &invite_doc(&invite.signing_public()),
        )?;
        let mut b = plain.as_slice();
        let n = take_u32(&mut b)? as usize;
        if n.checked_mul(36) != Some(b.len()) {
            return Err(bad("invite box length"));
        }
        Ok(b.chunks(36)
            .map(|c| {
                let mut e = [0u8; 4];
                e.copy_from_slice(&c[..4]);
                let mut k = [0u8; 32];
                k.copy_from_slice(&c[4..]);
                SymKey::from_bytes(u32::from_le_bytes(e), k)
            })
            .collect())
    }

    /// Stores keys received (in the caller's transaction).
    pub(crate) fn put_keys(tx: &Tx<'_>, sealed: &BTreeMap<String, Vec<u8>>) -> Result<()> {
        for (name, s) in sealed {
            tx.put_secret(name, s)?;
        }
        Ok(())
    }
}

/// A secret of a fixed length, as unsealed.
fn fixed<const N: usize>(plain: &[u8], what: &'static str) -> Result<[u8; N]> {
    plain.try_into().map_err(|_| {
        CoreError::Crypto(weft_crypto::CryptoError::Truncated {
            what,
            need: N,
            have: plain.len(),
        })
    })
}

fn take_u32(b: &mut &[u8]) -> Result<u32> {
    let Some((h, rest)) = b.split_first_chunk::<4>() else {
        return Err(bad("count"));
    };
    *b = rest;
    Ok(u32::from_le_bytes(*h))
}

fn bad(what: &'static str) -> CoreError {
    CoreError::Crypto(weft_crypto::CryptoError::Truncated {
        what,
        need: 0,
        have: 0,
    })
}

/// Opens an envelope with whichever of `keys` (its epoch's) seals it: `None` when there are
/// none.
pub(crate) fn open_with(env: &Envelope, keys: &[SymKey]) -> Result<Option<Vec<u8>>, CryptoError> {
    let mut last = None;
    for k in keys {
        match env.open(k, env.workspace, &env.doc) {
            Ok(p) => return Ok(Some(p)),
            Err(e) => last = Some(e),
        }
    }
    match last {
        Some(e) => Err(e),
        None => Ok(None),
    }
}
