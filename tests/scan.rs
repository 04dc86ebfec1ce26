//! Org scans through the CLI against fakehub: repeat scans read nothing, kill -9 resumes,
//! failures are listed, filters select, and the mount's control tree serves the export.

mod common;

use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{Hub, TestMount};
use fakehub::{RepoMeta, repo};

/// A small org: Python and JS repos, an empty repo, an archived one and a fork.
fn org(hub: &Hub, python: usize) {
    for i in 0..python {
        let mut r = repo::create(hub.path(), "acme", &format!("py-{i:02}")).unwrap();
        let extra = if i % 2 == 0 {
            "\n[tool.mypy]\nstrict = true\n"
        } else {
            ""
        };
        r.write(
            "pyproject.toml",
            format!(
                "[project]\nname = \"py{i}\"\ndependencies = [\"requests>=2.{i}\", \"pydantic>=2\"]\n\n[tool.ruff]\nline-length = {}\n{extra}",
                80 + i
            ),
        )
        .write("requirements-dev.txt", "pytest==8.0.0\n-r requirements.txt\n")
        .write("requirements.txt", "Flask_SQLAlchemy>=3\n")
        .write("src/pkg/__init__.py", "")
        .write("tests/test_x.py", "def test(): pass\n");
        r.commit("c").unwrap();
        r.set_metadata(&RepoMeta {
            language: Some("Python".into()),
            stargazers_count: Some(i as u64),
            ..RepoMeta::default()
        })
        .unwrap();
    }
    let mut js = repo::create(hub.path(), "acme", "web").unwrap();
    js.write(
        "package.json",
        r#"{"name": "web", "scripts": {"test": "jest"}, "devDependencies": {"jest": "^29.0.0", "eslint": "^8.0.0"}}"#,
    )
    .write("tsconfig.json", "{\n  // comments are fine\n  \"compilerOptions\": {\"strict\": true,},\n}\n");
    js.commit("c").unwrap();
    js.set_metadata(&RepoMeta {
        language: Some("TypeScript".into()),
        ..RepoMeta::default()
    })
    .unwrap();
    let mut bad = repo::create(hub.path(), "acme", "broken").unwrap();
    bad.write("pyproject.toml", "[project\nname = ")
        .commit("c")
        .unwrap();
    repo::create_empty(hub.path(), "acme", "empty").unwrap();
    for (name, meta) in [
        (
            "old",
            RepoMeta {
                archived: Some(true),
                ..RepoMeta::default()
            },
        ),
        (
            "forked",
            RepoMeta {
                fork: Some(true),
                ..RepoMeta::default()
            },
        ),
    ] {
        let mut r = repo::create(hub.path(), "acme", name).unwrap();
        r.write("package.json", r#"{"name": "x"}"#)
            .commit("c")
            .unwrap();
        r.set_metadata(&meta).unwrap();
    }
}

fn json(bytes: &[u8]) -> serde_json::Value {
    serde_json::from_slice(bytes)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(bytes)))
}

