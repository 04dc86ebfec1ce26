//! Fitting into the system: `mount -t fuse.heimdall` through `mount.fuse3` (what an fstab
//! line does), shell completions and the man page.

mod common;

use std::path::Path;
use std::process::Command;

use common::Hub;
use fakehub::repo;

fn mount_helper_missing() -> Option<&'static str> {
    if !["/sbin/mount.fuse3", "/usr/sbin/mount.fuse3"]
        .iter()
        .any(|p| Path::new(p).exists())
    {
        return Some("mount.fuse3 is not installed (apt-get install fuse3)");
    }
    // SAFETY: getuid cannot fail.
    if unsafe { libc::getuid() } != 0 {
        return Some("mount(8) of a fuse type needs root (or a `user` fstab entry)");
    }
    None
}

#[test]
fn mount_t_fuse_heimdall_goes_through_mount_fuse3() {
    require_fuse!();
    if let Some(why) = mount_helper_missing() {
        assert!(std::env::var_os("CI").is_none(), "must run in CI: {why}");
        eprintln!("skipping: {why}");
        return;
    }
    let hub = Hub::new();
    repo::create(hub.path(), "acme", "api")
        .unwrap()
        .write("pyproject.toml", "[project]\nname = \"api\"\n")
        .write("src/app.py", "print('hi')\n")
        .commit("init")
        .unwrap();
    let cli = hub.cli();
    let mnt = cli.dir.path().join("mnt");
    std::fs::create_dir(&mnt).unwrap();
    // `-t fuse.heimdall heimdall MNT` runs `heimdall` found on the helper's default PATH
    // (mount(8) drops PATH: /usr/local/bin, /usr/bin, ...); `-t fuse BIN#SOURCE` names the
    // binary, so the one under test is used. Both reach the same `BIN SOURCE MNT -o ...`.
    let template = cli.command(&[]);
    let mut mount = Command::new("mount");
    mount.env_clear();
    for (key, value) in template.get_envs() {
        if let Some(value) = value {
            mount.env(key, value);
        }
    }
    let out = mount
        .args(["-t", "fuse"])
        .arg(format!("{}#heimdall", env!("CARGO_BIN_EXE_heimdall")))
        .arg(&mnt)
        .args(["-o", "rw,nosuid,org=acme,ref_ttl=60s,_netdev"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "mount -t fuse.heimdall failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let listed: Vec<String> = std::fs::read_dir(mnt.join("acme"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(listed, ["api"]);
    assert_eq!(
        std::fs::read_to_string(mnt.join("acme/api/src/app.py")).unwrap(),
        "print('hi')\n"
    );
    let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap();
    assert!(mounts.contains(mnt.to_str().unwrap()), "{mounts}");
    cli.ok(&["unmount", mnt.to_str().unwrap()]);
    assert!(
        !std::fs::read_to_string("/proc/self/mounts")
            .unwrap()
            .contains(mnt.to_str().unwrap())
    );

    // A token is refused as an option (it would show in `ps` and /proc/mounts).
    let err = cli.fails(&[
        "heimdall",
        mnt.to_str().unwrap(),
        "-o",
        "org=acme,token=ghp_secret",
    ]);
    assert!(
        err.contains("never a mount option") && !err.contains("ghp_secret"),
        "{err}"
    );
    let err = cli.fails(&["heimdall", mnt.to_str().unwrap(), "-o", "colour=blue"]);
    assert!(err.contains("unknown mount option `colour`"), "{err}");
}

#[test]
fn completions_load_in_bash_and_the_man_page_names_every_command() {
    let hub = Hub::new();
    let cli = hub.cli();
    let script = cli.ok(&["completions", "bash"]);
    let file = cli.dir.path().join("heimdall.bash");
    std::fs::write(&file, &script).unwrap();
    // Sourced by bash, it completes subcommands.
    let out = Command::new("bash")
        .arg("-c")
        .arg(format!(
            "source {} && COMP_WORDS=(heimdall al) COMP_CWORD=1 COMP_LINE='heimdall al' COMP_POINT=11 \
             && _heimdall heimdall al heimdall && printf '%s\\n' \"${{COMPREPLY[@]}}\"",
            file.display()
        ))
        .output()
        .unwrap();
    let words = String::from_utf8_lossy(&out.stdout);
    assert!(
        words.lines().any(|w| w == "allocate") && words.lines().any(|w| w == "allocated"),
        "{words}"
    );
    for shell in ["zsh", "fish"] {
        let script = String::from_utf8(cli.ok(&["completions", shell])).unwrap();
        assert!(
            script.contains("heimdall") && script.contains("allocate"),
            "{shell}"
        );
    }
    assert!(
        cli.fails(&["completions", "tcsh"])
            .contains("invalid value")
    );
    let man = String::from_utf8(cli.ok(&["man"])).unwrap();
    assert!(
        man.starts_with(".ie") || man.contains(".TH heimdall 1"),
        "{man}"
    );
    for command in ["mount", "allocate", "release", "github", "completions"] {
        assert!(man.contains(command), "the man page lacks {command}");
    }
}
