//! Enums: names, kinds, values (unique, in range) and how they are stored.

use std::collections::HashMap;

use heck::ToUpperCamelCase;

use super::names::{check_identifier, duplicate};
use super::{literal_text, Resolver};
use crate::diagnostics::{Diagnostic, Sp, Span};
use crate::model::*;
use crate::spec::*;

impl<'a> Resolver<'a> {
    pub(super) fn collect_enums(&mut self) {
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

    pub(super) fn resolve_enum(&mut self, name: &Sp<String>, spec: &EnumSpec) -> Enum {
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
}
