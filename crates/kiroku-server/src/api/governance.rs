//! Governance: the facility profile and the generated 運用管理規程 (its revisions, documents in
//! HTML, DOCX and PDF, and approval). Shared with the administrators' pages (`web::governance`).

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use kiroku_governance::{Catalogue, FacilityProfile, Regulation};
use kiroku_store::governance::{GovernanceCommand, GovernanceOp, GovernanceState, RegulationRecord};
use kiroku_store::{Actor, Command};
use kiroku_typeset::docx::Block;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::session::{ApiJson, ApiPath as Path, Authenticated};
use crate::web::diff;

/// The catalogue edition kiroku generates from (the embedded one, or `[governance] catalogue_path`).
pub fn catalogue(state: &AppState) -> &Catalogue {
    &state.settings.catalogue
}

async fn run(state: &AppState, actor: Actor, op: GovernanceOp) -> ApiResult<GovernanceState> {
    Ok(*state.store.execute(Command::Governance(GovernanceCommand { actor, op })).await?.into_governance()?)
}

/// Everything stored (governance.read; audited).
pub async fn read_state(state: &AppState, actor: Actor) -> ApiResult<GovernanceState> {
    run(state, actor, GovernanceOp::Read).await
}

/// Validates and stores a new profile revision; shared with the profile page.
pub async fn save_profile_as(state: &AppState, actor: Actor, profile: FacilityProfile) -> ApiResult<GovernanceState> {
    profile.validate(catalogue(state)).map_err(|e| ApiError::validation(e.field, e.reason))?;
    run(state, actor, GovernanceOp::SaveProfile(Box::new(profile))).await
}

/// Generates the regulation from the latest profile and stores it as a new revision.
pub async fn generate_as(state: &AppState, actor: Actor) -> ApiResult<RegulationRecord> {
    let current = read_state(state, actor.clone()).await?;
    let latest = current.latest_profile().ok_or_else(|| ApiError::conflict("save the facility profile first"))?;
    let profile = latest.profile()?;
    let regulation = Regulation::generate(catalogue(state), &profile).map_err(|e| ApiError::validation("profile", e.to_string()))?;
    let op = GovernanceOp::StoreRegulation { profile_revision: latest.revision, regulation: Box::new(regulation) };
    run(state, actor, op).await?.regulations.pop().ok_or_else(ApiError::internal)
}

pub async fn approve_as(state: &AppState, actor: Actor, revision: i64, content_hash: String, note: String) -> ApiResult<()> {
    run(state, actor, GovernanceOp::Approve { revision, content_hash, note }).await.map(|_| ())
}

/// The diff of a revision against the one before it, as rows of the side-by-side view.
pub fn diff_to_previous(all: &GovernanceState, revision: i64) -> ApiResult<Vec<diff::Row>> {
    let current = all.regulation(revision).ok_or_else(|| ApiError::not_found("regulation"))?;
    let previous = all.regulations.iter().rev().find(|r| r.revision < revision);
    let text = |r: &RegulationRecord| -> ApiResult<String> { Ok(r.regulation()?.lines().join("\n")) };
    let left = previous.map(text).transpose()?.unwrap_or_default();
    Ok(diff::side_by_side(&left, &text(current)?))
}

fn revision_json(all: &GovernanceState, r: &RegulationRecord) -> Value {
    json!({
        "revision": r.revision, "profile_revision": r.profile_revision, "catalogue_edition": r.catalogue_edition,
        "content_hash": r.content_hash, "generated_by": r.generated_by, "generated_at": r.generated_at,
        "approval": all.approval(r.revision),
    })
}

pub async fn get_profile(State(state): State<AppState>, auth: Authenticated) -> ApiResult<Json<Value>> {
    let all = read_state(&state, auth.actor).await?;
    let latest = all.latest_profile();
    let profile = latest.map(|p| p.profile()).transpose()?;
    Ok(Json(json!({
        "profile": profile,
        "revision": latest.map(|p| p.revision),
        "content_hash": latest.map(|p| &p.content_hash),
        "edited_by": latest.map(|p| &p.edited_by),
        "edited_at": latest.map(|p| p.edited_at),
        "revisions": all.profiles.len(),
        "catalogue_edition": catalogue(&state).edition,
        "parameters": catalogue(&state).parameters,
    })))
}

