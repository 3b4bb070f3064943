//! The engine's half of account governance: vendor work orders (保守) and their check-off lists,
//! API tokens of integrations, resets of lost second factors that need a second administrator,
//! and the access review (アカウント棚卸し) with its leavers. Same rules as the rest of the engine:
//! check first, then change, and the audit event in the same transaction.

use kiroku_core::identity::{AccountKind, SessionStage};
use kiroku_core::maintenance::{WorkOrder, WorkOrderSignoff};
use kiroku_core::{AuditAction as A, DomainError, Outcome, Permission as P, Timestamp, Username};

use super::{Ctx, event};
use crate::command::{Actor, Reply};
use crate::error::{Result, StoreError};
use crate::records::*;
use crate::review::{check_comment, check_signed_hash, hash_of};

/// The longest an API token may live before it must be issued again.
const MAX_TOKEN_DAYS: i64 = 366;
/// How long an issued factor reset may wait for its approval and use.
pub const FACTOR_RESET_SECONDS: i64 = 24 * 3600;

impl Ctx<'_> {
    /// Creates the account a work order or token needs, or checks that the named one is of `kind`.
    async fn account_of_kind(&mut self, actor: &Actor, username: &Username, new: Option<&UserRecord>, kind: AccountKind) -> Result<()> {
        match new {
            Some(user) => {
                if user.kind != kind || &user.username != username {
                    return Err(DomainError::invalid("kind", format!("a new {} account", kind.as_str())).into());
                }
                self.create_user(actor, user).await?;
            }
            None => {
                let existing = self.user(username).await?;
                if existing.kind != kind {
                    return Err(StoreError::Conflict(format!("{username} is not a {} account", kind.as_str())));
                }
            }
        }
        Ok(())
    }

    // ----- maintenance -----

    pub(super) async fn create_work_order(&mut self, actor: &Actor, order: &WorkOrder, account: Option<&UserRecord>) -> Result<Reply> {
        self.allow(actor, P::UserManage)?;
        order.validate()?;
        if !order.id.bytes().all(|b| b.is_ascii_hexdigit()) || order.id.len() != 32 {
            return Err(DomainError::invalid("id", "32 hexadecimal digits").into());
        }
        let supervisor = self.user(&order.supervisor).await.map_err(|_| DomainError::invalid("supervisor", "no such account"))?;
        if supervisor.kind != AccountKind::Staff || supervisor.disabled {
            return Err(DomainError::invalid("supervisor", "the supervisor must be an enabled member of staff").into());
        }
        self.account_of_kind(actor, &order.account, account, AccountKind::Maintenance).await?;
        let overlapping = self
            .tx
            .list_work_orders()
            .await?
            .into_iter()
            .any(|o| o.account == order.account && o.starts_at < order.ends_at && order.starts_at < o.ends_at);
        if overlapping {
            return Err(StoreError::Conflict("the account has another work order in this window".into()));
        }
        let order = WorkOrder { seq: self.seq, created_at: self.now, created_by: actor.username.to_string(), ..order.clone() };
        self.tx.insert_work_order(&order).await?;
        let detail = format!(
            "work_order={} account={} vendor={} supervisor={} from={} to={} clinical={}",
            order.id,
            order.account,
            order.vendor,
            order.supervisor,
            order.starts_at.to_rfc3339(),
            order.ends_at.to_rfc3339(),
            order.scope.is_clinical()
        );
        self.audit(actor, A::WorkOrderCreate, None, None, None, Some(detail), Some(hash_of(&order))).await?;
        Ok(Reply::WorkOrders(vec![WorkOrderStatus { order, signoff: None }]))
    }

    /// The order a maintenance login may open now, or why not (already recorded as `access_refused`).
    pub(super) async fn open_work_order(&mut self, actor: &Actor) -> Result<std::result::Result<WorkOrder, String>> {
        let signed: Vec<String> = self.tx.list_work_order_signoffs().await?.into_iter().map(|s| s.order_id).collect();
        let orders = self.tx.list_work_orders().await?;
        let open = orders.into_iter().find(|o| o.account == actor.username && o.is_open(self.now) && !signed.contains(&o.id));
        let refused = Actor { session: None, ..actor.clone() };
        let Some(order) = open else {
            self.audit_as(&refused, A::AccessRefused, Outcome::Denied, "maintenance:outside_window").await?;
            return Ok(Err("no work order is open for this maintenance account now: it may log in only inside its window".into()));
        };
        if !order.allows_addr(actor.client_addr.as_deref()) {
            self.audit_as(&refused, A::AccessRefused, Outcome::Denied, &format!("maintenance:network work_order={}", order.id)).await?;
            return Ok(Err("this maintenance account may log in only from its work order's networks".into()));
        }
        Ok(Ok(order))
    }

    /// Whether the actor sees every order (user.manage or audit.read) or only those it supervises.
    fn sees_all_orders(&self, actor: &Actor) -> bool {
        self.allow(actor, P::UserManage).is_ok() || self.allow(actor, P::AuditRead).is_ok()
    }

    pub(super) async fn list_work_orders(&mut self, actor: &Actor) -> Result<Reply> {
        let all = self.sees_all_orders(actor);
        let signoffs = self.tx.list_work_order_signoffs().await?;
        let orders: Vec<WorkOrderStatus> = self
            .tx
            .list_work_orders()
            .await?
            .into_iter()
            .filter(|o| all || o.supervisor == actor.username)
            .map(|order| {
                let signoff = signoffs.iter().find(|s| s.order_id == order.id).cloned();
                WorkOrderStatus { order, signoff }
            })
            .collect();
        self.audit(actor, A::WorkOrderRead, None, None, None, Some(format!("list count={}", orders.len())), None).await?;
        Ok(Reply::WorkOrders(orders))
    }

    /// The check-off list as it stands: the order, its sessions and the account's events.
    async fn check_off_list(&mut self, actor: &Actor, id: &str) -> Result<(CheckOffList, Option<WorkOrderSignoff>)> {
        let order = self.tx.get_work_order(id).await?.ok_or(StoreError::NotFound("work order"))?;
        if order.supervisor != actor.username && !self.sees_all_orders(actor) {
            return Err(StoreError::NotFound("work order"));
        }
        let prefix = WorkOrder::session_prefix(&order.id);
        let sessions: Vec<WorkSession> =
            self.tx.sessions_with_prefix(order.account.as_str(), &prefix).await?.iter().map(WorkSession::from).collect();
        let filter = AuditFilter { user: Some(order.account.to_string()), from: Some(order.starts_at), ..Default::default() };
        let mut events = self.tx.query_audit(&filter, 10_000).await?;
        let marker = format!("work_order={}", order.id);
        events.retain(|e| {
            e.session.as_deref().is_some_and(|s| s.starts_with(&prefix)) || e.detail.as_deref().is_some_and(|d| d.contains(&marker))
        });
        events.reverse();
        let signoff = self.tx.get_work_order_signoff(id).await?;
        Ok((CheckOffList { order, sessions, events }, signoff))
    }

    pub(super) async fn work_order_report(&mut self, actor: &Actor, id: &str) -> Result<Reply> {
        let (list, signoff) = self.check_off_list(actor, id).await?;
        let report_hash = hash_of(&list);
        let detail = format!("work_order={id} sessions={} events={}", list.sessions.len(), list.events.len());
        self.audit(actor, A::WorkOrderRead, None, None, None, Some(detail), Some(report_hash.clone())).await?;
        Ok(Reply::WorkOrderReport(Box::new(WorkOrderReport { list, report_hash, signoff })))
    }

    pub(super) async fn sign_off_work_order(&mut self, actor: &Actor, id: &str, report_hash: &str, comment: &str) -> Result<Reply> {
        let (list, signoff) = self.check_off_list(actor, id).await?;
        if list.order.supervisor != actor.username {
            return Err(StoreError::Conflict("only the supervisor named on the work order signs its report off".into()));
        }
        if signoff.is_some() {
            return Err(StoreError::Conflict("this work order was signed off already".into()));
        }
        if self.now < list.order.ends_at {
            return Err(StoreError::Conflict("the work order's window has not ended yet; sign it off after the work".into()));
        }
        if list.sessions.iter().any(|s| s.is_open(self.now)) {
            return Err(StoreError::Conflict("a session of the work is still open; end it first".into()));
        }
        let current = hash_of(&list);
        check_signed_hash(&current, report_hash)?;
        check_comment(comment)?;
        let signoff = WorkOrderSignoff {
            order_id: id.to_string(),
            signed_by: actor.username.clone(),
            signed_at: self.now,
            report_hash: current.clone(),
            comment: comment.trim().to_string(),
            seq: self.seq,
        };
        self.tx.insert_work_order_signoff(&signoff).await?;
        let detail = format!("work_order={id} sessions={} events={} comment={}", list.sessions.len(), list.events.len(), signoff.comment);
        self.audit(actor, A::WorkOrderSignoff, None, None, None, Some(detail), Some(current.clone())).await?;
        Ok(Reply::WorkOrderReport(Box::new(WorkOrderReport { list, report_hash: current, signoff: Some(signoff) })))
    }

    // ----- API tokens -----

    pub(super) async fn create_api_token(&mut self, actor: &Actor, token: &ApiTokenRecord, account: Option<&UserRecord>) -> Result<Reply> {
        self.allow(actor, P::UserManage)?;
        if token.scope.permissions.is_empty() {
            return Err(DomainError::invalid("permissions", "name at least one permission").into());
        }
        if token.expires_at <= self.now || token.expires_at > self.now.plus_seconds(MAX_TOKEN_DAYS * 86_400) {
            return Err(DomainError::invalid("expires_at", format!("must be in the future and within {MAX_TOKEN_DAYS} days")).into());
        }
        self.account_of_kind(actor, &token.username, account, AccountKind::Service).await?;
        let token = ApiTokenRecord {
            created_at: self.now,
            created_by: actor.username.to_string(),
            revoked_at: None,
            revoked_by: None,
            last_used_at: None,
            ..token.clone()
        };
        self.tx.insert_api_token(&token).await?;
        let perms: Vec<&str> = token.scope.permissions.iter().map(|p| p.as_str()).collect();
        let detail = format!(
            "token={} account={} permissions={} until={}",
            token.id,
            token.username,
            perms.join(","),
            token.expires_at.to_rfc3339()
        );
        self.audit(actor, A::ApiTokenCreate, None, None, None, Some(detail), None).await?;
        Ok(Reply::ApiTokens(vec![token]))
    }

    pub(super) async fn list_api_tokens(&mut self, actor: &Actor) -> Result<Reply> {
        self.allow(actor, P::UserManage)?;
        let mut tokens = self.tx.list_api_tokens().await?;
        for token in &mut tokens {
            // Its uses are the service account's events in the token's session.
            let filter = AuditFilter {
                user: Some(token.username.to_string()),
                outcome: Some(Outcome::Success),
                from: Some(token.created_at),
                ..Default::default()
            };
            let session = format!("token-{}", token.id);
            let events = self.tx.query_audit(&filter, 500).await?;
            token.last_used_at = events.iter().find(|e| e.session.as_deref() == Some(session.as_str())).map(|e| e.time);
        }
        self.audit(actor, A::ApiTokenList, None, None, None, Some(format!("count={}", tokens.len())), None).await?;
        Ok(Reply::ApiTokens(tokens))
    }

    pub(super) async fn revoke_api_token(&mut self, actor: &Actor, id: &str) -> Result<Reply> {
        self.allow(actor, P::UserManage)?;
        if !self.tx.revoke_api_token(id, self.now.as_micros(), actor.username.as_str()).await? {
            return Err(StoreError::NotFound("API token (or revoked already)"));
        }
        self.audit(actor, A::ApiTokenRevoke, None, None, None, Some(format!("token={id}")), None).await?;
        Ok(Reply::Done)
    }

    // ----- factor resets -----

    pub(super) async fn issue_factor_reset(&mut self, actor: &Actor, reset: &FactorResetRecord) -> Result<Reply> {
        self.allow(actor, P::UserManage)?;
        let user = self.user(&reset.username).await?;
        if user.kind != AccountKind::Staff {
            return Err(DomainError::invalid("username", "second factors are reset for staff accounts only").into());
        }
        let reset = FactorResetRecord {
            issued_by: actor.username.to_string(),
            issued_at: self.now,
            expires_at: self.now.plus_seconds(FACTOR_RESET_SECONDS),
            approved_by: None,
            approved_at: None,
            used_at: None,
            ..reset.clone()
        };
        self.tx.insert_factor_reset(&reset).await?;
        let detail = format!("reset={} user={} until={}", reset.id, reset.username, reset.expires_at.to_rfc3339());
        self.audit(actor, A::FactorResetIssue, None, None, None, Some(detail), None).await?;
        Ok(Reply::FactorResets(vec![reset]))
    }

    pub(super) async fn list_factor_resets(&mut self, actor: &Actor) -> Result<Reply> {
        self.allow(actor, P::UserManage)?;
        let resets = self.tx.list_factor_resets().await?;
        self.audit(actor, A::FactorResetIssue, None, None, None, Some(format!("list count={}", resets.len())), None).await?;
        Ok(Reply::FactorResets(resets))
    }

    pub(super) async fn approve_factor_reset(&mut self, actor: &Actor, id: &str) -> Result<Reply> {
        self.allow(actor, P::UserManage)?;
        let mut reset = self.tx.list_factor_resets().await?.into_iter().find(|r| r.id == id).ok_or(StoreError::NotFound("factor reset"))?;
        if reset.issued_by == actor.username.as_str() {
            return Err(StoreError::Conflict("a second, different administrator must approve the reset".into()));
        }
        if reset.username == actor.username {
            return Err(StoreError::Conflict("a reset of one's own factors is approved by someone else".into()));
        }
        if reset.approved_at.is_some() || reset.used_at.is_some() || self.now >= reset.expires_at {
            return Err(StoreError::Conflict("the reset was approved or used already, or has expired".into()));
        }
        reset.approved_by = Some(actor.username.to_string());
        reset.approved_at = Some(self.now);
        self.tx.update_factor_reset(&reset).await?;
        let detail = format!("reset={} user={} issued_by={}", reset.id, reset.username, reset.issued_by);
        self.audit(actor, A::FactorResetApprove, None, None, None, Some(detail), None).await?;
        Ok(Reply::FactorResets(vec![reset]))
    }

    pub(super) async fn use_factor_reset(&mut self, actor: &Actor, code_hash: &str) -> Result<Reply> {
        let session = self.own_session(actor).await?;
        if session.stage != SessionStage::SecondFactor {
            return Err(StoreError::Conflict("a reset is used at the second step of a login".into()));
        }
        let found = self.tx.list_factor_resets().await?.into_iter().find(|r| r.username == actor.username && r.code_hash == code_hash);
        let Some(mut reset) = found else { return Err(StoreError::NotFound("factor reset")) };
        if reset.approved_at.is_none() {
            return Err(StoreError::Conflict("the reset waits for a second administrator's approval".into()));
        }
        if reset.used_at.is_some() || self.now >= reset.expires_at {
            return Err(StoreError::Conflict("the reset was used already or has expired".into()));
        }
        reset.used_at = Some(self.now);
        self.tx.update_factor_reset(&reset).await?;
        let factors = self.tx.list_second_factors(actor.username.as_str()).await?;
        for mut factor in factors.iter().cloned() {
            factor.removed_at = Some(self.now);
            self.tx.update_second_factor(&factor).await?;
        }
        // Security keys go too (a lost key is the usual reason), each by a removal event.
        let keys: Vec<WebauthnKey> =
            self.tx.list_webauthn_keys(actor.username.as_str()).await?.into_iter().filter(|k| k.active()).collect();
        for key in &keys {
            self.append_webauthn_removal(actor, key).await?;
        }
        self.tx.replace_recovery_codes(actor.username.as_str(), &[], self.now.as_micros()).await?;
        self.tx.revoke_other_sessions(actor.username.as_str(), &session.id, self.now.as_micros()).await?;
        // The session may only enrol a new factor now.
        self.tx.set_session_stage(&session.id, SessionStage::Enrol.as_str(), None).await?;
        let detail = format!(
            "reset={} factors_removed={} approved_by={}",
            reset.id,
            factors.len() + keys.len(),
            reset.approved_by.clone().unwrap_or_default()
        );
        self.audit(actor, A::FactorResetUse, None, None, None, Some(detail), None).await?;
        Ok(Reply::Done)
    }

    // ----- access review -----

    /// Administrators and auditors review accounts.
    fn allow_review(&self, actor: &Actor) -> Result<()> {
        self.allow(actor, P::UserManage).or_else(|_| self.allow(actor, P::AuditRead))
    }

    async fn access_report(&mut self, actor: &Actor, unused_days: i64) -> Result<AccessReport> {
        self.allow_review(actor)?;
        if !(0..=3650).contains(&unused_days) {
            return Err(DomainError::invalid("unused_days", "must be between 0 and 3650").into());
        }
        let since = self.now.plus_seconds(-unused_days * 86_400);
        let markers = self.tx.list_left_markers().await?;
        let mut accounts = Vec::new();
        for user in self.tx.list_users().await? {
            let mut second_factors: Vec<String> = self
                .tx
                .list_second_factors(user.username.as_str())
                .await?
                .into_iter()
                .filter(|f| f.confirmed_at.is_some())
                .map(|f| f.kind)
                .collect();
            if self.tx.list_webauthn_keys(user.username.as_str()).await?.iter().any(WebauthnKey::active) {
                second_factors.push("webauthn".into());
            }
            let left_on = markers.iter().rev().find(|m| m.username == user.username).map(|m| m.left_on.clone());
            let last = user.last_login_at.unwrap_or(user.created_at);
            accounts.push(AccessRow {
                unused: !user.disabled && last < since,
                left: !user.disabled && left_on.is_some(),
                username: user.username,
                display_name: user.display_name,
                role: user.role,
                kind: user.kind,
                disabled: user.disabled,
                created_at: user.created_at,
                last_login_at: user.last_login_at,
                second_factors,
                left_on,
            });
        }
        Ok(AccessReport { unused_days, accounts })
    }

    fn review_detail(report: &AccessReport) -> String {
        let count = |f: fn(&AccessRow) -> bool| report.accounts.iter().filter(|r| f(r)).count();
        format!(
            "unused_days={} accounts={} unused={} left={}",
            report.unused_days,
            report.accounts.len(),
            count(|r| r.unused),
            count(|r| r.left)
        )
    }

    pub(super) async fn access_review(&mut self, actor: &Actor, unused_days: i64) -> Result<Reply> {
        let report = self.access_report(actor, unused_days).await?;
        self.audit(actor, A::AccessReview, None, None, None, Some(Self::review_detail(&report)), Some(hash_of(&report))).await?;
        Ok(Reply::AccessReport(Box::new(report)))
    }

    pub(super) async fn sign_off_access_review(
        &mut self,
        actor: &Actor,
        unused_days: i64,
        report_hash: &str,
        comment: &str,
    ) -> Result<Reply> {
        let report = self.access_report(actor, unused_days).await?;
        let current = hash_of(&report);
        check_signed_hash(&current, report_hash)?;
        check_comment(comment)?;
        let detail = format!("{} comment={}", Self::review_detail(&report), comment.trim());
        let ev = event(self.now, Some(actor), A::AccessReviewSignoff, Outcome::Success, None, None, None, Some(detail), Some(current));
        let recorded = self.log.append_event(self.seq, ev);
        Ok(Reply::Audit(vec![recorded]))
    }

    pub(super) async fn mark_left(&mut self, actor: &Actor, username: &Username, left_on: &str) -> Result<Reply> {
        self.allow(actor, P::UserManage)?;
        let is_date = left_on.len() == 10 && Timestamp::parse_rfc3339(&format!("{left_on}T00:00:00Z")).is_some();
        if !is_date {
            return Err(DomainError::invalid("left_on", "a date as YYYY-MM-DD").into());
        }
        self.user(username).await?;
        let marker = LeftMarker {
            username: username.clone(),
            left_on: left_on.to_string(),
            recorded_by: actor.username.to_string(),
            recorded_at: self.now,
            seq: self.seq,
        };
        self.tx.insert_left_marker(&marker).await?;
        self.audit(actor, A::UserLeft, None, None, None, Some(format!("user={username} left_on={left_on}")), None).await?;
        Ok(Reply::Done)
    }
}
