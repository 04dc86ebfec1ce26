//! What extraction does with broken, oversized, hostile and truncated input, and that
//! its output is deterministic and pinned to the extractor version.

use super::*;

#[test]
fn malformed_files_become_errors() {
    let good = ("requirements.txt", "flask==3.0.0\n");
    for (path, text) in [
        ("pyproject.toml", "[project\ndependencies = ["),
        ("setup.cfg", "[options\ninstall_requires = x"),
        ("tox.ini", "[tox\nenvlist = py"),
        ("package.json", "{\"dependencies\": {\"a\": \"1\",}"),
        ("package.json", "[1, 2]"),
        ("tsconfig.json", "{\"compilerOptions\": {\"strict\": tru}}"),
        (".eslintrc.json", "{\"rules\": "),
        (".eslintrc.yml", "rules: [a, b\nextends: :"),
        (
            ".pre-commit-config.yaml",
            "repos:\n  - repo: x\n   rev: [unclosed",
        ),
        (".pre-commit-config.yaml", "- just\n- a list\n"),
        (
            ".github/workflows/ci.yml",
            "jobs:\n  build:\n    steps: \"\n",
        ),
        ("ruff.toml", "line-length = = 1"),
        ("mypy.ini", "[mypy\nstrict = True"),
    ] {
        let p = run(&[(path, text), good]);
        assert_eq!(p.errors.len(), 1, "{path}: {text:?} gave {:?}", p.errors);
        assert_eq!(p.errors[0].path, path);
        assert_eq!(deps(&p), ["flask ==3.0.0 main"], "{path}");
    }
    // setup.py is never an error: what cannot be read statically is skipped.
    let p = run(&[(
        "setup.py",
        "setup(install_requires=get_requirements(), extras_require={'a': x})\n((((",
    )]);
    assert_eq!((p.errors.len(), p.dependencies.len()), (0, 0));
}

#[test]
fn oversized_and_binary_files_are_skipped_with_an_error() {
    let big = vec![b'#'; formats::MAX_FILE_BYTES + 1];
    let p = run_bytes(&[
        ("requirements.txt", big),
        ("package.json", vec![0xff, 0xfe, 0x7b]),
        ("setup.py", b"setup(install_requires=['a'])".to_vec()),
    ]);
    let messages: Vec<(&str, bool)> = p
        .errors
        .iter()
        .map(|e| {
            (
                e.path.as_str(),
                e.message.contains("limit") || e.message.contains("UTF-8"),
            )
        })
        .collect();
    assert_eq!(
        messages,
        [("package.json", true), ("requirements.txt", true)]
    );
    assert_eq!(deps(&p), ["a * main"]);
}

#[test]
fn hostile_yaml_and_json_do_not_hurt() {
    let mut bomb = String::from(
        "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n",
    );
    let names = ["b", "c", "d", "e", "f", "g", "h", "i"];
    let mut previous = "a";
    for name in names {
        bomb.push_str(&format!("{name}: &{name} [*{previous},*{previous},*{previous},*{previous},*{previous},*{previous},*{previous},*{previous},*{previous}]\n"));
        previous = name;
    }
    bomb.push_str("jobs: *i\n");
    let deep_json = format!("{}{}", "[".repeat(50_000), "]".repeat(50_000));
    let deep_yaml = format!("repos: {}{}", "[".repeat(50_000), "]".repeat(50_000));
    let start = std::time::Instant::now();
    let p = run(&[
        (".github/workflows/bomb.yml", bomb.as_str()),
        ("package.json", deep_json.as_str()),
        ("tsconfig.json", deep_json.as_str()),
        (".pre-commit-config.yaml", deep_yaml.as_str()),
    ]);
    assert!(
        start.elapsed() < std::time::Duration::from_secs(5),
        "took {:?}",
        start.elapsed()
    );
    let failed: Vec<&str> = p.errors.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(
        failed,
        [
            ".github/workflows/bomb.yml",
            ".pre-commit-config.yaml",
            "package.json",
            "tsconfig.json"
        ]
    );
}

