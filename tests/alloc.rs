//! Allocations through the CLI and the daemon it starts: real mounts of one resource,
//! listed, shared, expired, released, and surviving a daemon killed with kill -9.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{Cli, Hub};
use fakehub::repo;
use serde_json::Value;

/// A CLI whose daemon lives in its own runtime dir, stopped (or killed) when dropped.
struct Daemon {
    cli: Cli,
    runtime: tempfile::TempDir,
}

impl Daemon {
    fn new(hub: &Hub, extra: &[(&str, &str)]) -> Daemon {
        let runtime = tempfile::tempdir().unwrap();
        let mut cli = hub.cli();
        cli.extra_env.push((
            "HEIMDALL_RUNTIME_DIR".into(),
            runtime.path().to_string_lossy().into_owned(),
        ));
        for (k, v) in extra {
            cli.extra_env.push((k.to_string(), v.to_string()));
        }
        Daemon { cli, runtime }
    }

    fn allocate(&self, args: &[&str]) -> PathBuf {
        let mut full = vec!["allocate"];
        full.extend_from_slice(args);
        let out = String::from_utf8(self.cli.ok(&full)).unwrap();
        PathBuf::from(out.trim().trim_end_matches('/'))
    }

    fn list(&self) -> Vec<Value> {
        let out = self.cli.ok(&["allocated", "list", "--json"]);
        serde_json::from_slice::<Value>(&out)
            .unwrap()
            .as_array()
            .unwrap()
            .clone()
    }

    fn pid(&self) -> i32 {
        let status: Value = serde_json::from_slice(&self.cli.ok(&["daemon", "status"])).unwrap();
        status["pid"].as_i64().unwrap() as i32
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.cli.cache_dir().join("daemon.log")).unwrap_or_default()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.cli.run(&["daemon", "stop"]);
        // Whatever is left mounted under the runtime dir goes too.
        if let Ok(mounts) = std::fs::read_to_string("/proc/mounts") {
            let root = self.runtime.path().to_string_lossy().into_owned();
            for line in mounts.lines() {
                if let Some(point) = line.split(' ').nth(1).filter(|p| p.starts_with(&root)) {
                    let _ = std::process::Command::new("fusermount3")
                        .args(["-uz", point])
                        .status();
                }
            }
        }
    }
}

fn mounted(path: &Path) -> bool {
    std::fs::read_to_string("/proc/mounts")
        .unwrap()
        .lines()
        .any(|l| l.split(' ').nth(1) == Some(path.to_str().unwrap()))
}

fn sample(hub: &Hub) {
    let mut r = repo::create(hub.path(), "acme", "api").unwrap();
    r.write("README.md", "# api\n")
        .write("src/app/main.py", "print('main')\n")
        .write("src/app/util.py", "X = 1\n")
        .write("src/app/data.json", "{}\n")
        .write("docs/guide.md", "guide\n")
        .commit("c")
        .unwrap();
}

fn files_under(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let entry = entry.unwrap();
            if entry.file_type().unwrap().is_dir() {
                stack.push(entry.path());
            } else {
                out.push(
                    entry
                        .path()
                        .strip_prefix(root)
                        .unwrap()
                        .to_string_lossy()
                        .into_owned(),
                );
            }
        }
    }
    out.sort();
    out
}

/// Regression: `allocate` printed `.../acme_api/` where `allocated list` showed
/// `.../acme_api`, so a script could not find its allocation in the list.
#[test]
fn allocate_prints_the_path_the_list_and_json_show() {
    require_fuse!();
    let hub = Hub::new();
    sample(&hub);
    let d = Daemon::new(&hub, &[]);
    let printed = String::from_utf8(d.cli.ok(&["allocate", "acme/api"])).unwrap();
    let printed = printed.strip_suffix('\n').expect("one line");
    let json: Value =
        serde_json::from_slice(&d.cli.ok(&["allocate", "acme/api", "--json"])).unwrap();
    let list = d.list();
    let listed: Vec<&str> = list.iter().map(|a| a["path"].as_str().unwrap()).collect();
    assert!(listed.contains(&printed), "{printed:?} not in {listed:?}");
    assert!(
        listed.contains(&json["path"].as_str().unwrap()),
        "{json} not in {listed:?}"
    );
    let table = String::from_utf8(d.cli.ok(&["allocated", "list"])).unwrap();
    assert!(
        table.lines().any(|l| l.split('\t').next() == Some(printed)),
        "{printed:?} not a PATH in\n{table}"
    );
    d.cli.ok(&["release", printed]);
    assert_eq!(d.list().len(), 1);
}

