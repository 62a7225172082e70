//! What changes in a table both models have, by family: its name, columns, comment,
//! keys, checks, indexes, foreign keys, triggers and (for a codebook) rows.
//!
//! Constraints are compared by what they say, written in `after`'s names (a
//! [`Signature`]): the same signature is the same constraint (renamed if its name
//! changed); anything else is dropped and added. A constraint of `before` that names a
//! dropped column, or a column whose change rebuilds it, has no signature: it is
//! always dropped.

use crate::model::*;

use super::differ::Differ;
use super::{ConstraintKind, Operation};

/// A constraint as it would be written in `after`'s names.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Signature {
    Key(Vec<String>),
    Check(String),
    Index { columns: Vec<(String, bool)>, unique: bool, predicate: String },
    ForeignKey { columns: Vec<String>, table: String, referenced: Vec<String>, on_delete: OnDelete },
}

/// A constraint of `before`, with its signature if it can be kept.
struct Kept {
    name: String,
    signature: Option<Signature>,
}

/// A kept table's two ids and rows.
#[derive(Clone, Copy)]
struct Pair<'m> {
    before_id: TableId,
    after_id: TableId,
    before: &'m Table,
    after: &'m Table,
}

impl<'m> Differ<'m> {
    pub(super) fn change_table(&mut self, before_id: TableId, after_id: TableId) {
        let pair = Pair { before_id, after_id, before: self.before.table(before_id), after: self.after.table(after_id) };
        self.rename_table(pair);
        self.change_columns(pair);
        self.change_table_comment(pair);
        self.change_keys(pair);
        self.change_checks(pair);
        self.change_indexes(pair);
        self.change_foreign_keys(pair);
        self.change_triggers(pair);
        self.change_codebook_rows(pair);
    }

    /// `before`'s column as `after` calls it; `None` when it is dropped.
    fn after_name(&self, before_table: TableId, column: ColumnId) -> Option<String> {
        let after_table = self.matching.after_table(before_table)?;
        let after_column = self.matching.after_column(before_table, column)?;
        Some(self.after.table(after_table).column(after_column).name.clone())
    }

    /// `before`'s columns in `after`'s names, unless one is dropped or altered.
    fn kept_names(&self, before_table: TableId, columns: &[ColumnId]) -> Option<Vec<String>> {
        columns.iter().map(|c| if self.altered.contains(&(before_table, *c)) { None } else { self.after_name(before_table, *c) }).collect()
    }

    fn rename_table(&mut self, pair: Pair) {
        if pair.before.name != pair.after.name {
            self.phases.renames.push(Operation::RenameTable { before: pair.before_id, after: pair.after_id });
        }
        let partitioning = |table: &Table| table.partition.as_ref().map(|p| (p.by, table.column(p.column).name.clone()));
        if partitioning(pair.before) != partitioning(pair.after) {
            self.unsupported.push(format!(
                "table `{}` changes its partitioning: that needs the table rebuilt (create a new table, copy the rows, rename), which dcgen does not generate",
                pair.after.name
            ));
        }
    }

    /// Added, dropped, renamed and altered columns, their comments and (SQL Server)
    /// the names of their defaults.
    fn change_columns(&mut self, pair: Pair) {
        let Pair { before_id, after_id, before, after } = pair;
        for (index, column) in after.columns.iter().enumerate() {
            let after_ref = (after_id, ColumnId(index));
            let Some(old) = self.matching.before_column(after_id, ColumnId(index)) else {
                if !column.nullable && column.default.is_none() && !column.identity {
                    self.destructive(
                        format!("add not null column {}.{}", after.name, column.name),
                        "a NOT NULL column without a default cannot be added to a table that has rows; give it a default, or make it nullable first".into(),
                    );
                }
                self.phases.add_columns.push(Operation::AddColumn(after_ref));
                if column.comment.is_some() {
                    self.phases.triggers_and_comments.push(Operation::SetColumnComment(after_ref));
                }
                continue;
            };
            let before_ref = (before_id, old);
            let old_column = before.column(old);
            if old_column.name != column.name {
                self.phases.renames.push(Operation::RenameColumn { before: before_ref, after: after_ref });
            }
            let altered = self.altered.contains(&before_ref);
            if altered {
                self.check_column_change(&after.name, old_column, column);
                self.phases.alter_columns.push(Operation::AlterColumn { before: before_ref, after: after_ref });
            }
            if old_column.comment != column.comment {
                self.phases.triggers_and_comments.push(Operation::SetColumnComment(after_ref));
            }
            // An altered column's default is dropped and added under its new name.
            if let (Some(old_name), Some(new_name), false) = (&old_column.default_constraint, &column.default_constraint, altered) {
                if old_column.default.is_some() && column.default.is_some() && old_name != new_name {
                    self.phases.rename_constraints.push(Operation::RenameConstraint { table: (before_id, after_id), kind: ConstraintKind::Default, before: old_name.clone(), after: new_name.clone() });
                }
            }
        }
        for (index, column) in before.columns.iter().enumerate() {
            if self.matching.after_column(before_id, ColumnId(index)).is_none() {
                self.destructive(format!("drop column {}.{}", before.name, column.name), "dropping a column deletes its data in every row".into());
                self.phases.drop_columns.push(Operation::DropColumn((before_id, ColumnId(index))));
            }
        }
    }

