//! Stage 3, plan: what a migration does, as dialect-neutral operations in an order where
//! dependencies hold. Each dialect renders the same plan; `down` is the inverse plan.

use crate::model::{ColumnId, Model, TableId};

/// One schema change. Indices point into the model the plan was made for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Operation {
    /// A table with its columns, defaults, primary key, unique and check constraints
    /// (and, on PostgreSQL, its partitioning).
    CreateTable(TableId),
    DropTable(TableId),
    CreateIndex(TableId, usize),
    DropIndex(TableId, usize),
    AddForeignKey(TableId, usize),
    DropForeignKey(TableId, usize),
    /// The `on_update: now` trigger (and its PostgreSQL function).
    CreateTrigger(TableId, usize),
    DropTrigger(TableId, usize),
    /// Table and column comments of one table.
    SetComments(TableId),
    RemoveComments(TableId),
    /// Insert every value of the codebook's enum.
    SeedCodebook(TableId),
    UnseedCodebook(TableId),
}

/// A migration: operations to apply, and the operations that undo them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Plan {
    pub up: Vec<Operation>,
    pub down: Vec<Operation>,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.up.is_empty()
    }
}

/// The first migration: create everything. Tables come in dependency order, each
/// followed by its indexes, triggers and comments; a foreign key is added as soon as
/// the table it points at exists (right after its own table, or, for cycles, once the
/// later table is created); codebooks are seeded once everything exists.
pub fn initial(model: &Model) -> Plan {
    let order = model.tables_in_dependency_order();
    let mut up = Vec::new();
    let mut created = vec![false; model.tables.len()];
    let mut pending_foreign_keys: Vec<(TableId, usize)> = Vec::new();
    for &table_id in &order {
        let table = model.table(table_id);
        up.push(Operation::CreateTable(table_id));
        created[table_id.0] = true;
        for index in 0..table.indexes.len() {
            up.push(Operation::CreateIndex(table_id, index));
        }
        for trigger in 0..table.triggers.len() {
            up.push(Operation::CreateTrigger(table_id, trigger));
        }
        if has_comments(model, table_id) {
            up.push(Operation::SetComments(table_id));
        }
        pending_foreign_keys.extend((0..table.foreign_keys.len()).map(|fk| (table_id, fk)));
        pending_foreign_keys.retain(|&(owner, fk)| {
            let target = model.table(owner).foreign_keys[fk].referenced_table;
            if created[target.0] {
                up.push(Operation::AddForeignKey(owner, fk));
                false
            } else {
                true
            }
        });
    }
    for &table_id in &order {
        if model.table(table_id).codebook_of.is_some() {
            up.push(Operation::SeedCodebook(table_id));
        }
    }
    let down = up.iter().rev().map(inverse).collect();
    Plan { up, down }
}

fn has_comments(model: &Model, table_id: TableId) -> bool {
    let table = model.table(table_id);
    table.comment.is_some() || table.columns.iter().any(|c| c.comment.is_some())
}

/// The operation that undoes `operation`.
pub fn inverse(operation: &Operation) -> Operation {
    use Operation::*;
    match *operation {
        CreateTable(t) => DropTable(t),
        DropTable(t) => CreateTable(t),
        CreateIndex(t, i) => DropIndex(t, i),
        DropIndex(t, i) => CreateIndex(t, i),
        AddForeignKey(t, i) => DropForeignKey(t, i),
        DropForeignKey(t, i) => AddForeignKey(t, i),
        CreateTrigger(t, i) => DropTrigger(t, i),
        DropTrigger(t, i) => CreateTrigger(t, i),
        SetComments(t) => RemoveComments(t),
        RemoveComments(t) => SetComments(t),
        SeedCodebook(t) => UnseedCodebook(t),
        UnseedCodebook(t) => SeedCodebook(t),
    }
}

/// Columns that a row insert must not set: identity and columns the database fills.
pub fn is_database_filled(model: &Model, table: TableId, column: ColumnId) -> bool {
    let column = model.table(table).column(column);
    column.identity || column.default.is_some() || column.on_update_now
}
