//! Keys at rest: one random 32-byte *vault key* per data directory, under which the engine
//! seals every other secret it keeps in SQLite (device signing keys, workspace keys).
//!
//! Where the vault key lives, in this order:
//!
//! 1. the OS keychain (macOS Keychain, Windows Credential Manager, the Secret Service on
//!    Linux), service `app.weft.desktop`, account `vault:<id>`, where `<id>` is a random hex id
//!    kept in `<data_dir>/vault.id` so that two data directories never share an entry;
//! 2. where no keychain answers, `<data_dir>/vault.key`: the key sealed under a passphrase
//!    with Argon2id ([`weft_crypto::seal_with_passphrase`]). The passphrase is the one given to
//!    [`Vault::open`], else the environment variable `WEFT_PASSPHRASE`.
//!
//! Setting the environment variable `WEFT_KEYCHAIN=off` skips the keychain (tests, CI and
//! headless servers do this).
//!
//! **Invariant:** a data directory has at most one vault key, and once it exists it is only
//! ever looked for where it was put: `vault.id` exists only once the keychain holds the key,
//! `vault.key` only once the file does. A backend that no longer answers is an error, never a
//! reason to make a second key, which would leave every secret sealed under the first one
//! unreadable.

use std::fmt;
use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use chacha20poly1305::{
    XChaCha20Poly1305, XNonce,
    aead::{Aead, KeyInit, Payload},
};
use rand_core::{OsRng, RngCore};
use tracing::{info, warn};
use weft_crypto::CryptoError;
use zeroize::Zeroizing;

use crate::error::{CoreError, Result};

/// Keychain service name of every Weft vault entry.
const SERVICE: &str = "app.weft.desktop";
/// Holds the random id naming this data directory's keychain entry.
const ID_FILE: &str = "vault.id";
/// Holds the vault key sealed under a passphrase, where no keychain answers.
const KEY_FILE: &str = "vault.key";
/// Environment variable holding the passphrase of `vault.key`.
const PASSPHRASE_ENV: &str = "WEFT_PASSPHRASE";
/// Environment variable that, set to `off`, skips the keychain.
const KEYCHAIN_ENV: &str = "WEFT_KEYCHAIN";

const KEY_LEN: usize = 32;
/// Random bytes in a vault id: enough that two data directories never pick the same one.
const ID_BYTES: usize = 16;
const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;
/// First byte of everything [`Vault::seal`] makes, so a later format (or a rotated key) can be
/// told apart from this one.
const SEALED_FORMAT: u8 = 1;

/// Where a data directory's vault key is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VaultBackend {
    /// The OS keychain; `vault.id` names the entry.
    Keychain,
    /// `vault.key`, sealed under a passphrase.
    File,
}

/// A data directory's vault key, which seals and opens the engine's other secrets.
pub struct Vault {
    key: Zeroizing<[u8; KEY_LEN]>,
    backend: VaultBackend,
}

// By hand, so that the key can never reach a log line.
impl fmt::Debug for Vault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Vault")
            .field("backend", &self.backend)
            .finish_non_exhaustive()
    }
}

impl Vault {
    /// Gets the vault key of `data_dir`, creating it on first use (see the module docs).
    ///
    /// `passphrase` defaults to `WEFT_PASSPHRASE`; `WEFT_KEYCHAIN=off` skips the OS keychain.
    #[tracing::instrument(skip_all, fields(data_dir = %data_dir.display()))]
    pub fn open(data_dir: &Path, passphrase: Option<&str>) -> Result<Vault> {
        let from_env = std::env::var(PASSPHRASE_ENV).ok().map(Zeroizing::new);
        let passphrase = passphrase.or(from_env.as_ref().map(|p| p.as_str()));
        Vault::open_with(data_dir, passphrase, keychain_wanted())
    }

    /// [`Vault::open`] with the environment already read, so tests need not set variables
    /// (which would race between the tests of one binary).
    pub(crate) fn open_with(
        data_dir: &Path,
        passphrase: Option<&str>,
        use_keychain: bool,
    ) -> Result<Vault> {
        let keychain: Option<&dyn Keychain> = if use_keychain {
            Some(&OsKeychain)
        } else {
            None
        };
        open_in(data_dir, passphrase, keychain)
    }

