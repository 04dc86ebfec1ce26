//! Security: tokens never leave memory, private content stays with its user, mounts are
//! nosuid/nodev, and the push webhook only acts on deliveries signed with its secret.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{Hub, TestMount, files_containing};
use fakehub::{Config, Fault, RepoMeta, repo};
use hmac::{KeyInit, Mac};

/// Mount options of `path` in /proc/mounts.
fn mount_options(path: &std::path::Path) -> Vec<String> {
    let mounts = std::fs::read_to_string("/proc/mounts").unwrap();
    let line = mounts
        .lines()
        .find(|l| l.split(' ').nth(1) == path.to_str())
        .unwrap_or_else(|| panic!("{} is not mounted: {mounts}", path.display()));
    line.split(' ')
        .nth(3)
        .unwrap()
        .split(',')
        .map(str::to_string)
        .collect()
}

/// Runs `cat path` as user `nobody`: its stdout, or the error it printed.
fn cat_as_nobody(path: &std::path::Path) -> Result<String, String> {
    let out = Command::new("cat")
        .arg(path)
        .uid(65534)
        .gid(65534)
        .output()
        .unwrap();
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

fn private_repo(hub: &Hub) {
    let mut r = repo::create(hub.path(), "acme", "secret").unwrap();
    r.write("plans.txt", "private plans\n").commit("c").unwrap();
    r.set_metadata(&RepoMeta {
        private: Some(true),
        ..RepoMeta::default()
    })
    .unwrap();
}

/// Makes the mount's parent directories traversable by other users, so that only the
/// mount itself can refuse them.
fn open_parents(mount: &TestMount) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(mount.dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn mounts_are_nosuid_nodev_read_only_and_private_to_their_user() {
    require_fuse!();
    let hub = Hub::new();
    private_repo(&hub);
    // A working copy by default: rw, but never suid or device files.
    let writable = TestMount::new(hub.cli(), &[]);
    let options = mount_options(&writable.path());
    for wanted in ["rw", "nosuid", "nodev"] {
        assert!(
            options.iter().any(|o| o == wanted),
            "{wanted} missing: {options:?}"
        );
    }
    writable.unmount();
    let mount = TestMount::new(hub.cli(), &["--read-only"]);
    open_parents(&mount);
    let file = mount.at("acme/secret/plans.txt");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "private plans\n");
    let options = mount_options(&mount.path());
    for wanted in ["ro", "nosuid", "nodev"] {
        assert!(
            options.iter().any(|o| o == wanted),
            "{wanted} missing: {options:?}"
        );
    }
    let refused = cat_as_nobody(&file).unwrap_err();
    assert!(refused.contains("Permission denied"), "{refused}");
    // The cache and the daemon's socket directory are the user's alone.
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&mount.cli.cache_dir()), 0o700);
    let status: serde_json::Value =
        serde_json::from_slice(&mount.cli.ok(&["daemon", "status"])).unwrap();
    let socket = std::path::PathBuf::from(status["socket"].as_str().unwrap());
    assert_eq!(mode(socket.parent().unwrap()), 0o700, "{status}");
    mount.unmount();

    // --allow-other opens it to every local user, and says so.
    let cli = hub.cli();
    let dir = tempfile::tempdir().unwrap();
    let mnt = dir.path().join("mnt");
    std::fs::create_dir(&mnt).unwrap();
    let out = cli.run(&["mount", mnt.to_str().unwrap(), "--allow-other"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("warning: --allow-other") && stderr.contains("private"),
        "{stderr}"
    );
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    assert_eq!(
        cat_as_nobody(&mnt.join("acme/secret/plans.txt")).unwrap(),
        "private plans\n"
    );
    assert!(mount_options(&mnt).iter().any(|o| o == "nosuid"));
    cli.ok(&["unmount", mnt.to_str().unwrap()]);
    cli.ok(&["daemon", "stop"]);
}

