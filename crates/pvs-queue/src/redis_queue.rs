//! The Redis implementation of the work queues.

use std::time::Duration;

use async_trait::async_trait;
use redis::aio::{ConnectionManager, ConnectionManagerConfig, MultiplexedConnection};
use redis::{AsyncConnectionConfig, Client, FromRedisValue};
use tokio::task::JoinHandle;

use crate::{
    CompletedReport, Consumer, QueueError, QueueName, Result, Stage, Status, StatusSet, Taken,
    WorkQueue, validate_consumer_name,
};

/// How long a consumer counts as alive after its last heartbeat, by default.
pub const DEFAULT_HEARTBEAT_TTL: Duration = Duration::from_secs(30);

/// Longest time one ordinary command may take before it counts as failed.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(10);

/// Work queues on Redis, with the original key names behind an optional prefix.
#[derive(Clone)]
pub struct RedisQueue {
    client: Client,
    conn: ConnectionManager,
    prefix: String,
    target: String,
    heartbeat_ttl: Duration,
}

impl std::fmt::Debug for RedisQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisQueue")
            .field("target", &self.target)
            .field("prefix", &self.prefix)
            .field("heartbeat_ttl", &self.heartbeat_ttl)
            .finish()
    }
}

/// `redis://user:secret@host` → `redis://***@host`: addresses in messages never show secrets.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            format!("{}***{}", &url[..scheme_end + 3], &url[at..])
        }
        _ => url.to_owned(),
    }
}

fn backend(operation: &'static str, key: &str, e: redis::RedisError) -> QueueError {
    QueueError::Backend {
        operation,
        key: key.to_owned(),
        reason: e.to_string(),
    }
}

