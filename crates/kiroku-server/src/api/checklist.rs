//! The compliance checklist with live evidence (issue 8): the evidence gathered from the store, the
//! settings and the background jobs; the checklist computed from it by `kiroku-governance`; the audit
//! officer's sign-off bound to the report's hash; manual attestations of what kiroku cannot see; and
//! the exports (CSV with BOM, OSCAL 1.1 catalog/profile/assessment results, the self-disclosure and
//! the technical/operational split). Reading needs `governance.read`; nothing read here is patient
//! data, so reads are not audited, while sign-offs and attestations are.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use kiroku_core::identity::AccountKind;
use kiroku_core::{Permission, Role, Timestamp};
use kiroku_governance::FacilityClass;
use kiroku_governance::checklist::{self, Report, Status};
use kiroku_governance::evidence::{Attestation, AttestedStatus, Evidence, EvidenceItem, Level, keys};
use kiroku_store::Command;
use kiroku_store::evidence::StoreFacts;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::session::{ApiJson, ApiQuery as Query, Authenticated};

/// Refuses a role without `permission` (decided by the stored matrix).
pub async fn require(state: &AppState, auth: &Authenticated, permission: Permission) -> ApiResult<()> {
    if state.store.allows(auth.actor.role, permission).await? {
        Ok(())
    } else {
        Err(ApiError::forbidden(format!("the role {} lacks the permission {permission}", auth.actor.role)))
    }
}

/// The facility the checklist is for: its name and class.
pub struct Facility {
    pub name: String,
    pub class: FacilityClass,
    /// Whether the facility profile names the responsible people (evidence for T1-2.1).
    pub profile: Option<EvidenceItem>,
}

/// The facility as configured in the facility profile kept by the governance API (its latest
/// revision: name and class B/C, and the responsible people as evidence for T1-2.1). Until a
/// profile is saved, a clinic (class C) is assumed and the profile counts as missing evidence.
pub async fn facility(state: &AppState) -> ApiResult<Facility> {
    Ok(facility_of(&state.store.governance_facts().await?))
}

/// The facility from the store's facts; see [`facility`].
pub fn facility_of(facts: &StoreFacts) -> Facility {
    let Some(record) = &facts.profile else { return Facility { name: "kiroku".into(), class: FacilityClass::C, profile: None } };
    let profile = match record.profile() {
        Ok(p) => p,
        Err(e) => {
            // A stored profile that cannot be read is no evidence; the checklist still answers.
            tracing::error!(error = %e, "the facility profile cannot be read; assuming class C");
            return Facility { name: "kiroku".into(), class: FacilityClass::C, profile: None };
        }
    };
    let named = profile.people.roles().iter().filter(|(_, _, _, v)| !v.trim().is_empty()).count();
    let all = profile.people.roles().len();
    let item = EvidenceItem::new(
        keys::FACILITY_PROFILE,
        ("施設プロファイル（責任者の指名）", "facility profile (responsible people named)"),
        if named == all { Level::Good } else { Level::Partial },
        "/admin/governance/profile",
        "/api/v1/governance/profile",
    )
    .at(Some(record.edited_at))
    .by(Some(record.edited_by.to_string()))
    .summary(
        format!("第{}版（区分{}、責任者{named}/{all}名を指名）", record.revision, profile.facility_class.as_str()),
        format!("revision {} (class {}, {named} of {all} responsible people named)", record.revision, profile.facility_class.as_str()),
    )
    .facts(json!({ "revision": record.revision, "content_hash": record.content_hash }));
    let name = if profile.facility_name.trim().is_empty() { "kiroku".to_string() } else { profile.facility_name.clone() };
    Facility { name, class: profile.facility_class, profile: Some(item) }
}

/// The newest entry of each ledger (台帳) as the evidence `ledger:<kind>`: dated by the entry's
/// own date when it has one (when the measure was carried out), else by when it was recorded; an
/// entry still waiting for its approval is only partial evidence.
fn ledger_evidence(facts: &StoreFacts, ev: &mut Evidence) {
    for (kind, fact) in &facts.ledgers {
        let Some(def) = kiroku_core::ledgers::LedgerKind::parse(kind).map(|k| k.def()) else { continue };
        let dated = fact
            .entry_date
            .as_deref()
            .and_then(|d| Timestamp::parse_rfc3339(&format!("{d}T00:00:00+09:00")))
            .filter(|t| *t <= Timestamp::now())
            .unwrap_or(fact.entered_at);
        let pending = fact.status == kiroku_core::ledgers::EntryStatus::PendingApproval;
        let date = fact.entry_date.clone().unwrap_or_else(|| fact.entered_at.to_rfc3339());
        ev.add(
            EvidenceItem::new(
                keys::ledger(kind),
                (def.label_ja, def.label_en),
                if pending { Level::Partial } else { Level::Good },
                &format!("/admin/governance/ledgers/{kind}/{}", fact.id),
                &format!("/api/v1/governance/ledgers/{kind}/{}", fact.id),
            )
            .at(Some(dated))
            .by(Some(fact.entered_by.clone()))
            .summary(
                format!("最新の記録は{date}（{}、{}）", fact.entered_by, fact.status.label_ja()),
                format!("newest entry {date} by {} ({})", fact.entered_by, fact.status.as_str()),
            )
            .facts(json!({ "entry": fact.id, "status": fact.status.as_str() })),
        );
    }
}