#[test]
fn allocate_lists_reads_and_releases() {
    require_fuse!();
    let hub = Hub::new();
    sample(&hub);
    let d = Daemon::new(&hub, &[]);
    let path = d.allocate(&["acme/api", "--client", "ci-job-7"]);
    assert!(mounted(&path), "{}", d.log());
    assert_eq!(
        std::fs::read_to_string(path.join("src/app/main.py")).unwrap(),
        "print('main')\n"
    );
    let list = d.list();
    assert_eq!(list.len(), 1);
    assert!(list[0]["last_access"].is_i64(), "read through: {list:?}");
    assert_eq!(list[0]["client"], "ci-job-7");
    assert_eq!(list[0]["resource"], "acme/api");
    assert_eq!(list[0]["expired"], false);
    // Small (< 1 MB): an hour.
    assert_eq!(list[0]["ttl_secs"], 3600);
    let table = String::from_utf8(d.cli.ok(&["allocated", "list"])).unwrap();
    assert!(
        table.starts_with("PATH\tRESOURCE\tAGE\tTTL\tCLIENT\tSIZE"),
        "{table}"
    );
    assert!(table.contains("ci-job-7"), "{table}");

    // A subtree shows at the root.
    let sub = d.allocate(&["acme/api/src/app"]);
    assert_eq!(files_under(&sub), ["data.json", "main.py", "util.py"]);

    d.cli.ok(&["release", path.to_str().unwrap()]);
    assert!(!mounted(&path));
    assert!(!path.exists(), "the mountpoint is removed");
    assert_eq!(d.list().len(), 1);
    d.cli.ok(&["release", "--all"]);
    assert!(!mounted(&sub));
    assert!(d.list().is_empty());
    let err = d.cli.fails(&["release", path.to_str().unwrap()]);
    assert!(err.contains("is not an allocation"), "{err}");
    let err = d.cli.fails(&["allocate", "acme/api/no/such/dir"]);
    assert!(err.contains("does not exist"), "{err}");
}

#[test]
fn a_glob_allocation_shows_exactly_the_matching_files() {
    require_fuse!();
    let hub = Hub::new();
    sample(&hub);
    let d = Daemon::new(&hub, &[]);
    let path = d.allocate(&["acme/api/**/*.py"]);
    assert_eq!(files_under(&path), ["src/app/main.py", "src/app/util.py"]);
    assert!(!path.join("README.md").exists());
    assert_eq!(
        std::fs::read_to_string(path.join("src/app/util.py")).unwrap(),
        "X = 1\n"
    );
    // One file is a view of that file alone.
    let one = d.allocate(&["acme/api/docs/guide.md"]);
    assert_eq!(files_under(&one), ["docs/guide.md"]);
    let err = d.cli.fails(&["allocate", "acme/api/**/*.rs"]);
    assert!(err.contains("matches no file"), "{err}");
}

#[test]
fn expired_allocations_are_listed_then_cleaned_and_the_cleaner_releases_them() {
    require_fuse!();
    let hub = Hub::new();
    sample(&hub);
    // The cleaner runs rarely here: expiry is visible before cleanup.
    let d = Daemon::new(&hub, &[]);
    let short = d.allocate(&["acme/api", "--ttl", "1s"]);
    let long = d.allocate(&["acme/api", "--ttl", "1h"]);
    std::thread::sleep(Duration::from_millis(1500));
    let list = d.list();
    let expired: Vec<bool> = list
        .iter()
        .map(|a| a["expired"].as_bool().unwrap())
        .collect();
    assert_eq!(expired, [true, false], "{list:?}");
    let table = String::from_utf8(d.cli.ok(&["allocated", "list"])).unwrap();
    assert!(table.contains("[EXPIRED]"), "{table}");
    d.cli.ok(&["cleanup", "--expired"]);
    assert!(!mounted(&short));
    assert!(mounted(&long));
    d.cli.ok(&["cleanup", "--older-than", "0s"]);
    assert!(!mounted(&long));
    let err = d.cli.fails(&["allocate", "acme/api", "--ttl", "8d"]);
    assert!(err.contains("outside"), "{err}");

    // With the cleaner every second, an expired allocation goes on its own.
    let fast = Daemon::new(&hub, &[("HEIMDALL_CLEAN_INTERVAL", "1s")]);
    let gone = fast.allocate(&["acme/api", "--ttl", "1s", "--client", "bot"]);
    let started = Instant::now();
    while mounted(&gone) {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{}",
            fast.log()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(fast.list().is_empty());
    let log = fast.log();
    assert!(
        log.contains("released") && log.contains("bot") && log.contains("expired"),
        "{log}"
    );
}

#[test]
fn two_clients_share_stored_objects_and_release_independently() {
    require_fuse!();
    let hub = Hub::new();
    sample(&hub);
    let d = Daemon::new(&hub, &[]);
    let a = d.allocate(&["acme/api", "--client", "a"]);
    let b = d.allocate(&["acme/api", "--client", "b"]);
    assert_ne!(a, b);
    hub.hub.reset_stats();
    assert_eq!(std::fs::read(a.join("README.md")).unwrap(), b"# api\n");
    assert_eq!(std::fs::read(b.join("README.md")).unwrap(), b"# api\n");
    assert_eq!(
        common::content_requests(&hub.hub.stats()),
        1,
        "one download for both"
    );
    d.cli.ok(&["release", "--all", "--client", "a"]);
    assert!(!mounted(&a));
    assert_eq!(
        std::fs::read(b.join("src/app/util.py")).unwrap(),
        b"X = 1\n"
    );
    let list = d.list();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["client"], "b");
}

