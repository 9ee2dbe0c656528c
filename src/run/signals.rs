//! SIGINT / SIGTERM (Ctrl-C, or what SLURM sends before a time limit or
//! preemption): the first asks the running loop to finish its step, write a
//! checkpoint and stop; a second ends the process at once with status 130.
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

/// Exit status of a run stopped by a signal (128 + SIGINT).
pub const INTERRUPTED_EXIT: i32 = 130;

static FLAG: OnceLock<Arc<AtomicBool>> = OnceLock::new();

/// Install the handlers (idempotent). Without this call `stop_requested` is
/// always false and signals keep their default effect.
pub fn install() {
    FLAG.get_or_init(|| {
        let flag = Arc::new(AtomicBool::new(false));
        for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
            // registered first, so the first signal only sets the flag below and
            // the second (flag already set) exits
            let _ = signal_hook::flag::register_conditional_shutdown(
                sig,
                INTERRUPTED_EXIT,
                Arc::clone(&flag),
            );
            let _ = signal_hook::flag::register(sig, Arc::clone(&flag));
        }
        flag
    });
}

/// Install a handler that only asks the loop to stop, for a host that keeps its own
/// handler (the Python module: signal-hook chains the interpreter's, which then raises
/// `KeyboardInterrupt`); a second signal does not end the process. Call before any run;
/// `install` is then a no-op.
pub fn install_flag_only() {
    FLAG.get_or_init(|| {
        let flag = Arc::new(AtomicBool::new(false));
        for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
            let _ = signal_hook::flag::register(sig, Arc::clone(&flag));
        }
        flag
    });
}

/// Forget a stop asked for earlier (a host that starts several runs in one process
/// clears it before each).
pub fn clear() {
    if let Some(f) = FLAG.get() {
        f.store(false, Ordering::Relaxed);
    }
}

/// Whether a stop was requested by a signal.
pub fn stop_requested() -> bool {
    FLAG.get().is_some_and(|f| f.load(Ordering::Relaxed))
}
