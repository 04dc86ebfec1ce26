//! Real FUSE mounts of fakehub repos, checked against `git clone` checkouts and real tools.
//! Each test states the promise of the README's Semantics section it checks.

mod common;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::tree::{assert_same_tree, clone, run, tool_output};
use common::{Hub, TestMount};
use fakehub::repo;

#[test]
fn mounted_repos_equal_git_checkouts() {
    require_fuse!();
    let hub = Hub::new();
    let mut r = repo::create(hub.path(), "acme", "kitchen").unwrap();
    r.write("README.md", "# kitchen sink\n")
        .write("src/pkg/deep/er/module.py", "x = 1\n")
        .write("docs/ünïcödé naïve.md", "unicode\n")
        .write("docs/emoji-🚀.txt", "rocket\n")
        .executable("bin/tool", "#!/bin/sh\necho tool\n")
        .empty_file("empty.txt")
        .empty_file("src/pkg/__init__.py")
        .symlink("link-rel", "src/pkg/deep/er/module.py")
        .symlink("bin/link-up", "../README.md")
        .symlink("dangling", "does/not/exist")
        .symlink("abs-link", "/etc/hostname")
        .symlink("dir-link", "src/pkg")
        .large_file("data/big.bin", 5 << 20, 3)
        .submodule(
            "vendor/lib",
            "https://example.com/lib.git",
            "3333333333333333333333333333333333333333",
        );
    let kitchen = r.commit("kitchen").unwrap();
    let mut many = repo::create(hub.path(), "acme", "many").unwrap();
    for i in 0..2000 {
        many.write(
            format!("d{}/sub{}/f{i}.txt", i % 17, i % 5),
            format!("file {i}\n"),
        );
    }
    let many_sha = many.commit("many").unwrap();

    let mount = TestMount::new(hub.cli(), &["--org", "acme"]);
    let work = tempfile::tempdir().unwrap();
    for (name, sha) in [("kitchen", &kitchen), ("many", &many_sha)] {
        let checkout = work.path().join(name);
        clone(&hub, "acme", name, sha, &checkout);
        assert_same_tree(&checkout, &mount.at(&format!("acme/{name}")));
    }
    // Submodules are empty read-only directories, as in a checkout without --recursive.
    let sub = mount.at("acme/kitchen/vendor/lib");
    assert!(sub.is_dir());
    assert_eq!(std::fs::read_dir(&sub).unwrap().count(), 0);
    // Symlinks are shown, never followed by heimdall.
    assert_eq!(
        std::fs::read_link(mount.at("acme/kitchen/abs-link")).unwrap(),
        Path::new("/etc/hostname")
    );
    assert_eq!(
        std::fs::read_link(mount.at("acme/kitchen/dangling")).unwrap(),
        Path::new("does/not/exist")
    );
    mount.unmount();
}

#[test]
fn metadata_comes_from_the_tree_without_downloading() {
    require_fuse!();
    let hub = Hub::new();
    let mut r = repo::create(hub.path(), "acme", "api").unwrap();
    for i in 0..50 {
        r.write(format!("pkg/m{i}.py"), format!("VALUE = {i}\n"));
    }
    r.executable("run.sh", "#!/bin/sh\n");
    r.large_file("big.bin", 1 << 20, 9);
    let commit_time = 1_700_000_000;
    r.commit_at("c", commit_time).unwrap();
    let mount = TestMount::new(hub.cli(), &[]);
    hub.hub.reset_stats();

    // ls -lR, find, du --apparent-size, stat: one tree request, no blob.
    run(Command::new("ls").arg("-lR").arg(mount.at("acme/api")));
    run(Command::new("find")
        .arg(mount.at("acme/api"))
        .args(["-type", "f"]));
    let du = run(Command::new("du")
        .args(["-sb", "--apparent-size"])
        .arg(mount.at("acme/api")));
    let stats = hub.hub.stats();
    assert_eq!(stats.route("tree"), 1, "{stats:?}");
    assert_eq!(stats.route("blob"), 0, "{stats:?}");
    assert_eq!(stats.route("codeload"), 0, "a walk alone hydrates nothing");
    let bytes: u64 = du.split_whitespace().next().unwrap().parse().unwrap();
    assert!(bytes >= (1 << 20) + 50 * 10, "du sees blob sizes: {bytes}");

    // A working copy: the owner may write; git's exec bit shows.
    let meta = std::fs::metadata(mount.at("acme/api/run.sh")).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o755);
    assert_eq!(meta.mtime(), commit_time, "mtime is the commit time");
    assert_eq!(meta.uid(), unsafe { libc::getuid() });
    let meta = std::fs::metadata(mount.at("acme/api/big.bin")).unwrap();
    assert_eq!(
        (meta.len(), meta.permissions().mode() & 0o777, meta.nlink()),
        (1 << 20, 0o644, 1)
    );
    let dir = std::fs::metadata(mount.at("acme/api/pkg")).unwrap();
    assert!(dir.is_dir() && dir.nlink() >= 2);
    assert_eq!(common::content_requests(&hub.hub.stats()), 0);

    // Reading a file fetches its blob once; later reads come from the store.
    assert_eq!(
        std::fs::read_to_string(mount.at("acme/api/pkg/m7.py")).unwrap(),
        "VALUE = 7\n"
    );
    assert_eq!(
        std::fs::read_to_string(mount.at("acme/api/pkg/m7.py")).unwrap(),
        "VALUE = 7\n"
    );
    assert_eq!(common::content_requests(&hub.hub.stats()), 1);
    mount.unmount();
}

