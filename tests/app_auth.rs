//! GitHub App authentication against fakehub's App endpoints: a JWT signed with a key
//! pair made here, exchanged for installation tokens that serve the API and git, renewed
//! before they expire, and never written to a log or the cache.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::{Cli, Hub, TestMount};
use fakehub::{AppConfig, Config, repo};

const APP_ID: &str = "4242";

/// An RSA key pair made with openssl, as GitHub hands out App keys (PKCS#1 PEM).
fn key_pair(dir: &Path, name: &str) -> (PathBuf, String) {
    let key = dir.join(format!("{name}.pem"));
    let public = dir.join(format!("{name}.pub.pem"));
    let ok = |c: &mut Command| assert!(c.status().expect("openssl runs").success());
    ok(Command::new("openssl")
        .args(["genrsa", "-traditional", "-out"])
        .arg(&key)
        .arg("2048")
        .stderr(std::process::Stdio::null()));
    ok(Command::new("openssl")
        .args(["rsa", "-pubout", "-in"])
        .arg(&key)
        .arg("-out")
        .arg(&public)
        .stderr(std::process::Stdio::null()));
    (key, std::fs::read_to_string(public).unwrap())
}

struct AppHub {
    hub: Hub,
    keys: tempfile::TempDir,
    key: PathBuf,
}

fn app_hub(token_ttl: Duration) -> AppHub {
    let keys = tempfile::tempdir().unwrap();
    let (key, public_key_pem) = key_pair(keys.path(), "app");
    let hub = Hub::with(Config {
        app: Some(AppConfig {
            id: APP_ID.into(),
            public_key_pem,
            token_ttl,
        }),
        ..Config::default()
    });
    repo::create(hub.path(), "acme", "api")
        .unwrap()
        .write("a.txt", "first\n")
        .write("docs/b.txt", "second\n")
        .commit("init")
        .unwrap();
    AppHub { hub, keys, key }
}

fn app_cli(hub: &AppHub, key: &Path, extra: &[(&str, &str)]) -> Cli {
    let mut cli = hub.hub.cli();
    cli.extra_env
        .push(("HEIMDALL_APP_ID".into(), APP_ID.into()));
    cli.extra_env.push((
        "HEIMDALL_APP_KEY_FILE".into(),
        key.to_string_lossy().into_owned(),
    ));
    for (k, v) in extra {
        cli.extra_env.push((k.to_string(), v.to_string()));
    }
    cli
}

#[test]
fn installation_tokens_serve_the_api_and_git_and_are_renewed_before_they_expire() {
    require_fuse!();
    let app = app_hub(Duration::from_secs(3));
    let cli = app_cli(&app, &app.key, &[]);
    let listed = String::from_utf8(cli.ok(&["repos", "acme"])).unwrap();
    assert!(listed.contains("api"), "{listed}");
    let mount = TestMount::new(app_cli(&app, &app.key, &[]), &["--org", "acme"]);
    assert_eq!(
        std::fs::read_to_string(mount.at("acme/api/a.txt")).unwrap(),
        "first\n"
    );
    // Past the first token's life, a branch pushed since is read (a ref lookup and a
    // fetch): the daemon renewed its token ahead of time, so nothing was refused.
    std::thread::sleep(Duration::from_secs(4));
    repo::open(app.hub.path(), "acme", "api")
        .unwrap()
        .on_branch("feature")
        .write("c.txt", "third\n")
        .commit("more")
        .unwrap();
    assert_eq!(
        std::fs::read_to_string(mount.at("acme/api@feature/c.txt")).unwrap(),
        "third\n"
    );
    let stats = app.hub.hub.stats();
    assert!(stats.app_tokens_issued >= 3, "{stats:?}");
    assert_eq!(
        stats.expired_tokens, 0,
        "a request went out with an expired token: {stats:?}"
    );
    if !mount.cli.is_rest() {
        assert!(
            stats.route("git_http") > 0,
            "content came over git: {stats:?}"
        );
    }
    mount.unmount();
}

#[test]
fn a_wrong_key_or_installation_is_a_clear_error_and_no_secret_is_written() {
    let app = app_hub(Duration::from_secs(3600));
    let (other_key, _) = key_pair(app.keys.path(), "other");
    let err = app_cli(&app, &other_key, &[]).fails(&["repos", "acme"]);
    assert!(err.contains("JSON web token could not be decoded"), "{err}");
    let err = app_cli(&app, &app.key, &[("HEIMDALL_APP_INSTALLATION_ID", "999")])
        .fails(&["repos", "acme"]);
    assert!(err.contains("installation 999"), "{err}");
    let err = app_cli(&app, &app.key, &[]).fails(&["repos", "nobody"]);
    assert!(err.contains("not installed on `nobody`"), "{err}");
    let not_a_key = app.keys.path().join("not-a-key.pem");
    std::fs::write(&not_a_key, "hello").unwrap();
    let err = app_cli(&app, &not_a_key, &[]).fails(&["repos", "acme"]);
    assert!(err.contains("not an RSA private key"), "{err}");

    // At trace level, every output and every cache file is free of the key, the JWT and
    // the installation tokens.
    let cli = app_cli(&app, &app.key, &[]);
    let mut seen = Vec::new();
    for args in [
        &["-vvv", "repos", "acme"][..],
        &["-vvv", "cat", "acme/api/a.txt"],
        &["-vvv", "tree", "acme/api", "-r"],
    ] {
        let out = cli.run(args);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        seen.extend(out.stdout);
        seen.extend(out.stderr);
    }
    for entry in walk(&cli.cache_dir()) {
        seen.extend(std::fs::read(entry).unwrap_or_default());
    }
    let key = std::fs::read_to_string(&app.key).unwrap();
    let key_line = key.lines().nth(3).unwrap();
    let text = String::from_utf8_lossy(&seen);
    for secret in ["ghs_", "eyJhbGciOi", key_line] {
        assert!(!text.contains(secret), "`{secret}` was written");
    }
    assert!(app.hub.hub.stats().app_tokens_issued >= 1);
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files
}
