//! The generated crate: `Cargo.toml`, Diesel `schema.rs` (what `diesel print-schema`
//! prints for the migrated database), models (Queryable/Selectable/Identifiable,
//! Insertable, AsChangeset), enums, and per-table facts for the runtime
//! (`tables.rs`, see [`table_info_json`]). Rust names are escaped in one place:
//! [`rust_name`].

use heck::ToUpperCamelCase;
use serde::Serialize;

use dc_runtime::table as facts;

use crate::model::*;
use crate::write::FileTree;

/// Rust 2021 keywords, strict and reserved: a column or table named like one gets a
/// trailing `_` and `#[sql_name]`, as `diesel print-schema` does.
const RUST_KEYWORDS: &[&str] = &[
    "as", "async", "await", "break", "const", "continue", "crate", "dyn", "else", "enum", "extern", "false", "fn", "for",
    "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut", "pub", "ref", "return", "self", "Self", "static",
    "struct", "super", "trait", "true", "type", "unsafe", "use", "where", "while", "abstract", "become", "box", "do",
    "final", "macro", "override", "priv", "typeof", "unsized", "virtual", "yield", "try", "gen",
];

/// A database name and the Rust identifier that stands for it.
#[derive(Serialize, Clone)]
struct RustName {
    ident: String,
    /// Set when the identifier differs from the database name.
    sql_name: Option<String>,
}

/// The one place database names become Rust identifiers. `clashes_with` is the table
/// name for columns: Diesel refuses a column named like its table.
fn rust_name(name: &str, clashes_with: Option<&str>) -> RustName {
    if RUST_KEYWORDS.contains(&name) || clashes_with == Some(name) {
        RustName { ident: format!("{name}_"), sql_name: Some(name.to_string()) }
    } else {
        RustName { ident: name.to_string(), sql_name: None }
    }
}

/// An enum variant for a spec key: UpperCamelCase, with `_` appended when that is a
/// keyword (`self_` → `Self_`, since `Self` cannot name a variant).
fn variant_ident(key: &str) -> String {
    let ident = key.to_upper_camel_case();
    if RUST_KEYWORDS.contains(&ident.as_str()) {
        format!("{ident}_")
    } else {
        ident
    }
}

/// The Diesel SQL type as `diesel print-schema` spells it for PostgreSQL.
fn diesel_type(model: &Model, ty: &ColumnType) -> String {
    match ty.storage(model) {
        ColumnType::SmallInt => "Int2".into(),
        ColumnType::Int => "Int4".into(),
        ColumnType::BigInt => "Int8".into(),
        ColumnType::Bool => "Bool".into(),
        ColumnType::Float => "Float4".into(),
        ColumnType::Double => "Float8".into(),
        ColumnType::Decimal { .. } => "Numeric".into(),
        ColumnType::String { .. } => "Varchar".into(),
        ColumnType::Text => "Text".into(),
        ColumnType::DateTime => "Timestamp".into(),
        ColumnType::DateTimeTz => "Timestamptz".into(),
        ColumnType::Date => "Date".into(),
        ColumnType::Time => "Time".into(),
        ColumnType::Uuid => "Uuid".into(),
        ColumnType::Json => "Jsonb".into(),
        ColumnType::Bytes => "Bytea".into(),
        // PostgreSQL array elements are always nullable.
        ColumnType::Array(inner) => format!("Array<Nullable<{}>>", diesel_type(model, inner)),
        ColumnType::Enum(_) => unreachable!("storage() resolves enums"),
    }
}

/// The Rust type of a column's value (enum columns are the generated enum).
fn rust_type(model: &Model, ty: &ColumnType) -> String {
    match ty {
        ColumnType::SmallInt => "i16".into(),
        ColumnType::Int => "i32".into(),
        ColumnType::BigInt => "i64".into(),
        ColumnType::Bool => "bool".into(),
        ColumnType::Float => "f32".into(),
        ColumnType::Double => "f64".into(),
        ColumnType::Decimal { .. } => "bigdecimal::BigDecimal".into(),
        ColumnType::String { .. } | ColumnType::Text => "String".into(),
        ColumnType::DateTime => "chrono::NaiveDateTime".into(),
        ColumnType::DateTimeTz => "chrono::DateTime<chrono::Utc>".into(),
        ColumnType::Date => "chrono::NaiveDate".into(),
        ColumnType::Time => "chrono::NaiveTime".into(),
        ColumnType::Uuid => "uuid::Uuid".into(),
        ColumnType::Json => "serde_json::Value".into(),
        ColumnType::Bytes => "Vec<u8>".into(),
        ColumnType::Array(inner) => format!("Vec<Option<{}>>", rust_type(model, inner)),
        ColumnType::Enum(id) => format!("crate::enums::{}", model.enum_(*id).name),
    }
}

