//! The layer on its own: creation, reopening, renames, whiteouts, names, copy-up, xattrs.

use std::path::Path;
use std::time::SystemTime;

use super::entry::{Entry, LayerMeta, LocalKind, ROOT};
use super::error::LayerError;
use super::layer::Layer;
use super::sql::{is_locked, peek_meta};
use crate::oid::blob_sha;
use crate::remote::{Mode, TreeEntry};

fn lower(name: &str, mode: Mode, content: &[u8]) -> TreeEntry {
    TreeEntry {
        name: name.into(),
        mode,
        sha: blob_sha(content),
        size: content.len() as u64,
    }
}

fn meta() -> LayerMeta {
    LayerMeta {
        path: "/mnt/acme/api".into(),
        repo: "acme/api".into(),
        commit: blob_sha(b"commit"),
        tree: blob_sha(b"tree"),
        kind: "mount".into(),
        created_at: 1,
        filter: None,
    }
}

fn layer(dir: &Path) -> Layer {
    let root = [
        lower("a.txt", Mode::File, b"a\n"),
        lower("src", Mode::Tree, b"src"),
    ];
    Layer::create(&dir.join("changes-v1").join("k"), &meta(), &root, 0o755).unwrap()
}

#[test]
fn a_new_layer_shows_the_commit_and_survives_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let l = layer(dir.path());
    assert_eq!(l.entries(ROOT).unwrap().len(), 2);
    let f = l.create_file(ROOT, "new.txt", 0o644).unwrap();
    std::fs::write(l.data_path(f), b"hello").unwrap();
    let path = l.dir().to_path_buf();
    drop(l);
    let l = Layer::open(&path).unwrap();
    assert_eq!(l.meta(), &meta());
    assert_eq!(
        l.entry(ROOT, "new.txt").unwrap(),
        Some(Entry::Local {
            node: f,
            kind: LocalKind::File
        })
    );
    assert_eq!(std::fs::read(l.data_path(f)).unwrap(), b"hello");
    assert!(matches!(Layer::open(&path), Err(LayerError::Locked { .. })));
    assert!(is_locked(&path));
    assert_eq!(peek_meta(&path).unwrap(), meta());
}

#[test]
fn renames_move_entries_whole_and_replace_atomically() {
    let dir = tempfile::tempdir().unwrap();
    let l = layer(dir.path());
    let src = l
        .materialize(
            ROOT,
            "src",
            &[lower("m.py", Mode::File, b"x")],
            0o755,
            SystemTime::now(),
        )
        .unwrap();
    // A directory of the commit moves without copying.
    l.rename(ROOT, "src", ROOT, "lib", false).unwrap();
    assert!(l.entry(ROOT, "src").unwrap().is_none());
    assert_eq!(
        l.entry(ROOT, "lib").unwrap(),
        Some(Entry::Local {
            node: src,
            kind: LocalKind::Dir
        })
    );
    assert!(matches!(
        l.entry(src, "m.py").unwrap(),
        Some(Entry::Lower { .. })
    ));
    // Over an existing file: the target is replaced, its node gone.
    let tmp = l.create_file(ROOT, "tmp", 0o644).unwrap();
    let target = l.create_file(ROOT, "target", 0o644).unwrap();
    let replaced = l.rename(ROOT, "tmp", ROOT, "target", false).unwrap();
    assert_eq!(
        replaced,
        Some(Entry::Local {
            node: target,
            kind: LocalKind::File
        })
    );
    assert_eq!(
        l.entry(ROOT, "target").unwrap(),
        Some(Entry::Local {
            node: tmp,
            kind: LocalKind::File
        })
    );
    assert!(l.node(target).unwrap().is_none());
    // Exchange swaps.
    l.rename(ROOT, "a.txt", ROOT, "target", true).unwrap();
    assert!(matches!(
        l.entry(ROOT, "target").unwrap(),
        Some(Entry::Lower { .. })
    ));
    assert!(matches!(
        l.entry(ROOT, "a.txt").unwrap(),
        Some(Entry::Local { .. })
    ));
}

#[test]
fn removal_is_a_whiteout_and_an_orphan_is_swept() {
    let dir = tempfile::tempdir().unwrap();
    let l = layer(dir.path());
    assert!(matches!(
        l.remove(ROOT, "a.txt").unwrap(),
        Entry::Lower { .. }
    ));
    assert!(l.entry(ROOT, "a.txt").unwrap().is_none());
    let f = l.create_file(ROOT, "gone", 0o644).unwrap();
    l.remove(ROOT, "gone").unwrap();
    assert!(l.data_path(f).exists(), "kept for readers until discarded");
    let path = l.dir().to_path_buf();
    drop(l);
    let l = Layer::open(&path).unwrap();
    assert!(!l.data_path(f).exists(), "swept at open");
    assert!(
        l.entry(ROOT, "a.txt").unwrap().is_none(),
        "the whiteout persists"
    );
}

#[test]
fn names_are_checked_and_duplicates_refused() {
    let dir = tempfile::tempdir().unwrap();
    let l = layer(dir.path());
    for bad in ["", ".", "..", "a/b", "nul\0", &"x".repeat(256)] {
        assert!(
            matches!(
                l.create_file(ROOT, bad, 0o644),
                Err(LayerError::BadName { .. })
            ),
            "{bad:?}"
        );
    }
    assert!(matches!(
        l.mkdir(ROOT, "a.txt", 0o755),
        Err(LayerError::Exists(_))
    ));
    let link = l.symlink(ROOT, "l", b"../../etc/passwd").unwrap();
    assert_eq!(
        l.node(link).unwrap().unwrap().target.as_deref(),
        Some(&b"../../etc/passwd"[..])
    );
}

#[test]
fn copy_up_copies_and_never_links() {
    let dir = tempfile::tempdir().unwrap();
    let l = layer(dir.path());
    let blob = dir.path().join("blob");
    std::fs::write(&blob, b"a\n").unwrap();
    assert!(
        matches!(
            l.copy_up(ROOT, "a.txt", blob_sha(b"other\n"), Some(&blob), 0o644),
            Err(LayerError::Missing(_))
        ),
        "a name now holding another object is not copied up"
    );
    assert!(
        matches!(
            l.copy_up(ROOT, "src", blob_sha(b"src"), Some(&blob), 0o644),
            Err(LayerError::Missing(_))
        ),
        "a tree is never copied up as a file"
    );
    let f = l
        .copy_up(ROOT, "a.txt", blob_sha(b"a\n"), Some(&blob), 0o644)
        .unwrap();
    std::fs::write(l.data_path(f), b"changed\n").unwrap();
    assert_eq!(
        std::fs::read(&blob).unwrap(),
        b"a\n",
        "the stored object is untouched"
    );
    use std::os::unix::fs::MetadataExt;
    assert_eq!(std::fs::metadata(&blob).unwrap().nlink(), 1);
}

#[test]
fn xattrs_live_with_their_node() {
    let dir = tempfile::tempdir().unwrap();
    let l = layer(dir.path());
    let f = l.create_file(ROOT, "f", 0o644).unwrap();
    assert!(!l.set_xattr(f, "user.x", Some(b"1")).unwrap());
    assert_eq!(l.xattr(f, "user.x").unwrap().as_deref(), Some(&b"1"[..]));
    assert_eq!(l.xattr_names(f).unwrap(), ["user.x"]);
    l.remove(ROOT, "f").unwrap();
    assert!(l.xattr(f, "user.x").unwrap().is_none());
}
