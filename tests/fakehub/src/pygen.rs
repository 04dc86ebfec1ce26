//! A generator of realistic Python projects (see [`python_project`]), for
//! benchmarks that run real tools (`ruff`, `mypy`, `pytest`) over a
//! repository.

use std::collections::{BTreeMap, BTreeSet};

use crate::repo::Repo;
use crate::rng::Rng;

/// What [`python_project`] wrote.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PythonProject {
    /// The import package (`src/<package>/`).
    pub package: String,
    /// The distribution name in `pyproject.toml`.
    pub project: String,
    /// `.py` files written (== the `files` argument).
    pub py_files: usize,
    /// Source modules under `src/` other than `__init__.py`.
    pub modules: usize,
    /// Packages (directories with an `__init__.py`) under `src/`.
    pub packages: usize,
    /// Test modules (`tests/test_*.py`, plus `conftest.py` if any).
    pub tests: usize,
    /// Lines of Python written.
    pub lines: usize,
    /// Findings planted on purpose, by ruff rule code (`F401`, `F841`,
    /// `F821`, `F541`, `E501`, `E712`, `E741`, `W291`, `I001`): what
    /// `ruff check` with the project's configuration reports, no more.
    pub planted: BTreeMap<&'static str, usize>,
}

impl PythonProject {
    /// All planted findings.
    pub fn findings(&self) -> usize {
        self.planted.values().sum()
    }
}

const ADJECTIVES: &[&str] = &[
    "amber", "bright", "cobalt", "crimson", "lunar", "mellow", "quiet", "rapid", "silver", "swift",
    "golden", "hidden",
];
const NOUNS: &[&str] = &[
    "harbor", "falcon", "meadow", "orbit", "canyon", "signal", "lantern", "summit", "willow",
    "forge", "beacon", "delta",
];
const PKG_WORDS: &[&str] = &[
    "core",
    "api",
    "models",
    "services",
    "storage",
    "utils",
    "billing",
    "auth",
    "events",
    "search",
    "reports",
    "tasks",
    "network",
    "cache",
    "config",
    "schemas",
    "handlers",
    "pipeline",
    "metrics",
    "workers",
    "adapters",
    "domain",
    "infra",
    "plugins",
    "exporters",
    "ingest",
    "scheduling",
    "notifications",
    "inventory",
    "accounts",
];
const MOD_WORDS: &[&str] = &[
    "client",
    "parser",
    "registry",
    "loader",
    "writer",
    "validator",
    "builder",
    "resolver",
    "mapper",
    "session",
    "helpers",
    "formatting",
    "queue",
    "policy",
    "backend",
    "router",
    "encoder",
    "decoder",
    "tokenizer",
    "index",
    "snapshot",
    "monitor",
    "transform",
    "filters",
    "settings",
    "factory",
    "gateway",
    "store",
    "manager",
    "dispatcher",
];
const CLASS_HEADS: &[&str] = &[
    "Order", "User", "Invoice", "Account", "Event", "Report", "Task", "Record", "Item", "Payment",
    "Session", "Message", "Metric", "Job", "Node", "Batch", "Ticket", "Profile", "Asset", "Query",
];
const CLASS_TAILS: &[&str] = &[
    "Manager",
    "Service",
    "Repository",
    "Builder",
    "Parser",
    "Config",
    "Handler",
    "Result",
    "Snapshot",
    "Policy",
    "Record",
    "Summary",
    "Request",
    "Response",
    "Store",
];
const VERBS: &[&str] = &[
    "load",
    "parse",
    "build",
    "compute",
    "filter",
    "merge",
    "normalize",
    "collect",
    "render",
    "validate",
    "resolve",
    "apply",
    "fetch",
    "group",
    "count",
    "split",
    "encode",
    "score",
    "rank",
    "summarize",
];
const OBJECTS: &[&str] = &[
    "items", "records", "values", "names", "totals", "weights", "tokens", "entries", "labels",
    "scores", "rows", "keys", "events", "ids", "batches",
];
const FIELDS: &[&str] = &[
    "count", "size", "weight", "priority", "retries", "limit", "level", "budget",
];
const CONSTS: &[&str] = &[
    "LIMIT",
    "TIMEOUT",
    "BATCH",
    "RETRIES",
    "THRESHOLD",
    "WINDOW",
    "CAPACITY",
];
const UNUSED_IMPORTS: &[&str] = &["os", "sys", "json", "re", "time", "random"];
const SENTENCES: &[&str] = &[
    "Keeps the hot path free of I/O so callers can batch their work.",
    "The helpers here are pure and safe to call from several threads.",
    "Values are validated once at the boundary and trusted afterwards.",
    "Nothing in this module talks to the network.",
    "Inputs are never mutated; every helper returns a new object.",
    "Logging is at debug level only, to keep production logs quiet.",
];

