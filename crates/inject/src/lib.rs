//! The `inject` CLI as a library: parse, then [`run`] with any writers, so tests drive it
//! against in-process nodes and check its output and exit code.
//!
//! Layers, top down: `cli` (clap types only), `cmd` (one module per subcommand, each a small
//! `run`), then the libraries they call, none of which knows the command line: `fanout` (one
//! operation on many nodes), `fleet` (learning the running fleet), `watch` (timing alerts),
//! `scenario` (game days), `drill` (blind drills). Everything that talks HTTP goes through
//! `stack-client`. It shares the failure catalog with the service (`edge_sim::FaultKind`), so
//! mode names can never drift; it must not depend on the service crate.

pub mod cli;
mod cmd;
pub mod dotenv;
pub mod drill;
pub mod exit;
pub mod fanout;
pub mod fleet;
pub mod numbers;
pub mod output;
pub mod scenario;
pub mod table;
pub mod targets;
pub mod watch;

use std::io::Write;

use cli::Cli;
use exit::Exit;

/// Runs a parsed command line; returns the exit code ([`Exit`]). Results go to `out`;
/// progress, warnings and errors to `err`. Usage errors are caught before anything is sent.
/// This is the one place a command's error is said (`inject: ` and one line) and becomes
/// its code ([`exit::CommandError::exit`]).
pub async fn run(cli: Cli, out: &mut impl Write, err: &mut impl Write) -> u8 {
    let exit = match cmd::run(cli, output::Output { out: &mut *out, err: &mut *err }).await {
        Ok(outcome) => Exit::from(outcome),
        Err(e) => {
            let _ = writeln!(err, "inject: {}", e.line());
            e.exit()
        }
    };
    exit.code()
}
