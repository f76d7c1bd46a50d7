//! Saved quizzes (`/api/v1/quizzes`): writing, reading, ownership, checks and limits,
//! JSON and CSV export and import; the catalog (`/api/v1/catalog`); and the new sources
//! of `POST /api/v1/rooms` (playing them is in `tests/ws/room_sources.rs`).

use std::sync::{Arc, Mutex};

use questpath::ports::Store;
use questpath::ports::store::SavedQuiz;
use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

use questpath_test_support::{TestApp, TestUser, spawn_app_with};

/// A server whose rate limits leave room for many writes, and its store.
async fn quiz_app() -> (TestApp, Arc<dyn Store>) {
    let store = Arc::new(Mutex::new(None));
    let kept = store.clone();
    let app = spawn_app_with(
        &[
            ("QUESTPATH_RATE_LIMIT_WRITES", "100000"),
            ("QUESTPATH_RATE_LIMIT_READS", "100000"),
        ],
        move |backends| {
            *kept.lock().unwrap() = Some(backends.store.clone());
            backends
        },
    )
    .await;
    let store = store.lock().unwrap().take().expect("the store");
    (app, store)
}

async fn learner(app: &TestApp) -> String {
    app.register(&TestUser::generate()).await.access
}

fn question(i: usize) -> Value {
    json!({
        "question": format!("Question {i}: which letter is second?"),
        "options": ["A is first", "B is second", "C is third"],
        "correct_option": "B",
    })
}

/// A quiz every export must carry through unchanged: texts a spreadsheet would run as
/// formulas, quotes, commas, line breaks, non-ASCII, and every optional field.
fn hostile_quiz() -> Value {
    json!({
        "title": "=cmd|' /C calc'!A0 \u{e9}\u{1f600}",
        "description": "+ for \"class\", 4b\nsecond line",
        "questions": [
            {
                "question": "=HYPERLINK(\"http://evil.example\", \"click\")",
                "options": ["+1", "-1", "@SUM(A1:A9)", "'quoted"],
                "correct_option": "D",
                "explanation": "-because, \"really\"\nline two",
                "time_limit_secs": 45,
                "points": 2
            },
            {
                "question": "@me, is 2+2 = 4?",
                "options": ["Yes, of course", "No"],
                "correct_option": "a",
                "points": 0
            },
            {
                "question": "  Plain one  ",
                "options": ["x", "y", "z"],
                "correct_option": "C",
                "explanation": "",
                "time_limit_secs": 5
            }
        ]
    })
}

/// The questions of `hostile_quiz` as the server gives them back (trimmed, letters upper
/// case, defaults filled in).
fn hostile_questions() -> Value {
    json!([
        {
            "question": "=HYPERLINK(\"http://evil.example\", \"click\")",
            "options": ["+1", "-1", "@SUM(A1:A9)", "'quoted"],
            "correct_option": "D",
            "explanation": "-because, \"really\"\nline two",
            "time_limit_secs": 45,
            "points": 2
        },
        {
            "question": "@me, is 2+2 = 4?",
            "options": ["Yes, of course", "No"],
            "correct_option": "A",
            "explanation": null,
            "time_limit_secs": null,
            "points": 0
        },
        {
            "question": "Plain one",
            "options": ["x", "y", "z"],
            "correct_option": "C",
            "explanation": null,
            "time_limit_secs": 5,
            "points": 1
        }
    ])
}

async fn create(app: &TestApp, token: &str, body: &Value) -> Value {
    let response = app
        .call(Method::POST, "/api/v1/quizzes", token, Some(body))
        .await;
    assert_eq!(response.status(), 201, "create quiz");
    response.json().await.unwrap()
}

async fn problem(response: reqwest::Response, status: u16) -> Value {
    assert_eq!(response.status(), status);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    response.json().await.unwrap()
}

fn fields(problem: &Value) -> Vec<String> {
    problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap().to_string())
        .collect()
}

