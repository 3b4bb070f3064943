//! The guideline catalogue: every item of the appendix tables with its targets, measures and the
//! sample regulation text (運用管理規程文例) per facility class, whose placeholders are named
//! parameters (`{facility_name}`) declared in the catalogue's parameter table.
//!
//! The edition kiroku ships is embedded ([`Catalogue::embedded`]); a newer edition in the same
//! format loads with [`Catalogue::load`] without a code change. Both are validated the same way.
//!
//! Applicability: a row's target is A (every facility), B (large/medium hospital) or C (small
//! hospital or clinic); a row whose target the table leaves blank continues the row above it; an
//! item whose rows are all blank (T1-4.7) names no class and applies to every facility.

use std::collections::BTreeSet;
use std::fmt;
use std::path::Path;

use serde::{Deserialize, Serialize};

/// The edition kiroku ships, embedded at build time.
pub const EMBEDDED_EDITION: &str = "mhlw-6.0";
const EMBEDDED_JSON: &str = include_str!("../data/mhlw-6.0/catalogue.json");

/// A facility class as the tables name them (A means "every class" and is not a facility's class).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum FacilityClass {
    /// 大/中規模病院: large or medium hospital.
    B,
    /// 小規模病院、診療所: small hospital or clinic.
    C,
}

impl FacilityClass {
    pub fn as_str(self) -> &'static str {
        match self {
            FacilityClass::B => "B",
            FacilityClass::C => "C",
        }
    }

    pub fn label_ja(self) -> &'static str {
        match self {
            FacilityClass::B => "大/中規模病院",
            FacilityClass::C => "小規模病院、診療所",
        }
    }

    pub fn label_en(self) -> &'static str {
        match self {
            FacilityClass::B => "large or medium hospital",
            FacilityClass::C => "small hospital or clinic",
        }
    }
}

impl fmt::Display for FacilityClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for FacilityClass {
    type Err = CatalogueError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "B" | "b" => Ok(FacilityClass::B),
            "C" | "c" => Ok(FacilityClass::C),
            other => Err(CatalogueError::UnknownClass(other.to_owned())),
        }
    }
}

/// The class a table row is written for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Target {
    A,
    B,
    C,
}

impl Target {
    pub fn covers(self, class: FacilityClass) -> bool {
        matches!((self, class), (Target::A, _) | (Target::B, FacilityClass::B) | (Target::C, FacilityClass::C))
    }
}

/// One row of an item: the table gives an item several rows when classes differ.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Row {
    /// `None` where the table leaves the target blank (the row continues the one above).
    pub target: Option<Target>,
    /// 技術的対策 (empty when the table names none).
    pub technical: String,
    /// 運用的対策.
    pub operational: String,
    /// 運用管理規程文例 with `{parameter}` placeholders (empty when the table gives none).
    pub sample: String,
}

/// One item of the catalogue, e.g. T1-4.2.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Item {
    pub id: String,
    pub table: u8,
    pub section: u8,
    /// 運用管理項目 (empty for the untitled first block of table 3).
    pub area: String,
    /// 実施項目.
    pub title: String,
    /// The targets as catalogue.md writes them ("A", "B/C", "B/-/A", "-").
    pub targets: String,
    /// The table names a technical measure.
    pub tech: bool,
    pub rows: Vec<Row>,
}

impl Item {
    /// The rows that apply to a facility of `class`, each with its effective target.
    pub fn rows_for(&self, class: FacilityClass) -> Vec<&Row> {
        let mut current: Option<Target> = None;
        let all_blank = self.rows.iter().all(|r| r.target.is_none());
        self.rows
            .iter()
            .filter(|row| {
                if row.target.is_some() {
                    current = row.target;
                }
                all_blank || current.is_some_and(|t| t.covers(class))
            })
            .collect()
    }

    pub fn applies_to(&self, class: FacilityClass) -> bool {
        !self.rows_for(class).is_empty()
    }

    /// The sample regulation text for `class`: the applicable rows' texts, in table order.
    pub fn sample_for(&self, class: FacilityClass) -> Vec<&str> {
        self.rows_for(class).into_iter().map(|r| r.sample.as_str()).filter(|s| !s.is_empty()).collect()
    }
}

/// A named parameter of the sample texts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Parameter {
    pub name: String,
    pub label_ja: String,
    pub label_en: String,
    /// `None` when the facility must give a value (e.g. its name).
    pub default: Option<String>,
    /// The items whose sample text uses it.
    pub used_by: Vec<String>,
}

/// A whole edition of the catalogue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Catalogue {
    pub edition: String,
    pub name: String,
    pub source: String,
    pub parameters: Vec<Parameter>,
    pub items: Vec<Item>,
}

#[derive(Debug, thiserror::Error)]
pub enum CatalogueError {
    #[error("cannot read catalogue file {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("catalogue is not valid JSON of the expected shape: {0}")]
    Parse(#[from] serde_json::Error),
    #[error("catalogue item {0} appears more than once")]
    DuplicateItem(String),
    #[error("catalogue item id {0:?} is not of the form T<table>-<section>.<n> matching its table and section")]
    BadId(String),
    #[error("catalogue item {0} has no rows")]
    NoRows(String),
    #[error("catalogue item {item}: targets {targets:?} do not match its rows ({rows:?})")]
    Targets { item: String, targets: String, rows: String },
    #[error("catalogue parameter {0} is declared more than once")]
    DuplicateParameter(String),
    #[error("catalogue parameter name {0:?} must be lowercase letters, digits and underscores")]
    BadParameterName(String),
    #[error("catalogue item {item} uses parameter {{{name}}} which the parameter table does not declare")]
    UndeclaredParameter { item: String, name: String },
    #[error("catalogue parameter {name}: used_by says {declared:?} but the sample texts use it in {actual:?}")]
    UsedBy { name: String, declared: Vec<String>, actual: Vec<String> },
    #[error("catalogue item {item}: sample text has an unbalanced brace or an unnamed placeholder ({found:?})")]
    Placeholder { item: String, found: String },
    #[error("unknown facility class {0:?} (use B or C)")]
    UnknownClass(String),
}

/// Placeholders of the seed that must not survive into the data (the extractor names them).
const RAW_PLACEHOLDERS: [&str; 6] = ["○○", "XX", "ＸＸ", "・・・", "△△", "ｘｘ"];

impl Catalogue {
    /// The edition kiroku ships. The embedded data is checked by the crate's tests, so a failure
    /// here is a build defect.
    pub fn embedded() -> Catalogue {
        Catalogue::parse(EMBEDDED_JSON).expect("the embedded catalogue is validated by the crate's tests")
    }

