//! Ledgers (台帳) of the operational items of table 1: what each ledger records (its fields, with
//! their types and Japanese/English labels), which of them need an approval, how input is checked,
//! the state an entry is in from its events, and the periodic duties computed from the entries.
//!
//! An entry is a list of revisions (an edit is a new revision) and a list of events (approve,
//! close, note, loss reported); nothing is changed in place. This module decides what is allowed;
//! the store keeps the rows.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::{DomainError, Timestamp, Username};

/// The type of a field, which decides how input is checked and how the form shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "type", content = "choices")]
pub enum FieldType {
    /// One line, up to 500 characters.
    Text,
    /// Several lines, up to 4000 characters.
    LongText,
    /// `YYYY-MM-DD`.
    Date,
    /// `YYYY-MM-DDTHH:MM` (seconds and an offset optional; without one it is JST, as staff write it).
    DateTime,
    /// An account name.
    User,
    /// Account names (a list, or one string separated by commas or spaces).
    Users,
    Number,
    /// One of the listed (value, Japanese label, English label).
    Choice(&'static [(&'static str, &'static str, &'static str)]),
    Bool,
}

/// One field of a ledger.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct FieldDef {
    pub name: &'static str,
    #[serde(flatten)]
    pub ty: FieldType,
    pub required: bool,
    pub label_ja: &'static str,
    pub label_en: &'static str,
}

/// What an event does to an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// Approval or the supervisor's confirmation of the current revision, by someone else.
    Approve,
    /// The entry's end: a return, an exit, a disposal done, an incident or complaint resolved, a
    /// finding followed up, a device retired.
    Close,
    /// A line of the entry's timeline (an incident's course, a complaint's answer).
    Note,
    /// Loss or theft of what was taken out (T1-6.4).
    LossReported,
}

impl EventKind {
    pub const ALL: &'static [EventKind] = &[EventKind::Approve, EventKind::Close, EventKind::Note, EventKind::LossReported];

    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Approve => "approve",
            EventKind::Close => "close",
            EventKind::Note => "note",
            EventKind::LossReported => "loss_reported",
        }
    }

    pub fn parse(s: &str) -> Option<EventKind> {
        EventKind::ALL.iter().copied().find(|k| k.as_str() == s)
    }
}

macro_rules! kinds {
    ($($variant:ident = $wire:literal),+ $(,)?) => {
        /// The ledgers kiroku keeps.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum LedgerKind { $($variant),+ }

        impl LedgerKind {
            pub const ALL: &'static [LedgerKind] = &[$(LedgerKind::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $(LedgerKind::$variant => $wire),+ }
            }

            pub fn parse(s: &str) -> Option<LedgerKind> {
                match s { $($wire => Some(LedgerKind::$variant),)+ _ => None }
            }
        }
    };
}

kinds! {
    Device = "device",
    Media = "media",
    MediaDisposal = "media_disposal",
    TakeOut = "take_out",
    Visitor = "visitor",
    OperationDiary = "operation_diary",
    MaintenanceReport = "maintenance_report",
    Contract = "contract",
    Training = "training",
    InternalAudit = "internal_audit",
    Incident = "incident",
    Contact = "contact",
    Complaint = "complaint",
    BcpDrill = "bcp_drill",
    InventoryCheck = "inventory_check",
}

impl Serialize for LedgerKind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl std::fmt::Display for LedgerKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A ledger: its names, the catalogue items it serves, its fields and its workflow.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct KindDef {
    pub kind: LedgerKind,
    pub label_ja: &'static str,
    pub label_en: &'static str,
    /// Catalogue IDs (catalogue.md) this ledger is evidence for.
    pub items: &'static [&'static str],
    pub fields: &'static [FieldDef],
    /// Whether a revision needs an approval (or the supervisor's confirmation) by someone other
    /// than the person who entered it.
    pub approval: bool,
    /// Whether an approval needs a file attached first (the disposal certificate).
    pub approval_needs_attachment: bool,
    /// The label of the closing event (返却, 退室, 対応完了…), if the entry can be closed.
    pub close_ja: Option<&'static str>,
    pub close_en: Option<&'static str>,
    /// Whether loss or theft can be reported on an entry.
    pub loss_report: bool,
    /// The date field that places an entry in time (periods, periodic duties).
    pub date_field: &'static str,
    /// The field that names an entry in lists.
    pub title_field: &'static str,
}

const fn f(name: &'static str, ty: FieldType, required: bool, label_ja: &'static str, label_en: &'static str) -> FieldDef {
    FieldDef { name, ty, required, label_ja, label_en }
}

use FieldType::*;

