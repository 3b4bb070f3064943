//! kiroku's own MDS/SDS-style self-disclosure (in the manner of JAHIS/JIRA 製造業者/サービス事業者による
//! 医療情報セキュリティ開示書): each security function with a yes / partly / no answer taken from the
//! running configuration, and the technical/operational split document (T1-4.6): which measures
//! kiroku enforces and which the facility must perform, generated from the catalogue and the rules.

use serde::Serialize;

use crate::checklist::{Need, needs};
use crate::evidence::{Evidence, Level, keys as k};

/// One question of the disclosure.
pub struct Question {
    pub id: &'static str,
    pub ja: &'static str,
    pub en: &'static str,
    /// The guideline items the function serves.
    pub items: &'static [&'static str],
    /// The evidence whose level answers it.
    pub evidence: &'static str,
}

pub const QUESTIONS: &[Question] = &[
    Question {
        id: "DS-01",
        ja: "利用者ごとのIDとパスワードによる本人認証",
        en: "Per-user ID and password authentication",
        items: &["T2-1.1"],
        evidence: k::PASSWORD,
    },
    Question {
        id: "DS-02",
        ja: "二要素認証（職種ごとの必須化）",
        en: "Two-factor authentication (required per role)",
        items: &["T2-1.1", "T1-7.5"],
        evidence: k::MFA,
    },
    Question {
        id: "DS-03",
        ja: "アカウントロック・自動ログオフ・同時ログイン制限",
        en: "Lockout, idle logout, one session per account",
        items: &["T1-3.2", "T2-1.1"],
        evidence: k::SESSIONS,
    },
    Question {
        id: "DS-04",
        ja: "職種・情報区分別のアクセス権限",
        en: "Access rights per job type and information class",
        items: &["T1-4.2"],
        evidence: k::MATRIX,
    },
    Question {
        id: "DS-05",
        ja: "参照を含むアクセスログの記録と改ざん検知（署名付きマークル木）",
        en: "Access log including reads, tamper-evident (signed Merkle tree)",
        items: &["T1-4.2", "T2-1.3"],
        evidence: k::CHECKPOINT,
    },
    Question {
        id: "DS-06",
        ja: "保存情報の定期的な整合性検査",
        en: "Scheduled fixity checks of stored records",
        items: &["T2-1.3", "T2-3.3"],
        evidence: k::FIXITY,
    },
    Question {
        id: "DS-07",
        ja: "アクセスログの外部転送（IHE ATNA, syslog over TLS）",
        en: "Audit forwarding (IHE ATNA, syslog over TLS)",
        items: &["T1-4.2"],
        evidence: k::AUDIT_FORWARDING,
    },
    Question {
        id: "DS-08",
        ja: "電子署名（CMS, HPKI対応）",
        en: "Electronic signatures (CMS, HPKI-ready)",
        items: &["T1-4.9", "T2-5.3"],
        evidence: k::SIGNATURES,
    },
    Question {
        id: "DS-09",
        ja: "RFC 3161 タイムスタンプと長期検証",
        en: "RFC 3161 timestamps and long-term validity",
        items: &["T1-4.9", "T2-5.3"],
        evidence: k::TIMESTAMPS,
    },
    Question {
        id: "DS-10",
        ja: "暗号化・世代管理されたバックアップ",
        en: "Encrypted backups with generations",
        items: &["T2-3.2", "T1-8.1"],
        evidence: k::BACKUP,
    },
    Question {
        id: "DS-11", ja: "リストアの検証（訓練）", en: "Verified restore (drills)", items: &["T2-3.4"], evidence: k::RESTORE_DRILL
    },
    Question {
        id: "DS-12",
        ja: "障害時の見読用出力（ブラウザで読めるHTML）",
        en: "Offline-readable export (HTML any browser opens)",
        items: &["T2-2.2", "T2-2.4"],
        evidence: k::OFFLINE_EXPORT,
    },
    Question {
        id: "DS-13",
        ja: "縮退運用（読み取り専用モード）",
        en: "Emergency read-only mode",
        items: &["T1-8.2", "T2-2.4"],
        evidence: k::EMERGENCY,
    },
    Question {
        id: "DS-14",
        ja: "緊急時（ブレークグラス）アカウント",
        en: "Break-glass accounts",
        items: &["T1-8.3"],
        evidence: k::BREAK_GLASS,
    },
    Question {
        id: "DS-15",
        ja: "接続元ネットワークの制限",
        en: "Source-network restrictions",
        items: &["T1-7.4", "T1-7.5"],
        evidence: k::NETWORK,
    },
    Question { id: "DS-16", ja: "通信の暗号化（TLS）", en: "Encrypted transport (TLS)", items: &["T1-7.1"], evidence: k::TLS },
    Question { id: "DS-17", ja: "情報の所在管理", en: "Location register", items: &["T2-2.1"], evidence: k::LOCATIONS },
    Question {
        id: "DS-18",
        ja: "見読目的に応じた応答時間の目標と測定",
        en: "Response-time targets and measurement",
        items: &["T2-2.3"],
        evidence: k::RESPONSE_TIMES,
    },
];

