//! Splits filter text into tokens. Anything that is not punctuation or a
//! quoted string is a word: attribute paths (URNs contain `:` and `.`),
//! keywords, operators, numbers and unquoted values alike; the parser tells
//! them apart by position.

use super::FilterError;

/// What a token is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum TokenKind<'a> {
    LParen,
    RParen,
    LBracket,
    RBracket,
    /// A double-quoted string literal, JSON escapes resolved.
    Str(String),
    /// A run of characters other than whitespace, brackets, parentheses and
    /// `"`.
    Word(&'a str),
}

/// A token and the byte offset where it starts in the filter text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Token<'a> {
    pub kind: TokenKind<'a>,
    pub start: usize,
}

/// The 1-based character column of byte offset `at` in `text`, for messages.
pub(super) fn column(text: &str, at: usize) -> usize {
    text.get(..at).map_or(0, |head| head.chars().count()) + 1
}

fn ends_word(c: char) -> bool {
    c.is_whitespace() || matches!(c, '(' | ')' | '[' | ']' | '"')
}

/// Tokenizes `text`; whitespace of any kind separates tokens and is dropped.
pub(super) fn tokenize(text: &str) -> Result<Vec<Token<'_>>, FilterError> {
    let mut tokens = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some(&(start, c)) = chars.peek() {
        let kind = match c {
            c if c.is_whitespace() => {
                chars.next();
                continue;
            }
            '(' => TokenKind::LParen,
            ')' => TokenKind::RParen,
            '[' => TokenKind::LBracket,
            ']' => TokenKind::RBracket,
            '"' => {
                let (value, end) = string(text, start)?;
                while chars.next_if(|&(i, _)| i < end).is_some() {}
                tokens.push(Token {
                    kind: TokenKind::Str(value),
                    start,
                });
                continue;
            }
            _ => {
                let mut end = text.len();
                while let Some(&(i, c)) = chars.peek() {
                    if ends_word(c) {
                        end = i;
                        break;
                    }
                    chars.next();
                }
                tokens.push(Token {
                    kind: TokenKind::Word(&text[start..end]),
                    start,
                });
                continue;
            }
        };
        chars.next();
        tokens.push(Token { kind, start });
    }
    Ok(tokens)
}

/// Reads the JSON string literal whose opening quote is at byte `open`;
/// returns its value and the byte offset just past the closing quote.
/// Control characters are accepted as they are (clients paste tabs); they
/// are escaped again when printed.
fn string(text: &str, open: usize) -> Result<(String, usize), FilterError> {
    let invalid = |at: usize, reason| FilterError::InvalidString {
        column: column(text, at),
        reason,
    };
    let mut value = String::new();
    let mut chars = text[open + 1..]
        .char_indices()
        .map(|(i, c)| (i + open + 1, c));
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Ok((value, i + 1)),
            '\\' => {
                let Some((_, e)) = chars.next() else { break };
                value.push(match e {
                    '"' => '"',
                    '\\' => '\\',
                    '/' => '/',
                    'b' => '\u{8}',
                    'f' => '\u{c}',
                    'n' => '\n',
                    'r' => '\r',
                    't' => '\t',
                    'u' => {
                        let hi = hex4(&mut chars).ok_or_else(|| invalid(i, "malformed \\u escape"))?;
                        let code = if (0xD800..0xDC00).contains(&hi) {
                            let lo = match (chars.next(), chars.next()) {
                                (Some((_, '\\')), Some((_, 'u'))) => hex4(&mut chars),
                                _ => None,
                            }
                            .filter(|lo| (0xDC00..0xE000).contains(lo))
                            .ok_or_else(|| invalid(i, "unpaired UTF-16 surrogate"))?;
                            0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                        } else {
                            hi
                        };
                        char::from_u32(code).ok_or_else(|| invalid(i, "unpaired UTF-16 surrogate"))?
                    }
                    _ => return Err(invalid(i, "unknown escape (use \\\", \\\\, \\/, \\b, \\f, \\n, \\r, \\t or \\uXXXX)")),
                });
            }
            c => value.push(c),
        }
    }
    Err(invalid(open, "missing closing quote"))
}

