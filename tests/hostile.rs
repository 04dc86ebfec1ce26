//! Hostile data from the network, end to end: fakehub serves what a compromised or
//! buggy GitHub could (tree entries that escape their directory, tarballs that lie,
//! bodies that claim gigabytes, bombs in scanned files, huge listings, symlink loops),
//! and Heimdall, through real FUSE mounts and the real CLI, must refuse what is wrong,
//! keep serving what is right, and stay within bounded time, disk and memory.
//!
//! Figures (peak RSS, times) are printed with `--nocapture`:
//! `cargo nextest run --test hostile --no-capture`.

mod common;

use std::collections::BTreeSet;
use std::io::Read;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use common::{Hub, TEST_TOKEN, TestMount};
use fakehub::{Fault, Fill, repo};
use serde_json::{Value, json};
use sha1::{Digest, Sha1};

// ---------------------------------------------------------------------------
// Helpers

fn git(dir: &Path, args: &[&str]) -> String {
    String::from_utf8_lossy(&common::git(dir, args)).into_owned()
}

fn bare(hub: &Hub, owner: &str, name: &str) -> PathBuf {
    hub.path().join(owner).join(format!("{name}.git"))
}

/// git's id of a blob with this content.
fn blob_sha(content: &[u8]) -> String {
    let mut hasher = Sha1::new();
    hasher.update(format!("blob {}\0", content.len()).as_bytes());
    hasher.update(content);
    hex::encode(hasher.finalize())
}

/// A JSON GET against fakehub's API, with the test token.
fn api_get(hub: &Hub, path: &str) -> Value {
    let url = format!("{}{path}", hub.url());
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async move {
            let response = reqwest::Client::new()
                .get(&url)
                .bearer_auth(TEST_TOKEN)
                .header("accept", "application/vnd.github+json")
                .header("user-agent", "heimdall-hostile-test")
                .send()
                .await
                .unwrap();
            assert!(response.status().is_success(), "GET {url}: {response:?}");
            response.json::<Value>().await.unwrap()
        })
}

/// A line of `/proc/<pid>/status` in KiB (`VmRSS`, `VmHWM`: the peak).
fn proc_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} for pid {pid}"))
}

/// A finished child: its output, wall time and peak RSS (from `wait4`'s rusage).
struct Measured {
    status: ExitStatus,
    stdout: Vec<u8>,
    stderr: String,
    elapsed: Duration,
    max_rss_kib: u64,
}

// The child is reaped by `wait4`, which `Child::wait` cannot replace: it alone gives the
// child's rusage (its peak RSS).
#[allow(clippy::zombie_processes)]
fn measured(mut cmd: Command) -> Measured {
    let started = Instant::now();
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawns");
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let out_reader = std::thread::spawn(move || {
        let mut v = Vec::new();
        out.read_to_end(&mut v).unwrap();
        v
    });
    let err_reader = std::thread::spawn(move || {
        let mut v = Vec::new();
        err.read_to_end(&mut v).unwrap();
        v
    });
    let mut raw = 0;
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = child.id() as libc::pid_t;
    let waited = unsafe { libc::wait4(pid, &mut raw, 0, &mut usage) };
    assert_eq!(waited, pid, "wait4");
    let elapsed = started.elapsed();
    Measured {
        status: ExitStatus::from_raw(raw),
        stdout: out_reader.join().unwrap(),
        stderr: String::from_utf8_lossy(&err_reader.join().unwrap()).into_owned(),
        elapsed,
        max_rss_kib: usage.ru_maxrss as u64,
    }
}

/// Bytes of regular files under `dir`.
fn disk_bytes(dir: &Path) -> u64 {
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            match entry.file_type() {
                Ok(t) if t.is_dir() => stack.push(entry.path()),
                Ok(t) if t.is_file() => total += entry.metadata().map(|m| m.len()).unwrap_or(0),
                _ => {}
            }
        }
    }
    total
}

/// Every path under `root` (relative, `/`-separated), files and links only, from
/// directory listings alone (no stat, no read).
fn walk_files(root: &Path) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut stack = vec![(root.to_path_buf(), String::new())];
    while let Some((dir, prefix)) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let entry = entry.unwrap();
            let name = entry.file_name().into_string().unwrap();
            let path = format!("{prefix}{name}");
            if entry.file_type().unwrap().is_dir() {
                stack.push((entry.path(), format!("{path}/")));
            } else {
                out.insert(path);
            }
        }
    }
    out
}

/// `cache verify --json` of this CLI's cache: nothing corrupt.
fn assert_cache_clean(cli: &common::Cli) -> Value {
    let report: Value = serde_json::from_slice(&cli.ok(&["cache", "verify", "--json"])).unwrap();
    assert_eq!(
        report["corrupt"].as_array().map(Vec::len),
        Some(0),
        "{report:#}"
    );
    report
}

fn cache_status(mount: &TestMount) -> Value {
    serde_json::from_slice(&std::fs::read(mount.at(".status/cache.json")).unwrap()).unwrap()
}

