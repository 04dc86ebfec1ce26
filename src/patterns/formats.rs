//! Parsing untrusted file text into `serde_json::Value` (or INI sections), with limits.
//!
//! Invariants: every function here returns `Err(message)` instead of panicking, and its work
//! is bounded by the input size and the limits below: files over [`MAX_FILE_BYTES`] are
//! refused; YAML is built from parser events with at most [`MAX_YAML_DEPTH`] nesting and
//! [`MAX_YAML_NODES`] nodes counting every alias expansion (so a "billion laughs" document
//! fails fast); JSON nesting is capped by serde_json (128) and jsonc-parser (512); TOML by the
//! `toml` crate's own recursion limit.

use std::collections::{BTreeMap, HashMap};

use serde_json::{Map, Number, Value};
use yaml_rust2::parser::{Event, Parser, Tag};
use yaml_rust2::scanner::TScalarStyle;

/// Files larger than this are skipped with an error: real manifests are a few KiB, and the
/// bound keeps one hostile repository from costing more than a few milliseconds.
pub const MAX_FILE_BYTES: usize = 1 << 20;

/// YAML nesting cap: real workflows nest about 8 deep.
pub const MAX_YAML_DEPTH: usize = 64;

/// YAML node cap, alias expansions included: a large workflow has a few thousand nodes.
pub const MAX_YAML_NODES: usize = 100_000;

/// The file's text: refuses files over [`MAX_FILE_BYTES`] and invalid UTF-8; drops a BOM.
pub fn text(bytes: &[u8]) -> Result<&str, String> {
    if bytes.len() > MAX_FILE_BYTES {
        return Err(format!(
            "file is {} bytes, over the {MAX_FILE_BYTES}-byte limit",
            bytes.len()
        ));
    }
    let text = std::str::from_utf8(bytes).map_err(|e| format!("not UTF-8: {e}"))?;
    Ok(text.strip_prefix('\u{feff}').unwrap_or(text))
}

/// Strict JSON (package.json).
pub fn json(text: &str) -> Result<Value, String> {
    serde_json::from_str(text).map_err(|e| format!("invalid JSON: {e}"))
}

/// JSON with comments and trailing commas (tsconfig.json, .eslintrc.json).
pub fn jsonc(text: &str) -> Result<Value, String> {
    jsonc_parser::parse_to_serde_value::<Value>(text, &Default::default())
        .map_err(|e| format!("invalid JSONC: {e}"))
}

/// TOML as a table.
pub fn toml(text: &str) -> Result<toml::Table, String> {
    text.parse::<toml::Table>()
        .map_err(|e| format!("invalid TOML: {}", e.to_string().trim_end()))
}

/// A TOML value as JSON; datetimes become their RFC 3339 text, NaN/inf become null.
pub fn toml_to_json(value: &toml::Value) -> Value {
    match value {
        toml::Value::String(s) => Value::String(s.clone()),
        toml::Value::Integer(i) => Value::from(*i),
        toml::Value::Float(f) => Number::from_f64(*f).map_or(Value::Null, Value::Number),
        toml::Value::Boolean(b) => Value::Bool(*b),
        toml::Value::Datetime(d) => Value::String(d.to_string()),
        toml::Value::Array(items) => Value::Array(items.iter().map(toml_to_json).collect()),
        toml::Value::Table(table) => table_to_json(table),
    }
}

pub fn table_to_json(table: &toml::Table) -> Value {
    Value::Object(
        table
            .iter()
            .map(|(k, v)| (k.clone(), toml_to_json(v)))
            .collect(),
    )
}

/// INI sections (Python configparser rules: `=` or `:`, indented continuation lines, `#`/`;`
/// full-line comments, no inline comments). A key without a value maps to "".
pub type IniSections = BTreeMap<String, BTreeMap<String, String>>;

