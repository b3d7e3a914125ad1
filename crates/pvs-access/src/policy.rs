//! The access policy file (TOML): which collections are public, the static credentials, and
//! how the claims of OpenID Connect JWTs map to grants. `docs/security.md` shows a whole file.

use std::collections::BTreeSet;
use std::path::Path;

use serde::Deserialize;

use crate::Grants;

/// Which collections anyone may read without credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Collections {
    /// Every collection but these.
    PublicBut(BTreeSet<String>),
    /// Only these.
    Only(BTreeSet<String>),
}

impl Collections {
    /// Whether anyone may read `collection`.
    pub fn is_public(&self, collection: &str) -> bool {
        match self {
            Self::PublicBut(restricted) => !restricted.contains(collection),
            Self::Only(public) => public.contains(collection),
        }
    }
}

impl Default for Collections {
    fn default() -> Self {
        Self::PublicBut(BTreeSet::new())
    }
}

/// A static credential: a bearer token or basic-auth `user:password`, kept as the SHA-256
/// digest of the secret so that the policy file itself is no secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credential {
    /// Its name, for logs.
    pub name: String,
    /// What the secret is.
    pub scheme: Scheme,
    /// The SHA-256 digest of the token, or of `user:password`.
    pub sha256: [u8; 32],
    /// What it allows.
    pub grants: Grants,
}

/// How a static credential is presented.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// `Authorization: Bearer <token>`.
    Bearer,
    /// `Authorization: Basic <base64 of user:password>`.
    Basic,
}

/// Where the keys of JWTs are, and what a token must say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Oidc {
    /// A JWKS: a file path, or an `http(s)` URL (fetched at start, and again when a token
    /// names a key it does not have, at most once a minute).
    pub jwks: String,
    /// The issuer (`iss`) tokens must name.
    pub issuer: String,
    /// An audience (`aud`) tokens must name.
    pub audience: String,
    /// The clock skew allowed on `exp` and `nbf`, in seconds.
    pub leeway_seconds: u64,
    /// The claims that give grants.
    pub claims: Vec<ClaimGrant>,
}

/// Grants given to tokens whose claim holds a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimGrant {
    /// The claim, as a dotted path into the token's claims (`scope`, `groups`,
    /// `realm_access.roles`).
    pub claim: Vec<String>,
    /// The value: the claim equals it, or is an array holding it, or (a string of words,
    /// as `scope`) has it as one of its words.
    pub value: String,
    /// What it allows.
    pub grants: Grants,
}

/// The whole policy.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Policy {
    /// Which collections are public.
    pub collections: Collections,
    /// The static credentials.
    pub credentials: Vec<Credential>,
    /// OpenID Connect tokens, when accepted.
    pub oidc: Option<Oidc>,
}

