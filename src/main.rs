//! The `keyward` command: see `keyward --help`.

use std::process::ExitCode;

use clap::Parser;
use keyward::config::{Cli, Command};

/// mimalloc rather than the system allocator: a verification allocates a few dozen small
/// buffers (HTTP/2 frames, protobuf strings), and glibc's malloc took about 15 % of the
/// server's CPU under load (see the README's Performance section).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    keyward::memory::tune_allocator();
    match Cli::parse().command {
        Command::Serve(args) => keyward::startup::serve(*args).await,
        Command::ResealSecrets(args) => keyward::startup::reseal_secrets(args).await,
    }
}