const DEVICE_CATEGORY: &[(&str, &str, &str)] = &[
    ("server", "サーバ", "server"),
    ("terminal", "端末", "terminal"),
    ("network", "ネットワーク機器", "network device"),
    ("wireless", "無線LAN機器", "wireless LAN device"),
    ("iot", "IoT機器", "IoT device"),
    ("mobile", "モバイル端末", "mobile device"),
    ("other", "その他", "other"),
];
const MEDIA_TYPE: &[(&str, &str, &str)] = &[
    ("usb", "USBメモリ", "USB stick"),
    ("hdd", "HDD/SSD", "HDD/SSD"),
    ("optical", "光ディスク", "optical disc"),
    ("tape", "テープ", "tape"),
    ("paper", "紙", "paper"),
    ("other", "その他", "other"),
];
const DISPOSAL_METHOD: &[(&str, &str, &str)] = &[
    ("physical", "物理破壊", "physical destruction"),
    ("degauss", "磁気消去", "degaussing"),
    ("overwrite", "データ消去ソフトによる上書き", "overwrite by erasure software"),
    ("contractor", "専門業者への委託", "certified contractor"),
    ("shred", "シュレッダー・溶解", "shredding or pulping"),
];
const INCIDENT_CATEGORY: &[(&str, &str, &str)] = &[
    ("cyber", "サイバー攻撃", "cyber attack"),
    ("leak", "情報漏えい", "information leak"),
    ("loss", "紛失・盗難", "loss or theft"),
    ("outage", "システム障害", "system outage"),
    ("disaster", "災害", "disaster"),
    ("other", "その他", "other"),
];
const CONTACT_WHEN: &[(&str, &str, &str)] = &[
    ("always", "すべての事故", "every incident"),
    ("cyber", "サイバー攻撃", "cyber attack"),
    ("leak", "個人情報の漏えい", "personal data leak"),
    ("outage", "システム障害", "system outage"),
];
const CHANNEL: &[(&str, &str, &str)] = &[
    ("counter", "窓口", "counter"),
    ("phone", "電話", "phone"),
    ("mail", "郵便・メール", "letter or e-mail"),
    ("box", "意見箱", "suggestion box"),
    ("other", "その他", "other"),
];
const COMPLAINT_KIND: &[(&str, &str, &str)] =
    &[("complaint", "苦情", "complaint"), ("question", "質問", "question"), ("disclosure", "開示請求", "disclosure request")];
const INVENTORY_SCOPE: &[(&str, &str, &str)] =
    &[("devices", "情報機器", "devices"), ("media", "記録媒体", "recording media"), ("both", "機器と媒体", "devices and media")];

