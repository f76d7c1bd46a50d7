//! Reading one variable: trimmed, blank as unset, its documented default otherwise, and
//! typed parsing whose error names the variable and says what it expected.

use std::ops::RangeInclusive;
use std::str::FromStr;
use std::time::Duration;

use super::ConfigError;
use super::variables::default_of;

/// The variables of one source (the process environment, or a map in tests).
pub(super) struct Vars<'a> {
    lookup: &'a dyn Fn(&str) -> Option<String>,
}

impl<'a> Vars<'a> {
    pub(super) fn new(lookup: &'a dyn Fn(&str) -> Option<String>) -> Self {
        Vars { lookup }
    }

    /// The trimmed value; `None` when unset or blank.
    pub(super) fn get(&self, name: &'static str) -> Option<String> {
        (self.lookup)(name)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    }

    /// The value, or its default from [`super::VARIABLES`].
    pub(super) fn or_default(&self, name: &'static str) -> String {
        self.get(name)
            .unwrap_or_else(|| default_of(name).to_string())
    }

    /// The value (or default) as a number in `range`; `what` completes the error's
    /// "... is not {what}".
    pub(super) fn ranged<T: FromStr + PartialOrd>(
        &self,
        name: &'static str,
        range: RangeInclusive<T>,
        what: &str,
    ) -> Result<T, ConfigError> {
        parse_ranged(name, &self.or_default(name), range, what)
    }

    /// The value (or default) as a whole number in `range`.
    pub(super) fn number(
        &self,
        name: &'static str,
        range: RangeInclusive<u64>,
    ) -> Result<u64, ConfigError> {
        let what = format!("a number from {} to {}", range.start(), range.end());
        self.ranged(name, range, &what)
    }

    /// The value (or default) as a number of seconds in `range`.
    pub(super) fn seconds(
        &self,
        name: &'static str,
        range: RangeInclusive<u64>,
    ) -> Result<Duration, ConfigError> {
        self.number(name, range).map(Duration::from_secs)
    }

    /// The value (or default) as `true` or `false` (also `1`/`0`, `yes`/`no`, `on`/`off`).
    pub(super) fn boolean(&self, name: &'static str) -> Result<bool, ConfigError> {
        let text = self.or_default(name);
        parse_bool(&text).ok_or_else(|| bad(name, format!("{text:?} is not true or false")))
    }
}

/// `text` (the value of `name`) as a number in `range`.
pub(super) fn parse_ranged<T: FromStr + PartialOrd>(
    name: &'static str,
    text: &str,
    range: RangeInclusive<T>,
    what: &str,
) -> Result<T, ConfigError> {
    match text.parse::<T>() {
        Ok(n) if range.contains(&n) => Ok(n),
        _ => Err(bad(name, format!("{text:?} is not {what}"))),
    }
}

/// The error for a value of `variable` the server cannot use.
pub(super) fn bad(variable: &'static str, problem: impl Into<String>) -> ConfigError {
    ConfigError {
        variable,
        problem: problem.into(),
    }
}

pub(super) fn parse_bool(value: &str) -> Option<bool> {
    match value.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Some(true),
        "false" | "0" | "no" | "off" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blank_is_unset_and_unset_is_the_default() {
        let lookup = |name: &str| (name == "QUESTPATH_LOG").then(|| "  ".to_string());
        let vars = Vars::new(&lookup);
        assert_eq!(vars.get("QUESTPATH_LOG"), None);
        assert_eq!(vars.or_default("QUESTPATH_LOG"), "info");
    }

    #[test]
    fn numbers_out_of_range_say_the_range() {
        let err =
            parse_ranged("QUESTPATH_WORKERS", "0", 1..=1024usize, "a worker count").unwrap_err();
        assert_eq!(err.variable, "QUESTPATH_WORKERS");
        assert_eq!(err.problem, "\"0\" is not a worker count");
        assert_eq!(parse_bool("ON"), Some(true));
        assert_eq!(parse_bool("maybe"), None);
    }
}
