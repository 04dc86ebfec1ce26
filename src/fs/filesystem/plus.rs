//! READDIRPLUS: a listing that answers the lookups of its names too, so a tool walking a
//! tree (ruff, rg, `find`, `ls -l`) costs the kernel one request per directory instead of
//! one more per name.
//!
//! Every entry but `.` and `..` comes with a node and one kernel reference, as a lookup
//! would: the kernel links it (fuser takes an entry's node id from its attributes, so no
//! entry can be returned unlinked with a real `d_ino`). Names under a commit and in a
//! layer get the node and attributes their lookup gets, and so does a repo root whose
//! commit is known without asking (resolved within the ref TTL, held, pinned). Where a
//! lookup would have to wait or take a snapshot (a root to resolve; a control file is
//! made when it is opened), the entry links the node a lookup would find, with attributes
//! and a name that expire at once: the kernel asks again before it uses either, as
//! without READDIRPLUS, and linking resolves none of an organization's repositories (the
//! owner's listing itself, when it is refreshed, starts resolving them in the background
//! as a plain readdir does).

use std::sync::Arc;
use std::time::Duration;

use super::base::{FsCore, named, owner_key};
use super::lookup::{DirView, entry_ttl};
use crate::fs::attr::{Attr, MUTABLE_TTL, PlusEntry};
use crate::fs::control::{self, Control};
use crate::fs::errno::{Errno, FsResult};
use crate::fs::inode::{Identity, Ino, Node, NodeKey, NodeKind};
use crate::namespace::RepoSpec;
use crate::remote::Mode;

/// What a directory lists, gathered (the waiting part) before its entries are linked.
enum Names {
    Root,
    Control(Control),
    Owner {
        login: String,
        repos: Arc<Vec<String>>,
    },
    View(Option<DirView>),
}

impl FsCore {
    /// [`FsCore::readdirplus`] of a directory whose listing is local. `add` takes each
    /// entry from `offset` on and says whether the reply is full (that entry then did
    /// not fit, and its reference is dropped here). `None`: ask [`FsCore::readdirplus`].
    pub fn readdirplus_local(
        &self,
        ino: Ino,
        offset: u64,
        add: &mut dyn FnMut(&PlusEntry) -> bool,
    ) -> Option<FsResult<()>> {
        let dir = self.inodes.get(ino)?;
        let names = match &dir.kind {
            NodeKind::Root => Names::Root,
            NodeKind::Control(which) => Names::Control(which.clone()),
            NodeKind::Owner { .. } | NodeKind::RepoRoot { .. } => return None,
            NodeKind::Snapshot { .. } => return Some(Err(Errno(libc::ENOTDIR))),
            NodeKind::Content { .. } | NodeKind::Local { .. } => {
                Names::View(Some(self.dir_view_now(&dir)?))
            }
        };
        self.link_entries(&dir, names, offset, add);
        Some(Ok(()))
    }

    /// A listing of `ino` from `offset` on for READDIRPLUS: [`FsCore::readdir`]'s entries,
    /// each handed to `add` with its node (see [`FsCore::readdirplus_local`]).
    pub async fn readdirplus(
        &self,
        ino: Ino,
        offset: u64,
        add: &mut (dyn FnMut(&PlusEntry) -> bool + Send),
    ) -> FsResult<()> {
        let dir = self.node(ino)?;
        let names = match &dir.kind {
            NodeKind::Root => Names::Root,
            NodeKind::Control(which) => Names::Control(which.clone()),
            NodeKind::Owner { login } => Names::Owner {
                login: login.clone(),
                repos: self.owners.repo_names(&self.ns, login, true).await?,
            },
            NodeKind::RepoRoot { .. } | NodeKind::Content { .. } | NodeKind::Local { .. } => {
                Names::View(self.dir_view(&dir).await?)
            }
            NodeKind::Snapshot { .. } => return Err(Errno(libc::ENOTDIR)),
        };
        self.link_entries(&dir, names, offset, add);
        Ok(())
    }