#[test]
fn at_trace_level_the_token_reaches_no_log_title_socket_or_cache_file() {
    require_fuse!();
    const TOKEN: &str = "ghp_TRACEtoken0123456789abcdefXYZ";
    let hub = Hub::with(Config {
        tokens: vec![TOKEN.into()],
        ..Config::default()
    });
    private_repo(&hub);
    let mut r = repo::create(hub.path(), "acme", "api").unwrap();
    r.write("pyproject.toml", "[project]\nname = \"api\"\n")
        .write("src/app.py", "print('hi')\n")
        .commit("c")
        .unwrap();
    let mut cli = hub.cli();
    cli.token = Some(TOKEN.into());
    cli.extra_env.push(("RUST_LOG".into(), "trace".into()));
    // Failures make the client log requests and errors at every level.
    hub.hub.inject(Fault::status(502).on_route("blob"));
    hub.hub.inject(Fault::status(502).on_route("git_http"));
    hub.hub.inject(Fault::drop_connection().on_route("tree"));
    let mut output = Vec::new();
    let mount = TestMount::new(cli, &["--org", "acme"]);
    assert_eq!(
        std::fs::read_to_string(mount.at("acme/secret/plans.txt")).unwrap(),
        "private plans\n"
    );
    assert_eq!(
        std::fs::read_to_string(mount.at("acme/api/src/app.py")).unwrap(),
        "print('hi')\n"
    );
    let _ = std::fs::read_to_string(mount.at(".status/mount.json")).unwrap();
    let export = mount.cli.dir.path().join("acme.json");
    for args in [
        &[
            "github",
            "scan-org",
            "acme",
            "--output",
            export.to_str().unwrap(),
        ][..],
        &["allocate", "acme/api", "--ttl", "10m"],
        &["allocated", "list"],
        &["daemon", "status"],
        &["cat", "acme/secret/nope.txt"],
    ] {
        let out = mount.cli.run(args);
        output.extend(out.stdout);
        output.extend(out.stderr);
    }
    let daemon = mount.pid;
    let title = [
        std::fs::read(format!("/proc/{daemon}/cmdline")).unwrap(),
        std::fs::read(format!("/proc/{daemon}/comm")).unwrap(),
    ]
    .concat();
    assert!(
        !String::from_utf8_lossy(&title).contains(TOKEN),
        "token in the process title"
    );
    mount.cli.ok(&["release", "--all"]);
    mount.unmount();
    let log = mount.log();
    assert!(log.contains("TRACE"), "the daemon logged at trace level");
    output.extend(log.into_bytes());
    output.extend(std::fs::read(&export).unwrap_or_default());
    let text = String::from_utf8_lossy(&output);
    // Over git the token travels as `Basic base64("x-access-token:" + token)`: that
    // form must not leak either.
    let basic = {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(format!("x-access-token:{TOKEN}"))
    };
    if !mount.cli.is_rest() {
        assert!(
            hub.hub.stats().route("git_http") > 0,
            "content came over git (the token went to the git endpoint)"
        );
    }
    for secret in [TOKEN, basic.as_str()] {
        assert!(
            !text.contains(secret),
            "the token leaked into output or logs"
        );
        assert!(files_containing(&mount.cli.cache_dir(), secret.as_bytes()).is_empty());
        assert!(files_containing(mount.cli.dir.path(), secret.as_bytes()).is_empty());
        let runtime = std::path::Path::new("/tmp/heimdall-0");
        if runtime.is_dir() {
            assert!(files_containing(runtime, secret.as_bytes()).is_empty());
        }
    }
}

// ---------------------------------------------------------------------------
// The push webhook

const SECRET: &str = "It's a Secret to Everybody";

