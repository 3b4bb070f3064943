//! `kiroku user …`: account management from the server's console, audited as the local operator.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Subcommand;
use kiroku_auth::{PolicyContext, password, token};
use kiroku_core::{Role, Timestamp, Username};
use kiroku_store::{Actor, Command, UserRecord};

use crate::open::{open, start};

#[derive(Subcommand)]
pub enum UserCmd {
    /// Create an account; prints a one-time password unless --password-file is given.
    Add {
        username: String,
        /// doctor, nurse, pharmacist, clerk, admin, auditor or scan_officer.
        #[arg(long)]
        role: String,
        #[arg(long)]
        display_name: String,
        #[arg(long)]
        password_file: Option<PathBuf>,
    },
    /// Disable an account; its sessions end at once.
    Disable { username: String },
    /// Unlock an account locked by failed logins.
    Unlock { username: String },
    /// List accounts.
    List,
}

/// The console operator, named in the audit trail by the OS user running `kiroku`.
pub(crate) fn operator() -> Actor {
    let os_user = std::env::var("USER").or_else(|_| std::env::var("LOGNAME")).unwrap_or_else(|_| "unknown".into());
    Actor::local_operator(&os_user)
}

fn name(raw: &str) -> Result<Username> {
    Username::parse(raw).map_err(|e| anyhow::anyhow!("{e}"))
}

pub async fn run(data_dir: &Path, database_url: Option<String>, cmd: UserCmd) -> Result<()> {
    let opened = open(data_dir, database_url).await?;
    let store = start(&opened);
    let actor = operator();
    match cmd {
        UserCmd::Add { username, role, display_name, password_file } => {
            let username = name(&username)?;
            let role: Role = role.parse().map_err(|e| anyhow::anyhow!("--role: {e}"))?;
            let (pw, generated) = match password_file {
                Some(f) => {
                    let pw = std::fs::read_to_string(&f)
                        .with_context(|| format!("cannot read {}", f.display()))?
                        .trim_end_matches(['\n', '\r'])
                        .to_string();
                    let ctx = PolicyContext { username: username.as_str(), display_name: &display_name, has_second_factor: false };
                    opened
                        .config
                        .settings()
                        .password_policy
                        .check(&pw, ctx)
                        .map_err(|v| anyhow::anyhow!("the password is refused: {v}"))?;
                    (pw, false)
                }
                None => (token::one_time_password(), true),
            };
            let hash = password::hash(&pw).map_err(|_| anyhow::anyhow!("password hashing failed"))?;
            let now = Timestamp::now();
            let user = UserRecord::new(username, display_name, role, hash, now);
            let user = store.execute(Command::CreateUser { actor, user }).await?.into_user()?;
            println!("created {} ({})", user.username, user.role.label_ja());
            if generated {
                println!("one-time password (shown once, must be changed at first login): {pw}");
            }
        }
        UserCmd::Disable { username } => {
            store
                .execute(Command::UpdateUser { actor, username: name(&username)?, display_name: None, role: None, disabled: Some(true) })
                .await?;
            println!("disabled {username}; its sessions have ended");
        }
        UserCmd::Unlock { username } => {
            store.execute(Command::UnlockUser { actor, username: name(&username)? }).await?;
            println!("unlocked {username}");
        }
        UserCmd::List => {
            let users = store.execute(Command::ListUsers { actor }).await?.into_users()?;
            println!("{:<24} {:<12} {:<10} {:<8} last login", "username", "role", "state", "failures");
            for u in users {
                let state = if u.disabled {
                    "disabled"
                } else if u.is_locked(Timestamp::now()) {
                    "locked"
                } else {
                    "active"
                };
                let last = u.last_login_at.map(|t| t.to_rfc3339()).unwrap_or_else(|| "-".into());
                println!("{:<24} {:<12} {:<10} {:<8} {last}", u.username.as_str(), u.role.as_str(), state, u.failed_logins);
            }
        }
    }
    Ok(())
}
