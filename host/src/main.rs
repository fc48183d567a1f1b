//! `hcal`: the command line.

use std::process::ExitCode;

use clap::Parser;

mod cli;

/// mimalloc rather than glibc's malloc: the service allocates and frees many
/// mid-sized strings across threads (pages, sealed meetings), where glibc
/// spent 15% of a full sync's CPU; with mimalloc the sync ran 5-8% faster
/// (docs/performance.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
