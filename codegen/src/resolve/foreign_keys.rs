//! Foreign keys: `references:` on a column and `foreign_keys:` on a table, their
//! targets, types and `on_delete`, and the rules SQL Server adds (cascade paths).

use super::{type_text, Resolver};
use crate::diagnostics::{did_you_mean, Diagnostic, Sp, Span};
use crate::model::*;
use crate::naming::NameParts;
use crate::spec::*;

impl<'a> Resolver<'a> {
    pub(super) fn on_delete(&mut self, value: Option<&Sp<String>>) -> OnDelete {
        match value.map(|v| (v.value.as_str(), v.span)) {
            None => OnDelete::NoAction,
            Some(("cascade", _)) => OnDelete::Cascade,
            Some(("set_null", _)) => OnDelete::SetNull,
            Some(("restrict", _)) => OnDelete::Restrict,
            Some(("no_action", _)) => OnDelete::NoAction,
            Some((other, span)) => {
                let options = ["cascade", "set_null", "restrict", "no_action"];
                let mut d = Diagnostic::error(span, format!("unknown `on_delete` value `{other}`")).label("unknown");
                d = match did_you_mean(other, options) {
                    Some(s) => d.help(format!("did you mean `{s}`?")),
                    None => d.help("the values are cascade, set_null, restrict, no_action"),
                };
                self.diags.push(d);
                OnDelete::NoAction
            }
        }
    }

