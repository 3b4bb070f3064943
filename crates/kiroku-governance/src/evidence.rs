//! Evidence: what the running system can show an inspector, each item with the time it was produced
//! and a link (a page and an API path) where the inspector can go and see it. The store and the
//! server gather it (`kiroku-store::evidence`, `kiroku-server::api::checklist`); this module only
//! describes it, so the checklist's rules stay pure functions of it.

use std::collections::BTreeMap;

use kiroku_core::Timestamp;
use serde::{Deserialize, Serialize};

/// How good a piece of evidence is on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// It shows what the guideline asks.
    Good,
    /// It exists but shows only part (a policy not applied to every role, a drill that failed …).
    Partial,
    /// It shows the opposite (a failed fixity check, no restriction configured).
    Bad,
}

/// One piece of evidence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvidenceItem {
    /// Stable key (`restore_drill`, `ledger:training`, `attestation:T1-1.1`); rules refer to it.
    pub key: String,
    pub title_ja: String,
    pub title_en: String,
    pub level: Level,
    /// When the evidence was produced (an event's time); `None` for configuration, read as it is now.
    pub time: Option<Timestamp>,
    pub summary_ja: String,
    pub summary_en: String,
    /// The page where a person sees it.
    pub link: String,
    /// The API path that answers it as JSON.
    pub api: String,
    /// Who produced it (a sign-off's officer, an attestation's author), where someone did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
    /// The figures behind the summary, for exports.
    #[serde(default)]
    pub facts: serde_json::Value,
}

impl EvidenceItem {
    /// A new item; summaries, time and facts are set with the builder methods.
    pub fn new(key: impl Into<String>, title: (&str, &str), level: Level, link: &str, api: &str) -> Self {
        EvidenceItem {
            key: key.into(),
            title_ja: title.0.into(),
            title_en: title.1.into(),
            level,
            time: None,
            summary_ja: String::new(),
            summary_en: String::new(),
            link: link.into(),
            api: api.into(),
            by: None,
            facts: serde_json::Value::Null,
        }
    }

    pub fn at(mut self, time: Option<Timestamp>) -> Self {
        self.time = time;
        self
    }

    pub fn summary(mut self, ja: impl Into<String>, en: impl Into<String>) -> Self {
        self.summary_ja = ja.into();
        self.summary_en = en.into();
        self
    }

    pub fn by(mut self, who: Option<String>) -> Self {
        self.by = who;
        self
    }

    pub fn facts(mut self, facts: serde_json::Value) -> Self {
        self.facts = facts;
        self
    }

    /// Whole days since the evidence was produced; `None` for configuration.
    pub fn age_days(&self, now: Timestamp) -> Option<i64> {
        self.time.map(|t| (now.as_micros() - t.as_micros()).max(0) / 86_400_000_000)
    }
}

/// Everything gathered at one moment, by key.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    pub items: BTreeMap<String, EvidenceItem>,
}

impl Evidence {
    pub fn add(&mut self, item: EvidenceItem) {
        self.items.insert(item.key.clone(), item);
    }

    pub fn get(&self, key: &str) -> Option<&EvidenceItem> {
        self.items.get(key)
    }
}

/// The keys of the evidence kiroku gathers itself. Ledger entries are `ledger:<kind>`, manual
/// attestations `attestation:<item id>`.
pub mod keys {
    pub const MATRIX: &str = "permission_matrix";
    pub const MFA: &str = "second_factor";
    pub const AUDIT_REVIEW: &str = "audit_review_signoff";
    pub const ACCESS_REVIEW: &str = "access_review";
    pub const FIXITY: &str = "fixity";
    pub const CHECKPOINT: &str = "log_checkpoint";
    pub const BACKUP: &str = "backup";
    pub const RESTORE_DRILL: &str = "restore_drill";
    pub const OFFLINE_EXPORT: &str = "offline_export";
    pub const EMERGENCY: &str = "emergency_mode";
    pub const TIMESTAMPS: &str = "timestamps";
    pub const SIGNATURES: &str = "signatures";
    pub const LOCATIONS: &str = "location_register";
    pub const BREAK_GLASS: &str = "break_glass";
    pub const NETWORK: &str = "network_rules";
    pub const PASSWORD: &str = "password_policy";
    pub const SESSIONS: &str = "session_settings";
    pub const TLS: &str = "tls";
    pub const AUDIT_FORWARDING: &str = "audit_forwarding";
    pub const RESPONSE_TIMES: &str = "response_times";
    pub const CHECKLIST_SIGNOFF: &str = "checklist_signoff";
    pub const REGULATION: &str = "regulation";
    pub const FACILITY_PROFILE: &str = "facility_profile";
    pub const TRAINING: &str = "training_status";
    pub const SPLIT: &str = "responsibility_split";
    pub const DISCLOSURE: &str = "self_disclosure";

    /// The key of a ledger's newest entry.
    pub fn ledger(kind: &str) -> String {
        format!("ledger:{kind}")
    }

    /// The key of the newest manual attestation of a checklist item.
    pub fn attestation(item: &str) -> String {
        format!("attestation:{item}")
    }
}

/// A manual attestation of an item kiroku cannot see, as recorded in the audit trail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attestation {
    pub item: String,
    pub status: AttestedStatus,
    pub reason: String,
}

/// What a person may attest; "not applicable" comes from the facility class only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttestedStatus {
    Satisfied,
    Partly,
    Not,
}

impl AttestedStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            AttestedStatus::Satisfied => "satisfied",
            AttestedStatus::Partly => "partly",
            AttestedStatus::Not => "not",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [AttestedStatus::Satisfied, AttestedStatus::Partly, AttestedStatus::Not].into_iter().find(|a| a.as_str() == s)
    }
}

impl Attestation {
    /// The audit event's detail: `item=ID status=S reason=…` (the reason last, so it may hold spaces).
    pub fn detail(&self) -> String {
        format!("item={} status={} reason={}", self.item, self.status.as_str(), self.reason)
    }

    /// Reads an audit event's detail back.
    pub fn from_detail(detail: &str) -> Option<Attestation> {
        let rest = detail.strip_prefix("item=")?;
        let (item, rest) = rest.split_once(" status=")?;
        let (status, reason) = rest.split_once(" reason=")?;
        Some(Attestation { item: item.into(), status: AttestedStatus::parse(status)?, reason: reason.into() })
    }

    /// Checks what a person typed: a known item, a reason of reasonable length without control characters.
    pub fn validate(&self, known_item: impl Fn(&str) -> bool) -> Result<(), &'static str> {
        if !known_item(&self.item) {
            return Err("item: unknown checklist item");
        }
        let n = self.reason.trim().chars().count();
        if n == 0 || n > 1000 || self.reason.chars().any(|c| c.is_control() && c != '\n') {
            return Err("reason: must say why, in at most 1000 characters without control characters");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attestation_detail_round_trips_with_spaces_in_the_reason() {
        let a = Attestation { item: "T1-1.1".into(), status: AttestedStatus::Partly, reason: "理事会で承認 status=x".into() };
        assert_eq!(Attestation::from_detail(&a.detail()), Some(a));
        assert_eq!(Attestation::from_detail("item=T1-1.1 status=maybe reason=x"), None);
    }

    #[test]
    fn age_is_whole_days() {
        let now = Timestamp::parse_rfc3339("2026-11-25T12:00:00Z").expect("time");
        let item = EvidenceItem::new("k", ("", ""), Level::Good, "/", "/").at(Timestamp::parse_rfc3339("2026-11-23T13:00:00Z"));
        assert_eq!(item.age_days(now), Some(1));
    }
}