    /// Where the vault key is kept.
    pub fn backend(&self) -> VaultBackend {
        self.backend
    }

    /// Seals `plaintext` for `label`: only [`Vault::open_sealed`] with the same label opens it.
    ///
    /// Layout: `format [1] | nonce [24] | ciphertext and tag`.
    pub fn seal(&self, label: &str, plaintext: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        OsRng.fill_bytes(&mut nonce);
        let ciphertext = self
            .cipher()
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad: label.as_bytes(),
                },
            )
            .expect("XChaCha20-Poly1305 only refuses messages over 256 GiB, far beyond any secret");
        let mut out = Vec::with_capacity(1 + NONCE_LEN + ciphertext.len());
        out.push(SEALED_FORMAT);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ciphertext);
        out
    }

    /// Opens what [`Vault::seal`] made for `label`; another label, another vault's key or any
    /// altered byte is refused.
    pub fn open_sealed(&self, label: &str, sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        let refused = || CoreError::Unseal {
            label: label.to_owned(),
        };
        let Some((&format, rest)) = sealed.split_first() else {
            return Err(refused());
        };
        if format != SEALED_FORMAT || rest.len() < NONCE_LEN + TAG_LEN {
            return Err(refused());
        }
        let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
        self.cipher()
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: label.as_bytes(),
                },
            )
            .map(Zeroizing::new)
            .map_err(|_| refused())
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new((&*self.key).into())
    }
}

/// Whether the environment lets the vault use the OS keychain (`WEFT_KEYCHAIN` not `off`).
pub fn keychain_wanted() -> bool {
    !std::env::var(KEYCHAIN_ENV).is_ok_and(|v| keychain_off(&v))
}

/// Whether `data_dir` has no vault key yet (the first passphrase given will seal a new one).
pub fn is_new(data_dir: &Path) -> bool {
    !data_dir.join(ID_FILE).exists() && !data_dir.join(KEY_FILE).exists()
}

/// Whether a `WEFT_KEYCHAIN` value switches the keychain off.
fn keychain_off(value: &str) -> bool {
    matches!(
        value.trim().to_ascii_lowercase().as_str(),
        "off" | "0" | "false" | "no"
    )
}

fn open_in(
    data_dir: &Path,
    passphrase: Option<&str>,
    keychain: Option<&dyn Keychain>,
) -> Result<Vault> {
    // An empty passphrase is what an empty `WEFT_PASSPHRASE=` gives: treat it as none rather
    // than seal the key under "".
    let passphrase = passphrase.filter(|p| !p.is_empty());
    if let Some(vault) = load(data_dir, passphrase, keychain)? {
        return Ok(vault);
    }
    if let Some(vault) = create(data_dir, passphrase, keychain)? {
        return Ok(vault);
    }
    // Another process created the key between our look and our attempt: use theirs.
    load(data_dir, passphrase, keychain)?.ok_or_else(|| CoreError::VaultDamaged {
        path: data_dir.display().to_string(),
        reason: "the vault files vanished while it was being opened".into(),
    })
}

/// The existing vault key of `data_dir`, if it has one.
fn load(
    data_dir: &Path,
    passphrase: Option<&str>,
    keychain: Option<&dyn Keychain>,
) -> Result<Option<Vault>> {
    let id_path = data_dir.join(ID_FILE);
    let key_path = data_dir.join(KEY_FILE);
    let id = read_if_exists(&id_path)?;
    let sealed = read_if_exists(&key_path)?;
    match (id, sealed) {
        (None, None) => Ok(None),
        // Never made by this code (each path writes only its own file); guessing which key
        // the stored secrets were sealed under could lose them, so the user decides.
        (Some(_), Some(_)) => Err(CoreError::VaultDamaged {
            path: data_dir.display().to_string(),
            reason: format!(
                "both {ID_FILE} (the key is in the OS keychain) and {KEY_FILE} (the key is in \
                 this file) exist; move away the one that is not in use"
            ),
        }),
        (None, Some(sealed)) => load_file(&key_path, &sealed, passphrase).map(Some),
        (Some(id), None) => load_keychain(&id_path, &id, keychain).map(Some),
    }
}

