//! `access.refused`: the audit record of requests refused for want of authority. The
//! daemon counts a user's repeated refusals and records them as one, so no client can
//! flood the ledger; the record changes no state.

use jitos_gov::Role;

use crate::durable::{self, v1::access::AccessRefused as Durable, Frozen, PayloadError};

/// The kind of the record of refused requests.
pub const KIND_ACCESS_REFUSED: &str = "access.refused";

/// The longest message a record keeps, in bytes; a longer one is cut at a character
/// boundary.
pub const REFUSAL_MESSAGE_BYTES_MAX: usize = 1024;

/// The longest user name a record keeps, in bytes; a longer one is cut so too.
pub const REFUSAL_USER_BYTES_MAX: usize = 256;

/// Requests of one user refused for want of authority.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessRefused {
    /// The user's uid.
    pub uid: u32,
    /// Their name, as the daemon knew it.
    pub user: String,
    /// The role the first of them needed.
    pub needed: Role,
    /// What the first of them was told.
    pub message: String,
    /// How many refusals the record stands for: the first, and those counted after it
    /// (at least 1).
    pub count: u64,
}

impl AccessRefused {
    /// The record's payload.
    pub fn encode(&self) -> Result<Vec<u8>, PayloadError> {
        durable::encode(&Durable::freeze(self))
    }

    /// Reads a payload, checked.
    pub fn decode(bytes: &[u8]) -> Result<AccessRefused, PayloadError> {
        durable::decode::<Durable>(bytes)?.thaw()
    }
}

/// `text` cut to at most `max` bytes, at a character boundary.
pub fn bounded_text(text: &str, max: usize) -> String {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_owned()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn sample() -> AccessRefused {
        AccessRefused {
            uid: 1001,
            user: "alice".into(),
            needed: Role::Approver,
            message: "user alice (operator) may not approve process 12: approver role needed"
                .into(),
            count: 3,
        }
    }

    /// The bytes version 1 writes, pinned: a change here is a new version, not an edit.
    const GOLDEN: &str = "fbe90305616c696365024675736572
        20616c69636520286f70657261746f7229206d6179206e6f7420617070726f76652070726f636573732031323a20617070726f76657220726f6c65206e656564656403";

    #[test]
    fn version_1_reads_back_what_it_wrote_and_its_bytes_are_pinned() {
        let bytes = sample().encode().unwrap();
        let golden: String = GOLDEN.split_whitespace().collect();
        assert_eq!(hex(&bytes), golden);
        assert_eq!(AccessRefused::decode(&bytes).unwrap(), sample());
    }

    #[test]
    fn a_count_of_zero_an_unknown_role_and_a_long_message_are_refused() {
        let zero = AccessRefused {
            count: 0,
            ..sample()
        };
        assert!(AccessRefused::decode(&zero.encode().unwrap()).is_err());
        let mut bytes = sample().encode().unwrap();
        let role_at = 3 + 1 + "alice".len();
        bytes[role_at] = 9;
        assert!(AccessRefused::decode(&bytes).is_err());
        let long = AccessRefused {
            message: "x".repeat(REFUSAL_MESSAGE_BYTES_MAX + 1),
            ..sample()
        };
        assert!(AccessRefused::decode(&long.encode().unwrap()).is_err());
        assert_eq!(
            bounded_text(
                &"é".repeat(REFUSAL_MESSAGE_BYTES_MAX),
                REFUSAL_MESSAGE_BYTES_MAX
            )
            .len(),
            REFUSAL_MESSAGE_BYTES_MAX
        );
    }

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }
}
