//! Portable SQL expressions (checks): parsed with `sqlparser` and turned into the
//! model's [`Expr`], keeping only what means the same on PostgreSQL and SQL Server.
//! Anything else is a [`Problem`] with its place in the text, so `dcgen check` can point
//! at it and ask for `{ sql: "...", mssql: "..." }`.
//!
//! Parsed with PostgreSQL's grammar: a portable expression is written the way the spec
//! documents (double-quoted identifiers, `TRUE`/`FALSE`, `'...'` strings).

use sqlparser::ast::{
    self, BinaryOperator, CeilFloorKind, DateTimeField, FunctionArg, FunctionArgExpr, FunctionArguments, Spanned, UnaryOperator, Value,
};
use sqlparser::dialect::{Dialect as SqlDialect, MsSqlDialect, PostgreSqlDialect};
use sqlparser::parser::Parser;
use sqlparser::tokenizer::{Location, Token};

use crate::model::{BinaryOp, CaseBranch, ColumnId, ColumnType, Expr, Function, Table};

/// A place inside the expression text, in bytes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct Place {
    pub offset: usize,
    pub len: usize,
}

#[derive(Debug, PartialEq)]
pub(super) enum Problem {
    /// Not an SQL expression at all.
    Syntax { place: Place, message: String },
    /// A name that is not a column of the table.
    UnknownColumn { place: Place, name: String },
    /// Valid SQL without a faithful form in both dialects.
    NotPortable { place: Place, reason: String },
}

/// Functions written the same way with the same meaning in both dialects. Names that
/// look portable but are not (`length`, whose T-SQL twin `LEN` ignores trailing spaces)
/// are refused with their reason in [`unfaithful_function`].
const FUNCTIONS: &[(&str, Function, Arity)] = &[
    ("abs", Function::Abs, Arity::Exactly(1)),
    ("ceil", Function::Ceiling, Arity::Exactly(1)),
    ("ceiling", Function::Ceiling, Arity::Exactly(1)),
    // T-SQL's COALESCE wants at least two arguments.
    ("coalesce", Function::Coalesce, Arity::AtLeast(2)),
    ("floor", Function::Floor, Arity::Exactly(1)),
    ("lower", Function::Lower, Arity::Exactly(1)),
    ("nullif", Function::NullIf, Arity::Exactly(2)),
    ("upper", Function::Upper, Arity::Exactly(1)),
];

#[derive(Clone, Copy)]
enum Arity {
    Exactly(usize),
    AtLeast(usize),
}

/// Why a function that both dialects seem to have is not portable, as the rest of a
/// sentence that starts with its name.
fn unfaithful_function(name: &str) -> Option<&'static str> {
    Some(match name {
        "length" | "char_length" | "character_length" | "len" => "counts trailing spaces in PostgreSQL, and T-SQL's LEN ignores them",
        "trim" | "btrim" | "ltrim" | "rtrim" => "takes different arguments in the two dialects",
        "round" => "rounds halves of floating-point values differently in the two dialects",
        "now" | "current_timestamp" | "getdate" | "sysutcdatetime" => "is written differently and has a different type in each dialect",
        "substring" | "substr" | "left" | "right" => "differs in name and arguments between the dialects",
        _ => return None,
    })
}

/// Parses a portable expression over `table`'s columns. Every problem is reported, not
/// just the first.
pub(super) fn parse_portable(text: &str, table: &Table) -> Result<Expr, Vec<Problem>> {
    let parsed = parse_whole(&PostgreSqlDialect {}, text).map_err(|problem| vec![problem])?;
    let mut converter = Converter { text, table, problems: Vec::new() };
    let expr = converter.condition(&parsed);
    match expr {
        Some(expr) if converter.problems.is_empty() => Ok(expr),
        _ => Err(converter.problems),
    }
}

