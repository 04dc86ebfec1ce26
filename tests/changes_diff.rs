//! `heimdall::changes::diff` against real git: each case commits an old tree in a fresh
//! repository, replaces the work tree with the new one, stages it with `git add -A` and
//! takes `git diff --cached --no-renames`; our output for the same changes, written in
//! path order, must be the same bytes. git runs with no global or system configuration.
//!
//! Where several equally short edit scripts exist (repetitive text, or inputs so unlike
//! that git's cost cut-offs decide), imara-diff may choose another one than git. Those
//! cases check that our patch is right instead: `git apply --cached` of it onto the old
//! tree gives git's new tree. Two proptests (64 cases each, `PROPTEST_CASES` for more):
//! random edits of files of distinct lines, where the edit script is unique, must match
//! git byte for byte; random edits of repetitive files must apply.

use std::collections::BTreeMap;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use heimdall::changes::diff::{FileChange, Side, write_change};
use heimdall::oid::{Sha, blob_sha};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

/// What a path holds.
#[derive(Clone, Debug, PartialEq)]
enum Entry {
    File(Vec<u8>),
    Exec(Vec<u8>),
    Link(Vec<u8>),
    /// A submodule at this commit (staged with `git update-index`).
    Gitlink(Sha),
}

type Tree = BTreeMap<String, Entry>;

fn file(text: impl AsRef<[u8]>) -> Entry {
    Entry::File(text.as_ref().to_vec())
}

fn exec(text: impl AsRef<[u8]>) -> Entry {
    Entry::Exec(text.as_ref().to_vec())
}

fn link(target: impl AsRef<[u8]>) -> Entry {
    Entry::Link(target.as_ref().to_vec())
}

fn tree(entries: &[(&str, Entry)]) -> Tree {
    entries
        .iter()
        .map(|(path, entry)| (path.to_string(), entry.clone()))
        .collect()
}

fn git(dir: &Path, args: &[&str]) -> Vec<u8> {
    let out = Command::new("git")
        .current_dir(dir)
        .args(["-c", "user.name=T", "-c", "user.email=t@example.com"])
        .args(args)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", dir)
        .env_remove("GIT_DIR")
        .env_remove("GIT_INDEX_FILE")
        .env_remove("GIT_WORK_TREE")
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn write_tree(root: &Path, tree: &Tree) {
    for entry in std::fs::read_dir(root).unwrap() {
        let path = entry.unwrap().path();
        if path.file_name().unwrap() == ".git" {
            continue;
        }
        if path.is_dir() && !path.is_symlink() {
            std::fs::remove_dir_all(&path).unwrap();
        } else {
            std::fs::remove_file(&path).unwrap();
        }
    }
    for (name, entry) in tree {
        let path = root.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        match entry {
            Entry::File(text) | Entry::Exec(text) => {
                std::fs::write(&path, text).unwrap();
                let mode = if matches!(entry, Entry::Exec(_)) {
                    0o755
                } else {
                    0o644
                };
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
            }
            Entry::Link(target) => {
                std::os::unix::fs::symlink(std::ffi::OsStr::from_bytes(target), &path).unwrap()
            }
            Entry::Gitlink(_) => {}
        }
    }
}

/// Stages the work tree as `tree`: `git add -A`, then the submodules by hand.
fn stage(root: &Path, tree: &Tree) {
    git(root, &["add", "-A"]);
    for (name, entry) in tree {
        if let Entry::Gitlink(sha) = entry {
            let info = format!("160000,{},{name}", sha.to_hex());
            git(root, &["update-index", "--add", "--cacheinfo", &info]);
        }
    }
}

/// A repository with `old` committed and `new` staged over it.
struct Staged {
    dir: tempfile::TempDir,
    /// `git diff --cached --no-renames`.
    diff: Vec<u8>,
    /// The staged tree's id.
    tree: Vec<u8>,
}

fn staged(old: &Tree, new: &Tree) -> Staged {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    git(root, &["init", "-q", "-b", "main"]);
    write_tree(root, old);
    stage(root, old);
    git(root, &["commit", "-q", "--allow-empty", "-m", "old"]);
    write_tree(root, new);
    stage(root, new);
    let diff = git(root, &["diff", "--cached", "--no-renames"]);
    let tree = git(root, &["write-tree"]);
    Staged { dir, diff, tree }
}

impl Staged {
    /// Puts the old tree back in the index, applies `patch` there with `git apply
    /// --cached` and says whether that gives the staged tree.
    fn applies(&self, patch: &[u8]) -> Result<(), String> {
        let root = self.dir.path();
        git(root, &["read-tree", "HEAD"]);
        let file = root.join(".git/ours.patch");
        std::fs::write(&file, patch).unwrap();
        let out = Command::new("git")
            .current_dir(root)
            .args(["apply", "--cached", "--allow-empty"])
            .arg(&file)
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .output()
            .expect("git runs");
        if !out.status.success() {
            return Err(format!(
                "git apply: {}\nours:\n{}",
                String::from_utf8_lossy(&out.stderr),
                String::from_utf8_lossy(patch)
            ));
        }
        let tree = git(root, &["write-tree"]);
        if tree != self.tree {
            return Err(format!(
                "applied, but not to the new tree\nours:\n{}",
                String::from_utf8_lossy(patch)
            ));
        }
        Ok(())
    }
}

fn side(entry: Option<&Entry>) -> Option<Side<'_>> {
    let (mode, content): (u32, &[u8]) = match entry? {
        Entry::File(text) => (0o100644, text),
        Entry::Exec(text) => (0o100755, text),
        Entry::Link(target) => (0o120000, target),
        Entry::Gitlink(sha) => {
            return Some(Side {
                mode: 0o160000,
                sha: *sha,
                content: b"",
            });
        }
    };
    Some(Side {
        mode,
        sha: blob_sha(content),
        content,
    })
}

