//! The byte-level reader and writer every frame uses: little-endian integers, length-prefixed
//! byte strings, each length checked against its limit before anything is allocated.

use crate::DecodeError;

pub(crate) struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Reader<'a> {
        Reader { buf }
    }

    pub(crate) fn array<const N: usize>(
        &mut self,
        field: &'static str,
    ) -> Result<[u8; N], DecodeError> {
        let Some((head, rest)) = self.buf.split_first_chunk::<N>() else {
            return Err(DecodeError::Truncated {
                field,
                need: N,
                have: self.buf.len(),
            });
        };
        self.buf = rest;
        Ok(*head)
    }

    pub(crate) fn u8(&mut self, field: &'static str) -> Result<u8, DecodeError> {
        Ok(self.array::<1>(field)?[0])
    }

    pub(crate) fn u16(&mut self, field: &'static str) -> Result<u16, DecodeError> {
        Ok(u16::from_le_bytes(self.array(field)?))
    }

    pub(crate) fn u32(&mut self, field: &'static str) -> Result<u32, DecodeError> {
        Ok(u32::from_le_bytes(self.array(field)?))
    }

    pub(crate) fn u64(&mut self, field: &'static str) -> Result<u64, DecodeError> {
        Ok(u64::from_le_bytes(self.array(field)?))
    }

    pub(crate) fn bool(&mut self, field: &'static str) -> Result<bool, DecodeError> {
        match self.u8(field)? {
            0 => Ok(false),
            1 => Ok(true),
            v => Err(DecodeError::BadValue {
                field,
                value: u64::from(v),
            }),
        }
    }

    /// A count of items that follow, each at least `min_item` bytes: refused when it exceeds
    /// `max` or could not fit in what is left.
    pub(crate) fn count(
        &mut self,
        field: &'static str,
        max: usize,
        min_item: usize,
    ) -> Result<usize, DecodeError> {
        let n = self.u32(field)? as usize;
        if n > max {
            return Err(DecodeError::TooLong { field, len: n, max });
        }
        if n.saturating_mul(min_item) > self.buf.len() {
            return Err(DecodeError::Truncated {
                field,
                need: n.saturating_mul(min_item),
                have: self.buf.len(),
            });
        }
        Ok(n)
    }

    pub(crate) fn bytes(
        &mut self,
        field: &'static str,
        max: usize,
    ) -> Result<Vec<u8>, DecodeError> {
        let n = self.u32(field)? as usize;
        if n > max {
            return Err(DecodeError::TooLong { field, len: n, max });
        }
        if n > self.buf.len() {
            return Err(DecodeError::Truncated {
                field,
                need: n,
                have: self.buf.len(),
            });
        }
        let (head, rest) = self.buf.split_at(n);
        self.buf = rest;
        Ok(head.to_vec())
    }

    pub(crate) fn string(
        &mut self,
        field: &'static str,
        max: usize,
    ) -> Result<String, DecodeError> {
        String::from_utf8(self.bytes(field, max)?).map_err(|_| DecodeError::Utf8 { field })
    }

    pub(crate) fn finish(self) -> Result<(), DecodeError> {
        if self.buf.is_empty() {
            Ok(())
        } else {
            Err(DecodeError::Trailing(self.buf.len()))
        }
    }
}

#[derive(Default)]
pub(crate) struct Writer {
    pub(crate) buf: Vec<u8>,
}

impl Writer {
    pub(crate) fn tag(tag: u8) -> Writer {
        Writer { buf: vec![tag] }
    }
    pub(crate) fn raw(&mut self, b: &[u8]) -> &mut Self {
        self.buf.extend_from_slice(b);
        self
    }
    pub(crate) fn u8(&mut self, v: u8) -> &mut Self {
        self.buf.push(v);
        self
    }
    pub(crate) fn u16(&mut self, v: u16) -> &mut Self {
        self.raw(&v.to_le_bytes())
    }
    pub(crate) fn u32(&mut self, v: u32) -> &mut Self {
        self.raw(&v.to_le_bytes())
    }
    pub(crate) fn u64(&mut self, v: u64) -> &mut Self {
        self.raw(&v.to_le_bytes())
    }
    pub(crate) fn bool(&mut self, v: bool) -> &mut Self {
        self.u8(u8::from(v))
    }
    /// Lengths above `u32::MAX` never reach here: encoders refuse over-limit values first.
    pub(crate) fn bytes(&mut self, b: &[u8]) -> &mut Self {
        self.u32(b.len() as u32).raw(b)
    }
    pub(crate) fn count(&mut self, n: usize) -> &mut Self {
        self.u32(n as u32)
    }
}
