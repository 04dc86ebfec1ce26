//! The write property: a working copy (the repo root `/acme/work` of a writable core)
//! against a model of its tree, `path -> entry` (a file with its bytes and mode bits, a
//! symlink with its target, a directory, a submodule), with the kernel's references
//! (which inode the kernel holds for which node of the model, and how many times).
//! See the top of `fs_model.rs` for what is checked.

use super::*;
use heimdall::changes::{DISCARD_BATCH, Entry, FileBytes, Layer, LocalKind, ROOT};
use heimdall::fs::{ChangesOptions, PlusEntry, Scope, SetAttr};

const OWNER: &str = "acme";
const REPO: &str = "work";
const UMASK: u32 = 0o022;
/// Longest operation sequence of one case.
const MAX_WRITE_OPS: usize = 80;
/// A full walk of the working copy after every this many operations (and at the end).
const WALK_EVERY: usize = 10;
const RENAME_NOREPLACE: u32 = 1;
const RENAME_EXCHANGE: u32 = 2;
/// Past the end of a file by this much: more than one 64 KiB read.
const FAR: u64 = 70_000;
/// Names created beside the commit's own.
const NEW_NAMES: &[&str] = &["new.txt", "n", "naïve.md", "two words", ".hidden", "x.rs"];

// ---------------------------------------------------------------------------------------
// The repository.

fn build_work_repo(root: &Path) -> String {
    let mut r = repo::create(root, OWNER, REPO).unwrap();
    r.write("README.md", "hello\n")
        // Same blob, same directory: two names with one identity apart from the name.
        .write("twin.txt", "hello\n")
        .empty_file("empty.txt")
        .executable("run.sh", "#!/bin/sh\necho hi\n")
        .symlink("link", "README.md")
        .symlink("dangling", "nowhere/at/all")
        .large_file("big.bin", FAR, 7)
        .write("café.md", "unicode\n")
        .write("with space.txt", "spaces\n")
        .write("src/lib.rs", "pub fn f() {}\n")
        .write("src/util/mod.rs", "mod x;\n")
        .write("src/util/deep/leaf.txt", "leaf\n")
        .symlink("src/up", "../README.md")
        // Two directories with the same tree in one directory.
        .write("twins/a/f.txt", "same\n")
        .write("twins/b/f.txt", "same\n")
        .executable("tools/bin/tool.sh", "#!/bin/sh\n")
        .submodule("vendor/lib", "https://example.com/lib.git", &"7".repeat(40));
    r.commit("work").unwrap()
}

// ---------------------------------------------------------------------------------------
// The model.

/// A node of the model (an index into [`MTree::slots`]).
type MId = usize;
const ROOT_MID: MId = 0;

#[derive(Debug, Clone)]
enum MNode {
    File {
        data: Vec<u8>,
        perm: u16,
    },
    Link(Vec<u8>),
    Dir {
        perm: u16,
        children: BTreeMap<String, MId>,
    },
    Gitlink,
}

#[derive(Debug, Clone)]
struct Slot {
    node: MNode,
    /// The directory it is in, or was in when it was removed (the kernel's parent of an
    /// open file that was unlinked).
    parent: MId,
    name: String,
    /// Whether a name in the working copy leads to it.
    linked: bool,
    /// The commit's object this node still is (`<mode> <sha>`), as far as the model knows:
    /// `None` for a node made here or a file written or chmodded since (copied up).
    origin: Option<String>,
}

#[derive(Debug, Clone)]
struct MTree {
    slots: Vec<Slot>,
}

impl MTree {
    fn from_commit(git_dir: &Path, tree: &str) -> MTree {
        let mut t = MTree {
            slots: vec![Slot {
                node: MNode::Dir {
                    perm: 0o755,
                    children: BTreeMap::new(),
                },
                parent: ROOT_MID,
                name: String::new(),
                linked: true,
                origin: None,
            }],
        };
        t.fill(git_dir, tree, ROOT_MID);
        t
    }

    fn fill(&mut self, git_dir: &Path, tree: &str, dir: MId) {
        let out = git(git_dir, &["ls-tree", "-z", "-l", tree]);
        for record in out.split(|b| *b == 0).filter(|r| !r.is_empty()) {
            let record = String::from_utf8(record.to_vec()).unwrap();
            let (meta, name) = record.split_once('\t').unwrap();
            let fields: Vec<&str> = meta.split_whitespace().collect();
            let sha = fields[2];
            let blob = || git(git_dir, &["cat-file", "blob", sha]);
            let node = match GitMode::parse(fields[0]) {
                GitMode::File => MNode::File {
                    data: blob(),
                    perm: 0o644,
                },
                GitMode::Exec => MNode::File {
                    data: blob(),
                    perm: 0o755,
                },
                GitMode::Link => MNode::Link(blob()),
                GitMode::Tree => MNode::Dir {
                    perm: 0o755,
                    children: BTreeMap::new(),
                },
                GitMode::Gitlink => MNode::Gitlink,
            };
            let id = self.add(dir, name, node, Some(meta.to_string()));
            if let MNode::Dir { .. } = self.slots[id].node {
                self.fill(git_dir, sha, id);
            }
        }
    }

    fn slot(&self, m: MId) -> &Slot {
        &self.slots[m]
    }

    fn children(&self, dir: MId) -> Vec<(String, MId)> {
        match &self.slots[dir].node {
            MNode::Dir { children, .. } => children.iter().map(|(n, m)| (n.clone(), *m)).collect(),
            _ => Vec::new(),
        }
    }

    fn child(&self, dir: MId, name: &str) -> Option<MId> {
        match &self.slots[dir].node {
            MNode::Dir { children, .. } => children.get(name).copied(),
            _ => None,
        }
    }

    fn is_dir(&self, m: MId) -> bool {
        matches!(self.slots[m].node, MNode::Dir { .. } | MNode::Gitlink)
    }

    fn is_empty_dir(&self, m: MId) -> bool {
        match &self.slots[m].node {
            MNode::Dir { children, .. } => children.is_empty(),
            MNode::Gitlink => true,
            _ => false,
        }
    }

    fn children_mut(&mut self, dir: MId) -> &mut BTreeMap<String, MId> {
        match &mut self.slots[dir].node {
            MNode::Dir { children, .. } => children,
            other => panic!("not a directory: {other:?}"),
        }
    }

    fn add(&mut self, dir: MId, name: &str, node: MNode, origin: Option<String>) -> MId {
        let id = self.slots.len();
        self.slots.push(Slot {
            node,
            parent: dir,
            name: name.to_string(),
            linked: true,
            origin,
        });
        self.children_mut(dir).insert(name.to_string(), id);
        id
    }

    /// Removes `name` from `dir`; its node lives on unlinked (while the kernel holds it).
    fn detach(&mut self, dir: MId, name: &str) -> MId {
        let id = self.children_mut(dir).remove(name).expect("present");
        self.slots[id].linked = false;
        id
    }

    fn attach(&mut self, dir: MId, name: &str, id: MId) {
        self.children_mut(dir).insert(name.to_string(), id);
        let slot = &mut self.slots[id];
        slot.parent = dir;
        slot.name = name.to_string();
        slot.linked = true;
    }

    /// Whether `a` is `b` or one of its ancestors.
    fn is_ancestor_or_self(&self, a: MId, b: MId) -> bool {
        let mut at = b;
        loop {
            if at == a {
                return true;
            }
            if at == ROOT_MID || !self.slots[at].linked {
                return false;
            }
            at = self.slots[at].parent;
        }
    }

    fn path(&self, m: MId) -> String {
        if m == ROOT_MID {
            return "/".into();
        }
        let slot = &self.slots[m];
        let parent = self.path(slot.parent);
        let path = format!("{}/{}", parent.trim_end_matches('/'), slot.name);
        if slot.linked {
            path
        } else {
            format!("{path} (removed)")
        }
    }

