//! Display names: what other learners see on leaderboards and in rooms.

/// A trimmed display name of 1 to 50 characters without control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisplayName(String);

/// Longest accepted display name, in characters.
pub const MAX_CHARS: usize = 50;

impl DisplayName {
    pub fn parse(input: &str) -> Result<Self, String> {
        let name = input.trim();
        let chars = name.chars().count();
        if chars == 0 {
            return Err("display name must not be blank".into());
        }
        if chars > MAX_CHARS {
            return Err(format!(
                "display name is longer than {MAX_CHARS} characters"
            ));
        }
        if name.chars().any(spoofing) {
            return Err("display name must not contain control characters".into());
        }
        Ok(DisplayName(name.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

/// Control and format characters (bidi overrides, zero-width) that can make one name
/// look like another's; refused in display names and in room player names alike.
pub fn spoofing(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(DisplayName::parse("  Ada L. ").unwrap().as_str(), "Ada L.");
        assert!(DisplayName::parse(&"é".repeat(50)).is_ok());
        assert!(DisplayName::parse(&"é".repeat(51)).is_err());
        assert!(DisplayName::parse("   ").is_err());
    }

    #[test]
    fn control_and_spoofing_characters_are_refused() {
        for bad in ["a\nb", "a\u{0007}", "evil\u{202E}txt", "zero\u{200B}width"] {
            assert!(DisplayName::parse(bad).is_err(), "{bad:?}");
        }
    }
}
