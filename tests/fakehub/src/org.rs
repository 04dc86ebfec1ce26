//! A generated organization with a ground-truth manifest, for testing and
//! benchmarking org scanners (`heimdall github scan-org`).
//!
//! [`generate_org`] creates `repos` deterministic repositories under
//! `<root>/<owner>/` — Python (PEP 621, Poetry, Hatch and uv
//! `pyproject.toml`s, `setup.py`, `setup.cfg`, `requirements*.txt` with `-r`
//! includes, `tox.ini`), JavaScript/TypeScript (`package.json`, `tsconfig.json`
//! with comments, ESLint configs in three formats), mixed ones, and Go /
//! shell / Terraform / docs ones — with `.pre-commit-config.yaml`s,
//! workflows, READMEs, CONTRIBUTING files, licenses, a few malformed files,
//! empty, archived, forked and private repositories and varied metadata
//! (language, stars, size, `pushed_at`). It returns an [`OrgManifest`]
//! (also written to `<root>/<owner>/manifest.json`) that says exactly what
//! was put where.
//!
//! Conventions of the manifest (those of heimdall's pattern extraction):
//! * Tool names are the conventional lowercase names (`ruff`, `pytest`,
//!   `eslint`, `typescript`, `pre-commit`, `github-actions`, `pip`, `npm`,
//!   `node`, `setuptools`, `hatchling`, `poetry-core`, `uv-build`, ...), in
//!   the ecosystem they belong to (`pre-commit`, `github-actions`, `make` and
//!   `docker` are `general`). A tool is listed when some file of the
//!   repository that is *not* malformed names it — as a declared dependency,
//!   a `[tool.X]` table or INI section, a pre-commit hook, an action, the
//!   program of a command (workflow `run:` steps, `package.json` scripts, tox
//!   commands, fenced shell blocks of README/CONTRIBUTING; `poetry run X`,
//!   `uv run X`, `hatch run X`, `python -m X` and `npx X` name both) — or
//!   whose mere presence names it (`tox.ini`, `setup.py`, `tsconfig.json`,
//!   ESLint configs, lockfiles, `.pre-commit-config.yaml`, workflows, ...).
//! * Python dependency names are PEP 503-normalized (`PyYAML` -> `pyyaml`,
//!   `zope.interface` -> `zope-interface`); specifiers are exactly as
//!   written (without extras and markers); `None` when unconstrained (or
//!   `*`). Groups: `main`, `dev`, `test`, `build`, `optional:<extra>`,
//!   `group:<name>` (Poetry groups, PEP 735 groups with `include-group`
//!   expanded), `hatch:<env>`, `tox`; npm: `main`, `dev`, `peer`.
//! * A malformed file contributes nothing but its presence; it is listed in
//!   [`RepoManifest::malformed`].
//! * Empty repositories have no commits and an empty manifest entry.
//!
//! Commit SHAs depend only on `seed` (fixed dates and identities); only
//! `pushed_at` (repository metadata) is relative to the day of generation,
//! recent ones 0–60 days back and old ones 120+ days back, so a 90-day
//! filter has a 30-day margin either side.

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde::{Deserialize, Serialize};

use crate::repo;
use crate::rng::Rng;
use crate::store::RepoMeta;
use crate::util;

// ---------------------------------------------------------------------------
// Public API
// ---------------------------------------------------------------------------

/// What to generate. [`OrgSpec::new`] derives the flag counts from `repos`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct OrgSpec {
    pub repos: usize,
    pub seed: u64,
    /// Repositories without any commit.
    pub empty: usize,
    /// Archived repositories (never empty).
    pub archived: usize,
    /// Forks (never empty).
    pub forks: usize,
    /// Private repositories (never empty).
    pub private: usize,
    /// Repositories with exactly one malformed file (never empty).
    pub malformed: usize,
    /// "Now" for `pushed_at`, epoch seconds (default: today 00:00 UTC).
    pub now: i64,
}

impl OrgSpec {
    /// `repos / 30` empty, `/ 12` archived, `/ 10` forks, `/ 15` private and
    /// `/ 10` malformed (each at least 1 when `repos >= 10`).
    pub fn new(repos: usize, seed: u64) -> OrgSpec {
        let at_least_one = |n: usize| if repos >= 10 { n.max(1) } else { n };
        OrgSpec {
            repos,
            seed,
            empty: at_least_one(repos / 30),
            archived: at_least_one(repos / 12),
            forks: at_least_one(repos / 10),
            private: at_least_one(repos / 15),
            malformed: at_least_one(repos / 10),
            now: util::now_epoch().div_euclid(86_400) * 86_400,
        }
    }
}

/// Everything the generator put in the organization.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct OrgManifest {
    pub owner: String,
    pub spec: OrgSpec,
    /// `spec.now` as `YYYY-MM-DDTHH:MM:SSZ`.
    pub generated_at: String,
    /// In name order.
    pub repos: Vec<RepoManifest>,
}

/// One repository.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Default)]
pub struct RepoManifest {
    pub name: String,
    /// `python`, `javascript`, `typescript`, `mixed`, `go`, `shell`,
    /// `terraform`, `docs` or `empty`.
    pub kind: String,
    /// Python packaging flavour: `pep621`, `poetry`, `hatch`, `uv`,
    /// `setup.py`, `setup.cfg` or `requirements`.
    pub python_flavour: Option<String>,
    /// JavaScript package manager: `npm`, `pnpm` or `yarn`.
    pub package_manager: Option<String>,
    pub empty: bool,
    pub archived: bool,
    pub fork: bool,
    pub private: bool,
    /// GitHub's primary language (`None` for empty and docs-only ones).
    pub language: Option<String>,
    pub stars: u64,
    pub size_kb: u64,
    /// `YYYY-MM-DDTHH:MM:SSZ`.
    pub pushed_at: String,
    pub description: String,
    pub default_branch: String,
    /// Tip of the default branch (`None` when empty).
    pub head: Option<String>,
    pub commits: usize,
    /// Every file path of the tip, sorted.
    pub files: Vec<String>,
    pub python: EcosystemManifest,
    pub javascript: EcosystemManifest,
    pub general: GeneralManifest,
    /// `.pre-commit-config.yaml` hooks, sorted.
    pub precommit_hooks: Vec<Hook>,
    /// Workflow `uses:` (steps and reusable-workflow jobs), sorted.
    pub actions: Vec<Action>,
    /// package.json scripts, workflow `run:` steps, tox env commands, sorted.
    pub scripts: Vec<Script>,
    /// Paths of malformed files (invalid TOML, JSON or YAML).
    pub malformed: Vec<String>,
    pub structure: Structure,
}

/// Tools and dependencies of one ecosystem.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Default)]
pub struct EcosystemManifest {
    /// Sorted, distinct.
    pub tools: Vec<String>,
    /// Sorted, distinct.
    pub dependencies: Vec<Dependency>,
}

impl EcosystemManifest {
    /// Distinct dependency names.
    pub fn dependency_names(&self) -> BTreeSet<&str> {
        self.dependencies.iter().map(|d| d.name.as_str()).collect()
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Default)]
pub struct GeneralManifest {
    pub tools: Vec<String>,
}

/// One declared dependency, as written in one file.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct Dependency {
    /// PEP 503-normalized for Python, as written for npm.
    pub name: String,
    /// The specifier exactly as written; `None` when unconstrained or `*`.
    pub specifier: Option<String>,
    pub group: String,
    /// The file declaring it.
    pub source: String,
    /// The name as written in the file.
    pub written: String,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct Hook {
    pub repo: String,
    /// `None` for `local` hooks.
    pub rev: Option<String>,
    pub id: String,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct Action {
    /// `owner/repo[/path]`.
    pub name: String,
    pub version: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct Script {
    pub source: String,
    /// Script name, step name or tox env.
    pub name: String,
    /// Trimmed; multi-line commands joined with `\n`.
    pub command: String,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq, Default)]
pub struct Structure {
    /// Code files under `src/`.
    pub src_layout: bool,
    /// A root `tests/` or `test/` directory, or a `__tests__/` anywhere.
    pub tests_dir: bool,
    /// A root `docs/` directory.
    pub docs_dir: bool,
    /// SPDX id (metadata and LICENSE file agree); `NOASSERTION` for an
    /// unrecognisable license file; `None` without one.
    pub license: Option<String>,
    pub has_readme: bool,
    /// CONTRIBUTING.md at the root or in `.github/`.
    pub has_contributing: bool,
}

impl RepoManifest {
    /// Every tool, whatever its ecosystem.
    pub fn all_tools(&self) -> BTreeSet<&str> {
        self.python
            .tools
            .iter()
            .chain(&self.javascript.tools)
            .chain(&self.general.tools)
            .map(String::as_str)
            .collect()
    }

    pub fn has_tool(&self, tool: &str) -> bool {
        self.all_tools().contains(tool)
    }

    pub fn pushed_at_epoch(&self) -> i64 {
        util::parse_iso8601(&self.pushed_at).unwrap_or(0)
    }
}

/// A scan's repository filters, as in `heimdall github scan-org` (and the
/// defaults: forks and archived repositories left out).
#[derive(Clone, Debug, Default)]
pub struct Selection {
    /// Primary language, case-insensitive.
    pub language: Option<String>,
    pub min_stars: Option<u64>,
    pub pushed_within_days: Option<u64>,
    pub max_size_kb: Option<u64>,
    pub include_forks: bool,
    pub include_archived: bool,
    /// Leave out private repositories (an anonymous scan).
    pub exclude_private: bool,
    /// Leave out empty repositories.
    pub exclude_empty: bool,
    /// The `--match` regex as a predicate on the name.
    pub name: Option<fn(&str) -> bool>,
}

impl OrgManifest {
    pub fn repo(&self, name: &str) -> Option<&RepoManifest> {
        self.repos
            .iter()
            .find(|r| r.name.eq_ignore_ascii_case(name))
    }

    /// The repositories `selection` keeps, `pushed_within_days` counted from
    /// now.
    pub fn select(&self, selection: &Selection) -> Vec<&RepoManifest> {
        self.select_at(selection, util::now_epoch())
    }

    /// [`select`](Self::select) with an explicit "now" (epoch seconds).
    pub fn select_at(&self, s: &Selection, now: i64) -> Vec<&RepoManifest> {
        self.repos
            .iter()
            .filter(|r| s.include_forks || !r.fork)
            .filter(|r| s.include_archived || !r.archived)
            .filter(|r| !(s.exclude_private && r.private))
            .filter(|r| !(s.exclude_empty && r.empty))
            .filter(|r| {
                s.language.as_deref().is_none_or(|l| {
                    r.language
                        .as_deref()
                        .is_some_and(|rl| rl.eq_ignore_ascii_case(l))
                })
            })
            .filter(|r| s.min_stars.is_none_or(|m| r.stars >= m))
            .filter(|r| s.max_size_kb.is_none_or(|m| r.size_kb <= m))
            .filter(|r| {
                s.pushed_within_days
                    .is_none_or(|d| now - r.pushed_at_epoch() <= d as i64 * 86_400)
            })
            .filter(|r| s.name.is_none_or(|f| f(&r.name)))
            .collect()
    }

    /// Tool -> repositories using it (any ecosystem), over `repos`.
    pub fn tool_counts<'a>(
        repos: impl IntoIterator<Item = &'a RepoManifest>,
    ) -> BTreeMap<String, usize> {
        let mut out = BTreeMap::new();
        for r in repos {
            for t in r.all_tools() {
                *out.entry(t.to_string()).or_insert(0) += 1;
            }
        }
        out
    }

    /// Dependency name -> repositories declaring it, for `ecosystem`
    /// (`"python"` or `"javascript"`), over `repos`.
    pub fn dependency_counts<'a>(
        repos: impl IntoIterator<Item = &'a RepoManifest>,
        ecosystem: &str,
    ) -> BTreeMap<String, usize> {
        let mut out = BTreeMap::new();
        for r in repos {
            let eco = if ecosystem == "python" {
                &r.python
            } else {
                &r.javascript
            };
            for d in eco.dependency_names() {
                *out.entry(d.to_string()).or_insert(0) += 1;
            }
        }
        out
    }
}

/// Where [`generate_org`] writes the manifest.
pub fn manifest_path(root: &Path, owner: &str) -> PathBuf {
    root.join(owner).join("manifest.json")
}

/// Reads `<root>/<owner>/manifest.json`.
pub fn read_manifest(root: &Path, owner: &str) -> io::Result<OrgManifest> {
    let bytes = std::fs::read(manifest_path(root, owner))?;
    serde_json::from_slice(&bytes).map_err(io::Error::other)
}

/// Generates `repos` repositories under `<root>/<owner>/` with the default
/// [`OrgSpec::new`] counts; see the module documentation.
pub fn generate_org(root: &Path, owner: &str, repos: usize, seed: u64) -> io::Result<OrgManifest> {
    generate_org_with(root, owner, &OrgSpec::new(repos, seed))
}

/// [`generate_org`] with explicit counts.
pub fn generate_org_with(root: &Path, owner: &str, spec: &OrgSpec) -> io::Result<OrgManifest> {
    let non_empty = spec.repos - spec.empty.min(spec.repos);
    for (what, n) in [
        ("archived", spec.archived),
        ("forks", spec.forks),
        ("private", spec.private),
        ("malformed", spec.malformed),
    ] {
        if n > non_empty {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{what} = {n} but only {non_empty} non-empty repositories"),
            ));
        }
    }
    let mut plans = plan_org(owner, spec);
    choose_malformed(&mut plans, spec)?;
    std::fs::create_dir_all(root.join(owner))?;

    // Build the repositories on a few threads; each one is independent.
    // Mostly waiting for git processes: a few threads even on few cores.
    let workers = 4;
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<io::Result<RepoManifest>>>> =
        Mutex::new((0..plans.len()).map(|_| None).collect());
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(plan) = plans.get(i) else { break };
                    let res = build_repo(root, owner, plan);
                    results.lock().expect("results lock")[i] = Some(res);
                }
            });
        }
    });
    let mut repos = Vec::with_capacity(plans.len());
    for r in results.into_inner().expect("results lock") {
        repos.push(r.expect("every plan built")?);
    }
    repos.sort_by(|a, b| a.name.cmp(&b.name));
    let manifest = OrgManifest {
        owner: owner.to_string(),
        spec: spec.clone(),
        generated_at: util::iso8601(spec.now),
        repos,
    };
    std::fs::write(
        manifest_path(root, owner),
        serde_json::to_vec_pretty(&manifest).map_err(io::Error::other)?,
    )?;
    Ok(manifest)
}