/// The column names a raw expression (`{ sql, postgres, mssql }`) uses, with their
/// places, for the unknown-column rule. Raw SQL is the user's to write: text that the
/// dialect's parser cannot read is passed through unchecked (`None`).
pub(super) fn raw_column_names(text: &str, mssql: bool) -> Option<Vec<(String, Place)>> {
    let parsed = if mssql { parse_whole(&MsSqlDialect {}, text) } else { parse_whole(&PostgreSqlDialect {}, text) }.ok()?;
    let mut names = Vec::new();
    let _ = ast::visit_expressions(&parsed, |e| {
        if let ast::Expr::Identifier(ident) = e {
            let name = if ident.quote_style.is_some() { ident.value.clone() } else { ident.value.to_lowercase() };
            names.push((name, place(text, ident.span)));
        }
        std::ops::ControlFlow::<()>::Continue(())
    });
    Some(names)
}

/// One expression and nothing after it.
fn parse_whole(dialect: &dyn SqlDialect, text: &str) -> Result<ast::Expr, Problem> {
    let whole = Place { offset: 0, len: text.len() };
    let syntax = |message: String, place: Place| Problem::Syntax { place, message };
    let mut parser = Parser::new(dialect).try_with_sql(text).map_err(|e| syntax(parser_message(&e), whole))?;
    let expr = parser.parse_expr().map_err(|e| syntax(parser_message(&e), whole))?;
    let next = parser.peek_token();
    if next.token != Token::EOF {
        return Err(syntax(format!("unexpected `{}` after the expression", next.token), place(text, next.span)));
    }
    Ok(expr)
}

/// sqlparser's message without its "sql parser error: " prefix and position suffix (the
/// diagnostic has its own).
fn parser_message(error: &sqlparser::parser::ParserError) -> String {
    let text = error.to_string();
    let text = text.strip_prefix("sql parser error: ").unwrap_or(&text);
    let text = text.split(" at Line: ").next().unwrap_or(text);
    text.to_string()
}

/// Byte place of a sqlparser span (1-based line and character column) in `text`; an
/// empty span (sqlparser does not know) is the whole text.
fn place(text: &str, span: sqlparser::tokenizer::Span) -> Place {
    let start = byte_offset(text, span.start);
    let end = byte_offset(text, span.end);
    match (start, end) {
        (Some(start), Some(end)) if end > start => Place { offset: start, len: balanced_end(text, start, end) - start },
        (Some(start), _) => Place { offset: start, len: text[start..].find(char::is_whitespace).unwrap_or(text.len() - start).max(1) },
        _ => Place { offset: 0, len: text.len() },
    }
}

/// sqlparser's spans of calls and parentheses stop before the closing `)`: extend to it.
fn balanced_end(text: &str, start: usize, mut end: usize) -> usize {
    let open = |t: &str| t.matches('(').count() as isize - t.matches(')').count() as isize;
    let mut depth = open(&text[start..end]);
    while depth > 0 {
        match text[end..].find(')') {
            Some(at) => {
                end += at + 1;
                depth = open(&text[start..end]);
            }
            None => break,
        }
    }
    end
}

fn byte_offset(text: &str, location: Location) -> Option<usize> {
    if location.line == 0 {
        return None;
    }
    let line_start: usize = text.split_inclusive('\n').take(location.line as usize - 1).map(str::len).sum();
    let line = &text[line_start..];
    let column = location.column as usize - 1;
    let within = line.char_indices().nth(column).map(|(i, _)| i).unwrap_or(line.len());
    Some(line_start + within)
}

struct Converter<'t> {
    text: &'t str,
    table: &'t Table,
    problems: Vec<Problem>,
}

