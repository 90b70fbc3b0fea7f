//! `inject`: break the edge fleet on purpose. See `inject --help`.

use std::path::Path;
use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    // Before clap reads its `env` defaults and before the runtime starts any thread.
    if let Err(e) = inject::dotenv::load(Path::new(inject::dotenv::FILE)) {
        eprintln!("inject: {e}");
        return ExitCode::from(inject::exit::Exit::Usage.code());
    }
    let cli = inject::cli::Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("inject: cannot start the async runtime: {e}");
            return ExitCode::from(inject::exit::Exit::Failed.code());
        }
    };
    let code = runtime.block_on(inject::run(cli, &mut std::io::stdout(), &mut std::io::stderr()));
    ExitCode::from(code)
}
