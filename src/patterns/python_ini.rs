//! setup.cfg and tox.ini (also tox's `legacy_tox_ini` inside pyproject.toml), read with
//! Python configparser rules.
//!
//! Invariants: requirement lists follow setuptools (one per line, or `;`-separated on one
//! line); tox `deps` lines that are options (`-r...`), substitutions (`{[testenv]deps}`) or
//! conditional on factors (`py38: mock`, recorded without the factor) never become names;
//! tox envlists are brace-expanded to at most [`MAX_TOX_ENVS`] envs.

use std::collections::BTreeMap;

use super::findings::Findings;
use super::formats::{self, IniSections};
use super::pep508;
use super::rules;
use super::types::Ecosystem;

/// At most this many tox envs from one envlist (`py{38,39,310}-django{32,42}` is 6; the cap
/// only stops a hostile brace product).
pub const MAX_TOX_ENVS: usize = 256;

/// Tool settings sections in setup.cfg and tox.ini: (section, tool).
const TOOL_SECTIONS: &[(&str, &str)] = &[
    ("flake8", "flake8"),
    ("mypy", "mypy"),
    ("tool:pytest", "pytest"),
    ("pytest", "pytest"),
    ("isort", "isort"),
    ("tool:isort", "isort"),
    ("pydocstyle", "pydocstyle"),
    ("codespell", "codespell"),
    ("yapf", "yapf"),
    ("bandit", "bandit"),
];

pub(crate) fn setup_cfg(text: &str, path: &str, f: &mut Findings) {
    let sections = match formats::ini(text) {
        Ok(sections) => sections,
        Err(e) => return f.error(path, e),
    };
    if let Some(options) = sections.get("options") {
        for (key, group) in [
            ("install_requires", "main"),
            ("setup_requires", "build"),
            ("tests_require", "test"),
        ] {
            if let Some(value) = options.get(key) {
                for requirement in setuptools_list(value) {
                    f.python_requirement(requirement, group, path);
                }
            }
        }
    }
    if let Some(extras) = sections.get("options.extras_require") {
        for (extra, value) in extras {
            for requirement in setuptools_list(value) {
                f.python_requirement(requirement, &format!("optional:{extra}"), path);
            }
        }
    }
    tool_sections(&sections, path, f);
}

/// setuptools' list rule: a multi-line value is one item per line, a one-line value is
/// `;`-separated; `#` comment lines dropped.
fn setuptools_list(value: &str) -> Vec<&str> {
    let items: Vec<&str> = if value.contains('\n') {
        formats::ini_lines(value).collect()
    } else {
        value.split(';').map(str::trim).collect()
    };
    items
        .into_iter()
        .filter(|i| !i.is_empty() && !i.starts_with('#'))
        .collect()
}

/// `[flake8]`, `[mypy]`, `[tool:pytest]`, `[coverage:run]`, ... as tools and configs.
fn tool_sections(sections: &IniSections, path: &str, f: &mut Findings) {
    for (section, tool) in TOOL_SECTIONS {
        if let (Some(keys), Some(rule)) = (sections.get(*section), rules::by_name(tool)) {
            f.tool(rule, None, format!("{path} [{section}]"));
            f.config(tool, formats::ini_section_to_json(keys));
        }
    }
    let coverage: serde_json::Map<String, serde_json::Value> = sections
        .iter()
        .filter_map(|(name, keys)| {
            let part = name.strip_prefix("coverage:")?;
            Some((part.to_string(), formats::ini_section_to_json(keys)))
        })
        .collect();
    if let (false, Some(rule)) = (coverage.is_empty(), rules::by_name("coverage")) {
        f.tool(rule, None, format!("{path} [coverage:*]"));
        f.config("coverage", serde_json::Value::Object(coverage));
    }
}

