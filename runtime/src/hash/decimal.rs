//! Decimals as Python's `str(Decimal)` writes them: the exact digits and exponent, positional or `E` notation by Python's rule.
//!
//! A numeric column reaches Python as `Decimal(text)` with the database's
//! text (`1.10`, `0.0000001`), and `str()` keeps every digit: `1.10` stays
//! `1.10`, but `0.0000001` becomes `1E-7` because Python switches to
//! scientific notation once the adjusted exponent drops below -6, and any
//! positive exponent (`Decimal('1E+2')`) stays scientific. Diesel's
//! `BigDecimal` keeps the scale of the database value, so its integer and
//! scale are exactly Python's coefficient and exponent.

use bigdecimal::num_bigint::Sign;
use bigdecimal::num_traits::ToPrimitive;
use bigdecimal::BigDecimal;

use super::buf::CanonicalBuf;
use super::json::push_json_string;
use super::text::is_python_whitespace;

/// Writes `value` as a JSON string holding `str(Decimal)` of it.
pub(crate) fn push_bigdecimal(out: &mut CanonicalBuf, value: &BigDecimal) {
    let (integer, scale) = value.as_bigint_and_scale();
    let negative = integer.sign() == Sign::Minus;
    let exponent = scale.checked_neg().unwrap_or(i64::MAX);
    out.push_byte(b'"');
    // Up to 19 digits fit a u64 (the common case, and fast to print), up to
    // 38 a u128; both print without allocating.
    let magnitude = integer.magnitude();
    if let Some(small) = magnitude.to_u64() {
        push_number(out, negative, itoa::Buffer::new().format(small), exponent);
    } else if let Some(large) = magnitude.to_u128() {
        push_number(out, negative, itoa::Buffer::new().format(large), exponent);
    } else {
        push_number(out, negative, &integer.magnitude().to_string(), exponent);
    }
    out.push_byte(b'"');
}

/// Writes decimal text (as the database prints it, or as any text
/// `Decimal()` accepts) as a JSON string holding `str(Decimal(text))`.
///
/// Text `Decimal()` would reject has no Python hash to match; it is written
/// as it is rather than dropped.
pub(crate) fn push_decimal_text(out: &mut CanonicalBuf, text: &str) {
    let trimmed = text.trim_matches(is_python_whitespace);
    if trimmed.contains('_') {
        // `Decimal()` deletes every underscore before it parses.
        push_clean_decimal_text(out, text, &trimmed.replace('_', ""));
    } else {
        push_clean_decimal_text(out, text, trimmed);
    }
}

fn push_clean_decimal_text(out: &mut CanonicalBuf, text: &str, cleaned: &str) {
    match parse_decimal(cleaned) {
        Some(parsed) => {
            out.push_byte(b'"');
            push_parsed(out, &parsed);
            out.push_byte(b'"');
        }
        None => push_json_string(out, text),
    }
}

/// A decimal as Python's `Decimal` holds it.
enum Parsed<'t> {
    Finite {
        negative: bool,
        digits: Digits<'t>,
        exponent: i64,
    },
    Infinity {
        negative: bool,
    },
    /// Quiet (`NaN`) or signaling (`sNaN`), with its diagnostic payload.
    NaN {
        negative: bool,
        signaling: bool,
        payload: Digits<'t>,
    },
}

/// Coefficient digits, possibly split around the decimal point and with
/// leading zeros still in place; Python prints them without those zeros.
#[derive(Clone, Copy)]
struct Digits<'t> {
    integer: &'t str,
    fraction: &'t str,
}

impl Digits<'_> {
    /// The digits without the leading zeros (`"0"` when all are zero), in
    /// at most two pieces.
    fn significant(&self) -> (&str, &str) {
        let integer = self.integer.trim_start_matches('0');
        if !integer.is_empty() {
            return (integer, self.fraction);
        }
        let fraction = self.fraction.trim_start_matches('0');
        if fraction.is_empty() {
            ("0", "")
        } else {
            ("", fraction)
        }
    }

    fn count(&self) -> i64 {
        let (integer, fraction) = self.significant();
        (integer.len() + fraction.len()) as i64
    }
}

/// Parses Python's decimal grammar: `[sign] (digits [. digits] | . digits)
/// [E [sign] digits]`, `Inf`, `Infinity`, `[s]NaN[digits]`, case-blind.
fn parse_decimal(text: &str) -> Option<Parsed<'_>> {
    let (negative, unsigned) = match text.as_bytes().first() {
        Some(b'-') => (true, text.get(1..)?),
        Some(b'+') => (false, text.get(1..)?),
        _ => (false, text),
    };
    if unsigned.eq_ignore_ascii_case("inf") || unsigned.eq_ignore_ascii_case("infinity") {
        return Some(Parsed::Infinity { negative });
    }
    if let Some(nan) = parse_nan(negative, unsigned) {
        return Some(nan);
    }
    parse_finite(negative, unsigned)
}

fn parse_nan(negative: bool, unsigned: &str) -> Option<Parsed<'_>> {
    let (signaling, rest) = match unsigned.get(..1) {
        Some("s" | "S") => (true, unsigned.get(1..)?),
        _ => (false, unsigned),
    };
    let head = rest.get(..3)?;
    if !head.eq_ignore_ascii_case("nan") {
        return None;
    }
    let payload = rest.get(3..)?;
    if !is_digits(payload) {
        return None;
    }
    Some(Parsed::NaN {
        negative,
        signaling,
        payload: Digits {
            integer: payload,
            fraction: "",
        },
    })
}

