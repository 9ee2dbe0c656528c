//! `pars` command-line interface: a thin layer over the library in `pars::cli`.
use clap::Parser;

fn main() {
    let cli = pars::cli::Cli::parse();
    // PARS_LOG (a tracing filter) wins; else -v / -vv raise the level. Warnings
    // stay on with --quiet, which only drops progress bars and summaries.
    let level = match cli.output.verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter =
        tracing_subscriber::EnvFilter::try_from_env("PARS_LOG").unwrap_or_else(|_| level.into());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .without_time()
        .with_writer(std::io::stderr)
        .init();
    if let Err(e) = pars::cli::run(cli) {
        // one line per cause, outermost first
        eprintln!("error: {}", format!("{e:#}").replace('\n', " "));
        std::process::exit(1);
    }
}