/// Reads every file of the tree through the mount and checks it against git.
fn assert_files_match_git(mount: &TestMount, hub: &Hub, owner: &str, name: &str) -> usize {
    let dir = bare(hub, owner, name);
    let listing = git(
        &dir,
        &["ls-tree", "-r", "--format=%(objectmode) %(path)", "HEAD"],
    );
    let mut n = 0;
    for line in listing.lines() {
        let (mode, path) = line.split_once(' ').unwrap();
        let expected = Command::new("git")
            .arg("--git-dir")
            .arg(&dir)
            .args(["cat-file", "blob", &format!("HEAD:{path}")])
            .output()
            .unwrap()
            .stdout;
        let at = mount.at(&format!("{owner}/{name}/{path}"));
        if mode == "120000" {
            let target = std::fs::read_link(&at).unwrap();
            assert_eq!(
                target.as_os_str().as_encoded_bytes(),
                &expected[..],
                "{path}"
            );
        } else {
            let got = std::fs::read(&at).unwrap_or_else(|e| panic!("{path}: {e}"));
            assert!(
                got == expected,
                "{path}: the mount's bytes differ from git's"
            );
        }
        n += 1;
    }
    n
}

// ---------------------------------------------------------------------------
// 1. Tree entries

#[test]
fn hostile_tree_entries_are_refused_logged_and_never_shown() {
    require_fuse!();
    let hub = Hub::new();
    let mut r = repo::create(hub.path(), "acme", "hostile").unwrap();
    r.write("good.txt", "good\n")
        .write("src/lib.rs", "pub fn f() {}\n")
        .write("docs/guide.md", "# guide\n")
        .symlink("docs/link", "../good.txt");
    let commit = r.commit("initial").unwrap();
    let dir = bare(&hub, "acme", "hostile");
    let tree = git(&dir, &["rev-parse", "main^{tree}"]).trim().to_string();
    // Another repository, whose `pkg` tree a duplicate entry will name.
    let mut v = repo::create(hub.path(), "acme", "victim").unwrap();
    v.write("pkg/victim.txt", "victim\n");
    v.commit("initial").unwrap();
    let victim_pkg = git(&bare(&hub, "acme", "victim"), &["rev-parse", "main:pkg"])
        .trim()
        .to_string();
    let evil = blob_sha(b"evil\n");

    // The real recursive listing, plus what git could never store.
    let mut listing = api_get(
        &hub,
        &format!("/repos/acme/hostile/git/trees/{tree}?recursive=1"),
    );
    let real: BTreeSet<String> = listing["tree"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["path"].as_str().unwrap().to_string())
        .collect();
    let blob = |path: &str, mode: &str, kind: &str, sha: &str| {
        json!({"path": path, "mode": mode, "type": kind, "sha": sha, "size": 5,
               "url": "http://example.invalid/x"})
    };
    let long = "x".repeat(256);
    let hostile = [
        blob("..", "100644", "blob", &evil),
        blob(".", "100644", "blob", &evil),
        blob("src/../escape", "100644", "blob", &evil),
        blob("docs/..", "040000", "tree", &tree),
        blob("/etc/passwd", "100644", "blob", &evil),
        blob("src//double", "100644", "blob", &evil),
        blob("nul\0name", "100644", "blob", &evil),
        blob(&long, "100644", "blob", &evil),
        blob("good.txt", "100644", "blob", &evil),
        blob("src", "100644", "blob", &evil),
        // A second `src` directory: refused, it must not claim the children of `src/`.
        blob("src", "040000", "tree", &victim_pkg),
        blob("weird-mode", "100600", "blob", &evil),
        blob("dir-mode", "140000", "blob", &evil),
        blob("bad-sha", "100644", "blob", "../../../../etc/passwd"),
        blob("short-sha", "100644", "blob", "abc123"),
        blob("not-hex-sha", "100644", "blob", &"g".repeat(40)),
        blob("tree-as-blob", "040000", "blob", &evil),
        blob("blob-as-tree", "100644", "tree", &evil),
        blob("link-as-commit", "120000", "commit", &evil),
    ];
    let entries = listing["tree"].as_array_mut().unwrap();
    // After the real entries, so the valid twin of each duplicate comes first.
    entries.extend(hostile.iter().cloned());
    let body = serde_json::to_vec(&listing).unwrap();
    // GitHub answers the same listing whichever tree-ish names it: the tree's id, the
    // commit's, or the ref's name (a mount's first listing asks by `HEAD` beside its
    // `ls-refs`; later ones by commit while the commit object comes over git).
    for tree_ish in [tree.as_str(), commit.as_str(), "HEAD?"] {
        hub.hub.inject(
            Fault::replace_body(body.clone())
                .on_route("tree")
                .path_contains(&format!("/git/trees/{tree_ish}"))
                .always(),
        );
    }

    let mount = TestMount::new(hub.cli(), &["--org", "acme"]);
    let root = mount.at("acme/hostile");
    let shown = walk_files(&root);
    let expected: BTreeSet<String> = ["good.txt", "src/lib.rs", "docs/guide.md", "docs/link"]
        .into_iter()
        .map(String::from)
        .collect();
    assert_eq!(shown, expected, "only the valid entries are shown");
    let top: BTreeSet<String> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    let real_top: BTreeSet<String> = real.iter().filter(|p| !p.contains('/')).cloned().collect();
    assert_eq!(top, real_top);
    assert_eq!(std::fs::read(root.join("good.txt")).unwrap(), b"good\n");
    assert_eq!(
        std::fs::read(root.join("src/lib.rs")).unwrap(),
        b"pub fn f() {}\n"
    );
    assert!(root.join("src").is_dir(), "the valid `src` tree wins");
    assert_eq!(
        std::fs::read_link(root.join("docs/link")).unwrap(),
        Path::new("../good.txt")
    );
    assert_eq!(std::fs::read(root.join("docs/link")).unwrap(), b"good\n");
    for name in [
        "weird-mode",
        "dir-mode",
        "bad-sha",
        "short-sha",
        "tree-as-blob",
    ] {
        let err = std::fs::symlink_metadata(root.join(name)).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::NotFound, "{name}");
    }
    assert!(std::fs::symlink_metadata(root.join("src/escape")).is_err());
    // The refused twin stored nothing under its SHA: the victim's `pkg` is intact.
    let victim: BTreeSet<String> = walk_files(&mount.at("acme/victim"));
    assert_eq!(
        victim,
        BTreeSet::from(["pkg/victim.txt".to_string()]),
        "another repository's tree was poisoned by a refused duplicate"
    );
    assert_eq!(
        std::fs::read(mount.at("acme/victim/pkg/victim.txt")).unwrap(),
        b"victim\n"
    );

    let log = mount.log();
    let refused = log.matches("refused a tree entry").count();
    assert!(
        refused >= hostile.len(),
        "every hostile entry is logged ({refused} of {}):\n{log}",
        hostile.len()
    );
    for reason in ["BadName", "BadMode", "BadSha", "TypeMismatch", "Duplicate"] {
        assert!(log.contains(reason), "no {reason} in the log:\n{log}");
    }
    assert_cache_clean(&mount.cli);
    mount.unmount();
}