fn load_file(path: &Path, sealed: &[u8], passphrase: Option<&str>) -> Result<Vault> {
    let Some(passphrase) = passphrase else {
        return Err(CoreError::PassphraseNeeded {
            reason: format!(
                "the vault key in {} is sealed with a passphrase",
                path.display()
            ),
        });
    };
    let key = weft_crypto::open_with_passphrase(sealed, passphrase).map_err(|e| match e {
        CryptoError::Passphrase => CoreError::WrongPassphrase {
            path: path.display().to_string(),
        },
        other => CoreError::VaultDamaged {
            path: path.display().to_string(),
            reason: other.to_string(),
        },
    })?;
    let key = key_from(&key).ok_or_else(|| CoreError::VaultDamaged {
        path: path.display().to_string(),
        reason: format!("it holds {} bytes, not a {KEY_LEN}-byte key", key.len()),
    })?;
    info!(backend = "file", "vault key opened");
    Ok(Vault {
        key,
        backend: VaultBackend::File,
    })
}

fn load_keychain(id_path: &Path, id: &[u8], keychain: Option<&dyn Keychain>) -> Result<Vault> {
    let account = account_of(id).ok_or_else(|| CoreError::VaultDamaged {
        path: id_path.display().to_string(),
        reason: format!("not a vault id ({} hex digits expected)", ID_BYTES * 2),
    })?;
    let Some(keychain) = keychain else {
        return Err(CoreError::Keychain(format!(
            "the vault key of this data directory is in the OS keychain ({account}), but \
             {KEYCHAIN_ENV}=off skips the keychain; unset it"
        )));
    };
    match keychain.get(&account) {
        Ok(Some(secret)) => {
            let key = key_from(&secret).ok_or_else(|| {
                CoreError::Keychain(format!(
                    "the keychain entry {SERVICE} / {account} does not hold a vault key"
                ))
            })?;
            info!(backend = "keychain", "vault key opened");
            Ok(Vault {
                key,
                backend: VaultBackend::Keychain,
            })
        }
        Ok(None) => Err(CoreError::Keychain(format!(
            "the vault key of this data directory ({SERVICE} / {account}) is missing from the OS \
             keychain; without it the secrets stored here cannot be read (remove {} to start \
             over without them)",
            id_path.display()
        ))),
        Err(KeychainDown(why)) => Err(CoreError::Keychain(format!(
            "the vault key of this data directory is in the OS keychain ({account}), which does \
             not answer: {why}; open Weft where that keychain is unlocked (the desktop session)"
        ))),
    }
}

/// Makes the vault key of a data directory that has none. `None` means another process made
/// one meanwhile.
fn create(
    data_dir: &Path,
    passphrase: Option<&str>,
    keychain: Option<&dyn Keychain>,
) -> Result<Option<Vault>> {
    fs::create_dir_all(data_dir).map_err(|source| io_error(data_dir, source))?;
    let mut key = Zeroizing::new([0u8; KEY_LEN]);
    OsRng.fill_bytes(&mut key[..]);
    if let Some(keychain) = keychain {
        match create_in_keychain(data_dir, &key, keychain) {
            Ok(created) => {
                return Ok(created.then_some(Vault {
                    key,
                    backend: VaultBackend::Keychain,
                }));
            }
            Err(Fallback::Down(KeychainDown(why))) => {
                warn!(reason = %why, "no OS keychain answers; keeping the vault key in a file")
            }
            Err(Fallback::Fatal(e)) => return Err(e),
        }
    }
    let Some(passphrase) = passphrase else {
        return Err(CoreError::PassphraseNeeded {
            reason: "no OS keychain answers here (a desktop session has one) and no passphrase \
                     was given to seal the new vault key in a file"
                .into(),
        });
    };
    let path = data_dir.join(KEY_FILE);
    let sealed = weft_crypto::seal_with_passphrase(&key[..], passphrase).map_err(|e| {
        CoreError::VaultDamaged {
            path: path.display().to_string(),
            reason: format!("sealing the vault key failed: {e}"),
        }
    })?;
    let created = publish_new(&path, &sealed).map_err(|source| io_error(&path, source))?;
    if created {
        info!(backend = "file", "vault key created");
    }
    Ok(created.then_some(Vault {
        key,
        backend: VaultBackend::File,
    }))
}

