//! Portable SQL expressions (checks): find the column names they use, and spell them for
//! SQL Server. Not a SQL parser: a tokenizer that knows string literals, quoted
//! identifiers, numbers, function calls and the keywords a boolean check can contain.

/// A word in an expression that should be a column of the table.
#[derive(Debug, PartialEq)]
pub struct ColumnRef<'a> {
    pub name: &'a str,
    /// Byte offset of the name inside the expression.
    pub offset: usize,
}

/// Words that are SQL, not column names.
const KEYWORDS: &[&str] = &[
    "and", "or", "not", "between", "in", "is", "null", "like", "ilike", "true", "false", "case", "when", "then",
    "else", "end", "escape", "distinct", "from", "as", "any", "all", "some", "exists", "current_date",
    "current_time", "current_timestamp", "localtime", "localtimestamp", "unknown", "similar", "to", "collate",
    "interval", "year", "month", "day", "hour", "minute", "second", "at", "time", "zone", "varchar", "nvarchar",
    "int", "integer", "bigint", "text", "date", "numeric", "decimal",
];

enum Token<'a> {
    Word { text: &'a str, offset: usize, quoted: bool },
    Other(char),
}

fn tokens(expr: &str) -> Vec<Token<'_>> {
    let bytes = expr.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if c == b'\'' {
            // String literal; '' is an escaped quote.
            i += 1;
            while i < bytes.len() {
                if bytes[i] == b'\'' {
                    if bytes.get(i + 1) == Some(&b'\'') {
                        i += 2;
                        continue;
                    }
                    break;
                }
                i += 1;
            }
            i += 1;
        } else if c == b'"' {
            let start = i + 1;
            let end = expr[start..].find('"').map(|e| start + e).unwrap_or(expr.len());
            out.push(Token::Word { text: &expr[start..end], offset: start, quoted: true });
            i = end + 1;
        } else if c.is_ascii_alphabetic() || c == b'_' {
            let start = i;
            while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                i += 1;
            }
            out.push(Token::Word { text: &expr[start..i], offset: start, quoted: false });
        } else if c.is_ascii_digit() {
            while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'.') {
                i += 1;
            }
        } else {
            if !c.is_ascii_whitespace() {
                out.push(Token::Other(c as char));
            }
            i += 1;
        }
    }
    out
}

/// The words of an expression that must be columns: quoted identifiers always, bare
/// words unless they are SQL keywords or function names (followed by `(`).
pub fn column_refs(expr: &str) -> Vec<ColumnRef<'_>> {
    let tokens = tokens(expr);
    let mut refs = Vec::new();
    for (index, token) in tokens.iter().enumerate() {
        let Token::Word { text, offset, quoted } = token else { continue };
        if !quoted {
            let is_call = matches!(tokens.get(index + 1), Some(Token::Other('(')));
            let after_cast = index > 0 && matches!(tokens.get(index - 1), Some(Token::Other(':')));
            if is_call || after_cast || KEYWORDS.contains(&text.to_ascii_lowercase().as_str()) {
                continue;
            }
        }
        refs.push(ColumnRef { name: text, offset: *offset });
    }
    refs
}

/// The SQL Server spelling of a portable expression: `"name"` → `[name]`, and the
/// boolean literals `true`/`false` → `1`/`0` (T-SQL has no boolean literals).
pub fn to_mssql(expr: &str) -> String {
    let mut out = String::with_capacity(expr.len());
    let bytes = expr.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if c == b'\'' {
            let start = i;
            i += 1;
            while i < bytes.len() {
                if bytes[i] == b'\'' {
                    if bytes.get(i + 1) == Some(&b'\'') {
                        i += 2;
                        continue;
                    }
                    break;
                }
                i += 1;
            }
            i = (i + 1).min(bytes.len());
            out.push_str(&expr[start..i]);
        } else if c == b'"' {
            let start = i + 1;
            let end = expr[start..].find('"').map(|e| start + e).unwrap_or(expr.len());
            out.push('[');
            out.push_str(&expr[start..end].replace(']', "]]"));
            out.push(']');
            i = (end + 1).min(bytes.len());
        } else if c.is_ascii_alphabetic() || c == b'_' {
            let start = i;
            while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                i += 1;
            }
            let word = &expr[start..i];
            match word.to_ascii_lowercase().as_str() {
                "true" => out.push('1'),
                "false" => out.push('0'),
                _ => out.push_str(word),
            }
        } else {
            let ch = expr[i..].chars().next().unwrap_or(' ');
            out.push(ch);
            i += ch.len_utf8();
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_columns_but_not_keywords_functions_or_literals() {
        let refs: Vec<&str> = column_refs("progress BETWEEN 0 AND 100 AND length(name) > 2 AND \"interval\" > 0 AND kind <> 'x y'")
            .into_iter()
            .map(|r| r.name)
            .collect();
        assert_eq!(refs, vec!["progress", "name", "interval", "kind"]);
    }

    #[test]
    fn spells_for_sql_server() {
        assert_eq!(to_mssql("\"interval\" > 0 AND released = false AND x = 'true'"), "[interval] > 0 AND released = 0 AND x = 'true'");
    }
}
