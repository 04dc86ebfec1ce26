//! Tool detection as data: one [`Rule`] per tool in [`RULES`], each with its signals.
//!
//! To teach Heimdall a tool, add a rule here (and a line to the test that each rule fires).
//! Invariants, checked by tests: tool names are unique; a signal names at most one tool per
//! signal kind, so every lookup has one answer; Python package names are PEP 503-normalized.

use super::types::{Category, Ecosystem};

/// How to recognise one tool.
#[derive(Clone, Copy, Debug)]
pub struct Rule {
    pub tool: &'static str,
    pub category: Category,
    pub ecosystem: Ecosystem,
    /// PyPI package names (normalized) that mean the tool is used when declared.
    pub python_packages: &'static [&'static str],
    /// npm package names.
    pub npm_packages: &'static [&'static str],
    /// Dotted paths under pyproject's `[tool]` (`"ruff"`, `"pytest.ini_options"`); the first
    /// present table is the tool's config when `pyproject_config` is set.
    pub pyproject: &'static [&'static str],
    /// Whether that table is settings worth aggregating (not a dependency list or tasks).
    pub pyproject_config: bool,
    /// `[build-system] build-backend` values (text before any `:`).
    pub build_backends: &'static [&'static str],
    /// `.pre-commit-config.yaml` hook ids.
    pub hooks: &'static [&'static str],
    /// Command words in workflow `run:` steps, tox commands, scripts and README shell blocks.
    pub commands: &'static [&'static str],
    /// Repository paths whose presence means the tool is used; a trailing `/` is a directory.
    pub files: &'static [&'static str],
    /// GitHub Actions (`uses:` names) that set the tool up or run it.
    pub actions: &'static [&'static str],
    /// Top-level package.json keys that hold the tool's config.
    pub package_json_keys: &'static [&'static str],
}

const EMPTY: Rule = Rule {
    tool: "",
    category: Category::Other,
    ecosystem: Ecosystem::General,
    python_packages: &[],
    npm_packages: &[],
    pyproject: &[],
    pyproject_config: true,
    build_backends: &[],
    hooks: &[],
    commands: &[],
    files: &[],
    actions: &[],
    package_json_keys: &[],
};

use Category::*;
use Ecosystem::{General, Javascript, Python};

const PY: Rule = Rule {
    ecosystem: Python,
    ..EMPTY
};
const JS: Rule = Rule {
    ecosystem: Javascript,
    ..EMPTY
};
const GENERAL: Rule = Rule {
    ecosystem: General,
    ..EMPTY
};