// ---------------------------------------------------------------------------
// Tools
// ---------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Eco {
    Python,
    Javascript,
    General,
}

/// Every tool the generator can plant, with its ecosystem.
const TOOLS: &[(&str, Eco)] = &[
    ("ruff", Eco::Python),
    ("black", Eco::Python),
    ("isort", Eco::Python),
    ("flake8", Eco::Python),
    ("pylint", Eco::Python),
    ("mypy", Eco::Python),
    ("pytest", Eco::Python),
    ("tox", Eco::Python),
    ("pip", Eco::Python),
    ("poetry", Eco::Python),
    ("poetry-core", Eco::Python),
    ("hatch", Eco::Python),
    ("hatchling", Eco::Python),
    ("uv", Eco::Python),
    ("uv-build", Eco::Python),
    ("setuptools", Eco::Python),
    ("eslint", Eco::Javascript),
    ("prettier", Eco::Javascript),
    ("typescript", Eco::Javascript),
    ("jest", Eco::Javascript),
    ("vitest", Eco::Javascript),
    ("webpack", Eco::Javascript),
    ("vite", Eco::Javascript),
    ("npm", Eco::Javascript),
    ("pnpm", Eco::Javascript),
    ("yarn", Eco::Javascript),
    ("node", Eco::Javascript),
    ("pre-commit", Eco::General),
    ("github-actions", Eco::General),
    ("make", Eco::General),
    ("docker", Eco::General),
];

fn tool_eco(tool: &str) -> Eco {
    TOOLS
        .iter()
        .find(|(t, _)| *t == tool)
        .map(|(_, e)| *e)
        .unwrap_or_else(|| panic!("tool {tool} not in TOOLS"))
}

/// The tool a declared package names (heimdall's `python_packages` /
/// `npm_packages`), for the packages this generator declares.
fn package_tool(eco: Eco, name: &str) -> Option<&'static str> {
    let python = [
        "ruff",
        "black",
        "isort",
        "flake8",
        "pylint",
        "mypy",
        "pytest",
        "tox",
        "pre-commit",
        "setuptools",
        "hatchling",
        "poetry-core",
        "uv-build",
    ];
    let npm = [
        "eslint",
        "prettier",
        "typescript",
        "jest",
        "vitest",
        "webpack",
        "vite",
    ];
    let list: &[&'static str] = match eco {
        Eco::Python => &python,
        Eco::Javascript => &npm,
        Eco::General => &[],
    };
    list.iter().copied().find(|t| *t == name)
}

/// PEP 503: lowercase, runs of `-`, `_`, `.` become one `-`.
pub fn normalize_python_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.trim().chars() {
        if matches!(c, '-' | '_' | '.') {
            if !out.ends_with('-') {
                out.push('-');
            }
        } else {
            out.push(c.to_ascii_lowercase());
        }
    }
    out
}

// ---------------------------------------------------------------------------
// Files and what they say
// ---------------------------------------------------------------------------

/// What one file declares (dropped when the file is malformed).
#[derive(Default, Clone, Debug)]
struct Facts {
    tools: BTreeSet<&'static str>,
    deps: Vec<(Eco, Dependency)>,
    hooks: Vec<Hook>,
    actions: Vec<Action>,
    scripts: Vec<Script>,
}

impl Facts {
    fn tools(&mut self, tools: &[&'static str]) {
        self.tools.extend(tools.iter().copied());
    }

    /// A dependency: `spec` as written ("" or "*" = unconstrained).
    fn dep(&mut self, eco: Eco, written: &str, spec: &str, group: &str, source: &str) {
        let name = match eco {
            Eco::Python => normalize_python_name(written),
            _ => written.to_string(),
        };
        if let Some(t) = package_tool(eco, &name) {
            self.tools.insert(t);
        }
        let spec = spec.trim();
        self.deps.push((
            eco,
            Dependency {
                name,
                specifier: (!spec.is_empty() && spec != "*").then(|| spec.to_string()),
                group: group.to_string(),
                source: source.to_string(),
                written: written.to_string(),
            },
        ));
    }

    fn script(&mut self, source: &str, name: &str, command: &Cmd) {
        self.scripts.push(Script {
            source: source.to_string(),
            name: name.to_string(),
            command: command.text.trim().to_string(),
        });
        self.tools(&command.tools);
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Syntax {
    Toml,
    Json,
    Yaml,
}

#[derive(Debug)]
struct FileOut {
    path: String,
    text: String,
    facts: Facts,
    /// Tools named by the file's presence alone.
    presence: Vec<&'static str>,
    /// Can be made malformed (and how).
    syntax: Option<Syntax>,
    malformed: bool,
}

/// A command line and the tools its programs name.
#[derive(Clone, Debug)]
struct Cmd {
    text: String,
    tools: Vec<&'static str>,
}

fn cmd(text: impl Into<String>, tools: &[&'static str]) -> Cmd {
    Cmd {
        text: text.into(),
        tools: tools.to_vec(),
    }
}

/// A large file of pseudo-random bytes (an asset).
#[derive(Clone, Debug)]
struct Asset {
    path: String,
    size: u64,
    seed: u64,
}

#[derive(Debug)]
struct RepoPlan {
    manifest: RepoManifest,
    meta: RepoMeta,
    files: Vec<FileOut>,
    assets: Vec<Asset>,
    /// Paths committed first ("Initial commit"); the rest in a second one.
    first_commit: Option<Vec<String>>,
}

impl RepoPlan {
    fn add(&mut self, path: &str, text: String) -> &mut FileOut {
        self.add_with(path, text, Facts::default(), &[], None)
    }

    fn add_with(
        &mut self,
        path: &str,
        text: String,
        facts: Facts,
        presence: &[&'static str],
        syntax: Option<Syntax>,
    ) -> &mut FileOut {
        debug_assert!(
            !self.files.iter().any(|f| f.path == path),
            "{path} written twice in {}",
            self.manifest.name
        );
        self.files.push(FileOut {
            path: path.to_string(),
            text,
            facts,
            presence: presence.to_vec(),
            syntax,
            malformed: false,
        });
        self.files.last_mut().expect("just pushed")
    }

    fn has(&self, path: &str) -> bool {
        self.files.iter().any(|f| f.path == path)
    }
}

// ---------------------------------------------------------------------------
// Fixed lists
// ---------------------------------------------------------------------------

const WORDS: &[&str] = &[
    "parser",
    "billing",
    "gateway",
    "auth",
    "search",
    "ledger",
    "metrics",
    "notify",
    "catalog",
    "scheduler",
    "inventory",
    "reports",
    "checkout",
    "profile",
    "uploader",
    "router",
    "crawler",
    "payments",
    "identity",
    "insights",
    "mailer",
    "storage",
    "pricing",
    "audit",
];

const DESCRIPTIONS: &[&str] = &[
    "Internal service",
    "Shared library",
    "Command-line tool",
    "Web frontend",
    "Data pipeline",
    "Infrastructure code",
    "Prototype",
    "Documentation",
];

/// A Python runtime dependency: written name, probability, PEP 440
/// specifiers, Poetry specifiers, extras, marker (PEP 508, Poetry python).
struct PyDepDef {
    name: &'static str,
    p: f64,
    pep: &'static [&'static str],
    poetry: &'static [&'static str],
    extras: Option<&'static str>,
    marker: Option<(&'static str, &'static str)>,
}

const fn pydep(
    name: &'static str,
    p: f64,
    pep: &'static [&'static str],
    poetry: &'static [&'static str],
) -> PyDepDef {
    PyDepDef {
        name,
        p,
        pep,
        poetry,
        extras: None,
        marker: None,
    }
}

const PY_DEPS: &[PyDepDef] = &[
    pydep(
        "requests",
        0.5,
        &[">=2.31", "==2.32.3", "~=2.31", ""],
        &["^2.31", "~2.32", "*"],
    ),
    pydep(
        "pydantic",
        0.35,
        &[">=2.7,<3", "==2.8.2", ">=1.10"],
        &["^2.7", ">=1.10,<3.0"],
    ),
    pydep("click", 0.3, &[">=8.1", "~=8.1"], &["^8.1"]),
    pydep("numpy", 0.25, &[">=1.26", "==2.0.1", ""], &["^1.26"]),
    pydep("PyYAML", 0.2, &[">=6.0", "==6.0.1"], &["^6.0"]),
    pydep("httpx", 0.2, &[">=0.27", ""], &["^0.27"]),
    pydep("rich", 0.15, &[">=13.7"], &["^13.7"]),
    pydep("pandas", 0.15, &[">=2.2", "~=2.1"], &["^2.2"]),
    pydep("FastAPI", 0.12, &[">=0.110", "==0.111.0"], &["^0.110"]),
    pydep("SQLAlchemy", 0.1, &[">=2.0", "~=2.0.30"], &["^2.0"]),
    pydep("typing_extensions", 0.12, &[">=4.12"], &["^4.12"]),
    pydep("boto3", 0.1, &[">=1.34", ""], &["^1.34"]),
    pydep("python-dateutil", 0.08, &[">=2.9"], &["^2.9"]),
    pydep("Jinja2", 0.08, &[">=3.1"], &["^3.1"]),
    pydep("attrs", 0.08, &[">=23.2"], &["^23.2"]),
    PyDepDef {
        extras: Some("standard"),
        ..pydep("uvicorn", 0.08, &[">=0.30"], &["^0.30"])
    },
    PyDepDef {
        marker: Some(("python_version < \"3.11\"", "<3.11")),
        ..pydep("tomli", 0.06, &[">=2.0"], &["^2.0"])
    },
    pydep("zope.interface", 0.03, &[">=6.4"], &["^6.4"]),
    pydep("ruamel.yaml", 0.03, &[">=0.18"], &["^0.18"]),
];

/// Python dev tools: (tool, probability, PEP 440 specs, Poetry specs).
const PY_TOOLS: &[(&str, f64, &[&str], &[&str])] = &[
    ("pytest", 0.8, &[">=8.0", "~=7.4", ""], &["^8.0", "*"]),
    ("ruff", 0.55, &[">=0.4", "==0.5.0", ""], &["^0.5", ">=0.4"]),
    ("mypy", 0.4, &["==1.10.0", ">=1.8"], &["^1.10"]),
    ("black", 0.3, &[">=24.3", "==24.4.2"], &["^24.3"]),
    ("isort", 0.2, &[">=5.13", ""], &["^5.13"]),
    ("flake8", 0.2, &[">=7.0"], &["^7.0"]),
    ("pylint", 0.08, &[">=3.2"], &["^3.2"]),
    ("tox", 0.15, &[">=4.15"], &["^4.15"]),
    ("pre-commit", 0.4, &[">=3.7"], &["^3.7"]),
];

/// npm runtime dependencies: (name, probability, specs).
const JS_DEPS: &[(&str, f64, &[&str])] = &[
    ("react", 0.35, &["^18.3.1", "^18.2.0"]),
    ("lodash", 0.25, &["^4.17.21", "~4.17.21"]),
    ("axios", 0.25, &["^1.7.2", ">=1.6.0"]),
    ("express", 0.2, &["^4.19.2", "4.19.2"]),
    ("zod", 0.2, &["^3.23.8"]),
    ("dayjs", 0.1, &["^1.11.11"]),
    ("chalk", 0.1, &["^5.3.0"]),
    ("commander", 0.1, &["^12.1.0"]),
    ("uuid", 0.1, &["^10.0.0", "*"]),
    ("left-pad", 0.02, &["1.3.0"]),
];

const CHECKOUT_SHA: &str = "692973e3d937129bcbf40652eb9f2f61becf3332";

// ---------------------------------------------------------------------------
// Planning
// ---------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Python,
    Javascript,
    Typescript,
    Mixed,
    Go,
    Shell,
    Terraform,
    Docs,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Python => "python",
            Kind::Javascript => "javascript",
            Kind::Typescript => "typescript",
            Kind::Mixed => "mixed",
            Kind::Go => "go",
            Kind::Shell => "shell",
            Kind::Terraform => "terraform",
            Kind::Docs => "docs",
        }
    }
    fn prefixes(self) -> &'static [&'static str] {
        match self {
            Kind::Python => &["svc", "lib", "data", "api"],
            Kind::Javascript | Kind::Typescript => &["web", "ui", "lib"],
            Kind::Mixed => &["app", "tool"],
            Kind::Go => &["svc", "tool"],
            Kind::Shell | Kind::Terraform => &["infra", "ops"],
            Kind::Docs => &["docs"],
        }
    }
}

const KINDS: &[(Kind, f64)] = &[
    (Kind::Python, 0.45),
    (Kind::Typescript, 0.17),
    (Kind::Javascript, 0.12),
    (Kind::Mixed, 0.1),
    (Kind::Go, 0.06),
    (Kind::Shell, 0.04),
    (Kind::Terraform, 0.03),
    (Kind::Docs, 0.03),
];

fn plan_org(owner: &str, spec: &OrgSpec) -> Vec<RepoPlan> {
    let mut rng = Rng::new(spec.seed, u64::MAX);
    let all: Vec<usize> = (0..spec.repos).collect();
    let empty: BTreeSet<usize> = rng.choose(&all, spec.empty).into_iter().collect();
    let non_empty: Vec<usize> = all.iter().copied().filter(|i| !empty.contains(i)).collect();
    let archived: BTreeSet<usize> = rng.choose(&non_empty, spec.archived).into_iter().collect();
    let forks: BTreeSet<usize> = rng.choose(&non_empty, spec.forks).into_iter().collect();
    let private: BTreeSet<usize> = rng.choose(&non_empty, spec.private).into_iter().collect();
    let weights: Vec<f64> = KINDS.iter().map(|(_, w)| *w).collect();
    let mut names = BTreeSet::new();
    let mut plans = Vec::with_capacity(spec.repos);
    for i in 0..spec.repos {
        let mut r = Rng::new(spec.seed, i as u64);
        let kind = KINDS[r.weighted(&weights)].0;
        let prefix = r.pick(kind.prefixes());
        let word = r.pick(WORDS);
        let base = format!("{prefix}-{word}");
        let mut name = base.clone();
        let mut n = 2;
        while !names.insert(name.clone()) {
            name = format!("{base}-{n}");
            n += 1;
        }
        let flags = Flags {
            empty: empty.contains(&i),
            archived: archived.contains(&i),
            fork: forks.contains(&i),
            private: private.contains(&i),
        };
        plans.push(plan_repo(owner, &name, kind, flags, r, spec.now));
    }
    plans
}

