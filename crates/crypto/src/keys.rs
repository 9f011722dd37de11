//! Device keys and symmetric keys.

use crate::CryptoError;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use rand_core::{OsRng, RngCore};
use x25519_dalek::{PublicKey, StaticSecret};
use zeroize::{Zeroize, Zeroizing};

/// A device's secret keys: Ed25519 to sign, X25519 to receive wrapped keys. Cloning copies
/// the secrets (each copy is wiped when dropped).
#[derive(Clone)]
pub struct DeviceKeys {
    signing: SigningKey,
    agreement: StaticSecret,
    /// Computed once: every envelope names its author, and a scalar multiplication per
    /// envelope would cost more than sealing it.
    public: DevicePublic,
}

impl std::fmt::Debug for DeviceKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the secrets: only the public half.
        f.debug_struct("DeviceKeys")
            .field("public", &self.public())
            .finish()
    }
}

/// What other devices and the relay know of a device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DevicePublic {
    /// Ed25519 verifying key; doubles as the device's id on the relay.
    pub sign: [u8; 32],
    /// X25519 public key that keys are wrapped to.
    pub agree: [u8; 32],
}

impl DevicePublic {
    /// Both keys, 64 bytes.
    pub fn to_bytes(&self) -> [u8; 64] {
        let mut out = [0; 64];
        out[..32].copy_from_slice(&self.sign);
        out[32..].copy_from_slice(&self.agree);
        out
    }

    /// Parses 64 bytes, refusing a signing key that is not a valid curve point.
    pub fn from_bytes(b: &[u8; 64]) -> Result<DevicePublic, CryptoError> {
        let mut sign = [0; 32];
        let mut agree = [0; 32];
        sign.copy_from_slice(&b[..32]);
        agree.copy_from_slice(&b[32..]);
        VerifyingKey::from_bytes(&sign).map_err(|_| CryptoError::BadPublicKey)?;
        Ok(DevicePublic { sign, agree })
    }
}

impl DeviceKeys {
    /// Fresh keys from the operating system's random source.
    pub fn generate() -> DeviceKeys {
        let mut seed = Zeroizing::new([0u8; 64]);
        OsRng.fill_bytes(&mut seed[..]);
        DeviceKeys::from_secret_bytes(&seed)
    }

    /// Restores keys from [`DeviceKeys::secret_bytes`].
    pub fn from_secret_bytes(b: &[u8; 64]) -> DeviceKeys {
        let mut s = [0u8; 32];
        s.copy_from_slice(&b[..32]);
        let signing = SigningKey::from_bytes(&s);
        s.copy_from_slice(&b[32..]);
        let agreement = StaticSecret::from(s);
        s.zeroize();
        let public = DevicePublic {
            sign: signing.verifying_key().to_bytes(),
            agree: PublicKey::from(&agreement).to_bytes(),
        };
        DeviceKeys {
            signing,
            agreement,
            public,
        }
    }

    /// The 64 secret bytes (to keep in the keychain); wiped when dropped.
    pub fn secret_bytes(&self) -> Zeroizing<[u8; 64]> {
        let mut out = Zeroizing::new([0u8; 64]);
        out[..32].copy_from_slice(self.signing.as_bytes());
        out[32..].copy_from_slice(self.agreement.as_bytes());
        out
    }

    /// The public half.
    pub fn public(&self) -> DevicePublic {
        self.public
    }

    /// Signs `msg` under a domain label, so a signature made for one purpose (a challenge, an
    /// envelope, an access list) is never valid for another.
    pub fn sign(&self, domain: &str, msg: &[u8]) -> [u8; 64] {
        self.signing.sign(&labelled(domain, msg)).to_bytes()
    }

    pub(crate) fn agreement(&self) -> &StaticSecret {
        &self.agreement
    }
}

/// Checks a signature made by [`DeviceKeys::sign`] with the same domain label.
pub fn verify(
    public: &[u8; 32],
    domain: &str,
    msg: &[u8],
    signature: &[u8; 64],
) -> Result<(), CryptoError> {
    let key = VerifyingKey::from_bytes(public).map_err(|_| CryptoError::BadPublicKey)?;
    key.verify_strict(&labelled(domain, msg), &Signature::from_bytes(signature))
        .map_err(|_| CryptoError::BadSignature)
}

fn labelled(domain: &str, msg: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(domain.len() + msg.len() + 9);
    v.extend_from_slice(b"weft/");
    v.extend_from_slice(domain.as_bytes());
    v.push(0);
    v.extend_from_slice(msg);
    v
}

/// A symmetric key for one scope (a workspace, a private channel or a DM) at one epoch.
#[derive(Clone, PartialEq, Eq)]
pub struct SymKey {
    pub epoch: u32,
    key: Zeroizing<[u8; 32]>,
}

impl std::fmt::Debug for SymKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SymKey")
            .field("epoch", &self.epoch)
            .finish_non_exhaustive()
    }
}

impl SymKey {
    /// A fresh random key.
    pub fn generate(epoch: u32) -> SymKey {
        let mut key = Zeroizing::new([0u8; 32]);
        OsRng.fill_bytes(&mut key[..]);
        SymKey { epoch, key }
    }

    /// A key from its bytes (as unwrapped or restored from the keychain).
    pub fn from_bytes(epoch: u32, bytes: [u8; 32]) -> SymKey {
        SymKey {
            epoch,
            key: Zeroizing::new(bytes),
        }
    }

    /// The key's bytes.
    pub fn bytes(&self) -> &[u8; 32] {
        &self.key
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_survive_a_round_trip_through_their_secret_bytes() {
        let k = DeviceKeys::generate();
        let again = DeviceKeys::from_secret_bytes(&k.secret_bytes());
        assert_eq!(k.public(), again.public());
        let sig = again.sign("challenge", b"abc");
        verify(&k.public().sign, "challenge", b"abc", &sig).unwrap();
        assert_eq!(
            DevicePublic::from_bytes(&k.public().to_bytes()).unwrap(),
            k.public()
        );
    }

    #[test]
    fn a_signature_is_bound_to_its_domain_message_and_key() {
        let k = DeviceKeys::generate();
        let other = DeviceKeys::generate();
        let sig = k.sign("challenge", b"abc");
        let pk = k.public().sign;
        assert_eq!(
            verify(&pk, "envelope", b"abc", &sig),
            Err(CryptoError::BadSignature)
        );
        assert_eq!(
            verify(&pk, "challenge", b"abd", &sig),
            Err(CryptoError::BadSignature)
        );
        assert_eq!(
            verify(&other.public().sign, "challenge", b"abc", &sig),
            Err(CryptoError::BadSignature)
        );
        let mut bad = sig;
        bad[10] ^= 1;
        assert_eq!(
            verify(&pk, "challenge", b"abc", &bad),
            Err(CryptoError::BadSignature)
        );
    }

    #[test]
    fn debug_output_shows_no_secret() {
        let k = DeviceKeys::generate();
        let s = format!("{k:?}");
        let secret = k.secret_bytes();
        assert!(!s.contains(&format!("{:?}", &secret[..32])));
        let sym = SymKey::generate(3);
        assert_eq!(format!("{sym:?}"), "SymKey { epoch: 3, .. }");
    }
}