/// One answer of the disclosure.
#[derive(Debug, Clone, Serialize)]
pub struct Answer {
    pub id: &'static str,
    pub question_ja: &'static str,
    pub question_en: &'static str,
    pub guideline_items: &'static [&'static str],
    /// `yes`, `partly` or `no`.
    pub answer: &'static str,
    pub basis_ja: String,
    pub basis_en: String,
    pub evidence: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub struct Disclosure {
    pub format: &'static str,
    pub product: &'static str,
    pub version: String,
    pub generated_at: String,
    pub answers: Vec<Answer>,
}

/// The self-disclosure from the evidence gathered now.
pub fn disclosure(ev: &Evidence, version: &str, generated_at: &str) -> Disclosure {
    let answers = QUESTIONS
        .iter()
        .map(|q| {
            let e = ev.get(q.evidence);
            let answer = match e.map(|e| e.level) {
                Some(Level::Good) => "yes",
                Some(Level::Partial) => "partly",
                _ => "no",
            };
            Answer {
                id: q.id,
                question_ja: q.ja,
                question_en: q.en,
                guideline_items: q.items,
                answer,
                basis_ja: e.map_or_else(|| "証跡がありません".into(), |e| e.summary_ja.clone()),
                basis_en: e.map_or_else(|| "no evidence".into(), |e| e.summary_en.clone()),
                evidence: q.evidence,
            }
        })
        .collect();
    Disclosure {
        format: "kiroku-self-disclosure/1",
        product: "kiroku",
        version: version.into(),
        generated_at: generated_at.into(),
        answers,
    }
}

/// One item of the split document.
#[derive(Debug, Clone, Serialize)]
pub struct SplitRow {
    pub id: String,
    pub title_ja: String,
    /// What kiroku enforces itself (the evidence its checklist reads), empty when nothing.
    pub kiroku_enforces: Vec<String>,
    /// The technical measures of the catalogue.
    pub technical_measures: Vec<String>,
    /// What the facility must perform: the catalogue's operational measures, and where kiroku keeps
    /// the record of it (ledgers).
    pub facility_performs: Vec<String>,
    pub ledgers: Vec<String>,
}

/// The technical/operational split (T1-4.6) for `items` (id, title, technical and operational measures).
pub fn split(items: &[crate::oscal::ItemText], ev: &Evidence) -> Vec<SplitRow> {
    items
        .iter()
        .map(|i| {
            let mut enforces = Vec::new();
            let mut ledgers = Vec::new();
            for need in needs(&i.id) {
                match need {
                    Need::Shows(key) | Need::Within(key, _) => {
                        let title = ev.get(key).map_or_else(|| (*key).to_string(), |e| e.title_ja.clone());
                        if !enforces.contains(&title) {
                            enforces.push(title);
                        }
                    }
                    Need::Operational(l) => ledgers.extend(l.iter().map(|s| s.to_string())),
                }
            }
            SplitRow {
                id: i.id.clone(),
                title_ja: i.title.clone(),
                kiroku_enforces: enforces,
                technical_measures: i.technical.clone(),
                facility_performs: i.operational.clone(),
                ledgers,
            }
        })
        .collect()
}