pub(crate) fn tox_ini(text: &str, path: &str, f: &mut Findings) {
    let sections = match formats::ini(text) {
        Ok(sections) => sections,
        Err(e) => return f.error(path, e),
    };
    if let Some(rule) = rules::by_name("tox") {
        f.tool(rule, None, path);
    }
    let base = sections.get("testenv");
    let mut envs: BTreeMap<String, Option<&BTreeMap<String, String>>> = BTreeMap::new();
    // `envlist` (tox 3) and `env_list` (tox 4).
    for key in ["envlist", "env_list"] {
        if let Some(envlist) = sections.get("tox").and_then(|t| t.get(key)) {
            for env in envlist_names(envlist) {
                envs.insert(env, None);
            }
        }
    }
    for (section, keys) in &sections {
        if let Some(env) = section.strip_prefix("testenv:") {
            envs.insert(env.trim().to_string(), Some(keys));
        }
    }
    if envs.is_empty() && base.is_some() {
        envs.insert("testenv".to_string(), None);
    }
    let setting = |own: Option<&BTreeMap<String, String>>, key: &str| -> Option<String> {
        own.and_then(|k| k.get(key))
            .or_else(|| base.and_then(|b| b.get(key)))
            .cloned()
    };
    for (env, own) in &envs {
        if let Some(commands) = setting(*own, "commands") {
            let lines: Vec<&str> = formats::ini_lines(&commands).map(without_factors).collect();
            let command = lines.join("\n");
            f.script(path, env, &command, &format!("{path} commands"));
        }
    }
    let mut dep_sections: Vec<&BTreeMap<String, String>> = base.into_iter().collect();
    dep_sections.extend(envs.values().flatten());
    for keys in dep_sections {
        let Some(deps) = keys.get("deps") else {
            continue;
        };
        for line in formats::ini_lines(deps).map(without_factors) {
            if line.starts_with('-') || line.contains('{') || line.starts_with('#') {
                continue;
            }
            match pep508::parse_requirement(line) {
                Ok((name, specifier)) => {
                    f.dependency(Ecosystem::Python, &name, specifier, "tox", path)
                }
                Err(e) => f.error(path, e),
            }
        }
    }
    tool_sections(&sections, path, f);
}

/// `py38,py39: mock` -> `mock` (tox factor conditions).
fn without_factors(line: &str) -> &str {
    match line.split_once(": ") {
        Some((factors, rest))
            if !factors.is_empty()
                && factors.chars().all(|c| {
                    c.is_ascii_alphanumeric()
                        || matches!(c, ',' | '-' | '_' | '!' | '.' | '{' | '}')
                }) =>
        {
            rest.trim()
        }
        _ => line,
    }
}

/// `py{38,39}-lint, docs` -> ["py38-lint", "py39-lint", "docs"], at most [`MAX_TOX_ENVS`].
fn envlist_names(envlist: &str) -> Vec<String> {
    let mut names = Vec::new();
    for item in split_top_level(envlist) {
        for name in expand_braces(item.trim()) {
            if names.len() >= MAX_TOX_ENVS {
                return names;
            }
            if !name.is_empty() && !names.contains(&name) {
                names.push(name);
            }
        }
    }
    names
}

/// Split at commas and newlines outside braces.
fn split_top_level(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut depth = 0usize;
    let mut start = 0;
    for (i, c) in text.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth = depth.saturating_sub(1),
            ',' | '\n' if depth == 0 => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

fn expand_braces(item: &str) -> Vec<String> {
    let Some(open) = item.find('{') else {
        return vec![item.to_string()];
    };
    let Some(close) = item[open..].find('}').map(|i| open + i) else {
        return vec![item.to_string()];
    };
    let (head, choices, tail) = (&item[..open], &item[open + 1..close], &item[close + 1..]);
    let tails = expand_braces(tail);
    let mut out = Vec::new();
    for choice in choices.split(',') {
        for t in &tails {
            if out.len() >= MAX_TOX_ENVS {
                return out;
            }
            out.push(format!("{head}{}{t}", choice.trim()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envlists_expand_braces() {
        assert_eq!(
            envlist_names("py{38,39}-django{32,42}, lint\n  docs"),
            [
                "py38-django32",
                "py38-django42",
                "py39-django32",
                "py39-django42",
                "lint",
                "docs"
            ]
        );
        let bomb = "e{1,2,3,4,5,6,7,8}".repeat(10);
        assert_eq!(envlist_names(&bomb).len(), MAX_TOX_ENVS);
    }

    #[test]
    fn factor_conditions_are_stripped() {
        assert_eq!(without_factors("py38,py39: mock>=4"), "mock>=4");
        assert_eq!(without_factors("pytest>=7"), "pytest>=7");
        assert_eq!(
            without_factors("foo @ https://x/y.zip"),
            "foo @ https://x/y.zip"
        );
    }

    #[test]
    fn setuptools_lists() {
        assert_eq!(
            setuptools_list("\nrequests>=2\n# c\nclick"),
            ["requests>=2", "click"]
        );
        assert_eq!(setuptools_list("a; b"), ["a", "b"]);
    }
}
