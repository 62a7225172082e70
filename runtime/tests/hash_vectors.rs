//! Row hashing checked against vectors Python computed (tests/vectors/hash_vectors.json, made by make_vectors.py).
//!
//! Each vector lists its fields as {name, type, value}; the test rebuilds the
//! typed Rust values, hashes them through the public API (the sorted
//! `RowHasher` path generated code uses, and the unsorted `canonical_text`
//! path) and compares canonical text and sha with Python's. The file's
//! tables pin the pieces on their own: the `\s` set, `str.lower()` of every
//! code point, `repr(float)` of doubles and of float4 values as read back,
//! and `str(Decimal)`.

use std::str::FromStr;

use bigdecimal::BigDecimal;
use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime};
use dc_runtime::hash::{
    canonical_text, is_python_whitespace, sha_hex, HashValue, RowHash, RowHasher, ToHashValue,
    ValueWriter, PYTHON_WHITESPACE,
};
use serde_json::Value;
use uuid::Uuid;

fn vector_file() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/vectors/hash_vectors.json"
    );
    let text = std::fs::read_to_string(path).expect("read hash_vectors.json (run make_vectors.py)");
    serde_json::from_str(&text).expect("hash_vectors.json is JSON")
}

fn text_of(value: &Value) -> &str {
    value
        .as_str()
        .unwrap_or_else(|| panic!("expected a string, got {value}"))
}

fn array_of<'v>(value: &'v Value, key: &str) -> &'v Vec<Value> {
    value[key]
        .as_array()
        .unwrap_or_else(|| panic!("{key} is not an array"))
}

/// Which Rust type a numeric column arrives as.
#[derive(Clone, Copy, Debug)]
enum DecimalAs {
    BigDecimal,
    Text,
}

/// A typed value rebuilt from its description, owning its data.
#[derive(Debug)]
enum Owned {
    Null,
    Bool(bool),
    Int(i64),
    UInt(u64),
    Float(f64),
    Real(f32),
    Text(String),
    Decimal(BigDecimal, String, DecimalAs),
    Timestamp(NaiveDateTime),
    TimestampTz(DateTime<FixedOffset>),
    Date(NaiveDate),
    Time(NaiveTime),
    Uuid(Uuid),
    Json(Value),
    Bytes(Vec<u8>),
    List(Vec<Owned>),
}

fn rebuild(field: &Value, decimals: DecimalAs) -> Owned {
    let kind = text_of(&field["type"]);
    let value = &field["value"];
    match kind {
        "null" => Owned::Null,
        "bool" => Owned::Bool(value.as_bool().expect("bool")),
        "int" => rebuild_int(text_of(value)),
        "float" => Owned::Float(f64::from_bits(
            u64::from_str_radix(text_of(value), 16).expect("f64 bits"),
        )),
        "f32" => Owned::Real(f32::from_bits(
            u32::from_str_radix(text_of(value), 16).expect("f32 bits"),
        )),
        "text" => Owned::Text(text_of(value).to_owned()),
        "decimal" => {
            let text = text_of(value);
            Owned::Decimal(
                BigDecimal::from_str(text).expect("decimal"),
                text.to_owned(),
                decimals,
            )
        }
        "timestamp" => Owned::Timestamp(
            NaiveDateTime::parse_from_str(text_of(value), "%Y-%m-%dT%H:%M:%S%.f")
                .expect("timestamp"),
        ),
        "timestamptz" => Owned::TimestampTz(parse_aware(text_of(value))),
        "date" => Owned::Date(NaiveDate::from_str(text_of(value)).expect("date")),
        "time" => Owned::Time(NaiveTime::from_str(text_of(value)).expect("time")),
        "uuid" => Owned::Uuid(Uuid::from_str(text_of(value)).expect("uuid")),
        "json" => Owned::Json(value.clone()),
        "bytes" => Owned::Bytes(hex::decode(text_of(value)).expect("hex")),
        "list" => Owned::List(
            array_of(field, "items")
                .iter()
                .map(|item| rebuild(item, decimals))
                .collect(),
        ),
        other => panic!("unknown vector type {other}"),
    }
}

