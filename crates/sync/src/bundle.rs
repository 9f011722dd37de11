//! Change files: the changes of many documents in one self-describing, bounded file, for
//! replicas that meet with no relay (`weft changes export` / `import`).
//!
//! Layout (little-endian): magic `WEFTCHG\0`, u32 format version, u32 document count; per
//! document a u16-prefixed UTF-8 id and a u32 change count; per change a u32-prefixed Automerge
//! change. Each change carries its own hash and checksum, which Automerge verifies on apply.

use crate::{DocId, SyncError};

const MAGIC: &[u8; 8] = b"WEFTCHG\0";
/// The format this build writes and the newest it reads.
pub const FORMAT: u32 = 1;
/// Largest change file accepted.
pub const MAX_BUNDLE_BYTES: u64 = 1 << 30;
/// Largest single change accepted.
pub const MAX_CHANGE_BYTES: usize = 64 << 20;
/// Most documents in one file.
pub const MAX_DOCS: usize = 1_000_000;
/// Longest document id.
pub const MAX_DOC_ID: usize = 256;

/// The changes of several documents.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Bundle {
    pub docs: Vec<(DocId, Vec<Vec<u8>>)>,
}

impl Bundle {
    /// Total number of changes.
    pub fn change_count(&self) -> usize {
        self.docs.iter().map(|(_, c)| c.len()).sum()
    }

    /// Encodes the file.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(16 + self.docs.len() * 64);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&FORMAT.to_le_bytes());
        out.extend_from_slice(&(self.docs.len() as u32).to_le_bytes());
        for (id, changes) in &self.docs {
            let id = id.to_string();
            out.extend_from_slice(&(id.len() as u16).to_le_bytes());
            out.extend_from_slice(id.as_bytes());
            out.extend_from_slice(&(changes.len() as u32).to_le_bytes());
            for c in changes {
                out.extend_from_slice(&(c.len() as u32).to_le_bytes());
                out.extend_from_slice(c);
            }
        }
        out
    }

    /// Decodes a file, refusing anything malformed, truncated, oversized or from the future.
    pub fn decode(bytes: &[u8]) -> Result<Bundle, SyncError> {
        if bytes.len() as u64 > MAX_BUNDLE_BYTES {
            return Err(SyncError::BundleTooLarge {
                size: bytes.len() as u64,
                max: MAX_BUNDLE_BYTES,
            });
        }
        let mut r = Reader { bytes, pos: 0 };
        if r.take(8, "magic")? != MAGIC {
            return Err(SyncError::BadBundle("not a Weft change file".into()));
        }
        let format = r.u32("format version")?;
        if format > FORMAT {
            return Err(SyncError::BundleTooNew {
                found: format,
                supported: FORMAT,
            });
        }
        if format == 0 {
            return Err(SyncError::BadBundle("format version 0".into()));
        }
        let n = r.u32("document count")? as usize;
        if n > MAX_DOCS {
            return Err(SyncError::BadBundle(format!(
                "{n} documents, at most {MAX_DOCS}"
            )));
        }
        let mut docs = Vec::with_capacity(n.min(1024));
        for i in 0..n {
            let len = r.u16("document id length")? as usize;
            if len > MAX_DOC_ID {
                return Err(SyncError::BadBundle(format!(
                    "document {i}: id of {len} bytes"
                )));
            }
            let id = std::str::from_utf8(r.take(len, "document id")?)
                .map_err(|_| SyncError::BadBundle(format!("document {i}: id is not UTF-8")))?;
            let id: DocId = id.parse()?;
            let count = r.u32("change count")? as usize;
            let mut changes = Vec::with_capacity(count.min(4096));
            for j in 0..count {
                let clen = r.u32("change length")? as usize;
                if clen > MAX_CHANGE_BYTES {
                    return Err(SyncError::BadBundle(format!(
                        "{id}: change {j} of {clen} bytes, at most {MAX_CHANGE_BYTES}"
                    )));
                }
                changes.push(r.take(clen, "change")?.to_vec());
            }
            docs.push((id, changes));
        }
        if r.pos != bytes.len() {
            return Err(SyncError::BadBundle(format!(
                "{} unexpected bytes after the last document",
                bytes.len() - r.pos
            )));
        }
        Ok(Bundle { docs })
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], SyncError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|e| *e <= self.bytes.len())
            .ok_or_else(|| {
                SyncError::BadBundle(format!(
                    "truncated: {what} at byte {} runs past the end",
                    self.pos
                ))
            })?;
        let s = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    fn u16(&mut self, what: &str) -> Result<u16, SyncError> {
        let b = self.take(2, what)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }
    fn u32(&mut self, what: &str) -> Result<u32, SyncError> {
        let b = self.take(4, what)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sample() -> Bundle {
        let w = "01JD0000000000000000000000".parse().unwrap();
        Bundle {
            docs: vec![
                (DocId::workspace(w), vec![vec![1, 2, 3], vec![]]),
                (DocId::calendar(w), vec![]),
            ],
        }
    }

    #[test]
    fn round_trips() {
        let b = sample();
        assert_eq!(Bundle::decode(&b.encode()).unwrap(), b);
    }

    #[test]
    fn every_truncation_is_an_error() {
        let bytes = sample().encode();
        for n in 0..bytes.len() {
            assert!(Bundle::decode(&bytes[..n]).is_err(), "prefix {n} accepted");
        }
    }

    #[test]
    fn newer_format_and_trailing_garbage_are_refused() {
        let mut bytes = sample().encode();
        bytes[8] = 9;
        assert!(matches!(
            Bundle::decode(&bytes),
            Err(SyncError::BundleTooNew { found: 9, .. })
        ));
        let mut bytes = sample().encode();
        bytes.push(0);
        assert!(matches!(
            Bundle::decode(&bytes),
            Err(SyncError::BadBundle(_))
        ));
    }

    #[test]
    fn absurd_counts_do_not_allocate() {
        let mut bytes = MAGIC.to_vec();
        bytes.extend_from_slice(&1u32.to_le_bytes());
        bytes.extend_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(
            Bundle::decode(&bytes),
            Err(SyncError::BadBundle(_))
        ));
    }

    proptest! {
        #[test]
        fn decode_never_panics(data in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = Bundle::decode(&data);
        }
    }
}
