//! The servers under test, each its own process: this binary re-executed as
//! `keyward-bench serve <keyward serve flags…>` (the production `keyward::startup::serve`)
//! or `keyward-bench echo --listen ADDR --response-size N`.
//!
//! A [`ServerProcess`] is killed when dropped, so no server outlives the benchmark, whether
//! it ends normally, with an error or with a panic; the children also exit by themselves when
//! the benchmark process disappears (see `main::exit_with_parent`).
//!
//! [`server_args`] is the one place where the flags of `keyward serve` are chosen, per phase.

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::loadgen::{self, Target};
use crate::{Result, fail};

/// What a Keyward process is started for: [`server_args`] chooses its flags by it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Purpose {
    /// Setup and the cached / refusal / attack / cold-start / cold-verification phases.
    Main,
    /// R7: a verification index holding up to a million keys.
    LargeIndex,
    /// The extra replicas of the revocation-lag phase.
    Replica,
}

/// The flags of `keyward serve` for `purpose`, besides the listen address, the database and
/// the data directory: the one place where server flags are chosen, so that flags the
/// server gains can be passed per phase. `supported` tells which optional flags the server
/// being measured has (see [`ServerFlags::detect`]); `extra` (`--server-arg`) is appended to
/// every Keyward child.
pub(crate) fn server_args(
    purpose: Purpose,
    supported: &ServerFlags,
    extra: &[String],
) -> Vec<String> {
    let mut args: Vec<String> = Vec::new();
    match purpose {
        Purpose::Main | Purpose::Replica => {}
        Purpose::LargeIndex => {
            // flag added by the verification-plane work: room for 2M verified keys, so
            // that R7's million keys all stay cached. Passed once the server has it.
            if supported.index_capacity {
                args.extend(["--index-capacity".to_owned(), "2000000".to_owned()]);
            }
        }
    }
    args.extend(extra.iter().cloned());
    args
}

/// Optional flags of `keyward serve` that the server under test may or may not have yet,
/// found in its `--help`.
#[derive(Clone, Debug, Default)]
pub(crate) struct ServerFlags {
    /// `--index-capacity N`: the size of the verification cache.
    pub(crate) index_capacity: bool,
}

impl ServerFlags {
    /// Reads `keyward-bench serve --help`.
    pub(crate) fn detect() -> Result<ServerFlags> {
        let output = Command::new(std::env::current_exe()?)
            .args(["serve", "--help"])
            .stdin(Stdio::null())
            .output()?;
        let help = String::from_utf8_lossy(&output.stdout);
        Ok(ServerFlags {
            index_capacity: help.contains("--index-capacity"),
        })
    }
}

/// A Keyward server: where its data lives and how it starts.
#[derive(Clone, Debug)]
pub(crate) struct KeywardSpec {
    /// For logs and messages: `sqlite`, `postgres-B`…
    pub(crate) name: String,
    /// The database URL (the same for every replica and restart).
    pub(crate) database_url: String,
    /// Data directory: the bootstrap key file and the logs go here.
    pub(crate) dir: PathBuf,
    /// `KEYWARD_MASTER_KEY`, the same for every replica.
    pub(crate) master_key: String,
    /// Where it listens (kept across restarts).
    pub(crate) addr: SocketAddr,
}

impl KeywardSpec {
    /// The file the first start writes the operator key to.
    pub(crate) fn bootstrap_key_file(&self) -> PathBuf {
        self.dir.join(format!("{}-operator.key", self.name))
    }
}

/// A child server process, killed when dropped.
#[derive(Debug)]
pub(crate) struct ServerProcess {
    child: Option<Child>,
    /// Where it listens.
    pub(crate) addr: SocketAddr,
    name: String,
    stderr_path: PathBuf,
    /// When it was spawned.
    pub(crate) spawned: Instant,
}

/// A free TCP port on 127.0.0.1 (bound, then released for the child to take).
pub(crate) fn free_addr() -> Result<SocketAddr> {
    let listener = TcpListener::bind(("127.0.0.1", 0))?;
    Ok(listener.local_addr()?)
}

/// Spawns Keyward for `spec` with `args` (from [`server_args`]) and waits until it serves.
pub(crate) async fn start_keyward(spec: &KeywardSpec, args: &[String]) -> Result<ServerProcess> {
    let mut process = spawn_keyward(spec, args)?;
    process
        .wait_ready(health_target(process.addr)?, Duration::from_secs(120))
        .await?;
    Ok(process)
}

