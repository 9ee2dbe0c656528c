//! `pars presets`.
use anyhow::Result;

pub fn run() -> Result<()> {
    for n in crate::algos::presets::preset_names() {
        println!("{n}");
    }
    Ok(())
}
