//! Keeps database passwords out of everything `dcgen verify` prints: the URL is shown
//! with `***` for its password, and error text from libpq or the server is scrubbed of
//! the password in every spelling the URL holds (as written and percent-decoded).
//! CI logs are read by many people; a drift check must not leak the credentials it was
//! given.

const MASK: &str = "***";

/// The connection string, fit to print: `postgres://app:***@db:5432/app`, or for the
/// key/value form `host=db password=*** dbname=app`.
pub fn redact_url(url: &str) -> String {
    let mut text = url.to_string();
    for (start, end) in secret_ranges(url).into_iter().rev() {
        text.replace_range(start..end, MASK);
    }
    text
}

/// `text` with every spelling of the connection string's password replaced by `***`.
pub fn scrub(text: &str, url: &str) -> String {
    let mut secrets: Vec<String> = Vec::new();
    for (start, end) in secret_ranges(url) {
        let raw = &url[start..end];
        secrets.push(raw.to_string());
        secrets.push(percent_decode(raw));
        secrets.push(unquote_conninfo(raw));
    }
    secrets.retain(|s| !s.is_empty());
    // Longest first, so a password that contains another spelling is masked whole.
    secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    secrets.dedup();
    let mut text = text.to_string();
    for secret in &secrets {
        text = text.replace(secret.as_str(), MASK);
    }
    text
}

/// Byte ranges of `url` that hold a password, in order.
fn secret_ranges(url: &str) -> Vec<(usize, usize)> {
    let mut ranges = Vec::new();
    if let Some(scheme_end) = url.find("://") {
        let rest_start = scheme_end + 3;
        let rest = &url[rest_start..];
        // libpq ends the credentials at `@` and the host part at `/`; an unencoded `@`
        // inside a password is still a password, so the last `@` before the path counts.
        let authority_end = rest.find('/').unwrap_or(rest.len());
        if let Some(at) = rest[..authority_end].rfind('@') {
            if let Some(colon) = rest[..at].find(':') {
                ranges.push((rest_start + colon + 1, rest_start + at));
            }
        }
        // `?password=…` in the query string.
        if let Some(query_start) = url.find('?') {
            let mut position = query_start + 1;
            for parameter in url[query_start + 1..].split('&') {
                if let Some(value) = parameter.strip_prefix("password=") {
                    let start = position + "password=".len();
                    ranges.push((start, start + value.len()));
                }
                position += parameter.len() + 1;
            }
        }
    } else {
        ranges.extend(conninfo_password(url));
    }
    ranges.retain(|(start, end)| start < end);
    ranges
}

/// The value of `password=…` in a key/value connection string (`'quoted value'` with
/// backslash escapes, or up to the next space).
fn conninfo_password(conninfo: &str) -> Option<(usize, usize)> {
    let bytes = conninfo.as_bytes();
    let mut search_from = 0;
    while let Some(found) = conninfo[search_from..].find("password") {
        let key_start = search_from + found;
        search_from = key_start + "password".len();
        let at_word_start = key_start == 0 || bytes[key_start - 1].is_ascii_whitespace();
        let mut i = search_from;
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        if !at_word_start || i >= bytes.len() || bytes[i] != b'=' {
            continue;
        }
        i += 1;
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        let start = i;
        if i < bytes.len() && bytes[i] == b'\'' {
            i += 1;
            while i < bytes.len() && bytes[i] != b'\'' {
                i += if bytes[i] == b'\\' { 2 } else { 1 };
            }
            return Some((start, (i + 1).min(bytes.len())));
        }
        while i < bytes.len() && !bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        return Some((start, i));
    }
    None
}

fn unquote_conninfo(value: &str) -> String {
    let Some(inner) = value.strip_prefix('\'') else { return value.to_string() };
    let inner = inner.strip_suffix('\'').unwrap_or(inner);
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            out.extend(chars.next());
        } else {
            out.push(c);
        }
    }
    out
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(high), Some(low)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((high * 16 + low) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uri_passwords_are_masked() {
        assert_eq!(redact_url("postgres://app:s3cr%40t@db:5432/app"), "postgres://app:***@db:5432/app");
        assert_eq!(redact_url("postgresql://app:p@ss@db/app?sslmode=require"), "postgresql://app:***@db/app?sslmode=require");
        assert_eq!(redact_url("postgres://db/app?user=app&password=hunter2&sslmode=require"), "postgres://db/app?user=app&password=***&sslmode=require");
        assert_eq!(redact_url("postgres://app@db/app"), "postgres://app@db/app");
        assert_eq!(redact_url("postgres://db/app"), "postgres://db/app");
    }

    #[test]
    fn conninfo_passwords_are_masked() {
        assert_eq!(redact_url("host=db password=hunter2 dbname=app"), "host=db password=*** dbname=app");
        assert_eq!(redact_url("host=db password = 'a b\\'c' dbname=app"), "host=db password = *** dbname=app");
        assert_eq!(redact_url("host=db mypassword=x"), "host=db mypassword=x");
    }

    #[test]
    fn every_spelling_is_scrubbed_from_messages() {
        let url = "postgres://app:s3cr%40t@db/app";
        assert_eq!(scrub("bad token \"s3cr%40t\" and s3cr@t", url), "bad token \"***\" and ***");
        assert_eq!(scrub("password 'a b'c' rejected", "host=db password='a b\\'c'"), "password '***' rejected");
        assert_eq!(scrub("nothing secret", "postgres://db/app"), "nothing secret");
    }

    #[test]
    fn malformed_percent_escapes_do_not_panic() {
        assert_eq!(percent_decode("abc%"), "abc%");
        assert_eq!(percent_decode("abc%4"), "abc%4");
        assert_eq!(percent_decode("%zz%41"), "%zzA");
    }
}
