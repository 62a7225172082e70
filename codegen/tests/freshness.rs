//! The committed `generated/` is exactly what `make gen` writes.

use crate::support::repo_root;

#[test]
fn committed_generated_crate_is_fresh() {
    let root = repo_root();
    let checked = dcgen::check(&root.join("spec"));
    assert!(!checked.diagnostics.has_errors(), "{}", checked.diagnostics.render(&checked.sources));
    let model = checked.model.unwrap();
    let generated = root.join("generated");
    // Regenerate over a copy, as `make gen` would over the real one.
    let copy = tempfile::tempdir().unwrap();
    copy_dir(&generated, copy.path());
    let tree = dcgen::generate(&model, copy.path(), &dcgen::GenOptions::default()).expect("generation succeeds");
    let written = tree.write(copy.path()).unwrap();
    assert!(
        written.is_empty(),
        "generated/ is stale: regenerating changed {written:?}. Run `make gen` and commit the result."
    );
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}
