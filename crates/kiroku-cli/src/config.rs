//! Configuration: defaults < `kiroku.toml` in the data directory < `KIROKU_*` variables < flags.
//! An unknown key or a value of the wrong type stops start-up with a message naming it.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::Deserialize;

/// The commented example, also printed by `kiroku default-config`; a test keeps it parseable and
/// equal to the defaults.
pub const EXAMPLE: &str = include_str!("../../../kiroku.example.toml");

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub listen: String,
    /// Empty: SQLite in the data directory. `postgres://…`: PostgreSQL.
    pub database_url: String,
    pub log_format: String,
    pub auth: AuthConfig,
    pub fixity: FixityConfig,
    pub audit: AuditConfig,
    pub storage: StorageConfig,
    pub syslog: SyslogConfig,
    pub backup: BackupConfig,
    pub network: NetworkConfig,
    pub timestamp: TimestampConfig,
    pub signing: SigningConfig,
    pub emergency: EmergencyConfig,
    pub response_time: ResponseTimeConfig,
    pub webauthn: WebauthnConfig,
    pub tls: TlsConfig,
    /// How many days old the compliance checklist's evidence may be.
    pub checklist: kiroku_governance::checklist::Thresholds,
    pub scan: ScanConfig,
    pub governance: GovernanceConfig,
}

/// Intervals of the periodic duties (days; 0: not tracked) shown on /governance/duties.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct GovernanceConfig {
    pub access_review_days: i64,
    pub restore_drill_days: i64,
    pub training_days: i64,
    pub internal_audit_days: i64,
    pub bcp_drill_days: i64,
    pub inventory_check_days: i64,
    pub contract_review_days: i64,
    pub remind_days: i64,
    /// A newer edition of the guideline's catalogue in the format of the embedded one
    /// (`crates/kiroku-governance/data/*/catalogue.json`); unset: the embedded edition.
    pub catalogue_path: Option<std::path::PathBuf>,
}

impl Default for GovernanceConfig {
    fn default() -> Self {
        let d = kiroku_core::ledgers::DutyIntervals::default();
        GovernanceConfig {
            access_review_days: d.access_review_days,
            restore_drill_days: d.restore_drill_days,
            training_days: d.training_days,
            internal_audit_days: d.internal_audit_days,
            bcp_drill_days: d.bcp_drill_days,
            inventory_check_days: d.inventory_check_days,
            contract_review_days: d.contract_review_days,
            remind_days: d.remind_days,
            catalogue_path: None,
        }
    }
}

impl GovernanceConfig {
    /// The catalogue this configuration names (checked by `validate` at load).
    fn catalogue(&self) -> Result<kiroku_governance::Catalogue> {
        match &self.catalogue_path {
            Some(path) => {
                kiroku_governance::Catalogue::load(path).map_err(|e| anyhow::anyhow!("governance.catalogue_path {}: {e}", path.display()))
            }
            None => Ok(kiroku_governance::Catalogue::embedded()),
        }
    }

    fn intervals(&self) -> kiroku_core::ledgers::DutyIntervals {
        kiroku_core::ledgers::DutyIntervals {
            access_review_days: self.access_review_days,
            restore_drill_days: self.restore_drill_days,
            training_days: self.training_days,
            internal_audit_days: self.internal_audit_days,
            bcp_drill_days: self.bcp_drill_days,
            inventory_check_days: self.inventory_check_days,
            contract_review_days: self.contract_review_days,
            remind_days: self.remind_days,
        }
    }
}

/// Scanned paper: the facility's holidays, which scanning deadlines skip like weekends.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ScanConfig {
    pub holidays: String,
}

impl ScanConfig {
    fn calendar(&self) -> Result<kiroku_core::scan::WorkCalendar> {
        let holidays = self
            .holidays
            .split(',')
            .map(str::trim)
            .filter(|d| !d.is_empty())
            .map(|d| kiroku_core::scan::parse_date("holidays", d).map_err(|e| anyhow::anyhow!("scan.{e}")))
            .collect::<Result<_>>()?;
        Ok(kiroku_core::scan::WorkCalendar { holidays })
    }
}

/// The health monitor behind automatic emergency read-only mode.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct EmergencyConfig {
    pub check_interval_seconds: u64,
    pub min_free_mib: u64,
    pub contact: String,
}

impl Default for EmergencyConfig {
    fn default() -> Self {
        EmergencyConfig { check_interval_seconds: 5, min_free_mib: 512, contact: String::new() }
    }
}

