//! One repository's extraction: dispatch each file to its extractor, collect what they
//! find, then add tools implied by declared dependencies and present files.
//!
//! Invariant: [`Findings::finish`] is the only way out, and it sorts and deduplicates every
//! list, so the result does not depend on the order extractors ran in.

use serde_json::Value;

use super::paths::{self, Format, Kind};
use super::rules::{self, Rule};
use super::{
    ActionUse, Dependency, Ecosystem, FileError, Hook, RepoInput, RepoPatterns, Script, ToolUse,
    commands, formats, javascript, markdown, pyproject, python_ini, requirements, setup_py,
    structure, workflows,
};

/// What the extractors found so far.
#[derive(Default)]
pub(crate) struct Findings {
    patterns: RepoPatterns,
}

impl Findings {
    pub fn dependency(
        &mut self,
        ecosystem: Ecosystem,
        name: &str,
        specifier: Option<String>,
        group: &str,
        source: &str,
    ) {
        self.patterns.dependencies.push(Dependency {
            ecosystem,
            name: name.to_string(),
            specifier,
            group: group.to_string(),
            source: source.to_string(),
        });
    }

    /// A PEP 508 requirement string; a malformed one is recorded as an error of `source`.
    pub fn python_requirement(&mut self, requirement: &str, group: &str, source: &str) {
        match requirements::parse_requirement(requirement) {
            Ok((name, specifier)) => {
                self.dependency(Ecosystem::Python, &name, specifier, group, source)
            }
            Err(e) => self.error(source, e),
        }
    }

    pub fn tool(&mut self, rule: &Rule, version: Option<String>, detected_from: impl Into<String>) {
        self.patterns.tools.push(ToolUse {
            name: rule.tool.to_string(),
            category: rule.category,
            ecosystem: rule.ecosystem,
            version,
            detected_from: detected_from.into(),
        });
    }

    /// A tool outside [`rules::RULES`] (an unknown `[tool.X]` table or build backend).
    pub fn unlisted_tool(&mut self, tool: ToolUse) {
        self.patterns.tools.push(tool);
    }

    /// The tool's settings; when several files configure one tool, keys seen first win.
    pub fn config(&mut self, tool: &str, value: Value) {
        match self.patterns.configs.get_mut(tool) {
            None => {
                self.patterns.configs.insert(tool.to_string(), value);
            }
            Some(Value::Object(existing)) => {
                if let Value::Object(new) = value {
                    for (k, v) in new {
                        existing.entry(k).or_insert(v);
                    }
                }
            }
            Some(_) => {}
        }
    }

    /// A named command, and the tools its program words name.
    pub fn script(&mut self, source: &str, name: &str, command: &str, detected_from: &str) {
        self.patterns.scripts.push(Script {
            source: source.to_string(),
            name: name.to_string(),
            command: command.trim().to_string(),
        });
        self.commands(command, detected_from);
    }

    /// Tools named by command lines; `detected_from` gets ": <word>" appended when it ends
    /// with ':' ("workflow run:" -> "workflow run: pytest").
    pub fn commands(&mut self, text: &str, detected_from: &str) {
        for (rule, word) in commands::tools_in(text) {
            let from = match detected_from.strip_suffix(':') {
                Some(prefix) => format!("{prefix}: {word}"),
                None => detected_from.to_string(),
            };
            self.tool(rule, None, from);
        }
    }

    pub fn action(&mut self, name: &str, version: Option<String>) {
        self.patterns.actions.push(ActionUse {
            name: name.to_string(),
            version,
        });
    }

    pub fn hook(&mut self, repo: &str, rev: Option<String>, id: &str) {
        self.patterns.precommit_hooks.push(Hook {
            repo: repo.to_string(),
            rev,
            id: id.to_string(),
        });
    }

    pub fn error(&mut self, path: &str, message: impl Into<String>) {
        self.patterns.errors.push(FileError {
            path: path.to_string(),
            message: message.into(),
        });
    }

    fn finish(mut self) -> RepoPatterns {
        let p = &mut self.patterns;
        p.dependencies.sort();
        p.dependencies.dedup();
        p.tools.sort();
        p.tools.dedup();
        p.scripts.sort();
        p.scripts.dedup();
        p.actions.sort();
        p.actions.dedup();
        p.precommit_hooks.sort();
        p.precommit_hooks.dedup();
        p.errors.sort();
        p.errors.dedup();
        self.patterns
    }
}

