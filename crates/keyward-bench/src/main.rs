//! `keyward-bench`: measures Keyward's VerifyApiKey hot path against a bare tonic echo
//! baseline, with one load generator, in one run, and prints raw figures and ratios (see the
//! crate's README.md).
//!
//! The same binary is every process of the benchmark: without a subcommand it runs the
//! benchmark; `serve` is Keyward itself (`keyward::startup::serve`, the production code)
//! and `echo` the baseline server, both started by the benchmark as child processes;
//! `caches` compares quick_cache and moka (through `cache-worker` children).
//!
//! Code map: `run` (the phases), `loadgen` (the h2 load generator), `process` (the child
//! servers and the one place server flags are chosen), `setup` (what the phases need, made
//! through `keyward-client`), `keys` (keys and request bodies), `echo` (the baseline
//! server), `caches` (the cache comparison), `report` (what is printed and written).

/// The allocator of the `keyward` binary (see its `main.rs`), for the servers this binary
/// runs (Keyward and the echo baseline alike) and its own load generator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod caches;
mod echo;
mod keys;
mod loadgen;
mod process;
mod report;
mod run;
mod setup;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};

/// Any failure of the benchmark harness.
pub(crate) type Error = Box<dyn std::error::Error + Send + Sync>;
/// The harness's result.
pub(crate) type Result<T, E = Error> = std::result::Result<T, E>;

/// An [`Error`] with a formatted message.
macro_rules! fail {
    ($($arg:tt)*) => {
        $crate::Error::from(format!($($arg)*))
    };
}
pub(crate) use fail;

/// The environment variable `keyward_store::testing::TestDatabase` reads the PostgreSQL
/// admin URL from.
const POSTGRES_URL_VAR: &str = keyward_store::testing::POSTGRES_URL_VAR;

/// Measures Keyward's VerifyApiKey hot path against a bare tonic echo baseline.
#[derive(Debug, Parser)]
#[command(name = "keyward-bench", about, args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Sub>,
    #[command(flatten)]
    run: RunArgs,
}

/// Flags of the benchmark run.
#[derive(Debug, clap::Args)]
struct RunArgs {
    /// CI mode: every phase runs and every answer is checked, in well under two minutes;
    /// the numbers are not meaningful.
    #[arg(long)]
    quick: bool,

    /// Also run every phase on PostgreSQL: the admin URL through which a fresh database is
    /// created (and dropped), e.g. postgres://postgres@127.0.0.1:5432/postgres.
    #[arg(long, value_name = "URL")]
    postgres_url: Option<String>,

    /// Write every figure to this file as JSON.
    #[arg(long, value_name = "PATH")]
    json: Option<PathBuf>,

    /// Threads of the raw argon2id rate that R6 compares cold verifications with. Must
    /// match the server's argon2 pool: max(1, available parallelism − 1).
    #[arg(long, value_name = "N", default_value_t = default_argon2_threads())]
    argon2_threads: usize,

    /// Keys in R7's large index (default: 1,000,000; quick: 20,000).
    #[arg(long, value_name = "N")]
    r7_keys: Option<usize>,

    /// A raw flag appended to every Keyward child (repeat for several, e.g.
    /// `--server-arg=--index-capacity --server-arg=2000000`).
    #[arg(long = "server-arg", value_name = "ARG", allow_hyphen_values = true)]
    server_args: Vec<String>,

    /// Run only these phases (comma-separated); the setup always runs.
    #[arg(long, value_enum, value_delimiter = ',')]
    only: Option<Vec<run::PhaseName>>,
}

