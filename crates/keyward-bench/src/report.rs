//! What the benchmark prints and writes: the machine, each phase's raw figures as the phase
//! ends, then the summary table of ratios against their targets; `--json` gets everything.

use std::fmt::Write as _;
use std::time::Duration;

use serde_json::{Map, Value, json};

use crate::loadgen::LoadResult;

/// The machine the figures were measured on.
#[derive(Clone, Debug)]
pub(crate) struct Machine {
    /// Logical cores.
    pub(crate) cores: usize,
    /// `model name` from /proc/cpuinfo.
    pub(crate) cpu: String,
    /// The kernel release.
    pub(crate) kernel: String,
    /// /proc/loadavg when the run started: other work on the machine skews the figures.
    pub(crate) load: String,
}

impl Machine {
    /// Reads /proc.
    pub(crate) fn detect() -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu = cpuinfo
            .lines()
            .find_map(|line| {
                let (key, value) = line.split_once(':')?;
                (key.trim() == "model name").then(|| value.trim().to_owned())
            })
            .unwrap_or_else(|| "unknown".to_owned());
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map(|s| s.trim().to_owned())
            .unwrap_or_else(|_| "unknown".to_owned());
        Machine {
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            cpu,
            kernel,
            load: load_average(),
        }
    }
}

/// The 1, 5 and 15-minute load averages.
pub(crate) fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".to_owned())
}

/// How a phase ended.
#[derive(Clone, Debug)]
pub(crate) enum Outcome {
    /// It ran and every answer check passed.
    Ok,
    /// It could not run to its end, or an answer was wrong.
    Failed(String),
    /// It was not run.
    Skipped(String),
}

/// One phase on one backend.
#[derive(Clone, Debug)]
pub(crate) struct PhaseRecord {
    backend: String,
    name: String,
    outcome: Outcome,
    figures: Map<String, Value>,
}

/// A line of the summary table.
#[derive(Clone, Debug)]
pub(crate) struct Ratio {
    /// `R1`, `R2 p50`, `cold start (spawn)`…
    pub(crate) name: String,
    /// `sqlite`, `postgres`, or `-`.
    pub(crate) backend: String,
    /// The figure; None when its phases did not produce it.
    pub(crate) value: Option<f64>,
    /// The target it is judged by (None: reported only).
    pub(crate) target: Option<Bound>,
    /// How the figure is shown.
    pub(crate) unit: Unit,
}

/// A target: at least or at most this.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Bound {
    /// value ≥ bound.
    AtLeast(f64),
    /// value ≤ bound.
    AtMost(f64),
}

impl Bound {
    fn admits(self, value: f64) -> bool {
        match self {
            Bound::AtLeast(bound) => value >= bound,
            Bound::AtMost(bound) => value <= bound,
        }
    }
}

/// How a summary figure is printed.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Unit {
    /// A ratio, `0.93`.
    Ratio,
    /// Seconds, `0.412 s`.
    Seconds,
    /// Seconds shown in milliseconds, `0.47 ms` (a figure far below a second).
    Millis,
}

impl Unit {
    fn show(self, value: f64) -> String {
        match self {
            Unit::Ratio => format!("{value:.3}"),
            Unit::Seconds => format!("{value:.3} s"),
            Unit::Millis => format!("{:.2} ms", value * 1000.0),
        }
    }
}

/// Everything measured in one run.
#[derive(Debug)]
pub(crate) struct Report {
    quick: bool,
    machine: Machine,
    phases: Vec<PhaseRecord>,
    ratios: Vec<Ratio>,
    settings: Map<String, Value>,
    /// When the phase being run began.
    began: Option<std::time::Instant>,
}

/// The figures a phase collects while it runs.
#[derive(Debug, Default)]
pub(crate) struct Figures {
    map: Map<String, Value>,
}

impl Figures {
    /// Records `value` under `key`.
    pub(crate) fn set(&mut self, key: &str, value: impl Into<Value>) {
        self.map.insert(key.to_owned(), value.into());
    }

    /// Records a load run under `key`, prints it as `label`.
    #[allow(clippy::print_stdout, reason = "the report is printed as it goes")]
    pub(crate) fn load(&mut self, key: &str, label: &str, result: &LoadResult) {
        println!("    {label:<34} {}", load_line(result));
        self.map.insert(key.to_owned(), load_json(result));
    }

    /// Prints a line of the phase's figures.
    #[allow(clippy::print_stdout, reason = "the report is printed as it goes")]
    pub(crate) fn say(&self, line: &str) {
        println!("    {line}");
    }
}

