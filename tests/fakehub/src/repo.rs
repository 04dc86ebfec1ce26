//! Builds real bare repositories for tests, with the `git` CLI.
//!
//! Commits are written with one `git fast-import` process each (so a commit
//! of thousands of files costs a single process), with fixed author and
//! committer identities and dates, so SHAs are deterministic.
//!
//! ```no_run
//! # fn main() -> std::io::Result<()> {
//! let root = tempfile::tempdir()?;
//! let mut r = fakehub::repo::create(root.path(), "acme", "widgets")?;
//! r.write("README.md", "hello\n")
//!     .executable("bin/run.sh", "#!/bin/sh\necho hi\n")
//!     .symlink("docs/readme", "../README.md");
//! let sha = r.commit("initial")?;
//! r.tag("v1.0", &sha)?;
//! # Ok(()) }
//! ```

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::Stdio;

use crate::git::git_command;
pub use crate::pygen::{PythonProject, python_project};
use crate::rng::Rng;
use crate::store::{OwnerMeta, OwnerType, RepoMeta};

/// Author and committer name used for every commit.
pub const AUTHOR_NAME: &str = "Fakehub Author";
/// Author and committer email used for every commit.
pub const AUTHOR_EMAIL: &str = "author@fakehub.test";
/// Date of the first commit (epoch seconds); later ones are 60 s apart.
pub const BASE_TIME: i64 = 1_700_000_000;

enum Content {
    Bytes(Vec<u8>),
    /// Pseudo-random bytes, generated while streaming (for huge files).
    Generated {
        size: u64,
        seed: u64,
    },
}

enum Op {
    Modify {
        mode: &'static str,
        path: Vec<u8>,
        content: Content,
    },
    Gitlink {
        path: Vec<u8>,
        sha: String,
    },
    Delete {
        path: Vec<u8>,
    },
    DeleteAll,
}

/// A bare repository under construction. Changes are staged with the
/// builder methods and written by [`Repo::commit`].
pub struct Repo {
    git_dir: PathBuf,
    owner: String,
    name: String,
    branch: String,
    pending: Vec<Op>,
    clock: i64,
    gitmodules: Option<String>,
}

