//! A property test of the filesystem core against a reference model.
//!
//! `FsCore` is driven in-process (no kernel) over fakehub serving small real git
//! repositories whose branches and tags point at commits with different trees: files,
//! nested directories, executables, symlinks (relative and dangling), an empty file, a
//! submodule, an empty tree, an empty repository, the same content in several places
//! and repositories. The model is a plain map read back from those repositories with
//! `git ls-tree` and `git cat-file`, plus which commit each ref points at now.
//!
//! Random sequences of lookup, readdir, read, getattr, readlink, getxattr and forget
//! (each through the local fast path or the async path, as the adapter does), ops on
//! forgotten inodes, branch/tag moves, announced pushes and default-branch changes must give the model's
//! answers: names, kinds, sizes, modes, nlink, mtimes, TTLs, bytes, errno values, inode
//! numbers (a function of parent, name, object id and mode) and the invalidations the
//! core sends the kernel when it notices a moved branch.
//!
//! Semantics checked for moves (the core's documented consistency): with a ref TTL of
//! zero every operation on a branch/tag root re-resolves the ref, so the root shows the
//! commit the ref names now; content inodes are immutable (looked up once, they keep
//! their object, listing, bytes and attributes, mtime included, until forgotten, even
//! after the branch moved); the first operation that sees a root's commit change
//! invalidates the root and every name the kernel holds in it; a full-SHA root never
//! changes. With a long TTL (the second test) a ref is resolved once per cache and then
//! never again, so moves are invisible, until a push is announced (`FsCore::ref_pushed`,
//! what the webhook calls): then the roots of that repository showing the pushed ref or
//! the default branch re-resolve at once (invalidating as above), and the ref and the
//! default branch are polled at their next resolution.
//!
//! The third property (`writes`, in `fs_model/writes.rs`) checks writes. A writable core
//! (`FsOptions::changes`, a mount's scope) serves one repository, `acme/work` (files, an
//! executable, an empty file, a 70 kB file, symlinks, nested directories, a submodule,
//! two names with one blob and two directories with one tree in one directory); its
//! working copy `/acme/work` is checked against a model of the commit's tree, `path ->
//! entry` (a file with its bytes and mode bits, a symlink with its target, a directory,
//! a submodule), and of the kernel's references (which inode it holds for which node,
//! how many times). Operations are sent only as the kernel sends them: names without `/`
//! or NUL, never `.` or `..`; a name is looked up before it is unlinked, removed or
//! renamed (and the rename's target too); never a directory into its own subtree; writes,
//! truncations and chmods to inodes the kernel holds, removed open files included; a
//! directory is forgotten only after everything in it. Random sequences of create
//! (EEXIST on a name that exists, EINVAL past 255 bytes, EROFS in a submodule), mkdir,
//! symlink, write at any offset (past the end: zero-filled; through the local fast path or
//! not), truncate and extend, chmod of files and directories, unlink (EISDIR), rmdir
//! (ENOTDIR, ENOTEMPTY), rename (over a file, NOREPLACE: EEXIST, EXCHANGE, a directory
//! over a file: ENOTDIR, a file over a directory: EISDIR, over a non-empty directory:
//! ENOTEMPTY), lookup, readdir, READDIRPLUS (with room for all entries or a few: each
//! entry held as its lookup, the one that did not fit not held), read, readlink, getattr
//! and forget must give the model's
//! answers and attributes (kind, size, mode bits, nlink, TTL); a node of the commit keeps
//! its inode when it is first written (copy-up in place) or its directory materialized, a
//! renamed node keeps its inode, and two nodes never share one. Every ten operations and
//! at the end a full walk (readdir, lookup, getattr, read, readlink of every name) must
//! equal the model, with readdir's `d_ino` the inode lookup gives; then, everything
//! forgotten, the core keeps no inode, the layer keeps the data files of exactly the files
//! its directories name, and a walk from a fresh lookup of the root gives the model again.
//!
//! The bugs it found are kept as regression tests of their minimal sequences: a removed
//! file of the commit written through the inode the kernel holds (it takes the write, and
//! never touches what took its name), two names of one object exchanged, and readdir's
//! `d_ino` when a name gets the object of a removed file the kernel still holds.
//!
//! `PROPTEST_CASES` raises the number of cases; failures are not persisted to files
//! (proptest prints the minimal failing sequence).

mod common;
#[path = "fs_model/writes.rs"]
mod writes;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::{Hub, TEST_TOKEN, git};
use fakehub::{OwnerType, repo};
use heimdall::fs::inode::ROOT_INO;
use heimdall::fs::{
    Attr, DirEntry, Errno, FsCore, FsOptions, IMMUTABLE_TTL, Invalidation, Kind, MUTABLE_TTL,
    XATTR_SHA, XATTR_URL,
};
use heimdall::namespace::Namespace;
use heimdall::remote::{CachedResponse, GitHubClient, HttpClient, ResponseCache};
use heimdall::store::Store;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

/// Cases per test when `PROPTEST_CASES` is not set: the three tests together stay well
/// under a minute on two cores.
const DEFAULT_CASES: u32 = 48;
/// Longest operation sequence of one case.
const MAX_OPS: usize = 60;
const UID: u32 = 4242;
const GID: u32 = 4343;
const WEB_URL: &str = "https://github.test";
/// A ref TTL longer than any test run: a resolved ref never expires.
const STICKY_TTL: Duration = Duration::from_secs(24 * 3600);

// ---------------------------------------------------------------------------------------
// The world: repositories built once, read back with git.

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum GitMode {
    File,
    Exec,
    Link,
    Tree,
    Gitlink,
}

impl GitMode {
    fn parse(mode: &str) -> GitMode {
        match mode {
            "100644" => GitMode::File,
            "100755" => GitMode::Exec,
            "120000" => GitMode::Link,
            "040000" => GitMode::Tree,
            "160000" => GitMode::Gitlink,
            other => panic!("unexpected git mode {other}"),
        }
    }

    fn is_blob(self) -> bool {
        matches!(self, GitMode::File | GitMode::Exec | GitMode::Link)
    }

    fn kind(self) -> Kind {
        match self {
            GitMode::Tree | GitMode::Gitlink => Kind::Directory,
            GitMode::Link => Kind::Symlink,
            GitMode::File | GitMode::Exec => Kind::File,
        }
    }
}

#[derive(Debug, Clone)]
struct GitEntry {
    name: String,
    mode: GitMode,
    sha: String,
    size: u64,
}

struct RepoWorld {
    owner: &'static str,
    name: &'static str,
    git_dir: PathBuf,
    /// Every commit of the repository (the targets of moves).
    commits: Vec<String>,
    /// Full ref name -> commit, as built (annotated tags peeled).
    initial_refs: BTreeMap<String, String>,
    initial_head: String,
    /// Refs that moves may point elsewhere.
    movable: Vec<String>,
    /// Branches the default branch may be switched to.
    heads: Vec<String>,
    empty: bool,
}

struct World {
    repos: Vec<RepoWorld>,
    /// Tree SHA -> its entries.
    trees: HashMap<String, Vec<GitEntry>>,
    blobs: HashMap<String, Vec<u8>>,
    /// Commit -> (root tree, commit time).
    commits: HashMap<String, (String, i64)>,
    /// Names looked up at `/`.
    owner_names: Vec<String>,
    /// Per owner: names looked up in it (repos, `repo@ref`, missing ones).
    repo_names: BTreeMap<String, Vec<String>>,
    /// Every entry name of every tree, and names found nowhere.
    entry_names: Vec<String>,
    root: PathBuf,
}

fn git_text(git_dir: &Path, args: &[&str]) -> String {
    String::from_utf8(git(git_dir, args))
        .unwrap()
        .trim()
        .to_string()
}

