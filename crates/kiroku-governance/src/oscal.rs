//! OSCAL 1.1 JSON (NIST's Open Security Controls Assessment Language) so that GRC tools can import
//! the guideline and the checklist: a catalog of the catalogue's items, a profile selecting the items
//! of the facility's class, and assessment results whose findings are the checklist's statuses with
//! the evidence as observations. Checked against compliance-trestle's models by kiroku-cli's tests.

use kiroku_core::Timestamp;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::checklist::{Met, Report, Row, Status};

/// The OSCAL version the documents are written against.
pub const OSCAL_VERSION: &str = "1.1.3";
/// The namespace of kiroku's own property names.
pub const NS: &str = "https://example.invalid/kiroku/ns/oscal";

/// An item of the catalogue with the texts the catalog carries.
#[derive(Debug, Clone)]
pub struct ItemText {
    pub id: String,
    pub table_title: String,
    pub area: String,
    pub title: String,
    pub targets: String,
    pub technical: Vec<String>,
    pub operational: Vec<String>,
}

/// The catalogue's items with their table titles and measures (each distinct text once).
pub fn item_texts(cat: &crate::Catalogue) -> Vec<ItemText> {
    let tables = ["付表1 一般管理における運用管理", "付表2 電子保存における運用管理", "付表3 外部保存における運用管理"];
    let distinct = |texts: Vec<&str>| {
        let mut out: Vec<String> = Vec::new();
        for t in texts.into_iter().map(str::trim).filter(|t| !t.is_empty()) {
            if !out.iter().any(|o| o == t) {
                out.push(t.to_string());
            }
        }
        out
    };
    cat.items
        .iter()
        .map(|i| ItemText {
            id: i.id.clone(),
            table_title: tables.get(usize::from(i.table).saturating_sub(1)).map_or_else(|| format!("付表{}", i.table), |t| t.to_string()),
            area: i.area.clone(),
            title: i.title.clone(),
            targets: i.targets.clone(),
            technical: distinct(i.rows.iter().map(|r| r.technical.as_str()).collect()),
            operational: distinct(i.rows.iter().map(|r| r.operational.as_str()).collect()),
        })
        .collect()
}

/// A stable UUID (version 5) for a name, so that regenerated documents keep their identities.
pub fn stable_uuid(name: &str) -> String {
    Uuid::new_v5(&Uuid::NAMESPACE_URL, format!("{NS}/{name}").as_bytes()).to_string()
}

/// The OSCAL control id of a catalogue item (`T1-4.2` → `t1-4.2`).
pub fn control_id(item: &str) -> String {
    item.to_ascii_lowercase()
}

fn metadata(title: &str, version: &str, now: Timestamp) -> Value {
    json!({ "title": title, "last-modified": now.to_rfc3339(), "version": version, "oscal-version": OSCAL_VERSION })
}

fn prop(name: &str, value: &str) -> Value {
    json!({ "name": name, "ns": NS, "value": value })
}

fn non_empty(s: &str) -> &str {
    if s.trim().is_empty() { "—" } else { s }
}

/// The catalog: one group per table, one control per item with its statement (the item), technical
/// and operational measures as guidance parts, and its targets (A/B/C) as a property.
pub fn catalog(items: &[ItemText], edition: &str, now: Timestamp) -> Value {
    let mut groups: Vec<(String, Vec<Value>)> = Vec::new();
    for i in items {
        let cid = control_id(&i.id);
        let mut parts = vec![json!({ "id": format!("{cid}_smt"), "name": "statement", "prose": non_empty(&i.title) })];
        for (n, (kind, texts)) in [("technical", &i.technical), ("operational", &i.operational)].into_iter().enumerate() {
            if !texts.is_empty() {
                parts.push(json!({
                    "id": format!("{cid}_gdn{}", n + 1),
                    "name": "guidance",
                    "props": [prop("measure-kind", kind)],
                    "prose": texts.join("\n\n"),
                }));
            }
        }
        let control = json!({
            "id": cid,
            "class": "guideline-item",
            "title": non_empty(&i.title),
            "props": [
                { "name": "label", "value": i.id },
                prop("area", non_empty(&i.area)),
                prop("targets", non_empty(&i.targets)),
            ],
            "parts": parts,
        });
        match groups.iter_mut().find(|(t, _)| *t == i.table_title) {
            Some((_, controls)) => controls.push(control),
            None => groups.push((i.table_title.clone(), vec![control])),
        }
    }
    let groups: Vec<Value> = groups
        .into_iter()
        .enumerate()
        .map(|(n, (title, controls))| json!({ "id": format!("table-{}", n + 1), "class": "appendix-table", "title": title, "controls": controls }))
        .collect();
    json!({ "catalog": {
        "uuid": stable_uuid(&format!("catalog/{edition}")),
        "metadata": metadata("医療情報システムの安全管理に関するガイドライン 付表1-3", edition, now),
        "groups": groups,
    }})
}

