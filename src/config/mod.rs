//! Resolved settings: what the user typed (flags, environment, gh's config) turned once
//! into values the rest of the program uses. Nothing else reads raw flags or env vars.
//!
//! The token lives only in memory inside [`Token`], whose `Debug` is redacted and which
//! has no `Display`, so it cannot reach a log line or an error message by accident.

use std::fmt;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use url::Url;

/// GitHub's public API.
pub const DEFAULT_API_URL: &str = "https://api.github.com";

/// The environment variables a daemon is started with (see [`Settings::daemon_env`]).
pub const API_URL_ENV: &str = "HEIMDALL_API_URL";
pub const TRANSPORT_ENV: &str = "HEIMDALL_TRANSPORT";
pub const GIT_URL_ENV: &str = "HEIMDALL_GIT_URL";
mod shared;
pub use shared::{
    SHARED_CACHE_ENV, SHARED_CACHE_PRIVATE_ENV, SHARED_CACHE_TIMEOUT_ENV, SharedCacheConfig,
    parse_shared_cache_url,
};

pub const CACHE_DIR_ENV: &str = "HEIMDALL_CACHE_DIR";
pub const CACHE_MAX_SIZE_ENV: &str = "HEIMDALL_CACHE_MAX_SIZE";

/// Concurrent requests to GitHub. GitHub asks integrators not to make many concurrent
/// requests (secondary limits start at 100); 16 keeps well below that, and a 200-repo
/// scan at 20 ms latency took 2.15 s with it against 3.07 s with 8 (scripts/bench-scan.sh).
/// Secondary limits that trip anyway are waited out (`retry-after`).
pub const DEFAULT_CONCURRENCY: usize = 16;

/// A response that stalls this long between reads is dropped and retried
/// (`HEIMDALL_READ_TIMEOUT_MS`).
pub const DEFAULT_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Longest wait for a primary rate-limit reset before failing (`HEIMDALL_MAX_RATE_LIMIT_WAIT`):
/// GitHub's windows are an hour; a quarter of one is as long as a read should wait.
pub const DEFAULT_MAX_RATE_LIMIT_WAIT: Duration = Duration::from_secs(15 * 60);

/// How often the daemon's cleaner looks for expired allocations (`HEIMDALL_CLEAN_INTERVAL`).
pub const DEFAULT_CLEAN_INTERVAL: Duration = Duration::from_secs(5 * 60);

/// Largest hosts.yml we read: gh writes a few hundred bytes.
const MAX_GH_HOSTS_BYTES: u64 = 64 * 1024;

/// The `CACHEDIR.TAG` signature (https://bford.info/cachedir/), so backup tools skip the cache.
const CACHEDIR_TAG: &str = "Signature: 8a477f597d28d172789f06886806bc55\n\
# This file is a cache directory tag created by heimdall.\n\
# For information about cache directory tags see https://bford.info/cachedir/\n";

/// A GitHub token. Only [`Token::expose`] reveals it, for the `Authorization` header.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

impl Token {
    pub fn new(value: impl Into<String>) -> Option<Self> {
        let value: String = value.into();
        let trimmed = value.trim();
        if trimmed.is_empty() {
            None
        } else {
            Some(Token(trimmed.to_string()))
        }
    }

    /// The secret itself: only for building the `Authorization` header.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

/// A GitHub App's credentials (`HEIMDALL_APP_ID`, `HEIMDALL_APP_KEY_FILE`,
/// `HEIMDALL_APP_INSTALLATION_ID`): the private key is read once into memory and never
/// shown ([`fmt::Debug`] is redacted); installation tokens are made from it on demand.
#[derive(Clone)]
pub struct AppCredentials {
    pub app_id: String,
    /// The key file's path (what a daemon is told; never the key).
    pub key_file: PathBuf,
    /// The PEM private key.
    pub key_pem: Vec<u8>,
    /// Else found per owner (`GET /orgs/{org}/installation`, `/users/{user}/installation`).
    pub installation_id: Option<u64>,
}

impl fmt::Debug for AppCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AppCredentials")
            .field("app_id", &self.app_id)
            .field("key_file", &self.key_file)
            .field("key_pem", &"<redacted>")
            .field("installation_id", &self.installation_id)
            .finish()
    }
}

