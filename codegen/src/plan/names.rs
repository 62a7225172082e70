//! What each table, column and constraint is called at each point of an operation list.
//!
//! A kept object has a `before` and an `after` name. It is called by the first until
//! the operation that renames it has run, and by the second from then on. A
//! [`Timeline`] records where each rename runs in one list; [`Names`] answers for one
//! position of it. Emit asks it for every name it writes, so each statement names an
//! object as it is called when that statement runs, in whatever order the plan puts
//! the operations, up or down.

use std::collections::HashMap;

use crate::model::*;

use super::{ColumnRef, Operation};

/// Where each rename of an operation list runs.
#[derive(Debug, Default)]
pub struct Timeline {
    /// `before` table → (`after` table, position of its rename).
    tables: HashMap<TableId, (TableId, usize)>,
    /// `after` table → (`before` table, position of its rename).
    tables_after: HashMap<TableId, (TableId, usize)>,
    columns: HashMap<ColumnRef, (ColumnRef, usize)>,
    columns_after: HashMap<ColumnRef, (ColumnRef, usize)>,
    /// (`before` table, `before` name) → (`after` name, position).
    constraints: HashMap<(TableId, String), (String, usize)>,
    /// (`after` table, `after` name) → (`before` name, position).
    constraints_after: HashMap<(TableId, String), (String, usize)>,
}

impl Timeline {
    pub fn of(operations: &[Operation]) -> Timeline {
        let mut timeline = Timeline::default();
        for (position, operation) in operations.iter().enumerate() {
            match operation {
                Operation::RenameTable { before, after } => {
                    timeline.tables.insert(*before, (*after, position));
                    timeline.tables_after.insert(*after, (*before, position));
                }
                Operation::RenameColumn { before, after } => {
                    timeline.columns.insert(*before, (*after, position));
                    timeline.columns_after.insert(*after, (*before, position));
                }
                Operation::RenameConstraint { table: (tb, ta), before, after, .. } => {
                    timeline.constraints.insert((*tb, before.clone()), (after.clone(), position));
                    timeline.constraints_after.insert((*ta, after.clone()), (before.clone(), position));
                }
                _ => {}
            }
        }
        timeline
    }

    /// The names as they are just before the operation at `position` runs.
    pub fn at<'m>(&'m self, before: &'m Model, after: &'m Model, position: usize) -> Names<'m> {
        Names { before, after, timeline: self, position }
    }
}

/// Which model an id points into.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Before,
    After,
}

/// Names at one point of an operation list.
pub struct Names<'m> {
    before: &'m Model,
    after: &'m Model,
    timeline: &'m Timeline,
    position: usize,
}

impl<'m> Names<'m> {
    pub fn model(&self, side: Side) -> &'m Model {
        match side {
            Side::Before => self.before,
            Side::After => self.after,
        }
    }

    /// Whether a rename at `at` has run by now.
    fn done(&self, at: usize) -> bool {
        at < self.position
    }

    pub fn table_name(&self, side: Side, table: TableId) -> &'m str {
        match side {
            Side::Before => match self.timeline.tables.get(&table) {
                Some((renamed, at)) if self.done(*at) => &self.after.table(*renamed).name,
                _ => &self.before.table(table).name,
            },
            Side::After => match self.timeline.tables_after.get(&table) {
                Some((was, at)) if !self.done(*at) => &self.before.table(*was).name,
                _ => &self.after.table(table).name,
            },
        }
    }

    pub fn column_name(&self, side: Side, (table, column): ColumnRef) -> &'m str {
        match side {
            Side::Before => match self.timeline.columns.get(&(table, column)) {
                Some(((t, c), at)) if self.done(*at) => &self.after.table(*t).column(*c).name,
                _ => &self.before.table(table).column(column).name,
            },
            Side::After => match self.timeline.columns_after.get(&(table, column)) {
                Some(((t, c), at)) if !self.done(*at) => &self.before.table(*t).column(*c).name,
                _ => &self.after.table(table).column(column).name,
            },
        }
    }

    /// A constraint, index or named default of `table`, by its name in that side's model.
    pub fn constraint_name<'a>(&'a self, side: Side, table: TableId, name: &'a str) -> &'a str {
        let (renames, wanted_done) = match side {
            Side::Before => (&self.timeline.constraints, true),
            Side::After => (&self.timeline.constraints_after, false),
        };
        match renames.get(&(table, name.to_string())) {
            Some((other, at)) if self.done(*at) == wanted_done => other,
            _ => name,
        }
    }

    /// A table under the names it and its columns have now.
    pub fn table(&self, side: Side, id: TableId) -> Current<'_> {
        let model = self.model(side);
        Current { model, table: model.table(id), name: self.table_name(side, id), id, side, names: self }
    }

    pub fn before(&self, id: TableId) -> Current<'_> {
        self.table(Side::Before, id)
    }

    pub fn after(&self, id: TableId) -> Current<'_> {
        self.table(Side::After, id)
    }
}

/// A table of one model, as it and its columns are called when a statement runs. Its
/// facts (types, defaults, constraint definitions) come from `table`; names from here.
#[derive(Clone, Copy)]
pub struct Current<'a> {
    pub model: &'a Model,
    pub table: &'a Table,
    pub name: &'a str,
    id: TableId,
    side: Side,
    names: &'a Names<'a>,
}

impl<'a> Current<'a> {
    pub fn column(&self, column: ColumnId) -> &'a str {
        self.names.column_name(self.side, (self.id, column))
    }

    pub fn columns(&self, columns: &[ColumnId]) -> Vec<&'a str> {
        columns.iter().map(|c| self.column(*c)).collect()
    }

    /// The same table under another name (a rename's target).
    pub fn with_name(&self, name: &'a str) -> Current<'a> {
        Current { name, ..*self }
    }

    pub fn constraint(&self, name: &'a str) -> &'a str {
        self.names.constraint_name(self.side, self.id, name)
    }
}
