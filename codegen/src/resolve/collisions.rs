//! Rendered constraint, index and trigger names that collide.

use std::collections::HashMap;

use super::Resolver;
use crate::diagnostics::{Diagnostic, Span};


impl<'a> Resolver<'a> {
    /// Constraint, index and trigger names share one namespace per schema in
    /// PostgreSQL (indexes and constraints both live in pg_class) and in SQL Server
    /// (sys.objects): two that render the same are an error.
    pub(super) fn check_constraint_name_collisions(&mut self) {
        let mut seen: HashMap<String, (Span, String)> = HashMap::new();
        for (table_index, spans) in self.spans.iter().enumerate() {
            let table_name = &self.model_tables[table_index].name;
            let mut names: Vec<(String, Span)> = spans.constraint_spans.clone();
            // The foreign key check below also covers FKs (validated for targets
            // earlier); here we only need the rendered names.
            names.dedup();
            for (name, span) in names {
                if let Some((first, first_table)) = seen.get(&name) {
                    let message = if first_table == table_name {
                        format!("constraint name `{name}` is used twice in table `{table_name}`")
                    } else {
                        format!("constraint name `{name}` (table `{table_name}`) is already used by table `{first_table}`")
                    };
                    self.diags.push(
                        Diagnostic::error(span, message)
                            .label("rendered name collides")
                            .related(*first, "first used here")
                            .help("give one of them an explicit `name:`, or change the naming template in `conventions.naming` (e.g. `{columns}` instead of `{column_0}`)"),
                    );
                } else {
                    seen.insert(name, (span, table_name.clone()));
                }
            }
        }
    }
}
