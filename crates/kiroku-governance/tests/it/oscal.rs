//! The OSCAL documents load and validate in compliance-trestle (an independent implementation), and
//! the checklist decides applicability by the facility class.

use std::process::Command;

use kiroku_core::Timestamp;
use kiroku_governance::checklist::{Status, Thresholds, assess_catalogue};
use kiroku_governance::evidence::{Evidence, EvidenceItem, Level, keys};
use kiroku_governance::{Catalogue, FacilityClass, oscal};

fn evidence(now: Timestamp) -> Evidence {
    let mut ev = Evidence::default();
    ev.add(
        EvidenceItem::new(
            keys::RESTORE_DRILL,
            ("リストア訓練", "restore drill"),
            Level::Good,
            "/audit?action=restore_drill",
            "/api/v1/audit",
        )
        .at(Some(now)),
    );
    ev.add(EvidenceItem::new(keys::MATRIX, ("権限表", "matrix"), Level::Good, "/admin/roles", "/api/v1/roles").summary("6職種", "6 roles"));
    ev
}

/// Runs the trestle check over the three documents written to a temporary folder; `None` when
/// trestle (or python3) is absent, after reporting it.
pub fn trestle_check(catalog: &serde_json::Value, profile: &serde_json::Value, results: &serde_json::Value) -> Option<String> {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut paths = Vec::new();
    for (name, doc) in [("catalog.json", catalog), ("profile.json", profile), ("assessment-results.json", results)] {
        let p = dir.path().join(name);
        std::fs::write(&p, serde_json::to_vec_pretty(doc).expect("json")).expect("write");
        paths.push(p);
    }
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/it/trestle_check.py");
    let out = match Command::new("python3").arg(script).args(&paths).output() {
        Ok(o) => o,
        Err(_) => {
            kiroku_testkit::missing_peer("python3", "install python3 and `pip install compliance-trestle==3.12.4`");
            return None;
        }
    };
    if out.status.code() == Some(2) {
        kiroku_testkit::missing_peer("compliance-trestle", "pip install compliance-trestle==3.12.4");
        return None;
    }
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "trestle refused the documents:\n{text}");
    Some(text)
}

#[test]
fn oscal_documents_validate_in_trestle() {
    let now = Timestamp::now();
    let cat = Catalogue::embedded();
    let texts = oscal::item_texts(&cat);
    let catalog = oscal::catalog(&texts, &cat.edition, now);
    assert_eq!(
        catalog["catalog"]["groups"].as_array().map(|g| g.iter().map(|g| g["controls"].as_array().map_or(0, Vec::len)).sum::<usize>()),
        Some(80)
    );
    let ids: Vec<String> = cat.applicable_to(FacilityClass::B).iter().map(|i| i.id.clone()).collect();
    let profile = oscal::profile("B", &ids, &cat.edition, "catalog.json", now);
    let report = assess_catalogue(&cat, FacilityClass::B, &evidence(now), &Thresholds::default(), now);
    let results = oscal::assessment_results(&report, "テスト病院", "profile.json", now);
    let findings = results["assessment-results"]["results"][0]["findings"].as_array().expect("findings");
    let t234 = findings.iter().find(|f| f["target"]["target-id"] == "t2-3.4_smt").expect("T2-3.4 finding");
    assert_eq!(t234["target"]["status"]["state"], "satisfied");
    if let Some(out) = trestle_check(&catalog, &profile, &results) {
        assert!(out.contains("catalog controls: 80"), "{out}");
        assert!(out.trim_end().ends_with("ok"), "{out}");
    }
}

#[test]
fn class_b_and_c_differ_in_applicability() {
    let now = Timestamp::now();
    let cat = Catalogue::embedded();
    let ev = evidence(now);
    let b = assess_catalogue(&cat, FacilityClass::B, &ev, &Thresholds::default(), now);
    let c = assess_catalogue(&cat, FacilityClass::C, &ev, &Thresholds::default(), now);
    let status = |r: &kiroku_governance::checklist::Report, id: &str| r.rows.iter().find(|x| x.id == id).map(|x| x.status);
    // T2-1.3 (更新履歴の保存) is written for class B only.
    assert_ne!(status(&b, "T2-1.3"), Some(Status::NotApplicable));
    assert_eq!(status(&c, "T2-1.3"), Some(Status::NotApplicable));
    assert_eq!(b.rows.len(), 80);
    let na = |r: &kiroku_governance::checklist::Report| r.rows.iter().filter(|x| x.status == Status::NotApplicable).count();
    assert!(na(&c) > na(&b), "class C has more items that do not apply: B {} C {}", na(&b), na(&c));
    assert_eq!(status(&c, "T2-3.4"), Some(Status::Satisfied), "a recent restore drill satisfies T2-3.4 in every class");
    assert_eq!(status(&c, "T1-2.4"), Some(Status::Not), "no evidence is not satisfied");
    assert_eq!(b.mhlw.len(), 18);
}
