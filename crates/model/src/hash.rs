use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A 128-bit blake3 digest, written as 32 lowercase hex digits.
///
/// 128 bits is far more than enough to tell two versions of a page or a term definition
/// apart, and keeps store files short (every stored score carries two of them).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Hash(pub [u8; 16]);

impl Hash {
    /// Hashes one byte string.
    pub fn of(bytes: &[u8]) -> Hash {
        let mut h = Hasher::new("raw");
        h.field(bytes);
        h.finish()
    }

    /// The hex form (32 digits).
    pub fn to_hex(&self) -> String {
        let mut s = String::with_capacity(32);
        for b in self.0 {
            s.push(char::from_digit((b >> 4) as u32, 16).unwrap_or('0'));
            s.push(char::from_digit((b & 15) as u32, 16).unwrap_or('0'));
        }
        s
    }
}

impl fmt::Display for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash({})", self.to_hex())
    }
}

/// Error returned when a string is not 32 hex digits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseHashError;

impl fmt::Display for ParseHashError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("expected 32 hex digits")
    }
}

impl std::error::Error for ParseHashError {}

impl FromStr for Hash {
    type Err = ParseHashError;
    fn from_str(s: &str) -> Result<Hash, ParseHashError> {
        let b = s.as_bytes();
        if b.len() != 32 {
            return Err(ParseHashError);
        }
        let mut out = [0u8; 16];
        for (i, pair) in b.chunks(2).enumerate() {
            let hi = (pair[0] as char).to_digit(16).ok_or(ParseHashError)?;
            let lo = (pair[1] as char).to_digit(16).ok_or(ParseHashError)?;
            out[i] = (hi * 16 + lo) as u8;
        }
        Ok(Hash(out))
    }
}

impl Serialize for Hash {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for Hash {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Hash, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Builds a [`Hash`] over a sequence of fields without ambiguity: each field is
/// length-prefixed, and the hasher is keyed by a domain string so that, say, a page's
/// content hash can never equal a term's definition hash of the same text.
pub struct Hasher(blake3::Hasher);

impl Hasher {
    /// Starts a hash in the given domain (for example `"page-content/1"`).
    pub fn new(domain: &str) -> Hasher {
        let mut h = blake3::Hasher::new();
        h.update(&(domain.len() as u64).to_le_bytes());
        h.update(domain.as_bytes());
        Hasher(h)
    }

    /// Adds one field.
    pub fn field(&mut self, bytes: &[u8]) -> &mut Hasher {
        self.0.update(&(bytes.len() as u64).to_le_bytes());
        self.0.update(bytes);
        self
    }

    /// Adds one string field.
    pub fn str(&mut self, s: &str) -> &mut Hasher {
        self.field(s.as_bytes())
    }

    /// Finishes the hash.
    pub fn finish(&self) -> Hash {
        let full = self.0.finalize();
        let mut out = [0u8; 16];
        out.copy_from_slice(&full.as_bytes()[..16]);
        Hash(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip() {
        let h = Hash::of(b"hello");
        let s = h.to_hex();
        assert_eq!(s.len(), 32);
        assert_eq!(s.parse::<Hash>(), Ok(h));
        assert!("xyz".parse::<Hash>().is_err());
        assert!("g".repeat(32).parse::<Hash>().is_err());
    }

    #[test]
    fn fields_are_unambiguous() {
        let a = Hasher::new("d").str("ab").str("c").finish();
        let b = Hasher::new("d").str("a").str("bc").finish();
        assert_ne!(a, b);
        let c = Hasher::new("e").str("ab").str("c").finish();
        assert_ne!(a, c);
    }
}
