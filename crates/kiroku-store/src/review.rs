//! The periodic audit review report for the audit officer (監査責任者): who did what in a period,
//! access after hours, access to restricted classes, failed logins, lockouts, refusals and the use of
//! break-glass accounts. The
//! officer's sign-off of a report is itself an audit event, and so a leaf of the log.

use std::collections::{BTreeMap, HashMap};

use kiroku_core::{AuditAction, AuditEvent, Outcome, Timestamp};
use serde::Serialize;
use time::{UtcOffset, Weekday};

/// Hours (JST) counted as working hours; anything else, and weekends, is after hours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BusinessHours {
    pub start_hour: u8,
    pub end_hour: u8,
}

impl Default for BusinessHours {
    fn default() -> Self {
        BusinessHours { start_hour: 8, end_hour: 19 }
    }
}

impl BusinessHours {
    pub fn contains(&self, t: Timestamp) -> bool {
        let jst = t.to_datetime().to_offset(UtcOffset::from_hms(9, 0, 0).unwrap_or(UtcOffset::UTC));
        let weekday = !matches!(jst.weekday(), Weekday::Saturday | Weekday::Sunday);
        weekday && (self.start_hour..self.end_hour).contains(&jst.hour())
    }
}

/// One person's activity in the period.
#[derive(Debug, Clone, Default, Serialize)]
pub struct UserActivity {
    pub user: String,
    pub role: String,
    pub events: u64,
    pub reads: u64,
    pub writes: u64,
    pub denied: u64,
    pub failed: u64,
    pub after_hours: u64,
}

/// An event worth a second look, as the report lists it.
#[derive(Debug, Clone, Serialize)]
pub struct Notable {
    pub id: i64,
    pub time: Timestamp,
    pub user: Option<String>,
    pub action: AuditAction,
    pub patient_id: Option<String>,
    pub document_id: Option<String>,
    pub outcome: Outcome,
    pub note: Option<String>,
}

/// How many notable events each list keeps; the counts stay exact.
pub const LIST_LIMIT: usize = 500;

#[derive(Debug, Clone, Default, Serialize)]
pub struct Section {
    pub count: u64,
    pub events: Vec<Notable>,
}