    /// The names from the root to linked node `m`.
    fn components(&self, m: MId) -> Vec<String> {
        let mut out = Vec::new();
        let mut at = m;
        while at != ROOT_MID {
            out.push(self.slots[at].name.clone());
            at = self.slots[at].parent;
        }
        out.reverse();
        out
    }

    /// Every linked node but the root, depth first.
    fn linked(&self) -> Vec<MId> {
        let mut out = Vec::new();
        let mut stack = vec![ROOT_MID];
        while let Some(dir) = stack.pop() {
            for (_, m) in self.children(dir) {
                out.push(m);
                if self.is_dir(m) {
                    stack.push(m);
                }
            }
        }
        out
    }

    /// Every name of the tree.
    fn names(&self) -> BTreeSet<String> {
        self.slots.iter().skip(1).map(|s| s.name.clone()).collect()
    }
}

/// What a node's attributes must be.
struct WantW {
    kind: Kind,
    size: u64,
    perm: u16,
    /// One of these.
    nlink: Vec<u32>,
}

// ---------------------------------------------------------------------------------------
// Operations.

#[derive(Debug, Clone)]
enum NameChoice {
    /// A name the directory has (a pool name when it has none).
    Existing(usize),
    /// A name of the pool (the commit's names and a few new ones: it may exist).
    Pool(usize),
    /// 255 bytes (valid), 256 or 1000 (EINVAL).
    Long(usize),
}

#[derive(Debug, Clone)]
enum WOp {
    Lookup {
        dir: usize,
        name: NameChoice,
        local: bool,
    },
    /// Looks up every component of a path of the model from the root (or a missing name).
    Go {
        path: usize,
        missing: bool,
        local: bool,
    },
    Readdir {
        dir: usize,
        local: bool,
    },
    /// READDIRPLUS with room for `room` entries (the next one is refused, as by a full
    /// reply).
    ReaddirPlus {
        dir: usize,
        local: bool,
        room: usize,
    },
    Read {
        file: usize,
        offset: Offset,
        size: u32,
        local: bool,
    },
    Readlink {
        link: usize,
    },
    Getattr {
        node: usize,
        local: bool,
    },
    Create {
        dir: usize,
        name: NameChoice,
        mode: u32,
    },
    Mkdir {
        dir: usize,
        name: NameChoice,
        mode: u32,
    },
    Symlink {
        dir: usize,
        name: NameChoice,
        target: usize,
    },
    Write {
        file: usize,
        offset: Offset,
        len: usize,
        seed: u8,
        local: bool,
    },
    Truncate {
        file: usize,
        size: Offset,
    },
    Chmod {
        node: usize,
        mode: u32,
    },
    Unlink {
        dir: usize,
        name: usize,
    },
    Rmdir {
        dir: usize,
        name: usize,
    },
    Rename {
        from: usize,
        name: usize,
        to: usize,
        new_name: NameChoice,
        flags: u32,
    },
    Forget {
        node: usize,
        n: u64,
        all: bool,
    },
    /// A full walk of the working copy.
    Walk,
}

fn name_strategy() -> impl Strategy<Value = NameChoice> {
    prop_oneof![
        5 => (0usize..1000).prop_map(NameChoice::Existing),
        5 => (0usize..1000).prop_map(NameChoice::Pool),
        1 => (0usize..3).prop_map(NameChoice::Long),
    ]
}

fn wop_strategy() -> impl Strategy<Value = WOp> {
    let idx = || 0usize..1000;
    let offset = || {
        prop_oneof![
            Just(Offset::Start),
            (0u64..200).prop_map(Offset::Within),
            Just(Offset::AtEnd),
            prop_oneof![4 => 1u64..10, 1 => Just(FAR)].prop_map(Offset::PastEnd),
        ]
    };
    let len = prop_oneof![8 => 1usize..64, 2 => 1usize..5000, 1 => Just(FAR as usize)];
    let file_mode = prop_oneof![
        Just(0o100644u32),
        Just(0o100755),
        Just(0o100600),
        Just(0o100777)
    ];
    let dir_mode = prop_oneof![Just(0o755u32), Just(0o700), Just(0o777)];
    let chmod = prop_oneof![
        Just(0o100644u32),
        Just(0o100755),
        Just(0o100600),
        Just(0o100700)
    ];
    let flags =
        prop_oneof![3 => Just(0u32), 1 => Just(RENAME_NOREPLACE), 2 => Just(RENAME_EXCHANGE)];
    prop_oneof![
        6 => (idx(), name_strategy(), any::<bool>())
            .prop_map(|(dir, name, local)| WOp::Lookup { dir, name, local }),
        4 => (idx(), prop::bool::weighted(0.1), any::<bool>())
            .prop_map(|(path, missing, local)| WOp::Go { path, missing, local }),
        3 => (idx(), any::<bool>()).prop_map(|(dir, local)| WOp::Readdir { dir, local }),
        3 => (idx(), any::<bool>(), prop_oneof![Just(usize::MAX), 0usize..6])
            .prop_map(|(dir, local, room)| WOp::ReaddirPlus { dir, local, room }),
        4 => (idx(), offset(), prop_oneof![0u32..16, 1u32..8192, Just(131_072u32)], any::<bool>())
            .prop_map(|(file, offset, size, local)| WOp::Read { file, offset, size, local }),
        2 => idx().prop_map(|link| WOp::Readlink { link }),
        3 => (idx(), any::<bool>()).prop_map(|(node, local)| WOp::Getattr { node, local }),
        4 => (idx(), name_strategy(), file_mode)
            .prop_map(|(dir, name, mode)| WOp::Create { dir, name, mode }),
        2 => (idx(), name_strategy(), dir_mode)
            .prop_map(|(dir, name, mode)| WOp::Mkdir { dir, name, mode }),
        2 => (idx(), name_strategy(), idx())
            .prop_map(|(dir, name, target)| WOp::Symlink { dir, name, target }),
        7 => (idx(), offset(), len, any::<u8>(), any::<bool>())
            .prop_map(|(file, offset, len, seed, local)| WOp::Write { file, offset, len, seed, local }),
        3 => (idx(), offset()).prop_map(|(file, size)| WOp::Truncate { file, size }),
        2 => (idx(), chmod).prop_map(|(node, mode)| WOp::Chmod { node, mode }),
        3 => (idx(), idx()).prop_map(|(dir, name)| WOp::Unlink { dir, name }),
        2 => (idx(), idx()).prop_map(|(dir, name)| WOp::Rmdir { dir, name }),
        6 => (idx(), idx(), idx(), name_strategy(), flags)
            .prop_map(|(from, name, to, new_name, flags)| WOp::Rename { from, name, to, new_name, flags }),
        3 => (idx(), 1u64..4, prop::bool::weighted(0.4))
            .prop_map(|(node, n, all)| WOp::Forget { node, n, all }),
        1 => Just(WOp::Walk),
    ]
}

fn long_name(which: usize) -> String {
    match which % 3 {
        0 => "a".repeat(255),
        1 => "b".repeat(256),
        _ => "c".repeat(1000),
    }
}

fn link_target(which: usize) -> Vec<u8> {
    match which % 5 {
        0 => b"README.md".to_vec(),
        1 => b"../up/there".to_vec(),
        2 => b"/an/absolute/path".to_vec(),
        3 => "dir/é/".as_bytes().to_vec(),
        _ => vec![b't'; 4095],
    }
}

fn bytes(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| seed.wrapping_add((i % 251) as u8).wrapping_mul(3) | 1)
        .collect()
}

/// How often each outcome was checked, over every case of the write property.
static WTALLY: Mutex<BTreeMap<String, u64>> = Mutex::new(BTreeMap::new());

fn wtally(what: impl Into<String>) {
    *WTALLY.lock().unwrap().entry(what.into()).or_default() += 1;
}

