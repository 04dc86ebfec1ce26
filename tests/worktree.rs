//! Mounted repositories are working copies: every write a tool makes lands in a local
//! layer, never in the store or on GitHub. Each test checks one line of the README's
//! "Working copies" semantics through a real mount.

mod common;

use std::ffi::CString;
use std::io::{Seek, SeekFrom, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, UNIX_EPOCH};

use common::tree::{assert_same_tree, clone, run};
use common::{Hub, TestMount};
use fakehub::repo;

fn errno(result: std::io::Result<impl Sized>) -> Option<i32> {
    result.err().and_then(|e| e.raw_os_error())
}

fn cpath(path: &Path) -> CString {
    CString::new(path.as_os_str().as_bytes()).unwrap()
}

/// `renameat2(2)` with `flags`.
fn rename2(from: &Path, to: &Path, flags: u32) -> std::io::Result<()> {
    let (a, b) = (cpath(from), cpath(to));
    // SAFETY: valid NUL-terminated paths.
    let rc = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            a.as_ptr(),
            libc::AT_FDCWD,
            b.as_ptr(),
            flags,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

fn set_xattr(path: &Path, name: &str, value: &[u8]) -> std::io::Result<()> {
    let (p, n) = (cpath(path), CString::new(name).unwrap());
    // SAFETY: valid paths and a value buffer of the given length.
    let rc = unsafe {
        libc::setxattr(
            p.as_ptr(),
            n.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            0,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

fn get_xattr(path: &Path, name: &str) -> std::io::Result<Vec<u8>> {
    let (p, n) = (cpath(path), CString::new(name).unwrap());
    let mut buf = vec![0u8; 4096];
    // SAFETY: a buffer of the given length.
    let n = unsafe { libc::getxattr(p.as_ptr(), n.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    if n < 0 {
        return Err(std::io::Error::last_os_error());
    }
    buf.truncate(n as usize);
    Ok(buf)
}

fn sample(hub: &Hub) -> String {
    let mut r = repo::create(hub.path(), "acme", "api").unwrap();
    r.write("README.md", "# api\n")
        .write("src/app/main.py", "print('main')\n")
        .write("src/app/util.py", "X = 1\n")
        .write("docs/guide.md", "guide\n")
        .executable("run.sh", "#!/bin/sh\necho run\n")
        .symlink("latest", "docs/guide.md")
        .commit("c")
        .unwrap()
}

#[test]
fn every_write_a_tool_makes_works_and_stays_local() {
    require_fuse!();
    let hub = Hub::new();
    sample(&hub);
    let mount = TestMount::new(hub.cli(), &["--org", "acme"]);
    let root = mount.at("acme/api");
    let at = |rel: &str| root.join(rel);

    // create, O_TRUNC, O_APPEND, a write at an offset, truncate.
    std::fs::write(at("new.txt"), "hello\n").unwrap();
    assert_eq!(std::fs::read_to_string(at("new.txt")).unwrap(), "hello\n");
    std::fs::write(at("README.md"), "# rewritten\n").unwrap();
    assert_eq!(
        std::fs::read_to_string(at("README.md")).unwrap(),
        "# rewritten\n"
    );
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(at("src/app/util.py"))
        .unwrap();
    f.write_all(b"Y = 2\n").unwrap();
    drop(f);
    assert_eq!(
        std::fs::read_to_string(at("src/app/util.py")).unwrap(),
        "X = 1\nY = 2\n"
    );
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .open(at("docs/guide.md"))
        .unwrap();
    f.seek(SeekFrom::Start(2)).unwrap();
    f.write_all(b"ID").unwrap();
    f.set_len(4).unwrap();
    drop(f);
    assert_eq!(
        std::fs::read_to_string(at("docs/guide.md")).unwrap(),
        "guID"
    );

    // An mmap'd write.
    {
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(at("src/app/main.py"))
            .unwrap();
        let len = file.metadata().unwrap().len() as usize;
        use std::os::fd::AsRawFd;
        // SAFETY: a shared mapping of the whole file, unmapped below.
        let map = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                file.as_raw_fd(),
                0,
            )
        };
        assert_ne!(map, libc::MAP_FAILED);
        // SAFETY: `map` is `len` writable bytes.
        unsafe {
            std::ptr::copy_nonoverlapping(b"PRINT".as_ptr(), map.cast::<u8>(), 5);
            libc::msync(map, len, libc::MS_SYNC);
            libc::munmap(map, len);
        }
    }
    assert_eq!(
        std::fs::read_to_string(at("src/app/main.py")).unwrap(),
        "PRINT('main')\n"
    );

    // mkdir -p, rmdir, unlink, a directory of the commit removed whole.
    std::fs::create_dir_all(at("build/out/deep")).unwrap();
    std::fs::write(at("build/out/deep/x.o"), [0u8; 100]).unwrap();
    assert_eq!(
        errno(std::fs::remove_dir(at("build/out"))),
        Some(libc::ENOTEMPTY)
    );
    std::fs::remove_dir_all(at("build")).unwrap();
    assert!(!at("build").exists());
    std::fs::remove_file(at("new.txt")).unwrap();
    assert_eq!(errno(std::fs::metadata(at("new.txt"))), Some(libc::ENOENT));
    std::fs::remove_dir_all(at("docs")).unwrap();
    assert!(!at("docs").exists());
    std::fs::create_dir(at("docs")).unwrap();
    assert_eq!(
        std::fs::read_dir(at("docs")).unwrap().count(),
        0,
        "opaque: nothing of the commit"
    );

    // rename: over an existing file (atomic replace), of a directory of the commit,
    // RENAME_NOREPLACE, RENAME_EXCHANGE, across repositories (EXDEV).
    std::fs::write(at("src/app/.util.py.tmp"), "Z = 3\n").unwrap();
    std::fs::rename(at("src/app/.util.py.tmp"), at("src/app/util.py")).unwrap();
    assert_eq!(
        std::fs::read_to_string(at("src/app/util.py")).unwrap(),
        "Z = 3\n"
    );
    std::fs::rename(at("src"), at("lib")).unwrap();
    assert_eq!(
        std::fs::read_to_string(at("lib/app/util.py")).unwrap(),
        "Z = 3\n"
    );
    assert!(!at("src").exists());
    std::fs::write(at("a"), "a").unwrap();
    std::fs::write(at("b"), "b").unwrap();
    assert_eq!(
        errno(rename2(&at("a"), &at("b"), libc::RENAME_NOREPLACE)),
        Some(libc::EEXIST)
    );
    rename2(&at("a"), &at("b"), libc::RENAME_EXCHANGE).unwrap();
    assert_eq!(std::fs::read_to_string(at("a")).unwrap(), "b");
    assert_eq!(std::fs::read_to_string(at("b")).unwrap(), "a");
    let other = mount.at("acme/api@main");
    assert_eq!(
        errno(std::fs::rename(at("a"), other.join("a"))),
        Some(libc::EXDEV)
    );

    // symlink (stored, never followed by Heimdall), chmod +x, utimens, fsync, xattrs.
    std::os::unix::fs::symlink("../../etc/passwd", at("escape")).unwrap();
    assert_eq!(
        std::fs::read_link(at("escape")).unwrap(),
        Path::new("../../etc/passwd")
    );
    assert_eq!(
        std::fs::read_link(at("latest")).unwrap(),
        Path::new("docs/guide.md")
    );
    std::fs::set_permissions(at("README.md"), std::fs::Permissions::from_mode(0o755)).unwrap();
    assert_eq!(
        std::fs::metadata(at("README.md"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o755
    );
    let when = UNIX_EPOCH + Duration::from_secs(1_600_000_000);
    let f = std::fs::File::options().write(true).open(at("a")).unwrap();
    f.set_modified(when).unwrap();
    f.sync_all().unwrap();
    drop(f);
    assert_eq!(
        std::fs::metadata(at("a")).unwrap().modified().unwrap(),
        when
    );
    set_xattr(&at("a"), "user.note", b"kept").unwrap();
    assert_eq!(get_xattr(&at("a"), "user.note").unwrap(), b"kept");
    assert_eq!(
        errno(set_xattr(&at("a"), "user.heimdall.sha", b"x")),
        Some(libc::EPERM)
    );
    assert_eq!(
        errno(set_xattr(&at("a"), "trusted.x", b"x")),
        Some(libc::EOPNOTSUPP)
    );

    // Hostile names: EINVAL.
    let long = "x".repeat(256);
    assert_eq!(errno(std::fs::write(at(&long), "x")), Some(libc::EINVAL));

    // statfs: the scratch disk's space.
    let stat = nix_statvfs(&root);
    let disk = nix_statvfs(&mount.cli.cache_dir());
    assert_eq!(stat.f_blocks, disk.f_blocks);
    assert!(stat.f_bavail > 0);

    // Read-only places: `/`, an owner, the control tree.
    assert_eq!(errno(std::fs::write(mount.at("x"), "x")), Some(libc::EROFS));
    assert_eq!(
        errno(std::fs::create_dir(mount.at("acme/new"))),
        Some(libc::EROFS)
    );
    assert_eq!(
        errno(std::fs::write(mount.at(".status/x"), "x")),
        Some(libc::EROFS)
    );

    let status: serde_json::Value =
        serde_json::from_slice(&std::fs::read(mount.at(".status/mount.json")).unwrap()).unwrap();
    assert_eq!(status["writable"], true);
    assert_eq!(
        status["held_roots"][0]["path"],
        root.to_string_lossy().as_ref(),
        "{status}"
    );
    // And the store holds only what GitHub sent: every object verifies.
    let report: serde_json::Value =
        serde_json::from_slice(&mount.cli.ok(&["cache", "verify", "--json"])).unwrap();
    assert_eq!(report["corrupt"].as_array().unwrap().len(), 0, "{report}");
    mount.unmount();
}

fn nix_statvfs(path: &Path) -> libc::statvfs {
    let p = cpath(path);
    // SAFETY: a valid path and a zeroed out-parameter.
    let mut stat: libc::statvfs = unsafe { std::mem::zeroed() };
    assert_eq!(unsafe { libc::statvfs(p.as_ptr(), &mut stat) }, 0);
    stat
}

/// The edit script of the README's "Working copies" section, run on a checkout and on
/// the mount: the trees agree, `heimdall changes diff` is `git diff`, and `changes reset`
/// gives back exactly the commit.
#[test]
fn an_edit_script_gives_the_checkouts_tree_and_git_diff() {
    require_fuse!();
    let hub = Hub::new();
    let sha = sample(&hub);
    let mount = TestMount::new(hub.cli(), &["--org", "acme"]);
    let work = tempfile::tempdir().unwrap();
    let checkout = work.path().join("api");
    clone(&hub, "acme", "api", &sha, &checkout);
    let patch =
        "--- a/src/app/util.py\n+++ b/src/app/util.py\n@@ -1 +1,2 @@\n X = 1\n+PATCHED = True\n";
    std::fs::write(work.path().join("p.patch"), patch).unwrap();
    let script = format!(
        "set -e
         sed -i 's/main/MAIN/' src/app/main.py
         echo '## more' >> README.md
         mv docs/guide.md docs/GUIDE.md
         cp -r src src2
         rm -rf src2/app/__pycache__ src/app/main.py
         mkdir -p build/a/b && echo out > build/a/b/o.txt
         rm -rf build/a
         chmod +x README.md
         ln -s README.md readme-link
         printf 'bin\\0ary' > data.bin
         git apply {}/p.patch",
        work.path().display()
    );
    for dir in [&checkout, &mount.at("acme/api")] {
        run(Command::new("sh").arg("-c").arg(&script).current_dir(dir));
    }
    assert_same_tree(&checkout, &mount.at("acme/api"));
    run(Command::new("git")
        .args(["add", "-A"])
        .current_dir(&checkout));
    let expected = run(Command::new("git")
        .args(["diff", "--cached", "--no-renames"])
        .current_dir(&checkout));
    let path = mount.at("acme/api");
    let diff =
        String::from_utf8(mount.cli.ok(&["changes", "diff", path.to_str().unwrap()])).unwrap();
    assert_eq!(diff, expected);
    let list: serde_json::Value =
        serde_json::from_slice(&mount.cli.ok(&["changes", "list", "--json"])).unwrap();
    assert_eq!(list[0]["path"], path.to_string_lossy().as_ref(), "{list}");
    assert_eq!(list[0]["commit"], sha.as_str(), "{list}");
    assert!(list[0]["added"].as_u64().unwrap() >= 4, "{list}");
    assert_eq!(
        list[0]["deleted"], 2,
        "guide.md moved away, main.py removed: {list}"
    );
    assert_eq!(list[0]["mounted"], true);

    mount.cli.ok(&["changes", "reset", path.to_str().unwrap()]);
    let pristine = work.path().join("pristine");
    clone(&hub, "acme", "api", &sha, &pristine);
    assert_same_tree(&pristine, &mount.at("acme/api"));
    let list: serde_json::Value =
        serde_json::from_slice(&mount.cli.ok(&["changes", "list", "--json"])).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 0, "{list}");
    mount.unmount();
}

#[test]
fn a_mounts_changes_survive_unmount_remount_and_kill_9_and_hold_the_root() {
    require_fuse!();
    let hub = Hub::new();
    sample(&hub);
    let mut r = repo::open(hub.path(), "acme", "api").unwrap();
    let cli = hub.cli();
    let mnt = tempfile::tempdir().unwrap();
    let mount_at = |extra: &[&str]| {
        let mut args = vec!["mount", mnt.path().to_str().unwrap(), "--ref-ttl", "0s"];
        args.extend_from_slice(extra);
        cli.ok(&args);
    };
    let root = mnt.path().join("acme/api");
    mount_at(&[]);
    std::fs::write(root.join("notes.txt"), "mine\n").unwrap();
    std::fs::write(root.join("README.md"), "# edited\n").unwrap();
    // The branch moves: a root with changes stays where they were made.
    r.write("README.md", "# upstream\n")
        .write("NEW", "n\n")
        .commit("moved")
        .unwrap();
    std::thread::sleep(Duration::from_millis(1100));
    assert_eq!(
        std::fs::read_to_string(root.join("README.md")).unwrap(),
        "# edited\n"
    );
    assert!(
        !root.join("NEW").exists(),
        "held at the commit the changes were made on"
    );
    // A root without changes follows its ref.
    assert!(mnt.path().join("acme/api@main/NEW").exists());

    cli.ok(&["unmount", mnt.path().to_str().unwrap()]);
    let listed = String::from_utf8(cli.ok(&["changes", "list"])).unwrap();
    assert!(
        listed.contains("acme/api") && listed.contains("[unmounted]"),
        "{listed}"
    );
    mount_at(&[]);
    assert_eq!(
        std::fs::read_to_string(root.join("notes.txt")).unwrap(),
        "mine\n"
    );

    // kill -9 of the daemon: what was written and closed is there after the restart.
    std::fs::write(root.join("after.txt"), "closed before the kill\n").unwrap();
    let status: serde_json::Value = serde_json::from_slice(&cli.ok(&["daemon", "status"])).unwrap();
    let pid = status["pid"].as_i64().unwrap() as i32;
    // SAFETY: a pid this test's daemon owns.
    unsafe { libc::kill(pid, libc::SIGKILL) };
    std::thread::sleep(Duration::from_millis(300));
    // The next daemon (any command starts it) brings the mount back.
    cli.ok(&["allocated", "list"]);
    let started = std::time::Instant::now();
    while !root.join("after.txt").exists() && started.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(
        std::fs::read_to_string(root.join("after.txt")).unwrap(),
        "closed before the kill\n"
    );
    assert_eq!(
        std::fs::read_to_string(root.join("README.md")).unwrap(),
        "# edited\n"
    );

    // Discarded: the root follows its ref again.
    cli.ok(&["changes", "reset", root.to_str().unwrap()]);
    assert_eq!(
        std::fs::read_to_string(root.join("README.md")).unwrap(),
        "# upstream\n"
    );
    assert!(root.join("NEW").exists());
    assert!(!root.join("notes.txt").exists());
    cli.ok(&["unmount", mnt.path().to_str().unwrap()]);
    let _ = cli.run(&["daemon", "stop"]);
}

#[test]
fn an_allocations_writes_go_at_release_unless_kept() {
    require_fuse!();
    let hub = Hub::new();
    sample(&hub);
    let runtime = tempfile::tempdir().unwrap();
    let mut cli = hub.cli();
    cli.extra_env.push((
        "HEIMDALL_RUNTIME_DIR".into(),
        runtime.path().to_string_lossy().into_owned(),
    ));
    let allocate = |args: &[&str]| {
        let mut full = vec!["allocate", "acme/api"];
        full.extend_from_slice(args);
        std::path::PathBuf::from(String::from_utf8(cli.ok(&full)).unwrap().trim())
    };
    let path = allocate(&[]);
    std::fs::write(path.join("scratch.txt"), "temp\n").unwrap();
    std::fs::write(path.join("README.md"), "# changed\n").unwrap();
    cli.ok(&["release", path.to_str().unwrap()]);
    let again = allocate(&[]);
    assert_eq!(
        std::fs::read_to_string(again.join("README.md")).unwrap(),
        "# api\n"
    );
    assert!(!again.join("scratch.txt").exists());
    cli.ok(&["release", again.to_str().unwrap()]);

    let kept = allocate(&["--keep-changes"]);
    std::fs::write(kept.join("keep.txt"), "keep\n").unwrap();
    cli.ok(&["release", kept.to_str().unwrap()]);
    let listed: serde_json::Value =
        serde_json::from_slice(&cli.ok(&["changes", "list", "--json"])).unwrap();
    assert_eq!(
        listed[0]["path"],
        kept.to_string_lossy().as_ref(),
        "{listed}"
    );
    assert_eq!(listed[0]["added"], 1);
    let diff = String::from_utf8(cli.ok(&["changes", "diff", kept.to_str().unwrap()])).unwrap();
    assert!(
        diff.contains("+++ b/keep.txt") && diff.contains("+keep"),
        "{diff}"
    );
    cli.ok(&["changes", "reset", kept.to_str().unwrap()]);

    let read_only = allocate(&["--read-only"]);
    assert_eq!(
        errno(std::fs::write(read_only.join("x"), "x")),
        Some(libc::EROFS)
    );
    cli.ok(&["release", read_only.to_str().unwrap()]);
    let _ = cli.run(&["daemon", "stop"]);
}

#[test]
fn a_full_scratch_disk_gives_enospc_and_corrupts_nothing() {
    require_fuse!();
    let hub = Hub::new();
    sample(&hub);
    let cli = hub.cli();
    let Some(_disk) = common::SmallDisk::mount(&cli.cache_dir(), "4m") else {
        assert!(std::env::var_os("CI").is_none(), "CI runs as root");
        eprintln!("skipping: mounting a tmpfs needs root");
        return;
    };
    let mount = TestMount::new(cli, &["--org", "acme"]);
    let root = mount.at("acme/api");
    std::fs::write(root.join("small.txt"), "small\n").unwrap();
    let big = vec![7u8; 8 << 20];
    let err = std::fs::write(root.join("big.bin"), &big).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::ENOSPC), "{err}");
    assert_eq!(
        std::fs::read_to_string(root.join("small.txt")).unwrap(),
        "small\n"
    );
    // Removing what did not fit frees its space once the kernel lets go of the file
    // (at once when nothing has it open).
    std::fs::remove_file(root.join("big.bin")).unwrap();
    let started = std::time::Instant::now();
    while let Err(e) = std::fs::write(root.join("after.txt"), "room again\n") {
        assert_eq!(e.raw_os_error(), Some(libc::ENOSPC), "{e}");
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "the space never came back"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    eprintln!("space back after {:?}", started.elapsed());
    assert_eq!(
        std::fs::read_to_string(root.join("after.txt")).unwrap(),
        "room again\n"
    );
    let report: serde_json::Value =
        serde_json::from_slice(&mount.cli.ok(&["cache", "verify", "--json"])).unwrap();
    assert_eq!(report["corrupt"].as_array().unwrap().len(), 0, "{report}");
    mount.unmount();
}

#[test]
fn file_metadata_of_a_working_copy_is_a_local_disks() {
    require_fuse!();
    let hub = Hub::new();
    sample(&hub);
    let mount = TestMount::new(hub.cli(), &["--org", "acme"]);
    let root = mount.at("acme/api");
    let meta = std::fs::metadata(root.join("run.sh")).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o755);
    std::fs::write(root.join("f"), "1234").unwrap();
    let meta = std::fs::metadata(root.join("f")).unwrap();
    assert_eq!(
        (meta.len(), meta.nlink(), meta.uid()),
        (4, 1, unsafe { libc::getuid() })
    );
    mount.unmount();
}

#[test]
fn open_files_and_directories_outlive_their_names() {
    require_fuse!();
    let hub = Hub::new();
    sample(&hub);
    let mount = TestMount::new(hub.cli(), &["--org", "acme"]);
    let root = mount.at("acme/api");

    // A file of the commit, open, removed, then written and read through its descriptor
    // (what an editor's or a test runner's temp handling does).
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(root.join("README.md"))
        .unwrap();
    std::fs::remove_file(root.join("README.md")).unwrap();
    std::fs::rename(root.join("docs/guide.md"), root.join("README.md")).unwrap();
    file.seek(SeekFrom::End(0)).unwrap();
    file.write_all(b"more\n").unwrap();
    file.seek(SeekFrom::Start(0)).unwrap();
    let mut text = String::new();
    std::io::Read::read_to_string(&mut file, &mut text).unwrap();
    assert_eq!(text, "# api\nmore\n");
    assert_eq!(file.metadata().unwrap().nlink(), 0, "an unlinked file");
    drop(file);
    assert_eq!(
        std::fs::read_to_string(root.join("README.md")).unwrap(),
        "guide\n",
        "the file that took the name is untouched"
    );

    // A shell whose directory is removed under it, as on a local disk: `.` stats as an
    // unlinked directory, and lists nothing (not even `.` and `..`, as Linux does).
    let out = run(Command::new("sh")
        .arg("-c")
        .arg("mkdir gone && cd gone && rmdir ../gone && ls -a && stat -c %h .")
        .current_dir(&root));
    assert_eq!(out, "0\n");
}

#[test]
fn a_write_by_another_user_clears_set_user_id_bits() {
    require_fuse!();
    let hub = Hub::new();
    sample(&hub);
    let mount = TestMount::new(hub.cli(), &["--org", "acme", "--allow-other"]);
    let root = mount.at("acme/api");
    let file = root.join("run.sh");
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o6777)).unwrap();
    assert_eq!(std::fs::metadata(&file).unwrap().mode() & 0o7777, 0o6777);
    // A write by root (CAP_FSETID) keeps them, as on a local disk.
    std::fs::OpenOptions::new()
        .append(true)
        .open(&file)
        .unwrap()
        .write_all(b"# root\n")
        .unwrap();
    assert_eq!(std::fs::metadata(&file).unwrap().mode() & 0o7777, 0o6777);
    // A write by anyone else clears them (the kernel leaves that to Heimdall).
    run(Command::new("setpriv")
        .args([
            "--reuid=nobody",
            "--regid=nogroup",
            "--clear-groups",
            "sh",
            "-c",
        ])
        .arg(format!("echo '# nobody' >> {}", file.display())));
    assert_eq!(std::fs::metadata(&file).unwrap().mode() & 0o7777, 0o0777);
    assert!(
        std::fs::read_to_string(&file)
            .unwrap()
            .ends_with("# root\n# nobody\n")
    );
}

/// A writer that logs (outside the mount, fsynced) each step it finished: files written,
/// closed and renamed into place, and files of the commit removed.
const WRITER: &str = r#"
import os, sys
root, log = sys.argv[1], open(sys.argv[2], "a")
def done(line):
    log.write(line + "\n"); log.flush(); os.fsync(log.fileno())
os.makedirs(os.path.join(root, "out"), exist_ok=True)
removable = sorted(n for n in os.listdir(os.path.join(root, "many")))
i = 0
while True:
    body = (f"file {i}\n" * (1 + i % 700)).encode()   # up to ~6 KiB, some past 32 KiB
    if i % 7 == 0:
        body = body * 8
    tmp = os.path.join(root, "out", f".tmp{i}")
    with open(tmp, "wb") as f:
        f.write(body)
    os.rename(tmp, os.path.join(root, "out", f"f{i}"))
    done(f"wrote {i} {len(body)}")
    if i < len(removable):
        os.unlink(os.path.join(root, "many", removable[i]))
        done(f"removed {removable[i]}")
    i += 1
"#;

#[test]
fn a_kill_9_during_writes_loses_nothing_closed_and_half_applies_nothing() {
    require_fuse!();
    let hub = Hub::new();
    let mut r = repo::create(hub.path(), "acme", "busy").unwrap();
    for i in 0..300 {
        r.write(format!("many/m{i:03}.txt"), format!("commit file {i}\n"));
    }
    r.commit("c").unwrap();
    let cli = hub.cli();
    let mnt = tempfile::tempdir().unwrap();
    cli.ok(&["mount", mnt.path().to_str().unwrap()]);
    let root = mnt.path().join("acme/busy");
    assert!(root.join("many/m000.txt").exists());
    let work = tempfile::tempdir().unwrap();
    let log = work.path().join("log");
    let mut writer = Command::new("python3")
        .args(["-c", WRITER])
        .arg(&root)
        .arg(&log)
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Let it run, then kill the daemon in the middle of its writes.
    let started = std::time::Instant::now();
    while std::fs::read_to_string(&log)
        .unwrap_or_default()
        .lines()
        .count()
        < 200
        && started.elapsed() < Duration::from_secs(30)
    {
        std::thread::sleep(Duration::from_millis(20));
    }
    let status: serde_json::Value = serde_json::from_slice(&cli.ok(&["daemon", "status"])).unwrap();
    let pid = status["pid"].as_i64().unwrap() as i32;
    // SAFETY: a pid this test's daemon owns.
    unsafe { libc::kill(pid, libc::SIGKILL) };
    let _ = writer.wait();
    // The next daemon brings the mount back.
    cli.ok(&["allocated", "list"]);
    let started = std::time::Instant::now();
    while !root.join("out").exists() && started.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(100));
    }
    let logged = std::fs::read_to_string(&log).unwrap();
    let (mut wrote, mut removed) = (0, 0);
    for line in logged.lines() {
        match line.split(' ').collect::<Vec<_>>().as_slice() {
            ["wrote", i, len] => {
                let body = std::fs::read(root.join(format!("out/f{i}"))).unwrap();
                assert_eq!(body.len().to_string(), *len, "f{i}");
                wrote += 1;
            }
            ["removed", name] => {
                assert!(!root.join("many").join(name).exists(), "{name}");
                removed += 1;
            }
            _ => panic!("log line {line:?}"),
        }
    }
    assert!(
        wrote >= 100 && removed >= 100,
        "{wrote} written, {removed} removed"
    );
    // Every file there is whole: one renamed into place is complete, and a temp file
    // is either complete or the one being written at the kill.
    for entry in std::fs::read_dir(root.join("out")).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().into_string().unwrap();
        let i: usize = name
            .trim_start_matches(".tmp")
            .trim_start_matches('f')
            .parse()
            .unwrap();
        let body = std::fs::read(entry.path()).unwrap();
        let mut want = format!("file {i}\n").repeat(1 + i % 700).into_bytes();
        if i.is_multiple_of(7) {
            want = want.repeat(8);
        }
        if name.starts_with('f') {
            assert_eq!(body, want, "{name}");
        } else {
            assert!(
                want.starts_with(&body),
                "{name} holds bytes it was never written"
            );
        }
    }
    // The commit's files not removed are intact.
    for entry in std::fs::read_dir(root.join("many")).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().into_string().unwrap();
        let i: usize = name[1..4].parse().unwrap();
        assert_eq!(
            std::fs::read_to_string(entry.path()).unwrap(),
            format!("commit file {i}\n")
        );
    }
    let report: serde_json::Value =
        serde_json::from_slice(&cli.ok(&["cache", "verify", "--json"])).unwrap();
    assert_eq!(report["corrupt"].as_array().unwrap().len(), 0, "{report}");
    cli.ok(&["unmount", mnt.path().to_str().unwrap()]);
    let _ = cli.run(&["daemon", "stop"]);
}