pub async fn put_profile(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiJson(profile): ApiJson<FacilityProfile>,
) -> ApiResult<Json<Value>> {
    let saved = save_profile_as(&state, auth.actor, profile).await?;
    let p = saved.profiles.first().ok_or_else(ApiError::internal)?;
    Ok(Json(json!({ "revision": p.revision, "content_hash": p.content_hash })))
}

pub async fn list_regulations(State(state): State<AppState>, auth: Authenticated) -> ApiResult<Json<Value>> {
    let all = read_state(&state, auth.actor).await?;
    let revisions: Vec<Value> = all.regulations.iter().rev().map(|r| revision_json(&all, r)).collect();
    Ok(Json(json!({ "revisions": revisions })))
}

pub async fn generate(State(state): State<AppState>, auth: Authenticated) -> ApiResult<(StatusCode, Json<Value>)> {
    let record = generate_as(&state, auth.actor.clone()).await?;
    let all = read_state(&state, auth.actor).await?;
    let changes: Vec<Value> = diff_to_previous(&all, record.revision)?
        .into_iter()
        .filter(|r| r.kind != "same")
        .map(|r| json!({ "kind": r.kind, "before": r.left, "after": r.right }))
        .collect();
    let mut body = revision_json(&all, &record);
    body["changes"] = json!(changes);
    Ok((StatusCode::CREATED, Json(body)))
}

/// One revision: `json` (the regulation with its record), `html`, `docx` or `pdf`.
pub async fn get_regulation(
    State(state): State<AppState>,
    auth: Authenticated,
    Path((revision, format)): Path<(i64, String)>,
) -> ApiResult<Response> {
    let all = read_state(&state, auth.actor).await?;
    let record = all.regulation(revision).ok_or_else(|| ApiError::not_found("regulation"))?;
    let regulation = record.regulation()?;
    document(&all, record, &regulation, &format).await
}

/// The regulation as a download in one of the formats; shared with the regulation page.
pub async fn document(all: &GovernanceState, record: &RegulationRecord, regulation: &Regulation, format: &str) -> ApiResult<Response> {
    let name = format!("regulation-r{}", record.revision);
    let attach = |ctype: &'static str, ext: &str, bytes: Vec<u8>| {
        let disposition = format!("attachment; filename=\"{name}.{ext}\"");
        ([(header::CONTENT_TYPE, ctype.to_string()), (header::CONTENT_DISPOSITION, disposition)], bytes).into_response()
    };
    match format {
        "json" => {
            let mut body = revision_json(all, record);
            body["regulation"] = json!(regulation);
            Ok(Json(body).into_response())
        }
        "html" => Ok(attach("text/html; charset=utf-8", "html", regulation.standalone_html().into_bytes())),
        "docx" => {
            let bytes = kiroku_typeset::docx::render(&blocks(regulation)).map_err(typeset_error)?;
            Ok(attach("application/vnd.openxmlformats-officedocument.wordprocessingml.document", "docx", bytes))
        }
        "pdf" => {
            let bytes = render_pdf(typst_markup(all, record, regulation), pdf_date(record.generated_at)).await?;
            Ok(attach("application/pdf", "pdf", bytes))
        }
        _ => Err(ApiError::validation("format", "use json, html, docx or pdf")),
    }
}

/// Typesets markup to PDF/A-2b off the async workers (a long document takes a moment).
pub async fn render_pdf(markup: String, date: kiroku_typeset::pdf::PdfDate) -> ApiResult<Vec<u8>> {
    tokio::task::spawn_blocking(move || kiroku_typeset::pdf::render(&markup, date))
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "PDF rendering task failed");
            ApiError::internal()
        })?
        .map_err(typeset_error)
}

