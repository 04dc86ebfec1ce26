//! Access to bare repositories through the `git` CLI.
//!
//! Object reads go through a small pool of persistent
//! `git cat-file --batch-command` processes per repository, so that blob and
//! tree requests do not spawn a process each. Large blobs, archives, ref
//! listings and diffs use one-shot processes.

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Mutex as StdMutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};
use tokio::sync::Mutex;

/// Number of persistent cat-file processes per repository.
const POOL: usize = 3;
/// Commands sent before reading their answers (keeps pipes from filling up).
const PIPELINE: usize = 128;

/// Builds a `git` command that is safe to run on any bare repository as any
/// user: `safe.directory=*`, no system/global config, no inherited GIT_* env.
pub fn git_command(git_dir: &Path) -> std::process::Command {
    let mut c = std::process::Command::new("git");
    sanitize(&mut c);
    c.arg("-c")
        .arg("safe.directory=*")
        .arg("--git-dir")
        .arg(git_dir);
    c
}

/// Same as [`git_command`] for tokio.
pub fn git_tokio(git_dir: &Path) -> Command {
    let mut c = Command::from(git_command(git_dir));
    c.kill_on_drop(true);
    c
}

pub(crate) fn sanitize(c: &mut std::process::Command) {
    for (k, _) in std::env::vars_os() {
        if let Some(k) = k.to_str()
            && k.starts_with("GIT_")
        {
            c.env_remove(k);
        }
    }
    c.env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("LC_ALL", "C");
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjInfo {
    pub oid: String,
    pub kind: String,
    pub size: u64,
}

#[derive(Clone, Debug)]
pub struct Signature {
    pub name: String,
    pub email: String,
    pub time: i64,
}

#[derive(Clone, Debug)]
pub struct Commit {
    pub sha: String,
    pub tree: String,
    pub parents: Vec<String>,
    pub author: Signature,
    pub committer: Signature,
    pub message: String,
}

#[derive(Clone, Debug)]
pub struct TreeEntry {
    pub mode: u32,
    pub name: Vec<u8>,
    pub oid: String,
}

impl TreeEntry {
    /// GitHub's rendering of the mode: six octal digits (`040000` for trees).
    pub fn mode_str(&self) -> String {
        format!("{:06o}", self.mode)
    }
    /// `blob`, `tree` or `commit` (gitlinks).
    pub fn kind(&self) -> &'static str {
        match self.mode & 0o170000 {
            0o040000 => "tree",
            0o160000 => "commit",
            _ => "blob",
        }
    }
}

struct Batch {
    _child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Batch {
    fn spawn(git_dir: &Path) -> io::Result<Batch> {
        let mut cmd = git_tokio(git_dir);
        cmd.args(["cat-file", "--batch-command"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        let mut child = cmd.spawn()?;
        let stdin = child
            .stdin
            .take()
            .ok_or_else(|| io::Error::other("no stdin"))?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| io::Error::other("no stdout"))?;
        Ok(Batch {
            _child: child,
            stdin,
            stdout: BufReader::with_capacity(64 * 1024, stdout),
        })
    }

    async fn header(&mut self) -> io::Result<Option<ObjInfo>> {
        let mut line = String::new();
        let n = self.stdout.read_line(&mut line).await?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "cat-file exited",
            ));
        }
        let line = line.trim_end_matches('\n');
        let parts: Vec<&str> = line.split(' ').collect();
        if parts.len() == 3
            && parts[0].len() == 40
            && let Ok(size) = parts[2].parse::<u64>()
        {
            return Ok(Some(ObjInfo {
                oid: parts[0].to_string(),
                kind: parts[1].to_string(),
                size,
            }));
        }
        // "<name> missing", "<name> ambiguous", ...
        Ok(None)
    }

    async fn info_many(&mut self, names: &[String]) -> io::Result<Vec<Option<ObjInfo>>> {
        let mut out = Vec::with_capacity(names.len());
        for chunk in names.chunks(PIPELINE) {
            let mut buf = Vec::new();
            for n in chunk {
                buf.extend_from_slice(b"info ");
                buf.extend_from_slice(n.as_bytes());
                buf.push(b'\n');
            }
            self.stdin.write_all(&buf).await?;
            self.stdin.flush().await?;
            for _ in chunk {
                out.push(self.header().await?);
            }
        }
        Ok(out)
    }

    async fn contents(&mut self, name: &str) -> io::Result<Option<(ObjInfo, Vec<u8>)>> {
        self.stdin
            .write_all(format!("contents {name}\n").as_bytes())
            .await?;
        self.stdin.flush().await?;
        let Some(info) = self.header().await? else {
            return Ok(None);
        };
        let mut data = vec![0u8; info.size as usize];
        self.stdout.read_exact(&mut data).await?;
        let mut nl = [0u8; 1];
        self.stdout.read_exact(&mut nl).await?;
        Ok(Some((info, data)))
    }
}

