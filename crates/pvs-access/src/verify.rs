//! Credentials into [`Access`]: static bearer tokens and basic-auth credentials compared by
//! their SHA-256 digests, OpenID Connect JWTs checked against a JWKS.

use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::policy::{ClaimGrant, Credential, Oidc, Scheme};
use crate::{Access, Collections, Grants, Policy};

/// How often at most a JWKS URL is fetched again for a key it did not have.
const JWKS_REFETCH: Duration = Duration::from_secs(60);

/// The longest `Authorization` header read (a JWT of many claims stays well below).
const MAX_AUTHORIZATION_BYTES: usize = 16 * 1024;

/// Why a request's credentials are refused (answered 401 with `error="invalid_token"`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// The `Authorization` header is not one this server reads.
    #[error("the Authorization header is not a bearer token or basic-auth credentials")]
    Malformed,
    /// No static credential has this secret, and it is no JWT this server accepts.
    #[error("unknown credentials")]
    Unknown,
    /// A JWT that is not valid, with the reason (expired, wrong audience, ...).
    #[error("the token is not valid: {0}")]
    Invalid(String),
    /// The keys of JWTs could not be had.
    #[error("the token's keys cannot be read: {0}")]
    Keys(String),
}

/// The keys JWTs are signed with, and where they come from.
pub struct Jwks {
    source: String,
    keys: tokio::sync::RwLock<(JwkSet, Option<Instant>)>,
    client: reqwest::Client,
}

impl Jwks {
    /// The keys at `source` (a file path or an `http(s)` URL), read now.
    pub async fn load(source: &str) -> Result<Self, TokenError> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| TokenError::Keys(e.to_string()))?;
        let jwks = Self {
            source: source.to_owned(),
            keys: tokio::sync::RwLock::new((JwkSet { keys: Vec::new() }, None)),
            client,
        };
        let keys = jwks.fetch().await?;
        *jwks.keys.write().await = (keys, Some(Instant::now()));
        Ok(jwks)
    }

    fn is_url(&self) -> bool {
        self.source.starts_with("http://") || self.source.starts_with("https://")
    }

    async fn fetch(&self) -> Result<JwkSet, TokenError> {
        let at = |e: &dyn std::fmt::Display| TokenError::Keys(format!("{}: {e}", self.source));
        let bytes = if self.is_url() {
            let answer = self
                .client
                .get(&self.source)
                .send()
                .await
                .and_then(reqwest::Response::error_for_status)
                .map_err(|e| at(&e))?;
            answer.bytes().await.map_err(|e| at(&e))?.to_vec()
        } else {
            tokio::fs::read(&self.source).await.map_err(|e| at(&e))?
        };
        serde_json::from_slice(&bytes).map_err(|e| at(&e))
    }

    /// The key `kid` (or the only key, for a token naming none); a URL is fetched again
    /// when the key is missing, at most once a [`JWKS_REFETCH`].
    async fn key(&self, kid: Option<&str>) -> Result<jsonwebtoken::jwk::Jwk, TokenError> {
        let find = |set: &JwkSet| match kid {
            Some(kid) => set.find(kid).cloned(),
            None if set.keys.len() == 1 => set.keys.first().cloned(),
            None => None,
        };
        {
            let keys = self.keys.read().await;
            if let Some(key) = find(&keys.0) {
                return Ok(key);
            }
            let recent = keys.1.is_some_and(|at| at.elapsed() < JWKS_REFETCH);
            if !self.is_url() || recent {
                return Err(TokenError::Invalid(
                    "no key of the JWKS signed it".to_owned(),
                ));
            }
        }
        let mut keys = self.keys.write().await;
        if keys.1.is_none_or(|at| at.elapsed() >= JWKS_REFETCH) {
            keys.1 = Some(Instant::now());
            match self.fetch().await {
                Ok(set) => keys.0 = set,
                Err(error) => tracing::warn!(%error, "the JWKS could not be fetched again"),
            }
        }
        find(&keys.0).ok_or_else(|| TokenError::Invalid("no key of the JWKS signed it".to_owned()))
    }
}

/// Turns requests' credentials into their [`Access`] under a policy.
pub struct Verifier {
    collections: Arc<Collections>,
    credentials: Vec<Credential>,
    oidc: Option<(Oidc, Jwks)>,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the digests.
        f.debug_struct("Verifier")
            .field("collections", &self.collections)
            .field("credentials", &self.credentials.len())
            .field("oidc", &self.oidc.as_ref().map(|(oidc, _)| &oidc.issuer))
            .finish()
    }
}

