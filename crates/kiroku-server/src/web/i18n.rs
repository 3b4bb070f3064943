//! The words of the web pages in Japanese (the default) and English, and readable explanations of
//! errors. Templates look texts up by key; a test checks that every key they use exists.

use axum::http::{HeaderMap, header};
use kiroku_core::{AuditAction, DocumentStatus, InfoClass, Permission, Role};

use crate::error::ApiError;

/// The language a page is shown in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Ja,
    En,
}

/// The cookie that remembers the language chosen with the toggle.
pub const LANG_COOKIE: &str = "kiroku_lang";

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Lang::Ja => "ja",
            Lang::En => "en",
        }
    }

    pub fn parse(s: &str) -> Option<Lang> {
        match s {
            "ja" => Some(Lang::Ja),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    /// The toggle's choice if made, otherwise the browser's first preference; Japanese unless the
    /// browser prefers English, because the staff of a Japanese hospital are the users.
    pub fn of_request(headers: &HeaderMap) -> Lang {
        if let Some(lang) = super::page::cookie(headers, LANG_COOKIE).and_then(Lang::parse) {
            return lang;
        }
        let accept = headers.get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok()).unwrap_or("");
        let first = accept.split(',').next().unwrap_or("").trim().to_ascii_lowercase();
        if first.starts_with("en") { Lang::En } else { Lang::Ja }
    }

    pub fn other(self) -> Lang {
        match self {
            Lang::Ja => Lang::En,
            Lang::En => Lang::Ja,
        }
    }

    /// The key's text in this language from the shared table; "??" when missing (the tidy test
    /// prevents that).
    pub fn t(self, key: &str) -> &'static str {
        self.pick(TEXTS, key)
    }

    /// The key's text in this language from a table of words: the shared one, or a page module's
    /// own table kept beside its handlers (checklist, ledgers, …), checked by
    /// `assert_texts_complete` in that module's tests.
    pub fn pick(self, table: &'static Texts, key: &str) -> &'static str {
        match table.iter().find(|(k, _, _)| *k == key) {
            Some((_, ja, en)) => match self {
                Lang::Ja => ja,
                Lang::En => en,
            },
            None => "??",
        }
    }

    pub fn role(self, r: Role) -> &'static str {
        match self {
            Lang::Ja => r.label_ja(),
            Lang::En => match r {
                Role::Doctor => "Doctor",
                Role::Nurse => "Nurse",
                Role::Pharmacist => "Pharmacist",
                Role::Clerk => "Medical clerk",
                Role::Admin => "System administrator",
                Role::Auditor => "Audit officer",
                Role::ScanOfficer => "Scanning officer",
            },
        }
    }

    pub fn status(self, s: DocumentStatus) -> &'static str {
        match self {
            Lang::Ja => s.label_ja(),
            Lang::En => match s {
                DocumentStatus::Draft => "Draft",
                DocumentStatus::PendingApproval => "Awaiting approval",
                DocumentStatus::Confirmed => "Confirmed",
                DocumentStatus::Deleted => "Deleted",
            },
        }
    }

    pub fn class(self, c: InfoClass) -> &'static str {
        match self {
            Lang::Ja => c.label_ja(),
            Lang::En => match c {
                InfoClass::Normal => "General",
                InfoClass::Psychiatry => "Psychiatry",
                InfoClass::Genetic => "Genetic",
            },
        }
    }

    pub fn permission(self, p: Permission) -> &'static str {
        match self {
            Lang::Ja => p.label_ja(),
            Lang::En => p.as_str(),
        }
    }

    pub fn action(self, a: AuditAction) -> &'static str {
        match self {
            Lang::Ja => a.label_ja(),
            Lang::En => a.as_str(),
        }
    }
}

/// A failure as the page shows it: a title and an explanation in the page's language.
pub struct Explained {
    pub title: &'static str,
    pub detail: String,
}

/// Explains an API error for people: the field's name and the reason in the page's language where
/// kiroku knows them, never a JSON dump.
pub fn explain(lang: Lang, e: &ApiError) -> Explained {
    let p = &e.problem;
    let title = match lang {
        Lang::Ja => p.title_ja,
        Lang::En => p.title,
    };
    let policy_ja = e.extra.as_ref().and_then(|x| x.get("detail_ja")).and_then(|v| v.as_str()).map(str::to_string);
    let detail = match (lang, &e.field, policy_ja) {
        (Lang::Ja, _, Some(ja)) => ja,
        (Lang::Ja, Some(field), None) => format!("{}: {}", field_ja(field), reason_ja(&e.detail)),
        (Lang::Ja, None, None) => detail_ja(&e.detail).unwrap_or(&e.detail).to_string(),
        (Lang::En, Some(field), _) => format!("{field}: {}", e.detail),
        (Lang::En, None, _) => e.detail.clone(),
    };
    Explained { title, detail }
}

fn field_ja(field: &str) -> &str {
    match field {
        "patient_id" => "患者ID",
        "name" => "氏名・名称",
        "name_kana" => "フリガナ",
        "birth_date" => "生年月日",
        "sex" => "性別",
        "type" => "文書種別",
        "title" => "表題",
        "body" => "本文",
        "reason" => "理由",
        "username" => "利用者ID",
        "display_name" => "表示名",
        "password" => "パスワード",
        "role" => "職種",
        "on_behalf_of" => "依頼医",
        "info_class" => "情報区分",
        "file" => "ファイル",
        "from" | "to" => "期間",
        "action" => "操作",
        other => other,
    }
}

