//! `pvs queue`: the operator's view of the work queues and status sets (`REDIS_URL`,
//! `REDIS_KEY_PREFIX`): list them, inspect an item, queue failed items again, purge a queue
//! or a set. See `docs/operations.md`.

use std::io::{BufRead, Write};

use clap::{Args, Subcommand};
use pvs_queue::{QueueName, Stage, Status, StatusSet, WorkQueue};
use pvs_service::config::Env;

use crate::backends::{self, StartError};

/// Options of `pvs queue`.
#[derive(Debug, Args)]
pub struct QueueArgs {
    #[command(subcommand)]
    command: QueueCommand,
}

#[derive(Debug, Subcommand)]
enum QueueCommand {
    /// Every queue with its waiting items and the items each consumer is processing, and
    /// every stage's status set sizes.
    List,
    /// Where an id stands in a stage (preprocess, register, seed): its status, the failure
    /// reason and the item kept for a retry.
    Inspect {
        /// The stage: preprocess, register or seed.
        #[arg(value_parser = parse_stage)]
        stage: Stage,
        /// The id (a product id; for seed, the interval message).
        id: String,
    },
    /// Queue failed items of a stage again (they leave the failure set); exit code 1 when
    /// an id could not be queued (not failed, or failed without a kept item).
    Retry {
        /// The stage: preprocess, register or seed.
        #[arg(value_parser = parse_stage)]
        stage: Stage,
        /// The failed ids to retry.
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        ids: Vec<String>,
        /// Retry every failed id of the stage.
        #[arg(long)]
        all: bool,
    },
    /// Empty a queue (its waiting items; items being processed stay) or a status set (a
    /// failure set with its reasons and kept items), after confirmation.
    Purge {
        /// A queue (e.g. register_queue) or a status set (e.g. register-failure_set), by
        /// its original key name.
        #[arg(value_parser = parse_target)]
        target: Target,
        /// Do not ask for confirmation.
        #[arg(long)]
        yes: bool,
    },
}

/// What `purge` empties.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// A queue's waiting items.
    Queue(QueueName),
    /// A status set.
    Set(Stage, StatusSet),
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::Queue(queue) => f.write_str(queue.key()),
            Target::Set(stage, set) => f.write_str(stage.set_key(*set)),
        }
    }
}

fn parse_stage(text: &str) -> Result<Stage, String> {
    text.parse()
        .map_err(|e: pvs_queue::QueueError| e.to_string())
}

fn parse_target(text: &str) -> Result<Target, String> {
    if let Ok(queue) = text.parse::<QueueName>() {
        return Ok(Target::Queue(queue));
    }
    for stage in Stage::ALL {
        for set in StatusSet::ALL {
            if stage.set_key(set) == text {
                return Ok(Target::Set(stage, set));
            }
        }
    }
    let sets: Vec<&str> = Stage::ALL
        .iter()
        .flat_map(|stage| StatusSet::ALL.map(|set| stage.set_key(set)))
        .collect();
    let shown: String = text.chars().take(64).collect();
    Err(format!(
        "{shown:?} is neither a queue ({}) nor a status set ({})",
        QueueName::ALL.map(QueueName::key).join(", "),
        sets.join(", ")
    ))
}

/// Runs one `pvs queue` command; what it finds goes to stdout.
pub async fn run(env: &Env, args: QueueArgs) -> Result<(), StartError> {
    let queue = backends::queue(env).await?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match args.command {
        QueueCommand::List => list(queue.as_ref(), &mut out).await,
        QueueCommand::Inspect { stage, id } => inspect(queue.as_ref(), stage, &id, &mut out).await,
        QueueCommand::Retry { stage, ids, all } => {
            let ids = if all {
                queue.members(stage, StatusSet::Failure).await?
            } else {
                ids
            };
            retry(queue.as_ref(), stage, &ids, &mut out).await
        }
        QueueCommand::Purge { target, yes } => {
            let stdin = std::io::stdin();
            let confirm = if yes { None } else { Some(stdin.lock()) };
            purge(queue.as_ref(), target, confirm, &mut out).await
        }
    }
}

async fn list(queue: &dyn WorkQueue, out: &mut impl Write) -> Result<(), StartError> {
    writeln!(out, "{:<22} {:>9} {:>11}", "QUEUE", "WAITING", "PROCESSING")
        .map_err(StartError::Stdout)?;
    for name in QueueName::ALL {
        let waiting = queue.len(name).await?;
        let held = queue.processing(name).await?;
        let processing: usize = held.iter().map(|(_, items)| items.len()).sum();
        writeln!(out, "{:<22} {waiting:>9} {processing:>11}", name.key())
            .map_err(StartError::Stdout)?;
        for (consumer, items) in held {
            writeln!(out, "  {consumer}: {}", items.len()).map_err(StartError::Stdout)?;
        }
    }
    writeln!(out).map_err(StartError::Stdout)?;
    writeln!(
        out,
        "{:<12} {:>10} {:>10} {:>10}",
        "STAGE", "IN FLIGHT", "SUCCEEDED", "FAILED"
    )
    .map_err(StartError::Stdout)?;
    for stage in Stage::ALL {
        let mut counts = [0; 3];
        for (count, set) in counts.iter_mut().zip(StatusSet::ALL) {
            *count = queue.set_len(stage, set).await?;
        }
        writeln!(
            out,
            "{:<12} {:>10} {:>10} {:>10}",
            stage.name(),
            counts[0],
            counts[1],
            counts[2]
        )
        .map_err(StartError::Stdout)?;
    }
    Ok(())
}

