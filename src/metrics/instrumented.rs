//! Decorators that observe every call to a port without touching the adapters: each
//! wraps an `Arc<dyn Port>`, delegates every method, and records what the call did.
//!
//! - [`InstrumentedStore`]: `questpath_store_operations_total{operation,outcome}` and
//!   `questpath_store_operation_duration_seconds{operation}`, plus one tick on the
//!   request-scoped counter behind `questpath_store_queries_per_request` (see
//!   [`count_store_operations`]).
//! - The shared-state ports (cache, rate limiter, bus, leaderboard, job queue) record
//!   `questpath_redis_operations_total{port,operation,outcome}` and its latency, but
//!   only when the wrapped adapter is the Redis one: in-process adapters are memory
//!   operations, and counting them would drown the Redis signal. [`InstrumentedCache`]
//!   also counts reads by cache and result (`questpath_cache_requests_total`) on any
//!   backend, since hit ratios matter on both.
//!
//! [`instrument`] applies them all to a [`Backends`] once, in `startup`, before any
//! service is built, so every caller goes through them. A new port method must be added
//! here too (the compiler says so): a decorator cannot delegate what it does not name.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::Metrics;
use crate::backends::Backends;
use questpath_actors::ports::leaderboard::{LeaderboardEntry, Placement, ScoreUpdate};
use questpath_actors::ports::store::{
    ArchivedEntry, ArchivedWeek, QuizSummary, RoomResult, SavedQuiz, StoreResult,
};
use questpath_actors::ports::{
    ArchiveStore, Bus, BusSubscription, Cache, GenerationJob, Goal, GoalStatus, GoalStore, Job,
    JobQueue, JobStore, Leaderboard, Level, LevelStatus, LoginFailures, NewGoal, NewUser, Page,
    PortResult, ProfileUpdate, Question, QuizStore, RateDecision, RateLimit, RateLimiter,
    RefreshFamily, RefreshToken, RoomResultStore, SessionStore, Store, StoreBackend, StoreError,
    User, UserStore, XpEntry, XpStore,
};

tokio::task_local! {
    /// Store operations made by the current HTTP request (set by the middleware).
    static STORE_OPERATIONS: Arc<AtomicU32>;
}

/// Runs `future` (an HTTP request) and returns its output with the number of store
/// operations it made. Only calls made on the request's own task are seen: work it
/// hands to an actor or a spawned task is not the request's queries.
pub async fn count_store_operations<F: Future>(future: F) -> (F::Output, u32) {
    let counter = Arc::new(AtomicU32::new(0));
    let output = STORE_OPERATIONS.scope(counter.clone(), future).await;
    (output, counter.load(Ordering::Relaxed))
}

/// Ticks the current request's counter; outside a request (actors, workers) nothing.
fn count_store_operation() {
    let _ = STORE_OPERATIONS.try_with(|count| count.fetch_add(1, Ordering::Relaxed));
}

/// The `outcome` label of a store result.
fn store_outcome<T>(result: &StoreResult<T>) -> &'static str {
    match result {
        Ok(_) => "ok",
        Err(StoreError::Conflict { .. }) => "conflict",
        Err(StoreError::Unavailable(_)) => "unavailable",
        Err(StoreError::Internal(_)) => "error",
    }
}

/// Wraps every port of `backends` in its decorator.
pub fn instrument(mut backends: Backends, metrics: &Arc<Metrics>) -> Backends {
    let m = metrics;
    backends.store = Arc::new(InstrumentedStore::new(backends.store, m.clone()));
    backends.cache = Arc::new(InstrumentedCache::new(backends.cache, m.clone()));
    backends.rate_limiter = Arc::new(InstrumentedRateLimiter::new(
        backends.rate_limiter,
        m.clone(),
    ));
    backends.bus = Arc::new(InstrumentedBus::new(backends.bus, m.clone()));
    backends.leaderboard = Arc::new(InstrumentedLeaderboard::new(
        backends.leaderboard,
        m.clone(),
    ));
    backends.job_queue = Arc::new(InstrumentedJobQueue::new(backends.job_queue, m.clone()));
    backends
}

/// Records calls of one shared-state port, when its backend is Redis.
#[derive(Clone)]
struct PortObserver {
    metrics: Arc<Metrics>,
    port: &'static str,
    redis: bool,
}

