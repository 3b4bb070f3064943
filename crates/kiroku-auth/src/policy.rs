//! The password policy (T2-1.1; guideline 6.0 Q&A): at least 13 characters mixing letters, digits
//! and symbols, or at least 8 when the account has a second factor; no guessable passwords; no reuse.
//! The limits come from configuration, and the second-factor case is an input so that 2FA can plug in.

/// The configurable limits of the policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub min_length: usize,
    pub min_length_with_second_factor: usize,
    /// zxcvbn score (0-4) a password must reach; 3 means more than 10^8 guesses.
    pub min_strength: u8,
    /// The score a shorter password of an account with a second factor must reach.
    pub min_strength_with_second_factor: u8,
    /// How many earlier passwords may not be reused.
    pub history: usize,
}

/// What the policy needs to know about the account.
#[derive(Debug, Clone, Copy)]
pub struct PolicyContext<'a> {
    pub username: &'a str,
    pub display_name: &'a str,
    pub has_second_factor: bool,
}

/// Why a password was refused. `message_ja` is shown to staff; `Display` is the English form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyViolation {
    #[error("the password must be at least {0} characters long")]
    TooShort(usize),
    #[error("the password must contain letters, digits and symbols")]
    MissingClasses,
    #[error("the password is too easy to guess")]
    Guessable,
    #[error("the password must not contain the user name")]
    ContainsUsername,
    #[error("the password was used recently")]
    Reused,
    #[error("the password must be at most 128 characters long")]
    TooLong,
}

impl PolicyViolation {
    pub fn message_ja(&self) -> String {
        match self {
            PolicyViolation::TooShort(n) => format!("パスワードは{n}文字以上にしてください"),
            PolicyViolation::MissingClasses => "パスワードには英字・数字・記号をすべて含めてください".into(),
            PolicyViolation::Guessable => "推測されやすいパスワードは使用できません".into(),
            PolicyViolation::ContainsUsername => "パスワードに利用者IDを含めることはできません".into(),
            PolicyViolation::Reused => "最近使用したパスワードは再利用できません".into(),
            PolicyViolation::TooLong => "パスワードは128文字以下にしてください".into(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordPolicy {
    pub limits: Limits,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        PasswordPolicy {
            limits: Limits {
                min_length: 13,
                min_length_with_second_factor: 8,
                min_strength: 3,
                min_strength_with_second_factor: 2,
                history: 5,
            },
        }
    }
}

impl PasswordPolicy {
    pub fn new(limits: Limits) -> Self {
        PasswordPolicy { limits }
    }

    /// Checks a new password's form and strength. Reuse is checked by [`PasswordPolicy::check_reuse`]
    /// because it needs the stored history.
    pub fn check(&self, password: &str, ctx: PolicyContext<'_>) -> Result<(), PolicyViolation> {
        let len = password.chars().count();
        let min = if ctx.has_second_factor { self.limits.min_length_with_second_factor } else { self.limits.min_length };
        if len < min {
            return Err(PolicyViolation::TooShort(min));
        }
        if len > 128 {
            return Err(PolicyViolation::TooLong);
        }
        let letters = password.chars().any(char::is_alphabetic);
        let digits = password.chars().any(|c| c.is_ascii_digit());
        let symbols = password.chars().any(|c| !c.is_alphanumeric() && !c.is_whitespace());
        if !(letters && digits && symbols) {
            return Err(PolicyViolation::MissingClasses);
        }
        if !ctx.username.is_empty() && password.to_lowercase().contains(&ctx.username.to_lowercase()) {
            return Err(PolicyViolation::ContainsUsername);
        }
        let strength = zxcvbn::zxcvbn(password, &[ctx.username, ctx.display_name, "kiroku", "記録", "hospital", "byouin"]);
        let needed = if ctx.has_second_factor { self.limits.min_strength_with_second_factor } else { self.limits.min_strength };
        if (strength.score() as u8) < needed {
            return Err(PolicyViolation::Guessable);
        }
        Ok(())
    }

    /// Refuses a password that verifies against one of the last `history` hashes.
    pub fn check_reuse(&self, password: &str, recent_hashes: &[String]) -> Result<(), PolicyViolation> {
        if recent_hashes.iter().take(self.limits.history).any(|h| crate::password::verify(password, h)) {
            return Err(PolicyViolation::Reused);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(two_factor: bool) -> PolicyContext<'static> {
        PolicyContext { username: "dr.sato", display_name: "佐藤 花子", has_second_factor: two_factor }
    }

    #[test]
    fn long_mixed_passwords_pass_and_weak_ones_do_not() {
        let p = PasswordPolicy::default();
        assert_eq!(p.check("Tsuki-no-Hikari-2026!", ctx(false)), Ok(()));
        assert_eq!(p.check("Short1!", ctx(false)), Err(PolicyViolation::TooShort(13)));
        assert_eq!(p.check("alllettersandlong", ctx(false)), Err(PolicyViolation::MissingClasses));
        assert_eq!(p.check("Password123!!", ctx(false)), Err(PolicyViolation::Guessable));
        assert_eq!(p.check("xdr.sato-2026-Qz!", ctx(false)), Err(PolicyViolation::ContainsUsername));
        assert_eq!(p.check(&"aB3!".repeat(40), ctx(false)), Err(PolicyViolation::TooLong));
    }

    #[test]
    fn a_second_factor_allows_eight_characters() {
        let p = PasswordPolicy::default();
        assert_eq!(p.check("kQ7#vmZ2", ctx(false)), Err(PolicyViolation::TooShort(13)));
        assert_eq!(p.check("kQ7#vmZ2", ctx(true)), Ok(()));
    }

    #[test]
    fn one_time_passwords_satisfy_the_policy() {
        for _ in 0..20 {
            let otp = crate::token::one_time_password();
            assert_eq!(PasswordPolicy::default().check(&otp, ctx(false)), Ok(()), "{otp}");
        }
    }

    #[test]
    fn recent_passwords_are_not_reused() {
        let p = PasswordPolicy::default();
        let old = crate::password::hash("Tsuki-no-Hikari-2026!").expect("hash");
        assert_eq!(p.check_reuse("Tsuki-no-Hikari-2026!", std::slice::from_ref(&old)), Err(PolicyViolation::Reused));
        assert_eq!(p.check_reuse("Another-Moon-2027?", &[old]), Ok(()));
    }
}