impl RedisQueue {
    /// Connects to the Redis server at `url`; every key gets `prefix` in front (empty for the
    /// original names; letters, digits, `_`, `.`, `:`, `-` only).
    pub async fn connect(url: &str, prefix: &str) -> Result<Self> {
        if !prefix
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | ':' | '-'))
        {
            return Err(QueueError::Invalid(format!(
                "invalid key prefix {prefix:?}: use letters, digits, '_', '.', ':' or '-'"
            )));
        }
        let target = redact(url);
        let connect_error = |e: redis::RedisError| QueueError::Connect {
            target: target.clone(),
            reason: e.to_string(),
        };
        let client = Client::open(url).map_err(connect_error)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(3)))
            .set_response_timeout(Some(RESPONSE_TIMEOUT))
            .set_number_of_retries(2);
        let conn = client
            .get_connection_manager_with_config(config)
            .await
            .map_err(connect_error)?;
        let queue = Self {
            client,
            conn,
            prefix: prefix.to_owned(),
            target,
            heartbeat_ttl: DEFAULT_HEARTBEAT_TTL,
        };
        queue.ping().await?;
        Ok(queue)
    }

    /// Sets how long a consumer counts as alive after its last heartbeat (at least 1 s; its
    /// heartbeat is renewed every third of that).
    pub fn with_heartbeat_ttl(mut self, ttl: Duration) -> Self {
        self.heartbeat_ttl = ttl.max(Duration::from_secs(1));
        self
    }

    /// The key prefix.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    fn queue_key(&self, queue: QueueName) -> String {
        format!("{}{}", self.prefix, queue.key())
    }

    fn processing_key(&self, queue: QueueName, consumer: &str) -> String {
        format!("{}{}:processing:{consumer}", self.prefix, queue.key())
    }

    fn heartbeat_key(&self, queue: QueueName, consumer: &str) -> String {
        format!("{}{}:consumer:{consumer}", self.prefix, queue.key())
    }

    fn report_key(&self, name: &str) -> String {
        format!("{}report:{name}", self.prefix)
    }

    fn set_key(&self, stage: Stage, set: StatusSet) -> String {
        format!("{}{}", self.prefix, stage.set_key(set))
    }

    fn reasons_key(&self, stage: Stage) -> String {
        format!("{}{}", self.prefix, stage.reasons_key())
    }

    fn items_key(&self, stage: Stage) -> String {
        format!("{}{}", self.prefix, stage.items_key())
    }

    /// Records an outcome atomically: `id` leaves the in-flight set and the other outcome's
    /// set and enters `Success` (`failure` is `None`: reason and kept item dropped) or
    /// `Failure` (with the reason, and the item kept when given, else dropped).
    async fn settle(
        &self,
        stage: Stage,
        id: &str,
        failure: Option<(&str, Option<(QueueName, &str)>)>,
    ) -> Result<()> {
        let (into, other) = match failure {
            Some(_) => (StatusSet::Failure, StatusSet::Success),
            None => (StatusSet::Success, StatusSet::Failure),
        };
        let into = self.set_key(stage, into);
        let mut pipe = redis::pipe();
        pipe.atomic();
        for set in [StatusSet::InFlight, other] {
            pipe.cmd("SREM")
                .arg(self.set_key(stage, set))
                .arg(id)
                .ignore();
        }
        let (reasons, items) = (self.reasons_key(stage), self.items_key(stage));
        match failure {
            Some((reason, item)) => {
                pipe.cmd("HSET").arg(&reasons).arg(id).arg(reason).ignore();
                match item {
                    Some((queue, payload)) => pipe
                        .cmd("HSET")
                        .arg(&items)
                        .arg(id)
                        .arg(format!("{}\n{payload}", queue.key())),
                    None => pipe.cmd("HDEL").arg(&items).arg(id),
                }
                .ignore();
            }
            None => {
                pipe.cmd("HDEL").arg(&reasons).arg(id).ignore();
                pipe.cmd("HDEL").arg(&items).arg(id).ignore();
            }
        }
        pipe.cmd("SADD").arg(&into).arg(id).ignore();
        self.run_atomically("mark", &into, &pipe).await
    }

    /// Deletes `key` (and the keys `with` it) atomically; returns its size by `count` (LLEN,
    /// SCARD) just before.
    async fn count_and_delete(&self, count: &str, key: &str, with: &[String]) -> Result<u64> {
        let mut pipe = redis::pipe();
        pipe.atomic()
            .cmd(count)
            .arg(key)
            .cmd("DEL")
            .arg(key)
            .arg(with)
            .ignore();
        let mut conn = self.conn.clone();
        let (removed,): (u64,) = pipe
            .query_async(&mut conn)
            .await
            .map_err(|e| backend("purge", key, e))?;
        Ok(removed)
    }

    async fn query<T: FromRedisValue>(
        &self,
        operation: &'static str,
        key: &str,
        cmd: &redis::Cmd,
    ) -> Result<T> {
        let mut conn = self.conn.clone();
        cmd.query_async(&mut conn)
            .await
            .map_err(|e| backend(operation, key, e))
    }

    async fn run_atomically(
        &self,
        operation: &'static str,
        key: &str,
        pipe: &redis::Pipeline,
    ) -> Result<()> {
        let mut conn = self.conn.clone();
        pipe.query_async::<()>(&mut conn)
            .await
            .map_err(|e| backend(operation, key, e))
    }

    /// The processing lists of `queue`, as `(consumer, key)`.
    async fn processing_lists(&self, queue: QueueName) -> Result<Vec<(String, String)>> {
        let marker = format!("{}{}:processing:", self.prefix, queue.key());
        let pattern = format!("{marker}*");
        let mut cursor: u64 = 0;
        let mut lists = Vec::new();
        loop {
            let (next, keys): (u64, Vec<String>) = self
                .query(
                    "scan",
                    &pattern,
                    redis::cmd("SCAN")
                        .arg(cursor)
                        .arg("MATCH")
                        .arg(&pattern)
                        .arg("COUNT")
                        .arg(500),
                )
                .await?;
            for key in keys {
                if let Some(consumer) = key.strip_prefix(&marker) {
                    lists.push((consumer.to_owned(), key.clone()));
                }
            }
            if next == 0 {
                break;
            }
            cursor = next;
        }
        lists.sort();
        lists.dedup();
        Ok(lists)
    }

    /// Moves every item of one processing list back to the queue, to be taken next.
    async fn drain_back(&self, processing: &str, queue: QueueName) -> Result<usize> {
        let queue_key = self.queue_key(queue);
        let mut moved = 0;
        loop {
            let item: Option<String> = self
                .query(
                    "recover",
                    processing,
                    redis::cmd("LMOVE")
                        .arg(processing)
                        .arg(&queue_key)
                        .arg("RIGHT")
                        .arg("RIGHT"),
                )
                .await?;
            match item {
                Some(_) => moved += 1,
                None => return Ok(moved),
            }
        }
    }

    async fn refresh_heartbeat(&self, key: &str) -> Result<()> {
        let ttl_ms = u64::try_from(self.heartbeat_ttl.as_millis()).unwrap_or(u64::MAX);
        self.query::<()>(
            "heartbeat",
            key,
            redis::cmd("SET").arg(key).arg(1).arg("PX").arg(ttl_ms),
        )
        .await
    }

    /// A connection of its own for blocking commands, without a response timeout (the
    /// blocking command carries its own).
    async fn blocking_connection(&self) -> Result<MultiplexedConnection> {
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(3)))
            .set_response_timeout(None);
        self.client
            .get_multiplexed_async_connection_with_config(&config)
            .await
            .map_err(|e| QueueError::Connect {
                target: self.target.clone(),
                reason: e.to_string(),
            })
    }
}