/// One repository on disk plus its cat-file pool.
pub struct Repo {
    pub path: PathBuf,
    slots: Vec<Mutex<Option<Batch>>>,
    next: AtomicUsize,
    sizes: StdMutex<HashMap<String, u64>>,
    diffs: StdMutex<HashMap<String, serde_json::Value>>,
}

/// A name given to cat-file must be a single line.
fn check_name(name: &str) -> io::Result<()> {
    if name.is_empty() || name.contains('\n') || name.contains('\0') {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "bad name"));
    }
    Ok(())
}

impl Repo {
    pub fn new(path: PathBuf) -> Repo {
        Repo {
            path,
            slots: (0..POOL).map(|_| Mutex::new(None)).collect(),
            next: AtomicUsize::new(0),
            sizes: StdMutex::new(HashMap::new()),
            diffs: StdMutex::new(HashMap::new()),
        }
    }

    async fn with_batch<T, F>(&self, f: F) -> io::Result<T>
    where
        F: for<'a> FnOnce(
            &'a mut Batch,
        )
            -> std::pin::Pin<Box<dyn Future<Output = io::Result<T>> + Send + 'a>>,
    {
        // Prefer an idle process; otherwise queue on one round-robin.
        let mut guard = None;
        for s in &self.slots {
            if let Ok(g) = s.try_lock() {
                guard = Some(g);
                break;
            }
        }
        let mut guard = match guard {
            Some(g) => g,
            None => {
                let i = self.next.fetch_add(1, Ordering::Relaxed) % self.slots.len();
                self.slots[i].lock().await
            }
        };
        if guard.is_none() {
            *guard = Some(Batch::spawn(&self.path)?);
        }
        let batch = guard.as_mut().expect("spawned");
        let res = f(batch).await;
        if res.is_err() {
            // The process is in an unknown state: replace it next time.
            *guard = None;
        }
        res
    }

    pub async fn info(&self, name: &str) -> io::Result<Option<ObjInfo>> {
        check_name(name)?;
        let names = vec![name.to_string()];
        let mut v = self
            .with_batch(move |b| Box::pin(async move { b.info_many(&names).await }))
            .await?;
        Ok(v.pop().flatten())
    }

    pub async fn info_many(&self, names: Vec<String>) -> io::Result<Vec<Option<ObjInfo>>> {
        for n in &names {
            check_name(n)?;
        }
        self.with_batch(move |b| Box::pin(async move { b.info_many(&names).await }))
            .await
    }

    pub async fn read(&self, name: &str) -> io::Result<Option<(ObjInfo, Vec<u8>)>> {
        check_name(name)?;
        let name = name.to_string();
        self.with_batch(move |b| Box::pin(async move { b.contents(&name).await }))
            .await
    }

    /// Reads an object and checks its type.
    pub async fn read_kind(&self, name: &str, kind: &str) -> io::Result<Option<Vec<u8>>> {
        Ok(match self.read(name).await? {
            Some((info, data)) if info.kind == kind => Some(data),
            _ => None,
        })
    }

    /// Resolves `rev` (already validated) to a commit SHA.
    pub async fn resolve_commit(&self, rev: &str) -> io::Result<Option<String>> {
        Ok(self
            .info(&format!("{rev}^{{commit}}"))
            .await?
            .filter(|i| i.kind == "commit")
            .map(|i| i.oid))
    }

    pub async fn commit(&self, sha: &str) -> io::Result<Option<Commit>> {
        Ok(self
            .read_kind(sha, "commit")
            .await?
            .map(|d| parse_commit(sha, &d)))
    }

    pub async fn tree(&self, oid: &str) -> io::Result<Option<Vec<TreeEntry>>> {
        Ok(self.read_kind(oid, "tree").await?.map(|d| parse_tree(&d)))
    }

    /// Sizes of blobs, cached (objects are immutable).
    pub async fn blob_sizes(&self, oids: &[String]) -> io::Result<Vec<u64>> {
        let mut out = vec![0u64; oids.len()];
        let mut missing = Vec::new();
        let mut missing_idx = Vec::new();
        {
            let cache = self.sizes.lock().unwrap_or_else(|e| e.into_inner());
            for (i, o) in oids.iter().enumerate() {
                match cache.get(o) {
                    Some(s) => out[i] = *s,
                    None => {
                        missing.push(o.clone());
                        missing_idx.push(i);
                    }
                }
            }
        }
        if !missing.is_empty() {
            let infos = self.info_many(missing.clone()).await?;
            let mut cache = self.sizes.lock().unwrap_or_else(|e| e.into_inner());
            if cache.len() > 2_000_000 {
                cache.clear();
            }
            for ((i, o), info) in missing_idx.into_iter().zip(missing).zip(infos) {
                let s = info.map(|i| i.size).unwrap_or(0);
                out[i] = s;
                cache.insert(o, s);
            }
        }
        Ok(out)
    }

    /// Cached `stats`/`files` of a commit (commits are immutable).
    pub fn cached_diff(&self, sha: &str) -> Option<serde_json::Value> {
        self.diffs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(sha)
            .cloned()
    }

    pub fn cache_diff(&self, sha: &str, v: serde_json::Value) {
        let mut m = self.diffs.lock().unwrap_or_else(|e| e.into_inner());
        if m.len() > 10_000 {
            m.clear();
        }
        m.insert(sha.to_string(), v);
    }

    /// Runs a one-shot git command and returns stdout (error on failure).
    pub async fn run(&self, args: &[&str]) -> io::Result<Vec<u8>> {
        let out = git_tokio(&self.path)
            .args(args)
            .stdin(Stdio::null())
            .stderr(Stdio::piped())
            .output()
            .await?;
        if !out.status.success() {
            return Err(io::Error::other(format!(
                "git {:?} failed: {}",
                args,
                String::from_utf8_lossy(&out.stderr)
            )));
        }
        Ok(out.stdout)
    }

    /// All refs under `prefix` as (refname, oid, objecttype, peeled-oid).
    pub async fn refs(&self, prefix: &str) -> io::Result<Vec<RefInfo>> {
        let out = self
            .run(&[
                "for-each-ref",
                "--format=%(refname)%00%(objectname)%00%(objecttype)%00%(*objectname)",
                prefix,
            ])
            .await?;
        let mut v = Vec::new();
        for line in out.split(|b| *b == b'\n') {
            if line.is_empty() {
                continue;
            }
            let f: Vec<&[u8]> = line.split(|b| *b == 0).collect();
            if f.len() < 4 {
                continue;
            }
            let s = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
            v.push(RefInfo {
                name: s(f[0]),
                oid: s(f[1]),
                kind: s(f[2]),
                peeled: if f[3].is_empty() { None } else { Some(s(f[3])) },
            });
        }
        Ok(v)
    }

    /// The symbolic target of HEAD (`main` for `refs/heads/main`).
    pub fn default_branch(&self) -> String {
        default_branch(&self.path)
    }
}

