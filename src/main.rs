//! The `keyward` command: see `keyward --help`.

use std::process::ExitCode;

use clap::Parser;
use keyward::config::{Cli, Command};

#[tokio::main]
async fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Serve(args) => keyward::startup::serve(args).await,
        Command::ResealSecrets(args) => keyward::startup::reseal_secrets(args).await,
    }
}
