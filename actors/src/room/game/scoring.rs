//! Answers and scores: an answer checked and timed, a question closed and scored (with
//! streaks), everyone ranked, and the game's end with its results.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{
    AnswerRecord, EndReason, Game, OpenQuestion, Player, PlayerKind, PlayerResult, QuestionOutcome,
    Refusal, Results, RoomQuestion, SCOREBOARD_TOP, grace, refuse, scoring_name,
};
use crate::events::room::{RoomOptionCount, RoomPhase, RoomScoreRow};
use crate::events::{LETTERS, Notice, RoomEvent, codes};
use crate::room::event::{Event, Target};
use crate::rules::room::{
    BASE_POINTS, Standing, answer_points, rank_order, room_grant, streak_bonus,
};

/// What one player got for one question.
#[derive(Debug, Clone, Copy, Default)]
struct Outcome {
    answered: bool,
    correct: bool,
    points: u32,
    bonus: u32,
}

impl Game {
    /// Records an answer to the open question. `response` is the server-measured time
    /// since this player's socket got the question, when the edge knows it.
    pub fn answer(
        &mut self,
        id: Uuid,
        re: Option<String>,
        index: u32,
        option: &str,
        received_at: DateTime<Utc>,
        response: Option<Duration>,
    ) -> Result<Vec<Event>, Refusal> {
        let (choice, was_pending) = self.check_answer(id, index, option, received_at)?;
        let question = &self.config.questions[index as usize];
        let Some(open) = self.open.as_mut() else {
            return Err(refuse(codes::WRONG_PHASE, "no question is open"));
        };
        // Without a measured send time (rare: the question reached this socket in a
        // snapshot on another instance), count from the room's opening.
        let response =
            response.unwrap_or_else(|| (received_at - open.opened_at).to_std().unwrap_or_default());
        let correct = choice == question.answer as usize;
        let points = answer_points(
            self.config.scoring,
            correct,
            response,
            question.time_limit,
            BASE_POINTS * question.points,
        );
        // An eligible, connected player no longer waited for (an answer relayed from a
        // socket that has since dropped was not counted as pending).
        if was_pending {
            self.pending = self.pending.saturating_sub(1);
        }
        open.answers.insert(
            id,
            AnswerRecord {
                option: choice as u8,
                correct,
                points,
                response_ms: response.as_millis() as u64,
            },
        );
        self.answered_dirty = true;
        Ok(vec![Event::to(
            Target::Player(id),
            Notice::Room(RoomEvent::AnswerReceived {
                re,
                question: index,
            }),
        )])
    }

    /// Whether `id` may answer question `index` with `option` now: the option's index,
    /// and whether the player was waited for (connected); else the first refusal.
    fn check_answer(
        &self,
        id: Uuid,
        index: u32,
        option: &str,
        received_at: DateTime<Utc>,
    ) -> Result<(usize, bool), Refusal> {
        let Some(player) = self.players.get(&id).filter(|p| !p.left) else {
            return Err(refuse(codes::NOT_IN_ROOM, "you have no seat in this room"));
        };
        let Some(open) = self.open.as_ref() else {
            return Err(refuse(codes::WRONG_PHASE, "no question is open"));
        };
        if open.index != index {
            return Err(refuse(
                codes::WRONG_QUESTION,
                format!("question {index} is not the open one ({})", open.index),
            ));
        }
        if player.first_question > index {
            return Err(refuse(
                codes::JOINED_LATE,
                "you joined during this question: you play from the next one",
            ));
        }
        if open.paused.is_some() {
            return Err(refuse(codes::PAUSED, "the host paused the game"));
        }
        if open.answers.contains_key(&id) {
            return Err(refuse(codes::ALREADY_ANSWERED, "one answer per question"));
        }
        if received_at > open.deadline + grace() {
            return Err(refuse(codes::LATE_ANSWER, "time was up for this question"));
        }
        let options = self.config.questions[index as usize].options.len();
        let Some(choice) = LETTERS
            .iter()
            .take(options)
            .position(|l| l.eq_ignore_ascii_case(option))
        else {
            return Err(refuse(
                codes::INVALID_OPTION,
                format!("answer with one of A to {}", LETTERS[options - 1]),
            ));
        };
        Ok((choice, player.present()))
    }

