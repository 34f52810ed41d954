//! `keyward-cli audit`: list an account's audit log, export it with its hash chain, and
//! check an export offline (`crate::audit_chain`).

use clap::Subcommand;
use futures_util::StreamExt as _;
use keyward_client::{Client, ListAuditEvents};

use super::{Result, list, named};
use crate::Global;

#[derive(Debug, Subcommand)]
pub(crate) enum AuditCmd {
    /// List the audit events of an account, newest first.
    List {
        /// The account (`acme` or `accounts/acme`).
        #[arg(long)]
        account: String,
        /// Show at most this many events.
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
        limit: Option<u32>,
    },
    /// Export every event of an account, oldest first, with its hash chain: one JSON
    /// object per line, for `audit verify`.
    Export {
        /// The account (`acme` or `accounts/acme`).
        #[arg(long)]
        account: String,
        /// Where to write it (`-`: standard output).
        #[arg(long, short, default_value = "-")]
        output: std::path::PathBuf,
    },
    /// Check an export offline (no server, no key): exit 0 when the hash chain holds,
    /// 10 when it breaks, naming the first event where it does.
    Verify {
        /// The export (`-`: standard input).
        file: std::path::PathBuf,
    },
}

pub(crate) async fn run(g: &Global, client: &Client, cmd: AuditCmd) -> Result<u8> {
    match cmd {
        AuditCmd::List { account, limit } => {
            let limit = limit.map_or(usize::MAX, |n| n as usize);
            let page_size = i32::try_from(limit.min(1000)).unwrap_or(1000);
            let events = client.list_audit_events_stream(
                ListAuditEvents::new(named("accounts", &account)).page_size(page_size),
            );
            list(g, events.take(limit)).await
        }
        AuditCmd::Export { account, output } => {
            crate::audit_chain::export(client, &named("accounts", &account), &output).await
        }
        // Handled without a connection.
        AuditCmd::Verify { .. } => Ok(0),
    }
}
