//! The conformance story: one behaviour suite that every backend must pass. A backend's tests call
//! [`conformance_tests!`](crate::conformance_tests) with a function that gives a fresh, empty backend.

use std::sync::Arc;

use kiroku_core::access::{Denied, Grant};
use kiroku_core::document::LifecycleError;
use kiroku_core::{AuditAction, DocumentStatus, InfoClass, Outcome, PatientId, Permission, Role, Timestamp, Username};
use serde_json::json;

use crate::command::{Actor, Command, LockoutPolicy, NewDocument, Reply};
use crate::records::*;
use crate::{Store, StoreError};

/// Generates one `#[tokio::test]` per story, each on a fresh backend from `$make`, an async fn
/// returning `Option<Arc<dyn Backend>>`.
#[macro_export]
macro_rules! conformance_tests {
    ($make:path) => {
        $crate::conformance_tests!(@each $make;
            bootstrap_once, document_lifecycle_keeps_every_version, proxy_entry_needs_the_named_clinician,
            denials_are_refused_and_audited, stale_writes_conflict, lockout_after_failures,
            restricted_classes_are_hidden, matrix_changes_take_effect, audit_ids_are_gap_free_under_concurrency,
            search_treats_wildcards_literally, audit_query_filters_and_pages, disabled_accounts_lose_sessions,
            export_cursor_moves_forward_only,
            log_proves_every_record, review_report_counts_the_period, second_factor_steps_are_used_once,
            whole_record_export_is_console_only_and_audited,
            emergency_mode_refuses_changes_and_keeps_reads, location_register_keeps_every_revision,
            webauthn_counters_move_forward_by_events,
            governance_keeps_profile_and_regulation_revisions,
            scanned_paper_rules_deadlines_and_originals,
            ledgers_keep_revisions_events_and_approvals);
    };
    (@each $make:path; $($story:ident),+) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $story() {
                // `$make` answers None when its peer is absent (it says so loudly itself).
                if let Some(backend) = $make().await {
                    $crate::story::$story($crate::Store::start(backend)).await;
                }
            }
        )+
    };
}

fn name(s: &str) -> Username {
    Username::parse(s).expect("valid username")
}

fn user(username: &str, role: Role) -> UserRecord {
    let now = Timestamp::now();
    UserRecord {
        username: name(username),
        display_name: format!("{username} さん"),
        role,
        kind: kiroku_core::identity::AccountKind::Staff,
        password_hash: format!("hash-of-{username}"),
        must_change_password: false,
        disabled: false,
        failed_logins: 0,
        locked_until: None,
        created_at: now,
        last_login_at: None,
        password_changed_at: now,
    }
}

fn actor(username: &str, role: Role) -> Actor {
    Actor { username: name(username), role, session: Some(format!("s-{username}")), client_addr: Some("127.0.0.1".into()), scope: None }
}

/// A store with an administrator and one account per clinical role, and one patient.
pub struct World {
    pub store: Store,
    pub admin: Actor,
    pub doctor: Actor,
    pub doctor2: Actor,
    pub nurse: Actor,
    pub clerk: Actor,
    pub auditor: Actor,
    pub patient: PatientId,
}

impl World {
    pub async fn new(store: Store) -> World {
        store.execute(Command::Bootstrap { admin: user("admin", Role::Admin) }).await.expect("bootstrap");
        let admin = actor("admin", Role::Admin);
        for (n, r) in [
            ("dr.sato", Role::Doctor),
            ("dr.suzuki", Role::Doctor),
            ("ns.tanaka", Role::Nurse),
            ("clerk.ito", Role::Clerk),
            ("audit.kato", Role::Auditor),
        ] {
            store.execute(Command::CreateUser { actor: admin.clone(), user: user(n, r) }).await.expect("create user");
        }
        let clerk = actor("clerk.ito", Role::Clerk);
        let patient = PatientId::parse("P0001").expect("id");
        let new = NewPatient {
            patient_id: patient.clone(),
            name: "山田 太郎".into(),
            name_kana: "ヤマダ タロウ".into(),
            birth_date: "1970-04-01".into(),
            sex: Sex::Male,
        };
        store.execute(Command::CreatePatient { actor: clerk.clone(), patient: new }).await.expect("create patient");
        World {
            store,
            admin,
            doctor: actor("dr.sato", Role::Doctor),
            doctor2: actor("dr.suzuki", Role::Doctor),
            nurse: actor("ns.tanaka", Role::Nurse),
            clerk,
            auditor: actor("audit.kato", Role::Auditor),
            patient,
        }
    }

    pub async fn create(&self, by: &Actor, class: InfoClass, on_behalf_of: Option<&Actor>) -> Result<DocumentView, StoreError> {
        let document = NewDocument {
            doc_type: "progress_note".into(),
            title: "経過記録".into(),
            body: json!({"text": "咳嗽あり。経過観察。"}),
            info_class: class,
            on_behalf_of: on_behalf_of.map(|a| a.username.clone()),
        };
        self.store
            .execute(Command::CreateDocument { actor: by.clone(), patient_id: self.patient.clone(), document })
            .await?
            .into_document()
            .map(|b| *b)
    }

    pub async fn audit(&self, filter: AuditFilter) -> Vec<kiroku_core::AuditEvent> {
        self.store
            .execute(Command::QueryAudit { actor: self.auditor.clone(), filter, limit: 1000, export: false })
            .await
            .expect("audit")
            .into_audit()
            .expect("events")
    }
}

pub async fn bootstrap_once(store: Store) {
    assert!(!store.is_initialised().await.expect("read"));
    let w = World::new(store).await;
    assert!(w.store.is_initialised().await.expect("read"));
    let again = w.store.execute(Command::Bootstrap { admin: user("admin2", Role::Admin) }).await;
    assert!(matches!(again, Err(StoreError::Conflict(_))), "{again:?}");
    let backend = w.store.backend();
    assert_eq!(backend.schema_version().await.expect("schema"), backend.latest_schema(), "every migration applied");
}

pub async fn document_lifecycle_keeps_every_version(store: Store) {
    let w = World::new(store).await;
    let draft = w.create(&w.doctor, InfoClass::Normal, None).await.expect("create");
    assert_eq!((draft.status, draft.version), (DocumentStatus::Draft, 1));
    assert_eq!(draft.author, w.doctor.username);
    assert_eq!(draft.confirmer, None);

    let id = draft.id.clone();
    let confirmed = w
        .store
        .execute(Command::Confirm { actor: w.doctor.clone(), id: id.clone(), if_match: Some(1) })
        .await
        .expect("confirm")
        .into_document()
        .expect("doc");
    assert_eq!(confirmed.status, DocumentStatus::Confirmed);
    assert_eq!(confirmed.confirmer, Some(w.doctor.username.clone()));
    assert!(confirmed.confirmed_at.is_some());

    let again = w.store.execute(Command::Confirm { actor: w.doctor.clone(), id: id.clone(), if_match: None }).await;
    assert!(matches!(again, Err(StoreError::Lifecycle(LifecycleError::WrongStatus("confirmed")))), "{again:?}");
    let edit = w
        .store
        .execute(Command::UpdateDraft { actor: w.doctor.clone(), id: id.clone(), if_match: None, title: None, body: json!("x") })
        .await;
    assert!(matches!(edit, Err(StoreError::Invalid(_))), "confirmed documents are not edited in place: {edit:?}");
    let no_reason = w
        .store
        .execute(Command::Amend {
            actor: w.doctor.clone(),
            id: id.clone(),
            if_match: Some(1),
            title: None,
            body: json!("x"),
            reason: " ".into(),
        })
        .await;
    assert!(matches!(no_reason, Err(StoreError::Invalid(_))), "{no_reason:?}");

    let amended = w
        .store
        .execute(Command::Amend {
            actor: w.doctor2.clone(),
            id: id.clone(),
            if_match: Some(1),
            title: None,
            body: json!({"text": "咳嗽消失。"}),
            reason: "追記".into(),
        })
        .await
        .expect("amend")
        .into_document()
        .expect("doc");
    assert_eq!((amended.version, amended.status), (2, DocumentStatus::Confirmed));
    assert_eq!(amended.confirmer, Some(w.doctor2.username.clone()));
    assert_eq!(amended.reason.as_deref(), Some("追記"));

    let v1 = w
        .store
        .execute(Command::ReadDocument { actor: w.nurse.clone(), id: id.clone(), version: Some(1) })
        .await
        .expect("read v1")
        .into_document()
        .expect("doc");
    assert_eq!(v1.body, json!({"text": "咳嗽あり。経過観察。"}));
    assert_eq!(v1.content_hash, draft.content_hash, "version 1 is unchanged byte for byte");
    assert_eq!(v1.confirmer, Some(w.doctor.username.clone()));
    assert_eq!(v1.current_version, 2);

    let deleted = w
        .store
        .execute(Command::Delete { actor: w.doctor.clone(), id: id.clone(), if_match: Some(2), reason: "別患者の記録".into() })
        .await
        .expect("delete")
        .into_document()
        .expect("doc");
    assert_eq!((deleted.status, deleted.version), (DocumentStatus::Deleted, 3));
    let versions = w
        .store
        .execute(Command::ListVersions { actor: w.doctor.clone(), id: id.clone() })
        .await
        .expect("versions")
        .into_versions()
        .expect("list");
    assert_eq!(versions.iter().map(|v| v.version).collect::<Vec<_>>(), vec![1, 2, 3]);
    assert_eq!(versions[2].reason.as_deref(), Some("別患者の記録"));
    let after = w
        .store
        .execute(Command::Amend {
            actor: w.doctor.clone(),
            id: id.clone(),
            if_match: None,
            title: None,
            body: json!("x"),
            reason: "r".into(),
        })
        .await;
    assert!(matches!(after, Err(StoreError::Lifecycle(_))), "deleted documents stay deleted: {after:?}");

    let trail = w.audit(AuditFilter { document_id: Some(id.to_string()), ..Default::default() }).await;
    let actions: Vec<_> = trail.iter().rev().filter(|e| e.outcome == Outcome::Success).map(|e| e.action).collect();
    use AuditAction as A;
    assert_eq!(actions, vec![A::DocumentCreate, A::DocumentConfirm, A::DocumentAmend, A::VersionRead, A::DocumentDelete, A::VersionList]);
    let read = trail.iter().find(|e| e.action == A::VersionRead).expect("read event");
    assert_eq!((read.user.as_deref(), read.version, read.patient_id.as_deref()), (Some("ns.tanaka"), Some(1), Some("P0001")));
    assert_clean(&w.store).await;
}

