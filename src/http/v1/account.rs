//! A learner's own data: `GET /api/v1/me/export` (everything held about them, as a JSON
//! file) and `DELETE /api/v1/me` (the account, after they prove they are there). The
//! data is gathered and the account deleted by the core (`questpath_actors::account`);
//! this file is the document's shape and the proof of presence.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::auth::service::REFRESH_TTL;
use crate::http::client_ip;
use crate::http::error::ApiError;
use crate::http::extractor::AuthUser;
use crate::http::json::{from_slice, is_json, read_body};
use crate::http::openapi::{BearerErrors, Forbidden, TooManyRequests, Unprocessable};
use crate::http::v1::quizzes::SavedQuiz;
use crate::state::AppState;
use questpath_actors::account::AccountData;
use questpath_actors::domain::roadmap::Difficulty;
use questpath_actors::events::NotificationView;
use questpath_actors::ports::{GoalStatus, JobStatus, LevelStatus};
use questpath_actors::rules::xp::player_level;

/// The `format` of the export document: its shape's name and version. A change that
/// removes or renames a field gets a new version.
pub const EXPORT_FORMAT: &str = "questpath-export/1";

/// Everything QuestPath holds about the signed-in learner, read at `exported_at`.
/// Other learners appear only as ranks and scores, never by name or id.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct AccountExport {
    /// The document's shape and version: `questpath-export/1`.
    #[schema(example = "questpath-export/1")]
    format: &'static str,
    exported_at: DateTime<Utc>,
    profile: ExportProfile,
    /// Newest first.
    goals: Vec<ExportGoal>,
    /// Roadmap generations asked for, newest first.
    generation_jobs: Vec<ExportJob>,
    xp: ExportXp,
    leaderboards: ExportBoards,
    /// League weeks played, newest first.
    leagues: Vec<ExportLeagueWeek>,
    rooms: ExportRooms,
    /// Saved quizzes, newest first.
    quizzes: Vec<SavedQuiz>,
    /// Signed-in devices (sessions not expired); never a token.
    sessions: Vec<ExportSession>,
    /// In-app notifications kept (the last 200, 90 days at most), newest first.
    notifications: Vec<NotificationView>,
    /// Day settings and streak; `null` when nothing was ever recorded.
    streak: Option<ExportStreak>,
    email: ExportEmail,
}