/// Line length configured for ruff (E501).
const LINE_LENGTH: usize = 88;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Shape {
    FilterInts,
    SplitText,
    Aggregate,
    CountMap,
}

const SHAPES: [Shape; 4] = [
    Shape::FilterInts,
    Shape::SplitText,
    Shape::Aggregate,
    Shape::CountMap,
];

impl Shape {
    /// An `int` expression calling `f`.
    fn int_call(self, f: &str) -> String {
        match self {
            Shape::FilterInts => format!("len({f}([3, 1, 4, 1, 5], 4))"),
            Shape::SplitText => format!("len({f}(\"a, b, c\"))"),
            Shape::Aggregate => format!("int({f}({{\"a\": 1.5, \"b\": 2.5}}))"),
            Shape::CountMap => format!("len({f}([\"a\", \"b\", \"a\"]))"),
        }
    }
    /// `assert` lines for a test of `f`.
    fn assertion(self, f: &str) -> String {
        match self {
            Shape::FilterInts => format!("    assert {f}([3, 1, 4, 1, 5], 4) == [3, 1, 1]"),
            Shape::SplitText => format!("    assert {f}(\"a, b,,c\") == [\"a\", \"b\", \"c\"]"),
            Shape::Aggregate => format!("    assert {f}({{\"a\": 1.0, \"b\": 2.0}}, 2.0) == 6.0"),
            Shape::CountMap => {
                format!("    assert {f}([\"x\", \"y\", \"x\"]) == {{\"x\": 2, \"y\": 1}}")
            }
        }
    }
    /// The body of a parametrized test of `f` over `size: int`.
    fn sized(self, f: &str) -> String {
        match self {
            Shape::FilterInts => format!("    assert len({f}(list(range(size)), size)) == size"),
            Shape::SplitText => format!("    assert len({f}(\",\".join(\"x\" * size))) == size"),
            Shape::Aggregate => {
                format!("    assert {f}({{str(i): 1.0 for i in range(size)}}) == float(size)")
            }
            Shape::CountMap => format!("    assert sum({f}([\"w\"] * size).values()) == size"),
        }
    }
}

/// What a module offers to later modules and to its test.
#[derive(Clone, Debug)]
struct Export {
    dotted: String,
    class: String,
    func: String,
    shape: Shape,
    /// Test file stem source: package path below the root plus module name.
    stem: String,
}

/// Import lines of one module, kept sorted like ruff's isort does.
#[derive(Default)]
struct Imports {
    /// `import x`
    plain: BTreeSet<String>,
    /// `from x import a, b`
    from: BTreeMap<String, BTreeSet<String>>,
    /// Third party `import x`.
    third: BTreeSet<String>,
    /// First party `from x import a, b`.
    first: BTreeMap<String, Vec<String>>,
}

fn from_line(module: &str, names: &[String]) -> Vec<String> {
    let one = format!("from {module} import {}", names.join(", "));
    if one.len() <= LINE_LENGTH {
        return vec![one];
    }
    let mut v = vec![format!("from {module} import (")];
    for n in names {
        v.push(format!("    {n},"));
    }
    v.push(")".to_string());
    v
}

/// isort's member order (`order-by-type`): CONSTANTS, Classes, functions.
fn member_key(n: &str) -> (u8, String) {
    let class = n.chars().next().is_some_and(|c| c.is_ascii_uppercase());
    let constant = n.len() > 1 && n.chars().all(|c| !c.is_ascii_lowercase());
    let rank = if constant {
        0
    } else if class {
        1
    } else {
        2
    };
    (rank, n.to_string())
}

