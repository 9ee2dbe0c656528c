// With the `mujoco` feature, binaries (tests included) find libmujoco.so at run time
// through an rpath, so no LD_LIBRARY_PATH is needed.
fn main() {
    println!("cargo::rerun-if-env-changed=MUJOCO_DYNAMIC_LINK_DIR");
    if std::env::var_os("CARGO_FEATURE_MUJOCO").is_some() {
        if let Ok(dir) = std::env::var("MUJOCO_DYNAMIC_LINK_DIR") {
            println!("cargo::rustc-link-arg=-Wl,-rpath,{dir}");
        }
    }
}
