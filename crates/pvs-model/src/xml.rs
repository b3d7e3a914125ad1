//! A small, defensive XML reader: turns a document into an element tree with resolved
//! namespaces, refusing what a browse report never needs (DTDs, entity declarations, other
//! encodings) so that untrusted input cannot trigger entity expansion or external fetches.

use quick_xml::XmlVersion;
use quick_xml::events::{BytesStart, Event};
use quick_xml::name::{NamespaceResolver, ResolveResult};
use quick_xml::reader::NsReader;
use thiserror::Error;

/// Deepest element nesting accepted. A browse report needs 4 levels
/// (`browseReport/browse/footprint/coordList`); the margin leaves room for foreign
/// extension elements while keeping the recursive drop of the tree shallow.
const MAX_DEPTH: usize = 32;

/// Why a document could not be read as XML at all.
#[derive(Debug, Clone, Error, PartialEq)]
pub enum XmlError {
    /// The bytes are not UTF-8 (the only encoding accepted).
    #[error("document is not UTF-8: invalid byte sequence at byte {offset}")]
    NotUtf8 {
        /// Byte offset of the first invalid sequence.
        offset: usize,
    },
    /// The XML declaration names another encoding.
    #[error("document declares encoding {0:?}; only UTF-8 is accepted")]
    Encoding(String),
    /// A document type declaration: DTDs and entity declarations are refused outright.
    #[error("line {line}: DOCTYPE declarations are not allowed (no DTDs, no entity declarations)")]
    Doctype {
        /// 1-based line of the declaration.
        line: usize,
    },
    /// A reference to an entity other than the five predefined ones.
    #[error("line {line}: undefined entity reference &{name};")]
    UndefinedEntity {
        /// 1-based line of the reference.
        line: usize,
        /// The entity name.
        name: String,
    },
    /// Elements nested deeper than 32 levels.
    #[error("line {line}: elements nested deeper than {MAX_DEPTH} levels")]
    TooDeep {
        /// 1-based line of the element that went too deep.
        line: usize,
    },
    /// Not well-formed XML.
    #[error("line {line}, column {column}: malformed XML: {message}")]
    Syntax {
        /// 1-based line.
        line: usize,
        /// 1-based column (in bytes).
        column: usize,
        /// What the XML reader found.
        message: String,
    },
}

/// The namespaces this crate tells apart; everything else is [`Ns::Other`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ns {
    /// `http://ngeo.eo.esa.int/schema/browseReport` (ICD 1.1 / schema 1.2).
    ReportV1,
    /// `http://ngeo.eo.esa.int/ngEO/browseReport/1.0` (ICD 1.3).
    ReportV13,
    /// `http://ngeo.eo.esa.int/schema/browse/ingestion`.
    Ingestion,
    /// Any other namespace, or none.
    Other,
}

/// Namespace URI of browse reports up to version 1.2.
pub const REPORT_NS_V1: &str = "http://ngeo.eo.esa.int/schema/browseReport";
/// Namespace URI of browse reports of version 1.3.
pub const REPORT_NS_V13: &str = "http://ngeo.eo.esa.int/ngEO/browseReport/1.0";
/// Namespace URI of the browse ingestion service (`bsi:`).
pub const INGESTION_NS: &str = "http://ngeo.eo.esa.int/schema/browse/ingestion";

impl Ns {
    fn from_uri(uri: &str) -> Self {
        match uri {
            REPORT_NS_V1 => Ns::ReportV1,
            REPORT_NS_V13 => Ns::ReportV13,
            INGESTION_NS => Ns::Ingestion,
            _ => Ns::Other,
        }
    }
}

/// One element: resolved name, unqualified attributes, concatenated text and children.
#[derive(Debug)]
pub(crate) struct Element {
    pub ns: Ns,
    /// Namespace URI as written (for error messages about foreign roots).
    pub ns_uri: Option<String>,
    pub name: String,
    /// Attributes without a namespace prefix (`version`, `nodeNumber`), unescaped.
    pub attributes: Vec<(String, String)>,
    /// Attributes with a namespace prefix (`xlink:href`): namespace URI, local name and
    /// unescaped value. Namespace declarations are not kept.
    pub ns_attributes: Vec<(String, String, String)>,
    pub text: String,
    pub children: Vec<Element>,
}

impl Element {
    /// The value of an unqualified attribute.
    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    /// The value of the attribute `name` in namespace `ns` (a URI).
    pub fn ns_attribute(&self, ns: &str, name: &str) -> Option<&str> {
        self.ns_attributes
            .iter()
            .find(|(uri, local, _)| uri == ns && local == name)
            .map(|(_, _, value)| value.as_str())
    }
}

