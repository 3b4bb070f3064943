//! Audit events: who did what to which record, when, from where, with what outcome (T1-4.2).

use serde::{Deserialize, Serialize};

use crate::Timestamp;

macro_rules! actions {
    ($($variant:ident = $wire:literal / $ja:literal),+ $(,)?) => {
        /// Everything that leaves an audit event. Reads and searches are actions too.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum AuditAction { $($variant),+ }

        impl AuditAction {
            pub const ALL: &'static [AuditAction] = &[$(AuditAction::$variant),+];
            pub fn as_str(self) -> &'static str { match self { $(AuditAction::$variant => $wire),+ } }
            pub fn label_ja(self) -> &'static str { match self { $(AuditAction::$variant => $ja),+ } }
            pub fn parse(s: &str) -> Option<Self> { match s { $($wire => Some(AuditAction::$variant),)+ _ => None } }
        }
    };
}

actions! {
    Login = "login" / "ログイン",
    LoginFailed = "login_failed" / "ログイン失敗",
    Lockout = "lockout" / "アカウントロック",
    Logout = "logout" / "ログアウト",
    PasswordChange = "password_change" / "パスワード変更",
    UserCreate = "user_create" / "利用者登録",
    UserUpdate = "user_update" / "利用者変更",
    UserDisable = "user_disable" / "利用者無効化",
    UserUnlock = "user_unlock" / "ロック解除",
    UserList = "user_list" / "利用者一覧の参照",
    RoleChange = "role_change" / "権限変更",
    RoleRead = "role_read" / "権限表の参照",
    PatientCreate = "patient_create" / "患者登録",
    PatientSearch = "patient_search" / "患者検索",
    PatientRead = "patient_read" / "患者情報の参照",
    DocumentList = "document_list" / "文書一覧の参照",
    DocumentCreate = "document_create" / "文書作成",
    DocumentRead = "document_read" / "文書の参照",
    DocumentUpdate = "document_update" / "下書きの更新",
    DocumentConfirm = "document_confirm" / "確定",
    DocumentApprove = "document_approve" / "代行入力の承認",
    DocumentAmend = "document_amend" / "修正（新版）",
    DocumentDelete = "document_delete" / "削除",
    VersionList = "version_list" / "版履歴の参照",
    VersionRead = "version_read" / "版の参照",
    AttachmentAdd = "attachment_add" / "添付ファイル追加",
    AttachmentRead = "attachment_read" / "添付ファイルの参照",
    AuditQuery = "audit_query" / "監査証跡の参照",
    AuditExport = "audit_export" / "監査証跡の出力",
    ApprovalQueue = "approval_queue" / "承認待ち一覧の参照",
    FixityCheck = "fixity_check" / "定期整合性検査",
    AuditReview = "audit_review" / "監査レビュー報告の参照",
    AuditReviewSignoff = "audit_review_signoff" / "監査レビューの確認記録",
    Backup = "backup" / "バックアップ取得",
    BackupVerify = "backup_verify" / "バックアップ検証",
    Restore = "restore" / "リストア",
    RestoreDrill = "restore_drill" / "リストア訓練",
    RecordExport = "record_export" / "見読用出力",
    SecondFactorEnrol = "second_factor_enrol" / "二要素認証の登録",
    SecondFactorRemove = "second_factor_remove" / "二要素認証の解除",
    MfaPolicyChange = "mfa_policy_change" / "二要素認証方針の変更",
    SessionList = "session_list" / "セッション一覧の参照",
    SessionRevoke = "session_revoke" / "セッションの終了",
    AccessRefused = "access_refused" / "接続元による拒否",
    TimestampAdd = "timestamp_add" / "タイムスタンプ付与",
    TimestampRenew = "timestamp_renew" / "アーカイブタイムスタンプ付与",
    SignatureAdd = "signature_add" / "電子署名",
    BreakGlassUse = "break_glass_use" / "緊急時アカウントの使用",
    BreakGlassReseal = "break_glass_reseal" / "緊急時アカウントの再封印",
    EmergencyModeEnter = "emergency_mode_enter" / "縮退運用の開始",
    EmergencyModeLeave = "emergency_mode_leave" / "縮退運用の終了",
    LocationRegisterRead = "location_register_read" / "情報の所在一覧の参照",
    LocationRegisterChange = "location_register_change" / "情報の所在の登録・変更",
    WorkOrderCreate = "work_order_create" / "保守作業指示の登録",
    WorkOrderRead = "work_order_read" / "保守作業指示・作業報告の参照",
    WorkOrderSignoff = "work_order_signoff" / "作業報告確認",
    ApiTokenCreate = "api_token_create" / "APIトークンの発行",
    ApiTokenRevoke = "api_token_revoke" / "APIトークンの失効",
    ApiTokenList = "api_token_list" / "APIトークン一覧の参照",
    FactorResetIssue = "factor_reset_issue" / "二要素認証リセットの発行",
    FactorResetApprove = "factor_reset_approve" / "二要素認証リセットの承認",
    FactorResetUse = "factor_reset_use" / "二要素認証リセットの使用",
    UserLeft = "user_left" / "退職の記録",
    AccessReview = "access_review" / "アカウント棚卸し報告の参照",
    AccessReviewSignoff = "access_review_signoff" / "アカウント棚卸しの確認記録",
    ChecklistSignoff = "checklist_signoff" / "チェックリストの確認記録",
    ChecklistAttest = "checklist_attest" / "チェックリスト項目の手動確認",
    GovernanceRead = "governance_read" / "運用管理規程・施設情報の参照",
    GovernanceProfileChange = "governance_profile_change" / "施設情報（規程の前提）の変更",
    RegulationGenerate = "regulation_generate" / "運用管理規程の生成",
    RegulationApprove = "regulation_approve" / "運用管理規程の承認",
    ScanTypeChange = "scan_type_change" / "スキャン文書種別の登録・変更",
    ScanPaperReceive = "scan_paper_receive" / "スキャン対象書類の受付",
    ScanAdd = "scan_add" / "スキャン文書の取込",
    ScanRegisterRead = "scan_register_read" / "スキャン台帳の参照",
    ScanOriginalKeep = "scan_original_keep" / "原本の保管記録",
    ScanOriginalDispose = "scan_original_dispose" / "原本廃棄の承認",
    ScanOriginalDisposeRequest = "scan_original_dispose_request" / "原本廃棄の申請",
    LedgerRead = "ledger_read" / "台帳の参照",
    LedgerCreate = "ledger_create" / "台帳の記録",
    LedgerRevise = "ledger_revise" / "台帳の修正（新版）",
    LedgerApprove = "ledger_approve" / "台帳の承認・確認",
    LedgerEvent = "ledger_event" / "台帳の経過記録",
    LedgerAttachmentAdd = "ledger_attachment_add" / "台帳への添付",
    LedgerAttachmentRead = "ledger_attachment_read" / "台帳の添付ファイルの参照",
}

/// How an attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Success,
    /// Refused by the permission matrix or the lifecycle rules.
    Denied,
    /// Failed for another reason: wrong password, invalid input, conflict.
    Failed,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Denied => "denied",
            Outcome::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Outcome::Success, Outcome::Denied, Outcome::Failed].into_iter().find(|o| o.as_str() == s)
    }
}

/// One audit event as stored. `id` is gap-free and global; `seq` is the write transaction it belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEvent {
    pub id: i64,
    pub seq: i64,
    pub time: Timestamp,
    pub user: Option<String>,
    pub role: Option<String>,
    pub session: Option<String>,
    pub client_addr: Option<String>,
    pub action: AuditAction,
    pub patient_id: Option<String>,
    pub document_id: Option<String>,
    pub version: Option<i64>,
    pub outcome: Outcome,
    /// Short, non-clinical detail: a reason code, a search's length, a changed grant.
    pub detail: Option<String>,
    /// The content hash of the version or file the event wrote or read.
    pub content_hash: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn action_names_round_trip() {
        for a in AuditAction::ALL {
            assert_eq!(AuditAction::parse(a.as_str()), Some(*a));
            assert_eq!(serde_json::to_value(a).expect("json"), serde_json::json!(a.as_str()));
        }
    }
}