fn ours(old: &Tree, new: &Tree) -> Vec<u8> {
    let paths: std::collections::BTreeSet<&String> = old.keys().chain(new.keys()).collect();
    let mut out = Vec::new();
    for path in paths {
        let (o, n) = (old.get(path), new.get(path));
        if o == n {
            continue;
        }
        let change = FileChange {
            path,
            old: side(o),
            new: side(n),
        };
        write_change(&mut out, &change).unwrap();
    }
    out
}

/// Our output and git's for `old` -> `new`, or both texts when they differ.
fn compare(old: &Tree, new: &Tree) -> Result<(), String> {
    let theirs = staged(old, new).diff;
    let mine = ours(old, new);
    if theirs == mine {
        return Ok(());
    }
    Err(format!(
        "git:\n{}\nours:\n{}",
        String::from_utf8_lossy(&theirs),
        String::from_utf8_lossy(&mine)
    ))
}

fn check(name: &str, old: &[(&str, Entry)], new: &[(&str, Entry)]) {
    if let Err(why) = compare(&tree(old), &tree(new)) {
        panic!("{name}: output differs from git\n{why}");
    }
}

/// For a change git may place otherwise: our patch turns the old tree into the new.
fn check_applies(name: &str, old: &[(&str, Entry)], new: &[(&str, Entry)]) {
    let (old, new) = (tree(old), tree(new));
    if let Err(why) = staged(&old, &new).applies(&ours(&old, &new)) {
        panic!("{name}: {why}");
    }
}

/// `n` numbered lines, `prefix` before each number.
fn lines(prefix: &str, range: std::ops::Range<usize>) -> String {
    range.map(|i| format!("{prefix}{i}\n")).collect()
}

fn edit(text: &str, f: impl FnOnce(&mut Vec<String>)) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    f(&mut lines);
    lines.iter().map(|l| format!("{l}\n")).collect()
}

