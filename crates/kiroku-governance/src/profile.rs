//! The facility profile: what a facility decides once and the regulation is generated from — its
//! class, name, the responsible people and the values of the catalogue's parameters.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::catalogue::{Catalogue, FacilityClass, placeholders};

/// The responsible people the guideline asks a facility to name (T1-2.1, T1-2.3, T2-5.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct People {
    /// 運用責任者.
    pub operations_manager: String,
    /// 個人情報保護責任者.
    pub privacy_officer: String,
    /// システム管理者.
    pub system_administrator: String,
    /// 監査責任者.
    pub audit_officer: String,
    /// 情報作成管理者 (scanned paper).
    pub information_manager: String,
}

impl People {
    /// Each role with its Japanese and English label, in the order the regulation lists them.
    pub fn roles(&self) -> [(&'static str, &'static str, &'static str, &str); 5] {
        [
            ("operations_manager", "運用責任者", "operations manager", &self.operations_manager),
            ("privacy_officer", "個人情報保護責任者", "privacy officer", &self.privacy_officer),
            ("system_administrator", "システム管理者", "system administrator", &self.system_administrator),
            ("audit_officer", "監査責任者", "audit officer", &self.audit_officer),
            ("information_manager", "情報作成管理者", "information-creation manager", &self.information_manager),
        ]
    }
}

/// One revision of the facility profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FacilityProfile {
    pub facility_class: FacilityClass,
    pub facility_name: String,
    pub people: People,
    /// Whether the facility keeps records with an external custodian (付表3 applies).
    pub external_storage: bool,
    /// 施行日 of the regulation, `YYYY-MM-DD`.
    pub effective_date: String,
    /// Values of the catalogue's parameters; a parameter left out takes its default.
    #[serde(default)]
    pub parameters: BTreeMap<String, String>,
}

/// What is wrong with a profile; `field` names the input (`people.audit_officer`, `parameters.x`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct ProfileError {
    pub field: String,
    pub reason: String,
}

fn err(field: impl Into<String>, reason: impl Into<String>) -> ProfileError {
    ProfileError { field: field.into(), reason: reason.into() }
}

const MAX_TEXT: usize = 400;

/// A value that goes into the regulation's text: one line, not empty, no placeholder syntax.
fn check_text(field: &str, value: &str) -> Result<(), ProfileError> {
    if value.trim().is_empty() {
        return Err(err(field, "must not be empty"));
    }
    if value.chars().count() > MAX_TEXT {
        return Err(err(field, format!("must be at most {MAX_TEXT} characters")));
    }
    if value.chars().any(char::is_control) {
        return Err(err(field, "must be one line without control characters"));
    }
    if value.contains(['{', '}']) || ["○○", "XX", "ＸＸ", "・・・", "△△"].iter().any(|p| value.contains(p)) {
        return Err(err(field, "must be the actual value, not a placeholder"));
    }
    Ok(())
}

impl FacilityProfile {
    /// Checks the profile's values on their own (every catalogue edition's rules).
    pub fn validate_values(&self) -> Result<(), ProfileError> {
        check_text("facility_name", &self.facility_name)?;
        for (key, _, _, value) in self.people.roles() {
            check_text(&format!("people.{key}"), value)?;
        }
        check_date(&self.effective_date)?;
        for (name, value) in &self.parameters {
            let field = format!("parameters.{name}");
            if name == "facility_name" {
                return Err(err(field, "is given as facility_name"));
            }
            check_text(&field, value)?;
        }
        Ok(())
    }

    /// Checks the profile on its own and against the catalogue whose parameters it fills.
    pub fn validate(&self, catalogue: &Catalogue) -> Result<(), ProfileError> {
        for name in self.parameters.keys() {
            if name != "facility_name" && catalogue.parameter(name).is_none() {
                return Err(err(format!("parameters.{name}"), format!("is not a parameter of catalogue {}", catalogue.edition)));
            }
        }
        self.validate_values()
    }

    /// The value of a catalogue parameter: the profile's, else the catalogue's default.
    pub fn value<'a>(&'a self, catalogue: &'a Catalogue, name: &str) -> Option<&'a str> {
        if name == "facility_name" {
            return Some(&self.facility_name);
        }
        self.parameters.get(name).map(String::as_str).or_else(|| catalogue.parameter(name).and_then(|p| p.default.as_deref()))
    }

    /// Fills a sample text's `{parameters}`; `None` names the first parameter without a value.
    pub fn fill(&self, catalogue: &Catalogue, item: &str, text: &str) -> Result<String, String> {
        let names = placeholders(item, text).map_err(|e| e.to_string())?;
        let mut out = text.to_owned();
        for name in names {
            let value = self.value(catalogue, name).ok_or_else(|| name.to_owned())?;
            out = out.replace(&format!("{{{name}}}"), value);
        }
        Ok(out)
    }
}

fn check_date(date: &str) -> Result<(), ProfileError> {
    let bad = || err("effective_date", "must be a date YYYY-MM-DD");
    let parts: Vec<&str> = date.split('-').collect();
    let [y, m, d] = parts[..] else { return Err(bad()) };
    let ok = y.len() == 4
        && m.len() == 2
        && d.len() == 2
        && y.parse::<u16>().is_ok()
        && m.parse::<u8>().is_ok_and(|m| (1..=12).contains(&m))
        && d.parse::<u8>().is_ok_and(|d| (1..=31).contains(&d));
    if ok { Ok(()) } else { Err(bad()) }
}