    /// Whether every connected player who may answer has answered.
    pub fn everyone_answered(&self) -> bool {
        let Some(open) = &self.open else {
            return false;
        };
        if self.adopted_during == Some(open.index) {
            return self.players.values().all(|p| {
                p.left || p.first_question > open.index || open.answers.contains_key(&p.id)
            });
        }
        self.expected > 0 && self.pending == 0
    }

    /// Players who may answer the open question and are connected.
    pub fn expected_answers(&self) -> u32 {
        if self.open.is_some() {
            self.expected
        } else {
            0
        }
    }

    /// Closes the open question: scores it (unless skipped), ranks everyone, and tells
    /// each player their outcome.
    pub fn close_question(&mut self, skipped: bool) -> Result<Vec<Event>, Refusal> {
        let Some(open) = self.open.take() else {
            return Err(refuse(codes::WRONG_PHASE, "no question is open"));
        };
        self.phase = RoomPhase::Reveal;
        let question = self.config.questions[open.index as usize].clone();
        let mut counts = vec![0u32; question.options.len()];
        for answer in open.answers.values() {
            counts[answer.option as usize] += 1;
        }
        let outcomes = if skipped {
            HashMap::new()
        } else {
            self.score(&open, &question)
        };
        self.rerank();
        self.closed.push(QuestionOutcome {
            index: open.index,
            question: question.question.clone(),
            correct_option: LETTERS[question.answer as usize].into(),
            counts: counts.clone(),
            answered: open.answers.len() as u32,
            skipped,
        });
        let mut events = vec![Event::to(
            Target::All,
            Notice::Room(RoomEvent::QuestionClosed {
                question: open.index,
                correct_option: LETTERS[question.answer as usize].into(),
                explanation: question.explanation.clone(),
                counts: counts
                    .iter()
                    .enumerate()
                    .map(|(i, count)| RoomOptionCount {
                        option: LETTERS[i].into(),
                        count: *count,
                    })
                    .collect(),
                answered: open.answers.len() as u32,
                skipped,
                scoreboard: self.scoreboard.clone(),
                players: self.players.len() as u32,
            }),
        )];
        if !skipped {
            events.extend(self.your_results(open.index, &outcomes));
        }
        Ok(events)
    }

    /// Scores the closed question for every player who could answer it (streaks and
    /// their bonus included); what each of them got.
    fn score(&mut self, open: &OpenQuestion, question: &RoomQuestion) -> HashMap<Uuid, Outcome> {
        let mut outcomes = HashMap::new();
        for player in self.players.values_mut() {
            if player.first_question > open.index {
                continue;
            }
            let Some(answer) = open.answers.get(&player.id) else {
                player.streak = 0;
                outcomes.insert(player.id, Outcome::default());
                continue;
            };
            let mut record = *answer;
            player.answered += 1;
            let mut bonus = 0;
            if answer.correct {
                player.streak += 1;
                player.best_streak = player.best_streak.max(player.streak);
                player.correct += 1;
                player.correct_time_ms += answer.response_ms;
                if self.config.streak_bonus && question.points > 0 {
                    bonus = streak_bonus(player.streak);
                }
            } else {
                player.streak = 0;
            }
            record.points = answer.points + bonus;
            player.score += u64::from(record.points);
            player.answers[open.index as usize] = Some(record);
            let outcome = Outcome {
                answered: true,
                correct: answer.correct,
                points: record.points,
                bonus,
            };
            outcomes.insert(player.id, outcome);
        }
        outcomes
    }