// ---------------------------------------------------------------------------
// 2. Tarballs that disagree with the tree

/// A gzipped tar built from raw headers, so paths may hold `..` or start with `/`
/// (the tar crate's helpers refuse both; a hostile server does not).
fn raw_tarball(entries: &[TarEntry]) -> Vec<u8> {
    let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::fast(),
    ));
    for entry in entries {
        let mut header = tar::Header::new_gnu();
        let (kind, content, link): (tar::EntryType, &[u8], Option<&str>) = match entry {
            TarEntry::File(_, content) => (tar::EntryType::Regular, content, None),
            TarEntry::Symlink(_, target) => (tar::EntryType::Symlink, b"", Some(target)),
            TarEntry::Hardlink(_, target) => (tar::EntryType::Link, b"", Some(target)),
        };
        let path = match entry {
            TarEntry::File(p, _) | TarEntry::Symlink(p, _) | TarEntry::Hardlink(p, _) => p,
        };
        header.set_entry_type(kind);
        header.set_size(content.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(1_700_000_000);
        let name = path.as_bytes();
        header.as_old_mut().name[..name.len()].copy_from_slice(name);
        if let Some(target) = link {
            header.as_old_mut().linkname[..target.len()].copy_from_slice(target.as_bytes());
        }
        header.set_cksum();
        builder.append(&header, content).unwrap();
    }
    builder.into_inner().unwrap().finish().unwrap()
}

enum TarEntry {
    File(String, Vec<u8>),
    Symlink(String, String),
    Hardlink(String, String),
}