fn event_item(facts: &StoreFacts, action: &str, key: &str, title: (&str, &str), link: &str, api: &str) -> Option<EvidenceItem> {
    let e = facts.newest.get(action)?;
    let ok = e.outcome == kiroku_core::Outcome::Success;
    let who = e.user.clone().unwrap_or_default();
    let (ja, en) = if ok {
        (format!("最新は{}（{}、成功）", e.time.to_rfc3339(), who), format!("latest {} by {who}, succeeded", e.time.to_rfc3339()))
    } else {
        (
            format!("最新は{}（{}、{}）", e.time.to_rfc3339(), who, e.outcome.as_str()),
            format!("latest {} by {who}: {}", e.time.to_rfc3339(), e.outcome.as_str()),
        )
    };
    Some(
        EvidenceItem::new(key, title, if ok { Level::Good } else { Level::Bad }, link, api)
            .at(Some(e.time))
            .by(e.user.clone())
            .summary(ja, en)
            .facts(json!({ "audit_event": e.id, "outcome": e.outcome, "detail": e.detail, "content_hash": e.content_hash })),
    )
}

fn audit_link(action: &str) -> String {
    format!("/audit?action={action}")
}

fn api_audit_link(action: &str) -> String {
    format!("/api/v1/audit?action={action}")
}

/// Everything the running system can show, gathered now.
pub async fn gather(state: &AppState, facility: &Facility) -> ApiResult<Evidence> {
    gather_from(state, facility, &state.store.governance_facts().await?)
}

