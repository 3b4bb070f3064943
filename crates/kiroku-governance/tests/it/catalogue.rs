//! The embedded catalogue against catalogue.md's ID list, and the loader's validation.

use kiroku_governance::{Catalogue, CatalogueError, FacilityClass};

/// catalogue.md's IDs, in its order (copied from the project brief).
const EXPECTED_IDS: [&str; 80] = [
    "T1-1.1", "T1-1.2", "T1-1.3", "T1-2.1", "T1-2.2", "T1-2.3", "T1-2.4", "T1-2.5", "T1-2.6", "T1-3.1", "T1-3.2", "T1-4.1", "T1-4.2",
    "T1-4.3", "T1-4.4", "T1-4.5", "T1-4.6", "T1-4.7", "T1-4.8", "T1-4.9", "T1-5.1", "T1-5.2", "T1-5.3", "T1-6.1", "T1-6.2", "T1-6.3",
    "T1-6.4", "T1-6.5", "T1-7.1", "T1-7.2", "T1-7.3", "T1-7.4", "T1-7.5", "T1-8.1", "T1-8.2", "T1-8.3", "T1-8.4", "T1-9.1", "T1-9.2",
    "T1-9.3", "T1-10.1", "T1-11.1", "T2-1.1", "T2-1.2", "T2-1.3", "T2-1.4", "T2-1.5", "T2-2.1", "T2-2.2", "T2-2.3", "T2-2.4", "T2-3.1",
    "T2-3.2", "T2-3.3", "T2-3.4", "T2-4.1", "T2-4.2", "T2-5.1", "T2-5.2", "T2-5.3", "T2-5.4", "T3-0.1", "T3-1.1", "T3-1.2", "T3-1.3",
    "T3-1.4", "T3-2.1", "T3-3.1", "T3-3.2", "T3-4.1", "T3-5.1", "T3-5.2", "T3-5.3", "T3-6.1", "T3-6.2", "T3-7.1", "T3-7.2", "T3-7.3",
    "T3-7.4", "T3-8.1",
];

#[test]
fn embedded_catalogue_has_the_80_items_of_catalogue_md() {
    let c = Catalogue::embedded();
    assert_eq!(c.edition, "mhlw-6.0");
    let ids: Vec<&str> = c.items.iter().map(|i| i.id.as_str()).collect();
    assert_eq!(ids, EXPECTED_IDS);
    let item = c.item("T1-4.2").expect("T1-4.2");
    assert_eq!(item.area, "一般管理における運用管理事項");
    assert_eq!(item.title, "情報システムへのアクセス制限の決定方針及び記録、点検等のアクセス管理");
    assert!(item.tech);
    assert!(item.rows[0].technical.contains("監査ログサーバ"));
    assert!(c.item("T1-1.1").expect("T1-1.1").rows[0].sample.starts_with("・この規程は、{facility_name}（以下「当院」という。）"));
    assert!(!c.item("T1-2.1").expect("T1-2.1").tech);
}

#[test]
fn parameters_are_declared_with_labels_and_users() {
    let c = Catalogue::embedded();
    let name = c.parameter("facility_name").expect("facility_name");
    assert_eq!(name.label_ja, "施設名");
    assert_eq!(name.default, None);
    assert_eq!(name.used_by, ["T1-1.1", "T3-0.1"]);
    let times = c.parameter("audit_times_per_year").expect("audit_times_per_year");
    assert_eq!(times.used_by, ["T1-2.3", "T1-10.1"]);
    assert!(c.item("T1-2.3").expect("T1-2.3").rows[0].sample.contains("毎年{audit_times_per_year}回"));
}