fn reason_ja(reason: &str) -> String {
    let known = [
        ("must not be empty", "入力してください"),
        ("must be written in katakana", "カタカナで入力してください"),
        ("must be a date as YYYY-MM-DD", "YYYY-MM-DD の形式で入力してください"),
        ("must not be in the future", "未来の日付は入力できません"),
        ("a reason is required", "修正・削除には理由の入力が必要です"),
        ("must be at most", "長すぎます"),
        ("must be 1 to", "文字数が範囲外です"),
        ("may contain only ASCII", "半角英数字で入力してください"),
        ("must start with a letter or digit", "英字または数字で始めてください"),
        ("must not contain control characters", "使用できない文字が含まれています"),
        ("must be a plain file name", "ファイル名が正しくありません"),
        ("unknown value", "選択肢から選んでください"),
        ("must be a date", "日付の形式が正しくありません"),
        ("choose a file", "ファイルを選択してください"),
    ];
    known.iter().find(|(en, _)| reason.starts_with(en)).map_or_else(|| reason.to_string(), |(_, ja)| ja.to_string())
}

fn detail_ja(detail: &str) -> Option<&'static str> {
    let known = [
        ("the current password is wrong", "現在のパスワードが正しくありません"),
        ("the user name or password is wrong", "利用者IDまたはパスワードが正しくないか、アカウントがロックまたは無効化されています"),
        ("the session", "セッションが終了しました。もう一度ログインしてください"),
        ("role ", "この職種には権限がありません"),
        ("only the clinician named", "依頼先の医師本人だけが承認できます"),
        ("cannot be changed this way", "現在の状態ではこの操作はできません"),
        ("only the author", "作成者本人だけが編集できます"),
        ("a password change", "パスワードの変更が必要です"),
        ("the current version is", "表示後に他の利用者が更新しました。最新の内容を確認してください"),
        ("the limit is", "サイズが上限を超えています"),
        ("the error was logged", "システム管理者に連絡してください"),
        ("document not found", "文書が見つからないか、参照する権限がありません"),
        ("patient not found", "患者が見つかりません"),
        ("user not found", "利用者が見つかりません"),
        ("already exists", "既に登録されています"),
    ];
    known.iter().find(|(en, _)| detail.starts_with(en) || detail.contains(en)).map(|(_, ja)| *ja)
}

