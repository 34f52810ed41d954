//! `keyward-cli scan`: planted keys are found where they are, look-alikes and ignored files
//! are not, and no secret is ever printed whole. No server is involved.
#![allow(clippy::expect_used, reason = "test helpers fail the test loudly")]

use std::path::Path;
use std::process::Command;

use keyward_core::key::{Key, KeyKind};
use secrecy::ExposeSecret as _;
use serde_json::Value;

#[allow(dead_code, reason = "the checks on a run are for tests/cli.rs")]
mod support;

use support::Run;

fn scan(args: &[&str]) -> Run {
    let output = Command::new(env!("CARGO_BIN_EXE_keyward-cli"))
        .arg("scan")
        .args(args)
        .env_remove("KEYWARD_API_KEY")
        .output()
        .expect("the CLI runs");
    Run::from(output)
}

fn write(root: &Path, path: &str, text: &str) {
    let path = root.join(path);
    std::fs::create_dir_all(path.parent().expect("a parent")).expect("a directory");
    std::fs::write(path, text).expect("written");
}

fn token(kind: KeyKind) -> (String, String) {
    let key = Key::generate(kind).expect("a key");
    (
        key.to_token().expose_secret().to_owned(),
        key.display_prefix(),
    )
}

#[test]
fn planted_keys_are_found_and_look_alikes_ignored_files_and_git_are_not() {
    let dir = tempfile::tempdir().expect("a scratch directory");
    let root = dir.path();
    let (api_key, api_prefix) = token(KeyKind::ApiKey);
    let (secret, secret_prefix) = token(KeyKind::ClientSecret);
    let (enrollment, enrollment_prefix) = token(KeyKind::EnrollmentToken);
    let (ignored, ignored_prefix) = token(KeyKind::ApiKey);
    let (in_git, _) = token(KeyKind::ApiKey);
    let mut look_alike = api_key.clone();
    let last = look_alike.pop().expect("a character");
    look_alike.push(if last == 'A' { 'B' } else { 'A' });

    write(root, ".gitignore", "ignored.env\n");
    write(
        root,
        "config/app.env",
        &format!("KEYWARD_API_KEY={api_key}\n"),
    );
    write(
        root,
        ".env",
        &format!("# secrets\n\nCLIENT_SECRET=\"{secret}\"\n"),
    );
    write(root, "ignored.env", &format!("KEY={ignored}\n"));
    write(
        root,
        "lookalike.txt",
        &format!("try {look_alike} or kw_ak_nothing\n"),
    );
    write(
        root,
        "docs/deep/notes.md",
        &format!("line one\n  token: {enrollment}.\n"),
    );
    write(
        root,
        ".git/config",
        &format!("[remote]\n\turl = https://{in_git}@example.com\n"),
    );
    write(root, "clean/readme.txt", "nothing here\n");

    let run = scan(&[root.to_str().expect("utf-8")]);
    assert_eq!(
        run.code, 10,
        "keys found: exit 10\n{}\n{}",
        run.stdout, run.stderr
    );
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{}", run.stdout);
    let expect = |file: &str, at: &str, prefix: &str| {
        let wanted = format!("{}:{at}: ", root.join(file).display());
        assert!(
            lines
                .iter()
                .any(|line| line.starts_with(&wanted) && line.contains(&format!("{prefix}_…"))),
            "{wanted} {prefix} in:\n{}",
            run.stdout
        );
    };
    expect("config/app.env", "1:17", &api_prefix);
    expect(".env", "3:16", &secret_prefix);
    expect("docs/deep/notes.md", "2:10", &enrollment_prefix);
    assert!(
        !run.stdout.contains(&ignored_prefix),
        "an ignored file is not scanned"
    );
    for whole in [&api_key, &secret, &enrollment, &ignored, &in_git] {
        let body = whole.rsplit('_').next().expect("a body");
        assert!(
            !run.stdout.contains(body) && !run.stderr.contains(body),
            "a secret printed"
        );
    }
    assert!(
        run.stderr.contains("3 Keyward keys found"),
        "{}",
        run.stderr
    );

    // --json, and --no-ignore takes the ignored file in.
    let run = scan(&["--json", "--no-ignore", root.to_str().expect("utf-8")]);
    assert_eq!(run.code, 10);
    let answer: Value = serde_json::from_str(&run.stdout).expect("JSON");
    let findings = answer["findings"].as_array().expect("findings");
    assert_eq!(findings.len(), 4, "{answer}");
    let env = findings
        .iter()
        .find(|f| {
            f["path"].as_str().is_some_and(|p| {
                p.ends_with(".env") && !p.ends_with("app.env") && !p.ends_with("ignored.env")
            })
        })
        .expect("the .env finding");
    assert_eq!(env["line"], 3);
    assert_eq!(env["column"], 16);
    assert_eq!(env["kind"], "client secret");
    assert_eq!(env["prefix"], secret_prefix.as_str());
    assert!(
        !run.stdout
            .contains(secret.rsplit('_').next().expect("a body"))
    );

    // Nothing found: exit 0. A path that does not exist: exit 1.
    let run = scan(&[root.join("clean").to_str().expect("utf-8")]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.is_empty());
    let run = scan(&[root.join("missing").to_str().expect("utf-8")]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("no such file"), "{}", run.stderr);
}
