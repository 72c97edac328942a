//! The 32-byte hash used for record chaining, blob addresses and bundle trailers.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A 32-byte BLAKE3 hash. Displays as 64 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
pub struct Hash(pub [u8; 32]);

impl Hash {
    /// The all-zero hash: the parent of the genesis record.
    pub const ZERO: Hash = Hash([0; 32]);

    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Lowercase hex of any bytes, in the same form `Display` gives a hash (e.g. store ids).
    pub fn hex_of(bytes: &[u8]) -> String {
        let mut text = String::with_capacity(bytes.len() * 2);
        for byte in bytes {
            text.push(char::from(HEX_DIGITS[usize::from(byte >> 4)]));
            text.push(char::from(HEX_DIGITS[usize::from(byte & 0x0f)]));
        }
        text
    }
}

/// Lowercase hex digits by value.
const HEX_DIGITS: &[u8; 16] = b"0123456789abcdef";

impl From<blake3::Hash> for Hash {
    fn from(hash: blake3::Hash) -> Self {
        Hash(*hash.as_bytes())
    }
}

impl fmt::Display for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&Hash::hex_of(&self.0))
    }
}

impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash({self})")
    }
}

/// A string that is not 64 hex digits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a hash: expected 64 hex digits, got {input:?}")]
pub struct HashParseError {
    /// The text that failed to parse (cut to a printable length).
    pub input: String,
}

/// Longest prefix of rejected input quoted back in a `HashParseError`.
const HASH_PARSE_ECHO_CHARS_MAX: usize = 80;

impl FromStr for Hash {
    type Err = HashParseError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let error = || HashParseError {
            input: text.chars().take(HASH_PARSE_ECHO_CHARS_MAX).collect(),
        };
        let digits = text.as_bytes();
        if digits.len() != 64 {
            return Err(error());
        }
        let mut bytes = [0u8; 32];
        for (byte, pair) in bytes.iter_mut().zip(digits.chunks_exact(2)) {
            let &[high, low] = pair else {
                return Err(error());
            };
            let (Some(high), Some(low)) = (hex_value(high), hex_value(low)) else {
                return Err(error());
            };
            *byte = (high << 4) | low;
        }
        Ok(Hash(bytes))
    }
}

fn hex_value(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        b'A'..=b'F' => Some(digit - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_is_lowercase_hex_and_parses_back() {
        // Display and FromStr must be inverse, with lowercase output.
        let mut bytes = [0u8; 32];
        for (i, byte) in bytes.iter_mut().enumerate() {
            *byte = u8::try_from(i).unwrap().wrapping_mul(7).wrapping_add(0xA0);
        }
        let hash = Hash(bytes);
        let text = hash.to_string();
        assert_eq!(text.len(), 64);
        assert_eq!(text, text.to_lowercase());
        assert_eq!(text.parse::<Hash>(), Ok(hash));
    }

    #[test]
    fn hex_of_matches_display() {
        // hex_of is the same encoding Display uses, for any length.
        assert_eq!(Hash::hex_of(&[0x00, 0xab, 0x7f]), "00ab7f");
        assert_eq!(Hash::hex_of(&[5; 32]), Hash([5; 32]).to_string());
    }

    #[test]
    fn zero_displays_as_zeros() {
        // The genesis parent must print as 64 zeros.
        assert_eq!(Hash::ZERO.to_string(), "0".repeat(64));
    }

    #[test]
    fn bad_text_is_refused() {
        // Wrong length and non-hex digits must both fail to parse.
        assert!("abc".parse::<Hash>().is_err());
        assert!("g".repeat(64).parse::<Hash>().is_err());
        assert!("é".repeat(32).parse::<Hash>().is_err());
    }
}
