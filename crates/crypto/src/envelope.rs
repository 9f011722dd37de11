//! Signed, encrypted envelopes: what a change looks like to the relay.
//!
//! Layout (format 1): `format u8 | workspace [16] | doc_len u16 | doc | epoch u32 | author [32]
//! | nonce [24] | ct_len u32 | ciphertext | signature [64]`, integers little-endian. Everything
//! before the nonce is the associated data of the AEAD, so none of it can be changed without
//! decryption failing; the signature covers everything before it.

use crate::{CryptoError, DeviceKeys, SymKey, keys::verify, take};
use chacha20poly1305::{
    XChaCha20Poly1305, XNonce,
    aead::{Aead, KeyInit, Payload},
};
use rand_core::{OsRng, RngCore};

const FORMAT: u8 = 1;
const DOMAIN: &str = "envelope/v1";
/// Longest document id an envelope carries.
pub const MAX_DOC_ID: usize = 256;
/// Largest plaintext an envelope carries (a batch of changes or a snapshot part).
pub const MAX_PAYLOAD: usize = 8 << 20;
const TAG: usize = 16;

/// One encrypted, signed payload for one document of one workspace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    pub workspace: [u8; 16],
    pub doc: String,
    pub epoch: u32,
    /// The author device's signing key.
    pub author: [u8; 32],
    nonce: [u8; 24],
    ciphertext: Vec<u8>,
    signature: [u8; 64],
}

impl Envelope {
    /// Encrypts `plaintext` under `key` and signs it as `device`.
    pub fn seal(
        device: &DeviceKeys,
        key: &SymKey,
        workspace: [u8; 16],
        doc: &str,
        plaintext: &[u8],
    ) -> Result<Envelope, CryptoError> {
        if doc.len() > MAX_DOC_ID {
            return Err(CryptoError::TooLong {
                what: "document id",
                len: doc.len(),
                max: MAX_DOC_ID,
            });
        }
        if plaintext.len() > MAX_PAYLOAD {
            return Err(CryptoError::TooLong {
                what: "payload",
                len: plaintext.len(),
                max: MAX_PAYLOAD,
            });
        }
        let mut env = Envelope {
            workspace,
            doc: doc.to_owned(),
            epoch: key.epoch,
            author: device.public().sign,
            nonce: [0; 24],
            ciphertext: Vec::new(),
            signature: [0; 64],
        };
        OsRng.fill_bytes(&mut env.nonce);
        let aad = env.header();
        env.ciphertext = XChaCha20Poly1305::new(key.bytes().into())
            .encrypt(
                XNonce::from_slice(&env.nonce),
                Payload {
                    msg: plaintext,
                    aad: &aad,
                },
            )
            .map_err(|_| CryptoError::Decrypt)?;
        env.signature = device.sign(DOMAIN, &env.signed_part());
        Ok(env)
    }

    /// Checks the author's signature (the relay can do this without any key).
    pub fn verify_signature(&self) -> Result<(), CryptoError> {
        verify(&self.author, DOMAIN, &self.signed_part(), &self.signature)
    }

    /// Verifies and decrypts, refusing an envelope made for another workspace, document or
    /// epoch. Whether the author may write here is the caller's question.
    pub fn open(
        &self,
        key: &SymKey,
        workspace: [u8; 16],
        doc: &str,
    ) -> Result<Vec<u8>, CryptoError> {
        if self.workspace != workspace || self.doc != doc {
            return Err(CryptoError::WrongContext {
                expected: format!("{}/{doc}", hex(&workspace)),
                found: format!("{}/{}", hex(&self.workspace), self.doc),
            });
        }
        if self.epoch != key.epoch {
            return Err(CryptoError::WrongEpoch {
                expected: key.epoch,
                found: self.epoch,
            });
        }
        self.verify_signature()?;
        XChaCha20Poly1305::new(key.bytes().into())
            .decrypt(
                XNonce::from_slice(&self.nonce),
                Payload {
                    msg: &self.ciphertext,
                    aad: &self.header(),
                },
            )
            .map_err(|_| CryptoError::Decrypt)
    }

    /// Associated data: format, workspace, document, epoch, author.
    fn header(&self) -> Vec<u8> {
        let mut h = Vec::with_capacity(1 + 16 + 2 + self.doc.len() + 4 + 32);
        h.push(FORMAT);
        h.extend_from_slice(&self.workspace);
        h.extend_from_slice(&(self.doc.len() as u16).to_le_bytes());
        h.extend_from_slice(self.doc.as_bytes());
        h.extend_from_slice(&self.epoch.to_le_bytes());
        h.extend_from_slice(&self.author);
        h
    }

    fn signed_part(&self) -> Vec<u8> {
        let mut v = self.header();
        v.extend_from_slice(&self.nonce);
        v.extend_from_slice(&(self.ciphertext.len() as u32).to_le_bytes());
        v.extend_from_slice(&self.ciphertext);
        v
    }

