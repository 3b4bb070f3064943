//! The compliance checklist: for every catalogue item that applies to the facility's class, a status
//! computed from evidence ([`crate::evidence`]) by the rules below, with the sentences that say why
//! and the age of each piece of evidence. No evidence counts as not satisfied; what kiroku cannot
//! see stays "not" until a ledger entry or a manual attestation says otherwise.

use kiroku_core::Timestamp;
use serde::{Deserialize, Serialize};

use crate::evidence::{Attestation, AttestedStatus, Evidence, Level, keys};

/// An item's status on the checklist.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Satisfied,
    Partly,
    Not,
    NotApplicable,
}

impl Status {
    pub const ALL: [Status; 4] = [Status::Satisfied, Status::Partly, Status::Not, Status::NotApplicable];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Satisfied => "satisfied",
            Status::Partly => "partly",
            Status::Not => "not",
            Status::NotApplicable => "not_applicable",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|x| x.as_str() == s)
    }

    pub fn label_ja(self) -> &'static str {
        match self {
            Status::Satisfied => "充足",
            Status::Partly => "一部充足",
            Status::Not => "未充足",
            Status::NotApplicable => "対象外",
        }
    }

    pub fn label_en(self) -> &'static str {
        match self {
            Status::Satisfied => "satisfied",
            Status::Partly => "partly",
            Status::Not => "not satisfied",
            Status::NotApplicable => "not applicable",
        }
    }
}

/// How many days old each kind of evidence may be and still count (kiroku.toml `[checklist]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Thresholds {
    pub access_review_days: i64,
    pub audit_review_days: i64,
    pub restore_drill_days: i64,
    pub backup_days: i64,
    pub fixity_days: i64,
    pub export_days: i64,
    /// Ledger entries (BCP drills, audits, contracts reviewed …) count for this long.
    pub ledger_days: i64,
    /// A manual attestation counts for this long; then it must be made again.
    pub attestation_days: i64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            access_review_days: 92,
            audit_review_days: 31,
            restore_drill_days: 92,
            backup_days: 2,
            fixity_days: 2,
            export_days: 92,
            ledger_days: 366,
            attestation_days: 366,
        }
    }
}

impl Thresholds {
    pub fn validate(&self) -> Result<(), String> {
        let all = [
            ("access_review_days", self.access_review_days),
            ("audit_review_days", self.audit_review_days),
            ("restore_drill_days", self.restore_drill_days),
            ("backup_days", self.backup_days),
            ("fixity_days", self.fixity_days),
            ("export_days", self.export_days),
            ("ledger_days", self.ledger_days),
            ("attestation_days", self.attestation_days),
        ];
        match all.iter().find(|(_, v)| !(1..=3660).contains(v)) {
            Some((name, _)) => Err(format!("checklist.{name} must be between 1 and 3660 days")),
            None => Ok(()),
        }
    }
}

/// Which threshold a freshness check uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Window {
    AccessReview,
    AuditReview,
    RestoreDrill,
    Backup,
    Fixity,
    Export,
}

impl Window {
    fn days(self, t: &Thresholds) -> i64 {
        match self {
            Window::AccessReview => t.access_review_days,
            Window::AuditReview => t.audit_review_days,
            Window::RestoreDrill => t.restore_drill_days,
            Window::Backup => t.backup_days,
            Window::Fixity => t.fixity_days,
            Window::Export => t.export_days,
        }
    }
}

/// One thing an item needs to be satisfied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// The evidence exists and is good.
    Shows(&'static str),
    /// The evidence exists, is good and is at most the window's days old.
    Within(&'static str, Window),
    /// The facility's own measures, which kiroku cannot see: a recent entry in one of these
    /// ledgers, or a manual attestation.
    Operational(&'static [&'static str]),
}

const OP: Need = Need::Operational(&[]);
const fn op(ledgers: &'static [&'static str]) -> Need {
    Need::Operational(ledgers)
}
use Need::{Shows, Within};
use Window as W;
use keys as k;

