//! The data dictionary: `docs/schema.md` (tables, columns, types per dialect,
//! constraints, codebook values, a Mermaid ER diagram).
//!
//! Every cell is decided here, escaped for Markdown; `templates/docs/schema.md.tera`
//! only lays the view out.

use serde::Serialize;

use super::{mssql, postgres};
use crate::model::*;
use crate::write::FileTree;

pub fn files(model: &Model, tree: &mut FileTree) -> Result<(), crate::Error> {
    let view = docs_view(model);
    tree.add("docs/schema.md", super::render("docs/schema.md", &view)?);
    Ok(())
}

#[derive(Serialize)]
struct DocsView {
    notice: &'static str,
    title: String,
    intro: Vec<String>,
    tables: Vec<TableView>,
    enums: Vec<EnumView>,
    entities: Vec<EntityView>,
    relationships: Vec<String>,
}

/// A Markdown table: headers and rows of cells, each cell already escaped.
#[derive(Serialize)]
struct MarkdownTable {
    headers: Vec<String>,
    rows: Vec<Vec<String>>,
}

#[derive(Serialize)]
struct TableView {
    name: String,
    anchor: String,
    /// Paragraphs under the heading: the comment, what the table is a codebook of.
    notes: Vec<String>,
    columns: MarkdownTable,
    primary_key: String,
    uniques: Option<MarkdownTable>,
    foreign_keys: Option<MarkdownTable>,
    indexes: Option<MarkdownTable>,
    checks: Option<MarkdownTable>,
    triggers: Option<MarkdownTable>,
    partition: Option<String>,
}

#[derive(Serialize)]
struct EnumView {
    name: String,
    anchor: String,
    notes: Vec<String>,
    values: MarkdownTable,
}

#[derive(Serialize)]
struct EntityView {
    name: String,
    /// `type name KEYS "comment"` lines.
    attributes: Vec<String>,
}

fn docs_view(model: &Model) -> DocsView {
    let mut tables: Vec<&Table> = model.tables.iter().collect();
    tables.sort_by(|a, b| a.name.cmp(&b.name));
    let mut enums: Vec<(EnumId, &Enum)> = model.enums.iter().enumerate().map(|(i, e)| (EnumId(i), e)).collect();
    enums.sort_by(|a, b| a.1.name.cmp(&b.1.name));
    DocsView {
        notice: super::GENERATED_NOTICE,
        title: format!("{} schema", model.project.name),
        intro: intro(model),
        tables: tables.iter().map(|t| table_view(model, t)).collect(),
        enums: enums.iter().map(|(id, e)| enum_view(model, *id, e)).collect(),
        entities: tables.iter().map(|t| entity(model, t)).collect(),
        relationships: tables.iter().flat_map(|t| relationships(model, t)).collect(),
    }
}

fn plural(count: usize, one: &str, many: &str) -> String {
    format!("{count} {}", if count == 1 { one } else { many })
}

fn dialect_label(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::Postgres => "PostgreSQL",
        Dialect::Mssql => "SQL Server",
    }
}

fn intro(model: &Model) -> Vec<String> {
    let dialects: Vec<String> = model
        .project
        .dialects
        .iter()
        .map(|d| {
            let schema = match d {
                Dialect::Postgres => &model.project.schema_postgres,
                Dialect::Mssql => &model.project.schema_mssql,
            };
            format!("{} (schema {})", dialect_label(*d), code(schema))
        })
        .collect();
    let codebooks = model.enums.iter().filter(|e| e.codebook.is_some()).count();
    let with_codebook = match codebooks {
        0 => String::new(),
        n if n == model.enums.len() => " (all with a codebook table)".into(),
        n => format!(" ({n} with a codebook table)"),
    };
    vec![
        format!(
            "The {} schema has {} and {}{with_codebook}, emitted for {}.",
            code(&model.project.name),
            plural(model.tables.len(), "table", "tables"),
            plural(model.enums.len(), "enum", "enums"),
            dialects.join(" and "),
        ),
        format!(
            "Column types are given as written in the spec and as each dialect stores them. \
             \"In hash\" marks the columns the row hash covers ({}, encoding {}).",
            code(&model.hashing.algorithm),
            code(&model.hashing.encoding)
        ),
    ]
}

fn table_anchor(name: &str) -> String {
    // GitHub's heading slug of "Table `name`": lowercase, punctuation other than `-` and
    // `_` dropped, spaces to hyphens.
    format!("table-{}", name.to_lowercase())
}

