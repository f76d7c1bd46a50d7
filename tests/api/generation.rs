//! Roadmap generation failures and recovery: a failing LLM, retries, and a job whose
//! worker died.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use actix_web::{HttpResponse, web};
use async_trait::async_trait;
use questpath::adapters::catalog::CatalogGenerator;
use questpath::adapters::embedded::{
    EmbeddedStore, InProcessBus, InProcessCache, InProcessJobQueue,
};
use questpath::adapters::redis::Redis;
use questpath::domain::roadmap::GeneratedRoadmap;
use questpath::goals::QUEUE;
use questpath::goals::service::GoalService;
use questpath::goals::worker::{Outcome, Worker};
use questpath::ports::{GenerateError, JobQueue, JobStatus, RoadmapGenerator, Store};
use serde_json::{Value, json};

use questpath_test_support::{StubServer, TestUser, redis_settings, spawn_app_with};

/// An OpenAI-compatible server that rejects every key.
async fn rejecting_llm() -> String {
    let server = StubServer::start(|routes| {
        routes.default_service(web::to(|| async {
            HttpResponse::Unauthorized()
                .json(json!({"error": {"message": "Incorrect API key provided"}}))
        }));
    });
    server.url("/v1")
}

#[actix_web::test]
async fn a_failing_llm_leaves_a_failed_job_with_a_reason_and_no_goal() {
    let llm = rejecting_llm().await;
    let app = spawn_app_with(
        &[
            ("QUESTPATH_LLM_BASE_URL", &llm),
            ("QUESTPATH_LLM_API_KEY", "sk-wrong"),
        ],
        |b| b,
    )
    .await;
    let token = app.register(&TestUser::generate()).await.access;

    let created: Value = app
        .call(
            reqwest::Method::POST,
            "/api/v1/goals",
            &token,
            Some(&json!({"description": "Learn web development"})),
        )
        .await
        .json()
        .await
        .unwrap();
    let job = app
        .wait_job(&token, created["job"]["id"].as_str().unwrap())
        .await;
    let goals: Value = app
        .get_bearer("/api/v1/goals", &token)
        .await
        .json()
        .await
        .unwrap();

    assert_eq!(job["status"], "failed");
    let reason = job["reason"].as_str().unwrap();
    assert!(reason.contains("rejected"), "{reason}");
    assert!(!reason.contains("sk-wrong"), "the key never shows");
    assert_eq!(job["goal_id"], Value::Null);
    assert_eq!(goals["items"], json!([]), "nothing half-written");
}

/// A generator that fails with invalid output a number of times, then uses the catalog.
struct Flaky {
    failures_left: AtomicU32,
    catalog: CatalogGenerator,
}

#[async_trait]
impl RoadmapGenerator for Flaky {
    fn name(&self) -> &'static str {
        "flaky"
    }
    async fn generate(&self, goal: &str) -> Result<GeneratedRoadmap, GenerateError> {
        if self
            .failures_left
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            return Err(GenerateError::Invalid("levels missing".into()));
        }
        self.catalog.generate(goal).await
    }
}

fn worker(
    store: Arc<dyn Store>,
    queue: Arc<dyn JobQueue>,
    generator: Arc<dyn RoadmapGenerator>,
    name: &str,
) -> Worker {
    Worker {
        store,
        queue,
        bus: Arc::new(InProcessBus::new()),
        cache: Arc::new(InProcessCache::new()),
        generator,
        consumer: name.to_string(),
        metrics: None,
    }
}

/// Runs the worker until it reports something other than idle (10 s at most).
async fn next_outcome(worker: &Worker) -> Outcome {
    let started = std::time::Instant::now();
    loop {
        match worker.try_execute().await.expect("worker step") {
            Outcome::Idle => assert!(
                started.elapsed() < Duration::from_secs(10),
                "no job handled"
            ),
            outcome => return outcome,
        }
    }
}

#[actix_web::test]
async fn invalid_output_is_retried_and_then_reported_as_failed() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(EmbeddedStore::open(dir.path()).await.unwrap());
    let queue: Arc<dyn JobQueue> = Arc::new(InProcessJobQueue::new().with_max_attempts(2));
    let goals = GoalService::new(
        store.clone(),
        Arc::new(InProcessCache::new()),
        queue.clone(),
    );
    let generator = Arc::new(Flaky {
        failures_left: AtomicU32::new(u32::MAX),
        catalog: CatalogGenerator::load().unwrap(),
    });
    let worker = worker(store.clone(), queue, generator, "w1");
    let user = uuid::Uuid::now_v7();

    let job = goals.create(user, "Learn web development").await.unwrap();
    let first = next_outcome(&worker).await;
    let queued = goals.job(user, job.id).await.unwrap();
    let second = next_outcome(&worker).await;
    let failed = goals.job(user, job.id).await.unwrap();

    assert!(matches!(first, Outcome::Retrying(..)), "{first:?}");
    assert_eq!(queued.status, JobStatus::Queued);
    assert!(queued.reason.unwrap().contains("retrying"));
    assert!(matches!(second, Outcome::Failed(..)), "{second:?}");
    assert_eq!(failed.status, JobStatus::Failed);
    assert!(failed.reason.unwrap().contains("levels missing"));
    assert_eq!(failed.attempts, 2);
    assert!(store.goal(job.goal_id).await.unwrap().is_none());
}

#[actix_web::test]
async fn a_job_whose_worker_died_is_finished_by_another_worker() {
    let settings = redis_settings(&format!("gen_{}:", uuid::Uuid::new_v4().simple()));
    let redis = Redis::connect(&settings).await.unwrap();
    let queue: Arc<dyn JobQueue> = Arc::new(
        redis
            .job_queue()
            .with_visibility_timeout(Duration::from_millis(500)),
    );
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(EmbeddedStore::open(dir.path()).await.unwrap());
    let goals = GoalService::new(
        store.clone(),
        Arc::new(InProcessCache::new()),
        queue.clone(),
    );
    let user = uuid::Uuid::now_v7();
    let job = goals.create(user, "Master TypeScript").await.unwrap();

    // A worker claims the job and dies without finishing or acknowledging it.
    let held = queue
        .claim(QUEUE, "dead-worker", Duration::from_secs(2))
        .await
        .unwrap();
    assert!(held.is_some(), "the dead worker held the job");
    let survivor = worker(
        store.clone(),
        queue.clone(),
        Arc::new(CatalogGenerator::load().unwrap()),
        "survivor",
    );
    let outcome = next_outcome(&survivor).await;
    let done = goals.job(user, job.id).await.unwrap();

    assert_eq!(outcome, Outcome::Done(job.id));
    assert_eq!(done.status, JobStatus::Done);
    assert_eq!(done.attempts, 2, "the reclaim counts as a second attempt");
    let goal = store.goal(job.goal_id).await.unwrap().expect("goal saved");
    assert_eq!(goal.user_id, user);
    assert_eq!(queue.depth(QUEUE).await.unwrap(), 0);
    redis.shutdown().await;
}