/// A document that could not be made: a build without the `pdf` feature (501) or a machine without
/// Japanese fonts (503) is told as such; anything else is an internal error, logged.
pub fn typeset_error(e: kiroku_typeset::TypesetError) -> ApiError {
    match e {
        kiroku_typeset::TypesetError::Disabled => ApiError::not_built(e.to_string()),
        kiroku_typeset::TypesetError::NoJapaneseFont { .. } => {
            tracing::warn!(error = %e, "PDF output unavailable");
            ApiError::document_unavailable(e.to_string())
        }
        other => {
            tracing::error!(error = %other, "document output failed");
            ApiError::internal()
        }
    }
}

pub fn pdf_date(at: kiroku_core::Timestamp) -> kiroku_typeset::pdf::PdfDate {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(at.as_micros()) * 1000).unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    kiroku_typeset::pdf::PdfDate {
        year: t.year(),
        month: u8::from(t.month()),
        day: t.day(),
        hour: t.hour(),
        minute: t.minute(),
        second: t.second(),
    }
}

fn article_title(a: &kiroku_governance::Article) -> String {
    format!("第{}条（{}）", kiroku_governance::regulation::kanji_number(a.number), a.heading)
}

/// The regulation as Word blocks.
pub fn blocks(r: &Regulation) -> Vec<Block> {
    let mut out = vec![Block::Heading(1, r.title.clone())];
    for chapter in &r.chapters {
        out.push(Block::Heading(2, format!("第{}章 {}", kiroku_governance::regulation::kanji_number(chapter.number), chapter.title)));
        for a in &chapter.articles {
            out.push(Block::Heading(3, format!("{} [{}]", article_title(a), a.item_id)));
            out.extend(a.paragraphs.iter().enumerate().map(|(i, p)| Block::Paragraph(format!("{} {p}", i + 1))));
        }
    }
    out.push(Block::Heading(2, "別表 運用管理体制".into()));
    out.extend(r.roles.iter().map(|(role, name)| Block::Paragraph(format!("{role}：{name}"))));
    out.push(Block::Heading(2, "附則".into()));
    out.push(Block::Paragraph(r.supplementary.clone()));
    out
}

/// The page set-up shared by the PDFs: A4, Japanese text in the system's Noto CJK (or IPAex) fonts,
/// a running footer with `footer` and the page number.
pub fn typst_preamble(title: &str, footer: &str) -> String {
    use kiroku_typeset::{typst_string as s, typst_text as t};
    format!(
        "#set document(title: {title})\n\
         #set page(paper: \"a4\", margin: (x: 2cm, top: 2cm, bottom: 2.5cm), \
         footer: context [#set text(size: 8pt, fill: gray); {footer} #h(1fr) #counter(page).display(\"1 / 1\", both: true)])\n\
         #set text(lang: \"ja\", font: (\"Noto Serif CJK JP\", \"IPAexMincho\", \"Noto Sans CJK JP\", \"IPAexGothic\"), size: 10.5pt)\n\
         #set par(justify: true)\n\
         #show heading: set text(font: (\"Noto Sans CJK JP\", \"IPAexGothic\", \"Noto Serif CJK JP\"))\n\
         #set table(inset: 4pt, stroke: 0.5pt + gray)\n\
         #align(center)[#text(size: 16pt, weight: \"bold\")[{heading}]]\n\n",
        title = s(title),
        footer = t(footer),
        heading = t(title),
    )
}

