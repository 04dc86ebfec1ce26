//! The codex: one organization's patterns, aggregated from per-repository extractions
//! ([`crate::patterns::RepoPatterns`]) into the JSON export described by
//! `schema/codex.schema.json`.
//!
//! Invariants:
//! - Every `frequency` counts repositories, never occurrences: a repository counts once per
//!   item however often the item appears in it (and a repository name given twice counts once).
//! - Deterministic: maps are `BTreeMap`s (sorted keys) and `versions`, `configs`,
//!   `commands` and `repositories` are deduplicated, sorted lists (configs by their compact
//!   JSON text), so the same input gives byte-identical JSON whatever the repository order.
//! - Every tool lands in the `tools` of its ecosystem: `python`, `javascript` or `general`.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::patterns::{Category, Ecosystem, RepoPatterns};

/// One organization's aggregated patterns.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Codex {
    pub organization: String,
    /// YYYY-MM-DD.
    pub scan_date: String,
    /// Distinct repositories aggregated.
    pub repositories_scanned: usize,
    pub patterns: Patterns,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct Patterns {
    pub python: EcosystemPatterns,
    pub javascript: EcosystemPatterns,
    pub general: General,
}

/// Tools, dependencies and named scripts of one ecosystem.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct EcosystemPatterns {
    pub tools: BTreeMap<String, ToolSummary>,
    pub dependencies: BTreeMap<String, DependencySummary>,
    /// package.json scripts (javascript); tox envs and poe/taskipy tasks (python).
    pub scripts: BTreeMap<String, ScriptSummary>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct ToolSummary {
    pub frequency: usize,
    pub category: Category,
    pub versions: Vec<String>,
    /// Distinct settings seen (`RepoPatterns::configs` of this tool).
    pub configs: Vec<Value>,
    pub repositories: Vec<String>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct DependencySummary {
    pub frequency: usize,
    /// Distinct specifiers as written.
    pub versions: Vec<String>,
    /// Group -> repositories declaring the dependency in that group.
    pub groups: BTreeMap<String, usize>,
    pub repositories: Vec<String>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct ScriptSummary {
    pub frequency: usize,
    pub commands: Vec<String>,
}

/// Everything not tied to one language ecosystem.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct General {
    /// Tools of the general ecosystem (pre-commit, CI services, make, docker, ...).
    pub tools: BTreeMap<String, ToolSummary>,
    #[serde(rename = "pre-commit")]
    pub pre_commit: PreCommitSummary,
    #[serde(rename = "github-actions")]
    pub github_actions: ActionsSummary,
    pub structure: StructureSummary,
    pub parse_errors: ParseErrorSummary,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct PreCommitSummary {
    /// Repositories using pre-commit (a config, a hook, or a declared dependency).
    pub frequency: usize,
    /// Hook id -> repositories using it.
    pub hooks: BTreeMap<String, usize>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct ActionsSummary {
    /// Repositories with at least one workflow.
    pub frequency: usize,
    pub actions: BTreeMap<String, ActionSummary>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct ActionSummary {
    pub frequency: usize,
    pub versions: Vec<String>,
}

/// Each number counts repositories.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct StructureSummary {
    pub src_layout: usize,
    pub tests_dir: usize,
    pub docs_dir: usize,
    pub readme: usize,
    pub contributing: usize,
    pub languages: BTreeMap<String, usize>,
    pub licenses: BTreeMap<String, usize>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct ParseErrorSummary {
    /// Repositories with at least one file error.
    pub frequency: usize,
    /// File path -> repositories where it failed.
    pub files: BTreeMap<String, usize>,
}

#[derive(Default)]
struct ToolAcc {
    repositories: BTreeSet<String>,
    category: Option<Category>,
    versions: BTreeSet<String>,
    /// Compact JSON text -> value: distinct, in a stable order.
    configs: BTreeMap<String, Value>,
}

#[derive(Default)]
struct DependencyAcc {
    repositories: BTreeSet<String>,
    versions: BTreeSet<String>,
    groups: BTreeMap<String, BTreeSet<String>>,
}

#[derive(Default)]
struct EcosystemAcc {
    tools: BTreeMap<String, ToolAcc>,
    dependencies: BTreeMap<String, DependencyAcc>,
    scripts: BTreeMap<String, (BTreeSet<String>, BTreeSet<String>)>,
}

/// Aggregate per-repository patterns into the codex (see the module invariants).
pub fn aggregate(organization: &str, scan_date: &str, repos: &[(String, RepoPatterns)]) -> Codex {
    let mut python = EcosystemAcc::default();
    let mut javascript = EcosystemAcc::default();
    let mut general_tools = EcosystemAcc::default();
    let mut pre_commit = (BTreeSet::new(), BTreeMap::<String, BTreeSet<String>>::new());
    let mut actions_repos = BTreeSet::new();
    let mut actions = BTreeMap::<String, (BTreeSet<String>, BTreeSet<String>)>::new();
    let mut structure = BTreeMap::<&str, BTreeSet<String>>::new();
    let mut languages = BTreeMap::<String, BTreeSet<String>>::new();
    let mut licenses = BTreeMap::<String, BTreeSet<String>>::new();
    let mut error_repos = BTreeSet::new();
    let mut error_files = BTreeMap::<String, BTreeSet<String>>::new();
    let mut names = BTreeSet::new();

    for (repo, patterns) in repos {
        names.insert(repo.clone());
        let mut tool_ecosystems = BTreeMap::new();
        for tool in &patterns.tools {
            tool_ecosystems.insert(tool.name.as_str(), tool.ecosystem);
            let acc = match tool.ecosystem {
                Ecosystem::Python => &mut python,
                Ecosystem::Javascript => &mut javascript,
                Ecosystem::General => &mut general_tools,
            };
            let entry = acc.tools.entry(tool.name.clone()).or_default();
            entry.repositories.insert(repo.clone());
            entry.category = Some(
                entry
                    .category
                    .map_or(tool.category, |c| c.min(tool.category)),
            );
            entry.versions.extend(tool.version.clone());
            if tool.name == "pre-commit" {
                pre_commit.0.insert(repo.clone());
            }
            if tool.name == "github-actions" {
                actions_repos.insert(repo.clone());
            }
        }
        for (tool, config) in &patterns.configs {
            let acc = match tool_ecosystems.get(tool.as_str()) {
                Some(Ecosystem::Python) => &mut python,
                Some(Ecosystem::Javascript) => &mut javascript,
                Some(Ecosystem::General) => &mut general_tools,
                None => continue,
            };
            if let Some(entry) = acc.tools.get_mut(tool) {
                entry.configs.insert(config.to_string(), config.clone());
            }
        }
        for dependency in &patterns.dependencies {
            let acc = match dependency.ecosystem {
                Ecosystem::Python => &mut python,
                Ecosystem::Javascript => &mut javascript,
                Ecosystem::General => continue,
            };
            let entry = acc.dependencies.entry(dependency.name.clone()).or_default();
            entry.repositories.insert(repo.clone());
            entry.versions.extend(dependency.specifier.clone());
            entry
                .groups
                .entry(dependency.group.clone())
                .or_default()
                .insert(repo.clone());
        }
        for script in &patterns.scripts {
            let acc = match crate::patterns::script_ecosystem(&script.source) {
                Some(Ecosystem::Python) => &mut python,
                Some(Ecosystem::Javascript) => &mut javascript,
                _ => continue,
            };
            let entry = acc.scripts.entry(script.name.clone()).or_default();
            entry.0.insert(repo.clone());
            entry.1.insert(script.command.clone());
        }
        for hook in &patterns.precommit_hooks {
            pre_commit.0.insert(repo.clone());
            pre_commit
                .1
                .entry(hook.id.clone())
                .or_default()
                .insert(repo.clone());
        }
        for action in &patterns.actions {
            actions_repos.insert(repo.clone());
            let entry = actions.entry(action.name.clone()).or_default();
            entry.0.insert(repo.clone());
            entry.1.extend(action.version.clone());
        }
        let s = &patterns.structure;
        for (key, present) in [
            ("src_layout", s.src_layout),
            ("tests_dir", s.tests_dir),
            ("docs_dir", s.docs_dir),
            ("readme", s.has_readme),
            ("contributing", s.has_contributing),
        ] {
            if present {
                structure.entry(key).or_default().insert(repo.clone());
            }
        }
        for language in &s.languages {
            languages
                .entry(language.clone())
                .or_default()
                .insert(repo.clone());
        }
        if let Some(license) = &s.license {
            licenses
                .entry(license.clone())
                .or_default()
                .insert(repo.clone());
        }
        for error in &patterns.errors {
            error_repos.insert(repo.clone());
            error_files
                .entry(error.path.clone())
                .or_default()
                .insert(repo.clone());
        }
    }

    let count = |key: &str| structure.get(key).map_or(0, BTreeSet::len);
    let counts = |map: BTreeMap<String, BTreeSet<String>>| -> BTreeMap<String, usize> {
        map.into_iter().map(|(k, repos)| (k, repos.len())).collect()
    };
    let general = General {
        tools: finish(general_tools).tools,
        pre_commit: PreCommitSummary {
            frequency: pre_commit.0.len(),
            hooks: counts(pre_commit.1),
        },
        github_actions: ActionsSummary {
            frequency: actions_repos.len(),
            actions: actions
                .into_iter()
                .map(|(name, (repos, versions))| {
                    let summary = ActionSummary {
                        frequency: repos.len(),
                        versions: versions.into_iter().collect(),
                    };
                    (name, summary)
                })
                .collect(),
        },
        structure: StructureSummary {
            src_layout: count("src_layout"),
            tests_dir: count("tests_dir"),
            docs_dir: count("docs_dir"),
            readme: count("readme"),
            contributing: count("contributing"),
            languages: counts(languages),
            licenses: counts(licenses),
        },
        parse_errors: ParseErrorSummary {
            frequency: error_repos.len(),
            files: counts(error_files),
        },
    };
    Codex {
        organization: organization.to_string(),
        scan_date: scan_date.to_string(),
        repositories_scanned: names.len(),
        patterns: Patterns {
            python: finish(python),
            javascript: finish(javascript),
            general,
        },
    }
}

fn finish(acc: EcosystemAcc) -> EcosystemPatterns {
    EcosystemPatterns {
        tools: acc
            .tools
            .into_iter()
            .map(|(name, tool)| {
                let summary = ToolSummary {
                    frequency: tool.repositories.len(),
                    category: tool.category.unwrap_or(Category::Other),
                    versions: tool.versions.into_iter().collect(),
                    configs: tool.configs.into_values().collect(),
                    repositories: tool.repositories.into_iter().collect(),
                };
                (name, summary)
            })
            .collect(),
        dependencies: acc
            .dependencies
            .into_iter()
            .map(|(name, dep)| {
                let summary = DependencySummary {
                    frequency: dep.repositories.len(),
                    versions: dep.versions.into_iter().collect(),
                    groups: dep
                        .groups
                        .into_iter()
                        .map(|(g, repos)| (g, repos.len()))
                        .collect(),
                    repositories: dep.repositories.into_iter().collect(),
                };
                (name, summary)
            })
            .collect(),
        scripts: acc
            .scripts
            .into_iter()
            .map(|(name, (repos, commands))| {
                let summary = ScriptSummary {
                    frequency: repos.len(),
                    commands: commands.into_iter().collect(),
                };
                (name, summary)
            })
            .collect(),
    }
}

/// Every repository's patterns as one JSON array, each with its `repository` name
/// (`export-patterns --format json`).
pub fn export_json(repos: &[(String, RepoPatterns)]) -> serde_json::Value {
    repos
        .iter()
        .map(|(repo, patterns)| {
            let mut value = serde_json::to_value(patterns).expect("patterns serialize");
            value["repository"] = serde_json::Value::String(repo.clone());
            value
        })
        .collect()
}

/// One JSON line per repository: `{"repository": name, ...RepoPatterns}`, in input order,
/// each line ending in `\n`.
pub fn export_jsonl(repos: &[(String, RepoPatterns)]) -> String {
    #[derive(Serialize)]
    struct Line<'a> {
        repository: &'a str,
        #[serde(flatten)]
        patterns: &'a RepoPatterns,
    }
    let mut out = String::new();
    for (repository, patterns) in repos {
        let line = Line {
            repository,
            patterns,
        };
        // Serializing plain structs, string-keyed maps and JSON values cannot fail.
        if let Ok(text) = serde_json::to_string(&line) {
            out.push_str(&text);
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests;