async fn inspect(
    queue: &dyn WorkQueue,
    stage: Stage,
    id: &str,
    out: &mut impl Write,
) -> Result<(), StartError> {
    let status = queue.status(stage, id).await?;
    let line = match &status {
        Status::Unknown => "unknown (not seen by the stage, or purged)".to_owned(),
        Status::InFlight => "in flight".to_owned(),
        Status::Succeeded => "succeeded".to_owned(),
        Status::Failed { reason } => format!("failed: {reason}"),
    };
    writeln!(out, "{stage} {id}: {line}").map_err(StartError::Stdout)?;
    if let Status::Failed { .. } = status {
        match queue.failed_item(stage, id).await? {
            Some(item) => {
                writeln!(out, "item ({}): {}", item.queue, item.payload)
                    .map_err(StartError::Stdout)?;
                writeln!(out, "retry with: pvs queue retry {stage} {id}")
                    .map_err(StartError::Stdout)?;
            }
            None => writeln!(out, "no item kept: it cannot be retried from here")
                .map_err(StartError::Stdout)?,
        }
    }
    Ok(())
}

async fn retry(
    queue: &dyn WorkQueue,
    stage: Stage,
    ids: &[String],
    out: &mut impl Write,
) -> Result<(), StartError> {
    let mut not_retried = 0;
    for id in ids {
        match queue.retry(stage, id).await? {
            Some(name) => writeln!(out, "requeued {id} on {name}").map_err(StartError::Stdout)?,
            None => {
                not_retried += 1;
                let why = match queue.status(stage, id).await? {
                    Status::Failed { .. } => "failed without a kept item",
                    Status::Unknown => "not failed (unknown)",
                    Status::InFlight => "not failed (in flight)",
                    Status::Succeeded => "not failed (succeeded)",
                };
                writeln!(out, "not retried {id}: {why}").map_err(StartError::Stdout)?;
            }
        }
    }
    writeln!(
        out,
        "{} requeued, {not_retried} not retried",
        ids.len() - not_retried
    )
    .map_err(StartError::Stdout)?;
    if not_retried > 0 {
        Err(StartError::Unsuccessful(format!(
            "{not_retried} not retried"
        )))
    } else {
        Ok(())
    }
}

/// Empties `target` once `confirm` (the terminal) says `yes`; `None` skips the question.
async fn purge(
    queue: &dyn WorkQueue,
    target: Target,
    confirm: Option<impl BufRead>,
    out: &mut impl Write,
) -> Result<(), StartError> {
    let size = match target {
        Target::Queue(name) => queue.len(name).await,
        Target::Set(stage, set) => queue.set_len(stage, set).await,
    }?;
    if let Some(mut answer) = confirm {
        eprint!("purge {target}: {size} entries will be deleted. Type `yes` to go on: ");
        let _ = std::io::stderr().flush();
        let mut line = String::new();
        answer.read_line(&mut line).map_err(StartError::Stdin)?;
        if line.trim() != "yes" {
            return Err(StartError::Unsuccessful(format!(
                "{target} not purged: not confirmed"
            )));
        }
    }
    let removed = match target {
        Target::Queue(name) => queue.purge_queue(name).await,
        Target::Set(stage, set) => queue.purge_set(stage, set).await,
    }?;
    writeln!(out, "purged {target}: {removed} removed").map_err(StartError::Stdout)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_are_queues_or_sets_by_their_key_names() {
        assert_eq!(
            parse_target("register_queue"),
            Ok(Target::Queue(QueueName::Register))
        );
        assert_eq!(
            parse_target("preprocess-failure_set"),
            Ok(Target::Set(Stage::Preprocess, StatusSet::Failure))
        );
        assert_eq!(
            parse_target("seeding_set"),
            Ok(Target::Set(Stage::Seed, StatusSet::InFlight))
        );
        let err = parse_target("*").unwrap_err();
        assert!(
            err.contains("neither a queue") && err.contains("seed-failure_set"),
            "{err}"
        );
        assert!(parse_target(&"x".repeat(100_000)).is_err());
        assert!(parse_stage("register").is_ok());
        assert!(parse_stage("Register").is_err());
    }
}
