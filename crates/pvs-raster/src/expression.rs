//! Band expressions of browse types: arithmetic over a product's bands, such as
//! `(B08-B04)/(B08+B04)` (NDVI), as EOxServer's browse types write them.
//!
//! The grammar: numbers (`2`, `0.5`, `1e-3`), band names, `+ - * /`, unary minus and
//! parentheses, with the usual precedence. A band name is resolved when the expression is
//! parsed (by the collection's band names, see [`Expression::parse`]), so drawing only
//! evaluates a compiled program over the sampled band values.

use std::fmt;

/// The longest expression text.
pub const MAX_EXPRESSION_BYTES: usize = 1024;

/// The deepest nesting of parentheses and unary minus.
const MAX_DEPTH: usize = 32;

/// One step of the compiled program (postfix order).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Op {
    Number(f64),
    /// A band's value (1-based band number).
    Band(usize),
    Add,
    Sub,
    Mul,
    Div,
    Neg,
}

/// A parsed band expression, ready to evaluate per pixel.
#[derive(Debug, Clone, PartialEq)]
pub struct Expression {
    text: String,
    program: Vec<Op>,
    /// The most values the evaluation stack holds.
    stack: usize,
}

/// Why an expression cannot be used: what and where (a byte offset in the text).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("band expression {text:?}: {reason}")]
pub struct ExpressionError {
    /// The expression (cut to 64 characters).
    pub text: String,
    /// What is wrong, and where.
    pub reason: String,
}

impl Expression {
    /// Parses `text`, resolving each band name through `band` (to a 1-based band number;
    /// `None`: no such band).
    pub fn parse(
        text: &str,
        band: &dyn Fn(&str) -> Option<usize>,
    ) -> Result<Self, ExpressionError> {
        let error = |reason: String| ExpressionError {
            text: text.chars().take(64).collect(),
            reason,
        };
        if text.len() > MAX_EXPRESSION_BYTES {
            return Err(error(format!("longer than {MAX_EXPRESSION_BYTES} bytes")));
        }
        let tokens = tokens(text).map_err(&error)?;
        let mut parser = Parser {
            tokens: &tokens,
            position: 0,
            program: Vec::new(),
            band,
            depth: 0,
        };
        parser.sum().map_err(&error)?;
        if let Some((offset, token)) = tokens.get(parser.position) {
            return Err(error(format!("unexpected {token} at byte {offset}")));
        }
        let stack = stack_depth(&parser.program);
        Ok(Self {
            text: text.to_owned(),
            program: parser.program,
            stack,
        })
    }

    /// The expression of one band (1-based).
    pub fn band(band: usize) -> Self {
        Self {
            text: format!("b{band}"),
            program: vec![Op::Band(band)],
            stack: 1,
        }
    }

    /// The bands (1-based) the expression reads, each once, in increasing order.
    pub fn bands(&self) -> Vec<usize> {
        let mut bands: Vec<usize> = self
            .program
            .iter()
            .filter_map(|op| match op {
                Op::Band(band) => Some(*band),
                _ => None,
            })
            .collect();
        bands.sort_unstable();
        bands.dedup();
        bands
    }

    /// The band this expression is, when it is just one band.
    pub fn as_band(&self) -> Option<usize> {
        match self.program[..] {
            [Op::Band(band)] => Some(band),
            _ => None,
        }
    }

    /// The value for one pixel: `values[b]` is band `b`'s value (1-based; index 0 unused).
    /// Division by zero gives an infinite or NaN value, which the caller treats as no data.
    pub fn evaluate(&self, values: &[f64], stack: &mut Vec<f64>) -> f64 {
        stack.clear();
        for op in &self.program {
            let value = match *op {
                Op::Number(number) => number,
                Op::Band(band) => values.get(band).copied().unwrap_or(f64::NAN),
                Op::Neg => -stack.pop().unwrap_or(f64::NAN),
                binary => {
                    let right = stack.pop().unwrap_or(f64::NAN);
                    let left = stack.pop().unwrap_or(f64::NAN);
                    match binary {
                        Op::Add => left + right,
                        Op::Sub => left - right,
                        Op::Mul => left * right,
                        _ => left / right,
                    }
                }
            };
            stack.push(value);
        }
        stack.pop().unwrap_or(f64::NAN)
    }

    /// The most values [`Expression::evaluate`] keeps at once (the stack to reserve).
    pub fn stack_size(&self) -> usize {
        self.stack
    }
}

