//! Identity rules that need no storage: the second-factor policy of a role (T2-1.1: two factors of
//! different kinds, required for systems running in FY2027) and the stage a login session is in.

use serde::{Deserialize, Serialize};

use crate::{DomainError, Timestamp};

/// Whether a role must log in with a second factor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MfaMode {
    /// Accounts may enrol a second factor; those who did must use it.
    Optional,
    /// Every login of the role needs a second factor; an account without one must enrol first.
    Required,
    /// Optional until `required_from`, required from then on.
    RequiredFrom,
}

impl MfaMode {
    pub fn as_str(self) -> &'static str {
        match self {
            MfaMode::Optional => "optional",
            MfaMode::Required => "required",
            MfaMode::RequiredFrom => "required_from",
        }
    }

    pub fn parse(s: &str) -> Option<MfaMode> {
        match s {
            "optional" => Some(MfaMode::Optional),
            "required" => Some(MfaMode::Required),
            "required_from" => Some(MfaMode::RequiredFrom),
            _ => None,
        }
    }
}

/// A role's second-factor policy as the administrator set it; the factory default is optional.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct MfaPolicy {
    pub mode: MfaMode,
    pub required_from: Option<Timestamp>,
}

impl Default for MfaPolicy {
    fn default() -> Self {
        MfaPolicy { mode: MfaMode::Optional, required_from: None }
    }
}

impl MfaPolicy {
    /// A policy from its stored parts; `required_from` must be given exactly for that mode.
    pub fn new(mode: MfaMode, required_from: Option<Timestamp>) -> Result<MfaPolicy, DomainError> {
        match (mode, required_from) {
            (MfaMode::RequiredFrom, None) => Err(DomainError::invalid("required_from", "give the date from which 2FA is required")),
            (MfaMode::RequiredFrom, Some(t)) => Ok(MfaPolicy { mode, required_from: Some(t) }),
            (_, _) => Ok(MfaPolicy { mode, required_from: None }),
        }
    }

    /// Whether a login at `now` needs a second factor even from an account that has none.
    pub fn requires(&self, now: Timestamp) -> bool {
        match self.mode {
            MfaMode::Optional => false,
            MfaMode::Required => true,
            MfaMode::RequiredFrom => self.required_from.is_some_and(|from| now >= from),
        }
    }
}

/// What an account is for. Network rules and login conditions differ by kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountKind {
    /// A member of staff: one person, one account.
    Staff,
    /// A vendor's maintenance account (保守), usable only within its work order.
    Maintenance,
    /// A sealed emergency account (緊急時), usable only in an emergency.
    BreakGlass,
    /// An integration's service account: acts only through its API tokens, never logs in.
    Service,
}

impl AccountKind {
    pub const ALL: &'static [AccountKind] = &[AccountKind::Staff, AccountKind::Maintenance, AccountKind::BreakGlass, AccountKind::Service];

    pub fn as_str(self) -> &'static str {
        match self {
            AccountKind::Staff => "staff",
            AccountKind::Maintenance => "maintenance",
            AccountKind::BreakGlass => "break_glass",
            AccountKind::Service => "service",
        }
    }

    pub fn parse(s: &str) -> Option<AccountKind> {
        AccountKind::ALL.iter().copied().find(|k| k.as_str() == s)
    }
}

/// How far a login has come. Only a `Full` session reaches any data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionStage {
    /// Password and, where needed, the second factor: the session may act.
    Full,
    /// The password was right; the account's second factor must follow.
    SecondFactor,
    /// The password was right, the role requires a second factor and the account has none: it may
    /// only enrol one.
    Enrol,
}

impl SessionStage {
    pub fn as_str(self) -> &'static str {
        match self {
            SessionStage::Full => "full",
            SessionStage::SecondFactor => "second_factor",
            SessionStage::Enrol => "enrol",
        }
    }

    pub fn parse(s: &str) -> Option<SessionStage> {
        match s {
            "full" => Some(SessionStage::Full),
            "second_factor" => Some(SessionStage::SecondFactor),
            "enrol" => Some(SessionStage::Enrol),
            _ => None,
        }
    }

    /// The stage a login reaches after the password: the factor the account has decides, then the
    /// role's policy.
    pub fn after_password(has_second_factor: bool, policy: &MfaPolicy, now: Timestamp) -> SessionStage {
        if has_second_factor {
            SessionStage::SecondFactor
        } else if policy.requires(now) {
            SessionStage::Enrol
        } else {
            SessionStage::Full
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn required_from_a_date_starts_on_that_date() {
        let from = Timestamp::from_micros(1_000_000);
        let p = MfaPolicy::new(MfaMode::RequiredFrom, Some(from)).expect("valid");
        assert!(!p.requires(Timestamp::from_micros(999_999)));
        assert!(p.requires(from));
        assert!(MfaPolicy::new(MfaMode::RequiredFrom, None).is_err());
        assert!(!MfaPolicy::default().requires(from));
        assert!(MfaPolicy::new(MfaMode::Required, None).expect("valid").requires(Timestamp::from_micros(0)));
    }

    #[test]
    fn a_second_factor_is_asked_whenever_the_account_has_one() {
        let optional = MfaPolicy::default();
        let required = MfaPolicy::new(MfaMode::Required, None).expect("valid");
        let now = Timestamp::from_micros(0);
        assert_eq!(SessionStage::after_password(true, &optional, now), SessionStage::SecondFactor);
        assert_eq!(SessionStage::after_password(false, &optional, now), SessionStage::Full);
        assert_eq!(SessionStage::after_password(false, &required, now), SessionStage::Enrol);
    }
}