impl Section {
    fn add(&mut self, e: &AuditEvent, note: Option<String>) {
        self.count += 1;
        if self.events.len() < LIST_LIMIT {
            self.events.push(Notable {
                id: e.id,
                time: e.time,
                user: e.user.clone(),
                action: e.action,
                patient_id: e.patient_id.clone(),
                document_id: e.document_id.clone(),
                outcome: e.outcome,
                note,
            });
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ReviewReport {
    pub from: Timestamp,
    pub to: Timestamp,
    pub business_hours_jst: String,
    pub total_events: u64,
    pub by_user: Vec<UserActivity>,
    pub by_action: BTreeMap<String, u64>,
    pub after_hours: Section,
    pub restricted_access: Section,
    pub failed_logins: Section,
    pub lockouts: Section,
    pub denied: Section,
    /// Break-glass (緊急時) accounts opened (with the declared reason) and re-sealed, and refused
    /// attempts to use one.
    pub break_glass: Section,
    /// Whether access without a treatment relationship can be reported; kiroku does not record
    /// treatment relationships yet.
    pub treatment_relationship_known: bool,
    pub fixity_failures: Section,
}

/// Accumulates a report over the period's events, fed in id order.
pub struct ReviewBuilder {
    report: ReviewReport,
    users: HashMap<String, UserActivity>,
    restricted: HashMap<String, String>,
    hours: BusinessHours,
}

fn is_read(action: AuditAction) -> bool {
    use AuditAction as A;
    matches!(
        action,
        A::PatientSearch
            | A::PatientRead
            | A::DocumentList
            | A::DocumentRead
            | A::VersionList
            | A::VersionRead
            | A::AttachmentRead
            | A::ApprovalQueue
    )
}

fn is_write(action: AuditAction) -> bool {
    use AuditAction as A;
    matches!(
        action,
        A::PatientCreate
            | A::DocumentCreate
            | A::DocumentUpdate
            | A::DocumentConfirm
            | A::DocumentApprove
            | A::DocumentAmend
            | A::DocumentDelete
            | A::AttachmentAdd
    )
}

impl ReviewBuilder {
    pub fn new(from: Timestamp, to: Timestamp, hours: BusinessHours, restricted: HashMap<String, String>) -> Self {
        let report = ReviewReport {
            from,
            to,
            business_hours_jst: format!("{:02}:00-{:02}:00 Mon-Fri", hours.start_hour, hours.end_hour),
            total_events: 0,
            by_user: Vec::new(),
            by_action: BTreeMap::new(),
            after_hours: Section::default(),
            restricted_access: Section::default(),
            failed_logins: Section::default(),
            lockouts: Section::default(),
            denied: Section::default(),
            break_glass: Section::default(),
            treatment_relationship_known: false,
            fixity_failures: Section::default(),
        };
        ReviewBuilder { report, users: HashMap::new(), restricted, hours }
    }

    pub fn add(&mut self, e: &AuditEvent) {
        let r = &mut self.report;
        r.total_events += 1;
        *r.by_action.entry(e.action.as_str().to_string()).or_default() += 1;
        let after_hours = !self.hours.contains(e.time);
        let clinical = is_read(e.action) || is_write(e.action);
        if let Some(user) = &e.user {
            let u = self.users.entry(user.clone()).or_insert_with(|| UserActivity {
                user: user.clone(),
                role: e.role.clone().unwrap_or_default(),
                ..Default::default()
            });
            u.events += 1;
            u.reads += u64::from(is_read(e.action));
            u.writes += u64::from(is_write(e.action) && e.outcome == Outcome::Success);
            u.denied += u64::from(e.outcome == Outcome::Denied);
            u.failed += u64::from(e.outcome == Outcome::Failed);
            u.after_hours += u64::from(after_hours && clinical);
        }
        if after_hours && clinical {
            r.after_hours.add(e, None);
        }
        if let Some(class) = e.document_id.as_ref().and_then(|d| self.restricted.get(d)) {
            r.restricted_access.add(e, Some(class.clone()));
        }
        let break_glass_refusal = e.action == AuditAction::LoginFailed && e.detail.as_deref().is_some_and(|d| d.starts_with("break_glass"));
        if matches!(e.action, AuditAction::BreakGlassUse | AuditAction::BreakGlassReseal) || break_glass_refusal {
            r.break_glass.add(e, e.detail.clone());
        }
        match (e.action, e.outcome) {
            (AuditAction::LoginFailed, _) => r.failed_logins.add(e, e.detail.clone()),
            (AuditAction::Lockout, _) => r.lockouts.add(e, e.detail.clone()),
            (AuditAction::FixityCheck, Outcome::Failed) => r.fixity_failures.add(e, e.detail.clone()),
            (_, Outcome::Denied) => r.denied.add(e, e.detail.clone()),
            _ => {}
        }
    }

    pub fn finish(mut self) -> ReviewReport {
        let mut users: Vec<UserActivity> = self.users.into_values().collect();
        users.sort_by(|a, b| b.events.cmp(&a.events).then(a.user.cmp(&b.user)));
        self.report.by_user = users;
        self.report
    }
}

/// The SHA-256 of the report's canonical JSON: what a sign-off refers to.
pub fn report_hash(report: &ReviewReport) -> String {
    hash_of(report)
}

/// The SHA-256 of any report's canonical JSON (audit review, check-off list, access review): a
/// sign-off names the report it refers to by this hash.
pub fn hash_of<T: serde::Serialize>(report: &T) -> String {
    kiroku_core::ContentHash::of_json(report).to_hex()
}

/// A sign-off refers to the report the signer saw: refuses when the report changed since.
pub fn check_signed_hash(current: &str, signed: &str) -> crate::error::Result<()> {
    if current != signed {
        return Err(crate::StoreError::Conflict("the report differs from the one reviewed; open the report again and review it".into()));
    }
    Ok(())
}

/// A sign-off's comment: at most 2000 characters, no control characters but line breaks.
pub fn check_comment(comment: &str) -> crate::error::Result<()> {
    if comment.chars().count() > 2000 || comment.chars().any(|c| c.is_control() && c != '\n') {
        return Err(kiroku_core::DomainError::invalid("comment", "must be at most 2000 characters without control characters").into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn business_hours_are_jst_weekdays() {
        let h = BusinessHours::default();
        let at = |s: &str| Timestamp::parse_rfc3339(s).expect("time");
        assert!(h.contains(at("2026-11-25T09:30:00+09:00")), "Wednesday morning");
        assert!(!h.contains(at("2026-11-25T07:59:00+09:00")));
        assert!(!h.contains(at("2026-11-25T19:00:00+09:00")));
        assert!(!h.contains(at("2026-11-28T10:00:00+09:00")), "Saturday");
        assert!(h.contains(at("2026-11-25T01:00:00Z")), "10:00 JST");
    }
}
