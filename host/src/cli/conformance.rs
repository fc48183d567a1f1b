//! `hcal conformance`: the fixtures through a component, one line per case.

use std::io::Write as _;
use std::path::PathBuf;

use hcal::config::Config;
use hcal::conformance::{self, Verdict};
use hcal::runtime::Runtime;

use super::Cli;

#[derive(clap::Args)]
pub(super) struct ConformanceArgs {
    /// The cases: a directory of case directories (input*.json, request.json,
    /// key.json when sealed, expected.json), as `fixtures/core/` of hcal's checkout.
    #[arg(long, value_name = "DIR", default_value = "fixtures/core")]
    fixtures: PathBuf,
    /// Only the cases whose name contains this.
    #[arg(long, value_name = "TEXT")]
    only: Option<String>,
}

/// Run every case against the component (`--component`, else hcal's own)
/// and say which pass; an error (exit 1) when any fails.
pub(super) fn conformance(
    cli: &Cli,
    config: &Config,
    args: &ConformanceArgs,
) -> anyhow::Result<()> {
    let runtime_config = config.runtime(cli.component.as_deref());
    let component = std::fs::canonicalize(&runtime_config.component)
        .unwrap_or_else(|_| runtime_config.component.clone());
    let runtime = Runtime::new(runtime_config)?;
    let cases = conformance::load(&args.fixtures)?;
    let cases: Vec<_> = cases
        .into_iter()
        .filter(|c| args.only.as_deref().is_none_or(|o| c.name.contains(o)))
        .collect();
    if cases.is_empty() {
        anyhow::bail!(
            "no case of {} has {:?} in its name",
            args.fixtures.display(),
            args.only.as_deref().unwrap_or_default()
        );
    }
    let mut out = std::io::stdout().lock();
    let (mut passed, mut failed, mut missing) = (0, Vec::new(), 0);
    for case in &cases {
        match conformance::check(&runtime, case) {
            Verdict::Passed => {
                passed += 1;
                writeln!(out, "ok    {}", case.name)?;
            }
            Verdict::NoGoldenFile => {
                missing += 1;
                writeln!(out, "skip  {} (no expected.json)", case.name)?;
            }
            Verdict::Failed(lines) => {
                writeln!(out, "FAIL  {}", case.name)?;
                for line in &lines {
                    writeln!(out, "        {line}")?;
                }
                failed.push(case.name.clone());
            }
        }
    }
    let skipped = if missing > 0 {
        format!(", {missing} without expected.json")
    } else {
        String::new()
    };
    writeln!(
        out,
        "{passed} passed, {} failed{skipped} ({} against {})",
        failed.len(),
        args.fixtures.display(),
        component.display()
    )?;
    if failed.is_empty() {
        Ok(())
    } else {
        anyhow::bail!(
            "{} of {} cases failed: {}",
            failed.len(),
            cases.len(),
            failed.join(", ")
        )
    }
}