impl PortObserver {
    fn new(metrics: Arc<Metrics>, port: &'static str, backend: &'static str) -> Self {
        PortObserver {
            metrics,
            port,
            redis: backend == crate::adapters::redis::BACKEND,
        }
    }

    fn observe(&self, operation: &'static str, ok: bool, elapsed: Duration) {
        if self.redis {
            let outcome = if ok { "ok" } else { "error" };
            self.metrics
                .redis_operation(self.port, operation, outcome, elapsed);
        }
    }
}

/// Times a store call and counts it (also on the request's counter).
macro_rules! timed_store {
    ($self:ident, $operation:literal, $call:expr) => {{
        count_store_operation();
        let started = Instant::now();
        let result = $call.await;
        $self
            .metrics
            .store_operation($operation, store_outcome(&result), started.elapsed());
        result
    }};
}

/// Times a shared-state port call.
macro_rules! timed_port {
    ($self:ident, $operation:literal, $call:expr) => {{
        let started = Instant::now();
        let result = $call.await;
        $self
            .observer
            .observe($operation, result.is_ok(), started.elapsed());
        result
    }};
}

// ---- store ------------------------------------------------------------------------------

/// A [`Store`] whose every call is timed and counted.
pub struct InstrumentedStore {
    inner: Arc<dyn Store>,
    metrics: Arc<Metrics>,
}

impl InstrumentedStore {
    pub fn new(inner: Arc<dyn Store>, metrics: Arc<Metrics>) -> Self {
        InstrumentedStore { inner, metrics }
    }
}

#[async_trait]
impl StoreBackend for InstrumentedStore {
    fn backend(&self) -> &'static str {
        self.inner.backend()
    }

    async fn ping(&self) -> StoreResult<()> {
        timed_store!(self, "ping", self.inner.ping())
    }
}

#[async_trait]
impl UserStore for InstrumentedStore {
    async fn create_user(&self, new: NewUser) -> StoreResult<User> {
        timed_store!(self, "create_user", self.inner.create_user(new))
    }

    async fn user_by_id(&self, id: Uuid) -> StoreResult<Option<User>> {
        timed_store!(self, "user_by_id", self.inner.user_by_id(id))
    }

    async fn user_by_email(&self, email: &str) -> StoreResult<Option<User>> {
        timed_store!(self, "user_by_email", self.inner.user_by_email(email))
    }

    async fn update_profile(&self, id: Uuid, update: ProfileUpdate) -> StoreResult<Option<User>> {
        timed_store!(
            self,
            "update_profile",
            self.inner.update_profile(id, update)
        )
    }

    async fn set_password_hash(&self, user_id: Uuid, phc: &str) -> StoreResult<()> {
        timed_store!(
            self,
            "set_password_hash",
            self.inner.set_password_hash(user_id, phc)
        )
    }

    async fn password_hash(&self, user_id: Uuid) -> StoreResult<Option<String>> {
        timed_store!(self, "password_hash", self.inner.password_hash(user_id))
    }

    async fn link_google(&self, google_sub: &str, user_id: Uuid) -> StoreResult<Uuid> {
        timed_store!(
            self,
            "link_google",
            self.inner.link_google(google_sub, user_id)
        )
    }

    async fn user_by_google(&self, google_sub: &str) -> StoreResult<Option<User>> {
        timed_store!(
            self,
            "user_by_google",
            self.inner.user_by_google(google_sub)
        )
    }
}

#[async_trait]
impl SessionStore for InstrumentedStore {
    async fn create_refresh_family(&self, family: &RefreshFamily) -> StoreResult<()> {
        timed_store!(
            self,
            "create_refresh_family",
            self.inner.create_refresh_family(family)
        )
    }

    async fn refresh_family(&self, family_id: Uuid) -> StoreResult<Option<RefreshFamily>> {
        timed_store!(self, "refresh_family", self.inner.refresh_family(family_id))
    }

    async fn extend_refresh_family(
        &self,
        family_id: Uuid,
        expires_at: DateTime<Utc>,
    ) -> StoreResult<()> {
        timed_store!(
            self,
            "extend_refresh_family",
            self.inner.extend_refresh_family(family_id, expires_at)
        )
    }

