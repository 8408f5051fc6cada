//! The `.npy` preamble and header dict, e.g.
//! `{'descr': '<f8', 'fortran_order': False, 'shape': (60, 30), }`.
//!
//! One forward pass over at most [`MAX_HEADER`] bytes: keys and values are
//! strings, `True`/`False`, tuples of integers, or (for a structured dtype)
//! a list that is skipped by counting brackets. Nothing recurses, so the
//! time is linear in the header whatever it nests.

use std::fmt;

/// NumPy itself refuses headers over 10,000 bytes by default; allow more,
/// but bound it.
pub const MAX_HEADER: usize = 1 << 16;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Order {
    C,
    Fortran,
}

/// `descr`: a plain type string (`<f8`, `|b1`) or a structured dtype.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Dtype {
    Plain {
        descr: String,
        big_endian: bool,
        kind: u8,
        size: usize,
    },
    Structured,
}

impl Dtype {
    fn plain(descr: &str) -> Result<Dtype, String> {
        let b = descr.as_bytes();
        let (order, rest) = match b.first() {
            Some(c @ (b'<' | b'>' | b'|' | b'=')) => (*c, &b[1..]),
            _ => (b'=', b),
        };
        let (kind, digits) = rest
            .split_first()
            .ok_or_else(|| format!("dtype `{descr}` has no type code"))?;
        let size = std::str::from_utf8(digits)
            .ok()
            .filter(|d| !d.is_empty() && d.bytes().all(|c| c.is_ascii_digit()))
            .and_then(|d| d.parse::<usize>().ok())
            .ok_or_else(|| format!("dtype `{descr}` has no valid size"))?;
        Ok(Dtype::Plain {
            descr: descr.to_owned(),
            big_endian: order == b'>',
            kind: *kind,
            size,
        })
    }

    /// 4 or 8 for float32/float64, else `None`.
    pub fn float_width(&self) -> Option<usize> {
        match self {
            Dtype::Plain {
                kind: b'f',
                size: s @ (4 | 8),
                ..
            } => Some(*s),
            _ => None,
        }
    }

    /// One float32/float64 value (`b` has [`Dtype::float_width`] bytes).
    pub fn decode(&self, b: &[u8]) -> f64 {
        let big = matches!(
            self,
            Dtype::Plain {
                big_endian: true,
                ..
            }
        );
        match (b.len(), big) {
            (4, false) => f32::from_le_bytes(b.try_into().expect("4 bytes")).into(),
            (4, true) => f32::from_be_bytes(b.try_into().expect("4 bytes")).into(),
            (_, false) => f64::from_le_bytes(b.try_into().expect("8 bytes")),
            (_, true) => f64::from_be_bytes(b.try_into().expect("8 bytes")),
        }
    }

