//! The walk over a portable check expression ([`Expr`]), written once. Each dialect
//! supplies its words through [`ExprWords`] (`expr_postgres.rs`, `expr_mssql.rs`):
//! quoting, literals, function names, and how a `bool` value stands where a truth value
//! is wanted. Operators that both dialects spell alike (`AND`, `<>`, `BETWEEN`, `LIKE`,
//! `CASE`, arithmetic) are spelled here.
//!
//! The expression was checked when it was parsed (`resolve::expr`): predicates stand
//! only where a truth value is wanted, values only where a value is, so the walk never
//! meets a construct it cannot render.

use crate::model::{BinaryOp, ColumnId, Expr, Function, Table};

/// One dialect's words for an expression.
pub trait ExprWords {
    /// A column name, quoted where the dialect needs it.
    fn column(&self, name: &str) -> String;
    fn string(&self, text: &str) -> String;
    /// `TRUE`/`FALSE` used as a value.
    fn bool_value(&self, value: bool) -> String;
    fn function(&self, function: Function) -> &'static str;
    /// A `bool` value (a column, a literal, a CASE) standing where a truth value is
    /// wanted (`active OR qty > 0`).
    fn value_as_predicate(&self, value: String) -> String;
    /// `column IS [NOT] TRUE|FALSE`: never NULL, whatever the column holds.
    fn is_bool(&self, column: String, nullable: bool, value: bool, negated: bool) -> String;
}

/// The expression as a truth value (the body of `CHECK (...)`). `name` gives each
/// column's name at the moment the statement runs (a migration that renames a column
/// renders checks under the name it has then; see `plan::Current`).
pub fn predicate(expr: &Expr, table: &Table, name: &dyn Fn(ColumnId) -> String, words: &dyn ExprWords) -> String {
    Walk { table, name, words }.predicate(expr)
}

struct Walk<'a> {
    table: &'a Table,
    name: &'a dyn Fn(ColumnId) -> String,
    words: &'a dyn ExprWords,
}

impl Walk<'_> {
    fn predicate(&self, expr: &Expr) -> String {
        if expr.is_predicate() {
            self.node(expr)
        } else {
            self.words.value_as_predicate(self.node(expr))
        }
    }

    /// An operand that is a value (`is_predicate()` is false, as `resolve` checked).
    fn value(&self, expr: &Expr) -> String {
        self.node(expr)
    }

    fn node(&self, expr: &Expr) -> String {
        match expr {
            Expr::Column(id) => self.words.column(&(self.name)(*id)),
            Expr::Null => "NULL".to_string(),
            Expr::Bool(value) => self.words.bool_value(*value),
            Expr::Number(text) => text.clone(),
            Expr::String(text) => self.words.string(text),
            Expr::Nested(inner) => {
                let inside = if inner.is_predicate() { self.predicate(inner) } else { self.value(inner) };
                format!("({inside})")
            }
            Expr::Not(inner) => format!("NOT {}", self.predicate(inner)),
            Expr::Negative(inner) => format!("-{}", self.value(inner)),
            Expr::Binary { left, op, right } => {
                let (left, right) = match op {
                    BinaryOp::And | BinaryOp::Or => (self.predicate(left), self.predicate(right)),
                    _ => (self.value(left), self.value(right)),
                };
                format!("{left} {} {right}", operator(*op))
            }
            Expr::IsNull { expr, negated } => format!("{} IS {}NULL", self.value(expr), not(*negated)),
            Expr::IsBool { column, value, negated } => {
                let nullable = self.table.column(*column).nullable;
                self.words.is_bool(self.words.column(&(self.name)(*column)), nullable, *value, *negated)
            }
            Expr::Between { expr, low, high, negated } => {
                format!("{} {}BETWEEN {} AND {}", self.value(expr), not(*negated), self.value(low), self.value(high))
            }
            Expr::InList { expr, list, negated } => {
                let list: Vec<String> = list.iter().map(|e| self.value(e)).collect();
                format!("{} {}IN ({})", self.value(expr), not(*negated), list.join(", "))
            }
            Expr::Like { expr, pattern, escape, negated } => {
                let escape = escape.as_ref().map(|e| format!(" ESCAPE {}", self.words.string(e))).unwrap_or_default();
                format!("{} {}LIKE {}{escape}", self.value(expr), not(*negated), self.value(pattern))
            }
            Expr::Case { operand, branches, otherwise } => {
                let mut text = "CASE".to_string();
                if let Some(operand) = operand {
                    text += &format!(" {}", self.value(operand));
                }
                for branch in branches {
                    // `CASE x WHEN 1` compares values; `CASE WHEN a > 1` tests a predicate.
                    let when = if operand.is_some() { self.value(&branch.when) } else { self.predicate(&branch.when) };
                    text += &format!(" WHEN {when} THEN {}", self.value(&branch.then));
                }
                if let Some(otherwise) = otherwise {
                    text += &format!(" ELSE {}", self.value(otherwise));
                }
                text + " END"
            }
            Expr::Call { function, args } => {
                let args: Vec<String> = args.iter().map(|e| self.value(e)).collect();
                format!("{}({})", self.words.function(*function), args.join(", "))
            }
        }
    }
}

fn not(negated: bool) -> &'static str {
    if negated {
        "NOT "
    } else {
        ""
    }
}

fn operator(op: BinaryOp) -> &'static str {
    match op {
        BinaryOp::And => "AND",
        BinaryOp::Or => "OR",
        BinaryOp::Eq => "=",
        BinaryOp::NotEq => "<>",
        BinaryOp::Lt => "<",
        BinaryOp::LtEq => "<=",
        BinaryOp::Gt => ">",
        BinaryOp::GtEq => ">=",
        BinaryOp::Plus => "+",
        BinaryOp::Minus => "-",
        BinaryOp::Multiply => "*",
        BinaryOp::Divide => "/",
        BinaryOp::Modulo => "%",
    }
}

/// Whether a column name must be quoted in an expression: it is a word SQL knows (in
/// any dialect sqlparser knows; quoting a word that needs none is harmless) or not a
/// plain lowercase identifier.
pub fn needs_quotes(name: &str) -> bool {
    let plain = name.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    !plain || sqlparser::keywords::ALL_KEYWORDS.binary_search(&name.to_ascii_uppercase().as_str()).is_ok()
}