/// The rules: what each catalogue item needs. Items not listed need only [`OP`].
pub const RULES: &[(&str, &[Need])] = &[
    ("T1-1.1", &[Shows(k::REGULATION), OP]),
    ("T1-1.2", &[Shows(k::REGULATION), OP]),
    ("T1-1.3", &[Shows(k::REGULATION), OP]),
    ("T1-2.1", &[Shows(k::FACILITY_PROFILE)]),
    ("T1-2.3", &[Shows(k::FACILITY_PROFILE), Within(k::AUDIT_REVIEW, W::AuditReview)]),
    ("T1-2.4", &[op(&["complaint"])]),
    ("T1-2.5", &[op(&["incident"])]),
    ("T1-2.6", &[op(&["training"])]),
    ("T1-3.1", &[Shows(k::REGULATION), OP]),
    ("T1-3.2", &[Shows(k::PASSWORD), Shows(k::SESSIONS), op(&["training"])]),
    ("T1-4.1", &[op(&["visitor"])]),
    ("T1-4.2", &[Shows(k::MATRIX), Within(k::ACCESS_REVIEW, W::AccessReview), Within(k::FIXITY, W::Fixity), Shows(k::CHECKPOINT)]),
    ("T1-4.3", &[op(&["media"])]),
    ("T1-4.4", &[op(&["media_disposal"])]),
    ("T1-4.5", &[op(&["incident"])]),
    ("T1-4.6", &[Shows(k::SPLIT), OP]),
    ("T1-4.7", &[op(&["device", "inventory_check"])]),
    ("T1-4.8", &[op(&["device"])]),
    ("T1-4.9", &[Shows(k::SIGNATURES), Shows(k::TIMESTAMPS)]),
    ("T1-5.1", &[op(&["contract"])]),
    ("T1-5.2", &[op(&["contract"])]),
    ("T1-5.3", &[op(&["maintenance_report", "operation_diary"])]),
    ("T1-6.1", &[op(&["take_out"])]),
    ("T1-6.2", &[op(&["take_out"])]),
    ("T1-6.3", &[op(&["take_out"])]),
    ("T1-6.4", &[op(&["take_out", "incident"])]),
    ("T1-6.5", &[op(&["training"])]),
    ("T1-7.1", &[Shows(k::TLS), OP]),
    ("T1-7.3", &[op(&["contract"])]),
    ("T1-7.4", &[Shows(k::NETWORK), op(&["maintenance_report"])]),
    ("T1-7.5", &[Shows(k::NETWORK), Shows(k::MFA)]),
    ("T1-8.1", &[Within(k::BACKUP, W::Backup), op(&["bcp_drill"])]),
    ("T1-8.2", &[Shows(k::EMERGENCY)]),
    ("T1-8.3", &[Shows(k::EMERGENCY), Shows(k::BREAK_GLASS)]),
    ("T1-8.4", &[op(&["incident"])]),
    ("T1-9.2", &[Shows(k::TRAINING)]),
    ("T1-9.3", &[op(&["training"])]),
    ("T1-10.1", &[Within(k::AUDIT_REVIEW, W::AuditReview), op(&["internal_audit"])]),
    ("T2-1.1", &[Shows(k::PASSWORD), Shows(k::MFA), Shows(k::SESSIONS)]),
    ("T2-1.2", &[Shows(k::MATRIX), Shows(k::CHECKPOINT)]),
    ("T2-1.3", &[Within(k::FIXITY, W::Fixity), Shows(k::CHECKPOINT)]),
    ("T2-1.4", &[Shows(k::MATRIX)]),
    ("T2-1.5", &[Within(k::FIXITY, W::Fixity), op(&["internal_audit"])]),
    ("T2-2.1", &[Shows(k::LOCATIONS)]),
    ("T2-2.2", &[Within(k::OFFLINE_EXPORT, W::Export)]),
    ("T2-2.3", &[Shows(k::RESPONSE_TIMES)]),
    ("T2-2.4", &[Shows(k::EMERGENCY), Within(k::BACKUP, W::Backup)]),
    ("T2-3.1", &[op(&["device", "media"])]),
    ("T2-3.2", &[Within(k::BACKUP, W::Backup)]),
    ("T2-3.3", &[Within(k::FIXITY, W::Fixity), Within(k::BACKUP, W::Backup)]),
    ("T2-3.4", &[Within(k::RESTORE_DRILL, W::RestoreDrill)]),
    ("T2-5.3", &[Shows(k::SIGNATURES), Shows(k::TIMESTAMPS)]),
    ("T3-0.1", &[op(&["contract"])]),
    ("T3-1.1", &[op(&["internal_audit"])]),
    ("T3-2.1", &[op(&["contract"])]),
];