/// Builds the repositories under `root` (before the hub serves them).
fn build_repos(root: &Path) {
    let mut api = repo::create(root, "acme", "api").unwrap();
    api.write("README.md", "hello\n")
        .write("src/lib.rs", "pub fn f() {}\n")
        .write("src/util/mod.rs", "mod x;\n")
        .write("src/copy.txt", "hello\n")
        .executable("bin/run.sh", "#!/bin/sh\necho hi\n")
        .symlink("link", "README.md")
        .write("docs/guide.md", "a guide\nin two lines\n")
        .symlink("docs/up", "../src/lib.rs")
        .empty_file("empty.txt")
        .write("with space.txt", "spaces\n")
        .write("café.md", "unicode\n");
    let c1 = api.commit("c1").unwrap();
    api.on_branch("feature/x");
    api.write("a/b/c/d.txt", "deep\n")
        .write("a/b/same.txt", "hello\n")
        .submodule("vendor/lib", "https://example.com/lib.git", &"7".repeat(40))
        .remove("empty.txt");
    api.commit("c3").unwrap();
    api.on_branch("main");
    api.write("README.md", "hello, world\n")
        .remove("docs")
        .write("docs", "docs are a file now\n")
        .write("bin/run.sh", "#!/bin/sh\necho hi\n")
        .remove("link")
        .symlink("link", "src/lib.rs")
        .symlink("dangling", "nowhere/at/all")
        .executable("src/extra.rs", "// extra\n");
    let c2 = api.commit("c2").unwrap();
    api.on_branch("empty");
    api.clear();
    api.commit("c4").unwrap();
    api.on_branch("main");
    api.create_branch("dev", &c1).unwrap();
    api.tag("v1", &c1).unwrap();
    api.annotated_tag("v2", &c2, "second").unwrap();

    let mut tools = repo::create(root, "acme", "tools").unwrap();
    tools
        .write("README.md", "hello\n")
        .write("Makefile", "all:\n");
    tools.commit("t1").unwrap();
    tools
        .write("lib/x.py", "x = 1\n")
        .write("Makefile", "all: x\n");
    tools.commit("t2").unwrap();

    repo::create_empty(root, "acme", "void").unwrap();

    let mut dots = repo::create(root, "bob", "dots").unwrap();
    dots.write(".bashrc", "alias ll='ls -l'\n")
        .write("config/nvim/init.lua", "-- hello\n");
    dots.commit("d1").unwrap();
    repo::set_owner_type(root, "bob", OwnerType::User).unwrap();
}

/// Reads the repositories back into the model's world.
fn read_world(root: &Path) -> World {
    let specs: [(&'static str, &'static str, &[&str], &[&str]); 4] = [
        (
            "acme",
            "api",
            &[
                "refs/heads/main",
                "refs/heads/dev",
                "refs/heads/feature/x",
                "refs/heads/empty",
                "refs/tags/v1",
            ],
            &["main", "dev", "feature/x", "empty"],
        ),
        ("acme", "tools", &["refs/heads/main"], &[]),
        ("acme", "void", &[], &[]),
        ("bob", "dots", &[], &[]),
    ];
    let mut world = World {
        repos: Vec::new(),
        trees: HashMap::new(),
        blobs: HashMap::new(),
        commits: HashMap::new(),
        owner_names: ["acme", "Acme", "bob", "ghost", ".Trash", "no_such-owner"]
            .map(String::from)
            .to_vec(),
        repo_names: BTreeMap::new(),
        entry_names: Vec::new(),
        root: root.to_path_buf(),
    };
    let mut names = BTreeSet::new();
    for (owner, name, movable, heads) in specs {
        let git_dir = root.join(owner).join(format!("{name}.git"));
        let refs_text = git_text(
            &git_dir,
            &[
                "for-each-ref",
                "--format=%(refname) %(*objectname) %(objectname)",
            ],
        );
        let mut initial_refs = BTreeMap::new();
        for line in refs_text.lines() {
            let parts: Vec<&str> = line.split_whitespace().collect();
            // Annotated tags: `refname peeled tag`; others: `refname commit` (the peeled
            // field is empty). Either way the commit comes second.
            initial_refs.insert(parts[0].to_string(), parts[1].to_string());
        }
        let head = git_text(&git_dir, &["symbolic-ref", "HEAD"]);
        let initial_head = head.trim_start_matches("refs/heads/").to_string();
        let commits: Vec<String> = if initial_refs.is_empty() {
            Vec::new()
        } else {
            git_text(&git_dir, &["rev-list", "--all"])
                .lines()
                .map(String::from)
                .collect()
        };
        for commit in &commits {
            let info = git_text(&git_dir, &["show", "-s", "--format=%T %ct", commit]);
            let (tree, time) = info.split_once(' ').unwrap();
            world
                .commits
                .insert(commit.clone(), (tree.to_string(), time.parse().unwrap()));
            read_tree(&git_dir, tree, &mut world, &mut names);
        }
        world.repos.push(RepoWorld {
            owner,
            name,
            git_dir,
            commits,
            initial_refs,
            initial_head,
            movable: movable.iter().map(|s| s.to_string()).collect(),
            heads: heads.iter().map(|s| s.to_string()).collect(),
            empty: false,
        });
    }
    for repo in &mut world.repos {
        repo.empty = repo.commits.is_empty();
    }
    let api = &world.repos[0];
    let c1 = api.initial_refs["refs/heads/dev"].clone();
    let c3 = api.initial_refs["refs/heads/feature/x"].clone();
    world.repo_names.insert(
        "acme".into(),
        [
            "api",
            "api@main",
            "api@dev",
            "api@feature%2Fx",
            "api@feature%2fx",
            "api@empty",
            "api@v1",
            "api@v2",
            &format!("api@{c1}"),
            &format!("api@{}", &c3[..8]),
            "api@nope",
            "tools",
            "tools@main",
            "void",
            "nope",
        ]
        .map(String::from)
        .to_vec(),
    );
    world.repo_names.insert(
        "bob".into(),
        ["dots", "dots@main", "dots@nope", "nope"]
            .map(String::from)
            .to_vec(),
    );
    names.insert("nope".into());
    names.insert("README.MD".into());
    world.entry_names = names.into_iter().collect();
    world
}

fn read_tree(git_dir: &Path, tree: &str, world: &mut World, names: &mut BTreeSet<String>) {
    if world.trees.contains_key(tree) {
        return;
    }
    let out = git(git_dir, &["ls-tree", "-z", "-l", tree]);
    let mut entries = Vec::new();
    for record in out.split(|b| *b == 0).filter(|r| !r.is_empty()) {
        let record = String::from_utf8(record.to_vec()).unwrap();
        let (meta, name) = record.split_once('\t').unwrap();
        let fields: Vec<&str> = meta.split_whitespace().collect();
        let mode = GitMode::parse(fields[0]);
        let sha = fields[2].to_string();
        let size = fields[3].parse().unwrap_or(0);
        names.insert(name.to_string());
        entries.push(GitEntry {
            name: name.to_string(),
            mode,
            sha: sha.clone(),
            size,
        });
        match mode {
            GitMode::Tree => read_tree(git_dir, &sha, world, names),
            GitMode::File | GitMode::Exec | GitMode::Link => {
                world
                    .blobs
                    .entry(sha.clone())
                    .or_insert_with(|| git(git_dir, &["cat-file", "blob", &sha]));
            }
            GitMode::Gitlink => {}
        }
    }
    world.trees.insert(tree.to_string(), entries);
}

// ---------------------------------------------------------------------------------------
// Operations.

#[derive(Debug, Clone)]
enum Offset {
    Start,
    Within(u64),
    AtEnd,
    PastEnd(u64),
}

#[derive(Debug, Clone)]
enum Op {
    /// Look a name up in a live directory (or, with `any`, any live inode).
    Lookup {
        parent: usize,
        any: bool,
        existing: bool,
        name: usize,
        local: bool,
    },
    Readdir {
        dir: usize,
        any: bool,
        local: bool,
    },
    Read {
        file: usize,
        any: bool,
        offset: Offset,
        size: u32,
        local: bool,
    },
    Getattr {
        node: usize,
        local: bool,
    },
    Readlink {
        node: usize,
    },
    Getxattr {
        node: usize,
        url: bool,
    },
    /// The kernel drops `n` (or all) of its references to a live inode.
    Forget {
        node: usize,
        n: u64,
        all: bool,
    },
    /// An operation on an inode the kernel forgot entirely.
    Stale {
        node: usize,
        what: u8,
    },
    /// Looks up every component of a path from `/`: an owner, a repo (maybe `@ref`) and
    /// a path that exists in the commit the repo names now (or one missing name).
    Walk {
        owner: usize,
        repo: usize,
        path: usize,
        local: bool,
    },
    /// Moves a branch or tag to another commit of its repository.
    Move {
        reference: usize,
        commit: usize,
    },
    /// A push webhook announced that a movable ref moved (`FsCore::ref_pushed`).
    Push {
        reference: usize,
    },
    /// Switches a repository's default branch.
    SetHead {
        branch: usize,
    },
}