pub fn ini(text: &str) -> Result<IniSections, String> {
    let mut defaults = configparser::ini::IniDefault::default();
    defaults.case_sensitive = true;
    defaults.multiline = true;
    defaults.enable_inline_comments = false;
    let mut parser = configparser::ini::Ini::new_from_defaults(defaults);
    let map = parser
        .read(text.to_string())
        .map_err(|e| format!("invalid INI: {e}"))?;
    Ok(map
        .into_iter()
        .map(|(section, keys)| {
            let keys = keys
                .into_iter()
                .map(|(k, v)| (k, v.unwrap_or_default()))
                .collect();
            (section, keys)
        })
        .collect())
}

/// Non-empty trimmed lines of a multi-line INI value.
pub fn ini_lines(value: &str) -> impl Iterator<Item = &str> {
    value.lines().map(str::trim).filter(|l| !l.is_empty())
}

/// An INI value as JSON: several lines -> array, true/false -> bool, integers -> number.
pub fn ini_value_to_json(value: &str) -> Value {
    let lines: Vec<&str> = ini_lines(value).collect();
    match lines.as_slice() {
        [] => Value::String(String::new()),
        [one] => ini_scalar(one),
        many => Value::Array(many.iter().map(|l| ini_scalar(l)).collect()),
    }
}

fn ini_scalar(text: &str) -> Value {
    match text.to_ascii_lowercase().as_str() {
        "true" => return Value::Bool(true),
        "false" => return Value::Bool(false),
        _ => {}
    }
    text.parse::<i64>()
        .map_or_else(|_| Value::String(text.to_string()), Value::from)
}

/// One INI section as a JSON object.
pub fn ini_section_to_json(section: &BTreeMap<String, String>) -> Value {
    Value::Object(
        section
            .iter()
            .map(|(k, v)| (k.clone(), ini_value_to_json(v)))
            .collect(),
    )
}

/// The first YAML document as JSON (YAML 1.2 core schema for plain scalars; `<<` merge keys
/// honoured; non-string keys become their text). An empty document is `null`.
pub fn yaml(text: &str) -> Result<Value, String> {
    let mut parser = Parser::new_from_str(text);
    let mut builder = YamlBuilder::default();
    loop {
        let (event, mark) = parser
            .next_token()
            .map_err(|e| format!("invalid YAML: {e}"))?;
        let at = |message: &str| {
            format!(
                "YAML rejected at line {} column {}: {message}",
                mark.line(),
                mark.col() + 1
            )
        };
        match event {
            Event::Nothing | Event::StreamStart | Event::DocumentStart => {}
            Event::DocumentEnd | Event::StreamEnd => break,
            Event::Alias(id) => {
                let size = builder
                    .anchors
                    .get(&id)
                    .ok_or_else(|| at("unknown alias"))?
                    .1;
                builder.count(size).map_err(|e| at(&e))?;
                if let Some((value, _)) = builder.anchors.get(&id) {
                    let value = value.clone();
                    builder.push(value);
                }
            }
            Event::Scalar(text, style, anchor, tag) => {
                builder.count(1).map_err(|e| at(&e))?;
                let value = scalar(text, style, tag.as_ref());
                if anchor > 0 {
                    builder.anchors.insert(anchor, (value.clone(), 1));
                }
                builder.push(value);
            }
            Event::SequenceStart(anchor, _) => {
                builder
                    .open(Container::Sequence(Vec::new()), anchor)
                    .map_err(|e| at(&e))?;
            }
            Event::MappingStart(anchor, _) => {
                builder
                    .open(Container::Mapping(Map::new(), None), anchor)
                    .map_err(|e| at(&e))?;
            }
            Event::SequenceEnd | Event::MappingEnd => builder.close(),
        }
    }
    Ok(builder.root.unwrap_or(Value::Null))
}

enum Container {
    Sequence(Vec<Value>),
    /// The map so far and the key waiting for its value.
    Mapping(Map<String, Value>, Option<String>),
}

