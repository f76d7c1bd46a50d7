//! Domain events to `questpath.v1` frames: the one place where what the core says
//! becomes what the wire carries.

use questpath_actors::events::{
    AnswerJudged, BoardTop, DailyGoalReached, Notice, NotificationCreated, QuestionOpened,
    QuizFinished, RankChanged, RoomEvent, StreakAtRisk, StreakUpdated, XpGranted,
};

use super::protocol::ServerMessage;

/// The frame that carries `notice`.
pub fn frame(notice: Notice) -> ServerMessage {
    match notice {
        Notice::Done { re } => ServerMessage::Pong { re },
        Notice::Refused { re, code, message } => ServerMessage::Error { re, code, message },
        Notice::QuestionOpened(q) => question(q),
        Notice::AnswerJudged(a) => feedback(a),
        Notice::QuizFinished(r) => result(r),
        Notice::JobProgress(job) => ServerMessage::JobStatus { job },
        Notice::XpGranted(XpGranted {
            amount,
            total_xp,
            player_level,
        }) => ServerMessage::XpGranted {
            amount,
            total_xp,
            player_level,
        },
        Notice::RankChanged(rank) => rank_frame(rank),
        Notice::BoardTop(top) => top_frame(top),
        Notice::Room(event) => room_seat(event),
        Notice::Notification(NotificationCreated {
            notification,
            unread,
        }) => ServerMessage::Notification {
            notification,
            unread,
        },
        Notice::LeagueStandings(l) => ServerMessage::LeagueStandings {
            week: l.week,
            tier: l.tier,
            cohort: l.cohort,
            ends_at: l.ends_at,
            promotion_ranks: l.promotion_ranks,
            demotion_ranks: l.demotion_ranks,
            standings: l.standings,
        },
        Notice::StreakUpdated(e) => streak_updated(e),
        Notice::DailyGoalReached(e) => goal_reached(e),
        Notice::StreakAtRisk(e) => at_risk(e),
    }
}

// ---- streaks (issue 18) ----

fn streak_updated(e: StreakUpdated) -> ServerMessage {
    ServerMessage::StreakUpdated {
        streak: e.streak,
        longest: e.longest,
        freezes: e.freezes,
        today: e.today,
        today_xp: e.today_xp,
        daily_goal: e.daily_goal,
        goal_reached: e.goal_reached,
    }
}

fn goal_reached(e: DailyGoalReached) -> ServerMessage {
    ServerMessage::DailyGoalReached {
        date: e.date,
        xp: e.xp,
        daily_goal: e.daily_goal,
        streak: e.streak,
    }
}

fn at_risk(e: StreakAtRisk) -> ServerMessage {
    ServerMessage::StreakAtRisk {
        streak: e.streak,
        local_date: e.local_date,
        today_xp: e.today_xp,
        daily_goal: e.daily_goal,
        freezes: e.freezes,
    }
}

fn question(q: QuestionOpened) -> ServerMessage {
    ServerMessage::QuizQuestion {
        re: q.re,
        quiz_id: q.quiz_id,
        level_id: q.level_id,
        position: q.position,
        total: q.total,
        question: q.question,
        options: q.options,
        remaining_ms: q.remaining_ms,
        time_limit_ms: q.time_limit_ms,
    }
}

fn feedback(a: AnswerJudged) -> ServerMessage {
    ServerMessage::QuizFeedback {
        re: a.re,
        quiz_id: a.quiz_id,
        position: a.position,
        correct: a.correct,
        correct_option: a.correct_option,
        explanation: a.explanation,
        timed_out: a.timed_out,
    }
}

fn result(r: QuizFinished) -> ServerMessage {
    ServerMessage::QuizResult {
        quiz_id: r.quiz_id,
        level_id: r.level_id,
        correct: r.correct,
        total: r.total,
        score: r.score,
        passed: r.passed,
        xp_earned: r.xp_earned,
        total_xp: r.total_xp,
        player_level: r.player_level,
        level_up: r.level_up,
        next_level_unlocked: r.next_level_unlocked,
    }
}

fn rank_frame(r: RankChanged) -> ServerMessage {
    ServerMessage::LeaderboardRank {
        board: r.board,
        period: r.period,
        rank: r.rank,
        previous_rank: r.previous_rank,
        score: r.score,
        next_reset: r.next_reset,
    }
}

fn top_frame(t: BoardTop) -> ServerMessage {
    ServerMessage::LeaderboardTop {
        re: t.re,
        board: t.board,
        period: t.period,
        entries: t.entries,
        total: t.total,
        next_reset: t.next_reset,
    }
}

/// Frames about the room and a player's seat in it; question events go to
/// [`room_question`] (and its other events come back here).
fn room_seat(event: RoomEvent) -> ServerMessage {
    match event {
        RoomEvent::Joined { re, room } => ServerMessage::RoomJoined { re, room },
        RoomEvent::State { re, room } => ServerMessage::RoomStateView { re, room },
        RoomEvent::Lobby { players } => ServerMessage::RoomLobby { players },
        RoomEvent::Roster {
            joined,
            left,
            players,
        } => ServerMessage::RoomRoster {
            joined,
            left,
            players,
        },
        RoomEvent::Kicked { room_id } => ServerMessage::RoomKicked { room_id },
        RoomEvent::Ended {
            room_id,
            reason,
            podium,
            players,
            results_saved,
        } => ServerMessage::RoomEnded {
            room_id,
            reason,
            podium,
            players,
            results_saved,
        },
        RoomEvent::Final {
            rank,
            score,
            correct,
            answered,
            xp,
        } => ServerMessage::RoomFinal {
            rank,
            score,
            correct,
            answered,
            xp,
        },
        question => room_question(question),
    }
}