    pub(super) fn table_foreign_keys(&mut self, table_index: usize, spec: &TableSpec) {
        // Column-level `references: table.column`.
        let specs = self.spans[table_index].column_specs.clone();
        for (position, column_spec) in specs.iter().enumerate() {
            let Some(reference) = &column_spec.references else {
                if let Some(on_delete) = &column_spec.on_delete {
                    self.diags.push(
                        Diagnostic::error(on_delete.span, "`on_delete` without `references`")
                            .label("nothing to delete from")
                            .help("add `references: table.column`, or remove `on_delete`"),
                    );
                }
                continue;
            };
            let Some((table, column)) = reference.value.split_once('.') else {
                self.diags.push(
                    Diagnostic::error(reference.span, format!("`references: {}` is not `table.column`", reference.value))
                        .label("expected `table.column`")
                        .help("write the referenced table and column, e.g. `references: app_groups.name`"),
                );
                continue;
            };
            let column_span = Span { start: reference.span.start + table.len() + 1, len: column.len(), column: reference.span.column + table.len() as u32 + 1, ..reference.span };
            let table_span = Span { len: table.len(), ..reference.span };
            let target_table = Sp::new(table.to_string(), table_span);
            let target_column = Sp::new(column.to_string(), column_span);
            let on_delete = self.on_delete(column_spec.on_delete.as_ref());
            self.add_foreign_key(table_index, vec![ColumnId(position)], &target_table, &[target_column], on_delete, None, reference.span);
        }
        for fk in &spec.foreign_keys {
            let columns: Vec<ColumnId> = fk.value.columns.iter().filter_map(|c| self.column_id(table_index, c, "foreign key")).collect();
            let Some(references) = &fk.value.references else { continue };
            if columns.len() != fk.value.columns.len() {
                continue;
            }
            let on_delete = self.on_delete(fk.value.on_delete.as_ref());
            self.add_foreign_key(table_index, columns, references, &fk.value.to, on_delete, fk.value.name.as_ref(), fk.span);
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn add_foreign_key(
        &mut self,
        table_index: usize,
        columns: Vec<ColumnId>,
        target: &Sp<String>,
        target_columns: &[Sp<String>],
        on_delete: OnDelete,
        explicit_name: Option<&Sp<String>>,
        span: Span,
    ) {
        let Some(target_table) = self.find_table(target, "foreign key") else { return };
        let mut referenced = Vec::new();
        for name in target_columns {
            match self.model_tables[target_table.0].column_by_name(&name.value) {
                Some(id) => referenced.push(id),
                None => {
                    let t = &self.model_tables[target_table.0];
                    let names: Vec<&str> = t.columns.iter().map(|c| c.name.as_str()).collect();
                    let mut d = Diagnostic::error(name.span, format!("foreign key points at column `{}.{}`, which does not exist", t.name, name.value))
                        .label("no such column");
                    d = match did_you_mean(&name.value, names.iter().copied()) {
                        Some(s) => d.help(format!("did you mean `{s}`?")),
                        None => d.help(format!("the columns of `{}` are: {}", t.name, names.join(", "))),
                    };
                    self.diags.push(d);
                    return;
                }
            }
        }
        let table_name = self.model_tables[table_index].name.clone();
        if referenced.len() != columns.len() {
            self.diags.push(
                Diagnostic::error(span, format!("foreign key of `{table_name}` has {} column(s) but points at {} column(s)", columns.len(), referenced.len()))
                    .label("column count mismatch")
                    .help("list as many columns in `to:` as in `columns:`, in matching order"),
            );
            return;
        }
        for (own, other) in columns.iter().zip(&referenced) {
            let own_column = &self.model_tables[table_index].columns[own.0];
            let other_column = &self.model_tables[target_table.0].columns[other.0];
            let own_ty = own_column.ty.storage_in(&self.enums);
            let other_ty = other_column.ty.storage_in(&self.enums);
            if own_ty != other_ty {
                let message = format!(
                    "foreign key column `{table_name}.{}` is `{}` but `{}.{}` is `{}`",
                    own_column.name,
                    type_text(own_ty),
                    self.model_tables[target_table.0].name,
                    other_column.name,
                    type_text(other_ty)
                );
                let other_span = self.spans[target_table.0].columns[other.0];
                self.diags.push(
                    Diagnostic::error(span, message)
                        .label("type mismatch")
                        .related(other_span, "the referenced column is defined here")
                        .help("give both columns the same type and length (SQL Server requires it for foreign keys)"),
                );
                return;
            }
            if on_delete == OnDelete::SetNull && !own_column.nullable {
                let name = own_column.name.clone();
                let own_span = self.spans[table_index].columns[own.0];
                self.diags.push(
                    Diagnostic::error(span, format!("`on_delete: set_null` but column `{table_name}.{name}` is NOT NULL"))
                        .label("cannot be set to NULL")
                        .related(own_span, "the column is defined NOT NULL here")
                        .help("make the column nullable, or choose another `on_delete`"),
                );
            }
        }
        let names: Vec<String> = self.model_tables[table_index].column_names(&columns).iter().map(|s| s.to_string()).collect();
        let name_refs: Vec<&str> = names.iter().map(|s| s.as_str()).collect();
        let name = match explicit_name {
            Some(n) => n.value.clone(),
            None => {
                let referred = self.model_tables[target_table.0].name.clone();
                self.render_name(&self.naming.foreign_key, NameParts { table: &table_name, columns: &name_refs, referred_table: &referred, ..Default::default() })
            }
        };
        self.spans[table_index].constraint_spans.push((name.clone(), explicit_name.map(|n| n.span).unwrap_or(span)));
        self.model_tables[table_index].foreign_keys.push(ForeignKey {
            name,
            columns,
            referenced_table: target_table,
            referenced_columns: referenced,
            on_delete,
        });
    }
}

impl Resolver<'_> {
    /// A foreign key must point at a primary key or a unique key of its target.
    pub(super) fn check_foreign_keys_point_at_keys(&mut self) {
        for table_index in 0..self.model_tables.len() {
            for fk_index in 0..self.model_tables[table_index].foreign_keys.len() {
                let fk = self.model_tables[table_index].foreign_keys[fk_index].clone();
                let target = &self.model_tables[fk.referenced_table.0];
                let mut wanted = fk.referenced_columns.clone();
                wanted.sort();
                let is_key = |columns: &[ColumnId]| {
                    let mut c = columns.to_vec();
                    c.sort();
                    c == wanted
                };
                let ok = is_key(&target.primary_key.columns)
                    || target.uniques.iter().any(|u| is_key(&u.columns))
                    || target.indexes.iter().any(|i| i.unique && i.predicate.is_none() && is_key(&i.columns.iter().map(|c| c.column).collect::<Vec<_>>()));
                if !ok && !target.primary_key.columns.is_empty() {
                    let columns = target.column_names(&fk.referenced_columns).join(", ");
                    let span = self.constraint_span(table_index, &fk.name);
                    let target_name = target.name.clone();
                    let target_span = self.spans[fk.referenced_table.0].name;
                    self.diags.push(
                        Diagnostic::error(span, format!("foreign key `{}` points at `{target_name}({columns})`, which is neither its primary key nor unique", fk.name))
                            .label("target is not a key")
                            .related(target_span, "the target table is defined here")
                            .help(format!("mark `{target_name}.{columns}` `unique: true` (or add it to `uniques:`), or point at the primary key")),
                    );
                }
            }
        }
    }

    /// SQL Server refuses a foreign key that would give a delete more than one cascade
    /// path to a table, or a cascade cycle (error 1785), and DacFx does not notice.
    /// Deleting from a parent cascades into every child whose foreign key says
    /// `cascade` or `set_null`; from every table, no table may be reached twice.
    pub(super) fn check_sql_server_cascade_paths(&mut self) {
        let cascades = |fk: &ForeignKey| matches!(fk.on_delete, OnDelete::Cascade | OnDelete::SetNull);
        // parent → [(child, fk index)]
        let mut edges: Vec<Vec<(usize, usize)>> = vec![Vec::new(); self.model_tables.len()];
        for (child, table) in self.model_tables.iter().enumerate() {
            for (index, fk) in table.foreign_keys.iter().enumerate() {
                if cascades(fk) {
                    edges[fk.referenced_table.0].push((child, index));
                }
            }
        }
        let mut reported = std::collections::HashSet::new();
        for start in 0..self.model_tables.len() {
            let mut reached = vec![false; self.model_tables.len()];
            reached[start] = true;
            let mut stack = vec![start];
            while let Some(table) = stack.pop() {
                for &(child, fk_index) in &edges[table] {
                    if !reached[child] {
                        reached[child] = true;
                        stack.push(child);
                        continue;
                    }
                    if !reported.insert((child, fk_index)) {
                        continue;
                    }
                    let fk = &self.model_tables[child].foreign_keys[fk_index];
                    let (fk_name, child_name) = (fk.name.clone(), self.model_tables[child].name.clone());
                    let start_name = self.model_tables[start].name.clone();
                    let span = self.constraint_span(child, &fk_name);
                    self.diags.push(
                        Diagnostic::error(span, format!("foreign key `{fk_name}` gives deletes from `{start_name}` a second cascade path (or a cycle) to `{child_name}`"))
                            .label("second cascade path")
                            .help("SQL Server refuses multiple cascade paths (error 1785): make this foreign key `on_delete: no_action` (or `restrict`), or drop `mssql` from `project.dialects`"),
                    );
                }
            }
        }
    }
}