    /// The wire form.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = self.signed_part();
        v.extend_from_slice(&self.signature);
        v
    }

    /// Parses the wire form with every length checked before anything is allocated.
    pub fn from_bytes(mut b: &[u8]) -> Result<Envelope, CryptoError> {
        let [format] = take::<1>(&mut b, "format")?;
        if format != FORMAT {
            return Err(CryptoError::Format(format));
        }
        let workspace = take::<16>(&mut b, "workspace id")?;
        let doc_len = u16::from_le_bytes(take::<2>(&mut b, "document id length")?) as usize;
        if doc_len > MAX_DOC_ID {
            return Err(CryptoError::TooLong {
                what: "document id",
                len: doc_len,
                max: MAX_DOC_ID,
            });
        }
        let doc = take_slice(&mut b, doc_len, "document id")?;
        let doc = std::str::from_utf8(doc)
            .map_err(|_| CryptoError::DocId)?
            .to_owned();
        let epoch = u32::from_le_bytes(take::<4>(&mut b, "epoch")?);
        let author = take::<32>(&mut b, "author")?;
        let nonce = take::<24>(&mut b, "nonce")?;
        let ct_len = u32::from_le_bytes(take::<4>(&mut b, "ciphertext length")?) as usize;
        if ct_len > MAX_PAYLOAD + TAG {
            return Err(CryptoError::TooLong {
                what: "ciphertext",
                len: ct_len,
                max: MAX_PAYLOAD + TAG,
            });
        }
        let ciphertext = take_slice(&mut b, ct_len, "ciphertext")?.to_vec();
        let signature = take::<64>(&mut b, "signature")?;
        if !b.is_empty() {
            return Err(CryptoError::Trailing(b.len()));
        }
        Ok(Envelope {
            workspace,
            doc,
            epoch,
            author,
            nonce,
            ciphertext,
            signature,
        })
    }
}

fn take_slice<'a>(b: &mut &'a [u8], n: usize, what: &'static str) -> Result<&'a [u8], CryptoError> {
    if b.len() < n {
        return Err(CryptoError::Truncated {
            what,
            need: n,
            have: b.len(),
        });
    }
    let (head, rest) = b.split_at(n);
    *b = rest;
    Ok(head)
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const WS: [u8; 16] = [7; 16];

    fn sealed() -> (DeviceKeys, SymKey, Envelope) {
        let dev = DeviceKeys::generate();
        let key = SymKey::generate(2);
        let env = Envelope::seal(&dev, &key, WS, "ch:x:y:0", b"secret plans").unwrap();
        (dev, key, env)
    }

    #[test]
    fn sealed_envelopes_open_only_with_their_key_and_context() {
        let (_, key, env) = sealed();
        let bytes = env.to_bytes();
        assert!(
            !bytes.windows(12).any(|w| w == b"secret plans"),
            "plaintext visible"
        );
        let back = Envelope::from_bytes(&bytes).unwrap();
        assert_eq!(back.open(&key, WS, "ch:x:y:0").unwrap(), b"secret plans");
        let other = SymKey::generate(2);
        assert_eq!(back.open(&other, WS, "ch:x:y:0"), Err(CryptoError::Decrypt));
        assert!(matches!(
            back.open(&key, [8; 16], "ch:x:y:0"),
            Err(CryptoError::WrongContext { .. })
        ));
        assert!(matches!(
            back.open(&key, WS, "board:x:y"),
            Err(CryptoError::WrongContext { .. })
        ));
        let later = SymKey::from_bytes(3, *key.bytes());
        assert_eq!(
            back.open(&later, WS, "ch:x:y:0"),
            Err(CryptoError::WrongEpoch {
                expected: 3,
                found: 2
            })
        );
    }

    #[test]
    fn altered_associated_data_or_a_forged_author_is_refused() {
        let (_, key, env) = sealed();
        // Re-labelled to another document: the signature no longer holds.
        let mut moved = env.clone();
        moved.doc = "ch:x:y:1".into();
        assert_eq!(
            moved.open(&key, WS, "ch:x:y:1"),
            Err(CryptoError::BadSignature)
        );
        // Claimed by another device that re-signs it: the AEAD still binds the real author.
        let mallory = DeviceKeys::generate();
        let mut forged = env.clone();
        forged.author = mallory.public().sign;
        forged.signature = mallory.sign(DOMAIN, &forged.signed_part());
        assert_eq!(forged.open(&key, WS, "ch:x:y:0"), Err(CryptoError::Decrypt));
    }

    #[test]
    fn every_flipped_byte_is_refused() {
        let (_, key, env) = sealed();
        let bytes = env.to_bytes();
        for i in 0..bytes.len() {
            let mut b = bytes.clone();
            b[i] ^= 0x20;
            let opened = Envelope::from_bytes(&b).and_then(|e| e.open(&key, WS, "ch:x:y:0"));
            assert!(opened.is_err(), "flip at {i} opened");
        }
    }

    #[test]
    fn limits_are_enforced_with_their_numbers() {
        let dev = DeviceKeys::generate();
        let key = SymKey::generate(0);
        let long = "d".repeat(MAX_DOC_ID + 1);
        assert_eq!(
            Envelope::seal(&dev, &key, WS, &long, b""),
            Err(CryptoError::TooLong {
                what: "document id",
                len: MAX_DOC_ID + 1,
                max: MAX_DOC_ID
            })
        );
        // A header claiming a 4 GiB ciphertext is refused before any allocation.
        let (_, _, env) = sealed();
        let mut b = env.to_bytes();
        let at = 1 + 16 + 2 + env.doc.len() + 4 + 32 + 24;
        b[at..at + 4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(
            Envelope::from_bytes(&b),
            Err(CryptoError::TooLong {
                what: "ciphertext",
                ..
            })
        ));
        let mut trailing = env.to_bytes();
        trailing.push(0);
        assert_eq!(
            Envelope::from_bytes(&trailing),
            Err(CryptoError::Trailing(1))
        );
        assert_eq!(Envelope::from_bytes(&[2]), Err(CryptoError::Format(2)));
    }

    proptest::proptest! {
        #[test]
        fn decoding_arbitrary_bytes_never_panics(b in proptest::collection::vec(proptest::num::u8::ANY, 0..400)) {
            let _ = Envelope::from_bytes(&b);
        }

        #[test]
        fn every_truncation_is_an_error(cut in 0usize..200) {
            let (_, _, env) = sealed();
            let b = env.to_bytes();
            let cut = cut.min(b.len() - 1);
            proptest::prop_assert!(Envelope::from_bytes(&b[..cut]).is_err());
        }
    }
}
