"""Running native calls: in a thread (the GIL is released inside), from coroutines that
can be cancelled, with native errors turned into :mod:`heimdall` exceptions."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Optional, TypeVar

from . import _native
from ._errors import _Cancelled, from_native

T = TypeVar("T")

# Blocking native calls run here, not in the loop's default executor (sized for the CPU
# count): allocations and scans wait on the network, not the processor.
_EXECUTOR = ThreadPoolExecutor(max_workers=32, thread_name_prefix="heimdall")


def call(fn: Callable[[Optional[_native.CancelToken]], T], token: Optional[_native.CancelToken] = None) -> T:
    """Calls ``fn(token)``, raising :mod:`heimdall` exceptions (``KeyboardInterrupt``
    passes through: a blocking call on the main thread stops at Ctrl-C)."""
    try:
        return fn(token)
    except _native.NativeError as error:
        raise from_native(error) from None


async def run(
    fn: Callable[[Optional[_native.CancelToken]], T],
    on_cancel: Optional[Callable[[T], None]] = None,
) -> T:
    """Awaits ``fn(token)`` in a worker thread. Cancelling the awaiting task cancels the
    token and waits until the native work has stopped (a scan keeps what it finished);
    a result that arrives anyway is handed to ``on_cancel`` (to release an allocation)."""
    token = _native.CancelToken()
    loop = asyncio.get_running_loop()
    future = loop.run_in_executor(_EXECUTOR, call, fn, token)
    try:
        return await asyncio.shield(future)
    except asyncio.CancelledError:
        token.cancel()
        await asyncio.wait({future})
        if not future.cancelled() and future.exception() is None and on_cancel is not None:
            on_cancel(future.result())
        raise
    except _Cancelled:
        raise asyncio.CancelledError() from None
