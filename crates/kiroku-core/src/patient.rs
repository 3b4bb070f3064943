//! Patients as the facility registers them (患者基本情報).

use serde::{Deserialize, Serialize};
use time::Date;

use crate::document::text_field;
use crate::{DomainError, PatientId, Timestamp};

/// Administrative sex as recorded on the patient card.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sex {
    Male,
    Female,
    Other,
    Unknown,
}

impl Sex {
    pub fn as_str(self) -> &'static str {
        match self {
            Sex::Male => "male",
            Sex::Female => "female",
            Sex::Other => "other",
            Sex::Unknown => "unknown",
        }
    }

    /// The label on a Japanese patient card.
    pub fn label_ja(self) -> &'static str {
        match self {
            Sex::Male => "男",
            Sex::Female => "女",
            Sex::Other => "その他",
            Sex::Unknown => "不明",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Sex::Male, Sex::Female, Sex::Other, Sex::Unknown].into_iter().find(|v| v.as_str() == s)
    }
}

/// A new patient as submitted; [`NewPatient::validate`] checks every field before anything is stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewPatient {
    pub patient_id: PatientId,
    pub name: String,
    pub name_kana: String,
    /// ISO 8601 date (YYYY-MM-DD).
    pub birth_date: String,
    pub sex: Sex,
}

impl NewPatient {
    pub fn validate(&self, today: Timestamp) -> Result<(), DomainError> {
        text_field("name", &self.name, 100)?;
        text_field("name_kana", &self.name_kana, 100)?;
        if !self.name_kana.chars().all(is_kana_or_space) {
            return Err(DomainError::invalid("name_kana", "must be written in katakana (カタカナ)"));
        }
        let birth = parse_date(&self.birth_date)?;
        if birth > today.to_datetime().date() {
            return Err(DomainError::invalid("birth_date", "must not be in the future"));
        }
        Ok(())
    }
}

fn is_kana_or_space(c: char) -> bool {
    matches!(c, '\u{30A0}'..='\u{30FF}' | '\u{31F0}'..='\u{31FF}' | ' ' | '\u{3000}')
}

/// Parses YYYY-MM-DD.
pub fn parse_date(s: &str) -> Result<Date, DomainError> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    Date::parse(s, &format).map_err(|_| DomainError::invalid("birth_date", "must be a date as YYYY-MM-DD"))
}

/// A patient as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Patient {
    pub patient_id: PatientId,
    pub name: String,
    pub name_kana: String,
    pub birth_date: String,
    pub sex: Sex,
    pub created_at: Timestamp,
    pub created_by: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(kana: &str, birth: &str) -> NewPatient {
        NewPatient {
            patient_id: PatientId::parse("P1").expect("id"),
            name: "山田 太郎".into(),
            name_kana: kana.into(),
            birth_date: birth.into(),
            sex: Sex::Male,
        }
    }

    #[test]
    fn patient_fields_are_checked() {
        let now = Timestamp::parse_rfc3339("2026-11-25T00:00:00Z").expect("time");
        assert!(p("ヤマダ タロウ", "1980-02-29").validate(now).is_ok());
        assert!(p("yamada", "1980-01-01").validate(now).is_err());
        assert!(p("ヤマダ", "1980-02-30").validate(now).is_err());
        assert!(p("ヤマダ", "2030-01-01").validate(now).is_err());
    }
}