fn rebuild_int(text: &str) -> Owned {
    match text.parse::<i64>() {
        Ok(int) => Owned::Int(int),
        Err(_) => Owned::UInt(text.parse::<u64>().expect("integer within u64")),
    }
}

/// Python's isoformat of an aware datetime; its offset may carry seconds,
/// which RFC 3339 parsers refuse.
fn parse_aware(text: &str) -> DateTime<FixedOffset> {
    let (local, offset) = text.split_at(text.len() - offset_len(text));
    let sign = if offset.starts_with('-') { -1 } else { 1 };
    let parts: Vec<i32> = offset[1..]
        .split(':')
        .map(|part| part.parse().expect("offset part"))
        .collect();
    let seconds = parts[0] * 3600 + parts[1] * 60 + parts.get(2).copied().unwrap_or(0);
    let zone = FixedOffset::east_opt(sign * seconds).expect("offset in range");
    let naive =
        NaiveDateTime::parse_from_str(local, "%Y-%m-%dT%H:%M:%S%.f").expect("aware local part");
    naive
        .and_local_timezone(zone)
        .single()
        .expect("fixed offsets are unambiguous")
}

fn offset_len(text: &str) -> usize {
    let from = text
        .rfind(['+', '-'])
        .expect("aware datetime has an offset");
    text.len() - from
}

impl Owned {
    /// The value as a `HashValue`, except a list (which needs its items
    /// built first; see `fields_as_hash_values`).
    fn scalar(&self) -> HashValue<'_> {
        match self {
            Owned::Null | Owned::List(_) => HashValue::Null,
            Owned::Bool(flag) => HashValue::Bool(*flag),
            Owned::Int(int) => HashValue::Int(*int),
            Owned::UInt(int) => HashValue::UInt(*int),
            Owned::Float(float) => HashValue::Float(*float),
            Owned::Real(real) => HashValue::Real(*real),
            Owned::Text(text) => HashValue::Text(text),
            Owned::Decimal(decimal, _, DecimalAs::BigDecimal) => HashValue::Decimal(decimal),
            Owned::Decimal(_, text, DecimalAs::Text) => HashValue::DecimalText(text),
            Owned::Timestamp(stamp) => HashValue::Timestamp(*stamp),
            Owned::TimestampTz(stamp) => HashValue::TimestampTz(*stamp),
            Owned::Date(date) => HashValue::Date(*date),
            Owned::Time(time) => HashValue::Time(*time),
            Owned::Uuid(uuid) => HashValue::Uuid(*uuid),
            Owned::Json(json) => HashValue::Json(json),
            Owned::Bytes(bytes) => HashValue::Bytes(bytes),
        }
    }
}

/// Hashes through the concrete Rust types' own `ToHashValue` impls, as
/// generated code does (`Option`, `String`, `f32`, `Vec<Option<T>>`...).
impl ToHashValue for Owned {
    fn write_hash(&self, writer: &mut ValueWriter<'_>) {
        match self {
            Owned::Null => None::<i32>.write_hash(writer),
            Owned::Bool(flag) => flag.write_hash(writer),
            Owned::Int(int) => int.write_hash(writer),
            Owned::UInt(int) => int.write_hash(writer),
            Owned::Float(float) => float.write_hash(writer),
            Owned::Real(real) => real.write_hash(writer),
            Owned::Text(text) => text.write_hash(writer),
            Owned::Decimal(decimal, _, DecimalAs::BigDecimal) => decimal.write_hash(writer),
            Owned::Decimal(_, text, DecimalAs::Text) => writer.value(&HashValue::DecimalText(text)),
            Owned::Timestamp(stamp) => stamp.write_hash(writer),
            Owned::TimestampTz(stamp) => stamp.write_hash(writer),
            Owned::Date(date) => date.write_hash(writer),
            Owned::Time(time) => time.write_hash(writer),
            Owned::Uuid(uuid) => uuid.write_hash(writer),
            Owned::Json(json) => json.write_hash(writer),
            Owned::Bytes(bytes) => bytes.write_hash(writer),
            Owned::List(items) => writer.list(items),
        }
    }
}

