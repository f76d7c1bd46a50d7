//! Wiring: binds the listener, builds the app with its state, and runs it.

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::{Server, ServerHandle};
use actix_web::middleware::from_fn;
use actix_web::{App, web};

use crate::adapters::catalog::CatalogGenerator;
use crate::auth::google::GoogleVerifier;
use crate::auth::service::AuthService;
use crate::auth::tokens::TokenKeys;
use crate::backends::{BackendError, Backends};
use crate::config::Settings;
use crate::goals::service::GoalService;
use crate::goals::worker::Worker;
use crate::metrics::Metrics;
use crate::state::{AppState, Realtime};
use crate::xp::XpService;
use actix::Actor;
use questpath_actors::notifications::Notifications;
use questpath_actors::ports::RoadmapGenerator;
use questpath_actors::session::registry::Registry;
use tokio_util::sync::CancellationToken;

/// The job queues of the server and the workers, named to the metrics (their series
/// exist from the start, and scrapes sample their depth).
pub const JOB_QUEUES: &[&str] = &[
    crate::goals::QUEUE,
    questpath_actors::room::grants::QUEUE,
    crate::mail::QUEUE,
    crate::engagement::QUEUE,
];

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Backend(#[from] BackendError),
    #[error("cannot listen on {address}: {source}")]
    Bind {
        address: String,
        source: std::io::Error,
    },
    #[error("signing key: {0}")]
    SigningKey(std::io::Error),
    #[error("google sign-in: {0}")]
    Google(crate::auth::google::GoogleError),
    #[error("roadmap generator: {0}")]
    Generator(String),
    #[error("metrics: {0}")]
    Metrics(#[from] prometheus::Error),
    #[error("mail: {0}")]
    Mail(questpath_actors::ports::MailError),
}

/// A bound, not yet running server.
pub struct Application {
    port: u16,
    server: Server,
    backends: Backends,
    workers: WorkerPool,
    /// Stops background tasks (XP recovery).
    background: CancellationToken,
    /// Closes websockets when the server drains.
    draining: CancellationToken,
    /// Rooms run here, handed over to other instances when the server drains.
    rooms: Arc<questpath_actors::room::Rooms>,
}

/// Background roadmap-generation workers, stopped with the server.
pub struct WorkerPool {
    stop: CancellationToken,
    handles: Vec<tokio::task::JoinHandle<()>>,
}

impl WorkerPool {
    /// Starts `count` workers over the backends (none when `count` is 0).
    pub fn start(
        settings: &Settings,
        backends: &Backends,
        count: usize,
    ) -> Result<Self, StartupError> {
        Self::start_observed(settings, backends, count, None)
    }

    /// As [`WorkerPool::start`], recording job outcomes and durations in `metrics`.
    pub fn start_observed(
        settings: &Settings,
        backends: &Backends,
        count: usize,
        metrics: Option<Arc<Metrics>>,
    ) -> Result<Self, StartupError> {
        let stop = CancellationToken::new();
        let mut handles = Vec::new();
        if count > 0 {
            let generator = roadmap_generator(settings)?;
            let instance = uuid::Uuid::new_v4().simple().to_string();
            for n in 0..count {
                let worker = Worker {
                    store: backends.store.clone(),
                    queue: backends.job_queue.clone(),
                    bus: backends.bus.clone(),
                    cache: backends.cache.clone(),
                    generator: generator.clone(),
                    consumer: format!("{}-{n}", &instance[..12]),
                    metrics: metrics.clone(),
                };
                handles.push(tokio::spawn(worker.run_until_stopped(stop.clone())));
            }
        }
        Ok(WorkerPool { stop, handles })
    }

    /// Stops the workers: a job in progress is abandoned and reclaimed later by
    /// another worker, never lost.
    pub async fn stop(self) {
        self.stop.cancel();
        for handle in self.handles {
            let _ = tokio::time::timeout(std::time::Duration::from_secs(5), handle).await;
        }
    }
}

/// SIGTERM or ctrl-c (SIGINT), listened for from this call on rather than from the
/// first poll: a process that serves before it waits (a worker's metrics listener) is
/// not killed by a SIGTERM that arrives in between.
pub fn stop_signal() -> impl std::future::Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let term = signal(SignalKind::terminate()).ok();
        let interrupt = signal(SignalKind::interrupt()).ok();
        async move {
            let term = async {
                match term {
                    Some(mut term) => {
                        term.recv().await;
                    }
                    None => std::future::pending().await,
                }
            };
            let interrupt = async {
                match interrupt {
                    Some(mut interrupt) => {
                        interrupt.recv().await;
                    }
                    None => {
                        let _ = tokio::signal::ctrl_c().await;
                    }
                }
            };
            tokio::select! {
                _ = term => {}
                _ = interrupt => {}
            }
        }
    }
    #[cfg(not(unix))]
    {
        async {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// The configured roadmap generator: an LLM when one is configured, else the catalog.
pub fn roadmap_generator(settings: &Settings) -> Result<Arc<dyn RoadmapGenerator>, StartupError> {
    match &settings.llm {
        Some(llm) => Ok(Arc::new(
            crate::adapters::openai::OpenAiRoadmapGenerator::new(llm)
                .map_err(|e| StartupError::Generator(e.to_string()))?,
        )),
        None => Ok(Arc::new(
            CatalogGenerator::load().map_err(|e| StartupError::Generator(e.to_string()))?,
        )),
    }
}

/// `questpath audit xp` run by this server (its in-process boards are only here), asked
/// through the embedded store's control socket.
fn xp_audit_handler(
    xp: &XpService,
    backends: &Backends,
) -> crate::adapters::embedded::control::XpAuditHandler {
    let (xp, store, port) = (
        xp.clone(),
        backends.store.clone(),
        backends.leaderboard.clone(),
    );
    Arc::new(move |repair| {
        let (xp, store, port) = (xp.clone(), store.clone(), port.clone());
        Box::pin(async move {
            questpath_actors::audit::audit_and_repair(
                &xp,
                store,
                Some(port),
                repair,
                chrono::Utc::now(),
            )
            .await
            .map_err(|e| e.to_string())
        })
    })
}

impl Application {
    /// Opens the configured backends and binds the listener.
    pub async fn build(settings: Settings) -> Result<Self, StartupError> {
        let backends = Backends::connect(&settings).await?;
        Self::build_with(settings, backends)
    }

    /// Binds the listener over already opened backends (tests inject their own).
    pub fn build_with(settings: Settings, backends: Backends) -> Result<Self, StartupError> {
        // Every port is timed and counted from here on: services get the decorators.
        let metrics = Arc::new(Metrics::new(JOB_QUEUES)?);
        let backends = backends.instrument(&metrics);
        let (listener, port) = bind(&settings)?;
        let mail = mail_service(&settings, &backends)?;
        let auth = auth_service(&settings, &backends)?
            .with_mail(mail.clone(), backends.rate_limiter.clone());
        let goals = GoalService::new(
            backends.store.clone(),
            backends.cache.clone(),
            backends.job_queue.clone(),
        );
        let workers = WorkerPool::start_observed(
            &settings,
            &backends,
            settings.generation_workers,
            Some(metrics.clone()),
        )?;
        let notifications = Notifications::new(backends.store.clone(), backends.bus.clone())
            .with_metrics(metrics.clone());
        let streaks = questpath_actors::streaks::Streaks::new(
            backends.store.clone(),
            backends.bus.clone(),
            backends.clock.clone(),
        )
        .with_metrics(metrics.clone());
        let xp = XpService::new(
            backends.store.clone(),
            backends.leaderboard.clone(),
            backends.bus.clone(),
        )
        .with_metrics(metrics.clone())
        .with_notifications(notifications.clone())
        .with_clock(backends.clock.clone())
        .with_streaks(streaks.clone())
        .with_stale_pending_after(settings.xp_pending_stale_after)
        .with_league_outcomes(Arc::new(crate::engagement::LeagueResultsQueue {
            queue: backends.job_queue.clone(),
        }));
        if let Some(embedded) = backends.embedded() {
            embedded.serve_xp_audit(xp_audit_handler(&xp, &backends));
        }
        let background = CancellationToken::new();
        // Tells learners whose evening came with their streak at risk (a notification,
        // and the reminder mail if they want it), every minute, one instance at a time
        // (the lease).
        tokio::spawn(streaks.clone().check_at_risk_until_stopped(
            backends.leaderboard.clone(),
            Arc::new(crate::engagement::TellAtRisk {
                notifications: notifications.clone(),
                mail: mail.clone(),
            }),
            settings.streak_check_every,
            background.clone(),
        ));
        // Tells each learner of a decided league week how it ended (queued by the
        // week's end, on any instance).
        tokio::spawn(
            crate::engagement::LeagueResultsWorker {
                queue: backends.job_queue.clone(),
                notifications: notifications.clone(),
                mail: mail.clone(),
                streaks: streaks.clone(),
                metrics: metrics.clone(),
                consumer: format!("league-results-{}", uuid::Uuid::new_v4().simple()),
            }
            .run_until_stopped(background.clone()),
        );
        // Completes XP grants a crash left half-applied, now and every minute.
        tokio::spawn(
            xp.clone()
                .recover_until_stopped(std::time::Duration::from_secs(60), background.clone()),
        );
        // Rebuilds lost league boards and decides each league week once it has ended.
        tokio::spawn(
            xp.leagues()
                .clone()
                .run_until_stopped(settings.league_check_every, background.clone()),
        );
        let realtime = start_realtime(
            &settings,
            &backends,
            &goals,
            &xp,
            &notifications,
            &metrics,
            &background,
        );
        let (draining, rooms) = (realtime.draining.clone(), realtime.rooms.clone());
        start_email_workers(&settings, &backends, &metrics, &background)?;
        let accounts = questpath_actors::account::Accounts::new(
            backends.store.clone(),
            backends.cache.clone(),
            backends.bus.clone(),
            xp.clone(),
            notifications.clone(),
        );
        let state = web::Data::new(AppState {
            accounts,
            notifications,
            settings: Arc::new(settings.clone()),
            backends: backends.clone(),
            metrics,
            auth,
            goals,
            realtime,
            xp,
            quizzes: crate::quizzes::service::QuizService::new(backends.store.clone()),
            hosted_rooms: crate::rooms::hosted::HostedRooms::new(backends.store.clone()),
            legacy_quizzes: crate::goals::legacy_quiz::LegacyQuizzes::new(backends.cache.clone()),
            streaks,
            mail,
            access_log: crate::telemetry::access_log::AccessLog::new(settings.access_log),
        });
        let server = http_server(state, &settings, listener)?;
        Ok(Application {
            port,
            server,
            backends,
            workers,
            background,
            draining,
            rooms,
        })
    }

    /// The port actually bound (useful with port 0).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A handle that stops the server, as SIGTERM does.
    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// Serves until SIGTERM, SIGINT or [`ServerHandle::stop`]: stops accepting, lets
    /// in-flight requests finish within the shutdown timeout, then closes the backends.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let handle = self.server.handle();
        let draining = self.draining.clone();
        let rooms = self.rooms.clone();
        let stop = stop_signal();
        let signals = tokio::spawn(async move {
            stop.await;
            tracing::info!(
                "shutdown requested: handing rooms over, closing websockets, finishing requests"
            );
            // Rooms first: their players reconnect elsewhere and find them saved.
            if tokio::time::timeout(std::time::Duration::from_secs(5), rooms.hand_over_all())
                .await
                .is_err()
            {
                tracing::warn!("rooms not all handed over within 5 s");
            }
            draining.cancel();
            handle.stop(true).await;
        });
        let result = self.server.await;
        signals.abort();
        self.draining.cancel();
        self.background.cancel();
        self.workers.stop().await;
        self.backends.shutdown().await;
        result
    }
}

/// Binds the configured address; the port actually bound (port 0 picks one).
fn bind(settings: &Settings) -> Result<(TcpListener, u16), StartupError> {
    let failed = |source| StartupError::Bind {
        address: settings.bind.to_string(),
        source,
    };
    let listener = TcpListener::bind(settings.bind).map_err(failed)?;
    let port = listener.local_addr().map_err(failed)?.port();
    Ok((listener, port))
}

/// Accounts and tokens, with Google sign-in when it is configured.
fn auth_service(settings: &Settings, backends: &Backends) -> Result<AuthService, StartupError> {
    let signing_key = crate::secrets::signing_key(settings).map_err(StartupError::SigningKey)?;
    let google = match &settings.google {
        Some(google) => Some(Arc::new(
            GoogleVerifier::new(google).map_err(StartupError::Google)?,
        )),
        None => None,
    };
    Ok(AuthService::new(
        backends.store.clone(),
        backends.cache.clone(),
        TokenKeys::new(&signing_key).with_access_ttl(
            chrono::Duration::from_std(settings.access_token_ttl)
                .unwrap_or(crate::auth::tokens::ACCESS_TTL),
        ),
        google,
    )
    .with_refresh_grace(chrono::Duration::from_std(settings.refresh_grace).unwrap_or_default()))
}

/// Queuing mail: links under the public URL, unsubscribe tokens signed with a key
/// derived from the signing key.
fn mail_service(
    settings: &Settings,
    backends: &Backends,
) -> Result<crate::mail::service::MailService, StartupError> {
    let signing_key = crate::secrets::signing_key(settings).map_err(StartupError::SigningKey)?;
    Ok(crate::mail::service::MailService::new(
        backends.store.clone(),
        backends.job_queue.clone(),
        backends.cache.clone(),
        crate::mail::links::Links::new(settings.email.public_url.clone()),
        crate::mail::unsubscribe::UnsubscribeKeys::derive(&signing_key),
    ))
}

/// The configured mailer: SMTP when a host is set, else the outbox folder.
pub fn mailer(
    settings: &Settings,
) -> Result<Arc<dyn questpath_actors::ports::Mailer>, StartupError> {
    let email = &settings.email;
    match &email.smtp {
        Some(smtp) => Ok(Arc::new(
            crate::adapters::mail::SmtpMailer::new(smtp, &email.from)
                .map_err(StartupError::Mail)?,
        )),
        None => {
            if settings.environment == crate::config::Environment::Production {
                tracing::warn!(outbox = %email.outbox.display(), "no SMTP server configured (QUESTPATH_SMTP_HOST): mails are written to the outbox, not sent");
            }
            Ok(Arc::new(
                crate::adapters::mail::OutboxMailer::new(&email.outbox, &email.from)
                    .map_err(StartupError::Mail)?,
            ))
        }
    }
}

/// The email workers (`QUESTPATH_EMAIL_WORKERS`), stopped with the background tasks.
fn start_email_workers(
    settings: &Settings,
    backends: &Backends,
    metrics: &Arc<Metrics>,
    background: &CancellationToken,
) -> Result<(), StartupError> {
    if settings.email.workers == 0 {
        return Ok(());
    }
    let mailer = mailer(settings)?;
    let instance = uuid::Uuid::new_v4().simple().to_string();
    for n in 0..settings.email.workers {
        let worker = crate::mail::worker::EmailWorker {
            store: backends.store.clone(),
            queue: backends.job_queue.clone(),
            cache: backends.cache.clone(),
            mailer: mailer.clone(),
            metrics: Some(metrics.clone()),
            consumer: format!("email-{}-{n}", &instance[..12]),
            retry_delay: settings.email.retry_delay,
        };
        tokio::spawn(worker.run_until_stopped(background.clone()));
    }
    Ok(())
}

/// Sessions (their registry), rooms and the worker that grants finished rooms' XP.
fn start_realtime(
    settings: &Settings,
    backends: &Backends,
    goals: &GoalService,
    xp: &XpService,
    notifications: &Notifications,
    metrics: &Arc<Metrics>,
    background: &CancellationToken,
) -> Arc<Realtime> {
    let deps = Arc::new(questpath_actors::session::Deps {
        store: backends.store.clone(),
        cache: backends.cache.clone(),
        bus: backends.bus.clone(),
        quiz_owners: backends.quiz_owners.clone(),
        goals: goals.clone(),
        xp: xp.clone(),
        settings: settings.realtime.session(),
        metrics: metrics.clone(),
    });
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2);
    let registry = Registry::new(deps, cores).start();
    let rooms = questpath_actors::room::Rooms::new(
        settings.rooms.clone(),
        questpath_actors::room::RoomDeps {
            store: backends.store.clone(),
            cache: backends.cache.clone(),
            bus: backends.bus.clone(),
            job_queue: backends.job_queue.clone(),
            xp: xp.clone(),
            notifications: notifications.clone(),
            metrics: metrics.clone(),
        },
        cores,
    );
    // Grants the XP of finished rooms (from this instance or one that died).
    tokio::spawn(
        crate::rooms::xp_jobs::RoomXpWorker {
            store: backends.store.clone(),
            queue: backends.job_queue.clone(),
            xp: xp.clone(),
            notifications: notifications.clone(),
            metrics: metrics.clone(),
            consumer: format!("room-xp-{}", rooms.instance_id),
        }
        .run_until_stopped(background.clone()),
    );
    Arc::new(Realtime {
        registry,
        settings: settings.realtime.clone(),
        draining: CancellationToken::new(),
        rooms,
        guests: crate::rooms::guests::Guests::new(backends.cache.clone()),
    })
}

/// The HTTP server over `listener`: routes and middleware (the server and its socket
/// options are in `http::server`).
fn http_server(
    state: web::Data<AppState>,
    settings: &Settings,
    listener: TcpListener,
) -> Result<actix_web::dev::Server, StartupError> {
    let app = move || {
        App::new()
            .app_data(state.clone())
            // Unknown paths 404, known paths with another method 405.
            .default_service(web::to(crate::http::fallback::not_found_or_not_allowed))
            // The last `wrap` is the outermost: observe sees every answer (CORS
            // refusals, 429s, 400s for API-Version) and security headers go on all.
            .wrap(from_fn(crate::http::versioning::negotiate))
            .wrap(crate::http::cors::cors(&state.settings))
            .wrap(from_fn(crate::http::cors::problem_on_rejection))
            .wrap(from_fn(crate::http::security_headers::add))
            .wrap(from_fn(crate::http::middleware::observe))
            .configure(crate::http::configure)
    };
    crate::http::server::serve(
        app,
        crate::http::server::ServerOptions {
            listener,
            workers: settings.workers,
            shutdown_timeout: settings.shutdown_timeout,
        },
    )
    .map_err(|source| StartupError::Bind {
        address: settings.bind.to_string(),
        source,
    })
}
