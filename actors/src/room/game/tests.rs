use super::*;
use crate::events::{Notice, RoomEvent, codes};
use crate::room::event::{Event, Target};

fn question(answer: u8, secs: u64) -> RoomQuestion {
    RoomQuestion {
        question: "2 + 2?".into(),
        options: vec!["3".into(), "4".into(), "5".into(), "22".into()],
        answer,
        explanation: "Arithmetic.".into(),
        time_limit: Duration::from_secs(secs),
        points: 1,
    }
}

fn game(questions: usize, scoring: Scoring, streak: bool) -> (Game, Uuid) {
    let host = Uuid::new_v4();
    let config = RoomConfig {
        room_id: Uuid::new_v4(),
        code: "ABCDEF".into(),
        title: "Test".into(),
        host_id: host,
        scoring,
        streak_bonus: streak,
        allow_guests: false,
        max_players: 3,
        questions: (0..questions).map(|_| question(1, 20)).collect(),
    };
    (Game::new(config), host)
}

fn t(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(1_800_000_000_000 + ms).unwrap()
}

fn join(game: &mut Game, name: &str) -> Uuid {
    let id = Uuid::new_v4();
    game.join(id, Uuid::new_v4(), PlayerKind::User, name, None, t(0))
        .unwrap();
    id
}

fn answer(game: &mut Game, id: Uuid, q: u32, option: &str, at: i64) -> Result<Vec<Event>, Refusal> {
    game.answer(
        id,
        None,
        q,
        option,
        t(at),
        Some(Duration::from_millis(at as u64 % 30_000)),
    )
}

fn result_of(events: &[Event], id: Uuid) -> (u32, u64, u64, u32) {
    events
        .iter()
        .find_map(|e| match (&e.to, &e.message) {
            (
                Target::Player(p),
                Notice::Room(RoomEvent::YourResult {
                    points,
                    score,
                    rank,
                    streak,
                    ..
                }),
            ) if *p == id => Some((*points, *score, *rank, *streak)),
            _ => None,
        })
        .expect("a result for the player")
}

#[test]
fn a_whole_game_scores_by_speed_with_streaks_and_ranks() {
    let (mut game, host) = game(3, Scoring::Speed, true);
    game.join(host, Uuid::new_v4(), PlayerKind::User, "Host", None, t(0))
        .unwrap();
    let fast = join(&mut game, "Fast");
    let slow = join(&mut game, "Slow");
    game.start(t(0)).unwrap();
    answer(&mut game, fast, 0, "B", 400).unwrap();
    answer(&mut game, slow, 0, "b", 10_000).unwrap();
    assert!(game.everyone_answered());
    let closed = game.close_question(false).unwrap();
    assert_eq!(result_of(&closed, fast), (1000, 1000, 1, 1));
    assert_eq!(result_of(&closed, slow), (750, 750, 2, 1));

    game.next(t(30_000)).unwrap();
    answer(&mut game, fast, 1, "B", 30_000 + 400).unwrap();
    answer(&mut game, slow, 1, "A", 30_000 + 1_000).unwrap();
    let closed = game.close_question(false).unwrap();
    // Second correct answer in a row: +100.
    assert_eq!(result_of(&closed, fast), (1100, 2100, 1, 2));
    assert_eq!(result_of(&closed, slow), (0, 750, 2, 0));
    let (events, results) = game.end(EndReason::EndedByHost, true);
    assert_eq!(results.players[0].player_id, fast);
    assert_eq!(results.players[0].xp, 5 + 2 * 2 + 30);
    assert_eq!(results.questions.len(), 2);
    assert!(events.iter().any(|e| e.detach && e.to == Target::All));
}

#[test]
fn accuracy_scoring_without_streaks_ignores_speed() {
    let (mut game, _) = game(2, Scoring::Accuracy, false);
    let a = join(&mut game, "A");
    game.start(t(0)).unwrap();
    answer(&mut game, a, 0, "B", 19_000).unwrap();
    let closed = game.close_question(false).unwrap();
    assert_eq!(result_of(&closed, a).0, 1000);
    game.next(t(0)).unwrap();
    answer(&mut game, a, 1, "B", 100).unwrap();
    let closed = game.close_question(false).unwrap();
    assert_eq!(result_of(&closed, a), (1000, 2000, 1, 2), "no streak bonus");
}

