//! Tables and their columns: mixins (head, own, tail), column types, nullability,
//! identity, roles, defaults, raw per-dialect SQL and `on_update: now` triggers.

use std::collections::HashMap;

use super::names::{check_identifier, duplicate};
use super::types::{self, parse_type, strip_nullable, ParsedType};
use super::{literal_text, Mixin, Resolver, TableSpans};
use crate::diagnostics::{did_you_mean, Diagnostic, Diagnostics, Sp, Span};
use crate::model::*;
use crate::naming::NameParts;
use crate::spec::*;

impl<'a> Resolver<'a> {
    pub(super) fn collect_mixins(&mut self) -> HashMap<&'a str, Mixin<'a>> {
        let mut mixins: HashMap<&str, Mixin> = HashMap::new();
        for file in &self.spec.files {
            for (name, spec) in &file.mixins {
                check_identifier(self.diags, name, "mixin");
                if let Some(first) = mixins.get(name.value.as_str()) {
                    self.diags.push(duplicate("mixin", name, first.name.span));
                    continue;
                }
                mixins.insert(name.value.as_str(), Mixin { name, spec });
            }
        }
        mixins
    }

    pub(super) fn build_tables(&mut self, mixins: &HashMap<&'a str, Mixin<'a>>) {
        for (file_index, file) in self.spec.files.iter().enumerate() {
            for (table_index, (name, spec)) in file.tables.iter().enumerate() {
                if self.model_tables.iter().any(|t| t.name == name.value) {
                    continue; // duplicate, already reported
                }
                check_identifier(self.diags, name, "table");
                let mixin = match &spec.mixin {
                    Some(mixin_name) => match mixins.get(mixin_name.value.as_str()) {
                        Some(m) => Some(m),
                        None => {
                            let mut d = Diagnostic::error(mixin_name.span, format!("unknown mixin `{}`", mixin_name.value)).label("unknown mixin");
                            d = match did_you_mean(&mixin_name.value, mixins.keys().copied()) {
                                Some(s) => d.help(format!("did you mean `{s}`?")),
                                None => d.help("define it under `mixins:` or remove `mixin:`"),
                            };
                            self.diags.push(d);
                            None
                        }
                    },
                    None => None,
                };
                let mut columns: Vec<(Sp<String>, ColumnSpec)> = Vec::new();
                if let Some(m) = mixin {
                    columns.extend(m.spec.head.iter().cloned());
                }
                columns.extend(spec.columns.iter().cloned());
                if let Some(m) = mixin {
                    columns.extend(m.spec.tail.iter().cloned());
                }
                let (mut table, mut spans) = self.new_table(name, spec.comment.as_ref().map(|c| c.value.clone()), &columns);
                table.renamed_from = spec.renamed_from.as_ref().map(|r| r.value.clone());
                self.model_tables.push(table);
                spans.source = Some((file_index, table_index));
                self.spans.push(spans);
            }
        }
        self.build_codebook_tables(mixins);
    }

    /// Columns of a table from (mixin head, own, mixin tail) column specs.
    pub(super) fn new_table(&mut self, name: &Sp<String>, comment: Option<String>, columns: &[(Sp<String>, ColumnSpec)]) -> (Table, TableSpans) {
        let mut table = Table {
            name: name.value.clone(),
            comment,
            columns: vec![],
            primary_key: Key { name: String::new(), columns: vec![] },
            uniques: vec![],
            foreign_keys: vec![],
            indexes: vec![],
            checks: vec![],
            triggers: vec![],
            partition: None,
            hash_columns: vec![],
            codebook_of: None,
            renamed_from: None,
        };
        let mut spans = TableSpans { name: name.span, ..TableSpans::default() };
        let mut role_spans: HashMap<Role, Span> = HashMap::new();
        for (column_name, column_spec) in columns {
            check_identifier(self.diags, column_name, "column");
            if let Some(index) = table.columns.iter().position(|c| c.name == column_name.value) {
                self.diags.push(
                    Diagnostic::error(column_name.span, format!("column `{}` is defined twice in table `{}`", column_name.value, name.value))
                        .label("second definition")
                        .related(spans.columns[index], "first defined here (possibly by the mixin)")
                        .help("rename one of them, or remove the table's own column if the mixin already provides it"),
                );
                continue;
            }
            let Some(column) = self.column(column_name, column_spec) else { continue };
            if let Some(role) = column.role {
                if let Some(first) = role_spans.get(&role) {
                    self.diags.push(
                        Diagnostic::error(column_spec.role.as_ref().map(|r| r.span).unwrap_or(column_name.span), format!("table `{}` has two columns with `role: {}`", name.value, role.name()))
                            .label("second column with this role")
                            .related(*first, "first one here")
                            .help("a table has at most one column of each role; remove one of the roles"),
                    );
                } else {
                    role_spans.insert(role, column_spec.role.as_ref().map(|r| r.span).unwrap_or(column_name.span));
                }
            }
            table.columns.push(column);
            spans.columns.push(column_name.span);
            spans.column_specs.push(column_spec.clone());
        }
        (table, spans)
    }

