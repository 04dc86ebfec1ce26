//! The daemon's client side: connect to the daemon serving a cache (starting it when none
//! runs), send requests, and turn its errors into [`DaemonError`]s that keep their kind.
//! The CLI and the Python SDK share it; they differ only in how the daemon is started
//! ([`Launcher`]).

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};

use super::kind::DaemonError;
use super::protocol::{self, Request, Response};
use crate::config::Settings;

/// Longest a request may take: an allocation with `--hydrate` downloads a repository.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// How to start the daemon: a program and its arguments, run in a session of its own
/// with [`Settings::daemon_env`] and its output going to `<cache>/daemon.log`.
#[derive(Debug, Clone)]
pub struct Launcher {
    pub program: PathBuf,
    pub args: Vec<OsString>,
}

impl Launcher {
    /// This binary as `heimdall -v daemon run` (the CLI).
    pub fn this_binary() -> std::io::Result<Launcher> {
        Ok(Launcher {
            program: std::env::current_exe()?,
            // Info level: the log records every allocation and release.
            args: ["-v", "daemon", "run"].map(OsString::from).to_vec(),
        })
    }
}

/// The daemon for one cache, started on demand (its log: `<cache>/daemon.log`).
pub struct Client {
    settings: Settings,
    socket: PathBuf,
    launcher: Launcher,
}

impl Client {
    /// With `start`, starts the daemon if none runs; a running daemon that talks to
    /// another API is refused.
    pub fn connect(settings: &Settings, launcher: Launcher, start: bool) -> Result<Client> {
        let cache_dir = &settings.cache_dir;
        let runtime = protocol::prepare_runtime_dir(&settings.runtime_dir)
            .context("cannot prepare the runtime directory")?;
        std::fs::create_dir_all(cache_dir)
            .with_context(|| format!("cannot create `{}`", cache_dir.display()))?;
        let client = Client {
            settings: settings.clone(),
            socket: protocol::socket_path(&runtime, cache_dir),
            launcher,
        };
        if start {
            client.start()?;
            if let Response::Status(status) = client.call(&Request::Status)?
                && status.api_url != settings.api_url.as_str()
            {
                bail!(
                    "the daemon for this cache serves {}, not {}: run `heimdall daemon stop` first",
                    status.api_url,
                    settings.api_url
                );
            }
        }
        Ok(client)
    }

    /// The daemon's socket.
    pub fn socket(&self) -> &std::path::Path {
        &self.socket
    }

    fn start(&self) -> Result<()> {
        let env = self.settings.daemon_env();
        ensure_running(
            &self.socket,
            &self.settings.cache_dir.join("daemon.log"),
            &self.launcher,
            &env,
        )
        .context("cannot start the daemon")
    }

    /// Sends a request to the daemon if one runs (never starting one).
    pub fn call_running(&self, request: &Request) -> std::io::Result<Response> {
        protocol::call(&self.socket, request, CALL_TIMEOUT)
    }

    /// Sends a request; a daemon that went away in between (it exits when it has had
    /// nothing mounted for a few seconds) is started again and asked once more. The
    /// daemon's own errors come back as [`DaemonError`].
    pub fn call(&self, request: &Request) -> Result<Response> {
        let gone = |e: &std::io::Error| {
            matches!(
                e.kind(),
                std::io::ErrorKind::NotFound
                    | std::io::ErrorKind::ConnectionRefused
                    | std::io::ErrorKind::UnexpectedEof
                    | std::io::ErrorKind::ConnectionReset
            )
        };
        let answer = match protocol::call(&self.socket, request, CALL_TIMEOUT) {
            Err(e) if gone(&e) => {
                self.start()?;
                protocol::call(&self.socket, request, CALL_TIMEOUT)
            }
            other => other,
        };
        match answer.context("cannot talk to the daemon")? {
            Response::Error { message, kind } => Err(DaemonError { message, kind }.into()),
            response => Ok(response),
        }
    }
}

/// How long the CLI waits for a daemon it started to listen.
pub const START_TIMEOUT: Duration = Duration::from_secs(15);

/// Starts the daemon unless one answers on `socket`: runs `launcher` (this binary as
/// `heimdall daemon run`, or the Python SDK's `python -m heimdall._daemon`) in its own
/// session, logging to `log`, and waits until it listens. `env` is what the daemon must
/// serve ([`Settings::daemon_env`]), whatever the environment of this command was.
pub fn ensure_running(
    socket: &Path,
    log: &Path,
    launcher: &Launcher,
    env: &[(&str, String)],
) -> std::io::Result<()> {
    use std::os::unix::process::CommandExt;
    if std::os::unix::net::UnixStream::connect(socket).is_ok() {
        return Ok(());
    }
    let log_file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)?;
    let mut command = std::process::Command::new(&launcher.program);
    command
        .args(&launcher.args)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(std::process::Stdio::null())
        .stdout(log_file.try_clone()?)
        .stderr(log_file);
    // SAFETY: between fork and exec only setsid runs (async-signal-safe).
    unsafe {
        command.pre_exec(|| {
            libc::setsid();
            Ok(())
        });
    }
    let mut child = command.spawn()?;
    let started = std::time::Instant::now();
    while started.elapsed() < START_TIMEOUT {
        if std::os::unix::net::UnixStream::connect(socket).is_ok() {
            // Reaped when it exits, so a long-lived starter (a Python program) leaves no
            // zombie behind (one that `daemon stop` would wait for in vain).
            std::thread::spawn(move || child.wait());
            return Ok(());
        }
        // A second starter lost the race for the socket and exited: the winner answers.
        if let Ok(Some(status)) = child.try_wait()
            && !protocol::wait_for(socket, Duration::from_secs(2))
        {
            return Err(std::io::Error::other(format!(
                "the daemon exited ({status}) before listening; see {}",
                log.display()
            )));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Err(std::io::Error::other(format!(
        "the daemon did not start listening within {}s; see {}",
        START_TIMEOUT.as_secs(),
        log.display()
    )))
}
