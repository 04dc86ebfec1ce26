//! Extraction end to end on real-world samples (tests/fixtures/patterns/), malformed and
//! hostile files, and a golden file that pins the output to [`EXTRACTOR_VERSION`].

use std::collections::BTreeMap;

use serde_json::json;

use super::*;

macro_rules! fixture {
    ($name:literal) => {
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/patterns/",
            $name
        ))
    };
}

/// Extract a repository made of `files` (every file is also in the tree listing).
fn run(files: &[(&str, &str)]) -> RepoPatterns {
    run_bytes(
        &files
            .iter()
            .map(|(p, t)| (*p, t.as_bytes().to_vec()))
            .collect::<Vec<_>>(),
    )
}

fn run_bytes(files: &[(&str, Vec<u8>)]) -> RepoPatterns {
    let all: Vec<String> = files.iter().map(|(p, _)| p.to_string()).collect();
    let files: BTreeMap<String, Vec<u8>> = files
        .iter()
        .map(|(p, b)| (p.to_string(), b.clone()))
        .collect();
    extract(&RepoInput {
        root_entries: &[],
        all_paths: &all,
        files: &files,
        license_spdx: None,
        language: None,
    })
}

/// "name specifier group" per dependency ("*" for no specifier).
fn deps(patterns: &RepoPatterns) -> Vec<String> {
    patterns
        .dependencies
        .iter()
        .map(|d| {
            format!(
                "{} {} {}",
                d.name,
                d.specifier.as_deref().unwrap_or("*"),
                d.group
            )
        })
        .collect()
}

/// "name <- detected_from" per tool sighting.
fn tools(patterns: &RepoPatterns) -> Vec<String> {
    patterns
        .tools
        .iter()
        .map(|t| format!("{} <- {}", t.name, t.detected_from))
        .collect()
}

fn has_tool(patterns: &RepoPatterns, name: &str, from: &str) -> bool {
    patterns
        .tools
        .iter()
        .any(|t| t.name == name && t.detected_from == from)
}

#[test]
fn pyproject_pep621_groups_build_system_and_tool_tables() {
    let p = run(&[("pyproject.toml", fixture!("pyproject-pep621.toml"))]);
    assert_eq!(p.errors, []);
    assert_eq!(
        deps(&p),
        [
            "click * optional:cli",
            "coverage * group:dev",
            "coverage * group:test",
            "django >2.0 main",
            "django >2.1 main",
            "gidgethub >4.0.0 main",
            "hatch-vcs * build",
            "hatchling >=1.18 build",
            "httpx * main",
            "mkdocs-material ~=9.5 hatch:docs",
            "mypy ==1.10.0 group:dev",
            "mypy ==1.10.0 group:typing",
            "pre-commit >=3.7 dev",
            "pyqt5 * optional:gui",
            "pytest >=8 group:dev",
            "pytest >=8 group:test",
            "rich * optional:cli",
            "ruff ==0.4.1 group:dev",
            "types-requests * group:dev",
            "types-requests * group:typing",
        ]
    );
    for (tool, from) in [
        ("hatchling", "pyproject.toml [build-system]"),
        ("hatchling", "pyproject.toml [tool.hatch.version]"),
        ("hatch", "pyproject.toml [tool.hatch.envs]"),
        ("uv", "pyproject.toml [tool.uv]"),
        ("ruff", "pyproject.toml [tool.ruff]"),
        ("ruff", "dependency"),
        ("mypy", "pyproject.toml [tool.mypy]"),
        ("pytest", "pyproject.toml [tool.pytest.ini_options]"),
        ("coverage", "pyproject.toml [tool.coverage]"),
        ("towncrier", "pyproject.toml [tool.towncrier]"),
        ("pre-commit", "dependency"),
    ] {
        assert!(
            has_tool(&p, tool, from),
            "{tool} <- {from} missing from {:#?}",
            tools(&p)
        );
    }
    assert!(
        !p.tools.iter().any(|t| t.name.contains("setuptools")),
        "{:#?}",
        tools(&p)
    );
    let ruff = p
        .tools
        .iter()
        .find(|t| t.name == "ruff" && t.detected_from == "dependency")
        .unwrap();
    assert_eq!(ruff.version.as_deref(), Some("0.4.1"));
    assert_eq!(ruff.category, Category::Linter);
    assert_eq!(
        p.configs["ruff"],
        json!({"line-length": 100, "target-version": "py38", "lint": {"select": ["E", "F", "I"], "ignore": ["E501"]}})
    );
    assert_eq!(
        p.configs["mypy"],
        json!({"strict": true, "python_version": "3.8"})
    );
    assert_eq!(
        p.configs["pytest"],
        json!({"minversion": "6.0", "addopts": "-ra -q", "testpaths": ["tests"]})
    );
    assert_eq!(
        p.configs["coverage"],
        json!({"run": {"branch": true}, "report": {"show_missing": true}})
    );
    assert!(!p.configs.contains_key("uv") && !p.configs.contains_key("hatch"));
}