#[test]
fn line_edits() {
    let ten = lines("line ", 0..10);
    check(
        "single-line edit",
        &[("f", file(&ten))],
        &[("f", file(edit(&ten, |l| l[5] = "changed".into())))],
    );
    check(
        "append",
        &[("f", file(&ten))],
        &[("f", file(format!("{ten}new 1\nnew 2\n")))],
    );
    check(
        "prepend",
        &[("f", file(&ten))],
        &[("f", file(format!("first\n{ten}")))],
    );
    check(
        "delete a block",
        &[("f", file(&ten))],
        &[("f", file(edit(&ten, |l| drop(l.drain(3..6)))))],
    );
    check(
        "delete every line",
        &[("f", file(&ten))],
        &[("f", file(""))],
    );
    check(
        "fill an empty file",
        &[("f", file(""))],
        &[("f", file(&ten))],
    );
    check(
        "edit the first and last lines",
        &[("f", file(&ten))],
        &[(
            "f",
            file(edit(&ten, |l| {
                l[0] = "top".into();
                l[9] = "bottom".into();
            })),
        )],
    );
    check(
        "single-line file",
        &[("f", file("one\n"))],
        &[("f", file("two\n"))],
    );
}

#[test]
fn hunks_far_apart_and_close_together() {
    let hundred = lines("l", 0..100);
    check(
        "three far-apart hunks",
        &[("f", file(&hundred))],
        &[(
            "f",
            file(edit(&hundred, |l| {
                l[10] = "x".into();
                l[40] = "y".into();
                l.insert(80, "z".into());
            })),
        )],
    );
    // Six unchanged lines between two changes: one hunk; seven: two.
    for gap in [5, 6, 7, 8] {
        check(
            &format!("changes {gap} lines apart"),
            &[("f", file(&hundred))],
            &[(
                "f",
                file(edit(&hundred, |l| {
                    l[20] = "a".into();
                    l[21 + gap] = "b".into();
                })),
            )],
        );
    }
    check(
        "changes near both ends",
        &[("f", file(&hundred))],
        &[(
            "f",
            file(edit(&hundred, |l| {
                l[1] = "a".into();
                l[98] = "b".into();
            })),
        )],
    );
}

const PYTHON: &str = "import os\n\nclass Shape:\n    def __init__(self, n):\n        self.n = n\n        self.m = 2\n        self.k = 3\n\n    def area(self):\n        total = 0\n        for i in range(self.n):\n            total += i\n        return total\n\n\ndef main():\n    s = Shape(3)\n    print(s.area())\n    print(s.n)\n    print(s.m)\n    return 0\n";

const C: &str = "#include <stdio.h>\n\nstatic int helper(int x)\n{\n\tint y = x * 2;\n\tint z = y + 1;\n\tint w = z - 3;\n\treturn w;\n}\n\nint main(int argc, char **argv)\n{\n\tint a = 1;\n\tint b = 2;\n\tint c = 3;\n\tprintf(\"%d\\n\", helper(a + b + c));\n\treturn 0;\n}\n";

#[test]
fn function_names_in_hunk_headers() {
    check(
        "python method body",
        &[("a.py", file(PYTHON))],
        &[("a.py", file(PYTHON.replace("total += i", "total += i * i")))],
    );
    check(
        "python function body",
        &[("a.py", file(PYTHON))],
        &[("a.py", file(PYTHON.replace("print(s.m)", "print(s.k)")))],
    );
    check(
        "python: a new method between two",
        &[("a.py", file(PYTHON))],
        &[(
            "a.py",
            file(PYTHON.replace(
                "    def area(self):",
                "    def size(self):\n        return self.n\n\n    def area(self):",
            )),
        )],
    );
    check(
        "c function bodies",
        &[("a.c", file(C))],
        &[(
            "a.c",
            file(
                C.replace("int w = z - 3;", "int w = z - 4;")
                    .replace("int c = 3;", "int c = 4;"),
            ),
        )],
    );
    check(
        "c: a new function between two",
        &[("a.c", file(C))],
        &[(
            "a.c",
            file(C.replace(
                "int main(",
                "static void noop(void)\n{\n\treturn;\n}\n\nint main(",
            )),
        )],
    );
    let names = [
        "_private_name(x)",
        "$dollar",
        "x",
        "   indented (never a name)",
        "\tindented by tab",
        "9 starts with a digit",
        "(starts with a paren",
        "trailing spaces and tab   \t",
        "crlf ending\r",
    ];
    for name in names {
        let old = format!("{name}\n{}", lines("    body ", 0..10));
        let new = old.replace("body 7", "body seven");
        check(
            &format!("function line {name:?}"),
            &[("f", file(&old))],
            &[("f", file(&new))],
        );
    }
}

