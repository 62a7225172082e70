//! The diff of two models, in phases: each change is filed under the phase that keeps
//! its dependencies, and the phases are concatenated in a fixed order.
//!
//! Order matters for names and for dependencies: foreign keys go first (nothing can
//! refer to what is dropped next), then tables and other constraints; renames come
//! after every drop and before everything that adds or changes, so an object is called
//! by its `before` name up to the renames and by its `after` name from then on.

use std::collections::HashSet;

use crate::model::*;

use super::matching::Matching;
use super::{DestructiveChange, Operation};

/// A diff's operations in order, and what it found unsafe.
pub(crate) struct Outcome {
    pub operations: Vec<Operation>,
    pub destructive: Vec<DestructiveChange>,
    pub unsupported: Vec<String>,
}

/// Operations by phase; `Differ::run` concatenates them in declaration order.
#[derive(Default)]
pub(super) struct Phases {
    pub create_schema: Vec<Operation>,
    pub drop_foreign_keys: Vec<Operation>,
    pub drop_tables: Vec<Operation>,
    pub drop_constraints: Vec<Operation>,
    pub delete_rows: Vec<Operation>,
    pub drop_columns: Vec<Operation>,
    pub renames: Vec<Operation>,
    pub rename_constraints: Vec<Operation>,
    pub alter_columns: Vec<Operation>,
    pub create_tables: Vec<Operation>,
    pub add_columns: Vec<Operation>,
    pub add_constraints: Vec<Operation>,
    pub add_foreign_keys: Vec<Operation>,
    pub triggers_and_comments: Vec<Operation>,
    pub rows: Vec<Operation>,
}

impl Phases {
    fn in_order(self) -> [Vec<Operation>; 15] {
        [
            self.create_schema,
            self.drop_foreign_keys,
            self.drop_tables,
            self.drop_constraints,
            self.delete_rows,
            self.drop_columns,
            self.renames,
            self.rename_constraints,
            self.alter_columns,
            self.create_tables,
            self.add_columns,
            self.add_constraints,
            self.add_foreign_keys,
            self.triggers_and_comments,
            self.rows,
        ]
    }
}

pub(crate) struct Differ<'m> {
    pub before: &'m Model,
    pub after: &'m Model,
    pub matching: &'m Matching,
    /// Columns of `before` whose type, nullability, default or identity change: the
    /// constraints and indexes on them are rebuilt around the change (SQL Server refuses
    /// to alter a column they depend on).
    pub altered: HashSet<(TableId, ColumnId)>,
    pub phases: Phases,
    pub destructive: Vec<DestructiveChange>,
    pub unsupported: Vec<String>,
}

impl<'m> Differ<'m> {
    pub fn new(before: &'m Model, after: &'m Model, matching: &'m Matching) -> Self {
        let mut differ = Differ { before, after, matching, altered: HashSet::new(), phases: Phases::default(), destructive: vec![], unsupported: vec![] };
        differ.altered = differ.find_altered_columns();
        differ
    }

    pub fn run(mut self) -> Outcome {
        if self.before.tables.is_empty() && !self.after.tables.is_empty() {
            self.phases.create_schema.push(Operation::CreateSchema);
        }
        self.drop_removed_tables();
        for table in self.after.tables_in_dependency_order() {
            match self.matching.before_table(table) {
                None => self.create_table(table),
                Some(before) => self.change_table(before, table),
            }
        }
        // One change can file the same operation twice (a foreign key both on a changed
        // column and into a rebuilt key); it runs once, where first filed.
        let mut seen = HashSet::new();
        let operations = std::mem::take(&mut self.phases).in_order().into_iter().flatten().filter(|op| seen.insert(op.clone())).collect();
        Outcome { operations, destructive: self.destructive, unsupported: self.unsupported }
    }

    pub fn destructive(&mut self, key: String, why: String) {
        self.destructive.push(DestructiveChange { key, why });
    }

    fn find_altered_columns(&self) -> HashSet<(TableId, ColumnId)> {
        let mut altered = HashSet::new();
        for (index, table) in self.after.tables.iter().enumerate() {
            let Some(before_id) = self.matching.before_table(TableId(index)) else { continue };
            for (column_index, column) in table.columns.iter().enumerate() {
                if let Some(old) = self.matching.before_column(TableId(index), ColumnId(column_index)) {
                    if self.column_changed(self.before.table(before_id).column(old), column) {
                        altered.insert((before_id, old));
                    }
                }
            }
        }
        altered
    }

    /// Type (as stored), nullability, identity or default differ.
    pub fn column_changed(&self, before: &Column, after: &Column) -> bool {
        before.ty.storage(self.before) != after.ty.storage(self.after)
            || before.nullable != after.nullable
            || before.identity != after.identity
            || default_text(self.before, before) != default_text(self.after, after)
    }

    /// Tables that are gone, dependents first. A table's indexes, triggers, comments,
    /// rows and its own foreign keys go with it; only a foreign key into a table dropped
    /// earlier (a cycle) is dropped on its own first. Foreign keys of kept tables into a
    /// dropped table are dropped with the kept table's changes.
    fn drop_removed_tables(&mut self) {
        let dropped: Vec<TableId> = self.before.tables_in_dependency_order().into_iter().rev().filter(|t| self.matching.after_table(*t).is_none()).collect();
        for (position, &table) in dropped.iter().enumerate() {
            let t = self.before.table(table);
            let why = if t.codebook_of.is_some() { "removing a codebook deletes its rows, which data tables may reference" } else { "dropping a table deletes all its rows" };
            self.destructive(format!("drop table {}", t.name), why.to_string());
            for (index, fk) in t.foreign_keys.iter().enumerate() {
                if fk.referenced_table != table && dropped[..position].contains(&fk.referenced_table) {
                    self.phases.drop_foreign_keys.push(Operation::DropForeignKey(table, index));
                }
            }
            self.phases.drop_tables.push(Operation::DropTable(table));
        }
    }

    /// A new table: created with its columns and constraints, then its indexes,
    /// triggers and comments; foreign keys once every table exists; rows last.
    fn create_table(&mut self, table: TableId) {
        let t = self.after.table(table);
        self.phases.create_tables.push(Operation::CreateTable(table));
        for index in 0..t.indexes.len() {
            self.phases.create_tables.push(Operation::CreateIndex(table, index));
        }
        for trigger in 0..t.triggers.len() {
            self.phases.create_tables.push(Operation::CreateTrigger(table, trigger));
        }
        if t.comment.is_some() || t.columns.iter().any(|c| c.comment.is_some()) {
            self.phases.create_tables.push(Operation::SetComments(table));
        }
        for fk in 0..t.foreign_keys.len() {
            self.phases.add_foreign_keys.push(Operation::AddForeignKey(table, fk));
        }
        if t.codebook_of.is_some() {
            self.phases.rows.push(Operation::SeedCodebook(table));
        }
    }
}

/// A default compared by what it stores (an enum default by its value).
fn default_text(model: &Model, column: &Column) -> Option<String> {
    column.default.as_ref().map(|d| match d {
        DefaultValue::EnumValue(e, i) => format!("{:?}", model.enum_(*e).values[*i].value),
        other => format!("{other:?}"),
    })
}