    pub(super) fn column(&mut self, name: &Sp<String>, spec: &ColumnSpec) -> Option<Column> {
        let type_name = spec.type_name.as_ref()?;
        let (bare, nullable_suffix) = strip_nullable(&type_name.value);
        let ty = match parse_type(bare) {
            Ok(parsed) => self.column_type(parsed, type_name, spec)?,
            Err(problem) => {
                let word = bare.split('(').next().unwrap_or(bare);
                let mut d = Diagnostic::error(type_name.span, format!("{problem} in column `{}`", name.value)).label("invalid type");
                d = match did_you_mean(word, types::TYPE_NAMES.iter().copied()) {
                    Some(s) if problem.starts_with("unknown type") => d.help(format!("did you mean `{s}`? the types are listed in SPEC-FORMAT.md")),
                    _ if problem.starts_with("unknown type") => d.help(format!("the types are: {}", types::TYPE_NAMES.join(", "))),
                    _ => d,
                };
                self.diags.push(d);
                return None;
            }
        };
        if let (Some(flag), true) = (&spec.nullable, nullable_suffix) {
            if !flag.value {
                self.diags.push(
                    Diagnostic::error(flag.span, format!("column `{}` says `nullable: false` but its type ends in `?`", name.value))
                        .label("contradicts the `?`")
                        .help("remove one of them"),
                );
            }
        }
        let nullable = nullable_suffix || spec.nullable.as_ref().is_some_and(|n| n.value);
        let identity = spec.identity.as_ref().is_some_and(|i| i.value);
        if identity && !matches!(ty, ColumnType::SmallInt | ColumnType::Int | ColumnType::BigInt) {
            self.diags.push(
                Diagnostic::error(spec.identity.as_ref().map(|i| i.span).unwrap_or(name.span), format!("identity column `{}` is not an integer", name.value))
                    .label("identity needs smallint, int or bigint"),
            );
        }
        let role = spec.role.as_ref().and_then(|r| {
            let role = Role::ALL.iter().copied().find(|role| role.name() == r.value);
            if role.is_none() {
                let names: Vec<&str> = Role::ALL.iter().map(|r| r.name()).collect();
                let mut d = Diagnostic::error(r.span, format!("unknown role `{}`", r.value)).label("unknown role");
                d = match did_you_mean(&r.value, names.iter().copied()) {
                    Some(s) => d.help(format!("did you mean `{s}`?")),
                    None => d.help(format!("the roles are: {}", names.join(", "))),
                };
                self.diags.push(d);
            }
            role
        });
        let on_update_now = match &spec.on_update {
            None => false,
            Some(u) if u.value == "now" => {
                if !matches!(ty, ColumnType::DateTime | ColumnType::DateTimeTz) {
                    self.diags.push(
                        Diagnostic::error(u.span, format!("`on_update: now` on column `{}`, which is not a `datetime` or `datetimetz`", name.value))
                            .label("needs a timestamp column"),
                    );
                }
                true
            }
            Some(u) => {
                self.diags.push(
                    Diagnostic::error(u.span, format!("unknown `on_update` value `{}`", u.value)).label("unknown").help("the only value is `now`"),
                );
                false
            }
        };
        let default = spec.default.as_ref().and_then(|d| self.default_value(name, &ty, d));
        Some(Column {
            name: name.value.clone(),
            ty,
            nullable,
            identity,
            default_constraint: None,
            default,
            on_update_now,
            comment: spec.comment.as_ref().map(|c| c.value.clone()),
            role,
            renamed_from: spec.renamed_from.as_ref().map(|r| r.value.clone()),
        })
    }

