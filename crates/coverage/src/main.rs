//! `coverage`: parse, run, print; usage errors exit 2 in one line, failures 1.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use coverage::cli::{Cli, Format};

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => {
            // --help and --version.
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            // clap's message up to its usage block, on one line.
            let text = e.to_string();
            let lines: Vec<&str> = text
                .lines()
                .take_while(|l| !l.is_empty() && !l.starts_with("Usage:"))
                .map(|l| l.trim().trim_start_matches("error: "))
                .collect();
            eprintln!("coverage: {}", lines.join(" "));
            return ExitCode::from(2);
        }
    };
    let report = match coverage::run(&cli) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("coverage: {e}");
            return ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(1));
        }
    };
    let text = match cli.format {
        Format::Json => report.to_json() + "\n",
        Format::Text => coverage::report::render_text(&report),
    };
    if let Err(e) = write(&cli, &text) {
        eprintln!("coverage: {e:#}");
        return ExitCode::from(1);
    }
    ExitCode::SUCCESS
}

fn write(cli: &Cli, text: &str) -> anyhow::Result<()> {
    match &cli.out {
        Some(path) => std::fs::write(path, text).with_context(|| format!("{}", path.display())),
        None => std::io::stdout().write_all(text.as_bytes()).context("stdout"),
    }
}
