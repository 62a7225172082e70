//! Primary keys, unique constraints and indexes (with their `where` predicates).

use super::Resolver;
use crate::diagnostics::{Diagnostic, Sp};
use crate::model::*;
use crate::naming::NameParts;
use crate::spec::*;

impl<'a> Resolver<'a> {
    pub(super) fn primary_key(&mut self, table_index: usize) {
        let spec = self.table_spec(table_index);
        let table_name = self.model_tables[table_index].name.clone();
        let columns: Vec<ColumnId> = match spec.and_then(|s| s.primary_key.as_ref()) {
            Some(list) => list.value.iter().filter_map(|c| self.column_id(table_index, c, "`primary_key`")).collect(),
            None => self.spans[table_index]
                .column_specs
                .iter()
                .enumerate()
                .filter(|(_, c)| c.primary_key.as_ref().is_some_and(|p| p.value))
                .map(|(i, _)| ColumnId(i))
                .collect(),
        };
        if columns.is_empty() {
            let explicit = spec.and_then(|s| s.primary_key.as_ref()).is_some();
            if !explicit {
                self.diags.push(
                    Diagnostic::error(self.spans[table_index].name, format!("table `{table_name}` has no primary key"))
                        .label("no primary key")
                        .help("mark a column `primary_key: true`, list the key columns in `primary_key: [a, b]`, or use a mixin that has one"),
                );
            }
            return;
        }
        for id in &columns {
            let column = &self.model_tables[table_index].columns[id.0];
            if column.nullable {
                let name = column.name.clone();
                self.diags.push(
                    Diagnostic::error(self.spans[table_index].columns[id.0], format!("primary key column `{name}` of table `{table_name}` is nullable"))
                        .label("nullable key column")
                        .help("primary key columns are NOT NULL; remove `nullable: true` or the `?`"),
                );
            }
        }
        // Where the key is written: the table's `primary_key:` list, else the first
        // column marked `primary_key: true`.
        self.spans[table_index].primary_key = match spec.and_then(|s| s.primary_key.as_ref()) {
            Some(list) => list.span,
            None => self.spans[table_index].column_specs[columns[0].0].primary_key.as_ref().map_or(self.spans[table_index].columns[columns[0].0], |p| p.span),
        };
        let names: Vec<&str> = self.model_tables[table_index].column_names(&columns);
        let name = self.render_name(&self.naming.primary_key, NameParts { table: &table_name, columns: &names, ..Default::default() });
        let table_span = self.spans[table_index].name;
        self.spans[table_index].constraint_spans.push((name.clone(), table_span));
        self.model_tables[table_index].primary_key = Key { name, columns };
    }

    /// What is written on a column besides its type: `unique`, `index`, `check`, and
    /// the name of its default. One column after another, so the constraints keep the
    /// order of the columns.
    pub(super) fn column_constraints(&mut self, table_index: usize) {
        for position in 0..self.model_tables[table_index].columns.len() {
            let column = ColumnId(position);
            self.column_unique(table_index, column);
            self.column_index(table_index, column);
            self.column_check(table_index, column);
            self.default_constraint_name(table_index, column);
        }
    }

    /// `unique: true` on a column.
    fn column_unique(&mut self, table_index: usize, column: ColumnId) {
        if !self.spans[table_index].column_specs[column.0].unique.as_ref().is_some_and(|u| u.value) {
            return;
        }
        let table_name = self.model_tables[table_index].name.clone();
        let column_name = self.model_tables[table_index].column(column).name.clone();
        let name = self.render_name(&self.naming.unique, NameParts { table: &table_name, columns: &[&column_name], ..Default::default() });
        let column_span = self.spans[table_index].columns[column.0];
        self.spans[table_index].constraint_spans.push((name.clone(), column_span));
        self.model_tables[table_index].uniques.push(Key { name, columns: vec![column] });
    }