#[derive(Clone, Debug)]
pub struct RefInfo {
    pub name: String,
    pub oid: String,
    pub kind: String,
    pub peeled: Option<String>,
}

impl RefInfo {
    /// The commit the ref points to, peeling annotated tags.
    pub fn commit(&self) -> &str {
        self.peeled.as_deref().unwrap_or(&self.oid)
    }
}

/// Reads HEAD directly (no process).
pub fn default_branch(git_dir: &Path) -> String {
    std::fs::read_to_string(git_dir.join("HEAD"))
        .ok()
        .and_then(|s| {
            s.trim()
                .strip_prefix("ref: refs/heads/")
                .map(|b| b.to_string())
        })
        .unwrap_or_else(|| "main".to_string())
}

fn parse_sig(v: &[u8]) -> Signature {
    let s = String::from_utf8_lossy(v);
    let (left, right) = match s.rfind('>') {
        Some(i) => (&s[..i], s[i + 1..].trim()),
        None => (&s[..], ""),
    };
    let (name, email) = match left.find('<') {
        Some(i) => (left[..i].trim().to_string(), left[i + 1..].to_string()),
        None => (left.trim().to_string(), String::new()),
    };
    let time = right
        .split_whitespace()
        .next()
        .and_then(|t| t.parse().ok())
        .unwrap_or(0);
    Signature { name, email, time }
}

