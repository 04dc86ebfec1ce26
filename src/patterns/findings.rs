//! The collector every extractor writes into: [`Findings`] takes one record at a time
//! (dependencies, tools, configs, scripts, actions, hooks, errors) and becomes the
//! [`RepoPatterns`] of one repository.
//!
//! Invariant: [`Findings::finish`] is the only way out, and it sorts and deduplicates every
//! list, so the result does not depend on the order extractors ran in.

use serde_json::Value;

use super::commands;
use super::pep508;
use super::rules::Rule;
use super::types::{
    ActionUse, Dependency, Ecosystem, FileError, Hook, RepoPatterns, Script, Structure, ToolUse,
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
        match pep508::parse_requirement(requirement) {
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

    /// A tool outside [`RULES`](super::rules::RULES) (an unknown `[tool.X]` table or build
    /// backend).
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

    /// The dependencies recorded so far, in the order they were found.
    pub fn dependencies(&self) -> &[Dependency] {
        &self.patterns.dependencies
    }

    /// Everything found, with the repository's layout facts.
    pub fn finish(mut self, structure: Structure) -> RepoPatterns {
        let p = &mut self.patterns;
        p.structure = structure;
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