/// Why [`create_in_keychain`] did not keep the key.
enum Fallback {
    /// The keychain does not answer (or does not keep what it is given): use the file.
    Down(KeychainDown),
    /// Something the file would not fix either.
    Fatal(CoreError),
}

/// Puts `key` in the keychain under a new id, then publishes the id. `Ok(false)`: another
/// process published its id first (ours is removed again).
fn create_in_keychain(
    data_dir: &Path,
    key: &[u8; KEY_LEN],
    keychain: &dyn Keychain,
) -> std::result::Result<bool, Fallback> {
    let mut raw = [0u8; ID_BYTES];
    OsRng.fill_bytes(&mut raw);
    let id = hex(&raw);
    let account = format!("vault:{id}");
    keychain.set(&account, key).map_err(Fallback::Down)?;
    // Some stores accept a secret and keep nothing (or something else); trust only one that
    // gives the key back, since vault.id will say from now on that the key is there.
    match keychain.get(&account) {
        Ok(Some(back)) if back.as_slice() == key.as_slice() => {}
        Ok(_) => {
            forget(keychain, &account);
            return Err(Fallback::Down(KeychainDown(
                "it did not give back the key it was given".into(),
            )));
        }
        Err(down) => {
            forget(keychain, &account);
            return Err(Fallback::Down(down));
        }
    }
    let id_path = data_dir.join(ID_FILE);
    match publish_new(&id_path, format!("{id}\n").as_bytes()) {
        Ok(true) => {
            info!(backend = "keychain", "vault key created");
            Ok(true)
        }
        Ok(false) => {
            forget(keychain, &account);
            Ok(false)
        }
        Err(source) => {
            forget(keychain, &account);
            Err(Fallback::Fatal(io_error(&id_path, source)))
        }
    }
}

/// Removes an entry this process made and will not use; a leftover is harmless (no vault.id
/// names it), so a failure is only logged.
fn forget(keychain: &dyn Keychain, account: &str) {
    if let Err(KeychainDown(why)) = keychain.delete(account) {
        warn!(reason = %why, "could not remove an unused keychain entry");
    }
}

/// The keychain account of a `vault.id` file's contents, if they are a vault id.
fn account_of(id_file: &[u8]) -> Option<String> {
    let id = std::str::from_utf8(id_file).ok()?.trim();
    let valid = id.len() == ID_BYTES * 2 && id.bytes().all(|b| b.is_ascii_hexdigit());
    valid.then(|| format!("vault:{}", id.to_ascii_lowercase()))
}

fn key_from(bytes: &[u8]) -> Option<Zeroizing<[u8; KEY_LEN]>> {
    if bytes.len() != KEY_LEN {
        return None;
    }
    let mut key = Zeroizing::new([0u8; KEY_LEN]);
    key.copy_from_slice(bytes);
    Some(key)
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            // Writing to a String cannot fail.
            let _ = write!(s, "{b:02x}");
            s
        })
}

fn io_error(path: &Path, source: io::Error) -> CoreError {
    CoreError::Io {
        path: path.display().to_string(),
        source,
    }
}

fn read_if_exists(path: &Path) -> Result<Option<Vec<u8>>> {
    match fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(io_error(path, source)),
    }
}

/// Writes `bytes` to `path` only if `path` does not exist yet; `Ok(false)` if it did.
///
/// The bytes go to a temporary file (mode 0600 on Unix) that is synced and then linked into
/// place, so `path` is either absent or complete after a crash, and of two processes creating
/// it at once exactly one wins (a rename would let the second silently replace the first).
fn publish_new(path: &Path, bytes: &[u8]) -> io::Result<bool> {
    // A bare file name's parent is "", which names no directory to sync.
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let tmp = temp_path(path);
    let written = write_private(&tmp, bytes);
    let published = written.and_then(|()| match fs::hard_link(&tmp, path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(false),
        // Some file systems have no hard links; a rename is still atomic, only without the
        // guard against a second process creating the file in the same instant.
        Err(_) if !path.exists() => fs::rename(&tmp, path).map(|()| true),
        Err(e) => Err(e),
    });
    // Gone already after a rename; otherwise the temporary name must not linger.
    let _ = fs::remove_file(&tmp);
    let published = published?;
    sync_dir(dir)?;
    Ok(published)
}