#[derive(Clone, Copy)]
struct Flags {
    empty: bool,
    archived: bool,
    fork: bool,
    private: bool,
}

/// Shared between the parts of one repository.
struct Ctx {
    owner: String,
    name: String,
    /// Distribution / npm package name.
    dist: String,
    /// Python import package.
    pkg: String,
    precommit: bool,
    hook_repos: Vec<HookRepo>,
    /// README install commands.
    install: Vec<Cmd>,
    /// CONTRIBUTING commands.
    dev_cmds: Vec<Cmd>,
    /// Where code lives, for `structure`.
    code_bytes: u64,
}

struct HookRepo {
    url: &'static str,
    rev: Option<&'static str>,
    hooks: Vec<HookDef>,
}

struct HookDef {
    id: &'static str,
    tool: Option<&'static str>,
    /// Extra YAML lines under the id (indented by the renderer).
    extra: &'static [&'static str],
}

fn plan_repo(
    owner: &str,
    name: &str,
    kind: Kind,
    flags: Flags,
    mut rng: Rng,
    now: i64,
) -> RepoPlan {
    let day = 86_400;
    let recent = flags.empty || !(flags.archived || flags.fork) && rng.chance(0.55);
    let pushed = if recent && !flags.empty {
        now - rng.range(0, 60) as i64 * day - rng.range(0, day as u64 - 1) as i64
    } else {
        now - rng.range(120, 1500) as i64 * day - rng.range(0, day as u64 - 1) as i64
    };
    let stars = match rng.weighted(&[0.6, 0.25, 0.12, 0.03]) {
        0 => rng.range(0, 9),
        1 => rng.range(10, 99),
        2 => rng.range(100, 999),
        _ => rng.range(1000, 20_000),
    };
    let description = format!(
        "{} for {}",
        rng.pick(DESCRIPTIONS),
        name.split('-').nth(1).unwrap_or(name)
    );
    let default_branch = if rng.chance(0.1) { "master" } else { "main" };
    let mut plan = RepoPlan {
        manifest: RepoManifest {
            name: name.to_string(),
            kind: if flags.empty {
                "empty".into()
            } else {
                kind.name().into()
            },
            empty: flags.empty,
            archived: flags.archived,
            fork: flags.fork,
            private: flags.private,
            stars,
            pushed_at: util::iso8601(pushed),
            description: description.clone(),
            default_branch: default_branch.into(),
            ..Default::default()
        },
        meta: RepoMeta {
            private: Some(flags.private),
            archived: Some(flags.archived),
            fork: Some(flags.fork),
            description: Some(description),
            stargazers_count: Some(stars),
            forks_count: Some(stars / 7),
            pushed_at: Some(util::iso8601(pushed)),
            ..Default::default()
        },
        files: Vec::new(),
        assets: Vec::new(),
        first_commit: None,
    };
    if flags.empty {
        plan.meta.size_kb = Some(0);
        return plan;
    }
    let mut ctx = Ctx {
        owner: owner.to_string(),
        name: name.to_string(),
        dist: format!("{}-{}", owner.to_lowercase(), name),
        pkg: name.replace('-', "_"),
        precommit: false,
        hook_repos: Vec::new(),
        install: Vec::new(),
        dev_cmds: Vec::new(),
        code_bytes: 0,
    };
    let language = match kind {
        Kind::Python => {
            let flavour = rng.pick(&PyFlavour::ALL);
            python_part(&mut plan, &mut rng, &mut ctx, flavour, "ci.yml");
            Some("Python")
        }
        Kind::Javascript | Kind::Typescript => {
            let ts = kind == Kind::Typescript;
            js_part(&mut plan, &mut rng, &mut ctx, ts, "", "ci.yml");
            Some(if ts { "TypeScript" } else { "JavaScript" })
        }
        Kind::Mixed => {
            let flavour = rng.pick(&[PyFlavour::Pep621, PyFlavour::Poetry, PyFlavour::Uv]);
            python_part(&mut plan, &mut rng, &mut ctx, flavour, "python.yml");
            js_part(
                &mut plan,
                &mut rng,
                &mut ctx,
                true,
                "frontend/",
                "frontend.yml",
            );
            Some(if rng.chance(0.6) {
                "Python"
            } else {
                "TypeScript"
            })
        }
        Kind::Go => {
            other_part(&mut plan, &mut rng, &mut ctx, kind);
            Some("Go")
        }
        Kind::Shell => {
            other_part(&mut plan, &mut rng, &mut ctx, kind);
            Some("Shell")
        }
        Kind::Terraform => {
            other_part(&mut plan, &mut rng, &mut ctx, kind);
            Some("HCL")
        }
        Kind::Docs => {
            other_part(&mut plan, &mut rng, &mut ctx, kind);
            None
        }
    };
    plan.manifest.language = language.map(str::to_string);
    plan.meta.language = plan.manifest.language.clone();
    common_files(&mut plan, &mut rng, &ctx, kind);
    if rng.chance(0.15) {
        let ext = rng.pick(&["png", "bin", "parquet", "zip"]);
        let size = if rng.chance(0.2) {
            rng.range(1 << 20, 4 << 20)
        } else {
            rng.range(32 << 10, 1 << 20)
        };
        let path = format!("assets/{}.{ext}", rng.pick(WORDS));
        plan.assets.push(Asset {
            path,
            size,
            seed: rng.next_u64(),
        });
    }
    let bytes: u64 = plan.files.iter().map(|f| f.text.len() as u64).sum::<u64>()
        + plan.assets.iter().map(|a| a.size).sum::<u64>();
    let _ = ctx.code_bytes;
    plan.manifest.size_kb = bytes / 1024 + 1;
    plan.meta.size_kb = Some(plan.manifest.size_kb);
    if rng.chance(0.3) {
        plan.first_commit = Some(
            plan.files
                .iter()
                .map(|f| f.path.clone())
                .filter(|p| p == "README.md" || p.starts_with("LICENSE"))
                .collect(),
        );
    }
    plan
}

// ---------------------------------------------------------------------------
// Python
// ---------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum PyFlavour {
    Pep621,
    Poetry,
    Hatch,
    Uv,
    SetupPy,
    SetupCfg,
    Requirements,
}

impl PyFlavour {
    /// Weighted by repetition.
    const ALL: [PyFlavour; 20] = [
        PyFlavour::Pep621,
        PyFlavour::Pep621,
        PyFlavour::Pep621,
        PyFlavour::Pep621,
        PyFlavour::Pep621,
        PyFlavour::Poetry,
        PyFlavour::Poetry,
        PyFlavour::Poetry,
        PyFlavour::Poetry,
        PyFlavour::Hatch,
        PyFlavour::Hatch,
        PyFlavour::Uv,
        PyFlavour::Uv,
        PyFlavour::Uv,
        PyFlavour::SetupPy,
        PyFlavour::SetupPy,
        PyFlavour::SetupCfg,
        PyFlavour::Requirements,
        PyFlavour::Requirements,
        PyFlavour::Requirements,
    ];

    fn name(self) -> &'static str {
        match self {
            PyFlavour::Pep621 => "pep621",
            PyFlavour::Poetry => "poetry",
            PyFlavour::Hatch => "hatch",
            PyFlavour::Uv => "uv",
            PyFlavour::SetupPy => "setup.py",
            PyFlavour::SetupCfg => "setup.cfg",
            PyFlavour::Requirements => "requirements",
        }
    }

    /// `poetry run `, `uv run `, `hatch run ` and the tool the prefix names.
    fn runner(self) -> Option<(&'static str, &'static str)> {
        match self {
            PyFlavour::Poetry => Some(("poetry run ", "poetry")),
            PyFlavour::Uv => Some(("uv run ", "uv")),
            PyFlavour::Hatch => Some(("hatch run ", "hatch")),
            _ => None,
        }
    }
}

/// A requirement as written in one file.
#[derive(Clone, Debug)]
struct Req {
    name: String,
    /// PEP 440 specifier, or Poetry's when the flavour is Poetry.
    spec: String,
    extras: Option<&'static str>,
    marker: Option<(&'static str, &'static str)>,
}

impl Req {
    fn pep508(&self) -> String {
        let mut s = self.name.clone();
        if let Some(e) = self.extras {
            s.push_str(&format!("[{e}]"));
        }
        s.push_str(&self.spec);
        if let Some((m, _)) = self.marker {
            s.push_str(&format!("; {m}"));
        }
        s
    }
}

fn toml_str(s: &str) -> String {
    if s.contains('"') {
        format!("'{s}'")
    } else {
        format!("\"{s}\"")
    }
}

fn py_str(s: &str) -> String {
    if s.contains('"') {
        format!("'{s}'")
    } else {
        format!("\"{s}\"")
    }
}

fn toml_list(reqs: &[Req]) -> String {
    if reqs.is_empty() {
        return "[]".into();
    }
    let mut s = String::from("[\n");
    for r in reqs {
        s.push_str(&format!("    {},\n", toml_str(&r.pep508())));
    }
    s.push(']');
    s
}

/// Where a tool's settings go.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum ConfigAt {
    Pyproject,
    SetupCfg,
    OwnFile,
}

/// What signals each chosen Python tool gets.
#[derive(Default, Clone, Copy, Debug)]
struct Signals {
    dep: bool,
    config: bool,
    hook: bool,
    ci: bool,
}

