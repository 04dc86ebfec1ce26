//! The shared cache (`--shared-cache`): machines (cache directories with their own
//! daemons) sharing one bucket, against `file://` and a real S3-compatible server
//! process (moto's server mode, `pip install "moto[server]"`; scripts/garage-shared.sh
//! runs the same tests on a three-node Garage cluster): a second machine reads a
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

/// The secret the tests give moto's client: it must appear nowhere.
const MOTO_SECRET: &str = "heimdall-test-secret-3f9a2c";

/// An S3-compatible server with bucket `team`: moto's server mode, started here, or a
/// running one named by `HEIMDALL_TEST_S3_ENDPOINT`, `_KEY_ID`, `_SECRET` and `_PIDS`
/// (its processes, to freeze), as scripts/garage-shared.sh does with a three-node Garage
/// cluster. Each test then writes under its own prefix; the tests run one at a time there
/// (one of them freezes the server).
struct S3 {
    child: Option<Child>,
    pids: Vec<u32>,
    endpoint: String,
    key_id: String,
    secret: String,
    /// Appended to every prefix: empty on a fresh moto, unique on a shared server.
    run: String,
    /// Frozen by this test (SIGSTOP), so thawed when it ends.
    frozen: std::sync::atomic::AtomicBool,
}

impl S3 {
    fn start() -> S3 {
        if let Ok(endpoint) = std::env::var("HEIMDALL_TEST_S3_ENDPOINT") {
            let var = |name: &str| {
                std::env::var(name).unwrap_or_else(|_| panic!("{name} goes with the endpoint"))
            };
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos();
            return S3 {
                child: None,
                pids: var("HEIMDALL_TEST_S3_PIDS")
                    .split_whitespace()
                    .map(|p| p.parse().expect("a process id"))
                    .collect(),
                endpoint,
                key_id: var("HEIMDALL_TEST_S3_KEY_ID"),
                secret: var("HEIMDALL_TEST_S3_SECRET"),
                run: format!("-{}-{nanos}", std::process::id()),
                frozen: Default::default(),
            };
        }
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
        let s3 = S3 {
            pids: vec![child.id()],
            child: Some(child),
            endpoint: format!("http://127.0.0.1:{port}"),
            key_id: "heimdall-test-key".into(),
            secret: MOTO_SECRET.into(),
            run: String::new(),
            frozen: Default::default(),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while !s3.curl(&["-X", "PUT", "/team"], None).status.success() {
            assert!(
                Instant::now() < deadline,
                "moto did not start (pip install \"moto[server]\")"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        s3
    }

    /// The bucket URL of prefix `name` for this run.
    fn url(&self, name: &str) -> String {
        format!("s3://team/{}", self.prefix(name))
    }

    fn prefix(&self, name: &str) -> String {
        format!("{name}{}", self.run)
    }

    fn signal(&self, signal: &str) {
        self.frozen
            .store(signal == "-STOP", std::sync::atomic::Ordering::SeqCst);
        for pid in &self.pids {
            let _ = Command::new("kill")
                .args([signal, &pid.to_string()])
                .status();
        }
    }

    /// A signed request (SigV4) to `args`' last path; the credentials go to curl on its
    /// standard input, never on its command line.
    fn curl(&self, args: &[&str], body: Option<&Path>) -> std::process::Output {
        use std::io::Write;
        let (path, opts) = args.split_last().unwrap();
        let mut cmd = Command::new("curl");
        cmd.args(["-sf", "-K", "-", "--aws-sigv4", "aws:amz:us-east-1:s3"])
            .args(["-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD"])
            .args(opts);
        if let Some(body) = body {
            cmd.arg("--data-binary").arg(format!("@{}", body.display()));
        }
        let mut child = cmd
            .arg(format!("{}{path}", self.endpoint))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("curl");
        writeln!(
            child.stdin.take().unwrap(),
            "user = \"{}:{}\"",
            self.key_id,
            self.secret
        )
        .unwrap();
        child.wait_with_output().unwrap()
    }

    /// Object keys under `prefix` (of [`S3::prefix`]).
    fn keys(&self, prefix: &str) -> Vec<String> {
        // Encoded as SigV4 signs it (a server that checks signatures refuses a bare `/`).
        let query = format!("list-type=2&prefix={prefix}%2F");
        let out = self.curl(&[&format!("/team?{query}")], None);
        assert!(out.status.success(), "listing {prefix}");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(!text.contains("<IsTruncated>true"), "more than a page");
        text.split("<Key>")
            .skip(1)
            .filter_map(|s| s.split("</Key>").next())
            .map(str::to_string)
            .collect()
    }

    fn get(&self, key: &str) -> Vec<u8> {
        let out = self.curl(&[&format!("/team/{key}")], None);
        assert!(out.status.success(), "GET {key}");
        out.stdout
    }

    fn put(&self, key: &str, bytes: &[u8]) {
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), bytes).unwrap();
        let out = self.curl(&["-X", "PUT", &format!("/team/{key}")], Some(file.path()));
        assert!(out.status.success(), "PUT {key}");
    }
}

impl Drop for S3 {
    fn drop(&mut self) {
        if self.frozen.load(std::sync::atomic::Ordering::SeqCst) {
            self.signal("-CONT");
        }
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A bucket, on either kind: a directory, or this run's prefix `name` on the server.
enum Bucket<'a> {
    Dir(&'a Path),
    S3(&'a S3, &'static str),
}

impl Bucket<'_> {
    fn url(&self) -> String {
        match self {
            Bucket::Dir(dir) => format!("file://{}", dir.display()),
            Bucket::S3(s3, name) => s3.url(name),
        }
    }

    /// A machine on this bucket (with the server's credentials for S3).
    fn machine(&self, hub: &Hub) -> Cli {
        let s3 = match self {
            Bucket::Dir(_) => None,
            Bucket::S3(s3, _) => Some(*s3),
        };
        machine(hub, &self.url(), s3)
    }

    fn objects(&self) -> Vec<String> {
        match self {
            Bucket::Dir(dir) => files_under(dir)
                .into_iter()
                .map(|p| p.display().to_string())
                .collect(),
            Bucket::S3(s3, name) => s3.keys(&s3.prefix(name)),
        }
    }

    fn read(&self, key: &str) -> Vec<u8> {
        match self {
            Bucket::Dir(_) => std::fs::read(key).unwrap(),
            Bucket::S3(s3, _) => s3.get(key),
        }
    }

    fn write(&self, key: &str, bytes: &[u8]) {
        match self {
            Bucket::Dir(_) => std::fs::write(key, bytes).unwrap(),
            Bucket::S3(s3, _) => s3.put(key, bytes),
        }
    }
}

/// A machine: its own cache directory (and daemon) on the shared bucket `url`.
fn machine(hub: &Hub, url: &str, s3: Option<&S3>) -> Cli {
    let mut cli = hub.cli();
    cli.extra_env
        .push(("HEIMDALL_SHARED_CACHE".into(), url.to_string()));
    cli.extra_env
        .push(("HEIMDALL_SHARED_CACHE_TIMEOUT_MS".into(), "500".into()));
    if let Some(s3) = s3 {
        for (k, v) in [
            ("AWS_ACCESS_KEY_ID", s3.key_id.as_str()),
            ("AWS_SECRET_ACCESS_KEY", s3.secret.as_str()),
            ("AWS_REGION", "us-east-1"),
            ("AWS_ENDPOINT_URL", s3.endpoint.as_str()),
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
fn second_machine_needs_no_content_from_github(bucket: &Bucket) {
    let hub = Hub::new();
    let head = org(&hub);
    let a = read_api(&hub, bucket.machine(&hub), &head);
    a.unmount();
    // A's scan, in A's cache (the command waits for its uploads before it exits).
    a.cli.ok(&["-q", "github", "scan-org", "acme"]);
    let a_export = a
        .cli
        .ok(&["github", "export-patterns", "acme", "--format", "json"]);

    let b_cli = bucket.machine(&hub);
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
    let dir = tempfile::tempdir().unwrap();
    second_machine_needs_no_content_from_github(&Bucket::Dir(dir.path()));
    assert!(files_under(dir.path()).len() > 2);
}

#[test]
fn a_second_machine_reads_and_scans_with_no_content_from_github_over_s3() {
    require_fuse!();
    let s3 = S3::start();
    second_machine_needs_no_content_from_github(&Bucket::S3(&s3, "heimdall"));
    let keys = s3.keys(&s3.prefix("heimdall"));
    let versioned = format!("{}/v1/", s3.prefix("heimdall"));
    assert!(
        !keys.is_empty() && keys.iter().all(|k| k.starts_with(&versioned)),
        "{keys:?}"
    );
    assert!(keys.iter().any(|k| k.contains("/patterns/")), "{keys:?}");
}

/// Every object in the bucket flipped in place: machine B notices, reads from GitHub and
/// replaces them, so machine C reads everything from the bucket again.
fn a_corrupted_object_is_refetched_and_replaced(bucket: &Bucket) {
    let hub = Hub::new();
    let head = org(&hub);
    read_api(&hub, bucket.machine(&hub), &head).unmount();
    let objects = bucket.objects();
    assert!(objects.len() > 1, "{objects:?}");
    for key in &objects {
        let mut bytes = bucket.read(key);
        for b in bytes.iter_mut().step_by(97) {
            *b ^= 0x5a;
        }
        bucket.write(key, &bytes);
    }
    hub.hub.reset_stats();
    let b = read_api(&hub, bucket.machine(&hub), &head);
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
    let c = read_api(&hub, bucket.machine(&hub), &head);
    let stats = hub.hub.stats();
    assert_eq!(content_requests(&stats), 0, "{stats:?}\n{}", c.log());
    assert_eq!(stats.git_fetches("commit"), 0, "{stats:?}");
    c.unmount();
}

#[test]
fn a_corrupted_bucket_object_is_refetched_from_github_and_replaced_over_file() {
    require_fuse!();
    let dir = tempfile::tempdir().unwrap();
    a_corrupted_object_is_refetched_and_replaced(&Bucket::Dir(dir.path()));
}

#[test]
fn a_corrupted_bucket_object_is_refetched_from_github_and_replaced_over_s3() {
    require_fuse!();
    let s3 = S3::start();
    a_corrupted_object_is_refetched_and_replaced(&Bucket::S3(&s3, "corrupt"));
}

#[test]
fn a_bucket_that_stops_answering_mid_run_never_fails_a_read() {
    require_fuse!();
    let s3 = S3::start();
    let hub = Hub::new();
    let head = org(&hub);
    let url = &s3.url("stopped");
    read_api(&hub, machine(&hub, url, Some(&s3)), &head).unmount();
    let work = tempfile::tempdir().unwrap();
    let checkout = work.path().join("api");
    clone(&hub, "acme", "api", &head, &checkout);
    let b = TestMount::new(machine(&hub, url, Some(&s3)), &["--read-only"]);
    let root = b.at("acme/api");
    assert_eq!(
        std::fs::read(root.join("pyproject.toml")).unwrap(),
        std::fs::read(checkout.join("pyproject.toml")).unwrap()
    );
    // Frozen: connections are accepted and never answered (every request times out).
    s3.signal("-STOP");
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
    s3.signal("-CONT");
    b.unmount();
}

/// A private repository's content goes to the bucket only with the flag.
fn private_content_needs_the_flag(bucket: &Bucket) {
    let hub = Hub::new();
    let mut r = repo::create(hub.path(), "acme", "secret").unwrap();
    r.write("plans.txt", "private plans\n").commit("c").unwrap();
    r.set_metadata(&RepoMeta {
        private: Some(true),
        ..RepoMeta::default()
    })
    .unwrap();
    let m = TestMount::new(bucket.machine(&hub), &["--read-only"]);
    assert_eq!(
        std::fs::read(m.at("acme/secret/plans.txt")).unwrap(),
        b"private plans\n"
    );
    m.unmount();
    assert_eq!(bucket.objects(), Vec::<String>::new());
    // With the flag, it is shared.
    let mut cli = bucket.machine(&hub);
    cli.extra_env
        .push(("HEIMDALL_SHARED_CACHE_PRIVATE".into(), "1".into()));
    let m = TestMount::new(cli, &["--read-only"]);
    assert_eq!(
        std::fs::read(m.at("acme/secret/plans.txt")).unwrap(),
        b"private plans\n"
    );
    m.unmount();
    assert!(!bucket.objects().is_empty());
}

#[test]
fn private_content_is_not_uploaded_without_the_flag_over_file() {
    require_fuse!();
    let dir = tempfile::tempdir().unwrap();
    private_content_needs_the_flag(&Bucket::Dir(dir.path()));
}

#[test]
fn private_content_is_not_uploaded_without_the_flag_over_s3() {
    require_fuse!();
    let s3 = S3::start();
    private_content_needs_the_flag(&Bucket::S3(&s3, "private"));
}

#[test]
fn the_buckets_credentials_reach_no_log_and_no_cache_file() {
    require_fuse!();
    let s3 = S3::start();
    let hub = Hub::new();
    let head = org(&hub);
    let url = &s3.url("credentials");
    let mut cli = machine(&hub, url, Some(&s3));
    cli.extra_env.push(("RUST_LOG".into(), "trace".into()));
    let m = read_api(&hub, cli, &head);
    let cache = m.cli.cache_dir();
    let log = m.log();
    m.unmount();
    assert!(!log.contains(&s3.secret), "the secret is in the log");
    assert!(log.contains("shared"), "the log is at trace level: {log}");
    assert!(common::files_containing(&cache, s3.secret.as_bytes()).is_empty());
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
    let s3 = S3::start();
    let hub = Hub::new();
    let head = org(&hub);
    // A machine on the bucket with no AWS variable but AWS_PROFILE (and plain HTTP).
    let mut cli = machine(&hub, &s3.url("profile"), None);
    let home = cli.cache_dir().parent().unwrap().join("home");
    std::fs::create_dir_all(home.join(".aws")).unwrap();
    std::fs::write(
        home.join(".aws/credentials"),
        format!("[default]\naws_access_key_id = wrong\naws_secret_access_key = wrong\n\n[team]\naws_access_key_id = {}\naws_secret_access_key = {}\n", s3.key_id, s3.secret),
    )
    .unwrap();
    std::fs::write(
        home.join(".aws/config"),
        format!(
            "[profile team]\nregion = us-east-1\nendpoint_url = {}\n",
            s3.endpoint
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
    let keys = s3.keys(&s3.prefix("profile"));
    assert!(
        !keys.is_empty(),
        "uploads went to the profile's endpoint: {keys:?}\n{log}"
    );
    assert!(!log.contains(&s3.secret), "the secret is in the log");
    assert!(common::files_containing(&cache, s3.secret.as_bytes()).is_empty());
    // A profile that is in neither file is a clear error.
    let mut bad = hub.cli();
    bad.extra_env.push(("AWS_PROFILE".into(), "nope".into()));
    let err = bad.fails(&["--shared-cache", "s3://team/x", "cache", "stats"]);
    assert!(err.contains("AWS_PROFILE `nope`"), "{err}");
}