fn enum_anchor(name: &str) -> String {
    format!("enum-{}", name.to_lowercase())
}

fn table_link(name: &str) -> String {
    format!("[{}](#{})", code(name), table_anchor(name))
}

fn enum_link(name: &str) -> String {
    format!("[{}](#{})", code(name), enum_anchor(name))
}

fn column_list(table: &Table, columns: &[ColumnId]) -> String {
    columns.iter().map(|c| code(&table.column(*c).name)).collect::<Vec<_>>().join(", ")
}

fn table_view(model: &Model, table: &Table) -> TableView {
    let mut notes = Vec::new();
    if let Some(comment) = &table.comment {
        notes.push(paragraph(comment));
    }
    if let Some(enum_id) = table.codebook_of {
        notes.push(format!("Seeded with the values of the enum {}.", enum_link(&model.enum_(enum_id).name)));
    }
    TableView {
        name: table.name.clone(),
        anchor: table_anchor(&table.name),
        notes,
        columns: columns_table(model, table),
        primary_key: format!("{} on ({})", code(&table.primary_key.name), column_list(table, &table.primary_key.columns)),
        uniques: non_empty(MarkdownTable {
            headers: vec!["Name".into(), "Columns".into()],
            rows: table.uniques.iter().map(|u| cells([code(&u.name), column_list(table, &u.columns)])).collect(),
        }),
        foreign_keys: non_empty(foreign_keys_table(model, table)),
        indexes: non_empty(indexes_table(model, table)),
        checks: non_empty(checks_table(model, table)),
        triggers: non_empty(MarkdownTable {
            headers: vec!["Name".into(), "Column".into(), "Keeps".into()],
            rows: table
                .triggers
                .iter()
                .map(|t| {
                    let column = table.column(t.column);
                    cells([code(&t.name), code(&column.name), format!("{} on every UPDATE ({})", now_text(&column.ty), code("on_update: now"))])
                })
                .collect(),
        }),
        partition: table.partition.as_ref().map(|p| partition_text(model, table, p)),
    }
}

fn non_empty(table: MarkdownTable) -> Option<MarkdownTable> {
    (!table.rows.is_empty()).then_some(table)
}

/// Cells of one row, each escaped for a table cell.
fn cells<const N: usize>(values: [String; N]) -> Vec<String> {
    values.iter().map(|v| cell(v)).collect()
}

fn columns_table(model: &Model, table: &Table) -> MarkdownTable {
    let mut headers = vec!["Column".to_string(), "Spec type".to_string()];
    headers.extend(model.project.dialects.iter().map(|d| dialect_label(*d).to_string()));
    headers.extend(["Nullable", "Default", "Role", "In hash", "Comment"].map(String::from));
    let rows = table
        .columns
        .iter()
        .enumerate()
        .map(|(position, column)| {
            let spec_type = match &column.ty {
                ColumnType::Enum(id) => format!("[{}](#{})", code(&spec_type_text(model, &column.ty)), enum_anchor(&model.enum_(*id).name)),
                ty => code(&spec_type_text(model, ty)),
            };
            let mut row = vec![code(&column.name), spec_type];
            row.extend(model.project.dialects.iter().map(|d| code(&dialect_type_name(model, *d, &column.ty))));
            row.push(if column.nullable { "yes".into() } else { "no".into() });
            row.push(default_text(model, column));
            row.push(column.role.map(|r| code(r.name())).unwrap_or_default());
            row.push(if table.hash_columns.contains(&ColumnId(position)) { "✓".into() } else { String::new() });
            row.push(column.comment.as_deref().map(text).unwrap_or_default());
            row.iter().map(|c| cell(c)).collect()
        })
        .collect();
    MarkdownTable { headers, rows }
}

fn dialect_type_name(model: &Model, dialect: Dialect, ty: &ColumnType) -> String {
    match dialect {
        Dialect::Postgres => postgres::type_name(model, ty),
        Dialect::Mssql => mssql::type_name(model, ty),
    }
}