/// Every tool Heimdall recognises.
pub static RULES: &[Rule] = &[
    // Python linters and formatters.
    Rule {
        tool: "ruff",
        category: Linter,
        python_packages: &["ruff"],
        pyproject: &["ruff"],
        hooks: &["ruff", "ruff-check", "ruff-format"],
        commands: &["ruff"],
        files: &["ruff.toml", ".ruff.toml"],
        actions: &["astral-sh/ruff-action", "chartboost/ruff-action"],
        ..PY
    },
    Rule {
        tool: "black",
        category: Formatter,
        python_packages: &["black"],
        pyproject: &["black"],
        hooks: &["black", "black-jupyter"],
        commands: &["black"],
        actions: &["psf/black"],
        ..PY
    },
    Rule {
        tool: "isort",
        category: Formatter,
        python_packages: &["isort"],
        pyproject: &["isort"],
        hooks: &["isort"],
        commands: &["isort"],
        files: &[".isort.cfg"],
        ..PY
    },
    Rule {
        tool: "flake8",
        category: Linter,
        python_packages: &["flake8", "flake8-pyproject"],
        pyproject: &["flake8"],
        hooks: &["flake8"],
        commands: &["flake8"],
        files: &[".flake8"],
        ..PY
    },
    Rule {
        tool: "pylint",
        category: Linter,
        python_packages: &["pylint"],
        pyproject: &["pylint"],
        hooks: &["pylint"],
        commands: &["pylint"],
        files: &[".pylintrc", "pylintrc"],
        ..PY
    },
    Rule {
        tool: "bandit",
        category: Linter,
        python_packages: &["bandit"],
        pyproject: &["bandit"],
        hooks: &["bandit"],
        commands: &["bandit"],
        files: &[".bandit"],
        ..PY
    },
    Rule {
        tool: "codespell",
        category: Linter,
        python_packages: &["codespell"],
        pyproject: &["codespell"],
        hooks: &["codespell"],
        commands: &["codespell"],
        files: &[".codespellrc"],
        ..PY
    },
    Rule {
        tool: "pyupgrade",
        category: Linter,
        python_packages: &["pyupgrade"],
        hooks: &["pyupgrade"],
        commands: &["pyupgrade"],
        ..PY
    },
    Rule {
        tool: "autoflake",
        category: Linter,
        python_packages: &["autoflake"],
        pyproject: &["autoflake"],
        hooks: &["autoflake"],
        commands: &["autoflake"],
        ..PY
    },
    Rule {
        tool: "pydocstyle",
        category: Linter,
        python_packages: &["pydocstyle"],
        pyproject: &["pydocstyle"],
        hooks: &["pydocstyle"],
        commands: &["pydocstyle"],
        ..PY
    },
    Rule {
        tool: "autopep8",
        category: Formatter,
        python_packages: &["autopep8"],
        pyproject: &["autopep8"],
        hooks: &["autopep8"],
        commands: &["autopep8"],
        ..PY
    },
    Rule {
        tool: "yapf",
        category: Formatter,
        python_packages: &["yapf"],
        pyproject: &["yapf"],
        hooks: &["yapf"],
        commands: &["yapf"],
        files: &[".style.yapf"],
        ..PY
    },
    Rule {
        tool: "yamllint",
        category: Linter,
        python_packages: &["yamllint"],
        hooks: &["yamllint"],
        commands: &["yamllint"],
        files: &[".yamllint", ".yamllint.yml", ".yamllint.yaml"],
        ..PY
    },
    // Python type checkers.
    Rule {
        tool: "mypy",
        category: TypeChecker,
        python_packages: &["mypy"],
        pyproject: &["mypy"],
        hooks: &["mypy"],
        commands: &["mypy", "dmypy"],
        files: &["mypy.ini", ".mypy.ini"],
        ..PY
    },
    Rule {
        tool: "pyright",
        category: TypeChecker,
        python_packages: &["pyright"],
        npm_packages: &["pyright"],
        pyproject: &["pyright"],
        hooks: &["pyright"],
        commands: &["pyright"],
        files: &["pyrightconfig.json"],
        actions: &["jakebailey/pyright-action"],
        ..PY
    },
    Rule {
        tool: "basedpyright",
        category: TypeChecker,
        python_packages: &["basedpyright"],
        pyproject: &["basedpyright"],
        hooks: &["basedpyright"],
        commands: &["basedpyright"],
        ..PY
    },
    // Python tests and coverage.
    Rule {
        tool: "pytest",
        category: TestFramework,
        python_packages: &["pytest"],
        pyproject: &["pytest.ini_options", "pytest"],
        commands: &["pytest", "py.test"],
        files: &["pytest.ini"],
        ..PY
    },
    Rule {
        tool: "coverage",
        category: Other,
        python_packages: &["coverage", "pytest-cov"],
        pyproject: &["coverage"],
        commands: &["coverage"],
        files: &[".coveragerc"],
        actions: &["codecov/codecov-action"],
        ..PY
    },
    // Python task runners.
    Rule {
        tool: "tox",
        category: TaskRunner,
        python_packages: &["tox"],
        pyproject: &["tox"],
        pyproject_config: false,
        commands: &["tox"],
        files: &["tox.ini", "tox.toml"],
        ..PY
    },
    Rule {
        tool: "nox",
        category: TaskRunner,
        python_packages: &["nox"],
        commands: &["nox"],
        files: &["noxfile.py"],
        ..PY
    },
    Rule {
        tool: "poethepoet",
        category: TaskRunner,
        python_packages: &["poethepoet"],
        pyproject: &["poe"],
        pyproject_config: false,
        commands: &["poe"],
        ..PY
    },
    Rule {
        tool: "taskipy",
        category: TaskRunner,
        python_packages: &["taskipy"],
        pyproject: &["taskipy"],
        pyproject_config: false,
        ..PY
    },
    // Python package managers.
    Rule {
        tool: "pip",
        category: PackageManager,
        commands: &["pip", "pip3"],
        ..PY
    },
    Rule {
        tool: "pip-tools",
        category: PackageManager,
        python_packages: &["pip-tools"],
        hooks: &["pip-compile"],
        commands: &["pip-compile", "pip-sync"],
        ..PY
    },
    Rule {
        tool: "poetry",
        category: PackageManager,
        python_packages: &["poetry"],
        pyproject: &["poetry"],
        pyproject_config: false,
        hooks: &["poetry-check", "poetry-lock", "poetry-export"],
        commands: &["poetry"],
        files: &["poetry.lock"],
        actions: &["snok/install-poetry", "abatilo/actions-poetry"],
        ..PY
    },
    Rule {
        tool: "pdm",
        category: PackageManager,
        python_packages: &["pdm"],
        pyproject: &["pdm"],
        pyproject_config: false,
        commands: &["pdm"],
        files: &["pdm.lock"],
        actions: &["pdm-project/setup-pdm"],
        ..PY
    },
    Rule {
        tool: "uv",
        category: PackageManager,
        python_packages: &["uv"],
        pyproject: &["uv"],
        pyproject_config: false,
        hooks: &["uv-lock", "uv-export"],
        commands: &["uv", "uvx"],
        files: &["uv.lock"],
        actions: &["astral-sh/setup-uv"],
        ..PY
    },
    Rule {
        tool: "hatch",
        category: PackageManager,
        python_packages: &["hatch"],
        pyproject: &["hatch.envs"],
        pyproject_config: false,
        commands: &["hatch"],
        ..PY
    },
    Rule {
        tool: "pipenv",
        category: PackageManager,
        python_packages: &["pipenv"],
        commands: &["pipenv"],
        files: &["Pipfile", "Pipfile.lock"],
        ..PY
    },
    Rule {
        tool: "conda",
        category: PackageManager,
        commands: &["conda", "mamba", "micromamba"],
        files: &["environment.yml", "environment.yaml"],
        actions: &[
            "conda-incubator/setup-miniconda",
            "mamba-org/setup-micromamba",
        ],
        ..PY
    },
    Rule {
        tool: "twine",
        category: Other,
        python_packages: &["twine"],
        commands: &["twine"],
        ..PY
    },
    // Python build backends.
    Rule {
        tool: "setuptools",
        category: BuildBackend,
        python_packages: &["setuptools"],
        pyproject: &["setuptools"],
        pyproject_config: false,
        build_backends: &["setuptools.build_meta"],
        files: &["setup.py"],
        ..PY
    },
    Rule {
        tool: "hatchling",
        category: BuildBackend,
        python_packages: &["hatchling"],
        pyproject: &["hatch.build", "hatch.version", "hatch.metadata"],
        pyproject_config: false,
        build_backends: &["hatchling.build"],
        ..PY
    },
    Rule {
        tool: "poetry-core",
        category: BuildBackend,
        python_packages: &["poetry-core"],
        build_backends: &["poetry.core.masonry.api", "poetry.masonry.api"],
        ..PY
    },
    Rule {
        tool: "flit-core",
        category: BuildBackend,
        python_packages: &["flit-core", "flit"],
        pyproject: &["flit"],
        pyproject_config: false,
        build_backends: &["flit_core.buildapi", "flit.buildapi"],
        commands: &["flit"],
        ..PY
    },
    Rule {
        tool: "pdm-backend",
        category: BuildBackend,
        python_packages: &["pdm-backend", "pdm-pep517"],
        build_backends: &["pdm.backend", "pdm.pep517.api"],
        ..PY
    },
    Rule {
        tool: "maturin",
        category: BuildBackend,
        python_packages: &["maturin"],
        pyproject: &["maturin"],
        build_backends: &["maturin"],
        commands: &["maturin"],
        actions: &["PyO3/maturin-action"],
        ..PY
    },
    Rule {
        tool: "scikit-build-core",
        category: BuildBackend,
        python_packages: &["scikit-build-core"],
        pyproject: &["scikit-build"],
        build_backends: &["scikit_build_core.build"],
        ..PY
    },
    Rule {
        tool: "meson-python",
        category: BuildBackend,
        python_packages: &["meson-python"],
        build_backends: &["mesonpy"],
        ..PY
    },
    Rule {
        tool: "uv-build",
        category: BuildBackend,
        python_packages: &["uv-build"],
        build_backends: &["uv_build"],
        ..PY
    },
    // Python documentation.
    Rule {
        tool: "sphinx",
        category: Other,
        python_packages: &["sphinx"],
        commands: &["sphinx-build", "sphinx-autobuild"],
        files: &["docs/conf.py", "doc/conf.py", "docs/source/conf.py"],
        ..PY
    },
    Rule {
        tool: "mkdocs",
        category: Other,
        python_packages: &["mkdocs", "mkdocs-material"],
        commands: &["mkdocs"],
        files: &["mkdocs.yml", "mkdocs.yaml"],
        ..PY
    },
    // JavaScript linters, formatters, type checkers.
    Rule {
        tool: "eslint",
        category: Linter,
        npm_packages: &["eslint"],
        hooks: &["eslint"],
        commands: &["eslint"],
        files: &[
            ".eslintrc",
            ".eslintrc.json",
            ".eslintrc.yml",
            ".eslintrc.yaml",
            ".eslintrc.js",
            ".eslintrc.cjs",
            "eslint.config.js",
            "eslint.config.mjs",
            "eslint.config.cjs",
            "eslint.config.ts",
            "eslint.config.mts",
        ],
        package_json_keys: &["eslintConfig"],
        ..JS
    },
    Rule {
        tool: "prettier",
        category: Formatter,
        npm_packages: &["prettier"],
        hooks: &["prettier"],
        commands: &["prettier"],
        files: &[
            ".prettierrc",
            ".prettierrc.json",
            ".prettierrc.yaml",
            ".prettierrc.yml",
            ".prettierrc.toml",
            ".prettierrc.js",
            ".prettierrc.cjs",
            ".prettierrc.mjs",
            "prettier.config.js",
            "prettier.config.cjs",
            "prettier.config.mjs",
        ],
        package_json_keys: &["prettier"],
        ..JS
    },
    Rule {
        tool: "biome",
        category: Linter,
        npm_packages: &["@biomejs/biome"],
        hooks: &["biome-check", "biome-format", "biome-lint", "biome-ci"],
        commands: &["biome"],
        files: &["biome.json", "biome.jsonc"],
        actions: &["biomejs/setup-biome"],
        ..JS
    },
    Rule {
        tool: "stylelint",
        category: Linter,
        npm_packages: &["stylelint"],
        commands: &["stylelint"],
        files: &[
            ".stylelintrc",
            ".stylelintrc.json",
            "stylelint.config.js",
            "stylelint.config.mjs",
        ],
        package_json_keys: &["stylelint"],
        ..JS
    },
    Rule {
        tool: "commitlint",
        category: Linter,
        npm_packages: &["@commitlint/cli"],
        hooks: &["commitlint"],
        commands: &["commitlint"],
        files: &[
            "commitlint.config.js",
            "commitlint.config.ts",
            ".commitlintrc.json",
            ".commitlintrc.js",
        ],
        package_json_keys: &["commitlint"],
        ..JS
    },
    Rule {
        tool: "typescript",
        category: TypeChecker,
        npm_packages: &["typescript"],
        commands: &["tsc"],
        files: &["tsconfig.json"],
        ..JS
    },
    // JavaScript tests.
    Rule {
        tool: "jest",
        category: TestFramework,
        npm_packages: &["jest"],
        commands: &["jest"],
        files: &[
            "jest.config.js",
            "jest.config.ts",
            "jest.config.mjs",
            "jest.config.cjs",
            "jest.config.json",
        ],
        package_json_keys: &["jest"],
        ..JS
    },
    Rule {
        tool: "vitest",
        category: TestFramework,
        npm_packages: &["vitest"],
        commands: &["vitest"],
        files: &[
            "vitest.config.ts",
            "vitest.config.js",
            "vitest.config.mts",
            "vitest.config.mjs",
        ],
        ..JS
    },
    Rule {
        tool: "mocha",
        category: TestFramework,
        npm_packages: &["mocha"],
        commands: &["mocha"],
        files: &[
            ".mocharc.json",
            ".mocharc.yml",
            ".mocharc.yaml",
            ".mocharc.js",
            ".mocharc.cjs",
        ],
        package_json_keys: &["mocha"],
        ..JS
    },
    Rule {
        tool: "playwright",
        category: TestFramework,
        npm_packages: &["@playwright/test", "playwright"],
        commands: &["playwright"],
        files: &["playwright.config.ts", "playwright.config.js"],
        ..JS
    },
    Rule {
        tool: "cypress",
        category: TestFramework,
        npm_packages: &["cypress"],
        commands: &["cypress"],
        files: &["cypress.config.ts", "cypress.config.js", "cypress.json"],
        actions: &["cypress-io/github-action"],
        ..JS
    },
    // JavaScript bundlers and compilers.
    Rule {
        tool: "webpack",
        category: Bundler,
        npm_packages: &["webpack"],
        commands: &["webpack"],
        files: &[
            "webpack.config.js",
            "webpack.config.ts",
            "webpack.config.cjs",
            "webpack.config.mjs",
        ],
        ..JS
    },
    Rule {
        tool: "vite",
        category: Bundler,
        npm_packages: &["vite"],
        commands: &["vite"],
        files: &[
            "vite.config.ts",
            "vite.config.js",
            "vite.config.mts",
            "vite.config.mjs",
        ],
        ..JS
    },
    Rule {
        tool: "rollup",
        category: Bundler,
        npm_packages: &["rollup"],
        commands: &["rollup"],
        files: &["rollup.config.js", "rollup.config.mjs", "rollup.config.ts"],
        ..JS
    },
    Rule {
        tool: "esbuild",
        category: Bundler,
        npm_packages: &["esbuild"],
        commands: &["esbuild"],
        ..JS
    },
    Rule {
        tool: "parcel",
        category: Bundler,
        npm_packages: &["parcel"],
        commands: &["parcel"],
        ..JS
    },
    Rule {
        tool: "tsup",
        category: Bundler,
        npm_packages: &["tsup"],
        commands: &["tsup"],
        files: &["tsup.config.ts", "tsup.config.js"],
        ..JS
    },
    Rule {
        tool: "babel",
        category: Other,
        npm_packages: &["@babel/core"],
        commands: &["babel"],
        files: &[
            "babel.config.js",
            "babel.config.json",
            "babel.config.cjs",
            ".babelrc",
            ".babelrc.json",
        ],
        package_json_keys: &["babel"],
        ..JS
    },
    Rule {
        tool: "swc",
        category: Other,
        npm_packages: &["@swc/core"],
        files: &[".swcrc"],
        ..JS
    },
    // JavaScript git hooks.
    Rule {
        tool: "husky",
        category: PreCommit,
        npm_packages: &["husky"],
        commands: &["husky"],
        files: &[".husky/"],
        ..JS
    },
    Rule {
        tool: "lint-staged",
        category: PreCommit,
        npm_packages: &["lint-staged"],
        commands: &["lint-staged"],
        files: &[
            ".lintstagedrc",
            ".lintstagedrc.json",
            "lint-staged.config.js",
            "lint-staged.config.mjs",
        ],
        package_json_keys: &["lint-staged"],
        ..JS
    },
    // JavaScript package managers, runtimes and monorepo runners.
    Rule {
        tool: "npm",
        category: PackageManager,
        commands: &["npm", "npx"],
        files: &["package-lock.json"],
        ..JS
    },
    Rule {
        tool: "pnpm",
        category: PackageManager,
        npm_packages: &["pnpm"],
        commands: &["pnpm"],
        files: &["pnpm-lock.yaml", "pnpm-workspace.yaml"],
        actions: &["pnpm/action-setup"],
        ..JS
    },
    Rule {
        tool: "yarn",
        category: PackageManager,
        npm_packages: &["yarn"],
        commands: &["yarn"],
        files: &["yarn.lock", ".yarnrc.yml"],
        ..JS
    },
    Rule {
        tool: "bun",
        category: PackageManager,
        commands: &["bun", "bunx"],
        files: &["bun.lockb", "bun.lock"],
        actions: &["oven-sh/setup-bun"],
        ..JS
    },
    Rule {
        tool: "node",
        category: Other,
        commands: &["node"],
        files: &[".nvmrc", ".node-version"],
        actions: &["actions/setup-node"],
        ..JS
    },
    Rule {
        tool: "turbo",
        category: TaskRunner,
        npm_packages: &["turbo"],
        commands: &["turbo"],
        files: &["turbo.json"],
        ..JS
    },
    Rule {
        tool: "nx",
        category: TaskRunner,
        npm_packages: &["nx"],
        commands: &["nx"],
        files: &["nx.json"],
        ..JS
    },
    Rule {
        tool: "lerna",
        category: TaskRunner,
        npm_packages: &["lerna"],
        commands: &["lerna"],
        files: &["lerna.json"],
        ..JS
    },
    Rule {
        tool: "changesets",
        category: Other,
        npm_packages: &["@changesets/cli"],
        commands: &["changeset"],
        files: &[".changeset/config.json"],
        actions: &["changesets/action"],
        ..JS
    },
    // Across ecosystems.
    Rule {
        tool: "pre-commit",
        category: PreCommit,
        python_packages: &["pre-commit"],
        commands: &["pre-commit"],
        files: &[".pre-commit-config.yaml", ".pre-commit-config.yml"],
        actions: &["pre-commit/action"],
        ..GENERAL
    },
    Rule {
        tool: "github-actions",
        category: Ci,
        files: &[".github/workflows/"],
        ..GENERAL
    },
    Rule {
        tool: "gitlab-ci",
        category: Ci,
        files: &[".gitlab-ci.yml"],
        ..GENERAL
    },
    Rule {
        tool: "travis-ci",
        category: Ci,
        files: &[".travis.yml"],
        ..GENERAL
    },
    Rule {
        tool: "circleci",
        category: Ci,
        files: &[".circleci/config.yml"],
        ..GENERAL
    },
    Rule {
        tool: "azure-pipelines",
        category: Ci,
        files: &["azure-pipelines.yml"],
        ..GENERAL
    },
    Rule {
        tool: "jenkins",
        category: Ci,
        files: &["Jenkinsfile"],
        ..GENERAL
    },
    Rule {
        tool: "dependabot",
        category: Other,
        files: &[".github/dependabot.yml", ".github/dependabot.yaml"],
        ..GENERAL
    },
    Rule {
        tool: "renovate",
        category: Other,
        files: &[
            "renovate.json",
            "renovate.json5",
            ".renovaterc",
            ".renovaterc.json",
            ".github/renovate.json",
        ],
        ..GENERAL
    },
    Rule {
        tool: "make",
        category: TaskRunner,
        commands: &["make"],
        files: &["Makefile", "GNUmakefile"],
        ..GENERAL
    },
    Rule {
        tool: "just",
        category: TaskRunner,
        commands: &["just"],
        files: &["justfile", "Justfile", ".justfile"],
        actions: &["extractions/setup-just"],
        ..GENERAL
    },
    Rule {
        tool: "docker",
        category: Other,
        commands: &["docker", "docker-compose"],
        files: &[
            "Dockerfile",
            "docker-compose.yml",
            "docker-compose.yaml",
            "compose.yml",
            "compose.yaml",
        ],
        actions: &["docker/build-push-action", "docker/setup-buildx-action"],
        ..GENERAL
    },
    Rule {
        tool: "editorconfig",
        category: Other,
        files: &[".editorconfig"],
        ..GENERAL
    },
    Rule {
        tool: "typos",
        category: Linter,
        hooks: &["typos"],
        commands: &["typos"],
        files: &["_typos.toml", "typos.toml", ".typos.toml"],
        actions: &["crate-ci/typos"],
        ..GENERAL
    },
    Rule {
        tool: "shellcheck",
        category: Linter,
        hooks: &["shellcheck"],
        commands: &["shellcheck"],
        ..GENERAL
    },
    Rule {
        tool: "actionlint",
        category: Linter,
        hooks: &["actionlint"],
        commands: &["actionlint"],
        ..GENERAL
    },
    Rule {
        tool: "markdownlint",
        category: Linter,
        npm_packages: &["markdownlint-cli", "markdownlint-cli2"],
        hooks: &["markdownlint", "markdownlint-cli2"],
        commands: &["markdownlint", "markdownlint-cli2"],
        files: &[
            ".markdownlint.json",
            ".markdownlint.yaml",
            ".markdownlint.yml",
            ".markdownlint-cli2.yaml",
        ],
        ..GENERAL
    },
];

