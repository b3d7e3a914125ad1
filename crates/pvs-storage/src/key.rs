//! Validated object keys, relative to the storage prefix.

use std::fmt;
use std::str::FromStr;

use thiserror::Error;

/// The longest key accepted, in bytes (the S3 limit for a whole object key).
pub const MAX_KEY_BYTES: usize = 1024;

/// How much of a refused key an error message quotes when the key is too long to show whole.
const QUOTED_PREFIX_CHARS: usize = 64;

/// A key of an object, relative to the prefix the [`Storage`](crate::Storage) was configured with.
///
/// A `StorageKey` is `/`-separated, non-empty segments such as `products/S2A_20240101/image.tif`.
/// It is validated once, when parsed, so that it can never name an object outside the prefix:
/// no leading `/`, no `.` or `..` segment, no empty segment, no backslash, no control
/// character, at most [`MAX_KEY_BYTES`] bytes. Every storage operation takes a `StorageKey`,
/// so a key from a client is refused before any I/O happens.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StorageKey(String);

/// Why a string is not a valid [`StorageKey`].
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum KeyError {
    /// The key is the empty string.
    #[error(
        "storage key is empty; give a path relative to the storage prefix, e.g. `products/S2A_20240101/image.tif`"
    )]
    Empty,
    /// The key is longer than [`MAX_KEY_BYTES`].
    #[error(
        "storage key starting with {start:?} is {len} bytes long, over the limit of {MAX_KEY_BYTES} bytes"
    )]
    TooLong {
        /// The first characters of the key.
        start: String,
        /// The key's length in bytes.
        len: usize,
    },
    /// The key starts with `/`.
    #[error(
        "storage key {key:?} is absolute; keys are relative to the storage prefix, e.g. `products/image.tif` rather than `/products/image.tif`"
    )]
    Absolute {
        /// The refused key.
        key: String,
    },
    /// The key contains a backslash.
    #[error("storage key {key:?} contains a backslash; separate segments with `/`, e.g. `a/b.tif`")]
    Backslash {
        /// The refused key.
        key: String,
    },
    /// The key contains a control character.
    #[error("storage key {key:?} contains the control character {character:?} at byte {index}")]
    ControlCharacter {
        /// The refused key.
        key: String,
        /// The control character found.
        character: char,
        /// Its byte offset in the key.
        index: usize,
    },
    /// The key has a `.` or `..` segment.
    #[error(
        "storage key {key:?} has a `{segment}` segment; `.` and `..` are refused so that keys stay under the storage prefix"
    )]
    DotSegment {
        /// The refused key.
        key: String,
        /// The offending segment: `.` or `..`.
        segment: &'static str,
    },
    /// The key has an empty segment (`a//b`, or a trailing `/`).
    #[error(
        "storage key {key:?} has an empty segment (`//` or a trailing `/`); write e.g. `a/b` rather than `a//b` or `a/b/`"
    )]
    EmptySegment {
        /// The refused key.
        key: String,
    },
}

impl StorageKey {
    /// Parses and validates a key relative to the storage prefix.
    pub fn parse(key: &str) -> Result<Self, KeyError> {
        if key.is_empty() {
            return Err(KeyError::Empty);
        }
        if key.len() > MAX_KEY_BYTES {
            return Err(KeyError::TooLong {
                start: key.chars().take(QUOTED_PREFIX_CHARS).collect(),
                len: key.len(),
            });
        }
        let refused = || key.to_owned();
        if key.starts_with('/') {
            return Err(KeyError::Absolute { key: refused() });
        }
        if key.contains('\\') {
            return Err(KeyError::Backslash { key: refused() });
        }
        if let Some((index, character)) = key.char_indices().find(|(_, c)| c.is_control()) {
            return Err(KeyError::ControlCharacter {
                key: refused(),
                character,
                index,
            });
        }
        for segment in key.split('/') {
            match segment {
                "" => return Err(KeyError::EmptySegment { key: refused() }),
                "." => {
                    return Err(KeyError::DotSegment {
                        key: refused(),
                        segment: ".",
                    });
                }
                ".." => {
                    return Err(KeyError::DotSegment {
                        key: refused(),
                        segment: "..",
                    });
                }
                _ => {}
            }
        }
        Ok(Self(key.to_owned()))
    }