/// A tool version from a dependency specifier: the version of an exact pin (`==0.4.1`),
/// else the specifier as written.
pub(crate) fn version_from_specifier(specifier: &str) -> String {
    match specifier.strip_prefix("==") {
        Some(v) if !v.contains([',', '*', ' ']) => v.to_string(),
        _ => specifier.to_string(),
    }
}

pub(crate) fn extract(input: &RepoInput) -> RepoPatterns {
    let mut findings = Findings::default();
    let requirement_roles = requirements::roles(input);
    let mut license_from_file = None;
    for (path, bytes) in input.files {
        let role = requirement_roles.get(path.as_str()).copied();
        let Some(kind) = role
            .map(|_| Kind::Requirements)
            .or_else(|| paths::kind_of(path))
        else {
            continue;
        };
        let text = match formats::text(bytes) {
            Ok(text) => text,
            Err(e) => {
                findings.error(path, e);
                continue;
            }
        };
        let f = &mut findings;
        match kind {
            Kind::Pyproject => pyproject::extract(text, path, f),
            Kind::Requirements => requirements::extract(
                text,
                path,
                role.unwrap_or(requirements::Role::Requirements),
                f,
            ),
            Kind::SetupCfg => python_ini::setup_cfg(text, path, f),
            Kind::SetupPy => setup_py::extract(text, path, f),
            Kind::ToxIni => python_ini::tox_ini(text, path, f),
            Kind::PackageJson => javascript::package_json(text, path, f),
            Kind::Tsconfig => javascript::tsconfig(text, path, f),
            Kind::Eslint(format) => javascript::eslint(text, path, format, f),
            Kind::PreCommit => workflows::pre_commit(text, path, f),
            Kind::Workflow => workflows::workflow(text, path, f),
            Kind::Markdown => markdown::extract(text, path, f),
            Kind::License => license_from_file = Some(structure::license_from_text(text)),
            Kind::Config(config) => config_file(&config, text, path, f),
        }
    }
    // Files whose presence alone names a tool; every file signal is at most 2 directories deep.
    for path in input
        .all_paths
        .iter()
        .filter(|p| p.matches('/').count() <= 2)
    {
        for rule in rules::by_file(path) {
            let from = rule
                .files
                .iter()
                .find(|f| f.ends_with('/') && path.starts_with(*f));
            findings.tool(rule, None, from.map_or(path.as_str(), |dir| dir));
        }
    }
    let declared: Vec<(Ecosystem, String, Option<String>)> = findings
        .patterns
        .dependencies
        .iter()
        .map(|d| (d.ecosystem, d.name.clone(), d.specifier.clone()))
        .collect();
    for (ecosystem, name, specifier) in declared {
        if let Some(rule) = rules::by_package(ecosystem, &name) {
            findings.tool(
                rule,
                specifier.as_deref().map(version_from_specifier),
                "dependency",
            );
        }
    }
    findings.patterns.structure = structure::structure(input, license_from_file);
    findings.finish()
}

/// A tool's own config file (ruff.toml, mypy.ini, .prettierrc, ...).
fn config_file(config: &paths::ConfigFile, text: &str, path: &str, f: &mut Findings) {
    let value = match config.format {
        Format::Toml => formats::toml(text).map(|t| formats::table_to_json(&t)),
        Format::Jsonc => formats::jsonc(text),
        Format::Yaml => formats::yaml(text),
        Format::Ini => formats::ini(text).map(|sections| match config.section {
            Some(name) => sections
                .get(name)
                .or_else(|| sections.get(config.tool))
                .map_or(
                    Value::Object(Default::default()),
                    formats::ini_section_to_json,
                ),
            None => Value::Object(
                sections
                    .iter()
                    .filter(|(_, keys)| !keys.is_empty())
                    .map(|(name, keys)| (name.clone(), formats::ini_section_to_json(keys)))
                    .collect(),
            ),
        }),
        Format::Source => return,
    };
    match value {
        Ok(value) => f.config(config.tool, value),
        Err(e) => f.error(path, e),
    }
}