    async fn revoke_refresh_family(&self, family_id: Uuid) -> StoreResult<()> {
        timed_store!(
            self,
            "revoke_refresh_family",
            self.inner.revoke_refresh_family(family_id)
        )
    }

    async fn revoke_user_refresh_families(&self, user_id: Uuid) -> StoreResult<u32> {
        timed_store!(
            self,
            "revoke_user_refresh_families",
            self.inner.revoke_user_refresh_families(user_id)
        )
    }

    async fn insert_refresh_token(&self, token: &RefreshToken) -> StoreResult<()> {
        timed_store!(
            self,
            "insert_refresh_token",
            self.inner.insert_refresh_token(token)
        )
    }

    async fn refresh_token(&self, token_hash: &str) -> StoreResult<Option<RefreshToken>> {
        timed_store!(self, "refresh_token", self.inner.refresh_token(token_hash))
    }

    async fn consume_refresh_token(
        &self,
        token_hash: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        timed_store!(
            self,
            "consume_refresh_token",
            self.inner.consume_refresh_token(token_hash, at)
        )
    }

    async fn record_login_failure(
        &self,
        key: &str,
        now: DateTime<Utc>,
        window: chrono::Duration,
        lock_for: fn(u32) -> Option<chrono::Duration>,
    ) -> StoreResult<LoginFailures> {
        timed_store!(
            self,
            "record_login_failure",
            self.inner.record_login_failure(key, now, window, lock_for)
        )
    }

    async fn login_failures(
        &self,
        key: &str,
        now: DateTime<Utc>,
        window: chrono::Duration,
    ) -> StoreResult<Option<LoginFailures>> {
        timed_store!(
            self,
            "login_failures",
            self.inner.login_failures(key, now, window)
        )
    }

    async fn clear_login_failures(&self, key: &str) -> StoreResult<()> {
        timed_store!(
            self,
            "clear_login_failures",
            self.inner.clear_login_failures(key)
        )
    }
}

#[async_trait]
impl JobStore for InstrumentedStore {
    async fn create_job(&self, job: &GenerationJob) -> StoreResult<()> {
        timed_store!(self, "create_job", self.inner.create_job(job))
    }

    async fn job(&self, job_id: Uuid) -> StoreResult<Option<GenerationJob>> {
        timed_store!(self, "job", self.inner.job(job_id))
    }

    async fn update_job(&self, job: &GenerationJob) -> StoreResult<()> {
        timed_store!(self, "update_job", self.inner.update_job(job))
    }
}

#[async_trait]
impl GoalStore for InstrumentedStore {
    async fn save_goal(&self, goal: &NewGoal) -> StoreResult<()> {
        timed_store!(self, "save_goal", self.inner.save_goal(goal))
    }

    async fn goal(&self, goal_id: Uuid) -> StoreResult<Option<Goal>> {
        timed_store!(self, "goal", self.inner.goal(goal_id))
    }

    async fn goals_of_user(
        &self,
        user_id: Uuid,
        after: Option<Uuid>,
        limit: usize,
    ) -> StoreResult<Page<Goal>> {
        timed_store!(
            self,
            "goals_of_user",
            self.inner.goals_of_user(user_id, after, limit)
        )
    }

    async fn delete_goal(&self, goal_id: Uuid) -> StoreResult<bool> {
        timed_store!(self, "delete_goal", self.inner.delete_goal(goal_id))
    }

    async fn levels(&self, goal_id: Uuid) -> StoreResult<Vec<Level>> {
        timed_store!(self, "levels", self.inner.levels(goal_id))
    }

    async fn level(&self, level_id: Uuid) -> StoreResult<Option<Level>> {
        timed_store!(self, "level", self.inner.level(level_id))
    }

    async fn set_topic_completed(
        &self,
        level_id: Uuid,
        index: u32,
        completed: bool,
    ) -> StoreResult<Option<Level>> {
        timed_store!(
            self,
            "set_topic_completed",
            self.inner.set_topic_completed(level_id, index, completed)
        )
    }

    async fn set_level_status(&self, level_id: Uuid, status: LevelStatus) -> StoreResult<()> {
        timed_store!(
            self,
            "set_level_status",
            self.inner.set_level_status(level_id, status)
        )
    }

