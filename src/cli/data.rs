//! `pars data info DATASET`.
use anyhow::Result;
use clap::Subcommand;
use std::path::PathBuf;

#[derive(Subcommand, Debug)]
pub enum DataCommand {
    /// Episodes, transitions, terminals, timeouts, dimensions, rewards, episode returns
    /// and lengths, the data's value; for a Minari dataset also its metadata
    /// (environment, reference scores, author).
    Info {
        /// An HDF5 file, a Minari dataset directory or a Minari id (e.g.
        /// mujoco/hopper/medium-v0, found in MINARI_DATASETS_PATH or ~/.minari/datasets).
        dataset: PathBuf,
        /// A dict observation's keys to concatenate, in order (as `pars train --obs-keys`).
        #[arg(long, value_delimiter = ',')]
        obs_keys: Option<Vec<String>>,
        /// Discount of the data's value (mean discounted return-to-go): 0.99 for MuJoCo and
        /// Adroit, 0.995 for AntMaze as the paper's presets.
        #[arg(long, default_value_t = 0.99)]
        gamma: f64,
    },
}

pub fn run(cmd: DataCommand) -> Result<()> {
    match cmd {
        DataCommand::Info {
            dataset,
            obs_keys,
            gamma,
        } => {
            anyhow::ensure!(
                (0.0..=1.0).contains(&gamma),
                "--gamma must lie in [0, 1] (got {gamma})"
            );
            let file = crate::data::dataset_file(&dataset)?;
            let meta = crate::data::MinariMetadata::of_file(&file)?;
            let raw = crate::data::read_dataset_with(&file, obs_keys.as_deref())?;
            let s = crate::data::summarize_with(&raw, gamma);
            println!("{}\n{s}", file.display());
            if let Some(m) = meta {
                print_metadata(&m)?;
            }
            Ok(())
        }
    }
}

fn print_metadata(m: &crate::data::MinariMetadata) -> Result<()> {
    let rows = [
        ("dataset id", m.dataset_id.clone()),
        ("environment", m.env_id()?),
        ("episodes", m.total_episodes.map(|n| n.to_string())),
        ("steps", m.total_steps.map(|n| n.to_string())),
        (
            "reference scores",
            match (m.ref_min_score, m.ref_max_score) {
                (Some(lo), Some(hi)) => Some(format!("min {lo}, max {hi}")),
                _ => None,
            },
        ),
        ("algorithm", m.algorithm_name.clone()),
        ("author", m.authors()),
        ("code", m.code_permalink.clone()),
        ("minari version", m.minari_version.clone()),
    ];
    println!("Minari metadata:");
    for (k, v) in rows {
        if let Some(v) = v {
            println!("  {k:<17} {v}");
        }
    }
    Ok(())
}
