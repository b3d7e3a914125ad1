//! Running a plan: every tile made through the cache ([`TileCache::seed`]), many at a time,
//! counting what each did, and stopping early when asked.

use std::io::Write;
use std::time::{Duration, Instant};

use futures::StreamExt;
use pvs_cache::{Seeded, TileCache};
use tokio::sync::watch;

use crate::plan::Plan;

/// How many failure reasons a summary keeps.
const KEPT_FAILURES: usize = 10;

/// How a plan is run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunOptions {
    /// Draw every tile again, even those already stored.
    pub force: bool,
    /// How many tiles are made at a time.
    pub concurrency: usize,
}

impl Default for RunOptions {
    /// Not forced; two tiles per core at a time.
    fn default() -> Self {
        Self {
            force: false,
            concurrency: default_concurrency(),
        }
    }
}

/// Two tiles per core: drawing is CPU work, storing waits on I/O.
pub fn default_concurrency() -> usize {
    2 * std::thread::available_parallelism().map_or(2, usize::from)
}

/// What the tiles of a run did so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counts {
    /// Drawn and stored.
    pub rendered: u64,
    /// Found to have no data; stored as empty tiles.
    pub empty: u64,
    /// Already stored: skipped.
    pub present: u64,
    /// Could not be made.
    pub failed: u64,
}

impl Counts {
    /// Tiles finished, whatever their outcome.
    pub fn done(&self) -> u64 {
        self.rendered + self.empty + self.present + self.failed
    }
}

/// What a run did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    /// Products the plan was made of.
    pub products: usize,
    /// Tiles in the plan.
    pub total: u64,
    /// What the finished tiles did.
    pub counts: Counts,
    /// The first reasons of failed tiles (`key: reason`).
    pub failures: Vec<String>,
    /// Of the failed tiles, those that failed on a fault that may pass
    /// ([`pvs_cache::CacheError::is_transient`]).
    pub transient_failures: u64,
    /// Whether the run was stopped before the end.
    pub interrupted: bool,
    /// How long it took.
    pub elapsed: Duration,
}

impl Summary {
    /// One line for people: counts, rate, and how to continue.
    pub fn line(&self) -> String {
        let Counts {
            rendered,
            empty,
            present,
            failed,
        } = self.counts;
        let seconds = self.elapsed.as_secs_f64();
        let rate = if seconds > 0.0 {
            (rendered + empty) as f64 / seconds
        } else {
            0.0
        };
        let mut line = format!(
            "{} of {} tiles of {} products in {seconds:.1} s: {rendered} rendered, {empty} empty, {present} already stored (skipped), {failed} failed; {rate:.1} tiles/s made",
            self.counts.done(),
            self.total,
            self.products,
        );
        if self.interrupted {
            line.push_str(
                "; interrupted: run the same job again to continue (stored tiles are skipped)",
            );
        } else if failed > 0 {
            line.push_str("; run the same job again to retry the failed tiles");
        }
        line
    }
}

/// Told how a run goes.
pub trait Progress: Send {
    /// The plan, before any tile is made (e.g. to size a progress bar).
    fn planned(&mut self, _plan: &Plan) {}

    /// The counts so far, after each tile.
    fn tile(&mut self, counts: &Counts);
}

/// A closure is told the counts after each tile.
impl<F: FnMut(&Counts) + Send> Progress for F {
    fn tile(&mut self, counts: &Counts) {
        self(counts)
    }
}

/// Makes every tile of `plan` through `cache`, `options.concurrency` at a time: a tile
/// already stored is skipped ([`Seeded::Present`]) unless `options.force`, so a run that
/// was interrupted continues where it stopped when run again. `progress` is told the
/// counts after each tile. When `stop` turns true, no new tile is started and
/// the summary says the run was interrupted.
pub async fn run(
    cache: &TileCache,
    plan: &Plan,
    options: RunOptions,
    progress: &mut dyn Progress,
    stop: Option<watch::Receiver<bool>>,
) -> Summary {
    let started = Instant::now();
    let mut counts = Counts::default();
    let mut failures = Vec::new();
    let mut transient_failures = 0;
    let mut interrupted = false;
    let force = options.force;
    let mut tiles = futures::stream::iter(plan.keys())
        .map(|key| async move {
            let result = cache.seed(&key, force).await;
            (key, result)
        })
        .buffer_unordered(options.concurrency.max(1));
    while let Some((key, result)) = tiles.next().await {
        match result {
            Ok(Seeded::Rendered) => counts.rendered += 1,
            Ok(Seeded::Empty) => counts.empty += 1,
            Ok(Seeded::Present) => counts.present += 1,
            Err(e) => {
                counts.failed += 1;
                transient_failures += u64::from(e.is_transient());
                tracing::warn!(tile = %key.path(), error = %e, "seeding a tile failed");
                if failures.len() < KEPT_FAILURES {
                    failures.push(format!("{}: {e}", key.path()));
                }
            }
        }
        progress.tile(&counts);
        if stop.as_ref().is_some_and(|s| *s.borrow()) {
            interrupted = counts.done() < plan.len();
            break;
        }
    }
    Summary {
        products: plan.products,
        total: plan.len(),
        counts,
        failures,
        transient_failures,
        interrupted,
        elapsed: started.elapsed(),
    }
}