fn python_part(
    plan: &mut RepoPlan,
    rng: &mut Rng,
    ctx: &mut Ctx,
    flavour: PyFlavour,
    wf_name: &str,
) {
    plan.manifest.python_flavour = Some(flavour.name().into());
    let poetry = flavour == PyFlavour::Poetry;
    // Tools.
    let mut tools: Vec<&'static str> = Vec::new();
    for (tool, p, _, _) in PY_TOOLS {
        let p = match *tool {
            "black" if tools.contains(&"ruff") => 0.15,
            "flake8" if tools.contains(&"ruff") => 0.05,
            "flake8" => 0.35,
            _ => *p,
        };
        if rng.chance(p) {
            tools.push(tool);
        }
    }
    let precommit = tools.contains(&"pre-commit");
    ctx.precommit |= precommit;
    let tox = tools.contains(&"tox");
    let ci = rng.chance(0.75);
    let has_pyproject = match flavour {
        PyFlavour::Pep621 | PyFlavour::Poetry | PyFlavour::Hatch | PyFlavour::Uv => true,
        PyFlavour::SetupPy => rng.chance(0.4),
        PyFlavour::SetupCfg => rng.chance(0.7),
        PyFlavour::Requirements => rng.chance(0.5),
    };
    let config_at = |tool: &str| -> ConfigAt {
        match tool {
            "flake8" if flavour == PyFlavour::SetupCfg => ConfigAt::SetupCfg,
            "flake8" => ConfigAt::OwnFile,
            "mypy" | "pytest" | "isort" if flavour == PyFlavour::SetupCfg => ConfigAt::SetupCfg,
            _ if has_pyproject => ConfigAt::Pyproject,
            _ => ConfigAt::OwnFile,
        }
    };
    let mut signals: BTreeMap<&'static str, Signals> = BTreeMap::new();
    for &tool in &tools {
        let hookable = matches!(
            tool,
            "ruff" | "black" | "isort" | "flake8" | "mypy" | "pylint"
        );
        let config_p = match tool {
            "ruff" => 0.75,
            "black" => 0.4,
            "isort" => 0.5,
            "mypy" | "pytest" | "flake8" => 0.6,
            "pylint" => 0.5,
            _ => 0.0,
        };
        let mut s = Signals {
            dep: rng.chance(if tool == "pre-commit" { 0.4 } else { 0.65 }),
            config: rng.chance(config_p),
            hook: precommit && hookable && rng.chance(0.7),
            ci: ci
                && matches!(
                    tool,
                    "ruff" | "black" | "isort" | "flake8" | "mypy" | "pylint" | "pytest"
                )
                && rng.chance(0.6),
        };
        if tool == "black" && s.config && config_at("black") == ConfigAt::OwnFile {
            s.config = false; // black has no config file of its own
        }
        if !(s.dep || s.config || s.hook || s.ci || matches!(tool, "tox" | "pre-commit")) {
            s.dep = true;
        }
        signals.insert(tool, s);
    }
    // Requirements.
    let mut runtime: Vec<Req> = Vec::new();
    for d in PY_DEPS {
        if rng.chance(d.p) {
            let spec = if poetry {
                rng.pick(d.poetry)
            } else {
                rng.pick(d.pep)
            };
            runtime.push(Req {
                name: d.name.into(),
                spec: spec.to_string(),
                extras: d.extras,
                marker: d.marker,
            });
        }
    }
    if runtime.is_empty() {
        runtime.push(Req {
            name: "requests".into(),
            spec: if poetry { "^2.31" } else { ">=2.31" }.into(),
            extras: None,
            marker: None,
        });
    }
    let mut dev: Vec<Req> = Vec::new();
    for (tool, _, pep, poet) in PY_TOOLS {
        if signals.get(tool).is_some_and(|s| s.dep) {
            let spec = if poetry {
                rng.pick(poet)
            } else {
                rng.pick(pep)
            };
            dev.push(Req {
                name: tool.to_string(),
                spec: spec.to_string(),
                extras: None,
                marker: None,
            });
        }
    }
    let cfg = |tool: &str| signals.get(tool).is_some_and(|s| s.config);

    // Code.
    let src_layout = plan_python_code(plan, rng, ctx);

    // Tool settings as pyproject tables.
    let mut tool_tables = String::new();
    let mut table_tools: Vec<&'static str> = Vec::new();
    for (tool, table) in [
        (
            "ruff",
            "[tool.ruff]\nline-length = 100\ntarget-version = \"py311\"\n\n[tool.ruff.lint]\nselect = [\"E\", \"F\", \"I\", \"UP\"]\n",
        ),
        (
            "black",
            "[tool.black]\nline-length = 100\ntarget-version = [\"py311\"]\n",
        ),
        ("isort", "[tool.isort]\nprofile = \"black\"\n"),
        (
            "mypy",
            "[tool.mypy]\nstrict = true\nwarn_unused_ignores = true\n",
        ),
        (
            "pytest",
            "[tool.pytest.ini_options]\naddopts = \"-q\"\ntestpaths = [\"tests\"]\n",
        ),
        ("pylint", "[tool.pylint.main]\nmax-line-length = 100\n"),
    ] {
        if cfg(tool) && config_at(tool) == ConfigAt::Pyproject {
            tool_tables.push('\n');
            tool_tables.push_str(table);
            table_tools.push(tool);
        }
    }
    // Own config files.
    for tool in ["ruff", "mypy", "pytest", "isort", "pylint", "flake8"] {
        if !(cfg(tool) && config_at(tool) == ConfigAt::OwnFile) {
            continue;
        }
        let (path, text) = match tool {
            "ruff" => (
                "ruff.toml",
                "line-length = 100\n\n[lint]\nselect = [\"E\", \"F\"]\n",
            ),
            "mypy" => ("mypy.ini", "[mypy]\nstrict = True\n"),
            "pytest" => ("pytest.ini", "[pytest]\naddopts = -q\ntestpaths = tests\n"),
            "isort" => (".isort.cfg", "[settings]\nprofile = black\n"),
            "pylint" => (".pylintrc", "[MAIN]\nmax-line-length = 100\n"),
            _ => (
                ".flake8",
                "[flake8]\nmax-line-length = 100\nextend-ignore = E203\n",
            ),
        };
        let tool = TOOLS.iter().find(|(t, _)| *t == tool).expect("known").0;
        plan.add_with(path, text.into(), Facts::default(), &[tool], None);
    }

    let dev_group_name = match flavour {
        PyFlavour::Pep621 | PyFlavour::SetupPy | PyFlavour::SetupCfg => "optional:dev",
        PyFlavour::Poetry | PyFlavour::Uv => "group:dev",
        PyFlavour::Hatch => "hatch:default",
        PyFlavour::Requirements => "dev",
    };
    let mut has_dev_extra = false;

    // The packaging files.
    match flavour {
        PyFlavour::Pep621 | PyFlavour::Hatch | PyFlavour::Uv => {
            let mut f = Facts::default();
            let src = "pyproject.toml";
            let (build_reqs, backend): (&[&str], &str) = match flavour {
                PyFlavour::Pep621 => (&["setuptools>=68", "wheel"], "setuptools.build_meta"),
                PyFlavour::Hatch => (&["hatchling"], "hatchling.build"),
                _ if rng.chance(0.5) => (&["uv_build>=0.7.19,<0.8"], "uv_build"),
                _ => (&["hatchling>=1.24"], "hatchling.build"),
            };
            let backend_tool = match backend {
                "setuptools.build_meta" => "setuptools",
                "hatchling.build" => "hatchling",
                _ => "uv-build",
            };
            f.tools(&[backend_tool]);
            let mut text = format!(
                "[build-system]\nrequires = [{}]\nbuild-backend = \"{backend}\"\n\n",
                build_reqs
                    .iter()
                    .map(|r| format!("\"{r}\""))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            for r in build_reqs {
                let split = r.find(['>', '=', '<', '~']).unwrap_or(r.len());
                f.dep(Eco::Python, &r[..split], &r[split..], "build", src);
            }
            text.push_str(&format!(
                "[project]\nname = \"{}\"\nversion = \"0.{}.{}\"\ndescription = \"{}\"\nreadme = \"README.md\"\nrequires-python = \">=3.9\"\ndependencies = {}\n",
                ctx.dist,
                rng.range(1, 9),
                rng.range(0, 12),
                plan.manifest.description,
                toml_list(&runtime)
            ));
            for r in &runtime {
                f.dep(Eco::Python, &r.name, &r.spec, "main", src);
            }
            match flavour {
                PyFlavour::Pep621 => {
                    // Sometimes pytest gets its own "test" extra.
                    let (test, rest): (Vec<Req>, Vec<Req>) = if rng.chance(0.4) {
                        dev.iter().cloned().partition(|r| r.name == "pytest")
                    } else {
                        (Vec::new(), dev.clone())
                    };
                    if !rest.is_empty() || !test.is_empty() {
                        text.push_str("\n[project.optional-dependencies]\n");
                        for (extra, list) in [("dev", &rest), ("test", &test)] {
                            if list.is_empty() {
                                continue;
                            }
                            text.push_str(&format!("{extra} = {}\n", toml_list(list)));
                            for r in list.iter() {
                                f.dep(
                                    Eco::Python,
                                    &r.name,
                                    &r.spec,
                                    &format!("optional:{extra}"),
                                    src,
                                );
                            }
                        }
                        has_dev_extra = !rest.is_empty();
                    }
                    if src_layout {
                        text.push_str("\n[tool.setuptools.packages.find]\nwhere = [\"src\"]\n");
                    }
                }
                PyFlavour::Hatch => {
                    let wheel = if src_layout {
                        format!("src/{}", ctx.pkg)
                    } else {
                        ctx.pkg.clone()
                    };
                    text.push_str(&format!(
                        "\n[tool.hatch.build.targets.wheel]\npackages = [\"{wheel}\"]\n"
                    ));
                    let (lint, main): (Vec<Req>, Vec<Req>) = if rng.chance(0.5) {
                        dev.iter().cloned().partition(|r| {
                            matches!(r.name.as_str(), "ruff" | "black" | "isort" | "flake8")
                        })
                    } else {
                        (Vec::new(), dev.clone())
                    };
                    text.push_str(&format!(
                        "\n[tool.hatch.envs.default]\ndependencies = {}\n",
                        toml_list(&main)
                    ));
                    for r in &main {
                        f.dep(Eco::Python, &r.name, &r.spec, "hatch:default", src);
                    }
                    if !lint.is_empty() {
                        text.push_str(&format!(
                            "\n[tool.hatch.envs.lint]\ndetached = true\ndependencies = {}\n",
                            toml_list(&lint)
                        ));
                        for r in &lint {
                            f.dep(Eco::Python, &r.name, &r.spec, "hatch:lint", src);
                        }
                    }
                    f.tools(&["hatch"]);
                }
                _ => {
                    // uv: PEP 735 groups, sometimes with an include-group.
                    let (lint, main): (Vec<Req>, Vec<Req>) = if rng.chance(0.4) {
                        dev.iter().cloned().partition(|r| {
                            matches!(
                                r.name.as_str(),
                                "ruff" | "black" | "isort" | "flake8" | "mypy"
                            )
                        })
                    } else {
                        (Vec::new(), dev.clone())
                    };
                    text.push_str("\n[dependency-groups]\n");
                    let mut dev_items: Vec<String> = main
                        .iter()
                        .map(|r| format!("    {},\n", toml_str(&r.pep508())))
                        .collect();
                    if !lint.is_empty() {
                        dev_items.push("    { include-group = \"lint\" },\n".into());
                    }
                    text.push_str(&format!("dev = [\n{}]\n", dev_items.concat()));
                    for r in main.iter().chain(&lint) {
                        f.dep(Eco::Python, &r.name, &r.spec, "group:dev", src);
                    }
                    if !lint.is_empty() {
                        text.push_str(&format!("lint = {}\n", toml_list(&lint)));
                        for r in &lint {
                            f.dep(Eco::Python, &r.name, &r.spec, "group:lint", src);
                        }
                    }
                    text.push_str("\n[tool.uv]\ndefault-groups = [\"dev\"]\n");
                    f.tools(&["uv"]);
                }
            }
            text.push_str(&tool_tables);
            f.tools(&table_tools);
            plan.add_with(src, text, f, &[], Some(Syntax::Toml));
            if flavour == PyFlavour::Uv && rng.chance(0.7) {
                plan.add_with(
                    "uv.lock",
                    "version = 1\nrequires-python = \">=3.9\"\n".into(),
                    Facts::default(),
                    &["uv"],
                    None,
                );
            }
        }
        PyFlavour::Poetry => {
            let mut f = Facts::default();
            let src = "pyproject.toml";
            let mut text = format!(
                "[tool.poetry]\nname = \"{}\"\nversion = \"0.{}.0\"\ndescription = \"{}\"\nauthors = [\"{} Developers <dev@{}.test>\"]\nreadme = \"README.md\"\n",
                ctx.dist,
                rng.range(1, 9),
                plan.manifest.description,
                ctx.owner,
                ctx.owner.to_lowercase()
            );
            if src_layout {
                text.push_str(&format!(
                    "packages = [{{ include = \"{}\", from = \"src\" }}]\n",
                    ctx.pkg
                ));
            }
            text.push_str("\n[tool.poetry.dependencies]\npython = \"^3.10\"\n");
            let poetry_line = |r: &Req| -> String {
                // A bare `zope.interface = ...` would be a dotted key (a table).
                let key = if r.name.contains('.') {
                    format!("\"{}\"", r.name)
                } else {
                    r.name.clone()
                };
                match (r.extras, r.marker) {
                    (Some(e), _) => format!(
                        "{key} = {{ version = \"{}\", extras = [\"{e}\"] }}\n",
                        r.spec
                    ),
                    (None, Some((_, py))) => {
                        format!(
                            "{key} = {{ version = \"{}\", python = \"{py}\" }}\n",
                            r.spec
                        )
                    }
                    (None, None) => format!("{key} = \"{}\"\n", r.spec),
                }
            };
            for r in &runtime {
                text.push_str(&poetry_line(r));
                f.dep(Eco::Python, &r.name, &r.spec, "main", src);
            }
            if !dev.is_empty() {
                let (header, group) = if rng.chance(0.25) {
                    ("[tool.poetry.dev-dependencies]", "dev")
                } else {
                    ("[tool.poetry.group.dev.dependencies]", "group:dev")
                };
                text.push_str(&format!("\n{header}\n"));
                for r in &dev {
                    text.push_str(&poetry_line(r));
                    f.dep(Eco::Python, &r.name, &r.spec, group, src);
                }
            }
            text.push_str("\n[build-system]\nrequires = [\"poetry-core>=1.0.0\"]\nbuild-backend = \"poetry.core.masonry.api\"\n");
            f.dep(Eco::Python, "poetry-core", ">=1.0.0", "build", src);
            f.tools(&["poetry", "poetry-core"]);
            text.push_str(&tool_tables);
            f.tools(&table_tools);
            plan.add_with(src, text, f, &[], Some(Syntax::Toml));
            if rng.chance(0.6) {
                plan.add_with(
                    "poetry.lock",
                    "# This file is automatically @generated by Poetry 1.8.3 and should not be changed by hand.\npackage = []\n\n[metadata]\nlock-version = \"2.0\"\n".into(),
                    Facts::default(),
                    &["poetry"],
                    None,
                );
            }
        }
        PyFlavour::SetupPy | PyFlavour::SetupCfg | PyFlavour::Requirements => {
            if has_pyproject {
                let mut f = Facts::default();
                let mut text = String::new();
                if flavour != PyFlavour::Requirements {
                    text.push_str("[build-system]\nrequires = [\"setuptools>=61.0\", \"wheel\"]\nbuild-backend = \"setuptools.build_meta\"\n");
                    f.dep(
                        Eco::Python,
                        "setuptools",
                        ">=61.0",
                        "build",
                        "pyproject.toml",
                    );
                    f.dep(Eco::Python, "wheel", "", "build", "pyproject.toml");
                    f.tools(&["setuptools"]);
                }
                text.push_str(&tool_tables);
                f.tools(&table_tools);
                let text = text.trim_start().to_string();
                plan.add_with("pyproject.toml", text, f, &[], Some(Syntax::Toml));
            }
            match flavour {
                PyFlavour::SetupPy => {
                    let src = "setup.py";
                    let mut f = Facts::default();
                    let list = |reqs: &[Req], indent: &str| -> String {
                        let mut s = String::from("[\n");
                        for r in reqs {
                            s.push_str(&format!("{indent}    {},\n", py_str(&r.pep508())));
                        }
                        s.push_str(indent);
                        s.push(']');
                        s
                    };
                    let bound = rng.chance(0.3);
                    let mut text = String::from("from setuptools import find_packages, setup\n\n");
                    if bound {
                        text.push_str(&format!("REQUIREMENTS = {}\n\n", list(&runtime, "")));
                    }
                    text.push_str(&format!(
                        "setup(\n    name=\"{}\",\n    version=\"0.1.0\",\n    description=\"{}\",\n",
                        ctx.dist, plan.manifest.description
                    ));
                    if src_layout {
                        text.push_str("    packages=find_packages(where=\"src\"),\n    package_dir={\"\": \"src\"},\n");
                    } else {
                        text.push_str("    packages=find_packages(exclude=[\"tests\"]),\n");
                    }
                    text.push_str("    python_requires=\">=3.9\",\n");
                    if bound {
                        text.push_str("    install_requires=REQUIREMENTS,\n");
                    } else {
                        text.push_str(&format!(
                            "    install_requires={},\n",
                            list(&runtime, "    ")
                        ));
                    }
                    for r in &runtime {
                        f.dep(Eco::Python, &r.name, &r.spec, "main", src);
                    }
                    if !dev.is_empty() {
                        text.push_str(&format!(
                            "    extras_require={{\n        \"dev\": {},\n    }},\n",
                            list(&dev, "        ")
                        ));
                        for r in &dev {
                            f.dep(Eco::Python, &r.name, &r.spec, "optional:dev", src);
                        }
                        has_dev_extra = true;
                    }
                    text.push_str(")\n");
                    plan.add_with(src, text, f, &["setuptools"], None);
                }
                PyFlavour::SetupCfg => {
                    let src = "setup.cfg";
                    let mut f = Facts::default();
                    let lines = |reqs: &[Req]| -> String {
                        reqs.iter()
                            .map(|r| format!("\n    {}", r.pep508()))
                            .collect()
                    };
                    let mut text = format!(
                        "[metadata]\nname = {}\nversion = 0.1.0\ndescription = {}\n\n[options]\npackages = find:\npython_requires = >=3.9\ninstall_requires ={}\n",
                        ctx.dist,
                        plan.manifest.description,
                        lines(&runtime)
                    );
                    for r in &runtime {
                        f.dep(Eco::Python, &r.name, &r.spec, "main", src);
                    }
                    if src_layout {
                        text.push_str("\n[options.packages.find]\nwhere = src\n");
                    }
                    if !dev.is_empty() {
                        text.push_str(&format!(
                            "\n[options.extras_require]\ndev ={}\n",
                            lines(&dev)
                        ));
                        for r in &dev {
                            f.dep(Eco::Python, &r.name, &r.spec, "optional:dev", src);
                        }
                        has_dev_extra = true;
                    }
                    for (tool, section) in [
                        (
                            "flake8",
                            "[flake8]\nmax-line-length = 100\nextend-ignore = E203\n",
                        ),
                        ("mypy", "[mypy]\nstrict = True\n"),
                        ("pytest", "[tool:pytest]\naddopts = -q\ntestpaths = tests\n"),
                        ("isort", "[isort]\nprofile = black\n"),
                    ] {
                        if cfg(tool) && config_at(tool) == ConfigAt::SetupCfg {
                            text.push('\n');
                            text.push_str(section);
                            f.tools(&[TOOLS.iter().find(|(t, _)| *t == tool).expect("known").0]);
                        }
                    }
                    plan.add_with(src, text, f, &[], None);
                    plan.add_with(
                        "setup.py",
                        "from setuptools import setup\n\nsetup()\n".into(),
                        Facts::default(),
                        &["setuptools"],
                        None,
                    );
                }
                _ => {
                    // requirements files with -r includes.
                    let line = |r: &Req, rng: &mut Rng| -> String {
                        let mut s = r.pep508();
                        if r.spec.starts_with("==") && rng.chance(0.3) {
                            s.push_str(" --hash=sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
                        } else if rng.chance(0.15) {
                            s.push_str("  # pinned by the platform team");
                        }
                        s.push('\n');
                        s
                    };
                    if rng.chance(0.6) {
                        let mut f = Facts::default();
                        let mut text = String::from("# Runtime dependencies\n");
                        for r in &runtime {
                            text.push_str(&line(r, rng));
                            f.dep(Eco::Python, &r.name, &r.spec, "main", "requirements.txt");
                        }
                        plan.add_with("requirements.txt", text, f, &[], None);
                        let mut f = Facts::default();
                        let mut text = String::from("-r requirements.txt\n\n");
                        for r in &dev {
                            text.push_str(&line(r, rng));
                            f.dep(Eco::Python, &r.name, &r.spec, "dev", "requirements-dev.txt");
                        }
                        plan.add_with("requirements-dev.txt", text, f, &[], None);
                    } else {
                        plan.add("requirements.txt", "-r requirements/base.txt\n".into());
                        let mut f = Facts::default();
                        let mut text = String::new();
                        for r in &runtime {
                            text.push_str(&line(r, rng));
                            f.dep(
                                Eco::Python,
                                &r.name,
                                &r.spec,
                                "main",
                                "requirements/base.txt",
                            );
                        }
                        plan.add_with("requirements/base.txt", text, f, &[], None);
                        let mut f = Facts::default();
                        let mut text = String::from("-r base.txt\n");
                        for r in &dev {
                            text.push_str(&line(r, rng));
                            f.dep(Eco::Python, &r.name, &r.spec, "dev", "requirements/dev.txt");
                        }
                        plan.add_with("requirements/dev.txt", text, f, &[], None);
                    }
                }
            }
        }
    }
    let _ = dev_group_name;

    // tox.ini
    if tox {
        let mut f = Facts::default();
        let mut envs: Vec<(&str, Vec<Req>, Cmd)> = Vec::new();
        if tools.contains(&"pytest") {
            let spec = if poetry { "" } else { ">=8.0" };
            envs.push((
                "py",
                vec![Req {
                    name: "pytest".into(),
                    spec: spec.into(),
                    extras: None,
                    marker: None,
                }],
                cmd("pytest {posargs}", &["pytest"]),
            ));
        } else {
            envs.push(("py", Vec::new(), cmd("python -m unittest discover", &[])));
        }
        if tools.contains(&"ruff") {
            envs.push((
                "lint",
                vec![Req {
                    name: "ruff".into(),
                    spec: String::new(),
                    extras: None,
                    marker: None,
                }],
                cmd("ruff check .", &["ruff"]),
            ));
        } else if tools.contains(&"flake8") {
            envs.push((
                "lint",
                vec![Req {
                    name: "flake8".into(),
                    spec: String::new(),
                    extras: None,
                    marker: None,
                }],
                cmd("flake8 .", &["flake8"]),
            ));
        }
        let names: Vec<&str> = envs.iter().map(|e| e.0).collect();
        let mut text = format!(
            "[tox]\nenvlist = {}\nisolated_build = true\n",
            names.join(", ")
        );
        for (env, deps, command) in &envs {
            text.push_str(&format!("\n[testenv:{env}]\n"));
            if !deps.is_empty() {
                text.push_str("deps =\n");
                for d in deps {
                    text.push_str(&format!("    {}\n", d.pep508()));
                    f.dep(Eco::Python, &d.name, &d.spec, "tox", "tox.ini");
                }
            }
            text.push_str(&format!("commands =\n    {}\n", command.text));
            f.script("tox.ini", env, command);
        }
        plan.add_with("tox.ini", text, f, &["tox"], None);
    }

    // pre-commit hooks.
    if precommit {
        for &tool in &tools {
            if !signals.get(tool).is_some_and(|s| s.hook) {
                continue;
            }
            let hr = match tool {
                "ruff" => HookRepo {
                    url: "https://github.com/astral-sh/ruff-pre-commit",
                    rev: Some(rng.pick(&["v0.4.4", "v0.5.0", "v0.6.9"])),
                    hooks: if rng.chance(0.6) {
                        vec![
                            HookDef {
                                id: "ruff",
                                tool: Some("ruff"),
                                extra: &["args: [--fix]"],
                            },
                            HookDef {
                                id: "ruff-format",
                                tool: Some("ruff"),
                                extra: &[],
                            },
                        ]
                    } else {
                        vec![HookDef {
                            id: "ruff",
                            tool: Some("ruff"),
                            extra: &[],
                        }]
                    },
                },
                "black" => HookRepo {
                    url: "https://github.com/psf/black-pre-commit-mirror",
                    rev: Some("24.4.2"),
                    hooks: vec![HookDef {
                        id: "black",
                        tool: Some("black"),
                        extra: &[],
                    }],
                },
                "isort" => HookRepo {
                    url: "https://github.com/pycqa/isort",
                    rev: Some("5.13.2"),
                    hooks: vec![HookDef {
                        id: "isort",
                        tool: Some("isort"),
                        extra: &["name: isort (python)"],
                    }],
                },
                "flake8" => HookRepo {
                    url: "https://github.com/pycqa/flake8",
                    rev: Some("7.0.0"),
                    hooks: vec![HookDef {
                        id: "flake8",
                        tool: Some("flake8"),
                        extra: &[],
                    }],
                },
                "mypy" => HookRepo {
                    url: "https://github.com/pre-commit/mirrors-mypy",
                    rev: Some("v1.10.0"),
                    hooks: vec![HookDef {
                        id: "mypy",
                        tool: Some("mypy"),
                        extra: &["additional_dependencies: [types-requests]"],
                    }],
                },
                _ => HookRepo {
                    url: "local",
                    rev: None,
                    hooks: vec![HookDef {
                        id: "pylint",
                        tool: Some("pylint"),
                        extra: &[
                            "name: pylint",
                            "entry: pylint",
                            "language: system",
                            "types: [python]",
                        ],
                    }],
                },
            };
            ctx.hook_repos.push(hr);
        }
    }

    // README / CONTRIBUTING commands.
    ctx.install.push(match flavour {
        PyFlavour::Uv if rng.chance(0.5) => cmd(format!("uv add {}", ctx.dist), &["uv"]),
        PyFlavour::Poetry if rng.chance(0.3) => {
            cmd(format!("poetry add {}", ctx.dist), &["poetry"])
        }
        _ => cmd(format!("pip install {}", ctx.dist), &["pip"]),
    });
    if precommit {
        ctx.dev_cmds
            .push(cmd("pre-commit install", &["pre-commit"]));
    }
    if tox && rng.chance(0.5) {
        ctx.dev_cmds.push(cmd("tox -e py", &["tox"]));
    } else if tools.contains(&"pytest") {
        ctx.dev_cmds.push(match flavour.runner() {
            Some((prefix, runner)) => cmd(format!("{prefix}pytest"), &[runner, "pytest"]),
            None => cmd("pytest", &["pytest"]),
        });
    }

    // Workflows.
    if ci {
        let mut steps = vec![checkout(rng)];
        match flavour {
            PyFlavour::Uv => steps.push(uses(None, "astral-sh/setup-uv", "v3", &[], Some("uv"))),
            PyFlavour::Poetry if rng.chance(0.5) => {
                steps.push(uses(
                    None,
                    "actions/setup-python",
                    "v5",
                    &[("python-version", "${{ matrix.python-version }}")],
                    None,
                ));
                steps.push(uses(None, "snok/install-poetry", "v1", &[], Some("poetry")));
            }
            PyFlavour::Poetry => {
                steps.push(uses(
                    None,
                    "actions/setup-python",
                    "v5",
                    &[("python-version", "${{ matrix.python-version }}")],
                    None,
                ));
                steps.push(run("Install Poetry", cmd("pipx install poetry", &[])));
            }
            _ => steps.push(uses(
                None,
                "actions/setup-python",
                rng.pick(&["v5", "v4"]),
                &[("python-version", "${{ matrix.python-version }}")],
                None,
            )),
        }
        let install = match flavour {
            PyFlavour::Poetry => cmd("poetry install", &["poetry"]),
            PyFlavour::Uv => cmd("uv sync --all-groups", &["uv"]),
            PyFlavour::Hatch => cmd("python -m pip install hatch", &["pip"]),
            PyFlavour::Requirements => {
                let file = if plan.has("requirements-dev.txt") {
                    "requirements-dev.txt"
                } else {
                    "requirements/dev.txt"
                };
                cmd(format!("pip install -r {file}"), &["pip"])
            }
            _ if has_dev_extra => {
                if rng.chance(0.5) {
                    cmd(
                        "python -m pip install --upgrade pip\npip install -e \".[dev]\"",
                        &["pip"],
                    )
                } else {
                    cmd("pip install -e .[dev]", &["pip"])
                }
            }
            _ => cmd("pip install -e .", &["pip"]),
        };
        steps.push(run("Install dependencies", install));
        for &tool in &tools {
            if !signals.get(tool).is_some_and(|s| s.ci) {
                continue;
            }
            let (step, text) = match tool {
                "ruff" => ("Lint", "ruff check ."),
                "black" => ("Format", "black --check ."),
                "isort" => ("Imports", "isort --check-only --diff ."),
                "flake8" => ("Flake8", "flake8 ."),
                "mypy" => ("Type check", if src_layout { "mypy src" } else { "mypy ." }),
                "pylint" => ("Pylint", "pylint --recursive=y ."),
                _ => ("Test", "pytest -q"),
            };
            let c = match flavour.runner() {
                Some((prefix, runner)) => cmd(format!("{prefix}{text}"), &[runner, tool]),
                None if tool == "pytest" && rng.chance(0.4) => cmd("python -m pytest", &["pytest"]),
                None => cmd(text, &[tool]),
            };
            let tool = TOOLS.iter().find(|(t, _)| *t == tool).expect("known").0;
            let _ = tool;
            steps.push(run(step, c));
        }
        if tox && rng.chance(0.5) {
            steps.push(run("Tox", cmd("pip install tox && tox", &["pip", "tox"])));
        }
        if precommit && rng.chance(0.4) {
            steps.push(uses(
                None,
                "pre-commit/action",
                "v3.0.1",
                &[],
                Some("pre-commit"),
            ));
        }
        let mut jobs = vec![Job {
            id: "test".into(),
            matrix: Some("python-version: [\"3.10\", \"3.11\", \"3.12\"]".into()),
            steps,
            reusable: None,
        }];
        if rng.chance(0.08) {
            jobs.push(Job {
                id: "org-checks".into(),
                matrix: None,
                steps: Vec::new(),
                reusable: Some((
                    format!("{}/.github/.github/workflows/checks.yml", ctx.owner),
                    "main".into(),
                )),
            });
        }
        workflow(
            plan,
            &format!(".github/workflows/{wf_name}"),
            "CI",
            " [push, pull_request]",
            jobs,
        );
        if rng.chance(0.2) {
            let build = if flavour == PyFlavour::Poetry {
                cmd("poetry build", &["poetry"])
            } else {
                cmd("python -m pip install build && python -m build", &["pip"])
            };
            let steps = vec![
                checkout(rng),
                uses(
                    None,
                    "actions/setup-python",
                    "v5",
                    &[("python-version", "\"3.12\"")],
                    None,
                ),
                run("Build", build),
                uses(
                    Some("Publish"),
                    "pypa/gh-action-pypi-publish",
                    "release/v1",
                    &[],
                    None,
                ),
            ];
            workflow(
                plan,
                ".github/workflows/release.yml",
                "Release",
                "\n  release:\n    types: [published]",
                vec![Job {
                    id: "publish".into(),
                    matrix: None,
                    steps,
                    reusable: None,
                }],
            );
        }
    }
}

/// Python modules and tests; returns whether it is a src layout.
fn plan_python_code(plan: &mut RepoPlan, rng: &mut Rng, ctx: &mut Ctx) -> bool {
    let src_layout = rng.chance(0.6);
    let dir = if src_layout {
        format!("src/{}", ctx.pkg)
    } else {
        ctx.pkg.clone()
    };
    let modules = if rng.chance(0.1) {
        rng.range(80, 250)
    } else {
        rng.range(3, 40)
    } as usize;
    plan.add(
        &format!("{dir}/__init__.py"),
        format!(
            "\"\"\"{}.\"\"\"\n\n__version__ = \"0.1.0\"\n",
            plan.manifest.description
        ),
    );
    let mut names = Vec::new();
    for i in 0..modules {
        let word = rng.pick(WORDS);
        let name = format!("{word}_{i}");
        let text = python_module(word, i, rng);
        ctx.code_bytes += text.len() as u64;
        plan.add(&format!("{dir}/{name}.py"), text);
        names.push(name);
    }
    if rng.chance(0.8) {
        plan.add("tests/__init__.py", String::new());
        for name in names.iter().take(rng.range(1, 8) as usize) {
            let idx: usize = name
                .rsplit('_')
                .next()
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
            plan.add(
                &format!("tests/test_{name}.py"),
                format!(
                    "from {pkg}.{name} import total_{idx}\n\n\ndef test_total() -> None:\n    assert total_{idx}([1, 2]) == {}\n",
                    3 * (idx + 1),
                    pkg = ctx.pkg
                ),
            );
        }
    }
    src_layout
}

fn python_module(word: &str, i: usize, rng: &mut Rng) -> String {
    let class = format!("{}{}", word[..1].to_uppercase(), &word[1..]);
    let mut s = format!(
        "\"\"\"{class} helpers ({i}).\"\"\"\n\nfrom __future__ import annotations\n\nfrom dataclasses import dataclass\n\n\n@dataclass\nclass {class}{i}:\n    name: str\n    value: int = {v}\n\n    def scaled(self, factor: int) -> int:\n        return self.value * factor\n\n\ndef total_{i}(items: list[int]) -> int:\n    \"\"\"Sum of the items times {m}.\"\"\"\n    return sum(items) * {m}\n",
        v = rng.range(0, 100),
        m = i + 1
    );
    for k in 0..rng.range(0, 6) {
        s.push_str(&format!(
            "\n\ndef {word}_{i}_{k}(value: int) -> int:\n    if value > {t}:\n        return value - {t}\n    return value + {k}\n",
            t = rng.range(1, 1000)
        ));
    }
    s
}

// ---------------------------------------------------------------------------
// JavaScript / TypeScript
// ---------------------------------------------------------------------------

fn json_str(s: &str) -> String {
    serde_json::to_string(s).expect("a string serializes")
}

/// `{ "k": v, ... }` with `v` raw JSON, indented at `indent` spaces.
fn json_object(entries: &[(String, String)], indent: usize) -> String {
    if entries.is_empty() {
        return "{}".into();
    }
    let pad = " ".repeat(indent + 2);
    let body: Vec<String> = entries
        .iter()
        .map(|(k, v)| format!("{pad}{}: {v}", json_str(k)))
        .collect();
    format!("{{\n{}\n{}}}", body.join(",\n"), " ".repeat(indent))
}

fn js_part(
    plan: &mut RepoPlan,
    rng: &mut Rng,
    ctx: &mut Ctx,
    ts: bool,
    code_root: &str,
    wf_name: &str,
) {
    let src = "package.json";
    let eslint = rng.chance(0.75);
    let prettier = rng.chance(0.55);
    let test = match rng.weighted(&[0.35, 0.3, 0.35]) {
        0 => Some("jest"),
        1 => Some("vitest"),
        _ => None,
    };
    let bundler = match rng.weighted(&[0.3, 0.15, 0.55]) {
        0 => Some("vite"),
        1 => Some("webpack"),
        _ => None,
    };
    let pm = ["npm", "pnpm", "yarn"][rng.weighted(&[0.65, 0.25, 0.1])];
    plan.manifest.package_manager = Some(pm.into());
    let precommit = rng.chance(0.15);
    ctx.precommit |= precommit;
    let ext = if ts { "ts" } else { "js" };
    let mut pkg = Facts::default();
    let mut deps: Vec<(String, String)> = Vec::new();
    let mut dev: Vec<(String, String)> = Vec::new();
    let mut peer: Vec<(String, String)> = Vec::new();
    let mut extra_keys: Vec<(String, String)> = Vec::new();

    let mut react = false;
    for (name, p, specs) in JS_DEPS {
        if rng.chance(*p) {
            deps.push((name.to_string(), rng.pick(specs).to_string()));
            react |= *name == "react";
        }
    }
    if react {
        let spec = deps
            .iter()
            .find(|d| d.0 == "react")
            .expect("react")
            .1
            .clone();
        deps.push(("react-dom".into(), spec));
        if rng.chance(0.2) {
            deps.push(("@tanstack/react-query".into(), "^5.45.0".into()));
        }
        if rng.chance(0.3) {
            peer.push(("react".into(), rng.pick(&[">=17", "^18.0.0"]).to_string()));
        }
    }
    if deps.is_empty() {
        deps.push(("lodash".into(), "^4.17.21".into()));
    }
    // Tools, their dev dependencies and config files.
    if ts {
        dev.push((
            "typescript".into(),
            rng.pick(&["^5.4.5", "~5.5.2", "^5.0.0"]).to_string(),
        ));
        if rng.chance(0.6) {
            dev.push(("@types/node".into(), "^20.14.2".into()));
        }
        let extends = rng.chance(0.3);
        if extends {
            dev.push(("@tsconfig/node20".into(), "^20.1.4".into()));
        }
        let trailing = if rng.chance(0.5) { "," } else { "" };
        let text = format!(
            "{{\n  // TypeScript configuration for {name}\n{ext}  \"compilerOptions\": {{\n    \"target\": \"ES2022\",\n    \"module\": \"ESNext\",\n    \"moduleResolution\": \"bundler\",\n    \"strict\": true, /* house style */\n    \"outDir\": \"dist\",\n    \"declaration\": true{trailing}\n  }},\n  \"include\": [\"{code_root}src\"]\n}}\n",
            name = ctx.name,
            ext = if extends {
                "  \"extends\": \"@tsconfig/node20/tsconfig.json\",\n"
            } else {
                ""
            },
        );
        plan.add_with(
            "tsconfig.json",
            text,
            Facts::default(),
            &["typescript"],
            Some(Syntax::Json),
        );
    }
    if eslint {
        let style = rng.weighted(&[0.45, 0.3, 0.2, 0.05]);
        dev.push((
            "eslint".into(),
            if style == 0 { "^9.5.0" } else { "^8.57.0" }.into(),
        ));
        match style {
            0 => {
                dev.push(("@eslint/js".into(), "^9.5.0".into()));
                let text = if ts {
                    dev.push(("typescript-eslint".into(), "^7.13.0".into()));
                    "// @ts-check\nimport js from \"@eslint/js\";\nimport tseslint from \"typescript-eslint\";\n\nexport default [\n  js.configs.recommended,\n  ...tseslint.configs.recommended,\n  { rules: { \"no-console\": \"warn\" } },\n];\n"
                } else {
                    "import js from \"@eslint/js\";\n\nexport default [\n  js.configs.recommended,\n  { rules: { \"no-console\": \"warn\" } },\n];\n"
                };
                plan.add_with(
                    "eslint.config.js",
                    text.into(),
                    Facts::default(),
                    &["eslint"],
                    None,
                );
            }
            1 => {
                let mut extends = vec!["\"eslint:recommended\""];
                if ts {
                    dev.push(("@typescript-eslint/parser".into(), "^7.13.0".into()));
                    dev.push(("@typescript-eslint/eslint-plugin".into(), "^7.13.0".into()));
                    extends.push("\"plugin:@typescript-eslint/recommended\"");
                }
                if prettier {
                    extends.push("\"prettier\"");
                }
                let text = format!(
                    "{{\n  // shared lint rules\n  \"root\": true,\n  \"env\": {{ \"node\": true, \"es2022\": true }},\n  \"extends\": [{}],\n  \"rules\": {{ \"no-console\": \"warn\" }}\n}}\n",
                    extends.join(", ")
                );
                plan.add_with(
                    ".eslintrc.json",
                    text,
                    Facts::default(),
                    &["eslint"],
                    Some(Syntax::Json),
                );
            }
            2 => {
                let text = "root: true\nenv:\n  node: true\n  es2022: true\nextends:\n  - eslint:recommended\nrules:\n  no-console: warn\n";
                plan.add_with(
                    ".eslintrc.yml",
                    text.into(),
                    Facts::default(),
                    &["eslint"],
                    Some(Syntax::Yaml),
                );
            }
            _ => {
                extra_keys.push((
                    "eslintConfig".into(),
                    "{ \"extends\": [\"eslint:recommended\"] }".into(),
                ));
                pkg.tools(&["eslint"]);
            }
        }
        if prettier && rng.chance(0.5) {
            dev.push(("eslint-config-prettier".into(), "^9.1.0".into()));
        }
    }
    if prettier {
        dev.push((
            "prettier".into(),
            rng.pick(&["^3.3.2", "3.3.2", "^2.8.8"]).to_string(),
        ));
        match rng.weighted(&[0.5, 0.3, 0.2]) {
            0 => {
                plan.add_with(
                    ".prettierrc.json",
                    "{ \"semi\": true, \"singleQuote\": true, \"printWidth\": 100 }\n".into(),
                    Facts::default(),
                    &["prettier"],
                    Some(Syntax::Json),
                );
            }
            1 => extra_keys.push(("prettier".into(), "{ \"singleQuote\": true }".into())),
            _ => {}
        }
    }
    match test {
        Some("jest") => {
            dev.push(("jest".into(), "^29.7.0".into()));
            if ts {
                dev.push(("ts-jest".into(), "^29.1.5".into()));
                dev.push(("@types/jest".into(), "^29.5.12".into()));
            }
            match rng.weighted(&[0.5, 0.3, 0.2]) {
                0 => {
                    plan.add_with(
                        "jest.config.js",
                        "module.exports = { testEnvironment: \"node\" };\n".into(),
                        Facts::default(),
                        &["jest"],
                        None,
                    );
                }
                1 => {
                    extra_keys.push(("jest".into(), "{ \"testEnvironment\": \"node\" }".into()));
                    pkg.tools(&["jest"]);
                }
                _ => {}
            }
        }
        Some(_) => {
            dev.push(("vitest".into(), rng.pick(&["^1.6.0", "^2.0.0"]).to_string()));
            if rng.chance(0.5) {
                plan.add_with(
                    &format!("vitest.config.{ext}"),
                    "import { defineConfig } from \"vitest/config\";\n\nexport default defineConfig({ test: { environment: \"node\" } });\n".into(),
                    Facts::default(),
                    &["vitest"],
                    None,
                );
            }
        }
        None => {}
    }
    match bundler {
        Some("vite") => {
            dev.push(("vite".into(), rng.pick(&["^5.3.1", "^5.2.0"]).to_string()));
            if react {
                dev.push(("@vitejs/plugin-react".into(), "^4.3.1".into()));
            }
            plan.add_with(
                &format!("vite.config.{ext}"),
                "import { defineConfig } from \"vite\";\n\nexport default defineConfig({});\n"
                    .into(),
                Facts::default(),
                &["vite"],
                None,
            );
        }
        Some(_) => {
            dev.push(("webpack".into(), "^5.92.0".into()));
            dev.push(("webpack-cli".into(), "^5.1.4".into()));
            plan.add_with(
                "webpack.config.js",
                format!("module.exports = {{\n  mode: \"production\",\n  entry: \"./{code_root}src/index.{ext}\",\n}};\n"),
                Facts::default(),
                &["webpack"],
                None,
            );
        }
        None => {}
    }

    // Scripts.
    let run_script = |name: &str| -> Cmd {
        match pm {
            "npm" => cmd(format!("npm run {name}"), &["npm"]),
            "pnpm" => cmd(format!("pnpm run {name}"), &["pnpm"]),
            _ => cmd(format!("yarn {name}"), &["yarn"]),
        }
    };
    let mut scripts: Vec<(&str, Cmd)> = Vec::new();
    match (ts, bundler) {
        (true, Some("vite")) => {
            scripts.push(("build", cmd("tsc && vite build", &["typescript", "vite"])))
        }
        (_, Some("vite")) => scripts.push(("build", cmd("vite build", &["vite"]))),
        (_, Some(_)) => scripts.push(("build", cmd("webpack --mode production", &["webpack"]))),
        (true, None) => scripts.push(("build", cmd("tsc -p tsconfig.json", &["typescript"]))),
        (false, None) => {}
    }
    match bundler {
        Some("vite") => scripts.push(("dev", cmd("vite", &["vite"]))),
        Some(_) => scripts.push(("dev", cmd("webpack serve --mode development", &["webpack"]))),
        None => {}
    }
    match test {
        Some("jest") => scripts.push((
            "test",
            cmd(rng.pick(&["jest", "jest --coverage"]), &["jest"]),
        )),
        Some(_) => scripts.push(("test", cmd("vitest run", &["vitest"]))),
        None if rng.chance(0.5) => scripts.push((
            "test",
            cmd("echo \"Error: no test specified\" && exit 1", &[]),
        )),
        None => {}
    }
    if eslint {
        scripts.push(("lint", cmd(format!("eslint {code_root}src"), &["eslint"])));
        if pm == "npm" && rng.chance(0.3) {
            scripts.push(("lint:fix", cmd("npm run lint -- --fix", &["npm"])));
        }
    }
    if prettier {
        scripts.push(("format", cmd("prettier --write .", &["prettier"])));
    }
    if ts && rng.chance(0.6) {
        scripts.push(("typecheck", cmd("tsc --noEmit", &["typescript"])));
    }
    if rng.chance(0.3) {
        scripts.push(("start", cmd("node dist/index.js", &["node"])));
    }
    for (name, c) in &scripts {
        pkg.script(src, name, c);
    }

    // package.json
    let version = format!(
        "{}.{}.{}",
        rng.range(0, 3),
        rng.range(0, 20),
        rng.range(0, 9)
    );
    let mut entries: Vec<(String, String)> = vec![
        (
            "name".into(),
            json_str(&format!("@{}/{}", ctx.owner.to_lowercase(), ctx.name)),
        ),
        ("version".into(), json_str(&version)),
        ("private".into(), "true".into()),
        ("description".into(), json_str(&plan.manifest.description)),
    ];
    if rng.chance(0.5) {
        entries.push(("type".into(), json_str("module")));
    }
    if !scripts.is_empty() {
        let s: Vec<(String, String)> = scripts
            .iter()
            .map(|(n, c)| (n.to_string(), json_str(&c.text)))
            .collect();
        entries.push(("scripts".into(), json_object(&s, 2)));
    }
    for (table, list, group) in [
        ("dependencies", &deps, "main"),
        ("devDependencies", &dev, "dev"),
        ("peerDependencies", &peer, "peer"),
    ] {
        if list.is_empty() {
            continue;
        }
        let s: Vec<(String, String)> = list.iter().map(|(n, v)| (n.clone(), json_str(v))).collect();
        entries.push((table.into(), json_object(&s, 2)));
        for (n, v) in list {
            pkg.dep(Eco::Javascript, n, v, group, src);
        }
    }
    if rng.chance(0.3) {
        entries.push(("engines".into(), "{ \"node\": \">=18\" }".into()));
        pkg.tools(&["node"]);
    }
    match pm {
        "pnpm" if rng.chance(0.6) => {
            entries.push(("packageManager".into(), json_str("pnpm@9.4.0")));
            pkg.tools(&["pnpm"]);
        }
        "yarn" if rng.chance(0.5) => {
            entries.push(("packageManager".into(), json_str("yarn@1.22.22")));
            pkg.tools(&["yarn"]);
        }
        _ => {}
    }
    entries.extend(extra_keys);
    plan.add_with(
        src,
        json_object(&entries, 0) + "\n",
        pkg,
        &[],
        Some(Syntax::Json),
    );
    if rng.chance(0.85) {
        let (path, text) = match pm {
            "npm" => (
                "package-lock.json",
                format!("{{\n  \"name\": {},\n  \"lockfileVersion\": 3,\n  \"requires\": true,\n  \"packages\": {{}}\n}}\n", json_str(&ctx.name)),
            ),
            "pnpm" => ("pnpm-lock.yaml", "lockfileVersion: '9.0'\n".to_string()),
            _ => ("yarn.lock", "# THIS IS AN AUTOGENERATED FILE. DO NOT EDIT THIS FILE DIRECTLY.\n# yarn lockfile v1\n".to_string()),
        };
        let tool = match pm {
            "npm" => "npm",
            "pnpm" => "pnpm",
            _ => "yarn",
        };
        plan.add_with(path, text, Facts::default(), &[tool], None);
    }

    // Code.
    let src_layout = !code_root.is_empty() || rng.chance(0.75);
    let dir = if src_layout {
        format!("{code_root}src")
    } else {
        "lib".into()
    };
    let modules = if rng.chance(0.1) {
        rng.range(60, 200)
    } else {
        rng.range(2, 30)
    } as usize;
    let entry = if src_layout {
        format!("{dir}/index.{ext}")
    } else {
        "index.js".into()
    };
    let mut names = Vec::new();
    for i in 0..modules {
        let word = rng.pick(WORDS);
        let name = format!("{word}{i}");
        let text = js_module(word, i, ts, rng);
        ctx.code_bytes += text.len() as u64;
        plan.add(&format!("{dir}/{name}.{ext}"), text);
        names.push(name);
    }
    plan.add(
        &entry,
        names
            .iter()
            .take(5)
            .map(|n| {
                format!(
                    "export * from \"./{}{n}\";\n",
                    if src_layout { "" } else { "lib/" }
                )
            })
            .collect(),
    );
    if test.is_some() || rng.chance(0.3) {
        let nested = rng.chance(0.5);
        for n in names.iter().take(rng.range(1, 5) as usize) {
            let path = if nested {
                format!("{dir}/__tests__/{n}.test.{ext}")
            } else {
                format!("{code_root}tests/{n}.test.{ext}")
            };
            plan.add(
                &path,
                format!("import {{ describe, it, expect }} from \"{}\";\n\ndescribe(\"{n}\", () => {{\n  it(\"works\", () => {{\n    expect(1 + 1).toBe(2);\n  }});\n}});\n",
                    if test == Some("vitest") { "vitest" } else { "@jest/globals" }),
            );
        }
    }

    // Hooks, README, CONTRIBUTING.
    if precommit {
        if eslint && rng.chance(0.6) {
            ctx.hook_repos.push(HookRepo {
                url: "https://github.com/pre-commit/mirrors-eslint",
                rev: Some("v9.5.0"),
                hooks: vec![HookDef {
                    id: "eslint",
                    tool: Some("eslint"),
                    extra: &[],
                }],
            });
        }
        if prettier && rng.chance(0.6) {
            ctx.hook_repos.push(HookRepo {
                url: "https://github.com/pre-commit/mirrors-prettier",
                rev: Some("v3.1.0"),
                hooks: vec![HookDef {
                    id: "prettier",
                    tool: Some("prettier"),
                    extra: &[],
                }],
            });
        }
        ctx.dev_cmds
            .push(cmd("pre-commit install", &["pre-commit"]));
    }
    let npm_name = format!("@{}/{}", ctx.owner.to_lowercase(), ctx.name);
    ctx.install.push(match pm {
        "npm" => cmd(format!("npm install {npm_name}"), &["npm"]),
        "pnpm" => cmd(format!("pnpm add {npm_name}"), &["pnpm"]),
        _ => cmd(format!("yarn add {npm_name}"), &["yarn"]),
    });
    if scripts.iter().any(|(n, _)| *n == "test") {
        ctx.dev_cmds.push(match pm {
            "npm" => cmd("npm test", &["npm"]),
            "pnpm" => cmd("pnpm test", &["pnpm"]),
            _ => cmd("yarn test", &["yarn"]),
        });
    }

    // Workflow.
    if rng.chance(0.75) {
        let mut steps = vec![checkout(rng)];
        if pm == "pnpm" {
            steps.push(uses(None, "pnpm/action-setup", "v4", &[], Some("pnpm")));
        }
        steps.push(uses(
            None,
            "actions/setup-node",
            rng.pick(&["v4", "v3"]),
            &[("node-version", "20"), ("cache", pm)],
            Some("node"),
        ));
        steps.push(run(
            "Install",
            match pm {
                "npm" => cmd("npm ci", &["npm"]),
                "pnpm" => cmd("pnpm install --frozen-lockfile", &["pnpm"]),
                _ => cmd("yarn install --frozen-lockfile", &["yarn"]),
            },
        ));
        for (name, step) in [("lint", "Lint"), ("test", "Test"), ("build", "Build")] {
            if scripts.iter().any(|(n, _)| *n == name) {
                steps.push(run(step, run_script(name)));
            }
        }
        if prettier && pm == "npm" && rng.chance(0.3) {
            steps.push(run(
                "Check formatting",
                cmd("npx prettier --check .", &["npm", "prettier"]),
            ));
        }
        workflow(
            plan,
            &format!(".github/workflows/{wf_name}"),
            if code_root.is_empty() {
                "CI"
            } else {
                "Frontend"
            },
            "\n  push:\n    branches: [main]\n  pull_request:",
            vec![Job {
                id: "build".into(),
                matrix: None,
                steps,
                reusable: None,
            }],
        );
    }
}

fn js_module(word: &str, i: usize, ts: bool, rng: &mut Rng) -> String {
    let (num, arr) = if ts {
        (": number", ": number[]")
    } else {
        ("", "")
    };
    let mut s = format!(
        "// {word} utilities ({i})\n\nexport const {word}Factor{i} = {};\n\nexport function total{i}(items{arr}){num} {{\n  return items.reduce((a, b) => a + b, 0) * {word}Factor{i};\n}}\n",
        rng.range(1, 50)
    );
    for k in 0..rng.range(0, 5) {
        s.push_str(&format!(
            "\nexport function {word}{i}x{k}(value{num}){num} {{\n  return value > {t} ? value - {t} : value + {k};\n}}\n",
            t = rng.range(1, 1000)
        ));
    }
    s
}

// ---------------------------------------------------------------------------
// Go, shell, Terraform, docs
// ---------------------------------------------------------------------------

fn other_part(plan: &mut RepoPlan, rng: &mut Rng, ctx: &mut Ctx, kind: Kind) {
    let mut steps = vec![checkout(rng)];
    let mut ci = false;
    match kind {
        Kind::Go => {
            plan.add(
                "go.mod",
                format!("module github.com/{}/{}\n\ngo 1.22\n", ctx.owner, ctx.name),
            );
            plan.add(
                &format!("cmd/{}/main.go", ctx.name),
                "package main\n\nimport \"fmt\"\n\nfunc main() {\n\tfmt.Println(\"hello\")\n}\n"
                    .into(),
            );
            for i in 0..rng.range(1, 12) {
                plan.add(
                    &format!("internal/{}/{}.go", rng.pick(WORDS), i),
                    format!("package internal\n\n// Value{i} returns {i}.\nfunc Value{i}() int {{ return {i} }}\n"),
                );
            }
            steps.push(uses(
                None,
                "actions/setup-go",
                "v5",
                &[("go-version", "\"1.22\"")],
                None,
            ));
            steps.push(run("Test", cmd("go test ./...", &[])));
            if rng.chance(0.6) {
                plan.add_with(
                    "Makefile",
                    "test:\n\tgo test ./...\n\nlint:\n\tgo vet ./...\n".into(),
                    Facts::default(),
                    &["make"],
                    None,
                );
                steps.push(run("Lint", cmd("make lint", &["make"])));
            }
            if rng.chance(0.5) {
                plan.add_with(
                    "Dockerfile",
                    "FROM golang:1.22 AS build\nWORKDIR /src\nCOPY . .\nRUN go build ./cmd/...\n"
                        .into(),
                    Facts::default(),
                    &["docker"],
                    None,
                );
                if rng.chance(0.5) {
                    steps.push(uses(
                        None,
                        "docker/build-push-action",
                        "v6",
                        &[("push", "false")],
                        Some("docker"),
                    ));
                }
            }
            ci = rng.chance(0.6);
        }
        Kind::Shell => {
            for i in 0..rng.range(2, 6) {
                plan.add(
                    &format!("scripts/{}-{i}.sh", rng.pick(WORDS)),
                    "#!/usr/bin/env bash\nset -euo pipefail\necho \"done\"\n".into(),
                );
            }
            steps.push(run("Syntax", cmd("bash -n scripts/*.sh", &[])));
            ci = rng.chance(0.4);
        }
        Kind::Terraform => {
            for f in ["main.tf", "variables.tf", "outputs.tf"] {
                plan.add(f, format!("# {f} for {}\n", ctx.name));
            }
            plan.add(
                "modules/network/main.tf",
                "resource \"null_resource\" \"x\" {}\n".into(),
            );
            steps.push(uses(None, "hashicorp/setup-terraform", "v3", &[], None));
            steps.push(run("Format", cmd("terraform fmt -check -recursive", &[])));
            ci = rng.chance(0.5);
        }
        _ => {
            for f in ["index.md", "getting-started.md", "architecture.md"] {
                plan.add(
                    &format!("docs/{f}"),
                    format!("# {f}\n\nDocumentation for {}.\n", ctx.owner),
                );
            }
        }
    }
    if rng.chance(0.2) {
        ctx.precommit = true;
    }
    if ci {
        workflow(
            plan,
            ".github/workflows/ci.yml",
            "CI",
            " [push, pull_request]",
            vec![Job {
                id: "check".into(),
                matrix: None,
                steps,
                reusable: None,
            }],
        );
    }
}

// ---------------------------------------------------------------------------
// Files every kind may have
// ---------------------------------------------------------------------------

const MIT: &str = "MIT License\n\nCopyright (c) 2024 {owner}\n\nPermission is hereby granted, free of charge, to any person obtaining a copy\nof this software and associated documentation files (the \"Software\"), to deal\nin the Software without restriction, including without limitation the rights\nto use, copy, modify, merge, publish, distribute, sublicense, and/or sell\ncopies of the Software, and to permit persons to whom the Software is\nfurnished to do so, subject to the following conditions:\n\nThe above copyright notice and this permission notice shall be included in all\ncopies or substantial portions of the Software.\n\nTHE SOFTWARE IS PROVIDED \"AS IS\", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR\nIMPLIED.\n";
const APACHE: &str = "                                 Apache License\n                           Version 2.0, January 2004\n                        http://www.apache.org/licenses/\n\n   TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION\n\n   1. Definitions.\n\n      \"License\" shall mean the terms and conditions for use, reproduction,\n      and distribution as defined by Sections 1 through 9 of this document.\n";
const BSD3: &str = "BSD 3-Clause License\n\nCopyright (c) 2024, {owner}\n\nRedistribution and use in source and binary forms, with or without\nmodification, are permitted provided that the following conditions are met:\n\n1. Redistributions of source code must retain the above copyright notice.\n2. Redistributions in binary form must reproduce the above copyright notice.\n3. Neither the name of the copyright holder nor the names of its\n   contributors may be used to endorse or promote products derived from\n   this software without specific prior written permission.\n";
const PROPRIETARY: &str = "Copyright (c) 2024 {owner}. All rights reserved.\n\nProprietary and confidential. Unauthorized copying of this file, via any\nmedium, is strictly prohibited.\n";

fn common_files(plan: &mut RepoPlan, rng: &mut Rng, ctx: &Ctx, kind: Kind) {
    // README.
    let title = format!("# {}\n\n{}.\n", ctx.name, plan.manifest.description);
    if rng.chance(0.05) {
        plan.add(
            "README.rst",
            format!(
                "{}\n{}\n\n{}.\n",
                ctx.name,
                "=".repeat(ctx.name.len()),
                plan.manifest.description
            ),
        );
    } else {
        let mut f = Facts::default();
        let mut text = title;
        if !ctx.install.is_empty() && rng.chance(0.8) {
            let style = rng.weighted(&[0.4, 0.2, 0.25, 0.15]);
            let (tag, prompt) = [("bash", ""), ("sh", ""), ("console", "$ "), ("", "$ ")][style];
            text.push_str(&format!("\n## Installation\n\n```{tag}\n"));
            for c in &ctx.install {
                text.push_str(&format!("{prompt}{}\n", c.text));
                f.tools(&c.tools);
            }
            text.push_str("```\n");
        }
        if matches!(kind, Kind::Python | Kind::Mixed) {
            text.push_str(&format!(
                "\n## Usage\n\n```python\nimport {}\n```\n",
                ctx.pkg
            ));
        }
        plan.add_with("README.md", text, f, &[], None);
    }
    // CONTRIBUTING.
    if rng.chance(0.4) {
        let path = if rng.chance(0.3) {
            ".github/CONTRIBUTING.md"
        } else {
            "CONTRIBUTING.md"
        };
        let mut f = Facts::default();
        let mut text = String::from(
            "# Contributing\n\nThanks for helping out! Open an issue first for larger changes.\n",
        );
        if !ctx.dev_cmds.is_empty() {
            text.push_str("\n## Development\n\n```console\n");
            for c in &ctx.dev_cmds {
                text.push_str(&format!("$ {}\n", c.text));
                f.tools(&c.tools);
            }
            text.push_str("All checks passed!\n```\n");
        }
        plan.add_with(path, text, f, &[], None);
    }
    // LICENSE.
    let license = match rng.weighted(&[0.4, 0.25, 0.1, 0.2, 0.05]) {
        0 => Some(("MIT", MIT)),
        1 => Some(("Apache-2.0", APACHE)),
        2 => Some(("BSD-3-Clause", BSD3)),
        3 => None,
        _ => Some(("NOASSERTION", PROPRIETARY)),
    };
    if let Some((spdx, text)) = license {
        let file = rng.pick(&[
            "LICENSE",
            "LICENSE",
            "LICENSE",
            "LICENSE",
            "LICENSE.md",
            "LICENSE.txt",
        ]);
        plan.add(file, text.replace("{owner}", &ctx.owner));
        plan.meta.license = Some(spdx.into());
        plan.manifest.structure.license = Some(spdx.into());
    }
    // Docs.
    if kind != Kind::Docs && rng.chance(0.35) {
        plan.add("docs/index.md", format!("# {}\n\nUser guide.\n", ctx.name));
        plan.add("docs/usage.md", "# Usage\n\nSee the README.\n".into());
    }
    plan.add(
        ".gitignore",
        "node_modules/\n__pycache__/\ndist/\n.venv/\n".into(),
    );
    // pre-commit.
    if ctx.precommit {
        let mut f = Facts::default();
        let mut text = String::from("# See https://pre-commit.com for more information\n");
        if rng.chance(0.3) {
            text.push_str("ci:\n  autoupdate_schedule: monthly\n");
        }
        text.push_str("repos:\n");
        let mut base_ids: Vec<&'static str> =
            vec!["trailing-whitespace", "end-of-file-fixer", "check-yaml"];
        if rng.chance(0.3) {
            base_ids.push("check-added-large-files");
        }
        let base = HookRepo {
            url: "https://github.com/pre-commit/pre-commit-hooks",
            rev: Some(rng.pick(&["v4.6.0", "v4.5.0"])),
            hooks: base_ids
                .into_iter()
                .map(|id| HookDef {
                    id,
                    tool: None,
                    extra: &[],
                })
                .collect(),
        };
        for hr in std::iter::once(&base).chain(&ctx.hook_repos) {
            text.push_str(&format!("  - repo: {}\n", hr.url));
            if let Some(rev) = hr.rev {
                text.push_str(&format!("    rev: {rev}\n"));
            }
            text.push_str("    hooks:\n");
            for h in &hr.hooks {
                text.push_str(&format!("      - id: {}\n", h.id));
                for line in h.extra {
                    text.push_str(&format!("        {line}\n"));
                }
                f.hooks.push(Hook {
                    repo: hr.url.into(),
                    rev: hr.rev.map(str::to_string),
                    id: h.id.into(),
                });
                if let Some(t) = h.tool {
                    f.tools(&[t]);
                }
            }
        }
        plan.add_with(
            ".pre-commit-config.yaml",
            text,
            f,
            &["pre-commit"],
            Some(Syntax::Yaml),
        );
    }
}

// ---------------------------------------------------------------------------
// Workflows
// ---------------------------------------------------------------------------

enum Step {
    Uses {
        name: Option<&'static str>,
        action: String,
        version: String,
        comment: Option<&'static str>,
        with: Vec<(String, String)>,
        tool: Option<&'static str>,
    },
    Run {
        name: String,
        cmd: Cmd,
    },
}

struct Job {
    id: String,
    matrix: Option<String>,
    steps: Vec<Step>,
    /// A reusable workflow: (path, ref).
    reusable: Option<(String, String)>,
}

fn uses(
    name: Option<&'static str>,
    action: &str,
    version: &str,
    with: &[(&str, &str)],
    tool: Option<&'static str>,
) -> Step {
    Step::Uses {
        name,
        action: action.into(),
        version: version.into(),
        comment: None,
        with: with
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        tool,
    }
}

fn checkout(rng: &mut Rng) -> Step {
    if rng.chance(0.15) {
        Step::Uses {
            name: None,
            action: "actions/checkout".into(),
            version: CHECKOUT_SHA.into(),
            comment: Some("v4.1.7"),
            with: Vec::new(),
            tool: None,
        }
    } else {
        let v: &str = rng.pick(&["v4", "v4", "v3"]);
        uses(None, "actions/checkout", v, &[], None)
    }
}

fn run(name: &str, cmd: Cmd) -> Step {
    Step::Run {
        name: name.into(),
        cmd,
    }
}

fn workflow(plan: &mut RepoPlan, path: &str, title: &str, on: &str, jobs: Vec<Job>) {
    let mut f = Facts::default();
    let mut text = format!("name: {title}\n\non:{on}\n\njobs:\n");
    for job in jobs {
        text.push_str(&format!("  {}:\n", job.id));
        if let Some((wf, r)) = &job.reusable {
            text.push_str(&format!("    uses: {wf}@{r}\n"));
            f.actions.push(Action {
                name: wf.clone(),
                version: Some(r.clone()),
            });
            continue;
        }
        text.push_str("    runs-on: ubuntu-latest\n");
        if let Some(m) = &job.matrix {
            text.push_str(&format!("    strategy:\n      matrix:\n        {m}\n"));
        }
        text.push_str("    steps:\n");
        for step in job.steps {
            match step {
                Step::Uses {
                    name,
                    action,
                    version,
                    comment,
                    with,
                    tool,
                } => {
                    if let Some(n) = name {
                        text.push_str(&format!(
                            "      - name: {n}\n        uses: {action}@{version}"
                        ));
                    } else {
                        text.push_str(&format!("      - uses: {action}@{version}"));
                    }
                    if let Some(c) = comment {
                        text.push_str(&format!(" # {c}"));
                    }
                    text.push('\n');
                    if !with.is_empty() {
                        text.push_str("        with:\n");
                        for (k, v) in with {
                            text.push_str(&format!("          {k}: {v}\n"));
                        }
                    }
                    f.actions.push(Action {
                        name: action,
                        version: Some(version),
                    });
                    if let Some(t) = tool {
                        f.tools(&[t]);
                    }
                }
                Step::Run { name, cmd } => {
                    text.push_str(&format!("      - name: {name}\n"));
                    if cmd.text.contains('\n') {
                        text.push_str("        run: |\n");
                        for line in cmd.text.lines() {
                            text.push_str(&format!("          {line}\n"));
                        }
                    } else {
                        text.push_str(&format!("        run: {}\n", cmd.text));
                    }
                    f.script(path, &name, &cmd);
                }
            }
        }
    }
    plan.add_with(path, text, f, &["github-actions"], Some(Syntax::Yaml));
}

// ---------------------------------------------------------------------------
// Malformed files, manifest, repositories on disk
// ---------------------------------------------------------------------------

fn choose_malformed(plans: &mut [RepoPlan], spec: &OrgSpec) -> io::Result<()> {
    let mut rng = Rng::new(spec.seed, u64::MAX - 1);
    let candidates: Vec<usize> = plans
        .iter()
        .enumerate()
        .filter(|(_, p)| p.files.iter().any(|f| f.syntax.is_some()))
        .map(|(i, _)| i)
        .collect();
    if candidates.len() < spec.malformed {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "malformed = {} but only {} repositories have TOML/JSON/YAML files",
                spec.malformed,
                candidates.len()
            ),
        ));
    }
    // Round-robin over TOML, JSON and YAML, each time in a repository that
    // has such a file (any syntax when none is left).
    let mut left = rng.choose(&candidates, candidates.len());
    for k in 0..spec.malformed {
        let want = [Syntax::Toml, Syntax::Json, Syntax::Yaml][k % 3];
        let pos = left
            .iter()
            .position(|&i| plans[i].files.iter().any(|f| f.syntax == Some(want)))
            .unwrap_or(0);
        let i = left.remove(pos);
        let files = &mut plans[i].files;
        let of_kind: Vec<usize> = (0..files.len())
            .filter(|&j| files[j].syntax == Some(want))
            .collect();
        let any: Vec<usize> = (0..files.len())
            .filter(|&j| files[j].syntax.is_some())
            .collect();
        let pool = if of_kind.is_empty() { any } else { of_kind };
        let f = &mut files[rng.pick(&pool)];
        f.text = match f.syntax.expect("filtered") {
            Syntax::Toml => format!(
                "{}\n[tool.broken\nreason = \"unterminated table header\"\n",
                f.text
            ),
            // After the first `{`, whatever the layout (some files are one line).
            Syntax::Json => f.text.replacen('{', "{ \"broken\": ,", 1),
            Syntax::Yaml => format!("{}\nbroken: [unclosed, flow\n", f.text),
        };
        f.malformed = true;
        f.facts = Facts::default();
    }
    Ok(())
}