/// The type as a spec would write it: `string(64)`, `decimal(18,4)`, `enum(RunStatus)`,
/// `array(text)`. Nullability is shown apart, so no `?`.
pub fn spec_type_text(model: &Model, ty: &ColumnType) -> String {
    match ty {
        ColumnType::Decimal { precision, scale } => format!("decimal({precision},{scale})"),
        ColumnType::String { length } => format!("string({length})"),
        ColumnType::Array(inner) => format!("array({})", spec_type_text(model, inner)),
        ColumnType::Enum(id) => format!("enum({})", model.enum_(*id).name),
        other => spec_base_type(other).to_string(),
    }
}

/// The spec type without its arguments: one word, as Mermaid attribute types must be.
pub fn spec_base_type(ty: &ColumnType) -> &'static str {
    match ty {
        ColumnType::SmallInt => "smallint",
        ColumnType::Int => "int",
        ColumnType::BigInt => "bigint",
        ColumnType::Bool => "bool",
        ColumnType::Float => "float",
        ColumnType::Double => "double",
        ColumnType::Decimal { .. } => "decimal",
        ColumnType::String { .. } => "string",
        ColumnType::Text => "text",
        ColumnType::DateTime => "datetime",
        ColumnType::DateTimeTz => "datetimetz",
        ColumnType::Date => "date",
        ColumnType::Time => "time",
        ColumnType::Uuid => "uuid",
        ColumnType::Json => "json",
        ColumnType::Bytes => "bytes",
        ColumnType::Array(_) => "array",
        ColumnType::Enum(_) => "enum",
    }
}

fn now_text(ty: &ColumnType) -> String {
    match ty {
        ColumnType::DateTimeTz => "now (with time zone)".into(),
        _ => "now (UTC)".into(),
    }
}

fn enum_value_text(value: &EnumLiteral) -> String {
    match value {
        EnumLiteral::Int(i) => code(&i.to_string()),
        EnumLiteral::Str(s) => code(s),
    }
}

/// A column's default in words: a literal, `now (UTC)`, an enum value's key, or the raw
/// SQL of each enabled dialect. Identity columns say so.
fn default_text(model: &Model, column: &Column) -> String {
    let default = column.default.as_ref().map(|default| match default {
        DefaultValue::Int(i) => code(&i.to_string()),
        DefaultValue::Float(f) => code(&format!("{f:?}")),
        DefaultValue::Bool(b) => code(&b.to_string()),
        DefaultValue::Str(s) => code(&postgres::string_literal(s)),
        DefaultValue::Now => now_text(&column.ty),
        DefaultValue::EnumValue(id, index) => {
            let value = &model.enum_(*id).values[*index];
            match &value.value {
                EnumLiteral::Str(s) if *s == value.key => code(&value.key),
                stored => format!("{} ({})", code(&value.key), enum_value_text(stored)),
            }
        }
        DefaultValue::Raw(sql) => per_dialect_sql(model, sql),
    });
    let identity = column.identity.then(|| "identity".to_string());
    [identity, default].into_iter().flatten().collect::<Vec<_>>().join("; ")
}

/// Raw SQL the user wrote: once when both dialects say the same, else labelled per
/// enabled dialect.
fn per_dialect_sql(model: &Model, sql: &DialectSql) -> String {
    if sql.postgres == sql.mssql || model.project.dialects.len() == 1 {
        let only = if model.has_dialect(Dialect::Postgres) { &sql.postgres } else { &sql.mssql };
        return code(only);
    }
    model
        .project
        .dialects
        .iter()
        .map(|d| {
            let text = match d {
                Dialect::Postgres => &sql.postgres,
                Dialect::Mssql => &sql.mssql,
            };
            format!("{}: {}", dialect_label(*d), code(text))
        })
        .collect::<Vec<_>>()
        .join("<br>")
}

fn foreign_keys_table(model: &Model, table: &Table) -> MarkdownTable {
    MarkdownTable {
        headers: ["Name", "Columns", "References", "On delete"].map(String::from).to_vec(),
        rows: table
            .foreign_keys
            .iter()
            .map(|fk| {
                let target = model.table(fk.referenced_table);
                cells([
                    code(&fk.name),
                    column_list(table, &fk.columns),
                    format!("{} ({})", table_link(&target.name), column_list(target, &fk.referenced_columns)),
                    fk.on_delete.sql().to_string(),
                ])
            })
            .collect(),
    }
}