impl Verifier {
    /// A verifier of `policy`; its JWKS, if any, is read now.
    pub async fn new(policy: Policy) -> Result<Self, TokenError> {
        let oidc = match policy.oidc {
            Some(oidc) => {
                let jwks = Jwks::load(&oidc.jwks).await?;
                Some((oidc, jwks))
            }
            None => None,
        };
        Ok(Self {
            collections: Arc::new(policy.collections),
            credentials: policy.credentials,
            oidc,
        })
    }

    /// Also accepts `Authorization: Bearer <token>` with `grants` (`INGEST_TOKEN`).
    pub fn with_bearer(mut self, name: &str, token: &str, grants: Grants) -> Self {
        self.credentials.push(Credential {
            name: name.to_owned(),
            scheme: Scheme::Bearer,
            sha256: Sha256::digest(token.as_bytes()).into(),
            grants,
        });
        self
    }

    /// Also accepts basic auth with `user:password` and `grants` (`INGEST_BASIC_AUTH`).
    pub fn with_basic(mut self, name: &str, user_colon_password: &str, grants: Grants) -> Self {
        self.credentials.push(Credential {
            name: name.to_owned(),
            scheme: Scheme::Basic,
            sha256: Sha256::digest(user_colon_password.as_bytes()).into(),
            grants,
        });
        self
    }

    /// Whether some credential may write.
    pub fn grants_write(&self) -> bool {
        self.credentials.iter().any(|c| c.grants.write)
            || self
                .oidc
                .as_ref()
                .is_some_and(|(oidc, _)| oidc.claims.iter().any(|c| c.grants.write))
    }

    /// The challenge of a 401 answer.
    pub fn challenge(&self, error: Option<&TokenError>) -> String {
        let basic_only = self.oidc.is_none()
            && !self.credentials.is_empty()
            && self.credentials.iter().all(|c| c.scheme == Scheme::Basic);
        match (basic_only, error) {
            (true, _) => "Basic realm=\"pvs\"".to_owned(),
            (false, None) => "Bearer realm=\"pvs\"".to_owned(),
            (false, Some(error)) => format!(
                "Bearer realm=\"pvs\", error=\"invalid_token\", error_description=\"{}\"",
                error.to_string().replace(['"', '\\'], "'")
            ),
        }
    }

    /// The access of a request with this `Authorization` header value (none: anonymous).
    pub async fn access(&self, authorization: Option<&[u8]>) -> Result<Access, TokenError> {
        let Some(authorization) = authorization else {
            return Ok(Access::new(
                self.collections.clone(),
                Grants::default(),
                None,
            ));
        };
        if authorization.len() > MAX_AUTHORIZATION_BYTES {
            return Err(TokenError::Malformed);
        }
        let text = std::str::from_utf8(authorization).map_err(|_| TokenError::Malformed)?;
        let (scheme, secret) = text.split_once(' ').ok_or(TokenError::Malformed)?;
        let secret = secret.trim();
        let (scheme, digest) = if scheme.eq_ignore_ascii_case("bearer") {
            (Scheme::Bearer, Sha256::digest(secret.as_bytes()))
        } else if scheme.eq_ignore_ascii_case("basic") {
            let decoded = STANDARD.decode(secret).map_err(|_| TokenError::Malformed)?;
            (Scheme::Basic, Sha256::digest(&decoded))
        } else {
            return Err(TokenError::Malformed);
        };
        let digest: [u8; 32] = digest.into();
        // Every credential is compared, each in constant time.
        let found = self.credentials.iter().fold(None, |found, credential| {
            let same =
                (credential.scheme == scheme) & constant_time_eq(&credential.sha256, &digest);
            found.or(same.then_some(credential))
        });
        if let Some(credential) = found {
            return Ok(Access::new(
                self.collections.clone(),
                credential.grants.clone(),
                Some(credential.name.clone()),
            ));
        }
        match (&self.oidc, scheme) {
            (Some((oidc, jwks)), Scheme::Bearer) if secret.matches('.').count() == 2 => {
                let (who, grants) = jwt_grants(oidc, jwks, secret).await?;
                Ok(Access::new(self.collections.clone(), grants, Some(who)))
            }
            _ => Err(TokenError::Unknown),
        }
    }
}