    /// `index: true` on a column.
    fn column_index(&mut self, table_index: usize, column: ColumnId) {
        if !self.spans[table_index].column_specs[column.0].index.as_ref().is_some_and(|i| i.value) {
            return;
        }
        let table_name = self.model_tables[table_index].name.clone();
        let column_name = self.model_tables[table_index].column(column).name.clone();
        let name = self.render_name(&self.naming.index, NameParts { table: &table_name, columns: &[&column_name], ..Default::default() });
        let column_span = self.spans[table_index].columns[column.0];
        self.spans[table_index].constraint_spans.push((name.clone(), column_span));
        self.model_tables[table_index].indexes.push(Index { name, columns: vec![IndexColumn { column, descending: false }], unique: false, predicate: None });
    }

    pub(super) fn table_uniques(&mut self, table_index: usize, spec: &TableSpec) {
        let table_name = self.model_tables[table_index].name.clone();
        for unique in &spec.uniques {
            let columns: Vec<ColumnId> = unique.value.iter().filter_map(|c| self.column_id(table_index, c, "`uniques`")).collect();
            if columns.len() != unique.value.len() || columns.is_empty() {
                continue;
            }
            let names: Vec<&str> = self.model_tables[table_index].column_names(&columns);
            let name = self.render_name(&self.naming.unique, NameParts { table: &table_name, columns: &names, ..Default::default() });
            self.spans[table_index].constraint_spans.push((name.clone(), unique.span));
            self.model_tables[table_index].uniques.push(Key { name, columns });
        }
    }

    pub(super) fn table_indexes(&mut self, table_index: usize, spec: &TableSpec) {
        let table_name = self.model_tables[table_index].name.clone();
        for index in &spec.indexes {
            let mut columns = Vec::new();
            for column in &index.value.columns {
                let (name, descending) = match column.value.rsplit_once(' ') {
                    Some((name, order)) if order.eq_ignore_ascii_case("desc") => (name.trim(), true),
                    Some((name, order)) if order.eq_ignore_ascii_case("asc") => (name.trim(), false),
                    Some((_, order)) => {
                        self.diags.push(
                            Diagnostic::error(column.span, format!("unknown sort order `{order}` in index column `{}`", column.value))
                                .label("expected `asc` or `desc`")
                                .help("write `\"column desc\"` or just the column name"),
                        );
                        continue;
                    }
                    None => (column.value.as_str(), false),
                };
                if let Some(id) = self.column_id(table_index, &Sp::new(name.to_string(), column.span), "index") {
                    columns.push(IndexColumn { column: id, descending });
                }
            }
            if columns.len() != index.value.columns.len() || columns.is_empty() {
                continue;
            }
            let predicate = match &index.value.where_clause {
                None => None,
                Some(w) => match &w.value {
                    WhereSpec::Raw(raw) => self.dialect_sql(raw, w.span).map(Predicate::Raw),
                    WhereSpec::Equals(pairs) => {
                        let mut resolved = Vec::new();
                        for (column, literal) in pairs {
                            if let Some(id) = self.column_id(table_index, column, "index `where`") {
                                let value = match &literal.value {
                                    LiteralSpec::Null => Literal::Null,
                                    LiteralSpec::Bool(b) => Literal::Bool(*b),
                                    LiteralSpec::Int(i) => Literal::Int(*i),
                                    LiteralSpec::Float(f) => Literal::Float(*f),
                                    LiteralSpec::Str(s) => Literal::Str(s.clone()),
                                };
                                resolved.push((id, value));
                            }
                        }
                        Some(Predicate::Equals(resolved))
                    }
                },
            };
            let unique = index.value.unique.as_ref().is_some_and(|u| u.value);
            let column_names: Vec<String> = columns.iter().map(|c| self.model_tables[table_index].columns[c.column.0].name.clone()).collect();
            let refs: Vec<&str> = column_names.iter().map(|s| s.as_str()).collect();
            let name = match &index.value.name {
                Some(n) => n.value.clone(),
                None => {
                    let template = if unique { &self.naming.unique } else { &self.naming.index };
                    self.render_name(template, NameParts { table: &table_name, columns: &refs, ..Default::default() })
                }
            };
            self.spans[table_index].constraint_spans.push((name.clone(), index.value.name.as_ref().map(|n| n.span).unwrap_or(index.span)));
            self.model_tables[table_index].indexes.push(Index { name, columns, unique, predicate });
        }
    }
}