/// The learner's day settings, streak and recent days.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct ExportStreak {
    time_zone: String,
    daily_goal: u32,
    current: u32,
    longest: u32,
    freezes: u32,
    /// Zones in effect over the recent days, oldest first.
    time_zones: Vec<ExportZone>,
    /// The local days of the last five weeks that had XP, oldest first.
    days: Vec<ExportStreakDay>,
    /// The last local date the learner was told their streak was at risk.
    #[schema(value_type = Option<String>, format = Date)]
    at_risk_notified: Option<chrono::NaiveDate>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct ExportZone {
    since: DateTime<Utc>,
    time_zone: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct ExportStreakDay {
    #[schema(value_type = String, format = Date)]
    date: chrono::NaiveDate,
    xp: i64,
    reached: bool,
}

impl ExportStreak {
    fn of(record: questpath_actors::ports::store::StreakRecord, now: DateTime<Utc>) -> Self {
        let view = record.view(now);
        ExportStreak {
            time_zone: record.time_zone,
            daily_goal: record.daily_goal,
            current: view.streak,
            longest: view.longest,
            freezes: view.freezes,
            time_zones: record
                .zones
                .into_iter()
                .map(|z| ExportZone {
                    since: z.since,
                    time_zone: z.time_zone,
                })
                .collect(),
            days: record
                .days
                .into_iter()
                .map(|(date, day)| ExportStreakDay {
                    date,
                    xp: day.xp,
                    reached: day.reached,
                })
                .collect(),
            at_risk_notified: record.at_risk_sent,
        }
    }
}

/// Email settings (outstanding verification and reset links are secrets: not exported).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct ExportEmail {
    /// The address verified, and when.
    #[schema(format = Email)]
    verified_email: Option<String>,
    verified_at: Option<DateTime<Utc>>,
    streak_reminders: bool,
    weekly_summary: bool,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct ExportProfile {
    id: Uuid,
    #[schema(format = Email)]
    email: String,
    display_name: Option<String>,
    picture: Option<String>,
    created_at: DateTime<Utc>,
    /// Whether the account has a password (its hash is never exported).
    has_password: bool,
    /// Google accounts linked (their `sub` identifiers).
    google_accounts: Vec<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct ExportGoal {
    id: Uuid,
    title: String,
    /// The learner's own words.
    description: String,
    category: String,
    difficulty: Difficulty,
    status: GoalStatus,
    roadmap_name: String,
    created_at: DateTime<Utc>,
    /// In roadmap order.
    levels: Vec<ExportLevel>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct ExportLevel {
    id: Uuid,
    /// 1-based position in the roadmap.
    order: u32,
    title: String,
    description: String,
    xp_reward: u32,
    status: LevelStatus,
    topics: Vec<ExportTopic>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct ExportTopic {
    name: String,
    explanation: String,
    completed: bool,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct ExportJob {
    id: Uuid,
    /// The goal it made (or makes).
    goal_id: Uuid,
    description: String,
    status: JobStatus,
    /// Why it failed, when it did.
    reason: Option<String>,
    attempts: u32,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct ExportXp {
    /// The sum of the ledger.
    total: i64,
    /// Player level of `total`.
    level: u32,
    /// Every grant, in grant id order.
    ledger: Vec<ExportGrant>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct ExportGrant {
    /// What the grant was for (`level:<id>:first_pass`, `room:<room>:<player>`, ...).
    grant_id: String,
    amount: i64,
    /// `level_first_pass`, `level_repass` or `room`.
    source: String,
    created_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct ExportBoards {
    /// Entries on the boards kept live: all-time and the recent weeks.
    current: Vec<ExportStanding>,
    /// Final standings on past weeks, kept in the archive; newest week first.
    archived: Vec<ExportStanding>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct ExportStanding {
    /// `alltime` or `weekly`.
    board: &'static str,
    /// The ISO week of a weekly board (`2026-W47`).
    period: Option<String>,
    rank: u64,
    score: i64,
    reached_at: DateTime<Utc>,
}

/// A league week the learner played: their cohort, and its result once decided (the
/// other learners of the cohort are not exported).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct ExportLeagueWeek {
    #[schema(example = "2026-W47")]
    week: String,
    tier: questpath_actors::domain::Tier,
    /// The cohort's number within its tier and week.
    cohort: u32,
    /// When the week's first XP placed the learner.
    placed_at: DateTime<Utc>,
    /// Null until the week is decided.
    tier_after: Option<questpath_actors::domain::Tier>,
    rank: Option<u32>,
    xp: Option<i64>,
    cohort_size: Option<u32>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct ExportRooms {
    /// Rooms played signed in, newest first: the learner's own line of each.
    played: Vec<ExportRoomPlayed>,
    /// Rooms hosted, most recently ended first (the players' lines are theirs).
    hosted: Vec<ExportRoomHosted>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct ExportRoomPlayed {
    room_id: Uuid,
    /// The join code the room had.
    code: String,
    title: String,
    ended_at: DateTime<Utc>,
    end_reason: String,
    /// Players in the room.
    players: u32,
    /// The name the learner played under.
    name: String,
    rank: u64,
    score: u64,
    correct: u32,
    answered: u32,
    best_streak: u32,
    /// XP the game granted.
    xp: i64,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct ExportRoomHosted {
    room_id: Uuid,
    code: String,
    title: String,
    created_at: DateTime<Utc>,
    ended_at: DateTime<Utc>,
    end_reason: String,
    players: u32,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct ExportSession {
    /// The session (refresh-token family) id.
    id: Uuid,
    /// The sign-in that started it.
    signed_in_at: DateTime<Utc>,
    /// Its last refresh (or the sign-in).
    last_used_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    /// Signed out (or revoked after a stolen token was used).
    revoked: bool,
}

impl AccountExport {
    fn of(data: AccountData, now: DateTime<Utc>) -> Self {
        let total: i64 = data.xp.iter().map(|e| e.amount).sum();
        let user = data.user;
        AccountExport {
            format: EXPORT_FORMAT,
            exported_at: now,
            profile: ExportProfile {
                id: user.id,
                email: user.email,
                display_name: user.display_name,
                picture: user.picture,
                created_at: user.created_at,
                has_password: data.has_password,
                google_accounts: data.google_links,
            },
            goals: data
                .goals
                .into_iter()
                .map(|g| ExportGoal {
                    id: g.goal.id,
                    title: g.goal.title,
                    description: g.goal.description,
                    category: g.goal.category,
                    difficulty: g.goal.difficulty,
                    status: g.goal.status,
                    roadmap_name: g.goal.roadmap_name,
                    created_at: g.goal.created_at,
                    levels: g
                        .levels
                        .into_iter()
                        .map(|l| ExportLevel {
                            id: l.id,
                            order: l.order,
                            title: l.title,
                            description: l.description,
                            xp_reward: l.xp_reward,
                            status: l.status,
                            topics: l
                                .topics
                                .into_iter()
                                .map(|t| ExportTopic {
                                    name: t.name,
                                    explanation: t.explanation,
                                    completed: t.completed,
                                })
                                .collect(),
                        })
                        .collect(),
                })
                .collect(),
            generation_jobs: data
                .jobs
                .into_iter()
                .map(|j| ExportJob {
                    id: j.id,
                    goal_id: j.goal_id,
                    description: j.description,
                    status: j.status,
                    reason: j.reason,
                    attempts: j.attempts,
                    created_at: j.created_at,
                    updated_at: j.updated_at,
                })
                .collect(),
            xp: ExportXp {
                total,
                level: player_level(total),
                ledger: data
                    .xp
                    .into_iter()
                    .map(|e| ExportGrant {
                        grant_id: e.grant_id,
                        amount: e.amount,
                        source: e.source,
                        created_at: e.created_at,
                    })
                    .collect(),
            },
            leaderboards: ExportBoards {
                current: data
                    .boards
                    .into_iter()
                    .map(|(board, entry)| ExportStanding {
                        board: board.kind(),
                        period: board.period(),
                        rank: entry.rank,
                        score: entry.score,
                        reached_at: entry.reached_at,
                    })
                    .collect(),
                archived: data
                    .archived
                    .into_iter()
                    .map(|(period, entry)| ExportStanding {
                        board: questpath_actors::leaderboard::WEEKLY,
                        period: Some(period),
                        rank: entry.rank,
                        score: entry.score,
                        reached_at: entry.reached_at,
                    })
                    .collect(),
            },
            leagues: data
                .leagues
                .into_iter()
                .map(|m| ExportLeagueWeek {
                    week: m.cohort.week,
                    tier: m.cohort.tier,
                    cohort: m.cohort.number,
                    placed_at: m.placed_at,
                    tier_after: m.result.map(|r| r.tier_after),
                    rank: m.result.map(|r| r.rank),
                    xp: m.result.map(|r| r.xp),
                    cohort_size: m.result.map(|r| r.cohort_size),
                })
                .collect(),
            rooms: ExportRooms {
                played: data
                    .rooms_played
                    .into_iter()
                    .map(|r| ExportRoomPlayed {
                        room_id: r.room.room_id,
                        code: r.room.code,
                        title: r.room.title,
                        ended_at: r.room.ended_at,
                        end_reason: r.room.end_reason,
                        players: r.room.players,
                        name: r.place.name,
                        rank: r.place.rank,
                        score: r.place.score,
                        correct: r.place.correct,
                        answered: r.place.answered,
                        best_streak: r.place.best_streak,
                        xp: r.place.xp,
                    })
                    .collect(),
                hosted: data
                    .rooms_hosted
                    .into_iter()
                    .map(|r| ExportRoomHosted {
                        room_id: r.room_id,
                        code: r.code,
                        title: r.title,
                        created_at: r.created_at,
                        ended_at: r.ended_at,
                        end_reason: r.end_reason,
                        players: r.players,
                    })
                    .collect(),
            },
            quizzes: data.quizzes.iter().map(SavedQuiz::from).collect(),
            sessions: data
                .sessions
                .into_iter()
                .map(|f| ExportSession {
                    id: f.family_id,
                    signed_in_at: f.created_at,
                    // Every refresh pushes the expiry to then + REFRESH_TTL.
                    last_used_at: (f.expires_at - REFRESH_TTL).max(f.created_at),
                    expires_at: f.expires_at,
                    revoked: f.revoked,
                })
                .collect(),
            notifications: data.notifications,
            streak: data.streak.map(|r| ExportStreak::of(r, now)),
            email: ExportEmail {
                verified_email: data.mail.verified_email,
                verified_at: data.mail.verified_at,
                streak_reminders: data.mail.streak_reminders,
                weekly_summary: data.mail.weekly_summary,
            },
        }
    }
}

/// Everything held about the signed-in learner, as a JSON file to keep: profile, goals
/// with their levels, topics and progress, roadmap generations, the XP ledger, places
/// on the boards (live and archived weeks), rooms played (the learner's own line) and
/// hosted, saved quizzes, signed-in sessions and notifications. Never a password hash or
/// a token.
#[utoipa::path(
    get,
    path = "/api/v1/me/export",
    tag = "me",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The learner's data, as an attachment", body = AccountExport,
            headers(("Content-Disposition" = String, description = "`attachment; filename=\"questpath-export-<date>.json\"`"))),
        BearerErrors,
    )
)]
pub(crate) async fn export(
    state: web::Data<AppState>,
    user: AuthUser,
) -> Result<HttpResponse, ApiError> {
    let data = state.accounts.export(&user.0).await?;
    // The server's clock (a test's manual one), which also decides the streak's today.
    let now = state.streaks.clock().now();
    let filename = format!("questpath-export-{}.json", now.format("%Y-%m-%d"));
    Ok(HttpResponse::Ok()
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{filename}\""),
        ))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(AccountExport::of(data, now)))
}

/// Proof that the learner is at the keyboard.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct DeleteAccount {
    /// The current password; required when the account has one. An account without a
    /// password (Google sign-in only) needs a sign-in within the last 5 minutes instead,
    /// and may send no body.
    #[schema(example = "correct horse battery staple")]
    password: Option<String>,
}

/// Deletes the signed-in learner's account, for good. Needs proof of presence: the
/// current password (`{"password": ...}`) for an account that has one, else a sign-in
/// within the last 5 minutes. Removes the profile, email and Google links (the email may
/// sign up again), sessions (every device is signed out, open websockets close with
/// 4011), goals, roadmap generations, saved quizzes and notifications; the learner
/// leaves every board.
/// What others need stays, without the learner: the XP ledger's entries (anonymous, so
/// totals add up), their rank and score on archived weeks, and their place and score in
/// rooms they played (as "deleted player").
#[utoipa::path(
    delete,
    path = "/api/v1/me",
    tag = "me",
    security(("bearer" = [])),
    request_body(content = Option<DeleteAccount>, description = "The current password (accounts with one)"),
    responses(
        (status = 204, description = "The account is deleted"),
        (status = 400, response = crate::http::openapi::BadRequest),
        (status = 403, response = Forbidden),
        (status = 415, response = crate::http::openapi::UnsupportedMediaType),
        (status = 422, response = Unprocessable),
        (status = 429, response = TooManyRequests),
        BearerErrors,
    )
)]
pub(crate) async fn delete(
    state: web::Data<AppState>,
    user: AuthUser,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body = read_body(&req, payload.into_inner(), crate::http::json::LIMIT).await?;
    let proof: DeleteAccount = if body.iter().all(u8::is_ascii_whitespace) {
        DeleteAccount::default()
    } else if is_json(&req) {
        from_slice(&body)?
    } else {
        return Err(ApiError::new(
            actix_web::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "Content-Type must be application/json",
        ));
    };
    let AuthUser(user, signed_in_at) = user;
    state
        .auth
        .confirm_presence(
            &user,
            proof.password.as_deref(),
            signed_in_at,
            &client_ip(&req),
        )
        .await?;
    state.auth.forget_failures(&user.email).await?;
    state.accounts.delete(&user).await?;
    state.auth.forget_user(user.id).await;
    Ok(HttpResponse::NoContent().finish())
}