#[test]
fn a_tarball_that_disagrees_with_the_tree_stores_nothing_wrong() {
    require_fuse!();
    let hub = Hub::new();
    let mut r = repo::create(hub.path(), "acme", "tarred").unwrap();
    for i in 0..8 {
        r.write(format!("f{i}.txt"), format!("right {i}\n"));
    }
    r.write("sub/deep.txt", "deep\n")
        .write("longer.txt", "short\n")
        .symlink("link", "f0.txt")
        .symlink("abs-link", "/etc/hostname");
    let commit = r.commit("initial").unwrap();
    let top = format!("acme-tarred-{}", &commit[..7]);
    // Names unique to this run, so "nothing was written there" means something.
    let tag = format!("heimdall-hostile-{}", std::process::id());
    let outside = std::env::temp_dir().join(format!("{tag}-abs"));
    let file = |p: &str, c: &[u8]| TarEntry::File(p.to_string(), c.to_vec());
    let gz = raw_tarball(&[
        file(&format!("{top}/f0.txt"), b"tampered!\n"),
        file(&format!("{top}/f1.txt"), b"right 1\n"),
        file(&format!("{top}/../../{tag}-escape"), b"evil\n"),
        file(&format!("{top}/sub/../../{tag}-escape2"), b"evil\n"),
        file(outside.to_str().unwrap(), b"evil\n"),
        file(&format!("/{tag}-root"), b"evil\n"),
        file(
            &format!("{top}/longer.txt"),
            b"short\nand then some more bytes\n",
        ),
        // A file of the tree sent as links pointing outside.
        TarEntry::Symlink(format!("{top}/f2.txt"), "/etc/passwd".into()),
        TarEntry::Hardlink(format!("{top}/f3.txt"), "/etc/passwd".into()),
        // A link of the tree sent with another target.
        TarEntry::Symlink(format!("{top}/link"), "../../../etc/shadow".into()),
        // A link of the tree sent as a file holding its target.
        file(&format!("{top}/abs-link"), b"/etc/hostname"),
        // An entry that names the store itself.
        file(&format!("{top}/../objects-v1/{tag}"), b"evil\n"),
    ]);
    hub.hub.inject(
        Fault::replace_body(gz)
            .on_route("codeload")
            .path_contains("/acme/tarred/")
            .always(),
    );

    // Three misses hydrate the commit from the (hostile) tarball.
    let mount = TestMount::new(
        hub.cli().rest(),
        &["--org", "acme", "--hydrate-threshold", "2"],
    );
    let files = assert_files_match_git(&mount, &hub, "acme", "tarred");
    assert_eq!(files, 12);
    let stats = hub.hub.stats();
    assert_eq!(
        stats.route("codeload"),
        1,
        "the tarball was read: {stats:?}"
    );
    let cache = cache_status(&mount);
    assert_eq!(
        cache["hydrations"]["hydrations"].as_u64().unwrap()
            + cache["hydrations"]["failed"].as_u64().unwrap(),
        1,
        "{cache:#}"
    );
    // Only f1.txt (right) and what the tree agrees with may come from the tarball.
    assert!(
        cache["hydrations"]["files_stored"].as_u64().unwrap() <= 1,
        "{cache:#}"
    );

    let report = assert_cache_clean(&mount.cli);
    let objects = mount.cli.cache_dir().join("objects-v1");
    for wrong in [
        &b"tampered!\n"[..],
        b"evil\n",
        b"short\nand then some more bytes\n",
        b"../../../etc/shadow",
        b"/etc/passwd",
    ] {
        let sha = blob_sha(wrong);
        assert!(
            !objects.join(&sha[..2]).join(&sha).exists(),
            "{:?} was stored",
            String::from_utf8_lossy(wrong)
        );
    }
    // Every stored object is a blob of the commit.
    let tree = git(&bare(&hub, "acme", "tarred"), &["ls-tree", "-r", "HEAD"]);
    let known: BTreeSet<&str> = tree
        .lines()
        .map(|l| l.split_whitespace().nth(2).unwrap())
        .collect();
    for d in std::fs::read_dir(&objects).unwrap().flatten() {
        for f in std::fs::read_dir(d.path()).unwrap().flatten() {
            let name = f.file_name().into_string().unwrap();
            assert!(known.contains(name.as_str()), "stray object {name}");
        }
    }
    assert!(report["verified"].as_u64().unwrap() >= 10, "{report:#}");
    for place in [
        std::env::temp_dir(),
        PathBuf::from("/"),
        mount.cli.cache_dir(),
        mount.cli.dir.path().to_path_buf(),
        mount.dir.path().to_path_buf(),
    ] {
        for suffix in ["escape", "escape2", "root"] {
            let p = place.join(format!("{tag}-{suffix}"));
            assert!(!p.exists(), "{} was written", p.display());
        }
    }
    assert!(!outside.exists(), "{} was written", outside.display());
    assert!(common::files_containing(&mount.cli.cache_dir(), b"evil\n").is_empty());
    mount.unmount();
}

// ---------------------------------------------------------------------------
// 3. A tarball announcing 2 GB

/// The raw header of a tar entry `path` announcing `size` bytes.
fn tar_header(path: &str, size: u64) -> Vec<u8> {
    let mut header = tar::Header::new_gnu();
    header.set_path(path).unwrap();
    header.set_size(size);
    header.set_mode(0o644);
    header.set_entry_type(tar::EntryType::Regular);
    header.set_cksum();
    header.as_bytes().to_vec()
}