fn temp_path(path: &Path) -> PathBuf {
    let mut raw = [0u8; 8];
    OsRng.fill_bytes(&mut raw);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.{}.tmp", hex(&raw)))
}

fn write_private(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// Makes a new name in `dir` survive a crash.
#[cfg(unix)]
fn sync_dir(dir: &Path) -> io::Result<()> {
    fs::File::open(dir)?.sync_all()
}

/// Directories cannot be opened to be synced here; the file itself was synced.
#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> io::Result<()> {
    Ok(())
}

/// Why a keychain did not answer; never holds a secret.
struct KeychainDown(String);

/// A store of vault keys by account; the OS keychain, or a fake in tests.
trait Keychain {
    /// The secret of `account`; `Ok(None)` if the keychain answers that it has none.
    fn get(&self, account: &str) -> std::result::Result<Option<Zeroizing<Vec<u8>>>, KeychainDown>;
    /// Keeps `secret` under `account`.
    fn set(&self, account: &str, secret: &[u8]) -> std::result::Result<(), KeychainDown>;
    /// Removes `account`'s entry; none to remove is fine.
    fn delete(&self, account: &str) -> std::result::Result<(), KeychainDown>;
}

/// The platform keychain through the `keyring` crate.
struct OsKeychain;

impl OsKeychain {
    fn entry(account: &str) -> std::result::Result<keyring::Entry, KeychainDown> {
        let entry = keyring::Entry::new(SERVICE, account).map_err(down)?;
        // On a platform with no store compiled in, `keyring` hands out an in-memory mock that
        // forgets everything when dropped: that is no keychain at all.
        if entry
            .get_credential()
            .downcast_ref::<keyring::mock::MockCredential>()
            .is_some()
        {
            return Err(KeychainDown(
                "this build has no keychain for this platform".into(),
            ));
        }
        Ok(entry)
    }
}

fn down(e: keyring::Error) -> KeychainDown {
    KeychainDown(e.to_string())
}

impl Keychain for OsKeychain {
    fn get(&self, account: &str) -> std::result::Result<Option<Zeroizing<Vec<u8>>>, KeychainDown> {
        match OsKeychain::entry(account)?.get_secret() {
            Ok(secret) => Ok(Some(Zeroizing::new(secret))),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(down(e)),
        }
    }

    fn set(&self, account: &str, secret: &[u8]) -> std::result::Result<(), KeychainDown> {
        OsKeychain::entry(account)?.set_secret(secret).map_err(down)
    }

