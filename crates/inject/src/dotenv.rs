//! `./.env`, read as Docker Compose reads it. The README tells users to move taken ports
//! in `.env`; Compose publishes the nodes there, so the CLI must look there too, or it
//! would send to the default ports (someone else's program). A variable already set in
//! the environment wins, as it does for Compose.

use std::path::Path;

/// The file Compose reads from the project folder; the CLI reads it from where it runs.
pub const FILE: &str = ".env";

/// Loads `path` into the process environment, leaving variables already set alone.
/// Returns whether there was a file. A malformed file is an error naming the file and its
/// first bad line, and sets nothing.
///
/// Call it before any other thread starts: it changes the process environment.
pub fn load(path: &Path) -> Result<bool, String> {
    let parsed = match dotenvy::from_path_iter(path) {
        Ok(lines) => lines.collect::<Result<Vec<(String, String)>, _>>().map(|_| ()),
        Err(e) if e.not_found() => return Ok(false),
        Err(e) => Err(e),
    };
    // Checked whole first, so a bad line sets nothing; then loaded.
    parsed.and_then(|()| dotenvy::from_path(path)).map_err(|e| describe(path, &e))?;
    Ok(true)
}

fn describe(path: &Path, e: &dotenvy::Error) -> String {
    match e {
        dotenvy::Error::LineParse(line, at) => {
            let line: String = line.chars().take(60).filter(|c| !c.is_control()).collect();
            format!("{}: cannot read `{line}` (at character {at}); expected NAME=value", path.display())
        }
        other => format!("{}: {other}", path.display()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(name: &str, text: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("inject-dotenv-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join(FILE);
        std::fs::write(&path, text).expect("write");
        path
    }

    #[test]
    fn no_file_is_no_error() {
        assert_eq!(load(Path::new("/nonexistent/inject/.env")), Ok(false));
    }

    #[test]
    fn a_bad_line_names_the_file_and_sets_nothing() {
        let var = "INJECT_DOTENV_TEST_SET_BEFORE_THE_BAD_LINE";
        let path = file("bad", &format!("{var}=1\nEDGE_NODE_3_PORT 18003\n"));
        let err = load(&path).expect_err("a line without =");
        assert!(
            err.contains(".env") && err.contains("EDGE_NODE_3_PORT 18003") && !err.contains('\n'),
            "{err}"
        );
        assert!(std::env::var_os(var).is_none(), "nothing is set when a line is bad");
    }
}