#[test]
fn writes_fail_with_erofs() {
    require_fuse!();
    let hub = Hub::new();
    let mut r = repo::create(hub.path(), "acme", "api").unwrap();
    r.write("a.txt", "a\n").commit("c").unwrap();
    let mount = TestMount::new(hub.cli(), &["--read-only"]);
    let erofs = |result: std::io::Result<()>| {
        let err = result.expect_err("a write must fail");
        assert_eq!(err.raw_os_error(), Some(libc::EROFS), "{err}");
    };
    erofs(std::fs::write(mount.at("acme/api/new.txt"), "x"));
    erofs(
        std::fs::OpenOptions::new()
            .append(true)
            .open(mount.at("acme/api/a.txt"))
            .map(|_| ()),
    );
    erofs(std::fs::create_dir(mount.at("acme/api/dir")));
    erofs(std::fs::remove_file(mount.at("acme/api/a.txt")));
    erofs(std::fs::rename(
        mount.at("acme/api/a.txt"),
        mount.at("acme/api/b.txt"),
    ));
    erofs(std::os::unix::fs::symlink("a.txt", mount.at("acme/api/l")));
    assert_eq!(
        std::fs::read_to_string(mount.at("acme/api/a.txt")).unwrap(),
        "a\n"
    );
    mount.unmount();
}