fn op_strategy() -> impl Strategy<Value = Op> {
    let idx = || 0usize..1000;
    let offset = prop_oneof![
        Just(Offset::Start),
        (0u64..64).prop_map(Offset::Within),
        Just(Offset::AtEnd),
        prop_oneof![1u64..10, Just(1u64 << 40)].prop_map(Offset::PastEnd),
    ];
    prop_oneof![
        10 => (idx(), prop::bool::weighted(0.1), prop::bool::weighted(0.75), idx(), any::<bool>())
            .prop_map(|(parent, any, existing, name, local)| Op::Lookup { parent, any, existing, name, local }),
        4 => (idx(), prop::bool::weighted(0.15), any::<bool>())
            .prop_map(|(dir, any, local)| Op::Readdir { dir, any, local }),
        4 => (idx(), prop::bool::weighted(0.15), offset, prop_oneof![0u32..16, 1u32..8192, Just(131_072u32)], any::<bool>())
            .prop_map(|(file, any, offset, size, local)| Op::Read { file, any, offset, size, local }),
        3 => (idx(), any::<bool>()).prop_map(|(node, local)| Op::Getattr { node, local }),
        2 => idx().prop_map(|node| Op::Readlink { node }),
        1 => (idx(), any::<bool>()).prop_map(|(node, url)| Op::Getxattr { node, url }),
        2 => (idx(), 1u64..4, prop::bool::weighted(0.3)).prop_map(|(node, n, all)| Op::Forget { node, n, all }),
        1 => (idx(), 0u8..4).prop_map(|(node, what)| Op::Stale { node, what }),
        4 => (idx(), idx(), idx(), any::<bool>()).prop_map(|(owner, repo, path, local)| Op::Walk { owner, repo, path, local }),
        3 => (idx(), idx()).prop_map(|(reference, commit)| Op::Move { reference, commit }),
        1 => idx().prop_map(|branch| Op::SetHead { branch }),
        2 => idx().prop_map(|reference| Op::Push { reference }),
    ]
}

// ---------------------------------------------------------------------------------------
// The model.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ttl {
    /// A ref is re-resolved by every operation on its root.
    Zero,
    /// A ref is resolved once per cache and never again.
    Sticky,
}

#[derive(Debug, Clone)]
enum NodeM {
    Root,
    Owner,
    RepoRoot {
        repo: usize,
        /// The ref as looked up (`None`: the default branch).
        reference: Option<String>,
        /// The commit the core last showed here (`None`: not resolved yet, or empty).
        shown: Option<String>,
    },
    Content {
        repo: usize,
        /// The commit of the root the node was created under (mtime and URL).
        context: String,
        path: String,
        mode: GitMode,
        sha: String,
        size: u64,
    },
}

#[derive(Debug, Clone)]
struct Handle {
    node: NodeM,
    parent: u64,
    lookups: u64,
}

/// A node's key in the core: (parent inode, name, object and mode or `None` for a name).
type Key = (u64, String, Option<(String, GitMode)>);

/// A ref's state in a cache that never expires refs.
#[derive(Debug, Clone)]
enum Fix {
    /// Resolved in the background at some point since: any of these.
    Candidates(BTreeSet<String>),
    Fixed(String),
}

struct Model<'w> {
    world: &'w World,
    ttl: Ttl,
    /// Per repository: full ref name -> commit, and the default branch.
    refs: Vec<BTreeMap<String, String>>,
    heads: Vec<String>,
    /// Inodes the kernel holds (lookup count above zero), in the core's terms.
    live: BTreeMap<u64, Handle>,
    /// Every inode ever handed out by a lookup, in order (for picking forgotten ones).
    seen: Vec<u64>,
    keys: HashMap<Key, u64>,
    inos: HashMap<u64, Key>,
    owners_listed: BTreeSet<String>,
    /// Root trees the core has fetched (their nlink is then exact).
    known_trees: HashSet<String>,
    /// Sticky TTL: (repo, ref name as sent to GitHub) -> commit.
    fixed: HashMap<(usize, String), Fix>,
    /// Invalidations the core should have sent during the current operation.
    expected_invalidations: Vec<Invalidation>,
    /// The inode the last successful lookup returned.
    last_held: Option<u64>,
}

/// What an answer's attributes must be.
#[derive(Debug, Clone)]
struct Want {
    kind: Kind,
    size: u64,
    perm: u16,
    /// One of these.
    nlink: Vec<u32>,
    /// `None`: the mount time, not modelled.
    mtime: Option<SystemTime>,
    ttl: Duration,
}

fn commit_time(world: &World, commit: &str) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(world.commits[commit].1 as u64)
}

fn is_full_sha(reference: &str) -> bool {
    reference.len() == 40 && reference.bytes().all(|b| b.is_ascii_hexdigit())
}

impl<'w> Model<'w> {
    fn new(world: &'w World, ttl: Ttl) -> Model<'w> {
        let mut live = BTreeMap::new();
        live.insert(
            ROOT_INO,
            Handle {
                node: NodeM::Root,
                parent: ROOT_INO,
                lookups: 1,
            },
        );
        Model {
            world,
            ttl,
            refs: world.repos.iter().map(|r| r.initial_refs.clone()).collect(),
            heads: world.repos.iter().map(|r| r.initial_head.clone()).collect(),
            live,
            seen: vec![ROOT_INO],
            keys: HashMap::new(),
            inos: HashMap::new(),
            owners_listed: BTreeSet::new(),
            known_trees: HashSet::new(),
            fixed: HashMap::new(),
            expected_invalidations: Vec::new(),
            last_held: None,
        }
    }

    fn repo_index(&self, owner: &str, name: &str) -> Option<usize> {
        self.world
            .repos
            .iter()
            .position(|r| r.owner == owner && r.name == name)
    }

    /// The commit `reference` names in `repo` now (what GitHub answers).
    fn current(&self, repo: usize, reference: Option<&str>) -> Option<String> {
        let refs = &self.refs[repo];
        let world = &self.world.repos[repo];
        match reference {
            None => refs
                .get(&format!("refs/heads/{}", self.heads[repo]))
                .cloned(),
            Some(r) if is_full_sha(r) => world.commits.iter().find(|c| *c == r).cloned(),
            Some(r) => refs
                .get(&format!("refs/tags/{r}"))
                .or_else(|| refs.get(&format!("refs/heads/{r}")))
                .cloned()
                .or_else(|| {
                    let hits: Vec<&String> = world
                        .commits
                        .iter()
                        .filter(|c| r.len() >= 4 && c.starts_with(r))
                        .collect();
                    (hits.len() == 1).then(|| hits[0].clone())
                }),
        }
    }

    /// The commit the core resolves `reference` to in an operation now.
    fn resolve(&mut self, repo: usize, reference: Option<&str>) -> Option<String> {
        let now = self.current(repo, reference);
        if self.ttl == Ttl::Zero || reference.is_some_and(is_full_sha) {
            return now;
        }
        let key = (repo, reference.unwrap_or("HEAD").to_string());
        match self.fixed.get(&key) {
            Some(Fix::Fixed(sha)) => {
                if now.as_ref() != Some(sha) {
                    tally("a moved ref kept its first commit");
                }
                Some(sha.clone())
            }
            // Resolved by the owner listing's background prefetch: the harness reads which.
            Some(Fix::Candidates(_)) => None,
            None => {
                if let Some(sha) = &now {
                    self.fixed.insert(key, Fix::Fixed(sha.clone()));
                }
                now
            }
        }
    }

    /// What a root of `reference` shows in an operation now: `None` for an empty
    /// repository, `Err` when the ref names nothing.
    fn resolve_root(
        &mut self,
        repo: usize,
        reference: Option<&str>,
    ) -> Result<Option<String>, i32> {
        if self.world.repos[repo].empty {
            return Ok(None);
        }
        self.resolve(repo, reference).map(Some).ok_or(libc::ENOENT)
    }

    /// What `reference` shows now, without resolving anything.
    fn peek(&self, repo: usize, reference: Option<&str>) -> Option<String> {
        match (
            self.ttl,
            self.fixed
                .get(&(repo, reference.unwrap_or("HEAD").to_string())),
        ) {
            (Ttl::Sticky, Some(Fix::Fixed(sha))) => Some(sha.clone()),
            _ => self.current(repo, reference),
        }
    }

    /// The repo root's commit in an operation now, with the invalidations a change causes.
    /// `Err`: the ref does not resolve.
    fn root_commit(&mut self, ino: u64) -> Result<Option<String>, i32> {
        let Some(NodeM::RepoRoot {
            repo, reference, ..
        }) = self.live.get(&ino).map(|h| h.node.clone())
        else {
            panic!("not a repo root");
        };
        let Some(commit) = self.resolve_root(repo, reference.as_deref())? else {
            return Ok(None);
        };
        let Some(Handle {
            node: NodeM::RepoRoot { shown, .. },
            ..
        }) = self.live.get_mut(&ino)
        else {
            unreachable!()
        };
        let previous = shown.replace(commit.clone());
        if previous.is_some_and(|p| p != commit) {
            self.expected_invalidations.push(Invalidation::Inode(ino));
            let names: Vec<String> = self
                .live
                .iter()
                .filter(|(i, h)| h.parent == ino && **i != ROOT_INO)
                .map(|(i, _)| self.inos[i].1.clone())
                .collect();
            for name in names {
                self.expected_invalidations
                    .push(Invalidation::Entry(ino, name));
            }
        }
        Ok(Some(commit))
    }

    fn tree(&self, sha: &str) -> &'w [GitEntry] {
        &self.world.trees[sha]
    }