#[test]
fn a_two_gigabyte_tarball_costs_bounded_time_disk_and_memory() {
    require_fuse!();
    let hub = Hub::new();
    const TWO_GB: u64 = 2 << 30;
    let variants: [(&str, Fault); 4] = [
        ("zeros", Fault::huge_body(TWO_GB, b"", Fill::Zeros, false)),
        (
            "garbage",
            Fault::huge_body(TWO_GB, b"", Fill::Garbage, false),
        ),
        (
            // gzip that inflates to a tar entry not in the tree, announcing 2 GB of zeros.
            "bomb",
            Fault::huge_body(TWO_GB, &tar_header("x/huge.bin", TWO_GB), Fill::Zeros, true),
        ),
        (
            // ... and to an entry of the tree announcing 2 GB of garbage.
            "bomb-known",
            Fault::huge_body(TWO_GB, &tar_header("x/f0.txt", TWO_GB), Fill::Garbage, true),
        ),
    ];
    for (name, fault) in variants {
        let mut r = repo::create(hub.path(), "acme", name).unwrap();
        for i in 0..6 {
            r.write(format!("f{i}.txt"), format!("{name} {i}\n"));
        }
        r.commit("initial").unwrap();
        hub.hub.inject(
            fault
                .on_route("codeload")
                .path_contains(&format!("/acme/{name}/")),
        );
    }
    // A blob and a tree listing that announce 2 GB as well.
    for name in ["fat-blob", "fat-tree"] {
        let mut r = repo::create(hub.path(), "acme", name).unwrap();
        // Content of their own: trees and blobs are shared by SHA across repos.
        r.write("x.txt", format!("{name}\n"))
            .write("dir/y.txt", "y\n");
        r.commit("initial").unwrap();
    }
    hub.hub.inject(
        Fault::huge_body(TWO_GB, b"", Fill::Zeros, false)
            .on_route("blob")
            .path_contains("/acme/fat-blob/")
            .always(),
    );
    hub.hub.inject(
        Fault::huge_body(TWO_GB, b"", Fill::Zeros, false)
            .on_route("tree")
            .path_contains("/acme/fat-tree/")
            .always(),
    );
    // Uncompressed, so the 2 GB Content-Length reaches the client as announced.
    hub.hub.set_gzip(false);
    let mount = TestMount::new(
        hub.cli().rest(),
        &["--org", "acme", "--hydrate-threshold", "2"],
    );
    let started = Instant::now();
    let err = std::fs::read(mount.at("acme/fat-blob/x.txt")).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EIO), "{err}");
    let err = std::fs::read_dir(mount.at("acme/fat-tree"))
        .and_then(|entries| entries.collect::<Result<Vec<_>, _>>())
        .unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EIO), "{err}");
    eprintln!("2 GB blob and tree refused in {:?}", started.elapsed());
    for (name, _) in [("zeros", 0), ("garbage", 0), ("bomb", 0), ("bomb-known", 0)] {
        let one = Instant::now();
        assert_eq!(assert_files_match_git(&mount, &hub, "acme", name), 6);
        eprintln!("{name}: files read in {:?}", one.elapsed());
    }
    let elapsed = started.elapsed();
    let stats = hub.hub.stats();
    assert_eq!(
        stats.route("codeload"),
        4,
        "every hostile tarball was tried"
    );
    let cache = cache_status(&mount);
    assert_eq!(cache["hydrations"]["failed"].as_u64(), Some(4), "{cache:#}");
    let peak = proc_kib(mount.pid, "VmHWM");
    let disk = disk_bytes(&mount.cli.cache_dir());
    eprintln!(
        "2 GB blob, tree and tarballs x4: {elapsed:?}, daemon peak RSS {} MiB, cache {} KiB",
        peak / 1024,
        disk / 1024
    );
    assert!(elapsed < Duration::from_secs(30), "took {elapsed:?}");
    assert!(peak < 200 * 1024, "daemon peak RSS {peak} KiB");
    assert!(disk < 16 << 20, "cache holds {disk} bytes");
    assert!(!mount.log().contains("panicked"), "{}", mount.log());
    assert_cache_clean(&mount.cli);
    mount.unmount();
}

// ---------------------------------------------------------------------------
// 4. A truncated tree of 150,000 entries

#[test]
fn a_truncated_tree_of_150_000_entries_lists_exactly_what_git_has() {
    require_fuse!();
    let hub = Hub::new();
    let built = Instant::now();
    let mut r = repo::create(hub.path(), "acme", "wide").unwrap();
    // 3 top directories x 50 directories x 1,000 files: every listing above 40,000
    // entries comes back truncated, the root's and each top directory's.
    for top in 0..3 {
        for d in 0..50 {
            for f in 0..1000 {
                // One content per directory: every directory is its own tree object
                // (identical directories would share one tree and one listing).
                r.write(
                    format!("t{top}/d{d:02}/f{f:03}.txt"),
                    format!("{top}/{d}\n"),
                );
            }
        }
    }
    r.commit("wide").unwrap();
    eprintln!("built 150,000 files in {:?}", built.elapsed());
    hub.hub.set_truncate_threshold(40_000);

    // No hydration: a walk and a read would fetch all 150,000 files as one tarball.
    let mount = TestMount::new(hub.cli(), &["--org", "acme", "--hydrate-threshold", "0"]);
    let started = Instant::now();
    let shown = walk_files(&mount.at("acme/wide"));
    let elapsed = started.elapsed();
    let listing = git(
        &bare(&hub, "acme", "wide"),
        &["ls-tree", "-r", "--name-only", "HEAD"],
    );
    let expected: BTreeSet<String> = listing.lines().map(String::from).collect();
    assert_eq!(expected.len(), 150_000);
    assert_eq!(shown.len(), expected.len());
    assert!(
        shown == expected,
        "the mount lists what git ls-tree -r does"
    );
    assert_eq!(
        std::fs::read(mount.at("acme/wide/t2/d49/f999.txt")).unwrap(),
        b"2/49\n"
    );
    let stats = hub.hub.stats();
    assert!(
        stats.route("tree") > 150,
        "completed from subtree listings: {stats:?}"
    );
    let (rss, peak) = (proc_kib(mount.pid, "VmRSS"), proc_kib(mount.pid, "VmHWM"));
    eprintln!(
        "150,000 entries: walked in {elapsed:?}, {} tree requests, daemon RSS {} MiB (peak {} MiB)",
        stats.route("tree"),
        rss / 1024,
        peak / 1024
    );
    assert!(peak < 500 * 1024, "daemon peak RSS {peak} KiB");
    mount.unmount();
}