#[test]
fn refs_by_name_and_a_moving_default_branch() {
    require_fuse!();
    let hub = Hub::new();
    let mut r = repo::create(hub.path(), "acme", "api").unwrap();
    let v1 = r
        .write("VERSION", "1\n")
        .write("keep.txt", "same\n")
        .commit("one")
        .unwrap();
    r.tag("v1.0", &v1).unwrap();
    r.create_branch("release/1", &v1).unwrap();
    r.write("VERSION", "2\n").commit("two").unwrap();
    let mount = TestMount::new(hub.cli(), &["--ref-ttl", "1s"]);
    let read = |rel: &str| std::fs::read_to_string(mount.at(rel)).unwrap();
    assert_eq!(read("acme/api/VERSION"), "2\n");
    assert_eq!(read("acme/api@v1.0/VERSION"), "1\n");
    assert_eq!(read("acme/api@release%2F1/VERSION"), "1\n");
    assert_eq!(read(&format!("acme/api@{v1}/VERSION")), "1\n");
    assert_eq!(read(&format!("acme/api@{}/VERSION", &v1[..7])), "1\n");
    // Refs are found by name, not listed.
    let listed: Vec<String> = std::fs::read_dir(mount.at("acme"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(listed, ["api"]);
    assert!(!mount.at("acme/api@no-such-branch").exists());

    // A file opened before the branch moves keeps reading what it opened.
    use std::io::Read;
    let mut held = std::fs::File::open(mount.at("acme/api/VERSION")).unwrap();
    let keep_ino = std::fs::metadata(mount.at("acme/api/keep.txt"))
        .unwrap()
        .ino();
    r.write("VERSION", "3\n").commit("three").unwrap();
    let started = Instant::now();
    loop {
        if read("acme/api/VERSION") == "3\n" {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the push shows up after --ref-ttl"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let mut old = String::new();
    held.read_to_string(&mut old).unwrap();
    assert_eq!(old, "2\n");
    drop(held);
    assert_eq!(
        std::fs::metadata(mount.at("acme/api/keep.txt"))
            .unwrap()
            .ino(),
        keep_ino,
        "unchanged content keeps its inode"
    );
    // A deleted branch's root goes once the branch is polled again.
    assert_eq!(read("acme/api@release%2F1/VERSION"), "1\n");
    r.delete_branch("release/1").unwrap();
    let started = Instant::now();
    loop {
        match std::fs::metadata(mount.at("acme/api@release%2F1/VERSION")) {
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => break,
            other => assert!(
                started.elapsed() < Duration::from_secs(10),
                "a deleted branch is still shown: {other:?}"
            ),
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(!mount.at("acme/api@release%2F1").exists());
    assert_eq!(read("acme/api/VERSION"), "3\n");
    mount.unmount();
}

#[test]
fn xattrs_name_the_object_and_its_page() {
    require_fuse!();
    let hub = Hub::new();
    let mut r = repo::create(hub.path(), "acme", "api").unwrap();
    let commit = r.write("src/lib.py", "x = 1\n").commit("c").unwrap();
    let mount = TestMount::new(hub.cli(), &[]);
    let script = "import os,sys\nfor p in sys.argv[1:]:\n    print(os.getxattr(p,'user.heimdall.sha').decode(), os.getxattr(p,'user.heimdall.url').decode())";
    let out = run(Command::new("python3")
        .args(["-c", script])
        .arg(mount.at("acme/api/src/lib.py"))
        .arg(mount.at("acme/api/src")));
    let lines: Vec<&str> = out.lines().collect();
    let blob = heimdall::oid::blob_sha(b"x = 1\n").to_hex();
    assert!(lines[0].starts_with(&format!("{blob} ")), "{out}");
    assert!(
        lines[0].ends_with(&format!("/acme/api/blob/{commit}/src/lib.py")),
        "{out}"
    );
    assert!(
        lines[1].ends_with(&format!("/acme/api/tree/{commit}/src")),
        "{out}"
    );
    mount.unmount();
}

/// A small Python project with real lint and type findings.
fn python_repo(hub: &Hub, name: &str, files: usize) -> String {
    let mut r = repo::create(hub.path(), "acme", name).unwrap();
    r.write(
        "pyproject.toml",
        "[project]\nname = \"demo\"\nversion = \"0.1.0\"\n\n[tool.ruff]\nline-length = 100\n\n[tool.ruff.lint]\nselect = [\"E\", \"F\", \"W\"]\n",
    );
    for i in 0..files {
        let body = if i % 7 == 0 {
            format!(
                "import os\nimport sys\n\n\ndef f{i}(x: int) -> str:\n    unused = 1\n    return x\n"
            )
        } else {
            format!("def f{i}(x: int) -> int:\n    return x + {i}\n")
        };
        r.write(format!("src/demo/pkg{}/m{i}.py", i % 13), body);
    }
    for p in 0..13 {
        r.empty_file(format!("src/demo/pkg{p}/__init__.py"));
    }
    r.empty_file("src/demo/__init__.py");
    r.commit("python").unwrap()
}

#[test]
fn real_tools_agree_with_a_checkout() {
    require_fuse!();
    let hub = Hub::new();
    let sha = python_repo(&hub, "api", 40);
    let mut other = repo::create(hub.path(), "acme", "web").unwrap();
    other
        .write("pyproject.toml", "[project]\nname='web'\n")
        .commit("c")
        .unwrap();
    let mut plain = repo::create(hub.path(), "acme", "docs").unwrap();
    plain.write("README.md", "docs\n").commit("c").unwrap();
    let mount = TestMount::new(hub.cli(), &["--org", "acme"]);
    let work = tempfile::tempdir().unwrap();
    let checkout = work.path().join("api");
    clone(&hub, "acme", "api", &sha, &checkout);
    let mounted = mount.at("acme/api");

    // The tools as people type them: their caches on, written into the working copy.
    let ruff = |root: &Path| {
        tool_output(
            Command::new("ruff").args(["check", "--output-format", "concise", "."]),
            root,
        )
    };
    let local = ruff(&checkout);
    assert!(
        local.contains("F401") && local.contains("F841"),
        "the project has findings: {local}"
    );
    assert_eq!(ruff(&mounted), local);
    assert_eq!(ruff(&mounted), local, "the second run, from ruff's cache");
    assert!(mounted.join(".ruff_cache/CACHEDIR.TAG").is_file());

    let mypy = |root: &Path| {
        tool_output(
            Command::new("mypy")
                .args(["--no-error-summary", "src"])
                .env("MYPYPATH", "src"),
            root,
        )
    };
    let local = mypy(&checkout);
    assert!(
        local.contains("Incompatible return value"),
        "mypy finds the type errors: {local}"
    );
    assert_eq!(mypy(&mounted), local);
    assert_eq!(mypy(&mounted), local, "the second run, from mypy's cache");
    assert!(mounted.join(".mypy_cache").is_dir());

    let rg = |root: &Path| {
        let mut lines: Vec<String> = tool_output(
            Command::new("rg").args(["-n", "--sort", "path", "unused = 1"]),
            root,
        )
        .lines()
        .map(str::to_string)
        .collect();
        lines.sort();
        lines
    };
    assert_eq!(rg(&mounted), rg(&checkout));
    let find = |root: &Path| {
        let mut lines: Vec<String> = run(Command::new("find")
            .arg(".")
            .args(["-name", "*.py"])
            .current_dir(root))
        .lines()
        .map(str::to_string)
        .collect();
        lines.sort();
        lines
    };
    assert_eq!(find(&mounted), find(&checkout));

    // A glob across the org finds exactly the repos that have the file.
    let script = format!(
        "import glob; print(sorted(p.split('/')[-2] for p in glob.glob('{}/acme/*/pyproject.toml')))",
        mount.path().display()
    );
    let found = run(Command::new("python3").args(["-c", &script]));
    assert_eq!(found.trim(), "['api', 'web']");
    mount.unmount();
}

#[test]
fn a_cold_ruff_run_costs_a_handful_of_requests() {
    require_fuse!();
    let hub = Hub::new();
    python_repo(&hub, "big", 2000);
    // The read path alone: a read-only mount, and ruff without its cache (the one test
    // that turns a tool's cache off: what it measures is what reading costs).
    let cli = hub.cli();
    let rest = cli.is_rest();
    let mount = TestMount::new(cli, &["--org", "acme", "--read-only"]);
    hub.hub.reset_stats();
    let root = mount.at("acme/big");
    let cold = tool_output(
        Command::new("ruff").args(["check", "--no-cache", "--output-format", "concise", "."]),
        &root,
    );
    // API requests (rate-limited): resolve the branch, its commit, its tree, and over
    // REST the pyproject.toml ruff reads before walking and the tarball redirect.
    let stats = hub.hub.stats();
    assert!(
        stats.counted <= if rest { 5 } else { 3 },
        "cold ruff over 2,000 files: {stats:?}\n{}",
        mount.log()
    );
    if rest {
        // Plus the archive download itself, which GitHub serves from codeload without
        // counting it.
        assert!(stats.requests <= 6, "{stats:?}\n{}", mount.log());
        assert!(
            stats.route("blob") <= 1,
            "hydrated as one tarball: {stats:?}"
        );
        assert_eq!(stats.route("codeload"), 1, "{stats:?}");
    } else {
        // Over git: no blob request at all, and about one fetch per directory ruff reads
        // (a miss brings its directory's files of the same kind along), not one per file.
        assert_eq!(
            stats.route("blob") + stats.route("codeload"),
            0,
            "{stats:?}"
        );
        assert!(
            stats.git_fetches("objects") <= 40,
            "batched fetches, not one per file: {stats:?}\n{}",
            mount.log()
        );
        // The other git requests: the ref, the commit and one round of `ls-refs` for
        // the names ruff probes for up the tree (asked together, see README).
        let probes = heimdall::namespace::probes::probed_names().len() as u64;
        assert!(
            stats.route("git_http") <= stats.git_fetches("objects") + 2 + probes,
            "{stats:?}\n{}",
            mount.log()
        );
    }
    hub.hub.reset_stats();
    let warm = tool_output(
        Command::new("ruff").args(["check", "--no-cache", "--output-format", "concise", "."]),
        &root,
    );
    assert_eq!(warm, cold);
    assert_eq!(
        hub.hub.stats().requests,
        0,
        "a second run is served locally"
    );
    assert!(cold.contains("F401"));
    mount.unmount();
}

#[test]
fn concurrent_readers_get_correct_bytes_and_unmount_under_load_is_clean() {
    require_fuse!();
    let hub = Hub::new();
    let mut r = repo::create(hub.path(), "acme", "data").unwrap();
    let mut expected = Vec::new();
    for i in 0..300u64 {
        let path = format!("d{}/f{i}.bin", i % 10);
        r.large_file(&path, 1000 + i * 373, i);
        expected.push(path);
    }
    let commit = r.commit("data").unwrap();
    let work = tempfile::tempdir().unwrap();
    let checkout = work.path().join("data");
    clone(&hub, "acme", "data", &commit, &checkout);
    hub.hub.set_latency(Duration::from_millis(5));
    let mount = TestMount::new(hub.cli(), &["--hydrate-threshold", "0"]);
    let root = mount.at("acme/data");
    std::thread::scope(|scope| {
        for reader in 0..32u64 {
            let (root, checkout, expected) = (&root, &checkout, &expected);
            scope.spawn(move || {
                for k in 0..40u64 {
                    let path =
                        &expected[((reader * 7919 + k * 104729) % expected.len() as u64) as usize];
                    let got = std::fs::read(root.join(path)).unwrap();
                    assert_eq!(got, std::fs::read(checkout.join(path)).unwrap(), "{path}");
                }
            });
        }
    });
    // Several readers of the same missing blob cause one fetch.
    let stats = hub.hub.stats();
    assert!(stats.route("blob") <= expected.len() as u64, "{stats:?}");

    // Unmount while readers are busy: no stuck mount, the server exits.
    let stop = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|scope| {
        for reader in 0..8usize {
            let (root, expected, stop) = (&root, &expected, &stop);
            scope.spawn(move || {
                let mut i = reader;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let _ = std::fs::read(root.join(&expected[i % expected.len()]));
                    i += 13;
                }
            });
        }
        std::thread::sleep(Duration::from_millis(300));
        let out = Command::new("fusermount3")
            .arg("-uz")
            .arg(mount.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
    });
    let started = Instant::now();
    while mount.server_alive() && started.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!mount.is_mounted(), "no stuck mount");
    assert!(!mount.server_alive(), "the server exits once unmounted");
}

#[test]
fn unknown_names_are_enoent_and_owners_are_looked_up() {
    require_fuse!();
    let hub = Hub::new();
    let mut r = repo::create(hub.path(), "acme", "api").unwrap();
    r.write("a", "b").commit("c").unwrap();
    let mut r = repo::create(hub.path(), "other", "tool").unwrap();
    r.write("x", "y").commit("c").unwrap();
    repo::create_empty(hub.path(), "acme", "empty").unwrap();
    let mount = TestMount::new(hub.cli(), &["--org", "acme"]);
    let names = |rel: &str| -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(mount.at(rel))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    };
    // The control tree sits beside the owners.
    assert_eq!(names(""), [".patterns", ".status", "acme"]);
    assert!(!mount.at("no-such-owner").exists());
    assert!(!mount.at(".Trash").exists());
    assert!(mount.at("acme/nope").metadata().is_err());
    // Looking an owner up adds it to the root listing.
    assert_eq!(names("other"), ["tool"]);
    assert_eq!(names(""), [".patterns", ".status", "acme", "other"]);
    // An empty repository is an empty directory.
    assert!(names("acme/empty").is_empty());
    mount.unmount();
}

fn status_json(mount: &TestMount) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(mount.at(".status/mount.json")).unwrap()).unwrap()
}

fn request_count(status: &serde_json::Value, kind: &str) -> u64 {
    status["requests"][kind].as_u64().unwrap()
}

#[test]
fn warm_opens_and_reads_never_reach_heimdall_in_page_cache_mode() {
    require_fuse!();
    let hub = Hub::new();
    python_repo(&hub, "api", 40);
    let mount = TestMount::new(hub.cli(), &["--org", "acme"]);
    let root = mount.at("acme/api");
    let files: Vec<_> = (0..40)
        .map(|i| root.join(format!("src/demo/pkg{}/m{i}.py", i % 13)))
        .collect();
    let cold: Vec<Vec<u8>> = files.iter().map(|f| std::fs::read(f).unwrap()).collect();
    let list = |dir: &Path| std::fs::read_dir(dir).unwrap().count();
    assert_eq!(list(&root.join("src/demo/pkg0")), 5);

    let before = status_json(&mount);
    assert_eq!(before["open_mode"], "page-cache");
    for _ in 0..3 {
        for (file, bytes) in files.iter().zip(&cold) {
            assert_eq!(&std::fs::read(file).unwrap(), bytes);
        }
        assert_eq!(list(&root.join("src/demo/pkg0")), 5);
    }
    let after = status_json(&mount);
    assert_eq!(
        request_count(&after, "open"),
        request_count(&before, "open"),
        "120 warm opens sent no OPEN"
    );
    // The one READ is of the status file itself (a new snapshot inode).
    assert!(
        request_count(&after, "read") - request_count(&before, "read") <= 1,
        "warm reads come from the page cache: {before} -> {after}"
    );
    assert_eq!(
        request_count(&after, "readdir"),
        request_count(&before, "readdir"),
        "a directory under a commit is listed once"
    );

    // Control files are never stale: a new read sees new content, while a file opened
    // before keeps reading its own complete snapshot.
    use std::io::Read;
    let mut held = std::fs::File::open(mount.at(".status/mount.json")).unwrap();
    let mut first = Vec::new();
    held.read_to_end(&mut first).unwrap();
    let first: serde_json::Value = serde_json::from_slice(&first).unwrap();
    std::fs::read(root.join("pyproject.toml")).unwrap();
    let later = status_json(&mount);
    assert!(
        request_count(&later, "lookup") > request_count(&first, "lookup"),
        "{first} -> {later}"
    );
    use std::io::Seek;
    held.rewind().unwrap();
    let mut again = Vec::new();
    held.read_to_end(&mut again).unwrap();
    let again: serde_json::Value = serde_json::from_slice(&again).unwrap();
    assert_eq!(again, first, "an open control file keeps its own snapshot");
    drop(held);
    mount.unmount();
}

#[test]
fn passthrough_mode_serves_the_same_tree() {
    require_fuse!();
    let hub = Hub::new();
    let mut r = repo::create(hub.path(), "acme", "kit").unwrap();
    let sha = r
        .write("README.md", "# kit\n")
        .write("src/a/b.py", "x = 1\n")
        .executable("bin/run", "#!/bin/sh\n")
        .symlink("link", "src/a/b.py")
        .empty_file("empty")
        .large_file("data/big.bin", 3 << 20, 7)
        .commit("kit")
        .unwrap();
    let mount = TestMount::new(hub.cli(), &["--org", "acme", "--passthrough"]);
    let work = tempfile::tempdir().unwrap();
    let checkout = work.path().join("kit");
    clone(&hub, "acme", "kit", &sha, &checkout);
    // Twice: the second pass opens files whose backing file is already registered.
    assert_same_tree(&checkout, &mount.at("acme/kit"));
    assert_same_tree(&checkout, &mount.at("acme/kit"));
    let status = status_json(&mount);
    if mount.log().contains("does not offer FUSE passthrough") {
        eprintln!("this kernel has no FUSE passthrough; checked the fallback reads only");
        assert_eq!(status["open_mode"], "page-cache");
    } else {
        assert_eq!(status["open_mode"], "passthrough");
        // In this mode every open is a request; reads go to the backing file.
        assert!(request_count(&status, "open") >= 10, "{status}");
        assert!(
            request_count(&status, "read_bytes") < 3 << 20,
            "the big file was read by the kernel from the store: {status}"
        );
    }
    mount.unmount();
}

#[test]
fn reads_through_the_mount_count_as_accesses_for_eviction() {
    require_fuse!();
    let hub = Hub::new();
    let mut r = repo::create(hub.path(), "acme", "api").unwrap();
    r.write("a.txt", "a".repeat(1000))
        .write("b.txt", "b".repeat(1000))
        .commit("c")
        .unwrap();
    // Loose objects, evicted one by one (packs are evicted whole: tests/git_transport.rs).
    let cli = hub.cli().rest();
    // a is stored first, then b: by storage time, a would be evicted first.
    cli.ok(&["cat", "acme/api/a.txt"]);
    std::thread::sleep(Duration::from_millis(1100));
    cli.ok(&["cat", "acme/api/b.txt"]);
    std::thread::sleep(Duration::from_millis(1100));
    let mount = TestMount::new(cli, &["--org", "acme"]);
    assert_eq!(
        std::fs::read(mount.at("acme/api/a.txt")).unwrap(),
        "a".repeat(1000).as_bytes()
    );
    // Unmounting writes the access times of what was read.
    mount.unmount();
    let report: serde_json::Value =
        serde_json::from_slice(
            &mount
                .cli
                .ok(&["cache", "gc", "--max-size", "1500", "--json"]),
        )
        .unwrap();
    assert_eq!(report["evicted"], 1, "{report}");
    let object = |content: &str| {
        let sha = heimdall::oid::blob_sha(content.as_bytes()).to_hex();
        mount
            .cli
            .cache_dir()
            .join("objects-v1")
            .join(&sha[..2])
            .join(sha)
    };
    assert!(
        object(&"a".repeat(1000)).exists(),
        "read through the mount: kept"
    );
    assert!(
        !object(&"b".repeat(1000)).exists(),
        "least recently read: evicted"
    );
}

#[test]
fn the_daemon_serves_the_mount_and_brings_it_back_after_kill_9() {
    require_fuse!();
    let hub = Hub::new();
    let mut r = repo::create(hub.path(), "acme", "api").unwrap();
    r.write("README.md", "# api\n").commit("c").unwrap();
    let mount = TestMount::new(hub.cli(), &["--org", "acme", "--ref-ttl", "5s"]);
    assert_eq!(
        std::fs::read(mount.at("acme/api/README.md")).unwrap(),
        b"# api\n"
    );
    let status: serde_json::Value =
        serde_json::from_slice(&mount.cli.ok(&["daemon", "status"])).unwrap();
    assert_eq!(status["pid"], mount.pid, "{status}");
    assert_eq!(
        status["mounts"][0],
        mount.path().to_str().unwrap(),
        "{status}"
    );

    unsafe { libc::kill(mount.pid as i32, libc::SIGKILL) };
    let started = Instant::now();
    while mount.server_alive() {
        assert!(started.elapsed() < Duration::from_secs(10));
        std::thread::sleep(Duration::from_millis(50));
    }
    // Anything not in the kernel's caches now fails: the server is gone.
    let dead = std::fs::read_dir(mount.path()).unwrap_err();
    assert!(
        matches!(
            dead.raw_os_error(),
            Some(libc::ENOTCONN | libc::ECONNABORTED)
        ),
        "{dead}"
    );
    // The next command's daemon detaches the dead mount and mounts it again.
    mount.cli.ok(&["allocated", "list"]);
    assert_eq!(
        std::fs::read(mount.at("acme/api/README.md")).unwrap(),
        b"# api\n"
    );
    let status: serde_json::Value =
        serde_json::from_slice(&mount.cli.ok(&["daemon", "status"])).unwrap();
    assert_ne!(status["pid"], mount.pid);
    let mounts = std::fs::read_to_string("/proc/mounts").unwrap();
    assert_eq!(
        mounts
            .lines()
            .filter(|l| l.split(' ').nth(1) == mount.path().to_str())
            .count(),
        1,
        "{mounts}"
    );
    // Unmounting from outside: the daemon notices, has nothing left, and exits.
    let pid = status["pid"].as_i64().unwrap() as i32;
    let out = mount.cli.run(&["unmount", mount.path().to_str().unwrap()]);
    assert!(out.status.success());
    let started = Instant::now();
    while unsafe { libc::kill(pid, 0) } == 0 {
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "the idle daemon exits"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn stalled_and_corrupt_downloads_fail_a_read_in_bounded_time_and_the_next_read_retries() {
    require_fuse!();
    let hub = Hub::new();
    let mut r = repo::create(hub.path(), "acme", "api").unwrap();
    // Apart, with their own extensions: reading one prefetches nothing of the other.
    r.write("slow/slow.s", "slow\n")
        .write("bad/bad.b", "bad\n")
        .commit("c")
        .unwrap();
    let mut cli = hub.cli();
    cli.extra_env
        .push(("HEIMDALL_READ_TIMEOUT_MS".into(), "300".into()));
    let route = if cli.is_rest() { "blob" } else { "git_http" };
    let mount = TestMount::new(cli, &["--org", "acme"]);
    // Resolve and list first, so only blob downloads meet the faults.
    assert_eq!(std::fs::read_dir(mount.at("acme/api")).unwrap().count(), 2);

    // (A git endpoint that does not answer is asked of REST for that read: both stall.)
    for route in [route, "blob"] {
        hub.hub.inject(
            fakehub::Fault::stall(Duration::from_secs(600))
                .on_route(route)
                .always(),
        );
    }
    let started = Instant::now();
    let err = std::fs::read(mount.at("acme/api/slow/slow.s")).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EIO), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "a stalled download fails in bounded time: {:?}",
        started.elapsed()
    );
    hub.hub.clear_faults();
    assert_eq!(
        std::fs::read(mount.at("acme/api/slow/slow.s")).unwrap(),
        b"slow\n"
    );

    // Bytes that do not match their SHA: EIO, nothing stored, and the next read retries.
    hub.hub
        .inject(fakehub::Fault::corrupt().on_route(route).always());
    let err = std::fs::read(mount.at("acme/api/bad/bad.b")).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EIO), "{err}");
    let stored = || -> u64 {
        let stats: serde_json::Value =
            serde_json::from_slice(&mount.cli.ok(&["cache", "stats", "--json"])).unwrap();
        stats["objects"].as_u64().unwrap()
    };
    assert_eq!(stored(), 1, "nothing stored but slow.txt");
    hub.hub.clear_faults();
    assert_eq!(
        std::fs::read(mount.at("acme/api/bad/bad.b")).unwrap(),
        b"bad\n"
    );
    assert_eq!(stored(), 2);
    mount.unmount();
}

