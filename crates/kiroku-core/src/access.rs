//! Roles by job type (職種), permissions, information classes and the permission matrix.
//!
//! The matrix is data held by the store and changed by administrators; this module only defines its
//! shape, the factory defaults and the single decision function [`PermissionMatrix::check`] that every
//! access goes through.

use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use crate::DomainError;

macro_rules! named_enum {
    ($(#[$doc:meta])* $name:ident { $($variant:ident = $wire:literal / $ja:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum $name { $($variant),+ }

        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                s.parse().map_err(|e: DomainError| serde::de::Error::custom(e.to_string()))
            }
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The name used on the wire and in the database.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $wire),+ }
            }

            /// The Japanese label shown to staff.
            pub fn label_ja(self) -> &'static str {
                match self { $($name::$variant => $ja),+ }
            }
        }

        impl FromStr for $name {
            type Err = DomainError;
            fn from_str(s: &str) -> Result<Self, DomainError> {
                match s {
                    $($wire => Ok($name::$variant),)+
                    _ => Err(DomainError::invalid(stringify!($name), format!(
                        "unknown value, expected one of: {}",
                        [$($wire),+].join(", ")
                    ))),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

named_enum!(
    /// Job types. Access is granted per role, never per person (T1-4.2).
    Role {
        Doctor = "doctor" / "医師",
        Nurse = "nurse" / "看護師",
        Pharmacist = "pharmacist" / "薬剤師",
        Clerk = "clerk" / "医療事務",
        Admin = "admin" / "システム管理者",
        Auditor = "auditor" / "監査責任者",
        ScanOfficer = "scan_officer" / "情報作成管理者",
    }
);

named_enum!(
    /// What an account may do.
    Permission {
        PatientRead = "patient.read" / "患者の参照",
        PatientWrite = "patient.write" / "患者の登録",
        DocumentRead = "document.read" / "文書の参照",
        DocumentWrite = "document.write" / "文書の作成・修正",
        DocumentConfirm = "document.confirm" / "文書の確定",
        DocumentProxyEnter = "document.proxy_enter" / "代行入力",
        DocumentApprove = "document.approve" / "代行入力の承認",
        DocumentDelete = "document.delete" / "文書の削除",
        DocumentSign = "document.sign" / "文書への電子署名",
        UserManage = "user.manage" / "利用者の管理",
        RoleManage = "role.manage" / "権限の管理",
        AuditRead = "audit.read" / "監査証跡の参照",
        OpsRead = "ops.read" / "運用状況・情報の所在の参照",
        OpsManage = "ops.manage" / "縮退運用の切替・情報の所在の登録",
        GovernanceRead = "governance.read" / "運用管理（規程・台帳・点検表）の参照",
        GovernanceManage = "governance.manage" / "運用管理（規程・台帳・点検表）の管理",
        ScanRead = "scan.read" / "スキャン台帳の参照",
        ScanWrite = "scan.write" / "スキャン文書の取込・署名",
        ScanManage = "scan.manage" / "スキャン規程の管理・原本廃棄の承認",
    }
);

named_enum!(
    /// Information classes (情報区分). Restricted classes are visible only to roles granted them.
    InfoClass {
        Normal = "normal" / "一般",
        Psychiatry = "psychiatry" / "精神科",
        Genetic = "genetic" / "遺伝情報",
    }
);

/// One cell of the matrix: a role holds a permission, or a role may see an information class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "name")]
pub enum Grant {
    Permission(Permission),
    Class(InfoClass),
}

impl Grant {
    /// The grant's stable key in the database (`perm:document.read`, `class:genetic`).
    pub fn key(self) -> String {
        match self {
            Grant::Permission(p) => format!("perm:{p}"),
            Grant::Class(c) => format!("class:{c}"),
        }
    }

    pub fn from_key(key: &str) -> Result<Self, DomainError> {
        match key.split_once(':') {
            Some(("perm", p)) => Ok(Grant::Permission(p.parse()?)),
            Some(("class", c)) => Ok(Grant::Class(c.parse()?)),
            _ => Err(DomainError::invalid("grant", "expected perm:NAME or class:NAME")),
        }
    }
}

/// Why an access was refused; shown to the user in general terms and recorded in the audit trail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Denied {
    #[error("the role {role} lacks the permission {permission}")]
    Permission { role: Role, permission: Permission },
    #[error("the role {role} may not see information of class {class}")]
    Class { role: Role, class: InfoClass },
    /// Whole-record exports read every class of every patient; only the operator at the server's
    /// console, who holds the data directory anyway, may run them (and they are audited).
    #[error("only the operator at the server's console may export whole records (kiroku export)")]
    ConsoleOnly,
    /// A maintenance account or an API token acts within its scope only.
    #[error("the permission {permission} is outside this account's scope (work order or API token)")]
    Scope { permission: Permission },
    #[error("information of class {class} is outside this account's scope (work order or API token)")]
    ScopeClass { class: InfoClass },
    /// An approval or confirmation must come from someone other than the person who entered it.
    #[error("an approval must be given by someone other than the person who entered it")]
    OwnEntry,
}

/// What a maintenance account (its work order) or an API token may do: a set of permissions and
/// the information classes it may see. Such an account acts by its scope instead of its role's
/// row of the matrix; clinical content is in a scope only when its creator allowed it explicitly.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Scope {
    pub permissions: BTreeSet<Permission>,
    pub classes: BTreeSet<InfoClass>,
}

impl Scope {
    /// The permissions that reach patients' records.
    pub const CLINICAL: &'static [Permission] = &[
        Permission::PatientRead,
        Permission::PatientWrite,
        Permission::DocumentRead,
        Permission::DocumentWrite,
        Permission::DocumentConfirm,
        Permission::DocumentProxyEnter,
        Permission::DocumentApprove,
        Permission::DocumentDelete,
        Permission::DocumentSign,
    ];

    /// A scope from its parts; clinical permissions or classes only with `allow_clinical`.
    pub fn new(
        permissions: impl IntoIterator<Item = Permission>,
        classes: impl IntoIterator<Item = InfoClass>,
        allow_clinical: bool,
    ) -> Result<Scope, DomainError> {
        let scope = Scope { permissions: permissions.into_iter().collect(), classes: classes.into_iter().collect() };
        if scope.permissions.is_empty() {
            return Err(DomainError::invalid("permissions", "name at least one permission"));
        }
        if !allow_clinical && scope.is_clinical() {
            return Err(DomainError::invalid(
                "permissions",
                "patients' records are outside the scope unless clinical content is explicitly allowed",
            ));
        }
        if allow_clinical && scope.classes.is_empty() && scope.permissions.iter().any(|p| Scope::CLINICAL.contains(p)) {
            return Err(DomainError::invalid("classes", "name the information classes the clinical permissions may see"));
        }
        Ok(scope)
    }

    /// Whether the scope reaches any patient's record.
    pub fn is_clinical(&self) -> bool {
        !self.classes.is_empty() || self.permissions.iter().any(|p| Scope::CLINICAL.contains(p))
    }
}