struct Receiver {
    child: Child,
    addr: String,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `heimdall webhook --listen 127.0.0.1:0` for `mount`'s cache; waits for its address.
fn receiver(mount: &TestMount) -> Receiver {
    let secret = mount.cli.dir.path().join("webhook-secret");
    std::fs::write(&secret, format!("{SECRET}\n")).unwrap();
    let mut child = mount
        .cli
        .command(&[
            "webhook",
            "--listen",
            "127.0.0.1:0",
            "--secret-file",
            secret.to_str().unwrap(),
            "--max-body",
            "64K",
        ])
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let addr = loop {
        let line = lines
            .next()
            .expect("the receiver prints its address")
            .unwrap();
        if let Some(rest) = line.split("http://").nth(1) {
            break rest.trim_end_matches('/').to_string();
        }
    };
    // Keep draining its stderr so it never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Receiver { child, addr }
}

fn signature(secret: &str, body: &[u8]) -> String {
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// POSTs `body` with `headers`; returns the status code.
fn post(addr: &str, headers: &[(&str, String)], body: &[u8]) -> u16 {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut request = format!(
        "POST /hooks HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: GitHub-Hookshot/test\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).unwrap();
    // A refused oversized body may close the connection before all of it is written.
    let _ = stream.write_all(body);
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no HTTP status in {answer:?}"))
}

fn push_body(reference: &str) -> Vec<u8> {
    serde_json::json!({
        "ref": reference,
        "before": "0000000000000000000000000000000000000000",
        "after": "1111111111111111111111111111111111111111",
        "repository": {"name": "api", "full_name": "acme/api", "owner": {"login": "acme"}},
        "pusher": {"name": "dev"},
    })
    .to_string()
    .into_bytes()
}

fn signed(event: &str, body: &[u8], secret: &str) -> Vec<(&'static str, String)> {
    vec![
        ("X-GitHub-Event", event.to_string()),
        (
            "X-GitHub-Delivery",
            "72d3162e-cc78-11e3-81ab-4c9367dc0958".into(),
        ),
        ("X-Hub-Signature-256", signature(secret, body)),
    ]
}

#[test]
fn a_signed_push_webhook_shows_the_new_commit_at_once_and_nothing_else_does() {
    require_fuse!();
    let hub = Hub::new();
    let mut r = repo::create(hub.path(), "acme", "api").unwrap();
    r.write("VERSION", "1\n").commit("one").unwrap();
    r.create_branch("release", "main").unwrap();
    // Branches are trusted for an hour: only the webhook can make a push show.
    let mount = TestMount::new(hub.cli(), &["--ref-ttl", "1h"]);
    let read = |rel: &str| std::fs::read_to_string(mount.at(rel)).unwrap();
    assert_eq!(read("acme/api/VERSION"), "1\n");
    assert_eq!(read("acme/api@release/VERSION"), "1\n");
    assert!(!mount.at("acme/api@hotfix").exists());
    let hook = receiver(&mount);

    r.write("VERSION", "2\n").commit("two").unwrap();
    r.create_branch("hotfix", "main").unwrap();
    let body = push_body("refs/heads/main");
    // Unsigned, wrongly signed, signed for another body, oversized: 401/413, nothing moves.
    assert_eq!(
        post(&hook.addr, &[("X-GitHub-Event", "push".into())], &body),
        401
    );
    assert_eq!(
        post(&hook.addr, &signed("push", &body, "wrong secret"), &body),
        401
    );
    let other = push_body("refs/heads/release");
    assert_eq!(
        post(&hook.addr, &signed("push", &other, SECRET), &body),
        401
    );
    let huge = vec![b' '; 200 << 10];
    assert_eq!(post(&hook.addr, &signed("push", &huge, SECRET), &huge), 413);
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(
        read("acme/api/VERSION"),
        "1\n",
        "a refused delivery changed the mount"
    );

    assert_eq!(post(&hook.addr, &signed("ping", b"{}", SECRET), b"{}"), 200);
    assert_eq!(post(&hook.addr, &signed("push", b"{", SECRET), b"{"), 400);
    assert_eq!(
        post(&hook.addr, &signed("issues", b"{}", SECRET), b"{}"),
        204
    );

    // A signed push: the default branch shows the new commit at once.
    let started = Instant::now();
    assert_eq!(post(&hook.addr, &signed("push", &body, SECRET), &body), 202);
    assert_eq!(read("acme/api/VERSION"), "2\n");
    assert!(started.elapsed() < Duration::from_secs(5));
    // Other branches were not touched; a push to one moves only it.
    assert_eq!(read("acme/api@release/VERSION"), "1\n");
    r.create_branch("release", "main").unwrap();
    assert_eq!(read("acme/api@release/VERSION"), "1\n");
    let release = push_body("refs/heads/release");
    assert_eq!(
        post(&hook.addr, &signed("push", &release, SECRET), &release),
        202
    );
    assert_eq!(read("acme/api@release/VERSION"), "2\n");
    // A branch looked up before it existed appears once its push is announced.
    let hotfix = push_body("refs/heads/hotfix");
    assert_eq!(
        post(&hook.addr, &signed("push", &hotfix, SECRET), &hotfix),
        202
    );
    assert_eq!(read("acme/api@hotfix/VERSION"), "2\n");

    // A deleted branch: its root goes at once.
    r.delete_branch("hotfix").unwrap();
    let mut deleted: serde_json::Value = serde_json::from_slice(&hotfix).unwrap();
    deleted["deleted"] = true.into();
    deleted["after"] = "0000000000000000000000000000000000000000".into();
    let deleted = deleted.to_string().into_bytes();
    assert_eq!(
        post(&hook.addr, &signed("push", &deleted, SECRET), &deleted),
        202
    );
    let gone = std::fs::metadata(mount.at("acme/api@hotfix")).unwrap_err();
    assert_eq!(gone.raw_os_error(), Some(libc::ENOENT), "{gone}");
    assert_eq!(read("acme/api/VERSION"), "2\n");

    let log = mount.log();
    assert!(log.contains("push announced"), "{log}");
    assert!(!log.contains(SECRET));
    drop(hook);
    mount.unmount();
}

#[test]
fn the_webhook_refuses_a_missing_or_empty_secret_file() {
    let hub = Hub::new();
    let cli = hub.cli();
    let missing = cli.dir.path().join("nope");
    let err = cli.fails(&[
        "webhook",
        "--listen",
        "127.0.0.1:0",
        "--secret-file",
        missing.to_str().unwrap(),
    ]);
    assert!(err.contains("cannot read the secret file"), "{err}");
    let empty = cli.dir.path().join("empty");
    std::fs::write(&empty, "\n").unwrap();
    let err = cli.fails(&[
        "webhook",
        "--listen",
        "127.0.0.1:0",
        "--secret-file",
        empty.to_str().unwrap(),
    ]);
    assert!(err.contains("is empty"), "{err}");
}
