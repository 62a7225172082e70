//! insta snapshots of every generated file of every spec (framework and fixtures).

use crate::support::{all_specs, generate_fresh};

#[test]
fn every_generated_file_matches_its_snapshot() {
    for (name, spec) in all_specs() {
        let (_, tree) = generate_fresh(&spec);
        for (path, contents) in &tree.files {
            // The snapshot kept for the one migration is the head snapshot, byte for byte.
            if path.starts_with(dcgen::history::SNAPSHOTS_DIR) {
                assert_eq!(Some(contents), tree.files.get(std::path::Path::new(dcgen::SNAPSHOT_FILE)), "{name}: {}", path.display());
                continue;
            }
            let snapshot = format!("{name}__{}", path.display()).replace(['/', '.'], "_");
            insta::with_settings!({ prepend_module_to_snapshot => false, description => format!("{name}: {}", path.display()) }, {
                insta::assert_snapshot!(snapshot, contents);
            });
        }
    }
}

#[test]
fn generation_is_deterministic() {
    for (name, spec) in all_specs() {
        let (_, first) = generate_fresh(&spec);
        let (_, second) = generate_fresh(&spec);
        assert_eq!(first, second, "{name}: two generations differ");
    }
}