/// Words of the pages: key, Japanese, English.
pub type Texts = [(&'static str, &'static str, &'static str)];

/// Checks a table of words against the templates that use it: every key used with `marker` (such
/// as `tr("`) exists, and no key appears twice.
#[cfg(test)]
pub fn assert_texts_complete(table: &Texts, templates: &[&str], marker: &str) {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/templates");
    for name in templates {
        let body = std::fs::read_to_string(format!("{dir}/{name}")).expect("template");
        for piece in body.split(marker).skip(1) {
            let key = piece.split('"').next().unwrap_or("");
            assert!(table.iter().any(|(k, _, _)| *k == key), "{name}: missing text {key}");
        }
    }
    let mut keys: Vec<&str> = table.iter().map(|(k, _, _)| *k).collect();
    keys.sort_unstable();
    let n = keys.len();
    keys.dedup();
    assert_eq!(n, keys.len(), "a key appears twice");
}

/// Every text of the pages that several pages share: key, Japanese, English.
pub static TEXTS: &Texts = &[
    ("app.name", "kiroku 診療記録保管庫", "kiroku medical records vault"),
    ("lang.switch", "English", "日本語"),
    ("nav.skip", "本文へ移動", "Skip to content"),
    ("nav.patients", "患者検索", "Patients"),
    ("nav.approvals", "承認待ち一覧", "Approval queue"),
    ("nav.users", "利用者管理", "Users"),
    ("nav.roles", "権限表", "Permissions"),
    ("nav.audit", "監査証跡", "Audit trail"),
    ("alert.fixity.title", "整合性警告:", "Integrity alert:"),
    (
        "alert.fixity.detail",
        "定期整合性検査で、保存された記録またはファイルの改変・欠落が見つかりました。システム管理者に連絡し、kiroku verify で確認してください。",
        "the scheduled fixity check found stored records or files altered or missing. Tell the system administrator and run kiroku verify.",
    ),
    ("audit.log_key", "改ざん検知ログの公開鍵（控えておいてください）", "Public key of the tamper-evident log (write it down)"),
    ("audit.checkpoint", "最新の署名済みチェックポイント", "Latest signed checkpoint"),
    ("audit.checkpoint_none", "まだありません", "none yet"),
    ("nav.status", "運用状況", "Status"),
    ("nav.locations", "情報の所在", "Where records live"),
    ("nav.checklist", "チェックリスト", "Checklist"),
    ("nav.scan", "スキャン台帳", "Scan register"),
    ("nav.scan_overdue", "期限超過", "Overdue scans"),
    ("nav.scan_originals", "原本管理", "Originals"),
    ("nav.scan_types", "スキャン文書種別", "Scan types"),
    ("chart.scan", "スキャン文書", "Scanned papers"),
    ("emergency.banner.title", "縮退運用中（読み取り専用）:", "Emergency read-only mode:"),
    (
        "emergency.banner.detail",
        "記録の参照・検索・印刷・出力はできますが、登録・変更はできません。解除されるまでは紙に記録してください。",
        "records can be read, searched, printed and exported, but nothing can be registered or changed. Record on paper until the mode ends.",
    ),
    ("emergency.since", "開始", "Since"),
    ("emergency.reason", "理由", "Reason"),
    ("emergency.contact", "連絡先", "Contact"),
    ("emergency.title", "縮退運用（読み取り専用モード）", "Emergency read-only mode"),
    ("emergency.active", "縮退運用中", "Read-only"),
    ("emergency.normal", "通常運用", "Normal operation"),
    (
        "emergency.explain",
        "障害や点検の際に読み取り専用へ切り替えます。データベース・ディスク・ファイル保存領域の異常時には自動的に切り替わります。",
        "Switch to read-only during an outage or maintenance. kiroku switches by itself when the database, the disk or the file store is unhealthy.",
    ),
    ("emergency.enter_reason", "切り替える理由", "Reason for switching"),
    ("emergency.leave_reason", "解除する理由", "Reason for leaving"),
    ("emergency.enter", "縮退運用に切り替える", "Switch to read-only"),
    ("emergency.leave", "縮退運用を解除する", "Leave read-only mode"),
    (
        "emergency.entered",
        "縮退運用に切り替えました。記録の登録・変更はできなくなります。",
        "kiroku is now read-only; changes are refused.",
    ),
    ("emergency.left", "縮退運用を解除しました。通常どおり登録・変更できます。", "Read-only mode has ended; changes are possible again."),
    ("status.title", "運用状況", "Operational status"),
    ("timing.title", "応答時間（目的別）", "Response times by purpose"),
    (
        "timing.explain",
        "実際の要求から測定した応答時間です。目標は kiroku.toml の [response_time] で設定します。",
        "Measured from real requests; the targets are set in [response_time] of kiroku.toml.",
    ),
    ("timing.window", "集計期間", "Window"),
    ("timing.minutes", "分", "minutes"),
    ("timing.purpose", "目的", "Purpose"),
    ("timing.target", "目標", "Target"),
    ("timing.total", "起動後の件数", "Requests since start"),
    ("timing.recent", "期間内の件数", "Requests in window"),
    ("timing.within", "目標内の割合", "Within target"),
    ("purpose.chart", "カルテ表示", "Chart view"),
    ("purpose.document", "文書の参照", "Document read"),
    ("purpose.search", "検索", "Search"),
    ("purpose.login", "ログイン", "Login"),
    ("purpose.print", "印刷・出力", "Print and export"),
    ("purpose.write", "登録・変更", "Registering and changing"),
    ("locations.title", "情報の所在", "Where records live"),
    ("nav.governance", "運用管理規程", "Regulation"),
    ("nav.ledgers", "台帳", "Ledgers"),
    ("governance.profile_title", "施設情報（運用管理規程の前提）", "Facility profile (basis of the regulation)"),
    (
        "governance.profile_explain",
        "施設の区分、責任者と規程の各項目の値です。保存するたびに版が残り、監査証跡に記録されます。空欄の項目は既定値（薄く表示）になります。",
        "The facility's class, the responsible people and the values of the regulation's parameters. Every save keeps a revision and is audited. Empty parameters take the default shown in grey.",
    ),
    ("governance.no_profile", "施設情報がまだ登録されていません。", "No facility profile has been saved yet."),
    ("governance.revision", "版", "Revision"),
    ("governance.class", "施設区分", "Facility class"),
    ("governance.class_b", "大/中規模病院", "large or medium hospital"),
    ("governance.class_c", "小規模病院、診療所", "small hospital or clinic"),
    ("governance.facility_name", "施設名", "Facility name"),
    ("governance.external_storage", "外部保存を行う（付表3）", "Stores records externally (table 3)"),
    ("governance.effective_date", "施行日", "Effective date"),
    ("governance.save", "保存", "Save"),
    ("governance.catalogue", "ガイドライン項目の版", "Guideline catalogue edition"),
    ("governance.profile_saved", "保存しました（以前の版は履歴に残ります）。", "Saved (earlier revisions are kept)."),
    ("governance.regulation_title", "運用管理規程", "Operational management regulation"),
    (
        "governance.regulation_explain",
        "施設情報とガイドラインの規程文例から運用管理規程を生成します。各条にガイドライン項目の番号が付きます。生成した版は承認されるまで未承認として残ります。",
        "Generates the regulation from the facility profile and the guideline's sample texts; each article carries its guideline item. A generated revision stays unapproved until someone approves it.",
    ),
    ("governance.generate", "現在の施設情報から生成", "Generate from the current profile"),
    ("governance.generated", "生成", "Generated"),
    ("governance.revisions", "版の履歴", "Revisions"),
    ("governance.profile_revision", "施設情報の版", "Profile revision"),
    ("governance.approved", "承認", "Approved"),
    ("governance.not_approved", "未承認", "not approved"),
    ("governance.downloads", "ダウンロード", "Downloads"),
    ("governance.approve", "承認する", "Approve"),
    (
        "governance.approve_explain",
        "生成した人とは別の人が、表示中の版を承認します。",
        "Someone other than the person who generated it approves the revision shown.",
    ),
    ("governance.note", "承認メモ（会議名など）", "Note (e.g. the meeting)"),
    ("governance.diff", "前の版との差分", "Changes from the previous revision"),
    (
        "governance.notice_generated",
        "生成しました。前の版との差分を確認し、承認を依頼してください。",
        "Generated. Check the changes from the previous revision and ask for approval.",
    ),
    ("governance.notice_approved", "承認しました。", "Approved."),
    (
        "locations.explain",
        "記録が保存されている場所の一覧です。システムが把握できる場所は自動で表示し、紙の保管庫や金庫内の媒体、遠隔地など把握できない場所は管理者が登録します。",
        "Every place records are kept. kiroku lists what it can see itself; administrators add what it cannot (a paper archive, media in a safe, a remote site).",
    ),
    ("locations.kind", "種別", "Kind"),
    ("locations.name", "名称", "Name"),
    ("locations.place", "所在", "Location"),
    ("locations.capacity", "容量", "Capacity"),
    ("locations.used", "使用量", "Used"),
    ("locations.free", "空き", "free"),
    ("locations.files", "ファイル", "files"),
    ("locations.retention", "保存期間", "Retention"),
    ("locations.backup", "バックアップの頻度・方法", "Backup frequency and method"),
    ("locations.last_backup", "最終バックアップ", "Last backup"),
    ("locations.response_time", "応答時間の目標", "Response-time target"),
    ("locations.risks", "リスク", "Risks"),
    ("locations.source", "情報源", "Source"),
    ("locations.from_system", "システム", "System"),
    ("locations.from_admin", "管理者登録", "Administrator"),
    ("locations.add", "保管場所を登録", "Add a place"),
    ("locations.submit", "登録する", "Add"),
    ("locations.save", "変更を保存", "Save changes"),
    ("locations.retire", "一覧から外す", "Remove from the register"),
    ("locations.saved", "保存しました（以前の内容は履歴に残ります）。", "Saved (earlier revisions are kept in the history)."),
    ("locations.retired", "一覧から外しました（履歴は残ります）。", "Removed from the register (its history is kept)."),
    ("locations.retired_badge", "除外済み", "Removed"),
    ("locations.history", "変更履歴", "History"),
    ("locations.revision", "版", "Revision"),
    ("locations.edited_at", "変更日時", "Changed at"),
    ("locations.edited_by", "変更者", "Changed by"),
    ("locations.content", "内容", "Content"),
    ("location.kind.database", "データベース", "Database"),
    ("location.kind.blob_store", "ファイル保存領域", "File store"),
    ("location.kind.filesystem", "ディスク", "Disk"),
    ("location.kind.backup_target", "バックアップ先", "Backup target"),
    ("location.kind.paper_archive", "紙の保管庫", "Paper archive"),
    ("location.kind.removable_media", "可搬媒体", "Removable media"),
    ("location.kind.remote_site", "遠隔地", "Remote site"),
    ("location.kind.export_media", "見読用出力媒体", "Export media"),
    ("location.kind.other", "その他", "Other"),
    ("nav.logout", "ログアウト", "Log out"),
    ("nav.main", "主なメニュー", "Main menu"),
    ("header.user", "ログイン中", "Logged in"),
    ("login.title", "ログイン", "Log in"),
    ("login.break_glass", "緊急時アカウントでログインする場合", "Logging in with a break-glass account"),
    (
        "login.break_glass_reason",
        "緊急時の利用理由（必須。記録され、全画面に警告が表示されます）",
        "Reason for the emergency use (required; it is recorded and every page shows a warning)",
    ),
    ("alert.break_glass.title", "緊急時アカウント使用中:", "Break-glass account in use:"),
    (
        "alert.break_glass.detail",
        "緊急時アカウントが使用されています。復旧後、システム管理者は再封印してください。",
        "a break-glass account is in use. After recovery the administrator must re-seal it.",
    ),
    ("nav.break_glass", "緊急時アカウント", "Break-glass accounts"),
    ("nav.work_orders", "保守作業", "Maintenance work"),
    ("nav.api_tokens", "APIトークン", "API tokens"),
    ("nav.factor_resets", "二要素認証の再設定", "2FA resets"),
    ("nav.access_review", "アクセス権見直し", "Access review"),
    ("mfa.use_reset", "認証アプリやキーを紛失した場合（再設定コードを使う）", "Lost your app or key? Use a reset code"),
    ("bg.title", "緊急時アカウント（ブレークグラス）", "Break-glass accounts"),
    (
        "bg.hint",
        "緊急時アカウントのパスワードは作成時と再封印時に一度だけ表示されます。印刷して封筒に封印し、保管してください。使用には理由の申告が必要で、使用中は全画面に警告が表示され、期限が来ると再封印するまで使えません。",
        "The password of a break-glass account is shown once, when it is created or re-sealed: print it and seal it in an envelope. Using it needs a declared reason; while in use every page shows a warning; after it expires it cannot be used until re-sealed.",
    ),
    ("bg.create", "緊急時アカウントを作成", "Create a break-glass account"),
    ("bg.state", "状態", "State"),
    ("bg.sealed", "封印中", "Sealed"),
    ("bg.open", "使用中", "In use"),
    ("bg.expired", "要再封印", "To be re-sealed"),
    ("bg.reason", "申告された理由", "Declared reason"),
    ("bg.until", "期限", "Until"),
    ("bg.reseal", "再封印（新しいパスワード）", "Re-seal (new password)"),
    ("bg.password", "封印するパスワード（この画面でのみ表示）", "Password to seal (shown only here)"),
    ("nav.security", "セキュリティ設定", "Security"),
    ("nav.mfa", "二要素認証の方針", "2FA policy"),
    ("mfa.login_title", "二要素認証", "Two-factor authentication"),
    (
        "mfa.login_hint",
        "認証アプリに表示されている6桁の確認コードを入力してください。",
        "Type the 6-digit code your authenticator app shows.",
    ),
    ("mfa.code", "確認コード", "Code"),
    ("mfa.verify", "確認", "Verify"),
    (
        "mfa.recovery_hint",
        "端末を紛失した場合は、登録時に控えた回復コード（例: abcd-efgh-jkmn）を入力できます。各コードは一度だけ使えます。",
        "If you lost the device, type one of the recovery codes you kept when enrolling (e.g. abcd-efgh-jkmn). Each works once.",
    ),
    ("mfa.policy_title", "二要素認証の方針（職種別）", "Two-factor policy by role"),
    (
        "mfa.policy_hint",
        "「必須」の職種は、パスワードだけではどの情報にも到達できません。ガイドラインは令和9年度から二要素認証を求めています。変更は監査証跡に記録されます。",
        "Roles set to required reach no data with a password alone. The guideline requires 2FA from FY2027. Changes are recorded in the audit trail.",
    ),
    ("mfa.mode", "方針", "Policy"),
    ("mfa.saved", "二要素認証の方針を保存しました（監査証跡に記録済み）。", "The policy was saved (recorded in the audit trail)."),
    ("mfa.from", "必須とする日", "Required from"),
    ("mfa.optional", "任意", "Optional"),
    ("mfa.required", "必須", "Required"),
    ("mfa.required_from", "指定日から必須", "Required from a date"),
    ("totp.title", "認証アプリの登録", "Register an authenticator app"),
    (
        "totp.required",
        "あなたの職種では二要素認証が必須です。登録が終わるまで他の画面は使えません。",
        "Your role requires two-factor authentication. Nothing else is available until you register.",
    ),
    (
        "totp.intro",
        "スマートフォンの認証アプリ（Google Authenticator、Microsoft Authenticator など）を二つ目の要素として登録します。登録後は、パスワードの後に確認コードを入力してログインします。",
        "Register an authenticator app on your phone as your second factor. After that, you log in with your password and then a code.",
    ),
    ("totp.start", "登録を始める", "Start"),
    ("totp.scan", "認証アプリでこのQRコードを読み取ってください。", "Scan this QR code with your authenticator app."),
    ("totp.secret", "読み取れない場合の入力用キー", "Key to type if you cannot scan"),
    ("totp.first_code", "アプリに表示された確認コード", "Code shown by the app"),
    ("totp.confirm", "登録する", "Register"),
    ("totp.done", "認証アプリを登録しました。", "The authenticator app is registered."),
    ("totp.recovery_title", "回復コード", "Recovery codes"),
    (
        "totp.recovery_hint",
        "端末を紛失したときに一度だけ使えるコードです。今だけ表示されます。印刷するか書き写して、安全な場所に保管してください。",
        "Each code works once if you lose the device. They are shown only now: print or copy them and keep them safe.",
    ),
    ("totp.continue", "続ける", "Continue"),
    ("security.title", "セキュリティ設定", "Security"),
    ("security.second_factor", "二要素認証", "Two-factor authentication"),
    ("security.totp_on", "認証アプリを登録済みです", "An authenticator app is registered"),
    ("security.totp_off", "認証アプリは未登録です。", "No authenticator app is registered."),
    ("security.totp_enrol", "認証アプリを登録する", "Register an authenticator app"),
    ("security.totp_remove", "登録を解除する", "Remove"),
    ("security.removed", "二要素認証の登録を解除しました。", "The second factor was removed."),
    ("security.sessions", "ログイン中のセッション", "Your sessions"),
    ("security.started", "開始", "Started"),
    ("security.last_seen", "最終操作", "Last activity"),
    ("security.address", "接続元", "From"),
    ("security.factor", "第二要素", "Second factor"),
    ("security.this_session", "この端末", "This one"),
    ("security.revoke", "終了させる", "End"),
    ("security.revoked", "セッションを終了させました。", "The session was ended."),
    ("security.keys", "セキュリティキー", "Security keys"),
    (
        "security.keys_hint",
        "USBやNFCのセキュリティキー、端末の生体認証（指紋・顔）を第二要素として登録できます。複数登録できます。",
        "Register USB or NFC security keys, or this device's fingerprint or face unlock, as second factors. You can register several.",
    ),
    ("security.key_name", "キーの名前", "Key name"),
    ("security.key_registered", "登録日時", "Registered"),
    ("security.key_last_used", "最終使用", "Last used"),
    ("security.key_none", "セキュリティキーは未登録です。", "No security key is registered."),
    ("security.key_add", "セキュリティキーを登録する", "Register a security key"),
    ("security.key_added", "セキュリティキーを登録しました。", "The security key was registered."),
    ("security.key_remove", "削除", "Remove"),
    (
        "security.key_failed",
        "セキュリティキーを使えませんでした。キーを接続し直すか、別の方法をお試しください。",
        "The security key could not be used. Reconnect it or try another way.",
    ),
    (
        "security.key_off",
        "このサーバーではセキュリティキーが設定されていません（[webauthn]）。",
        "Security keys are not configured on this server ([webauthn]).",
    ),
    ("mfa.use_key", "セキュリティキーを使う", "Use a security key"),
    ("mfa.or_code", "または確認コードを入力", "Or type a code"),
    ("login.username", "利用者ID", "User name"),
    ("login.password", "パスワード", "Password"),
    ("login.submit", "ログイン", "Log in"),
    (
        "login.expired",
        "一定時間操作がなかったため、ログアウトしました。もう一度ログインしてください。",
        "You were logged out after a period of inactivity. Please log in again.",
    ),
    (
        "login.failed",
        "利用者IDまたはパスワードが正しくないか、アカウントがロックまたは無効化されています。",
        "The user name or password is wrong, or the account is locked or disabled.",
    ),
    (
        "login.note",
        "利用者IDとパスワードは本人だけが使用してください。操作はすべて記録されます。",
        "Use only your own account. Every action is recorded.",
    ),
    ("logout.done", "ログアウトしました。", "You have logged out."),
    ("password.title", "パスワードの変更", "Change password"),
    (
        "password.forced",
        "初回ログインまたはパスワードの再設定のため、パスワードを変更してください。",
        "Please change the initial or reset password before continuing.",
    ),
    ("password.current", "現在のパスワード", "Current password"),
    ("password.new", "新しいパスワード", "New password"),
    ("password.again", "新しいパスワード（確認）", "New password (again)"),
    (
        "password.rule",
        "13文字以上で、英字・数字・記号をすべて含めてください。最近使用したものは使えません。",
        "At least 13 characters with letters, digits and symbols; not one of your recent passwords.",
    ),
    ("password.mismatch", "新しいパスワードが一致しません。", "The new passwords do not match."),
    ("password.submit", "変更する", "Change"),
    ("password.changed", "パスワードを変更しました。", "The password was changed."),
    ("patients.title", "患者検索", "Find a patient"),
    ("patients.query", "患者ID・氏名・フリガナ", "Patient ID, name or kana"),
    ("patients.search", "検索", "Search"),
    ("patients.none", "該当する患者はいません。", "No patient matches."),
    ("patients.results", "検索結果", "Results"),
    ("patients.register", "患者登録", "Register a patient"),
    ("patient.id", "患者ID", "Patient ID"),
    ("patient.name", "氏名", "Name"),
    ("patient.kana", "フリガナ", "Name (kana)"),
    ("patient.birth", "生年月日", "Date of birth"),
    ("patient.sex", "性別", "Sex"),
    ("sex.male", "男", "Male"),
    ("sex.female", "女", "Female"),
    ("sex.other", "その他", "Other"),
    ("sex.unknown", "不明", "Unknown"),
    ("patient.submit", "登録する", "Register"),
    ("chart.title", "診療記録", "Patient record"),
    ("chart.documents", "文書一覧（新しい順）", "Documents (newest first)"),
    ("chart.none", "文書はまだありません。", "No documents yet."),
    ("chart.new", "新規文書", "New document"),
    ("chart.print", "印刷", "Print"),
    ("chart.print_record", "診療記録を印刷", "Print the record"),
    ("print.title", "診療記録（印刷用）", "Patient record (for printing)"),
    ("print.printed_at", "出力日時", "Printed at"),
    ("print.printed_by", "出力者", "Printed by"),
    ("doc.type", "文書種別", "Type"),
    ("doc.title", "表題", "Title"),
    ("doc.class", "情報区分", "Information class"),
    ("doc.status", "状態", "Status"),
    ("doc.version", "版", "Version"),
    ("doc.author", "入力者", "Entered by"),
    ("doc.on_behalf_of", "依頼医（代行入力）", "On behalf of (proxy entry)"),
    ("doc.confirmer", "確定者", "Confirmed by"),
    ("doc.approver", "承認者", "Approved by"),
    ("doc.confirmed_at", "確定日時", "Confirmed at"),
    ("doc.entered_at", "入力日時", "Entered at"),
    ("doc.updated_at", "更新日時", "Updated at"),
    ("doc.body", "本文", "Text"),
    ("doc.reason", "理由", "Reason"),
    ("doc.hash", "内容ハッシュ", "Content hash"),
    ("sig.title", "電子署名とタイムスタンプ", "Signatures and timestamp"),
    ("sig.stamped", "タイムスタンプ（RFC 3161）", "Timestamp (RFC 3161)"),
    (
        "sig.not_stamped",
        "タイムスタンプはまだ付与されていません（確定済みの版は順次付与されます）。",
        "No timestamp yet (confirmed versions are stamped in turn).",
    ),
    ("sig.none", "この版には電子署名がありません。", "This version has no signature."),
    ("sig.signed_by", "署名した利用者", "Signed by"),
    ("sig.signer", "証明書の名義", "Certificate subject"),
    ("sig.hc_role", "資格（hcRole）", "Qualification (hcRole)"),
    ("sig.signed_at", "署名日時", "Signed at"),
    ("sig.result", "検証結果", "Verification"),
    ("sig.valid", "有効", "Valid"),
    ("sig.invalid", "無効", "Not valid"),
    ("sig.sign_title", "この版に電子署名する", "Sign this version"),
    (
        "sig.sign_hint",
        "ご自身の署名鍵（PKCS#8 PEM）と証明書（PEM、中間証明書を続けて）を貼り付けてください。鍵はこの署名にだけ使われ、保存も記録もされません。",
        "Paste your signing key (PKCS#8 PEM) and certificate (PEM, followed by its chain). The key is used for this signature only and is neither stored nor logged.",
    ),
    ("sig.key", "署名鍵（PKCS#8 PEM）", "Signing key (PKCS#8 PEM)"),
    ("sig.certificate", "証明書（PEM）", "Certificate (PEM)"),
    ("sig.submit", "署名する", "Sign"),
    ("ts.title", "タイムスタンプの状況", "Timestamping"),
    (
        "ts.off",
        "タイムスタンプは設定されていません（kiroku.toml の [timestamp]）。",
        "Timestamping is not configured ([timestamp] in kiroku.toml).",
    ),
    ("ts.backlog", "付与待ちの件数", "Waiting for a timestamp"),
    ("ts.oldest", "最も古い付与待ち", "Oldest waiting since"),
    ("ts.last_success", "最後の付与", "Last stamped"),
    ("ts.last_error", "直近のエラー", "Last error"),
    ("ts.stamped", "付与した件数（起動後）", "Stamped since start"),
    ("ts.renewed", "アーカイブタイムスタンプ（起動後）", "Archive timestamps since start"),
    (
        "ts.hint",
        "TSA が停止していても確定は止まりません。付与待ちは TSA の復旧後に自動で付与されます。",
        "Confirmation never waits for the TSA; what waits is stamped automatically when the TSA is back.",
    ),
    ("doc.attachments", "添付ファイル", "Attachments"),
    ("doc.no_attachments", "添付ファイルはありません。", "No attachments."),
    ("doc.attach", "添付する", "Attach"),
    ("doc.file", "ファイル", "File"),
    ("doc.new", "新規文書の作成", "New document"),
    (
        "doc.proxy_hint",
        "代行入力の場合は、依頼医の利用者IDを入力してください。医師の承認後に確定します。",
        "For a proxy entry, enter the requesting clinician's user name; it is confirmed when they approve it.",
    ),
    ("doc.save_draft", "下書き保存", "Save draft"),
    ("doc.save_proxy", "保存", "Save"),
    ("doc.edit", "下書きを編集", "Edit draft"),
    ("doc.amend", "修正（新しい版）", "Amend (new version)"),
    (
        "doc.amend_hint",
        "確定済みの記録は上書きされません。修正は新しい版として保存され、以前の版も残ります。",
        "Confirmed records are never overwritten: the amendment becomes a new version and earlier ones stay readable.",
    ),
    ("doc.confirm", "確定", "Confirm"),
    ("doc.confirm_title", "確定前の最終確認", "Final check before confirming"),
    (
        "doc.confirm_hint",
        "以下の内容で確定します。確定後は修正しても新しい版として記録され、確定者としてあなたの名前が残ります。",
        "You are confirming exactly what is shown below. Later changes become new versions; you are recorded as the confirmer.",
    ),
    ("doc.confirm_submit", "この内容で確定する", "Confirm this content"),
    ("doc.approve", "承認", "Approve"),
    ("doc.delete", "削除", "Delete"),
    ("doc.delete_title", "文書の論理削除", "Logical deletion"),
    (
        "doc.delete_hint",
        "削除しても記録は消去されず、削除理由とともに履歴に残ります。",
        "Deletion erases nothing: the record stays in the history with the reason.",
    ),
    ("doc.delete_submit", "削除する", "Delete"),
    ("doc.history", "版履歴", "Version history"),
    ("doc.view_current", "最新版を表示", "Show current version"),
    ("doc.old_version", "過去の版を表示しています。", "You are viewing an earlier version."),
    ("doc.back_chart", "診療記録へ戻る", "Back to the record"),
    ("doc.restricted", "制限区分", "Restricted"),
    ("doctype.progress_note", "経過記録", "Progress note"),
    ("doctype.admission_note", "入院時記録", "Admission note"),
    ("doctype.discharge_summary", "退院時要約", "Discharge summary"),
    ("doctype.referral", "診療情報提供書", "Referral letter"),
    ("doctype.nursing_record", "看護記録", "Nursing record"),
    ("doctype.other", "その他", "Other"),
    ("history.title", "版履歴と差分", "Versions and differences"),
    ("history.kind", "種類", "Kind"),
    ("history.who", "入力者", "Entered by"),
    ("history.when", "日時", "When"),
    ("history.why", "理由", "Reason"),
    ("history.compare", "比較する", "Compare"),
    ("history.left", "比較元", "From"),
    ("history.right", "比較先", "To"),
    ("history.diff", "差分", "Differences"),
    ("history.same", "2つの版の本文は同じです。", "The two versions have the same text."),
    ("kind.draft", "下書き", "Draft"),
    ("kind.proxy", "代行入力", "Proxy entry"),
    ("kind.amendment", "修正", "Amendment"),
    ("kind.deletion", "削除", "Deletion"),
    ("approvals.title", "承認待ち一覧", "Approval queue"),
    ("approvals.none", "承認待ちの代行入力はありません。", "No proxy entries are waiting for you."),
    (
        "approvals.hint",
        "代行入力された記録を内容を確認のうえ承認してください。承認すると確定します。",
        "Check each proxy entry and approve it; approval confirms it.",
    ),
    ("common.actions", "操作", "Actions"),
    ("common.open", "開く", "Open"),
    ("common.back", "戻る", "Back"),
    ("common.save", "保存", "Save"),
    ("common.none", "なし", "none"),
    ("common.required", "必須", "required"),
    ("common.yes", "はい", "yes"),
    ("users.title", "利用者管理", "User administration"),
    ("users.list", "利用者一覧", "Accounts"),
    ("users.create", "利用者の登録", "Create an account"),
    ("users.username", "利用者ID", "User name"),
    ("users.display_name", "氏名（表示名）", "Display name"),
    ("users.role", "職種", "Role"),
    ("users.state", "状態", "State"),
    ("users.active", "有効", "active"),
    ("users.disabled", "無効", "disabled"),
    ("users.locked", "ロック中", "locked"),
    ("users.must_change", "初期パスワード", "initial password"),
    ("users.last_login", "最終ログイン", "Last login"),
    ("users.submit", "登録する", "Create"),
    ("users.disable", "無効化", "Disable"),
    ("users.enable", "有効化", "Enable"),
    ("users.unlock", "ロック解除", "Unlock"),
    ("users.reset", "パスワード再設定", "Reset password"),
    (
        "users.created",
        "利用者を登録しました。次の初期パスワードを本人に安全な方法で伝えてください。この表示は一度だけです。",
        "The account was created. Give this one-time password to its owner safely; it is shown only once.",
    ),
    (
        "users.reset_done",
        "パスワードを再設定しました。次の仮パスワードを本人に伝えてください。この表示は一度だけです。",
        "The password was reset. Give this temporary password to its owner; it is shown only once.",
    ),
    ("users.initial_password", "初期パスワード", "One-time password"),
    ("roles.title", "権限表（職種 × 権限・情報区分）", "Permission matrix (role × permission and information class)"),
    ("roles.hint", "変更はすべて監査証跡に記録されます。", "Every change is recorded in the audit trail."),
    ("roles.permissions", "権限", "Permissions"),
    ("roles.classes", "情報区分", "Information classes"),
    ("roles.saved", "権限表を保存しました。", "The matrix was saved."),
    ("audit.title", "監査証跡", "Audit trail"),
    ("audit.filters", "絞り込み", "Filters"),
    ("audit.patient", "患者ID", "Patient ID"),
    ("audit.user", "利用者ID", "User"),
    ("audit.action", "操作", "Action"),
    ("audit.any", "すべて", "any"),
    ("audit.from", "期間（開始日）", "From (date)"),
    ("audit.to", "期間（終了日）", "To (date)"),
    ("audit.search", "表示", "Show"),
    ("audit.csv", "CSVダウンロード", "Download CSV"),
    ("audit.time", "日時（JST）", "Time (JST)"),
    ("audit.outcome", "結果", "Outcome"),
    ("audit.document", "文書", "Document"),
    ("audit.client", "端末", "Client"),
    ("audit.detail", "詳細", "Detail"),
    ("audit.more", "さらに古い記録", "Older events"),
    ("audit.none", "該当する記録はありません。", "No events match."),
    ("outcome.success", "成功", "success"),
    ("outcome.denied", "拒否", "denied"),
    ("outcome.failed", "失敗", "failed"),
    ("error.title", "エラー", "Error"),
    ("error.403", "この画面を表示する権限がありません", "You may not see this page"),
    ("error.404", "ページが見つかりません", "Page not found"),
    (
        "error.403_hint",
        "必要な権限については、システム管理者に問い合わせてください。",
        "Ask the system administrator if you need this access.",
    ),
    ("error.404_hint", "URLを確認するか、メニューから移動してください。", "Check the address or use the menu."),
    (
        "error.csrf",
        "フォームの有効期限が切れたか、不正な送信です。画面を再読み込みしてからやり直してください。",
        "The form has expired or was not sent from kiroku. Reload the page and try again.",
    ),
    ("error.back", "前の画面に戻る", "Go back"),
    ("error.home", "トップへ", "Home"),
    ("time.jst", "JST", "JST"),
];

#[cfg(test)]
mod tests {
    use super::*;

    /// Every `c.t("key")` in the templates and every key the Rust code names exists.
    #[test]
    fn every_key_used_by_templates_exists() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/templates");
        let mut missing = Vec::new();
        for entry in std::fs::read_dir(dir).expect("templates") {
            let path = entry.expect("entry").path();
            let text = std::fs::read_to_string(&path).expect("read");
            for piece in text.split(".t(\"").skip(1) {
                let key = piece.split('"').next().unwrap_or("");
                if !TEXTS.iter().any(|(k, _, _)| *k == key) {
                    missing.push(format!("{}: {key}", path.display()));
                }
            }
        }
        assert!(missing.is_empty(), "missing texts: {missing:?}");
    }

    #[test]
    fn keys_are_unique() {
        let mut keys: Vec<&str> = TEXTS.iter().map(|(k, _, _)| *k).collect();
        keys.sort_unstable();
        let before = keys.len();
        keys.dedup();
        assert_eq!(before, keys.len());
    }

    #[test]
    fn language_comes_from_the_toggle_then_the_browser() {
        let mut h = HeaderMap::new();
        assert_eq!(Lang::of_request(&h), Lang::Ja);
        h.insert(header::ACCEPT_LANGUAGE, "en-US,en;q=0.9".parse().expect("header"));
        assert_eq!(Lang::of_request(&h), Lang::En);
        h.insert(header::COOKIE, "kiroku_lang=ja".parse().expect("header"));
        assert_eq!(Lang::of_request(&h), Lang::Ja);
    }
}