#[test]
fn one_answer_per_question_and_late_answers_are_refused() {
    let (mut game, _) = game(1, Scoring::Speed, true);
    let a = join(&mut game, "A");
    let b = join(&mut game, "B");
    game.start(t(0)).unwrap();
    answer(&mut game, a, 0, "B", 100).unwrap();
    assert_eq!(
        answer(&mut game, a, 0, "C", 200).unwrap_err().0,
        codes::ALREADY_ANSWERED
    );
    assert_eq!(
        answer(&mut game, b, 0, "B", 20_501).unwrap_err().0,
        codes::LATE_ANSWER
    );
    assert!(
        answer(&mut game, b, 0, "B", 20_400).is_ok(),
        "inside the grace"
    );
    assert_eq!(
        answer(&mut game, b, 1, "B", 100).unwrap_err().0,
        codes::WRONG_QUESTION
    );
    assert_eq!(
        answer(&mut game, Uuid::new_v4(), 0, "B", 100)
            .unwrap_err()
            .0,
        codes::NOT_IN_ROOM
    );
}

#[test]
fn invalid_options_are_refused_without_using_the_answer() {
    let (mut game, _) = game(1, Scoring::Speed, true);
    let a = join(&mut game, "A");
    game.start(t(0)).unwrap();
    assert_eq!(
        answer(&mut game, a, 0, "E", 100).unwrap_err().0,
        codes::INVALID_OPTION
    );
    assert!(answer(&mut game, a, 0, "A", 100).is_ok());
}

#[test]
fn late_joiners_play_from_the_next_question() {
    let (mut game, _) = game(2, Scoring::Speed, true);
    let a = join(&mut game, "A");
    game.start(t(0)).unwrap();
    let late = join(&mut game, "Late");
    assert_eq!(
        answer(&mut game, late, 0, "B", 100).unwrap_err().0,
        codes::JOINED_LATE
    );
    answer(&mut game, a, 0, "B", 100).unwrap();
    assert!(
        game.everyone_answered(),
        "the late joiner is not waited for"
    );
    game.close_question(false).unwrap();
    game.next(t(1_000)).unwrap();
    assert!(answer(&mut game, late, 1, "B", 1_100).is_ok());
}

#[test]
fn reconnecting_keeps_the_seat_and_a_kicked_player_stays_out() {
    let (mut game, _) = game(2, Scoring::Speed, true);
    let a = join(&mut game, "A");
    game.start(t(0)).unwrap();
    answer(&mut game, a, 0, "B", 100).unwrap();
    game.close_question(false).unwrap();
    game.disconnected(a);
    let again = game
        .join(
            a,
            Uuid::new_v4(),
            PlayerKind::User,
            "Other name",
            None,
            t(5),
        )
        .unwrap();
    let seat = again
        .iter()
        .find_map(|e| match &e.message {
            Notice::Room(RoomEvent::Joined { room, .. }) => room.you.clone(),
            _ => None,
        })
        .unwrap();
    assert_eq!(
        (seat.score, seat.streak, seat.name.as_str()),
        (1000, 1, "A")
    );
    game.kick(a).unwrap();
    let refused = game.join(a, Uuid::new_v4(), PlayerKind::User, "A", None, t(6));
    assert_eq!(refused.unwrap_err().0, codes::KICKED);
}

#[test]
fn capacity_guests_and_duplicate_names() {
    let (mut game, _) = game(1, Scoring::Speed, true);
    let guest = game.join(
        Uuid::new_v4(),
        Uuid::new_v4(),
        PlayerKind::Guest,
        "G",
        None,
        t(0),
    );
    assert_eq!(guest.unwrap_err().0, codes::GUESTS_NOT_ALLOWED);
    let a = join(&mut game, "Sam");
    let b = join(&mut game, "sam");
    join(&mut game, "C");
    let snapshot = game.snapshot(b, t(0));
    assert_eq!(snapshot.you.unwrap().name, "sam 2");
    let full = game.join(
        Uuid::new_v4(),
        Uuid::new_v4(),
        PlayerKind::User,
        "D",
        None,
        t(0),
    );
    assert_eq!(full.unwrap_err().0, codes::ROOM_FULL);
    assert!(game.snapshot(a, t(0)).you.is_some());
}

