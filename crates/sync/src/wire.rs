//! What an envelope carries for a document: a batch of Automerge changes.
//!
//! Layout (little-endian): u32 change count, then per change a u32 length and the change.
//! Decoding checks every length against the bytes left and [`crate::bundle::MAX_CHANGE_BYTES`]
//! before allocating.

use crate::SyncError;
use crate::bundle::MAX_CHANGE_BYTES;

/// Most changes in one batch.
pub const MAX_BATCH_CHANGES: usize = 100_000;

/// Encodes a batch of changes.
pub fn encode_changes<C: AsRef<[u8]>>(changes: &[C]) -> Vec<u8> {
    let total: usize = changes.iter().map(|c| c.as_ref().len() + 4).sum();
    let mut out = Vec::with_capacity(4 + total);
    out.extend_from_slice(&(changes.len() as u32).to_le_bytes());
    for c in changes {
        out.extend_from_slice(&(c.as_ref().len() as u32).to_le_bytes());
        out.extend_from_slice(c.as_ref());
    }
    out
}

/// Decodes a batch, refusing anything truncated, oversized or with trailing bytes.
pub fn decode_changes(mut b: &[u8]) -> Result<Vec<Vec<u8>>, SyncError> {
    let n = take_u32(&mut b, "change count")? as usize;
    // Each change needs at least its 4-byte length.
    if n > MAX_BATCH_CHANGES || n > b.len() / 4 {
        return Err(SyncError::BadBatch(format!(
            "{n} changes claimed in {} bytes (at most {MAX_BATCH_CHANGES})",
            b.len()
        )));
    }
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let len = take_u32(&mut b, "change length")? as usize;
        if len > MAX_CHANGE_BYTES {
            return Err(SyncError::BadBatch(format!(
                "change {i} is {len} bytes, over the limit of {MAX_CHANGE_BYTES}"
            )));
        }
        if len > b.len() {
            return Err(SyncError::BadBatch(format!(
                "change {i} is truncated: {len} bytes needed, {} left",
                b.len()
            )));
        }
        let (c, rest) = b.split_at(len);
        out.push(c.to_vec());
        b = rest;
    }
    if !b.is_empty() {
        return Err(SyncError::BadBatch(format!(
            "{} trailing bytes after the batch",
            b.len()
        )));
    }
    Ok(out)
}

fn take_u32(b: &mut &[u8], what: &str) -> Result<u32, SyncError> {
    let Some((head, rest)) = b.split_first_chunk::<4>() else {
        return Err(SyncError::BadBatch(format!("{what} is truncated")));
    };
    *b = rest;
    Ok(u32::from_le_bytes(*head))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_round_trip_and_every_truncation_is_refused() {
        let changes = vec![b"one".to_vec(), Vec::new(), vec![7; 300]];
        let b = encode_changes(&changes);
        assert_eq!(decode_changes(&b).unwrap(), changes);
        for cut in 0..b.len() {
            assert!(decode_changes(&b[..cut]).is_err(), "cut at {cut}");
        }
        let mut trailing = b.clone();
        trailing.push(0);
        assert!(decode_changes(&trailing).is_err());
    }

    #[test]
    fn absurd_counts_and_lengths_are_refused_before_allocating() {
        let mut b = u32::MAX.to_le_bytes().to_vec();
        b.extend_from_slice(&[0; 8]);
        let e = decode_changes(&b).unwrap_err().to_string();
        assert!(e.contains("changes claimed"), "{e}");
        let mut b = 1u32.to_le_bytes().to_vec();
        b.extend_from_slice(&u32::MAX.to_le_bytes());
        let e = decode_changes(&b).unwrap_err().to_string();
        assert!(e.contains("over the limit"), "{e}");
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(b in proptest::collection::vec(proptest::num::u8::ANY, 0..200)) {
            let _ = decode_changes(&b);
        }
    }
}
