//! `coverage`: parse, check the outputs, run, write every output, decide `--fail-on`.
//! Usage errors exit 2 in one line before anything runs; a failed run or write, or a
//! `--fail-on` condition that holds, exits 1.

use std::process::ExitCode;

use clap::Parser;
use coverage::cli::Cli;

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
    let outputs = match coverage::output::plan(&cli) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("coverage: {e}");
            return ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2));
        }
    };
    let report = match coverage::run(&cli) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("coverage: {e}");
            return ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(1));
        }
    };
    let write_errors = coverage::output::write_all(&outputs, &report);
    for e in &write_errors {
        eprintln!("coverage: {e}");
    }
    let failures = coverage::ci::decide(&report, &cli.fail_on);
    for failure in &failures {
        eprintln!("coverage: {failure}");
    }
    if !write_errors.is_empty() {
        return ExitCode::from(1);
    }
    ExitCode::from(coverage::ci::exit_code(&failures))
}
