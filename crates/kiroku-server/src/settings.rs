//! Server settings. The CLI fills them from defaults, kiroku.toml and KIROKU_* variables.

use kiroku_auth::PasswordPolicy;
use kiroku_store::command::LockoutPolicy;

#[derive(Debug, Clone)]
pub struct Settings {
    /// Minutes of inactivity after which a session ends.
    pub idle_timeout_secs: i64,
    /// Hours after login after which a session ends whatever the activity.
    pub session_lifetime_secs: i64,
    pub lockout: LockoutPolicy,
    pub password_policy: PasswordPolicy,
    /// Largest attachment accepted, in bytes.
    pub max_upload_bytes: u64,
    /// Largest JSON request body accepted, in bytes.
    pub max_json_bytes: usize,
    /// Whether the web session cookie carries `Secure`. Off only when the server listens on loopback,
    /// where browsers reach it over plain http.
    pub secure_cookies: bool,
    /// Forwarding of the audit trail to a syslog collector over TLS (IHE ATNA); `None`: off.
    pub syslog: Option<crate::syslog::SyslogSettings>,
    /// The name of this installation in exported audit events (FHIR observer, DICOM audit source).
    pub audit_source: String,
    /// Seconds between scheduled fixity checks; 0 turns them off.
    pub fixity_interval_secs: u64,
    /// Working hours for the audit review report's after-hours section.
    pub business_hours: kiroku_store::review::BusinessHours,
    /// Whether a new full login ends the account's other sessions (one login, one terminal).
    pub single_session: bool,
    /// Trusted proxies and the source networks of roles and account kinds.
    pub network: crate::network::NetworkRules,
    /// Seconds a break-glass account stays open after the login that opened it.
    pub break_glass_secs: i64,
    /// The issuer name authenticator apps show beside the account.
    pub totp_issuer: String,
    /// RFC 3161 stamping of confirmed versions and signatures; `None`: off.
    pub timestamp: Option<std::sync::Arc<crate::stamping::TimestampSettings>>,
    /// CA certificates that signers' certificates must lead to (HPKI or the facility's own CA).
    pub signer_anchors: kiroku_sign::TrustAnchors,
    /// Where revocation answers come from besides the certificates' own URLs.
    pub revocation: crate::revocation::RevocationSettings,
    /// The facility's seal on a PKCS#11 token (HSM); the PIN comes with each use, never kept.
    pub pkcs11: Option<kiroku_sign::pkcs11::Pkcs11Location>,
    /// The data directory, whose filesystem the health monitor watches; `None`: the file store's.
    pub data_dir: Option<std::path::PathBuf>,
    /// Seconds between the health monitor's checks (database, free space, file store); 0: off.
    pub health_check_interval_secs: u64,
    /// kiroku enters emergency read-only mode when the data directory's filesystem has less free
    /// space than this, so that what is left still takes the audit events of reads.
    pub min_free_bytes: u64,
    /// Who staff should contact while kiroku is read-only (shown on the banner).
    pub emergency_contact: String,
    /// Response-time targets per purpose (見読性, T2-2.3).
    pub response_targets: crate::timing::Targets,
    /// The WebAuthn relying party (security keys as second factors); `None`: keys cannot be used.
    pub webauthn: Option<std::sync::Arc<webauthn_rs::Webauthn>>,
    /// Serve over TLS with this configuration (certificate, key, client certificates); `None`: plain http.
    pub tls: Option<std::sync::Arc<rustls::ServerConfig>>,
    /// Roles whose sessions must come from a terminal with a client certificate (TLS).
    pub client_cert_roles: Vec<kiroku_core::Role>,
    /// How old the compliance checklist's evidence may be (`[checklist]`).
    pub checklist: kiroku_governance::checklist::Thresholds,
    /// Working days for scanning deadlines: weekends and these holidays do not count (T2-5.4).
    pub scan_calendar: kiroku_core::scan::WorkCalendar,
    /// Intervals of the periodic duties (`[governance]`).
    pub duties: kiroku_core::ledgers::DutyIntervals,
    /// The guideline's catalogue: the embedded edition, or a newer one from
    /// `[governance] catalogue_path` (loaded and validated at start).
    pub catalogue: std::sync::Arc<kiroku_governance::Catalogue>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            idle_timeout_secs: 15 * 60,
            session_lifetime_secs: 12 * 3600,
            lockout: LockoutPolicy { max_failures: 5, lock_seconds: 15 * 60 },
            password_policy: PasswordPolicy::default(),
            max_upload_bytes: 100 * 1024 * 1024,
            max_json_bytes: 2 * 1024 * 1024,
            secure_cookies: true,
            syslog: None,
            audit_source: "kiroku".into(),
            fixity_interval_secs: 24 * 3600,
            business_hours: kiroku_store::review::BusinessHours::default(),
            single_session: false,
            network: crate::network::NetworkRules::default(),
            totp_issuer: "kiroku".into(),
            timestamp: None,
            signer_anchors: kiroku_sign::TrustAnchors::default(),
            revocation: crate::revocation::RevocationSettings::default(),
            pkcs11: None,
            break_glass_secs: 4 * 3600,
            data_dir: None,
            health_check_interval_secs: 5,
            min_free_bytes: 512 * 1024 * 1024,
            emergency_contact: String::new(),
            response_targets: crate::timing::Targets::default(),
            webauthn: None,
            tls: None,
            client_cert_roles: Vec::new(),
            checklist: kiroku_governance::checklist::Thresholds::default(),
            scan_calendar: kiroku_core::scan::WorkCalendar::default(),
            duties: kiroku_core::ledgers::DutyIntervals::default(),
            catalogue: std::sync::Arc::new(kiroku_governance::Catalogue::embedded()),
        }
    }
}

impl Settings {
    /// How often a session's last activity is written: often enough for the idle timeout to be
    /// accurate to a quarter of itself, rarely enough not to turn every read into two writes.
    pub fn touch_interval_secs(&self) -> i64 {
        (self.idle_timeout_secs / 4).clamp(1, 60)
    }
}
