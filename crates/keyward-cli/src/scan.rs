//! `scan`: find Keyward keys in files, as a secret scanner does, without calling a server.
//!
//! A finding is printed as `PATH:LINE:COLUMN: KIND kw_{kind}_{id}_…`: the id names the key
//! to its owner, and nothing of the secret is shown. With `--report`, the findings are sent
//! to the server's `ReportLeakedSecrets` (100 at a time, each with its place as the
//! location) and each line says what the server made of it.

use std::path::{Path, PathBuf};

use clap::Args;
use keyward_client::proto::leak_report::Outcome;
use keyward_client::scan::{FoundKey, find_keys};
use secrecy::{ExposeSecret as _, SecretString};
use serde_json::json;

use crate::Global;
use crate::exit::{CliError, REFUSED};
use crate::output as out;

/// Files larger than this are skipped (with a note on stderr): a key does not hide in a
/// disk image, and reading one whole would cost the memory.
const MAX_FILE_BYTES: u64 = 64 * 1024 * 1024;

/// `scan PATH…`
#[derive(Debug, Args)]
pub(crate) struct ScanArgs {
    /// Files or directories to scan.
    #[arg(default_value = ".")]
    pub(crate) paths: Vec<PathBuf>,
    /// Also scan what .gitignore, .ignore and git's exclude files leave out.
    #[arg(long)]
    pub(crate) no_ignore: bool,
    /// Report what is found to the server (ReportLeakedSecrets), which revokes the real,
    /// live ones: the calling key needs the API set `keyward.leak-reports` in the
    /// operator account.
    #[arg(long)]
    pub(crate) report: bool,
}

/// The most strings one report carries (the server's limit).
const REPORT_BATCH: usize = 100;

/// One key found, and where.
struct Finding {
    path: PathBuf,
    line: usize,
    column: usize,
    key: FoundKey,
    /// The key as found, for `--report` only: never printed.
    token: SecretString,
    /// What the server made of it, with `--report`.
    verdict: Option<keyward_client::proto::LeakReport>,
}

impl Finding {
    fn location(&self) -> String {
        format!("{}:{}:{}", self.path.display(), self.line, self.column)
    }

    /// As `--json` shows it, with the report's verdict when there is one.
    fn json(&self) -> serde_json::Value {
        let mut found = json!({
            "path": self.path.display().to_string(),
            "line": self.line,
            "column": self.column,
            "kind": self.key.kind.to_string(),
            "prefix": self.key.display_prefix,
        });
        if let Some(verdict) = &self.verdict {
            found["report"] = json!({
                "outcome": verdict.outcome().as_str_name(),
                "name": verdict.name,
                "wasValid": verdict.was_valid,
            });
        }
        found
    }
}

/// Scans `args.paths` (and reports what it found, with `--report`); exit code 10 when a
/// key was found.
pub(crate) async fn scan(g: &Global, args: &ScanArgs) -> Result<u8, CliError> {
    let mut findings = Vec::new();
    let mut files = 0_usize;
    for root in &args.paths {
        files += walk(root, args.no_ignore, &mut findings)?;
    }
    if args.report && !findings.is_empty() {
        report(g, &mut findings).await?;
    }
    if g.json {
        let found: Vec<_> = findings.iter().map(Finding::json).collect();
        out::json(&json!({ "filesScanned": files, "findings": found }));
    } else {
        for f in &findings {
            let reported = f.verdict.as_ref().map(said).unwrap_or_default();
            println!(
                "{}: {} {}_…{reported}",
                f.location(),
                f.key.kind,
                f.key.display_prefix
            );
        }
        eprintln!(
            "{} Keyward key{} found in {files} file{}",
            findings.len(),
            if findings.len() == 1 { "" } else { "s" },
            if files == 1 { "" } else { "s" }
        );
    }
    Ok(if findings.is_empty() { 0 } else { REFUSED })
}