/// The whole store verifies: every version, attestation and audit id matches.
pub async fn assert_clean(store: &Store) {
    let report =
        crate::verify::verify(store.backend().as_ref(), &|_| crate::verify::BlobState::Intact, None, &|_, _| {}).await.expect("verify");
    assert!(report.is_clean(), "{:?}", report.findings);
}

pub async fn proxy_entry_needs_the_named_clinician(store: Store) {
    let w = World::new(store).await;
    let direct = w.create(&w.clerk, InfoClass::Normal, None).await;
    assert!(matches!(direct, Err(StoreError::Denied(Denied::Permission { .. }))), "clerks only enter by proxy: {direct:?}");
    let to_nurse = w.create(&w.clerk, InfoClass::Normal, Some(&w.nurse)).await;
    assert!(matches!(to_nurse, Err(StoreError::Invalid(_))), "a proxy entry names someone who may approve: {to_nurse:?}");

    let entry = w.create(&w.clerk, InfoClass::Normal, Some(&w.doctor)).await.expect("proxy entry");
    assert_eq!(entry.status, DocumentStatus::PendingApproval);
    assert_eq!(entry.on_behalf_of, Some(w.doctor.username.clone()));
    let id = entry.id.clone();

    let queue = w.store.execute(Command::ApprovalQueue { actor: w.doctor.clone() }).await.expect("queue").into_documents().expect("list");
    assert_eq!(queue.iter().map(|h| h.id.clone()).collect::<Vec<_>>(), vec![id.clone()]);
    let other_queue =
        w.store.execute(Command::ApprovalQueue { actor: w.doctor2.clone() }).await.expect("queue").into_documents().expect("list");
    assert!(other_queue.is_empty());

    let by_other = w.store.execute(Command::Approve { actor: w.doctor2.clone(), id: id.clone(), if_match: None }).await;
    assert!(matches!(by_other, Err(StoreError::Lifecycle(LifecycleError::NotNamedClinician))), "{by_other:?}");
    let confirm = w.store.execute(Command::Confirm { actor: w.doctor.clone(), id: id.clone(), if_match: None }).await;
    assert!(confirm.is_err(), "a pending entry is approved, not confirmed");
    let amend = w
        .store
        .execute(Command::Amend {
            actor: w.doctor.clone(),
            id: id.clone(),
            if_match: None,
            title: None,
            body: json!("x"),
            reason: "r".into(),
        })
        .await;
    assert!(amend.is_err(), "pending entries cannot be amended");

    let approved = w
        .store
        .execute(Command::Approve { actor: w.doctor.clone(), id: id.clone(), if_match: Some(1) })
        .await
        .expect("approve")
        .into_document()
        .expect("doc");
    assert_eq!(approved.status, DocumentStatus::Confirmed);
    assert_eq!(approved.author, w.clerk.username, "入力者 stays the clerk");
    assert_eq!(approved.approved_by, Some(w.doctor.username.clone()));
    assert_eq!(approved.confirmer, Some(w.doctor.username.clone()));

    let trail = w.audit(AuditFilter { document_id: Some(id.to_string()), ..Default::default() }).await;
    let denied =
        trail.iter().find(|e| e.action == AuditAction::DocumentApprove && e.outcome == Outcome::Denied).expect("denied approval audited");
    assert_eq!(denied.user.as_deref(), Some("dr.suzuki"));
    assert!(
        trail
            .iter()
            .any(|e| e.action == AuditAction::DocumentApprove && e.outcome == Outcome::Success && e.user.as_deref() == Some("dr.sato"))
    );
    assert_clean(&w.store).await;
}

pub async fn denials_are_refused_and_audited(store: Store) {
    let w = World::new(store).await;
    let doc = w.create(&w.doctor, InfoClass::Normal, None).await.expect("create");
    for a in [&w.admin, &w.auditor] {
        let r = w.store.execute(Command::ReadDocument { actor: a.clone(), id: doc.id.clone(), version: None }).await;
        assert!(matches!(r, Err(StoreError::Denied(_))), "{} must not read clinical content: {r:?}", a.username);
    }
    let r = w.store.execute(Command::ListUsers { actor: w.doctor.clone() }).await;
    assert!(matches!(r, Err(StoreError::Denied(_))));
    let r = w.store.execute(Command::QueryAudit { actor: w.admin.clone(), filter: AuditFilter::default(), limit: 10, export: false }).await;
    assert!(matches!(r, Err(StoreError::Denied(_))), "the administrator does not read the audit trail");
    let denied = w.audit(AuditFilter { outcome: Some(Outcome::Denied), ..Default::default() }).await;
    let who: Vec<_> = denied.iter().rev().map(|e| (e.user.clone().unwrap_or_default(), e.action)).collect();
    assert_eq!(
        who,
        vec![
            ("admin".to_string(), AuditAction::DocumentRead),
            ("audit.kato".to_string(), AuditAction::DocumentRead),
            ("dr.sato".to_string(), AuditAction::UserList),
            ("admin".to_string(), AuditAction::AuditQuery),
        ]
    );
}

pub async fn stale_writes_conflict(store: Store) {
    let w = World::new(store).await;
    let doc = w.create(&w.doctor, InfoClass::Normal, None).await.expect("create");
    w.store
        .execute(Command::UpdateDraft { actor: w.doctor.clone(), id: doc.id.clone(), if_match: Some(1), title: None, body: json!("v2") })
        .await
        .expect("edit");
    let stale = w
        .store
        .execute(Command::UpdateDraft {
            actor: w.doctor.clone(),
            id: doc.id.clone(),
            if_match: Some(1),
            title: None,
            body: json!("lost update"),
        })
        .await;
    assert!(matches!(stale, Err(StoreError::Stale { current: 2 })), "{stale:?}");
    let current = w
        .store
        .execute(Command::ReadDocument { actor: w.doctor.clone(), id: doc.id.clone(), version: None })
        .await
        .expect("read")
        .into_document()
        .expect("doc");
    assert_eq!(current.body, json!("v2"));
    let not_author = w
        .store
        .execute(Command::UpdateDraft { actor: w.doctor2.clone(), id: doc.id.clone(), if_match: None, title: None, body: json!("x") })
        .await;
    assert!(matches!(not_author, Err(StoreError::Lifecycle(LifecycleError::NotAuthor))));
}

pub async fn lockout_after_failures(store: Store) {
    let w = World::new(store).await;
    let policy = LockoutPolicy { max_failures: 5, lock_seconds: 900 };
    for i in 1..=5 {
        let r = w.store.execute(Command::LoginFailed { username: "dr.sato".into(), client_addr: None, policy }).await.expect("record");
        assert!(matches!(r, crate::Reply::LoginFailed { locked } if locked == (i == 5)), "attempt {i}");
    }
    let u = w.store.user("dr.sato").await.expect("read").expect("user");
    assert!(u.is_locked(Timestamp::now()));
    w.store
        .execute(Command::LoginFailed { username: "nobody\u{0}".into(), client_addr: None, policy })
        .await
        .expect("unknown user recorded");
    w.store.execute(Command::UnlockUser { actor: w.admin.clone(), username: name("dr.sato") }).await.expect("unlock");
    let u = w.store.user("dr.sato").await.expect("read").expect("user");
    assert!(!u.is_locked(Timestamp::now()));
    assert_eq!(u.failed_logins, 0);
    let trail = w.audit(AuditFilter::default()).await;
    assert_eq!(trail.iter().filter(|e| e.action == AuditAction::LoginFailed).count(), 6);
    assert_eq!(trail.iter().filter(|e| e.action == AuditAction::Lockout).count(), 1);
    assert!(trail.iter().any(|e| e.user.as_deref() == Some("nobody") && e.detail.as_deref() == Some("unknown_user")));
}

pub async fn restricted_classes_are_hidden(store: Store) {
    let w = World::new(store).await;
    let psych = w.create(&w.doctor, InfoClass::Psychiatry, None).await.expect("create");
    w.create(&w.doctor, InfoClass::Normal, None).await.expect("create");
    let r = w.store.execute(Command::ReadDocument { actor: w.nurse.clone(), id: psych.id.clone(), version: None }).await;
    assert!(matches!(r, Err(StoreError::Denied(Denied::Class { class: InfoClass::Psychiatry, .. }))), "{r:?}");
    let listed = w
        .store
        .execute(Command::ListDocuments { actor: w.nurse.clone(), patient_id: w.patient.clone() })
        .await
        .expect("list")
        .into_documents()
        .expect("docs");
    assert_eq!(listed.len(), 1);
    let listed = w
        .store
        .execute(Command::ListDocuments { actor: w.doctor.clone(), patient_id: w.patient.clone() })
        .await
        .expect("list")
        .into_documents()
        .expect("docs");
    assert_eq!(listed.len(), 2);
    let r = w.create(&w.nurse, InfoClass::Genetic, None).await;
    assert!(matches!(r, Err(StoreError::Denied(_))), "writing a class needs seeing it");
}

