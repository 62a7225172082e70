//! CHECK constraints: a column's `check`, a table's `checks:`, and the ones the model
//! adds itself (allowed values of an enum column, ISJSON for SQL Server json columns).
//! Portable expressions are parsed by `expr.rs`; no dialect SQL is written here.

use super::expr::{self, Place, Problem};
use super::names::check_identifier;
use super::Resolver;
use crate::diagnostics::{did_you_mean, Diagnostic, Sp, Span};
use crate::model::*;
use crate::naming::NameParts;
use crate::spec::*;

impl Resolver<'_> {
    /// `check:` written on a column; the check is named after the column.
    pub(super) fn column_check(&mut self, table_index: usize, column: ColumnId) {
        let Some(check) = self.spans[table_index].column_specs[column.0].check.clone() else { return };
        let column_name = self.model_tables[table_index].column(column).name.clone();
        let what = format!("the check of column `{column_name}`");
        self.add_check(table_index, &column_name, &what, &check, self.spans[table_index].columns[column.0]);
    }

    /// A table's `checks:`, each named by its key.
    pub(super) fn table_checks(&mut self, table_index: usize, spec: &TableSpec) {
        for (name, check) in &spec.checks {
            check_identifier(self.diags, name, "check");
            let what = format!("check `{}`", name.value);
            self.add_check(table_index, &name.value, &what, check, name.span);
        }
    }

    fn add_check(&mut self, table_index: usize, check_name: &str, what: &str, check: &Sp<ExprSpec>, name_span: Span) {
        let table_name = self.model_tables[table_index].name.clone();
        let name = self.render_name(&self.naming.check, NameParts { table: &table_name, name: check_name, ..Default::default() });
        self.spans[table_index].constraint_spans.push((name.clone(), name_span));
        let kind = match &check.value {
            ExprSpec::Portable(text) => match expr::parse_portable(text, &self.model_tables[table_index]) {
                Ok(expr) => CheckKind::Expr(expr),
                Err(problems) => {
                    for problem in problems {
                        self.report_expression_problem(table_index, what, check.span, text, problem);
                    }
                    return;
                }
            },
            ExprSpec::Raw(raw) => {
                self.check_raw_expression_columns(table_index, raw);
                let Some(sql) = self.dialect_sql(raw, check.span) else { return };
                CheckKind::Raw(sql)
            }
        };
        self.model_tables[table_index].checks.push(Check { name, kind });
    }

    fn report_expression_problem(&mut self, table_index: usize, what: &str, span: Span, text: &str, problem: Problem) {
        let diagnostic = match problem {
            Problem::UnknownColumn { place, name } => self.unknown_column(table_index, span, text, place, &name),
            Problem::Syntax { place, message } => Diagnostic::error(expression_span(span, text, place), format!("{what} is not an SQL expression: {message}"))
                .label("cannot parse")
                .help("write a boolean SQL expression over the table's columns; a column named like an SQL keyword goes in double quotes (`\"interval\" > 0`)"),
            Problem::NotPortable { place, reason } => Diagnostic::error(expression_span(span, text, place), format!("{what} has no faithful T-SQL form: {reason}"))
                .label("not portable")
                .help("write the expression for each dialect: `{ sql: \"...\", mssql: \"...\" }`"),
        };
        self.diags.push(diagnostic);
    }

    /// A check may only name the table's own columns; raw SQL is checked as far as the
    /// dialect's parser reads it.
    fn check_raw_expression_columns(&mut self, table_index: usize, raw: &RawSql) {
        let parts = [(&raw.sql, false), (&raw.postgres, false), (&raw.mssql, true)];
        for (part, mssql) in parts {
            let Some(part) = part else { continue };
            for (name, place) in expr::raw_column_names(&part.value, mssql).unwrap_or_default() {
                if self.model_tables[table_index].column_by_name(&name).is_none() {
                    let diagnostic = self.unknown_column(table_index, part.span, &part.value, place, &name);
                    self.diags.push(diagnostic);
                }
            }
        }
    }

    fn unknown_column(&self, table_index: usize, span: Span, text: &str, place: Place, name: &str) -> Diagnostic {
        let table = &self.model_tables[table_index];
        let names: Vec<&str> = table.columns.iter().map(|c| c.name.as_str()).collect();
        let d = Diagnostic::error(expression_span(span, text, place), format!("check names column `{name}`, which table `{}` does not have", table.name))
            .label("no such column");
        match did_you_mean(name, names.iter().copied()) {
            Some(s) => d.help(format!("did you mean `{s}`?")),
            None => d.help(format!("a check may use only the table's own columns: {}", names.join(", "))),
        }
    }

    /// A string enum, or an int enum without a codebook: a CHECK listing its values.
    pub(super) fn enum_values_check(&mut self, table_index: usize, column: ColumnId, enum_id: EnumId) {
        let table_name = self.model_tables[table_index].name.clone();
        let check_name = format!("{}_enum", self.model_tables[table_index].column(column).name);
        let name = self.render_name(&self.naming.check, NameParts { table: &table_name, name: &check_name, ..Default::default() });
        let column_span = self.spans[table_index].columns[column.0];
        self.spans[table_index].constraint_spans.push((name.clone(), column_span));
        self.model_tables[table_index].checks.push(Check { name, kind: CheckKind::EnumValues { column, enum_id } });
    }

    /// json and array columns are text on SQL Server: a CHECK that they hold JSON.
    pub(super) fn json_check(&mut self, table_index: usize, column: ColumnId) {
        let table_name = self.model_tables[table_index].name.clone();
        let check_name = format!("{}_json", self.model_tables[table_index].column(column).name);
        let name = self.render_name(&self.naming.check, NameParts { table: &table_name, name: &check_name, ..Default::default() });
        let column_span = self.spans[table_index].columns[column.0];
        self.spans[table_index].constraint_spans.push((name.clone(), column_span));
        self.model_tables[table_index].checks.push(Check { name, kind: CheckKind::IsJson { column } });
    }

    /// What a column's type asks for: an enum column a foreign key to its codebook (int
    /// enums that have one) or a CHECK of its values; a json or array column ISJSON.
    /// One column after another, so the constraints keep the order of the columns.
    pub(super) fn column_type_constraints(&mut self, table_index: usize) {
        for position in 0..self.model_tables[table_index].columns.len() {
            let column = ColumnId(position);
            match self.model_tables[table_index].column(column).ty {
                ColumnType::Enum(enum_id) => {
                    let codebook = self.enums[enum_id.0].codebook.filter(|c| self.model_tables[c.0].codebook_of.is_some());
                    match codebook {
                        Some(codebook) if codebook != TableId(table_index) => self.enum_codebook_foreign_key(table_index, column, codebook),
                        _ => self.enum_values_check(table_index, column, enum_id),
                    }
                }
                ColumnType::Json | ColumnType::Array(_) => self.json_check(table_index, column),
                _ => {}
            }
        }
    }
}

/// The span of a part of an expression, from the span of the YAML scalar that holds it.
/// A quoted scalar's span starts at its opening quote and is longer than its text.
fn expression_span(span: Span, text: &str, place: Place) -> Span {
    let offset = place.offset + usize::from(span.len > text.len());
    Span { start: span.start + offset, len: place.len, column: span.column + offset as u32, ..span }
}
