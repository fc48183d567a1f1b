//! `hcal`: the command line.

use std::process::ExitCode;

use clap::Parser;

mod cli;

fn main() -> ExitCode {
    match cli::run(cli::Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One line: the reason and its causes.
            eprintln!("hcal: {}", format!("{e:#}").replace('\n', " "));
            ExitCode::FAILURE
        }
    }
}
