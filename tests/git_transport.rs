//! Content over git's protocol (the default transport) against fakehub's `git
//! http-backend`: what a cold mount costs, real repositories equal to a clone, hostile
//! packs refused with nothing stored, kill -9 in the middle of a pack fetch, refusal
//! falling back to REST, and packs under `cache verify` and `cache gc`.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::tree::{assert_same_tree, clone, run};
use common::{Hub, TestMount};
use fakehub::{Fault, repo};

/// The hub's CLI, or `None` (said on stderr) when the suite runs with the REST transport:
/// these tests are about git.
fn git_cli(hub: &Hub) -> Option<common::Cli> {
    let cli = hub.cli();
    if cli.is_rest() {
        eprintln!("skipping: this test is about the git transport");
        return None;
    }
    Some(cli)
}

/// Pack files (`packs-v1/*.pack`) and leftover fetch directories (`.tmp-*`) in a cache.
fn packs(cache: &Path) -> (Vec<PathBuf>, Vec<PathBuf>) {
    let mut out = (Vec::new(), Vec::new());
    let Ok(entries) = std::fs::read_dir(cache.join("packs-v1")) else {
        return out;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.ends_with(".pack") {
            out.0.push(entry.path());
        } else if name.starts_with(".tmp-") {
            out.1.push(entry.path());
        }
    }
    out
}

fn stats_json(cli: &common::Cli) -> serde_json::Value {
    serde_json::from_slice(&cli.ok(&["cache", "stats", "--json"])).unwrap()
}

/// A protocol v2 fetch answer carrying `pack` (what `git upload-pack` sends after
/// `done`): the `packfile` section, the pack on side band 1, a flush.
fn v2_answer(pack: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut pkt = |data: &[u8]| {
        write!(out, "{:04x}", data.len() + 4).unwrap();
        out.extend_from_slice(data);
    };
    pkt(b"packfile\n");
    for chunk in pack.chunks(65515) {
        let mut band = vec![1u8];
        band.extend_from_slice(chunk);
        pkt(&band);
    }
    out.extend_from_slice(b"0000");
    out
}

/// `git rev-parse SPEC` in `git_dir`.
fn rev_parse(git_dir: &Path, spec: &str) -> String {
    String::from_utf8(common::git(git_dir, &["rev-parse", spec]))
        .unwrap()
        .trim()
        .to_string()
}

