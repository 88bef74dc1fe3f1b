use std::fmt;

/// The value `.env.example` ships for `API_SECRET_KEY`; refused so nobody serves with a published key.
pub const PLACEHOLDER_KEY: &str = "change-me-to-a-long-random-secret";

/// The shortest key the server accepts.
pub const MIN_KEY_CHARS: usize = 16;

/// A secret string (an API key) whose `Debug` and `Display` print `[REDACTED]`.
///
/// The only way to read it is [`Secret::expose`], which makes every use easy to find.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret itself: hash it or show it once to its owner, never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([REDACTED])")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[REDACTED]")
    }
}

/// Checks a key given in plain text (`API_SECRET_KEY`, `keys hash`): long enough, printable ASCII
/// as a header carries it, and not the published placeholder. The refusal never shows the key.
pub fn validate_key(key: &str) -> Result<Secret, String> {
    if key == PLACEHOLDER_KEY {
        return Err(
            "is still the .env.example placeholder; set a long random secret \
                    (or unset it to get a generated key)"
                .into(),
        );
    }
    if !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err("must be printable ASCII without spaces, as an HTTP header carries it".into());
    }
    let chars = key.chars().count();
    if chars < MIN_KEY_CHARS {
        return Err(format!(
            "is {chars} characters long; a key needs at least {MIN_KEY_CHARS}"
        ));
    }
    Ok(Secret::new(key))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_never_show_the_value() {
        let s = Secret::new("sk_very-secret-value-123");
        assert_eq!(format!("{s}"), "[REDACTED]");
        assert!(!format!("{s:?}").contains("very-secret"));
        assert!(!format!("{:?}", Some(&s)).contains("very-secret"));
        assert_eq!(s.expose(), "sk_very-secret-value-123");
    }

    #[test]
    fn weak_keys_are_refused_without_being_echoed() {
        for bad in [
            "hunter2",
            "",
            PLACEHOLDER_KEY,
            "a key with spaces in it",
            "ééééééééééééééé€",
        ] {
            let problem = validate_key(bad).unwrap_err();
            assert!(bad.is_empty() || !problem.contains(bad), "{problem}");
        }
        assert_eq!(
            validate_key("0123456789abcdef").unwrap().expose(),
            "0123456789abcdef"
        );
    }
}
