//! One repository's extraction: dispatch each file to its extractor by [`paths::kind_of`]
//! (or its requirements role), then add tools implied by present files and declared
//! dependencies, and the layout facts.
//!
//! The only module that imports every extractor; the extractors import the collector
//! ([`Findings`]) and never this file.

use serde_json::Value;

use super::findings::{Findings, version_from_specifier};
use super::javascript::{eslint, package_json, tsconfig};
use super::paths::{self, Format, Kind};
use super::types::{Ecosystem, RepoInput, RepoPatterns};
use super::{
    formats, markdown, pyproject, python_ini, requirements, rules, setup_py, structure, workflows,
};

/// [`crate::patterns::extract()`]: every file through its extractor, then the implied tools.
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
            Kind::PackageJson => package_json(text, path, f),
            Kind::Tsconfig => tsconfig(text, path, f),
            Kind::Eslint(format) => eslint(text, path, format, f),
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
        .dependencies()
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
    findings.finish(structure::structure(input, license_from_file))
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
