//! Node tree → raw spec structs. Knows the keys of every map in the spec language and
//! reports unknown keys (with "did you mean"), wrong value kinds and missing keys,
//! each at its place, without stopping.

use super::yaml::{Key, Node, SpNode};
use crate::diagnostics::{did_you_mean, Diagnostic, Diagnostics, FileId, Sp};
use crate::spec::*;

const TOP_KEYS: &[&str] = &["project", "conventions", "mixins", "enums", "tables", "allow_destructive"];
const PROJECT_KEYS: &[&str] = &["name", "crate", "dialects", "schemas"];
const CONVENTIONS_KEYS: &[&str] = &["naming", "hashing"];
pub const NAMING_KEYS: &[&str] = &["primary_key", "index", "unique", "foreign_key", "check", "default", "trigger"];
const HASHING_KEYS: &[&str] = &["algorithm", "encoding", "normalize"];
const MIXIN_KEYS: &[&str] = &["head", "tail"];
pub const COLUMN_KEYS: &[&str] = &[
    "type", "nullable", "primary_key", "identity", "unique", "index", "references", "on_delete", "default",
    "on_update", "check", "comment", "role", "renamed_from", "hash", "precision", "scale",
];
const TABLE_KEYS: &[&str] = &[
    "mixin", "comment", "primary_key", "columns", "foreign_keys", "indexes", "uniques", "checks", "partition",
    "hash", "renamed_from",
];
const FOREIGN_KEY_KEYS: &[&str] = &["columns", "references", "to", "on_delete", "name"];
const INDEX_KEYS: &[&str] = &["columns", "unique", "name", "where"];
const PARTITION_KEYS: &[&str] = &["by", "column", "interval"];
const HASH_KEYS: &[&str] = &["exclude", "only"];
const ENUM_KEYS: &[&str] = &["type", "codebook", "comment", "values"];
const ENUM_VALUE_KEYS: &[&str] = &["value", "description", "deprecated"];
const RAW_SQL_KEYS: &[&str] = &["sql", "postgres", "mssql"];

/// Decode one file's root node.
pub fn decode_file(file: FileId, root: &SpNode, diags: &mut Diagnostics) -> SpecFile {
    let mut d = Decoder { diags };
    let mut out = SpecFile { file, project: None, conventions: None, mixins: vec![], enums: vec![], tables: vec![], allow_destructive: vec![] };
    let Some(fields) = d.fields(root, "a spec file", TOP_KEYS) else { return out };
    if let Some(node) = fields.get("project") {
        out.project = d.project(node).map(|p| Sp::new(p, fields.key_span("project")));
    }
    if let Some(node) = fields.get("conventions") {
        out.conventions = d.conventions(node).map(|c| Sp::new(c, fields.key_span("conventions")));
    }
    if let Some(node) = fields.get("mixins") {
        out.mixins = d.named_map(node, "`mixins`", |d, _, node| d.mixin(node));
    }
    if let Some(node) = fields.get("enums") {
        out.enums = d.named_map(node, "`enums`", |d, _, node| d.enum_spec(node));
    }
    if let Some(node) = fields.get("tables") {
        out.tables = d.named_map(node, "`tables`", |d, _, node| d.table(node));
    }
    if let Some(node) = fields.get("allow_destructive") {
        out.allow_destructive = d.string_list(node, "`allow_destructive`").unwrap_or_default();
    }
    out
}

/// The keys of one map, checked against what the spec allows there.
struct Fields<'n> {
    entries: &'n [(Key, SpNode)],
}

impl<'n> Fields<'n> {
    fn get(&self, name: &str) -> Option<&'n SpNode> {
        self.entries.iter().find(|(k, _)| k.name == name).map(|(_, v)| v)
    }
    fn key_span(&self, name: &str) -> crate::diagnostics::Span {
        self.entries.iter().find(|(k, _)| k.name == name).map(|(k, _)| k.span).unwrap_or_default()
    }
}

struct Decoder<'d> {
    diags: &'d mut Diagnostics,
}