#[test]
fn with_github_unreachable_the_mount_serves_what_it_has_and_says_offline() {
    require_fuse!();
    let hub = Hub::new();
    let mut r = repo::create(hub.path(), "acme", "api").unwrap();
    // Apart, with their own extensions: reading one prefetches nothing of the other.
    r.write("a/a.a", "cached\n")
        .write("b/b.b", "not yet\n")
        .commit("c")
        .unwrap();
    let mut cli = hub.cli();
    cli.extra_env
        .push(("HEIMDALL_READ_TIMEOUT_MS".into(), "300".into()));
    let mount = TestMount::new(cli, &["--org", "acme", "--ref-ttl", "1s"]);
    assert_eq!(
        std::fs::read(mount.at("acme/api/a/a.a")).unwrap(),
        b"cached\n"
    );
    assert_eq!(status_json(&mount)["offline"], false);

    // Every request now dies: the branch cannot be re-resolved once its TTL is over.
    hub.hub.inject(fakehub::Fault::drop_connection().always());
    std::thread::sleep(Duration::from_millis(1500));
    let names: Vec<String> = std::fs::read_dir(mount.at("acme/api"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 2, "the last known commit is served: {names:?}");
    assert_eq!(
        std::fs::read(mount.at("acme/api/a/a.a")).unwrap(),
        b"cached\n"
    );
    let started = Instant::now();
    let err = std::fs::read(mount.at("acme/api/b/b.b")).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EIO), "{err}");
    assert!(started.elapsed() < Duration::from_secs(20));
    assert_eq!(status_json(&mount)["offline"], true);

    hub.hub.clear_faults();
    assert_eq!(
        std::fs::read(mount.at("acme/api/b/b.b")).unwrap(),
        b"not yet\n"
    );
    assert_eq!(status_json(&mount)["offline"], false);
    mount.unmount();
}