/// One vector's row, rebuilt.
struct Row {
    name: String,
    fields: Vec<(String, Owned)>,
    canonical: String,
    sha: String,
}

impl RowHash for Row {
    fn hash_fields(&self, hasher: &mut RowHasher) {
        let mut sorted: Vec<&(String, Owned)> = self.fields.iter().collect();
        sorted.sort_by(|a, b| a.0.cmp(&b.0));
        for (name, value) in sorted {
            hasher.field(name, value);
        }
    }
}

fn rows(decimals: DecimalAs) -> Vec<Row> {
    let file = vector_file();
    array_of(&file, "vectors")
        .iter()
        .map(|vector| Row {
            name: text_of(&vector["name"]).to_owned(),
            fields: array_of(vector, "fields")
                .iter()
                .map(|field| (text_of(&field["name"]).to_owned(), rebuild(field, decimals)))
                .collect(),
            canonical: text_of(&vector["canonical"]).to_owned(),
            sha: text_of(&vector["sha3_256"]).to_owned(),
        })
        .collect()
}

#[test]
fn vectors_through_row_hasher() {
    for decimals in [DecimalAs::BigDecimal, DecimalAs::Text] {
        let mut hasher = RowHasher::new();
        let rows = rows(decimals);
        assert!(
            rows.len() > 30,
            "vector file has only {} vectors",
            rows.len()
        );
        for row in &rows {
            assert_eq!(
                row.row_canonical(&mut hasher),
                row.canonical,
                "vector {} ({decimals:?})",
                row.name
            );
            assert_eq!(
                row.row_sha(&mut hasher),
                row.sha,
                "vector {} ({decimals:?})",
                row.name
            );
        }
    }
}

