//! package.json, tsconfig.json and ESLint configs.
//!
//! Invariants: package.json is strict JSON, tsconfig and `.eslintrc.json` are JSONC; a
//! manifest that is not a JSON object is an error. JavaScript configs (`eslint.config.js`,
//! `.eslintrc.cjs`) are never executed: a tokenizer collects the packages they import and
//! the `plugin:`/`eslint:` configs they name.

use serde_json::{Map, Value, json};

use super::findings::Findings;
use super::formats;
use super::paths::Format;
use super::rules;
use super::types::Ecosystem;

/// package.json dependency tables and their groups.
const DEPENDENCY_TABLES: &[(&str, &str)] = &[
    ("dependencies", "main"),
    ("devDependencies", "dev"),
    ("peerDependencies", "peer"),
    ("optionalDependencies", "optional"),
];

fn object(
    text: &str,
    path: &str,
    parse: fn(&str) -> Result<Value, String>,
    f: &mut Findings,
) -> Option<Map<String, Value>> {
    match parse(text) {
        Ok(Value::Object(map)) => Some(map),
        Ok(_) => {
            f.error(path, "not a JSON object");
            None
        }
        Err(e) => {
            f.error(path, e);
            None
        }
    }
}

pub(crate) fn package_json(text: &str, path: &str, f: &mut Findings) {
    let Some(manifest) = object(text, path, formats::json, f) else {
        return;
    };
    for (table, group) in DEPENDENCY_TABLES {
        let Some(Value::Object(deps)) = manifest.get(*table) else {
            continue;
        };
        for (name, spec) in deps {
            let specifier = spec
                .as_str()
                .map(str::trim)
                .filter(|s| !s.is_empty() && *s != "*");
            f.dependency(
                Ecosystem::Javascript,
                name,
                specifier.map(str::to_string),
                group,
                path,
            );
        }
    }
    if let Some(Value::Object(scripts)) = manifest.get("scripts") {
        for (name, command) in scripts {
            if let Some(command) = command.as_str() {
                f.script(path, name, command, &format!("{path} script {name}"));
            }
        }
    }
    // "packageManager": "pnpm@9.1.0+sha512.abc" (Corepack).
    if let Some(manager) = manifest.get("packageManager").and_then(Value::as_str) {
        let (name, version) = manager.split_once('@').unwrap_or((manager, ""));
        let version = version.split('+').next().unwrap_or("").trim();
        if let Some(rule) = rules::by_name(name.trim()) {
            let version = (!version.is_empty()).then(|| version.to_string());
            f.tool(rule, version, format!("{path} packageManager"));
        }
    }
    if let Some(Value::Object(engines)) = manifest.get("engines") {
        for (engine, range) in engines {
            if let Some(rule) = rules::by_name(engine) {
                f.tool(
                    rule,
                    range.as_str().map(str::to_string),
                    format!("{path} engines"),
                );
            }
        }
    }
    for (key, value) in &manifest {
        if let Some(rule) = rules::by_package_json_key(key) {
            f.tool(rule, None, format!("{path} \"{key}\""));
            f.config(rule.tool, value.clone());
        }
    }
}

/// The TypeScript config: `compilerOptions`, plus `extends` when present.
pub(crate) fn tsconfig(text: &str, path: &str, f: &mut Findings) {
    let Some(config) = object(text, path, formats::jsonc, f) else {
        return;
    };
    let mut settings = match config.get("compilerOptions") {
        Some(Value::Object(options)) => options.clone(),
        _ => Map::new(),
    };
    if let Some(extends) = config.get("extends") {
        settings.insert("extends".to_string(), extends.clone());
    }
    if let Some(rule) = rules::by_name("typescript") {
        f.tool(rule, None, path);
    }
    f.config("typescript", Value::Object(settings));
}

