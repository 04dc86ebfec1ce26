//! Shared test helpers: a fakehub over temp repos, settings pointing at it, and a way to
//! run the built `heimdall` binary against it with an isolated cache and home.
#![allow(dead_code)]

pub mod tree;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use fakehub::{Config, FakeHub};
use heimdall::config::{Settings, parse_api_url};
use tempfile::TempDir;

/// The token `Hub::new` accepts and `Hub::cli` sends (GitHub's 5,000/h budget; the
/// anonymous 60/h would throttle a test suite).
pub const TEST_TOKEN: &str = "test-token-accepted-by-fakehub";

/// A fakehub serving repos from its own temp dir.
pub struct Hub {
    pub root: TempDir,
    pub hub: FakeHub,
    /// What `cli()` authenticates with.
    pub token: Option<String>,
}

impl Hub {
    /// A hub that accepts [`TEST_TOKEN`]; its `cli()` uses it.
    pub fn new() -> Hub {
        let mut hub = Hub::with(Config {
            tokens: vec![TEST_TOKEN.into()],
            ..Config::default()
        });
        hub.token = Some(TEST_TOKEN.into());
        hub
    }

    /// A hub with `config`; its `cli()` sends no token.
    pub fn with(config: Config) -> Hub {
        let root = tempfile::tempdir().expect("temp dir");
        let hub = FakeHub::spawn(root.path(), config).expect("fakehub starts");
        Hub {
            root,
            hub,
            token: None,
        }
    }

    pub fn path(&self) -> &Path {
        self.root.path()
    }

    pub fn url(&self) -> String {
        self.hub.url()
    }

    /// Client settings for this hub with a fresh cache dir (returned so it lives on).
    pub fn settings(&self, token: Option<&str>) -> (Settings, TempDir) {
        let cache = tempfile::tempdir().expect("temp dir");
        let settings = Settings {
            api_url: parse_api_url(&self.url()).unwrap(),
            token: token.and_then(heimdall::config::Token::new),
            token_source: None,
            app: None,
            cache_dir: cache.path().join("cache"),
            concurrency: 8,
            no_retry_delay: true,
            max_rate_limit_wait: Duration::from_secs(30),
            read_timeout: heimdall::config::DEFAULT_READ_TIMEOUT,
            cache_max_size: None,
            runtime_dir: cache.path().join("run"),
            alloc_root: cache.path().join("run").join("alloc"),
            clean_interval: heimdall::config::DEFAULT_CLEAN_INTERVAL,
            client: "test".into(),
            transport: heimdall::config::Transport::Auto,
            git_url: None,
            shared_cache: None,
        };
        (settings, cache)
    }

    /// A CLI runner against this hub.
    pub fn cli(&self) -> Cli {
        let mut cli = Cli::new(&self.url());
        cli.token = self.token.clone();
        cli
    }
}

/// Requests that brought blob content: REST blob downloads plus git fetches of blobs
/// (object ids alone, or whole commits), not of commit objects or trees.
pub fn content_requests(stats: &fakehub::Stats) -> u64 {
    stats.route("blob") + stats.git_fetches("objects") + stats.git_fetches("whole")
}

/// `git --git-dir <git_dir> <args>`: its stdout; a failure fails the test with git's error.
pub fn git(git_dir: &Path, args: &[&str]) -> Vec<u8> {
    let out = Command::new("git")
        .arg("--git-dir")
        .arg(git_dir)
        .args(args)
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Runs the built binary with an isolated HOME and cache, and no token from the host.
pub struct Cli {
    pub api: String,
    pub dir: TempDir,
    pub token: Option<String>,
    pub extra_env: Vec<(String, String)>,
}

/// A test that started a daemon (a mount, an allocation) and then failed before stopping
/// it would leave it running, with its mounts, after the test's directories are gone.
impl Drop for Cli {
    fn drop(&mut self) {
        if self.cache_dir().join("daemon.log").exists() {
            let _ = self.command(&["daemon", "stop"]).output();
        }
    }
}

impl Cli {
    /// A runner with the transport `HEIMDALL_TEST_TRANSPORT` names (unset: the default,
    /// `auto`), so the whole suite can run over REST too (scripts/test.sh does).
    pub fn new(api: &str) -> Cli {
        let mut extra_env = Vec::new();
        if let Ok(transport) = std::env::var("HEIMDALL_TEST_TRANSPORT") {
            extra_env.push(("HEIMDALL_TRANSPORT".to_string(), transport));
        }
        Cli {
            api: api.to_string(),
            dir: tempfile::tempdir().expect("temp dir"),
            token: None,
            extra_env,
        }
    }

    /// This runner over REST only (`--transport rest`): for tests of the REST blob and
    /// tarball paths (their faults are injected on those routes).
    pub fn rest(mut self) -> Cli {
        self.extra_env.retain(|(k, _)| k != "HEIMDALL_TRANSPORT");
        self.extra_env
            .push(("HEIMDALL_TRANSPORT".to_string(), "rest".to_string()));
        self
    }

    /// Whether this runner fetches content over REST only.
    pub fn is_rest(&self) -> bool {
        self.extra_env
            .iter()
            .any(|(k, v)| k == "HEIMDALL_TRANSPORT" && v == "rest")
    }

    pub fn cache_dir(&self) -> PathBuf {
        self.dir.path().join("cache")
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_heimdall"));
        cmd.args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", self.dir.path().join("home"))
            .env("HEIMDALL_API_URL", &self.api)
            .env("HEIMDALL_CACHE_DIR", self.cache_dir())
            .env("HEIMDALL_NO_RETRY_DELAY", "1");
        if let Some(token) = &self.token {
            cmd.env("GITHUB_TOKEN", token);
        }
        for (k, v) in &self.extra_env {
            cmd.env(k, v);
        }
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("heimdall runs")
    }

    /// Runs and asserts success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> Vec<u8> {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "heimdall {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    }

    /// Runs and asserts failure; returns stderr.
    pub fn fails(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            !out.status.success(),
            "heimdall {args:?} unexpectedly succeeded"
        );
        String::from_utf8_lossy(&out.stderr).into_owned()
    }
}