// ---------------------------------------------------------------------------
// 5. A 100 MB blob

#[test]
fn a_100_mb_blob_reads_through_the_mount_with_bounded_memory() {
    require_fuse!();
    let hub = Hub::new();
    const SIZE: u64 = 100 << 20;
    let built = Instant::now();
    let mut r = repo::create(hub.path(), "acme", "big").unwrap();
    // Random bytes do not compress: storing them as they are saves seconds.
    r.git_raw(&["config", "core.compression", "0"]).unwrap();
    r.large_file("big.bin", SIZE, 7)
        .write("small.txt", "small\n");
    r.commit("big").unwrap();
    let expected = git(&bare(&hub, "acme", "big"), &["rev-parse", "HEAD:big.bin"]);
    eprintln!("100 MB blob made in {:?}", built.elapsed());

    let mount = TestMount::new(hub.cli(), &["--org", "acme"]);
    let started = Instant::now();
    let mut file = std::fs::File::open(mount.at("acme/big/big.bin")).unwrap();
    let mut hasher = Sha1::new();
    hasher.update(format!("blob {SIZE}\0").as_bytes());
    let mut buf = vec![0u8; 1 << 20];
    let mut total = 0u64;
    loop {
        let n = file.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        total += n as u64;
    }
    let elapsed = started.elapsed();
    drop(file);
    assert_eq!(total, SIZE);
    assert_eq!(hex::encode(hasher.finalize()), expected.trim());
    let peak = proc_kib(mount.pid, "VmHWM");
    eprintln!(
        "100 MB blob: read in {elapsed:?}, daemon peak RSS {} MiB",
        peak / 1024
    );
    assert!(
        peak < 80 * 1024,
        "the daemon held {peak} KiB: the blob must be streamed, not buffered"
    );
    // One download of the big blob (over git, small.txt may come along in its own
    // batch: a miss brings its directory's small files).
    let stats = hub.hub.stats();
    assert_eq!(
        stats.route("blob") + stats.git_fetches("objects"),
        if mount.cli.is_rest() { 1 } else { 2 },
        "{stats:?}"
    );
    mount.unmount();
}

// ---------------------------------------------------------------------------
// 6. Bombs in scanned files

