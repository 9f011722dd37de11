//! Invite secrets: 32 random bytes carried in a link's fragment (which the relay never sees).
//! From it an invitee derives a signing key, whose public half the inviting admin puts on the
//! workspace's access list (so the relay can let the invitee in by challenge and response), and
//! a symmetric key under which the admin left the workspace key for the invitee.

use crate::{CryptoError, SymKey};
use ed25519_dalek::SigningKey;
use hkdf::Hkdf;
use rand_core::{OsRng, RngCore};
use sha2::Sha256;
use zeroize::Zeroizing;

/// The secret of one invite.
#[derive(Clone, PartialEq, Eq)]
pub struct InviteSecret(Zeroizing<[u8; 32]>);

impl std::fmt::Debug for InviteSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("InviteSecret(..)")
    }
}

impl InviteSecret {
    /// A fresh secret.
    pub fn generate() -> InviteSecret {
        let mut s = Zeroizing::new([0u8; 32]);
        OsRng.fill_bytes(&mut s[..]);
        InviteSecret(s)
    }

    /// The secret as it appears in a link: 43 characters of unpadded base64url.
    pub fn to_link_text(&self) -> String {
        base64url(&self.0[..])
    }

    /// Parses [`InviteSecret::to_link_text`].
    pub fn from_link_text(s: &str) -> Result<InviteSecret, CryptoError> {
        let bytes = unbase64url(s).ok_or(CryptoError::Truncated {
            what: "invite secret",
            need: 32,
            have: s.len() * 6 / 8,
        })?;
        let arr: [u8; 32] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| CryptoError::Truncated {
                what: "invite secret",
                need: 32,
                have: bytes.len(),
            })?;
        Ok(InviteSecret(Zeroizing::new(arr)))
    }

    fn derive(&self, label: &[u8]) -> Zeroizing<[u8; 32]> {
        let hk = Hkdf::<Sha256>::new(Some(b"weft/invite/v1"), &self.0[..]);
        let mut out = Zeroizing::new([0u8; 32]);
        // 32 bytes of HKDF-SHA256 output cannot fail.
        let _ = hk.expand(label, &mut out[..]);
        out
    }

    /// The invite's signing key: its public half goes on the access list.
    pub fn signing_public(&self) -> [u8; 32] {
        SigningKey::from_bytes(&self.derive(b"sign"))
            .verifying_key()
            .to_bytes()
    }

    /// Signs as the invite (to answer the relay's challenge when joining).
    pub fn sign(&self, domain: &str, msg: &[u8]) -> [u8; 64] {
        let k = crate::DeviceKeys::from_secret_bytes(&{
            let mut b = [0u8; 64];
            b[..32].copy_from_slice(&self.derive(b"sign")[..]);
            b
        });
        k.sign(domain, msg)
    }

    /// The key the workspace key is left under for this invite.
    pub fn box_key(&self) -> SymKey {
        SymKey::from_bytes(0, *self.derive(b"box"))
    }
}

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

fn base64url(b: &[u8]) -> String {
    let mut out = String::with_capacity(b.len() * 4 / 3 + 2);
    for chunk in b.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &x)| n | (u32::from(x) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    out
}

fn unbase64url(s: &str) -> Option<Vec<u8>> {
    if s.len() > 64 {
        return None;
    }
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0);
    for c in s.bytes() {
        let v = ALPHABET.iter().position(|&a| a == c)? as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    (acc == 0).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify;

    #[test]
    fn a_link_secret_round_trips_and_derives_the_same_keys() {
        let s = InviteSecret::generate();
        let text = s.to_link_text();
        assert_eq!(text.len(), 43);
        let back = InviteSecret::from_link_text(&text).unwrap();
        assert_eq!(back.signing_public(), s.signing_public());
        assert_eq!(back.box_key(), s.box_key());
        let sig = back.sign("join", b"challenge");
        verify(&s.signing_public(), "join", b"challenge", &sig).unwrap();
        assert_ne!(s.box_key().bytes(), &s.signing_public());
    }

    #[test]
    fn mangled_link_secrets_are_refused() {
        let s = InviteSecret::generate().to_link_text();
        for bad in [&s[..42], "", "!!!", &format!("{s}A"), &"A".repeat(500)] {
            assert!(InviteSecret::from_link_text(bad).is_err(), "{bad:?}");
        }
    }
}