    pub(super) fn column_type(&mut self, parsed: ParsedType, type_name: &Sp<String>, spec: &ColumnSpec) -> Option<ColumnType> {
        match parsed {
            ParsedType::Plain(ty) => Some(ty),
            ParsedType::BareDecimal => {
                let (Some(precision), Some(scale)) = (&spec.precision, &spec.scale) else {
                    self.diags.push(
                        Diagnostic::error(type_name.span, "`decimal` needs a precision and a scale")
                            .label("no precision or scale")
                            .help("write `{ type: decimal, precision: 18, scale: 4 }` or `type: \"decimal(18,4)\"`"),
                    );
                    return None;
                };
                match types::decimal(precision.value, scale.value) {
                    Ok(ty) => Some(ty),
                    Err(problem) => {
                        self.diags.push(Diagnostic::error(precision.span, problem).label("invalid decimal"));
                        None
                    }
                }
            }
            ParsedType::Enum(enum_name) => match self.enums.iter().position(|e| e.name == enum_name) {
                Some(index) => Some(ColumnType::Enum(EnumId(index))),
                None => {
                    let names: Vec<&str> = self.enums.iter().map(|e| e.name.as_str()).collect();
                    let mut d = Diagnostic::error(type_name.span, format!("unknown enum `{enum_name}`")).label("no enum of this name");
                    d = match did_you_mean(&enum_name, names.iter().copied()) {
                        Some(s) => d.help(format!("did you mean `{s}`?")),
                        None => d.help("define it under `enums:`"),
                    };
                    self.diags.push(d);
                    None
                }
            },
            ParsedType::Array(inner) => self.column_type(*inner, type_name, spec).map(|t| ColumnType::Array(Box::new(t))),
        }
    }

    pub(super) fn default_value(&mut self, column: &Sp<String>, ty: &ColumnType, default: &Sp<DefaultSpec>) -> Option<DefaultValue> {
        let mismatch = |diags: &mut Diagnostics, expected: &str| {
            diags.push(
                Diagnostic::error(default.span, format!("default of column `{}` does not fit its type", column.value))
                    .label(format!("expected {expected}"))
                    .help("write a literal of the column's type, or `{ sql: \"...\" }` for a raw expression"),
            );
            None
        };
        match (&default.value, ty) {
            (DefaultSpec::Raw(raw), _) => Some(DefaultValue::Raw(self.dialect_sql(raw, default.span)?)),
            (DefaultSpec::Str(s), ColumnType::DateTime | ColumnType::DateTimeTz) if s == "now" => Some(DefaultValue::Now),
            (DefaultSpec::Str(s), _) if s == "now" && !matches!(ty, ColumnType::String { .. } | ColumnType::Text) => {
                self.diags.push(
                    Diagnostic::error(default.span, format!("`default: now` on column `{}`, which is not a `datetime` or `datetimetz`", column.value))
                        .label("needs a timestamp column")
                        .help("use `{ sql: \"CURRENT_DATE\" }` style raw SQL for other types"),
                );
                None
            }
            (value, ColumnType::Enum(id)) => {
                let enum_ = &self.enums[id.0];
                let key = match value {
                    DefaultSpec::Str(s) => s.clone(),
                    DefaultSpec::Int(i) => i.to_string(),
                    DefaultSpec::Bool(b) => b.to_string(),
                    DefaultSpec::Float(f) => f.to_string(),
                    DefaultSpec::Raw(_) => unreachable!("handled above"),
                };
                match enum_.values.iter().position(|v| v.key == key) {
                    Some(index) => Some(DefaultValue::EnumValue(*id, index)),
                    None => {
                        let keys: Vec<&str> = enum_.values.iter().map(|v| v.key.as_str()).collect();
                        let by_number = enum_.values.iter().find(|v| literal_text(&v.value) == key);
                        let help = match (by_number, did_you_mean(&key, keys.iter().copied())) {
                            (Some(v), _) => format!("write the value's name: `default: {}`", v.key),
                            (None, Some(s)) => format!("did you mean `{s}`?"),
                            (None, None) => format!("the values of `{}` are: {}", enum_.name, keys.join(", ")),
                        };
                        self.diags.push(
                            Diagnostic::error(default.span, format!("default `{key}` of column `{}` is not a value of enum `{}`", column.value, enum_.name))
                                .label("not a value of the enum")
                                .help(help),
                        );
                        None
                    }
                }
            }
            (DefaultSpec::Bool(b), ColumnType::Bool) => Some(DefaultValue::Bool(*b)),
            (DefaultSpec::Int(i), ColumnType::SmallInt | ColumnType::Int | ColumnType::BigInt) => Some(DefaultValue::Int(*i)),
            (DefaultSpec::Int(i), ColumnType::Float | ColumnType::Double | ColumnType::Decimal { .. }) => Some(DefaultValue::Int(*i)),
            (DefaultSpec::Float(f), ColumnType::Float | ColumnType::Double | ColumnType::Decimal { .. }) => Some(DefaultValue::Float(*f)),
            (DefaultSpec::Str(s), ColumnType::String { length }) => {
                if s.chars().count() > *length as usize {
                    self.diags.push(
                        Diagnostic::error(default.span, format!("default of column `{}` is longer than the column ({length})", column.value))
                            .label("too long"),
                    );
                }
                Some(DefaultValue::Str(s.clone()))
            }
            (DefaultSpec::Str(s), ColumnType::Text | ColumnType::Date | ColumnType::Time | ColumnType::Uuid) => Some(DefaultValue::Str(s.clone())),
            (_, ColumnType::Bool) => mismatch(self.diags, "`true` or `false`"),
            (_, ColumnType::SmallInt | ColumnType::Int | ColumnType::BigInt) => mismatch(self.diags, "an integer"),
            (_, ColumnType::Float | ColumnType::Double | ColumnType::Decimal { .. }) => mismatch(self.diags, "a number"),
            (_, ColumnType::String { .. } | ColumnType::Text) => mismatch(self.diags, "a string (quote it)"),
            _ => mismatch(self.diags, "raw SQL (`{ sql: \"...\" }`) for this type"),
        }
    }