#[test]
fn vectors_through_canonical_text() {
    for decimals in [DecimalAs::BigDecimal, DecimalAs::Text] {
        for row in rows(decimals) {
            let lists: Vec<Vec<HashValue<'_>>> = row
                .fields
                .iter()
                .map(|(_, value)| match value {
                    Owned::List(items) => items.iter().map(Owned::scalar).collect(),
                    _ => Vec::new(),
                })
                .collect();
            let fields: Vec<(&str, HashValue<'_>)> = row
                .fields
                .iter()
                .zip(&lists)
                .map(|((name, value), items)| match value {
                    Owned::List(_) => (name.as_str(), HashValue::List(items)),
                    _ => (name.as_str(), value.scalar()),
                })
                .collect();
            assert_eq!(
                canonical_text(&fields),
                row.canonical,
                "vector {} ({decimals:?})",
                row.name
            );
            assert_eq!(
                sha_hex(&fields),
                row.sha,
                "vector {} ({decimals:?})",
                row.name
            );
        }
    }
}

#[test]
fn hashing_md_vectors_as_documented() {
    let rows = rows(DecimalAs::BigDecimal);
    let documented = [
        (
            "hashing_md_1",
            "7c4216b576ba2246dde241c5b654f30498f9374dae3d238ca46c5ff58eb6c7fd",
        ),
        (
            "hashing_md_2",
            "a0057e6ee5826b770c25a58963c18901c7ce4c5e97532b1ab5082250f630703f",
        ),
    ];
    let mut hasher = RowHasher::new();
    for (name, sha) in documented {
        let row = rows
            .iter()
            .find(|row| row.name == name)
            .unwrap_or_else(|| panic!("vector {name} missing"));
        assert_eq!(row.sha, sha, "the vector file disagrees with HASHING.md");
        assert_eq!(row.row_sha(&mut hasher), sha);
    }
}

/// A hand-written row as dcgen would generate it: fields in sorted order,
/// real Rust column types.
struct Person {
    company_id: i64,
    person_id: i32,
    name: String,
    surname: Option<String>,
    tags: Vec<Option<String>>,
}

impl RowHash for Person {
    fn hash_fields(&self, hasher: &mut RowHasher) {
        hasher.field("company_id", &self.company_id);
        hasher.field("name", &self.name);
        hasher.field("person_id", &self.person_id);
        hasher.field("surname", &self.surname);
        hasher.field("tags", &self.tags);
    }
}

#[test]
fn generated_style_row() {
    let person = Person {
        company_id: 1,
        person_id: 1,
        name: "Name1".to_owned(),
        surname: None,
        tags: vec![Some("A b".to_owned()), None],
    };
    let mut hasher = RowHasher::new();
    assert_eq!(
        person.row_canonical(&mut hasher),
        r#"{"company_id": 1, "name": "name1", "person_id": 1, "surname": null, "tags": ["A b", null]}"#
    );
    assert_eq!(person.row_sha(&mut hasher).len(), 64);
}

#[test]
fn whitespace_set_matches_python() {
    let file = vector_file();
    let python: Vec<char> = array_of(&file, "whitespace")
        .iter()
        .map(|code| char::from_u32(code.as_u64().expect("code point") as u32).expect("valid char"))
        .collect();
    assert_eq!(python, PYTHON_WHITESPACE.to_vec());
    for code in 0..=0x10ffff_u32 {
        if let Some(c) = char::from_u32(code) {
            assert_eq!(is_python_whitespace(c), python.contains(&c), "U+{code:04X}");
        }
    }
}

/// `str.lower()` then `\s` stripping of every single code point, through a
/// text column, against Python's table. Code points Python's Unicode
/// database doesn't assign yet are skipped: Rust's newer tables may lower
/// them (as a newer Python does).
#[test]
fn lowercase_matches_python_for_every_assigned_char() {
    let file = vector_file();
    let table = &file["lowercase"];
    let mappings: std::collections::HashMap<u32, &str> = array_of(table, "mappings")
        .iter()
        .map(|pair| (pair[0].as_u64().expect("code") as u32, text_of(&pair[1])))
        .collect();
    let unassigned: Vec<(u32, u32)> = array_of(table, "unassigned_ranges")
        .iter()
        .map(|range| {
            (
                range[0].as_u64().expect("start") as u32,
                range[1].as_u64().expect("end") as u32,
            )
        })
        .collect();
    let mut hasher = RowHasher::new();
    let mut checked = 0;
    for code in 0x80..=0x10ffff_u32 {
        let Some(c) = char::from_u32(code) else {
            continue;
        };
        let after = unassigned.partition_point(|(start, _)| *start <= code);
        if after > 0 && code <= unassigned[after - 1].1 {
            continue;
        }
        let original = c.to_string();
        let lowered = mappings.get(&code).copied().unwrap_or(&original);
        let expected: String = lowered
            .chars()
            .filter(|c| !PYTHON_WHITESPACE.contains(c))
            .collect();
        hasher.field("t", &HashValue::Text(&original));
        assert_eq!(
            hasher.canonical(),
            format!("{{\"t\": \"{expected}\"}}"),
            "U+{code:04X}"
        );
        checked += 1;
    }
    assert!(checked > 140_000, "only {checked} code points checked");
}

#[test]
fn floats_match_python_repr() {
    let file = vector_file();
    let floats = array_of(&file, "floats");
    assert!(floats.len() > 4000);
    let mut hasher = RowHasher::new();
    for pair in floats {
        let bits = u64::from_str_radix(text_of(&pair[0]), 16).expect("bits");
        let value = f64::from_bits(bits);
        hasher.field("x", &value);
        assert_eq!(
            hasher.canonical(),
            format!("{{\"x\": {}}}", text_of(&pair[1])),
            "bits {bits:016x}"
        );
    }
}

/// A `real` column hashes as the float psycopg2 reads back from
/// PostgreSQL's float4 text.
#[test]
fn reals_match_python_reading_float4() {
    let file = vector_file();
    let reals = array_of(&file, "reals");
    assert!(reals.len() > 2000);
    let mut hasher = RowHasher::new();
    for pair in reals {
        let bits = u32::from_str_radix(text_of(&pair[0]), 16).expect("bits");
        hasher.field("x", &f32::from_bits(bits));
        assert_eq!(
            hasher.canonical(),
            format!("{{\"x\": {}}}", text_of(&pair[1])),
            "bits {bits:08x}"
        );
    }
}

#[test]
fn decimals_match_python_str() {
    let file = vector_file();
    let mut hasher = RowHasher::new();
    for pair in array_of(&file, "decimals") {
        let (text, python) = (text_of(&pair[0]), text_of(&pair[1]));
        let expected = format!("{{\"d\": \"{python}\"}}");
        hasher.field("d", &HashValue::DecimalText(text));
        assert_eq!(hasher.canonical(), expected, "Decimal({text:?}) as text");
        // BigDecimal has no NaN, infinity or negative zero; everything else
        // must keep Python's digits and exponent.
        let coefficient = python.split('E').next().unwrap_or_default();
        let negative_zero =
            python.starts_with('-') && !coefficient.bytes().any(|b| (b'1'..=b'9').contains(&b));
        if let (Ok(decimal), false) = (BigDecimal::from_str(text), negative_zero) {
            hasher.field("d", &decimal);
            assert_eq!(
                hasher.canonical(),
                expected,
                "Decimal({text:?}) as BigDecimal"
            );
        }
    }
}

/// A `function_log` insert row with only `start_time` set.
fn function_log_at(start_time: NaiveDateTime) -> dc_schema::models::NewFunctionLog {
    dc_schema::models::NewFunctionLog {
        function_hash: None,
        function_no: None,
        main_app: None,
        app_id: None,
        thread_id: None,
        task_size: None,
        solved: None,
        failed: None,
        start_time: Some(start_time),
        end_time: None,
        totals: None,
        totalm: None,
        totalh: None,
        runtime: None,
    }
}

#[test]
fn generated_rows_write_timestamps_as_chrono_and_hash_them_as_python() {
    use dc_runtime::row::{RowReader, RowShape};
    use dc_runtime::table::TableInfo;
    let info = TableInfo::parse(dc_schema::models::NewFunctionLog::TABLE_INFO).expect("function_log facts");
    let shape = RowShape::new(info).expect("shape");
    let mut reader = RowReader::for_hashing(&shape);
    // The generated structs format timestamps themselves: the text must be
    // chrono's own, whatever the fraction, year or leap second.
    let day = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).expect("a date");
    let stamps = [
        day(2024, 1, 2).and_hms_opt(3, 4, 5),
        day(2024, 1, 2).and_hms_milli_opt(3, 4, 5, 120),
        day(2024, 1, 2).and_hms_micro_opt(23, 59, 59, 7),
        day(2024, 1, 2).and_hms_nano_opt(0, 0, 0, 1),
        day(2024, 1, 2).and_hms_nano_opt(0, 0, 0, 999_999_999),
        day(2016, 12, 31).and_hms_nano_opt(23, 59, 59, 1_500_000_000),
        day(0, 1, 1).and_hms_opt(0, 0, 0),
        day(9999, 12, 31).and_hms_micro_opt(23, 59, 59, 999_999),
        day(-1, 6, 7).and_hms_opt(8, 9, 10),
        day(10000, 1, 1).and_hms_opt(0, 0, 0),
    ];
    for stamp in stamps.into_iter().map(|s| s.expect("a timestamp")) {
        let row = serde_json::to_value(function_log_at(stamp)).expect("row as JSON");
        assert_eq!(row["start_time"], serde_json::to_value(stamp).expect("chrono's text"), "{stamp:?}");
    }
    // And the row path hashes them as Python's str(datetime), per the vectors.
    let file = vector_file();
    let vector = array_of(&file, "vectors").iter().find(|v| v["name"] == "timestamps").expect("timestamps vector");
    let python: Value = serde_json::from_str(text_of(&vector["canonical"])).expect("canonical is JSON");
    for field in array_of(vector, "fields") {
        let stamp = NaiveDateTime::parse_from_str(text_of(&field["value"]), "%Y-%m-%dT%H:%M:%S%.f").expect("timestamp");
        let canonical: Value = serde_json::from_str(reader.canonical_of(&function_log_at(stamp)).expect("hashes")).expect("JSON");
        assert_eq!(canonical["start_time"], python[text_of(&field["name"])], "{stamp:?}");
    }
}