#[test]
fn function_names_long_and_not_utf8() {
    let long = format!("fn {}", "long_name_".repeat(12));
    let cut_in_char = format!("{}é and more", "a".repeat(79));
    let cut_space = format!("{}  ü trailing", "b".repeat(76));
    let bad = b"fn \xff\xfe not utf-8".to_vec();
    let fffe = b"fn \xef\xbf\xbe nonchar".to_vec();
    let mut cases: Vec<Vec<u8>> =
        vec![long.into(), cut_in_char.into(), cut_space.into(), bad, fffe];
    cases.push("fn ünïcödé ✓ 𝄞 fine".into());
    for name in cases {
        let old = [
            name.clone(),
            b"\n".to_vec(),
            lines("  body ", 0..10).into_bytes(),
        ]
        .concat();
        let new = replace(&old, b"body 6", b"body six");
        check(
            &format!("function line {:?}", String::from_utf8_lossy(&name)),
            &[("f", Entry::File(old))],
            &[("f", Entry::File(new))],
        );
    }
}

fn replace(text: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let at = text.windows(from.len()).position(|w| w == from).unwrap();
    [&text[..at], to, &text[at + from.len()..]].concat()
}

#[test]
fn newlines_at_the_end_whitespace_and_crlf() {
    check(
        "old lacks the last newline",
        &[("f", file("a\nb"))],
        &[("f", file("a\nb\n"))],
    );
    check(
        "new lacks the last newline",
        &[("f", file("a\nb\n"))],
        &[("f", file("a\nb"))],
    );
    check(
        "both lack it",
        &[("f", file("a\nb"))],
        &[("f", file("a\nc"))],
    );
    check(
        "both lack it, edit above",
        &[("f", file("a\nb\nc\nd\ne"))],
        &[("f", file("x\nb\nc\nd\ne"))],
    );
    check(
        "one line without newline",
        &[("f", file("a"))],
        &[("f", file("b"))],
    );
    check(
        "whitespace-only lines",
        &[("f", file("a\n\n  \n\t\nb\n"))],
        &[("f", file("a\n \n\n\t \nb\n\n"))],
    );
    check(
        "trailing whitespace changes",
        &[("f", file("a\nb\nc\n"))],
        &[("f", file("a \nb\t\nc\n"))],
    );
    check(
        "crlf edit",
        &[("f", file("one\r\ntwo\r\nthree\r\n"))],
        &[("f", file("one\r\n2\r\nthree\r\n"))],
    );
    check(
        "lf to crlf",
        &[("f", file("one\ntwo\nthree\n"))],
        &[("f", file("one\r\ntwo\r\nthree\r\n"))],
    );
    check(
        "not utf-8",
        &[("f", file(b"caf\xe9\n\xff\xfe\nend\n"))],
        &[("f", file(b"caf\xe9!\n\xff\xfe\nend\n"))],
    );
    check(
        "form feed and vertical tab lines",
        &[("f", file("a\n\x0c\nb\n\x0b\nc\n"))],
        &[("f", file("a\n\x0c\nb\n\x0b\n\x0c\nc\n"))],
    );
}

