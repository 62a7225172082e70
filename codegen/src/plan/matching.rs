//! Which tables and columns of two models are the same object: by name, else by
//! `renamed_from`. Found once per migration and used both ways (up and down), so the
//! down plan undoes exactly the renames the up plan makes.

use std::collections::HashMap;

use crate::model::*;

#[derive(Clone, Debug, Default)]
pub(crate) struct Matching {
    /// `after` table → `before` table.
    tables: HashMap<TableId, TableId>,
    /// `before` table → `after` table.
    tables_back: HashMap<TableId, TableId>,
    /// (`after` table, `after` column) → `before` column, for matched tables.
    columns: HashMap<(TableId, ColumnId), ColumnId>,
    /// (`before` table, `before` column) → `after` column.
    columns_back: HashMap<(TableId, ColumnId), ColumnId>,
}

impl Matching {
    /// A table of `after` matches the `before` table of the same name, or else the one
    /// named in its `renamed_from` (after a rename has shipped, the spec may keep
    /// `renamed_from`; the name match wins then). Columns of matched tables likewise.
    pub fn find(before: &Model, after: &Model) -> Matching {
        let mut matching = Matching::default();
        for (index, table) in after.tables.iter().enumerate() {
            let by_name = before.table_by_name(&table.name);
            let by_rename = table.renamed_from.as_deref().and_then(|old| before.table_by_name(old)).filter(|old| after.table_by_name(&before.table(*old).name).is_none());
            let Some(old_id) = by_name.or(by_rename) else { continue };
            let new_id = TableId(index);
            matching.tables.insert(new_id, old_id);
            matching.tables_back.insert(old_id, new_id);
            let old = before.table(old_id);
            for (column_index, column) in table.columns.iter().enumerate() {
                let by_name = old.column_by_name(&column.name);
                let by_rename = column.renamed_from.as_deref().and_then(|name| old.column_by_name(name)).filter(|c| table.column_by_name(&old.column(*c).name).is_none());
                if let Some(old_column) = by_name.or(by_rename) {
                    matching.columns.insert((new_id, ColumnId(column_index)), old_column);
                    matching.columns_back.insert((old_id, old_column), ColumnId(column_index));
                }
            }
        }
        matching
    }

    /// The same correspondence seen from the other model.
    pub fn reversed(&self) -> Matching {
        Matching { tables: self.tables_back.clone(), tables_back: self.tables.clone(), columns: self.columns_back.clone(), columns_back: self.columns.clone() }
    }

    /// The `before` table an `after` table is.
    pub fn before_table(&self, after: TableId) -> Option<TableId> {
        self.tables.get(&after).copied()
    }

    /// The `after` table a `before` table became.
    pub fn after_table(&self, before: TableId) -> Option<TableId> {
        self.tables_back.get(&before).copied()
    }

    /// The `before` column an `after` column is.
    pub fn before_column(&self, after_table: TableId, after_column: ColumnId) -> Option<ColumnId> {
        self.columns.get(&(after_table, after_column)).copied()
    }

    /// The `after` column a `before` column became (`None` once dropped).
    pub fn after_column(&self, before_table: TableId, before_column: ColumnId) -> Option<ColumnId> {
        self.columns_back.get(&(before_table, before_column)).copied()
    }
}