fn expect<T: std::fmt::Debug + PartialEq>(
    got: &Result<T, i32>,
    want: &Result<T, i32>,
) -> Result<(), String> {
    if got == want {
        if let Err(e) = want {
            wtally(errno_name(*e));
        }
        Ok(())
    } else {
        Err(format!("got {}, want {}", show(got), show(want)))
    }
}

// ---------------------------------------------------------------------------------------
// The harness.

#[derive(Debug)]
struct Held {
    mid: MId,
    lookups: u64,
}

struct WCase<'f> {
    core: FsCore,
    tree: MTree,
    pool: &'f [String],
    /// Inodes the kernel holds in the working copy, and which node each is.
    held: BTreeMap<u64, Held>,
    ino_of: HashMap<MId, u64>,
    /// Inodes in the order they were first held (for picking).
    seen: Vec<u64>,
    owner: u64,
    root: u64,
    /// A change was sent to the core (its layer may exist).
    layer_maybe: bool,
    /// A change succeeded (its layer exists and holds the root).
    changed: bool,
    /// The root's tree was fetched (until then the root shows 2 links, as documented).
    root_known: bool,
    log: Vec<String>,
}

impl WCase<'_> {
    fn mid(&self, ino: u64) -> MId {
        self.held[&ino].mid
    }

    fn slot_of(&self, ino: u64) -> &Slot {
        self.tree.slot(self.mid(ino))
    }

    fn describe(&self, ino: u64) -> String {
        self.tree.path(self.mid(ino))
    }

    /// The kernel's parent of node `m` (the owner for the root).
    fn parent_ino(&self, m: MId) -> Result<u64, String> {
        if m == ROOT_MID {
            return Ok(self.owner);
        }
        let parent = self.tree.slot(m).parent;
        self.ino_of
            .get(&parent)
            .copied()
            .ok_or_else(|| format!("the parent of {} is not held", self.tree.path(m)))
    }

    fn has_held_children(&self, m: MId) -> bool {
        self.held
            .values()
            .any(|h| h.mid != ROOT_MID && h.mid != m && self.tree.slot(h.mid).parent == m)
    }

    /// A held inode whose node passes `filter`, the most recently held more often.
    fn pick(&self, idx: usize, filter: impl Fn(&Slot) -> bool) -> Option<u64> {
        let from: Vec<u64> = self
            .seen
            .iter()
            .copied()
            .filter(|i| {
                self.held
                    .get(i)
                    .is_some_and(|h| filter(self.tree.slot(h.mid)))
            })
            .collect();
        if from.is_empty() {
            return None;
        }
        Some(if idx.is_multiple_of(2) {
            from[from.len() - 1 - (idx / 2) % from.len().min(3)]
        } else {
            from[idx % from.len()]
        })
    }

    fn pick_dir(&self, idx: usize) -> Option<u64> {
        self.pick(idx, |s| {
            s.linked && matches!(s.node, MNode::Dir { .. } | MNode::Gitlink)
        })
    }

    /// A held directory with something in it.
    fn pick_full_dir(&self, idx: usize) -> Option<u64> {
        self.pick(
            idx,
            |s| matches!(&s.node, MNode::Dir { children, .. } if s.linked && !children.is_empty()),
        )
    }

    /// A held file, linked or not (an open file that was removed).
    fn pick_file(&self, idx: usize) -> Option<u64> {
        self.pick(idx, |s| matches!(s.node, MNode::File { .. }))
    }

    /// A held file to write to.
    fn pick_writable_file(&self, idx: usize) -> Option<u64> {
        self.pick(idx, |s| matches!(s.node, MNode::File { .. }))
    }

    fn name_for(&self, dir: MId, choice: &NameChoice) -> String {
        match choice {
            NameChoice::Existing(i) => {
                let names = self.tree.children(dir);
                if names.is_empty() {
                    self.pool[i % self.pool.len()].clone()
                } else {
                    names[i % names.len()].0.clone()
                }
            }
            NameChoice::Pool(i) => self.pool[i % self.pool.len()].clone(),
            NameChoice::Long(i) => long_name(*i),
        }
    }

    fn root_ttls(&self) -> Vec<Duration> {
        if !self.layer_maybe {
            vec![MUTABLE_TTL]
        } else if self.changed {
            vec![IMMUTABLE_TTL]
        } else {
            vec![MUTABLE_TTL, IMMUTABLE_TTL]
        }
    }

    fn want(&self, m: MId) -> WantW {
        let slot = self.tree.slot(m);
        match &slot.node {
            // A file removed while held has no links left, as on any filesystem.
            MNode::File { data, perm } => WantW {
                kind: Kind::File,
                size: data.len() as u64,
                perm: *perm,
                nlink: vec![u32::from(slot.linked)],
            },
            MNode::Link(target) => WantW {
                kind: Kind::Symlink,
                size: target.len() as u64,
                perm: 0o777,
                nlink: vec![1],
            },
            MNode::Dir { perm, children } => {
                let dirs = children
                    .values()
                    .filter(|c| matches!(self.tree.slot(**c).node, MNode::Dir { .. }))
                    .count() as u32;
                let gitlinks = children
                    .values()
                    .filter(|c| matches!(self.tree.slot(**c).node, MNode::Gitlink))
                    .count() as u32;
                // A tree of the commit counts its subtrees only, a materialized directory
                // its submodules too: either is accepted where there is a submodule.
                let mut nlink = vec![2 + dirs];
                if gitlinks > 0 {
                    nlink.push(2 + dirs + gitlinks);
                }
                if m == ROOT_MID && !self.root_known && !self.changed {
                    nlink.push(2);
                }
                WantW {
                    kind: Kind::Directory,
                    size: 4096,
                    perm: *perm,
                    nlink,
                }
            }
            MNode::Gitlink => WantW {
                kind: Kind::Directory,
                size: 4096,
                perm: 0o755,
                nlink: vec![2],
            },
        }
    }

    fn check_attr(
        &self,
        attr: &Attr,
        ttl: Duration,
        m: MId,
        ttls: &[Duration],
    ) -> Result<(), String> {
        let want = self.want(m);
        let ok = attr.kind == want.kind
            && attr.size == want.size
            && attr.perm == want.perm
            && want.nlink.contains(&attr.nlink)
            && attr.uid == UID
            && attr.gid == GID
            && ttls.contains(&ttl);
        if ok {
            wtally(format!("attributes of a {:?}", want.kind));
            Ok(())
        } else {
            Err(format!(
                "attributes of {} differ: got {:?} {:o} nlink {} size {} ttl {ttl:?}; want {:?} {:o} nlink {:?} size {} ttl {ttls:?}",
                self.tree.path(m),
                attr.kind,
                attr.perm,
                attr.nlink,
                attr.size,
                want.kind,
                want.perm,
                want.nlink,
                want.size
            ))
        }
    }

    /// One more kernel reference to `ino`, which is node `m`: a held node keeps its inode
    /// (across a copy-up, a materialization and a rename), and two nodes never share one.
    fn hold(&mut self, ino: u64, m: MId) -> Result<(), String> {
        if ino == ROOT_INO || ino == self.owner {
            return Err(format!("{} got inode {ino}", self.tree.path(m)));
        }
        if let Some(h) = self.held.get(&ino)
            && h.mid != m
        {
            return Err(format!(
                "inode {ino} is both {} and {}",
                self.tree.path(h.mid),
                self.tree.path(m)
            ));
        }
        if let Some(&known) = self.ino_of.get(&m)
            && known != ino
        {
            return Err(format!(
                "{} is held as inode {known}, now inode {ino}",
                self.tree.path(m)
            ));
        }
        self.held
            .entry(ino)
            .or_insert(Held { mid: m, lookups: 0 })
            .lookups += 1;
        self.ino_of.insert(m, ino);
        if !self.seen.contains(&ino) {
            self.seen.push(ino);
        }
        Ok(())
    }

    fn forget(&mut self, ino: u64, n: u64) {
        self.core.forget(ino, n);
        let h = self.held.get_mut(&ino).expect("held");
        h.lookups -= n.min(h.lookups);
        if h.lookups == 0 {
            let m = h.mid;
            self.held.remove(&ino);
            self.ino_of.remove(&m);
            wtally("forgotten entirely");
        }
    }

    /// Forgets everything the kernel holds in the working copy, leaves first.
    fn forget_all(&mut self) {
        while let Some(ino) = self
            .held
            .iter()
            .find(|(_, h)| !self.has_held_children(h.mid))
            .map(|(i, _)| *i)
        {
            let n = self.held[&ino].lookups;
            self.forget(ino, n);
        }
        assert!(self.held.is_empty(), "a cycle of parents: {:?}", self.held);
    }

    /// Looks `name` up in held directory `dir`; what it finds is held. `Ok(None)`: not
    /// found (as the model says).
    async fn lookup(&mut self, dir: u64, name: &str, local: bool) -> Result<Option<u64>, String> {
        let got = if local {
            match self.core.lookup_local(dir, name) {
                Some(r) => {
                    wtally("lookup_local answered");
                    errno(r)
                }
                None => errno(self.core.lookup(dir, name).await),
            }
        } else {
            errno(self.core.lookup(dir, name).await)
        };
        let dm = self.mid(dir);
        self.root_known |= dm == ROOT_MID;
        let Some(m) = self.tree.child(dm, name) else {
            expect(&got.map(|_| ()), &Err(libc::ENOENT))?;
            return Ok(None);
        };
        let (attr, ttl) = got.map_err(|e| {
            format!(
                "lookup of {name:?} in {} failed: {}",
                self.describe(dir),
                errno_name(e)
            )
        })?;
        self.hold(attr.ino, m)?;
        let ttls = if dm == ROOT_MID {
            self.root_ttls()
        } else {
            vec![IMMUTABLE_TTL]
        };
        self.check_attr(&attr, ttl, m, &ttls)?;
        Ok(Some(attr.ino))
    }

    /// Looks the name of held node `ino` up again: it must give the same inode (the
    /// extra reference is dropped).
    async fn relookup(&mut self, ino: u64) -> Result<(), String> {
        let m = self.mid(ino);
        let slot = self.tree.slot(m);
        if !slot.linked || m == ROOT_MID {
            return Ok(());
        }
        let name = slot.name.clone();
        let parent = self.parent_ino(m)?;
        let found = self.lookup(parent, &name, true).await?;
        if found != Some(ino) {
            return Err(format!(
                "lookup of {} gave {found:?}, not {ino}",
                self.describe(ino)
            ));
        }
        self.forget(ino, 1);
        Ok(())
    }

    async fn getattr(&mut self, ino: u64, local: bool) -> Result<(), String> {
        let got = if local {
            match self.core.getattr_local(ino) {
                Some(r) => {
                    wtally("getattr_local answered");
                    errno(r)
                }
                None => errno(self.core.getattr(ino).await),
            }
        } else {
            errno(self.core.getattr(ino).await)
        };
        let (attr, ttl) = got.map_err(|e| {
            format!(
                "getattr of {} failed: {}",
                self.describe(ino),
                errno_name(e)
            )
        })?;
        if attr.ino != ino {
            return Err(format!("getattr of {ino} answered inode {}", attr.ino));
        }
        let m = self.mid(ino);
        let ttls = if m == ROOT_MID {
            self.root_ttls()
        } else {
            vec![IMMUTABLE_TTL]
        };
        self.check_attr(&attr, ttl, m, &ttls)
    }

    /// Lists held directory `dir` and checks it: `.` and `..`, names and kinds, and the
    /// `d_ino` of every held node in it.
    async fn readdir(&mut self, dir: u64, local: bool) -> Result<Vec<DirEntry>, String> {
        let got = if local {
            match self.core.readdir_local(dir) {
                Some(r) => {
                    wtally("readdir_local answered");
                    errno(r)
                }
                None => errno(self.core.readdir(dir).await),
            }
        } else {
            errno(self.core.readdir(dir).await)
        };
        let got = got.map_err(|e| {
            format!(
                "readdir of {} failed: {}",
                self.describe(dir),
                errno_name(e)
            )
        })?;
        self.check_listing(dir, &got, true)?;
        wtally("listing");
        Ok(got)
    }

    /// Checks a listing of held directory `dir` (all of it, or with `complete` false a
    /// first part): `.` and `..`, names and kinds as the model has them, and the `d_ino`
    /// of every held node in it.
    fn check_listing(&mut self, dir: u64, got: &[DirEntry], complete: bool) -> Result<(), String> {
        let m = self.mid(dir);
        self.root_known |= m == ROOT_MID;
        let parent = self.parent_ino(m)?;
        let dots: Vec<(&str, u64)> = got
            .iter()
            .take(2)
            .map(|e| (e.name.as_str(), e.ino))
            .collect();
        let want_dots = [(".", dir), ("..", parent)];
        if dots[..] != want_dots[..dots.len()] || (complete && dots.len() < 2) {
            return Err(format!(
                "`.` and `..` of {} are {dots:?}, want {want_dots:?}",
                self.describe(dir)
            ));
        }
        let mut got_names: Vec<(String, Kind)> = got
            .iter()
            .skip(2)
            .map(|e| (e.name.clone(), e.kind))
            .collect();
        got_names.sort_by(|a, b| a.0.cmp(&b.0));
        let want_names: Vec<(String, Kind)> = self
            .tree
            .children(m)
            .into_iter()
            .map(|(name, c)| (name, self.want(c).kind))
            .collect();
        let agrees = if complete {
            got_names == want_names
        } else {
            got_names.iter().all(|n| want_names.contains(n))
                && got_names.windows(2).all(|w| w[0].0 != w[1].0)
        };
        if !agrees {
            return Err(format!(
                "listing of {} differs: got {got_names:?}, want {want_names:?}",
                self.describe(dir)
            ));
        }
        for e in got.iter().skip(2) {
            let c = self.tree.child(m, &e.name).expect("listed");
            if let Some(&held) = self.ino_of.get(&c)
                && held != e.ino
            {
                return Err(format!(
                    "readdir gives {} inode {}, the kernel holds it as {held}",
                    self.tree.path(c),
                    e.ino
                ));
            }
        }
        Ok(())
    }

    /// READDIRPLUS of held directory `dir`, `room` entries a reply: page after page, each
    /// going on from the last entry's cookie, as the kernel asks (a reply with room for
    /// none: one page, empty). The pages joined must be the listing (`.` and `..`, names and
    /// kinds, cookies 1, 2, 3, ...), each entry held as a lookup holds it (its inode,
    /// attributes and TTL a lookup's); an entry that did not fit is not held.
    async fn readdirplus(&mut self, dir: u64, local: bool, room: usize) -> Result<(), String> {
        let mut got: Vec<PlusEntry> = Vec::new();
        loop {
            let mut page: Vec<PlusEntry> = Vec::new();
            let mut add = |e: &PlusEntry| {
                if page.len() == room {
                    return true;
                }
                page.push(e.clone());
                false
            };
            let offset = got.last().map_or(0, |e| e.offset);
            let result = match local
                .then(|| self.core.readdirplus_local(dir, offset, &mut add))
                .flatten()
            {
                Some(r) => {
                    wtally("readdirplus_local answered");
                    r
                }
                None => self.core.readdirplus(dir, offset, &mut add).await,
            };
            errno(result).map_err(|e| {
                format!(
                    "readdirplus of {} from {offset} failed: {}",
                    self.describe(dir),
                    errno_name(e)
                )
            })?;
            let cookies: Vec<u64> = page.iter().map(|e| e.offset).collect();
            let want: Vec<u64> = (offset + 1..).take(page.len()).collect();
            if cookies != want {
                return Err(format!("cookies {cookies:?} from {offset}, want {want:?}"));
            }
            let last = page.len() < room;
            got.append(&mut page);
            if last || room == 0 {
                break;
            }
        }
        if got.len() > 2 {
            wtally("plus listing in pages");
        }
        let fits = room > 0;
        let listed: Vec<DirEntry> = got
            .iter()
            .map(|e| DirEntry {
                ino: e.attr.ino,
                kind: e.attr.kind,
                name: e.name.clone(),
            })
            .collect();
        self.check_listing(dir, &listed, fits)?;
        let m = self.mid(dir);
        let ttls = if m == ROOT_MID {
            self.root_ttls()
        } else {
            vec![IMMUTABLE_TTL]
        };
        for e in got.iter().skip(2) {
            let c = self.tree.child(m, &e.name).expect("listed");
            self.hold(e.attr.ino, c)?;
            self.check_attr(&e.attr, e.ttl, c, &ttls)?;
        }
        wtally(if fits {
            "plus listing"
        } else {
            "plus listing, no room"
        });
        Ok(())
    }

    async fn read_at(
        &mut self,
        ino: u64,
        offset: u64,
        size: u32,
        local: bool,
    ) -> Result<(), String> {
        let MNode::File { data, .. } = &self.slot_of(ino).node else {
            unreachable!("a file")
        };
        let start = (offset as usize).min(data.len());
        let end = start.saturating_add(size as usize).min(data.len());
        let want = Ok(data[start..end].to_vec());
        let got = if local {
            match self.core.read_local(ino, offset, size) {
                Some(r) => {
                    wtally("read_local answered");
                    errno(r)
                }
                None => errno(self.core.read(ino, offset, size).await),
            }
        } else {
            errno(self.core.read(ino, offset, size).await)
        };
        if got != want {
            return Err(format!(
                "read of {} at {offset}, {size} bytes: got {}, want {} bytes",
                self.describe(ino),
                match &got {
                    Ok(b) => format!("{} bytes", b.len()),
                    Err(e) => errno_name(*e),
                },
                end - start
            ));
        }
        wtally(if end > start {
            "read bytes"
        } else {
            "read nothing"
        });
        Ok(())
    }

    async fn readlink(&mut self, ino: u64) -> Result<(), String> {
        let MNode::Link(target) = &self.slot_of(ino).node else {
            unreachable!("a symlink")
        };
        let want = Ok(target.clone());
        let got = errno(self.core.readlink(ino).await);
        expect(&got, &want)?;
        wtally("readlink");
        Ok(())
    }

    /// Checks that the working copy is the model: every name through readdir and lookup,
    /// every attribute, every byte. The walk's references are dropped after it.
    async fn walk(&mut self) -> Result<(), String> {
        self.log.push("walk".into());
        let mut acquired = Vec::new();
        let result = self.walk_from_root(&mut acquired).await;
        for ino in acquired.into_iter().rev() {
            self.forget(ino, 1);
        }
        if result.is_ok() {
            wtally("a full walk agreed");
        }
        result
    }

    async fn walk_from_root(&mut self, acquired: &mut Vec<u64>) -> Result<(), String> {
        self.getattr(self.root, false).await?;
        let mut stack = vec![self.root];
        while let Some(dir) = stack.pop() {
            let entries = self.readdir(dir, false).await?;
            for e in entries.iter().skip(2) {
                let Some(ino) = self.lookup(dir, &e.name, true).await? else {
                    return Err(format!("{:?} listed but not found", e.name));
                };
                acquired.push(ino);
                if e.ino != ino {
                    return Err(format!(
                        "readdir gives {} inode {}, lookup {ino}",
                        self.describe(ino),
                        e.ino
                    ));
                }
                self.getattr(ino, true).await?;
                match &self.slot_of(ino).node {
                    MNode::File { data, .. } => {
                        let len = data.len() as u32;
                        self.read_at(ino, 0, len + 1, true).await?;
                    }
                    MNode::Link(_) => self.readlink(ino).await?,
                    MNode::Dir { .. } | MNode::Gitlink => stack.push(ino),
                }
            }
        }
        Ok(())
    }

    /// After a change to held file or directory `ino`: its attributes through the inode,
    /// and its name still finds the same inode.
    async fn after_change(&mut self, ino: u64, was_commits: bool) -> Result<(), String> {
        self.getattr(ino, true).await?;
        self.relookup(ino).await?;
        if was_commits && self.slot_of(ino).linked {
            wtally("a changed node of the commit kept its inode");
        }
        Ok(())
    }

    async fn step(&mut self, op: &WOp) -> Result<(), String> {
        match op {
            WOp::Lookup { dir, name, local } => {
                let Some(dir) = self.pick_dir(*dir) else {
                    return Ok(());
                };
                let name = self.name_for(self.mid(dir), name);
                self.log
                    .push(format!("lookup({}, {})", self.describe(dir), short(&name)));
                self.lookup(dir, &name, *local).await.map(drop)
            }
            WOp::Go {
                path,
                missing,
                local,
            } => {
                let linked = self.tree.linked();
                if linked.is_empty() {
                    return Ok(());
                }
                let target = linked[path % linked.len()];
                let mut names = self.tree.components(target);
                if *missing {
                    names.push("nope".into());
                }
                self.log.push(format!("walk to /{}", names.join("/")));
                let mut at = self.root;
                for name in names {
                    if !self.tree.is_dir(self.mid(at)) {
                        break;
                    }
                    match self.lookup(at, &name, *local).await? {
                        Some(next) => at = next,
                        None => break,
                    }
                }
                Ok(())
            }
            WOp::Readdir { dir, local } => {
                let Some(dir) = self.pick_dir(*dir) else {
                    return Ok(());
                };
                self.log.push(format!("readdir({})", self.describe(dir)));
                self.readdir(dir, *local).await.map(drop)
            }
            WOp::ReaddirPlus { dir, local, room } => {
                let Some(dir) = self.pick_dir(*dir) else {
                    return Ok(());
                };
                self.log
                    .push(format!("readdirplus({}, room {room})", self.describe(dir)));
                self.readdirplus(dir, *local, *room).await
            }
            WOp::Read {
                file,
                offset,
                size,
                local,
            } => {
                let Some(file) = self.pick_file(*file) else {
                    return Ok(());
                };
                let len = self.len_of(file);
                let offset = resolve(offset, len);
                self.log
                    .push(format!("read({}, {offset}, {size})", self.describe(file)));
                self.read_at(file, offset, *size, *local).await
            }
            WOp::Readlink { link } => {
                let Some(link) = self.pick(*link, |s| s.linked && matches!(s.node, MNode::Link(_)))
                else {
                    return Ok(());
                };
                self.log.push(format!("readlink({})", self.describe(link)));
                self.readlink(link).await
            }
            WOp::Getattr { node, local } => {
                // Not a removed directory or symlink: the kernel has no way to ask.
                let Some(node) =
                    self.pick(*node, |s| s.linked || matches!(s.node, MNode::File { .. }))
                else {
                    return Ok(());
                };
                self.log.push(format!("getattr({})", self.describe(node)));
                self.getattr(node, *local).await
            }
            WOp::Create { dir, name, mode } => {
                let node = MNode::File {
                    data: Vec::new(),
                    perm: (mode & !UMASK & 0o7777) as u16,
                };
                self.make(*dir, name, node, Make::File(*mode)).await
            }
            WOp::Mkdir { dir, name, mode } => {
                let node = MNode::Dir {
                    perm: (mode & !UMASK & 0o7777) as u16,
                    children: BTreeMap::new(),
                };
                self.make(*dir, name, node, Make::Dir(*mode)).await
            }
            WOp::Symlink { dir, name, target } => {
                let target = link_target(*target);
                self.make(*dir, name, MNode::Link(target.clone()), Make::Link(target))
                    .await
            }
            WOp::Write {
                file,
                offset,
                len,
                seed,
                local,
            } => {
                let Some(file) = self.pick_writable_file(*file) else {
                    return Ok(());
                };
                let offset = resolve(offset, self.len_of(file));
                let data = bytes(*len, *seed);
                self.log.push(format!(
                    "write({}, {offset}, {} bytes)",
                    self.describe(file),
                    data.len()
                ));
                self.layer_maybe = true;
                let got = if *local {
                    match self.core.write_local(file, offset, &data) {
                        Some(r) => {
                            wtally("write_local answered");
                            errno(r)
                        }
                        None => errno(self.core.write(file, offset, &data).await),
                    }
                } else {
                    errno(self.core.write(file, offset, &data).await)
                };
                expect(&got, &Ok(data.len() as u32))?;
                self.changed = true;
                let m = self.mid(file);
                let slot = &mut self.tree.slots[m];
                let was_commits = slot.origin.take().is_some();
                let MNode::File { data: content, .. } = &mut slot.node else {
                    unreachable!()
                };
                let end = offset as usize + data.len();
                if content.len() < end {
                    content.resize(end, 0);
                }
                content[offset as usize..end].copy_from_slice(&data);
                wtally(if slot.linked {
                    "a write"
                } else {
                    "a write to a removed file"
                });
                self.after_change(file, was_commits).await
            }
            WOp::Truncate { file, size } => {
                let Some(file) = self.pick_writable_file(*file) else {
                    return Ok(());
                };
                let size = resolve(size, self.len_of(file));
                self.log
                    .push(format!("truncate({}, {size})", self.describe(file)));
                let set = SetAttr {
                    size: Some(size),
                    ..SetAttr::default()
                };
                self.setattr(file, set, |node| {
                    if let MNode::File { data, .. } = node {
                        data.resize(size as usize, 0);
                    }
                })
                .await
            }
            WOp::Chmod { node, mode } => {
                let Some(node) = self.pick(*node, |s| {
                    s.linked && !matches!(s.node, MNode::Link(_))
                        || matches!(s.node, MNode::File { .. })
                }) else {
                    return Ok(());
                };
                // A directory's mode as chmod sends it (S_IFDIR and the bits).
                let is_dir = self.tree.is_dir(self.mid(node));
                let mode = match (is_dir, mode & 0o100 != 0) {
                    (true, true) => libc::S_IFDIR | 0o755,
                    (true, false) => libc::S_IFDIR | 0o700,
                    (false, _) => *mode,
                };
                self.log
                    .push(format!("chmod({}, {mode:o})", self.describe(node)));
                let set = SetAttr {
                    mode: Some(mode),
                    ..SetAttr::default()
                };
                let perm = (mode & 0o7777) as u16;
                self.setattr(node, set, |node| match node {
                    MNode::File { perm: p, .. } | MNode::Dir { perm: p, .. } => *p = perm,
                    _ => {}
                })
                .await
            }
            WOp::Unlink { dir, name } => self.remove(*dir, *name, false).await,
            WOp::Rmdir { dir, name } => self.remove(*dir, *name, true).await,
            WOp::Rename {
                from,
                name,
                to,
                new_name,
                flags,
            } => self.rename(*from, *name, *to, new_name, *flags).await,
            WOp::Forget { node, n, all } => {
                let Some(ino) = self.pick(*node, |_| true) else {
                    return Ok(());
                };
                let m = self.mid(ino);
                if m == ROOT_MID {
                    return Ok(());
                }
                let count = self.held[&ino].lookups;
                let mut n = if *all { count } else { (*n).min(count) };
                // The kernel keeps a directory while it holds something in it.
                if n == count && self.has_held_children(m) {
                    n -= 1;
                }
                if n == 0 {
                    return Ok(());
                }
                self.log
                    .push(format!("forget({}, {n})", self.describe(ino)));
                self.forget(ino, n);
                Ok(())
            }
            WOp::Walk => self.walk().await,
        }
    }

    fn len_of(&self, file: u64) -> u64 {
        match &self.slot_of(file).node {
            MNode::File { data, .. } => data.len() as u64,
            _ => 0,
        }
    }

    /// create, mkdir or symlink of `node` in a held directory.
    async fn make(
        &mut self,
        dir: usize,
        name: &NameChoice,
        node: MNode,
        how: Make,
    ) -> Result<(), String> {
        let Some(dir) = self.pick_dir(dir) else {
            return Ok(());
        };
        let dm = self.mid(dir);
        let name = self.name_for(dm, name);
        self.log.push(format!(
            "{}({}, {})",
            how.verb(),
            self.describe(dir),
            short(&name)
        ));
        self.layer_maybe = true;
        let got = errno(match &how {
            Make::File(mode) => self.core.create(dir, &name, *mode, UMASK).await,
            Make::Dir(mode) => self.core.mkdir(dir, &name, *mode, UMASK).await,
            Make::Link(target) => self.core.symlink(dir, &name, target).await,
        });
        let want = if !heimdall::changes::valid_name(&name) {
            Err(libc::EINVAL)
        } else if matches!(self.tree.slot(dm).node, MNode::Gitlink) {
            Err(libc::EROFS)
        } else if self.tree.child(dm, &name).is_some() {
            Err(libc::EEXIST)
        } else {
            Ok(())
        };
        let (attr, ttl) = match (got, want) {
            (Ok(made), Ok(())) => made,
            (got, want) => return expect(&got.map(|_| ()), &want),
        };
        self.changed = true;
        let m = self.tree.add(dm, &name, node, None);
        self.hold(attr.ino, m)?;
        self.check_attr(&attr, ttl, m, &[IMMUTABLE_TTL])?;
        wtally(format!("{} made", how.verb()));
        Ok(())
    }

    /// setattr of held node `ino`, changing the model's node with `change` on success.
    async fn setattr(
        &mut self,
        ino: u64,
        set: SetAttr,
        change: impl FnOnce(&mut MNode),
    ) -> Result<(), String> {
        self.layer_maybe = true;
        let got = errno(self.core.setattr(ino, set).await);
        let m = self.mid(ino);
        if matches!(self.tree.slot(m).node, MNode::Gitlink) {
            return expect(&got.map(|_| ()), &Err(libc::EROFS));
        }
        let (attr, ttl) = got.map_err(|e| {
            format!(
                "setattr of {} failed: {}",
                self.describe(ino),
                errno_name(e)
            )
        })?;
        self.changed = true;
        let slot = &mut self.tree.slots[m];
        let was_commits = slot.origin.take().is_some();
        change(&mut slot.node);
        if attr.ino != ino {
            return Err(format!("setattr of {ino} answered inode {}", attr.ino));
        }
        self.check_attr(&attr, ttl, m, &[IMMUTABLE_TTL])?;
        wtally(if set.size.is_some() {
            "a truncation"
        } else {
            "a chmod"
        });
        self.after_change(ino, was_commits).await
    }

    /// unlink or rmdir of a name the kernel looked up first.
    async fn remove(&mut self, dir: usize, name: usize, rmdir: bool) -> Result<(), String> {
        let Some(dir) = self.pick_full_dir(dir) else {
            return Ok(());
        };
        let dm = self.mid(dir);
        let names = self.tree.children(dm);
        let (name, m) = names[name % names.len()].clone();
        self.log.push(format!(
            "{}({}, {})",
            if rmdir { "rmdir" } else { "unlink" },
            self.describe(dir),
            short(&name)
        ));
        self.lookup(dir, &name, true).await?;
        self.layer_maybe = true;
        let got = errno(if rmdir {
            self.core.rmdir(dir, &name).await
        } else {
            self.core.unlink(dir, &name).await
        });
        let want = match (rmdir, self.tree.is_dir(m)) {
            (false, true) => Err(libc::EISDIR),
            (true, false) => Err(libc::ENOTDIR),
            (true, true) if !self.tree.is_empty_dir(m) => Err(libc::ENOTEMPTY),
            _ => Ok(()),
        };
        expect(&got, &want)?;
        if want.is_ok() {
            self.changed = true;
            self.tree.detach(dm, &name);
            wtally(if rmdir {
                "a directory removed"
            } else {
                "a file removed"
            });
        }
        Ok(())
    }

    async fn rename(
        &mut self,
        from: usize,
        name: usize,
        to: usize,
        new_name: &NameChoice,
        flags: u32,
    ) -> Result<(), String> {
        let Some(from) = self.pick_full_dir(from) else {
            return Ok(());
        };
        let Some(to) = self.pick_dir(to) else {
            return Ok(());
        };
        let (fm, tm) = (self.mid(from), self.mid(to));
        let names = self.tree.children(fm);
        let (name, src) = names[name % names.len()].clone();
        let new_name = self.name_for(tm, new_name);
        let target = self.tree.child(tm, &new_name);
        let valid = heimdall::changes::valid_name(&new_name);
        // What the kernel answers itself: a rename onto itself, a directory into its own
        // subtree, over one of its ancestors, an exchange with a name that does not exist.
        if (fm == tm && name == new_name)
            || self.tree.is_ancestor_or_self(src, tm)
            || target.is_some_and(|t| self.tree.is_ancestor_or_self(t, fm))
            || (flags == RENAME_EXCHANGE && !valid)
        {
            return Ok(());
        }
        self.log.push(format!(
            "rename({}, {}, {}, {}, {})",
            self.describe(from),
            short(&name),
            self.describe(to),
            short(&new_name),
            match flags {
                RENAME_NOREPLACE => "NOREPLACE",
                RENAME_EXCHANGE => "EXCHANGE",
                _ => "0",
            }
        ));
        let Some(src_ino) = self.lookup(from, &name, true).await? else {
            unreachable!("the model's name")
        };
        let target_ino = self.lookup(to, &new_name, true).await?;
        self.layer_maybe = true;
        let got = errno(self.core.rename(from, &name, to, &new_name, flags).await);
        let want = if !valid {
            Err(libc::EINVAL)
        } else if matches!(self.tree.slot(tm).node, MNode::Gitlink) {
            Err(libc::EROFS)
        } else {
            match (target, flags) {
                (None, RENAME_EXCHANGE) => Err(libc::ENOENT),
                (Some(_), RENAME_NOREPLACE) => Err(libc::EEXIST),
                (Some(t), 0) => {
                    let (src_dir, t_dir) = (self.tree.is_dir(src), self.tree.is_dir(t));
                    if src_dir && !t_dir {
                        Err(libc::ENOTDIR)
                    } else if !src_dir && t_dir {
                        Err(libc::EISDIR)
                    } else if t_dir && !self.tree.is_empty_dir(t) {
                        Err(libc::ENOTEMPTY)
                    } else {
                        Ok(())
                    }
                }
                _ => Ok(()),
            }
        };
        expect(&got, &want)?;
        if want.is_err() {
            return Ok(());
        }
        self.changed = true;
        let moved = self.tree.detach(fm, &name);
        match (target, flags) {
            (Some(_), RENAME_EXCHANGE) => {
                let other = self.tree.detach(tm, &new_name);
                self.tree.attach(fm, &name, other);
                wtally("an exchange");
            }
            (Some(_), _) => {
                self.tree.detach(tm, &new_name);
                wtally("a rename over a name");
            }
            (None, _) => wtally("a rename"),
        }
        self.tree.attach(tm, &new_name, moved);
        // Both nodes keep their inodes under their new names.
        self.relookup(src_ino).await?;
        if flags == RENAME_EXCHANGE
            && let Some(other) = target_ino
        {
            self.relookup(other).await?;
        }
        wtally("a renamed node kept its inode");
        Ok(())
    }
}

