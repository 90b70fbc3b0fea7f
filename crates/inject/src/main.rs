//! `inject`: break the edge fleet on purpose. See `inject --help`.

use std::process::ExitCode;

use clap::Parser;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = inject::cli::Cli::parse();
    let code = inject::run(cli, &mut std::io::stdout(), &mut std::io::stderr()).await;
    ExitCode::from(code)
}