struct Open {
    container: Container,
    anchor: usize,
    /// Node count when this container opened, to size it for alias expansion.
    nodes_before: usize,
}

#[derive(Default)]
struct YamlBuilder {
    stack: Vec<Open>,
    /// anchor id -> (value, node count of its expansion).
    anchors: HashMap<usize, (Value, usize)>,
    nodes: usize,
    root: Option<Value>,
}

impl YamlBuilder {
    fn count(&mut self, nodes: usize) -> Result<(), String> {
        self.nodes = self.nodes.saturating_add(nodes);
        if self.nodes > MAX_YAML_NODES {
            return Err(format!(
                "more than {MAX_YAML_NODES} nodes (alias expansion included)"
            ));
        }
        Ok(())
    }

    fn open(&mut self, container: Container, anchor: usize) -> Result<(), String> {
        if self.stack.len() >= MAX_YAML_DEPTH {
            return Err(format!("nested deeper than {MAX_YAML_DEPTH}"));
        }
        self.count(1)?;
        self.stack.push(Open {
            container,
            anchor,
            nodes_before: self.nodes - 1,
        });
        Ok(())
    }

    fn close(&mut self) {
        let Some(open) = self.stack.pop() else { return };
        let value = match open.container {
            Container::Sequence(items) => Value::Array(items),
            Container::Mapping(map, _) => Value::Object(map),
        };
        if open.anchor > 0 {
            self.anchors
                .insert(open.anchor, (value.clone(), self.nodes - open.nodes_before));
        }
        self.push(value);
    }

    fn push(&mut self, value: Value) {
        let Some(top) = self.stack.last_mut() else {
            self.root.get_or_insert(value);
            return;
        };
        match &mut top.container {
            Container::Sequence(items) => items.push(value),
            Container::Mapping(map, key) => match key.take() {
                None => *key = Some(key_text(value)),
                Some(k) if k == "<<" => merge(map, value),
                Some(k) => {
                    map.insert(k, value);
                }
            },
        }
    }
}

/// `<<: *base` or `<<: [*a, *b]`: keys already present win.
fn merge(map: &mut Map<String, Value>, value: Value) {
    let sources = match value {
        Value::Array(items) => items,
        other => vec![other],
    };
    for source in sources {
        if let Value::Object(entries) = source {
            for (k, v) in entries {
                map.entry(k).or_insert(v);
            }
        }
    }
}

fn key_text(value: Value) -> String {
    match value {
        Value::String(s) => s,
        Value::Null => "null".to_string(),
        other => other.to_string(),
    }
}

