//! `partition:` (PostgreSQL declarative partitioning) and the rule that every unique
//! key of a partitioned table includes the partition column.

use super::Resolver;
use crate::diagnostics::{Diagnostic, Span};
use crate::model::*;
use crate::spec::*;

impl<'a> Resolver<'a> {
    pub(super) fn partition(&mut self, table_index: usize, spec: &TableSpec) {
        let Some(partition) = &spec.partition else { return };
        let by = match partition.value.by.as_ref().map(|b| (b.value.as_str(), b.span)) {
            Some(("range", _)) | None => PartitionBy::Range,
            Some(("list", _)) => PartitionBy::List,
            Some(("hash", _)) => PartitionBy::Hash,
            Some((other, span)) => {
                self.diags.push(
                    Diagnostic::error(span, format!("unknown partition method `{other}`")).label("unknown").help("use `range`, `list` or `hash`"),
                );
                return;
            }
        };
        let Some(column_name) = &partition.value.column else {
            self.diags.push(
                Diagnostic::error(partition.span, "`partition` has no `column`").label("here").help("add `column: created_at`"),
            );
            return;
        };
        let Some(column) = self.column_id(table_index, column_name, "`partition`") else { return };
        self.spans[table_index].partition_column = column_name.span;
        if let Some(interval) = &partition.value.interval {
            if !["day", "week", "month", "year"].contains(&interval.value.as_str()) {
                self.diags.push(
                    Diagnostic::error(interval.span, format!("unknown partition interval `{}`", interval.value))
                        .label("unknown")
                        .help("use day, week, month or year"),
                );
            }
        }
        self.model_tables[table_index].partition =
            Some(Partition { by, column, interval: partition.value.interval.as_ref().map(|i| i.value.clone()) });
    }

    /// PostgreSQL requires the partition column in the primary key and in every unique
    /// constraint of a partitioned table.
    pub(super) fn check_partition_keys(&mut self, table_index: usize) {
        let table = &self.model_tables[table_index];
        let Some(partition) = &table.partition else { return };
        let column_name = table.column(partition.column).name.clone();
        let mut problems: Vec<(String, Span)> = Vec::new();
        if !table.primary_key.columns.is_empty() && !table.primary_key.columns.contains(&partition.column) {
            problems.push((format!("its primary key `{}`", table.primary_key.name), self.spans[table_index].primary_key));
        }
        for unique in &table.uniques {
            if !unique.columns.contains(&partition.column) {
                let span = self.constraint_span(table_index, &unique.name);
                problems.push((format!("its unique constraint `{}`", unique.name), span));
            }
        }
        for index in table.indexes.iter().filter(|i| i.unique) {
            if !index.columns.iter().any(|c| c.column == partition.column) {
                let span = self.constraint_span(table_index, &index.name);
                problems.push((format!("its unique index `{}`", index.name), span));
            }
        }
        let table_name = table.name.clone();
        let partition_span = self.spans[table_index].partition_column;
        for (what, span) in problems {
            self.diags.push(
                Diagnostic::error(span, format!("table `{table_name}` is partitioned by `{column_name}`, but {what} does not include `{column_name}`"))
                    .label("missing the partition column")
                    .related(partition_span, "the table is partitioned by this column")
                    .help(format!("add `{column_name}` to the key (PostgreSQL requires every unique key of a partitioned table to include the partition column)")),
            );
        }
    }
}