/// The evidence from facts already read.
pub fn gather_from(state: &AppState, facility: &Facility, facts: &StoreFacts) -> ApiResult<Evidence> {
    let now = Timestamp::now();
    let s = &state.settings;
    let mut ev = Evidence::default();

    // Access control.
    let clinical = [Permission::PatientRead, Permission::DocumentRead];
    let roles_with_grants = Role::ALL.iter().filter(|r| facts.matrix.grants().any(|(role, _)| role == **r)).count();
    let separated = [Role::Admin, Role::Auditor].iter().all(|r| clinical.iter().all(|p| facts.matrix.check(*r, *p, None).is_err()));
    let per_role: Vec<Value> = Role::ALL
        .iter()
        .map(|r| json!({ "role": r, "grants": facts.matrix.grants().filter(|(role, _)| role == r).map(|(_, g)| g.key()).collect::<Vec<_>>() }))
        .collect();
    ev.add(
        EvidenceItem::new(
            keys::MATRIX,
            ("権限表（職種・情報区分別）", "permission matrix (by job type and information class)"),
            if roles_with_grants == Role::ALL.len() && separated { Level::Good } else { Level::Partial },
            "/admin/roles",
            "/api/v1/roles",
        )
        .summary(
            format!(
                "{}職種中{}職種に権限設定。システム管理者・監査責任者は診療記録を参照{}",
                Role::ALL.len(),
                roles_with_grants,
                if separated { "できない" } else { "できる" }
            ),
            format!(
                "{roles_with_grants} of {} roles hold grants; administrator and auditor {} read clinical records",
                Role::ALL.len(),
                if separated { "cannot" } else { "can" }
            ),
        )
        .facts(json!(per_role)),
    );

    // Second factors.
    let staff: Vec<_> = facts.accounts.iter().filter(|a| !a.disabled && a.kind == AccountKind::Staff).collect();
    let enrolled = staff.iter().filter(|a| a.has_second_factor).count();
    let required: Vec<&Role> = facts.mfa_policies.iter().filter(|(_, p)| p.requires(now)).map(|(r, _)| r).collect();
    let scheduled = facts.mfa_policies.iter().filter(|(_, p)| p.mode != kiroku_core::identity::MfaMode::Optional).count();
    let mfa_level = if required.len() == Role::ALL.len() {
        Level::Good
    } else if scheduled > 0 || enrolled > 0 {
        Level::Partial
    } else {
        Level::Bad
    };
    ev.add(
        EvidenceItem::new(keys::MFA, ("二要素認証", "two-factor authentication"), mfa_level, "/admin/mfa", "/api/v1/mfa-policies")
            .summary(
                format!("必須の職種 {}/{}（予定を含め{}）。有効な職員アカウント{}件中{}件が登録済み", required.len(), Role::ALL.len(), scheduled, staff.len(), enrolled),
                format!("required for {} of {} roles ({scheduled} incl. scheduled); {enrolled} of {} active staff accounts enrolled", required.len(), Role::ALL.len(), staff.len()),
            )
            .facts(json!({ "policies": facts.mfa_policies.iter().map(|(r, p)| json!({ "role": r, "mode": p.mode.as_str(), "required_from": p.required_from })).collect::<Vec<_>>(),
                           "active_staff": staff.len(), "enrolled": enrolled })),
    );

    // Events: reviews, checks, backups, drills, exports, sign-offs.
    // (action, evidence key, title, page, API path)
    type EventEvidence<'a> = (&'a str, &'a str, (&'a str, &'a str), String, String);
    let events: [EventEvidence; 9] = [
        (
            "audit_review_signoff",
            keys::AUDIT_REVIEW,
            ("監査レビューの確認記録", "audit review sign-off"),
            "/audit".into(),
            "/api/v1/audit/review".into(),
        ),
        (
            "access_review_signoff",
            keys::ACCESS_REVIEW,
            ("アカウント棚卸しの確認記録", "access review sign-off"),
            audit_link("access_review_signoff"),
            "/api/v1/access-review".into(),
        ),
        ("fixity_check", keys::FIXITY, ("定期整合性検査", "scheduled fixity check"), "/admin/status".into(), "/healthz".into()),
        ("backup", keys::BACKUP, ("バックアップ", "backup"), "/admin/locations".into(), "/api/v1/locations".into()),
        (
            "restore_drill",
            keys::RESTORE_DRILL,
            ("リストア訓練", "restore drill"),
            audit_link("restore_drill"),
            api_audit_link("restore_drill"),
        ),
        (
            "record_export",
            keys::OFFLINE_EXPORT,
            ("見読用出力（オフラインHTML）", "offline-readable export"),
            audit_link("record_export"),
            api_audit_link("record_export"),
        ),
        (
            "checklist_signoff",
            keys::CHECKLIST_SIGNOFF,
            ("チェックリストの確認記録", "checklist sign-off"),
            "/admin/governance/checklist".into(),
            api_audit_link("checklist_signoff"),
        ),
        (
            "regulation_approve",
            keys::REGULATION,
            ("運用管理規程の承認", "approval of the 運用管理規程"),
            "/admin/governance/regulation".into(),
            "/api/v1/governance/regulation".into(),
        ),
        (
            "signature_add",
            "latest_signature",
            ("最新の電子署名", "latest signature"),
            "/admin/timestamps".into(),
            api_audit_link("signature_add"),
        ),
    ];
    for (action, key, title, link, api) in events {
        if let Some(item) = event_item(facts, action, key, title, &link, &api) {
            ev.add(item);
        }
    }
    if let Some(cp) = &facts.latest_checkpoint {
        ev.add(
            EvidenceItem::new(
                keys::CHECKPOINT,
                ("署名付きチェックポイント（改ざん検知ログ）", "signed checkpoint of the tamper-evident log"),
                Level::Good,
                "/admin/status",
                "/api/v1/log/checkpoint",
            )
            .at(Some(cp.time))
            .summary(format!("ログ{}件の木頭に署名済み", cp.size), format!("tree head of {} leaves signed", cp.size))
            .facts(json!({ "size": cp.size, "root": cp.root })),
        );
    }

    // Emergency mode and break-glass accounts.
    let (mode_ja, mode_en) = match &facts.emergency {
        Some(m) => (format!("縮退運用中（{}から）", m.since.to_rfc3339()), format!("read-only since {}", m.since.to_rfc3339())),
        None => ("通常運用".to_string(), "normal operation".to_string()),
    };
    let last_switch = ["emergency_mode_enter", "emergency_mode_leave"].iter().filter_map(|a| facts.newest.get(*a)).map(|e| e.time).max();
    ev.add(
        EvidenceItem::new(keys::EMERGENCY, ("縮退運用（読み取り専用モード）", "emergency read-only mode"), Level::Good, "/admin/status", "/api/v1/emergency")
            .at(last_switch)
            .summary(
                format!("{mode_ja}。これまでの開始{}回。ディスク・DB・ファイル保存の監視で自動的に開始", facts.emergency_entries),
                format!("{mode_en}; entered {} times so far; entered automatically by the health monitor", facts.emergency_entries),
            )
            .facts(json!({ "active": facts.emergency.is_some(), "entries": facts.emergency_entries, "check_interval_seconds": s.health_check_interval_secs })),
    );
    let sealed = facts.break_glass.iter().filter(|b| b.state == "sealed").count();
    let bg_level = match (facts.break_glass.len(), sealed) {
        (0, _) => Level::Bad,
        (n, s) if n == s => Level::Good,
        _ => Level::Partial,
    };
    ev.add(
        EvidenceItem::new(
            keys::BREAK_GLASS,
            ("緊急時アカウント（封印）", "break-glass accounts (sealed)"),
            bg_level,
            "/admin/break-glass",
            "/api/v1/break-glass",
        )
        .at(facts.break_glass.iter().map(|b| b.sealed_at).max())
        .summary(
            format!("{}件中{}件が封印済み", facts.break_glass.len(), sealed),
            format!("{sealed} of {} sealed", facts.break_glass.len()),
        )
        .facts(json!({ "accounts": facts.break_glass.len(), "sealed": sealed })),
    );

    // Timestamps and signatures.
    let stamping = state.stamping.get();
    let (waiting, oldest) = facts.stamp_backlog;
    let oldest_days = oldest.map(|o| (now.as_micros() - o.as_micros()) / 86_400_000_000);
    let ts_level = match (&s.timestamp, oldest_days) {
        (None, _) => Level::Bad,
        (Some(_), Some(d)) if d >= 1 => Level::Partial,
        (Some(_), _) => Level::Good,
    };
    ev.add(
        EvidenceItem::new(keys::TIMESTAMPS, ("RFC 3161 タイムスタンプ", "RFC 3161 timestamps"), ts_level, "/admin/timestamps", "/healthz")
            .at(stamping.last_success)
            .summary(
                format!("TSA{}。未付与{}件", if s.timestamp.is_some() { "設定済み" } else { "未設定" }, waiting),
                format!("TSA {}; {waiting} items waiting", if s.timestamp.is_some() { "configured" } else { "not configured" }),
            )
            .facts(json!({ "configured": s.timestamp.is_some(), "backlog": waiting, "oldest_pending": oldest, "last_error": stamping.last_error })),
    );
    let anchors = !s.signer_anchors.is_empty();
    ev.add(
        EvidenceItem::new(
            keys::SIGNATURES,
            ("電子署名の検証設定", "signature verification"),
            if anchors { Level::Good } else { Level::Partial },
            "/admin/timestamps",
            "/api/openapi.json",
        )
        .at(facts.newest.get("signature_add").map(|e| e.time))
        .summary(
            format!("署名者の信頼点{}", if anchors { "設定済み（HPKI等）" } else { "未設定（署名は受け付けるが検証できない）" }),
            format!("signer trust anchors {}", if anchors { "configured (HPKI or the facility's CA)" } else { "not configured" }),
        )
        .facts(json!({ "trust_anchors": s.signer_anchors.certificates().len() })),
    );

    // The location register and response times.
    ev.add(
        EvidenceItem::new(
            keys::LOCATIONS,
            ("情報の所在一覧", "location register"),
            if facts.locations.is_empty() { Level::Partial } else { Level::Good },
            "/admin/locations",
            "/api/v1/locations",
        )
        .at(facts.locations.iter().map(|l| l.edited_at).max())
        .summary(
            format!("システムが把握する所在に加え、管理者の登録{}件", facts.locations.len()),
            format!("the system's own locations and {} administrator entries", facts.locations.len()),
        )
        .facts(json!({ "administrator_entries": facts.locations.len() })),
    );
    let t = &s.response_targets;
    ev.add(
        EvidenceItem::new(
            keys::RESPONSE_TIMES,
            ("応答時間の目標と測定", "response-time targets and measurement"),
            Level::Good,
            "/admin/status",
            "/api/v1/status/response-times",
        )
        .summary(
            format!(
                "目標: カルテ{}ms・文書{}ms・検索{}ms・ログイン{}ms・印刷{}ms・書込{}ms",
                t.chart_ms, t.document_ms, t.search_ms, t.login_ms, t.print_ms, t.write_ms
            ),
            format!(
                "targets: chart {} ms, document {} ms, search {} ms, login {} ms, print {} ms, write {} ms",
                t.chart_ms, t.document_ms, t.search_ms, t.login_ms, t.print_ms, t.write_ms
            ),
        ),
    );

    // Configuration: network, passwords, sessions, transport, forwarding.
    let rules = s.network.by_role.len() + s.network.by_kind.len();
    ev.add(
        EvidenceItem::new(keys::NETWORK, ("接続元ネットワークの制限", "source-network restrictions"), if rules > 0 { Level::Good } else { Level::Partial }, "/admin/governance/disclosure", "/api/v1/governance/evidence")
            .summary(
                if rules > 0 { format!("職種・アカウント種別の接続元制限{rules}件") } else { "接続元の制限は未設定（どこからでもログイン可能）".into() },
                if rules > 0 { format!("{rules} source-network rules by role or account kind") } else { "no source-network restriction configured".into() },
            )
            .facts(json!({ "by_role": s.network.by_role.iter().map(|(r, n)| json!({ "role": r, "networks": n.iter().map(|x| x.to_string()).collect::<Vec<_>>() })).collect::<Vec<_>>(),
                           "by_kind": s.network.by_kind.iter().map(|(k, n)| json!({ "kind": k, "networks": n.iter().map(|x| x.to_string()).collect::<Vec<_>>() })).collect::<Vec<_>>(),
                           "trusted_proxies": s.network.trusted_proxies.len() })),
    );
    let l = &s.password_policy.limits;
    let pw_ok = (l.min_length >= 13 || l.min_length_with_second_factor >= 8) && l.min_length >= 8 && l.history >= 1;
    ev.add(
        EvidenceItem::new(
            keys::PASSWORD,
            ("パスワード方針", "password policy"),
            if pw_ok { Level::Good } else { Level::Bad },
            "/admin/governance/disclosure",
            "/api/v1/governance/evidence",
        )
        .summary(
            format!(
                "{}文字以上（二要素認証の利用者は{}文字以上）、英数字記号の混在と推測困難さを確認、直近{}回の再利用禁止",
                l.min_length, l.min_length_with_second_factor, l.history
            ),
            format!(
                "{}+ characters ({}+ with a second factor), mixed classes and strength checked, last {} not reusable",
                l.min_length, l.min_length_with_second_factor, l.history
            ),
        )
        .facts(json!({ "min_length": l.min_length, "min_length_with_second_factor": l.min_length_with_second_factor, "history": l.history,
                           "min_strength": l.min_strength })),
    );
    let idle_min = s.idle_timeout_secs / 60;
    let sess_ok = s.idle_timeout_secs <= 30 * 60 && s.lockout.max_failures <= 10 && s.session_lifetime_secs <= 24 * 3600;
    ev.add(
        EvidenceItem::new(keys::SESSIONS, ("ロック・自動ログオフ", "lockout and idle logout"), if sess_ok { Level::Good } else { Level::Partial }, "/admin/governance/disclosure", "/api/v1/governance/evidence")
            .summary(
                format!("{}回失敗で{}分ロック、{}分無操作でログオフ、最長{}時間、同時ログイン{}", s.lockout.max_failures, s.lockout.lock_seconds / 60, idle_min, s.session_lifetime_secs / 3600, if s.single_session { "不可" } else { "可" }),
                format!("{} failures lock for {} min; idle logout after {idle_min} min; at most {} h; other sessions {}", s.lockout.max_failures, s.lockout.lock_seconds / 60, s.session_lifetime_secs / 3600, if s.single_session { "ended at login" } else { "kept" }),
            )
            .facts(json!({ "max_failures": s.lockout.max_failures, "lock_seconds": s.lockout.lock_seconds, "idle_timeout_seconds": s.idle_timeout_secs,
                           "session_lifetime_seconds": s.session_lifetime_secs, "single_session": s.single_session })),
    );
    ev.add(
        EvidenceItem::new(
            keys::TLS,
            ("通信の暗号化（TLS）", "encrypted transport (TLS)"),
            if s.secure_cookies { Level::Good } else { Level::Partial },
            "/admin/governance/disclosure",
            "/api/v1/governance/evidence",
        )
        .summary(
            if s.secure_cookies {
                "HTTPS前提（Secure Cookie）。TLSは前段のリバースプロキシで終端".to_string()
            } else {
                "ループバックのみで待ち受け（平文HTTP）".to_string()
            },
            if s.secure_cookies {
                "HTTPS assumed (Secure cookies); TLS terminated by the reverse proxy".to_string()
            } else {
                "listening on loopback only (plain HTTP)".to_string()
            },
        )
        .facts(json!({ "secure_cookies": s.secure_cookies, "syslog_tls": s.syslog.is_some() })),
    );
    ev.add(
        EvidenceItem::new(
            keys::AUDIT_FORWARDING,
            ("アクセスログの外部転送", "audit forwarding"),
            if s.syslog.is_some() { Level::Good } else { Level::Partial },
            "/admin/governance/disclosure",
            "/api/v1/governance/evidence",
        )
        .summary(
            match &s.syslog {
                Some(c) => format!("syslog over TLS で {} に転送", c.collector),
                None => "外部転送は未設定（FHIR AuditEventでの出力は可能）".into(),
            },
            match &s.syslog {
                Some(c) => format!("forwarded over TLS to {}", c.collector),
                None => "not forwarded (FHIR AuditEvent export available)".into(),
            },
        ),
    );

    // Generated documents.
    ev.add(
        EvidenceItem::new(
            keys::SPLIT,
            ("技術的・運用的対策の分担表", "technical/operational split"),
            Level::Good,
            "/admin/governance/split",
            "/api/v1/governance/split",
        )
        .summary("カタログと規則から生成", "generated from the catalogue and the rules"),
    );
    ev.add(
        EvidenceItem::new(
            keys::DISCLOSURE,
            ("kirokuのセキュリティ開示書（MDS/SDS形式）", "kiroku's self-disclosure (MDS/SDS style)"),
            Level::Good,
            "/admin/governance/disclosure",
            "/api/v1/governance/disclosure",
        )
        .summary("稼働中の設定から生成", "generated from the running configuration"),
    );
    if let Some(profile) = &facility.profile {
        ev.add(profile.clone());
    }
    ledger_evidence(facts, &mut ev);

    // Manual attestations: the newest per item.
    for e in &facts.attestations {
        let Some(a) = e.detail.as_deref().and_then(Attestation::from_detail) else { continue };
        if ev.get(&keys::attestation(&a.item)).is_none() {
            ev.add(checklist::attestation_evidence(&a, e.time, e.user.as_deref().unwrap_or_default(), e.id));
        }
    }
    Ok(ev)
}