fn optional(ty: String, nullable: bool) -> String {
    if nullable {
        format!("Option<{ty}>")
    } else {
        ty
    }
}

fn doc_lines(text: &Option<String>) -> Vec<String> {
    text.as_deref().map(|t| t.lines().map(|l| l.trim_end().to_string()).collect()).unwrap_or_default()
}

pub fn crate_files(model: &Model, tree: &mut FileTree) -> Result<(), crate::Error> {
    tree.add("Cargo.toml", super::render("rust/Cargo.toml", &CargoView { notice: super::GENERATED_NOTICE, crate_name: &model.project.crate_name, project: &model.project.name })?);
    tree.add("src/lib.rs", format_rust("src/lib.rs", &super::render("rust/lib.rs", &lib_view(model))?)?);
    // `schema.rs` and `tables.rs` are megabytes for a large spec: they are rendered and
    // checked beside the chunks of `models.rs`, so no core waits for one long file.
    let (schema, tables, models) = std::thread::scope(|scope| {
        let schema = scope.spawn(|| {
            let schema = super::render("rust/schema.rs", &schema_view(model))?;
            syn::parse_file(&schema).map_err(|e| crate::Error::RustSyntax("src/schema.rs".into(), e.to_string()))?;
            Ok(schema)
        });
        let tables = scope.spawn(|| tables_file(model, Layout::AsTemplated));
        let models = models_file(model);
        (joined("src/schema.rs", schema), joined("src/tables.rs", tables), models)
    });
    tree.add("src/schema.rs", schema?);
    tree.add("src/models.rs", models?);
    tree.add("src/enums.rs", format_rust("src/enums.rs", &super::render("rust/enums.rs", &enums_view(model))?)?);
    tree.add("src/tables.rs", tables?);
    Ok(())
}

/// `models.rs`: the tables' items rendered in chunks on every core (see [`chunks`]),
/// then the `serde_text` module.
fn models_file(model: &Model) -> Result<String, crate::Error> {
    models_file_laid_out(model, Layout::AsTemplated)
}

/// Who decides the layout of a rendered chunk of Rust.
#[derive(Clone, Copy, PartialEq)]
enum Layout {
    /// The template's, which is prettyplease's, wherever [`needs_prettyplease`] says
    /// it holds.
    AsTemplated,
    /// prettyplease's always (what the test compares the templates against).
    #[cfg_attr(not(test), allow(dead_code))]
    Prettyplease,
}

fn models_file_laid_out(model: &Model, layout: Layout) -> Result<String, crate::Error> {
    let models = models_view(model);
    let mut out = format!("// {}\n\n", super::GENERATED_NOTICE);
    let chunks: Vec<ModelsChunk> = chunks(&models.tables).enumerate().map(|(i, tables)| ModelsChunk { tables, first: i == 0 }).collect();
    let parts: Vec<Result<String, crate::Error>> = std::thread::scope(|scope| {
        let threads: Vec<_> = chunks.iter().map(|chunk| scope.spawn(move || laid_out_rust("src/models.rs", "rust/models.rs", chunk, layout))).collect();
        threads.into_iter().map(|t| joined("src/models.rs", t)).collect()
    });
    for part in parts {
        out.push_str(&part?);
    }
    let serde_text = prettyplease::unparse(&parse_rust("src/models.rs", &super::render("rust/models_serde_text.rs", &std::collections::BTreeMap::<&str, ()>::new())?)?);
    out.push_str(&serde_text);
    Ok(out)
}

/// The text that stands for a table's facts while prettyplease lays out `tables.rs`
/// (no table name or doc line can hold a `"`).
const FACTS_STAND_IN: &str = "r\"dcgen:facts\"";

