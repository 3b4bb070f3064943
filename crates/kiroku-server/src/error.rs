//! `ApiError`: every failure a client can see, as RFC 9457 problem details.
//!
//! | cause                                   | status | type                         |
//! |-----------------------------------------|--------|------------------------------|
//! | invalid field, unknown field, wrong type| 422    | /problems/validation         |
//! | malformed JSON, invalid UTF-8           | 400    | /problems/malformed          |
//! | wrong Content-Type                      | 415    | /problems/unsupported-media  |
//! | body over the limit                     | 413    | /problems/too-large          |
//! | no or bad credentials, expired session  | 401    | /problems/unauthenticated    |
//! | login refused                           | 401    | /problems/login-failed       |
//! | permission matrix or lifecycle refusal  | 403    | /problems/forbidden          |
//! | password change required first         | 403    | /problems/password-change-required |
//! | second factor of the login still due    | 401    | /problems/second-factor-required |
//! | wrong or replayed code                  | 401    | /problems/second-factor-failed |
//! | role requires 2FA, none enrolled        | 403    | /problems/second-factor-enrolment-required |
//! | break-glass without reason, or expired  | 403    | /problems/break-glass-refused |
//! | source network not allowed              | 403    | /problems/network-refused    |
//! | maintenance outside its work order      | 403    | /problems/maintenance-refused |
//! | unknown, or restricted information class| 404    | /problems/not-found          |
//! | state conflict                          | 409    | /problems/conflict           |
//! | stale If-Match                          | 409    | /problems/stale-version      |
//! | emergency read-only mode, a change      | 503    | /problems/emergency-read-only |
//! | output this build leaves out (PDF)      | 501    | /problems/not-built          |
//! | PDF without Japanese fonts installed    | 503    | /problems/document-unavailable |
//! | anything internal                       | 500    | /problems/internal           |
//!
//! Internal causes are logged with a request id and never sent.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use kiroku_core::DomainError;
use kiroku_core::access::Denied;
use kiroku_core::document::LifecycleError;
use kiroku_store::StoreError;
use serde_json::{Value, json};

/// The fixed part of a problem: status, type and titles.
#[derive(Debug)]
pub struct Problem {
    pub status: StatusCode,
    pub kind: &'static str,
    pub title: &'static str,
    pub title_ja: &'static str,
}

#[derive(Debug)]
pub struct ApiError {
    pub problem: Box<Problem>,
    pub detail: String,
    pub field: Option<String>,
    pub extra: Option<Box<Value>>,
}

impl ApiError {
    fn new(status: StatusCode, kind: &'static str, title: &'static str, title_ja: &'static str, detail: impl Into<String>) -> Self {
        ApiError { problem: Box::new(Problem { status, kind, title, title_ja }), detail: detail.into(), field: None, extra: None }
    }

    pub fn status(&self) -> StatusCode {
        self.problem.status
    }

    pub fn validation(field: impl Into<String>, detail: impl Into<String>) -> Self {
        let mut e = Self::new(StatusCode::UNPROCESSABLE_ENTITY, "validation", "invalid input", "入力内容に誤りがあります", detail);
        e.field = Some(field.into());
        e
    }

