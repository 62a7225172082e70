//! One folder per bad-input case under `tests/errors/<case>/`: a `spec/` directory and
//! `expected.txt`, the exact rendered diagnostics. A worse message fails the test;
//! `DCGEN_BLESS=1 cargo test` rewrites the expectations after a deliberate change.

use std::path::Path;

#[test]
fn every_bad_input_case_renders_its_expected_message() {
    let cases_dir = Path::new("../tests/errors");
    let mut cases: Vec<_> = std::fs::read_dir(cases_dir).expect("tests/errors exists").filter_map(|e| e.ok()).map(|e| e.path()).collect();
    cases.sort();
    assert!(!cases.is_empty(), "no bad-input cases found");
    let bless = std::env::var_os("DCGEN_BLESS").is_some();
    let mut failures = Vec::new();
    for case in &cases {
        let spec = case.join("spec");
        let checked = dcgen::check(&spec);
        let rendered = checked.diagnostics.render(&checked.sources);
        assert!(checked.diagnostics.has_errors(), "{}: the spec was accepted but must be rejected", case.display());
        let expected_path = case.join("expected.txt");
        if bless {
            std::fs::write(&expected_path, &rendered).unwrap();
            continue;
        }
        let expected = std::fs::read_to_string(&expected_path).unwrap_or_default();
        if expected != rendered {
            failures.push(format!("=== {}\n--- expected\n{expected}\n--- actual\n{rendered}", case.display()));
        }
    }
    assert!(failures.is_empty(), "{} case(s) differ (DCGEN_BLESS=1 to accept):\n{}", failures.len(), failures.join("\n"));
}

/// The `dcgen` binary itself: exit code 1 and the message on stderr, never a panic.
#[test]
fn dcgen_check_exits_1_with_diagnostics_on_bad_input() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_dcgen"))
        .args(["check", "--spec", "../tests/errors/unknown_key/spec"])
        .output()
        .expect("dcgen runs");
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("unknown key `nulable`"), "{stderr}");
    assert!(stderr.contains("did you mean `nullable`?"), "{stderr}");
    assert!(stderr.contains("../tests/errors/unknown_key/spec/tables.yaml:"), "errors name the real file: {stderr}");
}

#[test]
fn dcgen_check_exits_0_on_the_framework_spec() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_dcgen")).args(["check", "--spec", "../spec"]).output().expect("dcgen runs");
    assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stderr));
}