impl Converter<'_> {
    fn not_portable(&mut self, expr: &ast::Expr, reason: impl Into<String>) -> Option<Expr> {
        let place = place(self.text, expr.span());
        self.problems.push(Problem::NotPortable { place, reason: reason.into() });
        None
    }

    /// An expression where a truth value is wanted (the check itself, `AND`, `NOT`,
    /// `CASE WHEN`): a predicate, or a `bool` value.
    fn condition(&mut self, ast_expr: &ast::Expr) -> Option<Expr> {
        let expr = self.convert(ast_expr)?;
        if expr.is_predicate() || self.is_bool_value(&expr) {
            return Some(expr);
        }
        self.not_portable(ast_expr, format!("`{ast_expr}` is not a condition (it is a value, and not a `bool` one)"))
    }

    /// An expression where a value is wanted (operands of comparisons and arithmetic,
    /// `IN` lists, function arguments, `THEN`): T-SQL has no boolean values, so a
    /// condition cannot stand here.
    fn value(&mut self, ast_expr: &ast::Expr) -> Option<Expr> {
        let expr = self.convert(ast_expr)?;
        if !expr.is_predicate() {
            return Some(expr);
        }
        self.not_portable(ast_expr, format!("the condition `{ast_expr}` is used as a value, and T-SQL has no boolean values"))
    }

    fn is_bool_value(&self, expr: &Expr) -> bool {
        match expr {
            Expr::Bool(_) => true,
            Expr::Column(id) => self.table.column(*id).ty == ColumnType::Bool,
            Expr::Nested(inner) => self.is_bool_value(inner),
            Expr::Case { branches, otherwise, .. } => {
                let is_bool_or_null = |e: &Expr| matches!(e, Expr::Null) || self.is_bool_value(e);
                branches.iter().all(|b| is_bool_or_null(&b.then)) && otherwise.as_deref().is_none_or(is_bool_or_null)
            }
            Expr::Call { function: Function::Coalesce | Function::NullIf, args } => args.first().is_some_and(|a| self.is_bool_value(a)),
            _ => false,
        }
    }

    fn boxed_value(&mut self, expr: &ast::Expr) -> Option<Box<Expr>> {
        self.value(expr).map(Box::new)
    }

    /// Converts every part (so every problem is found), then builds the node.
    fn convert(&mut self, expr: &ast::Expr) -> Option<Expr> {
        use ast::Expr as E;
        match expr {
            E::Identifier(ident) => self.column(ident).map(Expr::Column),
            E::Value(value) => self.literal(expr, &value.value),
            E::Nested(inner) => {
                let inner = self.convert(inner)?;
                Some(Expr::Nested(Box::new(inner)))
            }
            E::UnaryOp { op: UnaryOperator::Not, expr: inner } => Some(Expr::Not(Box::new(self.condition(inner)?))),
            E::UnaryOp { op: UnaryOperator::Minus, expr: inner } => Some(Expr::Negative(self.boxed_value(inner)?)),
            E::UnaryOp { op: UnaryOperator::Plus, expr: inner } => self.value(inner),
            E::BinaryOp { left, op, right } => {
                let Some(op) = binary_op(op) else {
                    let reason = match op {
                        BinaryOperator::StringConcat => "`||` has no faithful T-SQL form (`+` converts its operands differently)".to_string(),
                        other => format!("the operator `{other}` has no faithful T-SQL form"),
                    };
                    return self.not_portable(expr, reason);
                };
                let (left, right) = if matches!(op, BinaryOp::And | BinaryOp::Or) {
                    (self.condition(left), self.condition(right))
                } else {
                    (self.value(left), self.value(right))
                };
                Some(Expr::Binary { left: Box::new(left?), op, right: Box::new(right?) })
            }
            E::IsNull(inner) | E::IsNotNull(inner) => {
                Some(Expr::IsNull { expr: self.boxed_value(inner)?, negated: matches!(expr, E::IsNotNull(_)) })
            }
            E::IsTrue(inner) | E::IsNotTrue(inner) | E::IsFalse(inner) | E::IsNotFalse(inner) => {
                let value = matches!(expr, E::IsTrue(_) | E::IsNotTrue(_));
                let negated = matches!(expr, E::IsNotTrue(_) | E::IsNotFalse(_));
                let mut operand: &ast::Expr = inner;
                while let E::Nested(nested) = operand {
                    operand = nested;
                }
                let E::Identifier(ident) = operand else {
                    return self.not_portable(expr, "`IS TRUE` and `IS FALSE` have a T-SQL form only on a `bool` column");
                };
                let column = self.column(ident)?;
                if self.table.column(column).ty != ColumnType::Bool {
                    return self.not_portable(expr, format!("`{ident}` is not a `bool` column, so `IS TRUE`/`IS FALSE` does not apply"));
                }
                Some(Expr::IsBool { column, value, negated })
            }
            E::Between { expr: inner, negated, low, high } => {
                let (inner, low, high) = (self.boxed_value(inner), self.boxed_value(low), self.boxed_value(high));
                Some(Expr::Between { expr: inner?, low: low?, high: high?, negated: *negated })
            }
            E::InList { expr: inner, list, negated } => {
                let inner = self.boxed_value(inner);
                let list: Vec<Option<Expr>> = list.iter().map(|e| self.value(e)).collect();
                Some(Expr::InList { expr: inner?, list: list.into_iter().collect::<Option<_>>()?, negated: *negated })
            }
            E::Like { negated, any: false, expr: inner, pattern, escape_char } => self.like(inner, pattern, escape_char.as_ref(), *negated),
            E::ILike { .. } => self.not_portable(expr, "`ILIKE` has no T-SQL form (whether LIKE ignores case depends on the SQL Server collation)"),
            E::Case { operand, conditions, else_result, .. } => {
                let operand = operand.as_deref().map(|o| self.boxed_value(o));
                let mut branches = Vec::new();
                let mut complete = true;
                for case in conditions {
                    // `CASE x WHEN 1` compares values; `CASE WHEN a > 1` tests a condition.
                    let when = if operand.is_some() { self.value(&case.condition) } else { self.condition(&case.condition) };
                    let then = self.value(&case.result);
                    match (when, then) {
                        (Some(when), Some(then)) => branches.push(CaseBranch { when, then }),
                        _ => complete = false,
                    }
                }
                let otherwise = else_result.as_deref().map(|e| self.boxed_value(e));
                let operand = match operand {
                    Some(o) => Some(o?),
                    None => None,
                };
                let otherwise = match otherwise {
                    Some(o) => Some(o?),
                    None => None,
                };
                complete.then_some(Expr::Case { operand, branches, otherwise })
            }
            E::Function(function) => self.call(expr, function),
            E::Ceil { expr: inner, field: CeilFloorKind::DateTimeField(DateTimeField::NoDateTime) } => {
                Some(Expr::Call { function: Function::Ceiling, args: vec![self.value(inner)?] })
            }
            E::Floor { expr: inner, field: CeilFloorKind::DateTimeField(DateTimeField::NoDateTime) } => {
                Some(Expr::Call { function: Function::Floor, args: vec![self.value(inner)?] })
            }
            E::CompoundIdentifier(_) => self.not_portable(expr, "a check names the table's own columns, without a table or schema in front"),
            E::Cast { .. } => self.not_portable(expr, "type names differ between the dialects, so a cast has no portable form"),
            other => self.not_portable(expr, format!("`{other}` has no portable form the generator can write for both dialects")),
        }
    }

    fn column(&mut self, ident: &ast::Ident) -> Option<ColumnId> {
        // PostgreSQL folds unquoted names to lowercase; quoted ones are exact.
        let name = if ident.quote_style.is_some() { ident.value.clone() } else { ident.value.to_lowercase() };
        match self.table.column_by_name(&name) {
            Some(id) => Some(id),
            None => {
                self.problems.push(Problem::UnknownColumn { place: place(self.text, ident.span), name });
                None
            }
        }
    }

    fn literal(&mut self, expr: &ast::Expr, value: &Value) -> Option<Expr> {
        match value {
            Value::Number(text, false) => Some(Expr::Number(text.to_string())),
            Value::SingleQuotedString(text) => Some(Expr::String(text.clone())),
            Value::Boolean(value) => Some(Expr::Bool(*value)),
            Value::Null => Some(Expr::Null),
            _ => self.not_portable(expr, format!("the literal `{value}` is written differently in each dialect; use a plain number or a '...' string")),
        }
    }

    fn like(&mut self, subject: &ast::Expr, pattern: &ast::Expr, escape: Option<&ast::ValueWithSpan>, negated: bool) -> Option<Expr> {
        let subject = self.boxed_value(subject);
        // T-SQL reads `[` in a pattern as a character class; PostgreSQL as itself.
        let pattern = match pattern {
            ast::Expr::Value(v) => match &v.value {
                Value::SingleQuotedString(text) if text.contains('[') => {
                    self.not_portable(pattern, "T-SQL reads `[` in a LIKE pattern as a character class, PostgreSQL as the character itself")
                }
                _ => self.value(pattern),
            },
            other => self.not_portable(other, "a LIKE pattern must be a '...' literal: T-SQL reads `[` in a pattern as a character class"),
        };
        let escape = match escape.map(|e| &e.value) {
            None => None,
            Some(Value::SingleQuotedString(text)) => Some(text.clone()),
            Some(other) => {
                let reason = format!("the ESCAPE character `{other}` must be a '...' string");
                self.problems.push(Problem::NotPortable { place: Place { offset: 0, len: self.text.len() }, reason });
                return None;
            }
        };
        Some(Expr::Like { expr: subject?, pattern: Box::new(pattern?), escape, negated })
    }

    fn call(&mut self, expr: &ast::Expr, function: &ast::Function) -> Option<Expr> {
        let name = function.name.to_string().to_lowercase();
        let Some(&(_, portable, arity)) = FUNCTIONS.iter().find(|(n, _, _)| *n == name) else {
            let known: Vec<&str> = FUNCTIONS.iter().map(|(n, _, _)| *n).filter(|n| *n != "ceil").collect();
            let reason = match unfaithful_function(&name) {
                Some(why) => format!("`{name}` {why}"),
                None => format!("`{name}` is not one of the functions written the same in both dialects ({})", known.join(", ")),
            };
            return self.not_portable(expr, reason);
        };
        let plain = function.filter.is_none()
            && function.over.is_none()
            && function.within_group.is_empty()
            && function.null_treatment.is_none()
            && matches!(function.parameters, FunctionArguments::None);
        let FunctionArguments::List(list) = &function.args else {
            return self.not_portable(expr, format!("`{name}` needs its arguments in parentheses"));
        };
        if !plain || list.duplicate_treatment.is_some() || !list.clauses.is_empty() {
            return self.not_portable(expr, format!("only plain calls of `{name}` are portable"));
        }
        let count = list.args.len();
        let fits = match arity {
            Arity::Exactly(n) => count == n,
            Arity::AtLeast(n) => count >= n,
        };
        if !fits {
            let wanted = match arity {
                Arity::Exactly(n) => format!("{n}"),
                Arity::AtLeast(n) => format!("at least {n}"),
            };
            return self.not_portable(expr, format!("`{name}` takes {wanted} argument(s) in both dialects, not {count}"));
        }
        let mut args = Vec::new();
        for arg in &list.args {
            match arg {
                FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => args.push(self.value(e)),
                _ => return self.not_portable(expr, format!("`{name}` takes plain arguments")),
            }
        }
        Some(Expr::Call { function: portable, args: args.into_iter().collect::<Option<_>>()? })
    }
}

fn binary_op(op: &BinaryOperator) -> Option<BinaryOp> {
    Some(match op {
        BinaryOperator::And => BinaryOp::And,
        BinaryOperator::Or => BinaryOp::Or,
        BinaryOperator::Eq => BinaryOp::Eq,
        BinaryOperator::NotEq => BinaryOp::NotEq,
        BinaryOperator::Lt => BinaryOp::Lt,
        BinaryOperator::LtEq => BinaryOp::LtEq,
        BinaryOperator::Gt => BinaryOp::Gt,
        BinaryOperator::GtEq => BinaryOp::GtEq,
        BinaryOperator::Plus => BinaryOp::Plus,
        BinaryOperator::Minus => BinaryOp::Minus,
        BinaryOperator::Multiply => BinaryOp::Multiply,
        BinaryOperator::Divide => BinaryOp::Divide,
        BinaryOperator::Modulo => BinaryOp::Modulo,
        _ => return None,
    })
}

