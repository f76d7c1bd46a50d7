//! Input generators shared by the property tests of the parsers of outside input
//! (websocket frames, LLM output, tokens, Google keys, configuration, CSV names).
//!
//! Each test module runs 256 cases by default; `PROPTEST_CASES` raises that
//! (`scripts/fuzz` runs them with 100,000).

use proptest::prelude::*;
use serde_json::{Map, Number, Value};

/// The default configuration (`PROPTEST_CASES`, else 256) with `1/divisor` of its cases,
/// for properties whose every case is slow (an HTTP client built, an RSA signature).
pub fn fewer_cases(divisor: u32) -> ProptestConfig {
    let default = ProptestConfig::default();
    ProptestConfig {
        cases: (default.cases / divisor).max(1),
        ..default
    }
}

/// Strings a hostile client would send: any Unicode (control, bidi, NUL included),
/// spreadsheet formula starters, quotes and separators, and some long ones.
pub fn hostile_string() -> impl Strategy<Value = String> + Clone {
    prop_oneof![
        4 => any::<String>(),
        2 => "\\PC{0,40}",
        2 => "[=+\\-@\t\r\n\"',; ]{0,3}[a-zA-Z0-9 ()\"',;=+\\-@]{0,20}",
        1 => "[\u{0}-\u{1f}\u{7f}\u{200b}-\u{200f}\u{202a}-\u{202e}\u{2066}-\u{2069}\u{feff}]{0,8}",
        1 => (any::<char>(), 0..3000usize).prop_map(|(c, n)| c.to_string().repeat(n)),
    ]
}

/// Up to 8 characters of any kind: cheap to generate, for large documents.
pub fn short_string() -> impl Strategy<Value = String> + Clone {
    prop::collection::vec(any::<char>(), 0..8).prop_map(String::from_iter)
}

/// Any JSON value: scalars of every kind (huge numbers, hostile strings), arrays and
/// objects nested up to `depth`.
pub fn json_value(depth: u32) -> impl Strategy<Value = Value> + Clone {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_filter_map("JSON has no NaN or infinity", |f| {
            Number::from_f64(f).map(Value::Number)
        }),
        hostile_string().prop_map(Value::String),
    ];
    leaf.prop_recursive(depth, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            prop::collection::vec((hostile_string(), inner), 0..8)
                .prop_map(|fields| Value::Object(fields.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// A JSON object with the given keys (each maybe left out) bound to `value`s, and a
/// few unknown keys bound to strings, so generated documents get past "not an object"
/// and reach the field checks.
pub fn object_with(
    keys: &'static [&'static str],
    value: impl Strategy<Value = Value> + Clone + 'static,
) -> impl Strategy<Value = Value> {
    let fields = keys
        .iter()
        .map(|key| prop::option::weighted(0.8, value.clone()).prop_map(move |v| (*key, v)))
        .collect::<Vec<_>>();
    let extra = (short_string(), short_string().prop_map(Value::String));
    (fields, prop::collection::vec(extra, 0..3)).prop_map(|(known, extra)| {
        let mut object = Map::new();
        for (key, value) in extra {
            object.insert(key, value);
        }
        for (key, value) in known {
            if let Some(value) = value {
                object.insert(key.to_string(), value);
            }
        }
        Value::Object(object)
    })
}

/// `depth` arrays nested in each other (`[[[...]]]`), as JSON text.
pub fn nested_json_arrays(depth: usize) -> String {
    format!("{}{}", "[".repeat(depth), "]".repeat(depth))
}