/// Scans every file under `root` the way git sees them (unless `no_ignore`), adding what
/// it finds to `findings`; the number of files scanned.
fn walk(root: &Path, no_ignore: bool, findings: &mut Vec<Finding>) -> Result<usize, CliError> {
    if !root.exists() {
        return Err(CliError::Local(format!(
            "{}: no such file or directory",
            root.display()
        )));
    }
    let walk = ignore::WalkBuilder::new(root)
        .hidden(false)
        .git_ignore(!no_ignore)
        .git_exclude(!no_ignore)
        .git_global(!no_ignore)
        .ignore(!no_ignore)
        .parents(!no_ignore)
        .require_git(false)
        .filter_entry(|entry| entry.file_name() != ".git")
        .build();
    let mut files = 0;
    for entry in walk {
        let entry = entry.map_err(|e| CliError::Local(format!("cannot walk: {e}")))?;
        if !entry.file_type().is_some_and(|kind| kind.is_file()) {
            continue;
        }
        files += 1;
        findings.extend(scan_file(entry.path())?);
    }
    Ok(files)
}

/// Sends the findings to `ReportLeakedSecrets`, [`REPORT_BATCH`] at a time, and keeps
/// each verdict with its finding.
async fn report(g: &Global, findings: &mut [Finding]) -> Result<(), CliError> {
    let client = crate::commands::connect(g).await?;
    for batch in findings.chunks_mut(REPORT_BATCH) {
        let found: Vec<(String, String)> = batch
            .iter()
            .map(|f| (f.token.expose_secret().to_owned(), f.location()))
            .collect();
        let verdicts = client.report_leaked_secrets(found).await?;
        for (finding, verdict) in batch.iter_mut().zip(verdicts) {
            finding.verdict = Some(verdict);
        }
    }
    Ok(())
}

/// What a verdict says, for people: ` -> revoked (NAME)` and the like.
fn said(verdict: &keyward_client::proto::LeakReport) -> String {
    let name = &verdict.name;
    match verdict.outcome() {
        Outcome::Revoked if verdict.was_valid => format!(" -> was live, now revoked ({name})"),
        Outcome::Revoked => format!(" -> revoked, was not usable ({name})"),
        Outcome::AlreadyRevoked => format!(" -> already revoked ({name})"),
        Outcome::Unknown => " -> not a secret Keyward holds".to_owned(),
        Outcome::NotKeyward | Outcome::Unspecified => " -> not a Keyward secret".to_owned(),
        Outcome::RetryLater => " -> not checked now; report it again later".to_owned(),
    }
}

/// The keys in one file, with their lines and columns (1-based; columns in bytes).
fn scan_file(path: &Path) -> Result<Vec<Finding>, CliError> {
    let size = std::fs::metadata(path)
        .map_err(|e| CliError::Local(format!("{}: {e}", path.display())))?
        .len();
    if size > MAX_FILE_BYTES {
        eprintln!("{}: skipped, larger than 64 MiB", path.display());
        return Ok(Vec::new());
    }
    let bytes =
        std::fs::read(path).map_err(|e| CliError::Local(format!("{}: {e}", path.display())))?;
    // Keys are ASCII: whatever else the file holds, they survive a lossy reading intact.
    let text = String::from_utf8_lossy(&bytes);
    let mut line = 1;
    let mut line_start = 0;
    let mut counted = 0;
    let mut findings = Vec::new();
    for key in find_keys(&text) {
        for (at, byte) in text.as_bytes()[counted..key.start].iter().enumerate() {
            if *byte == b'\n' {
                line += 1;
                line_start = counted + at + 1;
            }
        }
        counted = key.start;
        findings.push(Finding {
            path: path.to_owned(),
            line,
            column: key.start - line_start + 1,
            token: text[key.start..key.start + key.len].to_owned().into(),
            key,
            verdict: None,
        });
    }
    Ok(findings)
}