    async fn set_goal_status(&self, goal_id: Uuid, status: GoalStatus) -> StoreResult<()> {
        timed_store!(
            self,
            "set_goal_status",
            self.inner.set_goal_status(goal_id, status)
        )
    }

    async fn questions(&self, level_id: Uuid) -> StoreResult<Vec<Question>> {
        timed_store!(self, "questions", self.inner.questions(level_id))
    }
}

#[async_trait]
impl XpStore for InstrumentedStore {
    async fn record_xp(&self, entry: &XpEntry) -> StoreResult<bool> {
        timed_store!(self, "record_xp", self.inner.record_xp(entry))
    }

    async fn xp_entries(&self, user_id: Uuid) -> StoreResult<Vec<XpEntry>> {
        timed_store!(self, "xp_entries", self.inner.xp_entries(user_id))
    }

    async fn set_total_xp(&self, user_id: Uuid, total: i64) -> StoreResult<()> {
        timed_store!(
            self,
            "set_total_xp",
            self.inner.set_total_xp(user_id, total)
        )
    }

    async fn xp_pending_users(&self, limit: usize) -> StoreResult<Vec<Uuid>> {
        timed_store!(self, "xp_pending_users", self.inner.xp_pending_users(limit))
    }

    async fn xp_pending(&self, user_id: Uuid) -> StoreResult<Vec<String>> {
        timed_store!(self, "xp_pending", self.inner.xp_pending(user_id))
    }

    async fn clear_xp_pending(&self, user_id: Uuid, grant_ids: &[String]) -> StoreResult<()> {
        timed_store!(
            self,
            "clear_xp_pending",
            self.inner.clear_xp_pending(user_id, grant_ids)
        )
    }

    async fn xp_users(&self, after: Option<Uuid>, limit: usize) -> StoreResult<Vec<Uuid>> {
        timed_store!(self, "xp_users", self.inner.xp_users(after, limit))
    }
}

#[async_trait]
impl ArchiveStore for InstrumentedStore {
    async fn write_archive_entries(
        &self,
        period: &str,
        entries: &[ArchivedEntry],
    ) -> StoreResult<()> {
        timed_store!(
            self,
            "write_archive_entries",
            self.inner.write_archive_entries(period, entries)
        )
    }

    async fn mark_week_archived(&self, week: &ArchivedWeek) -> StoreResult<()> {
        timed_store!(
            self,
            "mark_week_archived",
            self.inner.mark_week_archived(week)
        )
    }

    async fn archived_week(&self, period: &str) -> StoreResult<Option<ArchivedWeek>> {
        timed_store!(self, "archived_week", self.inner.archived_week(period))
    }

    async fn archived_weeks(&self, limit: usize) -> StoreResult<Vec<ArchivedWeek>> {
        timed_store!(self, "archived_weeks", self.inner.archived_weeks(limit))
    }

    async fn archived_entries(
        &self,
        period: &str,
        from_rank: u64,
        limit: usize,
    ) -> StoreResult<Vec<ArchivedEntry>> {
        timed_store!(
            self,
            "archived_entries",
            self.inner.archived_entries(period, from_rank, limit)
        )
    }

    async fn archived_entry(
        &self,
        period: &str,
        user_id: Uuid,
    ) -> StoreResult<Option<ArchivedEntry>> {
        timed_store!(
            self,
            "archived_entry",
            self.inner.archived_entry(period, user_id)
        )
    }
}

#[async_trait]
impl RoomResultStore for InstrumentedStore {
    async fn save_room_result(&self, result: &RoomResult) -> StoreResult<()> {
        timed_store!(
            self,
            "save_room_result",
            self.inner.save_room_result(result)
        )
    }

    async fn room_result(&self, room_id: Uuid) -> StoreResult<Option<RoomResult>> {
        timed_store!(self, "room_result", self.inner.room_result(room_id))
    }

    async fn room_results_of_host(
        &self,
        host_id: Uuid,
        limit: usize,
    ) -> StoreResult<Vec<RoomResult>> {
        timed_store!(
            self,
            "room_results_of_host",
            self.inner.room_results_of_host(host_id, limit)
        )
    }
}

#[async_trait]
impl QuizStore for InstrumentedStore {
    async fn create_quiz(&self, quiz: &SavedQuiz, limit: usize) -> StoreResult<bool> {
        timed_store!(self, "create_quiz", self.inner.create_quiz(quiz, limit))
    }