    /// Each connected player's outcome of question `index`, with their new rank.
    fn your_results(&self, index: u32, outcomes: &HashMap<Uuid, Outcome>) -> Vec<Event> {
        let mut events = Vec::new();
        for player in self.players.values().filter(|p| p.present()) {
            let Some(outcome) = outcomes.get(&player.id) else {
                continue;
            };
            events.push(Event::to(
                Target::Player(player.id),
                Notice::Room(RoomEvent::YourResult {
                    question: index,
                    answered: outcome.answered,
                    correct: outcome.correct,
                    points: outcome.points,
                    streak_bonus: outcome.bonus,
                    streak: player.streak,
                    score: player.score,
                    rank: player.rank.unwrap_or(0),
                    previous_rank: player.previous_rank,
                }),
            ));
        }
        events
    }

    /// Sorts everyone and keeps the top of the scoreboard.
    fn rerank(&mut self) {
        let mut order: Vec<(Standing, Uuid)> = self
            .players
            .values()
            .map(|p| (p.standing(), p.id))
            .collect();
        order.sort_by(|a, b| rank_order(&a.0, &b.0));
        self.scoreboard.clear();
        for (position, (_, id)) in order.iter().enumerate() {
            let player = self.players.get_mut(id).expect("listed");
            player.previous_rank = player.rank;
            player.rank = Some(position as u64 + 1);
            if position < SCOREBOARD_TOP {
                self.scoreboard.push(score_row(player));
            }
        }
    }

    /// Ends the game: an open question is scored first; every player gets their place
    /// and XP, everyone the podium, and all connections leave the room.
    pub fn end(&mut self, reason: EndReason, results_saved: bool) -> (Vec<Event>, Results) {
        let mut events = Vec::new();
        if self.open.is_some()
            && let Ok(closing) = self.close_question(false)
        {
            events.extend(closing);
        }
        if self.closed.is_empty() {
            self.rerank();
        }
        self.phase = RoomPhase::Ended;
        let results = self.results(reason);
        let podium: Vec<RoomScoreRow> = self.scoreboard.iter().take(3).cloned().collect();
        for result in &results.players {
            events.push(Event::to(
                Target::Player(result.player_id),
                Notice::Room(RoomEvent::Final {
                    rank: result.rank,
                    score: result.score,
                    correct: result.correct,
                    answered: result.answered,
                    xp: result.xp,
                }),
            ));
        }
        events.push(
            Event::to(
                Target::All,
                Notice::Room(RoomEvent::Ended {
                    room_id: self.config.room_id,
                    reason: reason.as_str().into(),
                    podium,
                    players: self.players.len() as u32,
                    results_saved,
                }),
            )
            .detaching(),
        );
        (events, results)
    }

    fn results(&self, reason: EndReason) -> Results {
        let room_id = self.config.room_id.to_string();
        let mut players: Vec<PlayerResult> = self
            .players
            .values()
            .map(|p| {
                let rank = p.rank.unwrap_or(u64::MAX);
                let xp = match p.kind {
                    PlayerKind::User => {
                        room_grant(&room_id, &p.id.to_string(), p.correct, p.answered, rank)
                            .map(|g| g.amount)
                            .unwrap_or(0)
                    }
                    PlayerKind::Guest => 0,
                };
                PlayerResult {
                    rank,
                    player_id: p.id,
                    name: p.name.clone(),
                    guest: p.kind == PlayerKind::Guest,
                    score: p.score,
                    correct: p.correct,
                    answered: p.answered,
                    best_streak: p.best_streak,
                    xp,
                    answers: p.answers.clone(),
                }
            })
            .collect();
        players.sort_by_key(|p| p.rank);
        Results {
            room_id: self.config.room_id,
            code: self.config.code.clone(),
            title: self.config.title.clone(),
            host_id: self.config.host_id,
            scoring: scoring_name(self.config.scoring),
            streak_bonus: self.config.streak_bonus,
            end_reason: reason,
            questions: self.closed.clone(),
            players,
        }
    }
}

fn score_row(player: &Player) -> RoomScoreRow {
    RoomScoreRow {
        rank: player.rank.unwrap_or(0),
        previous_rank: player.previous_rank,
        player_id: player.id,
        name: player.name.clone(),
        score: player.score,
        streak: player.streak,
    }
}
