//! Floats as Python's `repr(float)` (and `json.dumps`) writes them: shortest round-trip digits in Python's layout.
//!
//! The digits come from `zmij` (shortest round-trip, correctly rounded, as
//! Python's `repr` is); only the layout is Python's own: positional notation
//! with at least one fractional digit (`100.0`) while the decimal exponent is
//! in [-4, 16), else `d.ddde±XX` with at least two exponent digits (`1e-05`,
//! `1.5e+16`). Non-finite values print as `json.dumps` does: `NaN`,
//! `Infinity`, `-Infinity`.
//!
//! A `real` (f32) column gets the shortest digits that round-trip *as an
//! f32*: PostgreSQL (12 and later) prints a float4 that way, psycopg2 reads
//! the text with `float()`, so Python holds the double nearest those digits
//! (`0.1`, not the widened `0.10000000149011612`), whose repr is the same
//! digits.

use super::buf::CanonicalBuf;

/// Decimal digits of a float: value = 0.DIGITS × 10^point.
struct Shortest<'p> {
    negative: bool,
    /// ASCII digits without leading or trailing zeros (empty for zero), in
    /// two pieces: the formatter's integer and fraction digits.
    integer: &'p [u8],
    fraction: &'p [u8],
    point: i32,
}

/// Writes `value` as Python's json module writes a float.
pub(crate) fn push_float(out: &mut CanonicalBuf, value: f64) {
    if value.is_nan() {
        out.push_str("NaN");
    } else if value.is_infinite() {
        out.push_str(if value > 0.0 { "Infinity" } else { "-Infinity" });
    } else {
        push_finite(out, value);
    }
}

/// Writes a `real` as Python's json module writes the float Python reads
/// back for it (see the module comment).
pub(crate) fn push_real(out: &mut CanonicalBuf, value: f32) {
    if value.is_finite() {
        push_finite(out, value);
    } else {
        push_float(out, f64::from(value));
    }
}

fn push_finite<F: zmij::Float>(out: &mut CanonicalBuf, value: F) {
    let mut buffer = zmij::Buffer::new();
    let printed = buffer.format_finite(value);
    if is_python_positional(printed.as_bytes()) {
        out.push_str(printed);
        return;
    }
    match parse_shortest(printed.as_bytes()) {
        Some(shortest) => {
            let mut text = Layout {
                bytes: [0; 48],
                len: 0,
            };
            python_layout(&mut text, &shortest);
            out.push_ascii(text.written());
        }
        // Unreachable for zmij's output; writing it beats writing nothing.
        None => out.push_str(printed),
    }
}

/// Whether the formatter's text is already Python's: it is positional
/// (`int.frac`, `.0` for whole numbers, no exponent) and Python would print
/// this value positionally too (decimal point position in (-4, 16]). Most
/// values take this path and are copied as they are.
fn is_python_positional(printed: &[u8]) -> bool {
    let unsigned = printed.strip_prefix(b"-").unwrap_or(printed);
    let Some(dot) = unsigned.iter().position(|byte| *byte == b'.') else {
        return false;
    };
    let Some((integer, fraction)) = unsigned.split_at_checked(dot) else {
        return false;
    };
    let fraction = fraction.get(1..).unwrap_or_default();
    if !integer.iter().chain(fraction).all(u8::is_ascii_digit) || fraction.is_empty() {
        return false;
    }
    match integer {
        [b'0'] => fraction.iter().take_while(|byte| **byte == b'0').count() < 4,
        [b'1'..=b'9', ..] => integer.len() <= 16,
        _ => false,
    }
}

/// Reads `[-]digits[.digits][e[±]digits]` into digits and decimal point
/// position, whatever layout the formatter chose.
fn parse_shortest(printed: &[u8]) -> Option<Shortest<'_>> {
    let (negative, unsigned) = match printed.strip_prefix(b"-") {
        Some(rest) => (true, rest),
        None => (false, printed),
    };
    let (mantissa, exponent) = split_exponent(unsigned)?;
    let (integer, fraction) = match mantissa.iter().position(|byte| *byte == b'.') {
        Some(dot) => (mantissa.get(..dot)?, mantissa.get(dot + 1..)?),
        None => (mantissa, &[][..]),
    };
    if !integer.iter().chain(fraction).all(u8::is_ascii_digit) {
        return None;
    }
    let mut integer = trim_leading_zeros(integer);
    let mut point = i32::try_from(integer.len()).ok()?.checked_add(exponent)?;
    let mut fraction = fraction;
    if integer.is_empty() {
        // `0.000ddd`: the zeros after the point move it, they aren't digits.
        let zeros = fraction.iter().take_while(|byte| **byte == b'0').count();
        fraction = fraction.get(zeros..)?;
        point -= i32::try_from(zeros).ok()?;
    }
    if fraction.iter().all(|byte| *byte == b'0') {
        fraction = &[];
        integer = trim_trailing_zeros(integer);
    } else {
        fraction = trim_trailing_zeros(fraction);
    }
    Some(Shortest {
        negative,
        integer,
        fraction,
        point,
    })
}

fn trim_leading_zeros(digits: &[u8]) -> &[u8] {
    let zeros = digits.iter().take_while(|byte| **byte == b'0').count();
    digits.get(zeros..).unwrap_or_default()
}