/// Response-time targets per purpose, in milliseconds, and the window the status page summarises.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ResponseTimeConfig {
    pub chart_ms: u64,
    pub document_ms: u64,
    pub search_ms: u64,
    pub login_ms: u64,
    pub print_ms: u64,
    pub write_ms: u64,
    pub window_minutes: u64,
}

impl Default for ResponseTimeConfig {
    fn default() -> Self {
        let t = kiroku_server::timing::Targets::default();
        ResponseTimeConfig {
            chart_ms: t.chart_ms,
            document_ms: t.document_ms,
            search_ms: t.search_ms,
            login_ms: t.login_ms,
            print_ms: t.print_ms,
            write_ms: t.write_ms,
            window_minutes: t.window_secs / 60,
        }
    }
}

/// Source networks (comma-separated addresses or CIDR networks; empty: anywhere) and the proxies
/// whose X-Forwarded-For is believed.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct NetworkConfig {
    pub trusted_proxies: String,
    pub doctor: String,
    pub nurse: String,
    pub pharmacist: String,
    pub clerk: String,
    pub admin: String,
    pub auditor: String,
    pub scan_officer: String,
    pub staff_accounts: String,
    pub maintenance_accounts: String,
    pub break_glass_accounts: String,
    pub internal: String,
}

impl NetworkConfig {
    fn rules(&self) -> Result<kiroku_server::network::NetworkRules> {
        use kiroku_core::identity::AccountKind;
        let parse = |key: &str, v: &str| kiroku_server::network::parse_networks(v).map_err(|e| anyhow::anyhow!("network.{key}: {e}"));
        let roles = [
            (kiroku_core::Role::Doctor, "doctor", &self.doctor),
            (kiroku_core::Role::Nurse, "nurse", &self.nurse),
            (kiroku_core::Role::Pharmacist, "pharmacist", &self.pharmacist),
            (kiroku_core::Role::Clerk, "clerk", &self.clerk),
            (kiroku_core::Role::Admin, "admin", &self.admin),
            (kiroku_core::Role::Auditor, "auditor", &self.auditor),
            (kiroku_core::Role::ScanOfficer, "scan_officer", &self.scan_officer),
        ];
        let kinds = [
            (AccountKind::Staff, "staff_accounts", &self.staff_accounts),
            (AccountKind::Maintenance, "maintenance_accounts", &self.maintenance_accounts),
            (AccountKind::BreakGlass, "break_glass_accounts", &self.break_glass_accounts),
        ];
        Ok(kiroku_server::network::NetworkRules {
            trusted_proxies: parse("trusted_proxies", &self.trusted_proxies)?,
            by_role: roles.iter().map(|(r, k, v)| Ok((*r, parse(k, v)?))).collect::<Result<_>>()?,
            by_kind: kinds.iter().map(|(r, k, v)| Ok((*r, parse(k, v)?))).collect::<Result<_>>()?,
            internal: parse("internal", &self.internal)?,
        })
    }
}

/// Security keys (WebAuthn): the relying party. Empty `rp_id`: `localhost`; empty `rp_origin`:
/// the scheme and port kiroku listens on with `rp_id` as host.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct WebauthnConfig {
    pub rp_id: String,
    pub rp_origin: String,
    pub rp_name: String,
}

impl Default for WebauthnConfig {
    fn default() -> Self {
        WebauthnConfig { rp_id: String::new(), rp_origin: String::new(), rp_name: "kiroku".into() }
    }
}

impl WebauthnConfig {
    /// The relying party for a server listening on `port`, over https when `tls`.
    pub fn relying_party(&self, port: u16, tls: bool) -> Result<kiroku_server::api::webauthn::Webauthn> {
        let rp_id = if self.rp_id.is_empty() { "localhost" } else { self.rp_id.as_str() };
        let origin = if self.rp_origin.is_empty() {
            let scheme = if tls { "https" } else { "http" };
            if (tls && port == 443) || (!tls && port == 80) { format!("{scheme}://{rp_id}") } else { format!("{scheme}://{rp_id}:{port}") }
        } else {
            self.rp_origin.clone()
        };
        kiroku_server::api::webauthn::relying_party(rp_id, &origin, &self.rp_name).map_err(|e| anyhow::anyhow!(e))
    }
}

