//! The layer on its own: creation, reopening, renames, whiteouts, names, copy-up, xattrs.

use std::path::Path;
use std::time::SystemTime;

use super::entry::{Entry, INLINE_MAX, LayerMeta, LocalKind, ROOT};
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
    l.write_file(f, 0, b"hello").unwrap();
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
    assert_eq!(l.read_file(f, 0, 100).unwrap(), b"hello");
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
    l.rename(ROOT, "src", ROOT, "lib", false, false).unwrap();
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
    let replaced = l.rename(ROOT, "tmp", ROOT, "target", false, false).unwrap();
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
    l.rename(ROOT, "a.txt", ROOT, "target", true, false)
        .unwrap();
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
        l.remove(ROOT, "a.txt", false).unwrap(),
        Entry::Lower { .. }
    ));
    assert!(l.entry(ROOT, "a.txt").unwrap().is_none());
    // One file removed while held open (small: inline), one larger (a data file).
    let f = l.create_file(ROOT, "gone", 0o644).unwrap();
    l.write_file(f, 0, b"still readable").unwrap();
    let big = l.create_file(ROOT, "big", 0o644).unwrap();
    l.write_file(big, 0, &[7; INLINE_MAX + 1]).unwrap();
    assert!(l.data_path(big).exists());
    l.remove(ROOT, "gone", true).unwrap();
    l.remove(ROOT, "big", true).unwrap();
    assert_eq!(
        l.read_file(f, 0, 100).unwrap(),
        b"still readable",
        "kept for readers until discarded"
    );
    assert_eq!(l.file_meta(big).unwrap().size, INLINE_MAX as u64 + 1);
    let path = l.dir().to_path_buf();
    drop(l);
    let l = Layer::open(&path).unwrap();
    assert!(!l.data_path(big).exists(), "swept at open");
    assert!(l.file_meta(f).is_err(), "swept at open");
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
    l.write_file(f, 0, b"changed\n").unwrap();
    assert_eq!(l.read_file(f, 0, 100).unwrap(), b"changed\n");
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
    l.remove(ROOT, "f", false).unwrap();
    assert!(l.xattr(f, "user.x").unwrap().is_none());
}

#[test]
fn a_listing_counts_its_subdirectories_as_it_changes() {
    let dir = tempfile::tempdir().unwrap();
    let l = layer(dir.path());
    let count = |l: &Layer| l.entries(ROOT).unwrap().subdirs();
    assert_eq!(count(&l), 1, "src");
    let d = l.mkdir(ROOT, "new", 0o755).unwrap();
    l.create_file(ROOT, "f", 0o644).unwrap();
    assert_eq!(count(&l), 2);
    l.rename(ROOT, "new", ROOT, "src2", false, false).unwrap();
    assert_eq!(count(&l), 2, "a rename keeps the count");
    l.rename(ROOT, "f", ROOT, "src2", true, false).unwrap();
    assert_eq!(
        count(&l),
        2,
        "an exchange of a file and a directory keeps it"
    );
    l.remove(ROOT, "f", false).unwrap();
    assert_eq!(count(&l), 1, "the directory exchanged to `f` is gone");
    assert!(l.node(d).unwrap().is_none());
    let path = l.dir().to_path_buf();
    drop(l);
    assert_eq!(count(&Layer::open(&path).unwrap()), 1, "as read back");
}

#[test]
fn a_small_file_lives_in_the_index_until_it_outgrows_it() {
    let dir = tempfile::tempdir().unwrap();
    let l = layer(dir.path());
    let f = l.create_file(ROOT, "f", 0o640).unwrap();
    assert!(!l.data_path(f).exists(), "no data file for a new file");
    l.write_file(f, 4, b"tail").unwrap();
    assert_eq!(
        l.read_file(f, 0, 100).unwrap(),
        b"\0\0\0\0tail",
        "a gap reads as zeros"
    );
    assert_eq!(l.read_file(f, 6, 100).unwrap(), b"il");
    assert_eq!(l.read_file(f, 100, 10).unwrap(), b"");
    let meta = l.file_meta(f).unwrap();
    assert_eq!((meta.size, meta.perm), (8, 0o640));
    l.set_file(f, Some(2), Some(0o755), None, None).unwrap();
    assert_eq!(l.file_meta(f).unwrap().perm, 0o755);
    assert_eq!(l.read_file(f, 0, 100).unwrap(), b"\0\0");

    // A write past INLINE_MAX moves the bytes, mode bits and all, to a data file.
    let chunk = vec![b'x'; 16 * 1024];
    for i in 0..3 {
        l.write_file(f, (i * chunk.len()) as u64, &chunk).unwrap();
    }
    assert!(l.data_path(f).exists());
    let meta = l.file_meta(f).unwrap();
    assert_eq!((meta.size, meta.perm), (48 * 1024, 0o755));
    assert_eq!(
        l.read_file(f, 0, 64 * 1024).unwrap(),
        [chunk.clone(), chunk.clone(), chunk.clone()].concat()
    );
    l.set_file(f, Some(10), None, None, None).unwrap();
    assert_eq!(
        l.read_file(f, 0, 100).unwrap(),
        b"xxxxxxxxxx",
        "a data file stays one"
    );

    // Extending an inline file past INLINE_MAX by truncate(2) moves it too.
    let g = l.create_file(ROOT, "g", 0o644).unwrap();
    l.write_file(g, 0, b"g").unwrap();
    l.set_file(g, Some(INLINE_MAX as u64 + 10), None, None, None)
        .unwrap();
    assert_eq!(l.file_meta(g).unwrap().size, INLINE_MAX as u64 + 10);
    assert_eq!(l.read_file(g, 0, 2).unwrap(), b"g\0");
    let path = l.dir().to_path_buf();
    drop(l);
    let l = Layer::open(&path).unwrap();
    assert_eq!(
        l.read_file(f, 0, 100).unwrap(),
        b"xxxxxxxxxx",
        "kept across reopening"
    );
    assert_eq!(l.file_meta(g).unwrap().size, INLINE_MAX as u64 + 10);
}

#[test]
fn a_layer_made_before_inline_files_is_upgraded_when_opened() {
    let dir = tempfile::tempdir().unwrap();
    let l = layer(dir.path());
    let f = l.create_file(ROOT, "f", 0o644).unwrap();
    l.set_file(f, Some(INLINE_MAX as u64 + 1), None, None, None)
        .unwrap();
    let path = l.dir().to_path_buf();
    drop(l);
    // As the schema was: no `content` column, every file a data file.
    let conn = rusqlite::Connection::open(path.join("layer.sqlite")).unwrap();
    conn.execute_batch("ALTER TABLE nodes DROP COLUMN content")
        .unwrap();
    drop(conn);
    let read_only = Layer::open_read_only(&path).unwrap();
    assert_eq!(read_only.file_meta(f).unwrap().size, INLINE_MAX as u64 + 1);
    drop(read_only);
    let l = Layer::open(&path).unwrap();
    assert_eq!(l.file_meta(f).unwrap().size, INLINE_MAX as u64 + 1);
    let g = l.create_file(ROOT, "g", 0o644).unwrap();
    l.write_file(g, 0, b"new").unwrap();
    assert_eq!(l.read_file(g, 0, 10).unwrap(), b"new");
}
