//! Stage 3, plan: what a migration does, as dialect-neutral operations in an order where
//! dependencies hold. Each dialect renders the same plan; `down` is the inverse plan.
//!
//! A plan turns a `before` model (the last migrated schema, from the snapshot) into an
//! `after` model (the spec now). Operations that create refer into `after`, operations
//! that drop refer into `before`, and changes refer into both. The down plan is the up
//! plan reversed with every operation inverted, rendered with the two models swapped,
//! so every index stays valid without translation.
//!
//! Order matters for names: drops come before renames and everything else after them.
//! So an operation that touches a kept table sees it under its `after` name when
//! applied and under its `before` name when undone (see [`Direction`]).

use std::collections::HashMap;

use crate::model::*;

/// A column in one of the two models.
pub type ColumnRef = (TableId, ColumnId);

/// One schema change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Operation {
    /// A table with its columns, defaults, primary key, unique and check constraints
    /// (and, on PostgreSQL, its partitioning). Refers into `after`.
    CreateTable(TableId),
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
    RemoveComments(TableId),
    /// A kept table's comment changed: render `after`'s (or none).
    ChangeTableComment { before: TableId, after: TableId },
    /// A kept or added column's comment changed: render `after`'s (or none).
    ChangeColumnComment { before: Option<ColumnRef>, after: Option<ColumnRef> },
    /// Insert every value of the codebook's enum.
    SeedCodebook(TableId),
    UnseedCodebook(TableId),
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

/// Which way a plan is rendered: an operation on a kept table finds the table under
/// its `after` name going up, and (the renames not yet undone) under its `before`
/// name going down, where the models are swapped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    Up,
    Down,
}

impl Direction {
    /// The model in which a kept table (`before` id `tb`, `after` id `ta`) has the name
    /// it has while the operation runs.
    pub fn current_table<'m>(self, before: &'m Model, after: &'m Model, tb: TableId, ta: TableId) -> &'m Table {
        match self {
            Direction::Up => after.table(ta),
            Direction::Down => before.table(tb),
        }
    }
}

impl Operation {
    /// Whether a one-sided operation points into `before` (it removes something) rather
    /// than into `after`.
    pub fn reads_before(&self) -> bool {
        use Operation::*;
        matches!(
            self,
            DropTable(_) | DropColumn(_) | DropPrimaryKey(_) | DropUnique(..) | DropCheck(..) | DropIndex(..) | DropForeignKey(..) | DropTrigger(..) | RemoveComments(_) | UnseedCodebook(_) | DeleteCodebookRow(..)
        )
    }
}

/// A migration: operations to apply, and the operations that undo them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Plan {
    pub up: Vec<Operation>,
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

/// The operations that turn `before` into `after`.
pub fn diff(before: &Model, after: &Model) -> Plan {
    Differ::new(before, after).run()
}

/// The operation that undoes `operation` (to be rendered with the models swapped).
pub fn inverse(operation: &Operation) -> Operation {
    use Operation::*;
    match operation.clone() {
        CreateTable(t) => DropTable(t),
        DropTable(t) => CreateTable(t),
        RenameTable { before, after } => RenameTable { before: after, after: before },
        AddColumn(c) => DropColumn(c),
        DropColumn(c) => AddColumn(c),
        RenameColumn { before, after } => RenameColumn { before: after, after: before },
        AlterColumn { before, after } => AlterColumn { before: after, after: before },
        AddPrimaryKey(t) => DropPrimaryKey(t),
        DropPrimaryKey(t) => AddPrimaryKey(t),
        AddUnique(t, i) => DropUnique(t, i),
        DropUnique(t, i) => AddUnique(t, i),
        AddCheck(t, i) => DropCheck(t, i),
        DropCheck(t, i) => AddCheck(t, i),
        CreateIndex(t, i) => DropIndex(t, i),
        DropIndex(t, i) => CreateIndex(t, i),
        AddForeignKey(t, i) => DropForeignKey(t, i),
        DropForeignKey(t, i) => AddForeignKey(t, i),
        RenameConstraint { table: (b, a), kind, before, after } => RenameConstraint { table: (a, b), kind, before: after, after: before },
        CreateTrigger(t, i) => DropTrigger(t, i),
        DropTrigger(t, i) => CreateTrigger(t, i),
        SetComments(t) => RemoveComments(t),
        RemoveComments(t) => SetComments(t),
        ChangeTableComment { before, after } => ChangeTableComment { before: after, after: before },
        ChangeColumnComment { before, after } => ChangeColumnComment { before: after, after: before },
        SeedCodebook(t) => UnseedCodebook(t),
        UnseedCodebook(t) => SeedCodebook(t),
        InsertCodebookRow(t, v) => DeleteCodebookRow(t, v),
        DeleteCodebookRow(t, v) => InsertCodebookRow(t, v),
        UpdateCodebookRow { before, after } => UpdateCodebookRow { before: after, after: before },
    }
}