impl Imports {
    /// The import block; `unsorted` swaps the standard library lines (an
    /// I001 finding) when that changes their order.
    fn render(&self, unsorted: bool) -> (Vec<String>, bool) {
        let mut out = vec!["from __future__ import annotations".to_string()];
        let mut std: Vec<String> = self.plain.iter().map(|m| format!("import {m}")).collect();
        for (m, names) in &self.from {
            let names: Vec<String> = names.iter().cloned().collect();
            std.extend(from_line(m, &names));
        }
        let mut swapped = false;
        if unsorted && std.len() >= 2 && std[0] != std[std.len() - 1] {
            let n = std.len();
            std.swap(0, n - 1);
            swapped = true;
        }
        if !std.is_empty() {
            out.push(String::new());
            out.extend(std);
        }
        if !self.third.is_empty() {
            out.push(String::new());
            out.extend(self.third.iter().map(|m| format!("import {m}")));
        }
        if !self.first.is_empty() {
            out.push(String::new());
            let mut mods: Vec<(&String, &Vec<String>)> = self.first.iter().collect();
            mods.sort_by_key(|(m, _)| m.to_lowercase());
            for (m, names) in mods {
                let mut names = names.clone();
                names.sort_by_key(|n| member_key(n));
                names.dedup();
                out.extend(from_line(m, &names));
            }
        }
        (out, swapped)
    }
}

