//! Database URLs in messages, without their passwords.

/// `url` with any password replaced by `***`: in the user-info of a
/// `postgres://user:password@host/db` URL, in a `password=` query parameter, and in a
/// `password=...` pair of a key/value connection string.
pub(crate) fn redact_password(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
            let (authority, tail) = rest.split_at(authority_end);
            let authority = match authority.rsplit_once('@') {
                Some((user_info, host)) => match user_info.split_once(':') {
                    Some((user, _password)) => format!("{user}:***@{host}"),
                    None => authority.to_owned(),
                },
                None => authority.to_owned(),
            };
            let tail = match tail.split_once('?') {
                Some((path, query)) => {
                    let pairs: Vec<String> = query
                        .split('&')
                        .map(|pair| match pair.split_once('=') {
                            Some((key, _)) if key.eq_ignore_ascii_case("password") => {
                                format!("{key}=***")
                            }
                            _ => pair.to_owned(),
                        })
                        .collect();
                    format!("{path}?{}", pairs.join("&"))
                }
                None => tail.to_owned(),
            };
            format!("{scheme}://{authority}{tail}")
        }
        None => redact_key_value(url),
    }
}

/// Replaces the value of `password` in `key=value key='quoted value'` text.
fn redact_key_value(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while !rest.is_empty() {
        let trimmed = rest.trim_start();
        out.push_str(&rest[..rest.len() - trimmed.len()]);
        rest = trimmed;
        let key_end = rest
            .find(|c: char| c == '=' || c.is_whitespace())
            .unwrap_or(rest.len());
        let key = &rest[..key_end];
        out.push_str(key);
        rest = &rest[key_end..];
        let after_spaces = rest.trim_start();
        let Some(value) = after_spaces.strip_prefix('=') else {
            continue;
        };
        out.push_str(&rest[..rest.len() - after_spaces.len()]);
        out.push('=');
        let value_start = value.trim_start();
        out.push_str(&value[..value.len() - value_start.len()]);
        let value_len = value_length(value_start);
        if key.eq_ignore_ascii_case("password") {
            out.push_str("***");
        } else {
            out.push_str(&value_start[..value_len]);
        }
        rest = &value_start[value_len..];
    }
    out
}

/// Length of the value at the start of `text`: a single-quoted string (with `\` escapes) or
/// everything up to the next whitespace.
fn value_length(text: &str) -> usize {
    if let Some(quoted) = text.strip_prefix('\'') {
        let mut escaped = false;
        for (index, c) in quoted.char_indices() {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '\'' => return index + 2,
                _ => {}
            }
        }
        text.len()
    } else {
        text.find(char::is_whitespace).unwrap_or(text.len())
    }
}

#[cfg(test)]
mod tests {
    use super::redact_password;

    #[test]
    fn urls() {
        for (url, expected) in [
            (
                "postgres://postgres@127.0.0.1:5432/postgres",
                "postgres://postgres@127.0.0.1:5432/postgres",
            ),
            (
                "postgresql://pvs:s3cr%40t@db.example:5432/pvs?sslmode=disable",
                "postgresql://pvs:***@db.example:5432/pvs?sslmode=disable",
            ),
            ("postgres://u:p@w@host", "postgres://u:***@host"),
            (
                "postgres://host/db?user=u&password=p&x=1",
                "postgres://host/db?user=u&password=***&x=1",
            ),
            ("postgres://host", "postgres://host"),
        ] {
            assert_eq!(redact_password(url), expected);
        }
    }

    #[test]
    fn key_values() {
        for (text, expected) in [
            (
                "host=localhost user=pvs password=secret dbname=pvs",
                "host=localhost user=pvs password=*** dbname=pvs",
            ),
            ("password = 'se cr\\'et' host=db", "password = *** host=db"),
            ("host=db PASSWORD=x", "host=db PASSWORD=***"),
            ("host=db", "host=db"),
            ("password", "password"),
            ("password=", "password=***"),
        ] {
            assert_eq!(redact_password(text), expected);
        }
    }
}
