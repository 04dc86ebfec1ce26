//! pyproject.toml: PEP 621 dependencies, PEP 735 dependency groups, PEP 518 build system,
//! Poetry, PDM, Hatch and uv dependency tables, and `[tool.X]` tables as tools and configs.
//!
//! Invariants: a table of the wrong type is ignored, never an error (only invalid TOML is);
//! PEP 735 `{include-group = ...}` is expanded with a cycle guard, so a group lists the
//! requirements it includes; Poetry's `python` entry is not a dependency.

use std::collections::BTreeSet;

use toml::Table;

use super::findings::Findings;
use super::pep508::normalize_name;
use super::rules::{self, RULES};
use super::types::{Category, Ecosystem, ToolUse};
use super::{formats, python_ini};

/// `[tool.X]` tables that are neither tools nor settings.
const NOT_TOOLS: &[&str] = &["setuptools_scm", "setuptools-scm"];

pub(crate) fn extract(text: &str, path: &str, f: &mut Findings) {
    let document = match formats::toml(text) {
        Ok(document) => document,
        Err(e) => return f.error(path, e),
    };
    if let Some(project) = table(&document, "project") {
        requirement_list(project.get("dependencies"), "main", path, f);
        if let Some(extras) = table(project, "optional-dependencies") {
            for (extra, list) in extras {
                requirement_list(Some(list), &format!("optional:{extra}"), path, f);
            }
        }
    }
    if let Some(groups) = table(&document, "dependency-groups") {
        for name in groups.keys() {
            let mut seen = BTreeSet::new();
            for requirement in group_requirements(groups, name, &mut seen) {
                f.python_requirement(requirement, &format!("group:{name}"), path);
            }
        }
    }
    if let Some(build) = table(&document, "build-system") {
        requirement_list(build.get("requires"), "build", path, f);
        if let Some(backend) = build.get("build-backend").and_then(toml::Value::as_str) {
            build_backend(backend, path, f);
        }
    }
    if let Some(tool) = table(&document, "tool") {
        poetry(tool, path, f);
        if let Some(groups) = table(tool, "pdm").and_then(|pdm| table(pdm, "dev-dependencies")) {
            for (name, list) in groups {
                requirement_list(Some(list), &format!("group:{name}"), path, f);
            }
        }
        if let Some(envs) = table(tool, "hatch").and_then(|h| table(h, "envs")) {
            for (env, settings) in envs {
                let group = format!("hatch:{env}");
                requirement_list(settings.get("dependencies"), &group, path, f);
                requirement_list(settings.get("extra-dependencies"), &group, path, f);
            }
        }
        if let Some(uv) = table(tool, "uv") {
            requirement_list(uv.get("dev-dependencies"), "dev", path, f);
        }
        tool_tables(tool, path, f);
        tasks(tool, path, f);
        if let Some(ini) = table(tool, "tox").and_then(|t| t.get("legacy_tox_ini")?.as_str()) {
            python_ini::tox_ini(ini, path, f);
        }
    }
}

fn table<'a>(parent: &'a Table, key: &str) -> Option<&'a Table> {
    parent.get(key).and_then(toml::Value::as_table)
}

/// A list of PEP 508 strings; anything else in it is skipped (PDM's `-e` entries included).
fn requirement_list(list: Option<&toml::Value>, group: &str, path: &str, f: &mut Findings) {
    let Some(items) = list.and_then(toml::Value::as_array) else {
        return;
    };
    for item in items.iter().filter_map(toml::Value::as_str) {
        if !item.trim_start().starts_with('-') {
            f.python_requirement(item, group, path);
        }
    }
}

/// A PEP 735 group's requirement strings, `{include-group = "x"}` expanded.
fn group_requirements<'a>(
    groups: &'a Table,
    name: &str,
    seen: &mut BTreeSet<String>,
) -> Vec<&'a str> {
    if !seen.insert(name.to_string()) {
        return Vec::new();
    }
    let Some(items) = groups.get(name).and_then(toml::Value::as_array) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for item in items {
        match item {
            toml::Value::String(requirement) => out.push(requirement.as_str()),
            toml::Value::Table(include) => {
                if let Some(other) = include.get("include-group").and_then(toml::Value::as_str) {
                    out.extend(group_requirements(groups, other, seen));
                }
            }
            _ => {}
        }
    }
    out
}

fn build_backend(backend: &str, path: &str, f: &mut Findings) {
    let from = format!("{path} [build-system]");
    match rules::by_build_backend(backend) {
        Some(rule) => f.tool(rule, None, from),
        None => f.unlisted_tool(ToolUse {
            name: backend
                .split(':')
                .next()
                .unwrap_or(backend)
                .trim()
                .to_string(),
            category: Category::BuildBackend,
            ecosystem: Ecosystem::Python,
            version: None,
            detected_from: from,
        }),
    }
}