pub async fn matrix_changes_take_effect(store: Store) {
    let w = World::new(store).await;
    let doc = w.create(&w.doctor, InfoClass::Psychiatry, None).await.expect("create");
    let grant = Grant::Class(InfoClass::Psychiatry);
    let r = w.store.execute(Command::SetGrant { actor: w.doctor.clone(), role: Role::Nurse, grant, allowed: true }).await;
    assert!(matches!(r, Err(StoreError::Denied(_))), "only administrators change the matrix");
    let m = w
        .store
        .execute(Command::SetGrant { actor: w.admin.clone(), role: Role::Nurse, grant, allowed: true })
        .await
        .expect("grant")
        .into_matrix()
        .expect("matrix");
    assert!(m.has(Role::Nurse, grant));
    w.store.execute(Command::ReadDocument { actor: w.nurse.clone(), id: doc.id.clone(), version: None }).await.expect("nurse may now read");
    w.store.execute(Command::SetGrant { actor: w.admin.clone(), role: Role::Nurse, grant, allowed: false }).await.expect("revoke");
    let r = w.store.execute(Command::ReadDocument { actor: w.nurse.clone(), id: doc.id.clone(), version: None }).await;
    assert!(r.is_err(), "revocation takes effect at once");
    let lockout = w
        .store
        .execute(Command::SetGrant {
            actor: w.admin.clone(),
            role: Role::Admin,
            grant: Grant::Permission(Permission::RoleManage),
            allowed: false,
        })
        .await;
    assert!(matches!(lockout, Err(StoreError::Conflict(_))));
    let changes =
        w.audit(AuditFilter { action: Some(AuditAction::RoleChange), outcome: Some(Outcome::Success), ..Default::default() }).await;
    assert_eq!(changes.len(), 2);
    assert!(changes[1].detail.as_deref().is_some_and(|d| d.contains("nurse class:psychiatry=true")));
}

pub async fn audit_ids_are_gap_free_under_concurrency(store: Store) {
    let w = Arc::new(World::new(store).await);
    let mut tasks = Vec::new();
    for i in 0..200 {
        let w = w.clone();
        tasks.push(tokio::spawn(async move {
            // Mix successes and refusals: refused commands roll back and must leave no gap.
            let by = if i % 4 == 0 { w.nurse.clone() } else { w.doctor.clone() };
            let class = if i % 4 == 0 { InfoClass::Genetic } else { InfoClass::Normal };
            w.create(&by, class, None).await.is_ok()
        }));
    }
    let mut ok = 0;
    for t in tasks {
        ok += usize::from(t.await.expect("task"));
    }
    assert_eq!(ok, 150);
    let mut tx = w.store.backend().begin_read().await.expect("tx");
    let events = tx.scan_audit(0, 100_000).await.expect("scan");
    for (i, e) in events.iter().enumerate() {
        assert_eq!(e.id, i as i64 + 1, "audit ids have no gaps");
    }
    let mut seqs: Vec<_> = events.iter().map(|e| e.seq).collect();
    seqs.dedup();
    assert!(seqs.windows(2).all(|p| p[0] < p[1]), "write numbers only grow");
    let report =
        crate::verify::verify(w.store.backend().as_ref(), &|_| crate::verify::BlobState::Intact, None, &|_, _| {}).await.expect("verify");
    assert!(report.is_clean(), "{:?}", report.findings);
    assert_eq!(report.versions, 150);
}

pub async fn search_treats_wildcards_literally(store: Store) {
    let w = World::new(store).await;
    let hit = |q: &str| {
        let w = &w;
        let q = q.to_string();
        async move {
            w.store
                .execute(Command::SearchPatients { actor: w.nurse.clone(), query: q })
                .await
                .expect("search")
                .into_patients()
                .expect("list")
                .len()
        }
    };
    assert_eq!(hit("ヤマダ").await, 1);
    assert_eq!(hit("P0001").await, 1);
    assert_eq!(hit("%").await, 0);
    assert_eq!(hit("_").await, 0);
    assert_eq!(hit("' OR 1=1 --").await, 0);
    let long = w.store.execute(Command::SearchPatients { actor: w.nurse.clone(), query: "あ".repeat(101) }).await;
    assert!(matches!(long, Err(StoreError::Invalid(_))));
    let trail = w.audit(AuditFilter { action: Some(AuditAction::PatientSearch), ..Default::default() }).await;
    assert_eq!(trail.len(), 6, "every search is audited, refused ones too");
}

pub async fn audit_query_filters_and_pages(store: Store) {
    let w = World::new(store).await;
    let doc = w.create(&w.doctor, InfoClass::Normal, None).await.expect("create");
    for _ in 0..5 {
        w.store.execute(Command::ReadDocument { actor: w.nurse.clone(), id: doc.id.clone(), version: None }).await.expect("read");
    }
    let f = AuditFilter { user: Some("ns.tanaka".into()), action: Some(AuditAction::DocumentRead), ..Default::default() };
    let page1 = w
        .store
        .execute(Command::QueryAudit { actor: w.auditor.clone(), filter: f.clone(), limit: 3, export: false })
        .await
        .expect("q")
        .into_audit()
        .expect("e");
    assert_eq!(page1.len(), 3);
    let before = page1.last().map(|e| e.id);
    let page2 = w
        .store
        .execute(Command::QueryAudit { actor: w.auditor.clone(), filter: AuditFilter { before, ..f.clone() }, limit: 3, export: false })
        .await
        .expect("q")
        .into_audit()
        .expect("e");
    assert_eq!(page2.len(), 2);
    assert!(page2.iter().all(|e| e.id < before.unwrap_or(0) && e.patient_id.as_deref() == Some("P0001")));
    let future = AuditFilter { from: Some(Timestamp::now().plus_seconds(3600)), ..Default::default() };
    assert!(w.audit(future).await.is_empty());
    let by_patient = w.audit(AuditFilter { patient_id: Some("P0001".into()), ..Default::default() }).await;
    assert!(by_patient.len() >= 7, "create patient, create document, five reads");
}

pub async fn disabled_accounts_lose_sessions(store: Store) {
    let w = World::new(store).await;
    let now = Timestamp::now();
    let session = SessionRecord {
        id: "sess1".into(),
        token_hash: "th1".into(),
        username: name("ns.tanaka"),
        created_at: now,
        last_seen_at: now,
        expires_at: now.plus_seconds(3600),
        revoked_at: None,
        client_addr: None,
        stage: kiroku_core::identity::SessionStage::Full,
        second_factor: None,
        client_cert: None,
    };
    w.store.execute(Command::LoginSucceeded { session, end_other_sessions: false, break_glass: None }).await.expect("login");
    assert_eq!(w.store.language("ns.tanaka").await.expect("read"), None);
    w.store.execute(Command::SetLanguage { actor: w.nurse.clone(), language: "en".into() }).await.expect("language");
    w.store.execute(Command::SetLanguage { actor: w.nurse.clone(), language: "ja".into() }).await.expect("language again");
    assert_eq!(w.store.language("ns.tanaka").await.expect("read").as_deref(), Some("ja"));
    assert!(w.store.execute(Command::SetLanguage { actor: w.nurse.clone(), language: "fr".into() }).await.is_err());
    assert!(w.store.session("th1").await.expect("read").is_some_and(|s| s.session.revoked_at.is_none()));
    let r = w
        .store
        .execute(Command::UpdateUser {
            actor: w.admin.clone(),
            username: name("admin"),
            display_name: None,
            role: None,
            disabled: Some(true),
        })
        .await;
    assert!(matches!(r, Err(StoreError::Conflict(_))), "no one disables themselves");
    w.store
        .execute(Command::UpdateUser {
            actor: w.admin.clone(),
            username: name("ns.tanaka"),
            display_name: None,
            role: None,
            disabled: Some(true),
        })
        .await
        .expect("disable");
    let s = w.store.session("th1").await.expect("read").expect("session");
    assert!(s.session.revoked_at.is_some() && s.user.disabled);
}

pub async fn export_cursor_moves_forward_only(store: Store) {
    let w = World::new(store).await;
    assert_eq!(w.store.export_cursor("syslog").await.expect("cursor"), 0);
    let newest = w.store.last_audit_id().await.expect("newest");
    assert!(newest > 0);
    let events = w.store.audit_after(0, 1_000).await.expect("scan");
    assert_eq!(events.last().map(|e| e.id), Some(newest));
    assert!(events.windows(2).all(|p| p[1].id == p[0].id + 1), "oldest first, no gaps");
    let advance = |last_id| Command::AdvanceExportCursor { name: "syslog".into(), last_id };
    w.store.execute(advance(newest - 1)).await.expect("advance");
    assert_eq!(w.store.export_cursor("syslog").await.expect("cursor"), newest - 1);
    assert!(matches!(w.store.execute(advance(newest - 2)).await, Err(StoreError::Conflict(_))), "never backwards");
    assert!(matches!(w.store.execute(advance(newest + 100)).await, Err(StoreError::Conflict(_))), "never past the trail");
    assert_eq!(w.store.last_audit_id().await.expect("newest"), newest, "cursor moves are not audited");
    w.store.execute(advance(newest)).await.expect("advance to the end");
    assert_eq!(w.store.export_cursor("syslog").await.expect("cursor"), newest);
    assert_eq!(w.store.export_cursor("other").await.expect("cursor"), 0, "each export has its own cursor");
}

