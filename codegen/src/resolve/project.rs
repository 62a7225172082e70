//! The `project` and `conventions` keys: dialects, schemas, naming templates, hashing.

use super::names::check_identifier;
use super::Resolver;
use crate::diagnostics::{did_you_mean, Diagnostic, Sp, Span};
use crate::model::*;
use crate::naming;
use crate::spec::*;

impl<'a> Resolver<'a> {
    pub(super) fn project(&mut self) -> Option<Project> {
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

    pub(super) fn conventions(&mut self, project: &Project) {
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

    pub(super) fn hashing(&mut self) -> Hashing {
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
}
