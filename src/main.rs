use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    // env_logger, with peers' unparsable requests kept out of ERROR.
    alerthub::logging::init();
    let cli = alerthub::config::Cli::parse();
    match alerthub::cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("alerthub: {e}");
            ExitCode::FAILURE
        }
    }
}
