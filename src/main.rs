//! The `teamportal` binary: parse the command line and hand over to the library.

use clap::Parser;

fn main() -> std::process::ExitCode {
    teamportal::cli::run(teamportal::cli::Cli::parse())
}