#[test]
fn binary_and_empty_files() {
    let nul_late = [vec![b'a'; 8000], b"\0\n".to_vec()].concat();
    let nul_edge = [vec![b'a'; 7999], b"\0\n".to_vec()].concat();
    check(
        "binary edit",
        &[("b", file(b"\0\x01\x02"))],
        &[("b", file(b"\0\x01\x03"))],
    );
    check("binary added", &[], &[("b", file(b"x\0y"))]);
    check("binary deleted", &[("b", file(b"x\0y"))], &[]);
    check(
        "text to binary",
        &[("b", file("text\n"))],
        &[("b", file(b"te\0xt\n"))],
    );
    check(
        "a NUL past 8000 bytes is text",
        &[("b", file(&nul_late))],
        &[("b", file([&nul_late[..], b"more\n"].concat()))],
    );
    check(
        "a NUL at byte 8000 is binary",
        &[("b", file(&nul_edge))],
        &[("b", file([&nul_edge[..], b"more\n"].concat()))],
    );
    check(
        "binary mode change only",
        &[("b", file(b"\0"))],
        &[("b", exec(b"\0"))],
    );
    check(
        "binary mode and content change",
        &[("b", file(b"\0"))],
        &[("b", exec(b"\0\0"))],
    );
    check("empty file added", &[], &[("e", file(""))]);
    check("empty file deleted", &[("e", file(""))], &[]);
    check("empty exec file added", &[], &[("e", exec(""))]);
    check("file added", &[], &[("n", file("one\ntwo\n"))]);
    check("file deleted", &[("n", file("one\ntwo\n"))], &[]);
}

#[test]
fn modes_symlinks_and_submodules() {
    check(
        "mode change only",
        &[("m", file("a\n"))],
        &[("m", exec("a\n"))],
    );
    check(
        "mode change back",
        &[("m", exec("a\n"))],
        &[("m", file("a\n"))],
    );
    check(
        "mode and content change",
        &[("m", file("a\nb\n"))],
        &[("m", exec("a\nc\n"))],
    );
    check("symlink added", &[], &[("l", link("target"))]);
    check(
        "symlink changed",
        &[("l", link("target"))],
        &[("l", link("../other/target"))],
    );
    check("symlink deleted", &[("l", link("target"))], &[]);
    check(
        "file replaced by symlink",
        &[("l", file("text\n"))],
        &[("l", link("text"))],
    );
    check(
        "symlink replaced by file",
        &[("l", link("t"))],
        &[("l", exec("#!/bin/sh\n"))],
    );
    check(
        "empty file replaced by symlink",
        &[("l", file(""))],
        &[("l", link("t"))],
    );
    check(
        "file replaced by a directory",
        &[("d", file("x\n"))],
        &[("d/inner", file("x\n"))],
    );
    let one = Sha::parse("1234567890abcdef1234567890abcdef12345678").unwrap();
    let two = Sha::parse("abcdef1234567890abcdef1234567890abcdef12").unwrap();
    check("submodule added", &[], &[("sub", Entry::Gitlink(one))]);
    check(
        "submodule moved",
        &[("sub", Entry::Gitlink(one))],
        &[("sub", Entry::Gitlink(two))],
    );
    check("submodule deleted", &[("sub", Entry::Gitlink(one))], &[]);
}

#[test]
fn quoted_paths_in_path_order() {
    let names = [
        "with space",
        "tab\there",
        "ünïcödé",
        "quote\"d",
        "back\\slash",
        "new\nline",
        "bell\x07",
        "del\x7f",
        "dir/with space/file",
        "a.b",
        "a/b",
        "a-b",
        "A",
        "a0",
    ];
    let old: Vec<(&str, Entry)> = names.iter().map(|n| (*n, file("old\n"))).collect();
    let new: Vec<(&str, Entry)> = names.iter().map(|n| (*n, file("new\n"))).collect();
    check("modified", &old, &new);
    check("added", &[], &new);
    check("deleted", &old, &[]);
    let binary: Vec<(&str, Entry)> = names.iter().map(|n| (*n, file("\0"))).collect();
    check("binary added", &[], &binary);
}

#[test]
fn large_files_with_scattered_edits() {
    let big = lines("line number ", 0..10_000);
    let edited = edit(&big, |l| {
        for i in (0..10_000).rev().step_by(997) {
            l[i] = format!("edited {i}");
        }
        l.insert(5000, "inserted".into());
        l.drain(7000..7010);
        l.push("appended".into());
    });
    check(
        "10k lines, scattered edits",
        &[("big", file(&big))],
        &[("big", file(&edited))],
    );

    // Repeated lines (braces, blank lines) make many equally short edit scripts.
    let code: String = (0..2000)
        .map(|i| format!("fn f{i}() {{\n    x();\n}}\n\n"))
        .collect();
    let recoded = code
        .replace(
            "fn f1000() {\n    x();\n",
            "fn f1000() {\n    y();\n    x();\n",
        )
        .replace("fn f10() {\n    x();\n}\n\n", "");
    check(
        "repeated lines",
        &[("code", file(&code))],
        &[("code", file(&recoded))],
    );
}

