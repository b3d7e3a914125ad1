//! Who may read which collection, and who may write.
//!
//! - The [`Policy`] (a TOML file, `ACCESS_POLICY_FILE`; `docs/security.md`) says which
//!   collections anyone may read, which static credentials exist, and how the claims of
//!   OpenID Connect JWTs (checked against a JWKS) map to [`Grants`]: `write` (ingestion,
//!   STAC transactions), `read:*`, `read:<collection>`.
//! - The [`Verifier`] turns a request's `Authorization` header into the request's [`Access`],
//!   or refuses a credential that is not valid (unknown, expired, wrong issuer or audience,
//!   bad signature) with [`TokenError`].
//! - [`http::protect`] runs the verifier before every handler and puts the [`Access`] in the
//!   request; handlers take it as an extractor. Without a policy, every request has
//!   [`Access::open`]: `pvs up` stays open by default.
//!
//! Reads are filtered, not refused: a collection the request may not read is answered as if
//! it did not exist ([`Access::readable`], `pvs_catalog::Readable::view`), so that its name
//! never shows in capabilities, searches or tiles.

#![forbid(unsafe_code)]

use std::collections::BTreeSet;
use std::sync::Arc;

pub mod http;
mod policy;
mod verify;

pub use policy::{Collections, Policy, PolicyError};
pub use pvs_catalog::Readable;
pub use verify::{Jwks, TokenError, Verifier};

/// What a credential allows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Grants {
    /// May write (ingest reports, STAC transactions).
    pub write: bool,
    /// May read every collection.
    pub read_all: bool,
    /// May read these collections.
    pub read: BTreeSet<String>,
}

impl Grants {
    /// The grants written as `write`, `read:*` or `read:<collection>`.
    pub fn parse<'a>(grants: impl IntoIterator<Item = &'a str>) -> Result<Self, String> {
        let mut parsed = Self::default();
        for grant in grants {
            match grant {
                "write" => parsed.write = true,
                "read:*" => parsed.read_all = true,
                _ => match grant.strip_prefix("read:") {
                    Some(collection) if !collection.is_empty() => {
                        parsed.read.insert(collection.to_owned());
                    }
                    _ => {
                        return Err(format!(
                            "unknown grant {grant:?}: write, read:* or read:<collection>"
                        ));
                    }
                },
            }
        }
        Ok(parsed)
    }

    /// Adds `other`'s grants to these.
    pub fn add(&mut self, other: &Grants) {
        self.write |= other.write;
        self.read_all |= other.read_all;
        self.read.extend(other.read.iter().cloned());
    }
}

/// What one request may do.
#[derive(Debug, Clone)]
pub struct Access {
    /// `None`: no policy, everything is open.
    collections: Option<Arc<Collections>>,
    grants: Grants,
    /// Who the credential names (a static credential's name, a token's subject), for logs;
    /// `None` for a request without credentials.
    who: Option<String>,
}

impl Access {
    /// Everything allowed: what every request has when no policy is set.
    pub fn open() -> Self {
        Self {
            collections: None,
            grants: Grants {
                write: true,
                read_all: true,
                read: BTreeSet::new(),
            },
            who: None,
        }
    }

    /// A request under a policy whose collections are `collections`, with `grants`, from
    /// `who` (`None`: no credentials).
    pub fn new(collections: Arc<Collections>, grants: Grants, who: Option<String>) -> Self {
        Self {
            collections: Some(collections),
            grants,
            who,
        }
    }

    /// Whether no policy applies (everything open).
    pub fn is_open(&self) -> bool {
        self.collections.is_none()
    }

    /// Whether the request came without credentials.
    pub fn is_anonymous(&self) -> bool {
        self.who.is_none()
    }

    /// Who the credential names, if any.
    pub fn who(&self) -> Option<&str> {
        self.who.as_deref()
    }

    /// Whether the request may write.
    pub fn can_write(&self) -> bool {
        self.grants.write
    }

    /// Whether the request may read `collection`.
    pub fn can_read(&self, collection: &str) -> bool {
        self.readable().allows(collection)
    }

    /// Whether anyone, without credentials, may read `collection` (its answers may then be
    /// kept by shared caches).
    pub fn is_public(&self, collection: &str) -> bool {
        match &self.collections {
            None => true,
            Some(collections) => collections.is_public(collection),
        }
    }

    /// The collections the request may read.
    pub fn readable(&self) -> Readable {
        let Some(collections) = &self.collections else {
            return Readable::All;
        };
        if self.grants.read_all {
            return Readable::All;
        }
        match collections.as_ref() {
            Collections::PublicBut(restricted) => {
                Readable::AllBut(restricted.difference(&self.grants.read).cloned().collect())
            }
            Collections::Only(public) => {
                Readable::Only(public.union(&self.grants.read).cloned().collect())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(names: &[&str]) -> BTreeSet<String> {
        names.iter().map(|n| (*n).to_owned()).collect()
    }

    #[test]
    fn grants_parse_and_refuse_what_they_do_not_know() {
        let grants = Grants::parse(["write", "read:SAR", "read:OPT"]).unwrap();
        assert!(grants.write && !grants.read_all);
        assert_eq!(grants.read, set(&["OPT", "SAR"]));
        assert!(Grants::parse(["read:*"]).unwrap().read_all);
        for bad in ["read:", "admin", "read", "Write"] {
            assert!(Grants::parse([bad]).is_err(), "{bad}");
        }
    }

    #[test]
    fn open_access_allows_everything() {
        let open = Access::open();
        assert!(open.can_write() && open.can_read("X") && open.is_public("X"));
        assert_eq!(open.readable(), Readable::All);
    }

    #[test]
    fn reads_follow_the_collections_and_the_grants() {
        let restricted = Arc::new(Collections::PublicBut(set(&["SAR", "OPT"])));
        let anonymous = Access::new(restricted.clone(), Grants::default(), None);
        assert!(anonymous.can_read("OTHER") && !anonymous.can_read("SAR"));
        assert!(!anonymous.can_write());
        assert!(!anonymous.is_public("SAR") && anonymous.is_public("OTHER"));
        let sar = Access::new(
            restricted.clone(),
            Grants::parse(["read:SAR"]).unwrap(),
            Some("sar".into()),
        );
        assert_eq!(sar.readable(), Readable::AllBut(set(&["OPT"])));
        let all = Access::new(restricted, Grants::parse(["read:*"]).unwrap(), None);
        assert_eq!(all.readable(), Readable::All);

        let closed = Arc::new(Collections::Only(set(&["PUBLIC"])));
        let anonymous = Access::new(closed.clone(), Grants::default(), None);
        assert_eq!(anonymous.readable(), Readable::Only(set(&["PUBLIC"])));
        let sar = Access::new(closed, Grants::parse(["read:SAR"]).unwrap(), None);
        assert!(sar.can_read("SAR") && sar.can_read("PUBLIC") && !sar.can_read("OPT"));
    }
}