fn scalar(text: String, style: TScalarStyle, tag: Option<&Tag>) -> Value {
    let is_str_tag = tag.is_some_and(|t| t.suffix == "str" || t.suffix.ends_with(":str"));
    if style != TScalarStyle::Plain || is_str_tag {
        return Value::String(text);
    }
    match text.as_str() {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        _ => {}
    }
    let digits = text.strip_prefix(['-', '+']).unwrap_or(&text);
    if !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && let Ok(i) = text.parse::<i64>()
    {
        return Value::from(i);
    }
    let looks_float = !digits.is_empty()
        && digits
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'-' | b'+'))
        && digits
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_digit() || b == b'.')
        && digits.bytes().any(|b| b.is_ascii_digit());
    if looks_float && let Some(n) = text.parse::<f64>().ok().and_then(Number::from_f64) {
        return Value::Number(n);
    }
    Value::String(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn yaml_scalars_follow_the_core_schema() {
        let value =
            yaml("a: 1\nb: 3.10\nc: 'x'\nd: ~\ne: true\nf: v4\non: push\ng: \"2\"\n").unwrap();
        assert_eq!(
            value,
            json!({"a": 1, "b": 3.1, "c": "x", "d": null, "e": true, "f": "v4", "on": "push", "g": "2"})
        );
    }

    #[test]
    fn yaml_anchors_aliases_and_merge_keys() {
        let value = yaml("base: &b {x: 1, y: 2}\nuse: *b\nmerged:\n  <<: *b\n  y: 3\n").unwrap();
        assert_eq!(
            value,
            json!({"base": {"x": 1, "y": 2}, "use": {"x": 1, "y": 2}, "merged": {"y": 3, "x": 1}})
        );
    }

    #[test]
    fn yaml_alias_bomb_is_rejected_quickly() {
        let mut bomb = String::from("a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
        for i in 1..10 {
            let refs = vec![format!("*a{}", i - 1); 9].join(", ");
            bomb.push_str(&format!("a{i}: &a{i} [{refs}]\n"));
        }
        let start = std::time::Instant::now();
        let err = yaml(&bomb).unwrap_err();
        assert!(err.contains("nodes"), "{err}");
        assert!(start.elapsed() < std::time::Duration::from_secs(2));
    }

    #[test]
    fn yaml_deep_nesting_is_rejected() {
        let deep = format!("{}1{}", "[".repeat(10_000), "]".repeat(10_000));
        // yaml-rust2's scanner refuses deep flow collections itself...
        assert!(yaml(&deep).is_err());
        // ... and block nesting stops at our cap.
        let block: String = (0..200)
            .map(|depth| format!("{}k:\n", "  ".repeat(depth)))
            .collect();
        let err = yaml(&block).unwrap_err();
        assert!(err.contains("nested deeper"), "{err}");
        let ok = format!(
            "{}1{}",
            "[".repeat(MAX_YAML_DEPTH),
            "]".repeat(MAX_YAML_DEPTH)
        );
        assert!(yaml(&ok).is_ok());
    }

    #[test]
    fn yaml_malformed_and_multi_document() {
        assert!(yaml("a: [1, 2\nb: :").is_err());
        assert!(yaml("key: \"unterminated").is_err());
        assert_eq!(yaml("a: 1\n---\nb: 2\n").unwrap(), json!({"a": 1}));
        assert_eq!(yaml("").unwrap(), Value::Null);
    }

    #[test]
    fn deeply_nested_json_is_an_error_not_a_stack_overflow() {
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert!(json(&deep).unwrap_err().contains("recursion limit"));
        assert!(jsonc(&deep).unwrap_err().contains("nesting depth"));
    }

    #[test]
    fn jsonc_accepts_comments_and_trailing_commas() {
        let value = jsonc("{\n // c\n \"a\": [1, 2,], /* b */ \"b\": true,\n}").unwrap();
        assert_eq!(value, json!({"a": [1, 2], "b": true}));
    }

    #[test]
    fn text_refuses_large_and_non_utf8_files() {
        assert!(
            text(&vec![b' '; MAX_FILE_BYTES + 1])
                .unwrap_err()
                .contains("limit")
        );
        assert!(text(&[0xff, 0xfe, 0x00]).unwrap_err().contains("UTF-8"));
        assert_eq!(text("\u{feff}x".as_bytes()).unwrap(), "x");
    }

    #[test]
    fn ini_keeps_markers_and_continuations() {
        let sections = ini("[testenv]\ndeps =\n    pytest>=7\n    importlib-metadata; python_version<\"3.8\"\n# c\ncommands = pytest {posargs}\n").unwrap();
        let env = &sections["testenv"];
        assert_eq!(
            ini_lines(&env["deps"]).collect::<Vec<_>>(),
            ["pytest>=7", "importlib-metadata; python_version<\"3.8\""]
        );
        assert_eq!(env["commands"], "pytest {posargs}");
        assert!(ini("[unclosed\nx=1").is_err());
    }

    #[test]
    fn toml_datetimes_become_text() {
        let table = toml("a = 1979-05-27T07:32:00Z\nb = [1, 'x']").unwrap();
        assert_eq!(
            table_to_json(&table),
            json!({"a": "1979-05-27T07:32:00Z", "b": [1, "x"]})
        );
        assert!(toml("a = ").is_err());
    }
}
