//! Identifiers with their validation, so that an invalid one cannot exist past the API boundary.

use crate::DomainError;
use serde::{Deserialize, Serialize};
use std::fmt;

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident, $field:literal, $check:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            pub fn parse(s: impl Into<String>) -> Result<Self, DomainError> {
                let s = s.into();
                let check: fn(&str) -> Result<(), String> = $check;
                check(&s).map_err(|reason| DomainError::invalid($field, reason))?;
                Ok($name(s))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = DomainError;
            fn try_from(s: String) -> Result<Self, Self::Error> {
                Self::parse(s)
            }
        }

        impl From<$name> for String {
            fn from(v: $name) -> String {
                v.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

fn ascii_token(s: &str, max: usize, extra: &[char]) -> Result<(), String> {
    if s.is_empty() || s.len() > max {
        return Err(format!("must be 1 to {max} characters"));
    }
    if !s.chars().all(|c| c.is_ascii_alphanumeric() || extra.contains(&c)) {
        return Err(format!("may contain only ASCII letters, digits and {}", extra.iter().collect::<String>()));
    }
    Ok(())
}

string_id!(
    /// A login name: one per person, never shared, never reused.
    Username, "username", |s| {
        ascii_token(s, 64, &['.', '_', '-'])?;
        if !s.starts_with(|c: char| c.is_ascii_alphanumeric()) {
            return Err("must start with a letter or digit".into());
        }
        Ok(())
    }
);

string_id!(
    /// The facility's own patient ID (患者ID), as printed on the patient card.
    PatientId, "patient_id", |s| ascii_token(s, 32, &['-', '_'])
);

string_id!(
    /// A document's ID, a UUID chosen by the server.
    DocumentId, "document_id", |s| {
        if s.len() == 36 && s.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
            Ok(())
        } else {
            Err("must be a UUID".into())
        }
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_refuse_what_could_escape_a_path_or_a_query() {
        assert!(PatientId::parse("P-0001").is_ok());
        assert!(PatientId::parse("../etc").is_err());
        assert!(PatientId::parse("").is_err());
        assert!(PatientId::parse("x".repeat(33)).is_err());
        assert!(Username::parse("dr.sato").is_ok());
        assert!(Username::parse(".hidden").is_err());
        assert!(Username::parse("佐藤").is_err());
        assert!(DocumentId::parse("0193c0de-0000-7000-8000-000000000000").is_ok());
        assert!(DocumentId::parse("1; drop table").is_err());
    }
}
