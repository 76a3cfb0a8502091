//! Access keys: generation, hashing, and parsing of keys presented by end users.
//!
//! The authority never stores a key, only its SHA-256 hash. A key carries 128 random bits, so an
//! unsalted hash cannot be reversed by guessing, and the hash can serve directly as a lookup key.

use std::fmt;

use sha2::{Digest, Sha256};

/// The length of every key: 32 lowercase hexadecimal characters.
pub const KEY_LEN: usize = 32;

/// The number of trailing key characters shown as a non-secret hint.
const HINT_LEN: usize = 4;

/// A newly issued key. It is shown once, in the reply that issued it, and its `Debug` output is
/// redacted so it cannot reach a log by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct AccessKey(String);

impl AccessKey {
    /// Generates a key from 128 bits of the operating system's random source.
    pub fn generate() -> Result<Self, getrandom::Error> {
        let mut bytes = [0u8; KEY_LEN / 2];
        getrandom::fill(&mut bytes)?;
        Ok(AccessKey(hex::encode(bytes)))
    }

    /// Returns the key itself, for the one reply that shows it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Returns the hash under which the key is stored.
    pub fn hash(&self) -> KeyHash {
        KeyHash::of(&self.0)
    }

    /// Returns the non-secret hint shown in listings: the last four characters.
    pub fn hint(&self) -> String {
        self.0[KEY_LEN - HINT_LEN..].to_owned()
    }
}

impl fmt::Debug for AccessKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AccessKey(<redacted>)")
    }
}

/// The SHA-256 hash of a key: what the stores index tokens by.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyHash([u8; 32]);

impl KeyHash {
    fn of(key: &str) -> Self {
        KeyHash(Sha256::digest(key.as_bytes()).into())
    }

    /// Returns the hash as 64 lowercase hexadecimal characters.
    pub fn to_hex(self) -> String {
        hex::encode(self.0)
    }

    /// Returns the hash's 32 bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Parses 64 hexadecimal characters, as stored.
    pub fn from_hex(text: &str) -> Option<Self> {
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(text, &mut bytes).ok()?;
        Some(KeyHash(bytes))
    }
}

impl fmt::Debug for KeyHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The hash is not a secret, but a prefix is enough to tell hashes apart in a log.
        write!(f, "KeyHash({}…)", &self.to_hex()[..12])
    }
}

/// A key as presented by an end user, classified.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PresentedKey {
    /// Nothing, or only whitespace.
    Missing,
    /// Something that cannot be a key (wrong length or characters), so no lookup is needed.
    Malformed,
    /// Something shaped like a key, identified by its hash.
    WellFormed(KeyHash),
}

/// Classifies a key as presented by an end user. Leading and trailing ASCII whitespace is
/// ignored, because users paste keys with a trailing newline and no key contains whitespace.
/// Matching is case-sensitive: keys are lowercase, so an upper-case key is malformed.
pub fn parse_presented(raw: &str) -> PresentedKey {
    let trimmed = raw.trim_matches(|c: char| c.is_ascii_whitespace());
    if trimmed.is_empty() {
        return PresentedKey::Missing;
    }

    let well_formed = trimmed.len() == KEY_LEN
        && trimmed
            .bytes()
            .all(|byte| byte.is_ascii_digit() || (b'a'..=b'f').contains(&byte));
    if !well_formed {
        return PresentedKey::Malformed;
    }
    PresentedKey::WellFormed(KeyHash::of(trimmed))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn generated_key_is_lowercase_hex() {
        let key = AccessKey::generate().unwrap();
        assert_eq!(key.expose().len(), KEY_LEN);
        assert!(
            key.expose()
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        );
        assert_eq!(
            parse_presented(key.expose()),
            PresentedKey::WellFormed(key.hash())
        );
    }

    #[test]
    fn debug_output_hides_key() {
        let key = AccessKey::generate().unwrap();
        assert!(!format!("{key:?}").contains(key.expose()));
        assert!(!format!("{:?}", key.hash()).contains(&key.hash().to_hex()));
    }

    #[test]
    fn presented_key_cases() {
        let key = AccessKey::generate().unwrap();
        let with_newline = format!("{}\n", key.expose());
        assert_eq!(
            parse_presented(&with_newline),
            PresentedKey::WellFormed(key.hash())
        );
        assert_eq!(parse_presented(""), PresentedKey::Missing);
        assert_eq!(parse_presented(" \t\r\n"), PresentedKey::Missing);
        assert_eq!(
            parse_presented(&key.expose().to_uppercase()),
            PresentedKey::Malformed
        );
        assert_eq!(
            parse_presented(&"a".repeat(10 * 1024)),
            PresentedKey::Malformed
        );
        assert_eq!(parse_presented("ключ"), PresentedKey::Malformed);
        assert_eq!(parse_presented(&key.expose()[1..]), PresentedKey::Malformed);
    }

    #[test]
    fn hash_round_trips_through_hex() {
        let hash = AccessKey::generate().unwrap().hash();
        assert_eq!(KeyHash::from_hex(&hash.to_hex()), Some(hash));
        assert_eq!(KeyHash::from_hex("zz"), None);
    }

    proptest! {
        #[test]
        fn parse_never_panics(raw in ".*") {
            let _ = parse_presented(&raw);
        }

        #[test]
        fn well_formed_only_lowercase_hex(raw in "[0-9a-fA-F]{30,34}") {
            let expected = raw.len() == KEY_LEN && !raw.bytes().any(|b| b.is_ascii_uppercase());
            prop_assert_eq!(matches!(parse_presented(&raw), PresentedKey::WellFormed(_)), expected);
        }
    }
}