    pub fn malformed(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "malformed", "malformed request", "リクエストの形式が正しくありません", detail)
    }

    pub fn unsupported_media(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported-media", "unsupported media type", "対応していない形式です", detail)
    }

    pub fn too_large(limit: u64) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too-large",
            "request too large",
            "サイズが上限を超えています",
            format!("the limit is {limit} bytes"),
        )
    }

    pub fn unauthenticated(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthenticated", "authentication required", "ログインが必要です", detail)
    }

    pub fn login_failed() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "login-failed",
            "login failed",
            "ログインできませんでした",
            "the user name or password is wrong, or the account is locked or disabled; repeated failures lock the account",
        )
    }

    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", "forbidden", "この操作を行う権限がありません", detail)
    }

    pub fn password_change_required() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "password-change-required",
            "password change required",
            "パスワードの変更が必要です",
            "change the password with POST /api/v1/auth/password before anything else",
        )
    }

    pub fn second_factor_required() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "second-factor-required",
            "second factor required",
            "二要素認証のコードを入力してください",
            "send the authenticator code or a recovery code with POST /api/v1/auth/second-factor",
        )
    }

    pub fn break_glass_refused(detail: impl Into<String>) -> Self {
        let detail = detail.into();
        let ja = if detail.contains("re-seal") {
            "この緊急時アカウントは使用済みで期限が切れています。システム管理者による再封印（新しいパスワード）が必要です。"
        } else {
            "緊急時アカウントは緊急時にのみ使用できます。「緊急時の利用理由」を入力してください。"
        };
        let mut e = Self::new(
            StatusCode::FORBIDDEN,
            "break-glass-refused",
            "break-glass account refused",
            "緊急時アカウントは使用できません",
            detail,
        );
        e.extra = Some(Box::new(json!({ "detail_ja": ja })));
        e
    }

    /// A maintenance account outside its work order's window or networks.
    pub fn maintenance_refused(detail: impl Into<String>) -> Self {
        let detail = detail.into();
        let ja = if detail.contains("networks") {
            "この保守用アカウントは作業指示で認められた接続元からのみ利用できます。"
        } else {
            "この保守用アカウントは作業指示の作業時間内にのみ利用できます。"
        };
        let mut e = Self::new(
            StatusCode::FORBIDDEN,
            "maintenance-refused",
            "maintenance account refused",
            "保守用アカウントは利用できません",
            detail,
        );
        e.extra = Some(Box::new(json!({ "detail_ja": ja })));
        e
    }

    pub fn second_factor_failed() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "second-factor-failed",
            "second factor failed",
            "確認コードが正しくありません",
            "the code is wrong or was used already; repeated failures lock the account",
        )
    }

    pub fn enrolment_required() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "second-factor-enrolment-required",
            "second factor enrolment required",
            "二要素認証の登録が必要です",
            "your role requires a second factor: register one with POST /api/v1/auth/totp before anything else",
        )
    }

    pub fn network_refused() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "network-refused",
            "not allowed from this network",
            "この接続元からは利用できません",
            "this account may not be used from this address; the refusal was recorded",
        )
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not-found", "not found", "見つかりません", format!("{what} not found"))
    }

    pub fn no_route() -> Self {
        Self::new(StatusCode::NOT_FOUND, "no-route", "no such endpoint", "該当する機能がありません", "see /api/openapi.json")
    }

    pub fn method_not_allowed() -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method-not-allowed",
            "method not allowed",
            "この操作はできません",
            "see /api/openapi.json",
        )
    }

    pub fn conflict(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "conflict", "conflict", "現在の状態ではこの操作はできません", detail)
    }

    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error",
            "システムエラーが発生しました",
            "the error was logged; please tell the system administrator",
        )
    }

    /// A change refused because kiroku is in emergency read-only mode (縮退運用): says since when,
    /// why, what still works and whom to ask, in both languages.
    pub fn read_only(mode: &kiroku_store::operations::EmergencyState) -> Self {
        let since = mode.since.to_rfc3339();
        let mut e = Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "emergency-read-only",
            "emergency read-only mode",
            "縮退運用中のため、記録の登録・変更はできません",
            format!(
                "kiroku is in emergency read-only mode since {since} ({}): records can be read, searched, printed and exported,                  but nothing can be registered or changed. Ask the system administrator; record on paper until the mode ends.",
                mode.reason
            ),
        );
        let ja = format!(
            "{} から縮退運用（読み取り専用）に切り替わっています（理由: {}）。記録の参照・検索・印刷・出力はできますが、登録・変更はできません。\
             システム管理者に連絡し、解除されるまでは紙に記録してください。",
            crate::web::page::jst(mode.since),
            mode.reason
        );
        e.extra = Some(Box::new(json!({ "detail_ja": ja, "since": since, "reason": mode.reason, "entered_by": mode.entered_by })));
        e
    }

    /// An output this build of kiroku was compiled without (the `pdf` feature).
    pub fn not_built(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_IMPLEMENTED, "not-built", "not in this build", "この機能は組み込まれていません", detail)
    }

    /// A document the machine cannot make now (no Japanese font installed).
    pub fn document_unavailable(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "document-unavailable", "document unavailable", "文書を作成できません", detail)
    }

    pub fn unavailable() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "service unavailable",
            "現在利用できません",
            "the server is shutting down or overloaded; try again",
        )
    }
}

impl From<DomainError> for ApiError {
    fn from(e: DomainError) -> Self {
        let DomainError::Invalid { field, reason } = e;
        ApiError::validation(field, reason)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Invalid(d) => d.into(),
            // A restricted class answers like an unknown document: its existence is not revealed.
            StoreError::Denied(Denied::Class { .. } | Denied::ScopeClass { .. }) => ApiError::not_found("document"),
            StoreError::Denied(d @ (Denied::Permission { .. } | Denied::ConsoleOnly | Denied::Scope { .. } | Denied::OwnEntry)) => {
                ApiError::forbidden(d.to_string())
            }
            StoreError::NotFound(what) => ApiError::not_found(what),
            StoreError::Conflict(msg) => ApiError::conflict(msg),
            StoreError::Lifecycle(l @ (LifecycleError::NotNamedClinician | LifecycleError::NotAuthor)) => {
                ApiError::forbidden(l.to_string())
            }
            StoreError::Lifecycle(l) => ApiError::conflict(l.to_string()),
            StoreError::Stale { current } => {
                let mut e = ApiError::new(
                    StatusCode::CONFLICT,
                    "stale-version",
                    "the document has changed",
                    "他の利用者が先に更新しました。最新の内容を確認してください",
                    format!("the current version is {current}"),
                );
                e.extra = Some(Box::new(json!({ "current_version": current })));
                e
            }
            StoreError::Unauthenticated => ApiError::unauthenticated("the session is not valid"),
            StoreError::WriterGone | StoreError::Unsupported(_) => ApiError::unavailable(),
            StoreError::ReadOnly(mode) => ApiError::read_only(&mode),
            StoreError::Database(cause) | StoreError::Corrupt(cause) => {
                tracing::error!(%cause, "store failure");
                ApiError::internal()
            }
        }
    }
}

impl From<kiroku_blob::BlobError> for ApiError {
    fn from(e: kiroku_blob::BlobError) -> Self {
        match e {
            kiroku_blob::BlobError::TooLarge { limit } => ApiError::too_large(limit),
            kiroku_blob::BlobError::BadHash(_) => ApiError::not_found("file"),
            kiroku_blob::BlobError::Io { path, source } => {
                tracing::error!(path = %path.display(), %source, "blob store failure");
                ApiError::internal()
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let p = &self.problem;
        let mut body = json!({
            "type": format!("/problems/{}", p.kind),
            "title": p.title,
            "title_ja": p.title_ja,
            "status": p.status.as_u16(),
            "detail": self.detail,
        });
        if let Some(field) = self.field {
            body["field"] = json!(field);
        }
        if let Some(Value::Object(extra)) = self.extra.map(|b| *b) {
            for (k, v) in extra {
                body[k] = v;
            }
        }
        let status = self.problem.status;
        let mut response = (status, Json(body)).into_response();
        response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            // The rest of the body was not read; the connection cannot carry another request.
            response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        response
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
