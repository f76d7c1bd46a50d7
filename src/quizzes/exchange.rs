//! A saved quiz as a file: the JSON document (`format: "questpath.quiz.v1"`) and a CSV
//! with one question per row, both exported and imported. Importing an export gives the
//! same quiz back.
//!
//! CSV cells a spreadsheet would run as a formula (starting with `=`, `+`, `-`, `@`) get
//! a leading `'`, as the room results CSV does; so that an import can undo it exactly, a
//! cell that starts with `'` itself gets one more. An import removes one leading `'` from
//! every text cell (spreadsheets hide it too).

use serde::{Deserialize, Serialize};

use super::{QuizContent, QuizInput};
use questpath_actors::events::LETTERS;
use questpath_actors::ports::store::{QuizQuestion, SavedQuiz};
use questpath_actors::room::setup::{CustomQuestion, Invalid, MAX_QUESTIONS, QuestionPart};

/// The `format` of the JSON document.
pub const FORMAT: &str = "questpath.quiz.v1";

/// The CSV columns, in order.
pub const COLUMNS: [&str; 9] = [
    "question",
    "option_a",
    "option_b",
    "option_c",
    "option_d",
    "correct_option",
    "explanation",
    "time_limit_secs",
    "points",
];

/// Columns every CSV must have; the others may be left out.
const REQUIRED: [&str; 4] = ["question", "option_a", "option_b", "correct_option"];

/// Most problems one import reports.
const MAX_PROBLEMS: usize = 50;

/// A saved quiz as a file: what `export.json` gives and `import` takes.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, utoipa::ToSchema)]
#[schema(example = json!({
    "format": "questpath.quiz.v1",
    "title": "European capitals",
    "description": "",
    "questions": [
        {"question": "Capital of Italy?", "options": ["Paris", "Madrid", "Rome"],
         "correct_option": "C", "explanation": "Rome, since 1871.", "time_limit_secs": 20,
         "points": 1}
    ]
}))]
pub struct QuizDocument {
    /// Always `questpath.quiz.v1`.
    #[schema(example = "questpath.quiz.v1", pattern = "^questpath\\.quiz\\.v1$")]
    pub format: String,
    /// 1 to 120 characters.
    #[schema(min_length = 1, max_length = 120)]
    pub title: String,
    /// Up to 1,000 characters.
    #[serde(default)]
    #[schema(max_length = 1000)]
    pub description: Option<String>,
    /// 1 to 100 questions.
    #[schema(min_items = 1, max_items = 100)]
    pub questions: Vec<CustomQuestion>,
}

impl QuizDocument {
    pub fn of(quiz: &SavedQuiz) -> Self {
        QuizDocument {
            format: FORMAT.into(),
            title: quiz.title.clone(),
            description: Some(quiz.description.clone()),
            questions: quiz
                .questions
                .iter()
                .map(CustomQuestion::from_checked)
                .collect(),
        }
    }

    /// The quiz the document describes, checked like a quiz written by hand.
    pub fn check(self) -> Result<QuizContent, Vec<Invalid>> {
        if self.format != FORMAT {
            return Err(vec![(
                "format".into(),
                format!("format must be {FORMAT:?}, not {:?}", self.format),
            )]);
        }
        QuizInput {
            title: self.title,
            description: self.description,
            questions: self.questions,
        }
        .check()
    }
}

/// `text` safe to open in a spreadsheet, and undone exactly by [`unescape`].
fn escape(text: &str) -> String {
    if text.starts_with('\'') {
        format!("'{text}")
    } else {
        crate::rooms::results::defuse(text)
    }
}

/// A text cell as written before [`escape`]; line breaks inside a cell saved on Windows
/// (`\r\n`) become `\n`, the only control character quiz texts may hold.
fn unescape(cell: &str) -> String {
    cell.strip_prefix('\'')
        .unwrap_or(cell)
        .replace("\r\n", "\n")
}

