//! Stage 3, plan: what a migration does, as dialect-neutral operations in an order where
//! dependencies hold. Each dialect renders the same plan.
//!
//! A plan turns a `before` model (the last migrated schema, from the snapshot) into an
//! `after` model (the spec now). Operations that create refer into `after`, operations
//! that drop refer into `before`, and changes refer into both.
//!
//! `down` is not the up plan inverted operation by operation: it is the plan from
//! `after` back to `before`, made by the same rules with the same correspondence of
//! tables and columns (`matching`). So a down is as short as its change (a created
//! table is dropped, not emptied and stripped first) and keeps the same phase order;
//! its operations refer into the models the other way round (render it with the
//! models swapped).
//!
//! Every object is named as it is called when its statement runs: [`names`] follows
//! the renames through an operation list, and emit asks it for every name.

mod changes;
mod differ;
mod matching;
pub mod names;
mod safety;

use crate::model::*;

pub use names::{Current, Names, Side, Timeline};

/// A column in one of the two models.
pub type ColumnRef = (TableId, ColumnId);

/// One schema change. Ids point into the plan's `before` model for what is removed,
/// into `after` for what is created, and into both for what changes.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Operation {
    /// The schema the tables live in, where it may not exist yet: the first operation of
    /// a migration that creates tables in an empty database. Never dropped again (other
    /// objects may live there). Refers to `after`'s project.
    CreateSchema,
    /// A table with its columns, defaults, primary key, unique and check constraints
    /// (and, on PostgreSQL, its partitioning). Refers into `after`.
    CreateTable(TableId),
    /// The table and everything that goes with it (indexes, triggers, comments, rows).
    /// Refers into `before`.
    DropTable(TableId),
    RenameTable { before: TableId, after: TableId },
    AddColumn(ColumnRef),
    DropColumn(ColumnRef),
    RenameColumn { before: ColumnRef, after: ColumnRef },
    /// Type, nullability, default or identity changed.
    AlterColumn { before: ColumnRef, after: ColumnRef },
    AddPrimaryKey(TableId),
    DropPrimaryKey(TableId),
    AddUnique(TableId, usize),
    DropUnique(TableId, usize),
    AddCheck(TableId, usize),
    DropCheck(TableId, usize),
    CreateIndex(TableId, usize),
    DropIndex(TableId, usize),
    AddForeignKey(TableId, usize),
    DropForeignKey(TableId, usize),
    /// A kept constraint, index or named default whose name changed (a renamed table
    /// or column, or a new naming convention).
    RenameConstraint { table: (TableId, TableId), kind: ConstraintKind, before: String, after: String },
    /// The `on_update: now` trigger (and its PostgreSQL function).
    CreateTrigger(TableId, usize),
    DropTrigger(TableId, usize),
    /// Table and column comments of a new table.
    SetComments(TableId),
    /// A kept table's comment changed: set `after`'s (or none).
    SetTableComment(TableId),
    /// A column's comment changed, or an added column has one: set `after`'s (or none).
    SetColumnComment(ColumnRef),
    /// Insert every value of a new codebook's enum.
    SeedCodebook(TableId),
    /// One codebook row: (codebook table, index into its enum's values).
    InsertCodebookRow(TableId, usize),
    DeleteCodebookRow(TableId, usize),
    /// Same stored value, new description or deprecation.
    UpdateCodebookRow { before: (TableId, usize), after: (TableId, usize) },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ConstraintKind {
    PrimaryKey,
    Unique,
    Check,
    ForeignKey,
    Index,
    /// SQL Server's named default constraints; PostgreSQL has no such object.
    Default,
}

/// A migration: operations to apply, and the operations that undo them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Plan {
    /// From `before` to `after`.
    pub up: Vec<Operation>,
    /// From `after` back to `before`: ids that remove point into `after`, ids that
    /// create into `before`.
    pub down: Vec<Operation>,
    /// Changes that lose data or can fail on existing rows; refused unless allowed.
    pub destructive: Vec<DestructiveChange>,
    /// Changes no migration can express (e.g. re-partitioning); always refused.
    pub unsupported: Vec<String>,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.up.is_empty()
    }
}

/// A change that loses data: the acknowledgement that allows it (`key`, also accepted
/// under `allow_destructive:` in the spec) and why it loses data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DestructiveChange {
    pub key: String,
    pub why: String,
}

/// The first migration: everything in `model`, from nothing.
pub fn initial(model: &Model) -> Plan {
    diff(&Model::empty_like(model), model)
}

/// The operations that turn `before` into `after`, and back.
pub fn diff(before: &Model, after: &Model) -> Plan {
    let matching = matching::Matching::find(before, after);
    let up = differ::Differ::new(before, after, &matching).run();
    // Going back, what was dropped is created and what was created is dropped; what was
    // destructive one way is not refused the other (the up was acknowledged).
    let down = differ::Differ::new(after, before, &matching.reversed()).run();
    Plan { up: up.operations, down: down.operations, destructive: up.destructive, unsupported: up.unsupported }
}