#[async_trait]
impl WorkQueue for RedisQueue {
    async fn ping(&self) -> Result<()> {
        let answer: String = self
            .query("ping", "-", &redis::cmd("PING"))
            .await
            .map_err(|e| QueueError::Connect {
                target: self.target.clone(),
                reason: e.to_string(),
            })?;
        if answer == "PONG" {
            Ok(())
        } else {
            Err(QueueError::Connect {
                target: self.target.clone(),
                reason: format!("unexpected answer to PING: {answer:?}"),
            })
        }
    }

    async fn push(&self, queue: QueueName, item: &str) -> Result<()> {
        let key = self.queue_key(queue);
        self.query::<()>("push", &key, redis::cmd("LPUSH").arg(&key).arg(item))
            .await
    }

    async fn push_if_held(
        &self,
        source: QueueName,
        consumer: &str,
        held: &str,
        target: QueueName,
        message: &str,
    ) -> Result<bool> {
        static SCRIPT: std::sync::LazyLock<redis::Script> = std::sync::LazyLock::new(|| {
            redis::Script::new(
                r"if redis.call('LPOS', KEYS[1], ARGV[1]) then
                      redis.call('LPUSH', KEYS[2], ARGV[2])
                      return 1
                  end
                  return 0",
            )
        });
        let processing = self.processing_key(source, consumer);
        let mut conn = self.conn.clone();
        let pushed: i64 = SCRIPT
            .key(&processing)
            .key(self.queue_key(target))
            .arg(held)
            .arg(message)
            .invoke_async(&mut conn)
            .await
            .map_err(|e| backend("push", &processing, e))?;
        Ok(pushed == 1)
    }

    async fn push_many(&self, queue: QueueName, items: &[String]) -> Result<()> {
        if items.is_empty() {
            return Ok(());
        }
        // One LPUSH with many values is atomic and keeps their order for the taker.
        let key = self.queue_key(queue);
        self.query::<()>("push", &key, redis::cmd("LPUSH").arg(&key).arg(items))
            .await
    }

    async fn len(&self, queue: QueueName) -> Result<u64> {
        let key = self.queue_key(queue);
        self.query("len", &key, redis::cmd("LLEN").arg(&key)).await
    }

    async fn peek(&self, queue: QueueName, max: usize) -> Result<Vec<String>> {
        if max == 0 {
            return Ok(Vec::new());
        }
        let key = self.queue_key(queue);
        let start = -(i64::try_from(max).unwrap_or(i64::MAX));
        let mut items: Vec<String> = self
            .query(
                "peek",
                &key,
                redis::cmd("LRANGE").arg(&key).arg(start).arg(-1),
            )
            .await?;
        items.reverse();
        Ok(items)
    }

    async fn processing(&self, queue: QueueName) -> Result<Vec<(String, Vec<String>)>> {
        let mut out = Vec::new();
        for (consumer, key) in self.processing_lists(queue).await? {
            let mut items: Vec<String> = self
                .query(
                    "processing",
                    &key,
                    redis::cmd("LRANGE").arg(&key).arg(0).arg(-1),
                )
                .await?;
            items.reverse();
            if !items.is_empty() {
                out.push((consumer, items));
            }
        }
        Ok(out)
    }