/// Unrelated files of few distinct lines, and blocks shuffled in 66,000 lines: git stops
/// its search at cost cut-offs and takes the best split found so far, which imara-diff
/// does not reproduce. Ours differs from git's here, so it must be a right patch.
#[test]
fn where_git_s_cost_cut_offs_decide_our_patch_applies() {
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut noise = |n: usize, k: u64| -> String {
        (0..n)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                format!("{}\n", seed % k)
            })
            .collect()
    };
    let (a, b) = (noise(3000, 4), noise(3000, 4));
    check_applies(
        "unrelated noise",
        &[("noise", file(&a))],
        &[("noise", file(&b))],
    );
    let (a, b) = (noise(2000, 50), noise(2000, 50));
    check_applies(
        "unrelated wider noise",
        &[("noise", file(&a))],
        &[("noise", file(&b))],
    );

    // 1,700 blocks of 39 lines from 20 distinct ones, shuffled, every fifth dropped: with
    // over 65,536 lines in all, git's search runs long enough for its snake heuristics.
    let block = |b: usize| -> String {
        (0..39)
            .map(|i| format!("x{}\n", (b * 7 + i * 3) % 20))
            .collect()
    };
    let mut order: Vec<usize> = (0..1700).collect();
    for i in (1..order.len()).rev() {
        let j = noise(1, i as u64 + 1).trim().parse::<usize>().unwrap();
        order.swap(i, j);
    }
    let old: String = (0..1700).map(block).collect();
    let new: String = order
        .iter()
        .filter(|&&b| b % 5 != 0)
        .map(|&b| block(b))
        .collect();
    check_applies(
        "shuffled blocks",
        &[("blocks", file(&old))],
        &[("blocks", file(&new))],
    );
}

/// Line kinds for the proptests: function lines, indented lines, braces, comments.
const KINDS: &[&str] = &[
    "def f{}():",
    "    x = {}",
    "\tcall({})",
    "class K{}:",
    "} // {}",
    "  # {}",
    "{} + 1",
    "$v{}",
    "_p{}",
];

/// Lines for the repetitive proptest: repeats, blanks, indents, braces and names.
const WORDS: &[&str] = &[
    "a", "b", "c", "", "", "  x", "    y", "\tz", "}", "{", "def f():", "class K:", "  return",
    "#", "    ", "x = 1",
];

#[derive(Debug, Clone)]
enum Op {
    /// Inserts new lines of these kinds (or words) at a position.
    Insert(usize, Vec<usize>),
    Delete(usize, usize),
    Replace(usize, usize),
}

/// Applies `ops` to a file of line ids; `fresh` numbers the new lines.
fn apply(lines: &[usize], ops: &[Op], fresh: &mut impl FnMut(usize) -> usize) -> Vec<usize> {
    let mut lines = lines.to_vec();
    for op in ops {
        match op {
            Op::Insert(at, new) => {
                let at = at % (lines.len() + 1);
                lines.splice(at..at, new.iter().map(|&w| fresh(w)));
            }
            Op::Delete(at, n) if !lines.is_empty() => {
                let at = at % lines.len();
                let end = (at + n).min(lines.len());
                lines.drain(at..end);
            }
            Op::Replace(at, w) if !lines.is_empty() => {
                let at = at % lines.len();
                lines[at] = fresh(*w);
            }
            _ => {}
        }
    }
    lines
}

fn op_strategy(kinds: usize) -> impl Strategy<Value = Op> {
    prop_oneof![
        (any::<usize>(), prop::collection::vec(0..kinds, 1..6)).prop_map(|(a, w)| Op::Insert(a, w)),
        (any::<usize>(), 1usize..6).prop_map(|(a, n)| Op::Delete(a, n)),
        (any::<usize>(), 0..kinds).prop_map(|(a, w)| Op::Replace(a, w)),
    ]
}

