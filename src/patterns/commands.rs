//! Tools named by shell command lines (workflow `run:` steps, tox commands, package.json
//! scripts, README shell blocks).
//!
//! Invariant: only a command's program word (after env assignments, `sudo`, paths such as
//! `.venv/bin/`) and the program inside a known wrapper (`python -m X`, `uv run X`, `npx X`,
//! ...) are looked up in [`rules::RULES`]; arguments never are, so `npm run build` or
//! `pip install black` name npm and pip only.

use super::rules::{self, Rule};

/// Wrappers that run another program: (program, subcommands that take the inner program;
/// empty = the next word is the inner program).
const WRAPPERS: &[(&str, &[&str])] = &[
    ("python", &["-m"]),
    ("python3", &["-m"]),
    ("py", &["-m"]),
    ("uv", &["run"]),
    ("uvx", &[]),
    ("pipx", &["run"]),
    ("poetry", &["run"]),
    ("pdm", &["run"]),
    ("hatch", &["run"]),
    ("pipenv", &["run"]),
    ("rye", &["run"]),
    ("coverage", &["run"]),
    ("npx", &[]),
    ("pnpx", &[]),
    ("bunx", &[]),
    ("npm", &["exec"]),
    ("pnpm", &["exec", "dlx"]),
    ("yarn", &["dlx", "exec"]),
    ("bun", &["x"]),
    ("xvfb-run", &[]),
];

/// Words that may precede the program in a simple command.
const PREFIXES: &[&str] = &[
    "sudo", "time", "exec", "env", "then", "do", "else", "!", "nohup",
];

/// At most this many wrappers deep (`uv run coverage run -m pytest` is three).
const MAX_WRAPPER_DEPTH: usize = 4;

/// The tools named by `text` (one or more lines), each with the word that named it, in
/// order of appearance, each tool once.
pub(crate) fn tools_in(text: &str) -> Vec<(&'static Rule, String)> {
    let mut found: Vec<(&'static Rule, String)> = Vec::new();
    let joined = text.replace("\\\r\n", " ").replace("\\\n", " ");
    for line in joined.lines() {
        let line = strip_comment(line);
        for command in line.split(['&', '|', ';', '(', ')', '`']) {
            let words: Vec<&str> = command
                .split_whitespace()
                .map(|w| w.trim_matches(|c| c == '"' || c == '\''))
                .filter(|w| !w.is_empty())
                .collect();
            program_tools(&words, 0, &mut found);
        }
    }
    found
}

fn strip_comment(line: &str) -> &str {
    let trimmed = line.trim_start();
    if trimmed.starts_with('#') {
        return "";
    }
    match line.find(" #") {
        Some(i) => &line[..i],
        None => line,
    }
}

fn program_tools(words: &[&str], depth: usize, found: &mut Vec<(&'static Rule, String)>) {
    let start = words
        .iter()
        .position(|w| !PREFIXES.contains(w) && !is_assignment(w))
        .unwrap_or(words.len());
    let Some(first) = words.get(start) else {
        return;
    };
    let program = program_name(first);
    if let Some(rule) = rules::by_command(&program)
        && !found.iter().any(|(r, _)| r.tool == rule.tool)
    {
        found.push((rule, program.clone()));
    }
    if depth >= MAX_WRAPPER_DEPTH {
        return;
    }
    let Some((_, subcommands)) = WRAPPERS.iter().find(|(w, _)| *w == program) else {
        return;
    };
    let rest = &words[start + 1..];
    let inner = if subcommands.is_empty() {
        Some(rest)
    } else {
        // The subcommand, then (for `coverage run -m X`) an optional `-m`.
        rest.iter().position(|w| subcommands.contains(w)).map(|i| {
            let after = &rest[i + 1..];
            after.strip_prefix(&["-m"]).unwrap_or(after)
        })
    };
    if let Some(inner) = inner {
        let skip = inner.iter().take_while(|w| w.starts_with('-')).count();
        program_tools(&inner[skip..], depth + 1, found);
    }
}

/// `FOO=bar` (an environment assignment before the program).
fn is_assignment(word: &str) -> bool {
    match word.split_once('=') {
        Some((name, _)) => {
            !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        }
        None => false,
    }
}

/// `.venv/bin/pytest` -> `pytest`, `python3.12` -> `python3`, `pip3.11` -> `pip3`.
fn program_name(word: &str) -> String {
    let base = word.rsplit('/').next().unwrap_or(word);
    let base = base.strip_suffix(".exe").unwrap_or(base);
    for versioned in ["python3", "pip3"] {
        if let Some(rest) = base.strip_prefix(versioned)
            && rest.starts_with('.')
            && rest[1..].chars().all(|c| c.is_ascii_digit())
        {
            return versioned.to_string();
        }
    }
    base.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tools(text: &str) -> Vec<String> {
        tools_in(text)
            .into_iter()
            .map(|(r, _)| r.tool.to_string())
            .collect()
    }

    #[test]
    fn programs_and_wrappers() {
        assert_eq!(tools("pytest -q --cov"), ["pytest"]);
        assert_eq!(tools("python -m pytest tests/"), ["pytest"]);
        assert_eq!(tools("python3.12 -m pip install -e .[dev]"), ["pip"]);
        assert_eq!(tools("uv run --frozen mypy src"), ["uv", "mypy"]);
        assert_eq!(
            tools("poetry run coverage run -m pytest"),
            ["poetry", "coverage", "pytest"]
        );
        assert_eq!(tools("npx --yes prettier --check ."), ["npm", "prettier"]);
        assert_eq!(tools("pnpm exec eslint ."), ["pnpm", "eslint"]);
        assert_eq!(tools("CI=1 FORCE_COLOR=1 .venv/bin/ruff check ."), ["ruff"]);
    }

    #[test]
    fn arguments_are_not_programs() {
        assert_eq!(tools("npm run build"), ["npm"]);
        assert_eq!(tools("pip install black ruff"), ["pip"]);
        assert_eq!(tools("echo pytest"), Vec::<String>::new());
        assert_eq!(tools("# pytest"), Vec::<String>::new());
    }

    #[test]
    fn compound_and_multi_line_commands() {
        let script = "set -e\npip install tox && tox -e py\nruff check . | tee out # mypy\nblack \\\n  --check .";
        assert_eq!(tools(script), ["pip", "tox", "ruff", "black"]);
    }
}
