//! Shared test helpers: a fakehub over temp repos, settings pointing at it, and a way to
//! run the built `heimdall` binary against it with an isolated cache and home.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use fakehub::{Config, FakeHub};
use heimdall::config::{Settings, parse_api_url};
use tempfile::TempDir;

/// A fakehub serving repos from its own temp dir.
pub struct Hub {
    pub root: TempDir,
    pub hub: FakeHub,
}

impl Hub {
    pub fn new() -> Hub {
        Hub::with(Config::default())
    }

    pub fn with(config: Config) -> Hub {
        let root = tempfile::tempdir().expect("temp dir");
        let hub = FakeHub::spawn(root.path(), config).expect("fakehub starts");
        Hub { root, hub }
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
            cache_dir: cache.path().join("cache"),
            concurrency: 8,
            no_retry_delay: true,
            max_rate_limit_wait: Duration::from_secs(30),
        };
        (settings, cache)
    }

    /// A CLI runner against this hub.
    pub fn cli(&self) -> Cli {
        Cli::new(&self.url())
    }
}

/// Runs the built binary with an isolated HOME and cache, and no token from the host.
pub struct Cli {
    pub api: String,
    pub dir: TempDir,
    pub token: Option<String>,
    pub extra_env: Vec<(String, String)>,
}

impl Cli {
    pub fn new(api: &str) -> Cli {
        Cli {
            api: api.to_string(),
            dir: tempfile::tempdir().expect("temp dir"),
            token: None,
            extra_env: Vec::new(),
        }
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