#[test]
fn pyproject_poetry_extras_groups_tasks_and_legacy_tox() {
    let p = run(&[("pyproject.toml", fixture!("pyproject-poetry.toml"))]);
    assert_eq!(p.errors, []);
    assert_eq!(
        deps(&p),
        [
            "black 23.1.0 dev",
            "foo <=1.9 || ^2.0 main",
            "mkdocs * group:docs",
            "my-lib * main",
            "mysqlclient ^1.3 optional:mysql",
            "pendulum ^2.1 main",
            "poetry-core * build",
            "psycopg2 ^2.9 optional:pgsql",
            "pytest * tox",
            "pytest ^6.0.0 group:test",
            "pytest-mock * group:test",
            "requests ^2.13.0 main",
        ]
    );
    for (tool, from) in [
        ("poetry", "pyproject.toml [tool.poetry]"),
        ("poetry-core", "pyproject.toml [build-system]"),
        ("black", "pyproject.toml [tool.black]"),
        ("black", "dependency"),
        ("isort", "pyproject.toml [tool.isort]"),
        ("poethepoet", "pyproject.toml [tool.poe]"),
        ("tox", "pyproject.toml [tool.tox]"),
        ("tox", "pyproject.toml"),
        ("pytest", "pyproject.toml task test"),
        ("pytest", "pyproject.toml commands"),
        ("ruff", "pyproject.toml task lint"),
    ] {
        assert!(
            has_tool(&p, tool, from),
            "{tool} <- {from} missing from {:#?}",
            tools(&p)
        );
    }
    let scripts: Vec<(&str, &str)> = p
        .scripts
        .iter()
        .map(|s| (s.name.as_str(), s.command.as_str()))
        .collect();
    assert_eq!(
        scripts,
        [
            ("check", "lint && test"),
            ("lint", "ruff check ."),
            ("py310", "pytest tests/"),
            ("py39", "pytest tests/"),
            ("test", "pytest --cov=poetry_demo"),
        ]
    );
    assert_eq!(
        p.configs["black"],
        json!({"line-length": 88, "target-version": ["py39"]})
    );
    assert!(!p.configs.contains_key("poetry"));
}

#[test]
fn pdm_dev_dependencies_and_unknown_backends() {
    let text = "[build-system]\nrequires = ['custom-backend']\nbuild-backend = 'backend.api:main'\n\
                [tool.pdm.dev-dependencies]\nlint = ['flake8>=7', '-e file:///${PROJECT_ROOT}/sub']\n";
    let p = run(&[("pyproject.toml", text)]);
    assert_eq!(
        deps(&p),
        ["custom-backend * build", "flake8 >=7 group:lint"]
    );
    assert!(
        p.tools
            .iter()
            .any(|t| t.name == "backend.api" && t.category == Category::BuildBackend)
    );
    assert!(has_tool(&p, "flake8", "dependency"));
    assert_eq!(p.errors, []);
}