    fn dir_want(&self, nlink: Vec<u32>, mtime: Option<SystemTime>, ttl: Duration) -> Want {
        Want {
            kind: Kind::Directory,
            size: 4096,
            perm: 0o555,
            nlink,
            mtime,
            ttl,
        }
    }

    fn tree_nlink(&self, tree: &str) -> u32 {
        2 + self
            .tree(tree)
            .iter()
            .filter(|e| e.mode == GitMode::Tree)
            .count() as u32
    }

    /// Attributes of a live node, given its root's commit when it is a repo root.
    fn want(&self, ino: u64, root: Option<&str>) -> Want {
        let handle = &self.live[&ino];
        match &handle.node {
            NodeM::Root | NodeM::Owner => self.dir_want(vec![2], None, MUTABLE_TTL),
            NodeM::RepoRoot { reference, .. } => {
                let ttl = if reference.as_deref().is_some_and(is_full_sha) {
                    IMMUTABLE_TTL
                } else {
                    MUTABLE_TTL
                };
                match root {
                    None => self.dir_want(vec![2], None, ttl),
                    Some(commit) => {
                        let tree = &self.world.commits[commit].0;
                        let exact = self.tree_nlink(tree);
                        // Until its tree is local a root shows 2 links (documented: "when
                        // the tree is known locally").
                        let nlink = if self.known_trees.contains(tree) {
                            vec![exact]
                        } else {
                            vec![2, exact]
                        };
                        self.dir_want(nlink, Some(commit_time(self.world, commit)), ttl)
                    }
                }
            }
            NodeM::Content {
                context,
                mode,
                sha,
                size,
                ..
            } => {
                let mtime = Some(commit_time(self.world, context));
                match mode {
                    GitMode::Tree => {
                        self.dir_want(vec![self.tree_nlink(sha)], mtime, IMMUTABLE_TTL)
                    }
                    GitMode::Gitlink => self.dir_want(vec![2], mtime, IMMUTABLE_TTL),
                    GitMode::File | GitMode::Exec | GitMode::Link => Want {
                        kind: mode.kind(),
                        size: *size,
                        perm: match mode {
                            GitMode::Exec => 0o555,
                            GitMode::Link => 0o777,
                            _ => 0o444,
                        },
                        nlink: vec![1],
                        mtime,
                        ttl: IMMUTABLE_TTL,
                    },
                }
            }
        }
    }

    /// Checks that `key` and `ino` agree with every key and inode seen before: inode
    /// numbers are a function of the key, and different keys have different numbers.
    fn bind(&mut self, key: Key, ino: u64) -> Result<(), String> {
        if let Some(&known) = self.keys.get(&key)
            && known != ino
        {
            return Err(format!("{key:?} was inode {known}, now {ino}"));
        }
        if let Some(other) = self.inos.get(&ino)
            && *other != key
        {
            return Err(format!("inode {ino} is {other:?} and {key:?}"));
        }
        self.keys.insert(key.clone(), ino);
        self.inos.insert(ino, key);
        Ok(())
    }

    /// One more kernel reference to `ino` (created as `node` if the kernel held none).
    fn hold(&mut self, ino: u64, parent: u64, node: NodeM) {
        self.last_held = Some(ino);
        match self.live.get_mut(&ino) {
            Some(h) => h.lookups += 1,
            None => {
                self.live.insert(
                    ino,
                    Handle {
                        node,
                        parent,
                        lookups: 1,
                    },
                );
                if !self.seen.contains(&ino) {
                    self.seen.push(ino);
                }
            }
        }
    }

    fn forget(&mut self, ino: u64, n: u64) {
        let h = self.live.get_mut(&ino).expect("live");
        h.lookups -= n.min(h.lookups);
        if h.lookups == 0 {
            tally("forgotten entirely");
            self.live.remove(&ino);
        }
    }