/// A repository's files: path and content.
type RepoFiles = Vec<(&'static str, Vec<u8>)>;

/// YAML whose aliases expand to 10^9 nodes.
fn billion_laughs() -> String {
    let mut text = String::from(
        "a0: &a0 [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n",
    );
    for level in 1..10 {
        let prev = format!("*a{}", level - 1);
        let refs = [prev.as_str(); 10].join(",");
        text.push_str(&format!("a{level}: &a{level} [{refs}]\n"));
    }
    text.push_str("repos: *a9\n");
    text
}

#[test]
fn scan_org_survives_json_and_yaml_bombs_and_huge_files() {
    let hub = Hub::new();
    let root = hub.path();
    let deep_array = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let deep_object = format!("{}1{}", "{\"a\":".repeat(100_000), "}".repeat(100_000));
    let deep_block: String = (0..5_000)
        .map(|i| format!("{}k:\n", " ".repeat(i)))
        .collect();
    let mut good = repo::create(root, "bombs", "good").unwrap();
    good.write(
        "pyproject.toml",
        "[project]\nname = \"good\"\ndependencies = [\"requests>=2\"]\n",
    )
    .write(
        "package.json",
        "{\"name\": \"good\", \"dependencies\": {\"left-pad\": \"^1.3.0\"}}\n",
    )
    .write(
        ".pre-commit-config.yaml",
        "repos:\n- repo: https://github.com/astral-sh/ruff-pre-commit\n  rev: v0.6.0\n  hooks:\n  - id: ruff\n",
    );
    good.commit("good").unwrap();
    let bomb_repos: Vec<(&str, RepoFiles)> = vec![
        (
            "json-deep",
            vec![
                ("package.json", deep_array.clone().into_bytes()),
                ("tsconfig.json", deep_object.clone().into_bytes()),
            ],
        ),
        (
            "jsonc-deep",
            vec![
                ("tsconfig.json", deep_array.clone().into_bytes()),
                (".eslintrc.json", deep_object.clone().into_bytes()),
            ],
        ),
        (
            "yaml-laughs",
            vec![
                (".pre-commit-config.yaml", billion_laughs().into_bytes()),
                (".github/workflows/ci.yml", billion_laughs().into_bytes()),
            ],
        ),
        (
            "yaml-deep",
            vec![
                (".pre-commit-config.yaml", deep_array.clone().into_bytes()),
                (".github/workflows/ci.yml", deep_block.into_bytes()),
                (
                    ".github/workflows/flow.yml",
                    deep_object.clone().into_bytes(),
                ),
            ],
        ),
        (
            "toml-deep",
            vec![
                (
                    "pyproject.toml",
                    format!("[project]\nname = \"x\"\ndependencies = {deep_array}\n").into_bytes(),
                ),
                (
                    "ruff.toml",
                    format!("x = {}1{}\n", "{a=".repeat(50_000), "}".repeat(50_000)).into_bytes(),
                ),
            ],
        ),
        (
            "huge",
            vec![
                (
                    "package.json",
                    format!(
                        "{{\"name\": \"huge\", \"pad\": \"{}\"}}",
                        "x".repeat(8 << 20)
                    )
                    .into_bytes(),
                ),
                // Just under the limit: parsed, not skipped.
                (
                    "requirements.txt",
                    "requests\n# padding padding padding padding\n"
                        .repeat(20_000)
                        .into_bytes(),
                ),
            ],
        ),
    ];
    for (name, files) in &bomb_repos {
        let mut r = repo::create(root, "bombs", name).unwrap();
        for (path, content) in files {
            r.write(path, content);
        }
        r.commit("bomb").unwrap();
    }

    let cli = hub.cli();
    let out = cli.dir.path().join("codex.json");
    let run = measured(cli.command(&[
        "github",
        "scan-org",
        "bombs",
        "--output",
        out.to_str().unwrap(),
    ]));
    eprintln!(
        "scan-org of bombs: {:?}, peak RSS {} MiB",
        run.elapsed,
        run.max_rss_kib / 1024
    );
    assert!(
        run.status.success(),
        "scan-org failed ({:?}): {}",
        run.status,
        run.stderr
    );
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    assert!(run.elapsed < Duration::from_secs(30), "{:?}", run.elapsed);
    assert!(
        run.max_rss_kib < 200 * 1024,
        "peak RSS {} KiB",
        run.max_rss_kib
    );
    let _ = run.stdout;

    let codex: Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(
        codex["patterns"]["python"]["dependencies"]["requests"]["frequency"], 2,
        "good and huge's requirements.txt: {codex:#}"
    );
    assert_eq!(
        codex["patterns"]["javascript"]["dependencies"]["left-pad"]["frequency"], 1,
        "{codex:#}"
    );
    let status: Value =
        serde_json::from_slice(&cli.ok(&["github", "scan-status", "bombs", "--json"])).unwrap();
    assert_eq!(status["state"], "finished", "{status:#}");
    assert_eq!(status["repos_total"], 7, "{status:#}");
    assert_eq!(status["repos_failed"], 0, "{status:#}");
    let errors = &status["parse_errors"];
    for (name, files) in &bomb_repos {
        let listed: BTreeSet<String> = errors[name]
            .as_array()
            .unwrap_or_else(|| panic!("no parse errors for {name}: {status:#}"))
            .iter()
            .map(|e| e.as_str().unwrap().to_string())
            .collect();
        for (path, _) in files {
            if *path == "requirements.txt" {
                continue;
            }
            assert!(
                listed.contains(*path),
                "{name}/{path} is a parse error: {status:#}"
            );
        }
    }
    assert!(errors.get("good").is_none_or(Value::is_null), "{status:#}");
}

// ---------------------------------------------------------------------------
// 7. An org of 5,000 repositories

#[test]
fn an_org_of_5000_repos_is_listed_whole_with_bounded_memory() {
    // On tmpfs where there is one: creating and deleting tens of thousands of inodes on
    // a loaded ext4 (mounted with `discard`) takes minutes, on tmpfs a second.
    let shm = Path::new("/dev/shm");
    let root = if shm.is_dir() {
        tempfile::tempdir_in(shm).unwrap()
    } else {
        tempfile::tempdir().unwrap()
    };
    let fake = fakehub::FakeHub::spawn(
        root.path(),
        fakehub::Config {
            tokens: vec![TEST_TOKEN.into()],
            ..fakehub::Config::default()
        },
    )
    .unwrap();
    let hub = Hub {
        root,
        hub: fake,
        token: Some(TEST_TOKEN.into()),
    };
    let built = Instant::now();
    let mut template = repo::create(hub.path(), "many", "r0000").unwrap();
    template.write(
        "pyproject.toml",
        "[project]\nname = \"x\"\ndependencies = [\"httpx\"]\n",
    );
    template.commit("initial").unwrap();
    let names: Vec<String> = (1..5000).map(|i| format!("r{i:04}")).collect();
    repo::create_many(hub.path(), "many", &names, Some(&template)).unwrap();
    eprintln!("5,000 repos made in {:?}", built.elapsed());
    let cli = hub.cli();

    let run = measured(cli.command(&["repos", "many", "--json"]));
    assert!(run.status.success(), "{}", run.stderr);
    let repos: Value = serde_json::from_slice(&run.stdout).unwrap();
    let listed: BTreeSet<&str> = repos
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(listed.len(), 5000);
    assert_eq!(repos.as_array().unwrap().len(), 5000, "no repo twice");
    assert!(listed.contains("r0000") && listed.contains("r4999"));
    eprintln!(
        "repos of a 5,000-repo org: {:?}, {} pages, peak RSS {} MiB",
        run.elapsed,
        hub.hub.stats().route("repo_list"),
        run.max_rss_kib / 1024
    );
    assert_eq!(hub.hub.stats().route("repo_list"), 50, "100 per page");
    assert!(
        run.max_rss_kib < 150 * 1024,
        "peak RSS {} KiB",
        run.max_rss_kib
    );

    // scan-org lists the same 5,000 and scans the ones the filter selects.
    let run = measured(cli.command(&["github", "scan-org", "many", "--match", "^r00[0-2][0-9]$"]));
    assert!(run.status.success(), "{}", run.stderr);
    let codex: Value = serde_json::from_slice(&run.stdout).unwrap();
    assert_eq!(
        codex["patterns"]["python"]["dependencies"]["httpx"]["frequency"], 30,
        "{codex:#}"
    );
    let status: Value =
        serde_json::from_slice(&cli.ok(&["github", "scan-status", "many", "--json"])).unwrap();
    assert_eq!(status["repos_total"], 30, "{status:#}");
    eprintln!(
        "scan-org --match over 5,000 repos: {:?}, peak RSS {} MiB",
        run.elapsed,
        run.max_rss_kib / 1024
    );
    assert!(
        run.max_rss_kib < 150 * 1024,
        "peak RSS {} KiB",
        run.max_rss_kib
    );
}

// ---------------------------------------------------------------------------
// 8. Symlink loops and links out of the mount

/// What reading `path` gives: its bytes, or the errno.
fn read_outcome(path: &Path) -> Result<Vec<u8>, i32> {
    std::fs::read(path).map_err(|e| e.raw_os_error().unwrap_or(-1))
}

#[test]
fn symlink_loops_and_absolute_links_behave_as_in_a_git_checkout() {
    require_fuse!();
    let hub = Hub::new();
    let mut r = repo::create(hub.path(), "acme", "links").unwrap();
    r.write("target.txt", "target\n")
        .symlink("a", "b")
        .symlink("b", "a")
        .symlink("self", "self")
        .symlink("abs", "/etc/passwd")
        .symlink("sub/up", "../../../../../../etc/passwd")
        .symlink("sub/dir-loop", ".")
        .symlink("dangling", "does-not-exist")
        .symlink("ok", "target.txt");
    r.commit("links").unwrap();
    let checkout = tempfile::tempdir().unwrap();
    let out = Command::new("git")
        .args(["clone", "-q"])
        .arg(bare(&hub, "acme", "links"))
        .arg(checkout.path().join("links"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let checkout = checkout.path().join("links");

    let mount = TestMount::new(hub.cli(), &["--org", "acme"]);
    let root = mount.at("acme/links");
    let links = [
        "a",
        "b",
        "self",
        "abs",
        "sub/up",
        "sub/dir-loop",
        "dangling",
        "ok",
    ];
    for link in links {
        let mounted = std::fs::symlink_metadata(root.join(link)).unwrap();
        assert!(mounted.file_type().is_symlink(), "{link} is a symlink");
        assert_eq!(
            std::fs::read_link(root.join(link)).unwrap(),
            std::fs::read_link(checkout.join(link)).unwrap(),
            "{link}: same target as git's checkout"
        );
        assert_eq!(
            read_outcome(&root.join(link)),
            read_outcome(&checkout.join(link)),
            "{link}: reading through it does what it does in a checkout"
        );
    }
    assert_eq!(read_outcome(&root.join("a")), Err(libc::ELOOP));
    assert_eq!(read_outcome(&root.join("self")), Err(libc::ELOOP));
    assert_eq!(read_outcome(&root.join("dangling")), Err(libc::ENOENT));
    assert_eq!(read_outcome(&root.join("ok")).unwrap(), b"target\n");
    // A loop through a directory link: the kernel follows it as far as it does on disk.
    let deep = "sub/dir-loop/".repeat(50) + "up";
    let errno = |p: PathBuf| {
        std::fs::symlink_metadata(p)
            .map(|_| ())
            .map_err(|e| e.raw_os_error())
    };
    assert_eq!(errno(root.join(&deep)), errno(checkout.join(&deep)));

    // Heimdall fetched the link blobs to answer readlink, and nothing else: no blob
    // named by a target, nothing of the host's.
    let link_blobs: BTreeSet<String> = [
        "b",
        "a",
        "self",
        "/etc/passwd",
        "../../../../../../etc/passwd",
        ".",
        "does-not-exist",
        "target.txt",
    ]
    .iter()
    .map(|t| blob_sha(t.as_bytes()))
    .collect();
    let stats = hub.hub.stats();
    assert!(
        stats.route("blob") <= link_blobs.len() as u64 + 1,
        "{stats:?}"
    );
    let log = mount.log();
    assert!(!log.contains("passwd"), "{log}");
    assert_cache_clean(&mount.cli);
    mount.unmount();
}