    /// A catalogue from a file (a newer edition in the same format).
    pub fn load(path: &Path) -> Result<Catalogue, CatalogueError> {
        let text = std::fs::read_to_string(path).map_err(|source| CatalogueError::Read { path: path.display().to_string(), source })?;
        Catalogue::parse(&text)
    }

    /// Parses and validates a catalogue in the JSON format of `data/*/catalogue.json`.
    pub fn parse(json: &str) -> Result<Catalogue, CatalogueError> {
        let catalogue: Catalogue = serde_json::from_str(json)?;
        catalogue.validate()?;
        Ok(catalogue)
    }

    pub fn item(&self, id: &str) -> Option<&Item> {
        self.items.iter().find(|i| i.id == id)
    }

    pub fn parameter(&self, name: &str) -> Option<&Parameter> {
        self.parameters.iter().find(|p| p.name == name)
    }

    /// The items that apply to a facility of `class`, in catalogue order.
    pub fn applicable_to(&self, class: FacilityClass) -> Vec<&Item> {
        self.items.iter().filter(|i| i.applies_to(class)).collect()
    }

    /// Checks the invariants every edition must keep.
    pub fn validate(&self) -> Result<(), CatalogueError> {
        let mut ids = BTreeSet::new();
        for item in &self.items {
            if !ids.insert(item.id.as_str()) {
                return Err(CatalogueError::DuplicateItem(item.id.clone()));
            }
            check_id(item)?;
            if item.rows.is_empty() {
                return Err(CatalogueError::NoRows(item.id.clone()));
            }
            let rows: Vec<&str> = item
                .rows
                .iter()
                .map(|r| match r.target {
                    None => "-",
                    Some(Target::A) => "A",
                    Some(Target::B) => "B",
                    Some(Target::C) => "C",
                })
                .collect();
            let rows = rows.join("/");
            if rows != item.targets {
                return Err(CatalogueError::Targets { item: item.id.clone(), targets: item.targets.clone(), rows });
            }
        }
        let mut names = BTreeSet::new();
        for p in &self.parameters {
            if !names.insert(p.name.as_str()) {
                return Err(CatalogueError::DuplicateParameter(p.name.clone()));
            }
            if p.name.is_empty() || !p.name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_') {
                return Err(CatalogueError::BadParameterName(p.name.clone()));
            }
        }
        for item in &self.items {
            for row in &item.rows {
                for name in placeholders(&item.id, &row.sample)? {
                    if !names.contains(name) {
                        return Err(CatalogueError::UndeclaredParameter { item: item.id.clone(), name: name.to_owned() });
                    }
                }
                if let Some(raw) = RAW_PLACEHOLDERS.iter().find(|raw| row.sample.contains(*raw)) {
                    return Err(CatalogueError::Placeholder { item: item.id.clone(), found: (*raw).to_owned() });
                }
            }
        }
        for p in &self.parameters {
            let mut actual = Vec::new();
            for item in &self.items {
                for row in &item.rows {
                    if placeholders(&item.id, &row.sample)?.contains(&p.name.as_str()) && !actual.contains(&item.id) {
                        actual.push(item.id.clone());
                    }
                }
            }
            if actual != p.used_by {
                return Err(CatalogueError::UsedBy { name: p.name.clone(), declared: p.used_by.clone(), actual });
            }
        }
        Ok(())
    }
}

fn check_id(item: &Item) -> Result<(), CatalogueError> {
    let bad = || CatalogueError::BadId(item.id.clone());
    let rest = item.id.strip_prefix('T').ok_or_else(bad)?;
    let (table, rest) = rest.split_once('-').ok_or_else(bad)?;
    let (section, n) = rest.split_once('.').ok_or_else(bad)?;
    let parse = |s: &str| s.parse::<u8>().ok().filter(|_| !s.starts_with('+'));
    match (parse(table), parse(section), parse(n)) {
        (Some(t), Some(s), Some(n)) if t == item.table && s == item.section && n >= 1 => Ok(()),
        _ => Err(bad()),
    }
}

/// The `{name}` placeholders of a text; an unbalanced brace is an error.
pub fn placeholders<'a>(item: &str, text: &'a str) -> Result<Vec<&'a str>, CatalogueError> {
    let mut names = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find(['{', '}']) {
        let err = || CatalogueError::Placeholder { item: item.to_owned(), found: rest[open..].chars().take(20).collect() };
        if rest[open..].starts_with('}') {
            return Err(err());
        }
        let close = rest[open..].find('}').ok_or_else(err)? + open;
        let name = &rest[open + 1..close];
        if name.is_empty() || name.contains('{') {
            return Err(err());
        }
        names.push(name);
        rest = &rest[close + 1..];
    }
    Ok(names)
}
