//! Which repository paths hold patterns, and what kind of file each one is.
//!
//! Invariant: [`kind_of`] is the single place that maps a path to a file kind; both
//! [`target_paths`] (what the scanner reads) and extraction (how it is parsed) use it, so a
//! file is never read without being parsed or parsed under two kinds.

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};

/// At most this many target paths per repository, root files first. A real repository has a
/// handful; the bound only matters for vendored trees with hundreds of requirements files.
pub const MAX_TARGET_PATHS: usize = 256;

/// Directories whose contents are somebody else's code (installed or vendored packages).
const VENDORED_DIRS: &[&str] = &[
    ".git",
    ".nox",
    ".tox",
    ".venv",
    "__pypackages__",
    "bower_components",
    "dist-packages",
    "node_modules",
    "site-packages",
    "third_party",
    "vendor",
    "venv",
];

/// How a file's text is parsed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Format {
    Jsonc,
    Yaml,
    Toml,
    Ini,
    /// JavaScript or Python source: scanned as text, never executed.
    Source,
}

/// A tool's own config file that is read for its settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ConfigFile {
    pub name: &'static str,
    pub tool: &'static str,
    pub format: Format,
    /// For INI files: the section that holds the settings; None = every section.
    pub section: Option<&'static str>,
}

/// Root-level tool config files read for settings (presence alone is in `rules::RULES`).
pub(crate) const CONFIG_FILES: &[ConfigFile] = &[
    ConfigFile {
        name: "ruff.toml",
        tool: "ruff",
        format: Format::Toml,
        section: None,
    },
    ConfigFile {
        name: ".ruff.toml",
        tool: "ruff",
        format: Format::Toml,
        section: None,
    },
    ConfigFile {
        name: "mypy.ini",
        tool: "mypy",
        format: Format::Ini,
        section: Some("mypy"),
    },
    ConfigFile {
        name: ".mypy.ini",
        tool: "mypy",
        format: Format::Ini,
        section: Some("mypy"),
    },
    ConfigFile {
        name: "pytest.ini",
        tool: "pytest",
        format: Format::Ini,
        section: Some("pytest"),
    },
    ConfigFile {
        name: ".flake8",
        tool: "flake8",
        format: Format::Ini,
        section: Some("flake8"),
    },
    ConfigFile {
        name: ".isort.cfg",
        tool: "isort",
        format: Format::Ini,
        section: Some("settings"),
    },
    ConfigFile {
        name: ".coveragerc",
        tool: "coverage",
        format: Format::Ini,
        section: None,
    },
    ConfigFile {
        name: "pyrightconfig.json",
        tool: "pyright",
        format: Format::Jsonc,
        section: None,
    },
    ConfigFile {
        name: ".prettierrc",
        tool: "prettier",
        format: Format::Yaml,
        section: None,
    },
    ConfigFile {
        name: ".prettierrc.json",
        tool: "prettier",
        format: Format::Jsonc,
        section: None,
    },
    ConfigFile {
        name: ".prettierrc.yaml",
        tool: "prettier",
        format: Format::Yaml,
        section: None,
    },
    ConfigFile {
        name: ".prettierrc.yml",
        tool: "prettier",
        format: Format::Yaml,
        section: None,
    },
    ConfigFile {
        name: "biome.json",
        tool: "biome",
        format: Format::Jsonc,
        section: None,
    },
    ConfigFile {
        name: "biome.jsonc",
        tool: "biome",
        format: Format::Jsonc,
        section: None,
    },
];

/// ESLint config file names: legacy `.eslintrc*` and flat `eslint.config.*`.
const ESLINT_FILES: &[(&str, Format)] = &[
    (".eslintrc", Format::Yaml),
    (".eslintrc.json", Format::Jsonc),
    (".eslintrc.yml", Format::Yaml),
    (".eslintrc.yaml", Format::Yaml),
    (".eslintrc.js", Format::Source),
    (".eslintrc.cjs", Format::Source),
    ("eslint.config.js", Format::Source),
    ("eslint.config.mjs", Format::Source),
    ("eslint.config.cjs", Format::Source),
    ("eslint.config.ts", Format::Source),
    ("eslint.config.mts", Format::Source),
];