    fn change_table_comment(&mut self, pair: Pair) {
        if pair.before.comment != pair.after.comment {
            self.phases.triggers_and_comments.push(Operation::SetTableComment(pair.after_id));
        }
    }

    /// The primary key and unique constraints.
    fn change_keys(&mut self, pair: Pair) {
        let Pair { before_id, after_id, before, after } = pair;
        let primary_before = self.kept_names(before_id, &before.primary_key.columns);
        let primary_after = after.column_names(&after.primary_key.columns).into_iter().map(String::from).collect::<Vec<_>>();
        if primary_before.as_ref() != Some(&primary_after) {
            self.phases.drop_constraints.push(Operation::DropPrimaryKey(before_id));
            self.phases.add_constraints.push(Operation::AddPrimaryKey(after_id));
        } else if before.primary_key.name != after.primary_key.name {
            self.phases.rename_constraints.push(Operation::RenameConstraint {
                table: (before_id, after_id),
                kind: ConstraintKind::PrimaryKey,
                before: before.primary_key.name.clone(),
                after: after.primary_key.name.clone(),
            });
        }
        let kept = before.uniques.iter().map(|u| Kept { name: u.name.clone(), signature: self.kept_names(before_id, &u.columns).map(Signature::Key) }).collect();
        let wanted = after.uniques.iter().map(|u| (u.name.clone(), Signature::Key(after.column_names(&u.columns).into_iter().map(String::from).collect()))).collect();
        self.match_constraints(pair, ConstraintKind::Unique, kept, wanted);
    }

    /// Checks, compared by what they assert (`Check::signature`: columns by name).
    fn change_checks(&mut self, pair: Pair) {
        let Pair { before_id, before, after, .. } = pair;
        let kept = before
            .checks
            .iter()
            .map(|check| {
                // A check on an altered column is rebuilt around the change.
                let on_altered = check.kind.columns(before).iter().any(|c| self.altered.contains(&(before_id, *c)));
                Kept { name: check.name.clone(), signature: (!on_altered).then(|| Signature::Check(check.signature(self.before, before))) }
            })
            .collect();
        let wanted = after.checks.iter().map(|check| (check.name.clone(), Signature::Check(check.signature(self.after, after)))).collect();
        self.match_constraints(pair, ConstraintKind::Check, kept, wanted);
    }

    fn change_indexes(&mut self, pair: Pair) {
        let Pair { before_id, before, after, .. } = pair;
        let kept = before
            .indexes
            .iter()
            .map(|index| {
                let columns: Vec<ColumnId> = index.columns.iter().map(|c| c.column).collect();
                let predicate_columns: Vec<ColumnId> = match &index.predicate {
                    Some(Predicate::Equals(pairs)) => pairs.iter().map(|(c, _)| *c).collect(),
                    _ => vec![],
                };
                let signature = self.kept_names(before_id, &columns).zip(self.kept_names(before_id, &predicate_columns)).map(|(names, predicate_names)| Signature::Index {
                    columns: names.into_iter().zip(index.columns.iter().map(|c| c.descending)).collect(),
                    unique: index.unique,
                    predicate: predicate_text(&index.predicate, &predicate_names),
                });
                Kept { name: index.name.clone(), signature }
            })
            .collect();
        let wanted = after
            .indexes
            .iter()
            .map(|index| {
                let predicate_names: Vec<String> = match &index.predicate {
                    Some(Predicate::Equals(pairs)) => pairs.iter().map(|(c, _)| after.column(*c).name.clone()).collect(),
                    _ => vec![],
                };
                let signature = Signature::Index {
                    columns: index.columns.iter().map(|c| (after.column(c.column).name.clone(), c.descending)).collect(),
                    unique: index.unique,
                    predicate: predicate_text(&index.predicate, &predicate_names),
                };
                (index.name.clone(), signature)
            })
            .collect();
        self.match_constraints(pair, ConstraintKind::Index, kept, wanted);
    }

