//! Where the report goes: stdout or `--out` in `--format`, plus every `--output FORMAT=FILE`,
//! all rendered from the one report. Files are checked before the run ([`plan`], a usage
//! error) and written whole ([`write_atomically`]: a temporary file beside it, then rename).

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::cli::{Cli, Format};
use crate::report::{self, Report};
use crate::run::RunError;

/// Where one rendering goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// The standard output.
    Stdout,
    /// A file, replaced whole.
    File(PathBuf),
}

/// One rendering of the report and where it goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    /// The form.
    pub format: Format,
    /// Where.
    pub to: Destination,
}

/// The report in `format`.
pub fn render(format: Format, report: &Report) -> String {
    match format {
        Format::Text => report::render_text(report),
        Format::Json => report.to_json() + "\n",
        Format::Markdown => report::render_markdown(report),
        Format::Junit => report::render_junit(report),
        Format::Html => report::render_html(report),
    }
}

/// The outputs of `cli`, in order: `--format` to stdout or `--out`, then each `--output`.
/// Refuses (a usage error) a file that cannot be written or is named twice, so nothing long
/// runs for a report that would be lost.
pub fn plan(cli: &Cli) -> Result<Vec<Output>, RunError> {
    let mut outputs = vec![Output {
        format: cli.format,
        to: cli.out.clone().map_or(Destination::Stdout, Destination::File),
    }];
    outputs.extend(
        cli.output.iter().map(|o| Output { format: o.format, to: Destination::File(o.path.clone()) }),
    );
    let mut seen: Vec<&Path> = Vec::new();
    for output in &outputs {
        if let Destination::File(path) = &output.to {
            if seen.contains(&path.as_path()) {
                return Err(RunError::Usage(format!("{}: named as an output twice", path.display())));
            }
            seen.push(path);
            check_writable(path)?;
        }
    }
    Ok(outputs)
}

/// Writes every output; returns a line per one that failed (the others are still written).
pub fn write_all(outputs: &[Output], report: &Report) -> Vec<String> {
    let mut errors = Vec::new();
    for output in outputs {
        let text = render(output.format, report);
        let result = match &output.to {
            Destination::Stdout => std::io::stdout()
                .lock()
                .write_all(text.as_bytes())
                .and_then(|()| std::io::stdout().flush())
                .map_err(|e| format!("stdout: {e}")),
            Destination::File(path) => {
                write_atomically(path, text.as_bytes()).map_err(|e| format!("{}: {e}", path.display()))
            }
        };
        if let Err(e) = result {
            errors.push(e);
        }
    }
    errors
}

/// The folder a file is written in (`.` for a bare name).
fn folder(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// The temporary file `path` is written through: hidden, beside it, this process' own.
fn temporary(path: &Path) -> PathBuf {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    folder(path).join(format!(".{name}.coverage-{}.tmp", std::process::id()))
}

/// Refuses a path that is a folder, in a folder that does not exist, or where no file can be
/// created (tried with the temporary file the write will use, then removed).
pub fn check_writable(path: &Path) -> Result<(), RunError> {
    let refuse = |why: String| Err(RunError::Usage(format!("{}: {why}", path.display())));
    if path.file_name().is_none() || path.is_dir() {
        return refuse("is a folder, not a file".into());
    }
    let dir = folder(path);
    if !dir.is_dir() {
        return refuse(format!("cannot write: no folder {}", dir.display()));
    }
    if path.metadata().is_ok_and(|m| m.permissions().readonly()) {
        return refuse("cannot write: the file is read-only".into());
    }
    let probe = temporary(path);
    match OpenOptions::new().write(true).create_new(true).open(&probe) {
        Ok(file) => {
            drop(file);
            let _ = std::fs::remove_file(&probe);
            Ok(())
        }
        Err(e) => refuse(format!("cannot write: {e}")),
    }
}

/// Writes `bytes` to a temporary file beside `path`, syncs it, and renames it over `path`,
/// so readers see the old file or the whole new one, never a part.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let temp = temporary(path);
    let result = (|| {
        let mut file = OpenOptions::new().write(true).create(true).truncate(true).open(&temp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&temp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn cli(extra: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(["coverage", "--rules", "a.yml"].iter().chain(extra))
    }

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("coverage-output-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        dir
    }

    #[test]
    fn format_goes_to_stdout_or_out_and_each_output_to_its_file() -> Result<(), Box<dyn std::error::Error>> {
        let dir = scratch("plan");
        let (html, junit) = (dir.join("r.html"), dir.join("junit.xml"));
        let (h, j) = (format!("html={}", html.display()), format!("junit={}", junit.display()));
        let c = cli(&["--format", "json", "--output", &h, "--output", &j])?;
        assert_eq!(
            plan(&c)?,
            [
                Output { format: Format::Json, to: Destination::Stdout },
                Output { format: Format::Html, to: Destination::File(html.clone()) },
                Output { format: Format::Junit, to: Destination::File(junit) },
            ]
        );
        let c3 = cli(&["--format", "markdown", "--out", &dir.join("r.md").display().to_string()])?;
        assert_eq!(
            plan(&c3)?,
            [Output { format: Format::Markdown, to: Destination::File(dir.join("r.md")) }]
        );
        assert!(std::fs::read_dir(&dir)?.next().is_none(), "the probes are removed");
        let _ = std::fs::remove_dir_all(&dir);
        Ok(())
    }

    #[test]
    fn unwritable_and_doubled_outputs_are_usage_errors() -> Result<(), Box<dyn std::error::Error>> {
        let dir = scratch("refuse");
        let same = format!("json={}", dir.join("x").display());
        let cases = [
            vec!["--out".to_owned(), "/no/such/folder/r.txt".to_owned()],
            vec!["--output".to_owned(), "html=/no/such/folder/r.html".to_owned()],
            vec!["--output".to_owned(), format!("html={}", dir.display())],
            vec!["--output".to_owned(), same.clone(), "--output".to_owned(), same],
        ];
        for args in cases {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let err = plan(&cli(&args)?).err();
            assert!(matches!(&err, Some(e) if e.exit_code() == 2), "{args:?}: {err:?}");
        }
        let _ = std::fs::remove_dir_all(&dir);
        Ok(())
    }

    #[test]
    fn files_are_replaced_whole_and_leave_no_temporary() -> Result<(), Box<dyn std::error::Error>> {
        let dir = scratch("atomic");
        let path = dir.join("report.json");
        std::fs::write(&path, "old, and longer than the new one")?;
        write_atomically(&path, b"new")?;
        assert_eq!(std::fs::read_to_string(&path)?, "new");
        assert_eq!(std::fs::read_dir(&dir)?.count(), 1, "only the report");
        let _ = std::fs::remove_dir_all(&dir);
        Ok(())
    }

    #[test]
    fn every_format_renders_the_sample() {
        let report = crate::report::tests::sample();
        for format in [Format::Text, Format::Json, Format::Markdown, Format::Junit, Format::Html] {
            assert!(render(format, &report).len() > 500, "{format:?}");
        }
        assert!(render(Format::Junit, &report).starts_with("<?xml"));
        assert!(render(Format::Html, &report).to_ascii_lowercase().starts_with("<!doctype html"));
    }
}