/// The checklist as of now, with the evidence it was computed from.
pub struct Current {
    pub facility: Facility,
    pub evidence: Evidence,
    pub report: Report,
    pub at: Timestamp,
}

pub async fn current(state: &AppState) -> ApiResult<Current> {
    let facts = state.store.governance_facts().await?;
    let facility = facility_of(&facts);
    let evidence = gather_from(state, &facility, &facts)?;
    let at = Timestamp::now();
    let report = checklist::assess_catalogue(&state.settings.catalogue, facility.class, &evidence, &state.settings.checklist, at);
    Ok(Current { facility, evidence, report, at })
}

/// Reads the checklist for a caller with `governance.read`.
pub async fn current_for(state: &AppState, auth: &Authenticated) -> ApiResult<Current> {
    require(state, auth, Permission::GovernanceRead).await?;
    current(state).await
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Filter {
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub table: Option<String>,
}

impl Filter {
    /// The status and table asked for; unknown values are refused.
    pub fn parse(&self) -> ApiResult<(Option<Status>, Option<u8>)> {
        let status = match self.status.as_deref().filter(|s| !s.is_empty()) {
            Some(s) => {
                Some(Status::parse(s).ok_or_else(|| ApiError::validation("status", "must be satisfied, partly, not or not_applicable"))?)
            }
            None => None,
        };
        let table = match self.table.as_deref().filter(|s| !s.is_empty()) {
            Some(t) => Some(
                t.parse::<u8>().ok().filter(|t| (1..=3).contains(t)).ok_or_else(|| ApiError::validation("table", "must be 1, 2 or 3"))?,
            ),
            None => None,
        };
        Ok((status, table))
    }
}

pub fn filtered(report: &Report, status: Option<Status>, table: Option<u8>) -> Vec<&checklist::Row> {
    report.rows.iter().filter(|r| status.is_none_or(|s| r.status == s) && table.is_none_or(|t| r.table == t)).collect()
}

fn counts_json(report: &Report) -> Value {
    Value::Object(report.counts().into_iter().map(|(s, n)| (s.as_str().to_string(), json!(n))).collect())
}

pub async fn get_checklist(State(state): State<AppState>, auth: Authenticated, Query(f): Query<Filter>) -> ApiResult<Json<Value>> {
    let (status, table) = f.parse()?;
    let c = current_for(&state, &auth).await?;
    let rows = filtered(&c.report, status, table);
    Ok(Json(json!({
        "facility": c.facility.name,
        "class": c.report.class,
        "generated_at": c.at,
        "report_hash": c.report.hash(),
        "thresholds": c.report.thresholds,
        "counts": counts_json(&c.report),
        "rows": rows,
        "mhlw": c.report.mhlw,
        "last_signoff": c.evidence.get(keys::CHECKLIST_SIGNOFF),
    })))
}

pub async fn get_evidence(State(state): State<AppState>, auth: Authenticated) -> ApiResult<Json<Value>> {
    let c = current_for(&state, &auth).await?;
    Ok(Json(json!({ "generated_at": c.at, "evidence": c.evidence.items.values().collect::<Vec<_>>() })))
}

/// The checklist as CSV: UTF-8 with a byte-order mark so Excel opens it as UTF-8, CRLF lines,
/// RFC 4180 quoting; one line per item (the MHLW checklist after the guideline's items).
pub fn to_csv(report: &Report, status: Option<Status>, table: Option<u8>) -> String {
    fn field(s: &str) -> String {
        // A leading = + - @ would make a spreadsheet run a formula.
        let s = if s.starts_with(['=', '+', '-', '@']) { format!("'{s}") } else { s.to_string() };
        if s.contains([',', '"', '\n', '\r']) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s }
    }
    let mut out = String::from("\u{feff}");
    out.push_str("ID,表,項目,実施項目,状態,status,理由,reason,証跡の日時,証跡の経過日数,証跡へのリンク\r\n");
    let mhlw = report.mhlw.iter().filter(|_| status.is_none() && table.is_none());
    for r in filtered(report, status, table).into_iter().chain(mhlw) {
        let times: Vec<String> = r.findings.iter().map(|f| f.time.map(|t| t.to_rfc3339()).unwrap_or_default()).collect();
        let ages: Vec<String> = r.findings.iter().map(|f| f.age_days.map(|a| a.to_string()).unwrap_or_default()).collect();
        let links: Vec<String> = r.findings.iter().filter(|f| !f.link.is_empty()).map(|f| f.link.clone()).collect();
        let table = if r.table == 0 { "MHLW".to_string() } else { format!("付表{}", r.table) };
        let cells = [
            r.id.as_str(),
            &table,
            &r.area_ja,
            &r.title_ja,
            r.status.label_ja(),
            r.status.as_str(),
            &r.reason_ja,
            &r.reason_en,
            &times.join(" "),
            &ages.join(" "),
            &links.join(" "),
        ];
        out.push_str(&cells.iter().map(|c| field(c)).collect::<Vec<_>>().join(","));
        out.push_str("\r\n");
    }
    out
}

