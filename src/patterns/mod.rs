//! Pattern extraction: which tools, dependencies and conventions one repository uses.
//!
//! The scanner lists a repository's tree, asks [`target_paths`] which blobs to read, reads
//! them (then [`follow_ups`], until it returns nothing new) and hands everything to
//! [`extract`]. The codex (`crate::codex`) aggregates the per-repository results per org.
//!
//! Invariants:
//! - Pure: no I/O, no network, no clock. The same [`RepoInput`] always gives the same
//!   [`RepoPatterns`], every list in it sorted and deduplicated.
//! - Repository content is untrusted. Nothing is executed (`setup.py` and JavaScript configs
//!   are scanned as text), files over [`formats::MAX_FILE_BYTES`] are skipped, YAML aliases,
//!   nesting and node counts are capped, and JSON depth is capped.
//! - [`extract`] never panics and never fails: a file that cannot be read becomes one
//!   [`FileError`] and everything else is still extracted.
//! - Tool detection is data: one table, [`rules::RULES`].
//! - [`EXTRACTOR_VERSION`] changes whenever the output for some input changes, so cached
//!   per-repository results from another version are redone.

mod commands;
mod extract;
mod findings;
pub mod formats;
mod javascript;
mod markdown;
mod paths;
mod pep508;
mod pyproject;
mod python_ini;
mod requirements;
pub mod rules;
mod setup_py;
mod structure;
mod types;
mod workflows;

pub use paths::{FileFilter, MAX_TARGET_PATHS, target_paths};
pub use types::{
    ActionUse, Category, Dependency, Ecosystem, FileError, Hook, RepoInput, RepoPatterns, Script,
    Structure, ToolUse,
};

/// Bump when extraction output changes: cached per-repo results with another version are redone.
pub const EXTRACTOR_VERSION: u32 = 1;

/// Follow-up paths to read after a first pass: requirements `-r`/`-c` includes, relative to
/// the including file, at most [`requirements::MAX_INCLUDE_DEPTH`] includes deep, never
/// escaping the repository, only paths in `all_paths` and not yet in `files`.
pub fn follow_ups(input: &RepoInput) -> Vec<String> {
    requirements::follow_ups(input)
}

/// Extract one repository's patterns. Never panics, never fails: malformed files become
/// [`RepoPatterns::errors`].
pub fn extract(input: &RepoInput) -> RepoPatterns {
    extract::extract(input)
}

/// The ecosystem of a [`Script`] by its source file: package.json scripts are JavaScript,
/// tox envs and pyproject tasks are Python, workflow steps belong to none.
pub fn script_ecosystem(source: &str) -> Option<Ecosystem> {
    match paths::file_name(source) {
        "package.json" => Some(Ecosystem::Javascript),
        "tox.ini" | "pyproject.toml" => Some(Ecosystem::Python),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
