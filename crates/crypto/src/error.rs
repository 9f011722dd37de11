/// Why a cryptographic operation or decoding failed. Messages name the part, never a secret.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CryptoError {
    #[error("{what} is truncated: {need} bytes needed, {have} left")]
    Truncated {
        what: &'static str,
        need: usize,
        have: usize,
    },
    #[error("{what} is {len} bytes, over the limit of {max}")]
    TooLong {
        what: &'static str,
        len: usize,
        max: usize,
    },
    #[error("{0} trailing bytes after the envelope")]
    Trailing(usize),
    #[error("envelope format {0} is not supported (this build reads format 1)")]
    Format(u8),
    #[error("document id is not UTF-8")]
    DocId,
    #[error("signature does not verify")]
    BadSignature,
    #[error("not a valid public key")]
    BadPublicKey,
    #[error("decryption failed: wrong key, or the ciphertext or its associated data was altered")]
    Decrypt,
    #[error("envelope is for {found}, expected {expected}")]
    WrongContext { expected: String, found: String },
    #[error("envelope was sealed under epoch {found}; key is for epoch {expected}")]
    WrongEpoch { expected: u32, found: u32 },
    #[error("key derivation failed: {0}")]
    Kdf(String),
    #[error("wrong passphrase, or the key file was altered")]
    Passphrase,
}