#[test]
fn applicable_to_filters_by_class() {
    let c = Catalogue::embedded();
    let b: Vec<&str> = c.applicable_to(FacilityClass::B).iter().map(|i| i.id.as_str()).collect();
    let cc: Vec<&str> = c.applicable_to(FacilityClass::C).iter().map(|i| i.id.as_str()).collect();
    // Items only for large/medium hospitals (T2-1.3, T2-1.4: B alone) are not a clinic's.
    for id in ["T2-1.3", "T2-1.4"] {
        assert!(b.contains(&id) && !cc.contains(&id), "{id}");
    }
    // A, B/C and the blank-target IoT item apply to both.
    for id in ["T1-1.1", "T1-2.1", "T1-4.7", "T3-6.1", "T2-1.1"] {
        assert!(b.contains(&id) && cc.contains(&id), "{id}");
    }
    assert_eq!(b.len(), 80);
    assert_eq!(cc.len(), 78);
    // Rows: the clinic gets the C text of T1-2.1, the hospital the B text.
    let item = c.item("T1-2.1").expect("T1-2.1");
    assert!(item.sample_for(FacilityClass::C)[0].starts_with("・当クリニックに"));
    assert!(item.sample_for(FacilityClass::B)[0].starts_with("・当院に運用責任者"));
    // A blank row continues the row above (T2-1.1: B, -, A).
    assert_eq!(c.item("T2-1.1").expect("T2-1.1").sample_for(FacilityClass::B).len(), 3);
    assert_eq!(c.item("T2-1.1").expect("T2-1.1").sample_for(FacilityClass::C).len(), 1);
}

fn edited(f: impl FnOnce(&mut serde_json::Value)) -> Result<Catalogue, CatalogueError> {
    let mut v = serde_json::to_value(Catalogue::embedded()).expect("json");
    f(&mut v);
    Catalogue::parse(&v.to_string())
}

#[test]
fn validation_names_what_is_wrong() {
    let dup = edited(|v| {
        let first = v["items"][0].clone();
        v["items"].as_array_mut().expect("items").push(first);
    });
    assert_eq!(dup.expect_err("duplicate").to_string(), "catalogue item T1-1.1 appears more than once");

    let undeclared = edited(|v| v["items"][1]["rows"][0]["sample"] = "・{ward_name}を置く".into());
    assert_eq!(
        undeclared.expect_err("undeclared").to_string(),
        "catalogue item T1-1.2 uses parameter {ward_name} which the parameter table does not declare"
    );

    let raw = edited(|v| v["items"][1]["rows"][0]["sample"] = "・○○を置く".into());
    assert!(matches!(raw, Err(CatalogueError::Placeholder { .. })));

    let brace = edited(|v| v["items"][1]["rows"][0]["sample"] = "・{target_systems を置く".into());
    assert!(matches!(brace, Err(CatalogueError::Placeholder { .. })));

    let target = edited(|v| v["items"][0]["rows"][0]["target"] = "D".into());
    assert!(matches!(target, Err(CatalogueError::Parse(_))));

    let mismatch = edited(|v| v["items"][0]["targets"] = "B".into());
    assert!(mismatch.expect_err("targets").to_string().contains("targets \"B\" do not match its rows"));

    let bad_id = edited(|v| v["items"][0]["id"] = "T2-1.1x".into());
    assert!(matches!(bad_id, Err(CatalogueError::BadId(_))));

    let used_by = edited(|v| v["parameters"][0]["used_by"] = serde_json::json!(["T1-1.1"]));
    assert!(matches!(used_by, Err(CatalogueError::UsedBy { .. })));
}

#[test]
fn load_reads_a_newer_edition_from_a_file() {
    let dir = std::env::temp_dir().join(format!("kiroku-gov-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let mut c = Catalogue::embedded();
    c.edition = "mhlw-6.1".into();
    c.items.truncate(3);
    for p in &mut c.parameters {
        p.used_by.retain(|id| c.items.iter().any(|i| &i.id == id));
    }
    let path = dir.join("catalogue.json");
    std::fs::write(&path, serde_json::to_string(&c).expect("json")).expect("write");
    let loaded = Catalogue::load(&path).expect("load");
    assert_eq!(loaded.edition, "mhlw-6.1");
    assert_eq!(loaded.items.len(), 3);
    let missing = Catalogue::load(&dir.join("absent.json")).expect_err("absent");
    assert!(missing.to_string().starts_with("cannot read catalogue file"));
    std::fs::remove_dir_all(&dir).ok();
}