#[test]
fn hydrate_makes_everything_local_before_returning() {
    require_fuse!();
    let hub = Hub::new();
    sample(&hub);
    let d = Daemon::new(&hub, &[]);
    let path = d.allocate(&["acme/api", "--hydrate"]);
    hub.hub.reset_stats();
    assert_eq!(files_under(&path).len(), 5);
    for file in files_under(&path) {
        std::fs::read(path.join(file)).unwrap();
    }
    assert_eq!(hub.hub.stats().requests, 0, "everything was local");
}

#[test]
fn a_killed_daemon_is_restarted_with_its_allocations_and_no_stale_mount() {
    require_fuse!();
    let hub = Hub::new();
    sample(&hub);
    let d = Daemon::new(&hub, &[]);
    let path = d.allocate(&["acme/api", "--client", "keep"]);
    std::fs::read(path.join("README.md")).unwrap();
    let pid = d.pid();
    unsafe { libc::kill(pid, libc::SIGKILL) };
    let started = Instant::now();
    while unsafe { libc::kill(pid, 0) } == 0 {
        assert!(started.elapsed() < Duration::from_secs(10));
        std::thread::sleep(Duration::from_millis(50));
    }
    // The mount is dead (ENOTCONN) until a command brings a new daemon.
    let list = d.list();
    assert_eq!(list.len(), 1, "the index kept it");
    assert_ne!(d.pid(), pid);
    assert_eq!(
        std::fs::read_to_string(path.join("src/app/main.py")).unwrap(),
        "print('main')\n"
    );
    let mounts = std::fs::read_to_string("/proc/mounts").unwrap();
    assert_eq!(
        mounts
            .lines()
            .filter(|l| l.contains(path.to_str().unwrap()))
            .count(),
        1,
        "exactly one live mount there: {mounts}"
    );
    let verify: Value = serde_json::from_slice(&d.cli.ok(&["cache", "verify", "--json"])).unwrap();
    assert_eq!(verify["corrupt"].as_array().unwrap().len(), 0);
}

fn object_bytes(cache: &Path) -> u64 {
    let mut total = 0;
    for dir in std::fs::read_dir(cache.join("objects-v1"))
        .unwrap()
        .flatten()
    {
        for file in std::fs::read_dir(dir.path()).unwrap().flatten() {
            if !file.file_name().to_string_lossy().starts_with(".tmp-") {
                total += file.metadata().unwrap().len();
            }
        }
    }
    total
}

#[test]
fn the_cache_budget_holds_under_churn_and_never_evicts_live_allocations() {
    require_fuse!();
    const FILE: usize = 2000;
    const BUDGET: u64 = 24 * 1024;
    let hub = Hub::new();
    let content = |repo: usize, file: usize| format!("{repo:02}{file:02}").repeat(FILE / 4);
    for repo in 0..8 {
        let mut r = repo::create(hub.path(), "acme", &format!("r{repo}")).unwrap();
        for file in 0..4 {
            r.write(format!("f{file}.txt"), content(repo, file));
        }
        r.commit("c").unwrap();
    }
    // Loose objects, one per blob, are what this budget counts and pins (packs are
    // evicted whole: tests/git_transport.rs).
    let d = Daemon::new(&hub, &[("HEIMDALL_TRANSPORT", "rest")]);
    // The first command starts the daemon with this budget.
    let keep = d.allocate(&["--cache-max-size", "24K", "acme/r0", "--hydrate"]);
    let read_all = |path: &Path, repo: usize| {
        for file in 0..4 {
            let got = std::fs::read_to_string(path.join(format!("f{file}.txt"))).unwrap();
            assert_eq!(got, content(repo, file), "r{repo}/f{file}");
        }
    };
    let mut peak = 0;
    for repo in 1..8 {
        let path = d.allocate(&[&format!("acme/r{repo}"), "--hydrate"]);
        read_all(&path, repo);
        let bytes = object_bytes(&d.cli.cache_dir());
        peak = peak.max(bytes);
        assert!(
            bytes <= BUDGET + FILE as u64,
            "{bytes} bytes stored with a {BUDGET}-byte budget\n{}",
            d.log()
        );
        d.cli.ok(&["release", path.to_str().unwrap()]);
    }
    assert!(
        peak > BUDGET - FILE as u64 * 4,
        "the budget was reached: {peak}"
    );
    // The live allocation's objects were never evicted: reading it costs nothing.
    hub.hub.reset_stats();
    read_all(&keep, 0);
    assert_eq!(hub.hub.stats().route("blob"), 0);
}

