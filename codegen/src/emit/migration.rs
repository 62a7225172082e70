//! The walk every SQL dialect shares: one exhaustive match over plan operations, each
//! turned into a statement by the dialect's words ([`SqlDialect`]). Names come from the
//! plan's [`Timeline`], so a statement names every object as it is called when the
//! statement runs; a dialect module only spells them.

use serde::Serialize;

use crate::model::*;
use crate::plan::{ConstraintKind, Current, Names, Operation, Side, Timeline};

/// The words of one SQL dialect: one statement (a view for its migration template)
/// per kind of operation. `None` where the dialect has nothing to do.
pub trait SqlDialect {
    type Statement: Serialize;

    fn create_schema(&self, model: &Model) -> Option<Self::Statement>;
    fn create_table(&self, table: &Current) -> Self::Statement;
    /// With everything that goes with the table.
    fn drop_table(&self, table: &Current) -> Self::Statement;
    /// `renamed` is the table in the model it is renamed into.
    fn rename_table(&self, table: &Current, renamed: &Current) -> Self::Statement;
    fn add_column(&self, table: &Current, column: ColumnId) -> Self::Statement;
    fn drop_column(&self, table: &Current, column: ColumnId) -> Self::Statement;
    fn rename_column(&self, table: &Current, from: &str, to: &str) -> Self::Statement;
    /// `column` of `table` takes its definition; `was` holds the old one.
    fn alter_column(&self, table: &Current, column: ColumnId, was: &Current, was_column: ColumnId) -> Self::Statement;
    fn add_primary_key(&self, table: &Current) -> Self::Statement;
    fn add_unique(&self, table: &Current, unique: usize) -> Self::Statement;
    fn add_check(&self, table: &Current, check: usize) -> Option<Self::Statement>;
    fn drop_check(&self, table: &Current, check: usize) -> Option<Self::Statement>;
    fn create_index(&self, table: &Current, index: usize) -> Self::Statement;
    fn drop_index(&self, table: &Current, index: usize) -> Self::Statement;
    fn add_foreign_key(&self, table: &Current, foreign_key: usize, target: &Current) -> Self::Statement;
    /// A primary key, unique constraint or foreign key, by its current name.
    fn drop_constraint(&self, table: &Current, name: &str) -> Self::Statement;
    fn rename_constraint(&self, table: &Current, kind: ConstraintKind, from: &str, to: &str) -> Option<Self::Statement>;
    fn create_trigger(&self, table: &Current, trigger: usize) -> Self::Statement;
    fn drop_trigger(&self, table: &Current, trigger: usize) -> Self::Statement;
    /// Every comment of a new table.
    fn set_comments(&self, table: &Current) -> Self::Statement;
    fn set_table_comment(&self, table: &Current) -> Self::Statement;
    fn set_column_comment(&self, table: &Current, column: ColumnId) -> Self::Statement;
    fn seed_codebook(&self, table: &Current) -> Self::Statement;
    fn insert_codebook_row(&self, table: &Current, value: usize) -> Self::Statement;
    fn delete_codebook_row(&self, table: &Current, value: usize) -> Self::Statement;
    fn update_codebook_row(&self, table: &Current, value: usize, was: &Current, was_value: usize) -> Self::Statement;
}

/// The statements of an operation list that turns `before` into `after`.
pub fn statements<D: SqlDialect>(dialect: &D, before: &Model, after: &Model, operations: &[Operation]) -> Vec<D::Statement> {
    let timeline = Timeline::of(operations);
    operations
        .iter()
        .enumerate()
        .filter_map(|(position, operation)| {
            let names = timeline.at(before, after, position);
            statement(dialect, &names, operation)
        })
        .collect()
}

fn statement<D: SqlDialect>(d: &D, names: &Names, operation: &Operation) -> Option<D::Statement> {
    use Operation::*;
    Some(match operation {
        CreateSchema => return d.create_schema(names.model(Side::After)),
        CreateTable(t) => d.create_table(&names.after(*t)),
        DropTable(t) => d.drop_table(&names.before(*t)),
        RenameTable { before, after } => {
            let table = names.before(*before);
            let renamed = names.after(*after);
            // `renamed` is looked up before the rename has run; its target name is the model's.
            let target = renamed.with_name(&renamed.table.name);
            d.rename_table(&table, &target)
        }
        AddColumn((t, c)) => d.add_column(&names.after(*t), *c),
        DropColumn((t, c)) => d.drop_column(&names.before(*t), *c),
        RenameColumn { before: (tb, cb), after: (ta, ca) } => {
            let table = names.after(*ta);
            let from = names.before(*tb).column(*cb);
            d.rename_column(&table, from, &table.table.column(*ca).name)
        }
        AlterColumn { before: (tb, cb), after: (ta, ca) } => d.alter_column(&names.after(*ta), *ca, &names.before(*tb), *cb),
        AddPrimaryKey(t) => d.add_primary_key(&names.after(*t)),
        DropPrimaryKey(t) => {
            let table = names.before(*t);
            d.drop_constraint(&table, table.constraint(&table.table.primary_key.name))
        }
        AddUnique(t, i) => d.add_unique(&names.after(*t), *i),
        DropUnique(t, i) => {
            let table = names.before(*t);
            d.drop_constraint(&table, table.constraint(&table.table.uniques[*i].name))
        }
        AddCheck(t, i) => return d.add_check(&names.after(*t), *i),
        DropCheck(t, i) => return d.drop_check(&names.before(*t), *i),
        CreateIndex(t, i) => d.create_index(&names.after(*t), *i),
        DropIndex(t, i) => d.drop_index(&names.before(*t), *i),
        AddForeignKey(t, i) => {
            let table = names.after(*t);
            let target = names.after(table.table.foreign_keys[*i].referenced_table);
            d.add_foreign_key(&table, *i, &target)
        }
        DropForeignKey(t, i) => {
            let table = names.before(*t);
            d.drop_constraint(&table, table.constraint(&table.table.foreign_keys[*i].name))
        }
        RenameConstraint { table: (_, ta), kind, before, after } => return d.rename_constraint(&names.after(*ta), *kind, before, after),
        CreateTrigger(t, i) => d.create_trigger(&names.after(*t), *i),
        DropTrigger(t, i) => d.drop_trigger(&names.before(*t), *i),
        SetComments(t) => d.set_comments(&names.after(*t)),
        SetTableComment(t) => d.set_table_comment(&names.after(*t)),
        SetColumnComment((t, c)) => d.set_column_comment(&names.after(*t), *c),
        SeedCodebook(t) => d.seed_codebook(&names.after(*t)),
        InsertCodebookRow(t, v) => d.insert_codebook_row(&names.after(*t), *v),
        DeleteCodebookRow(t, v) => d.delete_codebook_row(&names.before(*t), *v),
        UpdateCodebookRow { before: (tb, vb), after: (ta, va) } => d.update_codebook_row(&names.after(*ta), *va, &names.before(*tb), *vb),
    })
}
