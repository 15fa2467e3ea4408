//! `cang bench`: drives an instance (by default a `cang up` it starts in a temporary directory) and
//! prints the results as Markdown; the measurements themselves live in `cang-bench`.

use anyhow::Context;

pub use cang_bench::BenchArgs;

use super::output;

/// Runs the benchmark, prints the report and writes `--json`/`--svg`.
pub fn main(args: BenchArgs) -> anyhow::Result<()> {
    let exe = std::env::current_exe().context("locating the cang executable")?;
    let (json, svg) = (args.json.clone(), args.svg.clone());
    let report = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?
        .block_on(cang_bench::run(args, &exe))?;
    cang_bench::write_outputs(&report, json.as_deref(), svg.as_deref())?;
    output::line(&report.markdown())
}