    /// Foreign keys, with the referenced table and columns in `after`'s names. One is
    /// rebuilt when its columns or the ones it references change, or when the key it
    /// references is rebuilt (a key cannot be dropped while a foreign key needs it).
    fn change_foreign_keys(&mut self, pair: Pair) {
        let Pair { before_id, before, after, .. } = pair;
        let kept = before
            .foreign_keys
            .iter()
            .map(|fk| {
                let target_id = fk.referenced_table;
                let signature = (|| {
                    let target_after = self.matching.after_table(target_id)?;
                    if self.key_is_rebuilt(target_id, &fk.referenced_columns) {
                        return None;
                    }
                    Some(Signature::ForeignKey {
                        columns: self.kept_names(before_id, &fk.columns)?,
                        table: self.after.table(target_after).name.clone(),
                        referenced: self.kept_names(target_id, &fk.referenced_columns)?,
                        on_delete: fk.on_delete,
                    })
                })();
                Kept { name: fk.name.clone(), signature }
            })
            .collect();
        let wanted = after
            .foreign_keys
            .iter()
            .map(|fk| {
                let target = self.after.table(fk.referenced_table);
                let signature = Signature::ForeignKey {
                    columns: after.column_names(&fk.columns).into_iter().map(String::from).collect(),
                    table: target.name.clone(),
                    referenced: target.column_names(&fk.referenced_columns).into_iter().map(String::from).collect(),
                    on_delete: fk.on_delete,
                };
                (fk.name.clone(), signature)
            })
            .collect();
        self.match_constraints(pair, ConstraintKind::ForeignKey, kept, wanted);
    }

    /// Whether the primary key or unique constraint of `before` table `table` on exactly
    /// `columns` is dropped and added again by this plan.
    fn key_is_rebuilt(&self, table: TableId, columns: &[ColumnId]) -> bool {
        let Some(after_id) = self.matching.after_table(table) else { return true };
        let (before, after) = (self.before.table(table), self.after.table(after_id));
        let names = |ids: &[ColumnId]| after.column_names(ids).into_iter().map(String::from).collect::<Vec<_>>();
        if before.primary_key.columns == columns {
            return self.kept_names(table, columns) != Some(names(&after.primary_key.columns));
        }
        if before.uniques.iter().any(|u| u.columns == columns) {
            let kept = self.kept_names(table, columns);
            return !after.uniques.iter().any(|u| kept.as_ref() == Some(&names(&u.columns)));
        }
        false
    }

    /// Triggers hold no data and their bodies name the table and columns, so any
    /// change to those is a drop and a create.
    fn change_triggers(&mut self, pair: Pair) {
        let Pair { before_id, after_id, before, after } = pair;
        let signature = |table: &Table, trigger: &Trigger| (trigger.name.clone(), table.name.clone(), table.column(trigger.column).name.clone(), table.column_names(&table.primary_key.columns).join(","));
        let wanted: Vec<_> = after.triggers.iter().map(|t| signature(after, t)).collect();
        let had: Vec<_> = before.triggers.iter().map(|t| signature(before, t)).collect();
        for (index, trigger) in had.iter().enumerate() {
            if !wanted.contains(trigger) {
                self.phases.drop_constraints.push(Operation::DropTrigger(before_id, index));
            }
        }
        for (index, trigger) in wanted.iter().enumerate() {
            if !had.contains(trigger) {
                self.phases.triggers_and_comments.push(Operation::CreateTrigger(after_id, index));
            }
        }
    }

