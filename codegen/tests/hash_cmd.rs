//! `dcgen hash`: the vectors of HASHING.md and Python's vector file through the command's path, and the command line itself (good and bad lines).
//!
//! Python's vectors (runtime/tests/vectors/hash_vectors.json) become a spec
//! with one table per vector whose field names are spec names; each row is
//! written as the JSON line a user would pipe in, and must hash to Python's
//! canonical text and sha. The runtime's own test checks the same vectors
//! through typed Rust values, so the command and merge agree with Python.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use dc_runtime::row::{RowReader, RowShape};
use dc_runtime::table::TableInfo;
use serde_json::{json, Map, Value};

use crate::support::repo_root;

/// Runs `dcgen hash` with `input` on stdin: (exit code, stdout, stderr).
fn dcgen_hash(spec: &Path, table: &str, canonical: bool, input: &str) -> (i32, String, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_dcgen"));
    command.args(["hash", "--spec"]).arg(spec).args(["--table", table]);
    if canonical {
        command.arg("--canonical");
    }
    let mut child = command.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("dcgen runs");
    child.stdin.take().expect("stdin").write_all(input.as_bytes()).expect("write stdin");
    let output = child.wait_with_output().expect("dcgen finishes");
    (output.status.code().unwrap_or(-1), String::from_utf8_lossy(&output.stdout).into_owned(), String::from_utf8_lossy(&output.stderr).into_owned())
}

fn write_spec(dir: &Path, yaml: &str) {
    std::fs::write(dir.join("project.yaml"), yaml).expect("write spec");
}

const HASHING_MD_SPEC: &str = r#"
project:
  name: hashing_md
  dialects: [postgres]
tables:
  people:
    columns:
      row_id: { type: bigint, identity: true, primary_key: true }
      company_id: int
      person_id: int
      name: string(64)
      surname: string(64)
  cities:
    columns:
      row_id: { type: bigint, identity: true, primary_key: true }
      name: string(64)
      city: string(64)
  events:
    columns:
      row_id: { type: bigint, identity: true, primary_key: true }
      at: datetime?
      n: int?
"#;

#[test]
fn the_two_vectors_of_hashing_md() {
    let dir = tempfile::tempdir().unwrap();
    write_spec(dir.path(), HASHING_MD_SPEC);
    let (code, out, err) = dcgen_hash(dir.path(), "people", false, "{\"company_id\": 1, \"person_id\": 1, \"name\": \"Name1\", \"surname\": \"Surname1\"}\n");
    assert_eq!((code, err.as_str()), (0, ""));
    assert_eq!(out, "7c4216b576ba2246dde241c5b654f30498f9374dae3d238ca46c5ff58eb6c7fd\n");
    let (_, out, _) = dcgen_hash(dir.path(), "people", true, "{\"company_id\": 1, \"person_id\": 1, \"name\": \"Name1\", \"surname\": \"Surname1\"}\n");
    assert_eq!(out, "{\"company_id\": 1, \"name\": \"name1\", \"person_id\": 1, \"surname\": \"surname1\"}\n");
    let row = "{\"name\": \"  Ivan  Horvat\\t\\n\", \"city\": \"ZAGREB\"}\n";
    let (code, out, _) = dcgen_hash(dir.path(), "cities", false, row);
    assert_eq!((code, out.as_str()), (0, "a0057e6ee5826b770c25a58963c18901c7ce4c5e97532b1ab5082250f630703f\n"));
    let (_, out, _) = dcgen_hash(dir.path(), "cities", true, row);
    assert_eq!(out, "{\"city\": \"zagreb\", \"name\": \"ivanhorvat\"}\n");
}

#[test]
fn bad_lines_are_named_and_the_others_still_print() {
    let spec = repo_root().join("spec");
    let input = [
        r#"{"name": "ok one"}"#,
        r#"{"name": 5}"#,
        r#"not json"#,
        r#"{"naem": "x"}"#,
        r#"{}"#,
        r#"{"name": "ok two", "archive": "2024-01-02T03:04:05"}"#,
    ]
    .join("\n");
    let (code, out, err) = dcgen_hash(&spec, "app_groups", true, &input);
    assert_eq!(code, 1);
    assert_eq!(out, "{\"name\": \"okone\"}\n{\"name\": null}\n{\"name\": \"oktwo\"}\n");
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines[0], "error: line 2: column `name`: expected a string, found a number 5");
    assert!(lines[1].starts_with("error: line 3: not JSON"), "{err}");
    assert!(lines[2].starts_with("error: line 4: column `naem`: `app_groups` has no such column; its columns are archive, date_created"), "{err}");
    assert_eq!(lines[3], "error: 3 of 6 rows could not be hashed");
    let (code, _, err) = dcgen_hash(&spec, "apps_groups", false, "");
    assert_eq!(code, 1);
    assert_eq!(err, "error: no table `apps_groups` in the spec; did you mean `app_groups`?\n");
    // Values by the column's type: a timestamp as ISO text; a bad one is named.
    let dir = tempfile::tempdir().unwrap();
    write_spec(dir.path(), HASHING_MD_SPEC);
    let rows = "{\"at\": \"2024-01-02 03:04:05.000600\", \"n\": 3}\n{\"at\": \"2024-13-02\"}\n{\"n\": 2147483648}\n";
    let (_, out, err) = dcgen_hash(dir.path(), "events", true, rows);
    assert_eq!(out, "{\"at\": \"2024-01-02 03:04:05.000600\", \"n\": 3}\n");
    let lines: Vec<&str> = err.lines().collect();
    assert!(lines[0].starts_with("error: line 2: column `at`: expected an ISO 8601 timestamp"), "{err}");
    assert_eq!(lines[1], "error: line 3: column `n`: expected an integer within the range of int, found a number 2147483648");
}