/// The rule named `tool`.
pub fn by_name(tool: &str) -> Option<&'static Rule> {
    RULES.iter().find(|r| r.tool == tool)
}

/// The rule for a declared package; `name` is PEP 503-normalized for Python.
pub fn by_package(ecosystem: Ecosystem, name: &str) -> Option<&'static Rule> {
    RULES.iter().find(|r| match ecosystem {
        Ecosystem::Python => r.python_packages.contains(&name),
        Ecosystem::Javascript => r.npm_packages.contains(&name),
        Ecosystem::General => false,
    })
}

pub fn by_hook(id: &str) -> Option<&'static Rule> {
    RULES.iter().find(|r| r.hooks.contains(&id))
}

pub fn by_command(word: &str) -> Option<&'static Rule> {
    RULES.iter().find(|r| r.commands.contains(&word))
}

pub fn by_action(name: &str) -> Option<&'static Rule> {
    RULES
        .iter()
        .find(|r| r.actions.iter().any(|a| a.eq_ignore_ascii_case(name)))
}

pub fn by_build_backend(backend: &str) -> Option<&'static Rule> {
    let module = backend.split(':').next().unwrap_or(backend).trim();
    RULES.iter().find(|r| r.build_backends.contains(&module))
}

pub fn by_package_json_key(key: &str) -> Option<&'static Rule> {
    RULES.iter().find(|r| r.package_json_keys.contains(&key))
}

/// Rules whose file signal is `path` (exact) or a directory `path` lies in.
pub fn by_file(path: &str) -> impl Iterator<Item = &'static Rule> + '_ {
    RULES.iter().filter(move |r| {
        r.files.iter().any(|f| match f.strip_suffix('/') {
            Some(dir) => path
                .strip_prefix(dir)
                .is_some_and(|rest| rest.starts_with('/')),
            None => *f == path,
        })
    })
}

#[cfg(test)]
mod tests;