/// A progress bar on a terminal (one line rewritten with `\r`, at most ten times a second)
/// or a line every few seconds for logs: tiles done / total, rate and time left.
pub struct ProgressBar<W: Write> {
    out: W,
    total: u64,
    started: Instant,
    last: Option<Instant>,
    terminal: bool,
}

impl<W: Write> ProgressBar<W> {
    /// A bar for `total` tiles written to `out`, which is a terminal or not.
    pub fn new(out: W, total: u64, terminal: bool) -> Self {
        Self {
            out,
            total,
            started: Instant::now(),
            last: None,
            terminal,
        }
    }

    /// Shows `counts` if the last line is old enough (or everything is done).
    pub fn update(&mut self, counts: &Counts) {
        let every = if self.terminal {
            Duration::from_millis(100)
        } else {
            Duration::from_secs(5)
        };
        let finished = counts.done() >= self.total;
        if !finished && self.last.is_some_and(|t| t.elapsed() < every) {
            return;
        }
        self.last = Some(Instant::now());
        let line = progress_line(counts, self.total, self.started.elapsed());
        // Progress is a courtesy: a closed stderr must not stop the run.
        let _ = if self.terminal {
            write!(self.out, "\r{line}\x1b[K")
        } else {
            writeln!(self.out, "{line}")
        };
        let _ = self.out.flush();
    }

    /// Ends the bar's line (on a terminal).
    pub fn finish(&mut self) {
        if self.terminal {
            let _ = writeln!(self.out);
        }
    }
}

/// `120/4000 tiles (3.0%), 35.2 tiles/s, ETA 1 min 50 s`.
pub fn progress_line(counts: &Counts, total: u64, elapsed: Duration) -> String {
    let done = counts.done();
    let percent = if total > 0 {
        done as f64 * 100.0 / total as f64
    } else {
        100.0
    };
    let seconds = elapsed.as_secs_f64();
    let rate = if seconds > 0.0 {
        done as f64 / seconds
    } else {
        0.0
    };
    let eta = if done >= total {
        "done".to_owned()
    } else if rate > 0.0 {
        format!("ETA {}", duration_text((total - done) as f64 / rate))
    } else {
        "ETA unknown".to_owned()
    };
    let failed = if counts.failed > 0 {
        format!(", {} failed", counts.failed)
    } else {
        String::new()
    };
    format!("{done}/{total} tiles ({percent:.1}%), {rate:.1} tiles/s, {eta}{failed}")
}

/// `42 s`, `3 min 5 s`, `2 h 10 min`.
fn duration_text(seconds: f64) -> String {
    let s = seconds.round() as u64;
    match s {
        0..60 => format!("{s} s"),
        60..3600 => format!("{} min {} s", s / 60, s % 60),
        _ => format!("{} h {} min", s / 3600, s % 3600 / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_lines() {
        let counts = Counts {
            rendered: 100,
            empty: 10,
            present: 10,
            failed: 0,
        };
        assert_eq!(
            progress_line(&counts, 4000, Duration::from_secs(4)),
            "120/4000 tiles (3.0%), 30.0 tiles/s, ETA 2 min 9 s"
        );
        let failed = Counts {
            failed: 2,
            ..counts
        };
        assert_eq!(
            progress_line(&failed, 122, Duration::from_secs(1)),
            "122/122 tiles (100.0%), 122.0 tiles/s, done, 2 failed"
        );
        assert_eq!(
            progress_line(&Counts::default(), 10, Duration::ZERO),
            "0/10 tiles (0.0%), 0.0 tiles/s, ETA unknown"
        );
        assert_eq!(duration_text(7300.0), "2 h 1 min");
    }

    #[test]
    fn the_bar_rewrites_one_line_on_a_terminal_and_prints_lines_otherwise() {
        let counts = Counts {
            rendered: 1,
            ..Counts::default()
        };
        let mut bar = ProgressBar::new(Vec::new(), 2, true);
        bar.update(&counts);
        bar.update(&counts); // too soon: not shown
        bar.update(&Counts {
            rendered: 2,
            ..counts
        }); // finished: shown
        bar.finish();
        let text = String::from_utf8(bar.out).unwrap();
        assert_eq!(text.matches('\r').count(), 2, "{text:?}");
        assert!(
            text.contains("2/2 tiles (100.0%)") && text.ends_with('\n'),
            "{text:?}"
        );

        let mut bar = ProgressBar::new(Vec::new(), 2, false);
        bar.update(&counts);
        bar.update(&counts);
        bar.finish();
        let text = String::from_utf8(bar.out).unwrap();
        assert_eq!(text.lines().count(), 1, "{text:?}");
        assert!(!text.contains('\r'));
    }

    #[test]
    fn summary_lines_say_how_to_continue() {
        let summary = Summary {
            products: 2,
            total: 10,
            counts: Counts {
                rendered: 3,
                empty: 1,
                present: 2,
                failed: 0,
            },
            failures: Vec::new(),
            transient_failures: 0,
            interrupted: true,
            elapsed: Duration::from_secs(2),
        };
        let line = summary.line();
        assert!(line.starts_with("6 of 10 tiles of 2 products in 2.0 s: 3 rendered, 1 empty, 2 already stored (skipped), 0 failed; 2.0 tiles/s made"), "{line}");
        assert!(
            line.contains("run the same job again to continue"),
            "{line}"
        );
    }
}