#[test]
fn each_cache_dir_gets_its_own_daemon() {
    require_fuse!();
    let hub = Hub::new();
    sample(&hub);
    let d = Daemon::new(&hub, &[]);
    let other = tempfile::tempdir().unwrap();
    let other_cache = other.path().join("cache");
    let flag = other_cache.to_str().unwrap();
    let out = d.cli.ok(&["--cache-dir", flag, "allocate", "acme/api"]);
    let path = PathBuf::from(String::from_utf8(out).unwrap().trim().trim_end_matches('/'));
    std::fs::read(path.join("README.md")).unwrap();
    let status: Value =
        serde_json::from_slice(&d.cli.ok(&["--cache-dir", flag, "daemon", "status"])).unwrap();
    assert_eq!(status["cache_dir"], flag, "{status}");
    assert!(
        other_cache.join("objects-v1").exists(),
        "read into the other cache"
    );
    // The default cache's daemon is another one, not running yet.
    let err = d.cli.fails(&["daemon", "status"]);
    assert!(err.contains("not running"), "{err}");
    d.cli.ok(&["--cache-dir", flag, "daemon", "stop"]);
    assert!(!mounted(&path));
}

/// A repository with more files than the hydration threshold: `--hydrate` takes its
/// tarball.
fn many_files(hub: &Hub) {
    let mut r = repo::create(hub.path(), "acme", "big").unwrap();
    for i in 0..80 {
        r.write(format!("src/m{i:02}.py"), format!("X = {i}\n"));
    }
    r.commit("c").unwrap();
}

/// Regression: a network failure while `allocate --hydrate` fetched the tarball was
/// reported as invalid input (a `String` error); it is the network error it is, typed for
/// the library's callers and named in the CLI's message.
#[test]
fn a_hydration_network_failure_is_reported_as_the_network_error_it_is() {
    use heimdall::alloc::{AllocError, AllocateRequest, Allocator};
    use heimdall::hydrate::HydrateError;
    use heimdall::remote::{GitHubClient, HttpClient, RemoteError};
    let hub = Hub::new();
    many_files(&hub);
    hub.hub.inject(
        fakehub::Fault::drop_connection()
            .on_route("tarball")
            .always(),
    );
    let (settings, _cache) = hub.settings(None);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let error = runtime.block_on(async {
        let store = Arc::new(heimdall::store::Store::open(&settings.cache_dir).unwrap());
        let client: Arc<dyn GitHubClient> = Arc::new(HttpClient::new(&settings, None).unwrap());
        let ns = Arc::new(heimdall::namespace::Namespace::new(
            client,
            store,
            Duration::from_secs(60),
        ));
        let allocator =
            Allocator::new(ns, settings.alloc_root.clone(), "https://github.com".into());
        let request = AllocateRequest {
            resource: "acme/big".into(),
            ttl: None,
            client: "test".into(),
            hydrate: true,
            read_only: false,
            keep_changes: false,
        };
        allocator.allocate(&request).await.unwrap_err()
    });
    assert!(
        matches!(
            &error,
            AllocError::Hydrate {
                source: HydrateError::Remote(RemoteError::Network { .. }),
                ..
            }
        ),
        "{error:?}"
    );
    assert!(
        hub.hub.stats().route("tarball") > 0,
        "the tarball was asked for"
    );

    // Through the CLI and the daemon: one line naming the resource and the network error
    // (over git, `--hydrate` is one fetch of the whole commit: it meets the same fault).
    require_fuse!();
    hub.hub.inject(
        fakehub::Fault::drop_connection()
            .on_route("git_http")
            .always(),
    );
    let d = Daemon::new(&hub, &[]);
    let err = d.cli.fails(&["allocate", "acme/big", "--hydrate"]);
    assert!(
        err.contains("cannot fetch `acme/big` before handing it out")
            && err.contains("network error"),
        "{err}"
    );
    assert!(d.list().is_empty(), "nothing was allocated");
    // The network back: the same request succeeds.
    hub.hub.clear_faults();
    let path = d.allocate(&["acme/big", "--hydrate"]);
    assert_eq!(files_under(&path).len(), 80);
}
