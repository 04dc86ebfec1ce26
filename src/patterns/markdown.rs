//! README.md and CONTRIBUTING.md: tools named by commands in fenced shell blocks.
//!
//! Invariant (conservative by design): only fenced code blocks count. In blocks tagged as a
//! shell (`sh`, `bash`, `shell`, `zsh`) every non-comment line is a command; in `console`,
//! `shell-session` and untagged blocks only prompt lines (`$ cmd`) are. Prose never is.

use super::findings::Findings;

const SHELL_TAGS: &[&str] = &["sh", "bash", "shell", "zsh", "fish"];
const SESSION_TAGS: &[&str] = &["console", "shell-session", "sh-session", "terminal", ""];

pub(crate) fn extract(text: &str, path: &str, f: &mut Findings) {
    let commands = shell_commands(text);
    if !commands.is_empty() {
        f.commands(&commands.join("\n"), path);
    }
}

/// Command lines of the fenced shell blocks, prompts removed.
fn shell_commands(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    // The open fence (its character and length) and whether every line is a command.
    let mut open: Option<(char, usize, Option<bool>)> = None;
    for line in text.lines() {
        let trimmed = line.trim_start();
        let fence_char = trimmed.chars().next().filter(|c| *c == '`' || *c == '~');
        let fence_len = fence_char.map_or(0, |c| trimmed.chars().take_while(|x| *x == c).count());
        match open {
            None if fence_len >= 3 => {
                let c = fence_char.unwrap_or('`');
                let info = trimmed[fence_len..].trim().to_ascii_lowercase();
                let tag = info.split([' ', ',', '{']).next().unwrap_or("").to_string();
                let mode = if SHELL_TAGS.contains(&tag.as_str()) {
                    Some(true)
                } else if SESSION_TAGS.contains(&tag.as_str()) {
                    Some(false)
                } else {
                    None
                };
                open = Some((c, fence_len, mode));
            }
            None => {}
            Some((c, len, _))
                if fence_char == Some(c)
                    && fence_len >= len
                    && trimmed[fence_len..].trim().is_empty() =>
            {
                open = None;
            }
            Some((_, _, None)) => {}
            Some((_, _, Some(all_lines))) => {
                let prompted = trimmed
                    .strip_prefix("$ ")
                    .or_else(|| trimmed.strip_prefix("% "));
                match prompted {
                    Some(command) => out.push(command),
                    None if all_lines && !trimmed.starts_with('#') => out.push(trimmed),
                    None => {}
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_shell_blocks_count() {
        let readme = "Run pytest to test.\n\n```bash\n# install\npip install -e .[dev]\npre-commit install\n```\n\n```python\nimport pytest\n```\n\n```console\n$ tox -e py312\nall good\n```\n\n~~~\n$ ruff check .\nmypy is not a prompt\n~~~\n";
        assert_eq!(
            shell_commands(readme),
            [
                "pip install -e .[dev]",
                "pre-commit install",
                "tox -e py312",
                "ruff check ."
            ]
        );
    }

    #[test]
    fn unclosed_fence_is_harmless() {
        assert_eq!(shell_commands("```sh\nmake test"), ["make test"]);
    }
}
