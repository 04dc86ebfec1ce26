//! Repository layout from the tree listing: src layout, tests and docs directories,
//! languages by extension, README/CONTRIBUTING presence, license.
//!
//! Invariants: computed from paths only (plus a root LICENSE file's text when it was read);
//! vendored trees (`node_modules/`, `.venv/`, ...) do not count towards languages or layout.

use std::collections::BTreeSet;

use super::paths;
use super::types::{RepoInput, Structure};

/// File extension -> language, for `Structure::languages`.
const LANGUAGES: &[(&str, &str)] = &[
    ("py", "python"),
    ("pyi", "python"),
    ("pyx", "python"),
    ("ipynb", "jupyter"),
    ("js", "javascript"),
    ("mjs", "javascript"),
    ("cjs", "javascript"),
    ("jsx", "javascript"),
    ("ts", "typescript"),
    ("tsx", "typescript"),
    ("mts", "typescript"),
    ("cts", "typescript"),
    ("rs", "rust"),
    ("go", "go"),
    ("java", "java"),
    ("kt", "kotlin"),
    ("scala", "scala"),
    ("rb", "ruby"),
    ("php", "php"),
    ("cs", "csharp"),
    ("swift", "swift"),
    ("c", "c"),
    ("h", "c"),
    ("cc", "cpp"),
    ("cpp", "cpp"),
    ("cxx", "cpp"),
    ("hpp", "cpp"),
    ("sh", "shell"),
    ("bash", "shell"),
    ("lua", "lua"),
    ("r", "r"),
    ("jl", "julia"),
    ("dart", "dart"),
    ("ex", "elixir"),
    ("exs", "elixir"),
    ("vue", "vue"),
    ("svelte", "svelte"),
];

fn language_of(path: &str) -> Option<&'static str> {
    let name = paths::file_name(path);
    let (stem, ext) = name.rsplit_once('.')?;
    if stem.is_empty() {
        return None;
    }
    let ext = ext.to_ascii_lowercase();
    LANGUAGES
        .iter()
        .find(|(e, _)| *e == ext)
        .map(|(_, language)| *language)
}

pub(crate) fn structure(input: &RepoInput, license_from_file: Option<String>) -> Structure {
    let mut root_dirs: BTreeSet<&str> = input
        .root_entries
        .iter()
        .filter(|(_, is_dir)| *is_dir)
        .map(|(name, _)| name.as_str())
        .collect();
    let mut root_files: BTreeSet<&str> = input
        .root_entries
        .iter()
        .filter(|(_, is_dir)| !*is_dir)
        .map(|(name, _)| name.as_str())
        .collect();
    let mut languages = BTreeSet::new();
    let mut src_layout = false;
    let mut nested_tests = false;
    let mut has_contributing = false;
    for path in input.all_paths {
        match path.split_once('/') {
            Some((dir, _)) => {
                root_dirs.insert(dir);
            }
            None => {
                root_files.insert(path);
            }
        }
        has_contributing |= paths::is_contributing(path);
        if paths::is_vendored(path) {
            continue;
        }
        let language = language_of(path);
        if let Some(language) = language {
            languages.insert(language.to_string());
            src_layout |= path.starts_with("src/");
        }
        nested_tests |= path.split('/').any(|part| part == "__tests__");
    }
    let license = match input.license_spdx.map(str::trim) {
        Some(spdx) if !spdx.is_empty() && spdx != "NOASSERTION" => Some(spdx.to_string()),
        spdx => license_from_file.or_else(|| {
            let has_file = root_files
                .iter()
                .any(|f| paths::kind_of(f) == Some(paths::Kind::License));
            (has_file || spdx.is_some()).then(|| "NOASSERTION".to_string())
        }),
    };
    Structure {
        src_layout,
        tests_dir: nested_tests
            || ["tests", "test", "__tests__"]
                .iter()
                .any(|d| root_dirs.contains(d)),
        docs_dir: ["docs", "doc", "documentation"]
            .iter()
            .any(|d| root_dirs.contains(d)),
        languages: languages.into_iter().collect(),
        license,
        has_readme: root_files
            .iter()
            .any(|f| f.to_ascii_lowercase().starts_with("readme")),
        has_contributing: has_contributing
            || root_files
                .iter()
                .any(|f| f.to_ascii_lowercase().starts_with("contributing")),
    }
}

