//! Helpers shared by the integration tests that run the `pars` binary.
#![allow(dead_code)]
use std::path::Path;
use std::process::{Command, Output};

/// Run `pars` with `args` in `cwd`.
pub fn pars(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pars"))
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("run pars")
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

/// Assert success and return stdout.
pub fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "pars failed:\n{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).to_string()
}