#[derive(Default)]
struct Plants(BTreeMap<&'static str, usize>);

impl Plants {
    fn add(&mut self, code: &'static str) {
        *self.0.entry(code).or_default() += 1;
    }
}

fn title(word: &str) -> String {
    let mut c = word.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

/// Per-module generator state.
struct ModGen<'a> {
    rng: &'a mut Rng,
    names: BTreeSet<String>,
    imports: Imports,
    body: Vec<String>,
    plants: Plants,
}

impl ModGen<'_> {
    fn fresh(&mut self, make: impl Fn(&mut Rng) -> String) -> String {
        for _ in 0..50 {
            let n = make(self.rng);
            if self.names.insert(n.clone()) {
                return n;
            }
        }
        // Practically unreachable: the word lists are large.
        let mut i = 2;
        let base = make(self.rng);
        loop {
            let n = format!(
                "{base}_{}",
                ["a", "b", "c", "d", "e"][i % 5].repeat(i / 5 + 1)
            );
            if self.names.insert(n.clone()) {
                return n;
            }
            i += 1;
        }
    }
    fn func_name(&mut self) -> String {
        self.fresh(|r| format!("{}_{}", r.pick(VERBS), r.pick(OBJECTS)))
    }
    fn class_name(&mut self) -> String {
        self.fresh(|r| format!("{}{}", r.pick(CLASS_HEADS), r.pick(CLASS_TAILS)))
    }
    fn blank2(&mut self) {
        self.body.push(String::new());
        self.body.push(String::new());
    }

    fn dataclass(&mut self, name: &str) {
        self.imports
            .from
            .entry("dataclasses".into())
            .or_default()
            .extend(["dataclass".to_string(), "field".to_string()]);
        let f = self.rng.pick(FIELDS);
        let what = self.rng.pick(OBJECTS);
        self.blank2();
        self.body.extend([
            "@dataclass".to_string(),
            format!("class {name}:"),
            format!(
                "    \"\"\"A {} of {what} and its {f}.\"\"\"",
                name.to_lowercase()
            ),
            String::new(),
            "    name: str".to_string(),
            format!("    {f}: int = 0"),
            "    tags: list[str] = field(default_factory=list)".to_string(),
            String::new(),
            "    def scaled(self, factor: int = 2) -> int:".to_string(),
            format!("        \"\"\"Return ``{f}`` multiplied by ``factor``.\"\"\""),
            format!("        return self.{f} * factor"),
            String::new(),
            "    def describe(self) -> str:".to_string(),
            "        \"\"\"A short human-readable summary.\"\"\"".to_string(),
            format!("        return f\"{{self.name}}({{self.{f}}})\""),
        ]);
    }

    /// A dataclass with just a summary method.
    fn small_dataclass(&mut self, name: &str) {
        self.imports
            .from
            .entry("dataclasses".into())
            .or_default()
            .insert("dataclass".to_string());
        let f = self.rng.pick(FIELDS);
        self.blank2();
        self.body.extend([
            "@dataclass(frozen=True)".to_string(),
            format!("class {name}:"),
            format!(
                "    \"\"\"An immutable {} value.\"\"\"",
                name.to_lowercase()
            ),
            String::new(),
            "    name: str".to_string(),
            format!("    {f}: int = 0"),
            String::new(),
            "    def describe(self) -> str:".to_string(),
            format!("        return f\"{{self.name}}={{self.{f}}}\""),
        ]);
    }

    fn plain_class(&mut self, name: &str) {
        let cap = self.rng.range(4, 512);
        let what = self.rng.pick(OBJECTS);
        self.blank2();
        self.body.extend([
            format!("class {name}:"),
            format!("    \"\"\"Keeps {what} in memory, up to a fixed capacity.\"\"\""),
            String::new(),
            format!("    def __init__(self, name: str, capacity: int = {cap}) -> None:"),
            "        self.name = name".to_string(),
            "        self.capacity = capacity".to_string(),
            "        self._items: list[str] = []".to_string(),
            String::new(),
            "    def add(self, item: str) -> bool:".to_string(),
            "        \"\"\"Add ``item`` unless full; return whether it was added.\"\"\""
                .to_string(),
            "        if len(self._items) >= self.capacity:".to_string(),
            "            return False".to_string(),
            "        self._items.append(item)".to_string(),
            "        return True".to_string(),
            String::new(),
            "    @property".to_string(),
            "    def size(self) -> int:".to_string(),
            "        return len(self._items)".to_string(),
            String::new(),
            "    def describe(self) -> str:".to_string(),
            "        return f\"{self.name}[{self.size}/{self.capacity}]\"".to_string(),
        ]);
    }

    fn enum_class(&mut self, name: &str) {
        self.imports
            .from
            .entry("enum".into())
            .or_default()
            .insert("Enum".to_string());
        self.blank2();
        self.body.extend([
            format!("class {name}(Enum):"),
            "    \"\"\"How urgent a piece of work is.\"\"\"".to_string(),
            String::new(),
            "    LOW = 1".to_string(),
            "    MEDIUM = 2".to_string(),
            "    HIGH = 3".to_string(),
        ]);
    }

    /// A function of `shape`; `extra` lines go first in its body (plants).
    fn shape_func(&mut self, name: &str, shape: Shape, constant: &str, extra: Vec<String>) {
        self.blank2();
        let mut lines = match shape {
            Shape::FilterInts => vec![
                format!("def {name}(items: list[int], limit: int = {constant}) -> list[int]:"),
                "    \"\"\"Keep the items below ``limit``, in their order.\"\"\"".to_string(),
            ],
            Shape::SplitText => vec![
                format!("def {name}(text: str, sep: str = \",\") -> list[str]:"),
                "    \"\"\"Split ``text`` on ``sep``, dropping empty parts.\"\"\"".to_string(),
            ],
            Shape::Aggregate => vec![
                format!("def {name}(values: dict[str, float], scale: float = 1.0) -> float:"),
                "    \"\"\"Return the scaled sum of ``values``.\"\"\"".to_string(),
            ],
            Shape::CountMap => vec![
                format!("def {name}(words: list[str]) -> dict[str, int]:"),
                "    \"\"\"Count how often each word occurs.\"\"\"".to_string(),
            ],
        };
        lines.extend(extra);
        lines.extend(match shape {
            Shape::FilterInts => vec![
                "    result: list[int] = []".to_string(),
                "    for item in items:".to_string(),
                "        if item < limit:".to_string(),
                "            result.append(item)".to_string(),
                "    logger.debug(\"kept %d of %d\", len(result), len(items))".to_string(),
                "    return result".to_string(),
            ],
            Shape::SplitText => vec![
                "    parts = [part.strip() for part in text.split(sep)]".to_string(),
                "    return [part for part in parts if part]".to_string(),
            ],
            Shape::Aggregate => vec![
                "    total = 0.0".to_string(),
                "    for key, value in sorted(values.items()):".to_string(),
                "        logger.debug(\"adding %s=%s\", key, value)".to_string(),
                "        total += value * scale".to_string(),
                "    return total".to_string(),
            ],
            Shape::CountMap => vec![
                "    counts: dict[str, int] = {}".to_string(),
                "    for word in words:".to_string(),
                "        counts[word] = counts.get(word, 0) + 1".to_string(),
                "    return counts".to_string(),
            ],
        });
        self.body.extend(lines);
    }

    fn uses_dep(&mut self, name: &str, dep: &Export) {
        self.blank2();
        self.body.extend([
            format!("def {name}(record: {}) -> str:", dep.class),
            format!(
                "    \"\"\"Describe ``record`` with the result of ``{}``.\"\"\"",
                dep.func
            ),
            format!("    size = {}", dep.shape.int_call(&dep.func)),
            "    return f\"{record.describe()}:{size}\"".to_string(),
        ]);
    }

    fn async_func(&mut self, name: &str) {
        self.imports.plain.insert("asyncio".into());
        self.blank2();
        self.body.extend([
            format!("async def {name}(delay: float = 0.0) -> str:"),
            "    \"\"\"Wait ``delay`` seconds, then report which step finished.\"\"\"".to_string(),
            "    await asyncio.sleep(delay)".to_string(),
            format!("    return \"{name}\""),
        ]);
    }
}

