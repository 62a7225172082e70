//! Parsing spec type names (`string(64)?`, `decimal(18,4)`, `array(int)`, `enum(Name)`).

use crate::model::ColumnType;

/// A parsed type name before enum names are looked up.
#[derive(Debug, Clone, PartialEq)]
pub enum ParsedType {
    Plain(ColumnType),
    /// `decimal` without arguments: precision and scale come from their own keys.
    BareDecimal,
    Enum(String),
    Array(Box<ParsedType>),
}

pub const TYPE_NAMES: &[&str] = &[
    "smallint", "int", "bigint", "bool", "float", "double", "decimal", "string", "text", "datetime", "datetimetz",
    "date", "time", "uuid", "json", "bytes", "array", "enum",
];

/// Split `T?` into `T` and whether it is nullable.
pub fn strip_nullable(type_name: &str) -> (&str, bool) {
    match type_name.trim().strip_suffix('?') {
        Some(inner) => (inner.trim_end(), true),
        None => (type_name.trim(), false),
    }
}

/// Parse a type name; the error says what is wrong and how to write it.
pub fn parse_type(text: &str) -> Result<ParsedType, String> {
    let text = text.trim();
    let (head, args) = match text.find('(') {
        Some(open) => {
            let Some(inner) = text[open + 1..].strip_suffix(')') else {
                return Err(format!("type `{text}` has an unclosed `(`"));
            };
            (text[..open].trim(), Some(inner.trim()))
        }
        None => (text, None),
    };
    let plain = |t: ColumnType| -> Result<ParsedType, String> {
        match args {
            None => Ok(ParsedType::Plain(t)),
            Some(_) => Err(format!("type `{head}` takes no arguments")),
        }
    };
    match head {
        "smallint" => plain(ColumnType::SmallInt),
        "int" => plain(ColumnType::Int),
        "bigint" => plain(ColumnType::BigInt),
        "bool" => plain(ColumnType::Bool),
        "float" => plain(ColumnType::Float),
        "double" => plain(ColumnType::Double),
        "text" => plain(ColumnType::Text),
        "datetime" => plain(ColumnType::DateTime),
        "datetimetz" => plain(ColumnType::DateTimeTz),
        "date" => plain(ColumnType::Date),
        "time" => plain(ColumnType::Time),
        "uuid" => plain(ColumnType::Uuid),
        "json" => plain(ColumnType::Json),
        "bytes" => plain(ColumnType::Bytes),
        "string" => {
            let Some(arg) = args else {
                return Err("`string` needs a length: `string(64)`; use `text` for unbounded text".into());
            };
            let length: u32 = arg.parse().map_err(|_| format!("string length `{arg}` is not a whole number"))?;
            if length == 0 || length > 4000 {
                return Err(format!(
                    "string length {length} is out of range 1..=4000 (SQL Server's nvarchar limit); use `text` for longer text"
                ));
            }
            Ok(ParsedType::Plain(ColumnType::String { length }))
        }
        "decimal" => match args {
            None => Ok(ParsedType::BareDecimal),
            Some(arg) => {
                let (p, s) = arg.split_once(',').ok_or_else(|| format!("`decimal({arg})` needs precision and scale: `decimal(18,4)`"))?;
                let precision: u32 = p.trim().parse().map_err(|_| format!("decimal precision `{}` is not a whole number", p.trim()))?;
                let scale: u32 = s.trim().parse().map_err(|_| format!("decimal scale `{}` is not a whole number", s.trim()))?;
                decimal(precision as i64, scale as i64).map(ParsedType::Plain)
            }
        },
        "enum" => match args {
            Some(name) if !name.is_empty() => Ok(ParsedType::Enum(name.to_string())),
            _ => Err("`enum` needs the enum's name: `enum(RunStatus)`".into()),
        },
        "array" => {
            let Some(inner) = args else { return Err("`array` needs an element type: `array(text)`".into()) };
            let element = parse_type(inner)?;
            match element {
                ParsedType::Array(_) => Err("arrays of arrays are not supported; use `json`".into()),
                ParsedType::Enum(_) => Err("arrays of enums are not supported; use `array(int)` or `array(string(n))`".into()),
                ParsedType::BareDecimal => Err("write the array element as `decimal(p,s)`".into()),
                ParsedType::Plain(ColumnType::Json) => Err("an array of json is just `json`".into()),
                other => Ok(ParsedType::Array(Box::new(other))),
            }
        }
        _ => Err(format!("unknown type `{head}`")),
    }
}

/// Check precision and scale against what both dialects accept (1..=38, scale ≤ precision).
pub fn decimal(precision: i64, scale: i64) -> Result<ColumnType, String> {
    if !(1..=38).contains(&precision) {
        return Err(format!("decimal precision {precision} is out of range 1..=38"));
    }
    if scale < 0 || scale > precision {
        return Err(format!("decimal scale {scale} must be between 0 and the precision ({precision})"));
    }
    Ok(ColumnType::Decimal { precision: precision as u32, scale: scale as u32 })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_form() {
        assert_eq!(strip_nullable("string(64)?"), ("string(64)", true));
        assert_eq!(parse_type("string(64)").unwrap(), ParsedType::Plain(ColumnType::String { length: 64 }));
        assert_eq!(parse_type("decimal(18, 4)").unwrap(), ParsedType::Plain(ColumnType::Decimal { precision: 18, scale: 4 }));
        assert_eq!(parse_type("enum(RunStatus)").unwrap(), ParsedType::Enum("RunStatus".into()));
        assert_eq!(
            parse_type("array(string(255))").unwrap(),
            ParsedType::Array(Box::new(ParsedType::Plain(ColumnType::String { length: 255 })))
        );
        assert!(parse_type("varchar(10)").unwrap_err().contains("unknown type `varchar`"));
        assert!(parse_type("string").is_err());
        assert!(parse_type("decimal(4,5)").is_err());
    }
}
