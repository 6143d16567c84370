//! Entry point: parses the command line, runs it, prints any error once. Thread: main.

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = twitchwatch::commands::cli::Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("TWITCHWATCH_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    match twitchwatch::commands::cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // Printed once, on one line: the chain of contexts, outermost first.
            eprintln!("twitchwatch: error: {e:#}");
            // Documented in docs/archives.md: 0 done, 1 a clip or file failed, 2 usage.
            if e.is::<twitchwatch::commands::cli::UsageError>() {
                ExitCode::from(2)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}
