//! A precompiled artifact loads into the runtime-only engine: the example `load_precompiled` is built
//! WITHOUT feature `compile` (no Cranelift, like the functions) and must load what `precompile` (with
//! Cranelift, like the operator CLI) produced, and get an answer from the plugin.

mod common;

use common::*;
use std::process::Command;

#[test]
fn a_precompiled_plugin_loads_into_the_runtime_only_engine() {
    let art = hostile("well-behaved");
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("plugin.cwasm");
    std::fs::write(&path, &art).expect("write artifact");

    // A separate cargo invocation without `--features compile`: feature unification cannot add Cranelift.
    let out = Command::new(env!("CARGO"))
        .args(["run", "--quiet", "-p", "rentops-plugin-host", "--example", "load_precompiled", "--"])
        .arg(&path)
        .env("CARGO_TARGET_DIR", target_dir())
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "runtime-only load failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("plugin: hostile test plugin 0.0.1-hostile contract 1.0.0"), "{stdout}");
    assert!(stdout.contains("decision: stage=none source=plugin 0.0.1-hostile"), "{stdout}");

    // And that binary really has no compiler linked in (a build with `compile` has thousands of
    // cranelift_codegen symbols).
    let example = std::fs::read(target_dir().join("debug/examples/load_precompiled")).expect("example binary");
    let needle = b"cranelift_codegen";
    assert!(!example.windows(needle.len()).any(|w| w == needle), "the runtime-only example links Cranelift");
}