fn indexes_table(model: &Model, table: &Table) -> MarkdownTable {
    MarkdownTable {
        headers: ["Name", "Columns", "Unique", "Where (PostgreSQL)"].map(String::from).to_vec(),
        rows: table
            .indexes
            .iter()
            .map(|index| {
                let columns = index
                    .columns
                    .iter()
                    .map(|c| format!("{}{}", code(&table.column(c.column).name), if c.descending { " DESC" } else { "" }))
                    .collect::<Vec<_>>()
                    .join(", ");
                let predicate = match &index.predicate {
                    None => String::new(),
                    Some(predicate) => {
                        let mut shown = code(&postgres::predicate_sql(table, predicate));
                        if let Predicate::Raw(sql) = predicate {
                            if sql.mssql != sql.postgres && model.has_dialect(Dialect::Mssql) {
                                shown.push_str(&format!("<br>SQL Server: {}", code(&sql.mssql)));
                            }
                        }
                        shown
                    }
                };
                cells([code(&index.name), columns, if index.unique { "✓".into() } else { String::new() }, predicate])
            })
            .collect(),
    }
}

fn checks_table(model: &Model, table: &Table) -> MarkdownTable {
    let mssql = model.has_dialect(Dialect::Mssql);
    MarkdownTable {
        headers: ["Name", "Expression", "Note"].map(String::from).to_vec(),
        rows: table
            .checks
            .iter()
            .filter(|c| mssql || c.kind.exists_on(Dialect::Postgres))
            .map(|check| {
                let on_sql_server = super::expr_mssql::check_sql(model, table, check);
                let (expression, note) = match (&check.kind, super::expr_postgres::check_sql(model, table, check)) {
                    (_, None) => (code(&on_sql_server), "SQL Server only (T-SQL): the column is `nvarchar(max)` there and must hold JSON".to_string()),
                    (CheckKind::EnumValues { .. }, Some(postgres)) => (code(&postgres), "allowed values of the enum".to_string()),
                    (_, Some(postgres)) => {
                        let note = if mssql && on_sql_server != postgres { format!("SQL Server: {}", code(&on_sql_server)) } else { String::new() };
                        (code(&postgres), note)
                    }
                };
                cells([code(&check.name), expression, note])
            })
            .collect(),
    }
}

fn partition_text(model: &Model, table: &Table, partition: &Partition) -> String {
    let mut out = format!("PostgreSQL partitions the table by {} on {}", partition.by.sql(), code(&table.column(partition.column).name));
    if let Some(interval) = &partition.interval {
        out.push_str(&format!(", interval {}", code(interval)));
    }
    // Mirrors `emit::postgres`: the migration creates only the default partition.
    out.push_str(&format!(
        ". The migration creates the default partition {}, which takes rows outside every other partition; partitions per interval are created by operations.",
        code(&format!("{}_default", table.name))
    ));
    if model.has_dialect(Dialect::Mssql) {
        out.push_str(" On SQL Server the table is emitted unpartitioned.");
    }
    out
}

fn enum_view(model: &Model, id: EnumId, enum_: &Enum) -> EnumView {
    let mut notes = Vec::new();
    if let Some(comment) = &enum_.comment {
        notes.push(paragraph(comment));
    }
    let storage: Vec<String> =
        model.project.dialects.iter().map(|d| format!("{} in {}", code(&dialect_type_name(model, *d, &enum_.storage)), dialect_label(*d))).collect();
    let stored = format!("{} enum, stored as its value ({})", if enum_.kind == EnumKind::Int { "An int" } else { "A string" }, storage.join(", "));
    notes.push(match enum_.codebook {
        Some(codebook) => format!(
            "{stored}; every column of this enum has a foreign key to the codebook table {}, which the migrations seed with the values below.",
            table_link(&model.table(codebook).name)
        ),
        None => format!("{stored}; every column of this enum has a CHECK constraint listing the allowed values."),
    });
    let mut users: Vec<String> = Vec::new();
    for table in &model.tables {
        for column in &table.columns {
            if type_uses_enum(&column.ty, id) {
                users.push(format!("{}.{}", table.name, column.name));
            }
        }
    }
    users.sort();
    if !users.is_empty() {
        notes.push(format!("Used by {}.", users.iter().map(|u| code(u)).collect::<Vec<_>>().join(", ")));
    }
    let deprecated = if enum_.codebook.is_some() { "deprecated (seeded archived)" } else { "deprecated" };
    EnumView {
        name: enum_.name.clone(),
        anchor: enum_anchor(&enum_.name),
        notes,
        values: MarkdownTable {
            headers: ["Value", "Key", "Description", "Status"].map(String::from).to_vec(),
            rows: enum_
                .values
                .iter()
                .map(|v| cells([enum_value_text(&v.value), code(&v.key), text(&v.description), if v.deprecated { deprecated.into() } else { String::new() }]))
                .collect(),
        },
    }
}

