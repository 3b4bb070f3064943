//! The engine's half of the ledgers (台帳): permission checks, input checks, the workflow of an
//! entry (approval by someone else, closing, notes, loss reports), the rows with their leaves and
//! audit events, and the periodic duties. The rules themselves are in `kiroku_core::ledgers`.

use kiroku_core::access::Denied;
use kiroku_core::document::{text_field, validate_attachment_name};
use kiroku_core::ledgers::{self, DutyIntervals, DutySource, EntryStatus, EventKind, LedgerKind};
use kiroku_core::{AuditAction as A, Outcome, Permission as P};
use serde_json::{Map, Value};

use super::Ctx;
use crate::command::{Actor, Command, Reply};
use crate::error::{Result, StoreError};
use crate::governance_ledgers::*;
use crate::ledger::Leaf;
use crate::records::AuditFilter;

/// The most entries one list answers.
const MAX_PAGE: i64 = 200;
/// How many current revisions the duty report reads per ledger.
const DUTY_SCAN: i64 = 10_000;

impl Ctx<'_> {
    pub(super) async fn ledger_command(&mut self, cmd: &Command) -> Result<Reply> {
        match cmd {
            Command::LedgerCreate { actor, kind, fields } => self.ledger_create(actor, *kind, fields).await,
            Command::LedgerRevise { actor, id, if_revision, fields } => self.ledger_revise(actor, id, *if_revision, fields).await,
            Command::LedgerRecordEvent { actor, id, event, note } => self.ledger_event(actor, id, *event, note).await,
            Command::LedgerAttach { actor, id, attachment_id, name, media_type, size, blob_hash } => {
                self.allow(actor, P::GovernanceManage)?;
                let entry = self.ledger_entry(id, false).await?;
                validate_attachment_name(name)?;
                text_field("media_type", media_type, 127)?;
                if entry.status == EntryStatus::Closed {
                    return Err(StoreError::Conflict("the entry is closed".into()));
                }
                let att = LedgerAttachment {
                    id: attachment_id.clone(),
                    entry_id: entry.id.clone(),
                    name: name.clone(),
                    media_type: media_type.clone(),
                    size: *size,
                    blob_hash: blob_hash.clone(),
                    added_by: actor.username.clone(),
                    added_at: self.now,
                    seq: self.seq,
                };
                self.tx.insert_ledger_attachment(&att).await?;
                self.log.append_leaf(Leaf::LedgerAttachment(&att));
                let detail = format!("ledger={} entry={} attachment={} name={name}", entry.kind, entry.id, att.id);
                self.audit(actor, A::LedgerAttachmentAdd, None, None, None, Some(detail), Some(blob_hash.clone())).await?;
                Ok(Reply::LedgerAttachment(Box::new(att)))
            }
            Command::LedgerRead { actor, id } => {
                self.allow(actor, P::GovernanceRead)?;
                let entry = self.ledger_entry(id, true).await?;
                self.audit(actor, A::LedgerRead, None, None, None, Some(format!("ledger={} entry={}", entry.kind, entry.id)), None).await?;
                Ok(Reply::LedgerEntry(Box::new(entry)))
            }
            Command::LedgerList { actor, query } => self.ledger_list(actor, query).await,
            Command::LedgerReadAttachment { actor, id, attachment_id } => {
                self.allow(actor, P::GovernanceRead)?;
                let entry = self.ledger_entry(id, false).await?;
                let att = entry.attachments.into_iter().find(|a| &a.id == attachment_id).ok_or(StoreError::NotFound("attachment"))?;
                let detail = format!("ledger={} entry={} attachment={}", entry.kind, entry.id, att.id);
                self.audit(actor, A::LedgerAttachmentRead, None, None, None, Some(detail), Some(att.blob_hash.clone())).await?;
                Ok(Reply::LedgerAttachment(Box::new(att)))
            }
            Command::GovernanceDuties { actor, intervals } => self.duties(actor, intervals).await,
            _ => Err(StoreError::Corrupt("not a ledger command".into())),
        }
    }

    /// An entry as stored; `NotFound` for an unknown id.
    async fn ledger_entry(&mut self, id: &str, history: bool) -> Result<LedgerEntry> {
        if id.len() > 64 {
            return Err(StoreError::NotFound("ledger entry"));
        }
        let revisions = self.tx.ledger_revisions(id).await?;
        if revisions.is_empty() {
            return Err(StoreError::NotFound("ledger entry"));
        }
        let events = self.tx.ledger_events(id).await?;
        let attachments = self.tx.ledger_attachments(id).await?;
        LedgerEntry::assemble(revisions, events, attachments, history).ok_or(StoreError::NotFound("ledger entry"))
    }

    /// Checks the input and that the accounts it names exist.
    async fn ledger_fields(&mut self, kind: LedgerKind, input: &Map<String, Value>) -> Result<ledgers::Fields> {
        let fields = ledgers::validate(kind, input)?;
        for (field, name) in ledgers::named_users(kind, &fields) {
            if self.tx.get_user(&name).await?.is_none() {
                return Err(kiroku_core::DomainError::invalid(field, format!("{name} is not an account")).into());
            }
        }
        Ok(fields)
    }

    /// Writes a revision with its leaf and audit event.
    async fn ledger_write(&mut self, actor: &Actor, revision: &LedgerRevision, action: A) -> Result<()> {
        self.tx.insert_ledger_revision(revision).await?;
        self.log.append_leaf(Leaf::LedgerRevision(revision));
        let detail = format!("ledger={} entry={} revision={}", revision.kind, revision.id, revision.revision);
        self.audit(actor, action, None, None, None, Some(detail), Some(revision.content_hash.clone())).await
    }

    fn revision(&self, actor: &Actor, kind: LedgerKind, id: String, revision: i64, fields: ledgers::Fields) -> LedgerRevision {
        let mut r = LedgerRevision {
            id,
            kind,
            revision,
            entry_date: ledgers::entry_date(kind, &fields),
            fields,
            content_hash: String::new(),
            entered_by: actor.username.clone(),
            entered_at: self.now,
            seq: self.seq,
        };
        r.content_hash = r.compute_hash();
        r
    }

    async fn ledger_create(&mut self, actor: &Actor, kind: LedgerKind, input: &Map<String, Value>) -> Result<Reply> {
        self.allow(actor, P::GovernanceManage)?;
        let fields = self.ledger_fields(kind, input).await?;
        let revision = self.revision(actor, kind, uuid::Uuid::now_v7().to_string(), 1, fields);
        self.ledger_write(actor, &revision, A::LedgerCreate).await?;
        let entry =
            LedgerEntry::assemble(vec![revision], Vec::new(), Vec::new(), true).ok_or_else(|| StoreError::Corrupt("entry".into()))?;
        Ok(Reply::LedgerEntry(Box::new(entry)))
    }

    async fn ledger_revise(&mut self, actor: &Actor, id: &str, if_revision: Option<i64>, input: &Map<String, Value>) -> Result<Reply> {
        self.allow(actor, P::GovernanceManage)?;
        let entry = self.ledger_entry(id, true).await?;
        ledgers::check_revise(entry.status).map_err(StoreError::Conflict)?;
        if if_revision.is_some_and(|r| r != entry.current.revision) {
            return Err(StoreError::Stale { current: entry.current.revision });
        }
        let fields = self.ledger_fields(entry.kind, input).await?;
        let revision = self.revision(actor, entry.kind, entry.id.clone(), entry.current.revision + 1, fields);
        self.ledger_write(actor, &revision, A::LedgerRevise).await?;
        let mut revisions = entry.revisions;
        revisions.push(revision);
        let entry =
            LedgerEntry::assemble(revisions, entry.events, entry.attachments, true).ok_or_else(|| StoreError::Corrupt("entry".into()))?;
        Ok(Reply::LedgerEntry(Box::new(entry)))
    }

    async fn ledger_event(&mut self, actor: &Actor, id: &str, event: EventKind, note: &str) -> Result<Reply> {
        self.allow(actor, P::GovernanceManage)?;
        let entry = self.ledger_entry(id, true).await?;
        // Four eyes: neither the requester nor whoever wrote the revision approves it.
        if event == EventKind::Approve && (entry.entered_by == actor.username || entry.current.entered_by == actor.username) {
            return Err(Denied::OwnEntry.into());
        }
        ledgers::check_event(entry.kind.def(), entry.status, event, entry.attachments.len()).map_err(StoreError::Conflict)?;
        let note = ledgers::check_note(note)?;
        let row = LedgerEvent {
            entry_id: entry.id.clone(),
            n: entry.events.len() as i64 + 1,
            kind: event,
            revision: entry.current.revision,
            note,
            username: actor.username.clone(),
            at: self.now,
            seq: self.seq,
        };
        self.tx.insert_ledger_event(&row).await?;
        self.log.append_leaf(Leaf::LedgerEvent(&row));
        let action = if event == EventKind::Approve { A::LedgerApprove } else { A::LedgerEvent };
        let detail = format!("ledger={} entry={} event={} revision={}", entry.kind, entry.id, event.as_str(), row.revision);
        let hash = kiroku_core::hash::ContentHash::of_json(&row).to_hex();
        self.audit(actor, action, None, None, None, Some(detail), Some(hash)).await?;
        let mut events = entry.events;
        events.push(row);
        let entry =
            LedgerEntry::assemble(entry.revisions, events, entry.attachments, true).ok_or_else(|| StoreError::Corrupt("entry".into()))?;
        Ok(Reply::LedgerEntry(Box::new(entry)))
    }

    async fn ledger_list(&mut self, actor: &Actor, q: &LedgerQuery) -> Result<Reply> {
        self.allow(actor, P::GovernanceRead)?;
        let limit = q.limit.clamp(1, MAX_PAGE);
        let kind = q.kind.map(LedgerKind::as_str);
        let mut before = q.before.clone();
        let mut entries = Vec::new();
        let mut next_cursor = None;
        // A state filter is applied to each page read, so read on until the page is full.
        'pages: loop {
            let page = self.tx.ledger_current(kind, q.from.as_deref(), q.to.as_deref(), before.as_deref(), limit).await?;
            let exhausted = (page.len() as i64) < limit;
            for revision in page {
                before = Some(revision.id.clone());
                let events = self.tx.ledger_events(&revision.id).await?;
                let Some(entry) = LedgerEntry::assemble(vec![revision], events, Vec::new(), false) else { continue };
                if q.status.is_some_and(|s| s != entry.status) {
                    continue;
                }
                entries.push(entry);
                if entries.len() as i64 == limit {
                    next_cursor = before.clone();
                    break 'pages;
                }
            }
            if exhausted {
                break;
            }
        }
        let detail = format!("ledger={} count={}", kind.unwrap_or("*"), entries.len());
        self.audit(actor, A::LedgerRead, None, None, None, Some(detail), None).await?;
        Ok(Reply::LedgerPage(Box::new(LedgerPage { entries, next_cursor })))
    }

    async fn duties(&mut self, actor: &Actor, intervals: &DutyIntervals) -> Result<Reply> {
        self.allow(actor, P::GovernanceRead)?;
        let today = ledgers::jst_date(self.now);
        let mut duties = Vec::new();
        for (duty, days) in ledgers::duties(intervals) {
            let last = match duty.source {
                DutySource::Ledger(kind) => {
                    last_completion(&self.tx.ledger_current(Some(kind.as_str()), None, None, None, DUTY_SCAN).await?)
                }
                DutySource::Audit(action) => {
                    let filter = AuditFilter { action: A::parse(action), outcome: Some(Outcome::Success), ..AuditFilter::default() };
                    let newest = self.tx.query_audit(&filter, 1).await?;
                    newest.first().map(|e| (ledgers::jst_date(e.time), format!("audit:{}", e.id)))
                }
            };
            duties.push(ledgers::duty_status(&duty, days, last, today, intervals.remind_days));
        }
        if intervals.contract_review_days > 0 {
            for contract in self.tx.ledger_current(Some(LedgerKind::Contract.as_str()), None, None, None, DUTY_SCAN).await? {
                let Some(expires) = ledgers::parse_date(&contract.text("expires_on")) else { continue };
                let events = self.tx.ledger_events(&contract.id).await?;
                if events.iter().any(|e| e.kind == EventKind::Close) {
                    continue;
                }
                duties.push(ledgers::contract_review(&contract.text("contractor"), &contract.id, expires, today, intervals));
            }
        }
        let training = self.training_status(today, intervals.training_days).await?;
        let due = duties.iter().filter(|d| d.state != ledgers::DutyState::Ok).count();
        self.audit(actor, A::LedgerRead, None, None, None, Some(format!("duties={} due={due}", duties.len())), None).await?;
        Ok(Reply::Duties(Box::new(DutyReport { today: today.to_string(), intervals: *intervals, duties, training })))
    }

    /// Every active staff account with the newest training session it attended.
    async fn training_status(&mut self, today: time::Date, days: i64) -> Result<Vec<TrainingStatus>> {
        let sessions = self.tx.ledger_current(Some(LedgerKind::Training.as_str()), None, None, None, DUTY_SCAN).await?;
        let users = self.tx.list_users().await?;
        let since = today - time::Duration::days(days.max(1));
        Ok(users
            .into_iter()
            .filter(|u| !u.disabled && u.kind == kiroku_core::identity::AccountKind::Staff)
            .map(|u| {
                let attended = sessions
                    .iter()
                    .filter(|s| {
                        s.fields.get("attendees").and_then(Value::as_array).is_some_and(|a| a.iter().any(|n| n == u.username.as_str()))
                    })
                    .filter_map(|s| Some((ledgers::parse_date(s.entry_date.as_deref()?)?, s)))
                    .max_by_key(|(d, _)| *d);
                TrainingStatus {
                    display_name: u.display_name.clone(),
                    role: u.role,
                    last_trained: attended.map(|(d, _)| d.to_string()),
                    session: attended.map(|(_, s)| s.id.clone()),
                    current: attended.is_some_and(|(d, _)| d >= since),
                    username: u.username,
                }
            })
            .collect())
    }
}