    fn delete(&self, account: &str) -> std::result::Result<(), KeychainDown> {
        match OsKeychain::entry(account)?.delete_credential() {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(e) => Err(down(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;
    use std::collections::HashMap;

    const PASS: &str = "correct horse battery staple";

    /// An in-memory keychain that can be told to stop answering or to refuse writes.
    #[derive(Default)]
    struct FakeKeychain {
        entries: RefCell<HashMap<String, Vec<u8>>>,
        down: bool,
        read_only: bool,
    }

    impl Keychain for FakeKeychain {
        fn get(
            &self,
            account: &str,
        ) -> std::result::Result<Option<Zeroizing<Vec<u8>>>, KeychainDown> {
            if self.down {
                return Err(KeychainDown("fake keychain is down".into()));
            }
            Ok(self
                .entries
                .borrow()
                .get(account)
                .cloned()
                .map(Zeroizing::new))
        }

        fn set(&self, account: &str, secret: &[u8]) -> std::result::Result<(), KeychainDown> {
            if self.down || self.read_only {
                return Err(KeychainDown("fake keychain refuses writes".into()));
            }
            self.entries
                .borrow_mut()
                .insert(account.into(), secret.into());
            Ok(())
        }

        fn delete(&self, account: &str) -> std::result::Result<(), KeychainDown> {
            self.entries.borrow_mut().remove(account);
            Ok(())
        }
    }

    fn file_vault(dir: &Path) -> Vault {
        Vault::open_with(dir, Some(PASS), false).unwrap()
    }

    #[test]
    fn file_vault_reopened_opens_what_the_first_sealed() {
        let dir = tempfile::tempdir().unwrap();
        let first = file_vault(dir.path());
        assert_eq!(first.backend(), VaultBackend::File);
        let sealed = first.seal("device:signing", b"ed25519 secret bytes");
        drop(first);

        let second = file_vault(dir.path());
        assert_eq!(second.backend(), VaultBackend::File);
        assert_eq!(
            &second.open_sealed("device:signing", &sealed).unwrap()[..],
            b"ed25519 secret bytes"
        );
        assert!(!dir.path().join(ID_FILE).exists());
    }

    #[test]
    fn wrong_passphrase_is_refused_and_the_key_file_is_left_as_it_was() {
        let dir = tempfile::tempdir().unwrap();
        let first = file_vault(dir.path());
        let sealed = first.seal("ws:key", b"workspace key");
        let path = dir.path().join(KEY_FILE);
        let before = fs::read(&path).unwrap();

        let err = Vault::open_with(dir.path(), Some("wrong horse"), false).unwrap_err();
        assert!(matches!(err, CoreError::WrongPassphrase { .. }), "{err:?}");
        assert_eq!(err.kind(), "wrong_passphrase");
        assert!(err.to_string().contains("wrong passphrase"), "{err}");
        assert_eq!(fs::read(&path).unwrap(), before);

        // And the right one still opens the same key.
        let again = file_vault(dir.path());
        assert_eq!(
            &again.open_sealed("ws:key", &sealed).unwrap()[..],
            b"workspace key"
        );
    }

    #[test]
    fn no_keychain_and_no_passphrase_asks_for_weft_passphrase_and_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        for empty in [None, Some("")] {
            let err = Vault::open_with(dir.path(), empty, false).unwrap_err();
            assert!(matches!(err, CoreError::PassphraseNeeded { .. }), "{err:?}");
            assert_eq!(err.kind(), "passphrase_needed");
            let message = err.to_string();
            assert!(message.contains("WEFT_PASSPHRASE"), "{message}");
            assert!(message.contains("keychain"), "{message}");
        }
        assert!(!dir.path().join(KEY_FILE).exists());
        assert!(!dir.path().join(ID_FILE).exists());
    }

    #[test]
    fn existing_key_file_without_passphrase_asks_for_it() {
        let dir = tempfile::tempdir().unwrap();
        file_vault(dir.path());
        let err = Vault::open_with(dir.path(), None, false).unwrap_err();
        assert!(matches!(err, CoreError::PassphraseNeeded { .. }), "{err:?}");
        assert!(err.to_string().contains("WEFT_PASSPHRASE"), "{err}");
    }

    #[test]
    fn key_file_holds_no_raw_key_bytes_and_is_private() {
        let dir = tempfile::tempdir().unwrap();
        let vault = file_vault(dir.path());
        let path = dir.path().join(KEY_FILE);
        let file = fs::read(&path).unwrap();
        assert!(!file.windows(KEY_LEN).any(|w| w == &vault.key[..]));
        assert!(!String::from_utf8_lossy(&file).contains(&hex(&vault.key[..])));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "vault.key mode {mode:o}");
        }
        // No temporary file is left behind.
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, [KEY_FILE]);
    }

    #[test]
    fn a_secret_sealed_for_one_label_does_not_open_as_another_or_when_altered() {
        let dir = tempfile::tempdir().unwrap();
        let vault = file_vault(dir.path());
        let sealed = vault.seal("device:signing", b"secret");
        assert!(!sealed.windows(6).any(|w| w == b"secret"));
        assert_ne!(
            sealed,
            vault.seal("device:signing", b"secret"),
            "nonce is random"
        );

        let err = vault.open_sealed("ws:key", &sealed).unwrap_err();
        assert!(matches!(err, CoreError::Unseal { .. }), "{err:?}");
        for i in 0..sealed.len() {
            let mut altered = sealed.clone();
            altered[i] ^= 0x01;
            assert!(
                vault.open_sealed("device:signing", &altered).is_err(),
                "byte {i}"
            );
        }
        for len in 0..sealed.len() {
            assert!(vault.open_sealed("device:signing", &sealed[..len]).is_err());
        }
        assert_eq!(
            &vault.open_sealed("device:signing", &sealed).unwrap()[..],
            b"secret"
        );

        // Another data directory's vault cannot open it either.
        let other_dir = tempfile::tempdir().unwrap();
        assert!(
            file_vault(other_dir.path())
                .open_sealed("device:signing", &sealed)
                .is_err()
        );
    }