    async fn consumer(&self, queue: QueueName, name: &str) -> Result<Box<dyn Consumer>> {
        validate_consumer_name(name)?;
        let heartbeat_key = self.heartbeat_key(queue, name);
        let processing_key = self.processing_key(queue, name);
        self.refresh_heartbeat(&heartbeat_key).await?;
        // A consumer starting under this name means the previous one under it is gone.
        let reclaimed = self.drain_back(&processing_key, queue).await?;
        if reclaimed > 0 {
            tracing::info!(queue = %queue, consumer = name, reclaimed, "took back unfinished items of a previous run");
        }
        let conn = self.blocking_connection().await?;
        let heartbeat = {
            let queue = self.clone();
            let key = heartbeat_key.clone();
            let every = self.heartbeat_ttl / 3;
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(every).await;
                    if let Err(e) = queue.refresh_heartbeat(&key).await {
                        tracing::warn!(key, error = %e, "could not renew the consumer heartbeat");
                    }
                }
            })
        };
        Ok(Box::new(RedisConsumer {
            queue: self.clone(),
            name: name.to_owned(),
            source: queue,
            processing_key,
            heartbeat_key,
            conn,
            heartbeat,
        }))
    }

    async fn recover(&self, queue: QueueName) -> Result<usize> {
        let mut moved = 0;
        for (consumer, key) in self.processing_lists(queue).await? {
            let heartbeat = self.heartbeat_key(queue, &consumer);
            let alive: bool = self
                .query("recover", &heartbeat, redis::cmd("EXISTS").arg(&heartbeat))
                .await?;
            if alive {
                continue;
            }
            let n = self.drain_back(&key, queue).await?;
            if n > 0 {
                tracing::warn!(queue = %queue, consumer, items = n, "recovered the items of a consumer that stopped without finishing them");
            }
            moved += n;
        }
        Ok(moved)
    }

    async fn mark_started(&self, stage: Stage, id: &str) -> Result<()> {
        let key = self.set_key(stage, StatusSet::InFlight);
        self.query::<()>("mark", &key, redis::cmd("SADD").arg(&key).arg(id))
            .await
    }

    async fn mark_succeeded(&self, stage: Stage, id: &str) -> Result<()> {
        self.settle(stage, id, None).await
    }

    async fn mark_failed(&self, stage: Stage, id: &str, reason: &str) -> Result<()> {
        self.settle(stage, id, Some((reason, None))).await
    }

    async fn mark_failed_item(
        &self,
        stage: Stage,
        id: &str,
        reason: &str,
        queue: QueueName,
        payload: &str,
    ) -> Result<()> {
        self.settle(stage, id, Some((reason, Some((queue, payload)))))
            .await
    }

    async fn failed_item(&self, stage: Stage, id: &str) -> Result<Option<Taken>> {
        let key = self.items_key(stage);
        let kept: Option<String> = self
            .query("failed_item", &key, redis::cmd("HGET").arg(&key).arg(id))
            .await?;
        kept.map(|text| parse_kept_item(&key, id, &text))
            .transpose()
    }

    async fn retry(&self, stage: Stage, id: &str) -> Result<Option<QueueName>> {
        let items = self.items_key(stage);
        // Queue it only if the kept item is still the one read: of two retries at the same
        // time, one queues it and the other finds nothing.
        let script = redis::Script::new(
            r"
            if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then return 0 end
            redis.call('LPUSH', KEYS[4], ARGV[3])
            redis.call('HDEL', KEYS[1], ARGV[1])
            redis.call('HDEL', KEYS[3], ARGV[1])
            redis.call('SREM', KEYS[2], ARGV[1])
            return 1
            ",
        );
        let kept: Option<String> = self
            .query("retry", &items, redis::cmd("HGET").arg(&items).arg(id))
            .await?;
        let Some(text) = kept else {
            return Ok(None);
        };
        let taken = parse_kept_item(&items, id, &text)?;
        let mut conn = self.conn.clone();
        let queued: i64 = script
            .key(&items)
            .key(self.set_key(stage, StatusSet::Failure))
            .key(self.reasons_key(stage))
            .key(self.queue_key(taken.queue))
            .arg(id)
            .arg(&text)
            .arg(&taken.payload)
            .invoke_async(&mut conn)
            .await
            .map_err(|e| backend("retry", &items, e))?;
        Ok((queued == 1).then_some(taken.queue))
    }

    async fn forget(&self, stage: Stage, id: &str) -> Result<()> {
        let mut pipe = redis::pipe();
        pipe.atomic();
        for set in [StatusSet::InFlight, StatusSet::Success, StatusSet::Failure] {
            pipe.cmd("SREM")
                .arg(self.set_key(stage, set))
                .arg(id)
                .ignore();
        }
        for hash in [self.reasons_key(stage), self.items_key(stage)] {
            pipe.cmd("HDEL").arg(hash).arg(id).ignore();
        }
        self.run_atomically("forget", id, &pipe).await
    }

    async fn status(&self, stage: Stage, id: &str) -> Result<Status> {
        let mut pipe = redis::pipe();
        pipe.cmd("SISMEMBER")
            .arg(self.set_key(stage, StatusSet::InFlight))
            .arg(id)
            .cmd("SISMEMBER")
            .arg(self.set_key(stage, StatusSet::Failure))
            .arg(id)
            .cmd("SISMEMBER")
            .arg(self.set_key(stage, StatusSet::Success))
            .arg(id)
            .cmd("HGET")
            .arg(self.reasons_key(stage))
            .arg(id);
        let mut conn = self.conn.clone();
        let (in_flight, failed, succeeded, reason): (bool, bool, bool, Option<String>) = pipe
            .query_async(&mut conn)
            .await
            .map_err(|e| backend("status", id, e))?;
        Ok(if in_flight {
            Status::InFlight
        } else if failed {
            Status::Failed {
                reason: reason.unwrap_or_default(),
            }
        } else if succeeded {
            Status::Succeeded
        } else {
            Status::Unknown
        })
    }

    async fn report_open(&self, name: &str, expected: usize, info: &str) -> Result<()> {
        let key = self.report_key(name);
        let mut pipe = redis::pipe();
        pipe.atomic()
            .cmd("DEL")
            .arg(format!("{key}:outcomes"))
            .ignore()
            .cmd("HSET")
            .arg(&key)
            .arg("expected")
            .arg(expected)
            .arg("info")
            .arg(info)
            .ignore();
        self.run_atomically("report_open", &key, &pipe).await
    }

    async fn report_result(
        &self,
        name: &str,
        id: &str,
        outcome: &str,
    ) -> Result<Option<CompletedReport>> {
        let key = self.report_key(name);
        let outcomes_key = format!("{key}:outcomes");
        // One script: record, and if that completes the report, hand it over and forget it,
        // so that exactly one caller sees it complete.
        let script = redis::Script::new(
            r"
            local expected = redis.call('HGET', KEYS[1], 'expected')
            if not expected then return false end
            redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
            if redis.call('HLEN', KEYS[2]) < tonumber(expected) then return false end
            local info = redis.call('HGET', KEYS[1], 'info')
            local outcomes = redis.call('HGETALL', KEYS[2])
            redis.call('DEL', KEYS[1], KEYS[2])
            table.insert(outcomes, 1, info)
            return outcomes
            ",
        );
        let mut conn = self.conn.clone();
        let answer: Option<Vec<String>> = script
            .key(&key)
            .key(&outcomes_key)
            .arg(id)
            .arg(outcome)
            .invoke_async(&mut conn)
            .await
            .map_err(|e| backend("report_result", &key, e))?;
        Ok(answer.map(|mut values| {
            let info = values.remove(0);
            let mut outcomes: Vec<(String, String)> = values
                .chunks_exact(2)
                .map(|pair| (pair[0].clone(), pair[1].clone()))
                .collect();
            outcomes.sort();
            CompletedReport {
                name: name.to_owned(),
                info,
                outcomes,
            }
        }))
    }

    async fn is_member(&self, stage: Stage, set: StatusSet, id: &str) -> Result<bool> {
        let key = self.set_key(stage, set);
        self.query("is_member", &key, redis::cmd("SISMEMBER").arg(&key).arg(id))
            .await
    }

    async fn members(&self, stage: Stage, set: StatusSet) -> Result<Vec<String>> {
        let key = self.set_key(stage, set);
        let mut members: Vec<String> = self
            .query("members", &key, redis::cmd("SMEMBERS").arg(&key))
            .await?;
        members.sort();
        Ok(members)
    }

    async fn set_len(&self, stage: Stage, set: StatusSet) -> Result<u64> {
        let key = self.set_key(stage, set);
        self.query("set_len", &key, redis::cmd("SCARD").arg(&key))
            .await
    }

    async fn purge_queue(&self, queue: QueueName) -> Result<u64> {
        self.count_and_delete("LLEN", &self.queue_key(queue), &[])
            .await
    }

    async fn purge_set(&self, stage: Stage, set: StatusSet) -> Result<u64> {
        let with = match set {
            StatusSet::Failure => vec![self.reasons_key(stage), self.items_key(stage)],
            _ => Vec::new(),
        };
        self.count_and_delete("SCARD", &self.set_key(stage, set), &with)
            .await
    }
}