    /// A change of what a ref names: in a never-expiring cache, prefetches still running
    /// may have seen any value it had.
    fn ref_changed(&mut self) {
        let keys: Vec<(usize, String)> = self
            .fixed
            .iter()
            .filter(|(_, f)| matches!(f, Fix::Candidates(_)))
            .map(|(k, _)| k.clone())
            .collect();
        for (repo, name) in keys {
            let reference = (name != "HEAD").then_some(name.as_str());
            if let Some(now) = self.current(repo, reference)
                && let Some(Fix::Candidates(set)) = self.fixed.get_mut(&(repo, name.clone()))
            {
                set.insert(now);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// The harness: one core, one model, one case.

struct IndexCache(Arc<Store>);
impl ResponseCache for IndexCache {
    fn get(&self, key: &str) -> Option<CachedResponse> {
        self.0.index().get(key)
    }
    fn put(&self, key: &str, r: &CachedResponse) {
        self.0.index().put(key, r)
    }
}

struct Case<'w> {
    hub: &'w fakehub::FakeHub,
    core: FsCore,
    model: Model<'w>,
    sent: Arc<Mutex<Vec<Invalidation>>>,
    /// What happened so far, for failure messages.
    log: Vec<String>,
}

fn errno_name(e: i32) -> String {
    match e {
        libc::ENOENT => "ENOENT".into(),
        libc::ENOTDIR => "ENOTDIR".into(),
        libc::EISDIR => "EISDIR".into(),
        libc::EINVAL => "EINVAL".into(),
        libc::ESTALE => "ESTALE".into(),
        libc::ENODATA => "ENODATA".into(),
        libc::EIO => "EIO".into(),
        libc::EEXIST => "EEXIST".into(),
        libc::ENOTEMPTY => "ENOTEMPTY".into(),
        libc::EROFS => "EROFS".into(),
        other => format!("errno {other}"),
    }
}

fn show<T: std::fmt::Debug>(r: &Result<T, i32>) -> String {
    match r {
        Ok(v) => format!("Ok({v:?})"),
        Err(e) => format!("Err({})", errno_name(*e)),
    }
}

fn check_attr(attr: &Attr, ttl: Duration, want: &Want, ino: u64) -> Result<(), String> {
    let ok = attr.ino == ino
        && attr.kind == want.kind
        && attr.size == want.size
        && attr.perm == want.perm
        && want.nlink.contains(&attr.nlink)
        && want.mtime.is_none_or(|m| m == attr.mtime)
        && attr.uid == UID
        && attr.gid == GID
        && ttl == want.ttl;
    if ok {
        tally(format!("attributes of a {:?}", want.kind));
        Ok(())
    } else {
        Err(format!(
            "attributes differ: got {attr:?} ttl {ttl:?}, want ino {ino} {want:?}"
        ))
    }
}

fn errno<T>(r: Result<T, Errno>) -> Result<T, i32> {
    r.map_err(|e| e.0)
}

impl<'w> Case<'w> {
    /// A live inode: one that passes `filter` unless `any`, the most recently looked up
    /// more often (so sequences go deep).
    fn pick(&self, idx: usize, filter: impl Fn(&NodeM) -> bool, any: bool) -> u64 {
        let all: Vec<u64> = self
            .model
            .seen
            .iter()
            .copied()
            .filter(|i| self.model.live.contains_key(i))
            .collect();
        let some: Vec<u64> = all
            .iter()
            .copied()
            .filter(|i| filter(&self.model.live[i].node))
            .collect();
        let from = if any || some.is_empty() { &all } else { &some };
        if idx.is_multiple_of(2) {
            from[from.len() - 1 - (idx / 2) % from.len().min(3)]
        } else {
            from[idx % from.len()]
        }
    }

    /// The commit a sticky root resolved in the background: read where the core keeps it.
    fn settle(&mut self, ino: u64) -> Result<(), String> {
        let Some(NodeM::RepoRoot {
            repo, reference, ..
        }) = self.model.live.get(&ino).map(|h| h.node.clone())
        else {
            return Ok(());
        };
        self.settle_ref(repo, reference.as_deref())
    }

    fn settle_ref(&mut self, repo: usize, reference: Option<&str>) -> Result<(), String> {
        let key = (repo, reference.unwrap_or("HEAD").to_string());
        let Some(Fix::Candidates(set)) = self.model.fixed.get(&key).cloned() else {
            return Ok(());
        };
        let r = &self.model.world.repos[repo];
        let stored = self
            .core
            .namespace()
            .store()
            .index()
            .ref_commit(r.owner, r.name, &key.1)
            .map_err(|e| e.to_string())?;
        let sha = match stored {
            Some((sha, _)) => sha.to_hex(),
            // Not resolved yet: the operation resolves it now.
            None => self.model.current(repo, reference).expect("resolves"),
        };
        if !set.contains(&sha) {
            return Err(format!(
                "{}/{}@{} resolved to {sha}, which it never named ({set:?})",
                r.owner, r.name, key.1
            ));
        }
        self.model.fixed.insert(key, Fix::Fixed(sha));
        Ok(())
    }

    async fn lookup(&mut self, parent: u64, name: &str, local: bool) -> Result<(), String> {
        if !self.model.live.contains_key(&parent) {
            let got = errno(self.core.lookup(parent, name).await);
            return expect_eq(&got.map(|_| ()), &Err(libc::ESTALE));
        }
        let handle = self.model.live[&parent].clone();
        // What the model says: the new node's key, its kind, and the TTL of the entry.
        let (key, node): (Key, NodeM) = match &handle.node {
            NodeM::Root => {
                let login = name.to_ascii_lowercase();
                if !self.model.world.repos.iter().any(|r| r.owner == login) {
                    let got = errno(self.core.lookup(parent, name).await);
                    return expect_eq(&got.map(|_| ()), &Err(libc::ENOENT));
                }
                self.model.owners_listed.insert(login.clone());
                ((parent, login, None), NodeM::Owner)
            }
            NodeM::Owner => {
                let login = &self.model.inos[&parent].1;
                let (repo_name, reference) = match name.split_once('@') {
                    Some((r, reference)) => {
                        (r, Some(reference.replace("%2F", "/").replace("%2f", "/")))
                    }
                    None => (name, None),
                };
                let Some(repo) = self.model.repo_index(login, repo_name) else {
                    let got = errno(self.core.lookup(parent, name).await);
                    return expect_eq(&got.map(|_| ()), &Err(libc::ENOENT));
                };
                (
                    (parent, name.to_string(), None),
                    NodeM::RepoRoot {
                        repo,
                        reference,
                        shown: None,
                    },
                )
            }
            NodeM::RepoRoot { reference, .. } => {
                let pinned = reference.as_deref().is_some_and(is_full_sha);
                let got = errno(self.core.lookup(parent, name).await);
                self.settle(parent)?;
                let expected = self.model.root_commit(parent);
                let commit = match expected {
                    Err(e) => return expect_eq(&got.map(|_| ()), &Err(e)),
                    Ok(None) => return expect_eq(&got.map(|_| ()), &Err(libc::ENOENT)),
                    Ok(Some(commit)) => commit,
                };
                let tree = self.model.world.commits[&commit].0.clone();
                self.model.known_trees.insert(tree.clone());
                let NodeM::RepoRoot { repo, .. } = handle.node else {
                    unreachable!()
                };
                let ttl = (!pinned).then_some(MUTABLE_TTL);
                return self
                    .child(parent, repo, &commit, "", &tree, name, ttl, got)
                    .await;
            }
            NodeM::Content {
                repo,
                context,
                path,
                mode,
                sha,
                ..
            } => {
                let (repo, context, path, mode, sha) =
                    (*repo, context.clone(), path.clone(), *mode, sha.clone());
                let got = if local {
                    match self.core.lookup_local(parent, name) {
                        Some(r) => {
                            tally("lookup_local answered");
                            errno(r)
                        }
                        None => errno(self.core.lookup(parent, name).await),
                    }
                } else {
                    errno(self.core.lookup(parent, name).await)
                };
                return match mode {
                    GitMode::Tree => {
                        self.child(parent, repo, &context, &path, &sha, name, None, got)
                            .await
                    }
                    GitMode::Gitlink => expect_eq(&got.map(|_| ()), &Err(libc::ENOENT)),
                    _ => expect_eq(&got.map(|_| ()), &Err(libc::ENOTDIR)),
                };
            }
        };
        // An owner or a repo root.
        let NodeM::RepoRoot {
            repo, reference, ..
        } = &node
        else {
            let got = errno(self.core.lookup(parent, name).await);
            let (attr, ttl) = got.map_err(|e| format!("lookup failed: {}", errno_name(e)))?;
            self.model.bind(key, attr.ino)?;
            self.model.hold(attr.ino, parent, node);
            let want = self.model.want(attr.ino, None);
            return check_attr(&attr, ttl, &want, attr.ino);
        };
        let (repo, reference) = (*repo, reference.clone());
        let got = errno(self.core.lookup(parent, name).await);
        if self.model.ttl == Ttl::Sticky {
            self.settle_ref(repo, reference.as_deref())?;
        }
        let held = self
            .model
            .keys
            .get(&key)
            .copied()
            .filter(|i| self.model.live.contains_key(i));
        let expected = match held {
            Some(ino) => self.model.root_commit(ino),
            None => self.model.resolve_root(repo, reference.as_deref()),
        };
        let commit = match expected {
            Err(e) => return expect_eq(&got.map(|_| ()), &Err(e)),
            Ok(commit) => commit,
        };
        let (attr, ttl) = got.map_err(|e| format!("lookup failed: {}", errno_name(e)))?;
        self.model.bind(key, attr.ino)?;
        self.model.hold(
            attr.ino,
            parent,
            NodeM::RepoRoot {
                repo,
                reference,
                shown: commit.clone(),
            },
        );
        let want = self.model.want(attr.ino, commit.as_deref());
        check_attr(&attr, ttl, &want, attr.ino)
    }

    /// A lookup of `name` in tree `tree` (at `dir_path` of `repo` under `commit`).
    #[allow(clippy::too_many_arguments)]
    async fn child(
        &mut self,
        parent: u64,
        repo: usize,
        commit: &str,
        dir_path: &str,
        tree: &str,
        name: &str,
        ttl_override: Option<Duration>,
        got: Result<(Attr, Duration), i32>,
    ) -> Result<(), String> {
        let Some(entry) = self.model.tree(tree).iter().find(|e| e.name == name) else {
            return expect_eq(&got.map(|_| ()), &Err(libc::ENOENT));
        };
        let (attr, ttl) = got.map_err(|e| format!("lookup failed: {}", errno_name(e)))?;
        let key = (
            parent,
            name.to_string(),
            Some((entry.sha.clone(), entry.mode)),
        );
        self.model.bind(key, attr.ino)?;
        self.model.hold(
            attr.ino,
            parent,
            NodeM::Content {
                repo,
                context: commit.to_string(),
                path: if dir_path.is_empty() {
                    name.to_string()
                } else {
                    format!("{dir_path}/{name}")
                },
                mode: entry.mode,
                sha: entry.sha.clone(),
                size: entry.size,
            },
        );
        let mut want = self.model.want(attr.ino, None);
        if let Some(ttl) = ttl_override {
            want.ttl = ttl;
        }
        check_attr(&attr, ttl, &want, attr.ino)
    }

    async fn getattr(&mut self, ino: u64, local: bool) -> Result<(), String> {
        let got = if local {
            match self.core.getattr_local(ino) {
                Some(r) => {
                    tally("getattr_local answered");
                    errno(r)
                }
                None => errno(self.core.getattr(ino).await),
            }
        } else {
            errno(self.core.getattr(ino).await)
        };
        if !self.model.live.contains_key(&ino) {
            return expect_eq(&got.map(|_| ()), &Err(libc::ESTALE));
        }
        let commit = match &self.model.live[&ino].node {
            NodeM::RepoRoot { .. } => {
                self.settle(ino)?;
                match self.model.root_commit(ino) {
                    Ok(c) => c,
                    Err(e) => return expect_eq(&got.map(|_| ()), &Err(e)),
                }
            }
            _ => None,
        };
        let (attr, ttl) = got.map_err(|e| format!("getattr failed: {}", errno_name(e)))?;
        let want = self.model.want(ino, commit.as_deref());
        check_attr(&attr, ttl, &want, ino)
    }

    async fn readdir(&mut self, ino: u64, local: bool) -> Result<(), String> {
        if !self.model.live.contains_key(&ino) {
            let got = errno(self.core.readdir(ino).await);
            return expect_eq(&got.map(|_| ()), &Err(libc::ESTALE));
        }
        let got: Result<Vec<DirEntry>, i32> = if local {
            match self.core.readdir_local(ino) {
                Some(r) => {
                    tally("readdir_local answered");
                    errno(r)
                }
                None => errno(self.core.readdir(ino).await),
            }
        } else {
            errno(self.core.readdir(ino).await)
        };
        let handle = self.model.live[&ino].clone();
        if let NodeM::RepoRoot { .. } = handle.node {
            self.settle(ino)?;
        }
        // Entries (name, kind, key) the listing must have, after `.` and `..`.
        let listing: Result<Vec<(String, Kind, Key)>, i32> = match &handle.node {
            NodeM::Root => {
                let mut out: Vec<(String, Kind, Key)> = self
                    .model
                    .owners_listed
                    .iter()
                    .map(|o| (o.clone(), Kind::Directory, (ino, o.clone(), None)))
                    .collect();
                for c in [".patterns", ".status"] {
                    out.push((c.into(), Kind::Directory, (ino, c.into(), None)));
                }
                Ok(out)
            }
            NodeM::Owner => {
                let login = self.model.inos[&ino].1.clone();
                self.quiesce().await;
                if self.model.ttl == Ttl::Sticky {
                    // The listing prefetches every repo's default branch in the background.
                    for (i, r) in self.model.world.repos.iter().enumerate() {
                        let key = (i, "HEAD".to_string());
                        if r.owner == login && !r.empty && !self.model.fixed.contains_key(&key) {
                            let now = self.model.current(i, None).expect("resolves");
                            self.model
                                .fixed
                                .insert(key, Fix::Candidates(BTreeSet::from([now])));
                        }
                    }
                }
                Ok(self
                    .model
                    .world
                    .repos
                    .iter()
                    .filter(|r| r.owner == login)
                    .map(|r| {
                        (
                            r.name.to_string(),
                            Kind::Directory,
                            (ino, r.name.into(), None),
                        )
                    })
                    .collect())
            }
            NodeM::RepoRoot { .. } => match self.model.root_commit(ino) {
                Err(e) => Err(e),
                Ok(None) => Ok(Vec::new()),
                Ok(Some(commit)) => {
                    let tree = self.model.world.commits[&commit].0.clone();
                    self.model.known_trees.insert(tree.clone());
                    Ok(self.entries(ino, &tree))
                }
            },
            NodeM::Content {
                mode: GitMode::Tree,
                sha,
                ..
            } => Ok(self.entries(ino, sha)),
            NodeM::Content {
                mode: GitMode::Gitlink,
                ..
            } => Ok(Vec::new()),
            NodeM::Content { .. } => Err(libc::ENOTDIR),
        };
        let want = match listing {
            Err(e) => return expect_eq(&got.map(|_| ()), &Err(e)),
            Ok(want) => want,
        };
        let got = got.map_err(|e| format!("readdir failed: {}", errno_name(e)))?;
        let dots: Vec<(&str, u64)> = got
            .iter()
            .take(2)
            .map(|e| (e.name.as_str(), e.ino))
            .collect();
        if dots != [(".", ino), ("..", handle.parent)] {
            return Err(format!(
                "`.` and `..` are {dots:?}, want [(\".\", {ino}), (\"..\", {})]",
                handle.parent
            ));
        }
        let mut got_names: Vec<(String, Kind)> =
            got[2..].iter().map(|e| (e.name.clone(), e.kind)).collect();
        let mut want_names: Vec<(String, Kind)> =
            want.iter().map(|(n, k, _)| (n.clone(), *k)).collect();
        got_names.sort_by(|a, b| a.0.cmp(&b.0));
        want_names.sort_by(|a, b| a.0.cmp(&b.0));
        if got_names != want_names {
            return Err(format!(
                "listing differs: got {got_names:?}, want {want_names:?}"
            ));
        }
        // readdir's d_ino is the inode a lookup gives.
        for (name, _, key) in want {
            let entry = got[2..].iter().find(|e| e.name == name).expect("listed");
            self.model.bind(key, entry.ino)?;
        }
        Ok(())
    }

    /// Waits until the background work an owner listing starts (resolving every repo's
    /// default branch) is over: a resolution begun before a move and joined by an
    /// operation after it would answer with the old commit.
    async fn quiesce(&self) {
        let started = Instant::now();
        let mut before = self.hub.stats().requests;
        while started.elapsed() < Duration::from_secs(5) {
            tokio::time::sleep(Duration::from_millis(25)).await;
            let now = self.hub.stats().requests;
            if now == before {
                return;
            }
            before = now;
        }
    }

    fn entries(&self, ino: u64, tree: &str) -> Vec<(String, Kind, Key)> {
        self.model
            .tree(tree)
            .iter()
            .map(|e| {
                (
                    e.name.clone(),
                    e.mode.kind(),
                    (ino, e.name.clone(), Some((e.sha.clone(), e.mode))),
                )
            })
            .collect()
    }

    async fn read(
        &mut self,
        ino: u64,
        offset: &Offset,
        size: u32,
        local: bool,
    ) -> Result<(), String> {
        let world = self.model.world;
        let content: Result<&[u8], i32> = match self.model.live.get(&ino).map(|h| &h.node) {
            None => Err(libc::ESTALE),
            Some(NodeM::Content { mode, sha, .. }) if mode.is_blob() => Ok(&world.blobs[sha]),
            Some(_) => Err(libc::EISDIR),
        };
        let len = content.as_ref().map_or(0, |c| c.len() as u64);
        let offset = match offset {
            Offset::Start => 0,
            Offset::Within(o) => o % len.max(1),
            Offset::AtEnd => len,
            Offset::PastEnd(o) => len + o,
        };
        let want = content.map(|c| {
            let start = (offset as usize).min(c.len());
            let end = start.saturating_add(size as usize).min(c.len());
            c[start..end].to_vec()
        });
        let got = if local {
            match self.core.read_local(ino, offset, size) {
                Some(r) => {
                    tally("read_local answered");
                    errno(r)
                }
                None => errno(self.core.read(ino, offset, size).await),
            }
        } else {
            errno(self.core.read(ino, offset, size).await)
        };
        self.log.push(format!("    read at {offset}, {size} bytes"));
        if let Ok(bytes) = &want {
            tally(if bytes.is_empty() {
                "read nothing"
            } else {
                "read bytes"
            });
        }
        expect_eq(&got, &want)
    }

    async fn readlink(&mut self, ino: u64) -> Result<(), String> {
        let want = match self.model.live.get(&ino).map(|h| &h.node) {
            None => Err(libc::ESTALE),
            Some(NodeM::Content {
                mode: GitMode::Link,
                sha,
                ..
            }) => Ok(self.model.world.blobs[sha].clone()),
            Some(_) => Err(libc::EINVAL),
        };
        let got = errno(self.core.readlink(ino).await);
        expect_eq(&got, &want)
    }

    async fn getxattr(&mut self, ino: u64, url: bool) -> Result<(), String> {
        let name = if url { XATTR_URL } else { XATTR_SHA };
        let got = errno(self.core.getxattr(ino, name).await);
        let node = match self.model.live.get(&ino) {
            None => return expect_eq(&got, &Err(libc::ESTALE)),
            Some(h) => h.node.clone(),
        };
        let world = self.model.world;
        let want = match node {
            NodeM::Root | NodeM::Owner => Err(libc::ENODATA),
            NodeM::RepoRoot { repo, .. } => {
                self.settle(ino)?;
                match self.model.root_commit(ino) {
                    Err(e) => Err(e),
                    Ok(None) => Err(libc::ENODATA),
                    Ok(Some(commit)) => {
                        let r = &world.repos[repo];
                        Ok(if url {
                            format!("{WEB_URL}/{}/{}/tree/{commit}", r.owner, r.name)
                        } else {
                            world.commits[&commit].0.clone()
                        })
                    }
                }
            }
            NodeM::Content {
                repo,
                context,
                path,
                mode,
                sha,
                ..
            } => {
                let r = &world.repos[repo];
                let kind = if mode.is_blob() { "blob" } else { "tree" };
                Ok(if url {
                    format!("{WEB_URL}/{}/{}/{kind}/{context}/{path}", r.owner, r.name)
                } else {
                    sha
                })
            }
        };
        expect_eq(&got, &want.map(String::into_bytes))
    }

    fn forget(&mut self, ino: u64, n: u64) {
        self.core.forget(ino, n);
        self.model.forget(ino, n);
    }

    fn move_ref(&mut self, reference: usize, commit: usize) -> Result<(), String> {
        let movable = self.movable();
        let (repo, refname) = &movable[reference % movable.len()];
        let repo = *repo;
        let r = &self.model.world.repos[repo];
        let target = r.commits[commit % r.commits.len()].clone();
        git(&r.git_dir, &["update-ref", refname, &target]);
        self.log
            .push(format!("    {}/{} {refname} -> {target}", r.owner, r.name));
        self.model.refs[repo].insert(refname.clone(), target);
        self.model.ref_changed();
        Ok(())
    }

    /// The core is told `reference` moved: roots of the repository showing it or the
    /// default branch re-resolve now (TTL or not), and the ref and the default branch
    /// are polled at their next resolution.
    async fn push(&mut self, reference: usize) -> Result<(), String> {
        let movable = self.movable();
        let (repo, refname) = movable[reference % movable.len()].clone();
        let short = refname
            .trim_start_matches("refs/heads/")
            .trim_start_matches("refs/tags/")
            .to_string();
        let r = &self.model.world.repos[repo];
        self.log
            .push(format!("push {}/{} {short}", r.owner, r.name));
        let refreshed = self.core.ref_pushed(r.owner, r.name, &short).await;
        self.model.fixed.remove(&(repo, short.clone()));
        self.model.fixed.remove(&(repo, "HEAD".to_string()));
        let affected: Vec<u64> = self
            .model
            .live
            .iter()
            .filter(|(_, h)| match &h.node {
                NodeM::RepoRoot {
                    repo: of,
                    reference,
                    ..
                } => *of == repo && reference.as_deref().is_none_or(|x| x == short),
                _ => false,
            })
            .map(|(i, _)| *i)
            .collect();
        for ino in &affected {
            self.model.root_commit(*ino).map_err(errno_name)?;
        }
        if refreshed != affected.len() {
            return Err(format!(
                "ref_pushed re-resolved {refreshed} roots, want {}",
                affected.len()
            ));
        }
        tally(format!(
            "a push re-resolved {} roots",
            affected.len().min(2)
        ));
        Ok(())
    }

    fn movable(&self) -> Vec<(usize, String)> {
        self.model
            .world
            .repos
            .iter()
            .enumerate()
            .flat_map(|(i, r)| r.movable.iter().map(move |m| (i, m.clone())))
            .collect()
    }

    fn set_head(&mut self, branch: usize) {
        let r = &self.model.world.repos[0];
        let branch = r.heads[branch % r.heads.len()].clone();
        repo::open(&self.model.world.root, r.owner, r.name)
            .unwrap()
            .set_default_branch(&branch)
            .unwrap();
        self.log
            .push(format!("    {}/{} HEAD -> {branch}", r.owner, r.name));
        self.model.heads[0] = branch;
        self.model.ref_changed();
    }

    /// Runs one operation and compares it and the invalidations it caused with the model.
    async fn step(&mut self, op: &Op) -> Result<(), String> {
        self.model.expected_invalidations.clear();
        let is_dir = |n: &NodeM| match n {
            NodeM::Content { mode, .. } => matches!(mode, GitMode::Tree | GitMode::Gitlink),
            _ => true,
        };
        let is_blob = |n: &NodeM| matches!(n, NodeM::Content { mode, .. } if mode.is_blob());
        let described = match op {
            Op::Lookup {
                parent,
                any,
                existing,
                name,
                local,
            } => {
                let parent = self.pick(*parent, is_dir, *any);
                let name = self.lookup_name(parent, *existing, *name);
                self.log.push(format!(
                    "lookup({}, {name:?}){}",
                    self.describe(parent),
                    if *local { " local" } else { "" }
                ));
                self.lookup(parent, &name, *local).await
            }
            Op::Readdir { dir, any, local } => {
                let dir = self.pick(*dir, is_dir, *any);
                self.log.push(format!("readdir({})", self.describe(dir)));
                self.readdir(dir, *local).await
            }
            Op::Read {
                file,
                any,
                offset,
                size,
                local,
            } => {
                let file = self.pick(*file, is_blob, *any);
                self.log.push(format!("read({})", self.describe(file)));
                self.read(file, offset, *size, *local).await
            }
            Op::Getattr { node, local } => {
                let node = self.pick(*node, |_| true, true);
                self.log.push(format!("getattr({})", self.describe(node)));
                self.getattr(node, *local).await
            }
            Op::Readlink { node } => {
                let node = self.pick(
                    *node,
                    |n| {
                        matches!(
                            n,
                            NodeM::Content {
                                mode: GitMode::Link,
                                ..
                            }
                        )
                    },
                    false,
                );
                self.log.push(format!("readlink({})", self.describe(node)));
                self.readlink(node).await
            }
            Op::Getxattr { node, url } => {
                let node = self.pick(*node, |_| true, true);
                self.log
                    .push(format!("getxattr({}, url: {url})", self.describe(node)));
                self.getxattr(node, *url).await
            }
            Op::Forget { node, n, all } => {
                let held: Vec<u64> = self
                    .model
                    .live
                    .keys()
                    .copied()
                    .filter(|i| *i != ROOT_INO)
                    .collect();
                if held.is_empty() {
                    return Ok(());
                }
                let ino = held[*node % held.len()];
                let count = self.model.live[&ino].lookups;
                let n = if *all { count } else { (*n).min(count) };
                self.log
                    .push(format!("forget({}, {n})", self.describe(ino)));
                self.forget(ino, n);
                Ok(())
            }
            Op::Stale { node, what } => {
                let gone: Vec<u64> = self
                    .model
                    .seen
                    .iter()
                    .copied()
                    .filter(|i| !self.model.live.contains_key(i))
                    .collect();
                if gone.is_empty() {
                    return Ok(());
                }
                let ino = gone[*node % gone.len()];
                self.log.push(format!("stale op {what} on inode {ino}"));
                match what {
                    0 => self.getattr(ino, true).await,
                    1 => self.readdir(ino, true).await,
                    2 => self.read(ino, &Offset::Start, 10, true).await,
                    _ => self.lookup(ino, "README.md", true).await,
                }
            }
            Op::Walk {
                owner,
                repo,
                path,
                local,
            } => self.walk(*owner, *repo, *path, *local).await,
            Op::Move { reference, commit } => {
                self.log.push("move".into());
                self.move_ref(*reference, *commit)
            }
            Op::Push { reference } => self.push(*reference).await,
            Op::SetHead { branch } => {
                self.log.push("set default branch".into());
                self.set_head(*branch);
                Ok(())
            }
        };
        described?;
        let mut sent: Vec<Invalidation> = std::mem::take(&mut *self.sent.lock().unwrap());
        let mut want = std::mem::take(&mut self.model.expected_invalidations);
        let order = |v: &mut Vec<Invalidation>| {
            v.sort_by_key(|i| format!("{i:?}"));
            v.dedup();
        };
        order(&mut sent);
        order(&mut want);
        if sent != want {
            return Err(format!("invalidations: sent {sent:?}, want {want:?}"));
        }
        if !sent.is_empty() {
            tally("a moved branch invalidated its root");
        }
        Ok(())
    }

    async fn walk(
        &mut self,
        owner: usize,
        repo: usize,
        path: usize,
        local: bool,
    ) -> Result<(), String> {
        let world = self.model.world;
        let login = ["acme", "bob"][owner % 2];
        let names = &world.repo_names[login];
        let name = names[repo % names.len()].clone();
        self.log.push(format!("walk /{login}/{name}"));
        self.model.last_held = None;
        self.lookup(ROOT_INO, login, local).await?;
        let Some(owner_ino) = self.model.last_held.take() else {
            return Ok(());
        };
        self.lookup(owner_ino, &name, local).await?;
        let Some(mut dir) = self.model.last_held.take() else {
            return Ok(());
        };
        let Some(NodeM::RepoRoot {
            repo, reference, ..
        }) = self.model.live.get(&dir).map(|h| h.node.clone())
        else {
            return Ok(());
        };
        let Some(commit) = self.model.peek(repo, reference.as_deref()) else {
            return Ok(());
        };
        let mut paths = Vec::new();
        all_paths(
            world,
            &world.commits[&commit].0,
            &mut Vec::new(),
            &mut paths,
        );
        paths.push(vec!["nope".into()]);
        for component in &paths[path % paths.len()] {
            self.log.push(format!(
                "  lookup({}, {component:?}){}",
                self.describe(dir),
                if local { " local" } else { "" }
            ));
            self.lookup(dir, component, local).await?;
            let Some(next) = self.model.last_held.take() else {
                return Ok(());
            };
            dir = next;
        }
        Ok(())
    }

    fn describe(&self, ino: u64) -> String {
        match self.model.inos.get(&ino) {
            _ if ino == ROOT_INO => "/".into(),
            Some((parent, name, _)) => {
                format!("{}/{name}", self.describe(*parent).trim_end_matches('/'))
            }
            None => format!("inode {ino}"),
        }
    }

    fn lookup_name(&mut self, parent: u64, existing: bool, idx: usize) -> String {
        let world = self.model.world;
        let pool: Vec<String> = match self.model.live.get(&parent).map(|h| h.node.clone()) {
            Some(NodeM::Root) => world.owner_names.clone(),
            Some(NodeM::Owner) => world.repo_names[&self.model.inos[&parent].1].clone(),
            Some(NodeM::RepoRoot {
                repo, reference, ..
            }) if existing => self
                .model
                .peek(repo, reference.as_deref())
                .map(|c| {
                    self.model
                        .tree(&world.commits[&c].0)
                        .iter()
                        .map(|e| e.name.clone())
                        .collect()
                })
                .unwrap_or_default(),
            Some(NodeM::Content {
                mode: GitMode::Tree,
                sha,
                ..
            }) if existing => self
                .model
                .tree(&sha)
                .iter()
                .map(|e| e.name.clone())
                .collect(),
            _ => Vec::new(),
        };
        let pool = if pool.is_empty() {
            &world.entry_names
        } else {
            &pool
        };
        pool[idx % pool.len()].clone()
    }
}

/// How often each outcome was checked, over every case: printed at the end, so a
/// strategy that stops reaching something shows.
static TALLY: Mutex<BTreeMap<String, u64>> = Mutex::new(BTreeMap::new());

fn tally(what: impl Into<String>) {
    *TALLY.lock().unwrap().entry(what.into()).or_default() += 1;
}

/// Every path in `tree`, directories included.
fn all_paths(world: &World, tree: &str, prefix: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    for entry in &world.trees[tree] {
        prefix.push(entry.name.clone());
        out.push(prefix.clone());
        if entry.mode == GitMode::Tree {
            all_paths(world, &entry.sha, prefix, out);
        }
        prefix.pop();
    }
}

fn expect_eq<T: std::fmt::Debug + PartialEq>(
    got: &Result<T, i32>,
    want: &Result<T, i32>,
) -> Result<(), String> {
    if got == want {
        if let Err(e) = want {
            tally(errno_name(*e));
        }
        Ok(())
    } else {
        Err(format!("got {}, want {}", show(got), show(want)))
    }
}

// ---------------------------------------------------------------------------------------
// The runner.

struct Fixture {
    hub: Hub,
    world: World,
    rt: tokio::runtime::Runtime,
}

fn fixture() -> Fixture {
    let hub = Hub::new();
    hub.hub.set_rate_limit(u32::MAX, Duration::from_secs(3600));
    build_repos(hub.path());
    let world = read_world(hub.path());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    Fixture { hub, world, rt }
}

/// Puts every ref back where it was built.
fn reset_refs(world: &World) {
    for r in &world.repos {
        if r.empty {
            continue;
        }
        let mut updates = String::new();
        for (name, sha) in &r.initial_refs {
            if r.movable.contains(name) {
                updates.push_str(&format!("update {name} {sha}\n"));
            }
        }
        if !updates.is_empty() {
            let mut child = Command::new("git")
                .arg("--git-dir")
                .arg(&r.git_dir)
                .args(["update-ref", "--stdin"])
                .stdin(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            use std::io::Write;
            child
                .stdin
                .take()
                .unwrap()
                .write_all(updates.as_bytes())
                .unwrap();
            assert!(child.wait().unwrap().success());
        }
        if !r.heads.is_empty() {
            git(
                &r.git_dir,
                &[
                    "symbolic-ref",
                    "HEAD",
                    &format!("refs/heads/{}", r.initial_head),
                ],
            );
        }
    }
}

async fn run_case(fx: &Fixture, ttl: Ttl, ops: &[Op]) -> Result<(), String> {
    reset_refs(&fx.world);
    let ref_ttl = match ttl {
        Ttl::Zero => Duration::ZERO,
        Ttl::Sticky => STICKY_TTL,
    };
    let (settings, _cache) = fx.hub.settings(Some(TEST_TOKEN));
    let store = Arc::new(Store::open(&settings.cache_dir).map_err(|e| e.to_string())?);
    let cache: Arc<dyn ResponseCache> = Arc::new(IndexCache(Arc::clone(&store)));
    let client: Arc<dyn GitHubClient> =
        Arc::new(HttpClient::new(&settings, Some(cache)).map_err(|e| e.to_string())?);
    let ns = Arc::new(Namespace::new(client, store, ref_ttl));
    let sent = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&sent);
    let core = FsCore::new(
        ns,
        FsOptions {
            owners: Vec::new(),
            ref_ttl,
            hydrate_threshold: 0,
            uid: UID,
            gid: GID,
            web_url: WEB_URL.into(),
            view: None,
            passthrough: false,
            changes: None,
        },
        Box::new(move |i| sink.lock().unwrap().push(i)),
    );
    let mut case = Case {
        hub: &fx.hub.hub,
        core,
        model: Model::new(&fx.world, ttl),
        sent,
        log: Vec::new(),
    };
    for (i, op) in ops.iter().enumerate() {
        if let Err(why) = case.step(op).await {
            return Err(format!(
                "operation {i} failed: {why}\nsequence:\n  {}",
                case.log.join("\n  ")
            ));
        }
    }
    Ok(())
}

fn runner() -> TestRunner {
    let mut config = Config {
        failure_persistence: None,
        max_shrink_iters: 2000,
        ..Config::default()
    };
    if std::env::var_os("PROPTEST_CASES").is_none() {
        config.cases = DEFAULT_CASES;
    }
    TestRunner::new(config)
}

fn check(ttl: Ttl) {
    let fx = fixture();
    let started = Instant::now();
    let mut runner = runner();
    let cases = runner.config().cases;
    let result = runner.run(&prop::collection::vec(op_strategy(), 1..MAX_OPS), |ops| {
        fx.rt
            .block_on(run_case(&fx, ttl, &ops))
            .map_err(TestCaseError::fail)
    });
    eprintln!("{ttl:?}: {cases} cases in {:.1?}", started.elapsed());
    for (what, n) in TALLY.lock().unwrap().iter() {
        eprintln!("  {n:>6}  {what}");
    }
    if let Err(e) = result {
        panic!("{e}");
    }
}

#[test]
fn core_agrees_with_the_model_when_refs_are_always_re_resolved() {
    check(Ttl::Zero);
}

#[test]
fn core_agrees_with_the_model_when_refs_never_expire() {
    check(Ttl::Sticky);
}