pub fn parse_commit(sha: &str, data: &[u8]) -> Commit {
    let mut c = Commit {
        sha: sha.to_string(),
        tree: String::new(),
        parents: Vec::new(),
        author: Signature {
            name: String::new(),
            email: String::new(),
            time: 0,
        },
        committer: Signature {
            name: String::new(),
            email: String::new(),
            time: 0,
        },
        message: String::new(),
    };
    let mut rest = data;
    loop {
        let (line, tail) = match rest.iter().position(|b| *b == b'\n') {
            Some(i) => (&rest[..i], &rest[i + 1..]),
            None => (rest, &rest[rest.len()..]),
        };
        rest = tail;
        if line.is_empty() {
            break;
        }
        if line[0] == b' ' {
            continue; // continuation of a multi-line header (gpgsig, mergetag)
        }
        let (key, val) = match line.iter().position(|b| *b == b' ') {
            Some(i) => (&line[..i], &line[i + 1..]),
            None => (line, &line[line.len()..]),
        };
        match key {
            b"tree" => c.tree = String::from_utf8_lossy(val).into_owned(),
            b"parent" => c.parents.push(String::from_utf8_lossy(val).into_owned()),
            b"author" => c.author = parse_sig(val),
            b"committer" => c.committer = parse_sig(val),
            _ => {}
        }
        if rest.is_empty() {
            break;
        }
    }
    c.message = String::from_utf8_lossy(rest)
        .trim_end_matches('\n')
        .to_string();
    c
}

pub fn parse_tree(data: &[u8]) -> Vec<TreeEntry> {
    let mut v = Vec::new();
    let mut i = 0;
    while i < data.len() {
        let Some(sp) = data[i..].iter().position(|b| *b == b' ') else {
            break;
        };
        let mode = std::str::from_utf8(&data[i..i + sp])
            .ok()
            .and_then(|m| u32::from_str_radix(m, 8).ok())
            .unwrap_or(0);
        let start = i + sp + 1;
        let Some(nul) = data[start..].iter().position(|b| *b == 0) else {
            break;
        };
        let name = data[start..start + nul].to_vec();
        let oid_start = start + nul + 1;
        if oid_start + 20 > data.len() {
            break;
        }
        let oid = crate::util::hex(&data[oid_start..oid_start + 20]);
        v.push(TreeEntry { mode, name, oid });
        i = oid_start + 20;
    }
    v
}

/// Parses an annotated tag object: (target sha, target type, tag name, tagger, message).
pub fn parse_tag(data: &[u8]) -> (String, String, Option<Signature>, String) {
    let mut object = String::new();
    let mut kind = String::new();
    let mut tagger = None;
    let mut rest = data;
    while let Some(i) = rest.iter().position(|b| *b == b'\n') {
        let line = &rest[..i];
        rest = &rest[i + 1..];
        if line.is_empty() {
            break;
        }
        if let Some(v) = line.strip_prefix(b"object ") {
            object = String::from_utf8_lossy(v).into_owned();
        } else if let Some(v) = line.strip_prefix(b"type ") {
            kind = String::from_utf8_lossy(v).into_owned();
        } else if let Some(v) = line.strip_prefix(b"tagger ") {
            tagger = Some(parse_sig(v));
        }
    }
    (
        object,
        kind,
        tagger,
        String::from_utf8_lossy(rest).into_owned(),
    )
}

/// Is `s` a revision that may be handed to git? Rejects anything that could be
/// an option or a revision expression beyond a plain ref name or SHA.
pub fn valid_rev(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 255
        && !s.starts_with('-')
        && !s.starts_with('/')
        && !s.ends_with('/')
        && !s.ends_with('.')
        && !s.ends_with(".lock")
        && !s.contains("..")
        && !s.contains("@{")
        && !s.contains("//")
        && s != "@"
        && !s
            .chars()
            .any(|c| c.is_control() || c == ' ' || "~^:?*[\\".contains(c))
}

pub fn is_hex(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_hexdigit())
}

pub fn is_full_sha(s: &str) -> bool {
    s.len() == 40 && is_hex(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revs() {
        assert!(valid_rev("main"));
        assert!(valid_rev("feature/x"));
        assert!(valid_rev("v1.0"));
        assert!(!valid_rev("-n"));
        assert!(!valid_rev("--output=x"));
        assert!(!valid_rev("a..b"));
        assert!(!valid_rev("HEAD~1"));
        assert!(!valid_rev("main:README"));
        assert!(!valid_rev("a b"));
        assert!(!valid_rev("x@{1}"));
    }

    #[test]
    fn commit_parsing() {
        let data = b"tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\nparent aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\nauthor A U Thor <a@x.y> 1700000000 +0100\ncommitter C O Mitter <c@x.y> 1700000060 -0500\ngpgsig -----BEGIN\n line\n -----END\n\nsubject\n\nbody\n";
        let c = parse_commit("x", data);
        assert_eq!(c.tree, "4b825dc642cb6eb9a060e54bf8d69288fbee4904");
        assert_eq!(c.parents.len(), 1);
        assert_eq!(c.author.name, "A U Thor");
        assert_eq!(c.author.email, "a@x.y");
        assert_eq!(c.committer.time, 1_700_000_060);
        assert_eq!(c.message, "subject\n\nbody");
    }
}
