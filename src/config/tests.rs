//! Settings resolution, token discovery and URL parsing.

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

#[test]
fn sizes_parse() {
    assert_eq!(parse_size("4096").unwrap(), 4096);
    assert_eq!(parse_size("10G").unwrap(), 10 << 30);
    assert_eq!(parse_size("512MiB").unwrap(), 512 << 20);
    assert_eq!(parse_size("1.5k").unwrap(), 1536);
    assert!(parse_size("ten").is_err());
    assert!(parse_size("-1G").is_err());
    assert!(parse_size("3X").is_err());
}

#[test]
fn daemon_settings_resolve_from_the_environment() {
    let e = env(&[
        ("HOME", "/h"),
        ("XDG_RUNTIME_DIR", "/run/user/7"),
        ("HEIMDALL_CACHE_MAX_SIZE", "2G"),
        ("HEIMDALL_CLEAN_INTERVAL", "10s"),
        ("HEIMDALL_READ_TIMEOUT_MS", "250"),
    ]);
    let s = Settings::resolve(SettingsInput::default(), &e).unwrap();
    assert_eq!(s.runtime_dir, PathBuf::from("/run/user/7/heimdall"));
    assert_eq!(s.alloc_root, PathBuf::from("/run/user/7/heimdall/alloc"));
    assert_eq!(s.cache_max_size, Some(2 << 30));
    assert_eq!(s.clean_interval, Duration::from_secs(10));
    assert_eq!(s.read_timeout, Duration::from_millis(250));
    assert!(
        s.daemon_env()
            .contains(&(CACHE_MAX_SIZE_ENV, (2u64 << 30).to_string()))
    );
    // The flag wins over the environment.
    let input = SettingsInput {
        cache_max_size: Some(5),
        ..Default::default()
    };
    assert_eq!(
        Settings::resolve(input, &e).unwrap().cache_max_size,
        Some(5)
    );
    let bad = env(&[("HOME", "/h"), ("HEIMDALL_CACHE_MAX_SIZE", "lots")]);
    let err = Settings::resolve(SettingsInput::default(), &bad).unwrap_err();
    assert!(
        err.to_string().starts_with("HEIMDALL_CACHE_MAX_SIZE: "),
        "{err}"
    );
    let alloc = env(&[
        ("HOME", "/h"),
        ("HEIMDALL_RUNTIME_DIR", "/r"),
        ("HEIMDALL_ALLOC_ROOT", "/a"),
    ]);
    let s = Settings::resolve(SettingsInput::default(), &alloc).unwrap();
    assert_eq!(
        (s.runtime_dir, s.alloc_root),
        (PathBuf::from("/r"), PathBuf::from("/a"))
    );
}
