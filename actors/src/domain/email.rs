//! Email addresses: syntax checked, normalised to lower case for uniqueness.

/// A syntactically valid, normalised (trimmed, lower-cased) email address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    /// Parses and normalises; the error is a message for the client.
    pub fn parse(input: &str) -> Result<Self, String> {
        let email = input.trim().to_lowercase();
        if email.is_empty() {
            return Err("email is required".into());
        }
        if email.len() > 254 {
            return Err("email is longer than 254 characters".into());
        }
        let Some((local, domain)) = email.rsplit_once('@') else {
            return Err("email must look like name@example.org".into());
        };
        let plain = email_address::EmailAddress::is_valid(&email)
            && !local.is_empty()
            && local.len() <= 64
            && !local.starts_with('"')
            && domain.contains('.')
            && !domain.starts_with('[')
            && domain
                .split('.')
                .all(|label| !label.is_empty() && !label.starts_with('-') && !label.ends_with('-'));
        if !plain {
            return Err("email must look like name@example.org".into());
        }
        Ok(Email(email))
    }

    /// The address as it is stored.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The part before `@`, for default display names and masked addresses.
    pub fn local_part(&self) -> &str {
        self.0.split('@').next().unwrap_or_default()
    }
}

impl AsRef<str> for Email {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_addresses_are_normalised() {
        assert_eq!(
            Email::parse("  Ada@Example.ORG ").unwrap().as_str(),
            "ada@example.org"
        );
        assert_eq!(
            Email::parse("first.last+tag@sub.example.co.uk")
                .unwrap()
                .local_part(),
            "first.last+tag"
        );
    }

    #[test]
    fn invalid_addresses_are_refused() {
        for bad in [
            "",
            "plain",
            "@example.org",
            "ada@",
            "ada@localhost",
            "ada@@example.org",
            "ada@exa mple.org",
            "ada@-example.org",
            "\"quoted\"@example.org",
            "ada@[127.0.0.1]",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?} accepted");
        }
        let long = format!("{}@example.org", "a".repeat(65));
        assert!(Email::parse(&long).is_err());
    }
}
