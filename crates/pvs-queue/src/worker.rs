//! The worker loop every queue-consuming service runs: take an item, handle it, acknowledge
//! it; give it back when the queue itself failed; recover the items of dead consumers.

use std::future::Future;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::Instrument;

use crate::{QueueError, QueueName, Result, WorkQueue};

/// How long one `take` waits before the loop checks for shutdown and recovery again.
const TAKE_TIMEOUT: Duration = Duration::from_secs(1);
/// How often the items of dead consumers are looked for.
const RECOVERY_INTERVAL: Duration = Duration::from_secs(60);
/// How long a stopping worker lets the item in hand finish before it gives it back.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);
/// The pause after a failed hand-off, so that an unreachable queue is not hammered.
const RETRY_PAUSE: Duration = Duration::from_secs(1);

/// How a handler tries again the work of an item that failed on a transient fault (a
/// database restarting, object storage unreachable, a full disk): the item stays with its
/// consumer (its heartbeat goes on), and its work is done again after a pause that starts
/// at `first_pause` and doubles up to `max_pause`, for as long as the transient failures
/// last at most `give_up_after`; then the last failure is the item's outcome. A fault that
/// passes within that time is no failure at all: the product is made, and its report says
/// so.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransientRetry {
    /// The first pause.
    pub first_pause: Duration,
    /// The longest pause.
    pub max_pause: Duration,
    /// How long transient failures are retried before the item fails.
    pub give_up_after: Duration,
}

impl Default for TransientRetry {
    /// Pauses of 1, 2, 4... 30 s, for 5 minutes.
    fn default() -> Self {
        Self {
            first_pause: Duration::from_secs(1),
            max_pause: Duration::from_secs(30),
            give_up_after: Duration::from_secs(300),
        }
    }
}

impl TransientRetry {
    /// Runs `attempt` until it succeeds, fails for good (`is_transient` says no), or its
    /// transient failures have gone on for [`TransientRetry::give_up_after`]; each
    /// transient failure retried is logged as a warning naming `what`.
    pub async fn run<T, E, Fut>(
        &self,
        what: &str,
        mut attempt: impl FnMut() -> Fut,
        is_transient: impl Fn(&E) -> bool,
    ) -> std::result::Result<T, E>
    where
        E: std::fmt::Display,
        Fut: Future<Output = std::result::Result<T, E>>,
    {
        let started = tokio::time::Instant::now();
        let mut pause = self.first_pause;
        let mut attempts = 1u32;
        loop {
            match attempt().await {
                Err(error) if is_transient(&error) && started.elapsed() < self.give_up_after => {
                    let wait = pause.min(self.give_up_after.saturating_sub(started.elapsed()));
                    tracing::warn!(what, attempts, error = %error, retry_in_ms = wait.as_millis() as u64, "transient failure; trying again");
                    tokio::time::sleep(wait).await;
                    pause = (pause * 2).min(self.max_pause);
                    attempts += 1;
                }
                outcome => return outcome,
            }
        }
    }
}

/// Consumes `queue` as `consumer_name` until `shutdown` becomes true: each item's payload is
/// given to `handle`. `Ok` acknowledges the item (handlers record their own failures in the
/// status sets); `Err` (the queue was unreachable while handling) gives it back and pauses.
/// Items of dead consumers are recovered at start and every minute. On shutdown the item in
/// hand gets [`SHUTDOWN_GRACE`] to finish (a handler waiting out a transient fault would
/// otherwise hold the process for minutes), then the consumer is closed, so that an item
/// not finished goes back to the queue. Each item is
/// handled inside an `item` span naming the queue and the consumer (so the handler's log
/// lines carry them), and a debug line gives its duration.
pub async fn consume<F, Fut>(
    queue: &dyn WorkQueue,
    name: QueueName,
    consumer_name: &str,
    mut shutdown: watch::Receiver<bool>,
    mut handle: F,
) -> Result<()>
where
    F: FnMut(String) -> Fut,
    Fut: Future<Output = Result<()>>,
{
    let mut consumer = queue.consumer(name, consumer_name).await?;
    queue.recover(name).await?;
    let mut last_recovery = tokio::time::Instant::now();
    while !*shutdown.borrow() {
        if last_recovery.elapsed() > RECOVERY_INTERVAL {
            queue.recover(name).await?;
            last_recovery = tokio::time::Instant::now();
        }
        let taken = tokio::select! {
            taken = consumer.take(TAKE_TIMEOUT) => taken?,
            _ = shutdown.changed() => break,
        };
        let Some(taken) = taken else { continue };
        let span = tracing::info_span!("item", queue = name.key(), consumer = consumer_name);
        let started = tokio::time::Instant::now();
        let handling = handle(taken.payload.clone()).instrument(span.clone());
        tokio::pin!(handling);
        let handled = tokio::select! {
            handled = &mut handling => handled,
            _ = shutdown.changed() => {
                // Stopping: the item is finished if that takes little time, else given back
                // (by `close` below) to be done again, as after a crash.
                match tokio::time::timeout(SHUTDOWN_GRACE, &mut handling).await {
                    Ok(handled) => handled,
                    Err(_) => {
                        span.in_scope(|| tracing::warn!(grace_ms = SHUTDOWN_GRACE.as_millis() as u64, "stopping: the item is not finished and goes back to the queue"));
                        break;
                    }
                }
            }
        };
        let duration_ms = started.elapsed().as_secs_f64() * 1000.0;
        span.in_scope(|| tracing::debug!(duration_ms, ok = handled.is_ok(), "item handled"));
        match handled {
            Ok(()) => consumer.ack(&taken).await?,
            Err(e) => {
                tracing::error!(queue = name.key(), error = %e, "queue unreachable; the item goes back");
                consumer.release(&taken).await?;
                tokio::time::sleep(RETRY_PAUSE).await;
            }
        }
    }
    consumer.close().await
}

