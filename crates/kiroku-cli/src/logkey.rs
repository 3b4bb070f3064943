//! The log's Ed25519 signing key: `keys/log.key` in the data directory, owner-only (0600), created
//! on first start. The file holds the log's origin (its name in checkpoints) and the key's seed.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use kiroku_log::{LogKey, LogVerifier};

const HEADER: &str = "kiroku-log-key v1";

fn key_path(data_dir: &Path) -> PathBuf {
    data_dir.join("keys").join("log.key")
}

/// Loads the signing key, creating it on first use.
pub fn load_or_create(data_dir: &Path) -> Result<LogKey> {
    let path = key_path(data_dir);
    if !path.exists() {
        create(&path)?;
    }
    read(&path)
}

/// The signing key for a server over `store`: an existing key, or a new one only while the store
/// has no signed checkpoint. A new key beside old checkpoints would leave every earlier checkpoint
/// unverifiable (a restored copy served without its keys, a second process without the shared
/// key), so that needs the operator's explicit `kiroku log new-key`.
pub async fn load_for_serving(data_dir: &Path, store: &kiroku_store::Store) -> Result<LogKey> {
    let path = key_path(data_dir);
    if !path.exists() {
        if let Some(cp) = store.latest_checkpoint().await? {
            bail!(
                "the store has checkpoints signed by a log key (up to size {}) but {} is missing: put the key back \
                 (`kiroku restore --keys-passphrase-file …` restores it from a backup); only if it is lost for good, \
                 `kiroku log new-key` starts a new one",
                cp.size,
                path.display()
            );
        }
        create(&path)?;
    }
    read(&path)
}

/// Starts a new log key where none exists (the old one is lost): later checkpoints are signed by
/// it, and `kiroku verify` keeps reporting the earlier ones as not signed by the current key.
pub fn create_new(data_dir: &Path) -> Result<LogKey> {
    let path = key_path(data_dir);
    if path.exists() {
        bail!("{} exists; a log key is never replaced", path.display());
    }
    create(&path)?;
    read(&path)
}

/// The public key, when the data directory has a log key.
pub fn load_verifier(data_dir: &Path) -> Result<Option<LogVerifier>> {
    let path = key_path(data_dir);
    if !path.exists() {
        return Ok(None);
    }
    Ok(Some(read(&path)?.verifier()))
}

fn read(path: &Path) -> Result<LogKey> {
    check_private(path)?;
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read the log key {}", path.display()))?;
    let mut lines = text.lines();
    if lines.next() != Some(HEADER) {
        bail!("{} is not a kiroku log key", path.display());
    }
    let origin = lines.next().filter(|o| !o.is_empty() && !o.contains(char::is_whitespace)).context("the log key has no origin line")?;
    let mut seed = [0u8; 32];
    hex::decode_to_slice(lines.next().unwrap_or("").trim(), &mut seed).context("the log key's seed is not 64 hex digits")?;
    Ok(LogKey::from_seed(origin, seed))
}

fn create(path: &Path) -> Result<()> {
    let dir = path.parent().context("key path has no directory")?;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut seed = [0u8; 32];
    seed.copy_from_slice(&kiroku_auth::token::random_bytes(32));
    let origin = format!("kiroku.local/{}", kiroku_auth::token::random_token(6).to_lowercase().replace(['-', '_'], "x"));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        options.mode(0o600);
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .with_context(|| format!("cannot restrict {}", dir.display()))?;
    }
    let mut file = options.open(path).with_context(|| format!("cannot create the log key {}", path.display()))?;
    writeln!(file, "{HEADER}\n{origin}\n{}", hex::encode(seed))?;
    file.sync_all()?;
    Ok(())
}

/// Refuses a key file that others can read: a leaked key lets anyone sign a rewritten history.
pub(crate) fn check_private(path: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path).with_context(|| format!("cannot read {}", path.display()))?.permissions().mode();
        if mode & 0o077 != 0 {
            bail!("{} must be readable by its owner only (chmod 600)", path.display());
        }
    }
    Ok(())
}