/// A kept failed item: `<queue key>` LF `<payload>`.
fn parse_kept_item(key: &str, id: &str, text: &str) -> Result<Taken> {
    let broken = |why: &str| QueueError::Backend {
        operation: "failed_item",
        key: key.to_owned(),
        reason: format!("the item kept for {id:?} {why}"),
    };
    let (queue, payload) = text
        .split_once('\n')
        .ok_or_else(|| broken("has no queue name"))?;
    let queue = queue
        .parse::<QueueName>()
        .map_err(|_| broken(&format!("names an unknown queue {queue:?}")))?;
    Ok(Taken {
        queue,
        payload: payload.to_owned(),
    })
}

/// A consumer of one Redis queue, with its own connection for blocking takes and a heartbeat
/// renewed in the background while it lives.
pub struct RedisConsumer {
    queue: RedisQueue,
    name: String,
    source: QueueName,
    processing_key: String,
    heartbeat_key: String,
    conn: MultiplexedConnection,
    heartbeat: JoinHandle<()>,
}

impl Drop for RedisConsumer {
    fn drop(&mut self) {
        // Unacknowledged items stay in the processing list; once the heartbeat expires,
        // `recover` hands them to another consumer.
        self.heartbeat.abort();
    }
}

#[async_trait]
impl Consumer for RedisConsumer {
    fn name(&self) -> &str {
        &self.name
    }