/// Which role holds which grant.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PermissionMatrix {
    grants: BTreeSet<(Role, Grant)>,
}

impl PermissionMatrix {
    pub fn from_grants(grants: impl IntoIterator<Item = (Role, Grant)>) -> Self {
        PermissionMatrix { grants: grants.into_iter().collect() }
    }

    /// Factory defaults: least privilege per job type. The system administrator manages accounts but
    /// reads no clinical content; the audit officer reads the trail but not the records.
    pub fn factory_default() -> Self {
        use InfoClass::*;
        use Permission::*;
        let clinical = [PatientRead, PatientWrite, DocumentRead, DocumentWrite, DocumentConfirm, DocumentDelete, DocumentSign];
        let mut grants = Vec::new();
        let mut give = |role: Role, perms: &[Permission], classes: &[InfoClass]| {
            grants.extend(perms.iter().map(|p| (role, Grant::Permission(*p))));
            grants.extend(classes.iter().map(|c| (role, Grant::Class(*c))));
        };
        give(Role::Doctor, &[&clinical[..], &[DocumentApprove]].concat(), &[Normal, Psychiatry, Genetic]);
        give(Role::Nurse, &[PatientRead, DocumentRead, DocumentWrite, DocumentConfirm, DocumentSign], &[Normal]);
        give(Role::Pharmacist, &[PatientRead, DocumentRead, DocumentWrite, DocumentConfirm, DocumentSign], &[Normal]);
        give(Role::Clerk, &[PatientRead, PatientWrite, DocumentRead, DocumentProxyEnter], &[Normal]);
        give(Role::Admin, &[UserManage, RoleManage, OpsRead, OpsManage, GovernanceRead, GovernanceManage], &[]);
        give(Role::Auditor, &[AuditRead, OpsRead, GovernanceRead], &[]);
        // Scanning (T2-5.x): staff who receive paper scan it and sign the file; the scanning officer
        // (情報作成管理者) sets the rules and approves disposing of originals.
        give(Role::Doctor, &[ScanRead], &[]);
        give(Role::Nurse, &[ScanRead, ScanWrite], &[]);
        give(Role::Clerk, &[ScanRead, ScanWrite], &[]);
        give(Role::ScanOfficer, &[PatientRead, DocumentRead, ScanRead, ScanWrite, ScanManage], &[Normal]);
        PermissionMatrix::from_grants(grants)
    }

    pub fn has(&self, role: Role, grant: Grant) -> bool {
        self.grants.contains(&(role, grant))
    }

    pub fn set(&mut self, role: Role, grant: Grant, allowed: bool) {
        if allowed {
            self.grants.insert((role, grant));
        } else {
            self.grants.remove(&(role, grant));
        }
    }

