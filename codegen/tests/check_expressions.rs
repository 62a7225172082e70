//! Check expressions, case by case: the exact PostgreSQL and T-SQL each renders; every
//! T-SQL rendering through ScriptDom (tests/tsql/check_tsql.py, one call for all); and
//! on a real PostgreSQL, each check refuses a row that breaks it and accepts one that
//! satisfies it. Expressions without a T-SQL form are `tests/errors/check_not_portable`.

use std::path::Path;
use std::process::Command;

use dcgen::emit::{expr_mssql, expr_postgres};
use pg_harness::Cluster;

use crate::support::{generate_fresh, repo_root};

/// One check: the expression as written in the spec, what each dialect renders, a row
/// it accepts and a row it refuses (column = SQL literal pairs for an INSERT).
struct Case {
    name: &'static str,
    expression: &'static str,
    postgres: &'static str,
    mssql: &'static str,
    accepted: &'static [(&'static str, &'static str)],
    refused: &'static [(&'static str, &'static str)],
}

/// The columns every case table has (the `cols` mixin below): a NOT NULL and a
/// nullable bool, numbers, strings, and columns named like SQL keywords (`interval` and
/// `order` are reserved; `name` is a keyword some dialect knows, quoted to be safe).
const COLUMNS: &str = r#"
      id:       { type: int, primary_key: true }
      flag:     { type: bool, default: false }
      maybe:    bool?
      qty:      int?
      price:    decimal(10,2)?
      name:     string(40)?
      code:     string(10)?
      kind:     string(20)?
      interval: int?
      order:    int?
"#;