/// What a target file is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Pyproject,
    Requirements,
    SetupCfg,
    SetupPy,
    ToxIni,
    PackageJson,
    Tsconfig,
    Eslint(Format),
    PreCommit,
    Workflow,
    /// README.md or CONTRIBUTING.md: shell blocks are scanned for tool commands.
    Markdown,
    License,
    Config(ConfigFile),
}

/// The kind of the file at `path`, or None when it holds no patterns we read.
pub(crate) fn kind_of(path: &str) -> Option<Kind> {
    if is_vendored(path) {
        return None;
    }
    if is_requirements_name(path) {
        return Some(Kind::Requirements);
    }
    if let Some(name) = path.strip_prefix(".github/workflows/") {
        let yaml = name.ends_with(".yml") || name.ends_with(".yaml");
        return (yaml && !name.contains('/')).then_some(Kind::Workflow);
    }
    if is_contributing(path) {
        return Some(Kind::Markdown);
    }
    if path.contains('/') {
        return None;
    }
    let kind = match path {
        "pyproject.toml" => Kind::Pyproject,
        "setup.cfg" => Kind::SetupCfg,
        "setup.py" => Kind::SetupPy,
        "tox.ini" => Kind::ToxIni,
        "package.json" => Kind::PackageJson,
        "tsconfig.json" => Kind::Tsconfig,
        ".pre-commit-config.yaml" | ".pre-commit-config.yml" => Kind::PreCommit,
        _ if path.eq_ignore_ascii_case("readme.md") => Kind::Markdown,
        _ if is_license_name(path) => Kind::License,
        _ => {
            if let Some((_, format)) = ESLINT_FILES.iter().find(|(name, _)| *name == path) {
                Kind::Eslint(*format)
            } else {
                Kind::Config(*CONFIG_FILES.iter().find(|c| c.name == path)?)
            }
        }
    };
    Some(kind)
}

/// Which repository paths the scanner should read, given the repo's full file list
/// (every blob path in the tree, '/'-separated). Honours `filter` (the user's `--files`
/// globs such as "*.toml,*.json,*.yaml"; None = all target kinds). Sorted, at most
/// [`MAX_TARGET_PATHS`], shallow paths kept first when there are more.
pub fn target_paths(all_paths: &[String], filter: Option<&FileFilter>) -> Vec<String> {
    let mut targets: Vec<&String> = all_paths
        .iter()
        .filter(|path| kind_of(path).is_some())
        .filter(|path| filter.is_none_or(|f| f.matches(path)))
        .collect();
    targets.sort_by_key(|path| (path.matches('/').count(), path.as_str()));
    targets.dedup();
    targets.truncate(MAX_TARGET_PATHS);
    let mut targets: Vec<String> = targets.into_iter().cloned().collect();
    targets.sort();
    targets
}

/// The user's `--files` globs ("*.toml,*.json,*.yaml"). A glob without `/` matches a file
/// name at any depth; `*` also crosses `/`, as in `.gitignore`-less shell habits.
#[derive(Clone, Debug)]
pub struct FileFilter {
    globs: GlobSet,
}

impl FileFilter {
    /// Parse a comma-separated glob list; an empty list or a bad glob is an error.
    pub fn parse(text: &str) -> Result<FileFilter, String> {
        let mut builder = GlobSetBuilder::new();
        let mut count = 0;
        for glob in text.split(',').map(str::trim).filter(|g| !g.is_empty()) {
            let glob = GlobBuilder::new(glob)
                .literal_separator(false)
                .build()
                .map_err(|e| format!("bad glob `{glob}`: {e}"))?;
            builder.add(glob);
            count += 1;
        }
        if count == 0 {
            return Err(format!("no glob in `{text}`"));
        }
        let globs = builder
            .build()
            .map_err(|e| format!("bad globs `{text}`: {e}"))?;
        Ok(FileFilter { globs })
    }

    /// Whether `path` (repository-relative, '/'-separated) or its file name matches.
    pub fn matches(&self, path: &str) -> bool {
        self.globs.is_match(path) || self.globs.is_match(file_name(path))
    }
}

pub(crate) fn file_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// The directory part of `path` ("" for a root file).
pub(crate) fn parent(path: &str) -> &str {
    path.rfind('/').map_or("", |i| &path[..i])
}