pub async fn log_proves_every_record(store: Store) {
    use kiroku_log::{Checkpoint, LogKey, verify_consistency, verify_inclusion};
    let w = World::new(store).await;
    let key = LogKey::from_seed("kiroku.test/log", [3u8; 32]);
    let sign = |size: u64, root| CheckpointRow {
        size: size as i64,
        root: hex::encode(root),
        time: Timestamp::now(),
        note: key.sign(&Checkpoint { origin: "kiroku.test/log".into(), size, root, extensions: Vec::new() }),
    };
    let doc = w.create(&w.doctor, InfoClass::Normal, None).await.expect("create");
    let (size1, root1) = w.store.tree_head().await.expect("head");
    let early = w.store.execute(Command::ReadVersionProof { actor: w.doctor.clone(), id: doc.id.clone(), version: 1 }).await;
    assert!(matches!(early, Err(StoreError::Conflict(_))), "no checkpoint yet: {early:?}");
    w.store.execute(Command::StoreCheckpoint { checkpoint: sign(size1, root1) }).await.expect("checkpoint");
    let forged = CheckpointRow { root: hex::encode([0u8; 32]), ..sign(size1 - 1, root1) };
    assert!(w.store.execute(Command::StoreCheckpoint { checkpoint: forged }).await.is_err(), "a root that is not the log's is refused");

    w.store.execute(Command::Confirm { actor: w.doctor.clone(), id: doc.id.clone(), if_match: None }).await.expect("confirm");
    let (size2, root2) = w.store.tree_head().await.expect("head");
    assert!(size2 > size1);
    w.store.execute(Command::StoreCheckpoint { checkpoint: sign(size2, root2) }).await.expect("checkpoint");

    let proof = w
        .store
        .execute(Command::ReadVersionProof { actor: w.nurse.clone(), id: doc.id.clone(), version: 1 })
        .await
        .expect("proof")
        .into_version_proof()
        .expect("proof");
    let signed = key.verifier().verify(&proof.checkpoint).expect("signed checkpoint");
    assert_eq!((signed.size, signed.root), (size2, root2));
    let path: Vec<kiroku_log::Hash> = proof.inclusion.iter().map(|h| crate::ledger::parse_hash(h).expect("hex")).collect();
    let leaf = kiroku_log::leaf_hash(proof.leaf_data.as_bytes());
    assert_eq!(verify_inclusion(&leaf, proof.leaf_index as u64, size2, &path, &signed.root), Ok(()));
    assert!(proof.leaf_data.contains(&proof.document.content_hash), "the leaf records the content hash");
    let consistency = w.store.consistency_proof(size1, size2).await.expect("consistency");
    assert_eq!(verify_consistency(size1, size2, &root1, &root2, &consistency), Ok(()));
    let bad = w.store.inclusion_proof(0, 1 << 40).await;
    assert!(matches!(bad, Err(StoreError::Invalid(_))));

    let report =
        crate::verify::verify(w.store.backend().as_ref(), &|_| crate::verify::BlobState::Intact, Some(&key.verifier()), &|_, _| {})
            .await
            .expect("verify");
    assert!(report.is_clean(), "{:?}", report.findings);
    assert_eq!((report.checkpoints, report.leaves), (2, size2 + report.leaves - size2));
    let other = LogKey::from_seed("kiroku.test/log", [4u8; 32]).verifier();
    let report = crate::verify::verify(w.store.backend().as_ref(), &|_| crate::verify::BlobState::Intact, Some(&other), &|_, _| {})
        .await
        .expect("verify");
    assert_eq!(report.findings.len(), 2, "both checkpoints fail under a key that did not sign them: {:?}", report.findings);
}

pub async fn review_report_counts_the_period(store: Store) {
    use crate::review::BusinessHours;
    let from = Timestamp::now();
    let w = World::new(store).await;
    let psych = w.create(&w.doctor, InfoClass::Psychiatry, None).await.expect("create");
    w.store.execute(Command::ReadDocument { actor: w.doctor.clone(), id: psych.id.clone(), version: None }).await.expect("read");
    let refused = w.store.execute(Command::ReadDocument { actor: w.nurse.clone(), id: psych.id.clone(), version: None }).await;
    assert!(refused.is_err());
    let policy = LockoutPolicy { max_failures: 5, lock_seconds: 60 };
    w.store.execute(Command::LoginFailed { username: "dr.sato".into(), client_addr: None, policy }).await.expect("failure");
    let to = Timestamp::now().plus_seconds(0);
    // Every hour counts as after hours when the working day is empty.
    let hours = BusinessHours { start_hour: 0, end_hour: 0 };
    let review = |by: &Actor| Command::AuditReview { actor: by.clone(), from, to, hours };
    assert!(matches!(w.store.execute(review(&w.doctor)).await, Err(StoreError::Denied(_))));
    let report = w.store.execute(review(&w.auditor)).await.expect("report").into_review().expect("review");
    assert_eq!((report.restricted_access.count, report.failed_logins.count), (3, 1));
    assert_eq!(report.denied.count, 1, "the nurse's refused read; the doctor's refused review came after the period");
    assert!(report.after_hours.count >= 3);
    assert!(report.by_user.iter().any(|u| u.user == "dr.sato" && u.reads == 1 && u.writes == 1));
    let hash = crate::review::report_hash(&report);
    let again = w.store.execute(review(&w.auditor)).await.expect("report").into_review().expect("review");
    assert_eq!(crate::review::report_hash(&again), hash, "a past period's report is stable");
    let sign =
        |h: &str| Command::SignOffReview { actor: w.auditor.clone(), from, to, hours, report_hash: h.into(), comment: "確認".into() };
    assert!(matches!(w.store.execute(sign("00")).await, Err(StoreError::Conflict(_))));
    let signed = w.store.execute(sign(&hash)).await.expect("sign").into_audit().expect("event");
    assert_eq!(signed[0].content_hash.as_deref(), Some(hash.as_str()));
    assert_clean(&w.store).await;
}

fn session_of(id: &str, username: &str) -> SessionRecord {
    let now = Timestamp::now();
    SessionRecord {
        id: id.into(),
        token_hash: format!("th-{id}"),
        username: name(username),
        created_at: now,
        last_seen_at: now,
        expires_at: now.plus_seconds(3600),
        revoked_at: None,
        client_addr: Some("127.0.0.1".into()),
        stage: kiroku_core::identity::SessionStage::Full,
        second_factor: None,
        client_cert: None,
    }
}

/// Logs `username` in with session `id`; answers the stage it reached and the session's actor.
async fn login_stage(w: &World, id: &str, username: &str, role: Role) -> (kiroku_core::identity::SessionStage, Actor) {
    let reply = w
        .store
        .execute(Command::LoginSucceeded { session: session_of(id, username), end_other_sessions: false, break_glass: None })
        .await
        .expect("login");
    let Reply::LoggedIn(_, stage) = reply else { panic!("login answered {reply:?}") };
    (stage, Actor { session: Some(id.into()), ..actor(username, role) })
}

/// TOTP steps and recovery codes are accepted once, whatever the backend; a role that requires a
/// second factor puts a factorless login into enrolment.
pub async fn second_factor_steps_are_used_once(store: Store) {
    use kiroku_core::identity::{MfaMode, MfaPolicy, SessionStage};
    let w = World::new(store).await;
    let lockout = crate::command::LockoutPolicy { max_failures: 10, lock_seconds: 60 };
    let (stage, first) = login_stage(&w, "s1", "dr.sato", Role::Doctor).await;
    assert_eq!(stage, SessionStage::Full, "no factor, optional policy");
    let factor = SecondFactorRecord {
        id: "f1".into(),
        username: name("dr.sato"),
        kind: "totp".into(),
        secret: "JBSWY3DPEHPK3PXP".into(),
        label: "app".into(),
        created_at: Timestamp::now(),
        confirmed_at: None,
        last_step: 0,
        removed_at: None,
    };
    w.store.execute(Command::BeginTotp { actor: first.clone(), factor }).await.expect("begin");
    let confirm = |step| Command::ConfirmTotp {
        actor: first.clone(),
        factor_id: "f1".into(),
        step,
        recovery_hashes: vec!["r1".into(), "r2".into()],
        end_other_sessions: false,
    };
    w.store.execute(confirm(100)).await.expect("confirm");
    assert!(w.store.session("th-s1").await.expect("read").is_some_and(|s| s.has_second_factor));

    let verify =
        |actor: &Actor, proof| Command::SecondFactorVerified { actor: actor.clone(), proof, end_other_sessions: true, policy: lockout };
    let totp = |step| FactorProof::Totp { factor_id: "f1".into(), step };
    let (stage, second) = login_stage(&w, "s2", "dr.sato", Role::Doctor).await;
    assert_eq!(stage, SessionStage::SecondFactor);
    let replay = w.store.execute(verify(&second, totp(100))).await.expect("answered");
    assert!(matches!(replay, Reply::LoginFailed { locked: false }), "step 100 was used by the enrolment");
    let ok = w.store.execute(verify(&second, totp(101))).await.expect("answered");
    assert!(matches!(ok, Reply::LoggedIn(_, SessionStage::Full)));
    let s2 = w.store.session("th-s2").await.expect("read").expect("session");
    assert_eq!((s2.session.stage, s2.session.second_factor.as_deref()), (SessionStage::Full, Some("totp")));
    assert!(w.store.session("th-s1").await.expect("read").is_some_and(|s| s.session.revoked_at.is_some()), "single session ended s1");

    let (_, third) = login_stage(&w, "s3", "dr.sato", Role::Doctor).await;
    assert!(matches!(w.store.execute(verify(&third, totp(101))).await.expect("answered"), Reply::LoginFailed { .. }));
    let recovery = |code: &str| FactorProof::Recovery { code_hash: code.into() };
    assert!(matches!(w.store.execute(verify(&third, recovery("r1"))).await.expect("answered"), Reply::LoggedIn(..)));
    let (_, fourth) = login_stage(&w, "s4", "dr.sato", Role::Doctor).await;
    assert!(matches!(w.store.execute(verify(&fourth, recovery("r1"))).await.expect("answered"), Reply::LoginFailed { .. }), "used once");

    let required = MfaPolicy { mode: MfaMode::Required, required_from: None };
    assert!(w.store.execute(Command::SetMfaPolicy { actor: w.nurse.clone(), role: Role::Nurse, policy: required }).await.is_err());
    w.store.execute(Command::SetMfaPolicy { actor: w.admin.clone(), role: Role::Nurse, policy: required }).await.expect("policy");
    let (stage, _) = login_stage(&w, "s5", "ns.tanaka", Role::Nurse).await;
    assert_eq!(stage, SessionStage::Enrol);
    assert!(w.store.session("th-s5").await.expect("read").is_some_and(|s| s.mfa_policy.requires(Timestamp::now()) && !s.has_second_factor));

    let failures = w
        .audit(AuditFilter { user: Some("dr.sato".into()), action: Some(kiroku_core::AuditAction::LoginFailed), ..Default::default() })
        .await;
    assert_eq!(failures.len(), 3, "replayed step, replayed step on a new login, used recovery code");
    let sessions = w
        .store
        .execute(Command::ListSessions { actor: fourth.clone(), username: name("dr.sato") })
        .await
        .expect("list")
        .into_sessions()
        .expect("sessions");
    assert!(sessions.iter().all(|s| s.id != "s1"), "ended sessions are not listed");
    assert!(w.store.execute(Command::ListSessions { actor: w.nurse.clone(), username: name("dr.sato") }).await.is_err());
}