/// The needs of an item.
pub fn needs(id: &str) -> &'static [Need] {
    RULES.iter().find(|(i, _)| *i == id).map_or(&[OP], |(_, n)| *n)
}

/// Whether kiroku enforces something of the item itself (any need but the operational one).
pub fn kiroku_sees(id: &str) -> bool {
    needs(id).iter().any(|n| !matches!(n, Need::Operational(_)))
}

/// How far one need is met.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Met {
    Yes,
    Partly,
    No,
}

/// One need as checked: the evidence it looked at, and why it is met or not.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    pub evidence: String,
    pub met: Met,
    pub ja: String,
    pub en: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub age_days: Option<i64>,
    pub link: String,
    pub api: String,
}

/// An item of the catalogue as the checklist needs it.
#[derive(Debug, Clone, Copy)]
pub struct ItemRef<'a> {
    pub id: &'a str,
    pub area_ja: &'a str,
    pub title_ja: &'a str,
    pub applicable: bool,
}

/// One line of the checklist.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Row {
    pub id: String,
    /// 1-3 for the guideline's tables, 0 for the MHLW cyber-security checklist.
    pub table: u8,
    pub area_ja: String,
    pub title_ja: String,
    pub status: Status,
    pub reason_ja: String,
    pub reason_en: String,
    pub findings: Vec<Finding>,
}

/// The whole checklist at one moment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub class: String,
    pub thresholds: Thresholds,
    pub rows: Vec<Row>,
    pub mhlw: Vec<Row>,
}

impl Report {
    /// What a sign-off refers to: the SHA-256 of the canonical JSON of the class, the thresholds and
    /// every row's status with which evidence met which need. Sentences, times and ages are left out:
    /// they move with every write (the log's checkpoint) and at midnight, while what the officer
    /// signs is the statuses and what they rest on.
    pub fn hash(&self) -> String {
        let rows = |rows: &[Row]| -> Vec<serde_json::Value> {
            rows.iter()
                .map(|r| {
                    let findings: Vec<serde_json::Value> = r.findings.iter().map(|f| serde_json::json!([f.evidence, f.met])).collect();
                    serde_json::json!({ "id": r.id, "status": r.status, "findings": findings })
                })
                .collect()
        };
        let signed =
            serde_json::json!({ "class": self.class, "thresholds": self.thresholds, "rows": rows(&self.rows), "mhlw": rows(&self.mhlw) });
        kiroku_core::ContentHash::of_json(&signed).to_hex()
    }

    /// How many rows of the guideline's tables have each status.
    pub fn counts(&self) -> Vec<(Status, usize)> {
        Status::ALL.iter().map(|s| (*s, self.rows.iter().filter(|r| r.status == *s).count())).collect()
    }
}

fn table_of(id: &str) -> u8 {
    id.strip_prefix('T').and_then(|r| r.chars().next()).and_then(|c| c.to_digit(10)).map_or(0, |d| d as u8)
}

/// Checks one need against the evidence.
pub fn check(need: &Need, item: &str, ev: &Evidence, t: &Thresholds, now: Timestamp) -> Finding {
    match need {
        Need::Shows(key) => shows(key, None, ev, t, now),
        Need::Within(key, window) => shows(key, Some(*window), ev, t, now),
        Need::Operational(ledgers) => operational(item, ledgers, ev, t, now),
    }
}

fn missing(key: &str, ja: String, en: String) -> Finding {
    Finding { evidence: key.into(), met: Met::No, ja, en, time: None, age_days: None, link: String::new(), api: String::new() }
}