/// A pack of these objects of `git_dir`, made by git itself.
fn pack_of(git_dir: &Path, ids: &[&str]) -> Vec<u8> {
    let mut child = Command::new("git")
        .arg("--git-dir")
        .arg(git_dir)
        .args(["pack-objects", "--stdout", "-q"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    for id in ids {
        writeln!(stdin, "{id}").unwrap();
    }
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    out.stdout
}

/// `git hash-object -w` of `content` (of `kind`, `--literally`) in `git_dir`.
fn write_object(git_dir: &Path, kind: &str, content: &[u8]) -> String {
    let mut child = Command::new("git")
        .arg("--git-dir")
        .arg(git_dir)
        .args(["hash-object", "-w", "--literally", "--stdin", "-t", kind])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(content).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// A pack whose one object announces a blob of `size` bytes (and holds almost nothing).
fn pack_announcing(kind: u8, size: u64, body: &[u8]) -> Vec<u8> {
    let mut pack = b"PACK\0\0\0\x02\0\0\0\x01".to_vec();
    let mut first = (kind << 4) | (size & 15) as u8;
    let mut rest = size >> 4;
    if rest > 0 {
        first |= 0x80;
    }
    pack.push(first);
    while rest > 0 {
        let mut byte = (rest & 0x7f) as u8;
        rest >>= 7;
        if rest > 0 {
            byte |= 0x80;
        }
        pack.push(byte);
    }
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
    z.write_all(body).unwrap();
    pack.extend(z.finish().unwrap());
    use sha1::Digest;
    let sum = sha1::Sha1::digest(&pack);
    pack.extend_from_slice(&sum);
    pack
}

#[test]
fn a_cold_mount_reads_every_file_of_a_real_repository_with_two_counted_requests() {
    require_fuse!();
    let hub = Hub::new();
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus");
    let (owner, name, head) = if corpus.join("requests.bundle").is_file() {
        run(Command::new("bash")
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/corpus.sh"))
            .arg(hub.path())
            .arg("realworld")
            .env("HEIMDALL_CORPUS", &corpus));
        let git_dir = hub.path().join("realworld/requests.git");
        ("realworld", "requests", rev_parse(&git_dir, "HEAD"))
    } else {
        eprintln!("no corpus: a generated repository instead");
        let mut r = repo::create(hub.path(), "acme", "gen").unwrap();
        for i in 0..300 {
            r.write(format!("pkg{}/m{i}.py", i % 12), format!("X = {i}\n"));
        }
        ("acme", "gen", r.commit("c").unwrap())
    };
    let work = tempfile::tempdir().unwrap();
    let checkout = work.path().join(name);
    clone(&hub, owner, name, &head, &checkout);
    let Some(cli) = git_cli(&hub) else {
        return;
    };
    let mount = TestMount::new(cli, &["--read-only"]);
    hub.hub.reset_stats();
    let root = mount.at(&format!("{owner}/{name}"));
    // `diff -r` reads every file; the listing stats every one.
    assert_same_tree(&checkout, &root);
    let stats = hub.hub.stats();
    assert!(
        stats.counted <= 2,
        "a cold mount and a read of every file: {stats:?}"
    );
    assert_eq!(
        stats.route("blob") + stats.route("codeload"),
        0,
        "{stats:?}"
    );
    let files = run(Command::new("git")
        .arg("-C")
        .arg(&checkout)
        .args(["ls-files"]))
    .lines()
    .count() as u64;
    assert!(
        stats.route("git_http") < files * 2 / 3,
        "batched: {} git requests for {files} files",
        stats.route("git_http")
    );
    // What moved is packs, not a file per blob.
    let cache = mount.cli.cache_dir();
    let loose = run(Command::new("find")
        .arg(cache.join("objects-v1"))
        .args(["-type", "f"]))
    .lines()
    .count() as u64;
    assert!(
        loose < files / 10,
        "{loose} loose objects for {files} files"
    );
    // The status names the git requests apart from the REST budget.
    let status: serde_json::Value =
        serde_json::from_slice(&std::fs::read(mount.at(".status/rate_limit.json")).unwrap())
            .unwrap();
    assert_eq!(status["transport"], "auto", "{status}");
    assert_eq!(
        status["git"]["requests"].as_u64().unwrap(),
        stats.route("git_http"),
        "{status}"
    );
    mount.unmount();
}

#[test]
fn hostile_packs_are_refused_in_bounded_time_store_nothing_and_the_next_read_retries() {
    require_fuse!();
    let hub = Hub::new();
    let mut r = repo::create(hub.path(), "acme", "api").unwrap();
    r.write("wanted.txt", "the wanted bytes\n")
        .write("other.txt", "something else entirely\n")
        .commit("c")
        .unwrap();
    let git_dir = hub.path().join("acme/api.git");
    let other = rev_parse(&git_dir, "HEAD:other.txt");
    let wanted = rev_parse(&git_dir, "HEAD:wanted.txt");
    // A tree no checkout could hold: an entry named `..`.
    let mut tree = b"100644 ..\0".to_vec();
    tree.extend(hex::decode(&wanted).unwrap());
    let evil_tree = write_object(&git_dir, "tree", &tree);
    let Some(cli) = git_cli(&hub) else {
        return;
    };
    let mount = TestMount::new(cli, &[]);
    // Resolved and listed first, so only the blob fetch meets the faults.
    assert_eq!(std::fs::read_dir(mount.at("acme/api")).unwrap().count(), 2);
    let cache = mount.cli.cache_dir();
    let (before, _) = packs(&cache);

    let cases: Vec<(&str, Fault)> = vec![
        (
            "a pack without the wanted blob",
            Fault::replace_body(v2_answer(&pack_of(&git_dir, &[&other]))),
        ),
        (
            "a tree named ..",
            Fault::replace_body(v2_answer(&pack_of(&git_dir, &[&wanted, &evil_tree]))),
        ),
        (
            "a blob announcing 1 TiB",
            Fault::replace_body(v2_answer(&pack_announcing(3, 1 << 40, b"tiny"))),
        ),
        (
            "a delta announcing 64 GiB from a 1-byte base",
            Fault::replace_body(v2_answer(&pack_announcing(
                6,
                1 << 36,
                b"\x01\x80\x80\x80\x80\x80\x01",
            ))),
        ),
        ("a truncated pack", Fault::truncate_after(30)),
        ("flipped bytes", Fault::corrupt()),
        (
            "an error band",
            Fault::replace_body(b"000dpackfile\n0018\x03fatal: bad object\n0000".to_vec()),
        ),
    ];
    for (what, fault) in cases {
        hub.hub.inject(fault.on_route("git_http").always());
        let started = Instant::now();
        let err = match std::fs::read(mount.at("acme/api/wanted.txt")) {
            Ok(_) => panic!("{what}: the read succeeded\n{}", mount.log()),
            Err(e) => e,
        };
        assert_eq!(err.raw_os_error(), Some(libc::EIO), "{what}: {err}");
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{what}: {:?}",
            started.elapsed()
        );
        let (now, temps) = packs(&cache);
        assert_eq!(now, before, "{what}: no pack stored");
        assert!(temps.is_empty(), "{what}: nothing partial left: {temps:?}");
        hub.hub.clear_faults();
    }
    let log = mount.log();
    assert!(log.contains("refused the pack"), "{log}");
    // Faults gone: the same read succeeds, and the store verifies.
    assert_eq!(
        std::fs::read(mount.at("acme/api/wanted.txt")).unwrap(),
        b"the wanted bytes\n"
    );
    let report: serde_json::Value =
        serde_json::from_slice(&mount.cli.ok(&["cache", "verify", "--json"])).unwrap();
    assert_eq!(report["corrupt_packs"], serde_json::json!([]), "{report}");
    assert!(report["pack_objects"].as_u64().unwrap() >= 1, "{report}");
    mount.unmount();
}

#[test]
fn kill_9_during_a_pack_fetch_leaves_no_partial_pack_and_verify_is_clean() {
    require_fuse!();
    let hub = Hub::new();
    let mut r = repo::create(hub.path(), "acme", "big").unwrap();
    for i in 0..40u64 {
        r.large_file(format!("d/f{i}.bin"), 256 << 10, i);
    }
    let head = r.commit("c").unwrap();
    let Some(cli) = git_cli(&hub) else {
        return;
    };
    let mount = TestMount::new(cli, &[]);
    assert_eq!(
        std::fs::read_dir(mount.at("acme/big/d")).unwrap().count(),
        40
    );
    // Slow answers, so the kill lands while a pack streams into its temp directory.
    hub.hub.set_latency(Duration::from_millis(300));
    let mut reader = Command::new("sh")
        .arg("-c")
        .arg("cat d/* >/dev/null 2>&1")
        .current_dir(mount.at("acme/big"))
        .spawn()
        .unwrap();
    let cache = mount.cli.cache_dir();
    let started = Instant::now();
    while packs(&cache).1.is_empty() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no fetch started"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    unsafe { libc::kill(mount.pid as i32, libc::SIGKILL) };
    let _ = reader.kill();
    let _ = reader.wait();
    hub.hub.set_latency(Duration::ZERO);
    // The next command finds no visible partial pack: what `cache stats` counts opens and
    // verifies, and every file then reads back as git has it.
    let report: serde_json::Value =
        serde_json::from_slice(&mount.cli.ok(&["cache", "verify", "--json"])).unwrap();
    assert_eq!(report["corrupt_packs"], serde_json::json!([]), "{report}");
    assert_eq!(report["corrupt"], serde_json::json!([]), "{report}");
    // A new daemon (started by this command) restores the mount over the same cache.
    mount.cli.ok(&["allocated", "list"]);
    let work = tempfile::tempdir().unwrap();
    let checkout = work.path().join("big");
    clone(&hub, "acme", "big", &head, &checkout);
    assert_same_tree(&checkout, &mount.at("acme/big"));
    let report: serde_json::Value =
        serde_json::from_slice(&mount.cli.ok(&["cache", "verify", "--json"])).unwrap();
    assert_eq!(report["corrupt_packs"], serde_json::json!([]), "{report}");
    mount.unmount();
}

#[test]
fn a_refusing_git_endpoint_falls_back_to_rest_unless_git_is_required() {
    let hub = Hub::new();
    let mut r = repo::create(hub.path(), "acme", "api").unwrap();
    r.write("a.txt", "alpha\n")
        .write("b.txt", "bravo\n")
        .commit("c")
        .unwrap();
    if git_cli(&hub).is_none() {
        return;
    }
    for status in [401, 403, 404] {
        hub.hub.clear_faults();
        hub.hub
            .inject(Fault::status(status).on_route("git_http").always());
        hub.hub.reset_stats();
        let cli = hub.cli();
        assert_eq!(cli.ok(&["cat", "acme/api/a.txt"]), b"alpha\n", "{status}");
        let stats = hub.hub.stats();
        assert!(
            stats.route("git_http") >= 1,
            "git was tried first: {stats:?}"
        );
        assert_eq!(stats.route("blob"), 1, "then REST: {stats:?}");
        // `--transport git` makes the refusal an error, one line.
        let err = cli.fails(&["--transport", "git", "cat", "acme/api/b.txt"]);
        assert!(err.contains("git fetch acme/api"), "{status}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{err}");
    }
    // `--transport rest` never asks the git endpoint.
    hub.hub.clear_faults();
    hub.hub.reset_stats();
    let cli = hub.cli();
    assert_eq!(
        cli.ok(&["--transport", "rest", "cat", "acme/api/b.txt"]),
        b"bravo\n"
    );
    assert_eq!(hub.hub.stats().route("git_http"), 0);
    let bad = cli.fails(&["--transport", "ftp", "cat", "acme/api/b.txt"]);
    assert!(bad.contains("not a transport"), "{bad}");
    let bad = cli.fails(&[
        "--git-url",
        "https://user:pw@example.com",
        "cat",
        "acme/api/b.txt",
    ]);
    assert!(bad.contains("credentials do not belong"), "{bad}");
    assert!(!bad.contains("pw@"), "{bad}");
}

#[test]
fn packs_are_verified_and_evicted_whole_by_cache_verify_and_gc() {
    let hub = Hub::new();
    let mut r = repo::create(hub.path(), "acme", "api").unwrap();
    for i in 0..20 {
        r.write(
            format!("src/m{i}.py"),
            format!("VALUE = {i}\n{}\n", "#".repeat(2000)),
        );
    }
    r.commit("c").unwrap();
    let Some(cli) = git_cli(&hub) else {
        return;
    };
    for i in 0..3 {
        cli.ok(&["cat", &format!("acme/api/src/m{i}.py")]);
    }
    let stats = stats_json(&cli);
    // One pack per read (the commit object came in its own).
    assert_eq!(stats["packs"], 4, "{stats}");
    assert_eq!(stats["objects"], 3, "{stats}");
    let cache = cli.cache_dir();
    let (found, _) = packs(&cache);
    assert_eq!(found.len(), 4);

    // A pack damaged on disk: verify removes it, and the next read fetches again.
    let mut bytes = std::fs::read(&found[0]).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 0xff;
    std::fs::write(&found[0], &bytes).unwrap();
    let report: serde_json::Value =
        serde_json::from_slice(&cli.ok(&["cache", "verify", "--json"])).unwrap();
    assert_eq!(
        report["corrupt_packs"].as_array().unwrap().len(),
        1,
        "{report}"
    );
    assert_eq!(report["packs"], 4, "{report}");
    assert_eq!(stats_json(&cli)["packs"], 3);
    for i in 0..3 {
        let body = cli.ok(&["cat", &format!("acme/api/src/m{i}.py")]);
        assert!(body.starts_with(format!("VALUE = {i}\n").as_bytes()));
    }

    // gc down to a budget smaller than all packs: whole packs go, least recently read first.
    let before = stats_json(&cli);
    let total = before["bytes"].as_u64().unwrap();
    let report: serde_json::Value = serde_json::from_slice(&cli.ok(&[
        "cache",
        "gc",
        "--max-size",
        &(total / 2).to_string(),
        "--json",
    ]))
    .unwrap();
    assert!(report["evicted"].as_u64().unwrap() >= 1, "{report}");
    assert!(
        report["after_bytes"].as_u64().unwrap() <= total / 2,
        "{report}"
    );
    let after = stats_json(&cli);
    assert!(after["packs"].as_u64().unwrap() < before["packs"].as_u64().unwrap());
    // What was evicted reads again (fetched anew).
    for i in 0..3 {
        let body = cli.ok(&["cat", &format!("acme/api/src/m{i}.py")]);
        assert!(body.starts_with(format!("VALUE = {i}\n").as_bytes()));
    }
}

#[test]
fn a_scan_fetches_each_repositorys_target_files_in_one_git_request() {
    let hub = Hub::new();
    for name in ["a", "b", "c"] {
        let mut r = repo::create(hub.path(), "acme", name).unwrap();
        r.write(
            "pyproject.toml",
            "[project]\nname = \"x\"\ndependencies = [\"requests\"]\n",
        )
        .write("requirements.txt", "flask==3.0\n")
        .write("setup.cfg", "[flake8]\nmax-line-length = 100\n")
        .write(".pre-commit-config.yaml", "repos: []\n")
        .write("tox.ini", "[tox]\nenvlist = py312\n")
        .write("src/x.py", "print(1)\n")
        .commit("c")
        .unwrap();
    }
    let Some(cli) = git_cli(&hub) else {
        return;
    };
    hub.hub.reset_stats();
    cli.ok(&["github", "scan-org", "acme"]);
    let stats = hub.hub.stats();
    assert_eq!(
        stats.route("blob"),
        0,
        "no single-blob REST request: {stats:?}"
    );
    // Counted: the owner and the repository listing; refs, trees and files over git.
    assert!(stats.counted <= 3, "{stats:?}");
    assert!(
        stats.route("git_http") <= 3 * 3,
        "a commit and the target files per repository: {stats:?}"
    );
    let export: serde_json::Value = serde_json::from_slice(&cli.ok(&[
        "github",
        "export-patterns",
        "acme",
        "--format",
        "codex",
    ]))
    .unwrap();
    assert!(export.to_string().contains("requests"), "{export}");
}

#[test]
fn a_tree_listing_that_lies_about_its_tree_is_refused_over_git() {
    require_fuse!();
    let hub = Hub::new();
    let mut r = repo::create(hub.path(), "acme", "api").unwrap();
    r.write("a.txt", "alpha\n")
        .write("b.txt", "bravo\n")
        .commit("c")
        .unwrap();
    let git_dir = hub.path().join("acme/api.git");
    let (tree, bravo) = (
        rev_parse(&git_dir, "HEAD^{tree}"),
        rev_parse(&git_dir, "HEAD:b.txt"),
    );
    // The real root tree's id, with `a.txt` claimed to be b.txt's bytes: names, modes
    // and ids all well formed, and the tree id real; only its hash gives it away.
    let entry = |path: &str| {
        serde_json::json!({"path": path, "mode": "100644", "type": "blob", "sha": bravo,
                           "size": 6, "url": "http://example.invalid/x"})
    };
    let forged = serde_json::json!({"sha": tree, "url": "http://example.invalid/t",
                                    "truncated": false, "tree": [entry("a.txt"), entry("b.txt")]});
    let cli = hub.cli();
    if cli.is_rest() {
        eprintln!("skipping: REST alone cannot tell this lie (a warning says so)");
        return;
    }
    hub.hub.inject(
        Fault::replace_body(serde_json::to_vec(&forged).unwrap())
            .on_route("tree")
            .always(),
    );
    let mount = TestMount::new(cli, &[]);
    let listed: std::io::Result<Vec<_>> =
        std::fs::read_dir(mount.at("acme/api")).and_then(|d| d.collect());
    let err = listed.unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EIO), "{err}");
    let log = mount.log();
    assert!(
        log.contains("lists entries its git object does not hold"),
        "{log}"
    );
    // The truth once the listing is honest again: nothing of the lie was kept.
    hub.hub.clear_faults();
    assert_eq!(
        std::fs::read(mount.at("acme/api/a.txt")).unwrap(),
        b"alpha\n"
    );
    mount.unmount();
}