/// The questions as CSV (RFC 4180, the header row first).
pub fn to_csv(questions: &[QuizQuestion]) -> Result<String, String> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(COLUMNS).map_err(|e| e.to_string())?;
    for q in questions {
        let mut row = vec![escape(&q.question)];
        for i in 0..4 {
            row.push(q.options.get(i).map(|o| escape(o)).unwrap_or_default());
        }
        row.extend([
            LETTERS
                .get(usize::from(q.answer))
                .copied()
                .unwrap_or("?")
                .to_string(),
            escape(&q.explanation),
            q.time_limit_secs.map(|s| s.to_string()).unwrap_or_default(),
            q.points.to_string(),
        ]);
        writer.write_record(&row).map_err(|e| e.to_string())?;
    }
    let bytes = writer.into_inner().map_err(|e| e.to_string())?;
    String::from_utf8(bytes).map_err(|e| e.to_string())
}

/// A problem in row `row` (the header is row 1, as a spreadsheet counts), column
/// `column`: `rows[4].option_b`, "row 4: option_b must be 1 to 200 characters".
fn at(row: usize, column: &str, message: impl std::fmt::Display) -> Invalid {
    (
        format!("rows[{row}].{column}"),
        format!("row {row}: {column} {message}"),
    )
}

/// The checked questions of a CSV file, or every problem found (up to 50), each naming
/// its row and column.
pub fn from_csv(body: &[u8]) -> Result<Vec<QuizQuestion>, Vec<Invalid>> {
    let body = body.strip_prefix(b"\xef\xbb\xbf").unwrap_or(body);
    if std::str::from_utf8(body).is_err() {
        return Err(vec![(
            "body".into(),
            "the CSV must be UTF-8 text (save it as \"CSV UTF-8\")".into(),
        )]);
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(vec![("body".into(), "the file is empty".into())]);
    }
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        // Spreadsheets may leave out empty cells at the end of a row.
        .flexible(true)
        .from_reader(body);
    let headers = reader
        .headers()
        .map_err(|e| header_problem(format!("the header row cannot be read: {e}")))?;
    let index = column_index(headers)?;

    let mut questions = Vec::new();
    let mut problems = Vec::new();
    let mut rows = 0usize;
    for (i, record) in reader.records().enumerate() {
        let row = i + 2;
        let record = match record {
            Ok(record) => record,
            Err(e) => {
                problems.push((format!("rows[{row}]"), format!("row {row}: {e}")));
                continue;
            }
        };
        let cell = |column: usize| -> &str {
            index[column]
                .and_then(|position| record.get(position))
                .unwrap_or_default()
        };
        if (0..COLUMNS.len()).all(|c| cell(c).trim().is_empty()) {
            continue;
        }
        rows += 1;
        if rows > MAX_QUESTIONS {
            continue;
        }
        match question_of_row(row, &cell) {
            Ok(question) => questions.push(question),
            Err(problem) => problems.push(problem),
        }
    }
    if rows == 0 {
        problems.push(("rows".into(), "the file has no questions".into()));
    } else if rows > MAX_QUESTIONS {
        problems.push((
            "rows".into(),
            format!("a quiz has at most {MAX_QUESTIONS} questions; the file has {rows}"),
        ));
    }
    if problems.is_empty() {
        Ok(questions)
    } else {
        problems.truncate(MAX_PROBLEMS);
        Err(problems)
    }
}

fn header_problem(message: String) -> Vec<Invalid> {
    vec![("header".to_string(), message)]
}

/// Where each known column is in the file, from its header row.
fn column_index(
    headers: &csv::StringRecord,
) -> Result<[Option<usize>; COLUMNS.len()], Vec<Invalid>> {
    let mut index = [None; COLUMNS.len()];
    for (position, name) in headers.iter().enumerate() {
        let name = name.trim().to_ascii_lowercase();
        let Some(column) = COLUMNS.iter().position(|c| *c == name) else {
            return Err(header_problem(format!(
                "the first row must name the columns ({}); {name:?} is not one of them",
                COLUMNS.join(", ")
            )));
        };
        if index[column].replace(position).is_some() {
            return Err(header_problem(format!("column {name} is named twice")));
        }
    }
    if let Some(missing) = REQUIRED
        .iter()
        .find(|c| index[COLUMNS.iter().position(|k| k == *c).unwrap_or(0)].is_none())
    {
        return Err(header_problem(format!(
            "the first row must name the columns ({}); {missing} is missing",
            COLUMNS.join(", ")
        )));
    }
    Ok(index)
}