/// `12,345 req/s  p50 123 µs  p99 456 µs  max 7.9 ms  (n OK, non-OK …, errors …)`.
pub(crate) fn load_line(result: &LoadResult) -> String {
    let mut line = format!(
        "{:>9.0} req/s  p50 {:>8}  p99 {:>8}  max {:>8}  ({} OK",
        result.throughput(),
        micros(result.quantile_us(0.50)),
        micros(result.quantile_us(0.99)),
        micros(result.latencies_us.last().copied()),
        result.ok
    );
    for (status, count) in result.non_ok() {
        let _ = write!(line, ", {count} {status}");
    }
    if result.transport_errors > 0 {
        let _ = write!(line, ", {} transport errors", result.transport_errors);
    }
    if result.connect_errors > 0 {
        let _ = write!(line, ", {} failed connects", result.connect_errors);
    }
    line.push(')');
    line
}

/// A latency in µs as text (`812 µs`, `12.3 ms`).
pub(crate) fn micros(value: Option<u32>) -> String {
    match value {
        None => "-".to_owned(),
        Some(us) if us < 10_000 => format!("{us} µs"),
        Some(us) => format!("{:.1} ms", f64::from(us) / 1000.0),
    }
}

/// Seconds with milliseconds.
pub(crate) fn secs(duration: Duration) -> String {
    format!("{:.3} s", duration.as_secs_f64())
}

fn load_json(result: &LoadResult) -> Value {
    let statuses: Map<String, Value> = result
        .statuses
        .iter()
        .enumerate()
        .filter(|(_, n)| **n > 0)
        .map(|(code, n)| (crate::loadgen::code_name(code).to_owned(), json!(n)))
        .collect();
    json!({
        "throughput_rps": result.throughput(),
        "p50_us": result.quantile_us(0.50),
        "p99_us": result.quantile_us(0.99),
        "max_us": result.latencies_us.last(),
        "answers": result.answers(),
        "ok": result.ok,
        "statuses": statuses,
        "malformed": result.malformed,
        "transport_errors": result.transport_errors,
        "connect_errors": result.connect_errors,
        "first_error": result.first_error,
        "window_s": result.elapsed.as_secs_f64(),
    })
}

impl Report {
    /// An empty report.
    pub(crate) fn new(quick: bool, machine: Machine) -> Report {
        Report {
            quick,
            machine,
            phases: Vec::new(),
            ratios: Vec::new(),
            settings: Map::new(),
            began: None,
        }
    }

    /// Records a setting of the run (durations, counts) for the JSON output.
    pub(crate) fn setting(&mut self, key: &str, value: impl Into<Value>) {
        self.settings.insert(key.to_owned(), value.into());
    }

    /// Prints the header: the machine and the mode.
    #[allow(clippy::print_stdout, reason = "the report")]
    pub(crate) fn print_header(&self) {
        println!("Keyward VerifyApiKey benchmark");
        println!(
            "machine: {} cores, {}, Linux {}; load average {} (other work on the machine skews the figures)",
            self.machine.cores, self.machine.cpu, self.machine.kernel, self.machine.load
        );
        if self.quick {
            println!("mode: quick (proves every phase works; the numbers are not meaningful)");
        } else {
            println!("mode: full");
        }
    }

    /// Prints the start of a phase.
    #[allow(clippy::print_stdout, reason = "the report")]
    pub(crate) fn begin(&mut self, backend: &str, name: &str) {
        println!();
        println!("== {name} [{backend}]");
        self.began = Some(std::time::Instant::now());
    }

    /// Records how a phase ended, with its figures.
    #[allow(clippy::print_stdout, reason = "the report")]
    pub(crate) fn end(
        &mut self,
        backend: &str,
        name: &str,
        outcome: Outcome,
        mut figures: Figures,
    ) {
        match &outcome {
            Outcome::Ok => {}
            Outcome::Failed(message) => println!("    PHASE FAILED: {message}"),
            Outcome::Skipped(reason) => println!("    skipped: {reason}"),
        }
        if let (Some(began), Outcome::Ok | Outcome::Failed(_)) = (self.began.take(), &outcome) {
            let took = began.elapsed();
            println!("    ({} in all)", secs(took));
            figures.set("phase_s", took.as_secs_f64());
        }
        self.phases.push(PhaseRecord {
            backend: backend.to_owned(),
            name: name.to_owned(),
            outcome,
            figures: figures.map,
        });
    }