    async fn take(&mut self, timeout: Duration) -> Result<Option<Taken>> {
        let queue_key = self.queue.queue_key(self.source);
        // BLMOVE's timeout is in seconds (0 = forever); never ask for forever.
        let seconds = timeout.as_secs_f64().max(0.01);
        let cmd = redis::cmd("BLMOVE")
            .arg(&queue_key)
            .arg(&self.processing_key)
            .arg("RIGHT")
            .arg("LEFT")
            .arg(seconds)
            .to_owned();
        let guard = timeout + RESPONSE_TIMEOUT;
        let answer = tokio::time::timeout(guard, cmd.query_async::<Option<String>>(&mut self.conn))
            .await
            .map_err(|_| QueueError::Backend {
                operation: "take",
                key: queue_key.clone(),
                reason: format!("no answer within {}s", guard.as_secs()),
            })?
            .map_err(|e| backend("take", &queue_key, e))?;
        Ok(answer.map(|payload| Taken {
            queue: self.source,
            payload,
        }))
    }

    async fn ack(&mut self, taken: &Taken) -> Result<()> {
        self.queue
            .query::<()>(
                "ack",
                &self.processing_key,
                redis::cmd("LREM")
                    .arg(&self.processing_key)
                    .arg(1)
                    .arg(&taken.payload),
            )
            .await
    }

    async fn release(&mut self, taken: &Taken) -> Result<()> {
        // Only an item this consumer still holds goes back. One it no longer holds was
        // recovered while its heartbeat had expired (the consumer was cut off from Redis):
        // it is queued or with another consumer already, and queueing it again would have it
        // done twice.
        static SCRIPT: std::sync::LazyLock<redis::Script> = std::sync::LazyLock::new(|| {
            redis::Script::new(
                r"if redis.call('LREM', KEYS[1], 1, ARGV[1]) == 1 then
                      redis.call('LPUSH', KEYS[2], ARGV[1])
                      return 1
                  end
                  return 0",
            )
        });
        let mut conn = self.queue.conn.clone();
        let released: i64 = SCRIPT
            .key(&self.processing_key)
            .key(self.queue.queue_key(taken.queue))
            .arg(&taken.payload)
            .invoke_async(&mut conn)
            .await
            .map_err(|e| backend("release", &self.processing_key, e))?;
        if released == 0 {
            tracing::warn!(queue = %taken.queue, consumer = %self.name, "an item given back was no longer this consumer's (recovered while its heartbeat had expired): not queued again");
        }
        Ok(())
    }

    async fn close(self: Box<Self>) -> Result<()> {
        self.heartbeat.abort();
        self.queue
            .drain_back(&self.processing_key, self.source)
            .await?;
        self.queue
            .query::<()>(
                "close",
                &self.heartbeat_key,
                redis::cmd("DEL").arg(&self.heartbeat_key),
            )
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn addresses_never_show_passwords() {
        assert_eq!(
            redact("redis://user:secret@localhost:6379/0"),
            "redis://***@localhost:6379/0"
        );
        assert_eq!(redact("redis://127.0.0.1:6379"), "redis://127.0.0.1:6379");
    }
}
