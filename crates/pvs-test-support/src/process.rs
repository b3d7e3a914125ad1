//! Child processes of a test: started with only the environment the test gives, and never
//! left running when the test ends, passed or failed.

use std::ffi::OsStr;
use std::process::{Child, Command, ExitStatus};
use std::time::{Duration, Instant};

/// `program args` with only the variables `env` (nothing inherited from the test, so a
/// developer's `REDIS_URL` or `RUST_LOG` cannot change what a test sees).
pub fn clean_command<K, V>(
    program: impl AsRef<OsStr>,
    args: impl IntoIterator<Item = impl AsRef<OsStr>>,
    env: impl IntoIterator<Item = (K, V)>,
) -> Command
where
    K: AsRef<OsStr>,
    V: AsRef<OsStr>,
{
    let mut command = Command::new(program);
    command.args(args).env_clear().envs(env);
    command
}

/// A signal a test sends to ask a process to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// SIGINT, as Ctrl-C sends it.
    Int,
    /// SIGTERM, as container runtimes and service managers send it.
    Term,
}

impl Signal {
    fn flag(self) -> &'static str {
        match self {
            Self::Int => "-INT",
            Self::Term => "-TERM",
        }
    }
}

/// A child process that is killed (and reaped) when dropped, so that it never outlives its
/// test; or first asked to stop with a signal ([`Process::stop_on_drop`]).
#[derive(Debug)]
pub struct Process {
    child: Child,
    on_drop: Option<(Signal, Duration)>,
}

impl Process {
    /// Spawns `command`; panics with the command when it cannot start.
    pub fn spawn(command: &mut Command) -> Self {
        let child = command
            .spawn()
            .unwrap_or_else(|error| panic!("starting {command:?}: {error}"));
        Self::new(child)
    }

    /// Guards a process already started.
    pub fn new(child: Child) -> Self {
        Self {
            child,
            on_drop: None,
        }
    }

    /// When dropped, sends `signal` and waits up to `grace` before killing it (a server
    /// that should clean up after itself: its pid file, its workers).
    pub fn stop_on_drop(mut self, signal: Signal, grace: Duration) -> Self {
        self.on_drop = Some((signal, grace));
        self
    }

    /// Its process id.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// The child, for its pipes or to kill it now.
    pub fn child(&mut self) -> &mut Child {
        &mut self.child
    }

    /// Sends `signal`; panics when it cannot be sent.
    pub fn signal(&self, signal: Signal) {
        let status = Command::new("kill")
            .args([signal.flag(), &self.id().to_string()])
            .status()
            .expect("running kill");
        assert!(
            status.success(),
            "kill {} {}: {status}",
            signal.flag(),
            self.id()
        );
    }

    /// Waits for the exit, polling without blocking the test's runtime; panics when the
    /// process is still running after `within`.
    pub async fn wait_within(&mut self, within: Duration) -> ExitStatus {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().expect("waiting for the child") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "process {} still running {within:?} later",
                self.id()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Sends `signal` and waits up to `within` for the exit: what a clean stop must do.
    pub async fn stop(&mut self, signal: Signal, within: Duration) -> ExitStatus {
        self.signal(signal);
        self.wait_within(within).await
    }

    /// Kills it now and reaps it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if let Some((signal, grace)) = self.on_drop
            && matches!(self.child.try_wait(), Ok(None))
        {
            let _ = Command::new("kill")
                .args([signal.flag(), &self.id().to_string()])
                .status();
            // Drop cannot await: poll the exit from this thread.
            let deadline = Instant::now() + grace;
            while Instant::now() < deadline {
                if let Ok(Some(_)) = self.child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        self.kill();
    }
}