/// A vector's field as (spec type, JSON value), or `None` when the spec
/// cannot express it (NaN floats, ints beyond bigint, offsets with seconds).
fn column_of(field: &Value) -> Option<(String, Value)> {
    let value = &field["value"];
    let text = value.as_str().unwrap_or_default();
    Some(match field["type"].as_str()? {
        "null" => ("text".into(), Value::Null),
        "bool" => ("bool".into(), value.clone()),
        "int" => ("bigint".into(), json!(text.parse::<i64>().ok()?)),
        "float" => {
            let float = f64::from_bits(u64::from_str_radix(text, 16).ok()?);
            ("double".into(), Value::from(serde_json::Number::from_f64(float)?))
        }
        "f32" => {
            let float = f32::from_bits(u32::from_str_radix(text, 16).ok()?);
            ("float".into(), Value::from(serde_json::Number::from_f64(f64::from(float))?))
        }
        "text" => ("text".into(), value.clone()),
        "decimal" => ("decimal(38,10)".into(), value.clone()),
        "timestamp" => ("datetime".into(), value.clone()),
        "timestamptz" if text.len() - text.rfind(['+', '-'])? == 6 => ("datetimetz".into(), value.clone()),
        "date" => ("date".into(), value.clone()),
        "time" => ("time".into(), value.clone()),
        "uuid" => ("uuid".into(), value.clone()),
        "json" => ("json".into(), value.clone()),
        "bytes" => ("bytes".into(), json!(format!("\\x{text}"))),
        "list" => {
            let items: Vec<(String, Value)> = field["items"].as_array()?.iter().map(column_of).collect::<Option<_>>()?;
            let types: Vec<&String> = items.iter().filter(|(_, v)| !v.is_null()).map(|(t, _)| t).collect();
            let element = types.first().map_or("text".to_string(), |t| t.to_string());
            if types.iter().any(|t| **t != element) {
                return None;
            }
            (format!("array({element})"), Value::Array(items.into_iter().map(|(_, v)| v).collect()))
        }
        _ => return None,
    })
}

fn spec_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase()) && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_') && name.len() <= 63
}

#[test]
fn pythons_vectors_hash_the_same_through_the_commands_path() {
    let file = repo_root().join("runtime/tests/vectors/hash_vectors.json");
    let vectors: Value = serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
    let mut yaml = String::from("project:\n  name: vectors\n  dialects: [postgres]\ntables:\n");
    let mut cases = Vec::new();
    for vector in vectors["vectors"].as_array().unwrap() {
        let table = format!("v_{}", vector["name"].as_str().unwrap());
        let fields = vector["fields"].as_array().unwrap();
        let columns: Option<Vec<(String, String, Value)>> = fields
            .iter()
            .map(|f| {
                let name = f["name"].as_str()?.to_string();
                let (ty, value) = column_of(f)?;
                (spec_name(&name) && name != "row_id").then_some((name, ty, value))
            })
            .collect();
        let Some(columns) = columns.filter(|_| spec_name(&table)) else { continue };
        yaml.push_str(&format!("  {table}:\n    columns:\n      row_id: {{ type: bigint, identity: true, primary_key: true }}\n"));
        let mut row = Map::new();
        for (name, ty, value) in columns {
            yaml.push_str(&format!("      {name}: \"{ty}?\"\n"));
            row.insert(name, value);
        }
        cases.push((table, row, vector["canonical"].as_str().unwrap().to_string(), vector["sha3_256"].as_str().unwrap().to_string()));
    }
    assert!(cases.len() >= 30, "only {} of the vectors fit a spec; the conversion lost too many", cases.len());
    let dir = tempfile::tempdir().unwrap();
    write_spec(dir.path(), &yaml);
    let checked = dcgen::check(dir.path());
    assert!(!checked.diagnostics.has_errors(), "{}", checked.diagnostics.render(&checked.sources));
    let model = checked.model.unwrap();
    for (table, row, canonical, sha) in &cases {
        let table_model = model.tables.iter().find(|t| &t.name == table).unwrap();
        let info = TableInfo::parse(&dcgen::emit::rust::table_info_json(&model, table_model)).unwrap();
        let shape = RowShape::new(info).unwrap();
        let mut reader = RowReader::for_hashing(&shape);
        assert_eq!(reader.json_canonical(row).unwrap(), canonical, "{table}");
        assert_eq!(&reader.json_sha_hex(row).unwrap(), sha, "{table}");
    }
    // And once through the binary, for one table of every kind of value.
    let (table, row, _, sha) = cases.iter().find(|(t, ..)| t == "v_random_00").unwrap();
    let (code, out, err) = dcgen_hash(dir.path(), table, false, &format!("{}\n", Value::Object(row.clone())));
    assert_eq!((code, err.as_str(), out.trim()), (0, "", sha.as_str()));
}