const CODE_EXTENSIONS: &[&str] = &["py", "js", "mjs", "cjs", "jsx", "ts", "tsx", "go", "sh"];

/// The manifest entry from the plan (after malformed files were chosen).
fn finish_manifest(plan: &RepoPlan) -> RepoManifest {
    let mut m = plan.manifest.clone();
    if m.empty {
        return m;
    }
    let mut tools: BTreeSet<&'static str> = BTreeSet::new();
    let mut py = BTreeSet::new();
    let mut js = BTreeSet::new();
    let mut hooks = BTreeSet::new();
    let mut actions = BTreeSet::new();
    let mut scripts = BTreeSet::new();
    for f in &plan.files {
        tools.extend(f.presence.iter().copied());
        if f.malformed {
            m.malformed.push(f.path.clone());
            continue;
        }
        tools.extend(f.facts.tools.iter().copied());
        for (eco, d) in &f.facts.deps {
            match eco {
                Eco::Python => py.insert(d.clone()),
                _ => js.insert(d.clone()),
            };
        }
        hooks.extend(f.facts.hooks.iter().cloned());
        actions.extend(f.facts.actions.iter().cloned());
        scripts.extend(f.facts.scripts.iter().cloned());
    }
    for t in tools {
        let bucket = match tool_eco(t) {
            Eco::Python => &mut m.python.tools,
            Eco::Javascript => &mut m.javascript.tools,
            Eco::General => &mut m.general.tools,
        };
        bucket.push(t.to_string());
    }
    m.python.dependencies = py.into_iter().collect();
    m.javascript.dependencies = js.into_iter().collect();
    m.precommit_hooks = hooks.into_iter().collect();
    m.actions = actions.into_iter().collect();
    m.scripts = scripts.into_iter().collect();
    m.malformed.sort();
    let mut files: Vec<String> = plan
        .files
        .iter()
        .map(|f| f.path.clone())
        .chain(plan.assets.iter().map(|a| a.path.clone()))
        .collect();
    files.sort();
    let code = |p: &str| {
        p.rsplit('/')
            .next()
            .and_then(|n| n.rsplit_once('.'))
            .is_some_and(|(stem, ext)| !stem.is_empty() && CODE_EXTENSIONS.contains(&ext))
    };
    let root_dir = |p: &str| p.split_once('/').map(|(d, _)| d.to_string());
    let s = &mut m.structure;
    s.src_layout = files.iter().any(|p| p.starts_with("src/") && code(p));
    s.tests_dir = files.iter().any(|p| {
        matches!(root_dir(p).as_deref(), Some("tests" | "test" | "__tests__"))
            || p.split('/').any(|c| c == "__tests__")
    });
    s.docs_dir = files.iter().any(|p| {
        matches!(
            root_dir(p).as_deref(),
            Some("docs" | "doc" | "documentation")
        )
    });
    s.has_readme = files
        .iter()
        .any(|p| !p.contains('/') && p.to_ascii_lowercase().starts_with("readme"));
    s.has_contributing = files.iter().any(|p| {
        matches!(
            p.as_str(),
            "CONTRIBUTING.md" | ".github/CONTRIBUTING.md" | "docs/CONTRIBUTING.md"
        )
    });
    m.files = files;
    m
}