#[test]
fn setup_cfg_options_extras_and_tool_sections() {
    let p = run(&[("setup.cfg", fixture!("setup.cfg"))]);
    assert_eq!(p.errors, []);
    assert_eq!(
        deps(&p),
        [
            "docutils >=0.3 optional:rest",
            "importlib-metadata * main",
            "pack ==1.1,==1.3 optional:rest",
            "reportlab >=1.2 optional:pdf",
            "requests * main",
            "rxp * optional:pdf",
            "setuptools-scm * build",
            "wheel * build",
        ]
    );
    for (tool, section) in [
        ("flake8", "flake8"),
        ("mypy", "mypy"),
        ("pytest", "tool:pytest"),
        ("isort", "isort"),
        ("coverage", "coverage:*"),
    ] {
        assert!(
            has_tool(&p, tool, &format!("setup.cfg [{section}]")),
            "{tool}: {:#?}",
            tools(&p)
        );
    }
    assert_eq!(
        p.configs["flake8"],
        json!({"max-line-length": 120, "extend-ignore": "E203, W503", "exclude": [".git", "__pycache__"]})
    );
    assert_eq!(p.configs["mypy"], json!({"ignore_missing_imports": true}));
    assert_eq!(
        p.configs["coverage"],
        json!({"run": {"source": "my_package"}, "report": {"fail_under": 90}})
    );
}

#[test]
fn setup_py_is_read_statically() {
    let p = run(&[("setup.py", fixture!("setup.py"))]);
    assert_eq!(p.errors, []);
    assert_eq!(
        deps(&p),
        [
            "click >=7.0,<9 main",
            "django * optional:fancy feature",
            "maya * main",
            "pytest >=7 optional:test",
            "pytest-cov * optional:test",
            "records >=0.5.0 main",
            "requests * main",
            "wheel * build",
        ]
    );
    assert!(has_tool(&p, "setuptools", "setup.py"));
}

#[test]
fn tox_ini_envs_deps_and_sections() {
    let p = run(&[("tox.ini", fixture!("tox.ini"))]);
    assert_eq!(p.errors, []);
    assert_eq!(
        deps(&p),
        [
            "black ==22.12 tox",
            "mypy >=0.991 tox",
            "pytest >=7 tox",
            "pytest-sugar * tox",
            "tomli * tox"
        ]
    );
    let scripts: Vec<(&str, &str)> = p
        .scripts
        .iter()
        .map(|s| (s.name.as_str(), s.command.as_str()))
        .collect();
    assert_eq!(
        scripts,
        [
            ("lint", "black {posargs:.}"),
            ("py310", "pytest {posargs:tests}"),
            ("py311", "pytest {posargs:tests}"),
            ("py312", "pytest {posargs:tests}"),
            ("py38", "pytest {posargs:tests}"),
            ("py39", "pytest {posargs:tests}"),
            ("type", "mypy {posargs:src tests}"),
        ]
    );
    assert!(p.scripts.iter().all(|s| s.source == "tox.ini"));
    for (tool, from) in [
        ("tox", "tox.ini"),
        ("black", "tox.ini commands"),
        ("mypy", "tox.ini commands"),
        ("pytest", "tox.ini commands"),
        ("flake8", "tox.ini [flake8]"),
        ("pytest", "tox.ini [pytest]"),
    ] {
        assert!(
            has_tool(&p, tool, from),
            "{tool} <- {from}: {:#?}",
            tools(&p)
        );
    }
}

