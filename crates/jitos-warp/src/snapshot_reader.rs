//! `Reader`: a cursor over snapshot bytes that never reads past the end and refuses
//! counts the remaining input could not hold.

use crate::SnapshotDecodeError;

type Result<T> = std::result::Result<T, SnapshotDecodeError>;

/// A cursor over the input that never reads past its end.
pub(crate) struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// A reader at the start of `bytes`.
    pub(crate) fn new(bytes: &'a [u8]) -> Reader<'a> {
        Reader { bytes, pos: 0 }
    }

    /// Bytes read so far: where the next item starts.
    pub(crate) fn offset(&self) -> usize {
        self.pos
    }

    fn remaining(&self) -> usize {
        self.bytes.len().saturating_sub(self.pos)
    }

    pub(crate) fn take(&mut self, len: usize) -> Result<&'a [u8]> {
        let start = self.pos;
        let slice = start
            .checked_add(len)
            .and_then(|end| self.bytes.get(start..end))
            .ok_or(SnapshotDecodeError::Truncated {
                offset: start,
                needed: len,
            })?;
        self.pos = start + slice.len();
        Ok(slice)
    }

    pub(crate) fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let at = self.pos;
        self.take(N)?
            .try_into()
            .map_err(|_| SnapshotDecodeError::Truncated {
                offset: at,
                needed: N,
            })
    }

    pub(crate) fn u8(&mut self) -> Result<u8> {
        self.array::<1>().map(|[b]| b)
    }

    pub(crate) fn u32(&mut self) -> Result<u32> {
        self.array().map(u32::from_le_bytes)
    }

    pub(crate) fn u64(&mut self) -> Result<u64> {
        self.array().map(u64::from_le_bytes)
    }

    /// A `u32` length, then that many bytes.
    pub(crate) fn bytes(&mut self) -> Result<&'a [u8]> {
        let len = self.u32()? as usize;
        self.take(len)
    }

    pub(crate) fn str(&mut self) -> Result<&'a str> {
        let at = self.pos;
        let bytes = self.bytes()?;
        std::str::from_utf8(bytes).map_err(|_| SnapshotDecodeError::InvalidUtf8 { offset: at })
    }

    /// A `u64` count of items of at least `item_bytes_min` bytes each, refused unless the
    /// rest of the input could hold them: the caller may then allocate for it.
    pub(crate) fn count_u64(&mut self, item_bytes_min: usize) -> Result<usize> {
        let at = self.pos;
        let count = self.u64()?;
        self.fit(at, count, item_bytes_min)
    }

    /// As `count_u64`, for a `u32` count.
    pub(crate) fn count_u32(&mut self, item_bytes_min: usize) -> Result<usize> {
        let at = self.pos;
        let count = self.u32()?;
        self.fit(at, u64::from(count), item_bytes_min)
    }

    fn fit(&self, at: usize, count: u64, item_bytes_min: usize) -> Result<usize> {
        let remaining = self.remaining();
        match usize::try_from(count) {
            Ok(n) if n <= remaining / item_bytes_min => Ok(n),
            _ => Err(SnapshotDecodeError::CountTooLarge {
                offset: at,
                count,
                remaining,
            }),
        }
    }

    /// A `u64` index into a node list of `node_count` entries.
    pub(crate) fn node_index(&mut self, node_count: usize) -> Result<usize> {
        let at = self.pos;
        let index = self.u64()?;
        match usize::try_from(index) {
            Ok(i) if i < node_count => Ok(i),
            _ => Err(SnapshotDecodeError::EdgeEndpointMissing {
                offset: at,
                index,
                node_count,
            }),
        }
    }

    pub(crate) fn finish(&self) -> Result<()> {
        match self.remaining() {
            0 => Ok(()),
            count => Err(SnapshotDecodeError::TrailingBytes {
                offset: self.pos,
                count,
            }),
        }
    }
}