/// Serving over TLS, and client certificates for terminals; empty `cert_file`: plain http (on
/// loopback, or behind a TLS reverse proxy). Files are relative to the data directory unless absolute.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct TlsConfig {
    pub cert_file: String,
    pub key_file: String,
    pub client_ca_file: String,
    /// `off` (or empty), `optional` or `required`.
    pub client_auth: String,
    /// Comma-separated roles whose sessions must come from a terminal with a client certificate.
    pub client_cert_roles: String,
}

impl TlsConfig {
    fn client_auth(&self) -> Result<kiroku_server::tls::ClientAuth> {
        kiroku_server::tls::ClientAuth::parse(&self.client_auth)
            .ok_or_else(|| anyhow::anyhow!("tls.client_auth must be off, optional or required, not {:?}", self.client_auth))
    }

    pub fn roles(&self) -> Result<Vec<kiroku_core::Role>> {
        self.client_cert_roles
            .split(',')
            .map(str::trim)
            .filter(|r| !r.is_empty())
            .map(|r| r.parse().map_err(|_| anyhow::anyhow!("tls.client_cert_roles: {r:?} is not a role")))
            .collect()
    }

    fn validate(&self) -> Result<()> {
        let auth = self.client_auth()?;
        if self.cert_file.is_empty() != self.key_file.is_empty() {
            bail!("tls.cert_file and tls.key_file go together");
        }
        if self.cert_file.is_empty() && (auth != kiroku_server::tls::ClientAuth::Off || !self.client_ca_file.is_empty()) {
            bail!("client certificates need TLS: set tls.cert_file and tls.key_file");
        }
        if auth != kiroku_server::tls::ClientAuth::Off && self.client_ca_file.is_empty() {
            bail!("tls.client_auth needs tls.client_ca_file (the CA that signs the terminals' certificates)");
        }
        if !self.roles()?.is_empty() && auth == kiroku_server::tls::ClientAuth::Off {
            bail!("tls.client_cert_roles needs tls.client_auth = \"optional\" or \"required\"");
        }
        Ok(())
    }

    /// The listener's settings, `None` for plain http. The key file must be readable by its owner only.
    pub fn settings(&self, data_dir: &Path) -> Result<Option<kiroku_server::tls::TlsSettings>> {
        if self.cert_file.is_empty() {
            return Ok(None);
        }
        let key_file = data_dir.join(&self.key_file);
        crate::logkey::check_private(&key_file).context("tls.key_file")?;
        Ok(Some(kiroku_server::tls::TlsSettings {
            cert_file: data_dir.join(&self.cert_file),
            key_file,
            client_ca_file: (!self.client_ca_file.is_empty()).then(|| data_dir.join(&self.client_ca_file)),
            client_auth: self.client_auth()?,
        }))
    }
}

/// RFC 3161 stamping of confirmed versions and signatures; `urls` empty: off.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct TimestampConfig {
    pub urls: String,
    pub trust_anchors: String,
    pub policy: String,
    pub timeout_seconds: u64,
    pub interval_seconds: u64,
    pub batch_max: i64,
    pub renew_before_days: u64,
    /// PEM CA certificates for an https TSA with a private CA, relative to the data directory.
    pub tls_ca_file: String,
}

impl Default for TimestampConfig {
    fn default() -> Self {
        TimestampConfig {
            urls: String::new(),
            trust_anchors: String::new(),
            policy: String::new(),
            timeout_seconds: 10,
            interval_seconds: 30,
            batch_max: 256,
            renew_before_days: 90,
            tls_ca_file: String::new(),
        }
    }
}

impl TimestampConfig {
    fn urls(&self) -> Vec<String> {
        self.urls.split(',').map(str::trim).filter(|u| !u.is_empty()).map(str::to_string).collect()
    }

    fn validate(&self) -> Result<()> {
        let urls = self.urls();
        if urls.is_empty() {
            return Ok(());
        }
        if let Some(bad) = urls.iter().find(|u| !u.starts_with("http://") && !u.starts_with("https://")) {
            bail!("timestamp.urls: {bad} is not an http:// or https:// URL (RFC 3161 over HTTP)");
        }
        if self.trust_anchors.is_empty() {
            bail!("timestamp.trust_anchors must name the PEM file of the CA certificates the TSA's certificate leads to");
        }
        if !self.policy.is_empty() && self.policy.parse::<kiroku_sign::der::asn1::ObjectIdentifier>().is_err() {
            bail!("timestamp.policy must be an OID such as 1.2.3.4.1, or empty");
        }
        if self.timeout_seconds == 0 || self.interval_seconds == 0 || self.batch_max <= 0 {
            bail!("timestamp.timeout_seconds, interval_seconds and batch_max must be greater than 0");
        }
        Ok(())
    }

