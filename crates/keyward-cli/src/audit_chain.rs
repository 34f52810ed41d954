//! `audit export` and `audit verify`: an account's audit log with its hash chain, written as
//! JSON lines, and checked offline with the canonical form the server writes it with
//! (`keyward_client::audit`). Verifying needs no server and no key.

use std::io::{BufRead as _, Write as _};
use std::path::Path;

use keyward_client::Client;
use keyward_client::audit::{ChainedEvent, ExportedEvent};
use serde_json::{Value, json};

use crate::Global;
use crate::exit::{CliError, REFUSED};

/// Writes every event of `account` as one JSON object per line, oldest first, to `output`
/// (`-`: standard output).
pub(crate) async fn export(client: &Client, account: &str, output: &Path) -> Result<u8, CliError> {
    let events = client.export_audit_events(account).await?;
    let mut text = String::new();
    for event in &events {
        let exported = keyward_client::audit::exported(event);
        let e = &exported.event;
        let line = json!({
            "name": event.name,
            "accountId": e.account_id,
            "sequence": e.sequence,
            "time": e.time,
            "actor": e.actor,
            "delegate": e.delegate,
            "action": e.action,
            "resource": e.resource,
            "outcome": e.outcome,
            "count": e.count,
            "detail": e.detail,
            "prevHash": exported.prev_hash,
            "hash": exported.hash,
        });
        text.push_str(&line.to_string());
        text.push('\n');
    }
    if output == Path::new("-") {
        std::io::stdout()
            .write_all(text.as_bytes())
            .map_err(|e| CliError::Local(format!("cannot write the export: {e}")))?;
    } else {
        std::fs::write(output, text)
            .map_err(|e| CliError::Local(format!("{}: {e}", output.display())))?;
        eprintln!(
            "{} events of {account} written to {}",
            events.len(),
            output.display()
        );
    }
    Ok(0)
}

/// Checks an export (`-`: standard input): exit 0 when the chain holds, 10 when it breaks
/// (naming the first event where it does).
pub(crate) fn verify(g: &Global, input: &Path) -> Result<u8, CliError> {
    let (names, events) = read_export(input)?;
    let account = events
        .first()
        .map(|e| e.event.account_id.clone())
        .unwrap_or_default();
    match keyward_client::audit::verify(&events) {
        Ok(head) => {
            if g.json {
                crate::output::json(&json!({"valid": true, "events": events.len(), "head": head}));
            } else {
                println!(
                    "the audit chain holds: {} events of accounts/{account}, head {head}",
                    events.len()
                );
            }
            Ok(0)
        }
        Err(broken) => {
            let name = names.get(broken.position - 1).cloned().unwrap_or_default();
            if g.json {
                crate::output::json(&json!({
                    "valid": false,
                    "position": broken.position,
                    "sequence": broken.sequence,
                    "name": name,
                    "reason": broken.reason,
                }));
            } else {
                println!(
                    "the audit chain breaks at event {} (sequence {}, {name}): {}",
                    broken.position, broken.sequence, broken.reason
                );
            }
            Ok(REFUSED)
        }
    }
}

/// The events of the export at `input` (`-`: standard input), with their names.
fn read_export(input: &Path) -> Result<(Vec<String>, Vec<ExportedEvent>), CliError> {
    let read = |e: std::io::Error| CliError::Local(format!("{}: {e}", input.display()));
    let lines: Vec<String> = if input == Path::new("-") {
        std::io::stdin()
            .lock()
            .lines()
            .collect::<Result<_, _>>()
            .map_err(read)?
    } else {
        std::fs::read_to_string(input)
            .map_err(read)?
            .lines()
            .map(str::to_owned)
            .collect()
    };
    let mut names = Vec::new();
    let mut events = Vec::new();
    for (at, line) in lines.iter().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let refused =
            |what: String| CliError::Local(format!("{} line {}: {what}", input.display(), at + 1));
        let value: Value =
            serde_json::from_str(line).map_err(|e| refused(format!("not JSON: {e}")))?;
        let event =
            parse(&value).ok_or_else(|| refused("not an exported audit event".to_owned()))?;
        names.push(value["name"].as_str().unwrap_or_default().to_owned());
        events.push(event);
    }
    Ok((names, events))
}

/// One line of an export.
fn parse(value: &Value) -> Option<ExportedEvent> {
    let text = |key: &str| value.get(key)?.as_str().map(str::to_owned);
    Some(ExportedEvent {
        event: ChainedEvent {
            account_id: text("accountId")?,
            sequence: value.get("sequence")?.as_i64()?,
            time: text("time")?,
            actor: text("actor")?,
            delegate: text("delegate")?,
            action: text("action")?,
            resource: text("resource")?,
            outcome: text("outcome")?,
            count: value.get("count")?.as_i64()?,
            detail: text("detail")?,
        },
        prev_hash: text("prevHash")?,
        hash: text("hash")?,
    })
}
