//! `pars` command-line interface: a thin layer over the library in `pars::cli`.
use clap::Parser;

/// Exit statuses (documented in the README): 0 success, 1 error, 2 usage error (from
/// clap), 130 interrupted; a closed output pipe ends the process quietly by SIGPIPE,
/// as it does for other Unix tools.
fn main() {
    // Rust ignores SIGPIPE and turns a closed pipe into a panic in println!; restore
    // the default so `pars envs | head` simply stops.
    #[cfg(unix)]
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
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
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .init();
    // The whole command runs on a worker of one pool (RAYON_NUM_THREADS or all CPUs):
    // the training loop and its parallel layers then share that worker instead of
    // every layer being handed from the main thread to a pool thread and back, which
    // cost ~15 % of a single-thread online run in futex wake-ups.
    let result = match rayon::ThreadPoolBuilder::new().stack_size(8 << 20).build() {
        Ok(pool) => pool.install(|| pars::cli::run(cli)),
        Err(e) => Err(anyhow::anyhow!("cannot start the thread pool: {e}")),
    };
    if let Err(e) = result {
        if e.downcast_ref::<pars::training::Interrupted>().is_some() {
            // the run already said where its checkpoint is and how to resume
            std::process::exit(pars::run::signals::INTERRUPTED_EXIT);
        }
        // one line per cause, outermost first
        eprintln!("error: {}", format!("{e:#}").replace('\n', " "));
        std::process::exit(1);
    }
}
