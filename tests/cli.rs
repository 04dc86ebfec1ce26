//! The `heimdall` binary against fakehub: request budgets, output, errors, token hygiene
//! and crash safety of the store.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{Hub, SmallDisk, files_containing};
use fakehub::{Config, Fault, repo};

fn git_ls_tree(hub: &Hub, owner: &str, name: &str) -> Vec<String> {
    let dir = hub.path().join(owner).join(format!("{name}.git"));
    let out = Command::new("git")
        .args(["-c", "core.quotepath=false", "-C"])
        .arg(&dir)
        .args(["ls-tree", "-r", "-t", "-l", "HEAD"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let mut lines: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    lines.sort();
    lines
}

#[test]
fn cat_fetches_a_blob_once_and_shares_identical_content_across_repos() {
    let hub = Hub::new();
    let mut a = repo::create(hub.path(), "acme", "api").unwrap();
    a.write("src/app.py", "print('hello')\n")
        .write("README.md", "# api\n")
        .commit("c")
        .unwrap();
    let mut b = repo::create(hub.path(), "acme", "web").unwrap();
    b.write("copy/app.py", "print('hello')\n")
        .commit("c")
        .unwrap();
    let cli = hub.cli();

    assert_eq!(cli.ok(&["cat", "acme/api/src/app.py"]), b"print('hello')\n");
    assert_eq!(common::content_requests(&hub.hub.stats()), 1);
    assert_eq!(cli.ok(&["cat", "acme/api/src/app.py"]), b"print('hello')\n");
    let stats = hub.hub.stats();
    assert_eq!(
        common::content_requests(&stats),
        1,
        "the second cat reads the cache"
    );
    assert_eq!(stats.route("tree"), 1, "trees are cached by sha");

    // Same bytes in another repo: same blob id, already stored.
    assert_eq!(
        cli.ok(&["cat", "acme/web/copy/app.py"]),
        b"print('hello')\n"
    );
    assert_eq!(
        common::content_requests(&hub.hub.stats()),
        1,
        "no blob request for identical content"
    );

    let stats: serde_json::Value =
        serde_json::from_slice(&cli.ok(&["cache", "stats", "--json"])).unwrap();
    assert_eq!(stats["objects"], 1);
    if cli.is_rest() {
        assert_eq!(stats["bytes"], 15);
    } else {
        // Packs and their indexes on disk (the blob's, and the commits').
        assert!(stats["packs"].as_u64().unwrap() >= 1, "{stats}");
        assert!(stats["bytes"].as_u64().unwrap() >= 15, "{stats}");
    }
    assert_eq!(stats["misses"], 1);
    assert_eq!(stats["hits"], 2);
}

#[test]
fn tree_lists_like_git_ls_tree() {
    let hub = Hub::new();
    let mut r = repo::create(hub.path(), "acme", "api").unwrap();
    r.write("src/pkg/mod.py", "x = 1\n")
        .write("docs/ünïcode name.md", "u\n")
        .executable("bin/run", "#!/bin/sh\necho hi\n")
        .symlink("latest", "src/pkg/mod.py")
        .symlink("dangling", "../nowhere")
        .empty_file("empty")
        .submodule(
            "vendor/lib",
            "https://example.com/lib.git",
            "2222222222222222222222222222222222222222",
        );
    r.commit("c").unwrap();
    let cli = hub.cli();
    let out = String::from_utf8(cli.ok(&["tree", "-r", "acme/api"])).unwrap();
    let mut lines: Vec<String> = out.lines().map(str::to_string).collect();
    lines.sort();
    assert_eq!(lines, git_ls_tree(&hub, "acme", "api"));

    let sub = String::from_utf8(cli.ok(&["tree", "acme/api", "src"])).unwrap();
    assert!(sub.contains("\tsrc/pkg"), "{sub}");
    assert_eq!(
        cli.ok(&["cat", "acme/api/latest"]),
        b"src/pkg/mod.py",
        "a symlink's blob is its target"
    );
    assert_eq!(cli.ok(&["cat", "acme/api/empty"]), b"");
    assert_eq!(
        common::content_requests(&hub.hub.stats()),
        1,
        "the empty blob's content is known: no request"
    );
}

#[test]
fn refs_by_branch_tag_and_sha() {
    let hub = Hub::new();
    let mut r = repo::create(hub.path(), "acme", "api").unwrap();
    let v1 = r.write("VERSION", "1\n").commit("one").unwrap();
    r.tag("v1.0", &v1).unwrap();
    r.create_branch("release/1", &v1).unwrap();
    r.write("VERSION", "2\n").commit("two").unwrap();
    let cli = hub.cli();
    assert_eq!(cli.ok(&["cat", "acme/api/VERSION"]), b"2\n");
    assert_eq!(cli.ok(&["cat", "acme/api@v1.0/VERSION"]), b"1\n");
    assert_eq!(cli.ok(&["cat", "acme/api@release%2F1/VERSION"]), b"1\n");
    assert_eq!(cli.ok(&["cat", &format!("acme/api@{v1}/VERSION")]), b"1\n");
    assert_eq!(
        cli.ok(&["cat", &format!("acme/api@{}/VERSION", &v1[..7])]),
        b"1\n"
    );
}

#[test]
fn repos_lists_names_and_metadata() {
    let hub = Hub::new();
    for name in ["one", "two"] {
        let mut r = repo::create(hub.path(), "acme", name).unwrap();
        r.write("f", name).commit("c").unwrap();
    }
    let cli = hub.cli();
    let repos: serde_json::Value =
        serde_json::from_slice(&cli.ok(&["repos", "acme", "--json"])).unwrap();
    let names: Vec<&str> = repos
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["one", "two"]);
    assert_eq!(repos[0]["default_branch"], "main");
    let table = String::from_utf8(cli.ok(&["repos", "acme"])).unwrap();
    assert!(table.starts_with("NAME"), "{table}");
    assert!(table.contains("two"));
}

#[test]
fn errors_are_one_clear_line_and_a_nonzero_exit() {
    let hub = Hub::new();
    let mut r = repo::create(hub.path(), "acme", "api").unwrap();
    r.write("dir/file", "x").commit("c").unwrap();
    repo::create_empty(hub.path(), "acme", "empty").unwrap();
    let cli = hub.cli();
    let cases: &[(&[&str], &str)] = &[
        (&["cat", "acme/api/missing.txt"], "does not exist"),
        (&["cat", "acme/api/dir"], "is not a file"),
        (&["cat", "acme/api"], "names no file"),
        (&["cat", "acme/nope/x"], "not found"),
        (&["cat", "acme/empty/x"], "empty"),
        (&["cat", "not a spec"], "is not OWNER/REPO"),
        (&["cat", "acme/api/../../etc/passwd"], "`..` is not allowed"),
        (&["tree", "acme/api@no-such-ref"], "not found"),
        (&["repos", "bad_owner!"], "not a valid GitHub owner"),
    ];
    for (args, needle) in cases {
        let out = cli.run(args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        let lines: Vec<&str> = stderr.lines().filter(|l| !l.contains("WARN")).collect();
        assert_eq!(lines.len(), 1, "{args:?}: one line, got {stderr}");
        assert!(lines[0].starts_with("error: "), "{args:?}: {stderr}");
        assert!(
            lines[0].contains(needle),
            "{args:?}: expected `{needle}` in {stderr}"
        );
        assert!(
            !stderr.contains("panicked") && !stderr.contains("RemoteError"),
            "{stderr}"
        );
    }
    // A closed stdout is not an error.
    let mut child = cli
        .command(&["tree", "-r", "acme/api"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_token_never_reaches_logs_errors_or_the_cache() {
    const TOKEN: &str = "ghp_SECRETtoken1234567890abcdef";
    let hub = Hub::with(Config {
        tokens: vec![TOKEN.into()],
        ..Config::default()
    });
    let mut r = repo::create(hub.path(), "acme", "api").unwrap();
    r.write("a.txt", "a\n")
        .write("b.txt", "b\n")
        .commit("c")
        .unwrap();
    let mut cli = hub.cli();
    cli.token = Some(TOKEN.into());
    cli.extra_env.push(("RUST_LOG".into(), "trace".into()));
    hub.hub.inject(Fault::status(502).on_route("blob"));
    hub.hub.inject(Fault::drop_connection().on_route("tree"));
    let mut output = Vec::new();
    for args in [
        &["repos", "acme"][..],
        &["tree", "-r", "acme/api"],
        &["cat", "acme/api/a.txt"],
        &["cat", "acme/api/nope"],
        &["cache", "stats"],
        &["-vvv", "cat", "acme/api/b.txt"],
    ] {
        let out = cli.run(args);
        output.extend(out.stdout);
        output.extend(out.stderr);
    }
    // A rejected token: the error names the failure, not the token.
    let mut bad = hub.cli();
    bad.token = Some("ghp_WRONGtoken0987654321".into());
    bad.extra_env.push(("RUST_LOG".into(), "trace".into()));
    let out = bad.run(&["repos", "acme"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("bad credentials"));
    output.extend(out.stderr);

    let text = String::from_utf8_lossy(&output);
    assert!(
        text.contains("TRACE") || text.contains("trace"),
        "trace logging was on"
    );
    assert!(!text.contains(TOKEN), "token leaked into output");
    assert!(
        !text.contains("ghp_WRONGtoken0987654321"),
        "rejected token leaked into output"
    );
    assert!(files_containing(&cli.cache_dir(), TOKEN.as_bytes()).is_empty());
    assert!(files_containing(&bad.cache_dir(), b"ghp_WRONGtoken").is_empty());
}

#[test]
fn cache_dir_is_private_and_tagged() {
    use std::os::unix::fs::PermissionsExt;
    let hub = Hub::new();
    let mut r = repo::create(hub.path(), "acme", "api").unwrap();
    r.write("a", "b").commit("c").unwrap();
    let cli = hub.cli();
    cli.ok(&["cat", "acme/api/a"]);
    let meta = std::fs::metadata(cli.cache_dir()).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o700);
    let tag = std::fs::read_to_string(cli.cache_dir().join("CACHEDIR.TAG")).unwrap();
    assert!(tag.starts_with("Signature: 8a477f597d28d172789f06886806bc55"));
}

#[test]
fn kill_9_during_a_download_leaves_no_partial_object() {
    let hub = Hub::new();
    let mut r = repo::create(hub.path(), "acme", "big").unwrap();
    r.large_file("data.bin", 64 << 20, 42)
        .commit("big")
        .unwrap();
    let out = Command::new("git")
        .arg("-C")
        .arg(r.git_dir())
        .args(["rev-parse", "main:data.bin"])
        .output()
        .unwrap();
    let blob = String::from_utf8(out.stdout).unwrap().trim().to_string();
    let cli = hub.cli();
    cli.ok(&["tree", "acme/big"]);
    // Slow the body down so the kill lands mid-stream.
    hub.hub.set_latency(Duration::from_millis(50));
    let mut child = cli
        .command(&["cat", "acme/big/data.bin"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let shard = cli.cache_dir().join("objects-v1").join(&blob[..2]);
    let started = Instant::now();
    let mut saw_temp = false;
    while started.elapsed() < Duration::from_secs(30) {
        let temps = std::fs::read_dir(&shard)
            .map(|d| {
                d.flatten()
                    .any(|e| e.file_name().to_string_lossy().starts_with(".tmp-"))
            })
            .unwrap_or(false);
        if temps {
            saw_temp = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(saw_temp, "the download was caught in progress");
    assert!(
        !shard.join(&blob).exists(),
        "no object under its final name"
    );

    // The index opens, and the next read downloads and verifies the whole blob.
    hub.hub.set_latency(Duration::ZERO);
    let out = cli.ok(&["cat", "acme/big/data.bin"]);
    assert_eq!(out.len(), 64 << 20);
    assert_eq!(heimdall::oid::blob_sha(&out).to_hex(), blob);
    let stats: serde_json::Value =
        serde_json::from_slice(&cli.ok(&["cache", "stats", "--json"])).unwrap();
    assert_eq!(stats["objects"], 1);
}

/// Where the cache keeps blob `sha` (hex).
fn object_path(cli: &common::Cli, sha: &str) -> std::path::PathBuf {
    cli.cache_dir().join("objects-v1").join(&sha[..2]).join(sha)
}

fn blob_id(content: &[u8]) -> String {
    heimdall::oid::blob_sha(content).to_hex()
}

#[test]
fn cache_verify_removes_an_object_corrupted_on_disk() {
    let hub = Hub::new();
    let mut r = repo::create(hub.path(), "acme", "api").unwrap();
    r.write("a.txt", "alpha\n")
        .write("b.txt", "bravo\n")
        .commit("c")
        .unwrap();
    // Loose objects (REST): the git transport's packs are covered in tests/git_transport.rs.
    let cli = hub.cli().rest();
    cli.ok(&["cat", "acme/api/a.txt"]);
    cli.ok(&["cat", "acme/api/b.txt"]);
    let bad = object_path(&cli, &blob_id(b"bravo\n"));
    std::fs::write(&bad, "BRAVO\n").unwrap();

    let report: serde_json::Value =
        serde_json::from_slice(&cli.ok(&["cache", "verify", "--json"])).unwrap();
    assert_eq!(report["verified"], 1, "{report:#}");
    assert_eq!(
        report["corrupt"][0]["sha"],
        blob_id(b"bravo\n"),
        "{report:#}"
    );
    assert!(!bad.exists(), "the corrupt object is gone");
    let text = String::from_utf8(cli.ok(&["cache", "verify"])).unwrap();
    assert!(
        text.contains("verified 1 objects") && text.contains("0 corrupt"),
        "{text}"
    );

    // The next read fetches it again, verified.
    hub.hub.reset_stats();
    assert_eq!(cli.ok(&["cat", "acme/api/b.txt"]), b"bravo\n");
    assert_eq!(hub.hub.stats().route("blob"), 1);
}

#[test]
fn cache_gc_evicts_the_least_recently_read_down_to_the_budget() {
    let hub = Hub::new();
    let mut r = repo::create(hub.path(), "acme", "api").unwrap();
    let body = |c: char| c.to_string().repeat(1000);
    r.write("a.txt", body('a'))
        .write("b.txt", body('b'))
        .write("c.txt", body('c'))
        .commit("c")
        .unwrap();
    // Loose objects (REST): the git transport's packs are covered in tests/git_transport.rs.
    let cli = hub.cli().rest();
    // Read order a, b, c, then a again: b is the least recently read.
    for file in ["a", "b", "c", "a"] {
        cli.ok(&["cat", &format!("acme/api/{file}.txt")]);
        std::thread::sleep(Duration::from_millis(1100));
    }
    let report: serde_json::Value =
        serde_json::from_slice(&cli.ok(&["cache", "gc", "--max-size", "2500", "--json"])).unwrap();
    assert_eq!(report["evicted"], 1, "{report:#}");
    assert_eq!(report["after_bytes"], 2000, "{report:#}");
    assert!(!object_path(&cli, &blob_id(body('b').as_bytes())).exists());
    assert!(object_path(&cli, &blob_id(body('a').as_bytes())).exists());
    assert!(object_path(&cli, &blob_id(body('c').as_bytes())).exists());

    // Evicted content is fetched again when read; a bad size is a clear error.
    hub.hub.reset_stats();
    assert_eq!(cli.ok(&["cat", "acme/api/b.txt"]), body('b').as_bytes());
    assert_eq!(hub.hub.stats().route("blob"), 1);
    let err = cli.fails(&["cache", "gc", "--max-size", "lots"]);
    assert!(err.contains("is not a size"), "{err}");
}

#[test]
fn a_full_disk_is_a_clear_error_leaves_nothing_partial_and_cached_reads_still_work() {
    let hub = Hub::new();
    let mut r = repo::create(hub.path(), "acme", "api").unwrap();
    r.write("small.txt", "small\n")
        .write("other.txt", "other\n")
        .large_file("big.bin", 3 << 20, 9)
        .commit("c")
        .unwrap();
    // Loose objects (REST): the git transport's packs are covered in tests/git_transport.rs.
    let cli = hub.cli().rest();
    let Some(_disk) = SmallDisk::mount(&cli.cache_dir(), "1m") else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI runs as root and must run this test"
        );
        eprintln!("skipping: mounting a tmpfs needs root");
        return;
    };
    assert_eq!(cli.ok(&["cat", "acme/api/small.txt"]), b"small\n");

    // A blob larger than the disk: one clear line, exit 1, no partial object.
    let err = cli.fails(&["cat", "acme/api/big.bin"]);
    assert!(err.contains("No space left on device"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    let leftovers: Vec<_> = std::fs::read_dir(cli.cache_dir().join("objects-v1"))
        .unwrap()
        .flatten()
        .flat_map(|d| std::fs::read_dir(d.path()).unwrap().flatten())
        .map(|f| f.path())
        .filter(|p| p.metadata().unwrap().len() > 1 << 20 || p.to_string_lossy().contains(".tmp-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    // The disk completely full: cached content is still read, new content fails clearly.
    let filler = cli.cache_dir().join("filler");
    let _ = Command::new("dd")
        .args(["if=/dev/zero", "bs=4k", "count=100000"])
        .arg(format!("of={}", filler.display()))
        .stderr(Stdio::null())
        .status();
    assert_eq!(cli.ok(&["cat", "acme/api/small.txt"]), b"small\n");
    let err = cli.fails(&["cat", "acme/api/other.txt"]);
    assert!(err.contains("No space left on device"), "{err}");
    std::fs::remove_file(&filler).unwrap();
    assert_eq!(cli.ok(&["cat", "acme/api/other.txt"]), b"other\n");
    let report: serde_json::Value =
        serde_json::from_slice(&cli.ok(&["cache", "verify", "--json"])).unwrap();
    assert_eq!(report["corrupt"].as_array().unwrap().len(), 0, "{report}");
}
