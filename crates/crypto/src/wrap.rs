//! A symmetric key sealed to one device's X25519 key (ephemeral-static Diffie-Hellman, HKDF,
//! XChaCha20-Poly1305), bound to a context such as the workspace and scope it belongs to.

use crate::{CryptoError, DeviceKeys, SymKey, take};
use chacha20poly1305::{
    XChaCha20Poly1305, XNonce,
    aead::{Aead, KeyInit, Payload},
};
use hkdf::Hkdf;
use rand_core::{OsRng, RngCore};
use sha2::Sha256;
use x25519_dalek::{EphemeralSecret, PublicKey};
use zeroize::Zeroizing;

/// Bytes of a wrapped key on the wire.
pub const WRAPPED_LEN: usize = 4 + 32 + 24 + 48;

/// A key wrapped to one recipient device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrappedKey {
    pub epoch: u32,
    ephemeral: [u8; 32],
    nonce: [u8; 24],
    ciphertext: [u8; 48],
}

/// Wraps `key` to the device whose X25519 public key is `recipient`, for `context`.
pub fn wrap_key(key: &SymKey, recipient: &[u8; 32], context: &[u8]) -> WrappedKey {
    let eph = EphemeralSecret::random_from_rng(OsRng);
    let eph_pub = PublicKey::from(&eph).to_bytes();
    let shared = Zeroizing::new(eph.diffie_hellman(&PublicKey::from(*recipient)).to_bytes());
    let kek = kek(&shared, &eph_pub, recipient, context);
    let mut nonce = [0u8; 24];
    OsRng.fill_bytes(&mut nonce);
    let aad = aad(key.epoch, &eph_pub, recipient, context);
    let ct = XChaCha20Poly1305::new((&*kek).into())
        .encrypt(
            XNonce::from_slice(&nonce),
            Payload {
                msg: key.bytes(),
                aad: &aad,
            },
        )
        .unwrap_or_default();
    let mut ciphertext = [0u8; 48];
    ciphertext.copy_from_slice(&ct);
    WrappedKey {
        epoch: key.epoch,
        ephemeral: eph_pub,
        nonce,
        ciphertext,
    }
}

/// Unwraps a key sealed to `device` for `context`.
pub fn unwrap_key(
    device: &DeviceKeys,
    wrapped: &WrappedKey,
    context: &[u8],
) -> Result<SymKey, CryptoError> {
    let me = device.public().agree;
    let shared = Zeroizing::new(
        device
            .agreement()
            .diffie_hellman(&PublicKey::from(wrapped.ephemeral))
            .to_bytes(),
    );
    let kek = kek(&shared, &wrapped.ephemeral, &me, context);
    let aad = aad(wrapped.epoch, &wrapped.ephemeral, &me, context);
    let pt = Zeroizing::new(
        XChaCha20Poly1305::new((&*kek).into())
            .decrypt(
                XNonce::from_slice(&wrapped.nonce),
                Payload {
                    msg: &wrapped.ciphertext,
                    aad: &aad,
                },
            )
            .map_err(|_| CryptoError::Decrypt)?,
    );
    let mut k = [0u8; 32];
    k.copy_from_slice(&pt);
    Ok(SymKey::from_bytes(wrapped.epoch, k))
}

impl WrappedKey {
    /// The wire form, [`WRAPPED_LEN`] bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(WRAPPED_LEN);
        v.extend_from_slice(&self.epoch.to_le_bytes());
        v.extend_from_slice(&self.ephemeral);
        v.extend_from_slice(&self.nonce);
        v.extend_from_slice(&self.ciphertext);
        v
    }

    /// Parses the wire form.
    pub fn from_bytes(mut b: &[u8]) -> Result<WrappedKey, CryptoError> {
        let epoch = u32::from_le_bytes(take::<4>(&mut b, "epoch")?);
        let ephemeral = take::<32>(&mut b, "ephemeral key")?;
        let nonce = take::<24>(&mut b, "nonce")?;
        let ciphertext = take::<48>(&mut b, "wrapped key")?;
        if !b.is_empty() {
            return Err(CryptoError::Trailing(b.len()));
        }
        Ok(WrappedKey {
            epoch,
            ephemeral,
            nonce,
            ciphertext,
        })
    }
}

fn kek(shared: &[u8; 32], eph: &[u8; 32], recipient: &[u8; 32], ctx: &[u8]) -> Zeroizing<[u8; 32]> {
    let hk = Hkdf::<Sha256>::new(Some(b"weft/wrap/v1"), shared);
    let mut info = Vec::with_capacity(64 + ctx.len());
    info.extend_from_slice(eph);
    info.extend_from_slice(recipient);
    info.extend_from_slice(ctx);
    let mut out = Zeroizing::new([0u8; 32]);
    // 32 bytes is far below HKDF-SHA256's limit of 8160: this cannot fail.
    let _ = hk.expand(&info, &mut out[..]);
    out
}

fn aad(epoch: u32, eph: &[u8; 32], recipient: &[u8; 32], ctx: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(68 + ctx.len());
    v.extend_from_slice(&epoch.to_le_bytes());
    v.extend_from_slice(eph);
    v.extend_from_slice(recipient);
    v.extend_from_slice(ctx);
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_recipient_unwraps_and_only_for_the_same_context() {
        let alice = DeviceKeys::generate();
        let eve = DeviceKeys::generate();
        let key = SymKey::generate(4);
        let w = wrap_key(&key, &alice.public().agree, b"ws1/workspace");
        let w = WrappedKey::from_bytes(&w.to_bytes()).unwrap();
        assert_eq!(unwrap_key(&alice, &w, b"ws1/workspace").unwrap(), key);
        assert_eq!(
            unwrap_key(&eve, &w, b"ws1/workspace"),
            Err(CryptoError::Decrypt)
        );
        assert_eq!(
            unwrap_key(&alice, &w, b"ws2/workspace"),
            Err(CryptoError::Decrypt)
        );
        let mut relabelled = w.clone();
        relabelled.epoch = 5;
        assert_eq!(
            unwrap_key(&alice, &relabelled, b"ws1/workspace"),
            Err(CryptoError::Decrypt)
        );
        assert!(WrappedKey::from_bytes(&w.to_bytes()[..50]).is_err());
    }
}