/// Largest private key file read (a 4096-bit RSA PEM is about 3.3 KB).
const MAX_APP_KEY_BYTES: u64 = 64 * 1024;

fn app_credentials(env: &dyn Env) -> Result<Option<AppCredentials>, ConfigError> {
    let Some(app_id) = env.var("HEIMDALL_APP_ID") else {
        return Ok(None);
    };
    let invalid = |name: &'static str, why: String| ConfigError::Invalid { name, why };
    if !app_id.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(invalid(
            "HEIMDALL_APP_ID",
            "an app id or client id, letters and digits".into(),
        ));
    }
    let key_file = env
        .var("HEIMDALL_APP_KEY_FILE")
        .map(PathBuf::from)
        .ok_or_else(|| {
            invalid(
                "HEIMDALL_APP_KEY_FILE",
                "the App's private key (PEM) is needed with HEIMDALL_APP_ID".into(),
            )
        })?;
    let mut key_pem = Vec::new();
    std::fs::File::open(&key_file)
        .and_then(|f| {
            std::io::Read::read_to_end(
                &mut std::io::Read::take(f, MAX_APP_KEY_BYTES + 1),
                &mut key_pem,
            )
        })
        .map_err(|e| {
            invalid(
                "HEIMDALL_APP_KEY_FILE",
                format!("cannot read `{}`: {e}", key_file.display()),
            )
        })?;
    if key_pem.len() as u64 > MAX_APP_KEY_BYTES {
        return Err(invalid(
            "HEIMDALL_APP_KEY_FILE",
            format!("`{}` is too large for a key", key_file.display()),
        ));
    }
    let installation_id = match env.var("HEIMDALL_APP_INSTALLATION_ID") {
        Some(id) => Some(id.parse::<u64>().map_err(|_| {
            invalid(
                "HEIMDALL_APP_INSTALLATION_ID",
                format!("`{id}` is not an installation id"),
            )
        })?),
        None => None,
    };
    Ok(Some(AppCredentials {
        app_id,
        key_file,
        key_pem,
        installation_id,
    }))
}

/// Where the token came from, for messages (never the token itself).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenSource {
    GithubToken,
    GhToken,
    GhHostsFile,
    /// Passed by the program embedding Heimdall (the Python SDK's `token=`).
    Given,
    /// Installation tokens of a GitHub App (`HEIMDALL_APP_ID`).
    App,
}

impl fmt::Display for TokenSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TokenSource::GithubToken => "GITHUB_TOKEN",
            TokenSource::GhToken => "GH_TOKEN",
            TokenSource::GhHostsFile => "gh's hosts.yml",
            TokenSource::Given => "the token passed by the program",
            TokenSource::App => "the GitHub App's installation tokens",
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("invalid API URL `{url}`: {why}")]
    ApiUrl { url: String, why: String },
    #[error("cannot prepare the cache directory `{path}`: {source}")]
    CacheDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("no cache directory: set --cache-dir, HEIMDALL_CACHE_DIR, XDG_CACHE_HOME or HOME")]
    NoCacheDir,
    #[error("{name}: {why}")]
    Invalid { name: &'static str, why: String },
}

/// Which way content comes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    /// git where the endpoint serves it, REST where it refuses.
    #[default]
    Auto,
    /// git only: a refusal is an error.
    Git,
    /// REST only (today's blob and tarball endpoints).
    Rest,
}

impl std::str::FromStr for Transport {
    type Err = String;
    fn from_str(text: &str) -> Result<Transport, String> {
        match text {
            "auto" => Ok(Transport::Auto),
            "git" => Ok(Transport::Git),
            "rest" => Ok(Transport::Rest),
            other => Err(format!("`{other}` is not a transport (auto, git or rest)")),
        }
    }
}