fn build_repo(root: &Path, owner: &str, plan: &RepoPlan) -> io::Result<RepoManifest> {
    let mut m = finish_manifest(plan);
    let mut r = repo::create(root, owner, &m.name)?;
    if !m.empty {
        if m.default_branch != "main" {
            r.on_branch(&m.default_branch);
        }
        let mut commits = 0;
        let first: BTreeSet<&str> = plan
            .first_commit
            .iter()
            .flatten()
            .map(String::as_str)
            .collect();
        if !first.is_empty() {
            for f in plan
                .files
                .iter()
                .filter(|f| first.contains(f.path.as_str()))
            {
                r.write(&f.path, &f.text);
            }
            r.commit("Initial commit")?;
            commits += 1;
        }
        for f in plan
            .files
            .iter()
            .filter(|f| !first.contains(f.path.as_str()))
        {
            r.write(&f.path, &f.text);
        }
        for a in &plan.assets {
            r.large_file(&a.path, a.size, a.seed);
        }
        let sha = r.commit(&format!("Add the {} project", m.kind))?;
        commits += 1;
        if m.default_branch != "main" {
            r.set_default_branch(&m.default_branch)?;
        }
        m.head = Some(sha);
        m.commits = commits;
    }
    r.set_metadata(&plan.meta)?;
    Ok(m)
}
