//! Each fixture's generated crate compiles on its own, in a scratch directory outside
//! the workspace, against the workspace's lock file and target directory. A fixture
//! with a `*_test.rs` beside its spec also runs that as a test of its generated crate.

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
        let tests: Vec<_> = std::fs::read_dir(spec.parent().unwrap())
            .unwrap()
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|path| path.file_name().is_some_and(|n| n.to_string_lossy().ends_with("_test.rs")))
            .collect();
        for test in &tests {
            std::fs::create_dir_all(scratch.path().join("tests")).unwrap();
            std::fs::copy(test, scratch.path().join("tests").join(test.file_name().unwrap())).unwrap();
        }
        // `--tests`: the fixture's tests, not doctests of the generated docs.
        let (command, args) = if tests.is_empty() { ("build", &["build", "--quiet", "--offline"][..]) } else { ("test", &["test", "--quiet", "--offline", "--tests"][..]) };
        let output = std::process::Command::new(env!("CARGO"))
            .args(args)
            .current_dir(scratch.path())
            .env("CARGO_TARGET_DIR", root.join("target"))
            .output()
            .expect("cargo runs");
        assert!(output.status.success(), "{name}: generated crate does not {command}:\n{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    }
}