#[test]
fn package_json_dependencies_scripts_and_tools() {
    let p = run(&[("package.json", fixture!("package.json"))]);
    assert_eq!(p.errors, []);
    assert!(
        p.dependencies
            .iter()
            .all(|d| d.ecosystem == Ecosystem::Javascript)
    );
    assert_eq!(
        deps(&p),
        [
            "@types/react ^18.3.3 dev",
            "@vitejs/plugin-react ^4.3.1 dev",
            "eslint ^9.5.0 dev",
            "fsevents * optional",
            "husky ^9.0.11 dev",
            "lint-staged ^15.2.7 dev",
            "prettier 3.3.2 dev",
            "react >=18 peer",
            "react ^18.3.1 main",
            "react-dom ^18.3.1 main",
            "typescript ~5.4.5 dev",
            "vite ^5.3.1 dev",
            "vitest ^1.6.0 dev",
            "zod 3.23.8 main",
        ]
    );
    assert_eq!(p.scripts.len(), 6);
    assert!(
        p.scripts
            .iter()
            .any(|s| s.name == "build" && s.command == "tsc -b && vite build")
    );
    let pnpm = p
        .tools
        .iter()
        .find(|t| t.name == "pnpm" && t.detected_from == "package.json packageManager");
    assert_eq!(pnpm.and_then(|t| t.version.as_deref()), Some("9.1.0"));
    let node = p.tools.iter().find(|t| t.name == "node").unwrap();
    assert_eq!(
        (node.version.as_deref(), node.detected_from.as_str()),
        (Some(">=20.11"), "package.json engines")
    );
    for (tool, from) in [
        ("eslint", "dependency"),
        ("eslint", "package.json script lint"),
        ("prettier", "package.json \"prettier\""),
        ("lint-staged", "package.json \"lint-staged\""),
        ("typescript", "package.json script build"),
        ("vite", "package.json script dev"),
        ("vitest", "package.json script test"),
        ("husky", "package.json script prepare"),
    ] {
        assert!(
            has_tool(&p, tool, from),
            "{tool} <- {from}: {:#?}",
            tools(&p)
        );
    }
    let prettier = p
        .tools
        .iter()
        .find(|t| t.name == "prettier" && t.detected_from == "dependency")
        .unwrap();
    assert_eq!(prettier.version.as_deref(), Some("3.3.2"));
    assert_eq!(
        p.configs["prettier"],
        json!({"semi": false, "singleQuote": true})
    );
}

#[test]
fn tsconfig_with_comments_and_trailing_commas() {
    let p = run(&[("tsconfig.json", fixture!("tsconfig.json"))]);
    assert_eq!(p.errors, []);
    let config = &p.configs["typescript"];
    assert_eq!(config["strict"], json!(true));
    assert_eq!(config["moduleResolution"], json!("bundler"));
    assert_eq!(config["extends"], json!("./tsconfig.base.json"));
    assert!(config.get("include").is_none());
    assert!(has_tool(&p, "typescript", "tsconfig.json"));
}

#[test]
fn eslint_legacy_yaml_and_flat_config() {
    let p = run(&[(".eslintrc.yml", fixture!("eslintrc.yml"))]);
    assert_eq!(p.errors, []);
    assert!(has_tool(&p, "eslint", ".eslintrc.yml"));
    assert_eq!(
        p.configs["eslint"]["parser"],
        json!("@typescript-eslint/parser")
    );
    assert_eq!(
        p.configs["eslint"]["rules"]["semi"],
        json!(["error", "always"])
    );

    let p = run(&[("eslint.config.mjs", fixture!("eslint.config.mjs"))]);
    assert_eq!(p.errors, []);
    assert!(has_tool(&p, "eslint", "eslint.config.mjs"));
    assert_eq!(
        p.configs["eslint"],
        json!({
            "imports": ["@eslint/eslintrc", "@eslint/js", "eslint-plugin-react", "typescript-eslint"],
            "extends": ["plugin:react-hooks/recommended"],
        })
    );
}

#[test]
fn pre_commit_hooks_and_their_tools() {
    let p = run(&[(
        ".pre-commit-config.yaml",
        fixture!("pre-commit-config.yaml"),
    )]);
    assert_eq!(p.errors, []);
    let hooks: Vec<String> = p
        .precommit_hooks
        .iter()
        .map(|h| format!("{} {} {}", h.id, h.rev.as_deref().unwrap_or("-"), h.repo))
        .collect();
    assert_eq!(
        hooks,
        [
            "ruff v0.4.1 https://github.com/astral-sh/ruff-pre-commit",
            "ruff-format v0.4.1 https://github.com/astral-sh/ruff-pre-commit",
            "mypy v1.10.0 https://github.com/pre-commit/mirrors-mypy",
            "check-yaml v4.6.0 https://github.com/pre-commit/pre-commit-hooks",
            "end-of-file-fixer v4.6.0 https://github.com/pre-commit/pre-commit-hooks",
            "trailing-whitespace v4.6.0 https://github.com/pre-commit/pre-commit-hooks",
            "pytest-check - local",
        ]
    );
    let ruff = p
        .tools
        .iter()
        .find(|t| t.detected_from == ".pre-commit-config.yaml hook ruff")
        .unwrap();
    assert_eq!(
        (ruff.name.as_str(), ruff.version.as_deref()),
        ("ruff", Some("0.4.1"))
    );
    assert!(has_tool(
        &p,
        "ruff",
        ".pre-commit-config.yaml hook ruff-format"
    ));
    assert!(has_tool(&p, "mypy", ".pre-commit-config.yaml hook mypy"));
    assert!(has_tool(&p, "pre-commit", ".pre-commit-config.yaml"));
    assert_eq!(
        p.tools
            .iter()
            .find(|t| t.name == "pre-commit")
            .unwrap()
            .category,
        Category::PreCommit
    );
}