impl fmt::Display for Expression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// The deepest the evaluation stack goes.
fn stack_depth(program: &[Op]) -> usize {
    let (mut depth, mut most) = (0usize, 0usize);
    for op in program {
        match op {
            Op::Number(_) | Op::Band(_) => depth += 1,
            Op::Neg => {}
            _ => depth = depth.saturating_sub(1),
        }
        most = most.max(depth);
    }
    most
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Number(f64),
    Name(String),
    Symbol(char),
}

impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Token::Number(number) => write!(f, "the number {number}"),
            Token::Name(name) => write!(f, "{name:?}"),
            Token::Symbol(symbol) => write!(f, "'{symbol}'"),
        }
    }
}

fn tokens(text: &str) -> Result<Vec<(usize, Token)>, String> {
    let mut tokens = Vec::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        let start = i;
        if c.is_ascii_whitespace() {
            i += 1;
        } else if c.is_ascii_digit() || c == b'.' {
            while i < bytes.len()
                && (bytes[i].is_ascii_digit()
                    || bytes[i] == b'.'
                    || ((bytes[i] == b'e' || bytes[i] == b'E') && i + 1 < bytes.len())
                    || ((bytes[i] == b'-' || bytes[i] == b'+')
                        && matches!(bytes[i - 1], b'e' | b'E')))
            {
                i += 1;
            }
            let number = &text[start..i];
            let value = number
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .ok_or_else(|| format!("{number:?} at byte {start} is not a number"))?;
            tokens.push((start, Token::Number(value)));
        } else if c.is_ascii_alphabetic() || c == b'_' {
            while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                i += 1;
            }
            tokens.push((start, Token::Name(text[start..i].to_owned())));
        } else if matches!(c, b'+' | b'-' | b'*' | b'/' | b'(' | b')') {
            tokens.push((start, Token::Symbol(c as char)));
            i += 1;
        } else {
            let character = text[start..].chars().next().unwrap_or('?');
            return Err(format!("{character:?} at byte {start} is not allowed"));
        }
    }
    Ok(tokens)
}

