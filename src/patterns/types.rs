//! The records extraction reads and writes: one repository's input ([`RepoInput`]) and
//! everything found in it ([`RepoPatterns`]), with the parts it is made of.
//!
//! Plain data, no behaviour: every other patterns module imports these types and this file
//! imports none of them. The public API names them as `crate::patterns::X` (re-exported).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Everything read from one repo.
#[derive(Clone, Copy, Debug)]
pub struct RepoInput<'a> {
    /// The root listing (name, is_dir), for structure.
    pub root_entries: &'a [(String, bool)],
    /// Every blob path in the tree, '/'-separated (structure: tests/, docs/, languages).
    pub all_paths: &'a [String],
    /// path -> bytes, for the paths [`target_paths`](super::target_paths) and
    /// [`follow_ups`](super::follow_ups) returned.
    pub files: &'a BTreeMap<String, Vec<u8>>,
    /// From GitHub's repo metadata (`license.spdx_id`).
    pub license_spdx: Option<&'a str>,
    /// GitHub's primary language.
    pub language: Option<&'a str>,
}

/// What a tool is for. One category per tool, from [`RULES`](super::rules::RULES).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    Linter,
    Formatter,
    TypeChecker,
    TestFramework,
    BuildBackend,
    TaskRunner,
    PackageManager,
    PreCommit,
    Ci,
    Bundler,
    Other,
}

/// Which world a dependency or tool belongs to; `General` only for tools (pre-commit, CI).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[serde(rename_all = "snake_case")]
pub enum Ecosystem {
    Python,
    Javascript,
    General,
}

/// One declared dependency, as written in one file.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Dependency {
    pub ecosystem: Ecosystem,
    /// PEP 503-normalized for Python (`Foo_Bar` -> `foo-bar`), as written for npm.
    pub name: String,
    /// Version constraint as written (`>=2,<3`, `^1.2.0`); None when unconstrained.
    pub specifier: Option<String>,
    /// "main", "dev", "optional:<extra>", "group:<name>", "peer", "build", "hatch:<env>",
    /// "tox", "test", "docs", "lint", "constraints", "optional" (npm optionalDependencies).
    pub group: String,
    /// Repository path of the file that declares it.
    pub source: String,
}

/// One sighting of a tool; a tool seen in several places has several entries.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ToolUse {
    pub name: String,
    pub category: Category,
    pub ecosystem: Ecosystem,
    /// An exact version when pinned (`==0.4.1`, a pre-commit `rev`, `packageManager`),
    /// else the specifier as written.
    pub version: Option<String>,
    /// Where it was seen: "pyproject.toml [tool.ruff]", "dependency",
    /// ".pre-commit-config.yaml hook ruff", "workflow run: pytest", "README.md", ...
    pub detected_from: String,
}

/// A named command: a package.json script, a workflow `run:` step, a tox env, a poe task.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Script {
    pub source: String,
    pub name: String,
    pub command: String,
}

/// A GitHub Actions `uses:` reference, `owner/repo[/path]@version` split at the last `@`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ActionUse {
    pub name: String,
    pub version: Option<String>,
}

/// One hook of `.pre-commit-config.yaml`; `rev` is None for `local` and `meta` repos.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Hook {
    pub repo: String,
    pub rev: Option<String>,
    pub id: String,
}

/// Layout facts from the tree listing.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct Structure {
    /// Code under `src/` (`src/<pkg>/__init__.py`, `src/*.ts`, `src/lib.rs`, ...).
    pub src_layout: bool,
    /// A `tests/`, `test/` or `__tests__/` directory.
    pub tests_dir: bool,
    /// A `docs/` or `doc/` directory at the root.
    pub docs_dir: bool,
    /// Languages by file extension, sorted ("python", "typescript", ...).
    pub languages: Vec<String>,
    /// SPDX id from GitHub's metadata, else recognised from a root LICENSE file
    /// ("NOASSERTION" when a license file exists but is not recognised).
    pub license: Option<String>,
    pub has_readme: bool,
    pub has_contributing: bool,
}

/// A file that could not be used, and why.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct FileError {
    pub path: String,
    pub message: String,
}

/// Everything extracted from one repository.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct RepoPatterns {
    pub dependencies: Vec<Dependency>,
    pub tools: Vec<ToolUse>,
    /// Tool name -> its settings as JSON ("ruff": {"line-length": 100}, "typescript":
    /// compilerOptions plus "extends"). Several sources for one tool are merged, first wins.
    pub configs: BTreeMap<String, serde_json::Value>,
    pub scripts: Vec<Script>,
    pub actions: Vec<ActionUse>,
    pub precommit_hooks: Vec<Hook>,
    pub structure: Structure,
    pub errors: Vec<FileError>,
}
