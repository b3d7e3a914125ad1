//! Retries of storage operations with exponential backoff.

use std::future::Future;

use pvs_storage::StorageError;

use crate::Settings;

/// Runs `operation` up to `settings.attempts` times while it fails with a transient error
/// (a backend error: network, server, throttling), waiting `settings.backoff`, then twice
/// as long, and so on. A missing object or an unreadable local file fails at once.
pub(crate) async fn storage<T, F, Fut>(
    settings: &Settings,
    what: &str,
    mut operation: F,
) -> Result<T, StorageError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, StorageError>>,
{
    let mut wait = settings.backoff;
    let mut attempt = 1;
    loop {
        match operation().await {
            Ok(value) => return Ok(value),
            Err(e) if attempt < settings.attempts.max(1) && is_transient(&e) => {
                tracing::warn!(attempt, error = %e, "storage {what} failed; retrying in {wait:?}");
                tokio::time::sleep(wait).await;
                wait *= 2;
                attempt += 1;
            }
            Err(e) => return Err(e),
        }
    }
}

fn is_transient(error: &StorageError) -> bool {
    matches!(error, StorageError::Backend { .. })
}
