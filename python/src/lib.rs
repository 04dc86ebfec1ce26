//! `heimdall._native`: the Rust library bound for Python. The Python package (`heimdall`)
//! wraps these classes with coroutines, blocking `*_sync` forms, dataclasses and
//! exception classes; nothing here is meant to be called directly.
//!
//! Every call releases the GIL while it works (on one shared tokio runtime), checks for
//! Ctrl-C while it waits, and stops at once when its [`run::CancelToken`] is cancelled.
//! Results cross as JSON text (and `bytes` for file contents); errors as `NativeError(kind,
//! message, reset_at)`, where `kind` is [`heimdall::alloc::kind::ErrorKind`]'s name.

use pyo3::prelude::*;

mod manager;
mod run;
mod scanner;

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<run::CancelToken>()?;
    m.add_class::<scanner::Scanner>()?;
    m.add_class::<manager::Manager>()?;
    m.add("NativeError", m.py().get_type::<run::NativeError>())?;
    m.add_function(wrap_pyfunction!(manager::run_daemon, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