pub fn attachment(content_type: &'static str, filename: &str, body: impl Into<axum::body::Body>) -> Response {
    let mut r = Response::new(body.into());
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{filename}\"")) {
        r.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    r
}

pub async fn get_csv(State(state): State<AppState>, auth: Authenticated, Query(f): Query<Filter>) -> ApiResult<Response> {
    let (status, table) = f.parse()?;
    let c = current_for(&state, &auth).await?;
    Ok(attachment("text/csv; charset=utf-8", "kiroku-checklist.csv", to_csv(&c.report, status, table)))
}

/// The checklist as typst markup for the PDF: the facility, its class, when it was computed and the
/// report's hash, the counts, each item's ID, status and reason (the MHLW checklist after the
/// guideline's items when unfiltered), and the audit officer's latest sign-off, if any. Every text
/// is a string literal, so nothing in it is markup.
pub fn typst_markup(c: &Current, status: Option<Status>, table: Option<u8>) -> String {
    use kiroku_typeset::typst_text as t;
    let jst = crate::web::page::jst;
    let hash = c.report.hash();
    let title = "安全管理ガイドライン チェックリスト";
    let footer = format!("{} {} {}（JST） SHA-256 {}", c.facility.name, title, jst(c.at), hash.chars().take(16).collect::<String>());
    let mut m = crate::api::governance::typst_preamble(title, &footer);
    m.push_str("#table(columns: (auto, 1fr), stroke: none,\n");
    let class = format!("{} {}", c.facility.class.as_str(), c.facility.class.label_ja());
    let counts = c.report.counts().into_iter().map(|(s, n)| format!("{} {n}", s.label_ja())).collect::<Vec<_>>().join("、");
    for (k, v) in [
        ("施設", c.facility.name.clone()),
        ("施設区分", class),
        ("算出日時（JST）", jst(c.at)),
        ("報告のハッシュ", hash.clone()),
        ("集計", counts),
    ] {
        m.push_str(&format!("  [*{}*], [{}],\n", t(k), t(&v)));
    }
    m.push_str(")\n\n");
    let filters: Vec<String> =
        status.map(|s| format!("状態: {}", s.label_ja())).into_iter().chain(table.map(|n| format!("付表{n}"))).collect();
    if !filters.is_empty() {
        m.push_str(&format!("{}\n\n", t(&format!("絞り込み: {}", filters.join("、")))));
    }
    let rows = |m: &mut String, rows: &[&checklist::Row]| {
        m.push_str("#table(columns: (auto, 1fr, auto, 1.4fr),\n");
        m.push_str(&crate::api::governance::table_header(&["ID", "実施項目", "状態", "理由"]));
        for r in rows {
            m.push_str(&format!("  [{}], [{}], [{}], [{}],\n", t(&r.id), t(&r.title_ja), t(r.status.label_ja()), t(&r.reason_ja)));
        }
        m.push_str(")\n\n");
    };
    rows(&mut m, &filtered(&c.report, status, table));
    if status.is_none() && table.is_none() && !c.report.mhlw.is_empty() {
        m.push_str(&format!(
            "#heading(level: 1)[{}]\n\n",
            t("医療機関におけるサイバーセキュリティ対策チェックリスト（厚生労働省）との対応")
        ));
        rows(&mut m, &c.report.mhlw.iter().collect::<Vec<_>>());
    }
    m.push_str(&format!("#heading(level: 1)[{}]\n\n", t("監査責任者の確認")));
    match c.evidence.get(keys::CHECKLIST_SIGNOFF) {
        Some(e) => {
            let signed = e.facts.get("content_hash").and_then(Value::as_str).unwrap_or_default();
            let same = if signed == hash { "この内容と一致" } else { "その後、内容が変わっています" };
            m.push_str("#table(columns: (auto, 1fr),\n");
            let rows = [
                ("確認者", e.by.clone().unwrap_or_default()),
                ("確認日時（JST）", e.time.map(jst).unwrap_or_default()),
                ("確認した報告のハッシュ", format!("{signed}（{same}）")),
                ("記録", e.summary_ja.clone()),
            ];
            for (k, v) in rows {
                m.push_str(&format!("  [{}], [{}],\n", t(k), t(&v)));
            }
            m.push_str(")\n");
        }
        None => m.push_str(&format!("{}\n", t("まだ確認されていません。"))),
    }
    m
}