#[actix_web::test]
async fn a_quiz_is_created_listed_read_updated_and_deleted() {
    let (app, _) = quiz_app().await;
    let token = learner(&app).await;

    let response = app
        .call(
            Method::POST,
            "/api/v1/quizzes",
            &token,
            Some(&json!({"title": "  Letters ", "questions": [question(0), question(1)]})),
        )
        .await;
    assert_eq!(response.status(), 201);
    let location = response.headers()["location"].to_str().unwrap().to_string();
    let created: Value = response.json().await.unwrap();
    let id = created["quiz_id"].as_str().unwrap().to_string();
    assert_eq!(location, format!("/api/v1/quizzes/{id}"));
    assert_eq!(created["title"], "Letters");
    assert_eq!(created["description"], "");
    assert_eq!(created["questions"].as_array().unwrap().len(), 2);
    assert_eq!(created["questions"][0]["correct_option"], "B");
    assert_eq!(created["questions"][0]["points"], 1);
    assert_eq!(created["created_at"], created["updated_at"]);

    let read: Value = app
        .get_bearer(&location, &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(read, created);
    let list: Value = app
        .get_bearer("/api/v1/quizzes", &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        list,
        json!({"quizzes": [{
            "quiz_id": id, "title": "Letters", "question_count": 2,
            "created_at": created["created_at"], "updated_at": created["updated_at"],
        }]})
    );

    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let response = app
        .call(Method::PUT, &location, &token, Some(&hostile_quiz()))
        .await;
    assert_eq!(response.status(), 200);
    let updated: Value = response.json().await.unwrap();
    assert_eq!(updated["quiz_id"], id.as_str());
    assert_eq!(updated["title"], hostile_quiz()["title"]);
    assert_eq!(updated["description"], hostile_quiz()["description"]);
    assert_eq!(updated["questions"], hostile_questions());
    assert_eq!(updated["created_at"], created["created_at"]);
    assert_ne!(updated["updated_at"], created["updated_at"]);
    let read: Value = app
        .get_bearer(&location, &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(read, updated);
    let list: Value = app
        .get_bearer("/api/v1/quizzes", &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["quizzes"][0]["question_count"], 3);
    assert_eq!(list["quizzes"][0]["updated_at"], updated["updated_at"]);

    let deleted = app.call(Method::DELETE, &location, &token, None).await;
    assert_eq!(deleted.status(), 204);
    problem(app.get_bearer(&location, &token).await, 404).await;
    problem(app.call(Method::DELETE, &location, &token, None).await, 404).await;
    let list: Value = app
        .get_bearer("/api/v1/quizzes", &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list, json!({"quizzes": []}));
}

#[actix_web::test]
async fn quizzes_are_listed_newest_first() {
    let (app, _) = quiz_app().await;
    let token = learner(&app).await;
    let mut ids = Vec::new();
    for i in 0..3 {
        let quiz = create(
            &app,
            &token,
            &json!({"title": format!("Quiz {i}"), "questions": [question(i)]}),
        )
        .await;
        ids.push(quiz["quiz_id"].clone());
    }

    let list: Value = app
        .get_bearer("/api/v1/quizzes", &token)
        .await
        .json()
        .await
        .unwrap();
    let listed: Vec<Value> = list["quizzes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["quiz_id"].clone())
        .collect();
    ids.reverse();
    assert_eq!(listed, ids);
}

#[actix_web::test]
async fn someone_elses_quiz_is_not_found() {
    let (app, _) = quiz_app().await;
    let owner = learner(&app).await;
    let other = learner(&app).await;
    let quiz = create(&app, &owner, &hostile_quiz()).await;
    let id = quiz["quiz_id"].as_str().unwrap();

    for path in [
        format!("/api/v1/quizzes/{id}"),
        format!("/api/v1/quizzes/{id}/export.json"),
        format!("/api/v1/quizzes/{id}/export.csv"),
    ] {
        let body = problem(app.get_bearer(&path, &other).await, 404).await;
        assert_eq!(body["code"], "not_found", "{path}");
    }
    let path = format!("/api/v1/quizzes/{id}");
    problem(
        app.call(Method::PUT, &path, &other, Some(&hostile_quiz()))
            .await,
        404,
    )
    .await;
    problem(app.call(Method::DELETE, &path, &other, None).await, 404).await;
    let room = app
        .call(
            Method::POST,
            "/api/v1/rooms",
            &other,
            Some(&json!({"quiz_id": id})),
        )
        .await;
    problem(room, 404).await;
    let list: Value = app
        .get_bearer("/api/v1/quizzes", &other)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list, json!({"quizzes": []}));

    // The owner's quiz is untouched.
    let read: Value = app.get_bearer(&path, &owner).await.json().await.unwrap();
    assert_eq!(read, quiz);
    // Ids that name nothing answer alike.
    problem(
        app.get_bearer("/api/v1/quizzes/not-a-uuid", &owner).await,
        404,
    )
    .await;
    problem(
        app.get_bearer(&format!("/api/v1/quizzes/{}", Uuid::now_v7()), &owner)
            .await,
        404,
    )
    .await;
}

#[actix_web::test]
async fn invalid_quizzes_name_every_field_at_fault() {
    let (app, _) = quiz_app().await;
    let token = learner(&app).await;
    let post = |body: Value| {
        let app = &app;
        let token = token.clone();
        async move {
            app.call(Method::POST, "/api/v1/quizzes", &token, Some(&body))
                .await
        }
    };

    let body = problem(
        post(json!({
            "title": " ",
            "description": "d".repeat(1001),
            "questions": [
                question(0),
                {"question": "Too few?", "options": ["only"], "correct_option": "A"},
                {"question": "Twins?", "options": ["Same", " same "], "correct_option": "A"},
                {"question": "Which?", "options": ["a", "b"], "correct_option": "C"},
                {"question": "Slow?", "options": ["a", "b"], "correct_option": "A", "time_limit_secs": 301},
                {"question": "Greedy?", "options": ["a", "b"], "correct_option": "A", "points": 3},
                {"question": "Blank option?", "options": ["a", "  "], "correct_option": "A"},
                {"question": "x".repeat(501), "options": ["a", "b"], "correct_option": "A"},
                {"question": "Long explanation?", "options": ["a", "b"], "correct_option": "A",
                 "explanation": "e".repeat(1001)},
            ]
        }))
        .await,
        422,
    )
    .await;
    assert_eq!(body["code"], "validation_failed");
    assert_eq!(
        fields(&body),
        [
            "title",
            "description",
            "questions[1].options",
            "questions[2].options",
            "questions[3].correct_option",
            "questions[4].time_limit_secs",
            "questions[5].points",
            "questions[6].options[1]",
            "questions[7].question",
            "questions[8].explanation",
        ]
    );
    assert!(
        body["detail"].as_str().unwrap().contains("9 more problems"),
        "{body}"
    );
    assert_eq!(
        body["errors"][4]["message"],
        "questions[3].correct_option must name one of the options (A, B)"
    );

    let none = problem(post(json!({"title": "Empty", "questions": []})).await, 422).await;
    assert_eq!(fields(&none), ["questions"]);
    let many: Vec<Value> = (0..101).map(question).collect();
    let too_many = problem(post(json!({"title": "Big", "questions": many})).await, 422).await;
    assert_eq!(fields(&too_many), ["questions"]);
    let missing = problem(post(json!({"questions": [question(0)]})).await, 422).await;
    assert_eq!(fields(&missing), ["title"]);
    let wrong_type = problem(
        post(json!({"title": "T", "questions": [{"question": "Q", "options": "ab", "correct_option": "A"}]}))
            .await,
        422,
    )
    .await;
    assert_eq!(fields(&wrong_type), ["questions[0].options"]);

    let malformed = app
        .client
        .post(app.url("/api/v1/quizzes"))
        .bearer_auth(&token)
        .header("Content-Type", "application/json")
        .body("{\"title\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(problem(malformed, 400).await["code"], "malformed_json");
    let text = app
        .client
        .post(app.url("/api/v1/quizzes"))
        .bearer_auth(&token)
        .header("Content-Type", "text/plain")
        .body("title")
        .send()
        .await
        .unwrap();
    assert_eq!(problem(text, 415).await["code"], "unsupported_media_type");
}

#[actix_web::test]
async fn a_full_quiz_fits_and_an_oversized_body_is_refused() {
    let (app, _) = quiz_app().await;
    let token = learner(&app).await;
    // 100 questions of the longest texts: far over the usual 64 KiB of a JSON body.
    let long: Vec<Value> = (0..100)
        .map(|i| {
            json!({
                "question": format!("{i:03}{}", "q".repeat(497)),
                "options": (0..4).map(|o| format!("{o}{}", "o".repeat(199))).collect::<Vec<_>>(),
                "correct_option": "D",
                "explanation": "e".repeat(1000),
                "time_limit_secs": 300,
                "points": 2,
            })
        })
        .collect();
    let body =
        json!({"title": "t".repeat(120), "description": "d".repeat(1000), "questions": long});
    assert!(body.to_string().len() > 200 * 1024);

    let quiz = create(&app, &token, &body).await;
    assert_eq!(quiz["questions"].as_array().unwrap().len(), 100);

    let huge =
        json!({"title": "Huge", "questions": [question(0)], "padding": "p".repeat(1024 * 1024)});
    let refused = app
        .call(Method::POST, "/api/v1/quizzes", &token, Some(&huge))
        .await;
    assert_eq!(problem(refused, 413).await["code"], "payload_too_large");
    let csv = format!(
        "question,option_a,option_b,correct_option\n{}",
        "Q,a,b,A\n".repeat(150_000)
    );
    let refused = app
        .client
        .post(app.url("/api/v1/quizzes/import"))
        .bearer_auth(&token)
        .header("Content-Type", "text/csv")
        .body(csv)
        .send()
        .await
        .unwrap();
    assert_eq!(problem(refused, 413).await["code"], "payload_too_large");
}

#[actix_web::test]
async fn a_host_keeps_at_most_500_quizzes() {
    let (app, store) = quiz_app().await;
    let token = learner(&app).await;
    let me: Value = app
        .get_bearer("/api/v1/me", &token)
        .await
        .json()
        .await
        .unwrap();
    let owner: Uuid = me["id"].as_str().unwrap().parse().unwrap();
    // 499 saved straight into the store; the API saves the 500th and refuses the 501st.
    let template = questpath::quizzes::QuizInput {
        title: "Filler".into(),
        description: None,
        questions: vec![serde_json::from_value(question(0)).unwrap()],
    }
    .check()
    .unwrap();
    for _ in 0..499 {
        let quiz: SavedQuiz = template.clone().new_quiz(owner, questpath::quizzes::now());
        assert!(store.create_quiz(&quiz, 500).await.unwrap());
    }

    let last = create(
        &app,
        &token,
        &json!({"title": "The 500th", "questions": [question(0)]}),
    )
    .await;
    let refused = app
        .call(
            Method::POST,
            "/api/v1/quizzes",
            &token,
            Some(&json!({"title": "One too many", "questions": [question(0)]})),
        )
        .await;
    let body = problem(refused, 409).await;
    assert_eq!(body["code"], "quiz_limit_reached");
    assert!(body["detail"].as_str().unwrap().contains("500"), "{body}");
    let import = app
        .call(
            Method::POST,
            "/api/v1/quizzes/import",
            &token,
            Some(&json!({"format": "questpath.quiz.v1", "title": "Imported", "questions": [question(0)]})),
        )
        .await;
    assert_eq!(problem(import, 409).await["code"], "quiz_limit_reached");
    let list: Value = app
        .get_bearer("/api/v1/quizzes", &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["quizzes"].as_array().unwrap().len(), 500);
    assert_eq!(list["quizzes"][0]["quiz_id"], last["quiz_id"]);

    // Another host is not limited by this one; deleting one frees a slot.
    let other = learner(&app).await;
    create(
        &app,
        &other,
        &json!({"title": "Mine", "questions": [question(0)]}),
    )
    .await;
    let path = format!("/api/v1/quizzes/{}", last["quiz_id"].as_str().unwrap());
    assert_eq!(
        app.call(Method::DELETE, &path, &token, None).await.status(),
        204
    );
    create(
        &app,
        &token,
        &json!({"title": "Again", "questions": [question(0)]}),
    )
    .await;
}

/// The quiz an import made, compared with the original: everything but id and times.
fn same_quiz(imported: &Value, original: &Value) {
    for field in ["title", "description", "questions"] {
        assert_eq!(imported[field], original[field], "{field}");
    }
    assert_ne!(imported["quiz_id"], original["quiz_id"]);
}

#[actix_web::test]
async fn the_json_export_imports_as_the_same_quiz() {
    let (app, _) = quiz_app().await;
    let token = learner(&app).await;
    let original = create(&app, &token, &hostile_quiz()).await;
    let id = original["quiz_id"].as_str().unwrap();

    let export = app
        .get_bearer(&format!("/api/v1/quizzes/{id}/export.json"), &token)
        .await;
    assert_eq!(export.status(), 200);
    assert!(
        export.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    assert_eq!(
        export.headers()["content-disposition"],
        "attachment; filename=\"questpath-quiz-cmd-c-calc-a0.json\""
    );
    let document: Value = export.json().await.unwrap();
    assert_eq!(document["format"], "questpath.quiz.v1");
    assert_eq!(document["questions"], hostile_questions());

    let imported = app
        .call(
            Method::POST,
            "/api/v1/quizzes/import",
            &token,
            Some(&document),
        )
        .await;
    assert_eq!(imported.status(), 201);
    let imported: Value = imported.json().await.unwrap();
    same_quiz(&imported, &original);
    // And again: the import's export is the same document.
    let again: Value = app
        .get_bearer(
            &format!(
                "/api/v1/quizzes/{}/export.json",
                imported["quiz_id"].as_str().unwrap()
            ),
            &token,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(again, document);

    // ?title= renames what it imports.
    let renamed: Value = app
        .call(
            Method::POST,
            "/api/v1/quizzes/import?title=Copy%20of%20it",
            &token,
            Some(&document),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(renamed["title"], "Copy of it");

    let mut foreign = document.clone();
    foreign["format"] = json!("kahoot.v2");
    let refused = app
        .call(
            Method::POST,
            "/api/v1/quizzes/import",
            &token,
            Some(&foreign),
        )
        .await;
    assert_eq!(fields(&problem(refused, 422).await), ["format"]);
    let mut broken = document.clone();
    broken["questions"][1]["options"] = json!(["only one"]);
    let refused = app
        .call(
            Method::POST,
            "/api/v1/quizzes/import",
            &token,
            Some(&broken),
        )
        .await;
    assert_eq!(
        fields(&problem(refused, 422).await),
        ["questions[1].options"]
    );
    let unformatted = app
        .call(
            Method::POST,
            "/api/v1/quizzes/import",
            &token,
            Some(&json!({"title": "T", "questions": [question(0)]})),
        )
        .await;
    assert_eq!(fields(&problem(unformatted, 422).await), ["format"]);
}

async fn import_csv(app: &TestApp, token: &str, query: &str, csv: String) -> reqwest::Response {
    app.client
        .post(app.url(&format!("/api/v1/quizzes/import{query}")))
        .bearer_auth(token)
        .header("Content-Type", "text/csv; charset=utf-8")
        .body(csv)
        .send()
        .await
        .unwrap()
}

#[actix_web::test]
async fn the_csv_export_defuses_formulas_and_imports_as_the_same_quiz() {
    let (app, _) = quiz_app().await;
    let token = learner(&app).await;
    let original = create(&app, &token, &hostile_quiz()).await;
    let id = original["quiz_id"].as_str().unwrap();

    let export = app
        .get_bearer(&format!("/api/v1/quizzes/{id}/export.csv"), &token)
        .await;
    assert_eq!(export.status(), 200);
    assert_eq!(export.headers()["content-type"], "text/csv; charset=utf-8");
    assert_eq!(
        export.headers()["content-disposition"],
        "attachment; filename=\"questpath-quiz-cmd-c-calc-a0.csv\""
    );
    let csv = export.text().await.unwrap();

    // Every cell a user wrote reads as text in a spreadsheet.
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    assert_eq!(
        reader.headers().unwrap().iter().collect::<Vec<_>>(),
        [
            "question",
            "option_a",
            "option_b",
            "option_c",
            "option_d",
            "correct_option",
            "explanation",
            "time_limit_secs",
            "points"
        ]
    );
    let rows: Vec<Vec<String>> = reader
        .records()
        .map(|r| r.unwrap().iter().map(str::to_string).collect())
        .collect();
    assert_eq!(
        rows[0],
        [
            "'=HYPERLINK(\"http://evil.example\", \"click\")",
            "'+1",
            "'-1",
            "'@SUM(A1:A9)",
            "''quoted",
            "D",
            "'-because, \"really\"\nline two",
            "45",
            "2"
        ]
    );
    assert_eq!(
        rows[1],
        [
            "'@me, is 2+2 = 4?",
            "Yes, of course",
            "No",
            "",
            "",
            "A",
            "",
            "",
            "0"
        ]
    );
    assert_eq!(rows[2], ["Plain one", "x", "y", "z", "", "C", "", "5", "1"]);
    for row in &rows {
        for cell in row {
            assert!(
                !cell.starts_with(['=', '+', '-', '@']),
                "{cell:?} would run as a formula"
            );
        }
    }

    let title = "=cmd|' /C calc'!A0 \u{e9}\u{1f600}";
    let description = "+ for \"class\", 4b\nsecond line";
    let query = format!(
        "?title={}&description={}",
        urlencode(title),
        urlencode(description)
    );
    let imported = import_csv(&app, &token, &query, csv.clone()).await;
    assert_eq!(imported.status(), 201);
    let imported: Value = imported.json().await.unwrap();
    same_quiz(&imported, &original);
    let again = app
        .get_bearer(
            &format!(
                "/api/v1/quizzes/{}/export.csv",
                imported["quiz_id"].as_str().unwrap()
            ),
            &token,
        )
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(again, csv);

    // Without ?title= the quiz gets a plain one.
    let untitled: Value = import_csv(&app, &token, "", csv)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(untitled["title"], "Imported quiz");
    assert_eq!(untitled["description"], "");
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[actix_web::test]
async fn csv_problems_name_their_row_and_column() {
    let (app, _) = quiz_app().await;
    let token = learner(&app).await;

    let csv = "question,option_a,option_b,option_c,correct_option,time_limit_secs,points\n\
               Fine?,yes,no,,A,,\n\
               Gap?,yes,,maybe,A,,\n\
               Slow?,yes,no,,A,1,\n\
               Which?,yes,no,,D,,\n\
               Greedy?,yes,no,,A,,lots\n"
        .to_string();
    let body = problem(import_csv(&app, &token, "?title=%20", csv).await, 422).await;
    assert_eq!(
        fields(&body),
        [
            "title",
            "rows[3].option_b",
            "rows[4].time_limit_secs",
            "rows[5].correct_option",
            "rows[6].points"
        ]
    );
    assert_eq!(
        body["errors"][2]["message"],
        "row 4: time_limit_secs must be 5 to 300"
    );

    let unknown = "question,option_a,option_b,answer\nQ,a,b,A\n".to_string();
    let body = problem(import_csv(&app, &token, "", unknown).await, 422).await;
    assert_eq!(fields(&body), ["header"]);
    assert!(
        body["detail"].as_str().unwrap().contains("\"answer\""),
        "{body}"
    );
    let empty = problem(import_csv(&app, &token, "", String::new()).await, 422).await;
    assert_eq!(fields(&empty), ["body"]);
    let latin1 = app
        .client
        .post(app.url("/api/v1/quizzes/import"))
        .bearer_auth(&token)
        .header("Content-Type", "text/csv")
        .body(b"question,option_a,option_b,correct_option\nCaf\xe9?,a,b,A\n".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(fields(&problem(latin1, 422).await), ["body"]);
    let xml = app
        .client
        .post(app.url("/api/v1/quizzes/import"))
        .bearer_auth(&token)
        .header("Content-Type", "application/xml")
        .body("<quiz/>")
        .send()
        .await
        .unwrap();
    assert_eq!(problem(xml, 415).await["code"], "unsupported_media_type");
    let list: Value = app
        .get_bearer("/api/v1/quizzes", &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list, json!({"quizzes": []}), "nothing was saved");
}

#[actix_web::test]
async fn the_catalog_lists_every_subject_with_its_levels() {
    let (app, _) = quiz_app().await;
    let token = learner(&app).await;

    let response = app.get_bearer("/api/v1/catalog", &token).await;
    assert_eq!(response.status(), 200);
    let catalog: Value = response.json().await.unwrap();

    let subjects = catalog["subjects"].as_array().unwrap();
    let slugs: Vec<&str> = subjects
        .iter()
        .map(|s| s["slug"].as_str().unwrap())
        .collect();
    for slug in ["general", "python", "typescript", "web-development"] {
        assert!(slugs.contains(&slug), "{slug} in {slugs:?}");
    }
    let python = subjects.iter().find(|s| s["slug"] == "python").unwrap();
    assert!(!python["title"].as_str().unwrap().is_empty());
    assert!(!python["category"].as_str().unwrap().is_empty());
    let levels = python["levels"].as_array().unwrap();
    assert!(levels.len() >= 3);
    for (i, level) in levels.iter().enumerate() {
        assert_eq!(level["index"], i);
        assert!(level["question_count"].as_u64().unwrap() >= 10, "{level}");
        assert!(!level["title"].as_str().unwrap().is_empty());
    }
    assert_eq!(app.get("/api/v1/catalog").await.status(), 401);
}

#[actix_web::test]
async fn a_room_takes_exactly_one_source_of_questions() {
    let (app, _) = quiz_app().await;
    let token = learner(&app).await;
    let quiz = create(&app, &token, &hostile_quiz()).await;
    let quiz_id = quiz["quiz_id"].as_str().unwrap();
    let room = |body: Value| {
        let app = &app;
        let token = token.clone();
        async move {
            app.call(Method::POST, "/api/v1/rooms", &token, Some(&body))
                .await
        }
    };

    let none = problem(room(json!({"title": "Nothing"})).await, 422).await;
    assert_eq!(
        fields(&none),
        ["level_id", "questions", "quiz_id", "catalog"]
    );
    let two = problem(
        room(json!({"quiz_id": quiz_id, "catalog": {"subject": "python", "level": 0}})).await,
        422,
    )
    .await;
    assert_eq!(fields(&two), ["quiz_id", "catalog"]);
    assert_eq!(two["detail"], "give only one of quiz_id, catalog");
    let subject = problem(
        room(json!({"catalog": {"subject": "astrology", "level": 0}})).await,
        422,
    )
    .await;
    assert_eq!(fields(&subject), ["catalog.subject"]);
    let level = problem(
        room(json!({"catalog": {"subject": "python", "level": 99}})).await,
        422,
    )
    .await;
    assert_eq!(fields(&level), ["catalog.level"]);
    let unknown = problem(room(json!({"quiz_id": Uuid::now_v7()})).await, 404).await;
    assert_eq!(unknown["code"], "not_found");
    let bad_question = problem(
        room(json!({"questions": [question(0), {"question": "?", "options": ["a"], "correct_option": "A"}]}))
            .await,
        422,
    )
    .await;
    assert_eq!(fields(&bad_question), ["questions[1].options"]);

    let from_quiz = room(json!({"quiz_id": quiz_id})).await;
    assert_eq!(from_quiz.status(), 201);
    let from_quiz: Value = from_quiz.json().await.unwrap();
    assert_eq!(from_quiz["title"], quiz["title"]);
    assert_eq!(from_quiz["question_count"], 3);
    let from_catalog =
        room(json!({"catalog": {"subject": "python", "level": 1}, "title": "Python night"})).await;
    assert_eq!(from_catalog.status(), 201);
    let from_catalog: Value = from_catalog.json().await.unwrap();
    assert_eq!(from_catalog["title"], "Python night");
    assert!(from_catalog["question_count"].as_u64().unwrap() >= 10);
}