struct Parser<'a> {
    tokens: &'a [(usize, Token)],
    position: usize,
    program: Vec<Op>,
    band: &'a dyn Fn(&str) -> Option<usize>,
    depth: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.position).map(|(_, token)| token)
    }

    fn symbol(&mut self, symbols: &[char]) -> Option<char> {
        match self.peek() {
            Some(Token::Symbol(c)) if symbols.contains(c) => {
                let c = *c;
                self.position += 1;
                Some(c)
            }
            _ => None,
        }
    }

    /// sum := product (('+' | '-') product)*
    fn sum(&mut self) -> Result<(), String> {
        self.product()?;
        while let Some(op) = self.symbol(&['+', '-']) {
            self.product()?;
            self.program.push(if op == '+' { Op::Add } else { Op::Sub });
        }
        Ok(())
    }

    /// product := unary (('*' | '/') unary)*
    fn product(&mut self) -> Result<(), String> {
        self.unary()?;
        while let Some(op) = self.symbol(&['*', '/']) {
            self.unary()?;
            self.program.push(if op == '*' { Op::Mul } else { Op::Div });
        }
        Ok(())
    }

    /// unary := '-' unary | '+' unary | atom
    fn unary(&mut self) -> Result<(), String> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(format!("nested deeper than {MAX_DEPTH}"));
        }
        let result = match self.symbol(&['-', '+']) {
            Some('-') => self.unary().map(|()| self.program.push(Op::Neg)),
            Some(_) => self.unary(),
            None => self.atom(),
        };
        self.depth -= 1;
        result
    }

    /// atom := number | band | '(' sum ')'
    fn atom(&mut self) -> Result<(), String> {
        let Some((offset, token)) = self.tokens.get(self.position) else {
            return Err("ends where a number, a band or '(' is expected".to_owned());
        };
        self.position += 1;
        match token {
            Token::Number(number) => self.program.push(Op::Number(*number)),
            Token::Name(name) => {
                let band = (self.band)(name)
                    .ok_or_else(|| format!("no band {name:?} (at byte {offset})"))?;
                self.program.push(Op::Band(band));
            }
            Token::Symbol('(') => {
                self.sum()?;
                if self.symbol(&[')']).is_none() {
                    return Err(format!("the '(' at byte {offset} is not closed"));
                }
            }
            other => {
                return Err(format!(
                    "unexpected {other} at byte {offset}: a number, a band or '(' is expected"
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn bands(name: &str) -> Option<usize> {
        match name {
            "B02" => Some(1),
            "B03" => Some(2),
            "B04" => Some(3),
            "B08" => Some(4),
            _ => None,
        }
    }

    fn eval(text: &str, values: &[f64]) -> f64 {
        let expression = Expression::parse(text, &bands).unwrap();
        expression.evaluate(values, &mut Vec::new())
    }

    #[test]
    fn arithmetic_with_precedence() {
        let values = [0.0, 100.0, 200.0, 300.0, 500.0];
        assert_eq!(eval("B04", &values), 300.0);
        assert_eq!(eval("(B08-B04)/(B08+B04)", &values), 0.25);
        assert_eq!(eval("B02 + B03 * 2", &values), 500.0);
        assert_eq!(eval("(B02 + B03) * 2", &values), 600.0);
        assert_eq!(eval("-B02 - -3", &values), -97.0);
        assert_eq!(eval("B08 / 2 / 5", &values), 50.0);
        assert_eq!(eval("1e-2 * B08 + .5", &values), 5.5);
        assert_eq!(eval("2.5E+1", &values), 25.0);
        assert!(eval("B02 / (B03 - B03)", &values).is_infinite());
        let ndvi = Expression::parse("(B08-B04)/(B08+B04)", &bands).unwrap();
        assert_eq!(ndvi.bands(), [3, 4]);
        assert_eq!(ndvi.as_band(), None);
        assert_eq!(ndvi.stack_size(), 3);
        assert_eq!(ndvi.to_string(), "(B08-B04)/(B08+B04)");
        assert_eq!(Expression::parse("B04", &bands).unwrap().as_band(), Some(3));
        assert_eq!(Expression::band(2).as_band(), Some(2));
    }

    #[test]
    fn bad_expressions_say_what_and_where() {
        for (text, expected) in [
            ("", "ends where"),
            ("B04 +", "ends where"),
            ("(B04", "not closed"),
            ("B04)", "unexpected ')' at byte 3"),
            ("B05", "no band \"B05\""),
            ("B04 % 2", "'%' at byte 4"),
            ("B04 B03", "unexpected \"B03\" at byte 4"),
            ("1.2.3", "is not a number"),
            ("1e999", "is not a number"),
            ("* B04", "unexpected '*' at byte 0"),
            ("é", "not allowed"),
        ] {
            let error = Expression::parse(text, &bands).unwrap_err();
            assert!(error.reason.contains(expected), "{text:?}: {error}");
        }
        let deep = format!("{}B04{}", "(".repeat(100), ")".repeat(100));
        assert!(
            Expression::parse(&deep, &bands)
                .unwrap_err()
                .reason
                .contains("nested deeper")
        );
        let minus = format!("{}B04", "-".repeat(100));
        assert!(Expression::parse(&minus, &bands).is_err());
        let long = "B04+".repeat(300) + "1";
        // Within the length limit, but deep enough to overflow a stack without the depth
        // limit.
        assert!(Expression::parse(&"(".repeat(1000), &bands).is_err());
        assert!(
            Expression::parse(&long, &bands)
                .unwrap_err()
                .reason
                .contains("longer than")
        );
    }

    proptest! {
        /// Any text either parses or is refused with a reason; what parses evaluates on any
        /// band values without panicking, its program leaving exactly the one result.
        #[test]
        fn any_text_parses_or_is_refused(text in "[ -~]{0,80}", values in prop::collection::vec(-1e6f64..1e6, 5)) {
            match Expression::parse(&text, &bands) {
                Ok(expression) => {
                    let mut stack = Vec::new();
                    let _ = expression.evaluate(&values, &mut stack);
                    prop_assert!(stack.is_empty(), "{} left {:?}", text, stack);
                    prop_assert!(expression.bands().iter().all(|b| (1..=4).contains(b)));
                }
                Err(error) => prop_assert!(!error.reason.is_empty()),
            }
        }

        /// Generated well-formed expressions always parse.
        #[test]
        fn well_formed_expressions_parse(
            terms in prop::collection::vec(prop::sample::select(vec!["B02", "B03", "B04", "B08", "2", "0.5", "(B08 - B04)"]), 1..8),
            ops in prop::collection::vec(prop::sample::select(vec![" + ", " - ", " * ", " / "]), 7),
        ) {
            let mut text = terms[0].to_owned();
            for (term, op) in terms[1..].iter().zip(&ops) {
                text.push_str(op);
                text.push_str(term);
            }
            prop_assert!(Expression::parse(&text, &bands).is_ok(), "{}", text);
        }
    }
}
