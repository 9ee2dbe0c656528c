//! `pars` command-line interface: a thin layer over the library in `pars::cli`.
use clap::Parser;

fn main() {
    let filter =
        tracing_subscriber::EnvFilter::try_from_env("PARS_LOG").unwrap_or_else(|_| "warn".into());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_writer(std::io::stderr)
        .init();
    let cli = pars::cli::Cli::parse();
    if let Err(e) = pars::cli::run(cli) {
        // one line per cause, outermost first
        eprintln!("error: {}", format!("{e:#}").replace('\n', " "));
        std::process::exit(1);
    }
}