/// `tables.rs`: prettyplease lays out the file with a short literal standing in for
/// each table's facts, which are then put back. Each is a raw string literal, which
/// prettyplease prints as written on the line of its `=`, so the bytes are those of
/// laying out the whole file (a test compares both); parsing and printing the
/// megabytes inside the literals was nearly all of this file's cost.
fn tables_file(model: &Model, layout: Layout) -> Result<String, crate::Error> {
    let mut view = tables_view(model);
    if layout == Layout::Prettyplease {
        return format_rust("src/tables.rs", &super::render("rust/tables.rs", &view)?);
    }
    let facts: Vec<String> = view.tables.iter_mut().map(|table| std::mem::replace(&mut table.literal, FACTS_STAND_IN.to_string())).collect();
    let skeleton = format_rust("src/tables.rs", &super::render("rust/tables.rs", &view)?)?;
    let parts: Vec<&str> = skeleton.split(FACTS_STAND_IN).collect();
    if parts.len() != facts.len() + 1 {
        return Err(crate::Error::RustSyntax("src/tables.rs".into(), format!("{} tables but {} places for their facts", facts.len(), parts.len() - 1)));
    }
    let mut out = String::with_capacity(skeleton.len() + facts.iter().map(String::len).sum::<usize>());
    for (part, literal) in parts.iter().zip(facts.iter().map(String::as_str).chain([""])) {
        out.push_str(part);
        out.push_str(literal);
    }
    Ok(out)
}

/// The result of a scoped thread that renders `path`; a panic is a dcgen bug.
fn joined(path: &str, thread: std::thread::ScopedJoinHandle<'_, Result<String, crate::Error>>) -> Result<String, crate::Error> {
    thread.join().unwrap_or_else(|_| Err(crate::Error::RustSyntax(path.into(), "the formatter panicked".into())))
}

fn parse_rust(path: &str, source: &str) -> Result<syn::File, crate::Error> {
    syn::parse_file(source).map_err(|e| crate::Error::RustSyntax(path.into(), e.to_string()))
}

/// Lay out generated Rust with prettyplease so formatting never depends on template
/// whitespace. Comments survive only as doc attributes, which is what we emit.
fn format_rust(path: &str, source: &str) -> Result<String, crate::Error> {
    let formatted = prettyplease::unparse(&parse_rust(path, source)?);
    Ok(format!("// {}\n\n{formatted}", super::GENERATED_NOTICE))
}

/// Split `items` into four runs per core (at least 1 item each): the chunks a big file
/// is rendered in. More chunks than cores, so that while the other outputs (docs, SQL)
/// finish at their own pace, no core idles waiting on one long chunk.
fn chunks<T>(items: &[T]) -> impl Iterator<Item = &[T]> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    items.chunks(items.len().div_ceil(4 * cores).max(1))
}

/// Render `template`, written line for line as prettyplease prints it, and keep its
/// text where that layout holds. Parsing and printing megabytes of models was the
/// largest cost of `gen` (a third of its CPU for 1,000 tables), so prettyplease now
/// lays out only a chunk in which a long name or type makes a line it would break.
/// Chunks join into the bytes prettyplease prints for the whole file, since it prints
/// a file's items one after another with no blank lines between them.
fn laid_out_rust(path: &str, template: &str, view: &impl Serialize, layout: Layout) -> Result<String, crate::Error> {
    let rendered = super::render(template, view)?;
    let mut text = String::with_capacity(rendered.len());
    for line in rendered.lines().filter(|line| !line.is_empty()) {
        text.push_str(line);
        text.push('\n');
    }
    if layout == Layout::AsTemplated && !needs_prettyplease(&text, super::template_source(template)) {
        return Ok(text);
    }
    Ok(prettyplease::unparse(&parse_rust(path, &text)?))
}

/// prettyplease keeps a line as it is when it fits its margin (89 columns) and
/// breaks it otherwise. A rendered line is safe when it is the template's own text
/// (laid out already), a doc comment (printed as written, unless it holds a control
/// character), or at most 80 bytes long; anything else sends the chunk through
/// prettyplease.
fn needs_prettyplease(text: &str, template: &str) -> bool {
    const SAFE_WIDTH: usize = 89;
    let template_lines: std::collections::HashSet<&str> = template.lines().filter(|line| line.len() > SAFE_WIDTH && !line.contains("{{") && !line.contains("{%")).collect();
    text.lines().any(|line| {
        let code = line.trim_start();
        if code.starts_with("///") || code.starts_with("//!") {
            line.chars().any(char::is_control)
        } else {
            line.len() > SAFE_WIDTH && !template_lines.contains(line)
        }
    })
}

#[derive(Serialize)]
struct CargoView<'a> {
    notice: &'a str,
    crate_name: &'a str,
    project: &'a str,
}

#[derive(Serialize)]
struct LibView {
    project: String,
    has_postgres: bool,
}