const CASES: &[Case] = &[
    Case {
        name: "is_true_or",
        expression: "flag IS TRUE OR qty > 0",
        postgres: "flag IS TRUE OR qty > 0",
        mssql: "flag = 1 OR qty > 0",
        accepted: &[("flag", "true")],
        refused: &[("flag", "false"), ("qty", "0")],
    },
    Case {
        name: "is_true_nullable",
        expression: "maybe IS TRUE",
        postgres: "maybe IS TRUE",
        mssql: "COALESCE(maybe, 0) = 1",
        accepted: &[("maybe", "true")],
        refused: &[("maybe", "NULL")],
    },
    Case {
        name: "is_not_false_nullable",
        expression: "maybe IS NOT FALSE",
        postgres: "maybe IS NOT FALSE",
        mssql: "COALESCE(maybe, 1) = 1",
        accepted: &[("maybe", "NULL")],
        refused: &[("maybe", "false")],
    },
    Case {
        name: "is_false",
        expression: "flag IS FALSE",
        postgres: "flag IS FALSE",
        mssql: "flag = 0",
        accepted: &[("flag", "false")],
        refused: &[("flag", "true")],
    },
    Case {
        name: "is_not_true_nullable",
        expression: "maybe IS NOT TRUE",
        postgres: "maybe IS NOT TRUE",
        mssql: "COALESCE(maybe, 0) = 0",
        accepted: &[("maybe", "NULL")],
        refused: &[("maybe", "true")],
    },
    Case {
        name: "bool_as_condition",
        expression: "flag OR qty > 0",
        postgres: "flag OR qty > 0",
        mssql: "flag = 1 OR qty > 0",
        accepted: &[("qty", "1")],
        refused: &[("qty", "0")],
    },
    Case {
        name: "not_bool",
        expression: "NOT maybe",
        postgres: "NOT maybe",
        mssql: "NOT maybe = 1",
        accepted: &[("maybe", "false")],
        refused: &[("maybe", "true")],
    },
    Case {
        name: "bool_literal",
        expression: "flag = TRUE AND maybe <> false",
        postgres: "flag = true AND maybe <> false",
        mssql: "flag = 1 AND maybe <> 0",
        accepted: &[("flag", "true"), ("maybe", "true")],
        refused: &[("flag", "true"), ("maybe", "false")],
    },
    Case {
        name: "not_equal",
        expression: "qty != 3 AND code <> 'x'",
        postgres: "qty <> 3 AND code <> 'x'",
        mssql: "qty <> 3 AND code <> N'x'",
        accepted: &[("qty", "4"), ("code", "'y'")],
        refused: &[("qty", "3"), ("code", "'y'")],
    },
    Case {
        name: "string_with_quote",
        expression: "name <> 'it''s'",
        postgres: "\"name\" <> 'it''s'",
        mssql: "[name] <> N'it''s'",
        accepted: &[("name", "'its'")],
        refused: &[("name", "'it''s'")],
    },
    Case {
        name: "like",
        expression: "code LIKE 'A%'",
        postgres: "code LIKE 'A%'",
        mssql: "code LIKE N'A%'",
        accepted: &[("code", "'Abc'")],
        refused: &[("code", "'bcd'")],
    },
    Case {
        name: "not_like_escape",
        expression: "code NOT LIKE '%!%' ESCAPE '!'",
        postgres: "code NOT LIKE '%!%' ESCAPE '!'",
        mssql: "code NOT LIKE N'%!%' ESCAPE N'!'",
        accepted: &[("code", "'5'")],
        refused: &[("code", "'50%'")],
    },
    Case {
        name: "between",
        expression: "qty BETWEEN 1 AND 10 AND price NOT BETWEEN 5 AND 6",
        postgres: "qty BETWEEN 1 AND 10 AND price NOT BETWEEN 5 AND 6",
        mssql: "qty BETWEEN 1 AND 10 AND price NOT BETWEEN 5 AND 6",
        accepted: &[("qty", "10"), ("price", "4.99")],
        refused: &[("qty", "10"), ("price", "5.50")],
    },
    Case {
        name: "in_list",
        expression: "kind IN ('a', 'b') AND qty NOT IN (1, 2)",
        postgres: "kind IN ('a', 'b') AND qty NOT IN (1, 2)",
        mssql: "kind IN (N'a', N'b') AND qty NOT IN (1, 2)",
        accepted: &[("kind", "'b'"), ("qty", "3")],
        refused: &[("kind", "'c'"), ("qty", "3")],
    },
    Case {
        name: "nested_case",
        expression: "CASE WHEN kind = 'a' THEN CASE WHEN qty > 10 THEN 1 ELSE 0 END ELSE 1 END = 1",
        postgres: "CASE WHEN kind = 'a' THEN CASE WHEN qty > 10 THEN 1 ELSE 0 END ELSE 1 END = 1",
        mssql: "CASE WHEN kind = N'a' THEN CASE WHEN qty > 10 THEN 1 ELSE 0 END ELSE 1 END = 1",
        accepted: &[("kind", "'a'"), ("qty", "11")],
        refused: &[("kind", "'a'"), ("qty", "5")],
    },
    Case {
        name: "simple_case",
        expression: "CASE kind WHEN 'neg' THEN -qty ELSE qty END >= 0",
        postgres: "CASE kind WHEN 'neg' THEN -qty ELSE qty END >= 0",
        mssql: "CASE kind WHEN N'neg' THEN -qty ELSE qty END >= 0",
        accepted: &[("kind", "'neg'"), ("qty", "-3")],
        refused: &[("kind", "'pos'"), ("qty", "-3")],
    },
    Case {
        name: "case_as_condition",
        expression: "CASE WHEN qty > 0 THEN TRUE ELSE FALSE END",
        postgres: "CASE WHEN qty > 0 THEN true ELSE false END",
        mssql: "CASE WHEN qty > 0 THEN 1 ELSE 0 END = 1",
        accepted: &[("qty", "1")],
        refused: &[("qty", "NULL")],
    },
    Case {
        name: "coalesce",
        expression: "COALESCE(qty, 0) >= 0",
        postgres: "COALESCE(qty, 0) >= 0",
        mssql: "COALESCE(qty, 0) >= 0",
        accepted: &[("qty", "NULL")],
        refused: &[("qty", "-1")],
    },
    Case {
        name: "arithmetic",
        expression: "qty * 2 + 1 <= 21 AND qty % 2 = 0 AND -qty < 0 AND price / 2 - 1 > 0",
        postgres: "qty * 2 + 1 <= 21 AND qty % 2 = 0 AND -qty < 0 AND price / 2 - 1 > 0",
        mssql: "qty * 2 + 1 <= 21 AND qty % 2 = 0 AND -qty < 0 AND price / 2 - 1 > 0",
        accepted: &[("qty", "10"), ("price", "2.50")],
        refused: &[("qty", "11"), ("price", "2.50")],
    },
    Case {
        name: "reserved_words",
        expression: "\"interval\" > 0 AND \"order\" >= \"interval\"",
        postgres: "\"interval\" > 0 AND \"order\" >= \"interval\"",
        mssql: "[interval] > 0 AND [order] >= [interval]",
        accepted: &[("interval", "1"), ("\"order\"", "1")],
        refused: &[("interval", "2"), ("\"order\"", "1")],
    },
    Case {
        name: "null_handling",
        expression: "(qty IS NULL OR qty > 0) AND name IS NOT NULL",
        postgres: "(qty IS NULL OR qty > 0) AND \"name\" IS NOT NULL",
        mssql: "(qty IS NULL OR qty > 0) AND [name] IS NOT NULL",
        accepted: &[("name", "'n'")],
        refused: &[("qty", "1")],
    },
    Case {
        name: "parentheses_and_not",
        expression: "(qty > 0 OR price > 0) AND NOT (code = 'x')",
        postgres: "(qty > 0 OR price > 0) AND NOT (code = 'x')",
        mssql: "(qty > 0 OR price > 0) AND NOT (code = N'x')",
        accepted: &[("qty", "1"), ("code", "'y'")],
        refused: &[("qty", "1"), ("code", "'x'")],
    },
    Case {
        name: "functions",
        expression: "lower(code) = 'ab' AND upper(name) <> 'X' AND abs(qty) < 100 AND floor(price) <= ceiling(price)",
        postgres: "lower(code) = 'ab' AND upper(\"name\") <> 'X' AND abs(qty) < 100 AND floor(price) <= ceiling(price)",
        mssql: "LOWER(code) = N'ab' AND UPPER([name]) <> N'X' AND ABS(qty) < 100 AND FLOOR(price) <= CEILING(price)",
        accepted: &[("code", "'AB'"), ("name", "'y'"), ("qty", "-99"), ("price", "1.5")],
        refused: &[("code", "'AB'"), ("name", "'y'"), ("qty", "-100"), ("price", "1.5")],
    },
    Case {
        name: "nullif_and_decimal",
        expression: "NULLIF(qty, 0) IS NOT NULL AND price >= 0.50",
        postgres: "NULLIF(qty, 0) IS NOT NULL AND price >= 0.50",
        mssql: "NULLIF(qty, 0) IS NOT NULL AND price >= 0.50",
        accepted: &[("qty", "1"), ("price", "0.50")],
        refused: &[("qty", "0"), ("price", "0.50")],
    },
];

