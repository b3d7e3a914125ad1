//! Waiting with a deadline for what a service does in its own time (a process becoming
//! ready, a product registered, a queue drained), polling every 100 ms.

use std::fmt::Display;
use std::time::{Duration, Instant};

const POLL: Duration = Duration::from_millis(100);

/// Waits until `condition` holds; panics naming `what` when it still does not after
/// `within`.
pub async fn wait_until(
    within: Duration,
    what: impl Display,
    mut condition: impl AsyncFnMut() -> bool,
) {
    let deadline = Instant::now() + within;
    while !condition().await {
        assert!(
            Instant::now() < deadline,
            "timed out after {within:?} waiting for {what}"
        );
        tokio::time::sleep(POLL).await;
    }
}

/// Waits until `poll` gives a value and returns it; panics naming `what` and the last
/// `Err` (the state the test saw: a status, what is missing) when it gives none within
/// `within`.
pub async fn wait_for<T, E: Display>(
    within: Duration,
    what: impl Display,
    mut poll: impl AsyncFnMut() -> Result<T, E>,
) -> T {
    let deadline = Instant::now() + within;
    loop {
        match poll().await {
            Ok(value) => return value,
            Err(last) => assert!(
                Instant::now() < deadline,
                "timed out after {within:?} waiting for {what}; last: {last}"
            ),
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Whether a GET of `url` answers 200 now (an error to connect is a no).
pub async fn answers_ok(url: &str) -> bool {
    reqwest::get(url)
        .await
        .is_ok_and(|response| response.status() == reqwest::StatusCode::OK)
}

/// Waits until a GET of `url` answers 200 (a `/ready` or `/health` probe); panics after
/// `within`.
pub async fn wait_ok(url: &str, within: Duration) {
    wait_until(within, format_args!("{url} to answer 200"), async || {
        answers_ok(url).await
    })
    .await;
}