pub(crate) fn eslint(text: &str, path: &str, format: Format, f: &mut Findings) {
    if let Some(rule) = rules::by_name("eslint") {
        f.tool(rule, None, path);
    }
    let parsed = match format {
        Format::Yaml => formats::yaml(text),
        Format::Jsonc => formats::jsonc(text),
        Format::Toml | Format::Ini => return,
        Format::Source => Ok(scan_source(text)),
    };
    match parsed {
        Ok(value) => f.config("eslint", value),
        Err(e) => f.error(path, e),
    }
}

/// Packages a JavaScript config imports (`import x from "p"`, `require("p")`,
/// `import("p")`) and shareable configs it names (`"plugin:react/recommended"`).
fn scan_source(text: &str) -> Value {
    let tokens = js_tokens(text);
    let mut imports = Vec::new();
    let mut extends = Vec::new();
    for (i, token) in tokens.iter().enumerate() {
        let JsToken::Str(value) = token else { continue };
        let before = |n: usize| i.checked_sub(n).and_then(|j| tokens.get(j));
        let imported = matches!(before(1), Some(JsToken::Word(w)) if w == "from" || w == "import")
            || (matches!(before(1), Some(JsToken::Punct('(')))
                && matches!(before(2), Some(JsToken::Word(w)) if w == "require" || w == "import"));
        if imported {
            imports.push(value.clone());
        } else if value.starts_with("plugin:") || value.starts_with("eslint:") {
            extends.push(value.clone());
        }
    }
    for list in [&mut imports, &mut extends] {
        list.sort();
        list.dedup();
    }
    json!({"imports": imports, "extends": extends})
}

#[derive(Debug, PartialEq)]
enum JsToken {
    Str(String),
    Word(String),
    Punct(char),
}

/// Strings (quotes and template literals without `${`), words and punctuation; comments
/// skipped. Regex literals are not recognised: a quote inside one may shift the tokens, which
/// only costs a missed name.
fn js_tokens(text: &str) -> Vec<JsToken> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '/' && chars.get(i + 1) == Some(&'/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && chars.get(i + 1) == Some(&'*') {
            i += 2;
            while i < chars.len() && !(chars[i] == '*' && chars.get(i + 1) == Some(&'/')) {
                i += 1;
            }
            i += 2;
        } else if matches!(c, '"' | '\'' | '`') {
            let mut value = String::new();
            let mut plain = true;
            i += 1;
            while i < chars.len() && chars[i] != c {
                if chars[i] == '\\' {
                    i += 1;
                } else if c == '`' && chars[i] == '$' && chars.get(i + 1) == Some(&'{') {
                    plain = false;
                }
                if let Some(&ch) = chars.get(i) {
                    value.push(ch);
                }
                i += 1;
            }
            i += 1;
            if plain {
                tokens.push(JsToken::Str(value));
            }
        } else if c.is_alphanumeric() || c == '_' || c == '$' {
            let start = i;
            while i < chars.len()
                && (chars[i].is_alphanumeric() || chars[i] == '_' || chars[i] == '$')
            {
                i += 1;
            }
            tokens.push(JsToken::Word(chars[start..i].iter().collect()));
        } else {
            if !c.is_whitespace() {
                tokens.push(JsToken::Punct(c));
            }
            i += 1;
        }
    }
    tokens
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flat_config_imports_and_legacy_extends() {
        let source = r#"
            // @ts-check
            import eslint from '@eslint/js';
            import tseslint from "typescript-eslint";
            const react = require("eslint-plugin-react");
            /* "not-a-string-token" */
            export default [{ extends: ["plugin:react/recommended", `eslint:recommended`] }];
            const lazy = await import('eslint-config-prettier');
        "#;
        assert_eq!(
            scan_source(source),
            json!({
                "imports": ["@eslint/js", "eslint-config-prettier", "eslint-plugin-react", "typescript-eslint"],
                "extends": ["eslint:recommended", "plugin:react/recommended"],
            })
        );
    }

    #[test]
    fn unterminated_source_does_not_panic() {
        for source in ["'abc", "/* open", "`${", "import x from \"", "\\"] {
            let _ = scan_source(source);
        }
    }
}