#[test]
fn scan_exports_codex_and_a_repeat_scan_reads_nothing() {
    let hub = Hub::new();
    org(&hub, 4);
    let cli = hub.cli();
    let codex = json(&cli.ok(&["github", "scan-org", "acme"]));
    assert_eq!(codex["organization"], "acme");
    // Archived and forked repos are out by default; the empty repo failed.
    assert_eq!(codex["repositories_scanned"], 6, "{codex:#}");
    let python = &codex["patterns"]["python"];
    assert_eq!(python["dependencies"]["requests"]["frequency"], 4);
    assert_eq!(
        python["dependencies"]["flask-sqlalchemy"]["frequency"], 4,
        "PEP 503 names and -r includes"
    );
    assert_eq!(python["tools"]["ruff"]["frequency"], 4);
    assert_eq!(python["tools"]["pytest"]["frequency"], 4);
    assert_eq!(python["tools"]["mypy"]["frequency"], 2);
    let js = &codex["patterns"]["javascript"];
    assert_eq!(js["tools"]["jest"]["frequency"], 1);
    assert_eq!(js["tools"]["typescript"]["frequency"], 1, "{js:#}");

    let status = json(&cli.ok(&["github", "scan-status", "acme", "--json"]));
    assert_eq!(status["state"], "finished");
    assert_eq!(status["repos_total"], 7);
    assert_eq!(status["repos_failed"], 1);
    assert_eq!(status["failed"][0]["repo"], "empty");
    assert!(
        status["failed"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("empty"),
        "{status:#}"
    );
    assert!(status["parse_errors"]["broken"].is_array(), "{status:#}");

    // Nothing changed: only conditional listing and ref requests (304s), no tree or blob.
    hub.hub.reset_stats();
    let again = json(&cli.ok(&["github", "scan-org", "acme"]));
    assert_eq!(again, codex);
    let stats = hub.hub.stats();
    assert_eq!(stats.route("blob"), 0, "{stats:?}");
    assert_eq!(stats.route("tree"), 0, "{stats:?}");
    assert_eq!(
        stats.counted,
        stats.route("commit") - stats.not_modified_route("commit") + stats.route("repo_list")
            - stats.not_modified_route("repo_list")
    );
    let status = json(&cli.ok(&["github", "scan-status", "acme", "--json"]));
    assert_eq!(status["cache_hit_rate"], 1.0, "{status:#}");

    // A pushed repo is scanned again, the rest stay cached.
    let mut r = repo::open(hub.path(), "acme", "py-00").unwrap();
    r.write(
        "pyproject.toml",
        "[project]\nname = \"py0\"\ndependencies = [\"httpx\"]\n",
    )
    .commit("c2")
    .unwrap();
    let codex = json(&cli.ok(&["github", "scan-org", "acme"]));
    assert_eq!(
        codex["patterns"]["python"]["dependencies"]["httpx"]["frequency"],
        1
    );
    assert_eq!(
        codex["patterns"]["python"]["dependencies"]["requests"]["frequency"],
        3
    );

    // Exports: jsonl has one line per repo; json is an array of the same.
    let jsonl =
        String::from_utf8(cli.ok(&["github", "export-patterns", "acme", "--format", "jsonl"]))
            .unwrap();
    assert_eq!(jsonl.lines().count(), 6);
    let array = json(&cli.ok(&["github", "export-patterns", "acme", "--format", "json"]));
    assert_eq!(array.as_array().unwrap().len(), 6);
}

#[test]
fn filters_select_exactly_the_expected_repos() {
    let hub = Hub::new();
    org(&hub, 4);
    let cli = hub.cli();
    let scanned = |args: &[&str]| -> u64 {
        let mut full = vec!["github", "scan-org", "acme"];
        full.extend_from_slice(args);
        json(&cli.ok(&full))["repositories_scanned"]
            .as_u64()
            .unwrap()
    };
    assert_eq!(scanned(&["--language", "typescript"]), 1);
    assert_eq!(scanned(&["--min-stars", "2"]), 2);
    assert_eq!(scanned(&["--match", "^py-0[01]$"]), 2);
    assert_eq!(scanned(&["--include-archived", "--include-forks"]), 8);
    let err = cli.fails(&["github", "scan-org", "acme", "--match", "("]);
    assert!(err.contains("invalid --match"), "{err}");
}

#[test]
fn a_killed_scan_resumes_without_rescanning_and_matches_an_uninterrupted_one() {
    let hub = Hub::new();
    org(&hub, 24);
    let reference = json(&hub.cli().ok(&["github", "scan-org", "acme"]));

    let cli = hub.cli();
    hub.hub.set_latency(Duration::from_millis(40));
    hub.hub.reset_stats();
    let log = cli.dir.path().join("scan.log");
    let mut child = cli
        .command(&["github", "scan-org", "acme", "--parallel", "2"])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    // Kill it once the scan itself reports some, not all, repos done.
    let started = Instant::now();
    loop {
        let out = cli.run(&["github", "scan-status", "acme", "--json"]);
        if out.status.success() && json(&out.stdout)["repos_done"].as_u64().unwrap_or(0) >= 5 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the scan makes progress: {}\nstatus: {}",
            std::fs::read_to_string(&log).unwrap_or_default(),
            String::from_utf8_lossy(&out.stderr)
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let report = json(&cli.ok(&["cache", "verify", "--json"]));
    assert_eq!(report["index"], "ok", "{report:#}");
    assert_eq!(report["corrupt"], serde_json::json!([]), "{report:#}");
    let interrupted = json(&cli.ok(&["github", "scan-status", "acme", "--json"]));
    assert_eq!(interrupted["state"], "running", "{interrupted:#}");
    let done = interrupted["repos_done"].as_u64().unwrap();
    // 24 Python repos, `web` and `broken` can be done; `empty` fails.
    const SCANNABLE: u64 = 26;
    assert!(
        (5..SCANNABLE).contains(&done),
        "killed mid-scan: {interrupted:#}"
    );

    hub.hub.set_latency(Duration::ZERO);
    hub.hub.reset_stats();
    let resumed = json(&cli.ok(&["github", "scan-org", "acme"]));
    // The resumed run reads only repos the killed run had not finished: no finished repo
    // is scanned twice (work in flight at the kill may be redone).
    let trees = hub.hub.stats().route("tree");
    assert!(
        trees <= SCANNABLE - done,
        "{trees} tree requests for {} unfinished repos",
        SCANNABLE - done
    );
    let status = json(&cli.ok(&["github", "scan-status", "acme", "--json"]));
    assert_eq!(status["state"], "finished");
    assert_eq!(status["repos_done"], SCANNABLE);
    let mut resumed = resumed;
    let mut reference = reference;
    resumed["scan_date"] = serde_json::Value::Null;
    reference["scan_date"] = serde_json::Value::Null;
    assert_eq!(resumed, reference);
}

#[test]
fn the_mount_serves_the_export_and_status() {
    require_fuse!();
    let hub = Hub::new();
    org(&hub, 2);
    let cli = hub.cli();
    let mount = TestMount::new(cli, &["--org", "acme"]);
    // Reading the export before any scan runs one.
    let served = std::fs::read(mount.at(".patterns/acme.json")).unwrap();
    // The same cache through the CLI gives the same bytes.
    let exported = mount
        .cli
        .ok(&["github", "export-patterns", "acme", "--format", "codex"]);
    assert_eq!(served, exported);
    let names: Vec<String> = std::fs::read_dir(mount.at(".patterns"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["acme.json"]);
    let status = json(&std::fs::read(mount.at(".status/acme.json")).unwrap());
    assert_eq!(status["state"], "finished");
    let cache = json(&std::fs::read(mount.at(".status/cache.json")).unwrap());
    assert!(cache["objects"].as_u64().unwrap() > 0);
    let limits = json(&std::fs::read(mount.at(".status/rate_limit.json")).unwrap());
    assert_eq!(limits["resources"][0]["resource"], "core");
    mount.unmount();
}

#[test]
fn with_github_unreachable_a_scan_serves_the_last_results_and_says_so() {
    let hub = Hub::new();
    org(&hub, 3);
    let mut cli = hub.cli();
    let online = json(&cli.ok(&["github", "scan-org", "acme"]));
    // Nothing listens there: every request fails to connect.
    cli.api = "http://127.0.0.1:9".into();
    let out = cli.run(&["github", "scan-org", "acme"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("unreachable"), "says so: {stderr}");
    let mut offline = json(&out.stdout);
    let mut expected = online.clone();
    offline["scan_date"] = serde_json::Value::Null;
    expected["scan_date"] = serde_json::Value::Null;
    assert_eq!(offline, expected, "the last results, from cache");
    let status = json(&cli.ok(&["github", "scan-status", "acme", "--json"]));
    assert_eq!(status["offline"], true, "{status:#}");
    assert_eq!(status["repos_failed"], 1, "only the empty repo: {status:#}");
}

#[test]
fn a_rate_limit_mid_scan_is_waited_out_or_reported_and_resumed() {
    let hub = Hub::new();
    org(&hub, 6);
    // A budget that runs out a few repos into the scan, refilled 2 s later: the scan
    // waits for the reset and finishes with nothing failed but the empty repo.
    hub.hub.set_rate_limit(12, Duration::from_secs(2));
    // The REST budget's handling (over git a scan of 8 repositories costs 2 counted
    // requests and never meets this limit: tests/git_transport.rs).
    let cli = hub.cli().rest();
    let started = Instant::now();
    let codex = json(&cli.ok(&["github", "scan-org", "acme", "--parallel", "2"]));
    assert!(started.elapsed() >= Duration::from_secs(1), "it waited");
    assert_eq!(codex["repositories_scanned"], 8, "{codex:#}");
    let status = json(&cli.ok(&["github", "scan-status", "acme", "--json"]));
    assert_eq!(status["repos_failed"], 1, "{status:#}");

    // When the reset is further away than heimdall may wait, the repos it could not
    // reach are listed with the reason, the scan still finishes, and the next scan
    // (after the reset) picks up exactly those.
    let hub = Hub::new();
    org(&hub, 6);
    hub.hub.set_rate_limit(12, Duration::from_secs(3600));
    let mut cli = hub.cli().rest();
    cli.extra_env
        .push(("HEIMDALL_MAX_RATE_LIMIT_WAIT".into(), "0".into()));
    let partial = json(&cli.ok(&["github", "scan-org", "acme", "--parallel", "2"]));
    let status = json(&cli.ok(&["github", "scan-status", "acme", "--json"]));
    assert_eq!(status["state"], "finished");
    let limited: Vec<&serde_json::Value> = status["failed"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["reason"].as_str().unwrap().contains("rate limited"))
        .collect();
    assert!(!limited.is_empty(), "{status:#}");
    let done_first = partial["repositories_scanned"].as_u64().unwrap();
    assert!(done_first < 8, "{partial:#}");

    hub.hub.set_rate_limit(5000, Duration::from_secs(3600));
    hub.hub.reset_stats();
    let full = json(&cli.ok(&["github", "scan-org", "acme"]));
    assert_eq!(full["repositories_scanned"], 8, "{full:#}");
    let stats = hub.hub.stats();
    assert_eq!(
        stats.route("tree"),
        8 - done_first,
        "only the repos not done before are read: {stats:?}"
    );
}

#[test]
fn progress_is_a_bar_on_a_terminal_and_log_lines_otherwise() {
    let hub = Hub::with(fakehub::Config {
        tokens: vec![common::TEST_TOKEN.into()],
        latency: Duration::from_millis(30),
        ..fakehub::Config::default()
    });
    org(&hub, 3);
    let mut cli = hub.cli();
    cli.token = Some(common::TEST_TOKEN.into());
    // Not a terminal: one plain line per repo, with the requests used and the budget left.
    let work = tempfile::tempdir().unwrap();
    let export = work.path().join("acme.json");
    let export = export.to_str().unwrap();
    let out = cli.run(&["github", "scan-org", "acme", "--output", export]);
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{log}");
    let lines: Vec<&str> = log.lines().filter(|l| l.starts_with('[')).collect();
    assert_eq!(lines.len(), 6, "{log}");
    assert!(lines.iter().any(|l| l.contains("requests, ")), "{log}");
    assert!(!log.contains('\r') && !log.contains('\u{1b}'), "{log:?}");
    // -q: nothing but errors.
    let out = cli.run(&["-q", "github", "scan-org", "acme", "--output", export]);
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");

    // On a terminal (a pty from script(1)): a bar redrawn in place, no per-repo lines.
    let shell = format!(
        "{} github scan-org acme --output {export}",
        env!("CARGO_BIN_EXE_heimdall")
    );
    let cmd = cli.command(&[]);
    let envs: Vec<(std::ffi::OsString, std::ffi::OsString)> = cmd
        .get_envs()
        .filter_map(|(k, v)| Some((k.to_owned(), v?.to_owned())))
        .collect();
    let mut script = std::process::Command::new("script");
    script
        .args(["-qec", &shell, "/dev/null"])
        .env_clear()
        .envs(envs)
        .env("TERM", "xterm")
        .stdin(Stdio::null());
    let out = script.output().expect("script(1) runs");
    let tty = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{tty}");
    assert!(tty.contains("scanning 6 repositories of acme"), "{tty:?}");
    assert!(
        tty.contains('\r') || tty.contains('\u{1b}'),
        "the bar is drawn in place: {tty:?}"
    );
    assert!(tty.contains("/6"), "done/total: {tty:?}");
    assert!(
        !tty.contains("[1/6]"),
        "no log lines on a terminal: {tty:?}"
    );
}

#[test]
fn output_into_a_pipe_or_through_a_symlink_keeps_it() {
    use std::os::unix::fs::FileTypeExt;
    let hub = Hub::new();
    org(&hub, 1);
    let cli = hub.cli();
    let expected = cli.ok(&["github", "scan-org", "acme"]);
    let work = tempfile::tempdir().unwrap();
    let export = |to: &std::path::Path| {
        cli.ok(&[
            "github",
            "export-patterns",
            "acme",
            "--format",
            "codex",
            "--output",
            to.to_str().unwrap(),
        ])
    };

    // A FIFO is written into, not replaced by a file.
    let fifo = work.path().join("pipe");
    let c_path = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::read(fifo).unwrap())
    };
    export(&fifo);
    let read = reader.join().unwrap();
    let strip = |v: &[u8]| {
        let mut v = json(v);
        v["scan_date"] = serde_json::Value::Null;
        v
    };
    assert_eq!(strip(&read), strip(&expected));
    assert!(std::fs::metadata(&fifo).unwrap().file_type().is_fifo());

    // Through a symlink, the file it names gets the export and the link stays a link.
    let target = work.path().join("real.json");
    std::fs::write(&target, "old").unwrap();
    let link = work.path().join("link.json");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    export(&link);
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(strip(&std::fs::read(&target).unwrap()), strip(&expected));
}

/// Regression: a control file whose scan hit a full cache disk answered EIO; it answers
/// ENOSPC ("No space left on device"), with a log line; the scan stops instead of
/// marking every repository failed, and once space is free the same file is served.
#[test]
fn a_control_file_whose_scan_hits_a_full_disk_answers_enospc() {
    require_fuse!();
    let hub = Hub::new();
    org(&hub, 2);
    let cli = hub.cli();
    let Some(_disk) = common::SmallDisk::mount(&cli.cache_dir(), "2m") else {
        assert!(std::env::var_os("CI").is_none(), "CI runs as root");
        eprintln!("skipping: mounting a tmpfs needs root");
        return;
    };
    let mount = TestMount::new(cli, &["--org", "acme"]);
    let filler = mount.cli.cache_dir().join("filler");
    let _ = std::process::Command::new("dd")
        .args(["if=/dev/zero", "bs=4k", "count=100000"])
        .arg(format!("of={}", filler.display()))
        .stderr(Stdio::null())
        .status();
    let err = std::fs::read(mount.at(".patterns/acme.json")).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::ENOSPC), "{err}");
    let log = mount.log();
    assert!(
        log.contains("control file unavailable")
            && (log.contains("disk is full") || log.contains("No space left on device")),
        "{log}"
    );
    std::fs::remove_file(&filler).unwrap();
    let served = json(&std::fs::read(mount.at(".patterns/acme.json")).unwrap());
    assert_eq!(served["organization"], "acme", "{served}");
    let status = json(&std::fs::read(mount.at(".status/acme.json")).unwrap());
    assert_eq!(status["state"], "finished", "{status}");
    let failed = status["failed"].to_string();
    assert!(
        !failed.contains("full") && !failed.contains("space"),
        "no repository failed for the disk: {status}"
    );
    mount.unmount();
}
