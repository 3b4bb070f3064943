//! The MHLW cyber-security checklist (医療機関におけるサイバーセキュリティ対策チェックリスト,
//! 令和7年度版, May 2025) mapped to the same evidence as the guideline's items. The item texts are
//! shortened from requirements.md; IDs `M-01`… are kiroku's own.

use crate::checklist::{Need, Window};
use crate::evidence::keys as k;

/// One item of the MHLW checklist.
pub struct MhlwItem {
    pub id: &'static str,
    pub ja: &'static str,
    pub en: &'static str,
    pub needs: &'static [Need],
}

const fn op(ledgers: &'static [&'static str]) -> Need {
    Need::Operational(ledgers)
}

pub const ITEMS: &[MhlwItem] = &[
    MhlwItem {
        id: "M-01",
        ja: "医療情報システム安全管理責任者を設置している",
        en: "A security manager is appointed",
        needs: &[Need::Shows(k::FACILITY_PROFILE)],
    },
    MhlwItem {
        id: "M-02",
        ja: "サーバ・端末・ネットワーク機器の台帳管理を行っている",
        en: "Servers, terminals and network devices are kept in a ledger",
        needs: &[op(&["device"])],
    },
    MhlwItem {
        id: "M-03",
        ja: "リモートメンテナンスを利用している機器の有無を把握している",
        en: "Devices used for remote maintenance are identified",
        needs: &[Need::Shows(k::NETWORK), op(&["device", "maintenance_report"])],
    },
    MhlwItem {
        id: "M-04",
        ja: "事業者からMDS/SDSを提出してもらっている",
        en: "MDS/SDS obtained from vendors",
        needs: &[Need::Shows(k::DISCLOSURE), op(&["contract"])],
    },
    MhlwItem {
        id: "M-05",
        ja: "利用者の職種・担当業務・情報区分別にアクセス権限を設定している",
        en: "Access rights by job type, duty and information class",
        needs: &[Need::Shows(k::MATRIX)],
    },
    MhlwItem {
        id: "M-06",
        ja: "退職者や使用していないアカウント等、不要なアカウントを削除している",
        en: "Unused accounts (leavers, unused) are removed",
        needs: &[Need::Within(k::ACCESS_REVIEW, Window::AccessReview)],
    },
    MhlwItem {
        id: "M-07",
        ja: "アクセスログを管理している（保存・改ざん防止）",
        en: "Access logs are kept and protected",
        needs: &[Need::Within(k::FIXITY, Window::Fixity), Need::Shows(k::CHECKPOINT)],
    },
    MhlwItem {
        id: "M-08",
        ja: "パスワードは英数字・記号を混在させた8文字以上（二要素認証又は13文字以上なら定期変更不要）",
        en: "Passwords of 8+ characters (no rotation with 2FA or 13+ characters)",
        needs: &[Need::Shows(k::PASSWORD)],
    },
    MhlwItem {
        id: "M-09",
        ja: "パスワードの使い回しを禁止している",
        en: "Password reuse is forbidden",
        needs: &[Need::Shows(k::PASSWORD)],
    },
    MhlwItem {
        id: "M-10",
        ja: "USBストレージ等の外部記録媒体の使用を制限している",
        en: "USB and other external media are restricted",
        needs: &[op(&["media"])],
    },
    MhlwItem {
        id: "M-11",
        ja: "サーバ・端末・ネットワーク機器のセキュリティパッチを適用している",
        en: "Security patches are applied",
        needs: &[op(&["device"])],
    },
    MhlwItem {
        id: "M-12",
        ja: "不要なサービスやポートを停止している",
        en: "Unneeded services and ports are stopped",
        needs: &[op(&["device"])],
    },
    MhlwItem {
        id: "M-13", ja: "接続元制限を実施している", en: "Connections are restricted by source", needs: &[Need::Shows(k::NETWORK)]
    },
    MhlwItem {
        id: "M-14",
        ja: "二要素認証を実装している（令和9年度までに）",
        en: "Two-factor authentication (by FY2027)",
        needs: &[Need::Shows(k::MFA)],
    },
    MhlwItem {
        id: "M-15",
        ja: "インシデント発生時の連絡体制図がある",
        en: "An incident contact chart exists",
        needs: &[op(&["incident", "contact"])],
    },
    MhlwItem {
        id: "M-16",
        ja: "バックアップの取得と復旧手順を確認している",
        en: "Backups are taken and the restore procedure is confirmed",
        needs: &[Need::Within(k::BACKUP, Window::Backup), Need::Within(k::RESTORE_DRILL, Window::RestoreDrill)],
    },
    MhlwItem {
        id: "M-17",
        ja: "サイバー攻撃を想定したBCPを策定している",
        en: "A BCP for cyber-attacks exists",
        needs: &[Need::Shows(k::EMERGENCY), op(&["bcp_drill"])],
    },
    MhlwItem {
        id: "M-18", ja: "運用管理規程を整備している", en: "The 運用管理規程 is in place", needs: &[Need::Shows(k::REGULATION)]
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_ordered() {
        let ids: Vec<&str> = ITEMS.iter().map(|i| i.id).collect();
        let mut sorted = ids.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(ids, sorted);
    }
}