/// Every ledger, in the order the index shows them.
pub const LEDGERS: &[KindDef] = &[
    KindDef {
        kind: LedgerKind::Device,
        label_ja: "情報機器・IoT機器台帳",
        label_en: "Information and IoT devices",
        items: &["T1-4.7", "T1-4.8"],
        fields: &[
            f("name", Text, true, "機器名", "device name"),
            f("category", Choice(DEVICE_CATEGORY), true, "種別", "category"),
            f("network", Text, true, "接続ネットワーク", "network"),
            f("os", Text, true, "OS・ファームウェア", "OS or firmware"),
            f("patch_level", Text, true, "パッチ適用状況", "patch level"),
            f("owner", User, true, "管理責任者", "owner"),
            f("location", Text, true, "設置場所", "location"),
            f("remote_maintenance", Bool, false, "リモート保守に使用", "used for remote maintenance"),
            f("notes", LongText, false, "備考", "notes"),
        ],
        approval: false,
        approval_needs_attachment: false,
        close_ja: Some("廃止"),
        close_en: Some("retire"),
        loss_report: false,
        date_field: "",
        title_field: "name",
    },
    KindDef {
        kind: LedgerKind::Media,
        label_ja: "記録媒体台帳",
        label_en: "Recording media",
        items: &["T1-4.3"],
        fields: &[
            f("label", Text, true, "媒体番号・ラベル", "media label"),
            f("media_type", Choice(MEDIA_TYPE), true, "媒体の種類", "media type"),
            f("contents", Text, true, "記録内容", "contents"),
            f("personal_data", Bool, false, "個人情報を含む", "contains personal data"),
            f("custodian", User, true, "保管責任者", "custodian"),
            f("storage_place", Text, true, "保管場所", "storage place"),
            f("received_on", Date, false, "受領・作成日", "received or made on"),
        ],
        approval: false,
        approval_needs_attachment: false,
        close_ja: Some("廃棄済"),
        close_en: Some("disposed"),
        loss_report: true,
        date_field: "received_on",
        title_field: "label",
    },
    KindDef {
        kind: LedgerKind::MediaDisposal,
        label_ja: "媒体廃棄記録",
        label_en: "Media disposal",
        items: &["T1-4.4"],
        fields: &[
            f("media_label", Text, true, "媒体番号・ラベル", "media label"),
            f("method", Choice(DISPOSAL_METHOD), true, "廃棄方法", "method"),
            f("disposed_on", Date, true, "廃棄日", "disposed on"),
            f("contractor", Text, false, "委託業者", "contractor"),
            f("notes", LongText, false, "備考", "notes"),
        ],
        approval: true,
        approval_needs_attachment: true,
        close_ja: None,
        close_en: None,
        loss_report: false,
        date_field: "disposed_on",
        title_field: "media_label",
    },
    KindDef {
        kind: LedgerKind::TakeOut,
        label_ja: "持ち出し申請・返却記録",
        label_en: "Take-out requests and returns",
        items: &["T1-6.1", "T1-6.2", "T1-6.3", "T1-6.4"],
        fields: &[
            f("item", Text, true, "持ち出す情報・機器", "information or device"),
            f("personal_data", Bool, false, "個人情報を含む", "contains personal data"),
            f("purpose", Text, true, "目的", "purpose"),
            f("destination", Text, true, "持ち出し先", "destination"),
            f("out_on", Date, true, "持ち出し日", "out on"),
            f("due_on", Date, true, "返却予定日", "due back on"),
            f("safeguards", Text, true, "安全対策（暗号化・パスワード等）", "safeguards (encryption, password…)"),
        ],
        approval: true,
        approval_needs_attachment: false,
        close_ja: Some("返却"),
        close_en: Some("returned"),
        loss_report: true,
        date_field: "out_on",
        title_field: "item",
    },
    KindDef {
        kind: LedgerKind::Visitor,
        label_ja: "入退室記録",
        label_en: "Visitor entry and exit",
        items: &["T1-4.1"],
        fields: &[
            f("visitor", Text, true, "来訪者氏名", "visitor"),
            f("organisation", Text, false, "所属", "organisation"),
            f("purpose", Text, true, "目的", "purpose"),
            f("area", Text, true, "入室区域", "area"),
            f("host", User, true, "対応者", "host"),
            f("entered_at", DateTime, true, "入室日時", "entered at"),
            f("badge", Text, false, "入館証番号", "badge"),
            f("left_at", DateTime, false, "退室日時", "left at"),
        ],
        approval: false,
        approval_needs_attachment: false,
        close_ja: Some("退室"),
        close_en: Some("left"),
        loss_report: false,
        date_field: "entered_at",
        title_field: "visitor",
    },
    KindDef {
        kind: LedgerKind::OperationDiary,
        label_ja: "運用日誌",
        label_en: "Operation diary",
        items: &["T1-5.3", "T1-3.1"],
        fields: &[
            f("date", Date, true, "日付", "date"),
            f("operator", User, true, "担当者", "operator"),
            f("summary", LongText, true, "作業・運用状況", "what was done"),
            f("issues", LongText, false, "異常・申し送り", "issues"),
        ],
        approval: false,
        approval_needs_attachment: false,
        close_ja: None,
        close_en: None,
        loss_report: false,
        date_field: "date",
        title_field: "date",
    },
    KindDef {
        kind: LedgerKind::MaintenanceReport,
        label_ja: "保守作業報告",
        label_en: "Maintenance work reports",
        items: &["T1-5.3", "T1-7.4"],
        fields: &[
            f("vendor", Text, true, "保守事業者", "vendor"),
            f("worker", Text, true, "作業者", "worker"),
            f("work_order", Text, false, "作業指示番号", "work order id"),
            f("started_at", DateTime, true, "開始日時", "started at"),
            f("ended_at", DateTime, true, "終了日時", "ended at"),
            f("remote", Bool, false, "リモート保守", "remote"),
            f("work_done", LongText, true, "作業内容", "work done"),
            f("patient_data_accessed", Bool, false, "患者情報へのアクセスあり", "patient data accessed"),
        ],
        approval: true,
        approval_needs_attachment: false,
        close_ja: None,
        close_en: None,
        loss_report: false,
        date_field: "started_at",
        title_field: "vendor",
    },
    KindDef {
        kind: LedgerKind::Contract,
        label_ja: "委託契約台帳",
        label_en: "Outsourcing contracts",
        items: &["T1-5.1", "T1-5.2", "T1-7.3", "T3-0.1", "T1-2.2"],
        fields: &[
            f("contractor", Text, true, "委託先", "contractor"),
            f("subject", Text, true, "委託内容", "subject"),
            f("starts_on", Date, true, "契約開始日", "starts on"),
            f("expires_on", Date, true, "契約満了日", "expires on"),
            f("confidentiality", Bool, false, "守秘義務条項あり", "confidentiality clause"),
            f("security_measures", Bool, false, "安全管理措置条項あり", "security measures clause"),
            f("subcontractors", Text, false, "再委託先", "sub-contractors"),
            f("responsibility_split", LongText, true, "責任分界（通常時・事故時）", "responsibility split (normal, incident)"),
            f("external_storage", Bool, false, "外部保存の委託", "external storage"),
            f("owner", User, true, "担当者", "owner"),
        ],
        approval: true,
        approval_needs_attachment: false,
        close_ja: Some("契約終了"),
        close_en: Some("ended"),
        loss_report: false,
        date_field: "starts_on",
        title_field: "contractor",
    },
    KindDef {
        kind: LedgerKind::Training,
        label_ja: "研修・教育記録",
        label_en: "Training sessions",
        items: &["T1-9.1", "T1-9.2", "T1-9.3", "T1-2.6", "T1-6.5"],
        fields: &[
            f("title", Text, true, "研修名", "title"),
            f("held_on", Date, true, "実施日", "held on"),
            f("topics", LongText, true, "内容", "topics"),
            f("instructor", Text, false, "講師", "instructor"),
            f("attendees", Users, true, "受講者", "attendees"),
        ],
        approval: false,
        approval_needs_attachment: false,
        close_ja: None,
        close_en: None,
        loss_report: false,
        date_field: "held_on",
        title_field: "title",
    },
    KindDef {
        kind: LedgerKind::InternalAudit,
        label_ja: "内部監査記録",
        label_en: "Internal audits",
        items: &["T1-10.1", "T2-1.5", "T1-2.3"],
        fields: &[
            f("audited_on", Date, true, "監査日", "audited on"),
            f("auditor", User, true, "監査責任者", "auditor"),
            f("scope", Text, true, "対象", "scope"),
            f("findings", LongText, true, "指摘事項", "findings"),
            f("follow_up", LongText, false, "是正処置", "follow-up"),
            f("follow_up_due", Date, false, "是正期限", "follow-up due"),
        ],
        approval: false,
        approval_needs_attachment: false,
        close_ja: Some("是正完了"),
        close_en: Some("followed up"),
        loss_report: false,
        date_field: "audited_on",
        title_field: "scope",
    },
    KindDef {
        kind: LedgerKind::Incident,
        label_ja: "事故・インシデント記録",
        label_en: "Incidents",
        items: &["T1-2.5", "T1-8.4", "T1-4.5", "T1-6.4"],
        fields: &[
            f("occurred_at", DateTime, true, "発生日時", "occurred at"),
            f("category", Choice(INCIDENT_CATEGORY), true, "種別", "category"),
            f("summary", LongText, true, "概要", "summary"),
            f("patient_data_affected", Bool, false, "患者情報への影響あり", "patient data affected"),
            f("reported_to", Text, false, "報告先", "reported to"),
            f("handler", User, true, "対応責任者", "handled by"),
        ],
        approval: false,
        approval_needs_attachment: false,
        close_ja: Some("対応完了"),
        close_en: Some("resolved"),
        loss_report: false,
        date_field: "occurred_at",
        title_field: "summary",
    },
    KindDef {
        kind: LedgerKind::Contact,
        label_ja: "事故時の報告先一覧",
        label_en: "Whom to report to",
        items: &["T1-8.4", "T1-2.5"],
        fields: &[
            f("organisation", Text, true, "報告先", "organisation"),
            f("when", Choice(CONTACT_WHEN), true, "報告する事態", "when"),
            f("contents", Text, true, "報告内容", "what to report"),
            f("phone", Text, true, "電話", "phone"),
            f("email", Text, false, "メール", "e-mail"),
            f("order", Number, false, "連絡順", "order"),
        ],
        approval: false,
        approval_needs_attachment: false,
        close_ja: Some("削除"),
        close_en: Some("remove"),
        loss_report: false,
        date_field: "",
        title_field: "organisation",
    },
    KindDef {
        kind: LedgerKind::Complaint,
        label_ja: "苦情・質問受付記録",
        label_en: "Complaints and questions",
        items: &["T1-2.4"],
        fields: &[
            f("received_at", DateTime, true, "受付日時", "received at"),
            f("kind", Choice(COMPLAINT_KIND), true, "区分", "kind"),
            f("channel", Choice(CHANNEL), true, "受付方法", "channel"),
            f("from", Text, false, "申出者", "from"),
            f("summary", LongText, true, "内容", "summary"),
            f("response", LongText, false, "回答・対応", "response"),
            f("handler", User, true, "担当者", "handled by"),
        ],
        approval: false,
        approval_needs_attachment: false,
        close_ja: Some("対応完了"),
        close_en: Some("answered"),
        loss_report: false,
        date_field: "received_at",
        title_field: "summary",
    },
    KindDef {
        kind: LedgerKind::BcpDrill,
        label_ja: "BCP訓練記録",
        label_en: "BCP drills",
        items: &["T1-8.1", "T1-8.3"],
        fields: &[
            f("held_on", Date, true, "実施日", "held on"),
            f("scenario", Text, true, "想定（災害・サイバー攻撃等）", "scenario"),
            f("participants", Users, false, "参加者", "participants"),
            f("result", LongText, true, "結果", "result"),
            f("improvements", LongText, false, "改善事項", "improvements"),
        ],
        approval: false,
        approval_needs_attachment: false,
        close_ja: None,
        close_en: None,
        loss_report: false,
        date_field: "held_on",
        title_field: "scenario",
    },
    KindDef {
        kind: LedgerKind::InventoryCheck,
        label_ja: "機器・媒体の棚卸記録",
        label_en: "Device and media inventory checks",
        items: &["T1-4.7", "T1-4.3"],
        fields: &[
            f("checked_on", Date, true, "点検日", "checked on"),
            f("scope", Choice(INVENTORY_SCOPE), true, "対象", "scope"),
            f("checker", User, true, "点検者", "checked by"),
            f("result", LongText, true, "結果・差異", "result and discrepancies"),
        ],
        approval: false,
        approval_needs_attachment: false,
        close_ja: None,
        close_en: None,
        loss_report: false,
        date_field: "checked_on",
        title_field: "checked_on",
    },
];