fn lib_view(model: &Model) -> LibView {
    LibView { project: model.project.name.clone(), has_postgres: model.has_dialect(Dialect::Postgres) }
}

// ----- schema.rs ---------------------------------------------------------------------

#[derive(Serialize)]
struct SchemaView {
    notice: &'static str,
    tables: Vec<SchemaTable>,
    joinables: Vec<String>,
    table_idents: Vec<String>,
}

#[derive(Serialize)]
struct SchemaTable {
    name: RustName,
    docs: Vec<String>,
    primary_key: String,
    columns: Vec<SchemaColumn>,
}

#[derive(Serialize)]
struct SchemaColumn {
    name: RustName,
    docs: Vec<String>,
    max_length: Option<u32>,
    sql_type: String,
}

/// Tables in the order `diesel print-schema` prints them: by name.
fn tables_by_name(model: &Model) -> Vec<&Table> {
    let mut tables: Vec<&Table> = model.tables.iter().collect();
    tables.sort_by(|a, b| a.name.cmp(&b.name));
    tables
}

fn schema_view(model: &Model) -> SchemaView {
    let tables = tables_by_name(model)
        .into_iter()
        .map(|table| SchemaTable {
            name: rust_name(&table.name, None),
            docs: doc_lines(&table.comment),
            primary_key: table.primary_key.columns.iter().map(|c| rust_name(&table.column(*c).name, Some(&table.name)).ident).collect::<Vec<_>>().join(", "),
            columns: table
                .columns
                .iter()
                .map(|c| {
                    let ty = diesel_type(model, &c.ty);
                    SchemaColumn {
                        name: rust_name(&c.name, Some(&table.name)),
                        docs: doc_lines(&c.comment),
                        max_length: match c.ty.storage(model) {
                            ColumnType::String { length } => Some(*length),
                            _ => None,
                        },
                        sql_type: if c.nullable { format!("Nullable<{ty}>") } else { ty },
                    }
                })
                .collect(),
        })
        .collect();
    SchemaView { notice: super::GENERATED_NOTICE, tables, joinables: joinables(model), table_idents: tables_by_name(model).iter().map(|t| rust_name(&t.name, None).ident).collect() }
}

/// `joinable!` lines as `diesel print-schema` makes them: one per single-column foreign
/// key that points at the parent's single-column primary key, and none for a pair of
/// tables joined by more than one such key (Diesel could not tell them apart).
fn joinables(model: &Model) -> Vec<String> {
    let mut candidates: Vec<(String, String, String)> = Vec::new();
    for table in &model.tables {
        for fk in &table.foreign_keys {
            let parent = model.table(fk.referenced_table);
            if fk.columns.len() != 1 || parent.primary_key.columns != fk.referenced_columns || parent.name == table.name {
                continue;
            }
            candidates.push((
                rust_name(&table.name, None).ident,
                rust_name(&parent.name, None).ident,
                rust_name(&table.column(fk.columns[0]).name, Some(&table.name)).ident,
            ));
        }
    }
    let mut lines: Vec<String> = candidates
        .iter()
        .filter(|(child, parent, _)| candidates.iter().filter(|(c, p, _)| c == child && p == parent).count() == 1)
        .map(|(child, parent, column)| format!("diesel::joinable!({child} -> {parent} ({column}));"))
        .collect();
    lines.sort();
    lines
}

// ----- models.rs ---------------------------------------------------------------------

#[derive(Serialize)]
struct ModelsView {
    tables: Vec<ModelTable>,
}

/// Some of the tables of [`ModelsView`], rendered on one thread.
#[derive(Serialize)]
struct ModelsChunk<'a> {
    tables: &'a [ModelTable],
    /// The file's inner doc comment is rendered before the first table only.
    first: bool,
}

#[derive(Serialize)]
struct ModelTable {
    table: String,
    /// The table's constant in `tables.rs`.
    table_constant: String,
    docs: Vec<String>,
    row_struct: String,
    insert_struct: String,
    changeset_struct: String,
    primary_key: String,
    fields: Vec<Field>,
    insert_fields: Vec<Field>,
    /// The insert struct's fields sorted by column name: the order its
    /// `Serialize` writes them in, which is the order the row hash needs.
    insert_fields_by_column: Vec<SortedField>,
    changeset_fields: Vec<Field>,
}

#[derive(Serialize)]
struct SortedField {
    ident: String,
    /// Serialized through the generated `serde_text` (timestamps, decimals).
    exact_text: bool,
}