/// One line per change, for `dcgen check`: what the pending migration would do.
pub fn summary(plan: &Plan, before: &Model, after: &Model) -> Vec<String> {
    let tb = |t: TableId| before.table(t).name.clone();
    let ta = |t: TableId| after.table(t).name.clone();
    plan.up
        .iter()
        .map(|op| match op {
            Operation::CreateTable(t) => format!("create table {}", ta(*t)),
            Operation::DropTable(t) => format!("drop table {}", tb(*t)),
            Operation::RenameTable { before: b, after: a } => format!("rename table {} to {}", tb(*b), ta(*a)),
            Operation::AddColumn((t, c)) => format!("add column {}.{}", ta(*t), after.table(*t).column(*c).name),
            Operation::DropColumn((t, c)) => format!("drop column {}.{}", tb(*t), before.table(*t).column(*c).name),
            Operation::RenameColumn { before: (tb_, cb), after: (ta_, ca) } => format!("rename column {}.{} to {}", tb(*tb_), before.table(*tb_).column(*cb).name, after.table(*ta_).column(*ca).name),
            Operation::AlterColumn { after: (t, c), .. } => format!("alter column {}.{}", ta(*t), after.table(*t).column(*c).name),
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
            Operation::SetComments(t) | Operation::ChangeTableComment { after: t, .. } => format!("comment on {}", ta(*t)),
            Operation::RemoveComments(t) => format!("remove comments of {}", tb(*t)),
            Operation::ChangeColumnComment { after: Some((t, c)), .. } => format!("comment on {}.{}", ta(*t), after.table(*t).column(*c).name),
            Operation::ChangeColumnComment { .. } => "remove a column comment".to_string(),
            Operation::SeedCodebook(t) => format!("seed codebook {}", ta(*t)),
            Operation::UnseedCodebook(t) => format!("empty codebook {}", tb(*t)),
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
    let first = plan.up.iter().find(|op| !matches!(op, Operation::DropForeignKey(..) | Operation::DropIndex(..) | Operation::DropCheck(..) | Operation::DropUnique(..) | Operation::DropTrigger(..)));
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

/// Signatures compare constraints across the two models in `after`'s names.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Signature {
    Key(Vec<String>),
    Check(String),
    Index(Vec<(String, bool)>, bool, String),
    ForeignKey(Vec<String>, String, Vec<String>, OnDelete),
}

struct Differ<'m> {
    before: &'m Model,
    after: &'m Model,
    /// after table → before table, for tables that exist in both.
    table_match: HashMap<TableId, TableId>,
    plan: Plan,
    // Phases, concatenated in this order (see `run`).
    drop_foreign_keys: Vec<Operation>,
    drop_constraints: Vec<Operation>,
    delete_rows: Vec<Operation>,
    renames: Vec<Operation>,
    rename_constraints: Vec<Operation>,
    drop_columns: Vec<Operation>,
    alter_columns: Vec<Operation>,
    create_tables: Vec<Operation>,
    add_columns: Vec<Operation>,
    add_constraints: Vec<Operation>,
    add_foreign_keys: Vec<Operation>,
    triggers_and_comments: Vec<Operation>,
    rows: Vec<Operation>,
    drop_tables: Vec<Operation>,
}

impl<'m> Differ<'m> {
    fn new(before: &'m Model, after: &'m Model) -> Self {
        Differ {
            before,
            after,
            table_match: HashMap::new(),
            plan: Plan::default(),
            drop_foreign_keys: vec![],
            drop_constraints: vec![],
            delete_rows: vec![],
            renames: vec![],
            rename_constraints: vec![],
            drop_columns: vec![],
            alter_columns: vec![],
            create_tables: vec![],
            add_columns: vec![],
            add_constraints: vec![],
            add_foreign_keys: vec![],
            triggers_and_comments: vec![],
            rows: vec![],
            drop_tables: vec![],
        }
    }

    fn destructive(&mut self, key: String, why: String) {
        self.plan.destructive.push(DestructiveChange { key, why });
    }

    /// A table of `after` matches the `before` table of the same name, or else the one
    /// named in its `renamed_from` (after a rename has shipped, the spec may keep
    /// `renamed_from`; the name match wins then).
    fn match_tables(&mut self) {
        for (index, table) in self.after.tables.iter().enumerate() {
            let by_name = self.before.table_by_name(&table.name);
            let by_rename = table.renamed_from.as_deref().and_then(|old| self.before.table_by_name(old)).filter(|old| self.after.table_by_name(&self.before.table(*old).name).is_none());
            if let Some(before) = by_name.or(by_rename) {
                self.table_match.insert(TableId(index), before);
            }
        }
    }

    fn run(mut self) -> Plan {
        self.match_tables();
        let after_order = self.after.tables_in_dependency_order();
        let before_order = self.before.tables_in_dependency_order();

        // Tables that are gone: their foreign keys (and foreign keys of other tables
        // pointing at them) go first; the tables themselves go last.
        let matched_before: Vec<TableId> = self.table_match.values().copied().collect();
        for &table in before_order.iter().rev() {
            if matched_before.contains(&table) {
                continue;
            }
            let t = self.before.table(table);
            let why = if t.codebook_of.is_some() { "removing a codebook deletes its rows, which data tables may reference" } else { "dropping a table deletes all its rows" };
            self.destructive(format!("drop table {}", t.name), why.to_string());
            for fk in 0..t.foreign_keys.len() {
                self.drop_foreign_keys.push(Operation::DropForeignKey(table, fk));
            }
            self.drop_tables.push(Operation::DropTable(table));
        }

        for &table in &after_order {
            match self.table_match.get(&table).copied() {
                None => self.create_table(table),
                Some(before) => self.change_table(before, table),
            }
        }
        self.foreign_keys_into_dropped_tables();

        let mut up = Vec::new();
        for phase in [
            std::mem::take(&mut self.drop_foreign_keys),
            std::mem::take(&mut self.drop_constraints),
            std::mem::take(&mut self.delete_rows),
            std::mem::take(&mut self.drop_columns),
            std::mem::take(&mut self.renames),
            std::mem::take(&mut self.rename_constraints),
            std::mem::take(&mut self.alter_columns),
            std::mem::take(&mut self.create_tables),
            std::mem::take(&mut self.add_columns),
            std::mem::take(&mut self.add_constraints),
            std::mem::take(&mut self.add_foreign_keys),
            std::mem::take(&mut self.triggers_and_comments),
            std::mem::take(&mut self.rows),
            std::mem::take(&mut self.drop_tables),
        ] {
            for op in phase {
                if !up.contains(&op) {
                    up.push(op);
                }
            }
        }
        self.plan.down = up.iter().rev().map(inverse).collect();
        self.plan.up = up;
        self.plan
    }

    /// Foreign keys of kept tables that point at a dropped table must go before it.
    fn foreign_keys_into_dropped_tables(&mut self) {
        let matched_before: Vec<TableId> = self.table_match.values().copied().collect();
        for (index, table) in self.before.tables.iter().enumerate() {
            if !matched_before.contains(&TableId(index)) {
                continue;
            }
            for (fk_index, fk) in table.foreign_keys.iter().enumerate() {
                if !matched_before.contains(&fk.referenced_table) {
                    self.drop_foreign_keys.push(Operation::DropForeignKey(TableId(index), fk_index));
                }
            }
        }
    }

    fn create_table(&mut self, table: TableId) {
        let t = self.after.table(table);
        self.create_tables.push(Operation::CreateTable(table));
        for index in 0..t.indexes.len() {
            self.create_tables.push(Operation::CreateIndex(table, index));
        }
        for trigger in 0..t.triggers.len() {
            self.create_tables.push(Operation::CreateTrigger(table, trigger));
        }
        if t.comment.is_some() || t.columns.iter().any(|c| c.comment.is_some()) {
            self.create_tables.push(Operation::SetComments(table));
        }
        for fk in 0..t.foreign_keys.len() {
            self.add_foreign_keys.push(Operation::AddForeignKey(table, fk));
        }
        if t.codebook_of.is_some() {
            self.rows.push(Operation::SeedCodebook(table));
        }
    }

    fn change_table(&mut self, before_id: TableId, after_id: TableId) {
        let before = self.before.table(before_id);
        let after = self.after.table(after_id);
        if before.name != after.name {
            self.renames.push(Operation::RenameTable { before: before_id, after: after_id });
        }
        if before.partition.as_ref().map(|p| (p.by, before.column(p.column).name.clone()))
            != after.partition.as_ref().map(|p| (p.by, after.column(p.column).name.clone()))
        {
            self.plan.unsupported.push(format!(
                "table `{}` changes its partitioning: that needs the table rebuilt (create a new table, copy the rows, rename), which dcgen does not generate",
                after.name
            ));
        }

        // Columns: by name, else by `renamed_from`.
        let mut column_match: HashMap<ColumnId, ColumnId> = HashMap::new();
        for (index, column) in after.columns.iter().enumerate() {
            let by_name = before.column_by_name(&column.name);
            let by_rename = column.renamed_from.as_deref().and_then(|old| before.column_by_name(old)).filter(|old| after.column_by_name(&before.column(*old).name).is_none());
            if let Some(old) = by_name.or(by_rename) {
                column_match.insert(ColumnId(index), old);
            }
        }
        let mut altered_before: Vec<ColumnId> = Vec::new();
        for (index, column) in after.columns.iter().enumerate() {
            let after_ref = (after_id, ColumnId(index));
            match column_match.get(&ColumnId(index)) {
                None => {
                    if !column.nullable && column.default.is_none() && !column.identity {
                        self.destructive(
                            format!("add not null column {}.{}", after.name, column.name),
                            "a NOT NULL column without a default cannot be added to a table that has rows; give it a default, or make it nullable first".into(),
                        );
                    }
                    self.add_columns.push(Operation::AddColumn(after_ref));
                    if column.comment.is_some() {
                        self.triggers_and_comments.push(Operation::ChangeColumnComment { before: None, after: Some(after_ref) });
                    }
                }
                Some(&old) => {
                    let before_ref = (before_id, old);
                    let old_column = before.column(old);
                    if old_column.name != column.name {
                        self.renames.push(Operation::RenameColumn { before: before_ref, after: after_ref });
                    }
                    if self.column_changed(old_column, column) {
                        self.check_column_change(&after.name, old_column, column);
                        self.alter_columns.push(Operation::AlterColumn { before: before_ref, after: after_ref });
                        altered_before.push(old);
                    }
                    if old_column.comment != column.comment {
                        self.triggers_and_comments.push(Operation::ChangeColumnComment { before: Some(before_ref), after: Some(after_ref) });
                    }
                    if old_column.default.is_some() && column.default.is_some() && !self.column_changed(old_column, column) {
                        if let (Some(a), Some(b)) = (&old_column.default_constraint, &column.default_constraint) {
                            if a != b {
                                self.rename_constraints.push(Operation::RenameConstraint { table: (before_id, after_id), kind: ConstraintKind::Default, before: a.clone(), after: b.clone() });
                            }
                        }
                    }
                }
            }
        }
        let kept: Vec<ColumnId> = column_match.values().copied().collect();
        for (index, column) in before.columns.iter().enumerate() {
            if !kept.contains(&ColumnId(index)) {
                self.destructive(format!("drop column {}.{}", before.name, column.name), "dropping a column deletes its data in every row".into());
                self.drop_columns.push(Operation::DropColumn((before_id, ColumnId(index))));
            }
        }
        if before.comment != after.comment {
            self.triggers_and_comments.push(Operation::ChangeTableComment { before: before_id, after: after_id });
        }

        // Names of `before`'s columns in `after`'s terms, for signatures.
        let renamed: HashMap<ColumnId, String> = column_match.iter().map(|(a, b)| (*b, after.column(*a).name.clone())).collect();
        let before_name = |c: ColumnId| renamed.get(&c).cloned().unwrap_or_else(|| format!("\u{0}dropped:{}", before.column(c).name));
        let touches_altered = |columns: &[ColumnId]| columns.iter().any(|c| altered_before.contains(c));

        // Primary key.
        let pk_before = Signature::Key(before.primary_key.columns.iter().map(|c| before_name(*c)).collect());
        let pk_after = Signature::Key(after.primary_key.columns.iter().map(|c| after.column(*c).name.clone()).collect());
        if pk_before != pk_after || touches_altered(&before.primary_key.columns) {
            self.drop_constraints.push(Operation::DropPrimaryKey(before_id));
            self.add_constraints.push(Operation::AddPrimaryKey(after_id));
        } else if before.primary_key.name != after.primary_key.name {
            self.rename_constraints.push(Operation::RenameConstraint { table: (before_id, after_id), kind: ConstraintKind::PrimaryKey, before: before.primary_key.name.clone(), after: after.primary_key.name.clone() });
        }

        let uniques_before: Vec<(String, Signature, bool)> = before.uniques.iter().map(|u| (u.name.clone(), Signature::Key(u.columns.iter().map(|c| before_name(*c)).collect()), touches_altered(&u.columns))).collect();
        let uniques_after: Vec<(String, Signature)> = after.uniques.iter().map(|u| (u.name.clone(), Signature::Key(u.columns.iter().map(|c| after.column(*c).name.clone()).collect()))).collect();
        self.match_constraints(before_id, after_id, ConstraintKind::Unique, &uniques_before, &uniques_after);

        // A check over a renamed column was rewritten by the user too (it names the
        // column); the signature, which counts columns by name, catches it.
        let checks_before: Vec<(String, Signature, bool)> = before
            .checks
            .iter()
            .map(|c| (c.name.clone(), Signature::Check(c.signature(self.before, before)), touches_altered(&c.kind.columns(before))))
            .collect();
        let checks_after: Vec<(String, Signature)> = after.checks.iter().map(|c| (c.name.clone(), Signature::Check(c.signature(self.after, after)))).collect();
        self.match_constraints(before_id, after_id, ConstraintKind::Check, &checks_before, &checks_after);

        let predicate_text = |table: &Table, p: &Option<Predicate>, names: &dyn Fn(ColumnId) -> String| match p {
            None => String::new(),
            Some(Predicate::Raw(sql)) => format!("raw:{}|{}", sql.postgres, sql.mssql),
            Some(Predicate::Equals(pairs)) => {
                let _ = table;
                pairs.iter().map(|(c, l)| format!("{}={:?}", names(*c), l)).collect::<Vec<_>>().join(",")
            }
        };
        let indexes_before: Vec<(String, Signature, bool)> = before
            .indexes
            .iter()
            .map(|i| {
                let columns: Vec<ColumnId> = i.columns.iter().map(|c| c.column).collect();
                (i.name.clone(), Signature::Index(i.columns.iter().map(|c| (before_name(c.column), c.descending)).collect(), i.unique, predicate_text(before, &i.predicate, &before_name)), touches_altered(&columns))
            })
            .collect();
        let after_name = |c: ColumnId| after.column(c).name.clone();
        let indexes_after: Vec<(String, Signature)> = after
            .indexes
            .iter()
            .map(|i| (i.name.clone(), Signature::Index(i.columns.iter().map(|c| (after_name(c.column), c.descending)).collect(), i.unique, predicate_text(after, &i.predicate, &after_name))))
            .collect();
        self.match_constraints(before_id, after_id, ConstraintKind::Index, &indexes_before, &indexes_after);

        // Foreign keys: the referenced table in `after`'s name; a foreign key into an
        // altered column (here or in the referenced table) is recreated around the
        // change, as SQL Server requires.
        let table_name_after = |t: TableId| -> String {
            self.table_match.iter().find(|(_, b)| **b == t).map(|(a, _)| self.after.table(*a).name.clone()).unwrap_or_else(|| format!("\u{0}dropped:{}", self.before.table(t).name))
        };
        let fks_before: Vec<(String, Signature, bool)> = before
            .foreign_keys
            .iter()
            .map(|fk| {
                let target = self.before.table(fk.referenced_table);
                let target_names: Vec<String> = fk.referenced_columns.iter().map(|c| target.column(*c).name.clone()).collect();
                (fk.name.clone(), Signature::ForeignKey(fk.columns.iter().map(|c| before_name(*c)).collect(), table_name_after(fk.referenced_table), target_names, fk.on_delete), touches_altered(&fk.columns))
            })
            .collect();
        let fks_after: Vec<(String, Signature)> = after
            .foreign_keys
            .iter()
            .map(|fk| {
                let target = self.after.table(fk.referenced_table);
                (fk.name.clone(), Signature::ForeignKey(fk.columns.iter().map(|c| after_name(*c)).collect(), target.name.clone(), fk.referenced_columns.iter().map(|c| target.column(*c).name.clone()).collect(), fk.on_delete))
            })
            .collect();
        self.match_constraints(before_id, after_id, ConstraintKind::ForeignKey, &fks_before, &fks_after);

        // Triggers: no data, so a change is a drop and a create.
        for (index, trigger) in before.triggers.iter().enumerate() {
            let same = after.triggers.iter().any(|t| t.name == trigger.name && after.column(t.column).name == before_name(trigger.column)) && before.name == after.name;
            if !same {
                self.drop_constraints.push(Operation::DropTrigger(before_id, index));
            }
        }
        for (index, trigger) in after.triggers.iter().enumerate() {
            let same = before.triggers.iter().any(|t| t.name == trigger.name && before_name(t.column) == after.column(trigger.column).name) && before.name == after.name;
            if !same {
                self.triggers_and_comments.push(Operation::CreateTrigger(after_id, index));
            }
        }

        if after.codebook_of.is_some() && before.codebook_of.is_some() {
            self.codebook_rows(before_id, after_id);
        }
    }

    fn column_changed(&self, before: &Column, after: &Column) -> bool {
        before.ty.storage(self.before) != after.ty.storage(self.after)
            || before.nullable != after.nullable
            || before.identity != after.identity
            || self.default_text(self.before, before) != self.default_text(self.after, after)
    }

    /// Defaults compared by what they store (an enum default by its value).
    fn default_text(&self, model: &Model, column: &Column) -> Option<String> {
        column.default.as_ref().map(|d| match d {
            DefaultValue::EnumValue(e, i) => format!("{:?}", model.enum_(*e).values[*i].value),
            other => format!("{other:?}"),
        })
    }

    /// Narrowing, NOT NULL without a default, and identity changes SQL Server cannot
    /// make in place.
    fn check_column_change(&mut self, table: &str, before: &Column, after: &Column) {
        let (old, new) = (before.ty.storage(self.before), after.ty.storage(self.after));
        if old != new {
            if let Some(why) = narrowing(old, new) {
                self.destructive(format!("narrow column {table}.{}", after.name), why);
            }
        }
        if before.nullable && !after.nullable && after.default.is_none() {
            self.destructive(
                format!("make column {table}.{} not null", after.name),
                "rows where it is NULL make the migration fail; give the column a default (existing NULLs are then set to it) or fill them first".into(),
            );
        }
        if before.identity != after.identity && self.after.has_dialect(Dialect::Mssql) {
            self.plan.unsupported.push(format!(
                "column `{table}.{}` changes `identity`: SQL Server cannot add or remove IDENTITY on an existing column; add a new column instead",
                after.name
            ));
        }
    }

    /// Pair constraints of one kind: same signature → kept (renamed if the name
    /// changed); otherwise drop the old and add the new.
    fn match_constraints(&mut self, before_id: TableId, after_id: TableId, kind: ConstraintKind, before: &[(String, Signature, bool)], after: &[(String, Signature)]) {
        let table = (before_id, after_id);
        let mut used = vec![false; before.len()];
        for (after_index, (after_name, after_signature)) in after.iter().enumerate() {
            let found = before.iter().enumerate().position(|(i, (_, sig, forced))| !used[i] && !forced && sig == after_signature);
            match found {
                Some(before_index) => {
                    used[before_index] = true;
                    if before[before_index].0 != *after_name {
                        self.rename_constraints.push(Operation::RenameConstraint { table, kind, before: before[before_index].0.clone(), after: after_name.clone() });
                    }
                }
                None => self.add(kind, after_id, after_index),
            }
        }
        for (index, was_used) in used.iter().enumerate() {
            if !was_used {
                self.drop(kind, before_id, index);
            }
        }
    }

    fn add(&mut self, kind: ConstraintKind, table: TableId, index: usize) {
        match kind {
            ConstraintKind::Unique => self.add_constraints.push(Operation::AddUnique(table, index)),
            ConstraintKind::Check => self.add_constraints.push(Operation::AddCheck(table, index)),
            ConstraintKind::Index => self.add_constraints.push(Operation::CreateIndex(table, index)),
            ConstraintKind::ForeignKey => self.add_foreign_keys.push(Operation::AddForeignKey(table, index)),
            ConstraintKind::PrimaryKey | ConstraintKind::Default => {}
        }
    }

    fn drop(&mut self, kind: ConstraintKind, table: TableId, index: usize) {
        match kind {
            ConstraintKind::Unique => self.drop_constraints.push(Operation::DropUnique(table, index)),
            ConstraintKind::Check => self.drop_constraints.push(Operation::DropCheck(table, index)),
            ConstraintKind::Index => self.drop_constraints.push(Operation::DropIndex(table, index)),
            ConstraintKind::ForeignKey => self.drop_foreign_keys.push(Operation::DropForeignKey(table, index)),
            ConstraintKind::PrimaryKey | ConstraintKind::Default => {}
        }
    }

    /// Codebook rows follow their enum: values are matched by stored value; a new
    /// value is inserted, a changed description or deprecation updated, a removed value
    /// deleted (destructive), and a value whose key changed is a reused number
    /// (destructive: rows that stored it now mean something else).
    fn codebook_rows(&mut self, before_id: TableId, after_id: TableId) {
        let (Some(before_enum), Some(after_enum)) = (self.before.table(before_id).codebook_of, self.after.table(after_id).codebook_of) else { return };
        let before_values = &self.before.enum_(before_enum).values;
        let after_values = &self.after.enum_(after_enum).values;
        let enum_name = self.after.enum_(after_enum).name.clone();
        for (after_index, value) in after_values.iter().enumerate() {
            match before_values.iter().position(|v| v.value == value.value) {
                None => self.rows.push(Operation::InsertCodebookRow(after_id, after_index)),
                Some(before_index) => {
                    let old = &before_values[before_index];
                    if old.key != value.key {
                        self.destructive(
                            format!("reuse enum value {enum_name}.{}", value.key),
                            format!("value {} was `{}` and now means `{}`: rows that stored it change meaning; values grow forward and are never reused", literal(&value.value), old.key, value.key),
                        );
                    }
                    if old.description != value.description || old.deprecated != value.deprecated || old.key != value.key {
                        self.rows.push(Operation::UpdateCodebookRow { before: (before_id, before_index), after: (after_id, after_index) });
                    }
                }
            }
        }
        for (before_index, value) in before_values.iter().enumerate() {
            if !after_values.iter().any(|v| v.value == value.value) {
                self.destructive(
                    format!("remove enum value {enum_name}.{}", value.key),
                    "its codebook row is deleted and rows that reference it fail or lose their meaning; deprecate it instead (`deprecated: true`)".into(),
                );
                self.delete_rows.push(Operation::DeleteCodebookRow(before_id, before_index));
            }
        }
    }
}

fn literal(value: &EnumLiteral) -> String {
    match value {
        EnumLiteral::Int(i) => i.to_string(),
        EnumLiteral::Str(s) => format!("'{s}'"),
    }
}

/// Why changing `old` to `new` can lose data, if it can.
fn narrowing(old: &ColumnType, new: &ColumnType) -> Option<String> {
    use ColumnType::*;
    let rank = |t: &ColumnType| match t {
        SmallInt => Some(1),
        Int => Some(2),
        BigInt => Some(3),
        _ => None,
    };
    match (old, new) {
        (String { length: a }, String { length: b }) if b >= a => None,
        (String { length: a }, String { length: b }) => Some(format!("string({a}) → string({b}) cuts values longer than {b} characters")),
        (String { .. }, Text) => None,
        (Text, String { length }) => Some(format!("text → string({length}) cuts longer values")),
        (a, b) if rank(a).is_some() && rank(b).is_some() => {
            if rank(b) >= rank(a) {
                None
            } else {
                Some("a smaller integer type cannot hold the larger values".into())
            }
        }
        (SmallInt | Int, Double | Decimal { .. }) | (Float, Double) => None,
        (Decimal { precision: p1, scale: s1 }, Decimal { precision: p2, scale: s2 }) if p2 - s2.min(p2) >= p1 - s1.min(p1) && s2 >= s1 => None,
        (Decimal { .. }, Decimal { .. }) => Some("fewer digits before or after the point round or reject values".into()),
        (_, Text) => None,
        _ => Some(format!("changing the type from {old:?} to {new:?} converts every value and can fail or lose data")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widening_is_safe_and_narrowing_is_not() {
        use ColumnType::*;
        assert!(narrowing(&String { length: 64 }, &String { length: 128 }).is_none());
        assert!(narrowing(&String { length: 128 }, &String { length: 64 }).is_some());
        assert!(narrowing(&Int, &BigInt).is_none());
        assert!(narrowing(&BigInt, &Int).is_some());
        assert!(narrowing(&Text, &String { length: 10 }).is_some());
        assert!(narrowing(&String { length: 10 }, &Text).is_none());
    }
}
