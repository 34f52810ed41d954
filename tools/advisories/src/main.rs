//! `keyward-advisories --db DIR --lockfile Cargo.lock --allow advisories.toml`: every
//! RustSec advisory (vulnerability, unmaintained, unsound or notice) that applies to a
//! package of the lock file fails the check, unless the allow file lists its ID with the
//! reason it does not matter here. What cargo-audit reports, from the same library
//! (`rustsec`), read from a local copy of the database instead of fetched with git.
//!
//! The allow file:
//!
//! ```toml
//! [[allow]]
//! id = "RUSTSEC-2023-0071"
//! reason = "rsa is compiled in by sqlx's MySQL driver, which Keyward never enables"
//! ```
//!
//! Exit codes: 0 nothing unlisted applies, 1 an advisory applies, 2 the check could not run.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use rustsec::advisory::Informational;
use rustsec::report::{Report, Settings};
use rustsec::{Database, Lockfile};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AllowFile {
    #[serde(default)]
    allow: Vec<Allowed>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Allowed {
    id: String,
    reason: String,
}

struct Args {
    db: PathBuf,
    lockfile: PathBuf,
    allow: Option<PathBuf>,
}

fn args() -> Result<Args, String> {
    let mut db = None;
    let mut lockfile = None;
    let mut allow = None;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || {
            args.next()
                .map(PathBuf::from)
                .ok_or_else(|| format!("{flag} needs a value"))
        };
        match flag.as_str() {
            "--db" => db = Some(value()?),
            "--lockfile" => lockfile = Some(value()?),
            "--allow" => allow = Some(value()?),
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    Ok(Args {
        db: db.ok_or("--db DIR is required")?,
        lockfile: lockfile.unwrap_or_else(|| PathBuf::from("Cargo.lock")),
        allow,
    })
}

fn run() -> Result<bool, String> {
    let args = args()?;
    let db = Database::open(&args.db).map_err(|e| {
        format!(
            "cannot read the advisory database {}: {e}",
            args.db.display()
        )
    })?;
    let lockfile = Lockfile::load(&args.lockfile)
        .map_err(|e| format!("cannot read {}: {e}", args.lockfile.display()))?;
    let allowed: BTreeMap<String, String> = match &args.allow {
        None => BTreeMap::new(),
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            let file: AllowFile =
                toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
            let mut allowed = BTreeMap::new();
            for entry in file.allow {
                if entry.reason.trim().is_empty() {
                    return Err(format!(
                        "{}: {} is allowed without a reason",
                        path.display(),
                        entry.id
                    ));
                }
                allowed.insert(entry.id, entry.reason);
            }
            allowed
        }
    };
    let settings = Settings {
        informational_warnings: vec![
            Informational::Notice,
            Informational::Unmaintained,
            Informational::Unsound,
        ],
        ..Settings::default()
    };
    let report = Report::generate(&db, &lockfile, &settings);
    println!(
        "{} advisories read from {}; {} packages in {}",
        db.iter().count(),
        args.db.display(),
        lockfile.packages.len(),
        args.lockfile.display()
    );

    // Every finding: (advisory ID, what it says, the package it applies to).
    let mut findings = Vec::new();
    for vulnerability in &report.vulnerabilities.list {
        let advisory = &vulnerability.advisory;
        findings.push((
            advisory.id.to_string(),
            format!("vulnerability: {}", advisory.title),
            format!(
                "{} {}",
                vulnerability.package.name, vulnerability.package.version
            ),
        ));
    }
    for (kind, warnings) in &report.warnings {
        for warning in warnings {
            let Some(advisory) = &warning.advisory else {
                continue;
            };
            findings.push((
                advisory.id.to_string(),
                format!("{kind}: {}", advisory.title),
                format!("{} {}", warning.package.name, warning.package.version),
            ));
        }
    }

    let mut failed = false;
    let mut used = std::collections::BTreeSet::new();
    for (id, what, package) in &findings {
        match allowed.get(id) {
            Some(reason) => {
                used.insert(id.clone());
                println!("allowed  {id} ({package}): {what}\n         because: {reason}");
            }
            None => {
                failed = true;
                println!(
                    "ADVISORY {id} ({package}): {what}\n         https://rustsec.org/advisories/{id}"
                );
            }
        }
    }
    for id in allowed.keys().filter(|id| !used.contains(*id)) {
        println!("note: {id} is allowed but no longer applies; remove it from the allow file");
    }
    if !failed {
        println!("no advisory applies that is not allowed");
    }
    Ok(failed)
}

fn main() -> ExitCode {
    match run() {
        Ok(false) => ExitCode::SUCCESS,
        Ok(true) => ExitCode::from(1),
        Err(message) => {
            eprintln!("keyward-advisories: {message}");
            ExitCode::from(2)
        }
    }
}