fn stored_objects(cache: &Path) -> usize {
    std::fs::read_dir(cache.join("objects-v1"))
        .map(|dirs| {
            dirs.flatten()
                .filter_map(|d| std::fs::read_dir(d.path()).ok())
                .flat_map(|files| files.flatten())
                .filter(|f| !f.file_name().to_string_lossy().starts_with(".tmp-"))
                .count()
        })
        .unwrap_or(0)
}

#[test]
fn kill_9_of_the_daemon_mid_hydration_leaves_nothing_corrupt() {
    require_fuse!();
    let hub = Hub::new();
    python_repo(&hub, "big", 4000);
    // Tarball hydration is the REST path's (over git a mount never fetches a whole
    // commit; tests/git_transport.rs kills the daemon mid-fetch).
    let mount = TestMount::new(hub.cli().rest(), &["--org", "acme"]);
    let root = mount.at("acme/big");
    // A reader walking and reading everything: it makes the daemon hydrate from a tarball.
    let mut reader = Command::new("sh")
        .arg("-c")
        .arg("find . -type f -exec cat {} + >/dev/null 2>&1")
        .current_dir(&root)
        .spawn()
        .unwrap();
    let cache = mount.cli.cache_dir();
    let started = Instant::now();
    while stored_objects(&cache) < 200 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "hydration did not start"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    unsafe { libc::kill(mount.pid as i32, libc::SIGKILL) };
    let partial = stored_objects(&cache);
    let _ = reader.kill();
    let _ = reader.wait();
    assert!(
        partial < 4000,
        "killed mid-hydration: {partial} objects stored"
    );

    // A new daemon (started by this command) restores the mount; nothing stored is
    // corrupt and the index opens.
    let report: serde_json::Value =
        serde_json::from_slice(&mount.cli.ok(&["cache", "verify", "--json"])).unwrap();
    assert_eq!(report["corrupt"].as_array().unwrap().len(), 0, "{report}");
    assert!(
        report["verified"].as_u64().unwrap() >= partial as u64 - 1,
        "{report}"
    );
    mount.cli.ok(&["allocated", "list"]);
    let text = tool_output(
        Command::new("sh").args(["-c", "cat src/demo/pkg0/m0.py"]),
        &root,
    );
    assert!(text.contains("def f0"), "{text}");
    mount.unmount();
}

