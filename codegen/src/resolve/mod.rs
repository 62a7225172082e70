//! Stage 2, resolve: raw spec → checked [`Model`]. Names, types, mixins, references and
//! conventions are resolved here, and every validation rule runs here, each in a function
//! named for what it checks. Problems are collected, not returned early: resolution
//! goes as far as it meaningfully can so one run reports every mistake.

mod expr;
pub mod types;

use std::collections::HashMap;

use heck::ToUpperCamelCase;

use crate::diagnostics::{did_you_mean, Diagnostic, Diagnostics, Sp, Span};
use crate::model::*;
use crate::naming::{self, NameParts, Naming};
use crate::spec::*;
use types::{parse_type, strip_nullable, ParsedType};

/// Resolve a loaded spec. Returns `None` when errors make a model meaningless; the
/// errors are in `diags` either way.
pub fn resolve(spec: &Spec, diags: &mut Diagnostics) -> Option<Model> {
    let mut r = Resolver { diags, spec, naming: Naming::default(), model_tables: vec![], spans: vec![], enums: vec![], enum_spans: vec![] };
    let project = r.project()?;
    r.conventions(&project);
    let mixins = r.collect_mixins();
    r.collect_enums();
    r.check_duplicate_names();
    r.build_tables(&mixins);
    r.resolve_constraints();
    r.check_constraint_name_collisions();
    if project.dialects.contains(&Dialect::Mssql) {
        r.check_sql_server_cascade_paths();
    }
    let hashing = r.hashing();
    if r.diags.has_errors() {
        return None;
    }
    Some(Model { project, hashing, tables: r.model_tables, enums: r.enums })
}

/// Where the parts of one table were written, kept beside the model while resolving.
#[derive(Default, Clone)]
struct TableSpans {
    name: Span,
    columns: Vec<Span>,
    /// The column specs in model order (for column-level constraints).
    column_specs: Vec<ColumnSpec>,
    /// Index into spec file and table list, `None` for generated codebook tables.
    source: Option<(usize, usize)>,
    /// Spans of constraint names, parallel to each list in the model table.
    constraint_spans: Vec<(String, Span)>,
}

struct Resolver<'a> {
    diags: &'a mut Diagnostics,
    spec: &'a Spec,
    naming: Naming,
    model_tables: Vec<Table>,
    spans: Vec<TableSpans>,
    enums: Vec<Enum>,
    enum_spans: Vec<(Span, Option<Span>)>,
}

struct Mixin<'a> {
    name: &'a Sp<String>,
    spec: &'a MixinSpec,
}

/// The shared rules for names: snake_case ASCII, 1..=63 bytes.
fn check_identifier(diags: &mut Diagnostics, name: &Sp<String>, what: &str) -> bool {
    let text = name.value.as_str();
    let problem = if text.is_empty() {
        Some("is empty".to_string())
    } else if text.len() > 63 {
        Some(format!("is {} bytes long; the limit is 63 (PostgreSQL's identifier limit)", text.len()))
    } else if !text.starts_with(|c: char| c.is_ascii_lowercase())
        || !text.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    {
        Some("is not snake_case (`[a-z][a-z0-9_]*`)".to_string())
    } else {
        None
    };
    match problem {
        Some(problem) => {
            let suggestion = heck::ToSnakeCase::to_snake_case(text);
            let mut diagnostic = Diagnostic::error(name.span, format!("{what} name `{text}` {problem}")).label("invalid name");
            diagnostic = if !suggestion.is_empty() && suggestion != text && suggestion.len() <= 63 {
                diagnostic.help(format!("rename it to `{suggestion}`"))
            } else {
                diagnostic.help("use lowercase ASCII letters, digits and `_`, starting with a letter, at most 63 bytes")
            };
            diags.push(diagnostic);
            false
        }
        None => true,
    }
}

impl<'a> Resolver<'a> {
    // ----- project and conventions -------------------------------------------------