/// The names of evidence kiroku may lack, for the sentence that says it is missing.
const MISSING_TITLES: &[(&str, &str, &str)] = &[
    (keys::REGULATION, "承認された運用管理規程", "an approved 運用管理規程"),
    (keys::FACILITY_PROFILE, "施設情報（責任者の任命）", "the facility profile (appointed officers)"),
    (keys::ACCESS_REVIEW, "アカウント棚卸しの確認記録", "an access review sign-off"),
    (keys::AUDIT_REVIEW, "監査レビューの確認記録", "an audit review sign-off"),
    (keys::FIXITY, "定期整合性検査の結果", "a fixity check result"),
    (keys::CHECKPOINT, "署名付きチェックポイント", "a signed checkpoint"),
    (keys::BACKUP, "バックアップの記録", "a backup record"),
    (keys::RESTORE_DRILL, "リストア訓練の記録", "a restore drill record"),
    (keys::OFFLINE_EXPORT, "見読用出力の記録", "an offline-readable export record"),
    (keys::TRAINING, "職員ごとの研修受講状況", "training status per member of staff"),
];

fn shows(key: &str, window: Option<Window>, ev: &Evidence, t: &Thresholds, now: Timestamp) -> Finding {
    let Some(e) = ev.get(key) else {
        let (ja, en) = MISSING_TITLES.iter().find(|(k, _, _)| *k == key).map_or((key, key), |(_, ja, en)| (*ja, *en));
        return missing(key, format!("{ja}がありません。"), format!("no {en}"));
    };
    let age = e.age_days(now);
    let mut met = match e.level {
        Level::Good => Met::Yes,
        Level::Partial => Met::Partly,
        Level::Bad => Met::No,
    };
    let (mut ja, mut en) = (format!("{}: {}", e.title_ja, e.summary_ja), format!("{}: {}", e.title_en, e.summary_en));
    if let Some(w) = window {
        let limit = w.days(t);
        match age {
            Some(a) if a > limit => {
                met = Met::No;
                ja.push_str(&format!("（{a}日前。許容は{limit}日以内）"));
                en.push_str(&format!(" ({a} days ago; at most {limit} allowed)"));
            }
            Some(a) => {
                ja.push_str(&format!("（{a}日前。{limit}日以内）"));
                en.push_str(&format!(" ({a} days ago; within {limit})"));
            }
            None => met = Met::No,
        }
    } else if let Some(a) = age {
        ja.push_str(&format!("（{a}日前）"));
        en.push_str(&format!(" ({a} days ago)"));
    }
    Finding { evidence: key.into(), met, ja, en, time: e.time, age_days: age, link: e.link.clone(), api: e.api.clone() }
}

fn operational(item: &str, ledgers: &[&str], ev: &Evidence, t: &Thresholds, now: Timestamp) -> Finding {
    // A recent ledger entry shows the measure is carried out.
    for kind in ledgers {
        if let Some(e) = ev.get(&keys::ledger(kind))
            && let Some(age) = e.age_days(now)
            && age <= t.ledger_days
            && e.level == Level::Good
        {
            return Finding {
                evidence: e.key.clone(),
                met: Met::Yes,
                ja: format!("{}: {}（{age}日前）", e.title_ja, e.summary_ja),
                en: format!("{}: {} ({age} days ago)", e.title_en, e.summary_en),
                time: e.time,
                age_days: Some(age),
                link: e.link.clone(),
                api: e.api.clone(),
            };
        }
    }
    let key = keys::attestation(item);
    if let Some(e) = ev.get(&key)
        && let Some(age) = e.age_days(now)
    {
        let status = e.facts.get("status").and_then(|s| s.as_str()).and_then(AttestedStatus::parse);
        let who = e.by.clone().unwrap_or_default();
        let reason = e.facts.get("reason").and_then(|s| s.as_str()).unwrap_or_default();
        let base = Finding {
            evidence: key.clone(),
            met: Met::No,
            ja: String::new(),
            en: String::new(),
            time: e.time,
            age_days: Some(age),
            link: e.link.clone(),
            api: e.api.clone(),
        };
        if age > t.attestation_days {
            return Finding {
                ja: format!("{who}による手動確認は{age}日前で、{}日を過ぎています。確認し直してください。", t.attestation_days),
                en: format!("the manual attestation by {who} is {age} days old, more than {} days; attest again", t.attestation_days),
                ..base
            };
        }
        let met = match status {
            Some(AttestedStatus::Satisfied) => Met::Yes,
            Some(AttestedStatus::Partly) => Met::Partly,
            _ => Met::No,
        };
        return Finding {
            met,
            ja: format!("{who}による手動確認（{age}日前）: {reason}"),
            en: format!("attested by {who} ({age} days ago): {reason}"),
            ..base
        };
    }
    let (lja, len) = if ledgers.is_empty() {
        (String::new(), String::new())
    } else {
        (format!("台帳（{}）への記録、または", ledgers.join("・")), format!("an entry in the ledger ({}) or ", ledgers.join(", ")))
    };
    missing(
        &key,
        format!("kirokuからは確認できない運用的対策です。{lja}監査責任者等による手動確認で示してください。"),
        format!("an operational measure kiroku cannot see; show it with {len}a manual attestation"),
    )
}