#[derive(Serialize)]
struct Field {
    ident: String,
    column: String,
    ty: String,
    docs: Vec<String>,
}

fn models_view(model: &Model) -> ModelsView {
    let tables = tables_by_name(model)
        .into_iter()
        .map(|table| {
            let type_name = table.name.to_upper_camel_case();
            let field = |c: &Column, ty: String, docs: Vec<String>| {
                let name = rust_name(&c.name, Some(&table.name));
                Field { ident: name.ident.clone(), column: name.ident, ty, docs }
            };
            let fields = table.columns.iter().map(|c| field(c, optional(rust_type(model, &c.ty), c.nullable), doc_lines(&c.comment))).collect();
            let mut by_column: Vec<&Column> = table.columns.iter().filter(|c| !left_out_of_insert(c)).collect();
            by_column.sort_by(|a, b| a.name.cmp(&b.name));
            let insert_fields_by_column = by_column
                .iter()
                .map(|c| SortedField {
                    ident: rust_name(&c.name, Some(&table.name)).ident,
                    exact_text: matches!(c.ty, ColumnType::DateTime | ColumnType::DateTimeTz | ColumnType::Decimal { .. }),
                })
                .collect();
            let insert_fields = table
                .columns
                .iter()
                .filter(|c| !left_out_of_insert(c))
                .map(|c| {
                    // A column the database can fill is optional on insert: `None`
                    // inserts DEFAULT (Diesel's rule for `Option` in Insertable).
                    let optional_here = c.nullable || c.default.is_some();
                    // The column's own comment is on the row struct (the struct's doc
                    // points there); only what is particular to inserting is said here.
                    let docs = if c.default.is_some() { vec!["`None` lets the database default apply.".to_string()] } else { Vec::new() };
                    field(c, optional(rust_type(model, &c.ty), optional_here), docs)
                })
                .collect();
            let changeset_fields = table
                .columns
                .iter()
                .enumerate()
                .filter(|(i, c)| !table.primary_key.columns.contains(&ColumnId(*i)) && !c.identity && !matches!(c.role, Some(Role::Created | Role::Modified)) && !c.on_update_now)
                .map(|(_, c)| {
                    // `None` leaves the column unchanged; `Some(None)` sets NULL.
                    let value = optional(rust_type(model, &c.ty), c.nullable);
                    field(c, format!("Option<{value}>"), Vec::new())
                })
                .collect();
            ModelTable {
                table: rust_name(&table.name, None).ident,
                table_constant: table.name.to_uppercase(),
                docs: doc_lines(&table.comment),
                insert_struct: format!("New{type_name}"),
                changeset_struct: format!("{type_name}Changeset"),
                row_struct: type_name,
                primary_key: table.primary_key.columns.iter().map(|c| rust_name(&table.column(*c).name, Some(&table.name)).ident).collect::<Vec<_>>().join(", "),
                fields,
                insert_fields,
                insert_fields_by_column,
                changeset_fields,
            }
        })
        .collect();
    ModelsView { tables }
}

// ----- tables.rs ---------------------------------------------------------------------

#[derive(Serialize)]
struct TablesView {
    tables: Vec<TableInfoView>,
}

#[derive(Serialize)]
struct TableInfoView {
    table: String,
    /// The constant's name: the table name in SCREAMING_SNAKE_CASE.
    constant: String,
    insert_struct: String,
    /// The JSON as a Rust raw string literal.
    literal: String,
}

fn tables_view(model: &Model) -> TablesView {
    let tables = tables_by_name(model)
        .into_iter()
        .map(|table| {
            let json = table_info_json(model, table);
            // Enough `#`s that no `"#…` inside the JSON ends the literal early.
            let mut hashes = String::from("#");
            while json.contains(&format!("\"{hashes}")) {
                hashes.push('#');
            }
            TableInfoView {
                table: table.name.clone(),
                constant: table.name.to_uppercase(),
                insert_struct: format!("New{}", table.name.to_upper_camel_case()),
                literal: format!("r{hashes}\"{json}\"{hashes}"),
            }
        })
        .collect();
    TablesView { tables }
}