/// WebAuthn credentials: a use whose signature counter did not move forward is refused inside the
/// login's transaction; each use and the removal are new rows (events), never changes of the
/// credential's row; both are leaves of the log, so the store still verifies.
pub async fn webauthn_counters_move_forward_by_events(store: Store) {
    use kiroku_core::identity::SessionStage;
    let w = World::new(store).await;
    let lockout = crate::command::LockoutPolicy { max_failures: 10, lock_seconds: 60 };
    let (_, first) = login_stage(&w, "w1", "dr.sato", Role::Doctor).await;
    let credential = WebauthnCredential {
        id: "k1".into(),
        username: name("dr.sato"),
        label: "診察室のキー".into(),
        credential_id: "AAEC".into(),
        state: "{\"c\":0}".into(),
        counter: 0,
        created_at: Timestamp::now(),
        seq: 0,
    };
    let register = |actor: &Actor, credential: WebauthnCredential| Command::RegisterWebauthn {
        actor: actor.clone(),
        credential,
        end_other_sessions: false,
    };
    w.store.execute(register(&first, credential.clone())).await.expect("register");
    let again = w.store.execute(register(&first, WebauthnCredential { id: "k2".into(), ..credential.clone() })).await;
    assert!(again.is_err(), "the same authenticator credential twice");
    let someone_else =
        w.store.execute(register(&first, WebauthnCredential { id: "k3".into(), username: name("ns.tanaka"), ..credential })).await;
    assert!(someone_else.is_err(), "a key is registered for one's own account only");

    let verify =
        |actor: &Actor, proof| Command::SecondFactorVerified { actor: actor.clone(), proof, end_other_sessions: false, policy: lockout };
    let key = |counter: i64| FactorProof::Webauthn { credential: "k1".into(), counter, state: format!("{{\"c\":{counter}}}") };
    let (stage, second) = login_stage(&w, "w2", "dr.sato", Role::Doctor).await;
    assert_eq!(stage, SessionStage::SecondFactor, "a key is a second factor");
    assert!(matches!(w.store.execute(verify(&second, key(5))).await.expect("answered"), Reply::LoggedIn(_, SessionStage::Full)));
    let (_, third) = login_stage(&w, "w3", "dr.sato", Role::Doctor).await;
    for stale in [5, 4] {
        let r = w.store.execute(verify(&third, key(stale))).await.expect("answered");
        assert!(matches!(r, Reply::LoginFailed { .. }), "counter {stale} after 5 is refused");
    }
    assert!(matches!(w.store.execute(verify(&third, key(6))).await.expect("answered"), Reply::LoggedIn(..)));
    let keys = w.store.webauthn_keys("dr.sato").await.expect("keys");
    assert_eq!((keys.len(), keys[0].counter, keys[0].events, keys[0].state.as_str()), (1, 6, 2, "{\"c\":6}"));
    assert_eq!(keys[0].credential.counter, 0, "the registration row is as registered");

    w.store.execute(Command::RemoveSecondFactor { actor: third.clone(), factor_id: "k1".into() }).await.expect("remove");
    let keys = w.store.webauthn_keys("dr.sato").await.expect("keys");
    assert!(keys[0].removed_at.is_some() && keys[0].events == 3, "the removal is the third event");
    assert!(w.store.session("th-w3").await.expect("read").is_some_and(|s| !s.has_second_factor));
    let (stage, _) = login_stage(&w, "w4", "dr.sato", Role::Doctor).await;
    assert_eq!(stage, SessionStage::Full, "no factor left");
    let failures = w
        .audit(AuditFilter { user: Some("dr.sato".into()), action: Some(kiroku_core::AuditAction::LoginFailed), ..Default::default() })
        .await;
    assert_eq!(failures.len(), 2, "two stale counters");
    assert!(failures.iter().all(|e| e.detail.as_deref().is_some_and(|d| d.starts_with("second_factor:webauthn_counter"))));
    assert_clean(&w.store).await;
}

/// The offline export reads a patient's whole record (every class, version, attestation and file
/// record) in one command; only the console operator may, and each read leaves a `record_export`.
pub async fn whole_record_export_is_console_only_and_audited(store: Store) {
    let w = World::new(store).await;
    let doc = w.create(&w.doctor, InfoClass::Psychiatry, None).await.expect("create");
    w.store.execute(Command::Confirm { actor: w.doctor.clone(), id: doc.id.clone(), if_match: Some(1) }).await.expect("confirm");
    let amend = Command::Amend {
        actor: w.doctor2.clone(),
        id: doc.id.clone(),
        if_match: Some(1),
        title: None,
        body: json!({"text": "追記"}),
        reason: "所見の追加".into(),
    };
    w.store.execute(amend).await.expect("amend");
    let proxy = w.create(&w.clerk, InfoClass::Normal, Some(&w.doctor)).await.expect("proxy entry");
    let other = PatientId::parse("P0002").expect("id");
    let new = NewPatient {
        patient_id: other.clone(),
        name: "鈴木 花子".into(),
        name_kana: "スズキ ハナコ".into(),
        birth_date: "1985-01-02".into(),
        sex: Sex::Female,
    };
    w.store.execute(Command::CreatePatient { actor: w.clerk.clone(), patient: new }).await.expect("second patient");

    for refused in [&w.doctor, &w.admin, &w.auditor] {
        let r = w.store.execute(Command::ExportPatient { actor: refused.clone(), patient_id: w.patient.clone() }).await;
        assert!(matches!(r, Err(StoreError::Denied(Denied::ConsoleOnly))), "{}: {r:?}", refused.username);
    }
    // A session that does not come from the command line is not the console, whatever its name.
    let pretender = Actor { session: Some("web-session".into()), ..Actor::local_operator("root") };
    let r = w.store.execute(Command::ExportPatientIds { actor: pretender, after: None, limit: 10 }).await;
    assert!(matches!(r, Err(StoreError::Denied(Denied::ConsoleOnly))), "{r:?}");

    let console = Actor::local_operator("root");
    let page = |after: Option<PatientId>| Command::ExportPatientIds { actor: console.clone(), after, limit: 1 };
    let first = w.store.execute(page(None)).await.expect("page 1").into_patient_ids().expect("ids");
    let second = w.store.execute(page(first.last().cloned())).await.expect("page 2").into_patient_ids().expect("ids");
    let third = w.store.execute(page(second.last().cloned())).await.expect("page 3").into_patient_ids().expect("ids");
    assert_eq!((first, second, third), (vec![w.patient.clone()], vec![other.clone()], vec![]));

    let record = w
        .store
        .execute(Command::ExportPatient { actor: console.clone(), patient_id: w.patient.clone() })
        .await
        .expect("export")
        .into_patient_record()
        .expect("record");
    assert_eq!(record.patient.name, "山田 太郎");
    assert_eq!(record.documents.len(), 2, "every class, every state");
    let amended = &record.documents[0];
    assert_eq!(amended.head.id, doc.id);
    assert_eq!(amended.versions.iter().map(|v| v.version).collect::<Vec<_>>(), vec![1, 2]);
    assert_eq!(amended.versions[1].reason.as_deref(), Some("所見の追加"));
    assert_eq!(
        amended.attestations.iter().map(|a| (a.version, a.username.as_str())).collect::<Vec<_>>(),
        vec![(1, "dr.sato"), (2, "dr.suzuki")]
    );
    assert_eq!(record.documents[1].head.id, proxy.id);
    assert_eq!(record.documents[1].head.status, DocumentStatus::PendingApproval);
    assert!(record.tree_size > 0);
    let missing = w.store.execute(Command::ExportPatient { actor: console, patient_id: PatientId::parse("NOPE").expect("id") }).await;
    assert!(matches!(missing, Err(StoreError::NotFound("patient"))), "{missing:?}");

    let trail = w.audit(AuditFilter { action: Some(AuditAction::RecordExport), ..Default::default() }).await;
    let outcomes: Vec<_> = trail.iter().rev().map(|e| (e.outcome, e.patient_id.as_deref(), e.user.as_deref())).collect();
    assert_eq!(outcomes.iter().filter(|o| o.0 == Outcome::Denied).count(), 4, "{outcomes:?}");
    let exported = trail.iter().find(|e| e.outcome == Outcome::Success && e.patient_id.as_deref() == Some("P0001")).expect("export event");
    assert_eq!(exported.user.as_deref(), Some(crate::command::LOCAL_OPERATOR));
    assert_eq!(exported.session.as_deref(), Some("cli:root"));
    assert_eq!(exported.detail.as_deref(), Some("documents=2 versions=3 attachments=0"));
    assert_clean(&w.store).await;
}

