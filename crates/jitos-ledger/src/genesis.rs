//! The genesis record: seq 0, which names the store and the format it was created with.

/// The on-disk format this build writes and the newest it can open.
pub const FORMAT_VERSION: u32 = 1;

/// Kind of the genesis record.
pub const GENESIS_KIND: &str = "ledger.genesis";

/// Kinds starting with this prefix belong to the ledger itself; `append_batch` refuses them.
pub const RESERVED_KIND_PREFIX: &str = "ledger.";

/// Size of the encoded genesis payload: store id, format version, creation time.
const GENESIS_BYTES: usize = 16 + 4 + 8;

/// The payload of the genesis record (seq 0, kind `ledger.genesis`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Genesis {
    /// Identifies the store; bundles carry it so their origin can be checked.
    pub store_id: [u8; 16],
    /// The format version the store was created with.
    pub format_version: u32,
    /// Creation time, from the creating clock, in ms since the Unix epoch.
    pub created_ms: u64,
}

impl Genesis {
    /// The genesis record's payload: fixed layout, little-endian, so it can never fail to encode.
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(GENESIS_BYTES);
        bytes.extend_from_slice(&self.store_id);
        bytes.extend_from_slice(&self.format_version.to_le_bytes());
        bytes.extend_from_slice(&self.created_ms.to_le_bytes());
        bytes
    }

    /// Decodes a genesis payload; the error is the reason it is not one.
    pub(crate) fn decode(bytes: &[u8]) -> Result<Genesis, String> {
        let fields = (
            bytes.get(..16).and_then(|b| <[u8; 16]>::try_from(b).ok()),
            bytes.get(16..20).and_then(|b| <[u8; 4]>::try_from(b).ok()),
            bytes.get(20..28).and_then(|b| <[u8; 8]>::try_from(b).ok()),
        );
        match fields {
            (Some(store_id), Some(version), Some(created)) if bytes.len() == GENESIS_BYTES => {
                Ok(Genesis {
                    store_id,
                    format_version: u32::from_le_bytes(version),
                    created_ms: u64::from_le_bytes(created),
                })
            }
            _ => Err(format!(
                "genesis payload is {} bytes, expected {GENESIS_BYTES}",
                bytes.len()
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn genesis_round_trips() {
        // Encoding then decoding must return the same genesis; any other length is refused.
        let genesis = Genesis {
            store_id: [9; 16],
            format_version: FORMAT_VERSION,
            created_ms: u64::MAX - 1,
        };
        let bytes = genesis.encode();
        assert_eq!(bytes.len(), GENESIS_BYTES);
        assert_eq!(Genesis::decode(&bytes), Ok(genesis));
        assert!(Genesis::decode(&bytes[..GENESIS_BYTES - 1]).is_err());
        let mut longer = bytes;
        longer.push(0);
        assert!(Genesis::decode(&longer).is_err());
    }
}