    /// The stamping job's settings, reading the trust anchors; `None` when stamping is off.
    pub fn settings(&self, data_dir: &Path) -> Result<Option<kiroku_server::stamping::TimestampSettings>> {
        let urls = self.urls();
        if urls.is_empty() {
            return Ok(None);
        }
        Ok(Some(kiroku_server::stamping::TimestampSettings {
            urls,
            anchors: read_anchors(data_dir, "timestamp.trust_anchors", &self.trust_anchors)?,
            policy: (!self.policy.is_empty())
                .then(|| self.policy.parse())
                .transpose()
                .map_err(|_| anyhow::anyhow!("timestamp.policy is not an OID"))?,
            timeout: std::time::Duration::from_secs(self.timeout_seconds),
            interval: std::time::Duration::from_secs(self.interval_seconds),
            batch_max: self.batch_max,
            renew_before: std::time::Duration::from_secs(self.renew_before_days * 86_400),
            tls_ca_pem: if self.tls_ca_file.is_empty() {
                None
            } else {
                let path = data_dir.join(&self.tls_ca_file);
                Some(std::fs::read(&path).with_context(|| format!("timestamp.tls_ca_file: cannot read {}", path.display()))?)
            },
        }))
    }
}

/// Electronic signatures: whose certificates are trusted, and where revocation answers come
/// from besides the certificates' own CRL distribution points and OCSP responders.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct SigningConfig {
    pub trust_anchors: String,
    /// CRL files (DER or PEM), comma separated, relative to the data directory unless absolute.
    pub crl_files: String,
    pub revocation_timeout_seconds: u64,
    /// The facility's seal on a PKCS#11 token: the module (.so), the token's label and the
    /// label of the key and its certificate. The PIN is given with each signature.
    pub pkcs11_module: String,
    pub pkcs11_token_label: String,
    pub pkcs11_key_label: String,
}

impl Default for SigningConfig {
    fn default() -> Self {
        SigningConfig {
            trust_anchors: String::new(),
            crl_files: String::new(),
            revocation_timeout_seconds: 10,
            pkcs11_module: String::new(),
            pkcs11_token_label: String::new(),
            pkcs11_key_label: String::new(),
        }
    }
}

impl SigningConfig {
    /// The facility's seal on a PKCS#11 token, when configured.
    pub fn pkcs11(&self) -> Result<Option<kiroku_sign::pkcs11::Pkcs11Location>> {
        if self.pkcs11_module.is_empty() {
            if !self.pkcs11_token_label.is_empty() || !self.pkcs11_key_label.is_empty() {
                bail!("signing.pkcs11_token_label and pkcs11_key_label need signing.pkcs11_module");
            }
            return Ok(None);
        }
        if self.pkcs11_token_label.is_empty() || self.pkcs11_key_label.is_empty() {
            bail!("signing.pkcs11_module needs pkcs11_token_label and pkcs11_key_label");
        }
        if !Path::new(&self.pkcs11_module).is_file() {
            bail!("signing.pkcs11_module: {} is not a file", self.pkcs11_module);
        }
        Ok(Some(kiroku_sign::pkcs11::Pkcs11Location {
            module: self.pkcs11_module.clone().into(),
            token_label: self.pkcs11_token_label.clone(),
            key_label: self.pkcs11_key_label.clone(),
        }))
    }

    /// The revocation settings, reading the configured CRL files.
    pub fn revocation(&self, data_dir: &Path) -> Result<kiroku_server::revocation::RevocationSettings> {
        let mut crl_files = Vec::new();
        for file in self.crl_files.split(',').map(str::trim).filter(|f| !f.is_empty()) {
            let path = data_dir.join(file);
            let bytes = std::fs::read(&path).with_context(|| format!("signing.crl_files: cannot read {}", path.display()))?;
            let der =
                kiroku_server::revocation::crl_der(&bytes).map_err(|e| anyhow::anyhow!("signing.crl_files: {}: {e}", path.display()))?;
            crl_files.push((file.to_string(), der));
        }
        if self.revocation_timeout_seconds == 0 {
            bail!("signing.revocation_timeout_seconds must be greater than 0");
        }
        Ok(kiroku_server::revocation::RevocationSettings {
            crl_files,
            timeout: std::time::Duration::from_secs(self.revocation_timeout_seconds),
        })
    }

