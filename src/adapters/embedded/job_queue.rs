//! In-process job queue, for a single instance without Redis. Jobs live in memory:
//! they survive a worker's failure (visibility timeout) but not a process restart.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use tokio::sync::Notify;
use uuid::Uuid;

use questpath_actors::ports::{Job, JobQueue, PortError, PortResult};

const BACKEND: &str = "in-process";

/// How long a claimed job may go unacknowledged before another worker gets it.
pub const DEFAULT_VISIBILITY_TIMEOUT: Duration = Duration::from_secs(5 * 60);
/// Attempts before a job is dead-lettered.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 5;
/// Dead letters kept per queue; the oldest are dropped beyond this, as the Redis
/// adapter trims its dead-letter stream, so a failing dependency cannot fill memory.
pub(crate) const MAX_DEAD_LETTERS: usize = 10_000;
/// Longest wait, delay or visibility timeout honoured (a year): longer ones are
/// clamped so that clock arithmetic cannot overflow.
pub(crate) const MAX_DURATION: Duration = Duration::from_secs(365 * 24 * 3600);
/// Reason recorded when a job's last attempt was never acknowledged.
pub(crate) const ABANDONED_REASON: &str = "not acknowledged within the visibility timeout";

/// A job between attempts.
#[derive(Clone)]
struct Stored {
    id: String,
    payload: Arc<[u8]>,
    attempt: u32,
}

impl Stored {
    fn to_job(&self, queue: &str) -> Job {
        Job {
            id: self.id.clone(),
            queue: queue.to_string(),
            payload: self.payload.to_vec(),
            attempt: self.attempt,
        }
    }
}

/// A job waiting for its retry delay; ordered by due time, then by arrival.
struct Delayed {
    due: Instant,
    seq: u64,
    job: Stored,
}

impl PartialEq for Delayed {
    fn eq(&self, other: &Self) -> bool {
        (self.due, self.seq) == (other.due, other.seq)
    }
}
impl Eq for Delayed {}
impl PartialOrd for Delayed {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Delayed {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.due, self.seq).cmp(&(other.due, other.seq))
    }
}

struct InFlight {
    job: Stored,
    claimed_at: Instant,
}

#[derive(Default)]
struct Queue {
    ready: VecDeque<Stored>,
    delayed: BinaryHeap<Reverse<Delayed>>,
    in_flight: HashMap<String, InFlight>,
    dead: VecDeque<(Stored, String)>,
    /// Woken on every change that can make a job claimable.
    changed: Arc<Notify>,
}

impl Queue {
    fn bury(&mut self, job: Stored, reason: String) {
        if self.dead.len() >= MAX_DEAD_LETTERS {
            self.dead.pop_front();
        }
        self.dead.push_back((job, reason));
    }

    /// Moves delayed jobs that are due to the back of the ready queue.
    fn promote(&mut self, now: Instant) {
        while self.delayed.peek().is_some_and(|Reverse(d)| d.due <= now) {
            if let Some(Reverse(d)) = self.delayed.pop() {
                self.ready.push_back(d.job);
            }
        }
    }

    /// The next job to hand out: an abandoned one first (longest abandoned first), then
    /// the oldest ready one. Abandoned jobs past their last attempt are dead-lettered.
    fn next(&mut self, now: Instant, visibility: Duration, max_attempts: u32) -> Option<Stored> {
        loop {
            let abandoned = self
                .in_flight
                .iter()
                .filter(|(_, f)| now.saturating_duration_since(f.claimed_at) >= visibility)
                .min_by_key(|(_, f)| f.claimed_at)
                .map(|(id, _)| id.clone());
            let Some(id) = abandoned else { break };
            let Some(flight) = self.in_flight.remove(&id) else {
                break;
            };
            let mut job = flight.job;
            if job.attempt >= max_attempts {
                self.bury(job, ABANDONED_REASON.to_string());
            } else {
                job.attempt += 1;
                return Some(job);
            }
        }
        self.ready.pop_front()
    }