/// Emergency read-only mode: changes are refused in the writer (also those of a second writer on the
/// same database, as a second `kiroku serve` would be), reads still work and are still audited,
/// entering and leaving are audited with their reasons, and leaving restores changes.
pub async fn emergency_mode_refuses_changes_and_keeps_reads(store: Store) {
    let w = World::new(store).await;
    let doc = w.create(&w.doctor, InfoClass::Normal, None).await.expect("create");
    let refused = w.store.execute(Command::EnterEmergency { by: Some(w.doctor.clone()), reason: "x".into() }).await;
    assert!(matches!(refused, Err(StoreError::Denied(_))), "only ops.manage switches: {refused:?}");
    let no_reason = w.store.execute(Command::EnterEmergency { by: Some(w.admin.clone()), reason: " ".into() }).await;
    assert!(matches!(no_reason, Err(StoreError::Invalid(_))), "{no_reason:?}");
    let entered = w.store.execute(Command::EnterEmergency { by: Some(w.admin.clone()), reason: "停電訓練".into() }).await.expect("enter");
    assert!(matches!(entered, Reply::Emergency(Some(_))));
    assert_eq!(w.store.emergency().current().map(|m| m.reason), Some("停電訓練".to_string()), "the writer publishes the mode");

    let second = Store::start(w.store.backend().clone());
    for store in [&w.store, &second] {
        let change = store.execute(Command::Confirm { actor: w.doctor.clone(), id: doc.id.clone(), if_match: None }).await;
        assert!(matches!(change, Err(StoreError::ReadOnly(_))), "{change:?}");
        let read = store.execute(Command::ReadDocument { actor: w.doctor.clone(), id: doc.id.clone(), version: None }).await;
        assert!(read.is_ok(), "reads stay: {read:?}");
    }
    assert!(second.emergency().current().is_some(), "the second writer learnt the mode from the database");
    let reads = w.audit(AuditFilter { action: Some(AuditAction::DocumentRead), ..AuditFilter::default() }).await;
    assert_eq!(reads.len(), 2, "both reads were audited");
    let again = w.store.execute(Command::EnterEmergency { by: None, reason: "disk".into() }).await;
    assert!(matches!(again, Err(StoreError::Conflict(_))), "{again:?}");

    w.store.execute(Command::LeaveEmergency { actor: w.admin.clone(), reason: "復旧確認済み".into() }).await.expect("leave");
    assert!(w.store.emergency().current().is_none());
    second.execute(Command::Confirm { actor: w.doctor.clone(), id: doc.id.clone(), if_match: None }).await.expect("changes are back");
    let enter = w.audit(AuditFilter { action: Some(AuditAction::EmergencyModeEnter), ..AuditFilter::default() }).await;
    let leave = w.audit(AuditFilter { action: Some(AuditAction::EmergencyModeLeave), ..AuditFilter::default() }).await;
    let successes = |events: &[kiroku_core::AuditEvent]| events.iter().filter(|e| e.outcome == Outcome::Success).count();
    assert_eq!((successes(&enter), successes(&leave)), (1, 1));
    let left = leave.iter().find(|e| e.outcome == Outcome::Success).expect("leave event");
    assert_eq!(left.user.as_deref(), Some("admin"));
    assert!(left.detail.as_deref().is_some_and(|d| d.contains("復旧確認済み") && d.contains("entered_by=admin")), "{left:?}");
    assert_clean(&w.store).await;
}

/// The location register's entries are revisions: a change adds one, removing adds a retired one,
/// nothing is updated in place, and each change is audited with the revision's hash.
pub async fn location_register_keeps_every_revision(store: Store) {
    use crate::operations::{LocationFields, LocationKind};
    let w = World::new(store).await;
    let fields = LocationFields {
        kind: LocationKind::PaperArchive,
        name: "紙カルテ書庫".into(),
        place: "本館地下1階 書庫B".into(),
        capacity: "棚 40 段".into(),
        retention: "5年".into(),
        backup: "なし（原本）".into(),
        response_time: "30分以内".into(),
        risks: "浸水".into(),
    };
    let save = |id: Option<String>, fields: LocationFields, retired: bool, actor: Actor| {
        w.store.execute(Command::SaveLocation { actor, id, fields, retired })
    };
    let denied = save(None, fields.clone(), false, w.auditor.clone()).await;
    assert!(matches!(denied, Err(StoreError::Denied(_))), "auditors read, administrators edit: {denied:?}");
    let first = save(None, fields.clone(), false, w.admin.clone()).await.expect("add").into_location_entries().expect("entries");
    let id = first[0].id.clone();
    let moved = LocationFields { place: "別館2階 書庫C".into(), ..fields.clone() };
    save(Some(id.clone()), moved, false, w.admin.clone()).await.expect("change");
    let register = w.store.execute(Command::ReadLocations { actor: w.auditor.clone() }).await.expect("read").into_locations().expect("reg");
    assert_eq!(register.entries.len(), 1);
    assert_eq!((register.entries[0].revision, register.entries[0].fields.place.as_str()), (2, "別館2階 書庫C"));
    save(Some(id.clone()), fields.clone(), true, w.admin.clone()).await.expect("retire");
    let register = w.store.execute(Command::ReadLocations { actor: w.admin.clone() }).await.expect("read").into_locations().expect("reg");
    assert!(register.entries.is_empty(), "a retired entry leaves the register");
    let history = w.store.execute(Command::LocationHistory { actor: w.auditor.clone(), id: id.clone() }).await.expect("history");
    let history = history.into_location_entries().expect("entries");
    assert_eq!(history.iter().map(|e| (e.revision, e.retired)).collect::<Vec<_>>(), vec![(1, false), (2, false), (3, true)]);
    let after_retire = save(Some(id), fields, false, w.admin.clone()).await;
    assert!(matches!(after_retire, Err(StoreError::Conflict(_))), "{after_retire:?}");
    let changes = w
        .audit(AuditFilter { action: Some(AuditAction::LocationRegisterChange), outcome: Some(Outcome::Success), ..AuditFilter::default() })
        .await;
    assert_eq!(changes.len(), 3);
    let mut hashes: Vec<_> = changes.iter().rev().map(|e| e.content_hash.clone()).collect();
    assert_eq!(hashes, history.iter().map(|e| Some(e.content_hash())).collect::<Vec<_>>(), "each revision's hash is in its event");
    hashes.dedup();
    assert_eq!(hashes.len(), 3);
    let doctor = w.store.execute(Command::ReadLocations { actor: w.doctor.clone() }).await;
    assert!(matches!(doctor, Err(StoreError::Denied(_))), "{doctor:?}");
}

/// The facility profile and the regulation (schema 10): revisions are history, leaves of the log
/// and audited with their hashes; a regulation is stored only for the latest profile and approved
/// once, by someone other than its generator, for the text they saw.
pub async fn governance_keeps_profile_and_regulation_revisions(store: Store) {
    use crate::governance::{GovernanceCommand, GovernanceOp};
    use kiroku_governance::{Catalogue, FacilityClass, FacilityProfile, People, Regulation};
    let w = World::new(store).await;
    w.store.execute(Command::CreateUser { actor: w.admin.clone(), user: user("admin.two", Role::Admin) }).await.expect("second admin");
    let admin2 = actor("admin.two", Role::Admin);
    let run = |actor: &Actor, op: GovernanceOp| w.store.execute(Command::Governance(GovernanceCommand { actor: actor.clone(), op }));
    let mut profile = FacilityProfile {
        facility_class: FacilityClass::C,
        facility_name: "きろくクリニック".into(),
        people: People {
            operations_manager: "院長 山田".into(),
            privacy_officer: "院長 山田".into(),
            system_administrator: "佐藤".into(),
            audit_officer: "鈴木".into(),
            information_manager: "高橋".into(),
        },
        external_storage: false,
        effective_date: "2026-04-01".into(),
        parameters: Default::default(),
    };
    let denied = run(&w.auditor, GovernanceOp::SaveProfile(Box::new(profile.clone()))).await;
    assert!(matches!(denied, Err(StoreError::Denied(_))), "auditors read, administrators manage: {denied:?}");
    let mut bad = profile.clone();
    bad.people.audit_officer = String::new();
    let invalid = run(&w.admin, GovernanceOp::SaveProfile(Box::new(bad))).await;
    assert!(matches!(invalid, Err(StoreError::Invalid(_))), "{invalid:?}");
    let saved = run(&w.admin, GovernanceOp::SaveProfile(Box::new(profile.clone()))).await.expect("save").into_governance().expect("state");
    assert_eq!(saved.profiles[0].revision, 1);
    assert_eq!(saved.profiles[0].profile().expect("profile"), profile);

    let catalogue = Catalogue::embedded();
    let regulation = Regulation::generate(&catalogue, &profile).expect("generate");
    let stored = run(&w.admin, GovernanceOp::StoreRegulation { profile_revision: 1, regulation: Box::new(regulation.clone()) })
        .await
        .expect("store")
        .into_governance()
        .expect("state");
    let first = stored.regulations[0].clone();
    assert_eq!((first.revision, first.profile_revision), (1, 1));
    assert_eq!(first.regulation().expect("regulation"), regulation);

    profile.parameters.insert("audit_times_per_year".into(), "2".into());
    run(&w.admin, GovernanceOp::SaveProfile(Box::new(profile.clone()))).await.expect("second revision");
    let stale = run(&w.admin, GovernanceOp::StoreRegulation { profile_revision: 1, regulation: Box::new(regulation) }).await;
    assert!(matches!(stale, Err(StoreError::Conflict(_))), "a regulation of an older profile: {stale:?}");
    let second = Regulation::generate(&catalogue, &profile).expect("generate");
    let stored = run(&w.admin, GovernanceOp::StoreRegulation { profile_revision: 2, regulation: Box::new(second) }).await.expect("store");
    let second = stored.into_governance().expect("state").regulations[0].clone();
    assert_ne!(second.content_hash, first.content_hash);

    let approve = |actor: &Actor, revision: i64, hash: &str| {
        run(actor, GovernanceOp::Approve { revision, content_hash: hash.to_owned(), note: "委員会で承認".into() })
    };
    let own = approve(&w.admin, 2, &second.content_hash).await;
    assert!(matches!(own, Err(StoreError::Conflict(_))), "the generator does not approve: {own:?}");
    let old = approve(&admin2, 1, &first.content_hash).await;
    assert!(matches!(old, Err(StoreError::Conflict(_))), "only the latest revision: {old:?}");
    let wrong = approve(&admin2, 2, &first.content_hash).await;
    assert!(matches!(wrong, Err(StoreError::Conflict(_))), "the text seen must be this revision's: {wrong:?}");
    let auditor = approve(&w.auditor, 2, &second.content_hash).await;
    assert!(matches!(auditor, Err(StoreError::Denied(_))), "{auditor:?}");
    approve(&admin2, 2, &second.content_hash).await.expect("approve");
    let twice = approve(&admin2, 2, &second.content_hash).await;
    assert!(matches!(twice, Err(StoreError::Conflict(_))), "{twice:?}");

    let state = run(&w.auditor, GovernanceOp::Read).await.expect("read").into_governance().expect("state");
    assert_eq!(state.profiles.len(), 2);
    assert_eq!(state.regulations.len(), 2);
    let approval = state.approval(2).expect("approval");
    assert_eq!((approval.approved_by.as_str(), approval.note.as_str()), ("admin.two", "委員会で承認"));
    let doctor = run(&w.doctor, GovernanceOp::Read).await;
    assert!(matches!(doctor, Err(StoreError::Denied(_))), "{doctor:?}");

    let ok = |action| AuditFilter { action: Some(action), outcome: Some(Outcome::Success), ..AuditFilter::default() };
    let changes = w.audit(ok(AuditAction::GovernanceProfileChange)).await;
    let hashes: Vec<_> = changes.iter().rev().map(|e| e.content_hash.clone()).collect();
    assert_eq!(hashes, state.profiles.iter().map(|p| Some(p.content_hash.clone())).collect::<Vec<_>>(), "each revision's hash is audited");
    assert_eq!(w.audit(ok(AuditAction::RegulationGenerate)).await.len(), 2);
    assert_eq!(w.audit(ok(AuditAction::RegulationApprove)).await[0].user.as_deref(), Some("admin.two"));
    assert_clean(&w.store).await;
}