/// A file: its lines (ids below `kinds`), edits, whether each side ends with a
/// newline, and (for the distinct-line test) whether its lines end in CRLF.
type FileCase = (Vec<usize>, Vec<Op>, bool, bool, bool);

fn file_strategy(kinds: usize) -> impl Strategy<Value = FileCase> {
    (
        prop::collection::vec(0..kinds, 0..60),
        prop::collection::vec(op_strategy(kinds), 1..8),
        prop::bool::weighted(0.9),
        prop::bool::weighted(0.9),
        prop::bool::weighted(0.2),
    )
}

fn runner() -> TestRunner {
    let mut config = Config {
        failure_persistence: None,
        ..Config::default()
    };
    if std::env::var_os("PROPTEST_CASES").is_none() {
        config.cases = 64;
    }
    TestRunner::new(config)
}

/// The old and new trees of a proptest case, a file `f<i>` per generated file.
fn case_trees(files: &[FileCase], distinct: bool) -> (Tree, Tree) {
    let (mut old, mut new) = (Tree::new(), Tree::new());
    for (i, (kinds, ops, old_nl, new_nl, crlf)) in files.iter().enumerate() {
        // Distinct lines: line n is kind n % KINDS with its own number; new lines count
        // on from the old ones. Repetitive lines: an id is a word.
        let render = |ids: &[usize], newline_at_end: bool| -> Vec<u8> {
            let eol = if distinct && *crlf { "\r\n" } else { "\n" };
            let mut text: String = ids
                .iter()
                .map(|&id| {
                    let line = if distinct {
                        KINDS[id % KINDS.len()].replace("{}", &(id / KINDS.len()).to_string())
                    } else {
                        WORDS[id].to_string()
                    };
                    format!("{line}{eol}")
                })
                .collect();
            if !newline_at_end && !text.is_empty() {
                text.truncate(text.len() - eol.len());
            }
            text.into_bytes()
        };
        let start: Vec<usize> = if distinct {
            kinds
                .iter()
                .enumerate()
                .map(|(n, &k)| n * KINDS.len() + k)
                .collect()
        } else {
            kinds.clone()
        };
        let mut next = start.len();
        let mut fresh = |kind: usize| {
            if distinct {
                next += 1;
                next * KINDS.len() + kind
            } else {
                kind
            }
        };
        let edited = apply(&start, ops, &mut fresh);
        old.insert(format!("f{i}"), Entry::File(render(&start, *old_nl)));
        new.insert(format!("f{i}"), Entry::File(render(&edited, *new_nl)));
    }
    (old, new)
}

/// Every edit of distinct lines has one shortest edit script: ours is git's, byte for byte.
#[test]
fn random_edits_of_distinct_lines_match_git() {
    let mut runner = runner();
    let result = runner.run(
        &prop::collection::vec(file_strategy(KINDS.len()), 1..5),
        |files| {
            let (old, new) = case_trees(&files, true);
            compare(&old, &new).map_err(TestCaseError::fail)
        },
    );
    if let Err(e) = result {
        panic!("{e}");
    }
}

/// Edits of repetitive files: ours applies and gives git's tree; how many are git's
/// bytes too is printed.
#[test]
fn random_edits_of_repetitive_lines_apply() {
    let mut runner = runner();
    let (same, all) = (std::cell::Cell::new(0), std::cell::Cell::new(0));
    let result = runner.run(
        &prop::collection::vec(file_strategy(WORDS.len()), 1..5),
        |files| {
            let (old, new) = case_trees(&files, false);
            let repo = staged(&old, &new);
            let mine = ours(&old, &new);
            all.set(all.get() + 1);
            same.set(same.get() + usize::from(mine == repo.diff));
            repo.applies(&mine).map_err(TestCaseError::fail)
        },
    );
    eprintln!(
        "{} of {} cases byte-identical to git",
        same.get(),
        all.get()
    );
    if let Err(e) = result {
        panic!("{e}");
    }
}