impl LedgerKind {
    pub fn def(self) -> &'static KindDef {
        // LEDGERS lists every kind once, in declaration order (a test checks it).
        &LEDGERS[self as usize]
    }
}

impl KindDef {
    pub fn field(&self, name: &str) -> Option<&'static FieldDef> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// Which events an entry of this ledger takes.
    pub fn allows(&self, event: EventKind) -> bool {
        match event {
            EventKind::Approve => self.approval,
            EventKind::Close => self.close_ja.is_some(),
            EventKind::Note => true,
            EventKind::LossReported => self.loss_report,
        }
    }
}

/// Field values as stored: the field's name to a string, number, bool or list of names.
pub type Fields = BTreeMap<String, Value>;

const TEXT_MAX: usize = 500;
const LONG_TEXT_MAX: usize = 4000;
/// The longest note on an event.
pub const NOTE_MAX: usize = 2000;

fn plain(field: &'static str, s: &str, max: usize) -> Result<(), DomainError> {
    if s.chars().count() > max {
        return Err(DomainError::invalid(field, format!("must be at most {max} characters")));
    }
    if s.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return Err(DomainError::invalid(field, "must not contain control characters"));
    }
    Ok(())
}

/// A note on an event: optional, plain text.
pub fn check_note(note: &str) -> Result<String, DomainError> {
    let note = note.trim();
    plain("note", note, NOTE_MAX)?;
    Ok(note.to_string())
}

