//! The SQLite connections of a catalog, and how blocking work reaches them without blocking
//! the async runtime.
//!
//! One connection writes (SQLite has a single writer anyway: writes queue on its mutex in
//! arrival order); a few others read concurrently in WAL mode. An in-memory catalog has only
//! the writer, which also reads. A caller waits for a connection asynchronously, then the
//! work runs on tokio's blocking threads.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use rusqlite::Connection;
use tokio::sync::{Mutex, OwnedMutexGuard};

use crate::{CatalogError, Result};

/// The writer and the readers of one catalog.
pub(super) struct Connections {
    writer: Arc<Mutex<Connection>>,
    readers: Vec<Arc<Mutex<Connection>>>,
    /// Which reader a caller waits for when all are busy (round robin).
    next_reader: AtomicUsize,
}

impl Connections {
    /// `writer` for writes; `readers` (possibly none) for reads.
    pub(super) fn new(writer: Connection, readers: Vec<Connection>) -> Self {
        Self {
            writer: Arc::new(Mutex::new(writer)),
            readers: readers
                .into_iter()
                .map(|reader| Arc::new(Mutex::new(reader)))
                .collect(),
            next_reader: AtomicUsize::new(0),
        }
    }

    /// Runs `work` on the writer, after the writes queued before it.
    pub(super) async fn write<T, F>(&self, work: F) -> Result<T>
    where
        F: FnOnce(&mut Connection) -> Result<T> + Send + 'static,
        T: Send + 'static,
    {
        let connection = Arc::clone(&self.writer).lock_owned().await;
        run(connection, work).await
    }

    /// Runs `work` on a free reader, or waits for one (the writer when there are no readers).
    pub(super) async fn read<T, F>(&self, work: F) -> Result<T>
    where
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
        T: Send + 'static,
    {
        let free = self
            .readers
            .iter()
            .find_map(|reader| Arc::clone(reader).try_lock_owned().ok());
        let connection = match free {
            Some(connection) => connection,
            None if self.readers.is_empty() => Arc::clone(&self.writer).lock_owned().await,
            None => {
                let next = self.next_reader.fetch_add(1, Ordering::Relaxed) % self.readers.len();
                Arc::clone(&self.readers[next]).lock_owned().await
            }
        };
        run(connection, move |connection| work(connection)).await
    }
}

/// Runs `work` with `connection` on a blocking thread. A panic in `work` is a bug: it is
/// raised again in the caller.
async fn run<T, F>(mut connection: OwnedMutexGuard<Connection>, work: F) -> Result<T>
where
    F: FnOnce(&mut Connection) -> Result<T> + Send + 'static,
    T: Send + 'static,
{
    match tokio::task::spawn_blocking(move || work(&mut connection)).await {
        Ok(result) => result,
        Err(error) if error.is_panic() => std::panic::resume_unwind(error.into_panic()),
        Err(error) => Err(CatalogError::Backend {
            context: "running a catalog operation".to_owned(),
            reason: format!("its blocking task did not finish: {error}"),
        }),
    }
}