    pub fn grants(&self) -> impl Iterator<Item = (Role, Grant)> + '_ {
        self.grants.iter().copied()
    }

    /// The one decision every access goes through: the role must hold the permission and, when the
    /// object has an information class, be allowed to see that class.
    pub fn check(&self, role: Role, permission: Permission, class: Option<InfoClass>) -> Result<(), Denied> {
        if !self.has(role, Grant::Permission(permission)) {
            return Err(Denied::Permission { role, permission });
        }
        match class {
            Some(class) if !self.has(role, Grant::Class(class)) => Err(Denied::Class { role, class }),
            _ => Ok(()),
        }
    }

    /// The decision for one actor: by its scope when it has one (a maintenance account within its
    /// work order, an API token), else by its role's row of the matrix.
    pub fn check_as(&self, role: Role, scope: Option<&Scope>, permission: Permission, class: Option<InfoClass>) -> Result<(), Denied> {
        let Some(scope) = scope else { return self.check(role, permission, class) };
        if !scope.permissions.contains(&permission) {
            return Err(Denied::Scope { permission });
        }
        match class {
            Some(class) if !scope.classes.contains(&class) => Err(Denied::ScopeClass { class }),
            _ => Ok(()),
        }
    }

    /// The classes an actor may see, by its scope or its role.
    pub fn visible_classes_as(&self, role: Role, scope: Option<&Scope>) -> Vec<InfoClass> {
        match scope {
            Some(scope) => scope.classes.iter().copied().collect(),
            None => self.visible_classes(role),
        }
    }

    /// The classes a role may see, for filtering lists.
    pub fn visible_classes(&self, role: Role) -> Vec<InfoClass> {
        InfoClass::ALL.iter().copied().filter(|c| self.has(role, Grant::Class(*c))).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn factory_defaults_keep_admin_and_auditor_out_of_clinical_content() {
        let m = PermissionMatrix::factory_default();
        assert!(m.check(Role::Admin, Permission::DocumentRead, Some(InfoClass::Normal)).is_err());
        assert!(m.check(Role::Auditor, Permission::PatientRead, None).is_err());
        assert!(m.check(Role::Auditor, Permission::AuditRead, None).is_ok());
        assert!(m.check(Role::Clerk, Permission::DocumentConfirm, None).is_err());
        assert!(m.check(Role::Doctor, Permission::DocumentRead, Some(InfoClass::Genetic)).is_ok());
        assert_eq!(
            m.check(Role::Nurse, Permission::DocumentRead, Some(InfoClass::Psychiatry)),
            Err(Denied::Class { role: Role::Nurse, class: InfoClass::Psychiatry })
        );
    }

    #[test]
    fn a_scope_replaces_the_role_and_keeps_clinical_content_out_unless_allowed() {
        let m = PermissionMatrix::factory_default();
        assert!(Scope::new([Permission::OpsRead, Permission::DocumentRead], [], false).is_err());
        assert!(Scope::new([Permission::OpsRead], [InfoClass::Normal], false).is_err());
        assert!(Scope::new([Permission::DocumentRead], [], true).is_err(), "classes must be named");
        let ops = Scope::new([Permission::OpsRead], [], false).expect("scope");
        assert!(m.check_as(Role::Doctor, Some(&ops), Permission::OpsRead, None).is_ok(), "the scope, not the role");
        assert_eq!(
            m.check_as(Role::Doctor, Some(&ops), Permission::PatientRead, None),
            Err(Denied::Scope { permission: Permission::PatientRead })
        );
        let clinical = Scope::new([Permission::DocumentRead], [InfoClass::Normal], true).expect("scope");
        assert!(m.check_as(Role::Admin, Some(&clinical), Permission::DocumentRead, Some(InfoClass::Normal)).is_ok());
        assert!(m.check_as(Role::Admin, Some(&clinical), Permission::DocumentRead, Some(InfoClass::Genetic)).is_err());
        assert!(m.check_as(Role::Admin, None, Permission::DocumentRead, None).is_err(), "without a scope the role decides");
        assert_eq!(m.visible_classes_as(Role::Doctor, Some(&ops)), Vec::<InfoClass>::new());
    }

    #[test]
    fn wire_names_are_the_serde_names() {
        assert_eq!(serde_json::to_value(Permission::PatientRead).expect("json"), serde_json::json!("patient.read"));
        assert_eq!(serde_json::from_str::<Permission>("\"document.proxy_enter\"").expect("parse"), Permission::DocumentProxyEnter);
        assert!(serde_json::from_str::<Role>("\"surgeon\"").is_err());
    }

    #[test]
    fn grant_keys_round_trip() {
        for g in [Grant::Permission(Permission::AuditRead), Grant::Class(InfoClass::Genetic)] {
            assert_eq!(Grant::from_key(&g.key()), Ok(g));
        }
        assert!(Grant::from_key("perm:everything").is_err());
        assert_eq!("doctor".parse::<Role>(), Ok(Role::Doctor));
        assert!("root".parse::<Role>().is_err());
    }
}