/// `YYYY-MM-DD` as a date.
pub fn parse_date(s: &str) -> Option<time::Date> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(s, format).ok()
}

/// `YYYY-MM-DDTHH:MM[:SS]` in JST, or RFC 3339, as a point in time.
pub fn parse_datetime(s: &str) -> Option<Timestamp> {
    if let Some(t) = Timestamp::parse_rfc3339(s) {
        return Some(t);
    }
    let (date, clock) = s.split_once('T').or_else(|| s.split_once(' '))?;
    let date = parse_date(date)?;
    let hms = time::macros::format_description!("[hour]:[minute]:[second]");
    let hm = time::macros::format_description!("[hour]:[minute]");
    let clock = time::Time::parse(clock, hms).or_else(|_| time::Time::parse(clock, hm)).ok()?;
    let jst = time::UtcOffset::from_hms(9, 0, 0).ok()?;
    Some(Timestamp::from_datetime(time::PrimitiveDateTime::new(date, clock).assume_offset(jst)))
}

fn as_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(s) => s.trim().is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => false,
    }
}

/// One value checked against its field and normalised (forms send every value as a string).
fn check_value(def: &FieldDef, value: &Value) -> Result<Value, DomainError> {
    let field = def.name;
    let text = || as_text(value).ok_or_else(|| DomainError::invalid(field, "must be a single value"));
    match def.ty {
        Text | LongText => {
            let s = text()?;
            plain(field, &s, if def.ty == Text { TEXT_MAX } else { LONG_TEXT_MAX })?;
            if def.ty == Text && s.contains('\n') {
                return Err(DomainError::invalid(field, "must be one line"));
            }
            Ok(Value::String(s))
        }
        Date => {
            let s = text()?;
            parse_date(&s).ok_or_else(|| DomainError::invalid(field, "must be a date YYYY-MM-DD"))?;
            Ok(Value::String(s))
        }
        DateTime => {
            let s = text()?;
            parse_datetime(&s).ok_or_else(|| DomainError::invalid(field, "must be a date and time YYYY-MM-DDTHH:MM"))?;
            Ok(Value::String(s))
        }
        User => {
            let s = text()?;
            Username::parse(s.as_str()).map_err(|_| DomainError::invalid(field, "must be an account name"))?;
            Ok(Value::String(s))
        }
        Users => {
            let names: Vec<String> = match value {
                Value::Array(items) => items.iter().map(|v| as_text(v).unwrap_or_default()).collect(),
                other => text_of(other, field)?.split([',', ' ', '\n', '、']).map(|s| s.trim().to_string()).collect(),
            };
            let mut out: Vec<String> = Vec::new();
            for name in names.into_iter().filter(|n| !n.is_empty()) {
                Username::parse(name.as_str()).map_err(|_| DomainError::invalid(field, format!("{name} is not an account name")))?;
                if !out.contains(&name) {
                    out.push(name);
                }
            }
            if out.len() > 1000 {
                return Err(DomainError::invalid(field, "must name at most 1000 accounts"));
            }
            Ok(Value::Array(out.into_iter().map(Value::String).collect()))
        }
        Number => {
            let n = match value {
                Value::Number(n) => n.as_f64(),
                other => text()?.parse::<f64>().ok().filter(|_| !other.is_null()),
            };
            let n = n.filter(|n| n.is_finite()).ok_or_else(|| DomainError::invalid(field, "must be a number"))?;
            Ok(serde_json::Number::from_f64(n).map(Value::Number).unwrap_or(Value::Null))
        }
        Choice(choices) => {
            let s = text()?;
            if !choices.iter().any(|(v, _, _)| *v == s) {
                let allowed: Vec<&str> = choices.iter().map(|c| c.0).collect();
                return Err(DomainError::invalid(field, format!("must be one of: {}", allowed.join(", "))));
            }
            Ok(Value::String(s))
        }
        Bool => match value {
            Value::Bool(b) => Ok(Value::Bool(*b)),
            Value::String(s) if ["true", "on", "yes", "1"].contains(&s.as_str()) => Ok(Value::Bool(true)),
            Value::String(s) if ["false", "off", "no", "0"].contains(&s.as_str()) => Ok(Value::Bool(false)),
            _ => Err(DomainError::invalid(field, "must be true or false")),
        },
    }
}

fn text_of(value: &Value, field: &'static str) -> Result<String, DomainError> {
    as_text(value).ok_or_else(|| DomainError::invalid(field, "must be a list of account names"))
}

