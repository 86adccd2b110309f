use std::process::ExitCode;

/// mimalloc hands memory it no longer uses back to the system (a burst of
/// frames for stuck sessions does not stay in the RSS), and keeps the
/// pages of buffers it never touched unresident.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    // env_logger, with peers' unparsable requests kept out of ERROR.
    alerthub::telemetry::logging::init();
    let cli = alerthub::cli::args::parse();
    match alerthub::cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("alerthub: {e}");
            ExitCode::FAILURE
        }
    }
}
