//! Names: the identifier rule every table, column, mixin, check and enum value
//! follows, and names defined twice across the spec's files.

use std::collections::HashMap;

use super::Resolver;
use crate::diagnostics::{Diagnostic, Diagnostics, Sp, Span};

/// The shared rules for names: snake_case ASCII, 1..=63 bytes.
pub(super) fn check_identifier(diags: &mut Diagnostics, name: &Sp<String>, what: &str) -> bool {
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

pub(super) fn duplicate(what: &str, name: &Sp<String>, first: Span) -> Diagnostic {
    Diagnostic::error(name.span, format!("{what} `{}` is defined twice", name.value))
        .label("second definition")
        .related(first, "first defined here")
        .help(format!("a {what} name is defined once across all spec files; rename or remove one"))
}

impl<'a> Resolver<'a> {
    pub(super) fn check_duplicate_names(&mut self) {
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
}
