//! Device secrets at rest where no keychain answers: sealed under a key derived from a
//! passphrase with Argon2id. File layout: `b"WEFTKEY1" | salt [16] | nonce [24] | ciphertext`.

use crate::{CryptoError, take};
use argon2::{Algorithm, Argon2, Params, Version};
use chacha20poly1305::{
    XChaCha20Poly1305, XNonce,
    aead::{Aead, KeyInit, Payload},
};
use rand_core::{OsRng, RngCore};
use zeroize::Zeroizing;

const MAGIC: &[u8; 8] = b"WEFTKEY1";
/// Argon2id cost: 64 MiB, 3 passes, one lane (OWASP's first recommended setting).
const M_KIB: u32 = 64 * 1024;
const T: u32 = 3;
/// Largest secret sealed this way.
const MAX_SECRET: usize = 4096;

fn derive(passphrase: &str, salt: &[u8; 16]) -> Result<Zeroizing<[u8; 32]>, CryptoError> {
    let params = Params::new(M_KIB, T, 1, Some(32)).map_err(|e| CryptoError::Kdf(e.to_string()))?;
    let mut out = Zeroizing::new([0u8; 32]);
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password_into(passphrase.as_bytes(), salt, &mut out[..])
        .map_err(|e| CryptoError::Kdf(e.to_string()))?;
    Ok(out)
}

/// Seals `secret` under `passphrase`.
pub fn seal_with_passphrase(secret: &[u8], passphrase: &str) -> Result<Vec<u8>, CryptoError> {
    if secret.len() > MAX_SECRET {
        return Err(CryptoError::TooLong {
            what: "secret",
            len: secret.len(),
            max: MAX_SECRET,
        });
    }
    let mut salt = [0u8; 16];
    let mut nonce = [0u8; 24];
    OsRng.fill_bytes(&mut salt);
    OsRng.fill_bytes(&mut nonce);
    let key = derive(passphrase, &salt)?;
    let ct = XChaCha20Poly1305::new((&*key).into())
        .encrypt(
            XNonce::from_slice(&nonce),
            Payload {
                msg: secret,
                aad: MAGIC,
            },
        )
        .map_err(|_| CryptoError::Decrypt)?;
    let mut out = Vec::with_capacity(8 + 16 + 24 + ct.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&salt);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&ct);
    Ok(out)
}

/// Opens what [`seal_with_passphrase`] made; a wrong passphrase or any altered byte fails.
pub fn open_with_passphrase(
    mut file: &[u8],
    passphrase: &str,
) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    let magic = take::<8>(&mut file, "key file header")?;
    if &magic != MAGIC {
        return Err(CryptoError::Format(magic[0]));
    }
    let salt = take::<16>(&mut file, "salt")?;
    let nonce = take::<24>(&mut file, "nonce")?;
    if file.len() > MAX_SECRET + 16 {
        return Err(CryptoError::TooLong {
            what: "key file",
            len: file.len(),
            max: MAX_SECRET + 16,
        });
    }
    let key = derive(passphrase, &salt)?;
    XChaCha20Poly1305::new((&*key).into())
        .decrypt(
            XNonce::from_slice(&nonce),
            Payload {
                msg: file,
                aad: MAGIC,
            },
        )
        .map(Zeroizing::new)
        .map_err(|_| CryptoError::Passphrase)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_right_passphrase_opens_and_no_plaintext_is_stored() {
        let secret = b"device-secret-bytes-0123456789ab";
        let file = seal_with_passphrase(secret, "correct horse").unwrap();
        assert!(!file.windows(secret.len()).any(|w| w == secret));
        assert_eq!(
            &open_with_passphrase(&file, "correct horse").unwrap()[..],
            secret
        );
        assert_eq!(
            open_with_passphrase(&file, "wrong horse"),
            Err(CryptoError::Passphrase)
        );
        let mut altered = file.clone();
        let last = altered.len() - 1;
        altered[last] ^= 1;
        assert_eq!(
            open_with_passphrase(&altered, "correct horse"),
            Err(CryptoError::Passphrase)
        );
        assert!(open_with_passphrase(&file[..20], "correct horse").is_err());
    }
}
