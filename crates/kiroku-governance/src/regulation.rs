//! The 運用管理規程 generator: the catalogue's sample texts for the facility's class, with the
//! profile's values filled in, as chapters by area and articles numbered 第N条 continuously, each
//! article carrying the catalogue ID it comes from. Items without a sample text for the class are
//! left out; 付表3 (external storage) only when the facility stores externally.
//!
//! A [`Regulation`] is plain data (stored as canonical JSON and hashed by the store); renderers
//! (standalone HTML here, DOCX and PDF in kiroku-typeset's callers) only read it.

use serde::{Deserialize, Serialize};

use crate::catalogue::{Catalogue, FacilityClass};
use crate::profile::FacilityProfile;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Regulation {
    pub title: String,
    pub catalogue_edition: String,
    pub facility_class: FacilityClass,
    pub facility_name: String,
    pub chapters: Vec<Chapter>,
    /// 別表: the responsible people, (role label, name).
    pub roles: Vec<(String, String)>,
    /// 附則.
    pub supplementary: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Chapter {
    pub number: u32,
    pub title: String,
    pub articles: Vec<Article>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Article {
    /// N of 第N条, continuous through the regulation.
    pub number: u32,
    /// The catalogue item, e.g. `T1-4.2`.
    pub item_id: String,
    /// The heading in parentheses, the item's title.
    pub heading: String,
    /// The paragraphs (項), in order.
    pub paragraphs: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegulationError {
    #[error("the profile is invalid: {0}")]
    Profile(#[from] crate::profile::ProfileError),
    #[error("parameter {name} ({label}) has no value; set it in the facility profile")]
    MissingParameter { name: String, label: String },
    #[error("item {item}: the sample text cannot be filled: {reason}")]
    Text { item: String, reason: String },
}

/// Kanji numerals for chapter and article numbers (第十二条).
pub fn kanji_number(n: u32) -> String {
    const DIGITS: [&str; 10] = ["〇", "一", "二", "三", "四", "五", "六", "七", "八", "九"];
    if n == 0 {
        return DIGITS[0].to_owned();
    }
    let mut out = String::new();
    let (hundreds, tens, ones) = (n / 100, (n / 10) % 10, n % 10);
    if hundreds > 0 {
        if hundreds > 1 {
            out.push_str(DIGITS[hundreds as usize]);
        }
        out.push('百');
    }
    if tens > 0 {
        if tens > 1 {
            out.push_str(DIGITS[tens as usize]);
        }
        out.push('十');
    }
    if ones > 0 {
        out.push_str(DIGITS[ones as usize]);
    }
    out
}

fn chapter_title(table: u8, area: &str) -> String {
    match (table, area) {
        (1, a) => a.to_owned(),
        (2, a) => format!("電子保存における{a}"),
        (_, "") => "外部保存の管理体制".to_owned(),
        (_, a) => format!("外部保存における{a}"),
    }
}

/// Splits a sample text into paragraphs: a line starting with ・ begins one, other lines continue it.
fn paragraphs(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        match (line.strip_prefix('・'), out.last_mut()) {
            (Some(rest), _) => out.push(rest.trim().to_owned()),
            (None, Some(last)) => last.push_str(line),
            (None, None) => out.push(line.to_owned()),
        }
    }
    out
}

impl Regulation {
    /// Generates the regulation for the profile from the catalogue.
    pub fn generate(catalogue: &Catalogue, profile: &FacilityProfile) -> Result<Regulation, RegulationError> {
        profile.validate(catalogue)?;
        let class = profile.facility_class;
        let mut chapters: Vec<Chapter> = Vec::new();
        let mut number = 0;
        for item in catalogue.applicable_to(class) {
            if item.table == 3 && !profile.external_storage {
                continue;
            }
            let mut paras = Vec::new();
            for text in item.sample_for(class) {
                let filled = profile.fill(catalogue, &item.id, text).map_err(|name| match catalogue.parameter(&name) {
                    Some(p) => RegulationError::MissingParameter { name, label: p.label_ja.clone() },
                    None => RegulationError::Text { item: item.id.clone(), reason: name },
                })?;
                paras.extend(paragraphs(&filled));
            }
            if paras.is_empty() {
                continue;
            }
            let title = chapter_title(item.table, &item.area);
            if chapters.last().is_none_or(|c| c.title != title) {
                chapters.push(Chapter { number: chapters.len() as u32 + 1, title, articles: Vec::new() });
            }
            number += 1;
            if let Some(chapter) = chapters.last_mut() {
                chapter.articles.push(Article { number, item_id: item.id.clone(), heading: item.title.clone(), paragraphs: paras });
            }
        }
        Ok(Regulation {
            title: format!("{} 医療情報システム運用管理規程", profile.facility_name),
            catalogue_edition: catalogue.edition.clone(),
            facility_class: class,
            facility_name: profile.facility_name.clone(),
            chapters,
            roles: profile.people.roles().iter().map(|(_, ja, _, name)| ((*ja).to_owned(), (*name).to_owned())).collect(),
            supplementary: format!("この規程は、{}から施行する。", japanese_date(&profile.effective_date)),
        })
    }

    pub fn articles(&self) -> impl Iterator<Item = &Article> {
        self.chapters.iter().flat_map(|c| c.articles.iter())
    }

    /// The regulation as lines of text, in reading order (for diffs and plain-text checks).
    pub fn lines(&self) -> Vec<String> {
        let mut out = vec![self.title.clone()];
        for chapter in &self.chapters {
            out.push(format!("第{}章 {}", kanji_number(chapter.number), chapter.title));
            for a in &chapter.articles {
                out.push(format!("第{}条（{}）[{}]", kanji_number(a.number), a.heading, a.item_id));
                for (i, p) in a.paragraphs.iter().enumerate() {
                    out.push(format!("{} {p}", i + 1));
                }
            }
        }
        out.push("別表 運用管理体制".to_owned());
        out.extend(self.roles.iter().map(|(role, name)| format!("{role}: {name}")));
        out.push("附則".to_owned());
        out.push(self.supplementary.clone());
        out
    }

    /// A standalone HTML document (no script, no external resource), for download and print.
    pub fn standalone_html(&self) -> String {
        let e = escape_html;
        let mut h = String::new();
        h.push_str("<!DOCTYPE html>\n<html lang=\"ja\">\n<head>\n<meta charset=\"utf-8\">\n");
        h.push_str(&format!("<title>{}</title>\n", e(&self.title)));
        h.push_str("<style>body{font-family:serif;max-width:46em;margin:2em auto;line-height:1.7}h2{margin-top:2em}.id{color:#666;font-size:.8em}table{border-collapse:collapse}td,th{border:1px solid #999;padding:.2em .6em}</style>\n");
        h.push_str("</head>\n<body>\n");
        h.push_str(&format!("<h1>{}</h1>\n", e(&self.title)));
        for chapter in &self.chapters {
            h.push_str(&format!("<h2>第{}章 {}</h2>\n", kanji_number(chapter.number), e(&chapter.title)));
            for a in &chapter.articles {
                h.push_str(&format!(
                    "<section id=\"{id}\"><h3>第{n}条（{head}） <span class=\"id\">{id}</span></h3>\n<ol>\n",
                    id = e(&a.item_id),
                    n = kanji_number(a.number),
                    head = e(&a.heading)
                ));
                for p in &a.paragraphs {
                    h.push_str(&format!("<li>{}</li>\n", e(p)));
                }
                h.push_str("</ol></section>\n");
            }
        }
        h.push_str("<h2>別表 運用管理体制</h2>\n<table>\n");
        for (role, name) in &self.roles {
            h.push_str(&format!("<tr><th>{}</th><td>{}</td></tr>\n", e(role), e(name)));
        }
        h.push_str("</table>\n<h2>附則</h2>\n");
        h.push_str(&format!("<p>{}</p>\n</body>\n</html>\n", e(&self.supplementary)));
        h
    }
}

/// `2026-04-01` as 2026年4月1日.
fn japanese_date(date: &str) -> String {
    let parts: Vec<&str> = date.split('-').collect();
    match parts[..] {
        [y, m, d] => format!("{y}年{}月{}日", m.trim_start_matches('0'), d.trim_start_matches('0')),
        _ => date.to_owned(),
    }
}

pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}