fn parse_finite(negative: bool, unsigned: &str) -> Option<Parsed<'_>> {
    let (mantissa, exponent) = match unsigned.find(['e', 'E']) {
        Some(at) => (
            unsigned.get(..at)?,
            parse_exponent(unsigned.get(at + 1..)?)?,
        ),
        None => (unsigned, 0),
    };
    let (integer, fraction) = match mantissa.find('.') {
        Some(at) => (mantissa.get(..at)?, mantissa.get(at + 1..)?),
        None => (mantissa, ""),
    };
    let digits = Digits { integer, fraction };
    let has_digit = integer
        .bytes()
        .chain(fraction.bytes())
        .any(|byte| byte.is_ascii_digit());
    if !has_digit || !is_digits(integer) || !is_digits(fraction) {
        return None;
    }
    let exponent = exponent.checked_sub(fraction.len() as i64)?;
    Some(Parsed::Finite {
        negative,
        digits,
        exponent,
    })
}

/// `[sign] digits`; an exponent beyond i64 (which Python would accept) is
/// left to the fallback.
fn parse_exponent(text: &str) -> Option<i64> {
    let digits = text.strip_prefix(['+', '-']).unwrap_or(text);
    if digits.is_empty() || !is_digits(digits) {
        return None;
    }
    text.parse::<i64>().ok()
}

/// ASCII digits only: Python's `\d` would also take other scripts' digits,
/// which no database prints.
fn is_digits(piece: &str) -> bool {
    piece.bytes().all(|byte| byte.is_ascii_digit())
}

fn push_parsed(out: &mut CanonicalBuf, parsed: &Parsed<'_>) {
    match *parsed {
        Parsed::Finite {
            negative,
            digits,
            exponent,
        } => push_digits(out, negative, digits, exponent),
        Parsed::Infinity { negative } => {
            out.push_str(if negative { "-Infinity" } else { "Infinity" });
        }
        Parsed::NaN {
            negative,
            signaling,
            payload,
        } => {
            if negative {
                out.push_byte(b'-');
            }
            out.push_str(if signaling { "sNaN" } else { "NaN" });
            // Python drops a zero payload entirely: `NaN0` prints as `NaN`.
            let (integer, _) = payload.significant();
            if integer != "0" {
                out.push_str(integer);
            }
        }
    }
}

/// Python's `Decimal.__str__` for a finite value, given its coefficient
/// digits (no leading zeros) and exponent.
fn push_number(out: &mut CanonicalBuf, negative: bool, digits: &str, exponent: i64) {
    push_digits(
        out,
        negative,
        Digits {
            integer: digits,
            fraction: "",
        },
        exponent,
    );
}

fn push_digits(out: &mut CanonicalBuf, negative: bool, digits: Digits<'_>, exponent: i64) {
    let count = digits.count();
    let left_digits = exponent.saturating_add(count);
    // Positional when the exponent is not positive and the value is not
    // tiny (adjusted exponent >= -6); otherwise one digit before the point.
    let dot_place = if exponent <= 0 && left_digits > -6 {
        left_digits
    } else {
        1
    };
    if negative {
        out.push_byte(b'-');
    }
    let (integer, fraction) = digits.significant();
    if dot_place <= 0 {
        out.push_str("0.");
        push_zeros(out, -dot_place);
        out.push_str(integer);
        out.push_str(fraction);
    } else if dot_place >= count {
        out.push_str(integer);
        out.push_str(fraction);
        push_zeros(out, dot_place - count);
    } else {
        push_split(out, integer, fraction, dot_place);
    }
    if left_digits != dot_place {
        let adjusted = left_digits.saturating_sub(dot_place);
        out.push_str(if adjusted < 0 { "E-" } else { "E+" });
        out.push_str(itoa::Buffer::new().format(adjusted.unsigned_abs()));
    }
}

/// Writes the coefficient digits with a point after the first `dot_place`.
fn push_split(out: &mut CanonicalBuf, integer: &str, fraction: &str, dot_place: i64) {
    for (written, byte) in (0_i64..).zip(integer.bytes().chain(fraction.bytes())) {
        if written == dot_place {
            out.push_byte(b'.');
        }
        out.push_byte(byte);
    }
}

fn push_zeros(out: &mut CanonicalBuf, count: i64) {
    for _ in 0..count {
        out.push_byte(b'0');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from_text(text: &str) -> String {
        let mut out = CanonicalBuf::default();
        push_decimal_text(&mut out, text);
        out.as_str().to_owned()
    }

    #[test]
    fn python_str_of_decimal() {
        let cases = [
            ("1.10", "1.10"),
            ("1E+2", "1E+2"),
            ("0.000001", "0.000001"),
            ("0.0000001", "1E-7"),
            ("0.0000000", "0E-7"),
            ("-0.00", "-0.00"),
            ("123.456e10", "1.23456E+12"),
            ("00012.3400", "12.3400"),
            (".5", "0.5"),
            ("5.", "5"),
            ("NaN0", "NaN"),
            ("-sNaN012", "-sNaN12"),
            ("-inf", "-Infinity"),
            (" 1_000.5_0 ", "1000.50"),
        ];
        for (text, expected) in cases {
            assert_eq!(from_text(text), format!("\"{expected}\""), "{text}");
        }
    }

    #[test]
    fn rejected_text_is_kept() {
        assert_eq!(from_text("1.2.3"), "\"1.2.3\"");
        assert_eq!(from_text("."), "\".\"");
        assert_eq!(from_text("1e"), "\"1e\"");
    }

    #[test]
    fn bigdecimal_keeps_its_scale() {
        let value: BigDecimal = "-123.4500".parse().unwrap_or_default();
        let mut out = CanonicalBuf::default();
        push_bigdecimal(&mut out, &value);
        assert_eq!(out.as_str(), "\"-123.4500\"");
    }
}
