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
        let tables = scope.spawn(|| format_rust("src/tables.rs", &super::render("rust/tables.rs", &tables_view(model))?));
        let models = models_file(model);
        (joined("src/schema.rs", schema), joined("src/tables.rs", tables), models)
    });
    tree.add("src/schema.rs", schema?);
    tree.add("src/models.rs", models?);
    tree.add("src/enums.rs", format_rust("src/enums.rs", &super::render("rust/enums.rs", &enums_view(model))?)?);
    tree.add("src/tables.rs", tables?);
    Ok(())
}

/// `models.rs`, rendered and formatted in chunks of tables (see [`render_rust_in_chunks`]).
fn models_file(model: &Model) -> Result<String, crate::Error> {
    let models = models_view(model);
    let chunks: Vec<&[ModelTable]> = chunks(&models.tables).collect();
    let count = chunks.len();
    let chunks = chunks.into_iter().enumerate().map(|(i, tables)| ModelsChunk { tables, last: i + 1 == count }).collect();
    render_rust_in_chunks("src/models.rs", "rust/models.rs", chunks)
}

/// The result of a scoped thread that renders `path`; a panic is a dcgen bug.
fn joined(path: &str, thread: std::thread::ScopedJoinHandle<'_, Result<String, crate::Error>>) -> Result<String, crate::Error> {
    thread.join().unwrap_or_else(|_| Err(crate::Error::RustSyntax(path.into(), "the formatter panicked".into())))
}

/// Lay out generated Rust with prettyplease so formatting never depends on template
/// whitespace. Comments survive only as doc attributes, which is what we emit.
fn format_rust(path: &str, source: &str) -> Result<String, crate::Error> {
    let file = syn::parse_file(source).map_err(|e| crate::Error::RustSyntax(path.into(), e.to_string()))?;
    let formatted = prettyplease::unparse(&file);
    Ok(format!("// {}\n\n{formatted}", super::GENERATED_NOTICE))
}

/// Split `items` into four runs per core (at least 1 item each): the chunks a big file
/// is rendered and formatted in. More chunks than cores, so that while the other outputs
/// (docs, SQL) finish at their own pace, no core idles waiting on one long chunk.
fn chunks<T>(items: &[T]) -> impl Iterator<Item = &[T]> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    items.chunks(items.len().div_ceil(4 * cores).max(1))
}

/// Render `template` once per view and lay each result out with prettyplease, each on
/// its own thread, then join them: the bytes of [`format_rust`] on the whole file, since
/// prettyplease prints a file's items one after another (inner attributes, the `//!`
/// lines, are kept from the first chunk only). Formatting megabytes of models is the
/// largest cost of `gen`; this puts every core on it.
fn render_rust_in_chunks<V: Serialize + Sync>(path: &str, template: &str, views: Vec<V>) -> Result<String, crate::Error> {
    let parts: Vec<Result<String, crate::Error>> = std::thread::scope(|scope| {
        let threads: Vec<_> = views
            .iter()
            .enumerate()
            .map(|(i, view)| {
                scope.spawn(move || {
                    let source = super::render(template, view)?;
                    let mut file = syn::parse_file(&source).map_err(|e| crate::Error::RustSyntax(path.into(), e.to_string()))?;
                    if i > 0 {
                        file.attrs.clear();
                    }
                    Ok(prettyplease::unparse(&file))
                })
            })
            .collect();
        threads.into_iter().map(|t| joined(path, t)).collect()
    });
    let mut out = format!("// {}\n\n", super::GENERATED_NOTICE);
    for part in parts {
        out.push_str(&part?);
    }
    Ok(out)
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

/// Some of the tables of [`ModelsView`], rendered and formatted on one thread.
#[derive(Serialize)]
struct ModelsChunk<'a> {
    tables: &'a [ModelTable],
    /// The file's tail (the `serde_text` module) is rendered after the last table only.
    last: bool,
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
}