/// One row's question, checked; its first problem otherwise.
fn question_of_row<'a>(
    row: usize,
    cell: &impl Fn(usize) -> &'a str,
) -> Result<QuizQuestion, Invalid> {
    // Options are filled from option_a on; an empty one before a filled one is a gap.
    let option_cells: Vec<String> = (1..=4).map(|c| unescape(cell(c))).collect();
    let given = option_cells
        .iter()
        .rposition(|o| !o.trim().is_empty())
        .map_or(0, |last| last + 1);
    let options = option_cells[..given.max(2)].to_vec();
    let number = |column: usize| -> Result<Option<u64>, Invalid> {
        let value = cell(column).trim();
        if value.is_empty() {
            return Ok(None);
        }
        value
            .parse::<u64>()
            .map(Some)
            .map_err(|_| at(row, COLUMNS[column], "must be a whole number"))
    };
    let points = number(8)?
        .map(|p| u32::try_from(p).map_err(|_| at(row, "points", "must be 0, 1 or 2")))
        .transpose()?;
    let explanation = unescape(cell(6));
    let question = CustomQuestion {
        question: unescape(cell(0)),
        options,
        correct_option: cell(5).trim().to_string(),
        explanation: (!explanation.trim().is_empty()).then_some(explanation),
        time_limit_secs: number(7)?,
        points,
    };
    question.check().map_err(|(part, message)| {
        let column = match part {
            QuestionPart::Question => "question".to_string(),
            QuestionPart::Option(i) => COLUMNS[1 + i].to_string(),
            // Too few, or two alike: the option the problem shows at.
            QuestionPart::Options => COLUMNS[1 + options_at_fault(&question.options)].into(),
            QuestionPart::CorrectOption => "correct_option".into(),
            QuestionPart::Explanation => "explanation".into(),
            QuestionPart::TimeLimit => "time_limit_secs".into(),
            QuestionPart::Points => "points".into(),
        };
        let message = match part {
            QuestionPart::Options => "must differ from the options before it".to_string(),
            _ => message,
        };
        at(row, &column, message)
    })
}

