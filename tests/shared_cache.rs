//! The shared cache (`--shared-cache`): machines (cache directories with their own
//! daemons) sharing one bucket, against `file://` and a real S3-compatible server
//! process (moto's server mode, `pip install "moto[server]"`): a second machine reads a
//! repository and scans an org without asking GitHub for content, a corrupted bucket
//! object is refetched and replaced, a bucket that stops answering never fails a read,
//! private content stays out without `--shared-cache-private`, and the bucket's
//! credentials reach no log and no cache file.

mod common;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::tree::{assert_same_tree, clone};
use common::{Cli, Hub, TestMount, content_requests};
use fakehub::RepoMeta;
use fakehub::repo;

/// The secret the S3 tests give the bucket's client: it must appear nowhere.
const SECRET: &str = "heimdall-test-secret-3f9a2c";

/// An S3-compatible server (moto) on loopback, with bucket `team` created.
struct Moto {
    child: Child,
    endpoint: String,
}

impl Moto {
    fn start() -> Moto {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("python3")
            .args([
                "-m",
                "moto.server",
                "-H",
                "127.0.0.1",
                "-p",
                &port.to_string(),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 -m moto.server (pip install \"moto[server]\")");
        let endpoint = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let made = Command::new("curl")
                .args(["-sf", "-X", "PUT", &format!("{endpoint}/team")])
                .stdout(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if made {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "moto did not start (pip install \"moto[server]\")"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        Moto { child, endpoint }
    }

    fn signal(&self, signal: &str) {
        let _ = Command::new("kill")
            .args([signal, &self.child.id().to_string()])
            .status();
    }

    /// Object keys in the bucket.
    fn keys(&self) -> Vec<String> {
        let out = Command::new("curl")
            .args(["-sf", &format!("{}/team?list-type=2", self.endpoint)])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        text.split("<Key>")
            .skip(1)
            .filter_map(|s| s.split("</Key>").next())
            .map(str::to_string)
            .collect()
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        self.signal("-CONT");
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A machine: its own cache directory (and daemon) on the shared bucket `url`.
fn machine(hub: &Hub, url: &str, moto: Option<&Moto>) -> Cli {
    let mut cli = hub.cli();
    cli.extra_env
        .push(("HEIMDALL_SHARED_CACHE".into(), url.to_string()));
    cli.extra_env
        .push(("HEIMDALL_SHARED_CACHE_TIMEOUT_MS".into(), "500".into()));
    if let Some(moto) = moto {
        for (k, v) in [
            ("AWS_ACCESS_KEY_ID", "heimdall-test-key"),
            ("AWS_SECRET_ACCESS_KEY", SECRET),
            ("AWS_REGION", "us-east-1"),
            ("AWS_ENDPOINT_URL", moto.endpoint.as_str()),
            ("AWS_ALLOW_HTTP", "true"),
        ] {
            cli.extra_env.push((k.into(), v.into()));
        }
    }
    cli
}

/// An org of two repositories with files in several directories and the files a scan
/// reads (`pyproject.toml`, `package.json`, a workflow); returns api's commit.
fn org(hub: &Hub) -> String {
    let mut api = repo::create(hub.path(), "acme", "api").unwrap();
    api.write(
        "pyproject.toml",
        "[project]\nname = \"api\"\ndependencies = [\"requests>=2\"]\n\n[tool.ruff]\nline-length = 100\n",
    )
    .write(".gitignore", "__pycache__/\n")
    .write(".github/workflows/ci.yml", "on: push\njobs:\n  t:\n    runs-on: ubuntu-latest\n    steps:\n      - run: pytest\n");
    for i in 0..60 {
        api.write(
            format!("src/api/m{i}.py"),
            format!("def f{i}():\n    return {i}\n"),
        );
    }
    api.write("docs/big.bin", vec![7u8; 300 << 10]);
    let head = api.commit("c").unwrap();
    let mut web = repo::create(hub.path(), "acme", "web").unwrap();
    web.write(
        "package.json",
        "{\"name\":\"web\",\"dependencies\":{\"react\":\"^18\"}}\n",
    )
    .write("src/index.js", "export const x = 1;\n")
    .commit("c")
    .unwrap();
    head
}

/// Reads every file of `acme/api` on a fresh mount of `cli`'s cache against a clone,
/// then unmounts (which waits for the uploads).
fn read_api(hub: &Hub, cli: Cli, head: &str) -> TestMount {
    let work = tempfile::tempdir().unwrap();
    let checkout = work.path().join("api");
    clone(hub, "acme", "api", head, &checkout);
    let mount = TestMount::new(cli, &["--read-only"]);
    assert_same_tree(&checkout, &mount.at("acme/api"));
    mount
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}

/// The whole story on one bucket: machine A reads and scans from GitHub, machine B
/// (a fresh cache) does the same with no content, tree or pack request to GitHub.
fn second_machine_needs_no_content_from_github(url: &str, moto: Option<&Moto>) {
    let hub = Hub::new();
    let head = org(&hub);
    let a = read_api(&hub, machine(&hub, url, moto), &head);
    a.unmount();
    // A's scan, in A's cache (the command waits for its uploads before it exits).
    a.cli.ok(&["-q", "github", "scan-org", "acme"]);
    let a_export = a
        .cli
        .ok(&["github", "export-patterns", "acme", "--format", "json"]);

    let b_cli = machine(&hub, url, moto);
    hub.hub.reset_stats();
    let b = read_api(&hub, b_cli, &head);
    let stats = hub.hub.stats();
    assert_eq!(content_requests(&stats), 0, "{stats:?}\n{}", b.log());
    assert_eq!(
        stats.route("tree"),
        0,
        "the listing came from the bucket: {stats:?}"
    );
    assert_eq!(stats.git_fetches("trees"), 0, "{stats:?}");
    assert_eq!(
        stats.git_fetches("commit"),
        0,
        "the commit object came from the bucket: {stats:?}"
    );
    let status: serde_json::Value =
        serde_json::from_slice(&std::fs::read(b.at(".status/cache.json")).unwrap()).unwrap();
    assert!(status["shared"]["hits"].as_u64().unwrap() > 0, "{status}");
    assert_eq!(status["shared"]["state"], "closed", "{status}");
    b.unmount();
    hub.hub.reset_stats();
    let b_cli = &b.cli;
    b_cli.ok(&["-q", "github", "scan-org", "acme"]);
    let stats = hub.hub.stats();
    assert_eq!(content_requests(&stats), 0, "{stats:?}");
    assert_eq!(stats.route("tree"), 0, "{stats:?}");
    assert_eq!(stats.git_fetches("trees"), 0, "{stats:?}");
    assert_eq!(
        b_cli.ok(&["github", "export-patterns", "acme", "--format", "json"]),
        a_export,
        "the same patterns on both machines"
    );
    let shown = String::from_utf8(b_cli.ok(&["cache", "stats"])).unwrap();
    assert!(shown.contains("shared:"), "{shown}");
}

#[test]
fn a_second_machine_reads_and_scans_with_no_content_from_github_over_file() {
    require_fuse!();
    let bucket = tempfile::tempdir().unwrap();
    let url = format!("file://{}", bucket.path().display());
    second_machine_needs_no_content_from_github(&url, None);
    assert!(files_under(bucket.path()).len() > 2);
}

#[test]
fn a_second_machine_reads_and_scans_with_no_content_from_github_over_s3() {
    require_fuse!();
    let moto = Moto::start();
    second_machine_needs_no_content_from_github("s3://team/heimdall", Some(&moto));
    let keys = moto.keys();
    assert!(
        keys.iter().all(|k| k.starts_with("heimdall/v1/")),
        "{keys:?}"
    );
    assert!(keys.iter().any(|k| k.contains("/patterns/")), "{keys:?}");
}

#[test]
fn a_corrupted_bucket_object_is_refetched_from_github_and_replaced() {
    require_fuse!();
    let hub = Hub::new();
    let head = org(&hub);
    let bucket = tempfile::tempdir().unwrap();
    let url = format!("file://{}", bucket.path().display());
    read_api(&hub, machine(&hub, &url, None), &head).unmount();
    // Every content object and the listing, flipped in place.
    let mut flipped = 0;
    for path in files_under(bucket.path()) {
        let mut bytes = std::fs::read(&path).unwrap();
        for b in bytes.iter_mut().step_by(97) {
            *b ^= 0x5a;
        }
        std::fs::write(&path, bytes).unwrap();
        flipped += 1;
    }
    assert!(flipped > 1);
    hub.hub.reset_stats();
    let b = read_api(&hub, machine(&hub, &url, None), &head);
    assert!(content_requests(&hub.hub.stats()) > 0, "B went to GitHub");
    let log = b.log();
    assert!(log.contains("in the shared cache; deleted"), "{log}");
    let status: serde_json::Value =
        serde_json::from_slice(&std::fs::read(b.at(".status/cache.json")).unwrap()).unwrap();
    assert!(
        status["shared"]["corrupt"].as_u64().unwrap() > 0,
        "{status}"
    );
    b.unmount();
    // B replaced them: a third machine reads everything from the bucket again.
    hub.hub.reset_stats();
    let c = read_api(&hub, machine(&hub, &url, None), &head);
    let stats = hub.hub.stats();
    assert_eq!(content_requests(&stats), 0, "{stats:?}\n{}", c.log());
    assert_eq!(stats.git_fetches("commit"), 0, "{stats:?}");
    c.unmount();
}

#[test]
fn a_bucket_that_stops_answering_mid_run_never_fails_a_read() {
    require_fuse!();
    let moto = Moto::start();
    let hub = Hub::new();
    let head = org(&hub);
    let url = "s3://team/heimdall";
    read_api(&hub, machine(&hub, url, Some(&moto)), &head).unmount();
    let work = tempfile::tempdir().unwrap();
    let checkout = work.path().join("api");
    clone(&hub, "acme", "api", &head, &checkout);
    let b = TestMount::new(machine(&hub, url, Some(&moto)), &["--read-only"]);
    let root = b.at("acme/api");
    assert_eq!(
        std::fs::read(root.join("pyproject.toml")).unwrap(),
        std::fs::read(checkout.join("pyproject.toml")).unwrap()
    );
    // Frozen: connections are accepted and never answered (every request times out).
    moto.signal("-STOP");
    let started = Instant::now();
    assert_same_tree(&checkout, &root);
    // Another repository: its listing and packs are asked of the frozen bucket first.
    let web = work.path().join("web");
    let web_head = String::from_utf8(
        Command::new("git")
            .arg("--git-dir")
            .arg(hub.path().join("acme/web.git"))
            .args(["rev-parse", "HEAD"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    clone(&hub, "acme", "web", web_head.trim(), &web);
    assert_same_tree(&web, &b.at("acme/web"));
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "reads went on without the bucket: {:?}",
        started.elapsed()
    );
    let status: serde_json::Value =
        serde_json::from_slice(&std::fs::read(b.at(".status/cache.json")).unwrap()).unwrap();
    assert!(status["shared"]["errors"].as_u64().unwrap() > 0, "{status}");
    moto.signal("-CONT");
    b.unmount();
}

#[test]
fn private_content_is_not_uploaded_without_the_flag() {
    require_fuse!();
    let hub = Hub::new();
    let mut r = repo::create(hub.path(), "acme", "secret").unwrap();
    r.write("plans.txt", "private plans\n").commit("c").unwrap();
    r.set_metadata(&RepoMeta {
        private: Some(true),
        ..RepoMeta::default()
    })
    .unwrap();
    let bucket = tempfile::tempdir().unwrap();
    let url = format!("file://{}", bucket.path().display());
    let m = TestMount::new(machine(&hub, &url, None), &["--read-only"]);
    assert_eq!(
        std::fs::read(m.at("acme/secret/plans.txt")).unwrap(),
        b"private plans\n"
    );
    m.unmount();
    assert_eq!(files_under(bucket.path()), Vec::<PathBuf>::new());
    assert!(common::files_containing(bucket.path(), b"private plans").is_empty());
    // With the flag, it is shared.
    let mut cli = machine(&hub, &url, None);
    cli.extra_env
        .push(("HEIMDALL_SHARED_CACHE_PRIVATE".into(), "1".into()));
    let m = TestMount::new(cli, &["--read-only"]);
    assert_eq!(
        std::fs::read(m.at("acme/secret/plans.txt")).unwrap(),
        b"private plans\n"
    );
    m.unmount();
    assert!(!files_under(bucket.path()).is_empty());
}

#[test]
fn the_buckets_credentials_reach_no_log_and_no_cache_file() {
    require_fuse!();
    let moto = Moto::start();
    let hub = Hub::new();
    let head = org(&hub);
    let url = "s3://team/heimdall";
    let mut cli = machine(&hub, url, Some(&moto));
    cli.extra_env.push(("RUST_LOG".into(), "trace".into()));
    let m = read_api(&hub, cli, &head);
    let cache = m.cli.cache_dir();
    let log = m.log();
    m.unmount();
    assert!(!log.contains(SECRET), "the secret is in the log");
    assert!(log.contains("shared"), "the log is at trace level: {log}");
    assert!(common::files_containing(&cache, SECRET.as_bytes()).is_empty());
    // A bad URL with credentials in it is refused without echoing them.
    let bad = hub.cli();
    let err = bad.fails(&[
        "--shared-cache",
        "s3://key:hunter2secret@team/x",
        "cache",
        "stats",
    ]);
    assert!(!err.contains("hunter2secret"), "{err}");
    assert!(err.contains("credentials in the URL are refused"), "{err}");
}

#[test]
fn an_aws_profile_in_the_home_directory_is_enough_for_s3() {
    require_fuse!();
    let moto = Moto::start();
    let hub = Hub::new();
    let head = org(&hub);
    // A machine on the bucket with no AWS variable but AWS_PROFILE (and plain HTTP).
    let mut cli = machine(&hub, "s3://team/profile", None);
    let home = cli.cache_dir().parent().unwrap().join("home");
    std::fs::create_dir_all(home.join(".aws")).unwrap();
    std::fs::write(
        home.join(".aws/credentials"),
        format!("[default]\naws_access_key_id = wrong\naws_secret_access_key = wrong\n\n[team]\naws_access_key_id = heimdall-profile-key\naws_secret_access_key = {SECRET}\n"),
    )
    .unwrap();
    std::fs::write(
        home.join(".aws/config"),
        format!(
            "[profile team]\nregion = us-east-1\nendpoint_url = {}\n",
            moto.endpoint
        ),
    )
    .unwrap();
    for (k, v) in [
        ("AWS_PROFILE", "team"),
        ("AWS_ALLOW_HTTP", "true"),
        ("RUST_LOG", "trace"),
    ] {
        cli.extra_env.push((k.into(), v.into()));
    }
    let m = read_api(&hub, cli, &head);
    let log = m.log();
    let cache = m.cli.cache_dir();
    m.unmount();
    let keys = moto.keys();
    assert!(
        keys.iter().any(|k| k.starts_with("profile/v1/")),
        "uploads went to the profile's endpoint: {keys:?}\n{log}"
    );
    assert!(!log.contains(SECRET), "the secret is in the log");
    assert!(common::files_containing(&cache, SECRET.as_bytes()).is_empty());
    // A profile that is in neither file is a clear error.
    let mut bad = hub.cli();
    bad.extra_env.push(("AWS_PROFILE".into(), "nope".into()));
    let err = bad.fails(&["--shared-cache", "s3://team/x", "cache", "stats"]);
    assert!(err.contains("AWS_PROFILE `nope`"), "{err}");
}
