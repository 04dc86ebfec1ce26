//! The shared runtime, blocking calls that release the GIL and can be interrupted, and
//! errors as `NativeError(kind, message, reset_at)`.

use std::future::Future;
use std::sync::OnceLock;
use std::sync::mpsc::RecvTimeoutError;
use std::time::Duration;

use heimdall::alloc::kind::ErrorKind;
use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use tokio_util::sync::CancellationToken;

create_exception!(_native, NativeError, PyException);

/// How often a waiting call looks for Ctrl-C.
const SIGNAL_POLL: Duration = Duration::from_millis(100);

/// One runtime for every object of the process.
pub fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .thread_name("heimdall")
            .build()
            .expect("the async runtime starts")
    })
}

/// Cancels the calls it was given to; a cancelled call raises `NativeError("cancelled")`.
#[pyclass(frozen)]
#[derive(Default)]
pub struct CancelToken(CancellationToken);

#[pymethods]
impl CancelToken {
    #[new]
    fn new() -> Self {
        CancelToken::default()
    }

    fn cancel(&self) {
        self.0.cancel();
    }

    #[getter]
    fn cancelled(&self) -> bool {
        self.0.is_cancelled()
    }
}

/// The Python exception for an error of the library.
pub fn to_py(error: &anyhow::Error) -> PyErr {
    let message = heimdall::logging::error_chain(error.as_ref());
    let (kind, reset_at) = match ErrorKind::of(error.as_ref()) {
        ErrorKind::NotFound => ("not_found", None),
        ErrorKind::RateLimited { reset_at } => ("rate_limited", Some(reset_at)),
        ErrorKind::Auth => ("auth", None),
        ErrorKind::Offline => ("offline", None),
        ErrorKind::InvalidPath => ("invalid_path", None),
        ErrorKind::Other => ("other", None),
    };
    NativeError::new_err((kind, message, reset_at))
}

fn cancelled() -> PyErr {
    NativeError::new_err(("cancelled", "cancelled".to_string(), None::<u64>))
}

/// Runs `work` on the runtime with the GIL released and waits for it. Cancelling `token`
/// (or Ctrl-C, when called on the main thread) drops the work where it stands: what it
/// finished is kept (a scan resumes from there), what it did not is not recorded as done.
pub fn block<T, F>(py: Python<'_>, token: Option<&CancelToken>, work: F) -> PyResult<T>
where
    T: Send + 'static,
    F: Future<Output = anyhow::Result<T>> + Send + 'static,
{
    let token = token.map(|t| t.0.clone()).unwrap_or_default();
    let (tx, rx) = std::sync::mpsc::channel();
    let stop = token.clone();
    runtime().spawn(async move {
        let result = tokio::select! {
            result = work => Some(result),
            _ = stop.cancelled() => None,
        };
        let _ = tx.send(result);
    });
    // Receivers are not Sync; the GIL-free closure borrows it through a lock.
    let rx = std::sync::Mutex::new(rx);
    let wait = |timeout: Option<Duration>| {
        let rx = rx.lock().expect("one waiter");
        match timeout {
            Some(t) => rx.recv_timeout(t),
            None => rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
        }
    };
    loop {
        match py.detach(|| wait(Some(SIGNAL_POLL))) {
            Ok(Some(result)) => return result.map_err(|e| to_py(&e)),
            Ok(None) => return Err(cancelled()),
            Err(RecvTimeoutError::Timeout) => {
                if let Err(interrupt) = py.check_signals() {
                    token.cancel();
                    let _ = py.detach(|| wait(None));
                    return Err(interrupt);
                }
            }
            Err(RecvTimeoutError::Disconnected) => {
                return Err(NativeError::new_err((
                    "other",
                    "the call failed inside heimdall (see the log)".to_string(),
                    None::<u64>,
                )));
            }
        }
    }
}

/// A blocking call that is not async inside (the daemon's socket, the index).
pub fn detach<T: Send>(
    py: Python<'_>,
    work: impl FnOnce() -> anyhow::Result<T> + Send,
) -> PyResult<T> {
    py.detach(work).map_err(|e| to_py(&e))
}

/// The CLI's settings chain (environment, then defaults), with what the caller gave first.
pub fn settings(
    api_url: Option<String>,
    cache_dir: Option<std::path::PathBuf>,
) -> PyResult<heimdall::config::Settings> {
    let input = heimdall::config::SettingsInput {
        api_url,
        cache_dir,
        ..Default::default()
    };
    heimdall::config::Settings::resolve(input, &heimdall::config::ProcessEnv)
        .map_err(|e| to_py(&e.into()))
}