/// The checklist as PDF/A-2b; shared with the checklist page.
pub async fn pdf(c: &Current, status: Option<Status>, table: Option<u8>) -> ApiResult<Response> {
    let date = crate::api::governance::pdf_date(c.at);
    let bytes = crate::api::governance::render_pdf(typst_markup(c, status, table), date).await?;
    Ok(attachment("application/pdf", "kiroku-checklist.pdf", bytes))
}

pub async fn get_pdf(State(state): State<AppState>, auth: Authenticated, Query(f): Query<Filter>) -> ApiResult<Response> {
    let (status, table) = f.parse()?;
    let c = current_for(&state, &auth).await?;
    pdf(&c, status, table).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignOff {
    pub report_hash: String,
    #[serde(default)]
    pub comment: String,
}

/// The audit officer signs off the checklist they read: refused when it changed since.
pub async fn sign_off_as(state: &AppState, auth: &Authenticated, req: SignOff) -> ApiResult<kiroku_core::AuditEvent> {
    let c = current_for(state, auth).await?;
    if c.report.hash() != req.report_hash.trim() {
        return Err(ApiError::conflict("the checklist differs from the one reviewed; open it again and review it"));
    }
    let counts = c.report.counts().iter().map(|(s, n)| format!("{}={n}", s.as_str())).collect::<Vec<_>>().join(" ");
    let command = Command::SignOffChecklist { actor: auth.actor.clone(), report_hash: c.report.hash(), counts, comment: req.comment };
    let events = state.store.execute(command).await?.into_audit()?;
    events.into_iter().next().ok_or_else(ApiError::internal)
}

pub async fn sign_off(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiJson(req): ApiJson<SignOff>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let event = sign_off_as(&state, &auth, req).await?;
    Ok((StatusCode::CREATED, Json(json!({ "signed_off": event }))))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Attest {
    pub item: String,
    pub status: String,
    pub reason: String,
}

/// Records a manual attestation of an item kiroku cannot see (governance.manage, audited).
pub async fn attest_as(state: &AppState, auth: &Authenticated, req: Attest) -> ApiResult<kiroku_core::AuditEvent> {
    let status = AttestedStatus::parse(&req.status).ok_or_else(|| ApiError::validation("status", "must be satisfied, partly or not"))?;
    let a = Attestation { item: req.item.trim().to_string(), status, reason: req.reason.trim().to_string() };
    let catalogue = &*state.settings.catalogue;
    if !checklist::attestable(&a.item, |id| catalogue.item(id).is_some()) {
        return Err(ApiError::validation("item", "not an item kiroku leaves to the facility; its evidence comes from the running system"));
    }
    a.validate(|_| true).map_err(|e| {
        let (field, detail) = e.split_once(": ").unwrap_or(("reason", e));
        ApiError::validation(field, detail)
    })?;
    let events = state.store.execute(Command::AttestChecklistItem { actor: auth.actor.clone(), detail: a.detail() }).await?.into_audit()?;
    events.into_iter().next().ok_or_else(ApiError::internal)
}

pub async fn attest(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiJson(req): ApiJson<Attest>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    require(&state, &auth, Permission::GovernanceRead).await?;
    let event = attest_as(&state, &auth, req).await?;
    Ok((StatusCode::CREATED, Json(json!({ "attested": event }))))
}

fn oscal_json(v: Value) -> Response {
    let mut r = Json(v).into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}

pub async fn oscal_catalog(State(state): State<AppState>, auth: Authenticated) -> ApiResult<Response> {
    require(&state, &auth, Permission::GovernanceRead).await?;
    let cat = &*state.settings.catalogue;
    Ok(oscal_json(kiroku_governance::oscal::catalog(&kiroku_governance::oscal::item_texts(cat), &cat.edition, Timestamp::now())))
}

pub async fn oscal_profile(State(state): State<AppState>, auth: Authenticated) -> ApiResult<Response> {
    require(&state, &auth, Permission::GovernanceRead).await?;
    let facility = facility(&state).await?;
    let cat = &*state.settings.catalogue;
    let ids: Vec<String> = cat.applicable_to(facility.class).iter().map(|i| i.id.clone()).collect();
    Ok(oscal_json(kiroku_governance::oscal::profile(facility.class.as_str(), &ids, &cat.edition, "catalog.json", Timestamp::now())))
}

pub async fn oscal_results(State(state): State<AppState>, auth: Authenticated) -> ApiResult<Response> {
    let c = current_for(&state, &auth).await?;
    Ok(oscal_json(kiroku_governance::oscal::assessment_results(&c.report, &c.facility.name, "profile.json", c.at)))
}

/// The self-disclosure, from the evidence gathered now.
pub async fn disclosure_for(state: &AppState, auth: &Authenticated) -> ApiResult<kiroku_governance::disclosure::Disclosure> {
    let c = current_for(state, auth).await?;
    Ok(kiroku_governance::disclosure::disclosure(&c.evidence, env!("CARGO_PKG_VERSION"), &c.at.to_rfc3339()))
}

pub async fn disclosure(State(state): State<AppState>, auth: Authenticated) -> ApiResult<Json<Value>> {
    Ok(Json(json!(disclosure_for(&state, &auth).await?)))
}

pub async fn split_for(state: &AppState, auth: &Authenticated) -> ApiResult<Vec<kiroku_governance::disclosure::SplitRow>> {
    let c = current_for(state, auth).await?;
    let cat = &*state.settings.catalogue;
    Ok(kiroku_governance::disclosure::split(&kiroku_governance::oscal::item_texts(cat), &c.evidence))
}

pub async fn split(State(state): State<AppState>, auth: Authenticated) -> ApiResult<Json<Value>> {
    Ok(Json(json!({ "format": "kiroku-responsibility-split/1", "items": split_for(&state, &auth).await? })))
}