    /// When the next delayed job falls due or an in-flight job becomes reclaimable.
    fn next_change(&self, visibility: Duration) -> Option<Instant> {
        let due = self.delayed.peek().map(|Reverse(d)| d.due);
        let expiry = self
            .in_flight
            .values()
            .filter_map(|f| f.claimed_at.checked_add(visibility))
            .min();
        match (due, expiry) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

struct State {
    queues: HashMap<String, Queue>,
    seq: u64,
}

/// Job queues of a single instance: a ready deque, a heap of delayed retries and the
/// claimed jobs with their claim time, per queue name.
pub struct InProcessJobQueue {
    state: Mutex<State>,
    visibility_timeout: Duration,
    max_attempts: u32,
}

impl InProcessJobQueue {
    /// Five minutes of visibility timeout and five attempts.
    pub fn new() -> Self {
        InProcessJobQueue {
            state: Mutex::new(State {
                queues: HashMap::new(),
                seq: 0,
            }),
            visibility_timeout: DEFAULT_VISIBILITY_TIMEOUT,
            max_attempts: DEFAULT_MAX_ATTEMPTS,
        }
    }

    /// How long a claimed job may go unacknowledged before it is handed out again.
    /// It should exceed the longest job, or slow jobs run twice.
    pub fn with_visibility_timeout(mut self, timeout: Duration) -> Self {
        self.visibility_timeout = timeout.min(MAX_DURATION);
        self
    }

    /// Attempts (at least one) before a job goes to the dead letters.
    pub fn with_max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // Every update below leaves the state consistent before it can panic.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Default for InProcessJobQueue {
    fn default() -> Self {
        Self::new()
    }
}

fn not_claimed(operation: &'static str, job: &Job) -> PortError {
    PortError::new(
        BACKEND,
        operation,
        format!(
            "job {} attempt {} is not claimed (acknowledged, retried or reclaimed already)",
            job.id, job.attempt
        ),
    )
}

#[async_trait]
impl JobQueue for InProcessJobQueue {
    fn backend(&self) -> &'static str {
        BACKEND
    }

    async fn ping(&self) -> PortResult<()> {
        Ok(())
    }

    async fn enqueue(&self, queue: &str, payload: &[u8]) -> PortResult<String> {
        let id = Uuid::now_v7().to_string();
        let mut state = self.lock();
        let q = state.queues.entry(queue.to_string()).or_default();
        q.ready.push_back(Stored {
            id: id.clone(),
            payload: payload.into(),
            attempt: 1,
        });
        q.changed.notify_waiters();
        Ok(id)
    }

    async fn claim(&self, queue: &str, consumer: &str, wait: Duration) -> PortResult<Option<Job>> {
        let _ = consumer; // one process: which worker holds a job does not matter here
        let deadline = Instant::now() + wait.min(MAX_DURATION);
        loop {
            let changed = {
                let mut state = self.lock();
                let q = state.queues.entry(queue.to_string()).or_default();
                Arc::clone(&q.changed)
            };
            // Register for wake-ups before looking, so an enqueue between the look and
            // the wait is not missed.
            let notified = changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();

            let now = Instant::now();
            let next_change = {
                let mut state = self.lock();
                let q = state.queues.entry(queue.to_string()).or_default();
                q.promote(now);
                if let Some(job) = q.next(now, self.visibility_timeout, self.max_attempts) {
                    let claimed = job.to_job(queue);
                    q.in_flight.insert(
                        job.id.clone(),
                        InFlight {
                            job,
                            claimed_at: now,
                        },
                    );
                    return Ok(Some(claimed));
                }
                q.next_change(self.visibility_timeout)
            };
            if now >= deadline {
                return Ok(None);
            }
            let wake = next_change.map_or(deadline, |at| at.min(deadline));
            let _ = tokio::time::timeout_at(wake.into(), notified).await;
        }
    }

    async fn ack(&self, job: &Job) -> PortResult<()> {
        let mut state = self.lock();
        if let Some(q) = state.queues.get_mut(&job.queue) {
            q.in_flight.remove(&job.id);
        }
        Ok(())
    }

    async fn retry(&self, job: &Job, delay: Duration, reason: &str) -> PortResult<bool> {
        let mut state = self.lock();
        state.seq += 1;
        let seq = state.seq;
        let q = state
            .queues
            .get_mut(&job.queue)
            .ok_or_else(|| not_claimed("retry", job))?;
        // A worker whose job was reclaimed after the visibility timeout still holds the
        // old attempt: its retry must not requeue the job a second time.
        let Some(flight) = q.in_flight.remove(&job.id) else {
            return Err(not_claimed("retry", job));
        };
        if flight.job.attempt != job.attempt {
            q.in_flight.insert(job.id.clone(), flight);
            return Err(not_claimed("retry", job));
        }
        let mut stored = flight.job;
        if stored.attempt >= self.max_attempts {
            q.bury(stored, reason.to_string());
            return Ok(false);
        }
        stored.attempt += 1;
        let now = Instant::now();
        if delay.is_zero() {
            q.ready.push_back(stored);
        } else {
            q.delayed.push(Reverse(Delayed {
                due: now + delay.min(MAX_DURATION),
                seq,
                job: stored,
            }));
        }
        q.changed.notify_waiters();
        Ok(true)
    }

    async fn depth(&self, queue: &str) -> PortResult<u64> {
        let state = self.lock();
        Ok(state
            .queues
            .get(queue)
            .map_or(0, |q| (q.ready.len() + q.delayed.len()) as u64))
    }

    async fn dead_letters(&self, queue: &str, limit: usize) -> PortResult<Vec<(Job, String)>> {
        let state = self.lock();
        Ok(state
            .queues
            .get(queue)
            .map(|q| {
                q.dead
                    .iter()
                    .take(limit)
                    .map(|(job, reason)| (job.to_job(queue), reason.clone()))
                    .collect()
            })
            .unwrap_or_default())
    }
}
