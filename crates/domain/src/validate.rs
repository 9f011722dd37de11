//! Input limits, in one place so that the CLI, the UI and the engine refuse the same things.

use crate::DomainError;

/// Longest name (workspace, channel, board, column, label, event title, task title).
pub const MAX_NAME: usize = 200;
/// Longest channel handle (`#name`).
pub const MAX_CHANNEL_NAME: usize = 80;
/// Longest message body, in characters (Slack's limit is 40,000).
pub const MAX_MESSAGE: usize = 40_000;
/// Longest description, topic, purpose, notes or comment.
pub const MAX_TEXT: usize = 20_000;
/// Longest username.
pub const MAX_USERNAME: usize = 40;

/// A display name or title: trimmed, non-empty, no control characters, at most [`MAX_NAME`].
pub fn name(field: &'static str, value: &str) -> Result<String, DomainError> {
    let v = value.trim();
    if v.is_empty() {
        return Err(DomainError::Empty { field });
    }
    limit(field, v, MAX_NAME)?;
    if let Some(ch) = v.chars().find(|c| c.is_control()) {
        return Err(DomainError::BadChar { field, ch });
    }
    Ok(v.to_owned())
}

/// Free text with a length limit; may be empty.
pub fn text(field: &'static str, value: &str, max: usize) -> Result<String, DomainError> {
    limit(field, value, max)?;
    Ok(value.to_owned())
}

/// A message body: non-empty after trimming, at most [`MAX_MESSAGE`] characters.
pub fn message_body(value: &str) -> Result<String, DomainError> {
    if value.trim().is_empty() {
        return Err(DomainError::Empty { field: "message" });
    }
    limit("message", value, MAX_MESSAGE)?;
    Ok(value.to_owned())
}

/// A channel handle: lower-case letters, digits, `-` and `_`, like Slack's.
pub fn channel_name(value: &str) -> Result<String, DomainError> {
    let v = value.trim().trim_start_matches('#').to_lowercase();
    if v.is_empty() {
        return Err(DomainError::Empty {
            field: "channel name",
        });
    }
    limit("channel name", &v, MAX_CHANNEL_NAME)?;
    if let Some(ch) = v
        .chars()
        .find(|c| !(c.is_alphanumeric() || *c == '-' || *c == '_'))
    {
        return Err(DomainError::BadChar {
            field: "channel name",
            ch,
        });
    }
    Ok(v)
}

/// A username: letters, digits, `.`, `-`, `_`; stored lower-case.
pub fn username(value: &str) -> Result<String, DomainError> {
    let v = value.trim().trim_start_matches('@').to_lowercase();
    if v.is_empty() {
        return Err(DomainError::Empty { field: "username" });
    }
    limit("username", &v, MAX_USERNAME)?;
    if let Some(ch) = v
        .chars()
        .find(|c| !(c.is_alphanumeric() || matches!(c, '.' | '-' | '_')))
    {
        return Err(DomainError::BadChar {
            field: "username",
            ch,
        });
    }
    Ok(v)
}

/// An email address in its plain `local@domain.tld` form.
pub fn email(value: &str) -> Result<String, DomainError> {
    let v = value.trim();
    limit("email", v, 254)?;
    let ok = matches!(v.split_once('@'), Some((l, d)) if !l.is_empty() && d.contains('.')
        && !d.starts_with('.') && !d.ends_with('.') && !v.chars().any(char::is_whitespace));
    if ok {
        Ok(v.to_lowercase())
    } else {
        Err(DomainError::Invalid(format!("invalid email {v:?}")))
    }
}

fn limit(field: &'static str, v: &str, max: usize) -> Result<(), DomainError> {
    let len = v.chars().count();
    if len > max {
        Err(DomainError::TooLong { field, len, max })
    } else {
        Ok(())
    }
}

/// Declares a string-backed enum with `FromStr`, `Display`, serde and a precise error.
#[macro_export]
macro_rules! string_enum {
    ($(#[$m:meta])* $name:ident, $kind:literal, { $($(#[$vm:meta])* $var:ident => $s:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord,
                 serde::Serialize, serde::Deserialize)]
        #[serde(try_from = "String", into = "&'static str")]
        pub enum $name { $($(#[$vm])* $var),+ }

        /// Its canonical name, as serialised.
        #[cfg(feature = "specta")]
        impl specta::Type for $name {
            fn definition(types: &mut specta::Types) -> specta::datatype::DataType {
                <String as specta::Type>::definition(types)
            }
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$var),+];
            /// The canonical lower-case name.
            pub fn as_str(self) -> &'static str { match self { $($name::$var => $s),+ } }
        }
        impl std::str::FromStr for $name {
            type Err = $crate::DomainError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s.trim().to_ascii_lowercase().replace('-', "_").as_str() {
                    $($s => Ok($name::$var),)+
                    _ => Err($crate::DomainError::UnknownValue {
                        kind: $kind, value: s.chars().take(64).collect(),
                        expected: concat!($($s, " "),+).trim_ascii_end(),
                    }),
                }
            }
        }
        impl TryFrom<String> for $name {
            type Error = $crate::DomainError;
            fn try_from(s: String) -> Result<Self, Self::Error> { s.parse() }
        }
        impl From<$name> for &'static str { fn from(v: $name) -> &'static str { v.as_str() } }
        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(name("board name", "  Roadmap ").unwrap(), "Roadmap");
        assert_eq!(
            name("board name", "   "),
            Err(DomainError::Empty {
                field: "board name"
            })
        );
        let long = "x".repeat(MAX_NAME + 1);
        assert_eq!(
            name("board name", &long),
            Err(DomainError::TooLong {
                field: "board name",
                len: MAX_NAME + 1,
                max: MAX_NAME
            })
        );
        assert!(matches!(
            name("title", "a\u{0}b"),
            Err(DomainError::BadChar { .. })
        ));
    }

    #[test]
    fn channel_names_follow_slack_rules() {
        assert_eq!(channel_name("#General").unwrap(), "general");
        assert!(matches!(
            channel_name("has space"),
            Err(DomainError::BadChar { ch: ' ', .. })
        ));
    }

    #[test]
    fn message_bodies_have_limits() {
        assert!(message_body(" \n ").is_err());
        assert!(message_body(&"a".repeat(MAX_MESSAGE)).is_ok());
        assert!(matches!(
            message_body(&"a".repeat(MAX_MESSAGE + 1)),
            Err(DomainError::TooLong { .. })
        ));
    }

    #[test]
    fn emails() {
        assert_eq!(email("Ada@Example.org").unwrap(), "ada@example.org");
        assert!(email("ada@").is_err());
        assert!(email("a b@example.org").is_err());
    }
}
