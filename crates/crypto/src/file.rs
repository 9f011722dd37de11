//! File contents. Each file has its own random key; its bytes are cut into chunks of
//! [`CHUNK`] bytes, each sealed with XChaCha20-Poly1305 under that key. A key seals one file
//! only, so the chunk's index serves as its nonce; the index and the chunk count are bound as
//! associated data, so chunks cannot be reordered, swapped or cut off the end unnoticed.

use crate::CryptoError;
use chacha20poly1305::{
    XChaCha20Poly1305, XNonce,
    aead::{Aead, KeyInit, Payload},
};
use rand_core::{OsRng, RngCore};
use zeroize::Zeroizing;

/// Bytes of content per chunk (the last may be shorter).
pub const CHUNK: usize = 1 << 20;
/// Bytes a sealed chunk adds to its content (the Poly1305 tag).
pub const CHUNK_OVERHEAD: usize = 16;

const DOMAIN: &[u8] = b"weft-file-chunk/v1";

/// A file's content key.
#[derive(Clone)]
pub struct FileKey(Zeroizing<[u8; 32]>);

impl std::fmt::Debug for FileKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FileKey(..)")
    }
}

impl FileKey {
    pub fn generate() -> FileKey {
        let mut k = Zeroizing::new([0u8; 32]);
        OsRng.fill_bytes(&mut k[..]);
        FileKey(k)
    }

    pub fn from_bytes(b: [u8; 32]) -> FileKey {
        FileKey(Zeroizing::new(b))
    }

    pub fn bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

fn nonce_and_aad(index: u32, count: u32) -> ([u8; 24], Vec<u8>) {
    let mut nonce = [0u8; 24];
    nonce[..4].copy_from_slice(&index.to_le_bytes());
    let mut aad = DOMAIN.to_vec();
    aad.extend_from_slice(&index.to_le_bytes());
    aad.extend_from_slice(&count.to_le_bytes());
    (nonce, aad)
}

/// Seals chunk `index` of a file of `count` chunks.
pub fn seal_chunk(
    key: &FileKey,
    index: u32,
    count: u32,
    plain: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    if plain.len() > CHUNK {
        return Err(CryptoError::TooLong {
            what: "file chunk",
            len: plain.len(),
            max: CHUNK,
        });
    }
    let (nonce, aad) = nonce_and_aad(index, count);
    XChaCha20Poly1305::new(key.bytes().into())
        .encrypt(
            XNonce::from_slice(&nonce),
            Payload {
                msg: plain,
                aad: &aad,
            },
        )
        .map_err(|_| CryptoError::Decrypt)
}

/// Opens chunk `index` of a file of `count` chunks; any change to it fails.
pub fn open_chunk(
    key: &FileKey,
    index: u32,
    count: u32,
    sealed: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    if sealed.len() > CHUNK + CHUNK_OVERHEAD {
        return Err(CryptoError::TooLong {
            what: "sealed file chunk",
            len: sealed.len(),
            max: CHUNK + CHUNK_OVERHEAD,
        });
    }
    let (nonce, aad) = nonce_and_aad(index, count);
    XChaCha20Poly1305::new(key.bytes().into())
        .decrypt(
            XNonce::from_slice(&nonce),
            Payload {
                msg: sealed,
                aad: &aad,
            },
        )
        .map_err(|_| CryptoError::Decrypt)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chunk_opens_only_as_itself() {
        let key = FileKey::generate();
        let sealed = seal_chunk(&key, 1, 3, b"middle").unwrap();
        assert_eq!(sealed.len(), 6 + CHUNK_OVERHEAD);
        assert_eq!(open_chunk(&key, 1, 3, &sealed).unwrap(), b"middle");
        // At another position, in a file of another length, under another key, or altered.
        assert_eq!(open_chunk(&key, 0, 3, &sealed), Err(CryptoError::Decrypt));
        assert_eq!(open_chunk(&key, 1, 2, &sealed), Err(CryptoError::Decrypt));
        let other = FileKey::generate();
        assert_eq!(open_chunk(&other, 1, 3, &sealed), Err(CryptoError::Decrypt));
        let mut bad = sealed.clone();
        bad[0] ^= 1;
        assert_eq!(open_chunk(&key, 1, 3, &bad), Err(CryptoError::Decrypt));
    }

    #[test]
    fn chunks_have_a_size_limit() {
        let key = FileKey::generate();
        let big = vec![0; CHUNK + 1];
        assert!(matches!(
            seal_chunk(&key, 0, 1, &big),
            Err(CryptoError::TooLong { .. })
        ));
        assert!(seal_chunk(&key, 0, 1, &big[..CHUNK]).is_ok());
    }
}