    async fn update_quiz(&self, quiz: &SavedQuiz) -> StoreResult<bool> {
        timed_store!(self, "update_quiz", self.inner.update_quiz(quiz))
    }

    async fn quiz(&self, quiz_id: Uuid) -> StoreResult<Option<SavedQuiz>> {
        timed_store!(self, "quiz", self.inner.quiz(quiz_id))
    }

    async fn quizzes_of_owner(
        &self,
        owner_id: Uuid,
        limit: usize,
    ) -> StoreResult<Vec<QuizSummary>> {
        timed_store!(
            self,
            "quizzes_of_owner",
            self.inner.quizzes_of_owner(owner_id, limit)
        )
    }

    async fn delete_quiz(&self, owner_id: Uuid, quiz_id: Uuid) -> StoreResult<bool> {
        timed_store!(
            self,
            "delete_quiz",
            self.inner.delete_quiz(owner_id, quiz_id)
        )
    }
}

// ---- cache ------------------------------------------------------------------------------

/// A [`Cache`] whose calls are timed (on Redis) and whose reads count hits and misses.
pub struct InstrumentedCache {
    inner: Arc<dyn Cache>,
    observer: PortObserver,
}

impl InstrumentedCache {
    pub fn new(inner: Arc<dyn Cache>, metrics: Arc<Metrics>) -> Self {
        let observer = PortObserver::new(metrics, "cache", inner.backend());
        InstrumentedCache { inner, observer }
    }

    fn count_read<T>(&self, key: &str, result: &PortResult<Option<T>>) {
        let outcome = match result {
            Ok(Some(_)) => "hit",
            Ok(None) => "miss",
            Err(_) => "error",
        };
        self.observer
            .metrics
            .cache_request(cache_name(key), outcome);
    }
}

/// The cache a key belongs to: its prefix before the first `:` (`roadmap`, `stats`,
/// `quiz`, `ws-ticket`...). Prefixes are constants in the code, the part after the colon
/// is the variable one; anything that does not look like a prefix is `other`, so a label
/// can never carry an id.
pub fn cache_name(key: &str) -> &str {
    match key.split_once(':') {
        Some((prefix, _))
            if !prefix.is_empty()
                && prefix.len() <= 24
                && prefix
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b == b'-' || b == b'_') =>
        {
            prefix
        }
        _ => "other",
    }
}

#[async_trait]
impl Cache for InstrumentedCache {
    fn backend(&self) -> &'static str {
        self.inner.backend()
    }

    async fn ping(&self) -> PortResult<()> {
        timed_port!(self, "ping", self.inner.ping())
    }

    async fn get(&self, key: &str) -> PortResult<Option<Vec<u8>>> {
        let result = timed_port!(self, "get", self.inner.get(key));
        self.count_read(key, &result);
        result
    }

    async fn set(&self, key: &str, value: &[u8], ttl: Duration) -> PortResult<()> {
        timed_port!(self, "set", self.inner.set(key, value, ttl))
    }

    async fn set_if_absent(&self, key: &str, value: &[u8], ttl: Duration) -> PortResult<bool> {
        timed_port!(
            self,
            "set_if_absent",
            self.inner.set_if_absent(key, value, ttl)
        )
    }

    async fn take(&self, key: &str) -> PortResult<Option<Vec<u8>>> {
        let result = timed_port!(self, "take", self.inner.take(key));
        self.count_read(key, &result);
        result
    }

    async fn delete(&self, key: &str) -> PortResult<()> {
        timed_port!(self, "delete", self.inner.delete(key))
    }
}

// ---- rate limiter ------------------------------------------------------------------------

/// A [`RateLimiter`] whose calls are timed and counted when it is Redis.
pub struct InstrumentedRateLimiter {
    inner: Arc<dyn RateLimiter>,
    observer: PortObserver,
}

impl InstrumentedRateLimiter {
    pub fn new(inner: Arc<dyn RateLimiter>, metrics: Arc<Metrics>) -> Self {
        let observer = PortObserver::new(metrics, "rate_limiter", inner.backend());
        InstrumentedRateLimiter { inner, observer }
    }
}