#[test]
fn kill_9_of_the_daemon_during_tree_fetches_leaves_the_index_whole() {
    require_fuse!();
    let hub = Hub::new();
    let names = ["t0", "t1", "t2", "t3"];
    let mut expected = Vec::new();
    for name in names {
        python_repo(&hub, name, 1500);
        let r = repo::open(hub.path(), "acme", name).unwrap();
        let out = run(Command::new("git").arg("-C").arg(r.git_dir()).args([
            "ls-tree",
            "-r",
            "-t",
            "--name-only",
            "HEAD",
        ]));
        expected.push(out.lines().count());
    }
    // Slow trees, so kills land in the middle of fetching, parsing and storing them.
    hub.hub
        .set_latency_jitter(Duration::from_millis(20), Duration::from_millis(200));
    let mount = TestMount::new(hub.cli(), &["--org", "acme"]);
    let daemon_pid = |mount: &TestMount| -> i32 {
        let status: serde_json::Value =
            serde_json::from_slice(&mount.cli.ok(&["daemon", "status"])).unwrap();
        status["pid"].as_i64().unwrap() as i32
    };
    let mut pid = mount.pid as i32;
    for (i, name) in names.iter().enumerate() {
        let mut walker = Command::new("find")
            .arg(mount.at(&format!("acme/{name}")))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(50 + 120 * i as u64));
        unsafe { libc::kill(pid, libc::SIGKILL) };
        let _ = walker.wait();
        // The index opens and nothing stored is corrupt; the next command's daemon
        // brings the mount back.
        let report: serde_json::Value =
            serde_json::from_slice(&mount.cli.ok(&["cache", "verify", "--json"])).unwrap();
        assert_eq!(report["index"], "ok", "{report}");
        assert_eq!(report["corrupt"].as_array().unwrap().len(), 0, "{report}");
        mount.cli.ok(&["allocated", "list"]);
        pid = daemon_pid(&mount);
    }
    hub.hub.set_latency(Duration::ZERO);
    for (name, count) in names.iter().zip(&expected) {
        let listed = run(Command::new("find")
            .arg(".")
            .arg("-mindepth")
            .arg("1")
            .current_dir(mount.at(&format!("acme/{name}"))));
        assert_eq!(
            listed.lines().count(),
            *count,
            "acme/{name} after the kills"
        );
    }
    mount.unmount();
}