/// Four hex digits of a `\u` escape.
fn hex4(chars: &mut impl Iterator<Item = (usize, char)>) -> Option<u32> {
    (0..4).try_fold(0, |acc, _| Some(acc * 16 + chars.next()?.1.to_digit(16)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str) -> Result<Vec<TokenKind<'_>>, FilterError> {
        Ok(tokenize(text)?.into_iter().map(|t| t.kind).collect())
    }

    fn str_of(literal: &str) -> Result<String, FilterError> {
        match kinds(literal)?.as_slice() {
            [TokenKind::Str(s)] => Ok(s.clone()),
            other => panic!("{literal}: {other:?}"),
        }
    }

    #[test]
    fn splits_words_punctuation_and_strings() {
        use TokenKind::*;
        assert_eq!(
            kinds("emails[type eq \"work\"].value eq x@y.com").unwrap(),
            vec![
                Word("emails"),
                LBracket,
                Word("type"),
                Word("eq"),
                Str("work".into()),
                RBracket,
                Word(".value"),
                Word("eq"),
                Word("x@y.com"),
            ]
        );
        assert_eq!(
            kinds("\t(not(a pr))\n\r ").unwrap(),
            vec![
                LParen,
                Word("not"),
                LParen,
                Word("a"),
                Word("pr"),
                RParen,
                RParen
            ]
        );
        assert_eq!(
            kinds("a eq\"b\"c").unwrap(),
            vec![Word("a"), Word("eq"), Str("b".into()), Word("c")]
        );
        assert_eq!(kinds("   ").unwrap(), vec![]);
    }

    #[test]
    fn records_byte_offsets_and_columns() {
        let tokens = tokenize("é eq \"ü\" x").unwrap();
        let starts: Vec<_> = tokens.iter().map(|t| t.start).collect();
        assert_eq!(starts, vec![0, 3, 6, 11]);
        assert_eq!(column("é eq", 3), 3);
        assert_eq!(column("abc", 0), 1);
    }

    #[test]
    fn string_escapes() {
        let cases: &[(&str, &str)] = &[
            (r#""plain""#, "plain"),
            (r#""""#, ""),
            (r#""a\"b""#, "a\"b"),
            (r#""a\\b""#, "a\\b"),
            (r#""\/\b\f\n\r\t""#, "/\u{8}\u{c}\n\r\t"),
            (r#""\u00e9\u00C9""#, "éÉ"),
            (r#""\ud83d\ude00""#, "😀"),
            ("\"raw\ttab é\"", "raw\ttab é"),
        ];
        for (literal, want) in cases {
            assert_eq!(str_of(literal).as_deref(), Ok(*want), "{literal}");
        }
    }

    #[test]
    fn string_errors() {
        let err = |column, reason| Err(FilterError::InvalidString { column, reason });
        let cases: &[(&str, Result<Vec<TokenKind>, FilterError>)] = &[
            (r#"a eq "open"#, err(6, "missing closing quote")),
            (r#"a eq "x\"#, err(6, "missing closing quote")),
            (
                r#""\q""#,
                err(
                    2,
                    "unknown escape (use \\\", \\\\, \\/, \\b, \\f, \\n, \\r, \\t or \\uXXXX)",
                ),
            ),
            (r#""\u12""#, err(2, "malformed \\u escape")),
            (r#""\uzzzz""#, err(2, "malformed \\u escape")),
            (r#""\ud800""#, err(2, "unpaired UTF-16 surrogate")),
            (r#""\ud800\u0041""#, err(2, "unpaired UTF-16 surrogate")),
            (r#""\udc00""#, err(2, "unpaired UTF-16 surrogate")),
        ];
        for (text, want) in cases {
            assert_eq!(&kinds(text), want, "{text}");
        }
    }
}
