//! The real Prometheus tools: where they are, that they are v3, and running promtool.

use std::path::{Path, PathBuf};
use std::process::Command;

/// How to install them, for every error that finds them missing.
pub const INSTALL_HINT: &str =
    "install them with `source scripts/lib/tools.sh && ensure_v3_tools` (into target/tools/root/usr/bin)";

/// A tool that is missing, not v3, or failed.
#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    /// The binary is not there.
    #[error("{path}: not found; {INSTALL_HINT}")]
    Missing {
        /// Where it was looked for.
        path: PathBuf,
    },
    /// Not Prometheus 3.
    #[error("{path}: expected Prometheus 3.x, got {version:?}; {INSTALL_HINT}")]
    WrongVersion {
        /// The binary.
        path: PathBuf,
        /// The first line of its `--version`.
        version: String,
    },
    /// It could not be run, or exited with an error.
    #[error("{command}: {cause}")]
    Failed {
        /// The command line, shortened.
        command: String,
        /// Its exit status and the end of its output, or why it could not start.
        cause: String,
    },
}

/// The promtool and prometheus binaries (v3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tools {
    /// `promtool`.
    pub promtool: PathBuf,
    /// `prometheus`.
    pub prometheus: PathBuf,
}

impl Tools {
    /// The tools in `bin` (e.g. `target/tools/root/usr/bin`), checked to be Prometheus 3.
    pub fn in_dir(bin: &Path) -> Result<Self, ToolError> {
        let tools = Self { promtool: bin.join("promtool"), prometheus: bin.join("prometheus") };
        for path in [&tools.promtool, &tools.prometheus] {
            if !path.is_file() {
                return Err(ToolError::Missing { path: path.clone() });
            }
            let out = run(Command::new(path).arg("--version"))?;
            let first = out.lines().next().unwrap_or_default().to_owned();
            if !first.contains(", version 3.") {
                return Err(ToolError::WrongVersion { path: path.clone(), version: first });
            }
        }
        Ok(tools)
    }

    /// `promtool tsdb create-blocks-from openmetrics FILE DIR`: blocks of the samples in
    /// `file` written into `dir`.
    pub fn backfill_openmetrics(&self, file: &Path, dir: &Path) -> Result<(), ToolError> {
        run(Command::new(&self.promtool)
            .args(["tsdb", "create-blocks-from", "openmetrics"])
            .arg(file)
            .arg(dir))
        .map(drop)
    }

    /// `promtool tsdb create-blocks-from openmetrics -q --max-block-duration=D FILE DIR`:
    /// as [`Self::backfill_openmetrics`], with blocks of up to `max_block` (promtool rounds
    /// it down to one of 2h·3^k, at most 2h·3^9, and aligns blocks to its multiples from the
    /// epoch). promtool reads the whole file once for its time range and once more per
    /// block, so fewer, longer blocks are read fewer times (the flag is hidden from
    /// `--help` but accepted by 3.x).
    pub fn backfill_openmetrics_blocks(
        &self,
        file: &Path,
        dir: &Path,
        max_block: std::time::Duration,
    ) -> Result<(), ToolError> {
        run(Command::new(&self.promtool)
            .args(["tsdb", "create-blocks-from", "openmetrics", "-q"])
            .arg(format!("--max-block-duration={}s", max_block.as_secs()))
            .arg(file)
            .arg(dir))
        .map(drop)
    }

    /// `promtool test rules FILE`: `Ok(output)` if every case passed, `Err` with promtool's
    /// report otherwise.
    pub fn test_rules(&self, file: &Path) -> Result<String, ToolError> {
        run(Command::new(&self.promtool).args(["test", "rules"]).arg(file))
    }
}

/// How much of a failed command's output goes into its error.
const OUTPUT_TAIL: usize = 4000;

/// Runs `cmd` to its end: its stdout and stderr if it succeeded.
pub(crate) fn run(cmd: &mut Command) -> Result<String, ToolError> {
    let command = format!("{cmd:?}");
    let out =
        cmd.output().map_err(|e| ToolError::Failed { command: command.clone(), cause: e.to_string() })?;
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    if out.status.success() {
        Ok(text)
    } else {
        let start = text.len().saturating_sub(OUTPUT_TAIL);
        let start = (start..text.len()).find(|i| text.is_char_boundary(*i)).unwrap_or(text.len());
        Err(ToolError::Failed { command, cause: format!("{}: {}", out.status, &text[start..]) })
    }
}