/// Checks input against the ledger's fields: no unknown field, every required one present, every
/// value of its type. Answers the normalised values (empty optional fields left out; a missing
/// bool is false). The error names the first field at fault.
pub fn validate(kind: LedgerKind, input: &Map<String, Value>) -> Result<Fields, DomainError> {
    let def = kind.def();
    if let Some(unknown) = input.keys().find(|k| def.field(k).is_none()) {
        return Err(DomainError::invalid("fields", format!("{unknown} is not a field of this ledger")));
    }
    let mut out = Fields::new();
    for field in def.fields {
        match input.get(field.name) {
            Some(v) if !is_empty(v) => {
                out.insert(field.name.to_string(), check_value(field, v)?);
            }
            _ if field.required => return Err(DomainError::invalid(field.name, "is required")),
            _ if field.ty == Bool => {
                out.insert(field.name.to_string(), Value::Bool(false));
            }
            _ => {}
        }
    }
    Ok(out)
}

/// The account names a revision refers to (user fields), which must exist.
pub fn named_users(kind: LedgerKind, fields: &Fields) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    for def in kind.def().fields {
        match (def.ty, fields.get(def.name)) {
            (User, Some(Value::String(s))) => out.push((def.name, s.clone())),
            (Users, Some(Value::Array(items))) => out.extend(items.iter().filter_map(|v| v.as_str()).map(|s| (def.name, s.to_string()))),
            _ => {}
        }
    }
    out
}

/// Where an entry stands, from its events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryStatus {
    /// Recorded; nothing pending.
    Open,
    /// The current revision waits for an approval.
    PendingApproval,
    /// The current revision is approved (take-out: may go; disposal: confirmed).
    Approved,
    /// Loss or theft was reported and the entry is not closed.
    LossReported,
    Closed,
}

impl EntryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            EntryStatus::Open => "open",
            EntryStatus::PendingApproval => "pending_approval",
            EntryStatus::Approved => "approved",
            EntryStatus::LossReported => "loss_reported",
            EntryStatus::Closed => "closed",
        }
    }

    pub fn parse(s: &str) -> Option<EntryStatus> {
        [EntryStatus::Open, EntryStatus::PendingApproval, EntryStatus::Approved, EntryStatus::LossReported, EntryStatus::Closed]
            .into_iter()
            .find(|k| k.as_str() == s)
    }

    pub fn label_ja(self) -> &'static str {
        match self {
            EntryStatus::Open => "記録済",
            EntryStatus::PendingApproval => "承認待ち",
            EntryStatus::Approved => "承認済",
            EntryStatus::LossReported => "紛失・盗難報告あり",
            EntryStatus::Closed => "完了",
        }
    }
}

/// An event as the rules need it: what, on which revision.
#[derive(Debug, Clone, Copy)]
pub struct EventFacts {
    pub kind: EventKind,
    pub revision: i64,
}

/// The status of an entry at revision `current` with these events (oldest first). An approval
/// holds for the revision it approved: a later edit needs approving again.
pub fn status(def: &KindDef, current: i64, events: &[EventFacts]) -> EntryStatus {
    if events.iter().any(|e| e.kind == EventKind::Close) {
        return EntryStatus::Closed;
    }
    if events.iter().any(|e| e.kind == EventKind::LossReported) {
        return EntryStatus::LossReported;
    }
    if !def.approval {
        return EntryStatus::Open;
    }
    if events.iter().any(|e| e.kind == EventKind::Approve && e.revision == current) {
        EntryStatus::Approved
    } else {
        EntryStatus::PendingApproval
    }
}

/// Why an event or edit is refused by the entry's state (a conflict), as a sentence for the user.
pub fn check_event(def: &KindDef, status: EntryStatus, event: EventKind, attachments: usize) -> Result<(), String> {
    if !def.allows(event) {
        return Err(format!("the ledger {} takes no {} event", def.kind, event.as_str()));
    }
    match (event, status) {
        (EventKind::Note, _) => Ok(()),
        (_, EntryStatus::Closed) => Err("the entry is closed".into()),
        (EventKind::Approve, EntryStatus::PendingApproval) if def.approval_needs_attachment && attachments == 0 => {
            Err("attach the certificate before approving".into())
        }
        (EventKind::Approve, EntryStatus::PendingApproval) => Ok(()),
        (EventKind::Approve, _) => Err("the current revision is not waiting for an approval".into()),
        (_, EntryStatus::PendingApproval) => Err("the entry must be approved first".into()),
        (EventKind::LossReported, EntryStatus::LossReported) => Err("loss or theft was already reported".into()),
        _ => Ok(()),
    }
}

/// Whether an entry can still be revised.
pub fn check_revise(status: EntryStatus) -> Result<(), String> {
    if status == EntryStatus::Closed { Err("the entry is closed; record a new one".into()) } else { Ok(()) }
}

/// The date an entry is placed at (its date field), as `YYYY-MM-DD…` text that sorts in time.
pub fn entry_date(kind: LedgerKind, fields: &Fields) -> Option<String> {
    let def = kind.def();
    let value = fields.get(def.date_field)?.as_str()?;
    match def.field(def.date_field)?.ty {
        DateTime => parse_datetime(value).map(|t| jst_date(t).to_string()),
        _ => Some(value.to_string()),
    }
}