fn type_uses_enum(ty: &ColumnType, id: EnumId) -> bool {
    match ty {
        ColumnType::Enum(e) => *e == id,
        ColumnType::Array(inner) => type_uses_enum(inner, id),
        _ => false,
    }
}

/// True when `columns` alone are unique in `table`: its primary key, a unique
/// constraint, or a unique index without a predicate, on exactly those columns.
fn is_unique_key(table: &Table, columns: &[ColumnId]) -> bool {
    let same = |other: &[ColumnId]| {
        let mut a = other.to_vec();
        let mut b = columns.to_vec();
        a.sort();
        b.sort();
        a == b
    };
    same(&table.primary_key.columns)
        || table.uniques.iter().any(|u| same(&u.columns))
        || table
            .indexes
            .iter()
            .filter(|i| i.unique && i.predicate.is_none())
            .any(|i| same(&i.columns.iter().map(|c| c.column).collect::<Vec<_>>()))
}

fn entity(model: &Model, table: &Table) -> EntityView {
    let attributes = table
        .columns
        .iter()
        .enumerate()
        .map(|(position, column)| {
            let id = ColumnId(position);
            let mut keys = Vec::new();
            if table.primary_key.columns.contains(&id) {
                keys.push("PK");
            }
            if table.foreign_keys.iter().any(|fk| fk.columns.contains(&id)) {
                keys.push("FK");
            }
            if !table.primary_key.columns.contains(&id) && is_unique_key(table, &[id]) {
                keys.push("UK");
            }
            let mut line = format!("{} {}", spec_base_type(&column.ty), mermaid_attribute_name(&column.name));
            if !keys.is_empty() {
                line.push(' ');
                line.push_str(&keys.join(", "));
            }
            if let ColumnType::Enum(e) = &column.ty {
                // Mermaid comments are double-quoted strings; enum names are identifiers.
                line.push_str(&format!(" \"{}\"", model.enum_(*e).name));
            }
            line
        })
        .collect();
    EntityView { name: mermaid_entity_name(&table.name), attributes }
}

/// Entity names are always quoted: unquoted, a table named `style`, `class`, `to`, `one`
/// or `many` is a keyword to Mermaid's lexer. Table names are identifiers, never `"`.
fn mermaid_entity_name(name: &str) -> String {
    format!("\"{name}\"")
}

/// Mermaid reads the words `PK`, `FK` and `UK` as key markers whatever their case, so a
/// column with such a name is written in backticks, Mermaid's quoting for attribute names.
fn mermaid_attribute_name(name: &str) -> String {
    if ["pk", "fk", "uk"].contains(&name.to_ascii_lowercase().as_str()) {
        format!("`{name}`")
    } else {
        name.to_string()
    }
}

/// `parent ||--o{ child : "fk_name"`, the parent side optional (`|o`) when the foreign
/// key's columns are nullable, the child side at most one (`o|`) when they are unique.
fn relationships(model: &Model, table: &Table) -> Vec<String> {
    table
        .foreign_keys
        .iter()
        .map(|fk| {
            let parent = model.table(fk.referenced_table);
            let optional = fk.columns.iter().any(|c| table.column(*c).nullable);
            let parent_side = if optional { "|o" } else { "||" };
            let child_side = if is_unique_key(table, &fk.columns) { "o|" } else { "o{" };
            format!("{} {parent_side}--{child_side} {} : \"{}\"", mermaid_entity_name(&parent.name), mermaid_entity_name(&table.name), fk.name)
        })
        .collect()
}

/// Prose from the spec, safe in a table cell or a paragraph line: `|` escaped, line
/// breaks as `<br>`, and `<` and `&` as entities so nothing reads as HTML.
fn text(raw: &str) -> String {
    let raw = raw.trim();
    // Most comments need no escaping: one copy instead of four (docs for 1,000 tables
    // escape a quarter of a million cells and comments).
    if !raw.contains(['&', '<', '\r', '\n']) {
        return raw.to_string();
    }
    raw.replace('&', "&amp;").replace('<', "&lt;").replace("\r\n", "\n").replace('\n', "<br>")
}

