//! Git object ids (SHA-1) and the git blob hash.
//!
//! Every id that reaches Heimdall from the network goes through [`Sha::parse`], so a
//! value that is not exactly 40 hex digits never becomes a path in the store.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha1::{Digest, Sha1};

/// A git object id: the SHA-1 of a blob, tree or commit.
#[derive(Copy, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sha([u8; 20]);

/// The text was not a 40-digit hexadecimal object id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a 40-digit hexadecimal git object id")]
pub struct ShaError(String);

impl Sha {
    /// Parses exactly 40 hex digits (either case).
    pub fn parse(text: &str) -> Result<Self, ShaError> {
        if text.len() != 40 {
            return Err(ShaError(truncate_for_error(text)));
        }
        let mut bytes = [0u8; 20];
        hex::decode_to_slice(text, &mut bytes).map_err(|_| ShaError(truncate_for_error(text)))?;
        Ok(Sha(bytes))
    }

    pub fn from_bytes(bytes: [u8; 20]) -> Self {
        Sha(bytes)
    }

    pub fn as_bytes(&self) -> &[u8; 20] {
        &self.0
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// The first seven hex digits, as git and GitHub abbreviate.
    pub fn short(&self) -> String {
        self.to_hex()[..7].to_string()
    }
}

/// Keeps error messages about hostile input short.
fn truncate_for_error(text: &str) -> String {
    text.chars().take(64).collect()
}

impl FromStr for Sha {
    type Err = ShaError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Sha::parse(s)
    }
}

impl fmt::Display for Sha {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for Sha {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sha({})", self.to_hex())
    }
}

impl Serialize for Sha {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for Sha {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Sha::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// Incremental git blob hash: `sha1("blob <len>\0" + content)`.
///
/// The length goes into the header, so it must be known before the first byte.
pub struct BlobHasher {
    hasher: Sha1,
    expected_len: u64,
    seen: u64,
}

impl BlobHasher {
    pub fn new(len: u64) -> Self {
        let mut hasher = Sha1::new();
        hasher.update(format!("blob {len}\0").as_bytes());
        BlobHasher {
            hasher,
            expected_len: len,
            seen: 0,
        }
    }

    pub fn update(&mut self, bytes: &[u8]) {
        self.seen += bytes.len() as u64;
        self.hasher.update(bytes);
    }

    /// The bytes seen so far.
    pub fn seen(&self) -> u64 {
        self.seen
    }

    /// The id, or `None` when the content was not the announced length.
    pub fn finish(self) -> Option<Sha> {
        if self.seen != self.expected_len {
            return None;
        }
        let digest: [u8; 20] = self.hasher.finalize().into();
        Some(Sha(digest))
    }
}

/// The git blob id of `content`.
pub fn blob_sha(content: &[u8]) -> Sha {
    let mut hasher = BlobHasher::new(content.len() as u64);
    hasher.update(content);
    hasher.finish().expect("length matches by construction")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blob_sha_matches_git() {
        // `printf 'hello\n' | git hash-object --stdin`
        assert_eq!(
            blob_sha(b"hello\n").to_hex(),
            "ce013625030ba8dba906f756967f9e9ca394464a"
        );
        // The empty blob.
        assert_eq!(
            blob_sha(b"").to_hex(),
            "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391"
        );
    }

    #[test]
    fn parse_rejects_non_hex_and_wrong_length() {
        assert!(Sha::parse("ce013625030ba8dba906f756967f9e9ca394464").is_err());
        assert!(Sha::parse("ce013625030ba8dba906f756967f9e9ca394464a0").is_err());
        assert!(Sha::parse("../../../../../../../../../../etc/passwd/xxxx").is_err());
        assert!(Sha::parse("zz013625030ba8dba906f756967f9e9ca394464a").is_err());
        let sha = Sha::parse("CE013625030BA8DBA906F756967F9E9CA394464A").unwrap();
        assert_eq!(sha.to_hex(), "ce013625030ba8dba906f756967f9e9ca394464a");
        assert_eq!(sha.short(), "ce01362");
    }

    #[test]
    fn hasher_rejects_wrong_length() {
        let mut hasher = BlobHasher::new(5);
        hasher.update(b"hello\n");
        assert!(hasher.finish().is_none());
    }
}