#[async_trait]
impl RateLimiter for InstrumentedRateLimiter {
    fn backend(&self) -> &'static str {
        self.inner.backend()
    }

    async fn ping(&self) -> PortResult<()> {
        timed_port!(self, "ping", self.inner.ping())
    }

    async fn check(&self, key: &str, limit: RateLimit) -> PortResult<RateDecision> {
        timed_port!(self, "check", self.inner.check(key, limit))
    }
}

// ---- bus ---------------------------------------------------------------------------------

/// A [`Bus`] whose calls are timed and counted when it is Redis.
pub struct InstrumentedBus {
    inner: Arc<dyn Bus>,
    observer: PortObserver,
}

impl InstrumentedBus {
    pub fn new(inner: Arc<dyn Bus>, metrics: Arc<Metrics>) -> Self {
        let observer = PortObserver::new(metrics, "bus", inner.backend());
        InstrumentedBus { inner, observer }
    }
}

#[async_trait]
impl Bus for InstrumentedBus {
    fn backend(&self) -> &'static str {
        self.inner.backend()
    }

    async fn ping(&self) -> PortResult<()> {
        timed_port!(self, "ping", self.inner.ping())
    }

    async fn publish(&self, topic: &str, payload: &[u8]) -> PortResult<()> {
        timed_port!(self, "publish", self.inner.publish(topic, payload))
    }

    async fn subscribe(&self, topic: &str) -> PortResult<BusSubscription> {
        timed_port!(self, "subscribe", self.inner.subscribe(topic))
    }
}

// ---- leaderboard -------------------------------------------------------------------------

/// A [`Leaderboard`] whose calls are timed and counted when it is Redis.
pub struct InstrumentedLeaderboard {
    inner: Arc<dyn Leaderboard>,
    observer: PortObserver,
}

impl InstrumentedLeaderboard {
    pub fn new(inner: Arc<dyn Leaderboard>, metrics: Arc<Metrics>) -> Self {
        let observer = PortObserver::new(metrics, "leaderboard", inner.backend());
        InstrumentedLeaderboard { inner, observer }
    }
}

#[async_trait]
impl Leaderboard for InstrumentedLeaderboard {
    fn backend(&self) -> &'static str {
        self.inner.backend()
    }

    fn outlives_process(&self) -> bool {
        self.inner.outlives_process()
    }

    async fn ping(&self) -> PortResult<()> {
        timed_port!(self, "ping", self.inner.ping())
    }

    async fn apply(&self, updates: &[ScoreUpdate]) -> PortResult<Vec<Placement>> {
        timed_port!(self, "apply", self.inner.apply(updates))
    }

    async fn range(&self, board: &str, offset: u64, n: usize) -> PortResult<Vec<LeaderboardEntry>> {
        timed_port!(self, "range", self.inner.range(board, offset, n))
    }

    async fn top(&self, board: &str, n: usize) -> PortResult<Vec<LeaderboardEntry>> {
        timed_port!(self, "top", self.inner.top(board, n))
    }

    async fn entry(&self, board: &str, user_id: Uuid) -> PortResult<Option<LeaderboardEntry>> {
        timed_port!(self, "entry", self.inner.entry(board, user_id))
    }

    async fn around(
        &self,
        board: &str,
        user_id: Uuid,
        k: usize,
    ) -> PortResult<Vec<LeaderboardEntry>> {
        timed_port!(self, "around", self.inner.around(board, user_id, k))
    }

    async fn len(&self, board: &str) -> PortResult<u64> {
        timed_port!(self, "len", self.inner.len(board))
    }

    async fn clear(&self, board: &str) -> PortResult<()> {
        timed_port!(self, "clear", self.inner.clear(board))
    }

    async fn built_at(&self, board: &str) -> PortResult<Option<DateTime<Utc>>> {
        timed_port!(self, "built_at", self.inner.built_at(board))
    }

    async fn mark_built(
        &self,
        board: &str,
        at: DateTime<Utc>,
        expires_at: Option<DateTime<Utc>>,
    ) -> PortResult<()> {
        timed_port!(
            self,
            "mark_built",
            self.inner.mark_built(board, at, expires_at)
        )
    }

    async fn claim(&self, name: &str, ttl: Duration) -> PortResult<bool> {
        timed_port!(self, "claim", self.inner.claim(name, ttl))
    }

    async fn release(&self, name: &str) -> PortResult<()> {
        timed_port!(self, "release", self.inner.release(name))
    }
}

