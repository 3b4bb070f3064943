//! The scanned-paper commands (T2-5.1 … T2-5.4): scan types, receiving paper, adding a scan (the
//! rule checked against the file's bytes, the deadline against the working-day calendar), the
//! register, and the originals register. Each change writes its rows with their leaves and audit
//! events in the command's transaction, like every other command.

use kiroku_core::scan::{OriginalHandling, ScanRule, WorkCalendar, jst_date, parse_date};
use kiroku_core::{AuditAction as A, DocumentId, DocumentStatus, DomainError, InfoClass, PatientId, Permission as P, VersionKind};
use serde_json::json;

use super::{Ctx, with_hash};
use crate::command::Actor;
use crate::error::{Result, StoreError};
use crate::ledger::Leaf;
use crate::records::*;
use crate::scan::*;

/// The document type of scan records.
pub const SCAN_DOC_TYPE: &str = "scan";
const REGISTER_LIMIT: i64 = 2000;

impl Ctx<'_> {
    pub(super) async fn save_scan_type(&mut self, actor: &Actor, rule: &ScanRule, retired: bool) -> crate::error::Result<crate::Reply> {
        self.allow(actor, P::ScanManage)?;
        rule.validate()?;
        let revisions = self.tx.scan_types(Some(&rule.code)).await?;
        if revisions.last().is_some_and(|t| t.retired) {
            return Err(StoreError::Conflict("this scan type was retired; add a new code".into()));
        }
        let record = ScanTypeRecord {
            rule: ScanRule { name: rule.name.trim().to_string(), ..rule.clone() },
            revision: revisions.last().map_or(1, |t| t.revision + 1),
            retired,
            edited_by: actor.username.clone(),
            edited_at: self.now,
            seq: self.seq,
        };
        self.tx.insert_scan_type(&record).await?;
        self.log.append_leaf(Leaf::ScanType(&record));
        let detail = format!("scan_type={} revision={}{}", record.rule.code, record.revision, if retired { " retired=true" } else { "" });
        let hash = kiroku_core::ContentHash::of_json(&record.rule).to_hex();
        self.audit(actor, A::ScanTypeChange, None, None, None, Some(detail), Some(hash)).await?;
        Ok(crate::Reply::ScanTypes(vec![record]))
    }

    /// The current, not retired revision of a type.
    async fn active_type(&mut self, code: &str) -> Result<ScanTypeRecord> {
        let current = self.tx.scan_types(Some(code)).await?.pop().ok_or(StoreError::NotFound("scan type"))?;
        if current.retired {
            return Err(DomainError::invalid("type", "this scan type is no longer in use").into());
        }
        Ok(current)
    }

    async fn rule_of(&mut self, item: &ScanItemRecord) -> Result<ScanTypeRecord> {
        self.tx
            .scan_types(Some(&item.type_code))
            .await?
            .into_iter()
            .find(|t| t.revision == item.type_revision)
            .ok_or(StoreError::Corrupt(format!("scan item {} names a missing rule", item.id)))
    }

    fn scan_allowed(&self, actor: &Actor, permission: P) -> Result<()> {
        Ok(self.matrix.check(actor.role, permission, Some(InfoClass::Normal))?)
    }

    async fn new_item(
        &mut self,
        actor: &Actor,
        patient_id: &PatientId,
        rule: &ScanTypeRecord,
        paper_date: &str,
        cal: &WorkCalendar,
    ) -> Result<ScanItemRecord> {
        let paper = parse_date("paper_date", paper_date)?;
        if paper > jst_date(self.now) {
            return Err(DomainError::invalid("paper_date", "must not be in the future").into());
        }
        if self.tx.get_patient(patient_id.as_str()).await?.is_none() {
            return Err(StoreError::NotFound("patient"));
        }
        Ok(ScanItemRecord {
            id: uuid::Uuid::now_v7().to_string(),
            patient_id: patient_id.clone(),
            type_code: rule.rule.code.clone(),
            type_revision: rule.revision,
            paper_date: kiroku_core::scan::format_date(paper),
            due_date: due_date(&rule.rule, paper, cal),
            registered_by: actor.username.clone(),
            registered_at: self.now,
            seq: self.seq,
        })
    }

    async fn record_item(&mut self, actor: &Actor, item: &ScanItemRecord, action: A) -> Result<()> {
        self.tx.insert_scan_item(item).await?;
        self.log.append_leaf(Leaf::ScanItem(item));
        let detail = format!("scan_item={} type={} paper_date={} due={}", item.id, item.type_code, item.paper_date, item.due_date);
        self.audit(actor, action, Some(item.patient_id.to_string()), None, None, Some(detail), None).await
    }

    pub(super) async fn receive_paper(
        &mut self,
        actor: &Actor,
        patient_id: &PatientId,
        type_code: &str,
        paper_date: &str,
        cal: &WorkCalendar,
    ) -> Result<crate::Reply> {
        self.scan_allowed(actor, P::ScanWrite)?;
        let rule = self.active_type(type_code).await?;
        let item = self.new_item(actor, patient_id, &rule, paper_date, cal).await?;
        self.record_item(actor, &item, A::ScanPaperReceive).await?;
        let entry = self.entry(item, &[rule], jst_date(self.now)).await?;
        Ok(crate::Reply::ScanEntry(Box::new(entry)))
    }

    pub(super) async fn add_scan(&mut self, actor: &Actor, scan: &NewScan, cal: &WorkCalendar) -> Result<crate::Reply> {
        self.scan_allowed(actor, P::ScanWrite)?;
        kiroku_core::document::validate_attachment_name(&scan.name)?;
        // The paper: one received before (not scanned yet), or a new one.
        let (item, rule, new) = match &scan.item_id {
            Some(id) => {
                let item = self.tx.get_scan_item(id).await?.ok_or(StoreError::NotFound("scan item"))?;
                if item.patient_id != scan.patient_id {
                    return Err(StoreError::NotFound("scan item"));
                }
                if self.tx.scan_events(Some(id)).await?.iter().any(|e| e.kind == ScanEventKind::Scanned) {
                    return Err(StoreError::Conflict("this paper is scanned already".into()));
                }
                let rule = self.rule_of(&item).await?;
                (item, rule, false)
            }
            None => {
                let rule = self.active_type(&scan.type_code).await?;
                let item = self.new_item(actor, &scan.patient_id, &rule, &scan.paper_date, cal).await?;
                (item, rule, true)
            }
        };
        // The file against the rule: what its bytes say.
        let facts = scan.facts.clone().map_err(|r| DomainError::invalid("file", r.message()))?;
        rule.rule.check(&facts).map_err(|r| DomainError::invalid("file", r.message()))?;
        // The deadline: a late scan needs a reason, which is recorded.
        let today = kiroku_core::scan::format_date(jst_date(self.now));
        let late = today > item.due_date;
        let late_reason = match (&scan.late_reason, late) {
            (Some(r), true) if !r.trim().is_empty() => Some(crate::operations::check_reason(r)?.to_string()),
            (_, true) => {
                return Err(DomainError::invalid(
                    "late_reason",
                    format!(
                        "期限 {} を過ぎています。遅延理由を入力してください (the deadline {} has passed; give the reason for the late scan)",
                        item.due_date, item.due_date
                    ),
                )
                .into());
            }
            (_, false) => None,
        };
        // The scan record: a document confirmed by its operator as it is written, the file attached.
        let document_id = DocumentId::parse(uuid::Uuid::now_v7().to_string())?;
        let body = json!({
            "scan_item": item.id, "scan_type": rule.rule.code, "type_revision": rule.revision, "paper_date": item.paper_date,
            "due_date": item.due_date, "late_reason": late_reason, "file": { "name": scan.name, "sha256": scan.blob_hash, "facts": facts },
        });
        let title = format!("{}（{}）", rule.rule.name, item.paper_date);
        kiroku_core::document::validate_document_fields(SCAN_DOC_TYPE, &title, &body)?;
        if new {
            self.record_item(actor, &item, A::ScanPaperReceive).await?;
        }
        let version = with_hash(VersionRecord {
            document_id: document_id.clone(),
            version: 1,
            kind: VersionKind::Draft,
            patient_id: item.patient_id.clone(),
            doc_type: SCAN_DOC_TYPE.into(),
            title: title.clone(),
            info_class: InfoClass::Normal,
            body,
            entered_by: actor.username.clone(),
            on_behalf_of: None,
            entered_at: self.now,
            reason: None,
            content_hash: String::new(),
            seq: self.seq,
        });
        let head = DocumentHead {
            id: document_id.clone(),
            patient_id: item.patient_id.clone(),
            doc_type: SCAN_DOC_TYPE.into(),
            title,
            info_class: InfoClass::Normal,
            status: DocumentStatus::Confirmed,
            version: 1,
            entered_by: actor.username.clone(),
            on_behalf_of: None,
            created_at: self.now,
            updated_at: self.now,
            confirmed_by: Some(actor.username.to_string()),
            confirmed_at: Some(self.now),
        };
        let patient = Some(item.patient_id.to_string());
        self.tx.insert_head(&head).await?;
        self.record_version(&version).await?;
        self.audit(
            actor,
            A::DocumentCreate,
            patient.clone(),
            Some(&document_id),
            Some(1),
            Some("scan".into()),
            Some(version.content_hash.clone()),
        )
        .await?;
        let attachment = AttachmentRecord {
            id: scan.attachment_id.clone(),
            document_id: document_id.clone(),
            version: 1,
            name: scan.name.clone(),
            media_type: facts.format.media_type().into(),
            size: scan.size,
            blob_hash: scan.blob_hash.clone(),
            added_by: actor.username.clone(),
            added_at: self.now,
            seq: self.seq,
        };
        self.tx.insert_attachment(&attachment).await?;
        self.log.append_leaf(Leaf::Attachment(&attachment));
        self.audit(
            actor,
            A::AttachmentAdd,
            patient.clone(),
            Some(&document_id),
            Some(1),
            Some(scan.name.clone()),
            Some(scan.blob_hash.clone()),
        )
        .await?;
        self.record_attestation(&document_id, 1, AttestationKind::Confirm, actor).await?;
        self.audit(
            actor,
            A::DocumentConfirm,
            patient.clone(),
            Some(&document_id),
            Some(1),
            Some("scan".into()),
            Some(version.content_hash.clone()),
        )
        .await?;
        let event = ScanEventRecord {
            id: uuid::Uuid::now_v7().to_string(),
            item_id: item.id.clone(),
            kind: ScanEventKind::Scanned,
            document_id: Some(document_id.to_string()),
            attachment_id: Some(attachment.id.clone()),
            detail: json!({ "late": late, "late_reason": late_reason, "facts": facts, "scanned_on": today }),
            username: actor.username.clone(),
            at: self.now,
            seq: self.seq,
        };
        self.tx.insert_scan_event(&event).await?;
        self.log.append_leaf(Leaf::ScanEvent(&event));
        let detail =
            format!("scan_item={} late={late}{}", item.id, late_reason.as_ref().map(|r| format!(" reason={r}")).unwrap_or_default());
        self.audit(actor, A::ScanAdd, patient, Some(&document_id), Some(1), Some(detail), Some(scan.blob_hash.clone())).await?;
        let entry = self.entry(item, &[rule], jst_date(self.now)).await?;
        Ok(crate::Reply::ScanEntry(Box::new(entry)))
    }

    pub(super) async fn record_original(
        &mut self,
        actor: &Actor,
        item_id: &str,
        action: &OriginalAction,
        _cal: &WorkCalendar,
    ) -> Result<crate::Reply> {
        let permission = match action {
            OriginalAction::Keep { .. } | OriginalAction::RequestDisposal { .. } => P::ScanWrite,
            OriginalAction::Dispose { .. } => P::ScanManage,
        };
        self.scan_allowed(actor, permission)?;
        let item = self.tx.get_scan_item(item_id).await?.ok_or(StoreError::NotFound("scan item"))?;
        let rule = self.rule_of(&item).await?;
        let today = jst_date(self.now);
        let entry = self.entry(item.clone(), std::slice::from_ref(&rule), today).await?;
        let Some(scanned) = entry.scanned().cloned() else {
            return Err(StoreError::Conflict("the paper is not scanned yet".into()));
        };
        if entry.state == "disposed" {
            return Err(StoreError::Conflict("the original was disposed of already".into()));
        }
        // The pending request, if the last word on the original is one.
        let requested = entry.events.last().filter(|e| e.kind == ScanEventKind::OriginalDisposalRequested).cloned();
        let (kind, detail, audit_action) = match action {
            OriginalAction::Keep { location } => {
                kiroku_core::document::text_field("location", location, 200)?;
                (ScanEventKind::OriginalKept, json!({ "location": location.trim() }), A::ScanOriginalKeep)
            }
            OriginalAction::RequestDisposal { note } => {
                if requested.is_some() {
                    return Err(StoreError::Conflict(
                        "原本の廃棄は申請済みで、承認を待っています (the disposal was requested already and waits for approval)".into(),
                    ));
                }
                keep_period_over(&rule, &item, today)?;
                (ScanEventKind::OriginalDisposalRequested, json!({ "note": disposal_note(note)? }), A::ScanOriginalDisposeRequest)
            }
            OriginalAction::Dispose { note } => {
                if scanned.username == actor.username {
                    return Err(StoreError::Conflict(
                        "原本の廃棄は、読み取った本人以外の情報作成管理者が承認します (disposal must be approved by a scanning officer other than the person who scanned it)".into(),
                    ));
                }
                if requested.as_ref().is_some_and(|r| r.username == actor.username) {
                    return Err(StoreError::Conflict(
                        "原本の廃棄は、申請した本人以外の情報作成管理者が承認します (disposal must be approved by a scanning officer other than the person who requested it)".into(),
                    ));
                }
                if !entry.signed_and_stamped() {
                    return Err(StoreError::Conflict(
                        "電子署名とタイムスタンプの付与前は原本を廃棄できません (the original cannot be disposed of before the scan is signed and timestamped)".into(),
                    ));
                }
                keep_period_over(&rule, &item, today)?;
                let mut detail = json!({ "note": disposal_note(note)?, "scanned_by": scanned.username });
                if let Some(r) = &requested {
                    detail["requested_by"] = json!(r.username);
                    detail["request"] = json!(r.id);
                }
                (ScanEventKind::OriginalDisposed, detail, A::ScanOriginalDispose)
            }
        };
        let event = ScanEventRecord {
            id: uuid::Uuid::now_v7().to_string(),
            item_id: item.id.clone(),
            kind,
            document_id: scanned.document_id.clone(),
            attachment_id: scanned.attachment_id.clone(),
            detail,
            username: actor.username.clone(),
            at: self.now,
            seq: self.seq,
        };
        self.tx.insert_scan_event(&event).await?;
        self.log.append_leaf(Leaf::ScanEvent(&event));
        let document = scanned.document_id.as_deref().map(DocumentId::parse).transpose()?;
        let hash = kiroku_core::ContentHash::of_json(&event.detail).to_hex();
        let detail = format!("scan_item={} event={}", item.id, kind.as_str());
        self.audit(actor, audit_action, Some(item.patient_id.to_string()), document.as_ref(), None, Some(detail), Some(hash)).await?;
        let entry = self.entry(item, &[rule], today).await?;
        Ok(crate::Reply::ScanEntry(Box::new(entry)))
    }

    pub(super) async fn scan_register(&mut self, actor: &Actor, patient_id: Option<&PatientId>) -> Result<crate::Reply> {
        self.allow(actor, P::ScanRead)?;
        let types = current_types(self.tx.scan_types(None).await?);
        let all_revisions = self.tx.scan_types(None).await?;
        let today = jst_date(self.now);
        let mut items = self.tx.scan_items(patient_id.map(|p| p.as_str()), "", REGISTER_LIMIT).await?;
        items.reverse();
        let mut entries = Vec::with_capacity(items.len());
        for item in items {
            entries.push(self.entry(item, &all_revisions, today).await?);
        }
        let overdue = entries.iter().filter(|e| e.overdue).count();
        let detail = format!("items={} overdue={overdue}", entries.len());
        self.audit(actor, A::ScanRegisterRead, patient_id.map(|p| p.to_string()), None, None, Some(detail), None).await?;
        Ok(crate::Reply::ScanRegister(Box::new(ScanRegister { types, entries, today: kiroku_core::scan::format_date(today) })))
    }

    /// An item with its events, file, the file's signatures and timestamp, and its state.
    async fn entry(&mut self, item: ScanItemRecord, revisions: &[ScanTypeRecord], today: time::Date) -> Result<ScanEntry> {
        let events = self.tx.scan_events(Some(&item.id)).await?;
        let type_name = revisions
            .iter()
            .rfind(|t| t.rule.code == item.type_code && t.revision <= item.type_revision)
            .map_or_else(|| item.type_code.clone(), |t| t.rule.name.clone());
        let scanned = events.iter().find(|e| e.kind == ScanEventKind::Scanned);
        let file = match scanned.and_then(|e| e.attachment_id.as_deref()) {
            Some(att) => match self.tx.attachment_by_id(att).await? {
                Some(attachment) => {
                    let signatures: Vec<SignatureRecord> = self
                        .tx
                        .list_signatures(attachment.document_id.as_str())
                        .await?
                        .into_iter()
                        .filter(|g| g.attachment_id.as_deref() == Some(att))
                        .collect();
                    let stamp = self.tx.get_stamp_item("attachment", att, 0).await?;
                    Some(FileProof { attachment, signatures, stamp })
                }
                None => None,
            },
            None => None,
        };
        let scanned_on = scanned.and_then(|e| e.detail.get("scanned_on")).and_then(|v| v.as_str()).map(str::to_string);
        let late_reason = scanned.and_then(|e| e.detail.get("late_reason")).and_then(|v| v.as_str()).map(str::to_string);
        let state = match events.last().map(|e| e.kind) {
            None => "received",
            Some(ScanEventKind::Scanned) => "scanned",
            Some(ScanEventKind::OriginalKept) => "kept",
            Some(ScanEventKind::OriginalDisposalRequested) => "disposal_requested",
            Some(ScanEventKind::OriginalDisposed) => "disposed",
        };
        let overdue = is_overdue(&item, scanned_on.as_deref(), &kiroku_core::scan::format_date(today));
        Ok(ScanEntry { item, type_name, events, file, state, overdue, late_reason })
    }
}

/// A type whose originals are kept for some years: no disposal before the period ends.
fn keep_period_over(rule: &ScanTypeRecord, item: &ScanItemRecord, today: time::Date) -> Result<()> {
    if let OriginalHandling::Keep { years } = rule.rule.original {
        let paper = parse_date("paper_date", &item.paper_date)?;
        let until =
            paper.replace_year(paper.year() + years as i32).unwrap_or(paper.saturating_add(time::Duration::days(365 * i64::from(years))));
        if today < until {
            return Err(StoreError::Conflict(format!(
                "この種別の原本は {} まで保管します (this type's originals are kept until {})",
                kiroku_core::scan::format_date(until),
                kiroku_core::scan::format_date(until)
            )));
        }
    }
    Ok(())
}

/// The note of a disposal request or approval: at most 500 characters, no control characters.
fn disposal_note(note: &str) -> Result<String> {
    let note = note.trim();
    if note.chars().count() > 500 || note.chars().any(|c| c.is_control() && c != '\n') {
        return Err(DomainError::invalid("note", "at most 500 characters without control characters").into());
    }
    Ok(note.to_string())
}