impl Decoder<'_> {
    fn wrong_kind(&mut self, node: &SpNode, expected: &str, what: &str) {
        self.diags.push(
            Diagnostic::error(node.span, format!("{what} must be {expected}, found {}", node.node.kind()))
                .label(format!("expected {expected}")),
        );
    }

    fn map<'n>(&mut self, node: &'n SpNode, what: &str) -> Option<&'n [(Key, SpNode)]> {
        match &node.node {
            Node::Map(entries) => Some(entries),
            // `key:` with nothing after it is an empty map in practice.
            Node::Null => Some(&[]),
            _ => {
                self.wrong_kind(node, "a map", what);
                None
            }
        }
    }

    /// A map whose keys must be among `allowed`; unknown keys are reported with the
    /// closest allowed key.
    fn fields<'n>(&mut self, node: &'n SpNode, what: &str, allowed: &[&str]) -> Option<Fields<'n>> {
        let entries = self.map(node, what)?;
        for (key, _) in entries {
            if !allowed.contains(&key.name.as_str()) {
                let mut diagnostic = Diagnostic::error(key.span, format!("unknown key `{}` in {what}", key.name))
                    .label("unknown key");
                diagnostic = match did_you_mean(&key.name, allowed.iter().copied()) {
                    Some(suggestion) => diagnostic.help(format!("did you mean `{suggestion}`?")),
                    None => diagnostic.help(format!("the keys allowed here are: {}", allowed.join(", "))),
                };
                self.diags.push(diagnostic);
            }
        }
        Some(Fields { entries })
    }

    /// A map from user-chosen names to values (tables, columns, enums, …).
    fn named_map<T>(
        &mut self,
        node: &SpNode,
        what: &str,
        mut decode: impl FnMut(&mut Self, &Key, &SpNode) -> Option<T>,
    ) -> Vec<(Sp<String>, T)> {
        let Some(entries) = self.map(node, what) else { return vec![] };
        entries
            .iter()
            .filter_map(|(key, value)| decode(self, key, value).map(|v| (Sp::new(key.name.clone(), key.span), v)))
            .collect()
    }

    fn string(&mut self, node: &SpNode, what: &str) -> Option<Sp<String>> {
        match &node.node {
            Node::Str(s) => Some(Sp::new(s.clone(), node.span)),
            _ => {
                self.wrong_kind(node, "a string", what);
                None
            }
        }
    }

    fn bool(&mut self, node: &SpNode, what: &str) -> Option<Sp<bool>> {
        match &node.node {
            Node::Bool(b) => Some(Sp::new(*b, node.span)),
            _ => {
                self.wrong_kind(node, "`true` or `false`", what);
                None
            }
        }
    }

    fn int(&mut self, node: &SpNode, what: &str) -> Option<Sp<i64>> {
        match &node.node {
            Node::Int(i) => Some(Sp::new(*i, node.span)),
            _ => {
                self.wrong_kind(node, "an integer", what);
                None
            }
        }
    }

    fn string_list(&mut self, node: &SpNode, what: &str) -> Option<Vec<Sp<String>>> {
        match &node.node {
            Node::Seq(items) => Some(items.iter().filter_map(|item| self.string(item, what)).collect()),
            _ => {
                self.wrong_kind(node, "a list of strings", what);
                None
            }
        }
    }

    fn opt_string(&mut self, fields: &Fields, key: &str, what: &str) -> Option<Sp<String>> {
        fields.get(key).and_then(|n| self.string(n, what))
    }

    fn opt_bool(&mut self, fields: &Fields, key: &str, what: &str) -> Option<Sp<bool>> {
        fields.get(key).and_then(|n| self.bool(n, what))
    }

    fn project(&mut self, node: &SpNode) -> Option<ProjectSpec> {
        let fields = self.fields(node, "`project`", PROJECT_KEYS)?;
        let mut project = ProjectSpec {
            name: self.opt_string(&fields, "name", "`project.name`"),
            crate_name: self.opt_string(&fields, "crate", "`project.crate`"),
            dialects: fields.get("dialects").and_then(|n| self.string_list(n, "`project.dialects`")),
            ..ProjectSpec::default()
        };
        if let Some(schemas) = fields.get("schemas") {
            if let Some(schema_fields) = self.fields(schemas, "`project.schemas`", &["postgres", "mssql"]) {
                project.schema_postgres = self.opt_string(&schema_fields, "postgres", "`project.schemas.postgres`");
                project.schema_mssql = self.opt_string(&schema_fields, "mssql", "`project.schemas.mssql`");
            }
        }
        Some(project)
    }

    fn conventions(&mut self, node: &SpNode) -> Option<ConventionsSpec> {
        let fields = self.fields(node, "`conventions`", CONVENTIONS_KEYS)?;
        let mut conventions = ConventionsSpec::default();
        if let Some(naming) = fields.get("naming") {
            if let Some(naming_fields) = self.fields(naming, "`conventions.naming`", NAMING_KEYS) {
                for (key, value) in naming_fields.entries {
                    if let Some(template) = self.string(value, "a naming template") {
                        conventions.naming.push((Sp::new(key.name.clone(), key.span), template));
                    }
                }
            }
        }
        if let Some(hashing) = fields.get("hashing") {
            if let Some(h) = self.fields(hashing, "`conventions.hashing`", HASHING_KEYS) {
                conventions.hashing_algorithm = self.opt_string(&h, "algorithm", "`hashing.algorithm`");
                conventions.hashing_encoding = self.opt_string(&h, "encoding", "`hashing.encoding`");
                conventions.hashing_normalize = h.get("normalize").and_then(|n| self.string_list(n, "`hashing.normalize`"));
            }
        }
        Some(conventions)
    }

    fn mixin(&mut self, node: &SpNode) -> Option<MixinSpec> {
        let fields = self.fields(node, "a mixin", MIXIN_KEYS)?;
        let mut mixin = MixinSpec { span: node.span, ..MixinSpec::default() };
        if let Some(head) = fields.get("head") {
            mixin.head = self.named_map(head, "a mixin's `head`", |d, _, n| d.column(n));
        }
        if let Some(tail) = fields.get("tail") {
            mixin.tail = self.named_map(tail, "a mixin's `tail`", |d, _, n| d.column(n));
        }
        Some(mixin)
    }

    fn column(&mut self, node: &SpNode) -> Option<ColumnSpec> {
        if let Node::Str(type_name) = &node.node {
            return Some(ColumnSpec { span: node.span, type_name: Some(Sp::new(type_name.clone(), node.span)), ..ColumnSpec::default() });
        }
        if !matches!(node.node, Node::Map(_)) {
            self.wrong_kind(node, "a type name (`int`) or a map (`{ type: int, … }`)", "a column");
            return None;
        }
        let fields = self.fields(node, "a column", COLUMN_KEYS)?;
        let column = ColumnSpec {
            span: node.span,
            type_name: self.opt_string(&fields, "type", "`type`"),
            nullable: self.opt_bool(&fields, "nullable", "`nullable`"),
            primary_key: self.opt_bool(&fields, "primary_key", "`primary_key`"),
            identity: self.opt_bool(&fields, "identity", "`identity`"),
            unique: self.opt_bool(&fields, "unique", "`unique`"),
            index: self.opt_bool(&fields, "index", "`index`"),
            references: self.opt_string(&fields, "references", "`references`"),
            on_delete: self.opt_string(&fields, "on_delete", "`on_delete`"),
            default: fields.get("default").and_then(|n| self.default_value(n)),
            on_update: self.opt_string(&fields, "on_update", "`on_update`"),
            check: fields.get("check").and_then(|n| self.expr(n, "`check`")),
            comment: self.opt_string(&fields, "comment", "`comment`"),
            role: self.opt_string(&fields, "role", "`role`"),
            renamed_from: self.opt_string(&fields, "renamed_from", "`renamed_from`"),
            hash: self.opt_bool(&fields, "hash", "`hash`"),
            precision: fields.get("precision").and_then(|n| self.int(n, "`precision`")),
            scale: fields.get("scale").and_then(|n| self.int(n, "`scale`")),
        };
        if column.type_name.is_none() {
            self.diags.push(
                Diagnostic::error(node.span, "column has no `type`")
                    .label("this column")
                    .help("add `type:`, for example `{ type: string(64) }`"),
            );
        }
        Some(column)
    }

    fn default_value(&mut self, node: &SpNode) -> Option<Sp<DefaultSpec>> {
        let value = match &node.node {
            Node::Int(i) => DefaultSpec::Int(*i),
            Node::Float(f) => DefaultSpec::Float(*f),
            Node::Bool(b) => DefaultSpec::Bool(*b),
            Node::Str(s) => DefaultSpec::Str(s.clone()),
            Node::Map(_) => DefaultSpec::Raw(self.raw_sql(node, "a raw `default`")?),
            _ => {
                self.wrong_kind(node, "a literal, `now`, an enum value, or `{ sql: \"...\" }`", "`default`");
                return None;
            }
        };
        Some(Sp::new(value, node.span))
    }

    fn raw_sql(&mut self, node: &SpNode, what: &str) -> Option<RawSql> {
        let fields = self.fields(node, what, RAW_SQL_KEYS)?;
        let raw = RawSql {
            sql: self.opt_string(&fields, "sql", "`sql`"),
            postgres: self.opt_string(&fields, "postgres", "`postgres`"),
            mssql: self.opt_string(&fields, "mssql", "`mssql`"),
        };
        if raw.sql.is_none() && raw.postgres.is_none() && raw.mssql.is_none() {
            self.diags.push(
                Diagnostic::error(node.span, format!("{what} has no SQL"))
                    .help("write `{ sql: \"...\" }`, optionally with a `mssql: \"...\"` override"),
            );
            return None;
        }
        Some(raw)
    }

    fn expr(&mut self, node: &SpNode, what: &str) -> Option<Sp<ExprSpec>> {
        let value = match &node.node {
            Node::Str(s) => ExprSpec::Portable(s.clone()),
            Node::Map(_) => ExprSpec::Raw(self.raw_sql(node, what)?),
            _ => {
                self.wrong_kind(node, "an SQL expression string or `{ sql: \"...\", mssql: \"...\" }`", what);
                return None;
            }
        };
        Some(Sp::new(value, node.span))
    }

    fn table(&mut self, node: &SpNode) -> Option<TableSpec> {
        let fields = self.fields(node, "a table", TABLE_KEYS)?;
        let mut table = TableSpec {
            span: node.span,
            mixin: self.opt_string(&fields, "mixin", "`mixin`"),
            comment: self.opt_string(&fields, "comment", "`comment`"),
            renamed_from: self.opt_string(&fields, "renamed_from", "`renamed_from`"),
            ..TableSpec::default()
        };
        if let Some(pk) = fields.get("primary_key") {
            table.primary_key = self.column_list(pk, "`primary_key`");
        }
        if let Some(columns) = fields.get("columns") {
            table.columns = self.named_map(columns, "`columns`", |d, _, n| d.column(n));
        }
        if let Some(fks) = fields.get("foreign_keys") {
            table.foreign_keys = self.list(fks, "`foreign_keys`", |d, n| d.foreign_key(n));
        }
        if let Some(indexes) = fields.get("indexes") {
            table.indexes = self.list(indexes, "`indexes`", |d, n| d.index(n));
        }
        if let Some(uniques) = fields.get("uniques") {
            table.uniques = self.list(uniques, "`uniques`", |d, n| d.column_list(n, "a `uniques` entry").map(|s| s.value));
        }
        if let Some(checks) = fields.get("checks") {
            table.checks = self.named_map(checks, "`checks`", |d, _, n| d.expr(n, "a check"));
        }
        if let Some(partition) = fields.get("partition") {
            if let Some(p) = self.fields(partition, "`partition`", PARTITION_KEYS) {
                let spec = PartitionSpec {
                    by: self.opt_string(&p, "by", "`partition.by`"),
                    column: self.opt_string(&p, "column", "`partition.column`"),
                    interval: self.opt_string(&p, "interval", "`partition.interval`"),
                };
                table.partition = Some(Sp::new(spec, partition.span));
            }
        }
        if let Some(hash) = fields.get("hash") {
            if let Some(h) = self.fields(hash, "`hash`", HASH_KEYS) {
                let spec = HashSpec {
                    exclude: h.get("exclude").and_then(|n| self.string_list(n, "`hash.exclude`")),
                    only: h.get("only").and_then(|n| self.string_list(n, "`hash.only`")),
                };
                table.hash = Some(Sp::new(spec, hash.span));
            }
        }
        Some(table)
    }

    fn list<T>(&mut self, node: &SpNode, what: &str, mut decode: impl FnMut(&mut Self, &SpNode) -> Option<T>) -> Vec<Sp<T>> {
        match &node.node {
            Node::Seq(items) => items.iter().filter_map(|item| decode(self, item).map(|v| Sp::new(v, item.span))).collect(),
            _ => {
                self.wrong_kind(node, "a list", what);
                vec![]
            }
        }
    }

    /// A list of column names; a single name is accepted for one column.
    fn column_list(&mut self, node: &SpNode, what: &str) -> Option<Sp<Vec<Sp<String>>>> {
        match &node.node {
            Node::Str(s) => Some(Sp::new(vec![Sp::new(s.clone(), node.span)], node.span)),
            Node::Seq(_) => self.string_list(node, what).map(|v| Sp::new(v, node.span)),
            _ => {
                self.wrong_kind(node, "a list of column names", what);
                None
            }
        }
    }

    fn foreign_key(&mut self, node: &SpNode) -> Option<ForeignKeySpec> {
        let fields = self.fields(node, "a foreign key", FOREIGN_KEY_KEYS)?;
        let fk = ForeignKeySpec {
            columns: fields.get("columns").and_then(|n| self.column_list(n, "`columns`")).map(|c| c.value).unwrap_or_default(),
            references: self.opt_string(&fields, "references", "`references`"),
            to: fields.get("to").and_then(|n| self.column_list(n, "`to`")).map(|c| c.value).unwrap_or_default(),
            on_delete: self.opt_string(&fields, "on_delete", "`on_delete`"),
            name: self.opt_string(&fields, "name", "`name`"),
        };
        for (key, example) in [("columns", "columns: [a, b]"), ("references", "references: other_table"), ("to", "to: [x, y]")] {
            if fields.get(key).is_none() {
                self.diags.push(
                    Diagnostic::error(node.span, format!("foreign key has no `{key}`"))
                        .label("this foreign key")
                        .help(format!("add `{example}`")),
                );
            }
        }
        Some(fk)
    }

    fn index(&mut self, node: &SpNode) -> Option<IndexSpec> {
        let fields = self.fields(node, "an index", INDEX_KEYS)?;
        let index = IndexSpec {
            columns: fields.get("columns").and_then(|n| self.column_list(n, "`columns`")).map(|c| c.value).unwrap_or_default(),
            unique: self.opt_bool(&fields, "unique", "`unique`"),
            name: self.opt_string(&fields, "name", "`name`"),
            where_clause: fields.get("where").and_then(|n| self.where_clause(n)),
        };
        if index.columns.is_empty() {
            self.diags.push(
                Diagnostic::error(node.span, "index has no `columns`").label("this index").help("add `columns: [a, b]`"),
            );
        }
        Some(index)
    }

    fn where_clause(&mut self, node: &SpNode) -> Option<Sp<WhereSpec>> {
        let Node::Map(entries) = &node.node else {
            self.wrong_kind(node, "a map of column to value, or `{ sql: \"...\", mssql: \"...\" }`", "`where`");
            return None;
        };
        let is_raw = entries.iter().any(|(k, _)| RAW_SQL_KEYS.contains(&k.name.as_str()));
        if is_raw {
            return self.raw_sql(node, "a raw `where`").map(|r| Sp::new(WhereSpec::Raw(r), node.span));
        }
        let mut pairs = Vec::new();
        for (key, value) in entries {
            let literal = match &value.node {
                Node::Null => LiteralSpec::Null,
                Node::Bool(b) => LiteralSpec::Bool(*b),
                Node::Int(i) => LiteralSpec::Int(*i),
                Node::Float(f) => LiteralSpec::Float(*f),
                Node::Str(s) => LiteralSpec::Str(s.clone()),
                _ => {
                    self.wrong_kind(value, "a literal (number, string, boolean or null)", "a `where` value");
                    continue;
                }
            };
            pairs.push((Sp::new(key.name.clone(), key.span), Sp::new(literal, value.span)));
        }
        Some(Sp::new(WhereSpec::Equals(pairs), node.span))
    }

    fn enum_spec(&mut self, node: &SpNode) -> Option<EnumSpec> {
        let fields = self.fields(node, "an enum", ENUM_KEYS)?;
        let mut spec = EnumSpec {
            span: node.span,
            type_name: self.opt_string(&fields, "type", "`type`"),
            codebook: self.opt_string(&fields, "codebook", "`codebook`"),
            comment: self.opt_string(&fields, "comment", "`comment`"),
            values: vec![],
        };
        match fields.get("values") {
            Some(values) => spec.values = self.named_map(values, "`values`", |d, _, n| d.enum_value(n)),
            None => self.diags.push(
                Diagnostic::error(node.span, "enum has no `values`")
                    .label("this enum")
                    .help("add `values:` with at least one `key: { value: 0, description: ... }`"),
            ),
        }
        Some(spec)
    }

    fn enum_value(&mut self, node: &SpNode) -> Option<EnumValueSpec> {
        let fields = self.fields(node, "an enum value", ENUM_VALUE_KEYS)?;
        let value = fields.get("value").and_then(|n| match &n.node {
            Node::Int(i) => Some(Sp::new(EnumValueLiteral::Int(*i), n.span)),
            Node::Str(s) => Some(Sp::new(EnumValueLiteral::Str(s.clone()), n.span)),
            _ => {
                self.wrong_kind(n, "an integer or a string", "an enum `value`");
                None
            }
        });
        if fields.get("value").is_none() {
            self.diags.push(
                Diagnostic::error(node.span, "enum value has no `value`")
                    .label("this enum value")
                    .help("add `value:` (a number for `type: int` enums, a string for `type: string`)"),
            );
        }
        Some(EnumValueSpec {
            span: node.span,
            value,
            description: self.opt_string(&fields, "description", "`description`"),
            deprecated: self.opt_bool(&fields, "deprecated", "`deprecated`"),
        })
    }
}
