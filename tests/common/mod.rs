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

/// Run `pars` with `args` in `cwd` with Minari's dataset root at `cwd/minari`.
pub fn pars_minari(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pars"))
        .args(args)
        .current_dir(cwd)
        .env("MINARI_DATASETS_PATH", cwd.join("minari"))
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

/// Start `pars` with `args` in `cwd` (stderr captured) and return once `file` exists,
/// failing if the process ends first or nothing appears within a minute.
pub fn spawn_until_file<S: AsRef<std::ffi::OsStr>>(
    args: &[S],
    cwd: &Path,
    file: &Path,
) -> std::process::Child {
    use std::time::{Duration, Instant};
    let mut child = Command::new(env!("CARGO_BIN_EXE_pars"))
        .args(args)
        .current_dir(cwd)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start pars");
    let t = Instant::now();
    while !file.exists() {
        assert!(
            child.try_wait().unwrap().is_none(),
            "finished before {} appeared",
            file.display()
        );
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "{} did not appear",
            file.display()
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    child
}
