//! The generated 運用管理規程 for class B and C: numbering, IDs, filled parameters.

use kiroku_governance::{Catalogue, FacilityClass, FacilityProfile, People, Regulation, RegulationError};

pub fn profile(class: FacilityClass) -> FacilityProfile {
    FacilityProfile {
        facility_class: class,
        facility_name: match class {
            FacilityClass::B => "記録総合病院".into(),
            FacilityClass::C => "きろくクリニック".into(),
        },
        people: People {
            operations_manager: "山田 太郎".into(),
            privacy_officer: "山田 太郎".into(),
            system_administrator: "佐藤 花子".into(),
            audit_officer: "鈴木 一郎".into(),
            information_manager: "高橋 次郎".into(),
        },
        external_storage: true,
        effective_date: "2026-04-01".into(),
        parameters: [("audit_times_per_year".to_owned(), "2".to_owned())].into(),
    }
}

fn assert_no_placeholder(reg: &Regulation) {
    for line in reg.lines() {
        for raw in ["○○", "XX", "ＸＸ", "・・・", "△△", "{", "}", "ｘｘ"] {
            assert!(!line.contains(raw), "placeholder {raw:?} left in {line:?}");
        }
    }
}

#[test]
fn class_b_and_c_regulations_are_complete_and_numbered() {
    let c = Catalogue::embedded();
    for class in [FacilityClass::B, FacilityClass::C] {
        let reg = Regulation::generate(&c, &profile(class)).expect("generate");
        assert_no_placeholder(&reg);
        let numbers: Vec<u32> = reg.articles().map(|a| a.number).collect();
        assert_eq!(numbers, (1..=numbers.len() as u32).collect::<Vec<_>>(), "第N条 continuous");
        let first = reg.articles().next().expect("first article");
        assert_eq!(first.item_id, "T1-1.1");
        assert!(first.paragraphs[0].starts_with(&format!("この規程は、{}（以下「当院」という。）", reg.facility_name)));
        assert_eq!(reg.chapters[0].title, "総則");
        assert!(reg.articles().all(|a| c.item(&a.item_id).is_some()));
        let audit = reg.articles().find(|a| a.item_id == "T1-2.3").expect("T1-2.3");
        assert!(audit.paragraphs.iter().any(|p| p.contains("毎年2回")), "{audit:?}");
        assert!(reg.roles.contains(&("監査責任者".to_owned(), "鈴木 一郎".to_owned())));
        assert_eq!(reg.supplementary, "この規程は、2026年4月1日から施行する。");
        let html = reg.standalone_html();
        assert!(html.contains("<section id=\"T1-4.2\">") && !html.contains("<script"));
    }
    let b = Regulation::generate(&c, &profile(FacilityClass::B)).expect("B");
    let clinic = Regulation::generate(&c, &profile(FacilityClass::C)).expect("C");
    // The clinic's text of T1-2.1 differs from the hospital's; T2-1.3 is the hospital's alone.
    let t121 = |r: &Regulation| r.articles().find(|a| a.item_id == "T1-2.1").expect("T1-2.1").paragraphs[0].clone();
    assert!(t121(&clinic).starts_with("当クリニックに運用責任者"));
    assert!(t121(&b).starts_with("当院に運用責任者"));
    assert!(b.articles().any(|a| a.item_id == "T2-1.3"));
    assert!(!clinic.articles().any(|a| a.item_id == "T2-1.3"));
}

#[test]
fn external_storage_chapters_only_when_the_facility_stores_externally() {
    let c = Catalogue::embedded();
    let mut p = profile(FacilityClass::C);
    p.external_storage = false;
    let reg = Regulation::generate(&c, &p).expect("generate");
    assert!(reg.articles().all(|a| !a.item_id.starts_with("T3-")));
    p.external_storage = true;
    p.parameters.insert("custodian_name".into(), "株式会社きろく保管".into());
    let reg = Regulation::generate(&c, &p).expect("generate");
    let t32 = reg.articles().find(|a| a.item_id == "T3-2.1").expect("T3-2.1");
    assert!(t32.paragraphs[0].contains("当院と株式会社きろく保管との契約終了時"), "{t32:?}");
}

#[test]
fn kanji_numbers() {
    use kiroku_governance::regulation::kanji_number;
    let cases = [(1, "一"), (10, "十"), (11, "十一"), (20, "二十"), (42, "四十二"), (100, "百"), (119, "百十九")];
    for (n, want) in cases {
        assert_eq!(kanji_number(n), want, "{n}");
    }
}

#[test]
fn bad_profiles_are_refused_with_the_field() {
    let c = Catalogue::embedded();
    let mut p = profile(FacilityClass::B);
    p.people.audit_officer = "  ".into();
    assert_eq!(p.validate(&c).expect_err("empty").to_string(), "people.audit_officer: must not be empty");
    let mut p = profile(FacilityClass::B);
    p.parameters.insert("ward".into(), "x".into());
    assert!(p.validate(&c).expect_err("unknown").to_string().starts_with("parameters.ward: is not a parameter"));
    let mut p = profile(FacilityClass::B);
    p.parameters.insert("confirmer".into(), "XX".into());
    assert_eq!(p.validate(&c).expect_err("raw").to_string(), "parameters.confirmer: must be the actual value, not a placeholder");
    let mut p = profile(FacilityClass::B);
    p.effective_date = "2026-13-01".into();
    assert!(p.validate(&c).is_err());
    // A newer edition's parameter without default must be given.
    let mut newer = c.clone();
    if let Some(x) = newer.parameters.iter_mut().find(|x| x.name == "confirmer") {
        x.default = None;
    }
    let err = Regulation::generate(&newer, &profile(FacilityClass::B)).expect_err("missing");
    assert_eq!(err, RegulationError::MissingParameter { name: "confirmer".into(), label: "確定者".into() });
}
