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
/// The pause after a failed hand-off, so that an unreachable queue is not hammered.
const RETRY_PAUSE: Duration = Duration::from_secs(1);

/// Consumes `queue` as `consumer_name` until `shutdown` becomes true: each item's payload is
/// given to `handle`. `Ok` acknowledges the item (handlers record their own failures in the
/// status sets); `Err` (the queue was unreachable while handling) gives it back and pauses.
/// Items of dead consumers are recovered at start and every minute. On shutdown the
/// consumer is closed, so that an item not finished goes back to the queue. Each item is
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
        let handled = handle(taken.payload.clone()).instrument(span.clone()).await;
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