/// The runtime's name for the type a column stores: enums resolved to their
/// storage (the runtime reads enum values from the column's `enum` entry).
fn runtime_type(model: &Model, ty: &ColumnType) -> facts::SpecType {
    use facts::SpecType as T;
    match ty {
        ColumnType::SmallInt => T::SmallInt,
        ColumnType::Int => T::Int,
        ColumnType::BigInt => T::BigInt,
        ColumnType::Bool => T::Bool,
        ColumnType::Float => T::Float,
        ColumnType::Double => T::Double,
        ColumnType::Decimal { .. } => T::Decimal,
        ColumnType::String { .. } => T::String,
        ColumnType::Text => T::Text,
        ColumnType::DateTime => T::DateTime,
        ColumnType::DateTimeTz => T::DateTimeTz,
        ColumnType::Date => T::Date,
        ColumnType::Time => T::Time,
        ColumnType::Uuid => T::Uuid,
        ColumnType::Json => T::Json,
        ColumnType::Bytes => T::Bytes,
        ColumnType::Array(inner) => T::Array(Box::new(runtime_type(model, inner))),
        ColumnType::Enum(_) => runtime_type(model, ty.storage(model)),
    }
}

fn runtime_role(role: Role) -> facts::Role {
    match role {
        Role::Hash => facts::Role::Hash,
        Role::Archive => facts::Role::Archive,
        Role::Created => facts::Role::Created,
        Role::Modified => facts::Role::Modified,
        Role::EnumValue => facts::Role::EnumValue,
        Role::EnumDescription => facts::Role::EnumDescription,
    }
}

/// Whether the insert struct leaves `column` out: dc-runtime's rule, applied here.
fn left_out_of_insert(column: &Column) -> bool {
    facts::left_out_of_insert(column.identity, column.role.map(runtime_role), column.on_update_now)
}

fn enum_literal_json(literal: &EnumLiteral) -> serde_json::Value {
    match literal {
        EnumLiteral::Int(i) => serde_json::Value::from(*i),
        EnumLiteral::Str(s) => serde_json::Value::from(s.as_str()),
    }
}

fn enum_stored(literal: &EnumLiteral) -> facts::EnumStored {
    match literal {
        EnumLiteral::Int(i) => facts::EnumStored::Int(*i),
        EnumLiteral::Str(s) => facts::EnumStored::Text(s.clone()),
    }
}

/// What dc-runtime knows about a table: its [`facts::TableInfo`], built from
/// the model. The generated crate holds it as text ([`table_info_json`]);
/// `dcgen hash` uses it directly, so the command line and merge hash alike.
pub fn table_info(model: &Model, table: &Table) -> facts::TableInfo {
    let columns = table
        .columns
        .iter()
        .enumerate()
        .map(|(index, c)| {
            let default = c.default.as_ref().map(|default| {
                let literal = match default {
                    DefaultValue::Int(i) => serde_json::json!(i),
                    DefaultValue::Float(f) => serde_json::json!(f),
                    DefaultValue::Bool(b) => serde_json::json!(b),
                    DefaultValue::Str(s) => serde_json::json!(s),
                    DefaultValue::EnumValue(id, value) => enum_literal_json(&model.enum_(*id).values[*value].value),
                    // Known only once the database writes the row.
                    DefaultValue::Now | DefaultValue::Raw(_) => return facts::ColumnDefault::Computed,
                };
                facts::ColumnDefault::Literal(literal)
            });
            let enum_id = match &c.ty {
                ColumnType::Enum(id) => Some(*id),
                ColumnType::Array(inner) => match **inner {
                    ColumnType::Enum(id) => Some(id),
                    _ => None,
                },
                _ => None,
            };
            let enumeration = enum_id.map(|id| model.enum_(id));
            facts::ColumnInfo {
                name: c.name.clone(),
                field: (!left_out_of_insert(c)).then(|| rust_name(&c.name, Some(&table.name)).ident),
                ty: runtime_type(model, &c.ty),
                nullable: c.nullable,
                identity: c.identity,
                role: c.role.map(runtime_role),
                hashed: table.hash_columns.contains(&ColumnId(index)),
                default,
                enum_name: enumeration.map(|e| e.name.clone()),
                enum_values: enumeration.map(|e| e.values.iter().map(|v| (v.key.clone(), enum_stored(&v.value))).collect()).unwrap_or_default(),
            }
        })
        .collect();
    let names = |ids: &[ColumnId]| ids.iter().map(|id| table.column(*id).name.clone()).collect::<Vec<_>>();
    let unique_keys = table
        .uniques
        .iter()
        .map(|key| facts::UniqueKey { name: key.name.clone(), columns: names(&key.columns), partial: false })
        .chain(table.indexes.iter().filter(|index| index.unique).map(|index| facts::UniqueKey {
            name: index.name.clone(),
            columns: index.columns.iter().map(|c| table.column(c.column).name.clone()).collect(),
            partial: index.predicate.is_some(),
        }))
        .collect();
    let codebook = table.codebook_of.map(|id| {
        let e = model.enum_(id);
        facts::Codebook {
            enum_name: e.name.clone(),
            values: e
                .values
                .iter()
                .map(|v| facts::CodebookValue { key: v.key.clone(), value: enum_literal_json(&v.value), description: v.description.clone(), deprecated: v.deprecated })
                .collect(),
        }
    });
    facts::TableInfo {
        format: facts::FORMAT,
        schema: model.project.schema_postgres.clone(),
        table: table.name.clone(),
        insert_struct: format!("New{}", table.name.to_upper_camel_case()),
        sorted_fields: true,
        primary_key: names(&table.primary_key.columns),
        unique_keys,
        columns,
        codebook,
    }
}