    /// Returns the key `self/rest`, where `rest` is validated like any key
    /// (e.g. `products/x`.join(`image.tif`) is `products/x/image.tif`).
    pub fn join(&self, rest: &str) -> Result<Self, KeyError> {
        let rest = Self::parse(rest)?;
        Self::parse(&format!("{}/{}", self.0, rest.0))
    }

    /// The key as a string, e.g. `products/S2A_20240101/image.tif`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for StorageKey {
    type Err = KeyError;

    fn from_str(key: &str) -> Result<Self, Self::Err> {
        Self::parse(key)
    }
}

impl fmt::Display for StorageKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for StorageKey {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn accepts_ordinary_keys() {
        for key in [
            "a",
            "products/S2A_20240101/image.tif",
            "with space/ünïcode+=,;@$&!~'()[].x",
            "..a/b..",
            ".hidden/x",
        ] {
            assert_eq!(StorageKey::parse(key).unwrap().as_str(), key);
        }
    }

    #[test]
    fn refuses_each_bad_form_with_its_reason() {
        assert_eq!(StorageKey::parse(""), Err(KeyError::Empty));
        assert!(matches!(
            StorageKey::parse("/x"),
            Err(KeyError::Absolute { .. })
        ));
        assert!(matches!(
            StorageKey::parse("a\\b"),
            Err(KeyError::Backslash { .. })
        ));
        assert!(matches!(
            StorageKey::parse("a//b"),
            Err(KeyError::EmptySegment { .. })
        ));
        assert!(matches!(
            StorageKey::parse("a/b/"),
            Err(KeyError::EmptySegment { .. })
        ));
        assert_eq!(
            StorageKey::parse("a/\u{7f}b"),
            Err(KeyError::ControlCharacter {
                key: "a/\u{7f}b".into(),
                character: '\u{7f}',
                index: 2
            })
        );
        for (key, segment) in [("..", ".."), ("a/../b", ".."), ("./a", "."), ("a/.", ".")] {
            assert_eq!(
                StorageKey::parse(key),
                Err(KeyError::DotSegment {
                    key: key.into(),
                    segment
                })
            );
        }
    }

    #[test]
    fn length_limit_is_in_bytes() {
        let at_limit = "é".repeat(MAX_KEY_BYTES / 2);
        assert!(StorageKey::parse(&at_limit).is_ok());
        let over = format!("{at_limit}x");
        let err = StorageKey::parse(&over).unwrap_err();
        assert_eq!(
            err,
            KeyError::TooLong {
                start: "é".repeat(QUOTED_PREFIX_CHARS),
                len: MAX_KEY_BYTES + 1
            }
        );
    }

    #[test]
    fn errors_say_what_is_wrong_with_an_example() {
        let message = StorageKey::parse("a/../b").unwrap_err().to_string();
        assert!(
            message.contains("\"a/../b\"") && message.contains("`..`"),
            "{message}"
        );
        let message = StorageKey::parse("/abs").unwrap_err().to_string();
        assert!(message.contains("e.g. `products/image.tif`"), "{message}");
    }

    #[test]
    fn join_validates_both_parts_and_the_length() {
        let base = StorageKey::parse("products/x").unwrap();
        assert_eq!(base.join("a/b.tif").unwrap().as_str(), "products/x/a/b.tif");
        assert!(matches!(
            base.join("../y"),
            Err(KeyError::DotSegment { .. })
        ));
        assert!(matches!(base.join("/etc"), Err(KeyError::Absolute { .. })));
        assert!(matches!(base.join(""), Err(KeyError::Empty)));
        let long = "x".repeat(MAX_KEY_BYTES - base.as_str().len());
        assert!(matches!(base.join(&long), Err(KeyError::TooLong { .. })));
    }

    proptest! {
        #[test]
        fn a_parsed_key_never_leaves_its_prefix(key in "[a./\\\\\u{0}-\u{1f} é]{0,12}") {
            if let Ok(parsed) = StorageKey::parse(&key) {
                prop_assert!(!parsed.as_str().starts_with('/'));
                prop_assert!(parsed.as_str().split('/').all(|s| !s.is_empty() && s != "." && s != ".."));
                prop_assert!(!parsed.as_str().contains('\\'));
                prop_assert!(!parsed.as_str().chars().any(char::is_control));
                prop_assert_eq!(parsed.as_str(), key.as_str());
            }
        }

        #[test]
        fn a_parsed_key_displays_as_given(key in any::<String>()) {
            if let Ok(parsed) = key.parse::<StorageKey>() {
                prop_assert_eq!(parsed.to_string(), key);
            }
        }
    }
}
