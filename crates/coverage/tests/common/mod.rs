//! What the command's end-to-end tests share: where the crate and the real tools are, the
//! command to run, a fresh work folder, and finding an entry of a report's list.

#![allow(dead_code)] // each test file uses some of these

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// The crate's folder.
pub fn manifest() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The `coverage` binary this test run built.
pub fn coverage() -> Command {
    Command::new(env!("CARGO_BIN_EXE_coverage"))
}

/// The folder of the real promtool and prometheus v3 (required, never skipped): fails the
/// test with the install command when they are missing.
pub fn require_tools() -> PathBuf {
    let bin = manifest().join("../../target/tools/root/usr/bin");
    for tool in ["promtool", "prometheus"] {
        assert!(
            bin.join(tool).is_file(),
            "{} is missing: this test needs the real Prometheus v3 tools; install them with \
             `source scripts/lib/tools.sh && ensure_v3_tools`",
            bin.join(tool).display()
        );
    }
    bin
}

/// An empty folder of this test run named after `name`.
pub fn work_dir(name: &str) -> PathBuf {
    let work = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).expect("the work folder");
    work
}

/// The entry of `list` whose `key` is `name`.
pub fn find<'a>(list: &'a Value, key: &str, name: &str) -> &'a Value {
    list.as_array()
        .and_then(|l| l.iter().find(|x| x[key] == name))
        .unwrap_or_else(|| panic!("no {key} {name} in {list}"))
}
