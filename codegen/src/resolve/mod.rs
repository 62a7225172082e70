//! Stage 2, resolve: raw spec → checked [`Model`]. Names, types, mixins, references and
//! conventions are resolved here, and every validation rule runs here, each in a function
//! named for what it checks, in a module named for the family of rules it belongs to.
//! Problems are collected, not returned early: resolution goes as far as it
//! meaningfully can so one run reports every mistake.

mod checks;
mod codebooks;
mod collisions;
mod columns;
mod enums;
mod expr;
mod foreign_keys;
mod keys;
mod names;
mod partitions;
mod project;
mod row_hash;
pub mod types;

use crate::diagnostics::{did_you_mean, Diagnostic, Diagnostics, Sp, Span};
use crate::model::*;
use crate::naming::{self, NameParts, Naming};
use crate::spec::*;

/// Resolve a loaded spec. Returns `None` when errors make a model meaningless; the
/// errors are in `diags` either way.
pub fn resolve(spec: &Spec, diags: &mut Diagnostics) -> Option<Model> {
    let mut r = Resolver { diags, spec, naming: Naming::default(), model_tables: vec![], spans: vec![], enums: vec![], enum_spans: vec![] };
    let project = r.project()?;
    r.conventions(&project);
    let mixins = r.collect_mixins();
    r.collect_enums();
    r.check_duplicate_names();
    r.build_tables(&mixins);
    r.resolve_constraints();
    r.check_constraint_name_collisions();
    r.check_foreign_keys_point_at_keys();
    if project.dialects.contains(&Dialect::Mssql) {
        r.check_sql_server_cascade_paths();
    }
    let hashing = r.hashing();
    if r.diags.has_errors() {
        return None;
    }
    Some(Model { project, hashing, tables: r.model_tables, enums: r.enums })
}

/// Where the parts of one table were written, kept beside the model while resolving.
#[derive(Default, Clone)]
struct TableSpans {
    name: Span,
    columns: Vec<Span>,
    /// The column specs in model order (for column-level constraints).
    column_specs: Vec<ColumnSpec>,
    /// Index into spec file and table list, `None` for generated codebook tables.
    source: Option<(usize, usize)>,
    /// Spans of constraint names, parallel to each list in the model table.
    constraint_spans: Vec<(String, Span)>,
    /// Where the primary key is written (a `primary_key:` list or flag).
    primary_key: Span,
    /// The `column:` of `partition:`.
    partition_column: Span,
}

struct Resolver<'a> {
    diags: &'a mut Diagnostics,
    spec: &'a Spec,
    naming: Naming,
    model_tables: Vec<Table>,
    spans: Vec<TableSpans>,
    enums: Vec<Enum>,
    enum_spans: Vec<(Span, Option<Span>)>,
}

struct Mixin<'a> {
    name: &'a Sp<String>,
    spec: &'a MixinSpec,
}

impl<'a> Resolver<'a> {
    pub(super) fn resolve_constraints(&mut self) {
        for table_index in 0..self.model_tables.len() {
            self.primary_key(table_index);
            self.column_constraints(table_index);
            if let Some((file, index)) = self.spans[table_index].source {
                let spec = &self.spec.files[file].tables[index].1;
                self.table_uniques(table_index, spec);
                self.table_foreign_keys(table_index, spec);
                self.table_indexes(table_index, spec);
                self.table_checks(table_index, spec);
                self.partition(table_index, spec);
                self.hash_columns(table_index, spec.hash.as_ref());
            } else {
                self.hash_columns(table_index, None);
            }
            self.column_type_constraints(table_index);
            self.triggers(table_index);
        }
        for table_index in 0..self.model_tables.len() {
            self.check_partition_keys(table_index);
        }
    }

    pub(super) fn table_spec(&self, table_index: usize) -> Option<&'a TableSpec> {
        self.spans[table_index].source.map(|(file, index)| &self.spec.files[file].tables[index].1)
    }

    pub(super) fn column_id(&mut self, table_index: usize, name: &Sp<String>, what: &str) -> Option<ColumnId> {
        let table = &self.model_tables[table_index];
        match table.column_by_name(&name.value) {
            Some(id) => Some(id),
            None => {
                let names: Vec<&str> = table.columns.iter().map(|c| c.name.as_str()).collect();
                let mut d = Diagnostic::error(name.span, format!("{what} names column `{}`, which table `{}` does not have", name.value, table.name))
                    .label("no such column");
                d = match did_you_mean(&name.value, names.iter().copied()) {
                    Some(s) => d.help(format!("did you mean `{s}`?")),
                    None => d.help(format!("the columns of `{}` are: {}", table.name, names.join(", "))),
                };
                self.diags.push(d);
                None
            }
        }
    }

    pub(super) fn render_name(&self, template: &str, parts: NameParts) -> String {
        naming::render(template, &parts, self.naming.limit)
    }

    pub(super) fn constraint_span(&self, table_index: usize, name: &str) -> Span {
        self.spans[table_index].constraint_spans.iter().find(|(n, _)| n == name).map(|(_, s)| *s).unwrap_or(self.spans[table_index].name)
    }

    pub(super) fn find_table(&mut self, name: &Sp<String>, what: &str) -> Option<TableId> {
        match self.model_tables.iter().position(|t| t.name == name.value) {
            Some(index) => Some(TableId(index)),
            None => {
                let names: Vec<&str> = self.model_tables.iter().map(|t| t.name.as_str()).collect();
                let mut d = Diagnostic::error(name.span, format!("{what} points at table `{}`, which does not exist", name.value)).label("no such table");
                d = match did_you_mean(&name.value, names.iter().copied()) {
                    Some(s) => d.help(format!("did you mean `{s}`?")),
                    None => d.help("define the table under `tables:`, or fix the name"),
                };
                self.diags.push(d);
                None
            }
        }
    }
}

impl ColumnType {
    /// Storage type during resolution, before the model exists.
    fn storage_in<'e>(&'e self, enums: &'e [Enum]) -> &'e ColumnType {
        match self {
            ColumnType::Enum(id) => &enums[id.0].storage,
            other => other,
        }
    }
}

pub(super) fn literal_text(value: &EnumLiteral) -> String {
    match value {
        EnumLiteral::Int(i) => i.to_string(),
        EnumLiteral::Str(s) => s.clone(),
    }
}

/// A type as the spec writes it, for messages.
pub fn type_text(ty: &ColumnType) -> String {
    match ty {
        ColumnType::SmallInt => "smallint".into(),
        ColumnType::Int => "int".into(),
        ColumnType::BigInt => "bigint".into(),
        ColumnType::Bool => "bool".into(),
        ColumnType::Float => "float".into(),
        ColumnType::Double => "double".into(),
        ColumnType::Decimal { precision, scale } => format!("decimal({precision},{scale})"),
        ColumnType::String { length } => format!("string({length})"),
        ColumnType::Text => "text".into(),
        ColumnType::DateTime => "datetime".into(),
        ColumnType::DateTimeTz => "datetimetz".into(),
        ColumnType::Date => "date".into(),
        ColumnType::Time => "time".into(),
        ColumnType::Uuid => "uuid".into(),
        ColumnType::Json => "json".into(),
        ColumnType::Bytes => "bytes".into(),
        ColumnType::Array(inner) => format!("array({})", type_text(inner)),
        ColumnType::Enum(id) => format!("enum(#{})", id.0),
    }
}