    /// Pair constraints of one kind: same signature → kept (renamed if the name
    /// changed); otherwise drop the old and add the new.
    fn match_constraints(&mut self, pair: Pair, kind: ConstraintKind, kept: Vec<Kept>, wanted: Vec<(String, Signature)>) {
        let mut used = vec![false; kept.len()];
        for (after_index, (after_name, after_signature)) in wanted.iter().enumerate() {
            let found = kept.iter().enumerate().position(|(i, k)| !used[i] && k.signature.as_ref() == Some(after_signature));
            match found {
                Some(before_index) => {
                    used[before_index] = true;
                    if kept[before_index].name != *after_name {
                        self.phases.rename_constraints.push(Operation::RenameConstraint { table: (pair.before_id, pair.after_id), kind, before: kept[before_index].name.clone(), after: after_name.clone() });
                    }
                }
                None => self.add_constraint(kind, pair.after_id, after_index),
            }
        }
        for (index, was_used) in used.iter().enumerate() {
            if !was_used {
                self.drop_constraint(kind, pair.before_id, index);
            }
        }
    }

    fn add_constraint(&mut self, kind: ConstraintKind, table: TableId, index: usize) {
        match kind {
            ConstraintKind::Unique => self.phases.add_constraints.push(Operation::AddUnique(table, index)),
            ConstraintKind::Check => self.phases.add_constraints.push(Operation::AddCheck(table, index)),
            ConstraintKind::Index => self.phases.add_constraints.push(Operation::CreateIndex(table, index)),
            ConstraintKind::ForeignKey => self.phases.add_foreign_keys.push(Operation::AddForeignKey(table, index)),
            ConstraintKind::PrimaryKey | ConstraintKind::Default => {}
        }
    }

    fn drop_constraint(&mut self, kind: ConstraintKind, table: TableId, index: usize) {
        match kind {
            ConstraintKind::Unique => self.phases.drop_constraints.push(Operation::DropUnique(table, index)),
            ConstraintKind::Check => self.phases.drop_constraints.push(Operation::DropCheck(table, index)),
            ConstraintKind::Index => self.phases.drop_constraints.push(Operation::DropIndex(table, index)),
            ConstraintKind::ForeignKey => self.phases.drop_foreign_keys.push(Operation::DropForeignKey(table, index)),
            ConstraintKind::PrimaryKey | ConstraintKind::Default => {}
        }
    }

    /// Codebook rows follow their enum: values are matched by stored value; a new
    /// value is inserted, a changed description or deprecation updated, a removed value
    /// deleted (destructive), and a value whose key changed is a reused number
    /// (destructive: rows that stored it now mean something else).
    fn change_codebook_rows(&mut self, pair: Pair) {
        let Pair { before_id, after_id, before, after } = pair;
        let (Some(before_enum), Some(after_enum)) = (before.codebook_of, after.codebook_of) else { return };
        let before_values = &self.before.enum_(before_enum).values;
        let after_values = &self.after.enum_(after_enum).values;
        let enum_name = self.after.enum_(after_enum).name.clone();
        for (after_index, value) in after_values.iter().enumerate() {
            match before_values.iter().position(|v| v.value == value.value) {
                None => self.phases.rows.push(Operation::InsertCodebookRow(after_id, after_index)),
                Some(before_index) => {
                    let old = &before_values[before_index];
                    if old.key != value.key {
                        self.destructive(
                            format!("reuse enum value {enum_name}.{}", value.key),
                            format!("value {} was `{}` and now means `{}`: rows that stored it change meaning; values grow forward and are never reused", literal(&value.value), old.key, value.key),
                        );
                    }
                    if old.description != value.description || old.deprecated != value.deprecated || old.key != value.key {
                        self.phases.rows.push(Operation::UpdateCodebookRow { before: (before_id, before_index), after: (after_id, after_index) });
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
                self.phases.delete_rows.push(Operation::DeleteCodebookRow(before_id, before_index));
            }
        }
    }
}

/// A partial index's predicate, with `Equals` columns as `names` gives them.
fn predicate_text(predicate: &Option<Predicate>, names: &[String]) -> String {
    match predicate {
        None => String::new(),
        Some(Predicate::Raw(sql)) => format!("raw:{}|{}", sql.postgres, sql.mssql),
        Some(Predicate::Equals(pairs)) => pairs.iter().zip(names).map(|((_, literal), name)| format!("{name}={literal:?}")).collect::<Vec<_>>().join(","),
    }
}

fn literal(value: &EnumLiteral) -> String {
    match value {
        EnumLiteral::Int(i) => i.to_string(),
        EnumLiteral::Str(s) => format!("'{s}'"),
    }
}