#[test]
fn the_first_read_brings_the_tool_files_in_one_fetch_and_a_listing_fetches_nothing() {
    require_fuse!();
    let hub = Hub::new();
    let mut r = repo::create(hub.path(), "acme", "web").unwrap();
    r.write("pyproject.toml", "[tool.ruff]\nline-length = 100\n")
        .write(".gitignore", "node_modules/\n")
        .write("package.json", "{\"name\": \"web\"}\n")
        .write("big.json", "x".repeat(200 << 10))
        .write("packages/a/.gitignore", "dist/\n")
        .write("packages/a/deep/er/.ignore", "*.log\n")
        .write("packages/a/index.js", "export const a = 1;\n")
        .write("packages/b/index.js", "export const b = 2;\n")
        .commit("c")
        .unwrap();
    let Some(cli) = git_cli(&hub) else {
        return;
    };
    let mount = TestMount::new(cli, &["--read-only"]);
    hub.hub.reset_stats();
    let root = mount.at("acme/web");
    // A listing fetches no content.
    run(Command::new("find").arg(&root).arg("-ls"));
    assert_eq!(hub.hub.stats().git_fetches("objects"), 0);
    // The first read brings the tool files in the same fetch.
    assert_eq!(
        std::fs::read_to_string(root.join("pyproject.toml")).unwrap(),
        "[tool.ruff]\nline-length = 100\n"
    );
    let after = hub.hub.stats();
    assert_eq!(after.git_fetches("objects"), 1, "{after:?}");
    // The commit (1 want), the root's 3 small files and the 2 ignore files below it: not
    // the big file, not the JavaScript.
    assert_eq!(after.git_fetches("wants"), 1 + 3 + 2, "{after:?}");
    for (path, want) in [
        ("pyproject.toml", "[tool.ruff]\nline-length = 100\n"),
        (".gitignore", "node_modules/\n"),
        ("package.json", "{\"name\": \"web\"}\n"),
        ("packages/a/.gitignore", "dist/\n"),
        ("packages/a/deep/er/.ignore", "*.log\n"),
    ] {
        assert_eq!(std::fs::read_to_string(root.join(path)).unwrap(), want);
    }
    let read = hub.hub.stats();
    assert_eq!(
        read.git_fetches("objects"),
        1,
        "tool files were local: {read:?}"
    );
    assert_eq!(read.route("blob"), 0, "{read:?}");
    // A file that was not prefetched is one fetch away.
    assert_eq!(
        std::fs::read_to_string(root.join("packages/b/index.js")).unwrap(),
        "export const b = 2;\n"
    );
    assert_eq!(hub.hub.stats().git_fetches("objects"), 2);
    mount.unmount();
}

