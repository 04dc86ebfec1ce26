"""``python -m heimdall._daemon``: the per-user daemon, started on demand by
:class:`heimdall.HeimdallResourceManager` (the same daemon ``heimdall daemon run`` is;
whichever starts first serves both). Its settings come from the environment."""

from . import _native

if __name__ == "__main__":
    _native.run_daemon()
