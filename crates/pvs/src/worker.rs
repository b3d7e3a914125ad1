//! A queue worker served: the preprocessor, the registrar and the seeder each run their worker
//! beside `/health`, `/ready` and `/metrics` (with the queue's series) until SIGINT/SIGTERM,
//! and stop both the same way.

use std::future::Future;
use std::sync::Arc;

use pvs_queue::WorkQueue;
use pvs_service::config::ListenAddr;
use pvs_service::http;
use tokio::sync::watch;

use crate::backends::{BoxError, Probes, StartError};

/// A service whose work is a queue worker.
pub struct QueueWorker {
    /// The service's name, e.g. `registrar`: in `/metrics`, `/ready` and the default
    /// consumer name.
    pub service: &'static str,
    /// What the worker consumes, naming its error, e.g. `register_queue`.
    pub queues: &'static str,
    /// What names the worker's task when it panics, e.g. `registrar worker`.
    pub task: &'static str,
    /// `--consumer-name`; by default a unique name for this start.
    pub consumer_name: Option<String>,
    /// The work queues, checked by `/ready` and counted on `/metrics`.
    pub queue: Arc<dyn WorkQueue>,
    /// The other backends `/ready` checks (its `queue` is set from [`QueueWorker::queue`]).
    pub probes: Probes,
}

impl QueueWorker {
    /// Listens on `listen` (serving within `limits`), then starts `work` with the consumer name and the stop signal
    /// (`true` once SIGINT/SIGTERM arrives) and serves until the signal; returns once the
    /// worker has finished, with the worker's error first, then the server's.
    pub async fn serve<W, E>(
        self,
        listen: ListenAddr,
        limits: http::Limits,
        work: impl FnOnce(String, watch::Receiver<bool>) -> W,
    ) -> Result<(), StartError>
    where
        W: Future<Output = Result<(), E>> + Send + 'static,
        E: Into<BoxError> + Send + 'static,
    {
        let metrics = crate::metrics::service_metrics(self.service, Some(self.queue.clone()));
        let readiness = Probes {
            queue: Some(self.queue),
            ..self.probes
        }
        .readiness();
        let router = http::service_router(self.service, axum::Router::new(), readiness, metrics);
        let listener = http::bind(listen).await.map_err(StartError::bind(listen))?;
        let (stop_tx, stop_rx) = watch::channel(false);
        let name = self
            .consumer_name
            .unwrap_or_else(|| pvs_queue::unique_consumer_name(self.service));
        // A worker that stops by itself (its queue unreachable: Redis restarted, the network
        // cut) stops the server too, so that the process exits with the worker's error and
        // is started again (`restart: unless-stopped`), rather than serving `/health` with no
        // worker behind it (found by the fault suite, benches/faults).
        let (done_tx, done_rx) = tokio::sync::oneshot::channel::<()>();
        let work = work(name, stop_rx);
        let worker = tokio::spawn(async move {
            let outcome = work.await;
            let _ = done_tx.send(());
            outcome
        });
        let served = http::serve(listener, router, limits, async move {
            tokio::select! {
                () = http::shutdown_signal() => {}
                _ = done_rx => {}
            }
            let _ = stop_tx.send(true);
        })
        .await;
        match worker.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(StartError::worker(self.queues)(e)),
            Err(e) => return Err(StartError::worker(self.task)(e)),
        }
        served.map_err(StartError::Serve)
    }
}
