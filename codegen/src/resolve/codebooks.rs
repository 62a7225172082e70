//! Codebooks: the table generated for an int enum from the `codebook` mixin, its
//! shape, and the foreign key from every column of the enum to it.

use std::collections::HashMap;

use super::names::check_identifier;
use super::{Mixin, Resolver};
use crate::diagnostics::{Diagnostic, Sp};
use crate::model::*;
use crate::naming::NameParts;
use crate::spec::*;

impl<'a> Resolver<'a> {
    pub(super) fn build_codebook_tables(&mut self, mixins: &HashMap<&'a str, Mixin<'a>>) {
        for enum_index in 0..self.enums.len() {
            let Some(codebook_span) = self.enum_spans[enum_index].1 else { continue };
            let codebook_name = self.codebook_name(enum_index);
            let Some(mixin) = mixins.get("codebook") else {
                self.diags.push(
                    Diagnostic::error(codebook_span, format!("enum `{}` has a codebook but no `codebook` mixin exists", self.enums[enum_index].name))
                        .label("codebook needs the `codebook` mixin")
                        .help("define `mixins: { codebook: { head: { id: { type: int, primary_key: true, role: enum_value }, description: { type: string(128), role: enum_description } } } }`"),
                );
                continue;
            };
            let name = Sp::new(codebook_name.clone(), codebook_span);
            if !check_identifier(self.diags, &name, "codebook table") || self.model_tables.iter().any(|t| t.name == codebook_name) {
                continue;
            }
            let columns: Vec<(Sp<String>, ColumnSpec)> = mixin.spec.head.iter().chain(mixin.spec.tail.iter()).cloned().collect();
            let comment = self.enums[enum_index].comment.clone().or_else(|| Some(format!("Codebook of the `{}` enum.", self.enums[enum_index].name)));
            let (mut table, spans) = self.new_table(&name, comment, &columns);
            table.codebook_of = Some(EnumId(enum_index));
            self.check_codebook_shape(&table, &name, enum_index);
            self.enums[enum_index].codebook = Some(TableId(self.model_tables.len()));
            self.model_tables.push(table);
            self.spans.push(spans);
        }
    }

    pub(super) fn codebook_name(&self, enum_index: usize) -> String {
        let mut index = 0;
        for file in &self.spec.files {
            for (_, spec) in &file.enums {
                if index == enum_index {
                    return spec.codebook.as_ref().map(|c| c.value.clone()).unwrap_or_default();
                }
                index += 1;
            }
        }
        String::new()
    }

    /// A codebook needs its `enum_value` column to hold the enum's values.
    pub(super) fn check_codebook_shape(&mut self, table: &Table, name: &Sp<String>, enum_index: usize) {
        let enum_ = &self.enums[enum_index];
        let value_column = table.role(Role::EnumValue).map(|id| table.column(id));
        match value_column {
            None => self.diags.push(
                Diagnostic::error(name.span, format!("codebook `{}` has no column with `role: enum_value`", name.value))
                    .label("codebook")
                    .help("give the `codebook` mixin's id column `role: enum_value`"),
            ),
            Some(column) if column.ty != enum_.storage => self.diags.push(
                Diagnostic::error(name.span, format!("codebook `{}` stores `{}` values in a column that is not `int`", name.value, enum_.name))
                    .label("codebook")
                    .help("codebooks hold `type: int` enums; drop `codebook:` from a string enum (it gets a CHECK constraint instead)"),
            ),
            Some(_) => {}
        }
        if table.role(Role::EnumDescription).is_none() {
            self.diags.push(
                Diagnostic::error(name.span, format!("codebook `{}` has no column with `role: enum_description`", name.value))
                    .label("codebook")
                    .help("give the `codebook` mixin a `description: { type: string(128), role: enum_description }` column"),
            );
        }
    }

    /// An int enum with a codebook: its columns point at the codebook's value column.
    pub(super) fn enum_codebook_foreign_key(&mut self, table_index: usize, column: ColumnId, codebook: TableId) {
        let Some(value_column) = self.model_tables[codebook.0].role(Role::EnumValue) else { return };
        let table_name = self.model_tables[table_index].name.clone();
        let column_name = self.model_tables[table_index].column(column).name.clone();
        let referred = self.model_tables[codebook.0].name.clone();
        let name = self.render_name(&self.naming.foreign_key, NameParts { table: &table_name, columns: &[&column_name], referred_table: &referred, ..Default::default() });
        let column_span = self.spans[table_index].columns[column.0];
        self.spans[table_index].constraint_spans.push((name.clone(), column_span));
        self.model_tables[table_index].foreign_keys.push(ForeignKey {
            name,
            columns: vec![column],
            referenced_table: codebook,
            referenced_columns: vec![value_column],
            on_delete: OnDelete::NoAction,
        });
    }
}