fn run(mut c: std::process::Command) -> io::Result<Vec<u8>> {
    let out = c.stdin(Stdio::null()).output()?;
    if !out.status.success() {
        return Err(io::Error::other(format!(
            "{:?} failed: {}",
            c,
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    Ok(out.stdout)
}

fn trim(v: Vec<u8>) -> String {
    String::from_utf8_lossy(&v).trim().to_string()
}

/// Creates (or re-initialises) `<root>/<owner>/<name>.git` as a bare
/// repository whose HEAD is `main`. It has no commits yet, i.e. it is an
/// "empty repository" until the first [`Repo::commit`].
pub fn create(root: &Path, owner: &str, name: &str) -> io::Result<Repo> {
    let git_dir = root.join(owner).join(format!("{name}.git"));
    std::fs::create_dir_all(&git_dir)?;
    let mut c = git_command(&git_dir);
    c.args(["init", "--bare", "-q", "-b", "main"]).arg(&git_dir);
    run(c)?;
    open(root, owner, name)
}

/// Creates an empty repository (no commits at all).
pub fn create_empty(root: &Path, owner: &str, name: &str) -> io::Result<Repo> {
    create(root, owner, name)
}

/// Opens an existing repository for more commits. The current branch is
/// the repository's default branch.
pub fn open(root: &Path, owner: &str, name: &str) -> io::Result<Repo> {
    let git_dir = root.join(owner).join(format!("{name}.git"));
    if !git_dir.is_dir() {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!("{} not found", git_dir.display()),
        ));
    }
    let branch = crate::git::default_branch(&git_dir);
    let mut r = Repo {
        git_dir,
        owner: owner.to_string(),
        name: name.to_string(),
        branch,
        pending: Vec::new(),
        clock: BASE_TIME - 60,
        gitmodules: None,
    };
    // Continue the clock after the newest existing commit, if any.
    if let Ok(out) = r.git(&[
        "for-each-ref",
        "--format=%(committerdate:unix)",
        "refs/heads",
    ]) {
        for l in String::from_utf8_lossy(&out).lines() {
            if let Ok(t) = l.trim().parse::<i64>() {
                r.clock = r.clock.max(t);
            }
        }
    }
    Ok(r)
}

/// Creates many repositories of `owner` at once, cheaply: each is a bare
/// repository laid out by hand (what `git init --bare` writes, without a
/// process per repository), so an organization of thousands of repositories
/// takes well under a second. With `like`, each shares that repository's
/// objects (through `objects/info/alternates`) and its default branch points
/// at `like`'s tip, so it is a real, readable repository; without, each is
/// empty. Their API shapes are those of any other repository.
pub fn create_many(
    root: &Path,
    owner: &str,
    names: &[String],
    like: Option<&Repo>,
) -> io::Result<()> {
    let shared = match like {
        Some(r) => {
            let tip = r
                .rev_parse(&format!("refs/heads/{}", r.branch))?
                .ok_or_else(|| io::Error::other("the template repository has no commit"))?;
            let objects = std::fs::canonicalize(r.git_dir.join("objects"))?;
            Some((r.branch.clone(), tip, objects))
        }
        None => None,
    };
    let branch = shared.as_ref().map_or("main", |(b, _, _)| b.as_str());
    for name in names {
        let git_dir = root.join(owner).join(format!("{name}.git"));
        for sub in ["objects/info", "objects/pack", "refs/heads", "refs/tags"] {
            std::fs::create_dir_all(git_dir.join(sub))?;
        }
        std::fs::write(git_dir.join("HEAD"), format!("ref: refs/heads/{branch}\n"))?;
        std::fs::write(
            git_dir.join("config"),
            "[core]\n\trepositoryformatversion = 0\n\tfilemode = true\n\tbare = true\n",
        )?;
        if let Some((branch, tip, objects)) = &shared {
            let mut alternates = objects.as_os_str().as_encoded_bytes().to_vec();
            alternates.push(b'\n');
            std::fs::write(git_dir.join("objects/info/alternates"), alternates)?;
            std::fs::write(git_dir.join("refs/heads").join(branch), format!("{tip}\n"))?;
        }
    }
    Ok(())
}

/// Writes `<root>/<owner>/owner.json`.
pub fn set_owner(root: &Path, owner: &str, meta: &OwnerMeta) -> io::Result<()> {
    let dir = root.join(owner);
    std::fs::create_dir_all(&dir)?;
    std::fs::write(
        dir.join("owner.json"),
        serde_json::to_vec_pretty(meta).map_err(io::Error::other)?,
    )
}

/// Marks an owner as a `User` or an `Organization` (the default).
pub fn set_owner_type(root: &Path, owner: &str, kind: OwnerType) -> io::Result<()> {
    let p = root.join(owner).join("owner.json");
    let mut meta: OwnerMeta = std::fs::read(&p)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    meta.kind = Some(kind);
    set_owner(root, owner, &meta)
}

/// C-style quoting as `git fast-import` understands it; handles any bytes.
fn quote_path(p: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(p.len() + 2);
    out.push(b'"');
    for &b in p {
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x20..=0x7e => out.push(b),
            _ => out.extend_from_slice(format!("\\{b:03o}").as_bytes()),
        }
    }
    out.push(b'"');
    out
}

/// The deterministic byte generator used by [`Repo::large_file`].
pub fn generated_bytes(
    size: u64,
    seed: u64,
    mut sink: impl FnMut(&[u8]) -> io::Result<()>,
) -> io::Result<()> {
    let mut rng = Rng::new(seed, 0);
    let mut buf = vec![0u8; 64 * 1024];
    let mut left = size;
    while left > 0 {
        let n = left.min(buf.len() as u64) as usize;
        rng.fill(&mut buf[..n]);
        sink(&buf[..n])?;
        left -= n as u64;
    }
    Ok(())
}

impl Repo {
    /// `<root>/<owner>/<name>.git`.
    pub fn git_dir(&self) -> &Path {
        &self.git_dir
    }
    pub fn owner(&self) -> &str {
        &self.owner
    }
    pub fn name(&self) -> &str {
        &self.name
    }
    /// The branch the next commit goes to.
    pub fn branch(&self) -> &str {
        &self.branch
    }

    fn git(&self, args: &[&str]) -> io::Result<Vec<u8>> {
        let mut c = git_command(&self.git_dir);
        c.args(args);
        run(c)
    }

    /// Stages a regular file (mode 100644). `path` may be any bytes
    /// (including non-UTF-8), with `/` separating directories.
    pub fn write(&mut self, path: impl AsRef<[u8]>, content: impl AsRef<[u8]>) -> &mut Self {
        self.pending.push(Op::Modify {
            mode: "100644",
            path: path.as_ref().to_vec(),
            content: Content::Bytes(content.as_ref().to_vec()),
        });
        self
    }

    /// Stages an executable file (mode 100755).
    pub fn executable(&mut self, path: impl AsRef<[u8]>, content: impl AsRef<[u8]>) -> &mut Self {
        self.pending.push(Op::Modify {
            mode: "100755",
            path: path.as_ref().to_vec(),
            content: Content::Bytes(content.as_ref().to_vec()),
        });
        self
    }

    /// Stages an empty regular file.
    pub fn empty_file(&mut self, path: impl AsRef<[u8]>) -> &mut Self {
        self.write(path, b"")
    }

    /// Stages a symlink (mode 120000) pointing at `target` (relative,
    /// absolute or dangling: git stores just the target text).
    pub fn symlink(&mut self, path: impl AsRef<[u8]>, target: impl AsRef<[u8]>) -> &mut Self {
        self.pending.push(Op::Modify {
            mode: "120000",
            path: path.as_ref().to_vec(),
            content: Content::Bytes(target.as_ref().to_vec()),
        });
        self
    }

    /// Stages a large file of `size` deterministic pseudo-random bytes
    /// (see [`generated_bytes`]); the content is generated while streaming
    /// into git, never held in memory.
    pub fn large_file(&mut self, path: impl AsRef<[u8]>, size: u64, seed: u64) -> &mut Self {
        self.pending.push(Op::Modify {
            mode: "100644",
            path: path.as_ref().to_vec(),
            content: Content::Generated { size, seed },
        });
        self
    }

    /// Stages a submodule: a gitlink entry (mode 160000) at `path` pointing
    /// at `commit_sha` (a commit of another repository, which need not
    /// exist here), and its section in `.gitmodules`.
    pub fn submodule(&mut self, path: &str, url: &str, commit_sha: &str) -> &mut Self {
        if self.gitmodules.is_none() {
            let existing = self
                .git(&[
                    "cat-file",
                    "blob",
                    &format!("refs/heads/{}:.gitmodules", self.branch),
                ])
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or_default();
            self.gitmodules = Some(existing);
        }
        let gm = self.gitmodules.as_mut().expect("set above");
        gm.push_str(&format!(
            "[submodule \"{path}\"]\n\tpath = {path}\n\turl = {url}\n"
        ));
        let text = gm.clone();
        self.pending.push(Op::Gitlink {
            path: path.as_bytes().to_vec(),
            sha: commit_sha.to_string(),
        });
        self.write(".gitmodules", text)
    }

    /// Stages the removal of a file, symlink, submodule or whole directory.
    pub fn remove(&mut self, path: impl AsRef<[u8]>) -> &mut Self {
        self.pending.push(Op::Delete {
            path: path.as_ref().to_vec(),
        });
        self
    }

    /// Stages the removal of everything (the next commit starts from an
    /// empty tree, plus whatever is staged after this call).
    pub fn clear(&mut self) -> &mut Self {
        self.pending.push(Op::DeleteAll);
        self
    }

    /// Makes later commits go to `branch`. A branch that does not exist yet
    /// starts at the tip of the current branch.
    pub fn on_branch(&mut self, branch: &str) -> &mut Self {
        let new_ref = format!("refs/heads/{branch}");
        if matches!(self.rev_parse(&new_ref), Ok(None))
            && let Ok(Some(tip)) = self.rev_parse(&format!("refs/heads/{}", self.branch))
        {
            let _ = self.git(&["update-ref", &new_ref, &tip]);
        }
        self.branch = branch.to_string();
        self.gitmodules = None;
        self
    }

    /// The commit a revision resolves to, if any.
    pub fn rev_parse(&self, rev: &str) -> io::Result<Option<String>> {
        let mut c = git_command(&self.git_dir);
        c.args(["rev-parse", "--verify", "-q", "--end-of-options"])
            .arg(format!("{rev}^{{commit}}"));
        let out = c.stdin(Stdio::null()).output()?;
        if out.status.success() {
            Ok(Some(trim(out.stdout)))
        } else {
            Ok(None)
        }
    }

    /// Commits the staged changes on the current branch, dated 60 s after
    /// the previous commit. Returns the commit SHA.
    pub fn commit(&mut self, message: &str) -> io::Result<String> {
        let t = self.clock + 60;
        self.commit_at(message, t)
    }

    /// Commits the staged changes with author and committer date `epoch`.
    pub fn commit_at(&mut self, message: &str, epoch: i64) -> io::Result<String> {
        let refname = format!("refs/heads/{}", self.branch);
        let parent = self.rev_parse(&refname)?;
        let mut c = git_command(&self.git_dir);
        c.args(["fast-import", "--quiet", "--date-format=raw", "--force"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = c.spawn()?;
        let mut stdin = io::BufWriter::with_capacity(
            256 * 1024,
            child
                .stdin
                .take()
                .ok_or_else(|| io::Error::other("no stdin"))?,
        );
        let write_res = (|| -> io::Result<()> {
            let ident = format!("{AUTHOR_NAME} <{AUTHOR_EMAIL}> {epoch} +0000");
            write!(
                stdin,
                "commit {refname}\nauthor {ident}\ncommitter {ident}\n"
            )?;
            write!(stdin, "data {}\n{}\n", message.len(), message)?;
            if let Some(p) = &parent {
                writeln!(stdin, "from {p}")?;
            }
            for op in self.pending.drain(..) {
                match op {
                    Op::Modify {
                        mode,
                        path,
                        content,
                    } => {
                        write!(stdin, "M {mode} inline ")?;
                        stdin.write_all(&quote_path(&path))?;
                        stdin.write_all(b"\n")?;
                        match content {
                            Content::Bytes(b) => {
                                writeln!(stdin, "data {}", b.len())?;
                                stdin.write_all(&b)?;
                            }
                            Content::Generated { size, seed } => {
                                writeln!(stdin, "data {size}")?;
                                generated_bytes(size, seed, |chunk| stdin.write_all(chunk))?;
                            }
                        }
                        stdin.write_all(b"\n")?;
                    }
                    Op::Gitlink { path, sha } => {
                        write!(stdin, "M 160000 {sha} ")?;
                        stdin.write_all(&quote_path(&path))?;
                        stdin.write_all(b"\n")?;
                    }
                    Op::Delete { path } => {
                        stdin.write_all(b"D ")?;
                        stdin.write_all(&quote_path(&path))?;
                        stdin.write_all(b"\n")?;
                    }
                    Op::DeleteAll => stdin.write_all(b"deleteall\n")?,
                }
            }
            stdin.write_all(b"\n")?;
            stdin.flush()
        })();
        drop(stdin);
        let out = child.wait_with_output()?;
        if !out.status.success() || write_res.is_err() {
            return Err(io::Error::other(format!(
                "git fast-import failed ({:?}): {}",
                write_res.err(),
                String::from_utf8_lossy(&out.stderr)
            )));
        }
        self.clock = self.clock.max(epoch);
        self.rev_parse(&refname)?
            .ok_or_else(|| io::Error::other("commit did not update the branch"))
    }

    /// Creates or moves branch `name` to the commit `rev` resolves to.
    pub fn create_branch(&self, name: &str, rev: &str) -> io::Result<()> {
        let sha = self
            .rev_parse(rev)?
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, format!("no commit {rev}")))?;
        self.git(&["update-ref", &format!("refs/heads/{name}"), &sha])?;
        Ok(())
    }

    /// Deletes branch `name`.
    pub fn delete_branch(&self, name: &str) -> io::Result<()> {
        self.git(&["update-ref", "-d", &format!("refs/heads/{name}")])?;
        Ok(())
    }

    /// Creates a lightweight tag.
    pub fn tag(&self, name: &str, rev: &str) -> io::Result<()> {
        let sha = self
            .rev_parse(rev)?
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, format!("no commit {rev}")))?;
        self.git(&["update-ref", &format!("refs/tags/{name}"), &sha])?;
        Ok(())
    }

    /// Creates an annotated tag; returns the SHA of the tag object.
    pub fn annotated_tag(&self, name: &str, rev: &str, message: &str) -> io::Result<String> {
        let sha = self
            .rev_parse(rev)?
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, format!("no commit {rev}")))?;
        let mut c = git_command(&self.git_dir);
        c.args(["-c", &format!("user.name={AUTHOR_NAME}")])
            .args(["-c", &format!("user.email={AUTHOR_EMAIL}")])
            .env("GIT_COMMITTER_DATE", format!("{} +0000", self.clock + 30))
            .args(["tag", "-a", "-f", "-m", message, name, &sha]);
        run(c)?;
        Ok(trim(
            self.git(&["rev-parse", &format!("refs/tags/{name}")])?,
        ))
    }

    /// Points HEAD (the default branch) at `branch`.
    pub fn set_default_branch(&self, branch: &str) -> io::Result<()> {
        self.git(&["symbolic-ref", "HEAD", &format!("refs/heads/{branch}")])?;
        Ok(())
    }

    /// Writes `fakehub.json` (visibility, description, topics, ...).
    pub fn set_metadata(&self, meta: &RepoMeta) -> io::Result<()> {
        std::fs::write(
            self.git_dir.join("fakehub.json"),
            serde_json::to_vec_pretty(meta).map_err(io::Error::other)?,
        )
    }

    /// Reads `fakehub.json` (default if absent).
    pub fn metadata(&self) -> RepoMeta {
        std::fs::read(self.git_dir.join("fakehub.json"))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    }

    /// Updates `fakehub.json` in place.
    pub fn update_metadata(&self, f: impl FnOnce(&mut RepoMeta)) -> io::Result<()> {
        let mut m = self.metadata();
        f(&mut m);
        self.set_metadata(&m)
    }

    /// Runs an arbitrary git command in this repository; returns stdout.
    pub fn git_raw(&self, args: &[&str]) -> io::Result<Vec<u8>> {
        self.git(args)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn many_repos_are_made_at_once_and_read_like_any_other() {
        let root = tempfile::tempdir().unwrap();
        let mut template = create(root.path(), "acme", "template").unwrap();
        template.write("README.md", "shared\n");
        let tip = template.commit("initial").unwrap();
        let names: Vec<String> = (0..3).map(|i| format!("r{i}")).collect();
        create_many(root.path(), "acme", &names, Some(&template)).unwrap();
        create_many(root.path(), "acme", &["empty".to_string()], None).unwrap();
        let r1 = open(root.path(), "acme", "r1").unwrap();
        assert_eq!(r1.rev_parse("refs/heads/main").unwrap(), Some(tip));
        let readme = r1.git_raw(&["cat-file", "blob", "main:README.md"]).unwrap();
        assert_eq!(readme, b"shared\n");
        let empty = open(root.path(), "acme", "empty").unwrap();
        assert_eq!(empty.rev_parse("refs/heads/main").unwrap(), None);
    }

    #[test]
    fn quoting() {
        assert_eq!(quote_path(b"a b"), b"\"a b\"");
        assert_eq!(quote_path(b"q\"\\\n"), b"\"q\\\"\\\\\\n\"");
        assert_eq!(quote_path(b"\xff"), b"\"\\377\"");
    }
}