/// The first option equal (ignoring case and spaces) to one before it, else the first
/// missing one.
fn options_at_fault(options: &[String]) -> usize {
    let key = |o: &String| o.trim().to_lowercase();
    (1..options.len())
        .find(|&i| options[..i].iter().any(|o| key(o) == key(&options[i])))
        .unwrap_or(options.len().min(3))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(question: &str, options: &[&str], answer: u8) -> QuizQuestion {
        QuizQuestion {
            question: question.into(),
            options: options.iter().map(|o| o.to_string()).collect(),
            answer,
            explanation: String::new(),
            time_limit_secs: None,
            points: 1,
        }
    }

    #[test]
    fn formulas_are_defused_and_come_back_exactly() {
        let mut hostile = q(
            "=HYPERLINK(\"http://x\")",
            &["+1", "-1", "@SUM(A1)", "'quoted"],
            3,
        );
        hostile.explanation = "''twice\nand a line".into();
        hostile.time_limit_secs = Some(45);
        hostile.points = 0;
        let plain = q("Capital of France, \"the\" city?", &["Paris", "Rome"], 0);
        let questions = vec![hostile, plain];

        let csv = to_csv(&questions).unwrap();
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines[0], COLUMNS.join(","));
        assert!(
            lines[1].starts_with("\"'=HYPERLINK(\"\"http://x\"\")\",'+1,'-1,'@SUM(A1),''quoted,D,"),
            "{}",
            lines[1]
        );
        assert!(csv.contains("\"'''twice\nand a line\",45,0"), "{csv}");
        assert_eq!(from_csv(csv.as_bytes()).unwrap(), questions);
    }

    #[test]
    fn a_hand_written_csv_may_leave_columns_out() {
        let csv = "\u{feff}Question,Option_A,option_b,option_c,correct_option\r\n\
                   What is 2+2?,3,4,,b\r\n\
                   ,,,,\r\n\
                   Pick C,x,y,z,C\r\n\
                   \"Two\r\nlines\",a,b\r\n";
        let problems = from_csv(csv.as_bytes()).unwrap_err();
        assert_eq!(problems[0].0, "rows[5].correct_option");
        let csv = csv.replace(",a,b\r\n", ",a,b,,A\r\n");
        let questions = from_csv(csv.as_bytes()).unwrap();
        assert_eq!(questions.len(), 3);
        assert_eq!(questions[2].question, "Two\nlines");
        assert_eq!(questions[0].options, ["3", "4"]);
        assert_eq!(questions[0].answer, 1);
        assert_eq!((questions[1].answer, questions[1].points), (2, 1));
    }

    #[test]
    fn problems_name_the_row_and_column() {
        let csv = "question,option_a,option_b,option_c,option_d,correct_option,explanation,time_limit_secs,points\n\
                   Fine?,yes,no,,,A,,,\n\
                   Gap?,yes,,maybe,,A,,,\n\
                   Same?,yes,YES,,,A,,,\n\
                   Slow?,yes,no,,,A,,1,\n\
                   Greedy?,yes,no,,,A,,,5\n\
                   Words?,yes,no,,,A,,soon,\n\
                   Which?,yes,no,,,C,,,\n";
        let problems = from_csv(csv.as_bytes()).unwrap_err();
        let fields: Vec<&str> = problems.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(
            fields,
            [
                "rows[3].option_b",
                "rows[4].option_b",
                "rows[5].time_limit_secs",
                "rows[6].points",
                "rows[7].time_limit_secs",
                "rows[8].correct_option",
            ]
        );
        assert_eq!(problems[2].1, "row 5: time_limit_secs must be 5 to 300");
    }

    #[test]
    fn the_header_must_name_known_columns() {
        let unknown = from_csv(b"question,option_a,option_b,answer\nQ,a,b,A\n").unwrap_err();
        assert_eq!(unknown[0].0, "header");
        assert!(unknown[0].1.contains("\"answer\""), "{}", unknown[0].1);
        let missing = from_csv(b"question,option_a,option_b\nQ,a,b\n").unwrap_err();
        assert!(missing[0].1.contains("correct_option is missing"));
        assert_eq!(from_csv(b"").unwrap_err()[0].0, "body");
        let header_only = from_csv(b"question,option_a,option_b,correct_option\r\n").unwrap_err();
        assert_eq!(header_only[0].0, "rows");
        assert_eq!(from_csv(b"\xff\xfe").unwrap_err()[0].0, "body");
        let many = format!(
            "question,option_a,option_b,correct_option\n{}",
            "Q,a,b,A\n".repeat(101)
        );
        let too_many = from_csv(many.as_bytes()).unwrap_err();
        assert_eq!(too_many[0].0, "rows");
        assert!(too_many[0].1.contains("101"));
    }

    #[test]
    fn the_document_names_its_format() {
        let quiz = SavedQuiz {
            id: uuid::Uuid::now_v7(),
            owner_id: uuid::Uuid::new_v4(),
            title: "Capitals".into(),
            description: "Europe".into(),
            questions: vec![q("Capital of France?", &["Paris", "Rome"], 0)],
            created_at: chrono::Utc::now(),
            updated_at: chrono::Utc::now(),
        };
        let document = QuizDocument::of(&quiz);
        let content = document.clone().check().unwrap();
        assert_eq!(
            (content.title, content.description, content.questions),
            (quiz.title, quiz.description, quiz.questions)
        );
        let other = QuizDocument {
            format: "kahoot".into(),
            ..document
        };
        assert_eq!(other.check().unwrap_err()[0].0, "format");
    }
}
