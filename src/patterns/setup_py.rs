//! setup.py, read statically: never executed, never imported.
//!
//! A small tokenizer (Python string literals with prefixes and triple quotes, comments,
//! names, brackets) finds `install_requires=[...]`, `extras_require={...}`,
//! `setup_requires=[...]` and `tests_require=[...]` keyword arguments whose values are
//! literals of string constants, or a name bound at module level to such a literal
//! (`REQUIRED = [...]` ... `install_requires=REQUIRED`).
//!
//! Invariant: anything dynamic (f-strings, concatenation with names, comprehensions, calls)
//! makes that one keyword record nothing, silently: it is not the file's fault.

use super::findings::Findings;

#[derive(Debug, Clone, PartialEq)]
enum Token {
    /// A plain string literal's value (adjacent literals are concatenated by the parser).
    Str(String),
    /// An f-string: its value is only known at run time.
    Dynamic,
    Name(String),
    Punct(char),
}

/// Keyword arguments and the groups their requirements go to.
const LIST_KEYWORDS: &[(&str, &str)] = &[
    ("install_requires", "main"),
    ("setup_requires", "build"),
    ("tests_require", "test"),
];

pub(crate) fn extract(text: &str, path: &str, f: &mut Findings) {
    let tokens = tokenize(text);
    for (keyword, group) in LIST_KEYWORDS {
        if let Some(list) = keyword_value(&tokens, keyword).and_then(|i| string_list(&tokens, i)) {
            for requirement in list {
                f.python_requirement(&requirement, group, path);
            }
        }
    }
    if let Some(extras) =
        keyword_value(&tokens, "extras_require").and_then(|i| string_dict(&tokens, i))
    {
        for (extra, list) in extras {
            for requirement in list {
                f.python_requirement(&requirement, &format!("optional:{extra}"), path);
            }
        }
    }
}

/// Index of the value of `keyword=` in a call, following one module-level name binding.
fn keyword_value(tokens: &[Token], keyword: &str) -> Option<usize> {
    let at = (1..tokens.len().saturating_sub(1)).find(|&i| {
        tokens[i] == Token::Name(keyword.to_string())
            && tokens[i + 1] == Token::Punct('=')
            && matches!(tokens[i - 1], Token::Punct('(' | ','))
    })?;
    let value = at + 2;
    match tokens.get(value)? {
        Token::Name(variable) => {
            // `variable = <literal>` at the start of a statement.
            (0..tokens.len().saturating_sub(2)).find_map(|i| {
                let starts_statement =
                    i == 0 || !matches!(tokens[i - 1], Token::Punct('.' | '(' | ','));
                (starts_statement
                    && tokens[i] == Token::Name(variable.clone())
                    && tokens[i + 1] == Token::Punct('=')
                    && matches!(tokens[i + 2], Token::Punct('[' | '(' | '{')))
                .then_some(i + 2)
            })
        }
        _ => Some(value),
    }
}

/// `[ "a", "b" "c", ]` or `( ... )` of string literals starting at `start`, and nothing
/// that continues the expression after it.
fn string_list(tokens: &[Token], start: usize) -> Option<Vec<String>> {
    let (list, next) = string_list_at(tokens, start)?;
    expression_ends(tokens, next).then_some(list)
}

/// Whether the expression ends before `tokens[at]`: the end of an argument, or a new
/// statement after a binding (`REQS = [...]` then `setup(...)`).
fn expression_ends(tokens: &[Token], at: usize) -> bool {
    match tokens.get(at) {
        None | Some(Token::Punct(',' | ')' | '}' | ';')) => true,
        Some(Token::Name(name)) => {
            !matches!(name.as_str(), "if" | "for" | "and" | "or" | "else" | "in")
        }
        _ => false,
    }
}

/// The list and the index after its closing bracket.
fn string_list_at(tokens: &[Token], start: usize) -> Option<(Vec<String>, usize)> {
    let close = match tokens.get(start)? {
        Token::Punct('[') => ']',
        Token::Punct('(') => ')',
        Token::Str(_) => {
            // A single string is a one-item list (setuptools accepts it).
            let (value, next) = concatenated(tokens, start)?;
            return Some((vec![value], next));
        }
        _ => return None,
    };
    let mut items = Vec::new();
    let mut i = start + 1;
    loop {
        match tokens.get(i)? {
            Token::Punct(c) if *c == close => return Some((items, i + 1)),
            Token::Str(_) => {
                let (value, next) = concatenated(tokens, i)?;
                items.push(value);
                i = next;
                match tokens.get(i)? {
                    Token::Punct(',') => i += 1,
                    Token::Punct(c) if *c == close => {}
                    _ => return None,
                }
            }
            _ => return None,
        }
    }
}

/// Adjacent string literals joined, and the index after them.
fn concatenated(tokens: &[Token], start: usize) -> Option<(String, usize)> {
    let mut value = String::new();
    let mut i = start;
    while let Some(Token::Str(s)) = tokens.get(i) {
        value.push_str(s);
        i += 1;
    }
    (i > start).then_some((value, i))
}

