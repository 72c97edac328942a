//! Parsing of the 64-hex-digit form shared by `BlobRef` and `StateDigest`.

/// Why a string is not 32 bytes in hex.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Hex32Error {
    /// The string does not have exactly 64 characters.
    #[error("expected 64 hex digits, got {len} characters")]
    Length {
        /// Its length in bytes.
        len: usize,
    },
    /// A character is not a hex digit.
    #[error("{found:?} at position {position} is not a hex digit")]
    Digit {
        /// The offending character.
        found: char,
        /// Its position.
        position: usize,
    },
}

/// Parses exactly 64 hex digits (either case) into 32 bytes.
pub(crate) fn parse_hex32(s: &str) -> Result<[u8; 32], Hex32Error> {
    if s.len() != 64 {
        return Err(Hex32Error::Length { len: s.len() });
    }
    let mut out = [0u8; 32];
    hex::decode_to_slice(s, &mut out).map_err(|e| match e {
        hex::FromHexError::InvalidHexCharacter { c, index } => Hex32Error::Digit {
            found: c,
            position: index,
        },
        hex::FromHexError::OddLength | hex::FromHexError::InvalidStringLength => {
            Hex32Error::Length { len: s.len() }
        }
    })?;
    Ok(out)
}