/// Spawns Keyward for `spec` without waiting for it.
pub(crate) fn spawn_keyward(spec: &KeywardSpec, args: &[String]) -> Result<ServerProcess> {
    let mut command = Command::new(std::env::current_exe()?);
    command
        .arg("serve")
        .arg("--listen")
        .arg(spec.addr.to_string())
        .arg("--database-url")
        .arg(&spec.database_url)
        .arg("--data-dir")
        .arg(&spec.dir)
        .arg("--bootstrap-key-file")
        .arg(spec.bootstrap_key_file())
        .args(args)
        .env("KEYWARD_MASTER_KEY", &spec.master_key);
    spawn(command, &spec.name, &spec.dir, spec.addr)
}

/// Spawns the echo server answering `response_size`-byte messages and waits until it serves.
pub(crate) async fn start_echo(dir: &Path, response_size: usize) -> Result<ServerProcess> {
    let addr = free_addr()?;
    let mut command = Command::new(std::env::current_exe()?);
    command
        .arg("echo")
        .arg("--listen")
        .arg(addr.to_string())
        .arg("--response-size")
        .arg(response_size.to_string());
    let mut process = spawn(command, "echo", dir, addr)?;
    let target = Target::new(addr, crate::echo::PATH, None)?;
    process.wait_ready(target, Duration::from_secs(30)).await?;
    Ok(process)
}

fn spawn(mut command: Command, name: &str, dir: &Path, addr: SocketAddr) -> Result<ServerProcess> {
    let stdout_path = dir.join(format!("{name}.stdout.log"));
    let stderr_path = dir.join(format!("{name}.stderr.log"));
    let stdout = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&stdout_path)?;
    let stderr = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&stderr_path)?;
    let child = command
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr)
        .spawn()?;
    Ok(ServerProcess {
        child: Some(child),
        addr,
        name: name.to_owned(),
        stderr_path,
        spawned: Instant::now(),
    })
}

/// A health check (`grpc.health.v1.Health/Check` for the whole server) to `addr`.
pub(crate) fn health_target(addr: SocketAddr) -> Result<Target> {
    Target::new(addr, "/grpc.health.v1.Health/Check", None)
}

impl ServerProcess {
    /// The child's process id.
    pub(crate) fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Waits until `probe` answers OK (for Keyward's health check: SERVING), failing early
    /// if the child exits.
    pub(crate) async fn wait_ready(&mut self, probe: Target, limit: Duration) -> Result<()> {
        // An empty request: a HealthCheckRequest for the whole server, or an empty echo.
        let body = Bytes::from_static(&[0, 0, 0, 0, 0]);
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.exited()? {
                return Err(fail!(
                    "{} exited during startup ({status}): {}",
                    self.name,
                    self.stderr_tail()
                ));
            }
            if let Ok((0, answer)) = loadgen::unary(&probe, body.clone()).await {
                let serving = probe.uri_path() != "/grpc.health.v1.Health/Check"
                    // HealthCheckResponse { status: SERVING (1) }
                    || answer.ends_with(&[0x08, 0x01]);
                if serving {
                    return Ok(());
                }
            }
            if Instant::now() > deadline {
                return Err(fail!(
                    "{} did not serve within {} s: {}",
                    self.name,
                    limit.as_secs(),
                    self.stderr_tail()
                ));
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Whether the child has exited.
    pub(crate) fn has_exited(&mut self) -> Result<bool> {
        Ok(self.exited()?.is_some())
    }

    fn exited(&mut self) -> Result<Option<ExitStatus>> {
        match &mut self.child {
            Some(child) => Ok(child.try_wait()?),
            None => Err(fail!("{} was already stopped", self.name)),
        }
    }

    /// The last lines the child wrote on stderr, for error messages.
    pub(crate) fn stderr_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.stderr_path).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let tail = lines[lines.len().saturating_sub(5)..].join(" | ");
        if tail.is_empty() {
            "(nothing on stderr)".to_owned()
        } else {
            tail
        }
    }

    /// SIGTERM, then waits for the exit (SIGKILL after `grace`).
    pub(crate) async fn terminate(mut self, grace: Duration) -> Result<ExitStatus> {
        let Some(mut child) = self.child.take() else {
            return Err(fail!("{} was already stopped", self.name));
        };
        let pid = Pid::from_raw(i32::try_from(child.id())?);
        kill(pid, Signal::SIGTERM)?;
        let deadline = Instant::now() + grace;
        loop {
            if let Some(status) = child.try_wait()? {
                return Ok(status);
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let status = child.wait()?;
                return Err(fail!(
                    "{} did not stop within {} s of SIGTERM (killed: {status})",
                    self.name,
                    grace.as_secs()
                ));
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The resident memory (`VmRSS`) of process `pid`, in KiB.
pub(crate) fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
}
