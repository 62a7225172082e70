//! SQL Server's words for check expressions, and the body of each kind of check.
//!
//! T-SQL has no boolean type: `bit` values are compared with `1`/`0`, a `bit` standing
//! where a truth value is wanted becomes `= 1`, and `IS TRUE` (never NULL) becomes a
//! comparison that cannot be NULL either.

use super::expr::{self, ExprWords};
use super::mssql::{quote, string_literal};
use crate::model::{Check, CheckKind, ColumnId, EnumLiteral, Function, Model, Table};

/// The body of `CHECK (...)` on SQL Server.
pub fn check_sql(model: &Model, table: &Table, check: &Check) -> String {
    check_sql_named(model, table, check, &|c| table.column(c).name.clone())
}

/// [`check_sql`] with each column under the name `name` gives it (its name at the moment
/// a migration statement runs).
pub fn check_sql_named(model: &Model, table: &Table, check: &Check, name: &dyn Fn(ColumnId) -> String) -> String {
    match &check.kind {
        CheckKind::Expr(e) => expr::predicate(e, table, name, &MssqlWords),
        CheckKind::Raw(sql) => sql.mssql.clone(),
        CheckKind::EnumValues { column, enum_id } => {
            let values: Vec<String> = model.enum_(*enum_id).values.iter().map(|v| enum_literal(&v.value)).collect();
            format!("{} IN ({})", quote(&name(*column)), values.join(", "))
        }
        CheckKind::IsJson { column } => format!("ISJSON({}) = 1", quote(&name(*column))),
    }
}

fn enum_literal(value: &EnumLiteral) -> String {
    match value {
        EnumLiteral::Int(i) => i.to_string(),
        EnumLiteral::Str(s) => string_literal(s),
    }
}

/// T-SQL reserved keywords that sqlparser's keyword list lacks (SQL Server 2019's list).
const RESERVED: &[&str] = &[];

pub struct MssqlWords;

impl ExprWords for MssqlWords {
    fn column(&self, name: &str) -> String {
        if expr::needs_quotes(name) || RESERVED.contains(&name.to_ascii_uppercase().as_str()) {
            quote(name)
        } else {
            name.to_string()
        }
    }

    fn string(&self, text: &str) -> String {
        string_literal(text)
    }

    fn bool_value(&self, value: bool) -> String {
        if value { "1" } else { "0" }.to_string()
    }

    fn function(&self, function: Function) -> &'static str {
        match function {
            Function::Abs => "ABS",
            Function::Ceiling => "CEILING",
            Function::Coalesce => "COALESCE",
            Function::Floor => "FLOOR",
            Function::Lower => "LOWER",
            Function::NullIf => "NULLIF",
            Function::Upper => "UPPER",
        }
    }

    fn value_as_predicate(&self, value: String) -> String {
        format!("{value} = 1")
    }

    /// `x IS TRUE` is true only for 1 and false for 0 and NULL; a NOT NULL column is
    /// simply compared, a nullable one through COALESCE so NULL counts as the other value.
    fn is_bool(&self, column: String, nullable: bool, value: bool, negated: bool) -> String {
        // IS TRUE and IS NOT FALSE want 1; IS FALSE and IS NOT TRUE want 0.
        let wanted = value != negated;
        // NULL satisfies IS NOT TRUE / IS NOT FALSE, and fails IS TRUE / IS FALSE.
        let null_as = u8::from(wanted == negated);
        let bit = u8::from(wanted);
        if nullable {
            format!("COALESCE({column}, {null_as}) = {bit}")
        } else {
            format!("{column} = {bit}")
        }
    }
}