/// Settings shared by every command.
#[derive(Debug, Clone)]
pub struct Settings {
    /// API base without a trailing slash, e.g. `https://api.github.com` or
    /// `https://ghe.example.com/api/v3`.
    pub api_url: Url,
    pub token: Option<Token>,
    pub token_source: Option<TokenSource>,
    /// A GitHub App: used instead of `token` (installation tokens, refreshed).
    pub app: Option<AppCredentials>,
    pub cache_dir: PathBuf,
    pub concurrency: usize,
    /// Zero delays between retries (tests): `HEIMDALL_NO_RETRY_DELAY=1`.
    pub no_retry_delay: bool,
    /// Longest we wait for a primary rate-limit reset before failing with `RateLimited`.
    pub max_rate_limit_wait: Duration,
    /// A response stalled this long between reads is dropped (and retried).
    pub read_timeout: Duration,
    /// The cache budget the daemon holds and `cache gc` enforces; `None`: 10% of the
    /// cache's disk, at most 20 GiB.
    pub cache_max_size: Option<u64>,
    /// The user's runtime directory for Heimdall (the daemon's socket).
    pub runtime_dir: PathBuf,
    /// Where allocations are mounted.
    pub alloc_root: PathBuf,
    /// How often the daemon's cleaner releases expired allocations.
    pub clean_interval: Duration,
    /// Who asks for allocations (`allocate --client`, `HEIMDALL_CLIENT`; `cli`).
    pub client: String,
    /// How content comes (`--transport`, `HEIMDALL_TRANSPORT`; `auto`).
    pub transport: Transport,
    /// Where git is served (`--git-url`, `HEIMDALL_GIT_URL`); `None`: derived from the
    /// API URL.
    pub git_url: Option<Url>,
    /// A cache shared by many machines (`--shared-cache`, `HEIMDALL_SHARED_CACHE`).
    pub shared_cache: Option<SharedCacheConfig>,
}

/// Where settings come from, so tests can resolve them without touching the process env.
#[derive(Debug, Default, Clone)]
pub struct SettingsInput {
    pub api_url: Option<String>,
    pub cache_dir: Option<PathBuf>,
    pub concurrency: Option<usize>,
    pub cache_max_size: Option<u64>,
    pub transport: Option<Transport>,
    pub git_url: Option<String>,
    pub shared_cache: Option<String>,
    pub shared_cache_private: bool,
}

/// The environment, injectable for tests.
pub trait Env {
    fn var(&self, key: &str) -> Option<String>;
}

/// The real process environment.
pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn var(&self, key: &str) -> Option<String> {
        std::env::var(key).ok().filter(|v| !v.is_empty())
    }
}