    pub fn anchors(&self, data_dir: &Path) -> Result<kiroku_sign::TrustAnchors> {
        if self.trust_anchors.is_empty() {
            return Ok(kiroku_sign::TrustAnchors::default());
        }
        read_anchors(data_dir, "signing.trust_anchors", &self.trust_anchors)
    }
}

/// A PEM bundle of CA certificates, relative to the data directory unless absolute.
fn read_anchors(data_dir: &Path, key: &str, file: &str) -> Result<kiroku_sign::TrustAnchors> {
    let path = data_dir.join(file);
    let pem = std::fs::read(&path).with_context(|| format!("{key}: cannot read {}", path.display()))?;
    kiroku_sign::TrustAnchors::from_pem(&pem).map_err(|e| anyhow::anyhow!("{key}: {}: {e}", path.display()))
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct FixityConfig {
    pub interval_hours: u64,
    pub interval_seconds: u64,
}

impl Default for FixityConfig {
    fn default() -> Self {
        FixityConfig { interval_hours: 24, interval_seconds: 0 }
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct AuditConfig {
    pub business_hours_start: u8,
    pub business_hours_end: u8,
}

impl Default for AuditConfig {
    fn default() -> Self {
        AuditConfig { business_hours_start: 8, business_hours_end: 19 }
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    pub idle_timeout_minutes: i64,
    pub session_lifetime_hours: i64,
    pub lockout_failures: i64,
    pub lockout_minutes: i64,
    pub password_min_length: i64,
    pub password_min_length_with_second_factor: i64,
    pub password_history: i64,
    /// Seconds instead of minutes for the idle timeout; for drills and tests.
    pub idle_timeout_seconds: i64,
    /// A new login ends the account's other sessions.
    pub single_session: bool,
    /// Minutes a break-glass account stays usable after the login that opened it.
    pub break_glass_minutes: i64,
    /// Seconds instead of minutes when greater than 0; for drills and tests.
    pub break_glass_seconds: i64,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct StorageConfig {
    pub max_upload_mib: u64,
}

/// Backups: the default target of `kiroku backup …` and `kiroku restore`, and the retention policy.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct BackupConfig {
    pub target: String,
    pub daily: u32,
    pub weekly: u32,
    pub monthly: u32,
    pub retention_days: u32,
}

impl Default for BackupConfig {
    fn default() -> Self {
        BackupConfig { target: String::new(), daily: 7, weekly: 4, monthly: 12, retention_days: 0 }
    }
}

/// Forwarding of the audit trail to a syslog collector over TLS; all empty: off.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct SyslogConfig {
    pub collector: String,
    pub ca_file: String,
    pub client_cert_file: String,
    pub client_key_file: String,
    pub hostname: String,
}

impl SyslogConfig {
    fn validate(&self) -> Result<()> {
        if self.collector.is_empty() {
            if [&self.ca_file, &self.client_cert_file, &self.client_key_file].iter().any(|v| !v.is_empty()) {
                bail!("syslog.collector is empty but other [syslog] settings are set: set the collector, or remove them");
            }
            return Ok(());
        }
        if self.ca_file.is_empty() {
            bail!("syslog.ca_file must name the PEM file of the CA that signed the collector's certificate");
        }
        if self.client_cert_file.is_empty() != self.client_key_file.is_empty() {
            bail!("syslog.client_cert_file and syslog.client_key_file go together");
        }
        Ok(())
    }

    /// The forwarder's settings, `None` when forwarding is off.
    fn settings(&self, hostname: &str) -> Option<kiroku_server::syslog::SyslogSettings> {
        let path = |v: &str| (!v.is_empty()).then(|| PathBuf::from(v));
        (!self.collector.is_empty()).then(|| kiroku_server::syslog::SyslogSettings {
            collector: self.collector.clone(),
            ca_file: PathBuf::from(&self.ca_file),
            client_cert_file: path(&self.client_cert_file),
            client_key_file: path(&self.client_key_file),
            hostname: hostname.to_string(),
            app_name: "kiroku".into(),
        })
    }

    /// The configured host name, else this machine's (Linux), else "kiroku".
    fn hostname(&self) -> String {
        if !self.hostname.is_empty() {
            return self.hostname.clone();
        }
        std::fs::read_to_string("/proc/sys/kernel/hostname")
            .or_else(|_| std::fs::read_to_string("/etc/hostname"))
            .map(|h| h.trim().to_string())
            .ok()
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "kiroku".into())
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: "127.0.0.1:8080".into(),
            database_url: String::new(),
            log_format: "text".into(),
            auth: AuthConfig::default(),
            fixity: FixityConfig::default(),
            audit: AuditConfig::default(),
            storage: StorageConfig::default(),
            syslog: SyslogConfig::default(),
            backup: BackupConfig::default(),
            network: NetworkConfig::default(),
            timestamp: TimestampConfig::default(),
            signing: SigningConfig::default(),
            emergency: EmergencyConfig::default(),
            response_time: ResponseTimeConfig::default(),
            webauthn: WebauthnConfig::default(),
            tls: TlsConfig::default(),
            checklist: kiroku_governance::checklist::Thresholds::default(),
            scan: ScanConfig::default(),
            governance: GovernanceConfig::default(),
        }
    }
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            idle_timeout_minutes: 15,
            session_lifetime_hours: 12,
            lockout_failures: 5,
            lockout_minutes: 15,
            password_min_length: 13,
            password_min_length_with_second_factor: 8,
            password_history: 5,
            idle_timeout_seconds: 0,
            single_session: false,
            break_glass_minutes: 240,
            break_glass_seconds: 0,
        }
    }
}