#[test]
fn pause_stops_the_clock_and_skip_scores_nobody() {
    let (mut game, _) = game(2, Scoring::Speed, true);
    let a = join(&mut game, "A");
    game.start(t(0)).unwrap();
    game.pause(t(5_000)).unwrap();
    assert_eq!(game.closes_at(), None);
    assert_eq!(
        answer(&mut game, a, 0, "B", 6_000).unwrap_err().0,
        codes::PAUSED
    );
    game.resume(t(60_000)).unwrap();
    assert_eq!(game.closes_at(), Some(t(75_000 + 500)), "15 s were left");
    answer(&mut game, a, 0, "B", 61_000).unwrap();
    let events = game.skip(t(62_000)).unwrap();
    assert!(
        events
            .iter()
            .any(|e| matches!(e.message, Notice::Room(RoomEvent::QuestionOpened(_))))
    );
    assert!(
        !events
            .iter()
            .any(|e| matches!(e.message, Notice::Room(RoomEvent::YourResult { .. })))
    );
    assert_eq!(game.snapshot(a, t(62_000)).you.unwrap().score, 0);
}

#[test]
fn ending_mid_question_scores_what_was_answered_and_guests_get_no_xp() {
    let host = Uuid::new_v4();
    let mut game = Game::new(RoomConfig {
        room_id: Uuid::new_v4(),
        code: "ABCDEF".into(),
        title: "T".into(),
        host_id: host,
        scoring: Scoring::Speed,
        streak_bonus: true,
        allow_guests: true,
        max_players: 10,
        questions: vec![question(0, 20)],
    });
    let guest = Uuid::new_v4();
    game.join(guest, Uuid::new_v4(), PlayerKind::Guest, "G", None, t(0))
        .unwrap();
    game.start(t(0)).unwrap();
    answer(&mut game, guest, 0, "A", 300).unwrap();
    let (_, results) = game.end(EndReason::EndedByHost, true);
    assert_eq!(results.players[0].score, 1000);
    assert_eq!(results.players[0].xp, 0);
    assert!(results.players[0].guest);
}

#[test]
fn a_saved_game_is_adopted_with_seats_scores_and_the_open_question() {
    let (mut game, host) = game(2, Scoring::Speed, true);
    game.join(host, Uuid::new_v4(), PlayerKind::User, "Host", None, t(0))
        .unwrap();
    let a = join(&mut game, "A");
    game.start(t(0)).unwrap();
    answer(&mut game, a, 0, "B", 400).unwrap();
    game.close_question(false).unwrap();
    game.next(t(10_000)).unwrap();
    let saved = serde_json::to_vec(&game).unwrap();
    let mut adopted = serde_json::from_slice::<Game>(&saved).unwrap().adopted();
    assert!(!adopted.host_connected());
    assert_eq!(
        adopted.connected(),
        0,
        "nobody until they reattach or rejoin"
    );
    adopted.reattach(host);
    adopted.reattach(a);
    assert!(adopted.host_connected());
    let seat = adopted.snapshot(a, t(11_000)).you.unwrap();
    assert_eq!((seat.score, seat.streak), (1000, 1));
    assert_eq!(adopted.closes_at(), Some(t(30_500)), "the same deadline");
    answer(&mut adopted, a, 1, "B", 10_400).unwrap();
    assert!(adopted.everyone_answered());
}

/// An answer from a player who then drops and comes back must not count for the
/// players still thinking: the question stays open until they answer too.
#[test]
fn a_reconnect_after_answering_does_not_close_the_question_for_the_others() {
    let (mut game, host) = game(2, Scoring::Speed, true);
    game.join(host, Uuid::new_v4(), PlayerKind::User, "Host", None, t(0))
        .unwrap();
    let a = join(&mut game, "A");
    let b = join(&mut game, "B");
    game.start(t(1_000)).unwrap();

    answer(&mut game, a, 0, "B", 2_000).unwrap();
    game.disconnected(a);
    assert!(!game.everyone_answered(), "B has not answered");
    let counted = |game: &Game| match game.answered_event().map(|e| e.message) {
        Some(Notice::Room(RoomEvent::Answered {
            answered, expected, ..
        })) => (answered, expected),
        other => panic!("{other:?}"),
    };
    assert_eq!(
        counted(&game),
        (0, 1),
        "of the connected players: B, unanswered"
    );
    game.join(a, Uuid::new_v4(), PlayerKind::User, "A", None, t(3_000))
        .unwrap();
    assert!(
        !game.everyone_answered(),
        "A's return changes nothing for B"
    );

    assert_eq!(counted(&game), (1, 2));
    answer(&mut game, b, 0, "A", 4_000).unwrap();
    assert!(game.everyone_answered());
    assert_eq!(counted(&game), (2, 2));
}