/// The calendar date in Japan at a time.
pub fn jst_date(t: Timestamp) -> time::Date {
    let jst = time::UtcOffset::from_hms(9, 0, 0).unwrap_or(time::UtcOffset::UTC);
    t.to_datetime().to_offset(jst).date()
}

// ----- periodic duties -----

/// The periodic duties and their intervals in days (0: not tracked). Configurable under
/// `[governance]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct DutyIntervals {
    pub access_review_days: i64,
    pub restore_drill_days: i64,
    pub training_days: i64,
    pub internal_audit_days: i64,
    pub bcp_drill_days: i64,
    pub inventory_check_days: i64,
    /// How long before a contract expires its review is due.
    pub contract_review_days: i64,
    /// How long before a due date a duty shows as due soon.
    pub remind_days: i64,
}

impl Default for DutyIntervals {
    fn default() -> Self {
        DutyIntervals {
            access_review_days: 31,
            restore_drill_days: 92,
            training_days: 365,
            internal_audit_days: 365,
            bcp_drill_days: 365,
            inventory_check_days: 365,
            contract_review_days: 60,
            remind_days: 14,
        }
    }
}

/// What completes a duty.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "name")]
pub enum DutySource {
    /// The newest entry of a ledger (its date field).
    Ledger(LedgerKind),
    /// The newest successful audit event of an action.
    Audit(&'static str),
}

/// A periodic duty.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Duty {
    pub id: &'static str,
    pub label_ja: &'static str,
    pub label_en: &'static str,
    pub items: &'static [&'static str],
    pub source: DutySource,
}

/// The duties with an interval, and the interval of each.
pub fn duties(intervals: &DutyIntervals) -> Vec<(Duty, i64)> {
    let d = |id, label_ja, label_en, items, source, days| (Duty { id, label_ja, label_en, items, source }, days);
    vec![
        d(
            "access_review",
            "アカウント棚卸し（アクセス権限の点検）",
            "access review of accounts",
            &["T1-4.2", "T1-3.2"][..],
            DutySource::Audit("access_review_signoff"),
            intervals.access_review_days,
        ),
        d(
            "restore_drill",
            "バックアップからの復元訓練",
            "backup restore drill",
            &["T2-3.4", "T1-8.1"][..],
            DutySource::Audit("restore_drill"),
            intervals.restore_drill_days,
        ),
        d("training", "職員研修", "staff training", &["T1-9.2"][..], DutySource::Ledger(LedgerKind::Training), intervals.training_days),
        d(
            "internal_audit",
            "内部監査",
            "internal audit",
            &["T1-10.1"][..],
            DutySource::Ledger(LedgerKind::InternalAudit),
            intervals.internal_audit_days,
        ),
        d("bcp_drill", "BCP訓練", "BCP drill", &["T1-8.1"][..], DutySource::Ledger(LedgerKind::BcpDrill), intervals.bcp_drill_days),
        d(
            "inventory_check",
            "情報機器・媒体の棚卸",
            "device and media inventory check",
            &["T1-4.7", "T1-4.3"][..],
            DutySource::Ledger(LedgerKind::InventoryCheck),
            intervals.inventory_check_days,
        ),
    ]
    .into_iter()
    .filter(|(_, days)| *days > 0)
    .collect()
}

/// Where a duty stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DutyState {
    Ok,
    DueSoon,
    Overdue,
}

impl DutyState {
    pub fn label_ja(self) -> &'static str {
        match self {
            DutyState::Ok => "実施済",
            DutyState::DueSoon => "期限間近",
            DutyState::Overdue => "期限超過",
        }
    }
}

/// A duty with its last completion and next due date.
#[derive(Debug, Clone, Serialize)]
pub struct DutyStatus {
    pub id: String,
    pub label_ja: String,
    pub label_en: String,
    pub items: Vec<&'static str>,
    pub interval_days: i64,
    /// The last completion's date (`YYYY-MM-DD`), if any.
    pub last_done: Option<String>,
    /// What recorded it: `ledger:<kind>/<id>` or `audit:<event id>`.
    pub evidence: Option<String>,
    /// `YYYY-MM-DD`; never done means due now.
    pub due_on: String,
    pub state: DutyState,
}

fn state_for(today: time::Date, due_on: time::Date, remind_days: i64) -> DutyState {
    if due_on < today {
        DutyState::Overdue
    } else if due_on <= today + time::Duration::days(remind_days) {
        DutyState::DueSoon
    } else {
        DutyState::Ok
    }
}

/// A duty's status from its last completion (date and evidence) as of `today`.
pub fn duty_status(duty: &Duty, days: i64, last: Option<(time::Date, String)>, today: time::Date, remind_days: i64) -> DutyStatus {
    let due_on = last.as_ref().map_or(today, |(d, _)| *d + time::Duration::days(days));
    let state = if last.is_none() { DutyState::Overdue } else { state_for(today, due_on, remind_days) };
    DutyStatus {
        id: duty.id.to_string(),
        label_ja: duty.label_ja.to_string(),
        label_en: duty.label_en.to_string(),
        items: duty.items.to_vec(),
        interval_days: days,
        last_done: last.as_ref().map(|(d, _)| d.to_string()),
        evidence: last.map(|(_, e)| e),
        due_on: due_on.to_string(),
        state,
    }
}