/// The SPDX id of a license text, from the phrases each license is known by; "NOASSERTION"
/// when none matches (GitHub's word for the same).
pub(crate) fn license_from_text(text: &str) -> String {
    let t = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let has = |phrase: &str| t.contains(phrase);
    let id = if has("GNU AFFERO GENERAL PUBLIC LICENSE") {
        "AGPL-3.0"
    } else if has("GNU LESSER GENERAL PUBLIC LICENSE") {
        if has("Version 2.1") {
            "LGPL-2.1"
        } else {
            "LGPL-3.0"
        }
    } else if has("GNU GENERAL PUBLIC LICENSE") {
        if has("Version 2,") || has("Version 2 ") {
            "GPL-2.0"
        } else {
            "GPL-3.0"
        }
    } else if has("Apache License") && has("Version 2.0") {
        "Apache-2.0"
    } else if has("Mozilla Public License") && (has("Version 2.0") || has("v. 2.0")) {
        "MPL-2.0"
    } else if has("Permission is hereby granted, free of charge") {
        "MIT"
    } else if has(
        "Permission to use, copy, modify, and/or distribute this software for any purpose",
    ) {
        "ISC"
    } else if has("Redistribution and use in source and binary forms") {
        if has("Neither the name") || has("names of its contributors") {
            "BSD-3-Clause"
        } else {
            "BSD-2-Clause"
        }
    } else if has("This is free and unencumbered software released into the public domain") {
        "Unlicense"
    } else {
        "NOASSERTION"
    };
    id.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn layout_languages_and_presence() {
        let root = vec![
            ("src".to_string(), true),
            ("tests".to_string(), true),
            ("README.rst".to_string(), false),
        ];
        let all: Vec<String> = [
            "src/pkg/__init__.py",
            "src/pkg/web.ts",
            "tests/test_x.py",
            "docs/index.md",
            "node_modules/x/index.js",
            ".github/CONTRIBUTING.md",
            "README.rst",
            "LICENSE",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let files = BTreeMap::new();
        let input = RepoInput {
            root_entries: &root,
            all_paths: &all,
            files: &files,
            license_spdx: None,
            language: None,
        };
        assert_eq!(
            structure(&input, None),
            Structure {
                src_layout: true,
                tests_dir: true,
                docs_dir: true,
                languages: vec!["python".into(), "typescript".into()],
                license: Some("NOASSERTION".into()),
                has_readme: true,
                has_contributing: true,
            }
        );
        let input = RepoInput {
            license_spdx: Some("MIT"),
            ..input
        };
        assert_eq!(structure(&input, None).license.as_deref(), Some("MIT"));
        let input = RepoInput {
            license_spdx: Some("NOASSERTION"),
            ..input
        };
        assert_eq!(
            structure(&input, Some("BSD-3-Clause".into()))
                .license
                .as_deref(),
            Some("BSD-3-Clause")
        );
    }

    #[test]
    fn license_texts() {
        let mit = "MIT License\n\nCopyright (c) 2024 Acme\n\nPermission is hereby granted, free of charge, to any person obtaining a copy";
        assert_eq!(license_from_text(mit), "MIT");
        assert_eq!(
            license_from_text("Apache License\n   Version 2.0, January 2004"),
            "Apache-2.0"
        );
        assert_eq!(
            license_from_text("GNU GENERAL PUBLIC LICENSE\n Version 3, 29 June 2007"),
            "GPL-3.0"
        );
        assert_eq!(license_from_text("All rights reserved."), "NOASSERTION");
    }
}
