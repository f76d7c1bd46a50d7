use super::*;

fn custom(options: &[&str], correct: &str) -> CustomQuestion {
    CustomQuestion {
        question: "Capital of France?".into(),
        options: options.iter().map(|s| s.to_string()).collect(),
        correct_option: correct.into(),
        explanation: None,
        time_limit_secs: None,
        points: None,
    }
}

fn room(questions: Vec<CustomQuestion>) -> NewRoom {
    NewRoom {
        title: None,
        level_id: None,
        questions: Some(questions),
        quiz_id: None,
        catalog: None,
        question_time_secs: None,
        scoring: None,
        streak_bonus: None,
        allow_guests: None,
        max_players: None,
        points: None,
    }
}

#[test]
fn a_levels_questions_take_the_rooms_points() {
    let question = Question {
        id: Uuid::new_v4(),
        level_id: Uuid::new_v4(),
        index: 0,
        question: "2 + 2?".into(),
        options: vec!["3".into(), "4".into()],
        answer: 1,
        explanation: "Arithmetic.".into(),
    };
    let mut double = room(vec![]);
    double.questions = None;
    double.level_id = Some(question.level_id);
    double.points = Some(2);
    let setup = double
        .validate(Some(Bank::Level("L".into(), vec![question.clone()])), 10)
        .unwrap();
    assert_eq!(setup.questions[0].points, 2);

    double.points = Some(3);
    let errors = double
        .validate(Some(Bank::Level("L".into(), vec![question])), 10)
        .unwrap_err();
    assert_eq!(errors[0].0, "points");
}

#[test]
fn a_valid_custom_room_gets_the_defaults() {
    let setup = room(vec![custom(&["Paris", "Rome"], "a")])
        .validate(None, 1000)
        .unwrap();
    assert_eq!(setup.questions[0].answer, 0);
    assert_eq!(setup.questions[0].time_limit, Duration::from_secs(20));
    assert_eq!(setup.scoring, Scoring::Speed);
    assert!(setup.streak_bonus && !setup.allow_guests);
    assert_eq!(setup.max_players, 1000);
}

#[test]
fn bad_questions_name_the_problem() {
    let refused = |q| room(vec![q]).validate(None, 1000).unwrap_err().remove(0);
    let (field, message) = refused(custom(&["Paris"], "A"));
    assert_eq!(field, "questions[0].options");
    assert!(message.contains("2 to 4 options"), "{message}");
    assert!(
        refused(custom(&["Paris", "paris"], "A"))
            .1
            .contains("differ")
    );
    let (field, message) = refused(custom(&["Paris", "Rome"], "C"));
    assert_eq!(field, "questions[0].correct_option");
    assert!(message.contains("(A, B)"), "{message}");
    let (field, message) = refused(custom(&["Paris", " "], "A"));
    assert_eq!(field, "questions[0].options[1]");
    assert!(message.contains("1 to 200"), "{message}");
    let mut slow = custom(&["Paris", "Rome"], "A");
    slow.time_limit_secs = Some(1);
    assert_eq!(refused(slow).0, "questions[0].time_limit_secs");
    let mut greedy = custom(&["Paris", "Rome"], "A");
    greedy.points = Some(3);
    assert_eq!(refused(greedy).0, "questions[0].points");
    assert_eq!(
        room(vec![]).validate(None, 1000).unwrap_err()[0].0,
        "questions"
    );
}

#[test]
fn every_bad_question_is_named() {
    let good = custom(&["Paris", "Rome"], "A");
    let errors = room(vec![
        custom(&["Paris"], "A"),
        good.clone(),
        custom(&["Paris", "Rome"], "E"),
    ])
    .validate(None, 1000)
    .unwrap_err();
    let fields: Vec<&str> = errors.iter().map(|(f, _)| f.as_str()).collect();
    assert_eq!(
        fields,
        ["questions[0].options", "questions[2].correct_option"]
    );
}