#[derive(Debug, Subcommand)]
enum Sub {
    /// Run Keyward: `keyward serve` with these flags (started by the benchmark).
    #[command(disable_help_flag = true)]
    Serve {
        /// The flags of `keyward serve` (`serve --help` lists them).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Run the echo baseline server (started by the benchmark).
    Echo {
        /// Address to listen on.
        #[arg(long)]
        listen: SocketAddr,
        /// Encoded size of the response message, in bytes.
        #[arg(long)]
        response_size: usize,
    },
    /// Compare quick_cache and moka on the verification index's workload.
    Caches {
        /// 50,000 entries and short runs instead of 1,000,000.
        #[arg(long)]
        quick: bool,
        /// Entries to insert.
        #[arg(long)]
        entries: Option<usize>,
        /// Seconds of `get` throughput per cache.
        #[arg(long)]
        seconds: Option<f64>,
        /// Write the figures to this file as JSON.
        #[arg(long, value_name = "PATH")]
        json: Option<PathBuf>,
    },
    /// One cache of the comparison, measured in a process of its own (internal).
    #[command(hide = true)]
    CacheWorker {
        #[arg(long, value_enum)]
        implementation: caches::Implementation,
        #[arg(long)]
        entries: usize,
        #[arg(long)]
        seconds: f64,
    },
}

/// max(1, available parallelism − 1): the server's argon2 pool.
fn default_argon2_threads() -> usize {
    std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .saturating_sub(1)
        .max(1)
}

fn main() -> ExitCode {
    // Tuned as the `keyward` binary's (see `keyward::memory`).
    keyward::memory::tune_allocator();
    let cli = Cli::parse();
    match cli.command {
        Some(Sub::Serve { args }) => {
            exit_with_parent();
            let argv = ["keyward".to_owned(), "serve".to_owned()]
                .into_iter()
                .chain(args);
            let keyward::config::Command::Serve(serve_args) =
                keyward::config::Cli::parse_from(argv).command
            else {
                return ExitCode::from(2);
            };
            runtime_then(|| keyward::startup::serve(*serve_args))
        }
        Some(Sub::Echo {
            listen,
            response_size,
        }) => {
            exit_with_parent();
            without_tracing();
            runtime_then(|| async move { report_error(echo::serve(listen, response_size).await) })
        }
        Some(Sub::Caches {
            quick,
            entries,
            seconds,
            json,
        }) => {
            let entries = entries.unwrap_or(if quick { 50_000 } else { 1_000_000 });
            let seconds = seconds.unwrap_or(if quick { 0.5 } else { 3.0 });
            runtime_then(|| async move {
                report_error(caches_only(quick, entries, seconds, json).await)
            })
        }
        Some(Sub::CacheWorker {
            implementation,
            entries,
            seconds,
        }) => report_error(cache_worker(implementation, entries, seconds)),
        None => {
            without_tracing();
            benchmark(cli.run)
        }
    }
}

/// Turns tracing off in this process, as a bare tonic echo without a subscriber would have
/// it. Without a global subscriber, every span of tonic, hyper and h2 would also be offered
/// to the `log` crate (the `log` feature of `tracing`, which a dependency of the `keyward`
/// crate enables): about 1 µs a request in the echo baseline, measured with `perf`, that a
/// bare echo does not pay. Keyward's own children install their subscriber instead.
fn without_tracing() {
    // Only fails when a subscriber is already set, which is what is wanted then.
    let _ = tracing::subscriber::set_global_default(tracing::subscriber::NoSubscriber::default());
}

fn benchmark(args: RunArgs) -> ExitCode {
    // `TestDatabase` reads the PostgreSQL admin URL from the environment, which this
    // process may not change (no unsafe code): run again with it set.
    if let Some(url) = &args.postgres_url
        && std::env::var(POSTGRES_URL_VAR).ok().as_deref() != Some(url.as_str())
    {
        return rerun_with_env(POSTGRES_URL_VAR, url);
    }
    let options = run::Options {
        quick: args.quick,
        postgres_url: args.postgres_url,
        json: args.json,
        argon2_threads: args.argon2_threads,
        r7_keys: args.r7_keys,
        server_args: args.server_args,
        only: args.only,
    };
    runtime_then(|| async move {
        match run::run(options).await {
            Ok(false) => ExitCode::SUCCESS,
            Ok(true) => ExitCode::FAILURE,
            Err(err) => report_error::<()>(Err(err)),
        }
    })
}

fn rerun_with_env(var: &str, value: &str) -> ExitCode {
    let status = std::env::current_exe().and_then(|exe| {
        std::process::Command::new(exe)
            .args(std::env::args_os().skip(1))
            .env(var, value)
            .status()
    });
    match status {
        Ok(status) => match status.code() {
            Some(0) => ExitCode::SUCCESS,
            Some(code) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
            None => ExitCode::FAILURE,
        },
        Err(err) => report_error::<()>(Err(err.into())),
    }
}

async fn caches_only(
    quick: bool,
    entries: usize,
    seconds: f64,
    json: Option<PathBuf>,
) -> Result<()> {
    let mut report = report::Report::new(quick, report::Machine::detect());
    report.print_header();
    let title = "cache comparison (quick_cache vs moka)";
    report.begin("-", title);
    let mut figures = report::Figures::default();
    let result = caches::compare(entries, seconds, &mut figures).await;
    let failed = result.is_err();
    let outcome = match result {
        Ok(()) => report::Outcome::Ok,
        Err(err) => report::Outcome::Failed(error_chain(&*err)),
    };
    report.end("-", title, outcome, figures);
    if let Some(path) = json {
        std::fs::write(path, serde_json::to_string_pretty(&report.to_json())?)?;
    }
    if failed {
        return Err(fail!("the cache comparison failed"));
    }
    Ok(())
}

#[allow(
    clippy::print_stdout,
    reason = "the worker answers its parent on stdout"
)]
fn cache_worker(
    implementation: caches::Implementation,
    entries: usize,
    seconds: f64,
) -> Result<()> {
    let value = caches::worker(implementation, entries, seconds)?;
    println!("{value}");
    Ok(())
}

/// Runs `f`'s future on a tokio multi-thread runtime with the defaults `#[tokio::main]`
/// uses (Keyward's own `main`).
fn runtime_then<F, Fut>(f: F) -> ExitCode
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = ExitCode>,
{
    match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime.block_on(f()),
        Err(err) => report_error::<()>(Err(err.into())),
    }
}

fn report_error<T>(result: Result<T>) -> ExitCode {
    match result {
        Ok(_) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {}", error_chain(&*err));
            ExitCode::FAILURE
        }
    }
}

/// An error with its sources, `outer: inner: …`.
pub(crate) fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// A child server exits when the benchmark that started it is gone (even if it was killed
/// and could not kill its children).
fn exit_with_parent() {
    let parent = std::os::unix::process::parent_id();
    std::thread::spawn(move || {
        loop {
            std::thread::sleep(Duration::from_millis(200));
            if std::os::unix::process::parent_id() != parent {
                std::process::exit(1);
            }
        }
    });
}