    /// "`<i8` (int64)", for messages.
    pub fn describe(&self) -> String {
        match self {
            Dtype::Structured => "(structured array)".into(),
            Dtype::Plain {
                descr, kind, size, ..
            } => {
                let bits = size * 8;
                let name = match kind {
                    b'b' => "bool".into(),
                    b'i' => format!("int{bits}"),
                    b'u' => format!("uint{bits}"),
                    b'f' => format!("float{bits}"),
                    b'c' => format!("complex{bits}"),
                    b'm' => "timedelta64".into(),
                    b'M' => "datetime64".into(),
                    b'S' | b'a' => "bytes".into(),
                    b'U' => "str".into(),
                    b'V' => "void".into(),
                    b'O' => "object".into(),
                    _ => "unknown".into(),
                };
                format!("`{descr}` ({name})")
            }
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    pub dtype: Dtype,
    pub order: Order,
    pub shape: Vec<u64>,
}

/// Why a header could not be read, with the byte offset in the header.
#[derive(Debug)]
pub struct HeaderError(String);

impl fmt::Display for HeaderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn err(s: impl Into<String>) -> HeaderError {
    HeaderError(s.into())
}

/// Splits a whole file into its header and the data bytes after it.
pub fn split(bytes: &[u8]) -> Result<(Header, &[u8]), HeaderError> {
    let rest = bytes
        .strip_prefix(b"\x93NUMPY")
        .ok_or_else(|| err("no \\x93NUMPY magic"))?;
    let (major, rest) = match rest {
        [major, _minor, rest @ ..] => (*major, rest),
        _ => return Err(err("truncated preamble")),
    };
    let (len, rest) = match (major, rest) {
        (1, [a, b, rest @ ..]) => (u16::from_le_bytes([*a, *b]) as usize, rest),
        (2 | 3, [a, b, c, d, rest @ ..]) => (u32::from_le_bytes([*a, *b, *c, *d]) as usize, rest),
        (1..=3, _) => return Err(err("truncated preamble")),
        (v, _) => return Err(err(format!("format version {v} (expected 1, 2 or 3)"))),
    };
    if len > MAX_HEADER {
        return Err(err(format!(
            "header of {len} bytes (at most {MAX_HEADER} are accepted)"
        )));
    }
    if rest.len() < len {
        return Err(err(format!(
            "header announces {len} bytes, the file has {} after the preamble",
            rest.len()
        )));
    }
    let text = std::str::from_utf8(&rest[..len])
        .map_err(|e| err(format!("header is not text (byte {})", e.valid_up_to())))?;
    Ok((parse(text)?, &rest[len..]))
}

/// Parses the dict literal.
pub fn parse(text: &str) -> Result<Header, HeaderError> {
    let mut p = Parser {
        s: text.as_bytes(),
        i: 0,
    };
    p.expect(b'{')?;
    let (mut dtype, mut order, mut shape) = (None, None, None);
    loop {
        p.ws();
        if p.eat(b'}') {
            break;
        }
        let key = p.string()?;
        p.ws();
        p.expect(b':')?;
        p.ws();
        match key.as_str() {
            "descr" => dtype = Some(p.descr()?),
            "fortran_order" => order = Some(p.boolean()?),
            "shape" => shape = Some(p.tuple()?),
            other => return Err(p.fail(&format!("unknown key `{other}`"))),
        }
        p.ws();
        if !p.eat(b',') {
            p.ws();
            p.expect(b'}')?;
            break;
        }
    }
    let missing = |k| err(format!("header has no `{k}`"));
    Ok(Header {
        dtype: dtype.ok_or_else(|| missing("descr"))?,
        order: match order.ok_or_else(|| missing("fortran_order"))? {
            true => Order::Fortran,
            false => Order::C,
        },
        shape: shape.ok_or_else(|| missing("shape"))?,
    })
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn fail(&self, what: &str) -> HeaderError {
        err(format!("header byte {}: {what}", self.i))
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.i += 1;
        }
    }

    fn eat(&mut self, c: u8) -> bool {
        let hit = self.peek() == Some(c);
        self.i += usize::from(hit);
        hit
    }

    fn expect(&mut self, c: u8) -> Result<(), HeaderError> {
        if self.eat(c) {
            Ok(())
        } else {
            Err(self.fail(&format!("expected `{}`", c as char)))
        }
    }

    /// A quoted string without escapes (NumPy never writes any).
    fn string(&mut self) -> Result<String, HeaderError> {
        let q = match self.peek() {
            Some(q @ (b'\'' | b'"')) => q,
            _ => return Err(self.fail("expected a quoted key or string")),
        };
        let start = self.i + 1;
        let len = self.s[start..]
            .iter()
            .position(|&c| c == q)
            .ok_or_else(|| self.fail("unterminated string"))?;
        self.i = start + len + 1;
        Ok(String::from_utf8_lossy(&self.s[start..start + len]).into_owned())
    }

    fn descr(&mut self) -> Result<Dtype, HeaderError> {
        if self.peek() == Some(b'[') {
            self.skip_list()?;
            return Ok(Dtype::Structured);
        }
        let s = self.string()?;
        Dtype::plain(&s).map_err(|e| self.fail(&e))
    }

    /// Skips a structured dtype's list by counting brackets (linear).
    fn skip_list(&mut self) -> Result<(), HeaderError> {
        let mut depth = 0usize;
        while let Some(c) = self.peek() {
            match c {
                b'\'' | b'"' => {
                    self.string()?;
                    continue;
                }
                b'[' | b'(' => depth += 1,
                b']' | b')' => {
                    depth -= 1;
                    if depth == 0 {
                        self.i += 1;
                        return Ok(());
                    }
                }
                _ => {}
            }
            self.i += 1;
        }
        Err(self.fail("unterminated dtype list"))
    }

    fn boolean(&mut self) -> Result<bool, HeaderError> {
        for (word, v) in [("True", true), ("False", false)] {
            if self.s[self.i..].starts_with(word.as_bytes()) {
                self.i += word.len();
                return Ok(v);
            }
        }
        Err(self.fail("expected True or False"))
    }

    /// `()`, `(3,)`, `(60, 30)` with optional trailing comma.
    fn tuple(&mut self) -> Result<Vec<u64>, HeaderError> {
        self.expect(b'(')?;
        let mut dims = Vec::new();
        loop {
            self.ws();
            if self.eat(b')') {
                return Ok(dims);
            }
            let start = self.i;
            while self.peek().is_some_and(|c| c.is_ascii_digit()) {
                self.i += 1;
            }
            let digits = std::str::from_utf8(&self.s[start..self.i]).expect("ASCII digits");
            let d = digits
                .parse::<u64>()
                .map_err(|_| self.fail("expected a dimension (a non-negative integer)"))?;
            dims.push(d);
            if dims.len() > 32 {
                return Err(self.fail("more than 32 dimensions"));
            }
            self.ws();
            if !self.eat(b',') {
                self.ws();
                self.expect(b')')?;
                return Ok(dims);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numpy_headers() {
        let h =
            parse("{'descr': '<f8', 'fortran_order': False, 'shape': (60, 30), }   \n").unwrap();
        assert_eq!(h.shape, [60, 30]);
        assert_eq!(h.order, Order::C);
        assert_eq!(h.dtype.float_width(), Some(8));
        let h = parse("{\"descr\":\">f4\",\"fortran_order\":True,\"shape\":(3,)}").unwrap();
        assert_eq!((h.shape, h.order), (vec![3], Order::Fortran));
        assert_eq!(h.dtype.decode(&1.5f32.to_be_bytes()), 1.5);
        let h = parse("{'descr': [('a', '<f8'), ('b', [('c', '<i4')])], 'fortran_order': False, 'shape': (), }").unwrap();
        assert_eq!((h.dtype, h.shape), (Dtype::Structured, vec![]));
    }

    #[test]
    fn nested_brackets_fail_fast() {
        // Issue 12: 16 levels took over a minute in npyz's parser.
        for open in ["{", "[", "("] {
            let text = format!("{{'descr': {}", open.repeat(100_000));
            let t = std::time::Instant::now();
            assert!(parse(&text).is_err());
            assert!(t.elapsed().as_secs() < 2, "{open}: {:?}", t.elapsed());
        }
    }

    #[test]
    fn bad_headers_say_where() {
        for (text, want) in [
            ("", "expected `{`"),
            ("{'descr': '<f8'", "expected `}`"),
            ("{'descr': '<f8', 'shape': (1,), }", "no `fortran_order`"),
            (
                "{'descr': 'f', 'fortran_order': False, 'shape': (1,)}",
                "no valid size",
            ),
            (
                "{'descr': '<f8', 'fortran_order': 0, 'shape': (1,)}",
                "True or False",
            ),
            (
                "{'descr': '<f8', 'fortran_order': False, 'shape': (-1,)}",
                "dimension",
            ),
            (
                "{'descr': '<f8', 'fortran_order': False, 'shape': (99999999999999999999,)}",
                "dimension",
            ),
            ("{'x': 1}", "unknown key `x`"),
        ] {
            let e = parse(text).unwrap_err().to_string();
            assert!(e.contains(want), "{text:?}: {e}");
        }
        assert!(split(b"\x93NUMPY\x01\x00\xff\xff")
            .unwrap_err()
            .to_string()
            .contains("announces"));
        assert!(split(b"\x93NUMPY\x02\x00\xff\xff\xff\x00")
            .unwrap_err()
            .to_string()
            .contains("at most"));
        assert!(split(b"\x93NUMPY\x09\x00")
            .unwrap_err()
            .to_string()
            .contains("version 9"));
    }
}