enum Make {
    File(u32),
    Dir(u32),
    Link(Vec<u8>),
}

impl Make {
    fn verb(&self) -> &'static str {
        match self {
            Make::File(_) => "create",
            Make::Dir(_) => "mkdir",
            Make::Link(_) => "symlink",
        }
    }
}

fn resolve(offset: &Offset, len: u64) -> u64 {
    match offset {
        Offset::Start => 0,
        Offset::Within(o) => o % len.max(1),
        Offset::AtEnd => len,
        Offset::PastEnd(o) => len + o,
    }
}

/// A name for the log (long ones shortened).
fn short(name: &str) -> String {
    if name.len() > 40 {
        format!("{:?}... ({} bytes)", &name[..8], name.len())
    } else {
        format!("{name:?}")
    }
}

// ---------------------------------------------------------------------------------------
// The runner.

struct WFixture {
    hub: Hub,
    tree: MTree,
    pool: Vec<String>,
    rt: tokio::runtime::Runtime,
}

fn write_fixture() -> WFixture {
    let hub = Hub::new();
    hub.hub.set_rate_limit(u32::MAX, Duration::from_secs(3600));
    let commit = build_work_repo(hub.path());
    let git_dir = hub.path().join(OWNER).join(format!("{REPO}.git"));
    let root_tree = git_text(&git_dir, &["show", "-s", "--format=%T", &commit]);
    let tree = MTree::from_commit(&git_dir, &root_tree);
    let mut pool: BTreeSet<String> = tree.names();
    pool.extend(NEW_NAMES.iter().map(|s| s.to_string()));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    WFixture {
        hub,
        tree,
        pool: pool.into_iter().collect(),
        rt,
    }
}