/// The review of a contract before it expires: due soon from `contract_review_days` before
/// `expires_on`, overdue once it expired while the contract is still open.
pub fn contract_review(contractor: &str, entry_id: &str, expires_on: time::Date, today: time::Date, i: &DutyIntervals) -> DutyStatus {
    let due_on = expires_on;
    let state = state_for(today, due_on, i.contract_review_days);
    DutyStatus {
        id: format!("contract_review:{entry_id}"),
        label_ja: format!("委託契約の見直し（{contractor}、満了 {expires_on}）"),
        label_en: format!("contract review ({contractor}, expires {expires_on})"),
        items: vec!["T1-5.1", "T1-7.3", "T3-0.1"],
        interval_days: i.contract_review_days,
        last_done: None,
        evidence: Some(format!("ledger:contract/{entry_id}")),
        due_on: due_on.to_string(),
        state,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn every_kind_is_listed_once_in_order() {
        for (i, kind) in LedgerKind::ALL.iter().enumerate() {
            assert_eq!(LEDGERS[i].kind, *kind);
            assert_eq!(LedgerKind::parse(kind.as_str()), Some(*kind));
            let def = kind.def();
            assert!(def.date_field.is_empty() || def.field(def.date_field).is_some(), "{kind}");
            assert!(def.field(def.title_field).is_some(), "{kind}");
        }
        assert_eq!(LEDGERS.len(), LedgerKind::ALL.len());
    }

    #[test]
    fn input_is_checked_and_the_field_at_fault_named() {
        let ok = map(json!({"item": "ノートPC", "purpose": "学会発表", "destination": "学会会場", "out_on": "2026-11-25",
                            "due_on": "2026-11-27", "safeguards": "暗号化", "personal_data": "on"}));
        let fields = validate(LedgerKind::TakeOut, &ok).expect("valid");
        assert_eq!(fields["personal_data"], json!(true));
        let mut missing = ok.clone();
        missing.remove("purpose");
        assert_eq!(validate(LedgerKind::TakeOut, &missing), Err(DomainError::invalid("purpose", "is required")));
        let mut bad = ok.clone();
        bad.insert("due_on".into(), json!("27/11/2026"));
        assert!(matches!(validate(LedgerKind::TakeOut, &bad), Err(DomainError::Invalid { field: "due_on", .. })));
        let mut unknown = ok;
        unknown.insert("colour".into(), json!("red"));
        assert!(matches!(validate(LedgerKind::TakeOut, &unknown), Err(DomainError::Invalid { field: "fields", .. })));
        let t = validate(
            LedgerKind::Training,
            &map(json!({"title": "t", "held_on": "2026-04-01", "topics": "x", "attendees": "dr.sato, ns.ito dr.sato"})),
        )
        .expect("valid");
        assert_eq!(t["attendees"], json!(["dr.sato", "ns.ito"]));
        let c = map(json!({"organisation": "x", "when": "fire", "contents": "c", "phone": "1"}));
        assert!(matches!(validate(LedgerKind::Contact, &c), Err(DomainError::Invalid { field: "when", .. })));
    }

    #[test]
    fn approvals_hold_for_the_revision_they_approved() {
        let def = LedgerKind::TakeOut.def();
        let approve = EventFacts { kind: EventKind::Approve, revision: 1 };
        assert_eq!(status(def, 1, &[]), EntryStatus::PendingApproval);
        assert_eq!(status(def, 1, &[approve]), EntryStatus::Approved);
        assert_eq!(status(def, 2, &[approve]), EntryStatus::PendingApproval);
        assert!(check_event(def, EntryStatus::PendingApproval, EventKind::Close, 0).is_err(), "no return before approval");
        assert!(check_event(def, EntryStatus::Approved, EventKind::LossReported, 0).is_ok());
        let disposal = LedgerKind::MediaDisposal.def();
        assert!(check_event(disposal, EntryStatus::PendingApproval, EventKind::Approve, 0).is_err(), "certificate first");
        assert!(check_event(disposal, EntryStatus::PendingApproval, EventKind::Approve, 1).is_ok());
        assert!(check_event(LedgerKind::Training.def(), EntryStatus::Open, EventKind::Approve, 0).is_err());
    }

    #[test]
    fn duties_are_due_soon_then_overdue() {
        let i = DutyIntervals::default();
        let (training, days) = duties(&i).into_iter().find(|(d, _)| d.id == "training").expect("training duty");
        let today = parse_date("2026-11-25").expect("date");
        let s = duty_status(&training, days, Some((parse_date("2025-12-01").expect("date"), "x".into())), today, i.remind_days);
        assert_eq!((s.due_on.clone(), s.state), ("2026-12-01".into(), DutyState::DueSoon));
        let s = duty_status(&training, days, Some((parse_date("2025-11-01").expect("date"), "x".into())), today, i.remind_days);
        assert_eq!(s.state, DutyState::Overdue);
        assert_eq!(duty_status(&training, days, None, today, i.remind_days).state, DutyState::Overdue);
        let c = contract_review("A社", "id", parse_date("2027-01-10").expect("date"), today, &i);
        assert_eq!(c.state, DutyState::DueSoon);
        assert_eq!(parse_datetime("2026-11-25T09:30").map(jst_date), parse_date("2026-11-25"));
    }
}