fn trim_trailing_zeros(digits: &[u8]) -> &[u8] {
    let zeros = digits
        .iter()
        .rev()
        .take_while(|byte| **byte == b'0')
        .count();
    digits.get(..digits.len() - zeros).unwrap_or_default()
}

/// Splits off `e[±]digits`, returning the mantissa and the exponent.
fn split_exponent(printed: &[u8]) -> Option<(&[u8], i32)> {
    let Some(at) = printed
        .iter()
        .position(|byte| *byte == b'e' || *byte == b'E')
    else {
        return Some((printed, 0));
    };
    let mantissa = printed.get(..at)?;
    let exponent = std::str::from_utf8(printed.get(at + 1..)?)
        .ok()?
        .parse::<i32>()
        .ok()?;
    Some((mantissa, exponent))
}

/// The repr built on the stack: at most sign, 17 digits, point, 21 zeros or
/// an exponent — under 48 bytes.
struct Layout {
    bytes: [u8; 48],
    len: usize,
}

impl Layout {
    fn push(&mut self, byte: u8) {
        if let Some(slot) = self.bytes.get_mut(self.len) {
            *slot = byte;
            self.len += 1;
        }
    }

    fn extend(&mut self, bytes: &[u8]) {
        bytes.iter().for_each(|byte| self.push(*byte));
    }

    fn zeros(&mut self, count: i32) {
        (0..count).for_each(|_| self.push(b'0'));
    }

    fn written(&self) -> &[u8] {
        self.bytes.get(..self.len).unwrap_or_default()
    }
}

fn python_layout(text: &mut Layout, shortest: &Shortest<'_>) {
    if shortest.negative {
        text.push(b'-');
    }
    let mut digits = Digits {
        bytes: [0; 24],
        len: 0,
    };
    digits.extend(shortest.integer);
    digits.extend(shortest.fraction);
    let digits = digits.written();
    if digits.is_empty() {
        text.extend(b"0.0");
    } else if shortest.point <= -4 || shortest.point > 16 {
        scientific(text, digits, shortest.point - 1);
    } else {
        positional(text, digits, shortest.point);
    }
}

/// The significant digits in one piece (at most 17 for an f64).
struct Digits {
    bytes: [u8; 24],
    len: usize,
}

impl Digits {
    fn extend(&mut self, digits: &[u8]) {
        for &digit in digits {
            if let Some(slot) = self.bytes.get_mut(self.len) {
                *slot = digit;
                self.len += 1;
            }
        }
    }

    fn written(&self) -> &[u8] {
        self.bytes.get(..self.len).unwrap_or_default()
    }
}

/// `d[.ddd]e±XX`, as Python's repr does past its positional range.
fn scientific(text: &mut Layout, digits: &[u8], exponent: i32) {
    let (first, rest) = digits.split_at_checked(1).unwrap_or((digits, &[]));
    text.extend(first);
    if !rest.is_empty() {
        text.push(b'.');
        text.extend(rest);
    }
    text.push(b'e');
    text.push(if exponent < 0 { b'-' } else { b'+' });
    let magnitude = exponent.unsigned_abs();
    if magnitude < 10 {
        text.push(b'0');
    }
    text.extend(itoa::Buffer::new().format(magnitude).as_bytes());
}

/// `ddd.ddd`, `0.000ddd` or `ddd000.0`: always a point and a digit after it.
fn positional(text: &mut Layout, digits: &[u8], point: i32) {
    let len = digits.len() as i32;
    if point <= 0 {
        text.extend(b"0.");
        text.zeros(-point);
        text.extend(digits);
    } else if point >= len {
        text.extend(digits);
        text.zeros(point - len);
        text.extend(b".0");
    } else {
        let (integer, fraction) = digits
            .split_at_checked(point as usize)
            .unwrap_or((digits, &[]));
        text.extend(integer);
        text.push(b'.');
        text.extend(fraction);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repr(value: f64) -> String {
        let mut out = CanonicalBuf::default();
        push_float(&mut out, value);
        out.as_str().to_owned()
    }

    #[test]
    fn python_layout() {
        let cases = [
            (0.1, "0.1"),
            (1e-5, "1e-05"),
            (1e16, "1e+16"),
            (1.5e16, "1.5e+16"),
            (100.0, "100.0"),
            (-0.0, "-0.0"),
            (0.0, "0.0"),
            (1.5e300, "1.5e+300"),
            (5e-324, "5e-324"),
            (0.0001, "0.0001"),
            (123456789012345.0, "123456789012345.0"),
            (9999999999999998.0, "9999999999999998.0"),
            (-1.25e-7, "-1.25e-07"),
            (f64::INFINITY, "Infinity"),
            (f64::NEG_INFINITY, "-Infinity"),
            (f64::NAN, "NaN"),
        ];
        for (value, expected) in cases {
            assert_eq!(repr(value), expected, "{value:e}");
        }
    }

    #[test]
    fn reals_print_their_own_shortest_digits() {
        let cases = [
            (0.1_f32, "0.1"),
            (1.0, "1.0"),
            (f32::MAX, "3.4028235e+38"),
            (1e-40, "1e-40"),
            (16777216.0, "16777216.0"),
            (-2.5e-5, "-2.5e-05"),
            (f32::NAN, "NaN"),
            (f32::NEG_INFINITY, "-Infinity"),
        ];
        for (value, expected) in cases {
            let mut out = CanonicalBuf::default();
            push_real(&mut out, value);
            assert_eq!(out.as_str(), expected, "{value:e}");
        }
    }
}