/// `{"extra": [...], ...}` with string keys and string-list values.
fn string_dict(tokens: &[Token], start: usize) -> Option<Vec<(String, Vec<String>)>> {
    if tokens.get(start)? != &Token::Punct('{') {
        return None;
    }
    let mut entries = Vec::new();
    let mut i = start + 1;
    loop {
        match tokens.get(i)? {
            Token::Punct('}') => return expression_ends(tokens, i + 1).then_some(entries),
            Token::Str(_) => {
                let (key, next) = concatenated(tokens, i)?;
                if tokens.get(next)? != &Token::Punct(':') {
                    return None;
                }
                let (list, next) = string_list_at(tokens, next + 1)?;
                entries.push((key, list));
                i = next;
                match tokens.get(i)? {
                    Token::Punct(',') => i += 1,
                    Token::Punct('}') => {}
                    _ => return None,
                }
            }
            _ => return None,
        }
    }
}

fn tokenize(text: &str) -> Vec<Token> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '#' {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c.is_whitespace() || c == '\\' {
            i += 1;
        } else if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            let is_prefix = word.len() <= 2
                && word.chars().all(|p| "rRbBuUfF".contains(p))
                && matches!(chars.get(i), Some('"' | '\''));
            if is_prefix {
                let raw = word.contains(['r', 'R']);
                let dynamic = word.contains(['f', 'F']);
                let (value, next) = string_literal(&chars, i, raw);
                tokens.push(if dynamic {
                    Token::Dynamic
                } else {
                    Token::Str(value)
                });
                i = next;
            } else {
                tokens.push(Token::Name(word));
            }
        } else if c == '"' || c == '\'' {
            let (value, next) = string_literal(&chars, i, false);
            tokens.push(Token::Str(value));
            i = next;
        } else {
            tokens.push(Token::Punct(c));
            i += 1;
        }
    }
    tokens
}

/// The literal starting at the quote at `start`: its value and the index after it. An
/// unterminated literal runs to the end of the line (or file, for triple quotes).
fn string_literal(chars: &[char], start: usize, raw: bool) -> (String, usize) {
    let quote = chars[start];
    let triple = chars.get(start + 1) == Some(&quote) && chars.get(start + 2) == Some(&quote);
    let mut i = start + if triple { 3 } else { 1 };
    let mut value = String::new();
    while i < chars.len() {
        let c = chars[i];
        if c == '\\' && i + 1 < chars.len() {
            let next = chars[i + 1];
            if raw {
                value.push(c);
                value.push(next);
            } else {
                match next {
                    'n' => value.push('\n'),
                    't' => value.push('\t'),
                    '\n' => {}
                    other => value.push(other),
                }
            }
            i += 2;
            continue;
        }
        if c == quote {
            if !triple {
                return (value, i + 1);
            }
            if chars.get(i + 1) == Some(&quote) && chars.get(i + 2) == Some(&quote) {
                return (value, i + 3);
            }
        }
        if c == '\n' && !triple {
            return (value, i);
        }
        value.push(c);
        i += 1;
    }
    (value, i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokenizer_handles_prefixes_triple_quotes_and_comments() {
        let tokens = tokenize("x = r'a\\b' + \"\"\"c\"d\"\"\" # 'no'\ny = f\"{v}\"");
        assert_eq!(
            tokens,
            [
                Token::Name("x".into()),
                Token::Punct('='),
                Token::Str("a\\b".into()),
                Token::Punct('+'),
                Token::Str("c\"d".into()),
                Token::Name("y".into()),
                Token::Punct('='),
                Token::Dynamic,
            ]
        );
    }

    #[test]
    fn lists_dicts_and_bindings() {
        let tokens = tokenize(
            "REQS = ['a>=1', 'b' '[x]']\nsetup(name='p', install_requires=REQS, extras_require={'dev': ('c',), 'doc': 'd'})",
        );
        let at = keyword_value(&tokens, "install_requires").unwrap();
        assert_eq!(string_list(&tokens, at).unwrap(), ["a>=1", "b[x]"]);
        let at = keyword_value(&tokens, "extras_require").unwrap();
        assert_eq!(
            string_dict(&tokens, at).unwrap(),
            [
                ("dev".to_string(), vec!["c".to_string()]),
                ("doc".to_string(), vec!["d".to_string()])
            ]
        );
    }

    #[test]
    fn dynamic_values_give_nothing() {
        for source in [
            "setup(install_requires=open('r.txt').read().splitlines())",
            "setup(install_requires=[f'pkg>={V}'])",
            "setup(install_requires=['a'] + EXTRA)",
            "setup(install_requires=[x for x in y])",
            "setup(install_requires=[",
        ] {
            let tokens = tokenize(source);
            let list =
                keyword_value(&tokens, "install_requires").and_then(|i| string_list(&tokens, i));
            assert_eq!(list, None, "{source}");
        }
    }
}