impl Default for StorageConfig {
    fn default() -> Self {
        StorageConfig { max_upload_mib: 100 }
    }
}

/// Variables that are not settings and may be present.
const NOT_SETTINGS: &[&str] = &["KIROKU_DATA_DIR", "KIROKU_LOG"];

impl Config {
    /// Loads `kiroku.toml` from `data_dir` (if present) and applies `KIROKU_*` variables.
    pub fn load(data_dir: &Path) -> Result<Config> {
        let path = data_dir.join("kiroku.toml");
        let mut table: toml::Table = match std::fs::read_to_string(&path) {
            Ok(text) => text.parse().with_context(|| format!("{} is not valid TOML", path.display()))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => toml::Table::new(),
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
        };
        apply_env(&mut table, std::env::vars())?;
        let config: Config = toml::Value::Table(table)
            .try_into()
            .with_context(|| format!("invalid configuration ({} and KIROKU_* variables)", path.display()))?;
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<()> {
        let a = &self.auth;
        let positive = [
            ("auth.session_lifetime_hours", a.session_lifetime_hours),
            ("auth.lockout_failures", a.lockout_failures),
            ("auth.lockout_minutes", a.lockout_minutes),
            ("auth.password_history", a.password_history),
            ("auth.break_glass_minutes", a.break_glass_minutes),
        ];
        for (key, v) in positive {
            if v <= 0 {
                bail!("{key} must be greater than 0");
            }
        }
        if a.idle_timeout_minutes <= 0 && a.idle_timeout_seconds <= 0 {
            bail!("auth.idle_timeout_minutes must be greater than 0");
        }
        if a.password_min_length < 8 {
            bail!("auth.password_min_length must be at least 8 (the guideline's minimum)");
        }
        if a.password_min_length_with_second_factor < 8 {
            bail!("auth.password_min_length_with_second_factor must be at least 8");
        }
        let (start, end) = (self.audit.business_hours_start, self.audit.business_hours_end);
        if start >= end || end > 24 {
            bail!("audit.business_hours_start must be before audit.business_hours_end, both hours 0-24");
        }
        if self.storage.max_upload_mib == 0 {
            bail!("storage.max_upload_mib must be greater than 0");
        }
        self.syslog.validate()?;
        self.network.rules()?;
        self.timestamp.validate()?;
        self.tls.validate()?;
        let r = &self.response_time;
        for (key, v) in [
            ("chart_ms", r.chart_ms),
            ("document_ms", r.document_ms),
            ("search_ms", r.search_ms),
            ("login_ms", r.login_ms),
            ("print_ms", r.print_ms),
            ("write_ms", r.write_ms),
            ("window_minutes", r.window_minutes),
        ] {
            if v == 0 {
                bail!("response_time.{key} must be greater than 0");
            }
        }
        self.checklist.validate().map_err(anyhow::Error::msg)?;
        self.scan.calendar()?;
        let g = self.governance.intervals();
        let days = [g.access_review_days, g.restore_drill_days, g.training_days, g.internal_audit_days, g.bcp_drill_days];
        if days.iter().chain([g.inventory_check_days, g.contract_review_days, g.remind_days].iter()).any(|d| !(0..=3660).contains(d)) {
            bail!("governance: every interval must be between 0 and 3660 days");
        }
        self.governance.catalogue()?;
        if self.emergency.contact.chars().count() > 200 {
            bail!("emergency.contact must be at most 200 characters");
        }
        if !["text", "json"].contains(&self.log_format.as_str()) {
            bail!("log_format must be \"text\" or \"json\"");
        }
        if !self.database_url.is_empty() && !self.database_url.starts_with("postgres://") && !self.database_url.starts_with("postgresql://")
        {
            bail!("database_url must be empty (SQLite in the data directory) or a postgres:// URL");
        }
        Ok(())
    }

    /// The server settings these values give.
    pub fn settings(&self) -> kiroku_server::Settings {
        let a = &self.auth;
        let mut policy = kiroku_auth::PasswordPolicy::default();
        policy.limits.min_length = a.password_min_length as usize;
        policy.limits.min_length_with_second_factor = a.password_min_length_with_second_factor as usize;
        policy.limits.history = a.password_history as usize;
        kiroku_server::Settings {
            idle_timeout_secs: if a.idle_timeout_seconds > 0 { a.idle_timeout_seconds } else { a.idle_timeout_minutes * 60 },
            session_lifetime_secs: a.session_lifetime_hours * 3600,
            lockout: kiroku_store::command::LockoutPolicy { max_failures: a.lockout_failures, lock_seconds: a.lockout_minutes * 60 },
            password_policy: policy,
            max_upload_bytes: self.storage.max_upload_mib * 1024 * 1024,
            fixity_interval_secs: if self.fixity.interval_seconds > 0 {
                self.fixity.interval_seconds
            } else {
                self.fixity.interval_hours * 3600
            },
            business_hours: kiroku_store::review::BusinessHours {
                start_hour: self.audit.business_hours_start,
                end_hour: self.audit.business_hours_end,
            },
            syslog: self.syslog.settings(&self.syslog.hostname()),
            audit_source: self.syslog.hostname(),
            single_session: a.single_session,
            break_glass_secs: if a.break_glass_seconds > 0 { a.break_glass_seconds } else { a.break_glass_minutes * 60 },
            // Checked by validate() at load; a bad list cannot reach here.
            network: self.network.rules().unwrap_or_default(),
            health_check_interval_secs: self.emergency.check_interval_seconds,
            min_free_bytes: self.emergency.min_free_mib.saturating_mul(1024 * 1024),
            emergency_contact: self.emergency.contact.clone(),
            duties: self.governance.intervals(),
            // Checked by validate() at load.
            catalogue: std::sync::Arc::new(self.governance.catalogue().unwrap_or_else(|_| kiroku_governance::Catalogue::embedded())),
            response_targets: kiroku_server::timing::Targets {
                chart_ms: self.response_time.chart_ms,
                document_ms: self.response_time.document_ms,
                search_ms: self.response_time.search_ms,
                login_ms: self.response_time.login_ms,
                print_ms: self.response_time.print_ms,
                write_ms: self.response_time.write_ms,
                window_secs: self.response_time.window_minutes * 60,
            },
            checklist: self.checklist,
            // Checked by validate() at load.
            scan_calendar: self.scan.calendar().unwrap_or_default(),
            ..kiroku_server::Settings::default()
        }
    }
}

/// Sets `section.key` from `KIROKU_SECTION_KEY` for every key the configuration knows.
fn apply_env(table: &mut toml::Table, vars: impl Iterator<Item = (String, String)>) -> Result<()> {
    let known = known_keys();
    for (name, value) in vars {
        let Some(rest) = name.strip_prefix("KIROKU_") else { continue };
        if NOT_SETTINGS.contains(&name.as_str()) || rest.starts_with("TEST_") {
            continue;
        }
        let Some((section, key)) = known.iter().find(|(s, k)| env_name(s.as_deref(), k) == name) else {
            bail!("{name} is not a kiroku setting (see `kiroku default-config`)");
        };
        let parsed = match value.as_str() {
            "true" => toml::Value::Boolean(true),
            "false" => toml::Value::Boolean(false),
            _ => value.parse::<i64>().map(toml::Value::Integer).unwrap_or_else(|_| toml::Value::String(value.clone())),
        };
        match section {
            Some(s) => {
                let entry = table.entry(s.clone()).or_insert_with(|| toml::Value::Table(toml::Table::new()));
                let toml::Value::Table(t) = entry else { bail!("[{s}] in kiroku.toml must be a table") };
                t.insert(key.clone(), parsed);
            }
            None => {
                table.insert(key.clone(), parsed);
            }
        }
    }
    Ok(())
}

fn env_name(section: Option<&str>, key: &str) -> String {
    match section {
        Some(s) => format!("KIROKU_{}_{}", s.to_uppercase(), key.to_uppercase()),
        None => format!("KIROKU_{}", key.to_uppercase()),
    }
}

/// Every (section, key) of the example configuration.
fn known_keys() -> Vec<(Option<String>, String)> {
    let Ok(table) = EXAMPLE.parse::<toml::Table>() else { return Vec::new() };
    let mut keys = Vec::new();
    for (k, v) in table {
        match v {
            toml::Value::Table(t) => keys.extend(t.keys().map(|sub| (Some(k.clone()), sub.clone()))),
            _ => keys.push((None, k)),
        }
    }
    keys
}

/// The data directory from the flag, `KIROKU_DATA_DIR`, or ./kiroku-data.
pub fn data_dir(flag: Option<PathBuf>) -> PathBuf {
    flag.or_else(|| std::env::var_os("KIROKU_DATA_DIR").map(PathBuf::from)).unwrap_or_else(|| PathBuf::from("kiroku-data"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_example_is_the_defaults() {
        let example: Config = toml::from_str(EXAMPLE).expect("example parses");
        assert_eq!(example, Config::default());
        example.validate().expect("defaults are valid");
    }

    #[test]
    fn a_catalogue_file_replaces_the_embedded_edition() {
        let dir = tempfile::tempdir().expect("dir");
        let mut newer = kiroku_governance::Catalogue::embedded();
        newer.edition = "第6.1版（試験用）".into();
        let path = dir.path().join("catalogue.json");
        std::fs::write(&path, serde_json::to_string(&newer).expect("json")).expect("write");
        let with = |p: &std::path::Path| -> Config {
            toml::from_str(&format!("[governance]\ncatalogue_path = {:?}", p.display().to_string())).expect("parses")
        };
        let c = with(&path);
        c.validate().expect("a valid catalogue");
        assert_eq!(c.settings().catalogue.edition, "第6.1版（試験用）");
        assert_eq!(Config::default().settings().catalogue.edition, kiroku_governance::Catalogue::embedded().edition);
        std::fs::write(&path, "{}").expect("write");
        assert!(with(&path).validate().is_err_and(|e| e.to_string().contains("catalogue_path")), "a bad file is refused at load");
        assert!(with(&dir.path().join("missing.json")).validate().is_err());
    }

    #[test]
    fn env_overrides_and_unknown_names_are_refused() {
        let mut t = toml::Table::new();
        let vars = [
            ("KIROKU_AUTH_LOCKOUT_FAILURES".to_string(), "3".to_string()),
            ("KIROKU_LISTEN".into(), "0.0.0.0:9".into()),
            ("KIROKU_TEST_PG_URL".into(), "x".into()),
        ];
        apply_env(&mut t, vars.into_iter()).expect("apply");
        let c: Config = toml::Value::Table(t).try_into().expect("config");
        assert_eq!(c.auth.lockout_failures, 3);
        assert_eq!(c.listen, "0.0.0.0:9");
        let mut t = toml::Table::new();
        let err = apply_env(&mut t, [("KIROKU_AUTH_LOCKOUT".to_string(), "3".to_string())].into_iter()).expect_err("unknown");
        assert!(err.to_string().contains("KIROKU_AUTH_LOCKOUT"));
        let bad: Result<Config, _> = toml::from_str("[auth]\nlockout_failures = \"five\"");
        assert!(bad.is_err());
    }

    #[test]
    fn syslog_needs_a_ca_and_client_files_in_pairs() {
        let with = |s: &str| toml::from_str::<Config>(&format!("[syslog]\n{s}")).expect("parses").validate();
        with("").expect("off by default");
        with("collector = \"siem:6514\"\nca_file = \"/etc/kiroku/ca.pem\"").expect("collector with CA");
        assert!(with("collector = \"siem:6514\"").is_err(), "a CA is required");
        assert!(with("collector = \"siem:6514\"\nca_file = \"ca.pem\"\nclient_cert_file = \"c.pem\"").is_err(), "cert without key");
        assert!(with("ca_file = \"ca.pem\"").is_err(), "settings without a collector");
        let c: Config =
            toml::from_str("[syslog]\ncollector = \"siem:6514\"\nca_file = \"ca.pem\"\nhostname = \"kiroku01\"").expect("parses");
        let s = c.settings().syslog.expect("on");
        assert_eq!((s.collector.as_str(), s.hostname.as_str(), s.client_cert_file), ("siem:6514", "kiroku01", None));
        assert_eq!(c.settings().audit_source, "kiroku01");
    }
}