/// Parses a whole document into its root element.
pub(crate) fn parse_document(bytes: &[u8]) -> Result<Element, XmlError> {
    let text = std::str::from_utf8(bytes).map_err(|error| XmlError::NotUtf8 {
        offset: error.valid_up_to(),
    })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut reader = NsReader::from_str(text);
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    loop {
        let position = usize::try_from(reader.buffer_position()).unwrap_or(usize::MAX);
        let (resolved, event) = match reader.read_resolved_event() {
            Ok(read) => read,
            Err(error) => {
                let position = usize::try_from(reader.error_position()).unwrap_or(usize::MAX);
                return Err(syntax(text, position, error.to_string()));
            }
        };
        let namespace = match resolved {
            ResolveResult::Bound(ns) => Some(ns.as_ref().to_owned()),
            ResolveResult::Unbound => None,
            ResolveResult::Unknown(prefix) => {
                return Err(syntax(
                    text,
                    position,
                    format!("undeclared namespace prefix {prefix:?}"),
                ));
            }
        };
        match event {
            Event::Decl(declaration) => {
                if let Some(encoding) = declaration.encoding() {
                    let encoding = encoding
                        .map_err(|error| syntax(text, position, error.to_string()))?
                        .into_owned();
                    if !encoding.eq_ignore_ascii_case("utf-8") {
                        return Err(XmlError::Encoding(encoding));
                    }
                }
            }
            Event::DocType(_) => {
                return Err(XmlError::Doctype {
                    line: line_of(text, position),
                });
            }
            Event::Start(start) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(XmlError::TooDeep {
                        line: line_of(text, position),
                    });
                }
                let element = new_element(&start, namespace, reader.resolver(), text, position)?;
                if root.is_some() && stack.is_empty() {
                    return Err(syntax(text, position, "more than one root element".into()));
                }
                stack.push(element);
            }
            Event::Empty(start) => {
                let element = new_element(&start, namespace, reader.resolver(), text, position)?;
                close(element, &mut stack, &mut root, text, position)?;
            }
            Event::End(_) => {
                let element = stack
                    .pop()
                    .ok_or_else(|| syntax(text, position, "unexpected end tag".into()))?;
                close(element, &mut stack, &mut root, text, position)?;
            }
            Event::Text(content) => {
                let content = content.xml10_content();
                append_text(&mut stack, &content, text, position)?;
            }
            Event::CData(content) => {
                let content = content.xml10_content();
                append_text(&mut stack, &content, text, position)?;
            }
            Event::GeneralRef(reference) => {
                let resolved = match reference.resolve_char_ref() {
                    Ok(Some(character)) => character.to_string(),
                    Ok(None) => predefined_entity(&reference)
                        .ok_or_else(|| XmlError::UndefinedEntity {
                            line: line_of(text, position),
                            name: reference.to_string(),
                        })?
                        .to_string(),
                    Err(error) => return Err(syntax(text, position, error.to_string())),
                };
                append_text(&mut stack, &resolved, text, position)?;
            }
            Event::Comment(_) | Event::PI(_) => {}
            Event::Eof => break,
        }
    }
    if !stack.is_empty() {
        return Err(syntax(
            text,
            text.len(),
            "document ends inside an element".into(),
        ));
    }
    root.ok_or_else(|| syntax(text, text.len(), "document has no root element".into()))
}

fn new_element(
    start: &BytesStart<'_>,
    ns_uri: Option<String>,
    resolver: &NamespaceResolver,
    text: &str,
    position: usize,
) -> Result<Element, XmlError> {
    let mut attributes = Vec::new();
    let mut ns_attributes = Vec::new();
    for attribute in start.attributes() {
        let attribute = attribute.map_err(|error| syntax(text, position, error.to_string()))?;
        let key = attribute.key;
        if key.as_namespace_binding().is_some() {
            continue;
        }
        let value = attribute
            .normalized_value(XmlVersion::Implicit1_0)
            .map_err(|error| match error {
                quick_xml::Error::Escape(quick_xml::escape::EscapeError::UnrecognizedEntity(
                    _,
                    name,
                )) => XmlError::UndefinedEntity {
                    line: line_of(text, position),
                    name,
                },
                other => syntax(text, position, other.to_string()),
            })?;
        match resolver.resolve_attribute(key) {
            (ResolveResult::Bound(ns), local) => ns_attributes.push((
                ns.as_ref().to_owned(),
                local.as_ref().to_owned(),
                value.into_owned(),
            )),
            (ResolveResult::Unbound, _) => {
                attributes.push((key.as_ref().to_owned(), value.into_owned()));
            }
            // As before namespaced attributes were kept: an undeclared prefix on an
            // attribute is ignored (elements with one are refused).
            (ResolveResult::Unknown(_), _) => {}
        }
    }
    Ok(Element {
        ns: ns_uri.as_deref().map_or(Ns::Other, Ns::from_uri),
        ns_uri,
        name: start.local_name().as_ref().to_owned(),
        attributes,
        ns_attributes,
        text: String::new(),
        children: Vec::new(),
    })
}