/// `acme/api` (with a `pyproject.toml`) and `acme/tox.ini`, a repository whose name tools
/// also probe for up the tree: it must stay visible.
fn api_and_a_repo_named_tox_ini() -> Hub {
    let hub = Hub::new();
    let mut r = repo::create(hub.path(), "acme", "api").unwrap();
    r.write("pyproject.toml", "[tool.ruff]\n")
        .commit("c")
        .unwrap();
    let mut t = repo::create(hub.path(), "acme", "tox.ini").unwrap();
    t.write("README", "a repo named tox.ini\n")
        .commit("c")
        .unwrap();
    hub
}

#[test]
fn probes_for_config_files_up_the_tree_cost_one_round_trip_and_real_repos_of_those_names_work() {
    require_fuse!();
    let hub = api_and_a_repo_named_tox_ini();
    let Some(cli) = git_cli(&hub) else {
        return;
    };
    let mount = TestMount::new(cli, &["--read-only"]);
    // A tool starts in a repository, then looks for its config up the tree.
    assert!(mount.at("acme/api/pyproject.toml").is_file());
    let first = std::fs::metadata(mount.at("acme/ruff.toml"));
    assert_eq!(first.unwrap_err().raw_os_error(), Some(libc::ENOENT));
    let before = hub.hub.stats();
    for name in [
        ".ruff.toml",
        "pyproject.toml",
        ".git",
        ".gitignore",
        "setup.cfg",
        "conftest.py",
    ] {
        let err = std::fs::metadata(mount.at(&format!("acme/{name}"))).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ENOENT), "{name}");
    }
    let after = hub.hub.stats();
    assert_eq!(
        after.requests, before.requests,
        "later probes were answered by the first batch: {after:?}"
    );
    // Every probe was asked of git, not REST: the REST requests are the owner, the
    // repository's listing (sent by ref name beside its ls-refs).
    assert_eq!(after.counted, 2, "{after:?}");
    assert_eq!(after.route("tree"), 1, "{after:?}");
    assert_eq!(
        std::fs::read_to_string(mount.at("acme/tox.ini/README")).unwrap(),
        "a repo named tox.ini\n"
    );
    mount.unmount();
}