#[test]
fn a_checked_question_gives_itself_back() {
    let mut q = custom(&[" Paris ", "Rome", "=1+1"], " c");
    q.explanation = Some("  Because.\nReally.  ".into());
    q.time_limit_secs = Some(45);
    q.points = Some(0);
    let checked = q.check().unwrap();
    assert_eq!(checked.options, ["Paris", "Rome", "=1+1"]);
    assert_eq!(checked.answer, 2);
    assert_eq!(checked.explanation, "Because.\nReally.");
    let back = CustomQuestion::from_checked(&checked);
    assert_eq!(back.correct_option, "C");
    assert_eq!(back.check().unwrap(), checked);
    let plain = custom(&["Paris", "Rome"], "B").check().unwrap();
    assert_eq!(CustomQuestion::from_checked(&plain).explanation, None);
    assert_eq!(plain.time_limit_secs, None);
    assert_eq!(plain.points, 1);
}

#[test]
fn exactly_one_source_of_questions_and_limits_hold() {
    let mut both = room(vec![custom(&["Paris", "Rome"], "A")]);
    both.level_id = Some(Uuid::new_v4());
    let errors = both
        .validate(Some(Bank::Level("L".into(), vec![])), 1000)
        .unwrap_err();
    let fields: Vec<&str> = errors.iter().map(|(f, _)| f.as_str()).collect();
    assert_eq!(fields, ["level_id", "questions"]);
    let mut none = room(vec![]);
    none.questions = None;
    assert_eq!(none.source().unwrap_err().len(), 4);
    let mut catalog = none.clone();
    catalog.catalog = Some(CatalogChoice {
        subject: "python".into(),
        level: 1,
    });
    assert!(matches!(catalog.source(), Ok(Source::Catalog(c)) if c.level == 1));
    let mut big = room(vec![custom(&["Paris", "Rome"], "A")]);
    big.max_players = Some(5000);
    assert_eq!(big.validate(None, 1000).unwrap_err()[0].0, "max_players");
    let mut scoring = room(vec![custom(&["Paris", "Rome"], "A")]);
    scoring.scoring = Some("luck".into());
    assert_eq!(scoring.validate(None, 1000).unwrap_err()[0].0, "scoring");
}

#[test]
fn a_saved_quiz_plays_with_its_own_times_and_title() {
    let mut timed = custom(&["Paris", "Rome"], "B");
    timed.time_limit_secs = Some(7);
    timed.points = Some(2);
    let quiz = SavedQuiz {
        id: Uuid::now_v7(),
        owner_id: Uuid::new_v4(),
        title: "Capitals".into(),
        description: String::new(),
        questions: vec![
            timed.check().unwrap(),
            custom(&["Paris", "Rome"], "A").check().unwrap(),
        ],
        created_at: chrono::Utc::now(),
        updated_at: chrono::Utc::now(),
    };
    let mut request = room(vec![]);
    request.questions = None;
    request.quiz_id = Some(quiz.id);
    request.question_time_secs = Some(30);
    let setup = request.validate(Some(Bank::Quiz(quiz)), 10).unwrap();
    assert_eq!(setup.title, "Capitals");
    let times: Vec<_> = setup.questions.iter().map(|q| q.time_limit).collect();
    assert_eq!(times, [Duration::from_secs(7), Duration::from_secs(30)]);
    assert_eq!(
        (setup.questions[0].answer, setup.questions[0].points),
        (1, 2)
    );
}

#[test]
fn player_names_are_trimmed_and_bounded() {
    assert_eq!(player_name("  Sam ").as_deref(), Some("Sam"));
    assert_eq!(player_name(""), None);
    assert_eq!(player_name(&"x".repeat(25)), None);
    assert_eq!(player_name("a\u{7}b"), None);
    // Bidi overrides and zero-width characters: a guest posing as another player.
    assert_eq!(player_name("Sam\u{200B}"), None);
    assert_eq!(player_name("\u{202E}maS"), None);
}