pub(crate) fn is_vendored(path: &str) -> bool {
    path.split('/').any(|part| VENDORED_DIRS.contains(&part))
}

/// `requirements*.txt` / `*-requirements.txt` at any depth, or any `.txt`/`.in` in a
/// `requirements/` directory (pip-tools `.in` sources included).
pub(crate) fn is_requirements_name(path: &str) -> bool {
    let name = file_name(path).to_ascii_lowercase();
    let Some(stem) = name
        .strip_suffix(".txt")
        .or_else(|| name.strip_suffix(".in"))
    else {
        return false;
    };
    let in_requirements_dir = path
        .split('/')
        .rev()
        .skip(1)
        .any(|dir| dir.eq_ignore_ascii_case("requirements"));
    stem.starts_with("requirements")
        || stem.ends_with("-requirements")
        || stem.ends_with("_requirements")
        || in_requirements_dir
}

fn is_license_name(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    ["LICENSE", "LICENCE", "COPYING"]
        .iter()
        .any(|p| upper.starts_with(p))
}

/// CONTRIBUTING.md at the root, in `.github/` or in `docs/` (where GitHub looks).
pub(crate) fn is_contributing(path: &str) -> bool {
    let dir = parent(path);
    matches!(dir, "" | ".github" | "docs")
        && file_name(path).eq_ignore_ascii_case("contributing.md")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn target_paths_picks_known_kinds_and_skips_vendored_trees() {
        let all = paths(&[
            "pyproject.toml",
            "src/app/__init__.py",
            "requirements.txt",
            "requirements/dev.txt",
            "services/api/requirements-test.txt",
            "dev-requirements.txt",
            "node_modules/left-pad/package.json",
            ".venv/lib/requirements.txt",
            ".github/workflows/ci.yml",
            ".github/workflows/sub/x.yml",
            ".github/CONTRIBUTING.md",
            "README.md",
            "LICENSE",
            "docs/conf.py",
            "sub/pyproject.toml",
            ".eslintrc.cjs",
            "ruff.toml",
        ]);
        assert_eq!(
            target_paths(&all, None),
            paths(&[
                ".eslintrc.cjs",
                ".github/CONTRIBUTING.md",
                ".github/workflows/ci.yml",
                "LICENSE",
                "README.md",
                "dev-requirements.txt",
                "pyproject.toml",
                "requirements.txt",
                "requirements/dev.txt",
                "ruff.toml",
                "services/api/requirements-test.txt",
            ])
        );
    }

    #[test]
    fn target_paths_honours_the_files_filter() {
        let all = paths(&[
            "pyproject.toml",
            "package.json",
            ".pre-commit-config.yaml",
            "setup.py",
        ]);
        let filter = FileFilter::parse("*.toml, *.yaml").unwrap();
        assert_eq!(
            target_paths(&all, Some(&filter)),
            paths(&[".pre-commit-config.yaml", "pyproject.toml"])
        );
    }

    #[test]
    fn target_paths_is_bounded_and_keeps_shallow_paths() {
        let mut all: Vec<String> = (0..1000)
            .map(|i| format!("pkgs/p{i:04}/requirements.txt"))
            .collect();
        all.push("requirements.txt".into());
        let targets = target_paths(&all, None);
        assert_eq!(targets.len(), MAX_TARGET_PATHS);
        assert!(targets.contains(&"requirements.txt".to_string()));
    }

    #[test]
    fn file_filter_matches_names_at_any_depth_and_rejects_bad_globs() {
        let filter = FileFilter::parse("*.toml,requirements*.txt").unwrap();
        assert!(filter.matches("pyproject.toml"));
        assert!(filter.matches("a/b/requirements-dev.txt"));
        assert!(!filter.matches("package.json"));
        assert!(FileFilter::parse("").is_err());
        assert!(FileFilter::parse("a[").is_err());
    }

    #[test]
    fn requirements_names() {
        for yes in [
            "requirements.txt",
            "a/requirements_dev.txt",
            "requirements/base.in",
            "x/test-requirements.txt",
        ] {
            assert!(is_requirements_name(yes), "{yes}");
        }
        for no in [
            "requirements.py",
            "notes.txt",
            "docs/requirements.md",
            "requirementsfoo/x.py",
        ] {
            assert!(!is_requirements_name(no), "{no}");
        }
    }
}