#[test]
fn with_an_org_listing_probes_up_the_tree_cost_no_request_at_all() {
    require_fuse!();
    let hub = api_and_a_repo_named_tox_ini();
    let Some(cli) = git_cli(&hub) else {
        return;
    };
    // `--org` lists the owner as the mount starts; that listing answers the probes.
    let mount = TestMount::new(cli, &["--read-only", "--org", "acme"]);
    assert!(mount.at("acme/api/pyproject.toml").is_file());
    let before = hub.hub.stats();
    for name in [
        ".ruff.toml",
        "ruff.toml",
        "pyproject.toml",
        ".git",
        "setup.cfg",
    ] {
        let err = std::fs::metadata(mount.at(&format!("acme/{name}"))).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ENOENT), "{name}");
    }
    let after = hub.hub.stats();
    assert_eq!(
        after.requests, before.requests,
        "the listing answered every probe: {after:?}"
    );
    // A repository of a probed name that the listing holds is still there.
    assert_eq!(
        std::fs::read_to_string(mount.at("acme/tox.ini/README")).unwrap(),
        "a repo named tox.ini\n"
    );
    mount.unmount();
}

#[test]
fn a_branch_that_moves_while_its_listing_is_in_flight_is_listed_at_the_commit_resolved() {
    require_fuse!();
    let hub = Hub::new();
    let mut r = repo::create(hub.path(), "acme", "api").unwrap();
    r.write("a.txt", "old\n").commit("old").unwrap();
    let Some(cli) = git_cli(&hub) else {
        return;
    };
    let mount = TestMount::new(cli, &["--read-only", "--ref-ttl", "1h"]);
    // The listing by ref name answers late, after a push: it lists the new commit.
    hub.hub.inject(
        Fault::stall(Duration::from_millis(1500))
            .path_contains("/git/trees/HEAD")
            .always(),
    );
    let root = mount.at("acme/api");
    let pusher = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(600));
        r.write("a.txt", "new\n")
            .write("b.txt", "b\n")
            .commit("new")
            .unwrap();
    });
    let names: Vec<String> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    pusher.join().unwrap();
    // What ls-refs named, whole: not the new commit's tree under the old commit.
    assert_eq!(names, ["a.txt"]);
    assert_eq!(
        std::fs::read_to_string(root.join("a.txt")).unwrap(),
        "old\n"
    );
    assert!(
        mount
            .log()
            .contains("the ref moved between ls-refs and its listing"),
        "{}",
        mount.log()
    );
    mount.unmount();
}
