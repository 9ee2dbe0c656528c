//! `pars bench`: training-step, inference and simulation speed (see `crate::bench`).
use anyhow::Result;

pub fn run(a: crate::bench::BenchArgs) -> Result<()> {
    crate::bench::run_bench(a)
}
