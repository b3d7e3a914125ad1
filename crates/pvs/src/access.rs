//! The access policy of a service: `ACCESS_POLICY_FILE`, with the ingestion credentials
//! (`INGEST_TOKEN`, `INGEST_BASIC_AUTH`) as static credentials that may write.

use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use pvs_access::{Grants, Policy, Verifier};
use pvs_service::config::{ConfigError, Env, Secret, vars};

use crate::backends::StartError;

/// The verifier of the configured policy; `None` when neither a policy file nor ingestion
/// credentials are set (everything open).
pub async fn verifier(env: &Env) -> Result<Option<Arc<Verifier>>, StartError> {
    let file = env.get_opt::<String>(&vars::ACCESS_POLICY_FILE)?;
    let token = env.get_opt::<Secret>(&vars::INGEST_TOKEN)?;
    let basic = env.get_opt::<Secret>(&vars::INGEST_BASIC_AUTH)?;
    if let Some(basic) = &basic
        && !basic.expose().contains(':')
    {
        return Err(ConfigError::new(&vars::INGEST_BASIC_AUTH, "must be user:password").into());
    }
    if file.is_none() && token.is_none() && basic.is_none() {
        return Ok(None);
    }
    let policy = match &file {
        Some(path) => Policy::read(&PathBuf::from(path))
            .map_err(|e| ConfigError::new(&vars::ACCESS_POLICY_FILE, e.to_string()))?,
        None => Policy::default(),
    };
    let mut verifier = Verifier::new(policy)
        .await
        .map_err(|e| ConfigError::new(&vars::ACCESS_POLICY_FILE, e.to_string()))?;
    let write = Grants {
        write: true,
        ..Grants::default()
    };
    if let Some(token) = &token {
        verifier = verifier.with_bearer("INGEST_TOKEN", token.expose(), write.clone());
    }
    if let Some(basic) = &basic {
        verifier = verifier.with_basic("INGEST_BASIC_AUTH", basic.expose(), write);
    }
    tracing::info!(policy = ?file, "access policy: {verifier:?}");
    Ok(Some(Arc::new(verifier)))
}

/// `router` behind `verifier` when there is one.
pub fn protect(router: Router, verifier: Option<&Arc<Verifier>>) -> Router {
    match verifier {
        Some(verifier) => pvs_access::http::protect(router, verifier.clone()),
        None => router,
    }
}