    /// Hands `dir`'s entries from `offset` on to `add`, linking each, until it is full.
    fn link_entries(
        &self,
        dir: &Node,
        names: Names,
        offset: u64,
        add: &mut dyn FnMut(&PlusEntry) -> bool,
    ) {
        let attrs = self.attrs();
        let mut cookie = 0u64;
        // Returns whether to go on; `link` made the entry's node (one reference).
        let mut offer = |name: &str, link: &mut dyn FnMut() -> Option<(Attr, Duration)>| {
            cookie += 1;
            if cookie <= offset {
                return true;
            }
            let Some((attr, ttl)) = link() else {
                return true;
            };
            let entry = PlusEntry {
                name: name.to_string(),
                offset: cookie,
                attr,
                ttl,
            };
            let full = add(&entry);
            if full && name != "." && name != ".." {
                self.forget(entry.attr.ino, 1);
            }
            !full
        };
        for (name, ino) in [(".", dir.ino), ("..", dir.parent)] {
            let dot = attrs.read_only_dir(ino, self.mounted_at);
            if !offer(name, &mut || Some((dot, Duration::ZERO))) {
                return;
            }
        }
        match names {
            Names::Root => {
                for login in self.owners.logins() {
                    let mut link = || {
                        let node = self.inodes.lookup(owner_key(&login), || NodeKind::Owner {
                            login: login.clone(),
                        });
                        self.linked(&node, |_| MUTABLE_TTL)
                    };
                    if !offer(&login, &mut link) {
                        return;
                    }
                }
                for name in control::DIRS {
                    let mut link = || {
                        let which = Control::dir_named(name).expect("a control directory");
                        let node = self
                            .inodes
                            .lookup(named(dir.ino, name), || NodeKind::Control(which));
                        self.linked(&node, |_| MUTABLE_TTL)
                    };
                    if !offer(name, &mut link) {
                        return;
                    }
                }
            }
            Names::Control(which) => {
                for name in self.control.names_in(&which) {
                    if !offer(&name, &mut || self.control_entry(dir.ino, &which, &name)) {
                        return;
                    }
                }
            }
            Names::Owner { login, repos } => {
                for name in repos.iter() {
                    let mut link = || {
                        // A name no lookup would take is listed (as readdir lists it, so
                        // the cookies agree) and never linked.
                        let spec = RepoSpec::new(&login, name, None).ok()?;
                        let key = NodeKey {
                            parent: dir.ino,
                            name: name.clone(),
                            identity: Identity::Named,
                        };
                        let held = self.inodes.get(self.inodes.peek(&key)).is_some();
                        let node = self
                            .inodes
                            .lookup(key, || NodeKind::RepoRoot { spec: spec.clone() });
                        // A root the kernel holds whose commit is known without asking
                        // (resolved within the ref TTL, held by changes, pinned) answers as
                        // its lookup would; any other is linked with attributes and a name
                        // that expire at once, so the kernel asks before it uses them.
                        let known = held.then(|| self.root_attr_now(&node, &spec)).flatten();
                        Some(known.unwrap_or_else(|| {
                            (attrs.dir(node.ino, self.mounted_at, 2), Duration::ZERO)
                        }))
                    };
                    if !offer(name, &mut link) {
                        return;
                    }
                }
            }
            Names::View(None) => {}
            Names::View(Some(view)) => {
                if matches!(view.listing, super::lookup::Listing::Tree(_)) {
                    self.hydrator.note_listing(&self.ns, &view.repo);
                }
                for (name, child) in view.children(self) {
                    let mut link = || {
                        let node = self.child_node(dir.ino, &view, &name, &child);
                        self.linked(&node, |ttl| entry_ttl(dir, &view, ttl))
                    };
                    if !offer(&name, &mut link) {
                        return;
                    }
                }
            }
        }
    }

    /// A linked node's attributes, kept for `ttl` of the node's own TTL. If they are not
    /// known, its reference is dropped and the name is not listed (rather than listed
    /// wrong: a layer that went away).
    fn linked(
        &self,
        node: &Node,
        ttl: impl FnOnce(Duration) -> Duration,
    ) -> Option<(Attr, Duration)> {
        match self.attr_now(node) {
            Some(Ok((attr, own))) => Some((attr, ttl(own))),
            _ => {
                self.forget(node.ino, 1);
                None
            }
        }
    }

    /// A control file's entry: the snapshot its last lookup made, or an empty one, linked
    /// with a name and attributes that expire at once (opening it takes a new snapshot).
    /// Where that snapshot's content is not the next one's, the kernel sees another node
    /// for the name and looks it up once more: two snapshots for the first open after a
    /// listing, both right.
    fn control_entry(&self, dir: Ino, which: &Control, name: &str) -> Option<(Attr, Duration)> {
        let latest = self
            .snapshots
            .lock()
            .expect("snapshots poisoned")
            .get(&(dir, name.to_string()))
            .copied();
        let node = match latest.and_then(|ino| self.inodes.add_ref(ino)) {
            Some(node) => node,
            None => {
                let file = self.control.file_in(which, name).ok()?;
                let key = NodeKey {
                    parent: dir,
                    name: name.to_string(),
                    identity: Identity::Object(crate::oid::blob_sha(b""), Mode::File),
                };
                self.inodes.lookup(key, || NodeKind::Snapshot {
                    file,
                    content: Arc::default(),
                })
            }
        };
        self.linked(&node, |_| Duration::ZERO)
    }
}