/// A paragraph of prose: as [`text`], and a leading character that would start a
/// heading, quote or list is escaped.
fn paragraph(raw: &str) -> String {
    let escaped = text(raw);
    match escaped.chars().next() {
        Some(c @ ('#' | '>' | '-' | '+' | '*' | '=')) => format!("\\{c}{}", &escaped[c.len_utf8()..]),
        _ => escaped,
    }
}

/// A code span, its fence longer than any backtick run inside, on one line.
fn code(raw: &str) -> String {
    if !raw.is_empty() && !raw.contains(['\r', '\n', '`']) {
        return format!("`{raw}`");
    }
    let one_line = raw.replace("\r\n", " ").replace('\n', " ");
    let mut longest = 0;
    let mut run = 0;
    for c in one_line.chars() {
        run = if c == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    let fence = "`".repeat(longest + 1);
    if one_line.starts_with('`') || one_line.ends_with('`') || one_line.is_empty() {
        format!("{fence} {one_line} {fence}")
    } else {
        format!("{fence}{one_line}{fence}")
    }
}

/// A table cell: GitHub splits rows at every unescaped `|`, even inside code spans, so
/// each one is escaped; a line break would end the row.
fn cell(markdown: &str) -> String {
    if !markdown.contains(['|', '\r', '\n']) {
        return markdown.to_string();
    }
    markdown.replace('|', "\\|").replace("\r\n", "<br>").replace('\n', "<br>")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model_with_enum() -> Model {
        Model {
            project: Project {
                name: "demo".into(),
                crate_name: "demo".into(),
                dialects: vec![Dialect::Postgres, Dialect::Mssql],
                schema_postgres: "public".into(),
                schema_mssql: "dbo".into(),
            },
            hashing: Hashing { algorithm: "sha3_256".into(), encoding: "data_collector_json".into(), lowercase: true, strip_whitespace: true },
            tables: vec![],
            enums: vec![Enum {
                name: "RunStatus".into(),
                kind: EnumKind::Int,
                storage: ColumnType::Int,
                codebook: None,
                comment: None,
                values: vec![],
            }],
        }
    }

    #[test]
    fn pipes_in_cells_are_escaped_and_line_breaks_kept_in_the_row() {
        assert_eq!(cell(&text("a | b\nc")), "a \\| b<br>c");
        assert_eq!(cell(&code("x || y")), "`x \\|\\| y`");
        assert_eq!(cell(&code("two\nlines")), "`two lines`");
        assert_eq!(text("List<T> & more"), "List&lt;T> &amp; more");
    }

    #[test]
    fn code_spans_outgrow_backticks_inside() {
        assert_eq!(code("plain"), "`plain`");
        assert_eq!(code("a `b` c"), "``a `b` c``");
        assert_eq!(code("`x`"), "`` `x` ``");
    }

    #[test]
    fn paragraphs_do_not_start_blocks() {
        assert_eq!(paragraph("# not a heading"), "\\# not a heading");
        assert_eq!(paragraph("- not a list"), "\\- not a list");
    }

    #[test]
    fn mermaid_names_never_read_as_keywords() {
        assert_eq!(mermaid_entity_name("style"), "\"style\"");
        assert_eq!(mermaid_attribute_name("pk"), "`pk`");
        assert_eq!(mermaid_attribute_name("pk_id"), "pk_id");
    }

    #[test]
    fn spec_type_text_is_what_the_user_wrote() {
        let model = model_with_enum();
        assert_eq!(spec_type_text(&model, &ColumnType::String { length: 64 }), "string(64)");
        assert_eq!(spec_type_text(&model, &ColumnType::Decimal { precision: 18, scale: 4 }), "decimal(18,4)");
        assert_eq!(spec_type_text(&model, &ColumnType::Enum(EnumId(0))), "enum(RunStatus)");
        assert_eq!(spec_type_text(&model, &ColumnType::Array(Box::new(ColumnType::Text))), "array(text)");
        assert_eq!(spec_type_text(&model, &ColumnType::DateTimeTz), "datetimetz");
        assert_eq!(spec_type_text(&model, &ColumnType::BigInt), "bigint");
        assert_eq!(spec_base_type(&ColumnType::String { length: 64 }), "string");
        assert_eq!(spec_base_type(&ColumnType::Enum(EnumId(0))), "enum");
    }
}