// ---- job queue ---------------------------------------------------------------------------

/// A [`JobQueue`] whose calls are timed and counted when it is Redis.
pub struct InstrumentedJobQueue {
    inner: Arc<dyn JobQueue>,
    observer: PortObserver,
}

impl InstrumentedJobQueue {
    pub fn new(inner: Arc<dyn JobQueue>, metrics: Arc<Metrics>) -> Self {
        let observer = PortObserver::new(metrics, "job_queue", inner.backend());
        InstrumentedJobQueue { inner, observer }
    }
}

#[async_trait]
impl JobQueue for InstrumentedJobQueue {
    fn backend(&self) -> &'static str {
        self.inner.backend()
    }

    async fn ping(&self) -> PortResult<()> {
        timed_port!(self, "ping", self.inner.ping())
    }

    async fn enqueue(&self, queue: &str, payload: &[u8]) -> PortResult<String> {
        timed_port!(self, "enqueue", self.inner.enqueue(queue, payload))
    }

    async fn claim(&self, queue: &str, consumer: &str, wait: Duration) -> PortResult<Option<Job>> {
        timed_port!(self, "claim", self.inner.claim(queue, consumer, wait))
    }

    async fn ack(&self, job: &Job) -> PortResult<()> {
        timed_port!(self, "ack", self.inner.ack(job))
    }

    async fn retry(&self, job: &Job, delay: Duration, reason: &str) -> PortResult<bool> {
        timed_port!(self, "retry", self.inner.retry(job, delay, reason))
    }

    async fn depth(&self, queue: &str) -> PortResult<u64> {
        timed_port!(self, "depth", self.inner.depth(queue))
    }

    async fn dead_letters(&self, queue: &str, limit: usize) -> PortResult<Vec<(Job, String)>> {
        timed_port!(self, "dead_letters", self.inner.dead_letters(queue, limit))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::embedded::{EmbeddedStore, InProcessCache};
    use crate::ports::PortError;

    fn metrics() -> Arc<Metrics> {
        Arc::new(Metrics::new().unwrap())
    }

    #[tokio::test]
    async fn store_calls_are_counted_by_operation_and_outcome() {
        let dir = tempfile::tempdir().unwrap();
        let m = metrics();
        let store = InstrumentedStore::new(
            Arc::new(EmbeddedStore::open(dir.path()).await.unwrap()),
            m.clone(),
        );
        let user = store
            .create_user(NewUser::new("ann@example.org"))
            .await
            .unwrap();
        let taken = store.create_user(NewUser::new("ANN@example.org")).await;
        assert!(matches!(taken, Err(StoreError::Conflict { .. })));
        assert_eq!(store.user_by_id(user.id).await.unwrap(), Some(user));
        assert_eq!(store.backend(), "embedded");

        let text = m.render();
        for expected in [
            r#"questpath_store_operations_total{operation="create_user",outcome="ok"} 1"#,
            r#"questpath_store_operations_total{operation="create_user",outcome="conflict"} 1"#,
            r#"questpath_store_operations_total{operation="user_by_id",outcome="ok"} 1"#,
            r#"questpath_store_operation_duration_seconds_count{operation="create_user"} 2"#,
        ] {
            assert!(text.contains(expected), "missing {expected}:\n{text}");
        }
    }

    #[tokio::test]
    async fn store_operations_are_counted_per_request_scope_only() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(InstrumentedStore::new(
            Arc::new(EmbeddedStore::open(dir.path()).await.unwrap()),
            metrics(),
        ));
        let id = Uuid::now_v7();
        // Outside a scope: counted nowhere, and no panic.
        store.user_by_id(id).await.unwrap();
        let inner = store.clone();
        let (found, count) = count_store_operations(async move {
            inner.user_by_id(id).await.unwrap();
            inner.goals_of_user(id, None, 10).await.unwrap();
            inner.user_by_email("nobody@example.org").await.unwrap()
        })
        .await;
        assert_eq!(found, None);
        assert_eq!(count, 3);
        let ((), none) = count_store_operations(async {}).await;
        assert_eq!(none, 0);
    }

    #[tokio::test]
    async fn cache_reads_count_hits_and_misses_by_prefix_and_skip_redis_metrics_in_process() {
        let m = metrics();
        let cache = InstrumentedCache::new(Arc::new(InProcessCache::new()), m.clone());
        let ttl = Duration::from_secs(60);
        cache.set("roadmap:1", b"x", ttl).await.unwrap();
        assert!(cache.get("roadmap:1").await.unwrap().is_some());
        assert!(cache.get("roadmap:2").await.unwrap().is_none());
        cache.set("ws-ticket:abc", b"u", ttl).await.unwrap();
        assert!(cache.take("ws-ticket:abc").await.unwrap().is_some());
        assert!(cache.take("ws-ticket:abc").await.unwrap().is_none());

        let text = m.render();
        for expected in [
            r#"questpath_cache_requests_total{cache="roadmap",result="hit"} 1"#,
            r#"questpath_cache_requests_total{cache="roadmap",result="miss"} 1"#,
            r#"questpath_cache_requests_total{cache="ws-ticket",result="hit"} 1"#,
            r#"questpath_cache_requests_total{cache="ws-ticket",result="miss"} 1"#,
        ] {
            assert!(text.contains(expected), "missing {expected}:\n{text}");
        }
        assert!(
            !text.contains("questpath_redis_operations_total{"),
            "{text}"
        );
    }

    /// A cache that says it is Redis and fails every call.
    struct BrokenRedisCache;

    #[async_trait]
    impl Cache for BrokenRedisCache {
        fn backend(&self) -> &'static str {
            crate::adapters::redis::BACKEND
        }
        async fn ping(&self) -> PortResult<()> {
            Ok(())
        }
        async fn get(&self, _: &str) -> PortResult<Option<Vec<u8>>> {
            Err(PortError::new("redis", "get", "connection refused"))
        }
        async fn set(&self, _: &str, _: &[u8], _: Duration) -> PortResult<()> {
            Ok(())
        }
        async fn set_if_absent(&self, _: &str, _: &[u8], _: Duration) -> PortResult<bool> {
            Ok(true)
        }
        async fn take(&self, _: &str) -> PortResult<Option<Vec<u8>>> {
            Ok(None)
        }
        async fn delete(&self, _: &str) -> PortResult<()> {
            Ok(())
        }
    }

    #[tokio::test]
    async fn redis_backed_ports_count_operations_with_outcome_and_latency() {
        let m = metrics();
        let cache = InstrumentedCache::new(Arc::new(BrokenRedisCache), m.clone());
        assert!(cache.get("stats:u1").await.is_err());
        cache.ping().await.unwrap();
        assert_eq!(cache.backend(), "redis");

        let text = m.render();
        for expected in [
            r#"questpath_redis_operations_total{operation="get",outcome="error",port="cache"} 1"#,
            r#"questpath_redis_operations_total{operation="ping",outcome="ok",port="cache"} 1"#,
            r#"questpath_redis_operation_duration_seconds_count{operation="get",port="cache"} 1"#,
            r#"questpath_cache_requests_total{cache="stats",result="error"} 1"#,
        ] {
            assert!(text.contains(expected), "missing {expected}:\n{text}");
        }
    }

    #[tokio::test]
    async fn instrument_wraps_every_port_and_keeps_backend_names() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(EmbeddedStore::open(dir.path()).await.unwrap());
        let m = metrics();
        let backends = instrument(Backends::in_process(store), &m);
        let checks = backends.check().await;
        assert!(checks.iter().all(|c| c.ok), "{checks:?}");
        assert_eq!(checks[0].backend, "embedded");
        assert!(
            m.render()
                .contains(r#"questpath_store_operations_total{operation="ping",outcome="ok"} 1"#)
        );
    }

    #[test]
    fn cache_names_are_bounded_prefixes() {
        assert_eq!(cache_name("roadmap:0190-abc"), "roadmap");
        assert_eq!(cache_name("ws-ticket:ab12"), "ws-ticket");
        assert_eq!(cache_name("legacy-quiz:u:l"), "legacy-quiz");
        assert_eq!(cache_name("no-colon-at-all"), "other");
        assert_eq!(cache_name("User@Example.org:x"), "other");
        assert_eq!(cache_name(":x"), "other");
        assert_eq!(cache_name(&format!("{}:x", "a".repeat(40))), "other");
    }
}