/// Combines the findings of a row into its status and reason.
fn combine(findings: Vec<Finding>) -> (Status, String, String, Vec<Finding>) {
    let yes = findings.iter().filter(|f| f.met == Met::Yes).count();
    let partly = findings.iter().filter(|f| f.met == Met::Partly).count();
    let status = if findings.is_empty() {
        Status::Not
    } else if yes == findings.len() {
        Status::Satisfied
    } else if yes + partly == 0 {
        Status::Not
    } else {
        Status::Partly
    };
    let ja = findings.iter().map(|f| f.ja.as_str()).collect::<Vec<_>>().join(" ");
    let en = findings.iter().map(|f| f.en.as_str()).collect::<Vec<_>>().join("; ");
    (status, ja, en, findings)
}

/// Assesses one item with the given needs.
pub fn assess_row(item: &ItemRef<'_>, needs: &[Need], ev: &Evidence, t: &Thresholds, now: Timestamp) -> Row {
    let ItemRef { id, area_ja, title_ja, applicable } = *item;
    if !applicable {
        return Row {
            id: id.into(),
            table: table_of(id),
            area_ja: area_ja.into(),
            title_ja: title_ja.into(),
            status: Status::NotApplicable,
            reason_ja: "施設の区分では対象外です。".into(),
            reason_en: "not applicable to the facility's class".into(),
            findings: Vec::new(),
        };
    }
    let findings = needs.iter().map(|n| check(n, id, ev, t, now)).collect();
    let (status, reason_ja, reason_en, findings) = combine(findings);
    Row { id: id.into(), table: table_of(id), area_ja: area_ja.into(), title_ja: title_ja.into(), status, reason_ja, reason_en, findings }
}

/// The checklist for `items` (every catalogue item, applicability decided by the facility's class)
/// and the MHLW cyber-security checklist, from `evidence` as of `now`.
pub fn assess<'a>(class: &str, items: impl IntoIterator<Item = ItemRef<'a>>, ev: &Evidence, t: &Thresholds, now: Timestamp) -> Report {
    let rows = items.into_iter().map(|i| assess_row(&i, needs(i.id), ev, t, now)).collect();
    let mhlw = crate::mhlw::ITEMS
        .iter()
        .map(|m| {
            let item = ItemRef {
                id: m.id, area_ja: "サイバーセキュリティ対策チェックリスト", title_ja: m.ja, applicable: true
            };
            assess_row(&item, m.needs, ev, t, now)
        })
        .collect();
    Report { class: class.into(), thresholds: *t, rows, mhlw }
}

/// The checklist of a catalogue for a facility of `class`.
pub fn assess_catalogue(cat: &crate::Catalogue, class: crate::FacilityClass, ev: &Evidence, t: &Thresholds, now: Timestamp) -> Report {
    let items = cat.items.iter().map(|i| ItemRef { id: &i.id, area_ja: &i.area, title_ja: &i.title, applicable: i.applies_to(class) });
    assess(class.as_str(), items, ev, t, now)
}

