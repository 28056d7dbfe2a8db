"""Admission gate: a web process works on a few requests at once; the rest wait their turn.

Page and API handlers are plain functions that FastAPI runs in a thread pool
(anyio's, 40 threads). On SQLite their time is Python and SQLite on the same
CPUs, so 16 requests in flight in one process mostly take turns on Python's
GIL: each thread is switched out every few milliseconds, and every request
finishes late, the quick ones behind the slow ones. Letting two at a time in,
first come first served, finishes the same work sooner: on
``benchmarks/web.py`` (1M articles, 2 processes, 16 clients) phrase-search p95
fell from 133-176 ms to 87-90 ms and story p95 from 41-52 to 34-38 ms
(docs/CONFIG.md, "Serving", has the table). PostgreSQL handlers mostly wait on the
server's answer, so more of them may overlap there.

A slot is taken when a request arrives and given back when its response
starts (or the handler fails): the page is computed by then, and a slow
client reading it holds no slot. Paths that wait on the network or the disk
rather than the CPU skip the gate: publisher images fetched through the
proxy, static files, the admin pages (feed checks) and health checks.

Hand-written, 40 lines: uvicorn's ``limit_concurrency`` answers 503 instead of
queueing, and anyio's thread limiter is process-wide (``tidings run`` shares
its event loop with the poller) and would still let every request into the
async part of the stack.
"""

from __future__ import annotations

import asyncio

from starlette.types import ASGIApp, Message, Receive, Scope, Send

UNGATED = ("/static/", "/img/", "/admin", "/healthz", "/readyz", "/api/docs/")


def default_slots(dialect: str) -> int:
    """Slots when the setting is 0: two on SQLite (one in SQLite while one runs Python), eight else."""
    return 2 if dialect == "sqlite" else 8


class AdmissionGate:
    """Pure ASGI middleware: at most ``slots`` gated requests in a handler at once, FIFO."""

    def __init__(self, app: ASGIApp, slots: int) -> None:
        if slots < 1:
            raise ValueError("request slots must be at least 1")
        self.app = app
        self.slots = slots
        self._sem = asyncio.Semaphore(slots)
        self._loop: asyncio.AbstractEventLoop | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(UNGATED):
            await self.app(scope, receive, send)
            return
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # a semaphore serves one event loop (a test client may start another)
            self._sem, self._loop = asyncio.Semaphore(self.slots), loop
        sem = self._sem
        await sem.acquire()  # asyncio.Semaphore wakes waiters in arrival order
        held = True

        async def send_and_release(message: Message) -> None:
            nonlocal held
            if held and message["type"] == "http.response.start":
                held = False
                sem.release()
            await send(message)

        try:
            await self.app(scope, receive, send_and_release)
        finally:
            if held:
                sem.release()