#[test]
fn extraction_is_deterministic_and_round_trips_through_json() {
    let files = [
        ("pyproject.toml", fixture!("pyproject-pep621.toml")),
        ("package.json", fixture!("package.json")),
        (".github/workflows/ci.yml", fixture!("workflow-python.yml")),
    ];
    let a = run(&files);
    let b = run(&files);
    assert_eq!(
        serde_json::to_string(&a).unwrap(),
        serde_json::to_string(&b).unwrap()
    );
    let back: RepoPatterns = serde_json::from_str(&serde_json::to_string(&a).unwrap()).unwrap();
    assert_eq!(back, a);
}

/// Every sample together, serialized, must match the golden file for this
/// [`EXTRACTOR_VERSION`]. When extraction output changes on purpose: bump the version and
/// regenerate with `UPDATE_GOLDEN=1 cargo test --lib patterns::tests::golden`.
#[test]
fn golden_output_is_pinned_to_the_extractor_version() {
    const GOLDEN: &str = "tests/fixtures/patterns/golden.json";
    let p = run(&[
        ("pyproject.toml", fixture!("pyproject-pep621.toml")),
        ("requirements.txt", fixture!("requirements.txt")),
        ("setup.cfg", fixture!("setup.cfg")),
        ("setup.py", fixture!("setup.py")),
        ("tox.ini", fixture!("tox.ini")),
        ("package.json", fixture!("package.json")),
        ("tsconfig.json", fixture!("tsconfig.json")),
        (".eslintrc.yml", fixture!("eslintrc.yml")),
        (
            ".pre-commit-config.yaml",
            fixture!("pre-commit-config.yaml"),
        ),
        (".github/workflows/ci.yml", fixture!("workflow-python.yml")),
        ("README.md", fixture!("readme-sample.md")),
        ("src/spam/__init__.py", ""),
        ("tests/test_spam.py", ""),
    ]);
    let actual = serde_json::to_string_pretty(
        &json!({"extractor_version": EXTRACTOR_VERSION, "patterns": p}),
    )
    .unwrap()
        + "\n";
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(GOLDEN);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, &actual).unwrap();
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        actual == expected,
        "extraction output differs from {GOLDEN}: if intended, bump EXTRACTOR_VERSION and rerun with UPDATE_GOLDEN=1"
    );
}

/// Every prefix of every sample (cut at char boundaries), read as every kind of file, is
/// extracted without a panic: truncated files are what a hostile or broken repo looks like.
#[test]
fn truncated_samples_never_panic() {
    let samples = [
        fixture!("pyproject-pep621.toml"),
        fixture!("pyproject-poetry.toml"),
        fixture!("requirements.txt"),
        fixture!("setup.cfg"),
        fixture!("setup.py"),
        fixture!("tox.ini"),
        fixture!("package.json"),
        fixture!("tsconfig.json"),
        fixture!("eslintrc.yml"),
        fixture!("eslint.config.mjs"),
        fixture!("pre-commit-config.yaml"),
        fixture!("workflow-python.yml"),
        fixture!("readme-sample.md"),
    ];
    let kinds = [
        "pyproject.toml",
        "requirements.txt",
        "setup.cfg",
        "setup.py",
        "tox.ini",
        "package.json",
        "tsconfig.json",
        ".eslintrc.yml",
        "eslint.config.mjs",
        ".pre-commit-config.yaml",
        ".github/workflows/ci.yml",
        "README.md",
        "ruff.toml",
        "mypy.ini",
    ];
    let mut runs = 0;
    for sample in samples {
        for cut in (0..=sample.len())
            .step_by(13)
            .filter(|&i| sample.is_char_boundary(i))
        {
            let files: Vec<(&str, &str)> =
                kinds.iter().map(|kind| (*kind, &sample[..cut])).collect();
            let _ = run(&files);
            runs += 1;
        }
    }
    assert!(runs > 1000, "{runs}");
}
