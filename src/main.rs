//! The `teamportal` binary: parse the command line and hand over to the library.

use clap::Parser;

// glibc's allocator spent a seventh of a team page request in malloc and free, contended
// between the worker and the database threads; mimalloc keeps per-thread heaps.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    teamportal::cli::run(teamportal::cli::Cli::parse())
}