/// [`table_info`] as the text `tables.rs` holds (dc-runtime's `TableInfo::to_json`).
pub fn table_info_json(model: &Model, table: &Table) -> String {
    table_info(model, table).to_json()
}

// ----- enums.rs ----------------------------------------------------------------------

#[derive(Serialize)]
struct EnumsView {
    enums: Vec<EnumView>,
}

#[derive(Serialize)]
struct EnumView {
    name: String,
    docs: Vec<String>,
    is_int: bool,
    /// `i32` or `&'static str`.
    value_type: String,
    sql_type: String,
    codebook: Option<String>,
    variants: Vec<VariantView>,
}

#[derive(Serialize)]
struct VariantView {
    ident: String,
    key: String,
    /// The stored value as a Rust literal.
    value: String,
    description: String,
    description_doc: String,
    deprecated: bool,
}

fn enums_view(model: &Model) -> EnumsView {
    let enums = model
        .enums
        .iter()
        .map(|e| {
            let is_int = e.kind == EnumKind::Int;
            EnumView {
                name: e.name.clone(),
                docs: doc_lines(&e.comment),
                is_int,
                value_type: if is_int { "i32".into() } else { "&'static str".into() },
                sql_type: if is_int { "diesel::sql_types::Integer".into() } else { "diesel::sql_types::Text".into() },
                codebook: e.codebook.map(|t| model.table(t).name.clone()),
                variants: e
                    .values
                    .iter()
                    .map(|v| VariantView {
                        ident: variant_ident(&v.key),
                        key: v.key.clone(),
                        value: match &v.value {
                            EnumLiteral::Int(i) => i.to_string(),
                            EnumLiteral::Str(s) => format!("{s:?}"),
                        },
                        description: format!("{:?}", v.description),
                        description_doc: v.description.replace('\n', " "),
                        deprecated: v.deprecated,
                    })
                    .collect(),
            }
        })
        .collect();
    EnumsView { enums }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_and_table_named_columns_get_an_underscore_and_sql_name() {
        assert_eq!(rust_name("type", None).ident, "type_");
        assert_eq!(rust_name("type", None).sql_name.as_deref(), Some("type"));
        assert_eq!(rust_name("runtime", Some("runtime")).ident, "runtime_");
        assert_eq!(rust_name("name", Some("apps")).sql_name, None);
        assert_eq!(variant_ident("self_"), "Self_");
        assert_eq!(variant_ident("not_running"), "NotRunning");
    }

    /// The models template is written as prettyplease prints it: every table of every
    /// fixture, and of a spec whose names run from 2 to 63 characters (so each kind of
    /// line crosses prettyplease's margin), renders to the same bytes with and without
    /// prettyplease, and so does the whole file.
    #[test]
    fn models_template_is_laid_out_as_prettyplease_prints() {
        let (_long_names, specs) = layout_test_specs();
        let (mut as_templated, mut through_prettyplease) = (0, 0);
        for spec in &specs {
            let checked = crate::check(spec);
            assert!(!checked.diagnostics.has_errors(), "{}: {}", spec.display(), checked.diagnostics.render(&checked.sources));
            let model = checked.model.expect("valid spec");
            let view = models_view(&model);
            for (i, table) in view.tables.iter().enumerate() {
                let chunk = ModelsChunk { tables: std::slice::from_ref(table), first: i == 0 };
                let templated = laid_out_rust("src/models.rs", "rust/models.rs", &chunk, Layout::AsTemplated).expect("render");
                let formatted = laid_out_rust("src/models.rs", "rust/models.rs", &chunk, Layout::Prettyplease).expect("render");
                assert_same_text(&format!("{}, table {}", spec.display(), table.table), &templated, &formatted);
                let rendered = super::super::render("rust/models.rs", &chunk).expect("render");
                if needs_prettyplease(&rendered, super::super::template_source("rust/models.rs")) {
                    through_prettyplease += 1;
                } else {
                    as_templated += 1;
                }
            }
            let templated = models_file_laid_out(&model, Layout::AsTemplated).expect("render");
            let formatted = models_file_laid_out(&model, Layout::Prettyplease).expect("render");
            assert_same_text(&spec.display().to_string(), &templated, &formatted);
        }
        // Both paths were taken: the templates' own layout (every framework table) and
        // prettyplease's (the longest names).
        assert!(as_templated >= 40 && through_prettyplease >= 10, "{as_templated} tables as templated, {through_prettyplease} through prettyplease");
    }

    /// `tables.rs` with the facts put back after prettyplease is the file prettyplease
    /// lays out whole, for every fixture and for names of every length.
    #[test]
    fn tables_facts_put_back_are_laid_out_as_prettyplease_prints() {
        let (_long_names, specs) = layout_test_specs();
        for spec in &specs {
            let model = crate::check(spec).model.expect("valid spec");
            let put_back = tables_file(&model, Layout::AsTemplated).expect("render");
            let whole = tables_file(&model, Layout::Prettyplease).expect("render");
            assert_same_text(&format!("{}: tables.rs", spec.display()), &put_back, &whole);
            assert!(!put_back.contains(FACTS_STAND_IN));
        }
    }

    /// The specs the layout tests render: the framework's, both fixtures, and one whose
    /// names run from 2 to 63 characters (in a directory kept while the test runs).
    fn layout_test_specs() -> (tempfile::TempDir, Vec<std::path::PathBuf>) {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("repo root").to_path_buf();
        let long_names = tempfile::tempdir().expect("tempdir");
        std::fs::write(long_names.path().join("spec.yaml"), names_of_every_length()).expect("write spec");
        let specs = vec![root.join("spec"), root.join("tests/fixtures/aggregator"), root.join("tests/fixtures/features"), long_names.path().to_path_buf()];
        (long_names, specs)
    }

    fn assert_same_text(what: &str, templated: &str, formatted: &str) {
        if templated != formatted {
            let line = templated.lines().zip(formatted.lines()).position(|(a, b)| a != b).unwrap_or(0);
            panic!(
                "{what}: differs from prettyplease's layout at line {}:\n  template:     {:?}\n  prettyplease: {:?}",
                line + 1,
                templated.lines().nth(line),
                formatted.lines().nth(line)
            );
        }
    }

    /// Tables and columns named with 1 to 63 characters, of every type, with composite
    /// keys, enums with long names, and docs that are empty or start with `/`.
    fn names_of_every_length() -> String {
        use std::fmt::Write as _;
        let name = |length: usize, seed: usize| -> String {
            let mut name = format!("n{seed}_");
            while name.len() < length {
                name.push((b'a' + (name.len() % 26) as u8) as char);
            }
            name.truncate(length.max(1));
            if name.ends_with('_') {
                name.pop();
                name.push('x');
            }
            name
        };
        let types = ["string(64)", "text", "int", "bigint", "bool", "double", "\"decimal(18,4)\"", "datetime", "datetimetz", "date", "uuid", "json", "enum(LongEnumNameThatGoesOnAndOnAndOnAndOnForeverAndEver)"];
        let mut spec = String::from(
            "project: { name: long_names }\n\
             enums:\n  LongEnumNameThatGoesOnAndOnAndOnAndOnForeverAndEver:\n    type: string\n    values:\n      small: { value: small }\n\
             tables:\n",
        );
        for length in 2..=63 {
            let table = name(length, length);
            let _ = writeln!(spec, "  {table}:\n    comment: \"/starts with a slash\\n\\nafter an empty line\"\n    columns:");
            let _ = writeln!(spec, "      id: {{ type: bigint, primary_key: true }}");
            let _ = writeln!(spec, "      {}: {{ type: int, primary_key: true }}", name(64 - length, 1000 + length));
            for (i, ty) in types.iter().enumerate() {
                let column = name((length + i * 5) % 62 + 2, i);
                let _ = writeln!(spec, "      {column}: {{ type: {ty}, nullable: {}, comment: Column {i} }}", i % 2 == 0);
            }
            let _ = writeln!(spec, "      with_default: {{ type: int, default: 7 }}");
        }
        spec
    }
}
