//! `kiroku-bench`: the figures of design.md §6, each printed beside a baseline measured in the same
//! run on the same machine, one `key=value` line per figure on stdout (progress goes to stderr):
//!
//! ```text
//! machine cores=2 mode=quick ...
//! P1 ingest docs_per_s=… baseline_per_s=… ratio=… baseline_batch=64 …
//! P2 reads reads_per_s=… p50_ms=… p99_ms=… baseline_reads_per_s=… ratio=… baseline=healthz …
//! P3 append leaves_per_s=… baseline_per_s=… ratio=… what=… baseline=… store_cmds_per_s=… …
//! P3 verify leaves_per_s=… baseline_per_s=… ratio=… what=… baseline=bare_sha256_of_leaf_data …
//! P3 history query_ms_p50=… query_ms_p99=… baseline_ms=… … events=…
//! P6 startup ready_ms=… baseline_ms=… idle_rss_mb=… first_ms=… baseline=spawn_bin_true
//! B1 backup backup_mib_per_s=… baseline_mib_per_s=… ratio=… restore_mib_per_s=… … baseline=tar+sync+sha256sum
//! ```
//!
//! Run it with `cargo build --release -p kiroku-cli && cargo run --release -p kiroku-bench -- --quick`:
//! P6 starts the `kiroku` binary found beside this program.

mod backup;
mod common;
mod ingest;
mod log;
mod reads;
mod startup;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::{Parser, ValueEnum};

#[derive(Parser, Debug)]
#[command(name = "kiroku-bench", version, about = "kiroku's figures (design.md §6), each beside a baseline measured in the same run")]
struct Args {
    /// Small sizes and short runs: about a minute in total. Default: full sizes.
    #[arg(long)]
    quick: bool,
    /// Run only these figures, e.g. `--only P1,P2`.
    #[arg(long, value_delimiter = ',', ignore_case = true)]
    only: Vec<Figure>,
    /// P1: documents to create and confirm [quick: 20000, full: 200000].
    #[arg(long)]
    ingest_docs: Option<usize>,
    /// P1 (and P2's preload): concurrent tasks submitting to the single writer.
    #[arg(long, default_value_t = 128)]
    ingest_tasks: usize,
    /// P2: documents stored before reading [quick: 20000, full: 1000000].
    #[arg(long)]
    read_docs: Option<usize>,
    /// P2: concurrent HTTP clients, each with its own keep-alive connection.
    #[arg(long, default_value_t = 64)]
    read_clients: usize,
    /// P2: seconds each of the reads and the baseline run [quick: 10, full: 30].
    #[arg(long)]
    read_secs: Option<u64>,
    /// P3: audit events generated into the log before verifying and querying it [quick: 200000,
    /// full: 10000000].
    #[arg(long)]
    log_events: Option<usize>,
    /// P3: patient history queries timed, through the store and as plain SQL.
    #[arg(long, default_value_t = 200)]
    log_queries: usize,
    /// Where the temporary databases go [default: the system's temporary directory]. Put it on the
    /// disk you mean to measure: on tmpfs fsync costs nothing.
    #[arg(long)]
    dir: Option<PathBuf>,
    /// B1: documents in the store that is backed up [quick: 20000, full: 100000].
    #[arg(long)]
    backup_docs: Option<usize>,
    /// B1: MiB of files (1 MiB each) in the blob store that is backed up [quick: 256, full: 1024].
    #[arg(long)]
    backup_mib: Option<usize>,
    /// P6: the kiroku binary [default: `kiroku` beside this program].
    #[arg(long)]
    kiroku_bin: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Figure {
    P1,
    P2,
    P3,
    P6,
    B1,
}

fn main() -> ExitCode {
    match run(Args::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kiroku-bench: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: Args) -> Result<()> {
    let started = Instant::now();
    let wants = |f: Figure| args.only.is_empty() || args.only.contains(&f);
    let mode = if args.quick { "quick" } else { "full" };
    let ingest_docs = args.ingest_docs.unwrap_or(if args.quick { 20_000 } else { 200_000 });
    let read_docs = args.read_docs.unwrap_or(if args.quick { 20_000 } else { 1_000_000 });
    let read_secs = args.read_secs.unwrap_or(if args.quick { 10 } else { 30 });
    let log_events = args.log_events.unwrap_or(if args.quick { 200_000 } else { 10_000_000 });
    // Fail before minutes of work if P6 cannot run.
    let kiroku_bin = if wants(Figure::P6) { Some(startup::locate(args.kiroku_bin.as_deref())?) } else { None };

    let tmp = args.dir.clone().unwrap_or_else(std::env::temp_dir);
    let m = common::Machine::probe(&tmp);
    let figures: Vec<&str> = [(Figure::P1, "P1"), (Figure::P2, "P2"), (Figure::P3, "P3"), (Figure::P6, "P6"), (Figure::B1, "B1")]
        .into_iter()
        .filter(|(f, _)| wants(*f))
        .map(|(_, n)| n)
        .collect();
    println!(
        "machine cores={} cpu={} mem_gib={:.1} fs={} load1={:.2} mode={mode} figures={} p1_docs={ingest_docs} p1_tasks={} p1_baseline=bare_sqlite_insert_1KiB_one_connection_wal_sync_full_tx{} p2_docs={read_docs} p2_clients={} p2_secs={read_secs} p3_events={log_events} p3_batch={} p3_queries={}",
        m.cores,
        m.cpu,
        m.mem_gib,
        m.fs,
        m.load1,
        figures.join(","),
        args.ingest_tasks,
        ingest::BASELINE_BATCH,
        args.read_clients,
        log::BATCH,
        args.log_queries,
    );

    if m.load1 > 0.5 {
        common::note(format!("the 1-minute load average is {:.2}: other work is running and will lower the figures", m.load1));
    }
    let client_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(m.cores)
        .thread_name("kb-client")
        .enable_all()
        .build()
        .context("building the runtime")?;

    if wants(Figure::P1) {
        let p1 = client_rt.block_on(ingest::run(args.dir.as_deref(), ingest_docs, args.ingest_tasks))?;
        println!("{}", p1.line());
    }
    if wants(Figure::P2) {
        let plan = reads::Plan {
            base: args.dir.as_deref(),
            docs: read_docs,
            load_tasks: args.ingest_tasks,
            clients: args.read_clients,
            secs: read_secs,
            cores: m.cores,
        };
        let p2 = reads::run(&plan, &client_rt)?;
        println!("{}", p2.line());
    }
    if wants(Figure::P3) {
        let plan = log::Plan {
            base: args.dir.as_deref(),
            events: log_events,
            queries: args.log_queries,
            history_budget: Duration::from_secs(if args.quick { 5 } else { 60 }),
            command_secs: if args.quick { 3 } else { 10 },
        };
        let p3 = client_rt.block_on(log::run(&plan))?;
        for line in p3.lines() {
            println!("{line}");
        }
    }
    if let Some(bin) = kiroku_bin {
        let p6 = client_rt.block_on(startup::run(&bin, args.dir.as_deref()))?;
        println!("{}", p6.line());
    }
    if wants(Figure::B1) {
        let docs = args.backup_docs.unwrap_or(if args.quick { 20_000 } else { 100_000 });
        let mib = args.backup_mib.unwrap_or(if args.quick { 256 } else { 1024 });
        let b1 = client_rt.block_on(backup::run(args.dir.as_deref(), docs, mib, args.ingest_tasks))?;
        println!("{}", b1.line());
    }
    common::note(format!("done in {:.1} s", started.elapsed().as_secs_f64()));
    Ok(())
}