/// Why a policy cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// The file could not be read.
    #[error("cannot read the access policy {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not a valid policy.
    #[error("the access policy {path}: {reason}")]
    Invalid {
        /// The file.
        path: String,
        /// What is wrong, and where.
        reason: String,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    collections: FileCollections,
    #[serde(default)]
    credentials: Vec<FileCredential>,
    oidc: Option<FileOidc>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct FileCollections {
    restricted: Option<Vec<String>>,
    public: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileCredential {
    name: String,
    bearer_sha256: Option<String>,
    basic_sha256: Option<String>,
    grants: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileOidc {
    jwks: String,
    issuer: String,
    audience: String,
    #[serde(default = "default_leeway")]
    leeway_seconds: u64,
    #[serde(default)]
    claims: Vec<FileClaim>,
}

fn default_leeway() -> u64 {
    60
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileClaim {
    claim: String,
    value: String,
    grants: Vec<String>,
}

impl Policy {
    /// Reads the policy file at `path`.
    pub fn read(path: &Path) -> Result<Self, PolicyError> {
        let text = std::fs::read_to_string(path).map_err(|source| PolicyError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::parse(&text).map_err(|reason| PolicyError::Invalid {
            path: path.display().to_string(),
            reason,
        })
    }

    /// A policy from the text of a policy file; the error names what is wrong and where.
    pub fn parse(text: &str) -> Result<Self, String> {
        let file: File = toml::from_str(text).map_err(|e| e.to_string())?;
        let collections = match (file.collections.restricted, file.collections.public) {
            (Some(_), Some(_)) => {
                return Err(
                    "[collections] has both restricted and public: name the collections \
                     that need a grant (restricted) or those that do not (public)"
                        .to_owned(),
                );
            }
            (Some(restricted), None) => {
                Collections::PublicBut(names("collections.restricted", restricted)?)
            }
            (None, Some(public)) => Collections::Only(names("collections.public", public)?),
            (None, None) => Collections::default(),
        };
        let credentials = file
            .credentials
            .into_iter()
            .enumerate()
            .map(|(index, credential)| {
                let at = format!("credentials[{index}] ({:?})", credential.name);
                let (scheme, digest) = match (credential.bearer_sha256, credential.basic_sha256) {
                    (Some(digest), None) => (Scheme::Bearer, digest),
                    (None, Some(digest)) => (Scheme::Basic, digest),
                    _ => {
                        return Err(format!(
                            "{at}: give exactly one of bearer_sha256 and basic_sha256"
                        ));
                    }
                };
                Ok(Credential {
                    sha256: sha256_hex(&digest).map_err(|e| format!("{at}: {e}"))?,
                    grants: Grants::parse(credential.grants.iter().map(String::as_str))
                        .map_err(|e| format!("{at}: {e}"))?,
                    name: credential.name,
                    scheme,
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        let oidc = file
            .oidc
            .map(|oidc| {
                if oidc.issuer.is_empty() || oidc.audience.is_empty() || oidc.jwks.is_empty() {
                    return Err("[oidc]: jwks, issuer and audience must not be empty".to_owned());
                }
                let claims = oidc
                    .claims
                    .into_iter()
                    .enumerate()
                    .map(|(index, claim)| {
                        let at = format!("oidc.claims[{index}]");
                        let path: Vec<String> = claim.claim.split('.').map(str::to_owned).collect();
                        if path.iter().any(String::is_empty) || claim.value.is_empty() {
                            return Err(format!("{at}: claim and value must not be empty"));
                        }
                        Ok(ClaimGrant {
                            claim: path,
                            value: claim.value,
                            grants: Grants::parse(claim.grants.iter().map(String::as_str))
                                .map_err(|e| format!("{at}: {e}"))?,
                        })
                    })
                    .collect::<Result<Vec<_>, String>>()?;
                Ok(Oidc {
                    jwks: oidc.jwks,
                    issuer: oidc.issuer,
                    audience: oidc.audience,
                    leeway_seconds: oidc.leeway_seconds,
                    claims,
                })
            })
            .transpose()?;
        Ok(Self {
            collections,
            credentials,
            oidc,
        })
    }
}

fn names(at: &str, names: Vec<String>) -> Result<BTreeSet<String>, String> {
    if names.iter().any(String::is_empty) {
        return Err(format!("{at}: a collection name is empty"));
    }
    Ok(names.into_iter().collect())
}

/// A SHA-256 digest written in hexadecimal.
fn sha256_hex(hex: &str) -> Result<[u8; 32], String> {
    let bad = || format!("{hex:?} is no SHA-256 digest (64 hexadecimal digits)");
    if hex.len() != 64 || !hex.is_ascii() {
        return Err(bad());
    }
    let mut digest = [0; 32];
    for (byte, pair) in digest.iter_mut().zip(hex.as_bytes().chunks(2)) {
        let pair = std::str::from_utf8(pair).map_err(|_| bad())?;
        *byte = u8::from_str_radix(pair, 16).map_err(|_| bad())?;
    }
    Ok(digest)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIGEST: &str = "2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b";

    #[test]
    fn a_whole_policy_reads() {
        let policy = Policy::parse(&format!(
            r#"
            [collections]
            restricted = ["SAR"]

            [[credentials]]
            name = "operations"
            bearer_sha256 = "{DIGEST}"
            grants = ["write", "read:*"]

            [[credentials]]
            name = "provider"
            basic_sha256 = "{DIGEST}"
            grants = ["write"]

            [oidc]
            jwks = "/etc/pvs/jwks.json"
            issuer = "https://idp.example"
            audience = "pvs"

            [[oidc.claims]]
            claim = "realm_access.roles"
            value = "sar-users"
            grants = ["read:SAR"]
            "#
        ))
        .unwrap();
        assert!(!policy.collections.is_public("SAR"));
        assert!(policy.collections.is_public("OPTICAL"));
        assert_eq!(policy.credentials.len(), 2);
        assert_eq!(policy.credentials[1].scheme, Scheme::Basic);
        assert_eq!(policy.credentials[0].sha256[0], 0x2b);
        let oidc = policy.oidc.unwrap();
        assert_eq!(oidc.leeway_seconds, 60);
        assert_eq!(oidc.claims[0].claim, ["realm_access", "roles"]);
    }

    #[test]
    fn mistakes_are_named() {
        let cases = [
            (
                "[collections]\nrestricted = []\npublic = []",
                "both restricted and public",
            ),
            (
                "[collections]\nrestricted = [\"\"]",
                "collections.restricted",
            ),
            (
                "[[credentials]]\nname = \"x\"\ngrants = []",
                "credentials[0] (\"x\"): give exactly one",
            ),
            (
                "[[credentials]]\nname = \"x\"\nbearer_sha256 = \"abc\"\ngrants = []",
                "no SHA-256 digest",
            ),
            (
                &format!(
                    "[[credentials]]\nname = \"x\"\nbearer_sha256 = \"{DIGEST}\"\ngrants = [\"admin\"]"
                ),
                "unknown grant \"admin\"",
            ),
            (
                "[oidc]\njwks = \"j\"\nissuer = \"\"\naudience = \"a\"",
                "must not be empty",
            ),
            (
                "[oidc]\njwks = \"j\"\nissuer = \"i\"\naudience = \"a\"\n[[oidc.claims]]\nclaim = \"a..b\"\nvalue = \"v\"\ngrants = []",
                "oidc.claims[0]",
            ),
            ("[colections]\n", "unknown field"),
            (
                "[[credentials]]\nname = \"x\"\nbearer_sha256 = \"é\"\ngrants = []",
                "no SHA-256",
            ),
        ];
        for (text, expected) in cases {
            let error = Policy::parse(text).unwrap_err();
            assert!(error.contains(expected), "{text:?}: {error}");
        }
    }

    #[test]
    fn no_file_content_is_an_open_collection_list() {
        let policy = Policy::parse("").unwrap();
        assert_eq!(policy, Policy::default());
        assert!(policy.collections.is_public("ANY"));
    }
}