/// Waits for every worker loop to finish, or for the first that fails (its queue unreachable)
/// or panics: that error is the outcome at once, so that the service stops and is started
/// again rather than going on with fewer consumers than asked for (the loops still running
/// end with the process; their items come back as a dead consumer's do).
pub async fn join_workers(mut loops: Vec<JoinHandle<Result<()>>>, what: &str) -> Result<()> {
    use std::pin::Pin;
    use std::task::Poll;
    while !loops.is_empty() {
        let (index, finished) = std::future::poll_fn(|cx| {
            for (index, handle) in loops.iter_mut().enumerate() {
                if let Poll::Ready(finished) = Pin::new(handle).poll(cx) {
                    return Poll::Ready((index, finished));
                }
            }
            Poll::Pending
        })
        .await;
        loops.swap_remove(index);
        match finished {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(e),
            Err(e) => return Err(QueueError::Invalid(format!("a {what} worker stopped: {e}"))),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    fn quick(give_up_after_ms: u64) -> TransientRetry {
        TransientRetry {
            first_pause: Duration::from_millis(1),
            max_pause: Duration::from_millis(4),
            give_up_after: Duration::from_millis(give_up_after_ms),
        }
    }

    #[tokio::test]
    async fn a_transient_failure_that_passes_is_no_failure() {
        let attempts = AtomicU32::new(0);
        let outcome: std::result::Result<u32, String> = quick(10_000)
            .run(
                "test",
                || async {
                    match attempts.fetch_add(1, Ordering::SeqCst) {
                        0..=2 => Err("connection refused".to_owned()),
                        n => Ok(n),
                    }
                },
                |e: &String| e.contains("refused"),
            )
            .await;
        assert_eq!(outcome, Ok(3));
        assert_eq!(attempts.load(Ordering::SeqCst), 4);
    }

    #[tokio::test]
    async fn a_lasting_failure_is_not_retried() {
        let attempts = AtomicU32::new(0);
        let outcome: std::result::Result<(), String> = quick(10_000)
            .run(
                "test",
                || async {
                    attempts.fetch_add(1, Ordering::SeqCst);
                    Err("not a raster".to_owned())
                },
                |e: &String| e.contains("refused"),
            )
            .await;
        assert_eq!(outcome, Err("not a raster".to_owned()));
        assert_eq!(attempts.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn transient_failures_give_up_after_the_limit() {
        let attempts = AtomicU32::new(0);
        let started = std::time::Instant::now();
        let outcome: std::result::Result<(), String> = quick(50)
            .run(
                "test",
                || async {
                    attempts.fetch_add(1, Ordering::SeqCst);
                    Err("connection refused".to_owned())
                },
                |e: &String| e.contains("refused"),
            )
            .await;
        assert_eq!(outcome, Err("connection refused".to_owned()));
        assert!(started.elapsed() >= Duration::from_millis(50));
        // Pauses of 1, 2, 4, 4... ms within 50 ms: more than a few attempts, not thousands.
        let attempts = attempts.load(Ordering::SeqCst);
        assert!((5..=60).contains(&attempts), "{attempts} attempts");
    }
}