/// The profile of a facility class: the catalog's controls that apply to it.
pub fn profile(class: &str, applicable: &[String], edition: &str, catalog_href: &str, now: Timestamp) -> Value {
    let ids: Vec<String> = applicable.iter().map(|i| control_id(i)).collect();
    json!({ "profile": {
        "uuid": stable_uuid(&format!("profile/{edition}/{class}")),
        "metadata": metadata(&format!("施設区分 {class} の対象項目"), edition, now),
        "imports": [{ "href": catalog_href, "include-controls": [{ "with-ids": ids }] }],
        "merge": { "as-is": true },
    }})
}

fn state(status: Status) -> &'static str {
    if status == Status::Satisfied { "satisfied" } else { "not-satisfied" }
}

/// Assessment results: one result with the applicable items as reviewed controls, every finding's
/// evidence as an observation, and a finding per item (partly and not are both `not-satisfied`,
/// told apart by the `checklist-status` property).
pub fn assessment_results(report: &Report, facility: &str, plan_href: &str, now: Timestamp) -> Value {
    let assessed: Vec<&Row> = report.rows.iter().filter(|r| r.status != Status::NotApplicable).collect();
    let mut observations = Vec::new();
    let mut findings = Vec::new();
    let run = now.to_rfc3339();
    for row in &assessed {
        let cid = control_id(&row.id);
        let mut related = Vec::new();
        for (n, f) in row.findings.iter().enumerate() {
            let uuid = Uuid::new_v4().to_string();
            let mut evidence = Vec::new();
            if !f.link.is_empty() {
                evidence.push(json!({ "href": f.link, "description": "page" }));
            }
            if !f.api.is_empty() {
                evidence.push(json!({ "href": f.api, "description": "API" }));
            }
            let mut o = json!({
                "uuid": uuid,
                "title": format!("{} #{}: {}", row.id, n + 1, f.evidence),
                "description": non_empty(&f.ja),
                "props": [prop("evidence-key", &f.evidence), prop("met", match f.met { Met::Yes => "yes", Met::Partly => "partly", Met::No => "no" })],
                "methods": [if f.evidence.starts_with("attestation:") || f.evidence.starts_with("ledger:") { "EXAMINE" } else { "TEST" }],
                "collected": f.time.map_or_else(|| run.clone(), |t| t.to_rfc3339()),
                "remarks": non_empty(&f.en),
            });
            if !evidence.is_empty() {
                o["relevant-evidence"] = json!(evidence);
            }
            related.push(json!({ "observation-uuid": uuid }));
            observations.push(o);
        }
        let mut finding = json!({
            "uuid": Uuid::new_v4().to_string(),
            "title": format!("{} {}", row.id, non_empty(&row.title_ja)),
            "description": non_empty(&row.reason_ja),
            "props": [prop("checklist-status", row.status.as_str())],
            "target": {
                "type": "statement-id",
                "target-id": format!("{cid}_smt"),
                "status": { "state": state(row.status) },
            },
            "remarks": non_empty(&row.reason_en),
        });
        if !related.is_empty() {
            finding["related-observations"] = json!(related);
        }
        findings.push(finding);
    }
    let controls: Vec<Value> = assessed.iter().map(|r| json!({ "control-id": control_id(&r.id) })).collect();
    let mut result = json!({
        "uuid": Uuid::new_v4().to_string(),
        "title": format!("{facility} 安全管理ガイドライン チェックリスト"),
        "description": format!("kirokuが稼働中のシステムの証跡から算出した状態（施設区分 {}）。report hash {}", report.class, report.hash()),
        "start": run,
        "reviewed-controls": { "control-selections": [{ "include-controls": controls }] },
    });
    if !observations.is_empty() {
        result["observations"] = json!(observations);
    }
    if !findings.is_empty() {
        result["findings"] = json!(findings);
    }
    json!({ "assessment-results": {
        "uuid": Uuid::new_v4().to_string(),
        "metadata": metadata(&format!("{facility} チェックリスト評価結果"), &report.hash()[..16], now),
        "import-ap": { "href": plan_href },
        "results": [result],
    }})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stable_uuids_are_version_5_and_stable() {
        let a = stable_uuid("catalog/x");
        assert_eq!(a, stable_uuid("catalog/x"));
        assert_eq!(a.as_bytes()[14], b'5');
    }
}
