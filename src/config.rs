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

/// Concurrent requests to GitHub. GitHub asks integrators not to make many concurrent
/// requests (secondary limits start at 100); 16 keeps well below that, and a 200-repo
/// scan at 20 ms latency took 2.15 s with it against 3.07 s with 8 (scripts/bench-scan.sh).
/// Secondary limits that trip anyway are waited out (`retry-after`).
pub const DEFAULT_CONCURRENCY: usize = 16;

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

/// Where the token came from, for messages (never the token itself).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenSource {
    GithubToken,
    GhToken,
    GhHostsFile,
}

impl fmt::Display for TokenSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TokenSource::GithubToken => "GITHUB_TOKEN",
            TokenSource::GhToken => "GH_TOKEN",
            TokenSource::GhHostsFile => "gh's hosts.yml",
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
}

/// Settings shared by every command.
#[derive(Debug, Clone)]
pub struct Settings {
    /// API base without a trailing slash, e.g. `https://api.github.com` or
    /// `https://ghe.example.com/api/v3`.
    pub api_url: Url,
    pub token: Option<Token>,
    pub token_source: Option<TokenSource>,
    pub cache_dir: PathBuf,
    pub concurrency: usize,
    /// Zero delays between retries (tests): `HEIMDALL_NO_RETRY_DELAY=1`.
    pub no_retry_delay: bool,
    /// Longest we wait for a primary rate-limit reset before failing with `RateLimited`.
    pub max_rate_limit_wait: Duration,
}

/// Where settings come from, so tests can resolve them without touching the process env.
#[derive(Debug, Default, Clone)]
pub struct SettingsInput {
    pub api_url: Option<String>,
    pub cache_dir: Option<PathBuf>,
    pub concurrency: Option<usize>,
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
                .or_else(|| env.var("HEIMDALL_API_URL"))
                .unwrap_or_else(|| DEFAULT_API_URL.to_string()),
        )?;
        let cache_dir = match input
            .cache_dir
            .or_else(|| env.var("HEIMDALL_CACHE_DIR").map(PathBuf::from))
        {
            Some(dir) => dir,
            None => default_cache_dir(env).ok_or(ConfigError::NoCacheDir)?,
        };
        let (token, token_source) = match discover_token(env, &api_url) {
            Some((token, source)) => (Some(token), Some(source)),
            None => (None, None),
        };
        let max_wait_secs = env
            .var("HEIMDALL_MAX_RATE_LIMIT_WAIT")
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(15 * 60);
        Ok(Settings {
            api_url,
            token,
            token_source,
            cache_dir,
            concurrency: input.concurrency.unwrap_or(DEFAULT_CONCURRENCY).max(1),
            no_retry_delay: env.var("HEIMDALL_NO_RETRY_DELAY").is_some_and(|v| v != "0"),
            max_rate_limit_wait: Duration::from_secs(max_wait_secs),
        })
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
mod tests {
    use super::*;
    use std::collections::HashMap;

    struct MapEnv(HashMap<&'static str, String>);
    impl Env for MapEnv {
        fn var(&self, key: &str) -> Option<String> {
            self.0.get(key).cloned().filter(|v| !v.is_empty())
        }
    }

    fn env(pairs: &[(&'static str, &str)]) -> MapEnv {
        MapEnv(pairs.iter().map(|(k, v)| (*k, v.to_string())).collect())
    }

    #[test]
    fn api_url_forms() {
        assert_eq!(
            parse_api_url("https://api.github.com/").unwrap().as_str(),
            "https://api.github.com/"
        );
        let ghe = parse_api_url("https://ghe.example.com/api/v3/").unwrap();
        assert_eq!(ghe.path(), "/api/v3");
        assert!(parse_api_url("http://127.0.0.1:8080").is_ok());
        assert!(parse_api_url("ftp://x").is_err());
        assert!(parse_api_url("https://user:secret@api.github.com").is_err());
        assert!(parse_api_url("not a url").is_err());
    }

    #[test]
    fn token_precedence_and_redaction() {
        let api = parse_api_url(DEFAULT_API_URL).unwrap();
        let both = env(&[("GITHUB_TOKEN", "aaa"), ("GH_TOKEN", "bbb")]);
        let (token, source) = discover_token(&both, &api).unwrap();
        assert_eq!(token.expose(), "aaa");
        assert_eq!(source, TokenSource::GithubToken);
        assert_eq!(format!("{token:?}"), "Token(<redacted>)");
        let gh = env(&[("GH_TOKEN", "bbb")]);
        assert_eq!(discover_token(&gh, &api).unwrap().0.expose(), "bbb");
        assert!(discover_token(&env(&[("GITHUB_TOKEN", "  ")]), &api).is_none());
    }

    #[test]
    fn gh_hosts_file_old_and_new_layouts() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("hosts.yml");
        fs::write(
            &file,
            "github.com:\n    user: me\n    oauth_token: gho_old\n    git_protocol: https\n",
        )
        .unwrap();
        assert_eq!(
            read_gh_hosts_token(&file, "github.com").unwrap().expose(),
            "gho_old"
        );
        fs::write(
            &file,
            "github.com:\n    users:\n        me:\n            oauth_token: gho_new\n    user: me\nghe.example.com:\n    oauth_token: ghe_tok\n",
        )
        .unwrap();
        assert_eq!(
            read_gh_hosts_token(&file, "github.com").unwrap().expose(),
            "gho_new"
        );
        let e = env(&[("GH_CONFIG_DIR", dir.path().to_str().unwrap())]);
        let ghe = parse_api_url("https://ghe.example.com/api/v3").unwrap();
        let (token, source) = discover_token(&e, &ghe).unwrap();
        assert_eq!(token.expose(), "ghe_tok");
        assert_eq!(source, TokenSource::GhHostsFile);
        assert!(read_gh_hosts_token(&file, "other.example.com").is_none());
    }

    #[test]
    fn cache_dir_default_and_permissions() {
        let dir = tempfile::tempdir().unwrap();
        let e = env(&[("XDG_CACHE_HOME", dir.path().to_str().unwrap())]);
        let settings = Settings::resolve(SettingsInput::default(), &e).unwrap();
        assert_eq!(settings.cache_dir, dir.path().join("heimdall"));
        prepare_cache_dir(&settings.cache_dir).unwrap();
        let mode = fs::metadata(&settings.cache_dir)
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o700);
        assert!(settings.cache_dir.join("CACHEDIR.TAG").exists());
        let home = env(&[("HOME", "/home/x")]);
        let settings = Settings::resolve(SettingsInput::default(), &home).unwrap();
        assert_eq!(settings.cache_dir, PathBuf::from("/home/x/.cache/heimdall"));
    }

    #[test]
    fn web_url_for_github_and_enterprise() {
        let e = env(&[("HOME", "/h")]);
        let s = Settings::resolve(SettingsInput::default(), &e).unwrap();
        assert_eq!(s.web_url(), "https://github.com");
        let input = SettingsInput {
            api_url: Some("https://ghe.example.com/api/v3".into()),
            ..Default::default()
        };
        let s = Settings::resolve(input, &e).unwrap();
        assert_eq!(s.web_url(), "https://ghe.example.com");
    }
}