/// Frames about the open question and its outcome.
fn room_question(event: RoomEvent) -> ServerMessage {
    match event {
        RoomEvent::QuestionOpened(view) => ServerMessage::RoomQuestion(view),
        RoomEvent::AnswerReceived { re, question } => ServerMessage::RoomAnswerAck { re, question },
        RoomEvent::Answered {
            question,
            answered,
            expected,
        } => ServerMessage::RoomAnswered {
            question,
            answered,
            expected,
        },
        RoomEvent::Paused {
            question,
            remaining_ms,
        } => ServerMessage::RoomPaused {
            question,
            remaining_ms,
        },
        RoomEvent::Resumed {
            question,
            remaining_ms,
        } => ServerMessage::RoomResumed {
            question,
            remaining_ms,
        },
        RoomEvent::QuestionClosed {
            question,
            correct_option,
            explanation,
            counts,
            answered,
            skipped,
            scoreboard,
            players,
        } => ServerMessage::RoomQuestionClosed {
            question,
            correct_option,
            explanation,
            counts,
            answered,
            skipped,
            scoreboard,
            players,
        },
        RoomEvent::YourResult {
            question,
            answered,
            correct,
            points,
            streak_bonus,
            streak,
            score,
            rank,
            previous_rank,
        } => ServerMessage::RoomYourResult {
            question,
            answered,
            correct,
            points,
            streak_bonus,
            streak,
            score,
            rank,
            previous_rank,
        },
        seat => room_seat(seat),
    }
}

/// The `type` of the frame that carries `notice` (the `type` label of sent frames),
/// without building the frame.
pub fn kind(notice: &Notice) -> &'static str {
    match notice {
        Notice::Done { .. } => "pong",
        Notice::Refused { .. } => "error",
        Notice::QuestionOpened(_) => "quiz.question",
        Notice::AnswerJudged(_) => "quiz.feedback",
        Notice::QuizFinished(_) => "quiz.result",
        Notice::JobProgress(_) => "job.status",
        Notice::XpGranted(_) => "xp.granted",
        Notice::RankChanged(_) => "leaderboard.rank",
        Notice::BoardTop(_) => "leaderboard.top",
        Notice::Notification(_) => "notification",
        Notice::LeagueStandings(_) => "league.standings",
        Notice::StreakUpdated(_) => "streak.updated",
        Notice::DailyGoalReached(_) => "daily_goal.reached",
        Notice::StreakAtRisk(_) => "streak.at_risk",
        Notice::Room(event) => match event {
            RoomEvent::Joined { .. } => "room.joined",
            RoomEvent::State { .. } => "room.state",
            RoomEvent::Lobby { .. } => "room.lobby",
            RoomEvent::Roster { .. } => "room.roster",
            RoomEvent::QuestionOpened(_) => "room.question",
            RoomEvent::AnswerReceived { .. } => "room.answer_ack",
            RoomEvent::Answered { .. } => "room.answered",
            RoomEvent::Paused { .. } => "room.paused",
            RoomEvent::Resumed { .. } => "room.resumed",
            RoomEvent::QuestionClosed { .. } => "room.question_closed",
            RoomEvent::YourResult { .. } => "room.your_result",
            RoomEvent::Kicked { .. } => "room.kicked",
            RoomEvent::Ended { .. } => "room.ended",
            RoomEvent::Final { .. } => "room.final",
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kind_of_a_notice_is_the_type_of_its_frame() {
        let notices = [
            Notice::Done { re: None },
            Notice::refused(None, "x", "y"),
            Notice::JobProgress(serde_json::json!({})),
            Notice::Room(RoomEvent::Lobby { players: 1 }),
            Notice::Room(RoomEvent::Kicked {
                room_id: uuid::Uuid::nil(),
            }),
            Notice::Room(RoomEvent::Paused {
                question: 0,
                remaining_ms: 1,
            }),
            Notice::StreakUpdated(StreakUpdated {
                streak: 1,
                longest: 1,
                freezes: 0,
                today: chrono::NaiveDate::MIN,
                today_xp: 20,
                daily_goal: 20,
                goal_reached: true,
            }),
            Notice::DailyGoalReached(DailyGoalReached {
                date: chrono::NaiveDate::MIN,
                xp: 20,
                daily_goal: 20,
                streak: 1,
            }),
            Notice::StreakAtRisk(StreakAtRisk {
                streak: 3,
                local_date: chrono::NaiveDate::MIN,
                today_xp: 0,
                daily_goal: 20,
                freezes: 1,
            }),
        ];
        for notice in notices {
            assert_eq!(kind(&notice), frame(notice.clone()).kind());
        }
    }
}