/// The subject and grants of a JWT, once its signature, issuer, audience and times check.
async fn jwt_grants(oidc: &Oidc, jwks: &Jwks, token: &str) -> Result<(String, Grants), TokenError> {
    let invalid = |e: jsonwebtoken::errors::Error| TokenError::Invalid(e.to_string());
    let header = jsonwebtoken::decode_header(token).map_err(invalid)?;
    // Only public-key algorithms: a token signed with a shared secret is never accepted.
    if !matches!(
        header.alg,
        Algorithm::RS256
            | Algorithm::RS384
            | Algorithm::RS512
            | Algorithm::PS256
            | Algorithm::PS384
            | Algorithm::PS512
            | Algorithm::ES256
            | Algorithm::ES384
            | Algorithm::EdDSA
    ) {
        return Err(TokenError::Invalid(format!(
            "the algorithm {:?} is not accepted",
            header.alg
        )));
    }
    let jwk = jwks.key(header.kid.as_deref()).await?;
    if let Some(alg) = jwk.common.key_algorithm
        && alg.to_string() != format!("{:?}", header.alg)
    {
        return Err(TokenError::Invalid(format!(
            "the key is for {alg}, the token says {:?}",
            header.alg
        )));
    }
    let key = DecodingKey::from_jwk(&jwk).map_err(invalid)?;
    let mut validation = Validation::new(header.alg);
    validation.leeway = oidc.leeway_seconds;
    validation.set_issuer(&[&oidc.issuer]);
    validation.set_audience(&[&oidc.audience]);
    validation.set_required_spec_claims(&["exp", "iss", "aud"]);
    let claims = jsonwebtoken::decode::<Value>(token, &key, &validation)
        .map_err(invalid)?
        .claims;
    let mut grants = Grants::default();
    for mapping in &oidc.claims {
        if holds(&claims, mapping) {
            grants.add(&mapping.grants);
        }
    }
    let who = claims
        .get("sub")
        .and_then(Value::as_str)
        .unwrap_or("a token without subject")
        .to_owned();
    Ok((who, grants))
}

/// Whether the claim at the mapping's path holds its value.
fn holds(claims: &Value, mapping: &ClaimGrant) -> bool {
    let Some(value) = mapping
        .claim
        .iter()
        .try_fold(claims, |value, key| value.get(key))
    else {
        return false;
    };
    match value {
        Value::String(text) => {
            text == &mapping.value || text.split_whitespace().any(|word| word == mapping.value)
        }
        Value::Array(values) => values
            .iter()
            .any(|v| v.as_str() == Some(mapping.value.as_str())),
        _ => false,
    }
}

/// Equality whose time does not depend on where the bytes differ.
fn constant_time_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn mapping(claim: &str, value: &str) -> ClaimGrant {
        ClaimGrant {
            claim: claim.split('.').map(str::to_owned).collect(),
            value: value.to_owned(),
            grants: Grants::default(),
        }
    }

    #[test]
    fn claims_hold_values_as_words_arrays_or_whole() {
        let claims = json!({
            "scope": "openid pvs:write",
            "groups": ["a", "sar"],
            "realm_access": {"roles": ["sar-users"]},
            "level": 3,
        });
        assert!(holds(&claims, &mapping("scope", "pvs:write")));
        assert!(!holds(&claims, &mapping("scope", "pvs")));
        assert!(holds(&claims, &mapping("groups", "sar")));
        assert!(holds(&claims, &mapping("realm_access.roles", "sar-users")));
        assert!(!holds(
            &claims,
            &mapping("realm_access.groups", "sar-users")
        ));
        assert!(!holds(&claims, &mapping("level", "3")));
    }

    #[tokio::test]
    async fn static_credentials_give_their_grants_and_others_are_refused() {
        let verifier = Verifier::new(Policy::default())
            .await
            .unwrap()
            .with_bearer("token", "s3cret", Grants::parse(["write"]).unwrap())
            .with_basic("user", "u:p", Grants::parse(["read:*"]).unwrap());
        let anonymous = verifier.access(None).await.unwrap();
        assert!(anonymous.is_anonymous() && !anonymous.can_write());
        let bearer = verifier.access(Some(b"Bearer s3cret")).await.unwrap();
        assert!(bearer.can_write() && bearer.who() == Some("token"));
        let basic = format!("Basic {}", STANDARD.encode("u:p"));
        let basic = verifier.access(Some(basic.as_bytes())).await.unwrap();
        assert!(!basic.can_write());
        // The bearer secret presented as basic auth is another credential.
        let swapped = format!("Basic {}", STANDARD.encode("s3cret"));
        assert_eq!(
            verifier.access(Some(swapped.as_bytes())).await.unwrap_err(),
            TokenError::Unknown
        );
        for bad in [
            &b"Bearer nope"[..],
            b"Bearer",
            b"Digest x",
            b"Basic !!!",
            b"\xff\xfe",
        ] {
            assert!(verifier.access(Some(bad)).await.is_err(), "{bad:?}");
        }
        let huge = format!("Bearer {}", "a".repeat(MAX_AUTHORIZATION_BYTES));
        assert_eq!(
            verifier.access(Some(huge.as_bytes())).await.unwrap_err(),
            TokenError::Malformed
        );
    }
}