    #[test]
    fn debug_shows_the_backend_and_never_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let vault = file_vault(dir.path());
        let shown = format!("{vault:?}");
        assert!(shown.contains("File"), "{shown}");
        assert!(!shown.contains(&format!("{:?}", &vault.key[..])), "{shown}");
        assert!(!shown.contains(&hex(&vault.key[..])), "{shown}");
    }

    #[test]
    fn weft_keychain_off_values() {
        for off in ["off", "OFF", " off ", "0", "false", "no"] {
            assert!(keychain_off(off), "{off}");
        }
        for on in ["on", "1", "", "yes"] {
            assert!(!keychain_off(on), "{on}");
        }
    }

    #[test]
    fn keychain_vault_reopened_gives_the_same_key_and_writes_no_key_file() {
        let dir = tempfile::tempdir().unwrap();
        let keychain = FakeKeychain::default();
        let first = open_in(dir.path(), None, Some(&keychain)).unwrap();
        assert_eq!(first.backend(), VaultBackend::Keychain);
        let sealed = first.seal("l", b"x");

        let second = open_in(dir.path(), Some(PASS), Some(&keychain)).unwrap();
        assert_eq!(second.backend(), VaultBackend::Keychain);
        assert_eq!(&second.open_sealed("l", &sealed).unwrap()[..], b"x");
        assert!(!dir.path().join(KEY_FILE).exists());
        let id = fs::read(dir.path().join(ID_FILE)).unwrap();
        let account = account_of(&id).unwrap();
        assert_eq!(keychain.entries.borrow().len(), 1);
        assert_eq!(&keychain.entries.borrow()[&account][..], &first.key[..]);
    }

    #[test]
    fn two_data_directories_get_two_keychain_entries() {
        let keychain = FakeKeychain::default();
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let va = open_in(a.path(), None, Some(&keychain)).unwrap();
        let vb = open_in(b.path(), None, Some(&keychain)).unwrap();
        assert_eq!(keychain.entries.borrow().len(), 2);
        assert_ne!(&va.key[..], &vb.key[..]);
    }

    #[test]
    fn key_in_the_keychain_is_never_replaced_when_the_keychain_stops_answering() {
        let dir = tempfile::tempdir().unwrap();
        let mut keychain = FakeKeychain::default();
        open_in(dir.path(), None, Some(&keychain)).unwrap();

        keychain.down = true;
        let err = open_in(dir.path(), Some(PASS), Some(&keychain)).unwrap_err();
        assert!(matches!(err, CoreError::Keychain(_)), "{err:?}");
        assert!(err.to_string().contains("does not answer"), "{err}");
        let err = open_in(dir.path(), Some(PASS), None).unwrap_err();
        assert!(err.to_string().contains("WEFT_KEYCHAIN=off"), "{err}");
        assert!(!dir.path().join(KEY_FILE).exists(), "a second key was made");

        keychain.down = false;
        keychain.entries.borrow_mut().clear();
        let err = open_in(dir.path(), Some(PASS), Some(&keychain)).unwrap_err();
        assert!(
            err.to_string().contains("missing from the OS keychain"),
            "{err}"
        );
        assert!(!dir.path().join(KEY_FILE).exists(), "a second key was made");
        assert!(
            keychain.entries.borrow().is_empty(),
            "a second key was made"
        );
    }

    #[test]
    fn key_file_is_used_even_once_a_keychain_answers() {
        let dir = tempfile::tempdir().unwrap();
        let sealed = file_vault(dir.path()).seal("l", b"x");
        let keychain = FakeKeychain::default();
        let vault = open_in(dir.path(), Some(PASS), Some(&keychain)).unwrap();
        assert_eq!(vault.backend(), VaultBackend::File);
        assert_eq!(&vault.open_sealed("l", &sealed).unwrap()[..], b"x");
        assert!(keychain.entries.borrow().is_empty());
        assert!(!dir.path().join(ID_FILE).exists());
    }

    #[test]
    fn keychain_that_refuses_writes_falls_back_to_the_file() {
        for keychain in [
            FakeKeychain {
                down: true,
                ..Default::default()
            },
            FakeKeychain {
                read_only: true,
                ..Default::default()
            },
        ] {
            let dir = tempfile::tempdir().unwrap();
            let vault = open_in(dir.path(), Some(PASS), Some(&keychain)).unwrap();
            assert_eq!(vault.backend(), VaultBackend::File);
            assert!(keychain.entries.borrow().is_empty());
            assert!(dir.path().join(KEY_FILE).exists());
            assert!(!dir.path().join(ID_FILE).exists());
        }
    }

    #[test]
    fn both_vault_files_present_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        file_vault(dir.path());
        fs::write(
            dir.path().join(ID_FILE),
            "00112233445566778899aabbccddeeff\n",
        )
        .unwrap();
        let err = open_in(dir.path(), Some(PASS), None).unwrap_err();
        assert_eq!(err.kind(), "corrupt");
        assert!(err.to_string().contains("both"), "{err}");
    }

    #[test]
    fn second_creator_loses_the_race_and_nothing_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(KEY_FILE);
        assert!(publish_new(&path, b"first").unwrap());
        assert!(!publish_new(&path, b"second").unwrap());
        assert_eq!(fs::read(&path).unwrap(), b"first");
        assert_eq!(
            fs::read_dir(dir.path()).unwrap().count(),
            1,
            "temporary file left"
        );
    }

    /// Removes a real keychain entry when the test ends, even when it fails.
    struct EntryGuard(Option<String>);

    impl Drop for EntryGuard {
        fn drop(&mut self) {
            if let Some(account) = self.0.take()
                && let Err(KeychainDown(why)) = OsKeychain.delete(&account)
            {
                eprintln!("could not remove test keychain entry {account}: {why}");
            }
        }
    }

    /// Whether the platform keychain answers a whole round trip here, or why not.
    fn os_keychain_answers() -> std::result::Result<(), String> {
        let mut raw = [0u8; ID_BYTES];
        OsRng.fill_bytes(&mut raw);
        let account = format!("vault-probe:{}", hex(&raw));
        OsKeychain
            .set(&account, b"probe")
            .map_err(|KeychainDown(why)| why)?;
        let _guard = EntryGuard(Some(account.clone()));
        match OsKeychain.get(&account).map_err(|KeychainDown(why)| why)? {
            Some(back) if back.as_slice() == b"probe" => Ok(()),
            _ => Err("it did not give back what it was given".into()),
        }
    }

    #[test]
    fn os_keychain_vault_reopened_gives_the_same_key() {
        if let Err(why) = os_keychain_answers() {
            // CI starts a real Secret Service (gnome-keyring on a private D-Bus session) and
            // sets this, so there the test cannot skip.
            assert!(
                std::env::var_os("WEFT_TEST_KEYCHAIN").is_none(),
                "WEFT_TEST_KEYCHAIN is set but no keychain answers: {why}"
            );
            eprintln!("SKIPPED os_keychain_vault_reopened_gives_the_same_key: no keychain: {why}");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let mut guard = EntryGuard(None);
        let first = Vault::open_with(dir.path(), None, true).unwrap();
        let id = fs::read(dir.path().join(ID_FILE)).unwrap();
        let account = account_of(&id).unwrap();
        guard.0 = Some(account.clone());
        assert_eq!(first.backend(), VaultBackend::Keychain);
        assert!(!dir.path().join(KEY_FILE).exists());
        let sealed = first.seal("device:signing", b"kept in the keychain");

        let second = Vault::open_with(dir.path(), None, true).unwrap();
        assert_eq!(second.backend(), VaultBackend::Keychain);
        assert_eq!(&second.key[..], &first.key[..]);
        assert_eq!(
            &second.open_sealed("device:signing", &sealed).unwrap()[..],
            b"kept in the keychain"
        );

        drop(guard);
        assert!(
            OsKeychain.get(&account).is_ok_and(|s| s.is_none()),
            "entry not cleaned up"
        );
    }
}
