//! Escaping text for XML documents.

use std::borrow::Cow;

/// `text` escaped for XML content and attribute values (`&`, `<`, `>`, `"`, `'`).
/// Characters XML 1.0 cannot hold at all (control characters other than tab, line feed and
/// carriage return; U+FFFE, U+FFFF) are written as `\u{…}`, so a document echoing what a
/// client sent stays well-formed.
pub fn escape<'a>(text: impl Into<Cow<'a, str>>) -> Cow<'a, str> {
    let text = text.into();
    if !text.chars().any(needs_escape) {
        return text;
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if needs_escape(c) => out.push_str(&format!("\\u{{{:x}}}", u32::from(c))),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

fn needs_escape(c: char) -> bool {
    matches!(c, '&' | '<' | '>' | '"' | '\'' | '\u{fffe}' | '\u{ffff}')
        || (c < ' ' && !matches!(c, '\t' | '\n' | '\r'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_and_what_xml_cannot_hold() {
        assert!(matches!(escape("plain é 😀"), Cow::Borrowed("plain é 😀")));
        assert_eq!(escape(String::from("a&b")), "a&amp;b");
        assert_eq!(escape("a<b>&\"c'"), "a&lt;b&gt;&amp;&quot;c&apos;");
        assert_eq!(escape("t\tn\nr\r"), "t\tn\nr\r");
        assert_eq!(
            escape("\u{0}\u{1b}\u{fffe}\u{ffff}"),
            "\\u{0}\\u{1b}\\u{fffe}\\u{ffff}"
        );
    }
}
