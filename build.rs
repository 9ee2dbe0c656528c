// With the `mujoco` feature, binaries (tests included) find libmujoco.so at run time
// through an rpath, so no LD_LIBRARY_PATH is needed. A missing library stops the build
// with what to do about it.
fn main() {
    println!("cargo::rerun-if-env-changed=MUJOCO_DYNAMIC_LINK_DIR");
    if std::env::var_os("CARGO_FEATURE_MUJOCO").is_none() {
        return;
    }
    let dir = std::env::var("MUJOCO_DYNAMIC_LINK_DIR").unwrap_or_default();
    let lib = std::path::Path::new(&dir).join("libmujoco.so");
    println!("cargo::rerun-if-changed={}", lib.display());
    if dir.is_empty() || !lib.is_file() {
        panic!(
            "\n\nThe MuJoCo library was not found (looked for {}).\n\
             Run `bash scripts/setup.sh` (it installs MuJoCo 3.17.0 from the `mujoco` wheel into \
             .mujoco/), or set MUJOCO_DYNAMIC_LINK_DIR to an absolute folder holding \
             libmujoco.so of MuJoCo 3.17.0, or build without the MuJoCo environments: \
             `cargo build --no-default-features`.\n\n",
            lib.display()
        );
    }
    println!("cargo::rustc-link-arg=-Wl,-rpath,{dir}");
}
