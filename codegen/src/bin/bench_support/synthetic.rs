//! The synthetic spec of the generation and migration benchmarks.

use std::fmt::Write as _;

/// One file, like a large real spec: a mixin, three enums (one with a codebook), and
/// tables whose columns cycle through the types, each table referencing the previous.
pub fn spec(tables: usize, columns: usize, changed_every: usize) -> String {
    let mut spec = String::from(
        "project: { name: synthetic }\n\
         mixins:\n  data_table:\n    head:\n      id: { type: bigint, identity: true, primary_key: true }\n    tail:\n      sha: { type: string(64), nullable: true, index: true, role: hash }\n      archive: { type: datetime, nullable: true, role: archive }\n      date_created: { type: datetime, default: now, role: created }\n      date_modified: { type: datetime, nullable: true, on_update: now, role: modified }\n\
         \x20 codebook:\n    head:\n      id: { type: int, primary_key: true, role: enum_value }\n      description: { type: string(128), role: enum_description }\n    tail:\n      sha: { type: string(64), nullable: true, role: hash }\n      archive: { type: datetime, nullable: true, role: archive }\n      date_created: { type: datetime, default: now, role: created }\n\
         enums:\n  Status:\n    codebook: c_status\n    values:\n      idle: { value: 0, description: Idle }\n      busy: { value: 1, description: Busy }\n      gone: { value: 2, description: Gone, deprecated: true }\n\
         \x20 Kind:\n    type: string\n    values:\n      small: { value: small }\n      large: { value: large }\n\
         tables:\n",
    );
    let types = ["string(64)", "text", "int", "bigint", "bool", "double", "\"decimal(18,4)\"", "datetime", "date", "uuid", "json"];
    for t in 0..tables {
        let _ = writeln!(spec, "  table_{t:04}:\n    mixin: data_table\n    comment: Synthetic table {t}.\n    columns:");
        let changed = changed_every > 0 && t % changed_every == 0;
        for c in 0..columns.saturating_sub(3) {
            let ty = types[(t + c) % types.len()];
            let ty = if changed && ty == "string(64)" { "string(128)" } else { ty };
            let (name, renamed) = if changed && c == 0 { ("column_00_renamed".to_string(), " renamed_from: column_00,") } else { (format!("column_{c:02}"), "") };
            let _ = writeln!(spec, "      {name}: {{ type: {ty}, nullable: true,{renamed} comment: Column {c} }}");
        }
        let _ = writeln!(spec, "      status: {{ type: enum(Status), default: idle }}");
        let _ = writeln!(spec, "      kind: {{ type: enum(Kind), nullable: true }}");
        // The changed version: every `changed_every`-th table gets a new column, a
        // widened one and a renamed one (10% of tables with `changed_every = 10`).
        if changed_every > 0 && t % changed_every == 0 {
            let _ = writeln!(spec, "      added_later: {{ type: int, nullable: true }}");
        }
        if t > 0 {
            let _ = writeln!(spec, "      parent_id: {{ type: bigint, nullable: true, references: table_{:04}.id, index: true }}", t - 1);
        } else {
            let _ = writeln!(spec, "      parent_id: {{ type: bigint, nullable: true }}");
        }
    }
    spec
}
