//! Weft's cryptography, built only from RustCrypto and dalek primitives (nothing by hand).
//!
//! - [`DeviceKeys`]: a device's Ed25519 signing key and X25519 key-agreement key.
//! - [`SymKey`]: a per-workspace (or per private channel / DM) key with an epoch.
//! - [`Envelope`]: XChaCha20-Poly1305 ciphertext with workspace, document, epoch and author
//!   bound as associated data, signed by the author device.
//! - [`wrap_key`] / [`unwrap_key`]: a symmetric key sealed to one member device.
//! - [`FileKey`], [`seal_chunk`] / [`open_chunk`]: a file's content in sealed chunks.
//! - [`InviteSecret`]: the secret in an invite link's fragment, and what it derives.
//! - [`seal_with_passphrase`]: device secrets at rest where no keychain answers (Argon2id).
//!
//! This crate opens no socket and reads no clock.

mod envelope;
mod error;
mod file;
mod invite;
mod keys;
mod passphrase;
mod wrap;

pub use envelope::{Envelope, MAX_DOC_ID, MAX_PAYLOAD};
pub use error::CryptoError;
pub use file::{CHUNK, CHUNK_OVERHEAD, FileKey, open_chunk, seal_chunk};
pub use invite::InviteSecret;
pub use keys::{DeviceKeys, DevicePublic, SymKey, verify};
pub use passphrase::{open_with_passphrase, seal_with_passphrase};
pub use wrap::{WRAPPED_LEN, WrappedKey, unwrap_key, wrap_key};

/// Reads a fixed-size array off the front of `input`.
pub(crate) fn take<const N: usize>(
    input: &mut &[u8],
    what: &'static str,
) -> Result<[u8; N], CryptoError> {
    let Some((head, rest)) = input.split_first_chunk::<N>() else {
        return Err(CryptoError::Truncated {
            what,
            need: N,
            have: input.len(),
        });
    };
    *input = rest;
    Ok(*head)
}
