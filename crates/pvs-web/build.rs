//! Builds the web client in `web/` (npm packages from the registry, bundled by esbuild) into
//! `OUT_DIR/web`, which `src/lib.rs` embeds. Needs Node.js 18 or later with npm
//! (`scripts/setup.sh` installs them when missing); `npm ci` runs only when the lock file is
//! newer than the installed packages.

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let web = manifest.join("../../web");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("set by cargo")).join("web");
    for input in ["src", "build.mjs", "package.json", "package-lock.json"] {
        println!("cargo::rerun-if-changed={}", web.join(input).display());
    }

    let installed = web.join("node_modules/.package-lock.json");
    if is_older(&installed, &web.join("package-lock.json")) {
        run(
            Command::new("npm")
                .args([
                    "ci",
                    "--ignore-scripts",
                    "--no-audit",
                    "--no-fund",
                    "--loglevel=error",
                ])
                .current_dir(&web),
            "npm ci",
        );
    }
    run(
        Command::new("node")
            .arg("build.mjs")
            .arg(&out)
            .current_dir(&web),
        "node build.mjs",
    );
}

/// Whether `path` is missing or older than `than`.
fn is_older(path: &Path, than: &Path) -> bool {
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    match (modified(path), modified(than)) {
        (Some(a), Some(b)) => a < b,
        _ => true,
    }
}

fn run(command: &mut Command, what: &str) {
    match command.status() {
        Ok(status) if status.success() => {}
        Ok(status) => panic!("building the web client: `{what}` in web/ failed ({status})"),
        Err(e) => panic!(
            "building the web client: cannot run `{what}` ({e}); pvs needs Node.js 18 or later \
             with npm to build its web client (scripts/setup.sh installs them)"
        ),
    }
}
