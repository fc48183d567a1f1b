//! `hcal`: the command line.

use std::process::ExitCode;

use clap::Parser;

mod cli;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    // Not for the service: a log pipe closing must not stop it.
    if cli.prints_results() {
        quiet_on_closed_pipe();
    }
    match cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One line: the reason and its causes.
            eprintln!("hcal: {}", format!("{e:#}").replace('\n', " "));
            ExitCode::FAILURE
        }
    }
}

/// A reader that stops early (`hcal process ... | head`) ends this program
/// the Unix way, quietly by SIGPIPE, not with a panic on the next print.
fn quiet_on_closed_pipe() {
    #[cfg(unix)]
    // SAFETY: called before any thread exists; it only sets SIGPIPE's
    // disposition back to the default.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}