/// The local files the layer's directories name, and the data files it keeps: the same,
/// once the kernel forgot every removed file.
fn check_data_files(changes: &Path) -> Result<(), String> {
    let dirs: Vec<PathBuf> = std::fs::read_dir(changes)
        .map_err(|e| e.to_string())?
        .flatten()
        .map(|e| e.path())
        .filter(|p| !p.file_name().unwrap().to_string_lossy().starts_with('.'))
        .collect();
    let [dir] = dirs.as_slice() else {
        return Err(format!("want one layer, found {dirs:?}"));
    };
    let layer = Layer::open_read_only(dir).map_err(|e| e.to_string())?;
    let mut named = BTreeSet::new();
    let mut files = BTreeSet::new();
    let mut stack = vec![ROOT];
    while let Some(node) = stack.pop() {
        for entry in layer.entries(node).map_err(|e| e.to_string())?.values() {
            match entry {
                Entry::Local {
                    node,
                    kind: LocalKind::File,
                } => {
                    files.insert(*node);
                    // A small file is inline (in the index), a larger one a data file.
                    if let FileBytes::Data(_) =
                        layer.file_bytes(*node).map_err(|e| e.to_string())?
                    {
                        named.insert(node.to_string());
                    }
                }
                Entry::Local {
                    node,
                    kind: LocalKind::Dir,
                } => stack.push(*node),
                _ => {}
            }
        }
    }
    let kept: BTreeSet<String> = std::fs::read_dir(dir.join("data"))
        .map_err(|e| e.to_string())?
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    if kept != named {
        return Err(format!(
            "the layer keeps data files {kept:?}, its directories name {named:?}"
        ));
    }
    // And no file's row outlives its name (a removed file's goes when it is forgotten).
    // Kind 1 is a file in the layer's schema.
    let conn = rusqlite::Connection::open_with_flags(
        dir.join("layer.sqlite"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .map_err(|e| e.to_string())?;
    let rows: BTreeSet<i64> = conn
        .prepare("SELECT id FROM nodes WHERE kind = 1")
        .and_then(|mut q| q.query_map([], |r| r.get::<_, i64>(0))?.collect())
        .map_err(|e| e.to_string())?;
    // (Rows of forgotten files go in batches: fewer than a batch may wait.)
    let unnamed = rows.difference(&files).count();
    if !rows.is_superset(&files) || unnamed >= DISCARD_BATCH {
        return Err(format!(
            "the layer keeps file rows {rows:?}, its directories name {files:?}"
        ));
    }
    wtally("data files agreed");
    Ok(())
}

/// A fresh writable core over `fx`'s hub and a case holding its working copy's root
/// (with the temp dir its store and changes live in, and where the changes are).
async fn start_case(fx: &WFixture) -> Result<(WCase<'_>, tempfile::TempDir, PathBuf), String> {
    let (settings, cache_dir) = fx.hub.settings(Some(TEST_TOKEN));
    let changes = cache_dir.path().join("changes-v1");
    let store = Arc::new(Store::open(&settings.cache_dir).map_err(|e| e.to_string())?);
    let cache: Arc<dyn ResponseCache> = Arc::new(IndexCache(Arc::clone(&store)));
    let client: Arc<dyn GitHubClient> =
        Arc::new(HttpClient::new(&settings, Some(cache)).map_err(|e| e.to_string())?);
    let ns = Arc::new(Namespace::new(client, store, STICKY_TTL));
    let core = FsCore::new(
        ns,
        FsOptions {
            owners: Vec::new(),
            ref_ttl: STICKY_TTL,
            hydrate_threshold: 0,
            uid: UID,
            gid: GID,
            web_url: WEB_URL.into(),
            view: None,
            passthrough: false,
            changes: Some(ChangesOptions {
                dir: changes.clone(),
                scope: Scope::Mount {
                    mountpoint: PathBuf::from("/mnt/test"),
                },
            }),
        },
        Box::new(|_| {}),
    );
    let (owner, _) = core
        .lookup(ROOT_INO, OWNER)
        .await
        .map_err(|e| format!("lookup of the owner: {e:?}"))?;
    let (root, ttl) = core
        .lookup(owner.ino, REPO)
        .await
        .map_err(|e| format!("lookup of the repo: {e:?}"))?;
    let mut case = WCase {
        core,
        tree: fx.tree.clone(),
        pool: &fx.pool,
        held: BTreeMap::new(),
        ino_of: HashMap::new(),
        seen: Vec::new(),
        owner: owner.ino,
        root: root.ino,
        layer_maybe: false,
        changed: false,
        root_known: false,
        log: Vec::new(),
    };
    case.hold(root.ino, ROOT_MID)?;
    case.check_attr(&root, ttl, ROOT_MID, &[MUTABLE_TTL])?;
    Ok((case, cache_dir, changes))
}

async fn run_write_case(fx: &WFixture, ops: &[WOp]) -> Result<(), String> {
    let (mut case, _dir, changes) = start_case(fx).await?;
    let fail = |case: &WCase, i: usize, why: String| {
        format!(
            "operation {i} failed: {why}\nsequence:\n  {}",
            case.log.join("\n  ")
        )
    };
    for (i, op) in ops.iter().enumerate() {
        if let Err(why) = case.step(op).await {
            return Err(fail(&case, i, why));
        }
        if (i + 1) % WALK_EVERY == 0
            && let Err(why) = case.walk().await
        {
            return Err(fail(&case, i, why));
        }
    }
    let end = ops.len();
    let finish = async {
        case.walk().await?;
        // Everything forgotten: the core keeps no inode, and no removed file's bytes.
        case.forget_all();
        case.core.forget(case.owner, 1);
        let inodes = case.core.status().inodes;
        if inodes != 1 {
            return Err(format!(
                "the kernel forgot everything, the core keeps {inodes} inodes"
            ));
        }
        if case.changed {
            check_data_files(&changes)?;
        }
        // Looked up afresh, the working copy is the same.
        let (owner, _) = errno(case.core.lookup(ROOT_INO, OWNER).await).map_err(errno_name)?;
        let (root, _) = errno(case.core.lookup(owner.ino, REPO).await).map_err(errno_name)?;
        case.owner = owner.ino;
        case.root = root.ino;
        case.seen.clear();
        case.hold(root.ino, ROOT_MID)?;
        case.log.push("(everything forgotten)".into());
        case.walk().await?;
        case.forget_all();
        Ok::<_, String>(())
    };
    if let Err(why) = finish.await {
        return Err(fail(&case, end, why));
    }
    Ok(())
}

fn check_writes() {
    let fx = write_fixture();
    let started = Instant::now();
    let mut runner = runner();
    let cases = runner.config().cases;
    let result = runner.run(
        &prop::collection::vec(wop_strategy(), 1..MAX_WRITE_OPS),
        |ops| {
            fx.rt
                .block_on(run_write_case(&fx, &ops))
                .map_err(TestCaseError::fail)
        },
    );
    eprintln!("writes: {cases} cases in {:.1?}", started.elapsed());
    for (what, n) in WTALLY.lock().unwrap().iter() {
        eprintln!("  {n:>6}  {what}");
    }
    if let Err(e) = result {
        panic!("{e}");
    }
}

#[test]
fn a_working_copy_agrees_with_the_model_of_its_writes() {
    check_writes();
}

// ---------------------------------------------------------------------------------------
// The bugs the property found, each as its minimal sequence (kept as regression tests).

/// Runs `f` on a fresh writable core; `f` gets the core and the working copy's root.
fn with_core(f: impl AsyncFnOnce(&FsCore, u64)) {
    let fx = write_fixture();
    fx.rt.block_on(async {
        let (case, _dir, _changes) = start_case(&fx).await.unwrap();
        f(&case.core, case.root).await;
    });
}

#[test]
fn regression_a_removed_file_of_the_commit_takes_writes() {
    with_core(async |core, root| {
        let (readme, _) = core.lookup(root, "README.md").await.unwrap();
        core.unlink(root, "README.md").await.unwrap();
        // An open file that was unlinked takes writes (the core: ENOENT).
        assert_eq!(core.write(readme.ino, 0, b"x").await, Ok(1));
        assert_eq!(core.read(readme.ino, 0, 10).await.unwrap(), b"xello\n");
    });
}

#[test]
fn regression_a_write_to_a_removed_file_leaves_the_new_owner_of_its_name_alone() {
    with_core(async |core, root| {
        let (readme, _) = core.lookup(root, "README.md").await.unwrap();
        core.lookup(root, "src").await.unwrap();
        core.unlink(root, "README.md").await.unwrap();
        core.rename(root, "src", root, "README.md", 0)
            .await
            .unwrap();
        // The core copies the removed file up over the directory now named README.md: the
        // write succeeds and the whole directory is gone from the working copy.
        let _ = core.write(readme.ino, 0, b"x").await;
        let (now, _) = core.lookup(root, "README.md").await.unwrap();
        assert_eq!(now.kind, Kind::Directory, "README.md is the renamed src");
    });
}

#[test]
fn regression_an_exchange_of_two_names_of_one_object_keeps_both_inodes() {
    with_core(async |core, root| {
        let (twins, _) = core.lookup(root, "twins").await.unwrap();
        let (a, _) = core.lookup(twins.ino, "a").await.unwrap();
        let (b, _) = core.lookup(twins.ino, "b").await.unwrap();
        core.rename(twins.ino, "a", twins.ino, "b", RENAME_EXCHANGE)
            .await
            .unwrap();
        let (now_a, _) = core.lookup(twins.ino, "a").await.unwrap();
        let (now_b, _) = core.lookup(twins.ino, "b").await.unwrap();
        assert_eq!(now_a.ino, b.ino);
        // The core: a third inode (the key of `a`'s node was overwritten by `b`'s).
        assert_eq!(now_b.ino, a.ino);
    });
}

#[test]
fn regression_readdir_agrees_with_lookup_when_a_name_gets_a_removed_files_object() {
    with_core(async |core, root| {
        let (readme, _) = core.lookup(root, "README.md").await.unwrap();
        let (twin, _) = core.lookup(root, "twin.txt").await.unwrap();
        core.unlink(root, "README.md").await.unwrap();
        core.rename(root, "twin.txt", root, "README.md", 0)
            .await
            .unwrap();
        core.forget(twin.ino, 1);
        let listed = core.readdir(root).await.unwrap();
        let d_ino = listed.iter().find(|e| e.name == "README.md").unwrap().ino;
        let (found, _) = core.lookup(root, "README.md").await.unwrap();
        // The core: d_ino is the removed README's inode (still held), lookup the next
        // free number.
        assert_ne!(d_ino, readme.ino);
        assert_eq!(d_ino, found.ino);
    });
}
