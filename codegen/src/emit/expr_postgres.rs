//! PostgreSQL's words for check expressions, and the body of each kind of check.

use super::expr::{self, ExprWords};
use super::postgres::{quote, string_literal};
use crate::model::{Check, CheckKind, ColumnId, EnumLiteral, Function, Model, Table};

/// The body of `CHECK (...)` on PostgreSQL; `None` for a check that exists only on SQL
/// Server (ISJSON).
pub fn check_sql(model: &Model, table: &Table, check: &Check) -> Option<String> {
    check_sql_named(model, table, check, &|c| table.column(c).name.clone())
}

/// [`check_sql`] with each column under the name `name` gives it (its name at the moment
/// a migration statement runs).
pub fn check_sql_named(model: &Model, table: &Table, check: &Check, name: &dyn Fn(ColumnId) -> String) -> Option<String> {
    match &check.kind {
        CheckKind::Expr(e) => Some(expr::predicate(e, table, name, &PostgresWords)),
        CheckKind::Raw(sql) => Some(sql.postgres.clone()),
        CheckKind::EnumValues { column, enum_id } => {
            let values: Vec<String> = model.enum_(*enum_id).values.iter().map(|v| enum_literal(&v.value)).collect();
            Some(format!("{} IN ({})", quote(&name(*column)), values.join(", ")))
        }
        CheckKind::IsJson { .. } => None,
    }
}

fn enum_literal(value: &EnumLiteral) -> String {
    match value {
        EnumLiteral::Int(i) => i.to_string(),
        EnumLiteral::Str(s) => string_literal(s),
    }
}

pub struct PostgresWords;

impl ExprWords for PostgresWords {
    fn column(&self, name: &str) -> String {
        if expr::needs_quotes(name) {
            quote(name)
        } else {
            name.to_string()
        }
    }

    fn string(&self, text: &str) -> String {
        string_literal(text)
    }

    fn bool_value(&self, value: bool) -> String {
        value.to_string()
    }

    fn function(&self, function: Function) -> &'static str {
        match function {
            Function::Abs => "abs",
            Function::Ceiling => "ceiling",
            Function::Coalesce => "COALESCE",
            Function::Floor => "floor",
            Function::Lower => "lower",
            Function::NullIf => "NULLIF",
            Function::Upper => "upper",
        }
    }

    fn value_as_predicate(&self, value: String) -> String {
        value
    }

    fn is_bool(&self, column: String, _nullable: bool, value: bool, negated: bool) -> String {
        format!("{column} IS {}{}", if negated { "NOT " } else { "" }, if value { "TRUE" } else { "FALSE" })
    }
}
