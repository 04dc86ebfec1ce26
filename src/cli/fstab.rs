//! `mount -t fuse.heimdall SOURCE MOUNTPOINT -o OPTIONS` (fstab, `mount(8)`): `mount.fuse3`
//! runs `heimdall SOURCE MOUNTPOINT -o OPTIONS`; that argv is rewritten here into
//! `heimdall [globals] mount MOUNTPOINT [flags]` before clap parses it.
//!
//! Options: `org=OWNER` (repeatable), `ref_ttl=60s`, `hydrate_threshold=N`, `allow_other`,
//! `passthrough`, `ro`/`read_only`, `foreground`, `cache_dir=DIR`, `api_url=URL`,
//! `git_url=URL`, `transport=auto|git|rest`, `cache_max_size=SIZE`, `verbose`. The generic
//! mount options (`rw`, `nosuid`, `nodev`, `noatime`, `_netdev`, `nofail`, `x-systemd.*`,
//! ...) are accepted and left to `mount`. A token is never an option (options show in
//! `ps` and in `/proc/mounts`): it comes from the environment or gh's `hosts.yml`.

use std::ffi::OsString;
use std::path::Path;

/// Options `mount(8)` and the kernel handle, which heimdall accepts and ignores.
const GENERIC: &[&str] = &[
    "rw",
    "defaults",
    "auto",
    "noauto",
    "user",
    "nouser",
    "users",
    "owner",
    "group",
    "nofail",
    "_netdev",
    "dev",
    "nodev",
    "suid",
    "nosuid",
    "exec",
    "noexec",
    "atime",
    "noatime",
    "diratime",
    "nodiratime",
    "relatime",
    "norelatime",
    "strictatime",
    "lazytime",
    "sync",
    "async",
    "dirsync",
    "silent",
    "loud",
    "comment",
];

/// `args` rewritten when they have `mount.fuse3`'s form (the program, a source that is no
/// subcommand, an existing directory, `-o OPTIONS`); otherwise `None`.
pub fn rewrite(args: &[OsString], subcommands: &[String]) -> Option<Result<Vec<OsString>, String>> {
    let [program, source, mountpoint, rest @ ..] = args else {
        return None;
    };
    let source = source.to_str()?;
    if source.starts_with('-') || subcommands.iter().any(|s| s == source) {
        return None;
    }
    if !Path::new(mountpoint).is_dir() || rest.is_empty() {
        return None;
    }
    let mut options = Vec::new();
    let mut it = rest.iter();
    while let Some(arg) = it.next() {
        match arg.to_str() {
            Some("-o") => match it.next().and_then(|o| o.to_str()) {
                Some(list) => options.extend(list.split(',').map(str::to_string)),
                None => return Some(Err("`-o` needs a list of options".into())),
            },
            Some(list) if list.starts_with("-o") => {
                options.extend(list[2..].split(',').map(str::to_string))
            }
            // mount.fuse3 passes -n (no mtab), -s (sloppy), -f (fake), -v.
            Some("-n" | "-s" | "-v") => {}
            Some("-f") => return Some(Err("a fake mount (-f) mounts nothing".into())),
            _ => {
                return Some(Err(format!(
                    "unexpected argument `{}`",
                    arg.to_string_lossy()
                )));
            }
        }
    }
    Some(translate(program, mountpoint, &options))
}

fn translate(
    program: &OsString,
    mountpoint: &OsString,
    options: &[String],
) -> Result<Vec<OsString>, String> {
    let mut globals: Vec<OsString> = Vec::new();
    let mut flags: Vec<OsString> = Vec::new();
    for option in options.iter().filter(|o| !o.is_empty()) {
        let (key, value) = match option.split_once('=') {
            Some((k, v)) => (k, Some(v)),
            None => (option.as_str(), None),
        };
        let need = |v: Option<&str>| {
            v.filter(|v| !v.is_empty())
                .map(OsString::from)
                .ok_or_else(|| format!("mount option `{key}` needs a value (`{key}=...`)"))
        };
        match key {
            "org" | "owner" => flags.extend(["--org".into(), need(value)?]),
            "ref_ttl" => flags.extend(["--ref-ttl".into(), need(value)?]),
            "hydrate_threshold" => flags.extend(["--hydrate-threshold".into(), need(value)?]),
            "allow_other" => flags.push("--allow-other".into()),
            "passthrough" => flags.push("--passthrough".into()),
            "ro" | "read_only" => flags.push("--read-only".into()),
            "foreground" => flags.push("--foreground".into()),
            "cache_dir" => globals.extend(["--cache-dir".into(), need(value)?]),
            "api_url" => globals.extend(["--api-url".into(), need(value)?]),
            "git_url" => globals.extend(["--git-url".into(), need(value)?]),
            "transport" => globals.extend(["--transport".into(), need(value)?]),
            "cache_max_size" => globals.extend(["--cache-max-size".into(), need(value)?]),
            "verbose" => globals.push("-v".into()),
            "token" | "password" => {
                return Err(
                    "a token is never a mount option (it would show in `ps` and \
                            /proc/mounts): set GITHUB_TOKEN or log in with gh"
                        .into(),
                );
            }
            generic if GENERIC.contains(&generic) || generic.starts_with("x-") => {}
            other => return Err(format!("unknown mount option `{other}`")),
        }
    }
    let mut args = vec![program.clone()];
    args.extend(globals);
    args.push("mount".into());
    args.push(mountpoint.clone());
    args.extend(flags);
    Ok(args)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(args: &[&str]) -> Vec<OsString> {
        args.iter().map(OsString::from).collect()
    }

    #[test]
    fn mount_fuse3_argv_becomes_a_mount_command() {
        let dir = tempfile::tempdir().unwrap();
        let mnt = dir.path().to_str().unwrap();
        let subs = vec!["mount".to_string(), "repos".to_string()];
        let got = rewrite(
            &os(&[
                "heimdall",
                "heimdall",
                mnt,
                "-o",
                "rw,nosuid,org=acme,org=beta,ref_ttl=60s,cache_dir=/c,_netdev,x-systemd.automount",
            ]),
            &subs,
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            got,
            os(&[
                "heimdall",
                "--cache-dir",
                "/c",
                "mount",
                mnt,
                "--org",
                "acme",
                "--org",
                "beta",
                "--ref-ttl",
                "60s"
            ])
        );
        // Not that form: left to clap.
        assert!(rewrite(&os(&["heimdall", "mount", mnt, "-o", "x"]), &subs).is_none());
        assert!(rewrite(&os(&["heimdall", "repos", "acme"]), &subs).is_none());
        assert!(rewrite(&os(&["heimdall", "src", "/no/such/dir", "-o", "ro"]), &subs).is_none());
        // Refused with a reason.
        for bad in ["token=abc", "frobnicate", "org="] {
            let err = rewrite(&os(&["heimdall", "heimdall", mnt, "-o", bad]), &subs)
                .unwrap()
                .unwrap_err();
            assert!(!err.contains("abc"), "{err}");
        }
    }
}