/// Every file under `dir` whose bytes contain `needle`.
pub fn files_containing(dir: &Path, needle: &[u8]) -> Vec<PathBuf> {
    let mut hits = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if let Ok(bytes) = std::fs::read(&path)
                && bytes.windows(needle.len()).any(|w| w == needle)
            {
                hits.push(path);
            }
        }
    }
    hits
}

/// Why FUSE mounts cannot run here, if they cannot.
pub fn fuse_unavailable() -> Option<String> {
    if !Path::new("/dev/fuse").exists() {
        return Some("/dev/fuse does not exist".into());
    }
    let has = |tool: &str| {
        std::env::var("PATH")
            .unwrap_or_default()
            .split(':')
            .any(|d| Path::new(d).join(tool).exists())
    };
    if !has("fusermount3") && !has("fusermount") {
        return Some("fusermount3 is not installed (apt-get install fuse3)".into());
    }
    None
}

/// Skips a mount test with a clear reason where FUSE is unavailable, except in CI,
/// where mount tests must run: there it fails instead.
#[macro_export]
macro_rules! require_fuse {
    () => {
        if let Some(why) = common::fuse_unavailable() {
            if std::env::var_os("CI").is_some() {
                panic!("FUSE mount tests must run in CI, but {why}");
            }
            eprintln!("skipping: FUSE is unavailable: {why}");
            return;
        }
    };
}

/// A real mount served by the built binary in the background; unmounted on drop.
pub struct TestMount {
    pub cli: Cli,
    pub dir: TempDir,
    pub pid: u32,
}

impl TestMount {
    /// `heimdall mount <tmp>/mnt <args>` in background mode (returns once ready).
    pub fn new(cli: Cli, args: &[&str]) -> TestMount {
        let dir = tempfile::tempdir().expect("temp dir");
        let mnt = dir.path().join("mnt");
        std::fs::create_dir(&mnt).unwrap();
        let mut full = vec!["mount", mnt.to_str().unwrap()];
        full.extend_from_slice(args);
        let out = cli.run(&full);
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "mount failed: {stderr}");
        let pid = stderr
            .split("server pid ")
            .nth(1)
            .and_then(|s| s.trim_end_matches([')', '\n']).split(')').next())
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or_else(|| panic!("no server pid in: {stderr}"));
        TestMount { cli, dir, pid }
    }

    pub fn path(&self) -> PathBuf {
        self.dir.path().join("mnt")
    }

    /// `<mnt>/<rel>`.
    pub fn at(&self, rel: &str) -> PathBuf {
        self.path().join(rel)
    }

    pub fn is_mounted(&self) -> bool {
        let target = self.path();
        std::fs::read_to_string("/proc/self/mountinfo")
            .unwrap_or_default()
            .lines()
            .any(|l| l.split(' ').nth(4) == Some(target.to_str().unwrap()))
    }

    pub fn server_alive(&self) -> bool {
        Path::new(&format!("/proc/{}", self.pid)).exists()
            && !std::fs::read_to_string(format!("/proc/{}/stat", self.pid))
                .unwrap_or_default()
                .contains(") Z ")
    }

    /// Unmounts with `heimdall unmount` and waits for the server to exit.
    pub fn unmount(&self) {
        let mnt = self.path();
        let out = self.cli.run(&["unmount", mnt.to_str().unwrap()]);
        assert!(
            out.status.success(),
            "unmount failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let started = std::time::Instant::now();
        while self.server_alive() && started.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(!self.server_alive(), "the server exits after unmount");
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.cli.cache_dir().join("daemon.log")).unwrap_or_default()
    }
}

impl Drop for TestMount {
    fn drop(&mut self) {
        if self.is_mounted() {
            let _ = Command::new("fusermount3")
                .arg("-u")
                .arg(self.path())
                .output();
        }
        if self.is_mounted() {
            let _ = Command::new("fusermount3")
                .arg("-uz")
                .arg(self.path())
                .output();
        }
        let started = std::time::Instant::now();
        while self.server_alive() && started.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(20));
        }
        if self.server_alive() {
            unsafe {
                libc::kill(self.pid as i32, libc::SIGKILL);
            }
        }
    }
}

/// A small tmpfs mounted at `dir` (root only), unmounted on drop.
pub struct SmallDisk(std::path::PathBuf);

impl SmallDisk {
    pub fn mount(dir: &std::path::Path, size: &str) -> Option<SmallDisk> {
        std::fs::create_dir_all(dir).unwrap();
        let ok = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0700"),
                "tmpfs",
            ])
            .arg(dir)
            .status()
            .is_ok_and(|s| s.success());
        ok.then(|| SmallDisk(dir.to_path_buf()))
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}