    fn project(&mut self) -> Option<Project> {
        let found: Vec<&Sp<ProjectSpec>> = self.spec.files.iter().filter_map(|f| f.project.as_ref()).collect();
        let Some(first) = found.first() else {
            if self.spec.unreadable_files > 0 {
                // The key may well be in the file that did not parse.
                return None;
            }
            self.diags.push(
                Diagnostic::error(Span::NONE, "no `project` key in any spec file")
                    .help("add `project: { name: my_project }` to one file of the spec directory"),
            );
            return None;
        };
        for extra in &found[1..] {
            self.diags.push(
                Diagnostic::error(extra.span, "`project` is defined twice")
                    .label("second definition")
                    .related(first.span, "first defined here")
                    .help("keep one `project` key for the whole spec directory"),
            );
        }
        let spec = &first.value;
        let name = match &spec.name {
            Some(name) => {
                check_identifier(self.diags, name, "project");
                name.value.clone()
            }
            None => {
                self.diags.push(
                    Diagnostic::error(first.span, "`project` has no `name`").label("here").help("add `name: my_project` (snake_case)"),
                );
                String::new()
            }
        };
        let crate_name = match &spec.crate_name {
            Some(c) => {
                if c.value.is_empty() || !c.value.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_') {
                    self.diags.push(
                        Diagnostic::error(c.span, format!("crate name `{}` is not a valid Cargo package name", c.value))
                            .label("invalid crate name")
                            .help("use ASCII letters, digits, `-` and `_`"),
                    );
                }
                c.value.clone()
            }
            None => name.replace('_', "-"),
        };
        let mut dialects = Vec::new();
        match &spec.dialects {
            None => dialects = vec![Dialect::Postgres, Dialect::Mssql],
            Some(list) => {
                for d in list {
                    let dialect = match d.value.as_str() {
                        "postgres" => Dialect::Postgres,
                        "mssql" => Dialect::Mssql,
                        other => {
                            let mut diagnostic = Diagnostic::error(d.span, format!("unknown dialect `{other}`")).label("unknown dialect");
                            diagnostic = match did_you_mean(other, ["postgres", "mssql"]) {
                                Some(s) => diagnostic.help(format!("did you mean `{s}`? the dialects are `postgres` and `mssql`")),
                                None => diagnostic.help("the dialects are `postgres` and `mssql`"),
                            };
                            self.diags.push(diagnostic);
                            continue;
                        }
                    };
                    if !dialects.contains(&dialect) {
                        dialects.push(dialect);
                    }
                }
                if list.is_empty() {
                    self.diags.push(
                        Diagnostic::error(first.span, "`project.dialects` is empty").help("list at least one of `postgres`, `mssql`"),
                    );
                }
            }
        }
        dialects.sort();
        let schema = |s: &Option<Sp<String>>, default: &str| s.as_ref().map(|s| s.value.clone()).unwrap_or_else(|| default.to_string());
        Some(Project {
            name,
            crate_name,
            dialects,
            schema_postgres: schema(&spec.schema_postgres, "public"),
            schema_mssql: schema(&spec.schema_mssql, "dbo"),
        })
    }

    fn conventions(&mut self, project: &Project) {
        let found: Vec<&Sp<ConventionsSpec>> = self.spec.files.iter().filter_map(|f| f.conventions.as_ref()).collect();
        self.naming.limit = project.dialects.iter().map(|d| d.identifier_limit()).min().unwrap_or(63);
        for extra in found.iter().skip(1) {
            self.diags.push(
                Diagnostic::error(extra.span, "`conventions` is defined twice")
                    .label("second definition")
                    .related(found[0].span, "first defined here")
                    .help("keep one `conventions` key for the whole spec directory"),
            );
        }
        let Some(conventions) = found.first() else { return };
        for (kind, template) in &conventions.value.naming {
            let allowed = naming::placeholders(&kind.value);
            match naming::template_placeholders(&template.value) {
                Err(problem) => self.diags.push(
                    Diagnostic::error(template.span, format!("naming template `{}` is malformed: {problem}", template.value))
                        .label("malformed template"),
                ),
                Ok(used) => {
                    for placeholder in used {
                        if !allowed.contains(&placeholder) {
                            self.diags.push(
                                Diagnostic::error(template.span, format!("unknown placeholder `{{{placeholder}}}` in the `{}` naming template", kind.value))
                                    .label("unknown placeholder")
                                    .help(format!(
                                        "the placeholders for `{}` are: {}",
                                        kind.value,
                                        allowed.iter().map(|p| format!("{{{p}}}")).collect::<Vec<_>>().join(", ")
                                    )),
                            );
                        }
                    }
                }
            }
            let slot = match kind.value.as_str() {
                "primary_key" => &mut self.naming.primary_key,
                "index" => &mut self.naming.index,
                "unique" => &mut self.naming.unique,
                "foreign_key" => &mut self.naming.foreign_key,
                "check" => &mut self.naming.check,
                "default" => &mut self.naming.default,
                "trigger" => &mut self.naming.trigger,
                _ => continue,
            };
            *slot = template.value.clone();
        }
    }

    fn hashing(&mut self) -> Hashing {
        let mut hashing = Hashing {
            algorithm: "sha3_256".into(),
            encoding: "data_collector_json".into(),
            lowercase: true,
            strip_whitespace: true,
        };
        let Some(conventions) = self.spec.files.iter().find_map(|f| f.conventions.as_ref()) else { return hashing };
        let c = &conventions.value;
        if let Some(algorithm) = &c.hashing_algorithm {
            if algorithm.value != "sha3_256" {
                self.diags.push(
                    Diagnostic::error(algorithm.span, format!("unsupported hashing algorithm `{}`", algorithm.value))
                        .label("unsupported")
                        .help("v1 supports only `sha3_256`"),
                );
            }
        }
        if let Some(encoding) = &c.hashing_encoding {
            if encoding.value != "data_collector_json" {
                self.diags.push(
                    Diagnostic::error(encoding.span, format!("unsupported hashing encoding `{}`", encoding.value))
                        .label("unsupported")
                        .help("v1 supports only `data_collector_json` (see HASHING.md)"),
                );
            }
            hashing.encoding = encoding.value.clone();
        }
        if let Some(normalize) = &c.hashing_normalize {
            hashing.lowercase = false;
            hashing.strip_whitespace = false;
            for step in normalize {
                match step.value.as_str() {
                    "lowercase" => hashing.lowercase = true,
                    "strip_whitespace" => hashing.strip_whitespace = true,
                    other => self.diags.push(
                        Diagnostic::error(step.span, format!("unknown normalization `{other}`"))
                            .label("unknown")
                            .help("the normalizations are `lowercase` and `strip_whitespace`"),
                    ),
                }
            }
        }
        hashing
    }

    // ----- names -------------------------------------------------------------------

    fn collect_mixins(&mut self) -> HashMap<&'a str, Mixin<'a>> {
        let mut mixins: HashMap<&str, Mixin> = HashMap::new();
        for file in &self.spec.files {
            for (name, spec) in &file.mixins {
                check_identifier(self.diags, name, "mixin");
                if let Some(first) = mixins.get(name.value.as_str()) {
                    self.diags.push(duplicate("mixin", name, first.name.span));
                    continue;
                }
                mixins.insert(name.value.as_str(), Mixin { name, spec });
            }
        }
        mixins
    }

    fn check_duplicate_names(&mut self) {
        let mut tables: HashMap<&str, Span> = HashMap::new();
        for file in &self.spec.files {
            for (name, _) in &file.tables {
                match tables.get(name.value.as_str()) {
                    Some(first) => self.diags.push(duplicate("table", name, *first)),
                    None => {
                        tables.insert(name.value.as_str(), name.span);
                    }
                }
            }
        }
        // A codebook table is generated from its enum: a table of the same name clashes.
        for file in &self.spec.files {
            for (_, spec) in &file.enums {
                if let Some(codebook) = &spec.codebook {
                    if let Some(first) = tables.get(codebook.value.as_str()) {
                        self.diags.push(
                            Diagnostic::error(codebook.span, format!("codebook `{}` has the same name as a table", codebook.value))
                                .label("codebook table name")
                                .related(*first, "table defined here")
                                .help("a codebook table is generated from its enum; rename the codebook or the table"),
                        );
                    }
                }
            }
        }
    }

    fn collect_enums(&mut self) {
        let mut seen: HashMap<String, Span> = HashMap::new();
        for file in &self.spec.files {
            for (name, spec) in &file.enums {
                if let Some(first) = seen.get(&name.value) {
                    self.diags.push(duplicate("enum", name, *first));
                    continue;
                }
                seen.insert(name.value.clone(), name.span);
                let resolved = self.resolve_enum(name, spec);
                self.enums.push(resolved);
                self.enum_spans.push((name.span, spec.codebook.as_ref().map(|c| c.span)));
            }
        }
    }

    fn resolve_enum(&mut self, name: &Sp<String>, spec: &EnumSpec) -> Enum {
        if name.value.is_empty() || name.value.to_upper_camel_case() != name.value || !name.value.is_ascii() {
            self.diags.push(
                Diagnostic::error(name.span, format!("enum name `{}` is not UpperCamelCase", name.value))
                    .label("invalid enum name")
                    .help(format!("rename it to `{}`", name.value.to_upper_camel_case())),
            );
        }
        let kind = match spec.type_name.as_ref().map(|t| t.value.as_str()) {
            None | Some("int") => EnumKind::Int,
            Some("string") => EnumKind::String,
            Some(other) => {
                let span = spec.type_name.as_ref().map(|t| t.span).unwrap_or(name.span);
                self.diags.push(
                    Diagnostic::error(span, format!("enum type `{other}` is not `int` or `string`"))
                        .label("invalid enum type")
                        .help("write `type: int` (the default) or `type: string`"),
                );
                EnumKind::Int
            }
        };
        let mut values = Vec::new();
        let mut by_value: HashMap<EnumLiteral, Span> = HashMap::new();
        for (key, value_spec) in &spec.values {
            check_identifier(self.diags, key, "enum value");
            let Some(literal) = &value_spec.value else { continue };
            let value = match (&literal.value, kind) {
                (EnumValueLiteral::Int(i), EnumKind::Int) => {
                    if *i < i32::MIN as i64 || *i > i32::MAX as i64 {
                        self.diags.push(
                            Diagnostic::error(literal.span, format!("enum value {i} does not fit in `int` (32-bit)"))
                                .label("out of range"),
                        );
                    }
                    EnumLiteral::Int(*i)
                }
                (EnumValueLiteral::Str(s), EnumKind::String) => {
                    if s.is_empty() {
                        self.diags.push(Diagnostic::error(literal.span, "enum value is an empty string").label("empty"));
                    }
                    EnumLiteral::Str(s.clone())
                }
                (EnumValueLiteral::Str(s), EnumKind::Int) => {
                    self.diags.push(
                        Diagnostic::error(literal.span, format!("enum `{}` is `type: int` but value `{s}` is a string", name.value))
                            .label("expected an integer")
                            .help("use a number, or declare the enum `type: string`"),
                    );
                    continue;
                }
                (EnumValueLiteral::Int(i), EnumKind::String) => {
                    self.diags.push(
                        Diagnostic::error(literal.span, format!("enum `{}` is `type: string` but value {i} is a number", name.value))
                            .label("expected a string")
                            .help(format!("quote it: `value: \"{i}\"`")),
                    );
                    continue;
                }
            };
            if let Some(first) = by_value.get(&value) {
                self.diags.push(
                    Diagnostic::error(literal.span, format!("two values of enum `{}` have the same value {}", name.value, literal_text(&value)))
                        .label("duplicate value")
                        .related(*first, "first used here")
                        .help("every enum value needs its own number; values grow forward and are never reused"),
                );
            } else {
                by_value.insert(value.clone(), literal.span);
            }
            values.push(EnumValue {
                key: key.value.clone(),
                value,
                description: value_spec.description.as_ref().map(|d| d.value.clone()).unwrap_or_else(|| key.value.clone()),
                deprecated: value_spec.deprecated.as_ref().is_some_and(|d| d.value),
            });
        }
        if spec.values.is_empty() {
            self.diags.push(Diagnostic::error(name.span, format!("enum `{}` has no values", name.value)).label("empty enum"));
        }
        let storage = match kind {
            EnumKind::Int => ColumnType::Int,
            // Room for values added later without a migration for every longer one.
            EnumKind::String => {
                let longest = values.iter().map(|v| literal_text(&v.value).len()).max().unwrap_or(0) as u32;
                ColumnType::String { length: longest.max(64) }
            }
        };
        Enum {
            name: name.value.clone(),
            kind,
            storage,
            codebook: None,
            comment: spec.comment.as_ref().map(|c| c.value.clone()),
            values,
        }
    }

    // ----- tables and columns ------------------------------------------------------

    fn build_tables(&mut self, mixins: &HashMap<&'a str, Mixin<'a>>) {
        for (file_index, file) in self.spec.files.iter().enumerate() {
            for (table_index, (name, spec)) in file.tables.iter().enumerate() {
                if self.model_tables.iter().any(|t| t.name == name.value) {
                    continue; // duplicate, already reported
                }
                check_identifier(self.diags, name, "table");
                let mixin = match &spec.mixin {
                    Some(mixin_name) => match mixins.get(mixin_name.value.as_str()) {
                        Some(m) => Some(m),
                        None => {
                            let mut d = Diagnostic::error(mixin_name.span, format!("unknown mixin `{}`", mixin_name.value)).label("unknown mixin");
                            d = match did_you_mean(&mixin_name.value, mixins.keys().copied()) {
                                Some(s) => d.help(format!("did you mean `{s}`?")),
                                None => d.help("define it under `mixins:` or remove `mixin:`"),
                            };
                            self.diags.push(d);
                            None
                        }
                    },
                    None => None,
                };
                let mut columns: Vec<(Sp<String>, ColumnSpec)> = Vec::new();
                if let Some(m) = mixin {
                    columns.extend(m.spec.head.iter().cloned());
                }
                columns.extend(spec.columns.iter().cloned());
                if let Some(m) = mixin {
                    columns.extend(m.spec.tail.iter().cloned());
                }
                let (mut table, mut spans) = self.new_table(name, spec.comment.as_ref().map(|c| c.value.clone()), &columns);
                table.renamed_from = spec.renamed_from.as_ref().map(|r| r.value.clone());
                self.model_tables.push(table);
                spans.source = Some((file_index, table_index));
                self.spans.push(spans);
            }
        }
        self.build_codebook_tables(mixins);
    }

    fn build_codebook_tables(&mut self, mixins: &HashMap<&'a str, Mixin<'a>>) {
        for enum_index in 0..self.enums.len() {
            let Some(codebook_span) = self.enum_spans[enum_index].1 else { continue };
            let codebook_name = self.codebook_name(enum_index);
            let Some(mixin) = mixins.get("codebook") else {
                self.diags.push(
                    Diagnostic::error(codebook_span, format!("enum `{}` has a codebook but no `codebook` mixin exists", self.enums[enum_index].name))
                        .label("codebook needs the `codebook` mixin")
                        .help("define `mixins: { codebook: { head: { id: { type: int, primary_key: true, role: enum_value }, description: { type: string(128), role: enum_description } } } }`"),
                );
                continue;
            };
            let name = Sp::new(codebook_name.clone(), codebook_span);
            if !check_identifier(self.diags, &name, "codebook table") || self.model_tables.iter().any(|t| t.name == codebook_name) {
                continue;
            }
            let columns: Vec<(Sp<String>, ColumnSpec)> = mixin.spec.head.iter().chain(mixin.spec.tail.iter()).cloned().collect();
            let comment = self.enums[enum_index].comment.clone().or_else(|| Some(format!("Codebook of the `{}` enum.", self.enums[enum_index].name)));
            let (mut table, spans) = self.new_table(&name, comment, &columns);
            table.codebook_of = Some(EnumId(enum_index));
            self.check_codebook_shape(&table, &name, enum_index);
            self.enums[enum_index].codebook = Some(TableId(self.model_tables.len()));
            self.model_tables.push(table);
            self.spans.push(spans);
        }
    }

    fn codebook_name(&self, enum_index: usize) -> String {
        let mut index = 0;
        for file in &self.spec.files {
            for (_, spec) in &file.enums {
                if index == enum_index {
                    return spec.codebook.as_ref().map(|c| c.value.clone()).unwrap_or_default();
                }
                index += 1;
            }
        }
        String::new()
    }

    /// A codebook needs its `enum_value` column to hold the enum's values.
    fn check_codebook_shape(&mut self, table: &Table, name: &Sp<String>, enum_index: usize) {
        let enum_ = &self.enums[enum_index];
        let value_column = table.role(Role::EnumValue).map(|id| table.column(id));
        match value_column {
            None => self.diags.push(
                Diagnostic::error(name.span, format!("codebook `{}` has no column with `role: enum_value`", name.value))
                    .label("codebook")
                    .help("give the `codebook` mixin's id column `role: enum_value`"),
            ),
            Some(column) if column.ty != enum_.storage => self.diags.push(
                Diagnostic::error(name.span, format!("codebook `{}` stores `{}` values in a column that is not `int`", name.value, enum_.name))
                    .label("codebook")
                    .help("codebooks hold `type: int` enums; drop `codebook:` from a string enum (it gets a CHECK constraint instead)"),
            ),
            Some(_) => {}
        }
        if table.role(Role::EnumDescription).is_none() {
            self.diags.push(
                Diagnostic::error(name.span, format!("codebook `{}` has no column with `role: enum_description`", name.value))
                    .label("codebook")
                    .help("give the `codebook` mixin a `description: { type: string(128), role: enum_description }` column"),
            );
        }
    }

    /// Columns of a table from (mixin head, own, mixin tail) column specs.
    fn new_table(&mut self, name: &Sp<String>, comment: Option<String>, columns: &[(Sp<String>, ColumnSpec)]) -> (Table, TableSpans) {
        let mut table = Table {
            name: name.value.clone(),
            comment,
            columns: vec![],
            primary_key: Key { name: String::new(), columns: vec![] },
            uniques: vec![],
            foreign_keys: vec![],
            indexes: vec![],
            checks: vec![],
            triggers: vec![],
            partition: None,
            hash_columns: vec![],
            codebook_of: None,
            renamed_from: None,
        };
        let mut spans = TableSpans { name: name.span, ..TableSpans::default() };
        let mut role_spans: HashMap<Role, Span> = HashMap::new();
        for (column_name, column_spec) in columns {
            check_identifier(self.diags, column_name, "column");
            if let Some(index) = table.columns.iter().position(|c| c.name == column_name.value) {
                self.diags.push(
                    Diagnostic::error(column_name.span, format!("column `{}` is defined twice in table `{}`", column_name.value, name.value))
                        .label("second definition")
                        .related(spans.columns[index], "first defined here (possibly by the mixin)")
                        .help("rename one of them, or remove the table's own column if the mixin already provides it"),
                );
                continue;
            }
            let Some(column) = self.column(column_name, column_spec) else { continue };
            if let Some(role) = column.role {
                if let Some(first) = role_spans.get(&role) {
                    self.diags.push(
                        Diagnostic::error(column_spec.role.as_ref().map(|r| r.span).unwrap_or(column_name.span), format!("table `{}` has two columns with `role: {}`", name.value, role.name()))
                            .label("second column with this role")
                            .related(*first, "first one here")
                            .help("a table has at most one column of each role; remove one of the roles"),
                    );
                } else {
                    role_spans.insert(role, column_spec.role.as_ref().map(|r| r.span).unwrap_or(column_name.span));
                }
            }
            table.columns.push(column);
            spans.columns.push(column_name.span);
            spans.column_specs.push(column_spec.clone());
        }
        (table, spans)
    }

    fn column(&mut self, name: &Sp<String>, spec: &ColumnSpec) -> Option<Column> {
        let type_name = spec.type_name.as_ref()?;
        let (bare, nullable_suffix) = strip_nullable(&type_name.value);
        let ty = match parse_type(bare) {
            Ok(parsed) => self.column_type(parsed, type_name, spec)?,
            Err(problem) => {
                let word = bare.split('(').next().unwrap_or(bare);
                let mut d = Diagnostic::error(type_name.span, format!("{problem} in column `{}`", name.value)).label("invalid type");
                d = match did_you_mean(word, types::TYPE_NAMES.iter().copied()) {
                    Some(s) if problem.starts_with("unknown type") => d.help(format!("did you mean `{s}`? the types are listed in SPEC-FORMAT.md")),
                    _ if problem.starts_with("unknown type") => d.help(format!("the types are: {}", types::TYPE_NAMES.join(", "))),
                    _ => d,
                };
                self.diags.push(d);
                return None;
            }
        };
        if let (Some(flag), true) = (&spec.nullable, nullable_suffix) {
            if !flag.value {
                self.diags.push(
                    Diagnostic::error(flag.span, format!("column `{}` says `nullable: false` but its type ends in `?`", name.value))
                        .label("contradicts the `?`")
                        .help("remove one of them"),
                );
            }
        }
        let nullable = nullable_suffix || spec.nullable.as_ref().is_some_and(|n| n.value);
        let identity = spec.identity.as_ref().is_some_and(|i| i.value);
        if identity && !matches!(ty, ColumnType::SmallInt | ColumnType::Int | ColumnType::BigInt) {
            self.diags.push(
                Diagnostic::error(spec.identity.as_ref().map(|i| i.span).unwrap_or(name.span), format!("identity column `{}` is not an integer", name.value))
                    .label("identity needs smallint, int or bigint"),
            );
        }
        let role = spec.role.as_ref().and_then(|r| {
            let role = Role::ALL.iter().copied().find(|role| role.name() == r.value);
            if role.is_none() {
                let names: Vec<&str> = Role::ALL.iter().map(|r| r.name()).collect();
                let mut d = Diagnostic::error(r.span, format!("unknown role `{}`", r.value)).label("unknown role");
                d = match did_you_mean(&r.value, names.iter().copied()) {
                    Some(s) => d.help(format!("did you mean `{s}`?")),
                    None => d.help(format!("the roles are: {}", names.join(", "))),
                };
                self.diags.push(d);
            }
            role
        });
        let on_update_now = match &spec.on_update {
            None => false,
            Some(u) if u.value == "now" => {
                if !matches!(ty, ColumnType::DateTime | ColumnType::DateTimeTz) {
                    self.diags.push(
                        Diagnostic::error(u.span, format!("`on_update: now` on column `{}`, which is not a `datetime` or `datetimetz`", name.value))
                            .label("needs a timestamp column"),
                    );
                }
                true
            }
            Some(u) => {
                self.diags.push(
                    Diagnostic::error(u.span, format!("unknown `on_update` value `{}`", u.value)).label("unknown").help("the only value is `now`"),
                );
                false
            }
        };
        let default = spec.default.as_ref().and_then(|d| self.default_value(name, &ty, d));
        Some(Column {
            name: name.value.clone(),
            ty,
            nullable,
            identity,
            default_constraint: None,
            default,
            on_update_now,
            comment: spec.comment.as_ref().map(|c| c.value.clone()),
            role,
            renamed_from: spec.renamed_from.as_ref().map(|r| r.value.clone()),
        })
    }

    fn column_type(&mut self, parsed: ParsedType, type_name: &Sp<String>, spec: &ColumnSpec) -> Option<ColumnType> {
        match parsed {
            ParsedType::Plain(ty) => Some(ty),
            ParsedType::BareDecimal => {
                let (Some(precision), Some(scale)) = (&spec.precision, &spec.scale) else {
                    self.diags.push(
                        Diagnostic::error(type_name.span, "`decimal` needs a precision and a scale")
                            .label("no precision or scale")
                            .help("write `{ type: decimal, precision: 18, scale: 4 }` or `type: \"decimal(18,4)\"`"),
                    );
                    return None;
                };
                match types::decimal(precision.value, scale.value) {
                    Ok(ty) => Some(ty),
                    Err(problem) => {
                        self.diags.push(Diagnostic::error(precision.span, problem).label("invalid decimal"));
                        None
                    }
                }
            }
            ParsedType::Enum(enum_name) => match self.enums.iter().position(|e| e.name == enum_name) {
                Some(index) => Some(ColumnType::Enum(EnumId(index))),
                None => {
                    let names: Vec<&str> = self.enums.iter().map(|e| e.name.as_str()).collect();
                    let mut d = Diagnostic::error(type_name.span, format!("unknown enum `{enum_name}`")).label("no enum of this name");
                    d = match did_you_mean(&enum_name, names.iter().copied()) {
                        Some(s) => d.help(format!("did you mean `{s}`?")),
                        None => d.help("define it under `enums:`"),
                    };
                    self.diags.push(d);
                    None
                }
            },
            ParsedType::Array(inner) => self.column_type(*inner, type_name, spec).map(|t| ColumnType::Array(Box::new(t))),
        }
    }

    fn default_value(&mut self, column: &Sp<String>, ty: &ColumnType, default: &Sp<DefaultSpec>) -> Option<DefaultValue> {
        let mismatch = |diags: &mut Diagnostics, expected: &str| {
            diags.push(
                Diagnostic::error(default.span, format!("default of column `{}` does not fit its type", column.value))
                    .label(format!("expected {expected}"))
                    .help("write a literal of the column's type, or `{ sql: \"...\" }` for a raw expression"),
            );
            None
        };
        match (&default.value, ty) {
            (DefaultSpec::Raw(raw), _) => Some(DefaultValue::Raw(self.dialect_sql(raw, default.span)?)),
            (DefaultSpec::Str(s), ColumnType::DateTime | ColumnType::DateTimeTz) if s == "now" => Some(DefaultValue::Now),
            (DefaultSpec::Str(s), _) if s == "now" && !matches!(ty, ColumnType::String { .. } | ColumnType::Text) => {
                self.diags.push(
                    Diagnostic::error(default.span, format!("`default: now` on column `{}`, which is not a `datetime` or `datetimetz`", column.value))
                        .label("needs a timestamp column")
                        .help("use `{ sql: \"CURRENT_DATE\" }` style raw SQL for other types"),
                );
                None
            }
            (value, ColumnType::Enum(id)) => {
                let enum_ = &self.enums[id.0];
                let key = match value {
                    DefaultSpec::Str(s) => s.clone(),
                    DefaultSpec::Int(i) => i.to_string(),
                    DefaultSpec::Bool(b) => b.to_string(),
                    DefaultSpec::Float(f) => f.to_string(),
                    DefaultSpec::Raw(_) => unreachable!("handled above"),
                };
                match enum_.values.iter().position(|v| v.key == key) {
                    Some(index) => Some(DefaultValue::EnumValue(*id, index)),
                    None => {
                        let keys: Vec<&str> = enum_.values.iter().map(|v| v.key.as_str()).collect();
                        let by_number = enum_.values.iter().find(|v| literal_text(&v.value) == key);
                        let help = match (by_number, did_you_mean(&key, keys.iter().copied())) {
                            (Some(v), _) => format!("write the value's name: `default: {}`", v.key),
                            (None, Some(s)) => format!("did you mean `{s}`?"),
                            (None, None) => format!("the values of `{}` are: {}", enum_.name, keys.join(", ")),
                        };
                        self.diags.push(
                            Diagnostic::error(default.span, format!("default `{key}` of column `{}` is not a value of enum `{}`", column.value, enum_.name))
                                .label("not a value of the enum")
                                .help(help),
                        );
                        None
                    }
                }
            }
            (DefaultSpec::Bool(b), ColumnType::Bool) => Some(DefaultValue::Bool(*b)),
            (DefaultSpec::Int(i), ColumnType::SmallInt | ColumnType::Int | ColumnType::BigInt) => Some(DefaultValue::Int(*i)),
            (DefaultSpec::Int(i), ColumnType::Float | ColumnType::Double | ColumnType::Decimal { .. }) => Some(DefaultValue::Int(*i)),
            (DefaultSpec::Float(f), ColumnType::Float | ColumnType::Double | ColumnType::Decimal { .. }) => Some(DefaultValue::Float(*f)),
            (DefaultSpec::Str(s), ColumnType::String { length }) => {
                if s.chars().count() > *length as usize {
                    self.diags.push(
                        Diagnostic::error(default.span, format!("default of column `{}` is longer than the column ({length})", column.value))
                            .label("too long"),
                    );
                }
                Some(DefaultValue::Str(s.clone()))
            }
            (DefaultSpec::Str(s), ColumnType::Text | ColumnType::Date | ColumnType::Time | ColumnType::Uuid) => Some(DefaultValue::Str(s.clone())),
            (_, ColumnType::Bool) => mismatch(self.diags, "`true` or `false`"),
            (_, ColumnType::SmallInt | ColumnType::Int | ColumnType::BigInt) => mismatch(self.diags, "an integer"),
            (_, ColumnType::Float | ColumnType::Double | ColumnType::Decimal { .. }) => mismatch(self.diags, "a number"),
            (_, ColumnType::String { .. } | ColumnType::Text) => mismatch(self.diags, "a string (quote it)"),
            _ => mismatch(self.diags, "raw SQL (`{ sql: \"...\" }`) for this type"),
        }
    }

    fn dialect_sql(&mut self, raw: &RawSql, span: Span) -> Option<DialectSql> {
        let postgres = raw.postgres.as_ref().or(raw.sql.as_ref()).map(|s| s.value.clone());
        let mssql = raw.mssql.as_ref().or(raw.sql.as_ref()).map(|s| s.value.clone());
        match (postgres, mssql) {
            (Some(postgres), Some(mssql)) => Some(DialectSql { postgres, mssql }),
            (postgres, mssql) => {
                let missing = if postgres.is_none() { "postgres" } else { "mssql" };
                let _ = mssql;
                self.diags.push(
                    Diagnostic::error(span, format!("raw SQL has no expression for {missing}"))
                        .label("incomplete raw SQL")
                        .help("add `sql: \"...\"` (used by every dialect without its own key)"),
                );
                None
            }
        }
    }

    // ----- constraints -------------------------------------------------------------

    fn resolve_constraints(&mut self) {
        for table_index in 0..self.model_tables.len() {
            self.primary_key(table_index);
            self.column_constraints(table_index);
            if let Some((file, index)) = self.spans[table_index].source {
                let spec = &self.spec.files[file].tables[index].1;
                self.table_uniques(table_index, spec);
                self.table_foreign_keys(table_index, spec);
                self.table_indexes(table_index, spec);
                self.table_checks(table_index, spec);
                self.partition(table_index, spec);
                self.hash_columns(table_index, spec.hash.as_ref());
            } else {
                self.hash_columns(table_index, None);
            }
            self.enum_constraints(table_index);
            self.triggers(table_index);
        }
        for table_index in 0..self.model_tables.len() {
            self.check_partition_keys(table_index);
        }
    }

    fn table_spec(&self, table_index: usize) -> Option<&'a TableSpec> {
        self.spans[table_index].source.map(|(file, index)| &self.spec.files[file].tables[index].1)
    }

    fn column_id(&mut self, table_index: usize, name: &Sp<String>, what: &str) -> Option<ColumnId> {
        let table = &self.model_tables[table_index];
        match table.column_by_name(&name.value) {
            Some(id) => Some(id),
            None => {
                let names: Vec<&str> = table.columns.iter().map(|c| c.name.as_str()).collect();
                let mut d = Diagnostic::error(name.span, format!("{what} names column `{}`, which table `{}` does not have", name.value, table.name))
                    .label("no such column");
                d = match did_you_mean(&name.value, names.iter().copied()) {
                    Some(s) => d.help(format!("did you mean `{s}`?")),
                    None => d.help(format!("the columns of `{}` are: {}", table.name, names.join(", "))),
                };
                self.diags.push(d);
                None
            }
        }
    }

    fn render_name(&self, template: &str, parts: NameParts) -> String {
        naming::render(template, &parts, self.naming.limit)
    }

    fn primary_key(&mut self, table_index: usize) {
        let spec = self.table_spec(table_index);
        let table_name = self.model_tables[table_index].name.clone();
        let columns: Vec<ColumnId> = match spec.and_then(|s| s.primary_key.as_ref()) {
            Some(list) => list.value.iter().filter_map(|c| self.column_id(table_index, c, "`primary_key`")).collect(),
            None => self.spans[table_index]
                .column_specs
                .iter()
                .enumerate()
                .filter(|(_, c)| c.primary_key.as_ref().is_some_and(|p| p.value))
                .map(|(i, _)| ColumnId(i))
                .collect(),
        };
        if columns.is_empty() {
            let explicit = spec.and_then(|s| s.primary_key.as_ref()).is_some();
            if !explicit {
                self.diags.push(
                    Diagnostic::error(self.spans[table_index].name, format!("table `{table_name}` has no primary key"))
                        .label("no primary key")
                        .help("mark a column `primary_key: true`, list the key columns in `primary_key: [a, b]`, or use a mixin that has one"),
                );
            }
            return;
        }
        for id in &columns {
            let column = &self.model_tables[table_index].columns[id.0];
            if column.nullable {
                let name = column.name.clone();
                self.diags.push(
                    Diagnostic::error(self.spans[table_index].columns[id.0], format!("primary key column `{name}` of table `{table_name}` is nullable"))
                        .label("nullable key column")
                        .help("primary key columns are NOT NULL; remove `nullable: true` or the `?`"),
                );
            }
        }
        let names: Vec<&str> = self.model_tables[table_index].column_names(&columns);
        let name = self.render_name(&self.naming.primary_key, NameParts { table: &table_name, columns: &names, ..Default::default() });
        let table_span = self.spans[table_index].name;
        self.spans[table_index].constraint_spans.push((name.clone(), table_span));
        self.model_tables[table_index].primary_key = Key { name, columns };
    }

    /// `unique`, `index`, `references` and `check` written on a column.
    fn column_constraints(&mut self, table_index: usize) {
        let specs = self.spans[table_index].column_specs.clone();
        let table_name = self.model_tables[table_index].name.clone();
        for (position, spec) in specs.iter().enumerate() {
            let id = ColumnId(position);
            let column_name = self.model_tables[table_index].columns[position].name.clone();
            let column_span = self.spans[table_index].columns[position];
            if spec.unique.as_ref().is_some_and(|u| u.value) {
                let name = self.render_name(&self.naming.unique, NameParts { table: &table_name, columns: &[&column_name], ..Default::default() });
                self.spans[table_index].constraint_spans.push((name.clone(), column_span));
                self.model_tables[table_index].uniques.push(Key { name, columns: vec![id] });
            }
            if spec.index.as_ref().is_some_and(|u| u.value) {
                let name = self.render_name(&self.naming.index, NameParts { table: &table_name, columns: &[&column_name], ..Default::default() });
                self.spans[table_index].constraint_spans.push((name.clone(), column_span));
                self.model_tables[table_index].indexes.push(Index {
                    name,
                    columns: vec![IndexColumn { column: id, descending: false }],
                    unique: false,
                    predicate: None,
                });
            }
            if let Some(check) = &spec.check {
                self.add_check(table_index, &column_name, check, column_span);
            }
            if self.model_tables[table_index].columns[position].default.is_some() {
                let name = self.render_name(&self.naming.default, NameParts { table: &table_name, column: &column_name, ..Default::default() });
                self.spans[table_index].constraint_spans.push((name.clone(), column_span));
                self.model_tables[table_index].columns[position].default_constraint = Some(name);
            }
        }
    }

    fn add_check(&mut self, table_index: usize, check_name: &str, check: &Sp<ExprSpec>, name_span: Span) {
        let table_name = self.model_tables[table_index].name.clone();
        let expression = match &check.value {
            ExprSpec::Portable(text) => {
                self.check_expression_columns(table_index, text, check.span);
                DialectSql { postgres: text.clone(), mssql: expr::to_mssql(text) }
            }
            ExprSpec::Raw(raw) => {
                for part in [&raw.sql, &raw.postgres, &raw.mssql].into_iter().flatten() {
                    self.check_expression_columns(table_index, &part.value, part.span);
                }
                let Some(sql) = self.dialect_sql(raw, check.span) else { return };
                sql
            }
        };
        let name = self.render_name(&self.naming.check, NameParts { table: &table_name, name: check_name, ..Default::default() });
        self.spans[table_index].constraint_spans.push((name.clone(), name_span));
        self.model_tables[table_index].checks.push(Check { name, expression, origin: CheckOrigin::Spec });
    }

    /// A check may only name the table's own columns.
    fn check_expression_columns(&mut self, table_index: usize, text: &str, span: Span) {
        let table = &self.model_tables[table_index];
        let mut problems = Vec::new();
        for reference in expr::column_refs(text) {
            if table.column_by_name(reference.name).is_none() {
                problems.push((reference.name.to_string(), reference.offset));
            }
        }
        for (name, offset) in problems {
            let names: Vec<&str> = self.model_tables[table_index].columns.iter().map(|c| c.name.as_str()).collect();
            let table_name = &self.model_tables[table_index].name;
            let mut d = Diagnostic::error(expression_span(span, &name, offset), format!("check names column `{name}`, which table `{table_name}` does not have"))
                .label("no such column");
            d = match did_you_mean(&name, names.iter().copied()) {
                Some(s) => d.help(format!("did you mean `{s}`?")),
                None => d.help(format!("a check may use only the table's own columns: {}", names.join(", "))),
            };
            self.diags.push(d);
        }
    }

    fn table_uniques(&mut self, table_index: usize, spec: &TableSpec) {
        let table_name = self.model_tables[table_index].name.clone();
        for unique in &spec.uniques {
            let columns: Vec<ColumnId> = unique.value.iter().filter_map(|c| self.column_id(table_index, c, "`uniques`")).collect();
            if columns.len() != unique.value.len() || columns.is_empty() {
                continue;
            }
            let names: Vec<&str> = self.model_tables[table_index].column_names(&columns);
            let name = self.render_name(&self.naming.unique, NameParts { table: &table_name, columns: &names, ..Default::default() });
            self.spans[table_index].constraint_spans.push((name.clone(), unique.span));
            self.model_tables[table_index].uniques.push(Key { name, columns });
        }
    }

    fn find_table(&mut self, name: &Sp<String>, what: &str) -> Option<TableId> {
        match self.model_tables.iter().position(|t| t.name == name.value) {
            Some(index) => Some(TableId(index)),
            None => {
                let names: Vec<&str> = self.model_tables.iter().map(|t| t.name.as_str()).collect();
                let mut d = Diagnostic::error(name.span, format!("{what} points at table `{}`, which does not exist", name.value)).label("no such table");
                d = match did_you_mean(&name.value, names.iter().copied()) {
                    Some(s) => d.help(format!("did you mean `{s}`?")),
                    None => d.help("define the table under `tables:`, or fix the name"),
                };
                self.diags.push(d);
                None
            }
        }
    }

    fn on_delete(&mut self, value: Option<&Sp<String>>) -> OnDelete {
        match value.map(|v| (v.value.as_str(), v.span)) {
            None => OnDelete::NoAction,
            Some(("cascade", _)) => OnDelete::Cascade,
            Some(("set_null", _)) => OnDelete::SetNull,
            Some(("restrict", _)) => OnDelete::Restrict,
            Some(("no_action", _)) => OnDelete::NoAction,
            Some((other, span)) => {
                let options = ["cascade", "set_null", "restrict", "no_action"];
                let mut d = Diagnostic::error(span, format!("unknown `on_delete` value `{other}`")).label("unknown");
                d = match did_you_mean(other, options) {
                    Some(s) => d.help(format!("did you mean `{s}`?")),
                    None => d.help("the values are cascade, set_null, restrict, no_action"),
                };
                self.diags.push(d);
                OnDelete::NoAction
            }
        }
    }

    fn table_foreign_keys(&mut self, table_index: usize, spec: &TableSpec) {
        // Column-level `references: table.column`.
        let specs = self.spans[table_index].column_specs.clone();
        for (position, column_spec) in specs.iter().enumerate() {
            let Some(reference) = &column_spec.references else {
                if let Some(on_delete) = &column_spec.on_delete {
                    self.diags.push(
                        Diagnostic::error(on_delete.span, "`on_delete` without `references`")
                            .label("nothing to delete from")
                            .help("add `references: table.column`, or remove `on_delete`"),
                    );
                }
                continue;
            };
            let Some((table, column)) = reference.value.split_once('.') else {
                self.diags.push(
                    Diagnostic::error(reference.span, format!("`references: {}` is not `table.column`", reference.value))
                        .label("expected `table.column`")
                        .help("write the referenced table and column, e.g. `references: app_groups.name`"),
                );
                continue;
            };
            let column_span = Span { start: reference.span.start + table.len() + 1, len: column.len(), column: reference.span.column + table.len() as u32 + 1, ..reference.span };
            let table_span = Span { len: table.len(), ..reference.span };
            let target_table = Sp::new(table.to_string(), table_span);
            let target_column = Sp::new(column.to_string(), column_span);
            let on_delete = self.on_delete(column_spec.on_delete.as_ref());
            self.add_foreign_key(table_index, vec![ColumnId(position)], &target_table, &[target_column], on_delete, None, reference.span);
        }
        for fk in &spec.foreign_keys {
            let columns: Vec<ColumnId> = fk.value.columns.iter().filter_map(|c| self.column_id(table_index, c, "foreign key")).collect();
            let Some(references) = &fk.value.references else { continue };
            if columns.len() != fk.value.columns.len() {
                continue;
            }
            let on_delete = self.on_delete(fk.value.on_delete.as_ref());
            self.add_foreign_key(table_index, columns, references, &fk.value.to, on_delete, fk.value.name.as_ref(), fk.span);
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn add_foreign_key(
        &mut self,
        table_index: usize,
        columns: Vec<ColumnId>,
        target: &Sp<String>,
        target_columns: &[Sp<String>],
        on_delete: OnDelete,
        explicit_name: Option<&Sp<String>>,
        span: Span,
    ) {
        let Some(target_table) = self.find_table(target, "foreign key") else { return };
        let mut referenced = Vec::new();
        for name in target_columns {
            match self.model_tables[target_table.0].column_by_name(&name.value) {
                Some(id) => referenced.push(id),
                None => {
                    let t = &self.model_tables[target_table.0];
                    let names: Vec<&str> = t.columns.iter().map(|c| c.name.as_str()).collect();
                    let mut d = Diagnostic::error(name.span, format!("foreign key points at column `{}.{}`, which does not exist", t.name, name.value))
                        .label("no such column");
                    d = match did_you_mean(&name.value, names.iter().copied()) {
                        Some(s) => d.help(format!("did you mean `{s}`?")),
                        None => d.help(format!("the columns of `{}` are: {}", t.name, names.join(", "))),
                    };
                    self.diags.push(d);
                    return;
                }
            }
        }
        let table_name = self.model_tables[table_index].name.clone();
        if referenced.len() != columns.len() {
            self.diags.push(
                Diagnostic::error(span, format!("foreign key of `{table_name}` has {} column(s) but points at {} column(s)", columns.len(), referenced.len()))
                    .label("column count mismatch")
                    .help("list as many columns in `to:` as in `columns:`, in matching order"),
            );
            return;
        }
        for (own, other) in columns.iter().zip(&referenced) {
            let own_column = &self.model_tables[table_index].columns[own.0];
            let other_column = &self.model_tables[target_table.0].columns[other.0];
            let own_ty = own_column.ty.storage_in(&self.enums);
            let other_ty = other_column.ty.storage_in(&self.enums);
            if own_ty != other_ty {
                let message = format!(
                    "foreign key column `{table_name}.{}` is `{}` but `{}.{}` is `{}`",
                    own_column.name,
                    type_text(own_ty),
                    self.model_tables[target_table.0].name,
                    other_column.name,
                    type_text(other_ty)
                );
                self.diags.push(
                    Diagnostic::error(span, message)
                        .label("type mismatch")
                        .help("give both columns the same type and length (SQL Server requires it for foreign keys)"),
                );
                return;
            }
            if on_delete == OnDelete::SetNull && !own_column.nullable {
                let name = own_column.name.clone();
                self.diags.push(
                    Diagnostic::error(span, format!("`on_delete: set_null` but column `{table_name}.{name}` is NOT NULL"))
                        .label("cannot be set to NULL")
                        .help("make the column nullable, or choose another `on_delete`"),
                );
            }
        }
        let names: Vec<String> = self.model_tables[table_index].column_names(&columns).iter().map(|s| s.to_string()).collect();
        let name_refs: Vec<&str> = names.iter().map(|s| s.as_str()).collect();
        let name = match explicit_name {
            Some(n) => n.value.clone(),
            None => {
                let referred = self.model_tables[target_table.0].name.clone();
                self.render_name(&self.naming.foreign_key, NameParts { table: &table_name, columns: &name_refs, referred_table: &referred, ..Default::default() })
            }
        };
        self.spans[table_index].constraint_spans.push((name.clone(), explicit_name.map(|n| n.span).unwrap_or(span)));
        self.model_tables[table_index].foreign_keys.push(ForeignKey {
            name,
            columns,
            referenced_table: target_table,
            referenced_columns: referenced,
            on_delete,
        });
    }

    fn table_indexes(&mut self, table_index: usize, spec: &TableSpec) {
        let table_name = self.model_tables[table_index].name.clone();
        for index in &spec.indexes {
            let mut columns = Vec::new();
            for column in &index.value.columns {
                let (name, descending) = match column.value.rsplit_once(' ') {
                    Some((name, order)) if order.eq_ignore_ascii_case("desc") => (name.trim(), true),
                    Some((name, order)) if order.eq_ignore_ascii_case("asc") => (name.trim(), false),
                    Some((_, order)) => {
                        self.diags.push(
                            Diagnostic::error(column.span, format!("unknown sort order `{order}` in index column `{}`", column.value))
                                .label("expected `asc` or `desc`")
                                .help("write `\"column desc\"` or just the column name"),
                        );
                        continue;
                    }
                    None => (column.value.as_str(), false),
                };
                if let Some(id) = self.column_id(table_index, &Sp::new(name.to_string(), column.span), "index") {
                    columns.push(IndexColumn { column: id, descending });
                }
            }
            if columns.len() != index.value.columns.len() || columns.is_empty() {
                continue;
            }
            let predicate = match &index.value.where_clause {
                None => None,
                Some(w) => match &w.value {
                    WhereSpec::Raw(raw) => self.dialect_sql(raw, w.span).map(Predicate::Raw),
                    WhereSpec::Equals(pairs) => {
                        let mut resolved = Vec::new();
                        for (column, literal) in pairs {
                            if let Some(id) = self.column_id(table_index, column, "index `where`") {
                                let value = match &literal.value {
                                    LiteralSpec::Null => Literal::Null,
                                    LiteralSpec::Bool(b) => Literal::Bool(*b),
                                    LiteralSpec::Int(i) => Literal::Int(*i),
                                    LiteralSpec::Float(f) => Literal::Float(*f),
                                    LiteralSpec::Str(s) => Literal::Str(s.clone()),
                                };
                                resolved.push((id, value));
                            }
                        }
                        Some(Predicate::Equals(resolved))
                    }
                },
            };
            let unique = index.value.unique.as_ref().is_some_and(|u| u.value);
            let column_names: Vec<String> = columns.iter().map(|c| self.model_tables[table_index].columns[c.column.0].name.clone()).collect();
            let refs: Vec<&str> = column_names.iter().map(|s| s.as_str()).collect();
            let name = match &index.value.name {
                Some(n) => n.value.clone(),
                None => {
                    let template = if unique { &self.naming.unique } else { &self.naming.index };
                    self.render_name(template, NameParts { table: &table_name, columns: &refs, ..Default::default() })
                }
            };
            self.spans[table_index].constraint_spans.push((name.clone(), index.value.name.as_ref().map(|n| n.span).unwrap_or(index.span)));
            self.model_tables[table_index].indexes.push(Index { name, columns, unique, predicate });
        }
    }

    fn table_checks(&mut self, table_index: usize, spec: &TableSpec) {
        for (name, check) in &spec.checks {
            check_identifier(self.diags, name, "check");
            self.add_check(table_index, &name.value, check, name.span);
        }
    }

    fn partition(&mut self, table_index: usize, spec: &TableSpec) {
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
    fn check_partition_keys(&mut self, table_index: usize) {
        let table = &self.model_tables[table_index];
        let Some(partition) = &table.partition else { return };
        let column_name = table.column(partition.column).name.clone();
        let mut problems: Vec<(String, Span)> = Vec::new();
        if !table.primary_key.columns.is_empty() && !table.primary_key.columns.contains(&partition.column) {
            problems.push((format!("its primary key `{}`", table.primary_key.name), self.spans[table_index].name));
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
        for (what, span) in problems {
            self.diags.push(
                Diagnostic::error(span, format!("table `{table_name}` is partitioned by `{column_name}`, but {what} does not include `{column_name}`"))
                    .label("missing the partition column")
                    .help(format!("add `{column_name}` to the key (PostgreSQL requires every unique key of a partitioned table to include the partition column)")),
            );
        }
    }

    fn constraint_span(&self, table_index: usize, name: &str) -> Span {
        self.spans[table_index].constraint_spans.iter().find(|(n, _)| n == name).map(|(_, s)| *s).unwrap_or(self.spans[table_index].name)
    }

    /// Enum columns: a foreign key to the codebook for int enums that have one, else a
    /// CHECK listing the allowed stored values. SQL Server json/array columns get ISJSON.
    fn enum_constraints(&mut self, table_index: usize) {
        let table_name = self.model_tables[table_index].name.clone();
        for position in 0..self.model_tables[table_index].columns.len() {
            let column = self.model_tables[table_index].columns[position].clone();
            let column_span = self.spans[table_index].columns[position];
            match &column.ty {
                ColumnType::Enum(enum_id) => {
                    let enum_ = self.enums[enum_id.0].clone();
                    match enum_.codebook {
                        Some(codebook) if self.model_tables[codebook.0].codebook_of.is_some() && TableId(table_index) != codebook => {
                            let Some(value_column) = self.model_tables[codebook.0].role(Role::EnumValue) else { continue };
                            let referred = self.model_tables[codebook.0].name.clone();
                            let name = self.render_name(&self.naming.foreign_key, NameParts { table: &table_name, columns: &[&column.name], referred_table: &referred, ..Default::default() });
                            self.spans[table_index].constraint_spans.push((name.clone(), column_span));
                            self.model_tables[table_index].foreign_keys.push(ForeignKey {
                                name,
                                columns: vec![ColumnId(position)],
                                referenced_table: codebook,
                                referenced_columns: vec![value_column],
                                on_delete: OnDelete::NoAction,
                            });
                        }
                        _ => {
                            let quoted_pg: Vec<String> = enum_.values.iter().map(|v| literal_sql(&v.value)).collect();
                            let list = quoted_pg.join(", ");
                            let check_name = format!("{}_enum", column.name);
                            let name = self.render_name(&self.naming.check, NameParts { table: &table_name, name: &check_name, ..Default::default() });
                            let postgres = format!("\"{}\" IN ({list})", column.name);
                            let mssql = format!("[{}] IN ({})", column.name, enum_.values.iter().map(|v| literal_sql_mssql(&v.value)).collect::<Vec<_>>().join(", "));
                            self.spans[table_index].constraint_spans.push((name.clone(), column_span));
                            self.model_tables[table_index].checks.push(Check { name, expression: DialectSql { postgres, mssql }, origin: CheckOrigin::Enum });
                        }
                    }
                }
                ColumnType::Json | ColumnType::Array(_) => {
                    let check_name = format!("{}_json", column.name);
                    let name = self.render_name(&self.naming.check, NameParts { table: &table_name, name: &check_name, ..Default::default() });
                    self.spans[table_index].constraint_spans.push((name.clone(), column_span));
                    let mssql = format!("ISJSON([{}]) = 1", column.name);
                    self.model_tables[table_index].checks.push(Check {
                        name,
                        expression: DialectSql { postgres: String::new(), mssql },
                        origin: CheckOrigin::MssqlJson,
                    });
                }
                _ => {}
            }
        }
    }

    fn triggers(&mut self, table_index: usize) {
        let table_name = self.model_tables[table_index].name.clone();
        for position in 0..self.model_tables[table_index].columns.len() {
            if !self.model_tables[table_index].columns[position].on_update_now {
                continue;
            }
            let column_name = self.model_tables[table_index].columns[position].name.clone();
            let name = self.render_name(&self.naming.trigger, NameParts { table: &table_name, column: &column_name, ..Default::default() });
            let span = self.spans[table_index].columns[position];
            self.spans[table_index].constraint_spans.push((name.clone(), span));
            self.model_tables[table_index].triggers.push(Trigger { name, column: ColumnId(position) });
        }
    }

    /// Which columns the row hash covers: by default every column without a role and
    /// without identity (codebooks: their value and description), minus `hash: false`
    /// columns; `hash: { exclude }` removes, `hash: { only }` picks.
    fn hash_columns(&mut self, table_index: usize, spec: Option<&Sp<HashSpec>>) {
        let table = &self.model_tables[table_index];
        let is_codebook = table.codebook_of.is_some();
        let column_specs = &self.spans[table_index].column_specs;
        let mut selected: Vec<ColumnId> = table
            .columns
            .iter()
            .enumerate()
            .filter(|(i, c)| {
                let default_in = match c.role {
                    None => !c.identity,
                    Some(Role::EnumValue | Role::EnumDescription) => is_codebook,
                    Some(_) => false,
                };
                default_in && column_specs.get(*i).and_then(|s| s.hash.as_ref()).is_none_or(|h| h.value)
            })
            .map(|(i, _)| ColumnId(i))
            .collect();
        if let Some(spec) = spec {
            if spec.value.exclude.is_some() && spec.value.only.is_some() {
                self.diags.push(
                    Diagnostic::error(spec.span, "`hash` has both `exclude` and `only`").label("pick one").help("use `only` to list the hashed columns, or `exclude` to drop some"),
                );
            }
            if let Some(exclude) = &spec.value.exclude {
                for name in exclude {
                    if let Some(id) = self.column_id(table_index, name, "`hash.exclude`") {
                        selected.retain(|c| *c != id);
                    }
                }
            }
            if let Some(only) = &spec.value.only {
                selected = only.iter().filter_map(|name| self.column_id(table_index, name, "`hash.only`")).collect();
            }
        }
        let table = &self.model_tables[table_index];
        if let Some(hash_role) = table.role(Role::Hash) {
            selected.retain(|c| *c != hash_role);
        }
        selected.sort_by(|a, b| table.columns[a.0].name.cmp(&table.columns[b.0].name));
        selected.dedup();
        self.model_tables[table_index].hash_columns = selected;
    }

    // ----- cross-table checks --------------------------------------------------------

    /// Constraint, index and trigger names share one namespace per schema in
    /// PostgreSQL (indexes and constraints both live in pg_class) and in SQL Server
    /// (sys.objects): two that render the same are an error.
    fn check_constraint_name_collisions(&mut self) {
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
        // Foreign keys must point at a primary key or a unique key of the target.
        for table_index in 0..self.model_tables.len() {
            for fk_index in 0..self.model_tables[table_index].foreign_keys.len() {
                let fk = self.model_tables[table_index].foreign_keys[fk_index].clone();
                let target = &self.model_tables[fk.referenced_table.0];
                let mut wanted = fk.referenced_columns.clone();
                wanted.sort();
                let is_key = |columns: &[ColumnId]| {
                    let mut c = columns.to_vec();
                    c.sort();
                    c == wanted
                };
                let ok = is_key(&target.primary_key.columns)
                    || target.uniques.iter().any(|u| is_key(&u.columns))
                    || target.indexes.iter().any(|i| i.unique && i.predicate.is_none() && is_key(&i.columns.iter().map(|c| c.column).collect::<Vec<_>>()));
                if !ok && !target.primary_key.columns.is_empty() {
                    let columns = target.column_names(&fk.referenced_columns).join(", ");
                    let span = self.constraint_span(table_index, &fk.name);
                    let target_name = target.name.clone();
                    self.diags.push(
                        Diagnostic::error(span, format!("foreign key `{}` points at `{target_name}({columns})`, which is neither its primary key nor unique", fk.name))
                            .label("target is not a key")
                            .help(format!("mark `{target_name}.{columns}` `unique: true` (or add it to `uniques:`), or point at the primary key")),
                    );
                }
            }
        }
    }
}

impl Resolver<'_> {
    /// SQL Server refuses a foreign key that would give a delete more than one cascade
    /// path to a table, or a cascade cycle (error 1785), and DacFx does not notice.
    /// Deleting from a parent cascades into every child whose foreign key says
    /// `cascade` or `set_null`; from every table, no table may be reached twice.
    fn check_sql_server_cascade_paths(&mut self) {
        let cascades = |fk: &ForeignKey| matches!(fk.on_delete, OnDelete::Cascade | OnDelete::SetNull);
        // parent → [(child, fk index)]
        let mut edges: Vec<Vec<(usize, usize)>> = vec![Vec::new(); self.model_tables.len()];
        for (child, table) in self.model_tables.iter().enumerate() {
            for (index, fk) in table.foreign_keys.iter().enumerate() {
                if cascades(fk) {
                    edges[fk.referenced_table.0].push((child, index));
                }
            }
        }
        let mut reported = std::collections::HashSet::new();
        for start in 0..self.model_tables.len() {
            let mut reached = vec![false; self.model_tables.len()];
            reached[start] = true;
            let mut stack = vec![start];
            while let Some(table) = stack.pop() {
                for &(child, fk_index) in &edges[table] {
                    if !reached[child] {
                        reached[child] = true;
                        stack.push(child);
                        continue;
                    }
                    if !reported.insert((child, fk_index)) {
                        continue;
                    }
                    let fk = &self.model_tables[child].foreign_keys[fk_index];
                    let (fk_name, child_name) = (fk.name.clone(), self.model_tables[child].name.clone());
                    let start_name = self.model_tables[start].name.clone();
                    let span = self.constraint_span(child, &fk_name);
                    self.diags.push(
                        Diagnostic::error(span, format!("foreign key `{fk_name}` gives deletes from `{start_name}` a second cascade path (or a cycle) to `{child_name}`"))
                            .label("second cascade path")
                            .help("SQL Server refuses multiple cascade paths (error 1785): make this foreign key `on_delete: no_action` (or `restrict`), or drop `mssql` from `project.dialects`"),
                    );
                }
            }
        }
    }
}

impl ColumnType {
    /// Storage type during resolution, before the model exists.
    fn storage_in<'e>(&'e self, enums: &'e [Enum]) -> &'e ColumnType {
        match self {
            ColumnType::Enum(id) => &enums[id.0].storage,
            other => other,
        }
    }
}

fn duplicate(what: &str, name: &Sp<String>, first: Span) -> Diagnostic {
    Diagnostic::error(name.span, format!("{what} `{}` is defined twice", name.value))
        .label("second definition")
        .related(first, "first defined here")
        .help(format!("a {what} name is defined once across all spec files; rename or remove one"))
}

fn literal_text(value: &EnumLiteral) -> String {
    match value {
        EnumLiteral::Int(i) => i.to_string(),
        EnumLiteral::Str(s) => s.clone(),
    }
}

fn literal_sql(value: &EnumLiteral) -> String {
    match value {
        EnumLiteral::Int(i) => i.to_string(),
        EnumLiteral::Str(s) => format!("'{}'", s.replace('\'', "''")),
    }
}

fn literal_sql_mssql(value: &EnumLiteral) -> String {
    match value {
        EnumLiteral::Int(i) => i.to_string(),
        EnumLiteral::Str(s) => format!("N'{}'", s.replace('\'', "''")),
    }
}

/// A type as the spec writes it, for messages.
pub fn type_text(ty: &ColumnType) -> String {
    match ty {
        ColumnType::SmallInt => "smallint".into(),
        ColumnType::Int => "int".into(),
        ColumnType::BigInt => "bigint".into(),
        ColumnType::Bool => "bool".into(),
        ColumnType::Float => "float".into(),
        ColumnType::Double => "double".into(),
        ColumnType::Decimal { precision, scale } => format!("decimal({precision},{scale})"),
        ColumnType::String { length } => format!("string({length})"),
        ColumnType::Text => "text".into(),
        ColumnType::DateTime => "datetime".into(),
        ColumnType::DateTimeTz => "datetimetz".into(),
        ColumnType::Date => "date".into(),
        ColumnType::Time => "time".into(),
        ColumnType::Uuid => "uuid".into(),
        ColumnType::Json => "json".into(),
        ColumnType::Bytes => "bytes".into(),
        ColumnType::Array(inner) => format!("array({})", type_text(inner)),
        ColumnType::Enum(id) => format!("enum(#{})", id.0),
    }
}

/// The span of a word inside an expression, from the expression's own span (the YAML
/// parser's span of a quoted scalar starts inside the quotes).
fn expression_span(span: Span, word: &str, offset: usize) -> Span {
    Span { start: span.start + offset, len: word.len(), column: span.column + offset as u32, ..span }
}
