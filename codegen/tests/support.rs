//! Paths and generation helpers shared by the test modules.

use std::path::{Path, PathBuf};

use dcgen::write::FileTree;

/// The repository root (tests run with the package directory as cwd).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("codegen has a parent").to_path_buf()
}

/// Every spec the generator must handle: the framework, and each fixture with a `spec/`.
pub fn all_specs() -> Vec<(String, PathBuf)> {
    let root = repo_root();
    let mut specs = vec![("framework".to_string(), root.join("spec"))];
    let fixtures = root.join("tests/fixtures");
    let mut names: Vec<String> = std::fs::read_dir(&fixtures)
        .expect("tests/fixtures exists")
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join("spec").is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    specs.extend(names.into_iter().map(|n| (n.clone(), fixtures.join(&n).join("spec"))));
    specs
}

/// The version every test migration gets, so snapshots are reproducible.
pub const TEST_VERSION: &str = "20260101000000";

/// Generate a spec into a fresh tree (no existing migrations), panicking with the
/// rendered diagnostics if the spec is invalid.
pub fn generate_fresh(spec: &Path) -> (dcgen::model::Model, FileTree) {
    let checked = dcgen::check(spec);
    if checked.diagnostics.has_errors() {
        panic!("spec {} is invalid:\n{}", spec.display(), checked.diagnostics.render(&checked.sources));
    }
    let model = checked.model.expect("valid spec has a model");
    let empty = tempfile::tempdir().expect("tempdir");
    let options = dcgen::GenOptions { version: Some(TEST_VERSION.into()), ..Default::default() };
    let tree = dcgen::generate(&model, empty.path(), &options).expect("generation succeeds");
    (model, tree)
}