fn close(
    element: Element,
    stack: &mut [Element],
    root: &mut Option<Element>,
    text: &str,
    position: usize,
) -> Result<(), XmlError> {
    match stack.last_mut() {
        Some(parent) => parent.children.push(element),
        None if root.is_none() => *root = Some(element),
        None => return Err(syntax(text, position, "more than one root element".into())),
    }
    Ok(())
}

fn append_text(
    stack: &mut [Element],
    content: &str,
    text: &str,
    position: usize,
) -> Result<(), XmlError> {
    match stack.last_mut() {
        Some(element) => element.text.push_str(content),
        None if content.trim().is_empty() => {}
        None => {
            return Err(syntax(
                text,
                position,
                "text outside the root element".into(),
            ));
        }
    }
    Ok(())
}

fn predefined_entity(name: &str) -> Option<char> {
    match name {
        "lt" => Some('<'),
        "gt" => Some('>'),
        "amp" => Some('&'),
        "apos" => Some('\''),
        "quot" => Some('"'),
        _ => None,
    }
}

fn syntax(text: &str, position: usize, message: String) -> XmlError {
    let before = &text.as_bytes()[..position.min(text.len())];
    let line = before.iter().filter(|&&byte| byte == b'\n').count() + 1;
    let line_start = before
        .iter()
        .rposition(|&byte| byte == b'\n')
        .map_or(0, |index| index + 1);
    XmlError::Syntax {
        line,
        column: before.len() - line_start + 1,
        message,
    }
}

fn line_of(text: &str, position: usize) -> usize {
    text.as_bytes()[..position.min(text.len())]
        .iter()
        .filter(|&&byte| byte == b'\n')
        .count()
        + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_namespaces_and_predefined_entities() {
        let root = parse_document(
            br#"<?xml version="1.0" encoding="utf-8"?>
            <r:a xmlns:r="http://ngeo.eo.esa.int/ngEO/browseReport/1.0" v="1&amp;2">
              <r:b>x &lt; y &#65;<![CDATA[<z>]]></r:b><!-- c --><other/>
            </r:a>"#,
        )
        .unwrap();
        assert_eq!(root.ns, Ns::ReportV13);
        assert_eq!(root.attribute("v"), Some("1&2"));
        assert_eq!(root.children[0].text, "x < y A<z>");
        assert_eq!(root.children[1].ns, Ns::Other);
    }

    #[test]
    fn refuses_doctype_and_unknown_entities() {
        let doctype = parse_document(b"<!DOCTYPE a [<!ENTITY x \"y\">]>\n<a>&x;</a>").unwrap_err();
        assert_eq!(doctype, XmlError::Doctype { line: 1 });
        let entity = parse_document(b"<a>\n&x;</a>").unwrap_err();
        assert_eq!(
            entity,
            XmlError::UndefinedEntity {
                line: 2,
                name: "x".into()
            }
        );
        let in_attribute = parse_document(b"<a b=\"&x;\"/>").unwrap_err();
        assert!(matches!(in_attribute, XmlError::UndefinedEntity { .. }));
    }

    #[test]
    fn refuses_other_encodings_and_invalid_utf8() {
        assert_eq!(
            parse_document(b"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><a/>").unwrap_err(),
            XmlError::Encoding("ISO-8859-1".into())
        );
        assert_eq!(
            parse_document(b"<a>\xe9</a>").unwrap_err(),
            XmlError::NotUtf8 { offset: 3 }
        );
        // UTF-16 with its byte-order mark is not UTF-8 either.
        assert!(matches!(
            parse_document(b"\xff\xfe<\0a\0/\0>\0").unwrap_err(),
            XmlError::NotUtf8 { offset: 0 }
        ));
    }

    #[test]
    fn refuses_malformed_documents() {
        for input in [
            &b"<a><b></a>"[..],
            b"<a>",
            b"",
            b"<a/><b/>",
            b"<a/>text",
            b"<x:a/>",
            b"<a b='1' b='2'/>",
        ] {
            let error = parse_document(input).unwrap_err();
            assert!(
                matches!(error, XmlError::Syntax { .. }),
                "{input:?}: {error:?}"
            );
        }
    }

    #[test]
    fn refuses_deep_nesting() {
        let input = "<a>".repeat(MAX_DEPTH + 1) + &"</a>".repeat(MAX_DEPTH + 1);
        assert_eq!(
            parse_document(input.as_bytes()).unwrap_err(),
            XmlError::TooDeep { line: 1 }
        );
    }
}