    /// Records a phase that did not run.
    pub(crate) fn skip(&mut self, backend: &str, name: &str, reason: &str) {
        self.begin(backend, name);
        self.end(
            backend,
            name,
            Outcome::Skipped(reason.to_owned()),
            Figures::default(),
        );
    }

    /// Adds a line to the summary table.
    pub(crate) fn ratio(
        &mut self,
        name: &str,
        backend: &str,
        value: Option<f64>,
        target: Option<Bound>,
        unit: Unit,
    ) {
        self.ratios.push(Ratio {
            name: name.to_owned(),
            backend: backend.to_owned(),
            value: value.filter(|v| v.is_finite()),
            target,
            unit,
        });
    }

    /// Whether a phase failed.
    pub(crate) fn any_failed(&self) -> bool {
        self.phases
            .iter()
            .any(|p| matches!(p.outcome, Outcome::Failed(_)))
    }

    /// Prints the summary table: each ratio with its target and PASS/FAIL.
    #[allow(clippy::print_stdout, reason = "the report")]
    pub(crate) fn print_summary(&self) {
        println!();
        if self.quick {
            println!("== Summary (quick: not meaningful)");
        } else {
            println!("== Summary");
        }
        println!(
            "{:<28} {:<9} {:>12}  {:<10} verdict",
            "figure", "backend", "value", "target"
        );
        for ratio in &self.ratios {
            let value = ratio
                .value
                .map_or_else(|| "-".to_owned(), |v| ratio.unit.show(v));
            let target = match ratio.target {
                Some(Bound::AtLeast(b)) => format!(">= {}", ratio.unit.show(b)),
                Some(Bound::AtMost(b)) => format!("<= {}", ratio.unit.show(b)),
                None => String::new(),
            };
            let verdict = match (ratio.value, ratio.target) {
                (None, _) => "n/a",
                (Some(_), None) => "",
                (Some(v), Some(bound)) if bound.admits(v) => "PASS",
                (Some(_), Some(_)) => "FAIL",
            };
            let verdict = if self.quick && !verdict.is_empty() && verdict != "n/a" {
                format!("{verdict} (quick: not meaningful)")
            } else {
                verdict.to_owned()
            };
            println!(
                "{:<28} {:<9} {:>12}  {:<10} {}",
                ratio.name, ratio.backend, value, target, verdict
            );
        }
        println!();
        for phase in &self.phases {
            match &phase.outcome {
                Outcome::Ok => {}
                Outcome::Failed(message) => {
                    println!("FAILED  {} [{}]: {message}", phase.name, phase.backend);
                }
                Outcome::Skipped(reason) => {
                    println!("skipped {} [{}]: {reason}", phase.name, phase.backend);
                }
            }
        }
        let failed = self.any_failed();
        println!("load average at the end: {}", load_average());
        println!(
            "{}",
            if failed {
                "result: a phase FAILED (exit 1)"
            } else {
                "result: every phase ran and every answer check passed"
            }
        );
    }

    /// Everything, as JSON.
    pub(crate) fn to_json(&self) -> Value {
        let phases: Vec<Value> = self
            .phases
            .iter()
            .map(|p| {
                let (outcome, detail) = match &p.outcome {
                    Outcome::Ok => ("ok", Value::Null),
                    Outcome::Failed(m) => ("failed", json!(m)),
                    Outcome::Skipped(r) => ("skipped", json!(r)),
                };
                json!({
                    "backend": p.backend,
                    "phase": p.name,
                    "outcome": outcome,
                    "detail": detail,
                    "figures": p.figures,
                })
            })
            .collect();
        let ratios: Vec<Value> = self
            .ratios
            .iter()
            .map(|r| {
                let (op, bound) = match r.target {
                    Some(Bound::AtLeast(b)) => (Some(">="), Some(b)),
                    Some(Bound::AtMost(b)) => (Some("<="), Some(b)),
                    None => (None, None),
                };
                json!({
                    "name": r.name,
                    "backend": r.backend,
                    "value": r.value,
                    "target_op": op,
                    "target": bound,
                    "pass": match (r.value, r.target) {
                        (Some(v), Some(b)) => Some(b.admits(v)),
                        _ => None,
                    },
                })
            })
            .collect();
        json!({
            "quick": self.quick,
            "meaningful": !self.quick,
            "machine": {
                "cores": self.machine.cores,
                "cpu": self.machine.cpu,
                "kernel": self.machine.kernel,
                "load_average_start": self.machine.load,
                "load_average_end": load_average(),
            },
            "settings": self.settings,
            "phases": phases,
            "summary": ratios,
            "failed": self.any_failed(),
        })
    }
}
