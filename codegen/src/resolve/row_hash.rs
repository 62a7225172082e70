//! Which columns the row hash covers (`hash:` and the column roles).

use super::Resolver;
use crate::diagnostics::{Diagnostic, Sp};
use crate::model::*;
use crate::spec::*;

impl<'a> Resolver<'a> {
    /// Which columns the row hash covers: by default every column without a role and
    /// without identity (codebooks: their value and description), minus `hash: false`
    /// columns; `hash: { exclude }` removes, `hash: { only }` picks.
    pub(super) fn hash_columns(&mut self, table_index: usize, spec: Option<&Sp<HashSpec>>) {
        let table = &self.model_tables[table_index];
        let is_codebook = table.codebook_of.is_some();
        let column_specs = &self.spans[table_index].column_specs;
        let mut selected: Vec<ColumnId> = table
            .columns
            .iter()
            .enumerate()
            .filter(|(i, c)| {
                let default_in = match c.role {
                    None => !c.identity,
                    Some(Role::EnumValue | Role::EnumDescription) => is_codebook,
                    Some(_) => false,
                };
                default_in && column_specs.get(*i).and_then(|s| s.hash.as_ref()).is_none_or(|h| h.value)
            })
            .map(|(i, _)| ColumnId(i))
            .collect();
        if let Some(spec) = spec {
            if spec.value.exclude.is_some() && spec.value.only.is_some() {
                self.diags.push(
                    Diagnostic::error(spec.span, "`hash` has both `exclude` and `only`").label("pick one").help("use `only` to list the hashed columns, or `exclude` to drop some"),
                );
            }
            if let Some(exclude) = &spec.value.exclude {
                for name in exclude {
                    if let Some(id) = self.column_id(table_index, name, "`hash.exclude`") {
                        selected.retain(|c| *c != id);
                    }
                }
            }
            if let Some(only) = &spec.value.only {
                selected = only.iter().filter_map(|name| self.column_id(table_index, name, "`hash.only`")).collect();
            }
        }
        let table = &self.model_tables[table_index];
        if let Some(hash_role) = table.role(Role::Hash) {
            selected.retain(|c| *c != hash_role);
        }
        selected.sort_by(|a, b| table.columns[a.0].name.cmp(&table.columns[b.0].name));
        selected.dedup();
        self.model_tables[table_index].hash_columns = selected;
    }
}
