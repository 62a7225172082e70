//! Each fixture's generated crate compiles on its own, in a scratch directory outside
//! the workspace, against the workspace's lock file and target directory.

use crate::support::{all_specs, generate_fresh, repo_root};

#[test]
fn every_fixture_crate_compiles() {
    let root = repo_root();
    for (name, spec) in all_specs().into_iter().filter(|(name, _)| name != "framework") {
        let (_, tree) = generate_fresh(&spec);
        let scratch = tempfile::tempdir().unwrap();
        tree.write(scratch.path()).unwrap();
        // The same versions as the workspace, so nothing is downloaded or rebuilt.
        std::fs::copy(root.join("Cargo.lock"), scratch.path().join("Cargo.lock")).unwrap();
        let output = std::process::Command::new(env!("CARGO"))
            .args(["build", "--quiet", "--offline"])
            .current_dir(scratch.path())
            .env("CARGO_TARGET_DIR", root.join("target"))
            .output()
            .expect("cargo runs");
        assert!(output.status.success(), "{name}: generated crate does not compile:\n{}", String::from_utf8_lossy(&output.stderr));
    }
}