#[test]
fn workflow_actions_runs_and_tools() {
    let p = run(&[(
        ".github/workflows/python-package.yml",
        fixture!("workflow-python.yml"),
    )]);
    assert_eq!(p.errors, []);
    let actions: Vec<String> = p
        .actions
        .iter()
        .map(|a| format!("{}@{}", a.name, a.version.as_deref().unwrap_or("-")))
        .collect();
    assert_eq!(
        actions,
        [
            "actions/checkout@v3",
            "actions/checkout@v4",
            "actions/setup-python@v5",
            "astral-sh/setup-uv@v3",
            "octo-org/example-repo/.github/workflows/reusable.yml@main",
        ]
    );
    let scripts: Vec<&str> = p.scripts.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        scripts,
        [
            "Install dependencies",
            "Lint with flake8",
            "Test with pytest",
            "typecheck"
        ]
    );
    assert!(
        p.scripts
            .iter()
            .all(|s| s.source == ".github/workflows/python-package.yml")
    );
    for (tool, from) in [
        ("github-actions", ".github/workflows/python-package.yml"),
        ("github-actions", ".github/workflows/"),
        ("pip", "workflow run: pip"),
        ("flake8", "workflow run: flake8"),
        ("pytest", "workflow run: pytest"),
        ("uv", "workflow run: uv"),
        ("mypy", "workflow run: mypy"),
        (
            "uv",
            ".github/workflows/python-package.yml uses astral-sh/setup-uv",
        ),
    ] {
        assert!(
            has_tool(&p, tool, from),
            "{tool} <- {from}: {:#?}",
            tools(&p)
        );
    }
    assert_eq!(
        p.tools
            .iter()
            .find(|t| t.name == "github-actions")
            .unwrap()
            .category,
        Category::Ci
    );
}

#[test]
fn readme_shell_blocks_only() {
    let p = run(&[("README.md", fixture!("readme-sample.md"))]);
    assert_eq!(
        tools(&p),
        [
            "pip <- README.md",
            "pre-commit <- README.md",
            "tox <- README.md"
        ],
        "prose and python blocks must not count"
    );
    assert!(p.structure.has_readme);
}

#[test]
fn tool_config_files_are_read() {
    let p = run(&[
        ("ruff.toml", "line-length = 120\n[lint]\nselect = ['B']\n"),
        ("mypy.ini", "[mypy]\nstrict = True\n"),
        (".prettierrc", "{\"tabWidth\": 4}"),
        (".flake8", "[flake8]\nmax-line-length = 88\n"),
    ]);
    assert_eq!(p.errors, []);
    assert_eq!(
        p.configs["ruff"],
        json!({"line-length": 120, "lint": {"select": ["B"]}})
    );
    assert_eq!(p.configs["mypy"], json!({"strict": true}));
    assert_eq!(p.configs["prettier"], json!({"tabWidth": 4}));
    assert_eq!(p.configs["flake8"], json!({"max-line-length": 88}));
    for (tool, file) in [
        ("ruff", "ruff.toml"),
        ("mypy", "mypy.ini"),
        ("prettier", ".prettierrc"),
        ("flake8", ".flake8"),
    ] {
        assert!(has_tool(&p, tool, file), "{tool}");
    }
}

/// One malformed sample per file kind: each is one error for its path, never a panic, and
/// a good file next to it is still extracted.
mod robustness;