#[test]
fn injected_faults_are_survived_or_fail_fast_through_the_mount() {
    require_fuse!();
    use fakehub::Fault;
    let hub = Hub::new();
    let mut r = repo::create(hub.path(), "acme", "api").unwrap();
    let faults = [
        ("500", Fault::status(500).times(2)),
        ("502", Fault::status(502).times(2)),
        ("503", Fault::status(503).times(2)),
        ("dropped", Fault::drop_connection().times(2)),
        ("cut-off", Fault::truncate().times(2)),
        ("secondary-limit", Fault::secondary_rate_limit(1).times(2)),
        ("corrupt", Fault::corrupt().times(2)),
        ("stalled", Fault::stall(Duration::from_secs(4))),
    ];
    let content = |name: &str| -> Vec<u8> {
        (0..40_000u32)
            .flat_map(|i| format!("{name} {i}\n").into_bytes())
            .collect()
    };
    // Each file alone in its directory with its own extension: no read prefetches another
    // (over git a miss brings its directory's files and its kind along), so every fault
    // meets a fetch.
    for (name, _) in &faults {
        r.write(format!("{name}/data.{name}"), content(name));
    }
    r.write("primary-limit/data.primary", content("primary-limit"))
        .write("down/data.down", content("down"))
        .commit("c")
        .unwrap();
    let mut cli = hub.cli();
    // A stalled response is given up after 1 s and retried.
    cli.extra_env
        .push(("HEIMDALL_READ_TIMEOUT_MS".into(), "1000".into()));
    let route = if cli.is_rest() { "blob" } else { "git_http" };
    let mount = TestMount::new(cli, &[]);
    assert_eq!(std::fs::read_dir(mount.at("acme/api")).unwrap().count(), 10);
    let mut survived = Vec::new();
    for (name, fault) in faults {
        hub.hub.inject(fault.on_route(route));
        let started = Instant::now();
        let bytes = std::fs::read(mount.at(&format!("acme/api/{name}/data.{name}")))
            .unwrap_or_else(|e| panic!("{name}: {e}\n{}", mount.log()));
        assert!(bytes == content(name), "{name}: wrong bytes");
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{name}: {:?}",
            started.elapsed()
        );
        survived.push(name);
        hub.hub.clear_faults();
    }
    // An exhausted primary budget is waited out until its reset.
    hub.hub.set_rate_limit(1, Duration::from_secs(3));
    let started = Instant::now();
    assert!(
        std::fs::read(mount.at("acme/api/primary-limit/data.primary")).unwrap()
            == content("primary-limit")
    );
    assert!(started.elapsed() < Duration::from_secs(20));
    hub.hub.set_rate_limit(5000, Duration::from_secs(3600));
    // A blob GitHub keeps failing: EIO within bounded retries, and the next read, once
    // GitHub answers again, succeeds.
    hub.hub.inject(Fault::status(500).on_route(route).always());
    let started = Instant::now();
    let err = std::fs::read(mount.at("acme/api/down/data.down")).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EIO), "{err}");
    assert!(started.elapsed() < Duration::from_secs(20));
    hub.hub.clear_faults();
    assert!(std::fs::read(mount.at("acme/api/down/data.down")).unwrap() == content("down"));
    assert_eq!(survived.len(), 8);
    mount.unmount();
}