/// A spec with one table per case (`case_<name>`), each with the `cols` columns and
/// the case's check as `checks: { expr: ... }`.
fn write_spec(dir: &Path) {
    let mut yaml = format!("project: {{ name: check_cases }}\nmixins:\n  cols:\n    head:{COLUMNS}tables:\n");
    for case in CASES {
        let quoted = case.expression.replace('\\', "\\\\").replace('"', "\\\"");
        yaml += &format!("  case_{}:\n    mixin: cols\n    checks:\n      expr: \"{quoted}\"\n", case.name);
    }
    std::fs::write(dir.join("spec.yaml"), yaml).unwrap();
}

#[test]
fn each_check_renders_exactly_passes_scriptdom_and_enforces_on_postgres() {
    let spec = tempfile::tempdir().unwrap();
    write_spec(spec.path());
    let (model, tree) = generate_fresh(spec.path());

    // The exact text of each dialect.
    let mut wrong = Vec::new();
    for case in CASES {
        let table = model.table(model.table_by_name(&format!("case_{}", case.name)).expect("case table"));
        let check = table.checks.iter().find(|c| c.name.ends_with("_expr")).expect("the case's check");
        let postgres = expr_postgres::check_sql(&model, table, check).expect("a PostgreSQL check");
        let mssql = expr_mssql::check_sql(&model, table, check);
        if postgres != case.postgres || mssql != case.mssql {
            wrong.push(format!("{}: `{}`\n  postgres: {postgres}\n  mssql:    {mssql}", case.name, case.expression));
        }
    }
    assert!(wrong.is_empty(), "renderings differ from the table:\n{}", wrong.join("\n"));

    let out = tempfile::tempdir().unwrap();
    tree.write(out.path()).unwrap();
    let migration = |dialect: &str| std::fs::read_dir(out.path().join("migrations").join(dialect)).unwrap().next().unwrap().unwrap().path().join("up.sql");

    // Every T-SQL check through ScriptDom, the built-in type and function walk and
    // sqlfluff, in one call.
    let python = std::env::var_os("TSQL_PYTHON").map(std::path::PathBuf::from).unwrap_or_else(|| repo_root().join(".venv-tsql/bin/python"));
    assert!(python.exists(), "{} not found: run `make tsql-venv` (or set TSQL_PYTHON)", python.display());
    let output = Command::new(&python).arg(repo_root().join("tests/tsql/check_tsql.py")).arg(migration("mssql")).output().expect("check_tsql.py runs");
    assert!(output.status.success(), "T-SQL checks refused the rendered checks:\n{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));

    // On PostgreSQL each check refuses the row that breaks it and accepts the other.
    let cluster = Cluster::shared();
    let database = cluster.create_database("check_cases").unwrap();
    cluster.psql_file(&database, &migration("postgres")).unwrap_or_else(|e| panic!("up.sql failed: {e}"));
    let insert = |table: &str, id: i32, row: &[(&str, &str)]| {
        let columns: Vec<&str> = std::iter::once("id").chain(row.iter().map(|(c, _)| *c)).collect();
        let id = id.to_string();
        let values: Vec<&str> = std::iter::once(id.as_str()).chain(row.iter().map(|(_, v)| *v)).collect();
        cluster.psql(&database, &format!("INSERT INTO {table} ({}) VALUES ({})", columns.join(", "), values.join(", ")))
    };
    for case in CASES {
        let table = format!("case_{}", case.name);
        if let Err(e) = insert(&table, 1, case.accepted) {
            panic!("{}: `{}` refused {:?}: {e}", case.name, case.expression, case.accepted);
        }
        match insert(&table, 2, case.refused) {
            Ok(_) => panic!("{}: `{}` accepted {:?}", case.name, case.expression, case.refused),
            Err(e) => {
                let message = e.to_string();
                let constraint = format!("violates check constraint \"ck_{table}_expr\"");
                assert!(message.contains(&constraint), "{}: refused for another reason: {message}", case.name);
            }
        }
    }
}