/// Writes a realistic Python project into `repo` (staged; the caller
/// commits): `pyproject.toml` (`[project]` with dependencies, `[tool.ruff]`
/// selecting `E`, `F`, `W`, `I`, `[tool.mypy]`, `[tool.pytest.ini_options]`),
/// `src/<package>/` with nested subpackages (each with `__init__.py`) of
/// 20–80 line modules (imports across modules, dataclasses, classes, typed
/// functions, docstrings), `tests/` with test modules, `README.md` and
/// `.gitignore`. `files` is the total number of `.py` files. Deterministic
/// for a seed.
///
/// Everything is valid Python 3.10+ that `ruff check`, `mypy` and `pytest`
/// process; a deterministic sprinkling of real ruff findings is planted
/// (unused imports and variables, a few undefined names, long lines, ...),
/// counted in [`PythonProject::planted`]. mypy reports only the undefined
/// names (F821).
pub fn python_project(repo: &mut Repo, files: usize, seed: u64) -> PythonProject {
    let mut rng = Rng::from_state(seed ^ 0x005E_ED0F_C0DE);
    let adj = rng.pick(ADJECTIVES);
    let noun = rng.pick(NOUNS);
    let package = format!("{adj}_{noun}");
    let project = format!("{adj}-{noun}");
    let mut plants = Plants::default();
    let mut lines = 0usize;

    // How the .py files are split.
    let mut n_tests = if files >= 4 { (files / 10).max(1) } else { 0 };
    let rest = files - n_tests;
    let n_pkgs = if rest == 0 { 0 } else { (rest / 12).max(1) };
    let mut n_mods = rest - n_pkgs;
    if n_mods == 0 {
        n_mods += n_tests;
        n_tests = 0;
    }
    let conftest = n_tests >= 3;
    let n_test_mods = n_tests - usize::from(conftest);

    // Package tree: (dotted name, directory, depth, relative stem).
    let mut pkgs: Vec<(String, String, usize, String)> = Vec::new();
    if n_pkgs > 0 {
        pkgs.push((package.clone(), format!("src/{package}"), 0, String::new()));
    }
    let mut children: BTreeMap<usize, BTreeSet<&str>> = BTreeMap::new();
    while pkgs.len() < n_pkgs {
        // Shallow packages are likelier parents; at most 3 levels below
        // the root.
        let parent = rng.below(pkgs.len());
        let depth = pkgs[parent].2;
        if depth >= 3 || !rng.one_in((depth as u64 + 1).pow(2)) {
            continue;
        }
        let word = rng.pick(PKG_WORDS);
        if pkgs[parent].0.rsplit('.').next() == Some(word)
            || !children.entry(parent).or_default().insert(word)
        {
            continue;
        }
        let (pd, pdir, depth, pstem) = pkgs[parent].clone();
        let stem = if pstem.is_empty() {
            word.to_string()
        } else {
            format!("{pstem}_{word}")
        };
        pkgs.push((
            format!("{pd}.{word}"),
            format!("{pdir}/{word}"),
            depth + 1,
            stem,
        ));
    }
    for (i, (dotted, dir, _, _)) in pkgs.iter().enumerate() {
        let text = if i == 0 {
            format!(
                "\"\"\"The {project} package.\"\"\"\n\n__version__ = \"0.{}.0\"\n",
                seed % 10
            )
        } else {
            format!("\"\"\"The ``{dotted}`` package.\"\"\"\n")
        };
        lines += text.lines().count();
        repo.write(format!("{dir}/__init__.py"), text);
    }

    // Modules.
    let mut exports: Vec<Export> = Vec::new();
    let mut mod_names: Vec<BTreeSet<String>> = vec![BTreeSet::new(); pkgs.len()];
    let f821_every = (n_mods / 4).max(1);
    let f821_offset = rng.below(f821_every);
    for m in 0..n_mods {
        let p = rng.below(pkgs.len());
        let name = loop {
            let n = if rng.one_in(2) {
                rng.pick(MOD_WORDS).to_string()
            } else {
                format!("{}_{}", rng.pick(MOD_WORDS), rng.pick(MOD_WORDS))
            };
            // A module may not share its name with a subpackage.
            if !children.get(&p).is_some_and(|c| c.contains(n.as_str()))
                && mod_names[p].insert(n.clone())
            {
                break n;
            }
        };
        let (pdotted, pdir, _, pstem) = &pkgs[p];
        let dotted = format!("{pdotted}.{name}");
        let stem = if pstem.is_empty() {
            name.clone()
        } else {
            format!("{pstem}_{name}")
        };
        let mut g = ModGen {
            rng: &mut rng,
            names: BTreeSet::new(),
            imports: Imports::default(),
            body: Vec::new(),
            plants: Plants::default(),
        };
        g.names.insert("logger".into());
        g.imports.plain.insert("logging".into());

        // Dependencies on earlier modules (a DAG: no import cycles).
        let mut deps = Vec::new();
        if !exports.is_empty() {
            for _ in 0..g.rng.below(3) {
                let d = exports[g.rng.below(exports.len())].clone();
                if deps.iter().any(|x: &Export| x.dotted == d.dotted)
                    || g.names.contains(&d.class)
                    || g.names.contains(&d.func)
                {
                    continue;
                }
                g.names.insert(d.class.clone());
                g.names.insert(d.func.clone());
                g.imports
                    .first
                    .entry(d.dotted.clone())
                    .or_default()
                    .extend([d.class.clone(), d.func.clone()]);
                deps.push(d);
            }
        }

        // Planted findings (decided up front, so the RNG stream is stable).
        let unused_import = g.rng.one_in(8);
        let unused_var = g.rng.one_in(10);
        let undefined = m % f821_every == f821_offset;
        let long_line = g.rng.one_in(12);
        let trailing_ws = g.rng.one_in(15);
        let eq_true = g.rng.one_in(20);
        let ambiguous = g.rng.one_in(25);
        let empty_fstring = g.rng.one_in(20);
        let unsorted = g.rng.one_in(30);

        if unused_import {
            let u = g.rng.pick(UNUSED_IMPORTS);
            g.imports.plain.insert(u.to_string());
            g.plants.add("F401");
        }

        let constant = format!("DEFAULT_{}", g.rng.pick(CONSTS));
        g.names.insert(constant.clone());
        let const_value = g.rng.range(2, 1000);

        // Small modules (a quarter), or a usual mix. Classes: the first one
        // has describe() (exported); functions: the first is exported.
        let small = g.rng.one_in(4);
        let n_classes = if small || !g.rng.one_in(3) { 1 } else { 2 };
        let n_funcs = if small {
            1
        } else {
            g.rng.range(1, 4 - n_classes)
        };
        let mut first_class = String::new();
        for c in 0..n_classes {
            let cname = g.class_name();
            match (c, small, g.rng.below(5)) {
                (0, true, _) => g.small_dataclass(&cname),
                (0, false, 0..=2) | (1, _, 0..=1) => g.dataclass(&cname),
                (0, false, _) | (1, _, 2..=3) => g.plain_class(&cname),
                _ => g.enum_class(&cname),
            }
            if c == 0 {
                first_class = cname;
            }
        }

        let mut first = None;
        for f in 0..n_funcs {
            let shape = SHAPES[g.rng.below(SHAPES.len())];
            let fname = g.func_name();
            let mut extra = Vec::new();
            if f == 0 && unused_var {
                extra.push(format!("    checkpoint = {}", g.rng.range(1, 99)));
                g.plants.add("F841");
            }
            if f == 0 && empty_fstring {
                extra.push("    logger.debug(f\"starting\")".to_string());
                g.plants.add("F541");
            }
            if f == 0 && long_line {
                extra.insert(
                    0,
                    format!(
                        "    # NOTE: {fname} is on the hot path of every request, so keep it free of I/O and heavy helpers."
                    ),
                );
                g.plants.add("E501");
            }
            g.shape_func(&fname, shape, &constant, extra);
            if first.is_none() {
                first = Some((fname, shape));
            }
        }
        for d in &deps {
            let fname = g.func_name();
            g.uses_dep(&fname, d);
        }
        if g.rng.one_in(6) {
            let fname = g.func_name();
            g.async_func(&fname);
        }
        if undefined {
            let fname = g.func_name();
            g.blank2();
            g.body.extend([
                format!("def {fname}(items: list[int]) -> int:"),
                "    \"\"\"Total of ``items`` through the legacy helper.\"\"\"".to_string(),
                "    return legacy_total(items)".to_string(),
            ]);
            g.plants.add("F821");
        }
        if eq_true {
            let fname = g.fresh(|r| format!("is_{}_enabled", r.pick(OBJECTS)));
            g.blank2();
            g.body.extend([
                format!("def {fname}(flag: bool) -> str:"),
                "    \"\"\"Name the state of ``flag``.\"\"\"".to_string(),
                "    if flag == True:".to_string(),
                "        return \"on\"".to_string(),
                "    return \"off\"".to_string(),
            ]);
            g.plants.add("E712");
        }
        if ambiguous {
            let fname = g.fresh(|r| format!("last_{}_index", r.pick(OBJECTS)));
            g.blank2();
            g.body.extend([
                format!("def {fname}(items: list[int]) -> int:"),
                "    \"\"\"Index of the last item, -1 when empty.\"\"\"".to_string(),
                "    l = len(items)".to_string(),
                "    return l - 1".to_string(),
            ]);
            g.plants.add("E741");
        }

        // Assemble: docstring, imports, module globals, body.
        let mut out = Vec::new();
        let what = g.rng.pick(OBJECTS);
        let first_line = format!(
            "\"\"\"{} of {what} for ``{pdotted}``.",
            title(&name.replace('_', " "))
        );
        out.push(if first_line.len() <= LINE_LENGTH {
            first_line
        } else {
            format!("\"\"\"{} of {what}.", title(&name.replace('_', " ")))
        });
        out.push(String::new());
        out.push(g.rng.pick(SENTENCES).to_string());
        out.push("\"\"\"".to_string());
        out.push(String::new());
        let (imports, swapped) = g.imports.render(unsorted);
        if swapped {
            g.plants.add("I001");
        }
        out.extend(imports);
        out.push(String::new());
        out.push(if trailing_ws {
            g.plants.add("W291");
            "logger = logging.getLogger(__name__)  ".to_string()
        } else {
            "logger = logging.getLogger(__name__)".to_string()
        });
        out.push(String::new());
        out.push(format!("{constant} = {const_value}"));
        out.extend(std::mem::take(&mut g.body));
        let text = out.join("\n") + "\n";
        lines += out.len();
        for (k, v) in g.plants.0 {
            *plants.0.entry(k).or_default() += v;
        }
        repo.write(format!("{pdir}/{name}.py"), text);
        let (func, shape) = first.expect("one function at least");
        exports.push(Export {
            dotted,
            class: first_class,
            func,
            shape,
            stem,
        });
    }

    // Tests.
    let mut order: Vec<usize> = (0..exports.len()).collect();
    for i in (1..order.len()).rev() {
        let j = rng.below(i + 1);
        order.swap(i, j);
    }
    let mut test_names = BTreeSet::new();
    for t in 0..n_test_mods {
        let e = &exports[order[t % order.len()]];
        let mut stem = format!("test_{}", e.stem);
        let mut k = 1;
        while !test_names.insert(stem.clone()) {
            k += 1;
            stem = format!("test_{}_{k}", e.stem);
        }
        let mut imports = Imports::default();
        imports.third.insert("pytest".into());
        imports
            .first
            .insert(e.dotted.clone(), vec![e.class.clone(), e.func.clone()]);
        let unused = rng.one_in(10);
        if unused {
            imports.plain.insert(rng.pick(UNUSED_IMPORTS).to_string());
            plants.add("F401");
        }
        let mut out = vec![
            format!("\"\"\"Tests for ``{}``.\"\"\"", e.dotted),
            String::new(),
        ];
        out.extend(imports.render(false).0);
        out.extend([
            String::new(),
            String::new(),
            format!("def test_{}() -> None:", e.func),
            e.shape.assertion(&e.func),
            String::new(),
            String::new(),
            format!("def test_{}_describe() -> None:", e.class.to_lowercase()),
            format!("    item = {}(\"alpha\")", e.class),
            "    assert item.describe().startswith(\"alpha\")".to_string(),
            String::new(),
            String::new(),
            "@pytest.mark.parametrize(\"size\", [0, 1, 5])".to_string(),
            format!("def test_{}_sizes(size: int) -> None:", e.func),
            e.shape.sized(&e.func),
        ]);
        lines += out.len();
        repo.write(format!("tests/{stem}.py"), out.join("\n") + "\n");
    }
    if conftest {
        let text = "\"\"\"Shared fixtures.\"\"\"\n\nfrom __future__ import annotations\n\nimport pytest\n\n\n@pytest.fixture\ndef sample_items() -> list[int]:\n    \"\"\"A small, unsorted list of ints.\"\"\"\n    return [5, 3, 8, 1, 13, 2]\n";
        lines += text.lines().count();
        repo.write("tests/conftest.py", text);
    }

    // Project files.
    let deps = ["httpx>=0.27", "pydantic>=2.6", "rich>=13.7", "typer>=0.12"];
    let n_deps = rng.range(2, deps.len() as u64) as usize;
    let dep_lines: String = deps[..n_deps]
        .iter()
        .map(|d| format!("    \"{d}\",\n"))
        .collect();
    repo.write(
        "pyproject.toml",
        format!(
            r#"[build-system]
requires = ["hatchling>=1.24"]
build-backend = "hatchling.build"

[project]
name = "{project}"
version = "0.{v}.0"
description = "{desc}"
readme = "README.md"
requires-python = ">=3.10"
dependencies = [
{dep_lines}]

[project.optional-dependencies]
dev = ["mypy>=1.10", "pytest>=8.0", "ruff>=0.5"]

[tool.hatch.build.targets.wheel]
packages = ["src/{package}"]

[tool.ruff]
line-length = {LINE_LENGTH}
target-version = "py310"
src = ["src", "tests"]

[tool.ruff.lint]
select = ["E", "F", "W", "I"]

[tool.ruff.lint.isort]
known-first-party = ["{package}"]

[tool.mypy]
python_version = "3.11"
mypy_path = "src"
files = ["src", "tests"]
ignore_missing_imports = true
warn_unused_configs = true

[tool.pytest.ini_options]
testpaths = ["tests"]
pythonpath = ["src"]
"#,
            v = seed % 10,
            desc = SENTENCES[seed as usize % SENTENCES.len()].trim_end_matches('.'),
        ),
    );
    repo.write(
        "README.md",
        format!(
            "# {project}\n\n{}\n\n## Development\n\n```sh\npip install -e '.[dev]'\nruff check\nmypy\npytest\n```\n\nThe code lives in `src/{package}/`, the tests in `tests/`.\n",
            SENTENCES[(seed as usize + 1) % SENTENCES.len()]
        ),
    );
    repo.write(
        ".gitignore",
        "__pycache__/\n*.py[cod]\n*.egg-info/\n.venv/\nbuild/\ndist/\n.mypy_cache/\n.pytest_cache/\n.ruff_cache/\n.coverage\nhtmlcov/\n",
    );

    PythonProject {
        package,
        project,
        py_files: files,
        modules: n_mods,
        packages: n_pkgs,
        tests: n_tests,
        lines,
        planted: plants.0,
    }
}