/// A host who reloads gets every seat and the answered count in the snapshot;
/// players get neither.
#[test]
fn the_hosts_snapshot_lists_every_seat_and_the_answered_count() {
    let (mut game, host) = game(2, Scoring::Speed, true);
    game.join(host, Uuid::new_v4(), PlayerKind::User, "Host", None, t(0))
        .unwrap();
    let a = join(&mut game, "A");
    let b = join(&mut game, "B");
    game.disconnected(b);
    let lobby = game.snapshot(host, t(500));
    let seats: Vec<_> = lobby
        .roster
        .unwrap()
        .into_iter()
        .map(|s| (s.name, s.connected))
        .collect();
    assert_eq!(seats, [("A".to_string(), true), ("B".to_string(), false)]);
    assert_eq!(lobby.answered, None, "no question open");

    game.start(t(1_000)).unwrap();
    answer(&mut game, a, 0, "B", 2_000).unwrap();
    let playing = game.snapshot(host, t(2_500));
    assert_eq!(playing.answered, Some(1));
    let player = game.snapshot(a, t(2_500));
    assert!(player.roster.is_none() && player.answered.is_none());
}

/// The same after the room moved to another instance: the first player back had
/// answered already; the question waits for the others.
#[test]
fn an_adopted_room_waits_for_players_who_have_not_answered() {
    let (mut game, host) = game(2, Scoring::Speed, true);
    game.join(host, Uuid::new_v4(), PlayerKind::User, "Host", None, t(0))
        .unwrap();
    let a = join(&mut game, "A");
    let b = join(&mut game, "B");
    game.start(t(1_000)).unwrap();
    answer(&mut game, a, 0, "B", 2_000).unwrap();

    let saved = serde_json::to_vec(&game).unwrap();
    let mut adopted = serde_json::from_slice::<Game>(&saved).unwrap().adopted();
    adopted.reattach(host);
    adopted.reattach(a);
    assert!(
        !adopted.everyone_answered(),
        "only A is back, and A answered"
    );
    adopted.reattach(b);
    assert!(!adopted.everyone_answered());
    answer(&mut adopted, b, 0, "A", 3_000).unwrap();
    assert!(adopted.everyone_answered());
}

/// The counts kept in step, recounted the slow way.
fn recount(game: &Game) -> (u32, u32) {
    let present = game.players.values().filter(|p| p.present()).count() as u32;
    let expected = match &game.open {
        Some(open) => game
            .players
            .values()
            .filter(|p| p.present() && p.first_question <= open.index)
            .count() as u32,
        None => 0,
    };
    (present, expected)
}

#[test]
fn presence_counts_follow_every_seat_change() {
    let (mut game, host) = game(3, Scoring::Speed, true);
    game.config.max_players = 10;
    game.join(host, Uuid::new_v4(), PlayerKind::User, "Host", None, t(0))
        .unwrap();
    let check = |game: &Game| {
        assert_eq!((game.connected(), game.expected_answers()), recount(game));
    };
    let a = join(&mut game, "A");
    let b = join(&mut game, "B");
    let c = join(&mut game, "C");
    check(&game);
    game.leave(c);
    check(&game);
    game.start(t(0)).unwrap();
    check(&game);
    let late = join(&mut game, "Late");
    check(&game);
    game.disconnected(a);
    check(&game);
    game.join(a, Uuid::new_v4(), PlayerKind::User, "A", None, t(1))
        .unwrap();
    game.join(a, Uuid::new_v4(), PlayerKind::User, "A", None, t(1))
        .unwrap();
    game.disconnected(a);
    check(&game);
    assert_eq!(game.expected_answers(), 2, "A (one device left) and B");
    game.kick(b).unwrap();
    check(&game);
    game.leave(a);
    check(&game);
    game.close_question(false).unwrap();
    game.next(t(30_000)).unwrap();
    check(&game);
    assert_eq!(game.expected_answers(), 1, "only the late joiner is left");
    game.disconnected(late);
    check(&game);
    assert_eq!(game.connected(), 0);
}

#[test]
fn the_host_hears_of_seat_changes_in_one_roster() {
    let (mut game, _) = game(1, Scoring::Speed, true);
    let a = join(&mut game, "A");
    join(&mut game, "B");
    game.disconnected(a);
    let Some(Event {
        message:
            Notice::Room(RoomEvent::Roster {
                joined,
                left,
                players,
            }),
        to: Target::Host,
        ..
    }) = game.roster_event()
    else {
        panic!("a roster for the host")
    };
    assert_eq!(joined.len(), 2);
    assert_eq!(
        (left.len(), left[0].reason.as_str(), players),
        (1, "disconnected", 2)
    );
    assert!(game.roster_event().is_none(), "told once");
}