impl Settings {
    /// Resolves settings from explicit values first, then the environment.
    pub fn resolve(input: SettingsInput, env: &dyn Env) -> Result<Settings, ConfigError> {
        let api_url = parse_api_url(
            &input
                .api_url
                .or_else(|| env.var(API_URL_ENV))
                .unwrap_or_else(|| DEFAULT_API_URL.to_string()),
        )?;
        let cache_dir = match input
            .cache_dir
            .or_else(|| env.var(CACHE_DIR_ENV).map(PathBuf::from))
        {
            Some(dir) => dir,
            None => default_cache_dir(env).ok_or(ConfigError::NoCacheDir)?,
        };
        let app = app_credentials(env)?;
        let (token, token_source) = match discover_token(env, &api_url) {
            _ if app.is_some() => (None, Some(TokenSource::App)),
            Some((token, source)) => (Some(token), Some(source)),
            None => (None, None),
        };
        let max_rate_limit_wait = env
            .var("HEIMDALL_MAX_RATE_LIMIT_WAIT")
            .and_then(|v| v.parse::<u64>().ok())
            .map_or(DEFAULT_MAX_RATE_LIMIT_WAIT, Duration::from_secs);
        let read_timeout = env
            .var("HEIMDALL_READ_TIMEOUT_MS")
            .and_then(|v| v.parse::<u64>().ok())
            .map_or(DEFAULT_READ_TIMEOUT, Duration::from_millis);
        let cache_max_size = match input.cache_max_size {
            Some(bytes) => Some(bytes),
            None => env
                .var(CACHE_MAX_SIZE_ENV)
                .map(|text| parse_size(&text))
                .transpose()
                .map_err(|why| ConfigError::Invalid {
                    name: CACHE_MAX_SIZE_ENV,
                    why,
                })?,
        };
        let transport = match input.transport {
            Some(t) => t,
            None => env
                .var(TRANSPORT_ENV)
                .map(|v| v.parse())
                .transpose()
                .map_err(|why| ConfigError::Invalid {
                    name: TRANSPORT_ENV,
                    why,
                })?
                .unwrap_or_default(),
        };
        let git_url = input
            .git_url
            .or_else(|| env.var(GIT_URL_ENV))
            .map(|text| parse_git_url(&text))
            .transpose()?;
        let shared_cache = shared::resolve(input.shared_cache, input.shared_cache_private, |k| {
            env.var(k)
        })
        .map_err(|why| ConfigError::Invalid {
            name: SHARED_CACHE_ENV,
            why,
        })?;
        let runtime_dir = runtime_dir(env);
        let alloc_root = env
            .var("HEIMDALL_ALLOC_ROOT")
            .map(PathBuf::from)
            .unwrap_or_else(|| runtime_dir.join("alloc"));
        let clean_interval = env
            .var("HEIMDALL_CLEAN_INTERVAL")
            .and_then(|v| humantime::parse_duration(&v).ok())
            .filter(|d| !d.is_zero())
            .unwrap_or(DEFAULT_CLEAN_INTERVAL);
        Ok(Settings {
            api_url,
            token,
            token_source,
            app,
            cache_dir,
            concurrency: input.concurrency.unwrap_or(DEFAULT_CONCURRENCY).max(1),
            no_retry_delay: env.var("HEIMDALL_NO_RETRY_DELAY").is_some_and(|v| v != "0"),
            max_rate_limit_wait,
            read_timeout,
            cache_max_size,
            runtime_dir,
            alloc_root,
            clean_interval,
            client: env.var("HEIMDALL_CLIENT").unwrap_or_else(|| "cli".into()),
            transport,
            git_url,
            shared_cache,
        })
    }

    /// What a daemon started by this command must serve, whatever the environment of
    /// whoever starts it next: the API, the cache and its budget.
    pub fn daemon_env(&self) -> Vec<(&'static str, String)> {
        let mut env = vec![
            (API_URL_ENV, self.api_url.to_string()),
            (CACHE_DIR_ENV, self.cache_dir.to_string_lossy().into_owned()),
        ];
        if let Some(bytes) = self.cache_max_size {
            env.push((CACHE_MAX_SIZE_ENV, bytes.to_string()));
        }
        let transport = match self.transport {
            Transport::Auto => "auto",
            Transport::Git => "git",
            Transport::Rest => "rest",
        };
        env.push((TRANSPORT_ENV, transport.to_string()));
        if let Some(url) = &self.git_url {
            env.push((GIT_URL_ENV, url.to_string()));
        }
        if let Some(shared) = &self.shared_cache {
            env.extend(shared::daemon_env(shared));
        }
        // The App's key by its path (the daemon reads it itself), never its content.
        if let Some(app) = &self.app {
            env.push(("HEIMDALL_APP_ID", app.app_id.clone()));
            env.push((
                "HEIMDALL_APP_KEY_FILE",
                app.key_file.to_string_lossy().into_owned(),
            ));
            if let Some(id) = app.installation_id {
                env.push(("HEIMDALL_APP_INSTALLATION_ID", id.to_string()));
            }
        }
        env
    }