/// One line per change, for `dcgen check`: what the pending migration would do.
pub fn summary(plan: &Plan, before: &Model, after: &Model) -> Vec<String> {
    let tb = |t: TableId| before.table(t).name.clone();
    let ta = |t: TableId| after.table(t).name.clone();
    let column_a = |(t, c): ColumnRef| format!("{}.{}", ta(t), after.table(t).column(c).name);
    plan.up
        .iter()
        .map(|op| match op {
            Operation::CreateSchema => format!("create schema {} if missing", after.project.schema_postgres),
            Operation::CreateTable(t) => format!("create table {}", ta(*t)),
            Operation::DropTable(t) => format!("drop table {}", tb(*t)),
            Operation::RenameTable { before: b, after: a } => format!("rename table {} to {}", tb(*b), ta(*a)),
            Operation::AddColumn(c) => format!("add column {}", column_a(*c)),
            Operation::DropColumn((t, c)) => format!("drop column {}.{}", tb(*t), before.table(*t).column(*c).name),
            Operation::RenameColumn { before: (tb_, cb), after: (ta_, ca) } => format!("rename column {}.{} to {}", tb(*tb_), before.table(*tb_).column(*cb).name, after.table(*ta_).column(*ca).name),
            Operation::AlterColumn { after: c, .. } => format!("alter column {}", column_a(*c)),
            Operation::AddPrimaryKey(t) => format!("add primary key {}", after.table(*t).primary_key.name),
            Operation::DropPrimaryKey(t) => format!("drop primary key {}", before.table(*t).primary_key.name),
            Operation::AddUnique(t, i) => format!("add unique {}", after.table(*t).uniques[*i].name),
            Operation::DropUnique(t, i) => format!("drop unique {}", before.table(*t).uniques[*i].name),
            Operation::AddCheck(t, i) => format!("add check {}", after.table(*t).checks[*i].name),
            Operation::DropCheck(t, i) => format!("drop check {}", before.table(*t).checks[*i].name),
            Operation::CreateIndex(t, i) => format!("create index {}", after.table(*t).indexes[*i].name),
            Operation::DropIndex(t, i) => format!("drop index {}", before.table(*t).indexes[*i].name),
            Operation::AddForeignKey(t, i) => format!("add foreign key {}", after.table(*t).foreign_keys[*i].name),
            Operation::DropForeignKey(t, i) => format!("drop foreign key {}", before.table(*t).foreign_keys[*i].name),
            Operation::RenameConstraint { before: b, after: a, .. } => format!("rename {b} to {a}"),
            Operation::CreateTrigger(t, i) => format!("create trigger {}", after.table(*t).triggers[*i].name),
            Operation::DropTrigger(t, i) => format!("drop trigger {}", before.table(*t).triggers[*i].name),
            Operation::SetComments(t) | Operation::SetTableComment(t) => format!("comment on {}", ta(*t)),
            Operation::SetColumnComment(c) => format!("comment on {}", column_a(*c)),
            Operation::SeedCodebook(t) => format!("seed codebook {}", ta(*t)),
            Operation::InsertCodebookRow(t, v) => format!("insert codebook row {}.{}", ta(*t), codebook_key(after, *t, *v)),
            Operation::DeleteCodebookRow(t, v) => format!("delete codebook row {}.{}", tb(*t), codebook_key(before, *t, *v)),
            Operation::UpdateCodebookRow { after: (t, v), .. } => format!("update codebook row {}.{}", ta(*t), codebook_key(after, *t, *v)),
        })
        .collect()
}

fn codebook_key(model: &Model, table: TableId, value: usize) -> String {
    model.table(table).codebook_of.map(|e| model.enum_(e).values[value].key.clone()).unwrap_or_default()
}

/// A short snake_case description of a plan, for a migration's folder name.
pub fn describe(plan: &Plan, before: &Model, after: &Model) -> String {
    if before.tables.is_empty() {
        return "initial".into();
    }
    // Tables are dropped early, but a name says what the migration is for first.
    let first = plan.up.iter().find(|op| !matches!(op, Operation::DropForeignKey(..) | Operation::DropIndex(..) | Operation::DropCheck(..) | Operation::DropUnique(..) | Operation::DropTrigger(..) | Operation::DropTable(_)));
    let Some(first) = first.or(plan.up.first()) else { return "no_change".into() };
    let tb = |t: TableId| before.table(t).name.clone();
    let ta = |t: TableId| after.table(t).name.clone();
    let what = match first {
        Operation::CreateTable(t) => format!("create_{}", ta(*t)),
        Operation::DropTable(t) => format!("drop_{}", tb(*t)),
        Operation::RenameTable { after: a, .. } => format!("rename_to_{}", ta(*a)),
        Operation::AddColumn((t, c)) => format!("add_{}_{}", ta(*t), after.table(*t).column(*c).name),
        Operation::DropColumn((t, c)) => format!("drop_{}_{}", tb(*t), before.table(*t).column(*c).name),
        Operation::RenameColumn { after: (t, c), .. } => format!("rename_{}_{}", ta(*t), after.table(*t).column(*c).name),
        Operation::AlterColumn { after: (t, c), .. } => format!("alter_{}_{}", ta(*t), after.table(*t).column(*c).name),
        Operation::InsertCodebookRow(t, _) | Operation::UpdateCodebookRow { after: (t, _), .. } => format!("update_{}", ta(*t)),
        Operation::SeedCodebook(t) => format!("create_{}", ta(*t)),
        _ => "update_schema".into(),
    };
    let mut name = if plan.up.len() > 1 && !matches!(first, Operation::CreateTable(_)) || after.tables.len() > 1 && plan.up.iter().filter(|o| matches!(o, Operation::CreateTable(_))).count() > 1 {
        format!("{what}_and_more")
    } else {
        what
    };
    name.truncate(60);
    name
}

impl Model {
    /// The same project with no tables and no enums: what exists before the first
    /// migration.
    pub fn empty_like(model: &Model) -> Model {
        Model { project: model.project.clone(), hashing: model.hashing.clone(), tables: vec![], enums: vec![] }
    }
}
