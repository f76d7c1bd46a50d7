//! Passwords chosen at sign-up: length bounds and a built-in list of the most common.

use std::collections::HashSet;
use std::sync::LazyLock;

/// Fewest characters accepted.
pub const MIN_CHARS: usize = 8;
/// Most characters accepted: long enough for passphrases, short enough that hashing a
/// submitted "password" cannot be used to burn server CPU.
pub const MAX_CHARS: usize = 128;

static COMMON: LazyLock<HashSet<String>> = LazyLock::new(|| {
    include_str!("common_passwords.txt")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_lowercase)
        .collect()
});

/// A password acceptable for a new account. Never logged: `Debug` hides it.
#[derive(Clone)]
pub struct Password(String);

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(***)")
    }
}

impl Password {
    /// Checks a new password; the error is a message for the client.
    pub fn parse(input: &str) -> Result<Self, String> {
        let chars = input.chars().count();
        if chars < MIN_CHARS {
            return Err(format!("password must be at least {MIN_CHARS} characters"));
        }
        if chars > MAX_CHARS {
            return Err(format!("password must be at most {MAX_CHARS} characters"));
        }
        if COMMON.contains(&input.to_lowercase()) {
            return Err("password is too common; choose another".into());
        }
        Ok(Password(input.to_string()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_is_bounded() {
        assert!(Password::parse("short7!").is_err());
        assert!(Password::parse("long enough phrase").is_ok());
        assert!(Password::parse(&"x".repeat(MAX_CHARS)).is_ok());
        assert!(Password::parse(&"x".repeat(MAX_CHARS + 1)).is_err());
    }

    #[test]
    fn common_passwords_are_refused_whatever_their_case() {
        for common in [
            "password123",
            "PASSWORD123",
            "qwertyuiop",
            "iloveyou1",
            "12345678",
        ] {
            assert!(Password::parse(common).is_err(), "{common}");
        }
        assert!(COMMON.len() > 100);
    }

    #[test]
    fn debug_hides_the_value() {
        let p = Password::parse("correct horse battery").unwrap();
        assert!(!format!("{p:?}").contains("horse"));
    }
}