/// `[tool.poetry.dependencies]`, `dev-dependencies` and `group.<name>.dependencies`.
fn poetry(tool: &Table, path: &str, f: &mut Findings) {
    let Some(poetry) = table(tool, "poetry") else {
        return;
    };
    let extras: Vec<(&String, Vec<&str>)> = table(poetry, "extras")
        .map(|extras| {
            extras
                .iter()
                .map(|(extra, names)| {
                    let names = names.as_array().map_or(Vec::new(), |a| {
                        a.iter().filter_map(toml::Value::as_str).collect()
                    });
                    (extra, names)
                })
                .collect()
        })
        .unwrap_or_default();
    if let Some(deps) = table(poetry, "dependencies") {
        for (name, spec) in deps {
            let optional = spec.get("optional").and_then(toml::Value::as_bool) == Some(true);
            if !optional {
                poetry_dependency(name, spec, "main", path, f);
                continue;
            }
            let mut grouped = false;
            for (extra, names) in &extras {
                if names
                    .iter()
                    .any(|n| normalize_name(n) == normalize_name(name))
                {
                    poetry_dependency(name, spec, &format!("optional:{extra}"), path, f);
                    grouped = true;
                }
            }
            if !grouped {
                poetry_dependency(name, spec, "optional", path, f);
            }
        }
    }
    if let Some(deps) = table(poetry, "dev-dependencies") {
        for (name, spec) in deps {
            poetry_dependency(name, spec, "dev", path, f);
        }
    }
    if let Some(groups) = table(poetry, "group") {
        for (group, settings) in groups {
            if let Some(deps) = settings.as_table().and_then(|s| table(s, "dependencies")) {
                for (name, spec) in deps {
                    poetry_dependency(name, spec, &format!("group:{group}"), path, f);
                }
            }
        }
    }
}

/// `name = "^1.2"`, `name = {version = "^1.2", extras = [...]}`, or a list of those (multiple
/// constraints); git/path/url sources have no specifier.
fn poetry_dependency(name: &str, spec: &toml::Value, group: &str, path: &str, f: &mut Findings) {
    if name.eq_ignore_ascii_case("python") {
        return;
    }
    let version = |v: &toml::Value| -> Option<String> {
        match v {
            toml::Value::String(s) => Some(s.clone()),
            toml::Value::Table(t) => t
                .get("version")
                .and_then(toml::Value::as_str)
                .map(str::to_string),
            _ => None,
        }
    };
    let specifier = match spec {
        toml::Value::Array(alternatives) => {
            let all: Vec<String> = alternatives.iter().filter_map(version).collect();
            (!all.is_empty()).then(|| all.join(" || "))
        }
        other => version(other),
    };
    let specifier = specifier.filter(|s| !s.trim().is_empty() && s.trim() != "*");
    f.dependency(
        Ecosystem::Python,
        &normalize_name(name),
        specifier,
        group,
        path,
    );
}

/// `[tool.X]` tables: known ones through [`RULES`], others as tools of category "other".
fn tool_tables(tool: &Table, path: &str, f: &mut Findings) {
    let mut known_roots = BTreeSet::new();
    for rule in RULES {
        for table_path in rule.pyproject {
            known_roots.insert(table_path.split('.').next().unwrap_or(table_path));
        }
        let found = rule
            .pyproject
            .iter()
            .find_map(|p| lookup(tool, p).map(|v| (p, v)));
        if let Some((table_path, value)) = found {
            f.tool(rule, None, format!("{path} [tool.{table_path}]"));
            if rule.pyproject_config {
                f.config(rule.tool, formats::toml_to_json(value));
            }
        }
    }
    for (name, value) in tool {
        if known_roots.contains(name.as_str()) || NOT_TOOLS.contains(&name.as_str()) {
            continue;
        }
        let name = normalize_name(name);
        f.unlisted_tool(ToolUse {
            name: name.clone(),
            category: Category::Other,
            ecosystem: Ecosystem::Python,
            version: None,
            detected_from: format!("{path} [tool.{name}]"),
        });
        if value.is_table() {
            f.config(&name, formats::toml_to_json(value));
        }
    }
}

/// The value at a dotted path under `[tool]`.
fn lookup<'a>(tool: &'a Table, dotted: &str) -> Option<&'a toml::Value> {
    let mut parts = dotted.split('.');
    let mut value = tool.get(parts.next()?)?;
    for part in parts {
        value = value.as_table()?.get(part)?;
    }
    Some(value)
}

/// poe (`[tool.poe.tasks]`) and taskipy (`[tool.taskipy.tasks]`) tasks as scripts.
fn tasks(tool: &Table, path: &str, f: &mut Findings) {
    for runner in ["poe", "taskipy"] {
        let Some(tasks) = table(tool, runner).and_then(|t| table(t, "tasks")) else {
            continue;
        };
        for (name, task) in tasks {
            let command = match task {
                toml::Value::String(command) => Some(command.clone()),
                toml::Value::Table(t) => ["cmd", "shell", "script"]
                    .iter()
                    .find_map(|k| t.get(*k).and_then(toml::Value::as_str))
                    .map(str::to_string),
                toml::Value::Array(steps) => {
                    let steps: Vec<&str> = steps.iter().filter_map(toml::Value::as_str).collect();
                    (!steps.is_empty()).then(|| steps.join(" && "))
                }
                _ => None,
            };
            if let Some(command) = command {
                f.script(path, name, &command, &format!("{path} task {name}"));
            }
        }
    }
}
