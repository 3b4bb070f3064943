//! The `kiroku` binary.
//!
//! Exit codes: 0 success; 1 `verify` or `export verify` found problems, or an export finished
//! without some attached files; 2 the command could not run (bad input, configuration, database or
//! file error), with a one-line reason on stderr.

mod backup;
mod config;
mod export;
mod logcmd;
mod logkey;
mod open;
mod serve;
mod users;
mod verify;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "kiroku",
    version,
    about = "Medical-records vault for Japanese hospitals and clinics (医療情報の安全管理ガイドライン対応)"
)]
struct Cli {
    /// Data directory (database, files, kiroku.toml). Default: $KIROKU_DATA_DIR or ./kiroku-data.
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
    /// postgres://… to use PostgreSQL instead of the embedded SQLite (also KIROKU_DATABASE_URL).
    #[arg(long, global = true)]
    database_url: Option<String>,
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run the server; initialises an empty data directory first.
    Serve {
        /// Address to listen on, e.g. 127.0.0.1:8080 (overrides `listen` in kiroku.toml).
        #[arg(long)]
        listen: Option<String>,
    },
    /// Initialise the data directory and create the first administrator.
    Init {
        /// The first administrator's user name.
        #[arg(long, default_value = "admin")]
        admin_user: String,
        /// A file holding the first administrator's password (it must be changed at first login).
        /// Without it a one-time password is generated and printed once.
        #[arg(long)]
        admin_password_file: Option<PathBuf>,
    },
    /// Manage accounts from the server's console.
    #[command(subcommand)]
    User(users::UserCmd),
    /// Verify every stored version, file and audit record; exit 1 when anything does not match.
    Verify {
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
        /// Check timestamps and signatures as of this time (RFC 3339) instead of now, to see which
        /// would no longer verify after a certificate expires.
        #[arg(long)]
        at: Option<String>,
    },
    /// Backups: targets, generations, checks without restoring, retention.
    #[command(subcommand)]
    Backup(backup::BackupCmd),
    /// Restore a backup into an empty folder, or rehearse it (--drill) and record the drill.
    Restore(backup::RestoreArgs),
    /// The offline-readable export: patients' whole records as HTML pages any browser opens from disk.
    #[command(subcommand)]
    Export(export::ExportCmd),
    /// The tamper-evident log: public key, offline proof check.
    #[command(subcommand)]
    Log(logcmd::LogCmd),
    /// Print the commented default configuration.
    DefaultConfig,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let data_dir = config::data_dir(cli.data_dir);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => return fail(&anyhow::anyhow!(e).context("cannot start the async runtime")),
    };
    let result = runtime.block_on(async move {
        match cli.command {
            Cmd::DefaultConfig => {
                print!("{}", config::EXAMPLE);
                Ok(ExitCode::SUCCESS)
            }
            Cmd::Serve { listen } => serve::run(&data_dir, cli.database_url, listen).await.map(|()| ExitCode::SUCCESS),
            Cmd::Init { admin_user, admin_password_file } => {
                serve::init(&data_dir, cli.database_url, &admin_user, admin_password_file.as_deref()).await.map(|()| ExitCode::SUCCESS)
            }
            Cmd::User(cmd) => users::run(&data_dir, cli.database_url, cmd).await.map(|()| ExitCode::SUCCESS),
            Cmd::Verify { json, at } => verify::run(&data_dir, cli.database_url, json, at.as_deref()).await,
            Cmd::Export(cmd) => export::run(&data_dir, cli.database_url, cmd).await,
            Cmd::Log(cmd) => logcmd::run(&data_dir, cmd),
            Cmd::Backup(cmd) => backup::run(&data_dir, cli.database_url, cmd).await,
            Cmd::Restore(args) => backup::restore(&data_dir, cli.database_url, args).await,
        }
    });
    result.unwrap_or_else(|e| fail(&e))
}

fn fail(e: &anyhow::Error) -> ExitCode {
    let chain: Vec<String> = e.chain().map(|c| c.to_string()).collect();
    eprintln!("kiroku: error: {}", chain.join(": "));
    ExitCode::from(2)
}