    /// The github.com-style web host, for `user.heimdall.url` links.
    pub fn web_url(&self) -> String {
        match self.api_url.host_str() {
            Some("api.github.com") => "https://github.com".to_string(),
            _ => {
                let mut web = self.api_url.clone();
                web.set_path("");
                web.as_str().trim_end_matches('/').to_string()
            }
        }
    }
}

/// A git base URL (`https://github.com`, `https://ghe.example.com`): http(s), no
/// credentials, query or fragment (a token never goes in a URL).
pub fn parse_git_url(text: &str) -> Result<Url, ConfigError> {
    // The URL as typed, but never its password (this message is printed).
    let shown = match Url::parse(text) {
        Ok(mut url) if url.password().is_some() => {
            let _ = url.set_password(Some("***"));
            url.to_string()
        }
        _ => text.to_string(),
    };
    let invalid = |why: &str| ConfigError::Invalid {
        name: GIT_URL_ENV,
        why: format!("`{shown}`: {why}"),
    };
    let url = Url::parse(text).map_err(|e| invalid(&e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid("only http and https are served"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid(
            "credentials do not belong in the URL; use GITHUB_TOKEN",
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid("a base URL has no query or fragment"));
    }
    Ok(url)
}

/// Accepts `https://api.github.com`, `http://127.0.0.1:PORT` and `https://host/api/v3`.
pub fn parse_api_url(text: &str) -> Result<Url, ConfigError> {
    let err = |why: &str| ConfigError::ApiUrl {
        url: text.to_string(),
        why: why.to_string(),
    };
    let mut url = Url::parse(text).map_err(|e| err(&e.to_string()))?;
    if url.scheme() != "http" && url.scheme() != "https" {
        return Err(err("the scheme must be http or https"));
    }
    if url.host_str().is_none() {
        return Err(err("it has no host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(err(
            "credentials do not belong in the URL; use GITHUB_TOKEN",
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(err("it must not have a query or fragment"));
    }
    let path = url.path().trim_end_matches('/').to_string();
    url.set_path(&path);
    Ok(url)
}

/// The user's runtime directory for Heimdall: `$HEIMDALL_RUNTIME_DIR`, else
/// `$XDG_RUNTIME_DIR/heimdall`, else `/tmp/heimdall-<uid>` (made and checked by the daemon's
/// protocol, which refuses one another user owns).
fn runtime_dir(env: &dyn Env) -> PathBuf {
    if let Some(dir) = env.var("HEIMDALL_RUNTIME_DIR") {
        return PathBuf::from(dir);
    }
    if let Some(dir) = env.var("XDG_RUNTIME_DIR") {
        return PathBuf::from(dir).join("heimdall");
    }
    // SAFETY: getuid cannot fail.
    let uid = unsafe { libc::getuid() };
    PathBuf::from(format!("/tmp/heimdall-{uid}"))
}

/// `RUST_LOG`, which overrides `-v`/`-q` (read before any other setting, for logging).
pub fn log_filter() -> Option<String> {
    ProcessEnv.var("RUST_LOG")
}

/// Where `program` is on `$PATH`, if anywhere (fusermount3, for mounting).
pub fn program_on_path(program: &str) -> Option<PathBuf> {
    ProcessEnv
        .var("PATH")?
        .split(':')
        .map(|dir| Path::new(dir).join(program))
        .find(|p| p.exists())
}

/// `10G`, `512M`, `1.5T`, `4096` (bytes): K, M, G and T are powers of 1024.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let (number, unit) = match text.find(|c: char| c.is_ascii_alphabetic()) {
        Some(i) => (&text[..i], &text[i..]),
        None => (text, ""),
    };
    let scale: u64 = match unit.to_ascii_uppercase().trim_end_matches(['B', 'I']) {
        "" => 1,
        "K" => 1 << 10,
        "M" => 1 << 20,
        "G" => 1 << 30,
        "T" => 1 << 40,
        _ => return Err(format!("`{text}` is not a size (like 512M or 10G)")),
    };
    let value: f64 = number
        .trim()
        .parse()
        .map_err(|_| format!("`{text}` is not a size (like 512M or 10G)"))?;
    if !value.is_finite() || value < 0.0 {
        return Err(format!("`{text}` is not a size (like 512M or 10G)"));
    }
    Ok((value * scale as f64) as u64)
}

fn default_cache_dir(env: &dyn Env) -> Option<PathBuf> {
    if let Some(xdg) = env.var("XDG_CACHE_HOME") {
        return Some(PathBuf::from(xdg).join("heimdall"));
    }
    env.var("HOME")
        .map(|home| PathBuf::from(home).join(".cache").join("heimdall"))
}

/// `GITHUB_TOKEN`, then `GH_TOKEN`, then the gh CLI's hosts.yml for the API's host.
pub fn discover_token(env: &dyn Env, api_url: &Url) -> Option<(Token, TokenSource)> {
    if let Some(token) = env.var("GITHUB_TOKEN").and_then(Token::new) {
        return Some((token, TokenSource::GithubToken));
    }
    if let Some(token) = env.var("GH_TOKEN").and_then(Token::new) {
        return Some((token, TokenSource::GhToken));
    }
    let hosts_file = gh_hosts_file(env)?;
    let host = gh_host_for(api_url)?;
    read_gh_hosts_token(&hosts_file, &host).map(|token| (token, TokenSource::GhHostsFile))
}

fn gh_hosts_file(env: &dyn Env) -> Option<PathBuf> {
    if let Some(dir) = env.var("GH_CONFIG_DIR") {
        return Some(PathBuf::from(dir).join("hosts.yml"));
    }
    if let Some(xdg) = env.var("XDG_CONFIG_HOME") {
        return Some(PathBuf::from(xdg).join("gh").join("hosts.yml"));
    }
    env.var("HOME").map(|home| {
        PathBuf::from(home)
            .join(".config")
            .join("gh")
            .join("hosts.yml")
    })
}

/// gh keys hosts.yml by web host: `github.com` for api.github.com, else the API's host.
fn gh_host_for(api_url: &Url) -> Option<String> {
    let host = api_url.host_str()?;
    Some(if host == "api.github.com" {
        "github.com".to_string()
    } else {
        host.to_string()
    })
}

/// Reads `<host>: {oauth_token: ...}` (older gh) or `<host>: {users: {<user>: {oauth_token}}}`.
/// Newer gh keeps tokens in the system keyring; then there is nothing to read here.
pub fn read_gh_hosts_token(path: &Path, host: &str) -> Option<Token> {
    use std::io::Read;
    use yaml_rust2::{Yaml, YamlLoader};
    let file = fs::File::open(path).ok()?;
    let mut text = String::new();
    file.take(MAX_GH_HOSTS_BYTES)
        .read_to_string(&mut text)
        .ok()?;
    let docs = YamlLoader::load_from_str(&text).ok()?;
    let entry = &docs.first()?[host];
    if let Some(token) = entry["oauth_token"].as_str() {
        return Token::new(token);
    }
    let user = entry["user"].as_str();
    if let Yaml::Hash(users) = &entry["users"] {
        let chosen = user
            .and_then(|u| users.get(&Yaml::String(u.to_string())))
            .or_else(|| users.values().next())?;
        return chosen["oauth_token"].as_str().and_then(Token::new);
    }
    None
}

/// Creates the cache directory 0700 with a `CACHEDIR.TAG`, and tightens an existing one.
pub fn prepare_cache_dir(path: &Path) -> Result<(), ConfigError> {
    let wrap = |source| ConfigError::CacheDir {
        path: path.to_path_buf(),
        source,
    };
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(path)
        .map_err(wrap)?;
    fs::set_permissions(path, fs::Permissions::from_mode(0o700)).map_err(wrap)?;
    let tag = path.join("CACHEDIR.TAG");
    if !tag.exists() {
        let mut file = fs::File::create(&tag).map_err(wrap)?;
        file.write_all(CACHEDIR_TAG.as_bytes()).map_err(wrap)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
