//! `pars data info FILE`.
use anyhow::Result;
use clap::Subcommand;
use std::path::PathBuf;

#[derive(Subcommand, Debug)]
pub enum DataCommand {
    /// Episodes, transitions, terminals, timeouts, dimensions, reward range.
    Info { file: PathBuf },
}

pub fn run(cmd: DataCommand) -> Result<()> {
    match cmd {
        DataCommand::Info { file } => {
            let raw = crate::data::read_dataset(&file)?;
            let s = crate::data::summarize(&raw);
            println!("{}\n{s}", file.display());
            Ok(())
        }
    }
}