#[test]
fn a_full_cache_disk_fails_new_reads_with_enospc_and_keeps_serving_what_is_cached() {
    require_fuse!();
    let hub = Hub::new();
    let mut r = repo::create(hub.path(), "acme", "api").unwrap();
    r.write("small.txt", "small\n")
        .write("other/other.dat", "other\n")
        .large_file("big.bin", 6 << 20, 3)
        .commit("c")
        .unwrap();
    let cli = hub.cli();
    let Some(_disk) = common::SmallDisk::mount(&cli.cache_dir(), "2m") else {
        assert!(std::env::var_os("CI").is_none(), "CI runs as root");
        eprintln!("skipping: mounting a tmpfs needs root");
        return;
    };
    let mount = TestMount::new(cli, &[]);
    assert_eq!(
        std::fs::read_to_string(mount.at("acme/api/small.txt")).unwrap(),
        "small\n"
    );
    // A blob bigger than the disk: ENOSPC ("No space left on device"), a log line, nothing
    // partial stored.
    let started = Instant::now();
    let err = std::fs::read(mount.at("acme/api/big.bin")).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::ENOSPC), "{err}");
    assert!(started.elapsed() < Duration::from_secs(30));
    let objects = mount.cli.cache_dir().join("objects-v1");
    let big: Vec<_> = std::fs::read_dir(&objects)
        .unwrap()
        .flatten()
        .flat_map(|d| std::fs::read_dir(d.path()).unwrap().flatten())
        .filter(|f| f.metadata().unwrap().len() > 1 << 20)
        .map(|f| f.path())
        .collect();
    assert!(big.is_empty(), "partial objects: {big:?}");
    // Completely full: cached files still read; new ones fail; space freed, they work.
    let filler = mount.cli.cache_dir().join("filler");
    let _ = Command::new("dd")
        .args(["if=/dev/zero", "bs=4k", "count=100000"])
        .arg(format!("of={}", filler.display()))
        .stderr(std::process::Stdio::null())
        .status();
    assert_eq!(
        std::fs::read_to_string(mount.at("acme/api/small.txt")).unwrap(),
        "small\n"
    );
    let err = std::fs::read(mount.at("acme/api/other/other.dat")).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::ENOSPC), "{err}");
    std::fs::remove_file(&filler).unwrap();
    assert_eq!(
        std::fs::read_to_string(mount.at("acme/api/other/other.dat")).unwrap(),
        "other\n"
    );
    assert!(
        mount.log().contains("No space left on device"),
        "{}",
        mount.log()
    );
    let report: serde_json::Value =
        serde_json::from_slice(&mount.cli.ok(&["cache", "verify", "--json"])).unwrap();
    assert_eq!(report["corrupt"].as_array().unwrap().len(), 0, "{report}");
    assert_eq!(report["index"], "ok", "{report}");
    mount.unmount();
}

/// READDIRPLUS: a walk that stats every name (`find -printf %s`) is answered by the
/// listings, not a lookup per name; listing an owner resolves none of its repositories;
/// control files listed this way still show their real content and size.
#[test]
fn a_walk_gets_its_names_with_the_listings() {
    require_fuse!();
    let hub = Hub::new();
    python_repo(&hub, "api", 300);
    for name in ["web", "docs"] {
        let mut r = repo::create(hub.path(), "acme", name).unwrap();
        r.write("README.md", "hi\n").commit("c").unwrap();
    }
    // The `--org` listing stays fresh for the whole test (a refreshed one would start
    // resolving every repository in the background, as a plain readdir does).
    let mount = TestMount::new(hub.cli(), &["--org", "acme", "--ref-ttl", "10m"]);
    let root = mount.at("acme/api");

    let sizes = |dir: &Path| {
        let out = run(Command::new("find").arg(dir).args([
            "-not",
            "-path",
            "*/.git*",
            "-printf",
            "%y %s %P\n",
        ]));
        let mut lines: Vec<String> = out
            .lines()
            .filter(|l| !l.starts_with("d "))
            .map(str::to_string)
            .collect();
        lines.sort();
        lines
    };
    let before = status_json(&mount);
    let walked = sizes(&root);
    let after = status_json(&mount);
    let checkout = tempfile::tempdir().unwrap();
    clone(&hub, "acme", "api", "HEAD", checkout.path());
    assert_eq!(
        walked,
        sizes(checkout.path()),
        "types and sizes as a checkout's"
    );
    assert_eq!(walked.len(), 300 + 13 + 1 + 1);
    let lookups = request_count(&after, "lookup") - request_count(&before, "lookup");
    let plus = request_count(&after, "readdirplus") - request_count(&before, "readdirplus");
    assert!(plus >= 15, "every directory listed with its names: {after}");
    // Without READDIRPLUS this walk makes 336 lookups (every name, and the walk's own).
    assert!(
        lookups <= 40,
        "{lookups} lookups for 315 files in 15 directories"
    );

    // An owner's listing names its repositories without resolving any of them; a root
    // resolved already keeps its attributes (the commit's time and 2 + subdirectories
    // links, not a placeholder's).
    let api_meta = std::fs::metadata(&root).unwrap();
    let api_attrs = (api_meta.mtime(), api_meta.nlink());
    let held = std::fs::File::open(&root).unwrap();
    let stats = hub.hub.stats();
    let mut names: Vec<String> = std::fs::read_dir(mount.at("acme"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["api", "docs", "web"]);
    assert_eq!(
        hub.hub.stats(),
        stats,
        "listing an owner asks GitHub nothing"
    );
    // What the kernel keeps for the open root, without asking (a path would look the
    // name up again: the listing's entries expire).
    let cached = {
        use std::os::fd::AsRawFd;
        let mut stx: libc::statx = unsafe { std::mem::zeroed() };
        let rc = unsafe {
            libc::statx(
                held.as_raw_fd(),
                c"".as_ptr(),
                libc::AT_EMPTY_PATH | libc::AT_STATX_DONT_SYNC,
                libc::STATX_BASIC_STATS,
                &mut stx,
            )
        };
        assert_eq!(rc, 0);
        (stx.stx_mtime.tv_sec, u64::from(stx.stx_nlink))
    };
    assert_eq!(cached, api_attrs, "a listed root's cached mtime and links");
    drop(held);
    // ...and they resolve when used.
    assert_eq!(
        std::fs::read_to_string(mount.at("acme/web/README.md")).unwrap(),
        "hi\n"
    );

    // Control files listed with READDIRPLUS: real sizes, fresh content.
    let listed = run(Command::new("ls").arg("-l").arg(mount.at(".status")));
    let line = listed
        .lines()
        .find(|l| l.ends_with("mount.json"))
        .unwrap_or_else(|| panic!("{listed}"));
    let size: u64 = line.split_whitespace().nth(4).unwrap().parse().unwrap();
    assert!(size > 100, "{line}");
    let status = status_json(&mount);
    assert!(request_count(&status, "readdirplus") > plus, "{status}");
    mount.unmount();
}
