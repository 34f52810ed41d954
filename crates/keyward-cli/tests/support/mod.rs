//! What the CLI's test binaries share: one finished run of the CLI and checks on it.

use std::process::Output;

use serde_json::Value;

/// What one run of the CLI produced.
pub(crate) struct Run {
    pub(crate) code: i32,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

impl Run {
    pub(crate) fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is JSON ({e}):\n{}", self.stdout))
    }

    pub(crate) fn ok(self) -> Self {
        self.exits(0)
    }

    /// Asserts the exit code, showing both streams when it differs.
    pub(crate) fn exits(self, code: i32) -> Self {
        assert_eq!(
            self.code, code,
            "exit code\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }

    /// Asserts a refused change: ABORTED, exit code 4, nothing on stdout.
    pub(crate) fn aborted(self) -> Self {
        let run = self.exits(4);
        assert!(run.stderr.contains("ABORTED"), "{}", run.stderr);
        assert!(run.stdout.is_empty(), "{}", run.stdout);
        run
    }
}

impl From<Output> for Run {
    fn from(output: Output) -> Run {
        Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}