/// Scanned paper (T2-5.x): a type's rule refuses a file that does not meet it, with the reason; a
/// late scan needs a reason and is listed as overdue, like paper received and not scanned in time;
/// an original may be disposed of only by a scanning officer other than the scanner, and only
/// once the file is signed and timestamped. Every row is a leaf and verify finds nothing.
pub async fn scanned_paper_rules_deadlines_and_originals(store: Store) {
    use crate::scan::{NewScan, OriginalAction};
    use kiroku_core::scan::{ColourMode, OriginalHandling, ScanRule, WorkCalendar, inspect, sample_png};
    let w = World::new(store).await;
    let officer = actor("scan.mori", Role::ScanOfficer);
    let officer2 = actor("scan.abe", Role::ScanOfficer);
    let officer3 = actor("scan.ueda", Role::ScanOfficer);
    for a in [&officer, &officer2, &officer3] {
        w.store
            .execute(Command::CreateUser { actor: w.admin.clone(), user: user(a.username.as_str(), Role::ScanOfficer) })
            .await
            .expect("user");
    }
    let rule = ScanRule {
        code: "ecg".into(),
        name: "心電図".into(),
        min_dpi: 300,
        colour: ColourMode::Colour,
        deadline_days: 2,
        original: OriginalHandling::Dispose,
    };
    let denied = w.store.execute(Command::SaveScanType { actor: w.clerk.clone(), rule: rule.clone(), retired: false }).await;
    assert!(matches!(denied, Err(StoreError::Denied(_))), "only the scanning officer sets rules: {denied:?}");
    w.store.execute(Command::SaveScanType { actor: officer.clone(), rule: rule.clone(), retired: false }).await.expect("type");
    let cal = WorkCalendar::default();
    let today = kiroku_core::scan::format_date(kiroku_core::scan::jst_date(Timestamp::now()));
    let scan = |bytes: Vec<u8>, paper_date: &str, late_reason: Option<&str>| {
        let hash = kiroku_core::ContentHash::of_bytes(&bytes).to_hex();
        NewScan {
            patient_id: w.patient.clone(),
            item_id: None,
            type_code: "ecg".into(),
            paper_date: paper_date.into(),
            late_reason: late_reason.map(str::to_string),
            attachment_id: uuid::Uuid::now_v7().to_string(),
            name: "ecg.png".into(),
            size: bytes.len() as i64,
            blob_hash: hash,
            facts: inspect(&bytes),
        }
    };
    let add = |s: NewScan, by: &Actor| w.store.execute(Command::AddScan { actor: by.clone(), scan: Box::new(s), calendar: cal.clone() });
    // Refused files: too low a resolution, greyscale for a colour type, not an image at all.
    for (bytes, expect) in [
        (sample_png(true, 1240, 1754, 150), "150 dpi"),
        (sample_png(false, 2480, 3508, 300), "グレースケール"),
        (b"GIF89a not a scan".to_vec(), "PDF・PNG・JPEG・TIFF"),
    ] {
        let r = add(scan(bytes, &today, None), &w.clerk).await;
        assert!(matches!(&r, Err(StoreError::Invalid(e)) if e.to_string().contains(expect)), "{expect}: {r:?}");
    }
    // A paper from a month ago is late: refused without a reason, taken with one.
    let old = kiroku_core::scan::format_date(kiroku_core::scan::jst_date(Timestamp::now()) - time::Duration::days(30));
    let page = sample_png(true, 2480, 3508, 300);
    let r = add(scan(page.clone(), &old, None), &w.clerk).await;
    assert!(matches!(&r, Err(StoreError::Invalid(e)) if e.to_string().contains("late_reason")), "{r:?}");
    let late =
        add(scan(page.clone(), &old, Some("担当者不在のため")), &w.clerk).await.expect("late scan").into_scan_entry().expect("entry");
    assert!(late.overdue && late.state == "scanned", "{late:?}");
    assert_eq!(late.late_reason.as_deref(), Some("担当者不在のため"));
    let on_time =
        add(scan(sample_png(true, 2480, 3508, 400), &today, None), &w.clerk).await.expect("scan").into_scan_entry().expect("entry");
    assert!(!on_time.overdue);
    // Paper received a week ago and still not scanned is overdue too.
    let week = kiroku_core::scan::format_date(kiroku_core::scan::jst_date(Timestamp::now()) - time::Duration::days(7));
    let waiting = w
        .store
        .execute(Command::ReceivePaper {
            actor: w.nurse.clone(),
            patient_id: w.patient.clone(),
            type_code: "ecg".into(),
            paper_date: week,
            calendar: cal.clone(),
        })
        .await
        .expect("receive")
        .into_scan_entry()
        .expect("entry");
    assert!(waiting.overdue && waiting.state == "received");
    let register = w
        .store
        .execute(Command::ScanRegister { actor: w.doctor.clone(), patient_id: None, calendar: cal.clone() })
        .await
        .expect("register")
        .into_scan_register()
        .expect("register");
    let overdue: Vec<_> = register.entries.iter().filter(|e| e.overdue).map(|e| e.item.id.clone()).collect();
    assert_eq!(overdue.len(), 2, "{overdue:?}");
    assert!(overdue.contains(&late.item.id) && overdue.contains(&waiting.item.id));

    // Disposal: not before signature and timestamp, never by the scanner, by another officer then.
    let dispose = |by: &Actor| {
        w.store.execute(Command::RecordOriginal {
            actor: by.clone(),
            item_id: on_time.item.id.clone(),
            action: OriginalAction::Dispose { note: "確認済み".into() },
            calendar: cal.clone(),
        })
    };
    let r = dispose(&officer).await;
    assert!(matches!(&r, Err(StoreError::Conflict(m)) if m.contains("タイムスタンプ")), "{r:?}");
    let file = on_time.file.clone().expect("file");
    let signature = SignatureRecord {
        id: uuid::Uuid::now_v7().to_string(),
        document_id: file.attachment.document_id.clone(),
        version: 1,
        username: officer.username.clone(),
        signature: "MA==".into(),
        signer: "CN=Test".into(),
        certificate_serial: "01".into(),
        certificate_not_after: Timestamp::now(),
        hc_roles: Vec::new(),
        content_hash: file.attachment.blob_hash.clone(),
        signature_hash: "00".repeat(32),
        signed_at: Timestamp::now(),
        seq: 0,
        attachment_id: Some(file.attachment.id.clone()),
    };
    let wrong = SignatureRecord { content_hash: "ab".repeat(32), ..signature.clone() };
    let r = w.store.execute(Command::AddSignature { actor: officer.clone(), signature: wrong, evidence: Vec::new() }).await;
    assert!(matches!(r, Err(StoreError::Conflict(_))), "a file's signature covers the file: {r:?}");
    w.store.execute(Command::AddSignature { actor: officer.clone(), signature, evidence: Vec::new() }).await.expect("file signature");
    let stamp_id = uuid::Uuid::now_v7().to_string();
    let stamp = StampRecord {
        id: stamp_id.clone(),
        kind: StampKind::File,
        renews: None,
        imprint: file.attachment.blob_hash.clone(),
        token: "MA==".into(),
        gen_time: Timestamp::now(),
        tsa: "CN=TSA".into(),
        tsa_not_after: Timestamp::now(),
        tsa_url: "http://tsa".into(),
        seq: 0,
    };
    let item = StampItem {
        item_kind: "attachment".into(),
        ref_id: file.attachment.id.clone(),
        ref_version: 0,
        stamp_id,
        digest: file.attachment.blob_hash.clone(),
        leaf_index: 0,
        batch_size: 1,
        path: Vec::new(),
        seq: 0,
    };
    w.store.execute(Command::RecordStamp { stamp, items: vec![item], evidence: Vec::new() }).await.expect("file stamp");
    let r = dispose(&w.clerk).await;
    assert!(matches!(r, Err(StoreError::Denied(_))), "{r:?}");
    // The officer scans one too: they may not approve disposing of their own scan.
    let own = add(scan(sample_png(true, 2480, 3508, 300), &today, None), &officer).await.expect("scan").into_scan_entry().expect("entry");
    let r = w
        .store
        .execute(Command::RecordOriginal {
            actor: officer.clone(),
            item_id: own.item.id.clone(),
            action: OriginalAction::Dispose { note: String::new() },
            calendar: cal.clone(),
        })
        .await;
    assert!(matches!(&r, Err(StoreError::Conflict(m)) if m.contains("other than the person who scanned")), "{r:?}");
    // A disposal asked for (by anyone who scans) waits for a second person's approval: the one
    // who asked may not approve it, once only asked.
    let request = |by: &Actor, item: &str| {
        w.store.execute(Command::RecordOriginal {
            actor: by.clone(),
            item_id: item.to_string(),
            action: OriginalAction::RequestDisposal { note: "照合済み".into() },
            calendar: cal.clone(),
        })
    };
    let asked = request(&officer2, &on_time.item.id).await.expect("requested").into_scan_entry().expect("entry");
    assert_eq!(asked.state, "disposal_requested");
    let r = request(&w.clerk, &on_time.item.id).await;
    assert!(matches!(&r, Err(StoreError::Conflict(m)) if m.contains("requested already")), "{r:?}");
    let r = dispose(&officer2).await;
    assert!(matches!(&r, Err(StoreError::Conflict(m)) if m.contains("other than the person who requested")), "{r:?}");
    let own_asked = request(&w.clerk, &own.item.id).await.expect("requested").into_scan_entry().expect("entry");
    assert_eq!(own_asked.state, "disposal_requested");
    let done = dispose(&officer3).await.expect("disposal approved").into_scan_entry().expect("entry");
    assert_eq!(done.state, "disposed");
    let approval = done.events.last().expect("event");
    assert_eq!(approval.detail["requested_by"], "scan.abe", "{:?}", approval.detail);
    let r = dispose(&officer3).await;
    assert!(matches!(r, Err(StoreError::Conflict(_))), "once only: {r:?}");
    let kept = w
        .store
        .execute(Command::RecordOriginal {
            actor: w.clerk.clone(),
            item_id: late.item.id.clone(),
            action: OriginalAction::Keep { location: "本館地下 書庫B 棚3".into() },
            calendar: cal.clone(),
        })
        .await
        .expect("kept")
        .into_scan_entry()
        .expect("entry");
    assert_eq!(kept.state, "kept");
    let events = w
        .audit(AuditFilter { action: Some(AuditAction::ScanOriginalDispose), outcome: Some(Outcome::Success), ..AuditFilter::default() })
        .await;
    assert_eq!(events.len(), 1, "the approval is audited");
    assert_eq!(events[0].user.as_deref(), Some("scan.ueda"));
    let requests = w
        .audit(AuditFilter {
            action: Some(AuditAction::ScanOriginalDisposeRequest),
            outcome: Some(Outcome::Success),
            ..AuditFilter::default()
        })
        .await;
    assert_eq!(requests.len(), 2, "each request is audited");

    let report =
        crate::verify::verify(w.store.backend().as_ref(), &|_| crate::verify::BlobState::Intact, None, &|_, _| {}).await.expect("verify");
    let unexpected: Vec<_> = report.findings.iter().filter(|f| !matches!(f, crate::verify::Finding::StampInvalid { .. })).collect();
    assert!(unexpected.is_empty(), "{unexpected:?}");
}
/// Ledgers: an entry's edits are revisions and its approvals and closings events, all leaves of the
/// log; an approval needs someone other than the requester (and the certificate where the ledger
/// asks for one); input is checked field by field; the periodic duties follow ledger entries and
/// audit events.
pub async fn ledgers_keep_revisions_events_and_approvals(store: Store) {
    use kiroku_core::ledgers::{DutyIntervals, DutyState, EntryStatus, EventKind, LedgerKind};
    let w = World::new(store).await;
    // A second administrator approves (audit officers read the ledgers by default).
    w.store.execute(Command::CreateUser { actor: w.admin.clone(), user: user("admin2", Role::Admin) }).await.expect("admin2");
    let approver = actor("admin2", Role::Admin);
    let map = |v: serde_json::Value| v.as_object().cloned().unwrap_or_default();
    let entry = |r: Result<Reply, StoreError>| *r.expect("ledger command").into_ledger_entry().expect("entry");
    let take_out = map(json!({"item": "ノートPC 3号機", "personal_data": true, "purpose": "学会発表", "destination": "学会会場",
                              "out_on": "2026-11-25", "due_on": "2026-11-27", "safeguards": "ディスク暗号化"}));
    let create = |actor: &Actor, kind: LedgerKind, fields: serde_json::Map<String, serde_json::Value>| {
        w.store.execute(Command::LedgerCreate { actor: actor.clone(), kind, fields })
    };
    let event = |actor: &Actor, id: &str, event: EventKind| {
        w.store.execute(Command::LedgerRecordEvent { actor: actor.clone(), id: id.to_string(), event, note: "確認".into() })
    };

    let denied = create(&w.nurse, LedgerKind::TakeOut, take_out.clone()).await;
    assert!(matches!(denied, Err(StoreError::Denied(Denied::Permission { .. }))), "{denied:?}");
    let mut missing = take_out.clone();
    missing.remove("purpose");
    let invalid = create(&w.admin, LedgerKind::TakeOut, missing).await;
    assert!(matches!(&invalid, Err(StoreError::Invalid(kiroku_core::DomainError::Invalid { field: "purpose", .. }))), "{invalid:?}");

    let first = entry(create(&w.admin, LedgerKind::TakeOut, take_out.clone()).await);
    assert_eq!(first.status, EntryStatus::PendingApproval);
    let own = event(&w.admin, &first.id, EventKind::Approve).await;
    assert!(matches!(own, Err(StoreError::Denied(Denied::OwnEntry))), "{own:?}");
    let early = event(&approver, &first.id, EventKind::Close).await;
    assert!(matches!(early, Err(StoreError::Conflict(_))), "no return before approval: {early:?}");
    assert_eq!(entry(event(&approver, &first.id, EventKind::Approve).await).status, EntryStatus::Approved);
    let mut changed = take_out.clone();
    changed.insert("due_on".into(), json!("2026-11-30"));
    let stale = w.store.execute(Command::LedgerRevise {
        actor: w.admin.clone(),
        id: first.id.clone(),
        if_revision: Some(7),
        fields: changed.clone(),
    });
    assert!(matches!(stale.await, Err(StoreError::Stale { current: 1 })));
    let revised = entry(
        w.store
            .execute(Command::LedgerRevise { actor: w.admin.clone(), id: first.id.clone(), if_revision: Some(1), fields: changed })
            .await,
    );
    assert_eq!((revised.current.revision, revised.status), (2, EntryStatus::PendingApproval), "an edit needs approving again");
    entry(event(&approver, &first.id, EventKind::Approve).await);
    assert_eq!(entry(event(&approver, &first.id, EventKind::Close).await).status, EntryStatus::Closed);
    let after = w.store.execute(Command::LedgerRead { actor: w.auditor.clone(), id: first.id.clone() }).await;
    let after = *after.expect("read").into_ledger_entry().expect("entry");
    assert_eq!((after.revisions.len(), after.events.len()), (2, 3));

    let disposal = entry(
        create(
            &w.admin,
            LedgerKind::MediaDisposal,
            map(json!({"media_label": "USB-7", "method": "physical", "disposed_on": "2026-11-20"})),
        )
        .await,
    );
    let no_certificate = event(&approver, &disposal.id, EventKind::Approve).await;
    assert!(matches!(no_certificate, Err(StoreError::Conflict(_))), "{no_certificate:?}");
    w.store
        .execute(Command::LedgerAttach {
            actor: w.admin.clone(),
            id: disposal.id.clone(),
            attachment_id: "att-1".into(),
            name: "certificate.pdf".into(),
            media_type: "application/pdf".into(),
            size: 3,
            blob_hash: "ab".repeat(32),
        })
        .await
        .expect("attach");
    assert_eq!(entry(event(&approver, &disposal.id, EventKind::Approve).await).status, EntryStatus::Approved);

    // Lists page newest first by cursor and filter by state and period.
    for day in ["2026-04-01", "2026-05-01", "2026-06-01"] {
        create(
            &w.admin,
            LedgerKind::Training,
            map(json!({"title": "情報セキュリティ研修", "held_on": day, "topics": "標的型メール",
                                                          "attendees": "admin, dr.sato"})),
        )
        .await
        .expect("training");
    }
    let list = |query: crate::governance_ledgers::LedgerQuery| async {
        *w.store.execute(Command::LedgerList { actor: w.auditor.clone(), query }).await.expect("list").into_ledger_page().expect("page")
    };
    let q = |limit| crate::governance_ledgers::LedgerQuery { kind: Some(LedgerKind::Training), limit, ..Default::default() };
    let page = list(q(2)).await;
    assert_eq!(page.entries.iter().map(|e| e.current.text("held_on")).collect::<Vec<_>>(), ["2026-06-01", "2026-05-01"]);
    let rest = list(crate::governance_ledgers::LedgerQuery { before: page.next_cursor.clone(), ..q(2) }).await;
    assert_eq!((rest.entries.len(), rest.next_cursor), (1, None));
    let may =
        list(crate::governance_ledgers::LedgerQuery { from: Some("2026-05-01".into()), to: Some("2026-05-31".into()), ..q(10) }).await;
    assert_eq!(may.entries.len(), 1);
    let closed = crate::governance_ledgers::LedgerQuery {
        kind: Some(LedgerKind::TakeOut),
        status: Some(EntryStatus::Closed),
        limit: 10,
        ..Default::default()
    };
    assert_eq!(list(closed).await.entries.len(), 1);

    // Duties: training was held this year, no restore drill yet; then one is recorded.
    let (store, auditor) = (&w.store, &w.auditor);
    let duties = |intervals| async move {
        *store
            .execute(Command::GovernanceDuties { actor: auditor.clone(), intervals })
            .await
            .expect("duties")
            .into_duties()
            .expect("report")
    };
    let long = DutyIntervals { training_days: 36_500, ..DutyIntervals::default() };
    let report = duties(long).await;
    let state = |r: &crate::governance_ledgers::DutyReport, id: &str| r.duties.iter().find(|d| d.id == id).map(|d| d.state);
    assert_eq!(state(&report, "training"), Some(DutyState::Ok));
    assert_eq!(state(&report, "restore_drill"), Some(DutyState::Overdue));
    let trained: Vec<_> = report.training.iter().filter(|t| t.current).map(|t| t.username.as_str()).collect();
    assert_eq!(trained, ["admin", "dr.sato"]);
    w.store
        .execute(Command::RecordOperation {
            actor: Actor::local_operator("ops"),
            action: AuditAction::RestoreDrill,
            outcome: Outcome::Success,
            detail: "drill".into(),
        })
        .await
        .expect("drill");
    assert_eq!(state(&duties(long).await, "restore_drill"), Some(DutyState::Ok));
    let events =
        w.audit(AuditFilter { action: Some(AuditAction::LedgerApprove), outcome: Some(Outcome::Denied), ..AuditFilter::default() }).await;
    assert_eq!(events.len(), 1, "the refused approval by the requester is recorded");
    assert_clean(&w.store).await;
}