    pub(super) fn dialect_sql(&mut self, raw: &RawSql, span: Span) -> Option<DialectSql> {
        let postgres = raw.postgres.as_ref().or(raw.sql.as_ref()).map(|s| s.value.clone());
        let mssql = raw.mssql.as_ref().or(raw.sql.as_ref()).map(|s| s.value.clone());
        match (postgres, mssql) {
            (Some(postgres), Some(mssql)) => Some(DialectSql { postgres, mssql }),
            (postgres, mssql) => {
                let missing = if postgres.is_none() { "postgres" } else { "mssql" };
                let _ = mssql;
                self.diags.push(
                    Diagnostic::error(span, format!("raw SQL has no expression for {missing}"))
                        .label("incomplete raw SQL")
                        .help("add `sql: \"...\"` (used by every dialect without its own key)"),
                );
                None
            }
        }
    }

    /// SQL Server names its defaults: a column with a default gets a constraint name.
    pub(super) fn default_constraint_name(&mut self, table_index: usize, column: ColumnId) {
        if self.model_tables[table_index].column(column).default.is_none() {
            return;
        }
        let table_name = self.model_tables[table_index].name.clone();
        let column_name = self.model_tables[table_index].column(column).name.clone();
        let name = self.render_name(&self.naming.default, NameParts { table: &table_name, column: &column_name, ..Default::default() });
        let column_span = self.spans[table_index].columns[column.0];
        self.spans[table_index].constraint_spans.push((name.clone(), column_span));
        self.model_tables[table_index].columns[column.0].default_constraint = Some(name);
    }

    /// `on_update: now`: a trigger per column keeps it current.
    pub(super) fn triggers(&mut self, table_index: usize) {
        let table_name = self.model_tables[table_index].name.clone();
        for position in 0..self.model_tables[table_index].columns.len() {
            if !self.model_tables[table_index].columns[position].on_update_now {
                continue;
            }
            let column_name = self.model_tables[table_index].columns[position].name.clone();
            let name = self.render_name(&self.naming.trigger, NameParts { table: &table_name, column: &column_name, ..Default::default() });
            let span = self.spans[table_index].columns[position];
            self.spans[table_index].constraint_spans.push((name.clone(), span));
            self.model_tables[table_index].triggers.push(Trigger { name, column: ColumnId(position) });
        }
    }
}
