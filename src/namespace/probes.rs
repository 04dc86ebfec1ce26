//! Names tools look up in every parent directory of where they run: version-control
//! markers, ignore files and config files (ruff looks for `pyproject.toml`, `ruff.toml`
//! and `.ruff.toml` up to `/`, rg for `.git` and `.gitignore`, pytest for `conftest.py`
//! and `tox.ini`, node for `node_modules` and `package.json`).
//!
//! Under `/<owner>` each such lookup asks whether a repository of that name exists. They
//! are almost never repositories, but they may be (a `.github` repository is common, so
//! it is not listed), so they are answered by GitHub, not by this list: the list only
//! lets a mount ask about all of them at once, in one round trip, on the first lookup of
//! one (see `fs::owners`), and keeps speculative requests (a listing sent beside the first
//! `ls-refs`) away from names that are almost always missing.

/// Lookups tools make in parent directories, sorted for binary search.
const PROBED: &[&str] = &[
    ".bzr",
    ".editorconfig",
    ".envrc",
    ".fdignore",
    ".flake8",
    ".git",
    ".gitignore",
    ".hg",
    ".ignore",
    ".jj",
    ".mypy.ini",
    ".npmrc",
    ".nvmrc",
    ".prettierrc",
    ".pytest.ini",
    ".python-version",
    ".rgignore",
    ".ruff.toml",
    ".sl",
    ".svn",
    ".tool-versions",
    ".venv",
    "Cargo.toml",
    "biome.json",
    "conftest.py",
    "deno.json",
    "go.mod",
    "go.work",
    "mypy.ini",
    "node_modules",
    "package.json",
    "pyproject.toml",
    "pytest.ini",
    "ruff.toml",
    "setup.cfg",
    "setup.py",
    "tox.ini",
    "tsconfig.json",
];

/// Whether tools commonly look `name` up in parent directories.
pub fn commonly_probed(name: &str) -> bool {
    PROBED.binary_search(&name).is_ok()
}

/// Every such name.
pub fn probed_names() -> &'static [&'static str] {
    PROBED
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_is_sorted_and_valid_repo_names() {
        assert!(
            PROBED.windows(2).all(|w| w[0] < w[1]),
            "PROBED must stay sorted"
        );
        assert!(PROBED.iter().all(|n| super::super::valid_repo(n)));
        assert!(commonly_probed("pyproject.toml") && commonly_probed(".git"));
        assert!(!commonly_probed(".github") && !commonly_probed("api"));
    }
}