/// Whether `id` is an item a person may attest (a catalogue or MHLW item with an operational need).
pub fn attestable(id: &str, known_catalogue_item: impl Fn(&str) -> bool) -> bool {
    let catalogue = known_catalogue_item(id) && needs(id).iter().any(|n| matches!(n, Need::Operational(_)));
    let mhlw = crate::mhlw::ITEMS.iter().any(|m| m.id == id && m.needs.iter().any(|n| matches!(n, Need::Operational(_))));
    catalogue || mhlw
}

/// The evidence item of an attestation read from the audit trail.
pub fn attestation_evidence(a: &Attestation, time: Timestamp, by: &str, event_id: i64) -> crate::evidence::EvidenceItem {
    crate::evidence::EvidenceItem::new(
        keys::attestation(&a.item),
        ("手動確認", "manual attestation"),
        Level::Good,
        "/admin/governance/checklist",
        "/api/v1/governance/checklist",
    )
    .at(Some(time))
    .by(Some(by.to_string()))
    .summary(a.reason.clone(), a.reason.clone())
    .facts(serde_json::json!({ "status": a.status.as_str(), "reason": a.reason, "audit_event": event_id }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evidence::EvidenceItem;

    fn at(s: &str) -> Timestamp {
        Timestamp::parse_rfc3339(s).expect("time")
    }

    fn item(key: &str, level: Level, time: Option<&str>) -> EvidenceItem {
        EvidenceItem::new(key, ("t", "t"), level, "/x", "/api/x").at(time.map(at))
    }

    #[test]
    fn every_ledger_the_rules_name_exists() {
        let named = RULES
            .iter()
            .flat_map(|(id, needs)| needs.iter().map(move |n| (*id, n)))
            .chain(crate::mhlw::ITEMS.iter().flat_map(|i| i.needs.iter().map(move |n| (i.id, n))));
        let mut seen = 0;
        for (id, need) in named {
            if let Need::Operational(ledgers) = need {
                for kind in *ledgers {
                    assert!(
                        kiroku_core::ledgers::LedgerKind::parse(kind).is_some(),
                        "{id} names the ledger {kind}, which kiroku does not keep"
                    );
                    seen += 1;
                }
            }
        }
        assert!(seen > 20, "the rules name ledgers");
        // Every ledger says which items it serves; those items name it back in the rules.
        for def in kiroku_core::ledgers::LEDGERS {
            let named_somewhere =
                RULES.iter().any(|(_, needs)| needs.iter().any(|n| matches!(n, Need::Operational(l) if l.contains(&def.kind.as_str()))));
            assert!(named_somewhere || matches!(def.kind.as_str(), "contact"), "no rule names the ledger {}", def.kind);
        }
    }

    #[test]
    fn a_recent_restore_drill_flips_t2_3_4() {
        let now = at("2026-11-25T00:00:00Z");
        let t = Thresholds::default();
        let mut ev = Evidence::default();
        let row = |ev: &Evidence| {
            assess_row(&ItemRef { id: "T2-3.4", area_ja: "", title_ja: "", applicable: true }, needs("T2-3.4"), ev, &t, now)
        };
        assert_eq!(row(&ev).status, Status::Not, "no evidence is not satisfied");
        ev.add(item(keys::RESTORE_DRILL, Level::Good, Some("2026-06-01T00:00:00Z")));
        let old = row(&ev);
        assert_eq!(old.status, Status::Not, "a drill older than the window does not count");
        assert!(old.reason_en.contains("at most 92"), "{}", old.reason_en);
        ev.add(item(keys::RESTORE_DRILL, Level::Good, Some("2026-11-20T00:00:00Z")));
        let fresh = row(&ev);
        assert_eq!(fresh.status, Status::Satisfied);
        assert_eq!(fresh.findings[0].age_days, Some(5));
        ev.add(item(keys::RESTORE_DRILL, Level::Bad, Some("2026-11-24T00:00:00Z")));
        assert_eq!(row(&ev).status, Status::Not, "a failed drill does not count");
    }

    #[test]
    fn some_needs_met_is_partly() {
        let now = at("2026-11-25T00:00:00Z");
        let t = Thresholds::default();
        let mut ev = Evidence::default();
        ev.add(item(keys::MATRIX, Level::Good, None));
        ev.add(item(keys::CHECKPOINT, Level::Good, Some("2026-11-25T00:00:00Z")));
        let row = assess_row(&ItemRef { id: "T1-4.2", area_ja: "", title_ja: "", applicable: true }, needs("T1-4.2"), &ev, &t, now);
        assert_eq!(row.status, Status::Partly);
        assert!(row.reason_ja.contains("アカウント棚卸しの確認記録がありません"), "{}", row.reason_ja);
    }

    #[test]
    fn operational_items_need_a_ledger_entry_or_an_attestation() {
        let now = at("2026-11-25T00:00:00Z");
        let t = Thresholds::default();
        let mut ev = Evidence::default();
        let row = |ev: &Evidence| {
            assess_row(&ItemRef { id: "T1-2.4", area_ja: "", title_ja: "", applicable: true }, needs("T1-2.4"), ev, &t, now)
        };
        assert_eq!(row(&ev).status, Status::Not);
        let a = Attestation { item: "T1-2.4".into(), status: AttestedStatus::Partly, reason: "窓口のみ".into() };
        ev.add(attestation_evidence(&a, at("2026-11-01T00:00:00Z"), "officer", 7));
        let r = row(&ev);
        assert_eq!(r.status, Status::Partly);
        assert!(r.reason_ja.contains("officer"), "{}", r.reason_ja);
        ev.add(item(&keys::ledger("complaint"), Level::Good, Some("2026-10-01T00:00:00Z")));
        assert_eq!(row(&ev).status, Status::Satisfied, "a ledger entry shows the measure");
        let stale = Thresholds { ledger_days: 10, attestation_days: 10, ..t };
        assert_eq!(
            assess_row(&ItemRef { id: "T1-2.4", area_ja: "", title_ja: "", applicable: true }, needs("T1-2.4"), &ev, &stale, now).status,
            Status::Not
        );
    }

    #[test]
    fn the_signed_hash_follows_statuses_not_sentences() {
        let now = at("2026-11-25T00:00:00Z");
        let t = Thresholds::default();
        let mut ev = Evidence::default();
        ev.add(item(keys::CHECKPOINT, Level::Good, Some("2026-11-24T23:59:00Z")).summary("100", "100"));
        let items = || [ItemRef { id: "T2-1.3", area_ja: "", title_ja: "", applicable: true }];
        let first = assess("B", items(), &ev, &t, now).hash();
        ev.add(item(keys::CHECKPOINT, Level::Good, Some("2026-11-24T23:59:30Z")).summary("101", "101"));
        assert_eq!(assess("B", items(), &ev, &t, now).hash(), first, "a newer checkpoint changes no status");
        ev.add(item(keys::FIXITY, Level::Good, Some("2026-11-24T00:00:00Z")));
        assert_ne!(assess("B", items(), &ev, &t, now).hash(), first, "new evidence meeting a need changes what is signed");
    }

    #[test]
    fn inapplicable_items_say_so() {
        let row = assess_row(
            &ItemRef { id: "T1-1.3", area_ja: "", title_ja: "", applicable: false },
            needs("T1-1.3"),
            &Evidence::default(),
            &Thresholds::default(),
            Timestamp::now(),
        );
        assert_eq!(row.status, Status::NotApplicable);
    }

    #[test]
    fn rules_name_only_catalogue_ids_once() {
        let mut ids: Vec<&str> = RULES.iter().map(|(i, _)| *i).collect();
        ids.sort_unstable();
        let n = ids.len();
        ids.dedup();
        assert_eq!(n, ids.len());
        assert!(ids.iter().all(|i| i.starts_with('T') && i.contains('-') && i.contains('.')));
    }
}