/// The regulation as typst markup: the articles (第N条 with their catalogue IDs), the roles, the
/// supplementary provisions, the revision history up to this revision and its approval record.
/// Every text is a string literal, so nothing in it is markup.
pub fn typst_markup(all: &GovernanceState, record: &RegulationRecord, r: &Regulation) -> String {
    use kiroku_typeset::typst_text as t;
    let jst = crate::web::page::jst;
    let footer = format!("{} 第{}版 SHA-256 {}", r.title, record.revision, short_hash(&record.content_hash));
    let mut m = typst_preamble(&r.title, &footer);
    m.push_str(&format!(
        "#align(center)[{}]\n\n",
        t(&format!("第{}版（{}生成、ガイドライン第{}版に基づく）", record.revision, jst(record.generated_at), r.catalogue_edition))
    ));
    for chapter in &r.chapters {
        let title = format!("第{}章 {}", kiroku_governance::regulation::kanji_number(chapter.number), chapter.title);
        m.push_str(&format!("#heading(level: 1)[{}]\n\n", t(&title)));
        for a in &chapter.articles {
            m.push_str(&format!("#heading(level: 2)[{} #text(size: 8pt, fill: gray)[{}]]\n\n", t(&article_title(a)), t(&a.item_id)));
            for (i, p) in a.paragraphs.iter().enumerate() {
                m.push_str(&format!("{}\n\n", t(&format!("{} {p}", i + 1))));
            }
        }
    }
    m.push_str(&format!("#heading(level: 1)[{}]\n\n", t("別表 運用管理体制")));
    m.push_str("#table(columns: (auto, 1fr),\n");
    for (role, name) in &r.roles {
        m.push_str(&format!("  [{}], [{}],\n", t(role), t(name)));
    }
    m.push_str(")\n\n");
    m.push_str(&format!("#heading(level: 1)[{}]\n\n{}\n\n", t("附則"), t(&r.supplementary)));

    m.push_str(&format!("#pagebreak(weak: true)\n#heading(level: 1)[{}]\n\n", t("改訂履歴")));
    m.push_str("#table(columns: (auto, auto, auto, auto, 1fr),\n");
    m.push_str(&table_header(&["版", "生成日時（JST）", "生成者", "施設設定の版", "承認"]));
    for rev in all.regulations.iter().filter(|x| x.revision <= record.revision) {
        let approved =
            all.approval(rev.revision).map_or_else(|| "未承認".to_owned(), |a| format!("{} {}", jst(a.approved_at), a.approved_by));
        m.push_str(&format!(
            "  [{}], [{}], [{}], [{}], [{}],\n",
            t(&rev.revision.to_string()),
            t(&jst(rev.generated_at)),
            t(rev.generated_by.as_str()),
            t(&rev.profile_revision.to_string()),
            t(&approved)
        ));
    }
    m.push_str(")\n\n");

    m.push_str(&format!("#heading(level: 1)[{}]\n\n", t("承認記録")));
    match all.approval(record.revision) {
        Some(a) => {
            m.push_str("#table(columns: (auto, 1fr),\n");
            let rows = [
                ("承認者", a.approved_by.as_str().to_owned()),
                ("承認日時（JST）", jst(a.approved_at)),
                ("所見", a.note.clone()),
                ("承認した内容（SHA-256）", a.content_hash.clone()),
            ];
            for (k, v) in rows {
                m.push_str(&format!("  [{}], [{}],\n", t(k), t(&v)));
            }
            m.push_str(")\n");
        }
        None => m.push_str(&format!(
            "{}\n",
            t(&format!("第{}版はまだ承認されていません（SHA-256 {}）。", record.revision, record.content_hash))
        )),
    }
    m
}

/// A table's header row (repeated on every page), each cell in bold.
pub fn table_header(cells: &[&str]) -> String {
    let cells: Vec<String> = cells.iter().map(|c| format!("[*{}*]", kiroku_typeset::typst_text(c))).collect();
    format!("  table.header({}),\n", cells.join(", "))
}

fn short_hash(hash: &str) -> String {
    hash.chars().take(16).collect()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Approval {
    content_hash: String,
    #[serde(default)]
    note: String,
}

pub async fn approve(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(revision): Path<i64>,
    ApiJson(a): ApiJson<Approval>,
) -> ApiResult<Json<Value>> {
    approve_as(&state, auth.actor.clone(), revision, a.content_hash, a.note).await?;
    let all = read_state(&state, auth.actor).await?;
    let record = all.regulation(revision).ok_or_else(|| ApiError::not_found("regulation"))?;
    Ok(Json(revision_json(&all, record)))
}