/// A streamed generated row hashes its integer, text and timestamp columns
/// straight from what serde hands over; the same row as a JSON map takes
/// the long way (every value captured as its column's type, then hashed).
/// Both must write the same canonical text, for NULLs (with and without a
/// literal default), every timestamp fraction and text that needs
/// lowering, stripping and escaping.
#[test]
fn direct_hashing_of_generated_rows_writes_what_the_long_way_writes() {
    use dc_runtime::row::{RowReader, RowShape};
    use dc_runtime::table::TableInfo;
    let info = TableInfo::parse(dc_schema::models::NewFunctionLog::TABLE_INFO).expect("function_log facts");
    let shape = RowShape::new(info).expect("shape");
    let mut reader = RowReader::for_hashing(&shape);
    const TEXTS: [&str; 8] = ["app_1", "  Ivan  HORVAT\t\n", "Say \"hi\"\\\u{1}", "ΟΔΟΣ ΑΣ", "İ\u{3000}x\u{1c}", "", "Đurđa Šimić", "a\u{feff}b"];
    let base = NaiveDate::from_ymd_opt(2024, 2, 29).and_then(|d| d.and_hms_opt(23, 59, 59)).expect("a timestamp");
    let mut seed = 11_u64;
    for n in 0..2_000_u64 {
        // Per field, a value and whether it is NULL (one time in four).
        let mut draw = [(0_u64, false); 14];
        for slot in &mut draw {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            *slot = ((seed >> 24) + n, (seed >> 60) % 4 == 0);
        }
        let maybe = |field: usize| (!draw[field].1).then_some(draw[field].0);
        let text = |field: usize| maybe(field).map(|p| TEXTS[p as usize % TEXTS.len()].to_owned());
        let stamp = |field: usize| {
            // 0, 3, 6 and 9 fraction digits as chrono writes them, and years far apart.
            maybe(field).map(|p| base + chrono::Duration::nanoseconds([0, 120_000_000, 7_000, 1, 999_999_999][p as usize % 5]) - chrono::Duration::days((p % 700_000) as i64))
        };
        let row = dc_schema::models::NewFunctionLog {
            function_hash: text(0),
            function_no: maybe(1).map(|v| v as i32),
            main_app: text(2),
            app_id: text(3),
            thread_id: maybe(4).map(|v| -(v as i32)),
            task_size: maybe(5).map(|v| (v as i64) << 20),
            solved: maybe(6).map(|v| v as i32),
            failed: maybe(7).map(|v| v as i32 % 3),
            start_time: stamp(8),
            end_time: stamp(9),
            totals: maybe(10).map(|v| v as i32),
            totalm: maybe(11).map(|_| i32::MIN),
            totalh: maybe(12).map(|_| i32::MAX),
            runtime: text(13),
        };
        let as_map = serde_json::to_value(&row).expect("row as JSON");
        let streamed = reader.canonical_of(&row).expect("hashes").to_owned();
        assert_eq!(streamed, reader.canonical_of(&as_map).expect("hashes"), "{row:?}");
        assert_eq!(reader.sha_hex(&row).expect("hashes"), reader.sha_hex(&as_map).expect("hashes"));
    }
    // A NULL with a literal default hashes as the default, as merge writes it.
    let canonical = reader.canonical_of(&function_log_at(base)).expect("hashes").to_owned();
    assert!(canonical.contains(r#""failed": 0"#) && canonical.contains(r#""app_id": null"#), "{canonical}");
}
