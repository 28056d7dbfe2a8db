"""The admission gate (web/gate.py) on a real uvicorn server over a 127.0.0.1 socket."""

from __future__ import annotations

import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from tidings.config import load_settings
from tidings.store import Store
from tidings.web import create_app
from tidings.web.gate import AdmissionGate, default_slots


class Probe:
    """Counts handlers running at once; ``/hold`` handlers wait for ``release``."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.running = 0
        self.most = 0
        self.order: list[int] = []
        self.release = threading.Event()

    def enter(self) -> None:
        with self.lock:
            self.running += 1
            self.most = max(self.most, self.running)

    def leave(self) -> None:
        with self.lock:
            self.running -= 1


def make_app(probe: Probe) -> Starlette:
    def work(request: Request) -> PlainTextResponse:
        probe.enter()
        try:
            time.sleep(0.03)
            probe.order.append(int(request.query_params.get("n", "0")))
            return PlainTextResponse("done")
        finally:
            probe.leave()

    def hold(request: Request) -> PlainTextResponse:
        probe.enter()
        try:
            probe.release.wait(10)
            return PlainTextResponse("held")
        finally:
            probe.leave()

    def boom(request: Request) -> PlainTextResponse:
        raise RuntimeError("handler failed")

    def health(request: Request) -> PlainTextResponse:
        return PlainTextResponse("ok")

    return Starlette(
        routes=[
            Route("/work", work),
            Route("/hold", hold),
            Route("/boom", boom),
            Route("/healthz", health),
        ]
    )


class Server:
    def __init__(self, app: object) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = int(s.getsockname()[1])
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="critical")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> Server:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)

    def get(self, path: str) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=15) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()


@pytest.fixture
def probe() -> Probe:
    return Probe()


@pytest.fixture
def gated(probe: Probe) -> Iterator[Server]:
    with Server(AdmissionGate(make_app(probe), slots=2)) as server:
        yield server


def test_at_most_slots_handlers_run_at_once(gated: Server, probe: Probe) -> None:
    with ThreadPoolExecutor(12) as pool:
        results = list(pool.map(gated.get, [f"/work?n={i}" for i in range(24)]))
    assert results == [(200, "done")] * 24  # every request answered, none refused
    assert probe.most == 2
    assert sorted(probe.order) == list(range(24))


def test_ungated_paths_pass_while_slots_are_full(gated: Server, probe: Probe) -> None:
    with ThreadPoolExecutor(4) as pool:
        held = [pool.submit(gated.get, "/hold") for _ in range(2)]
        while probe.running < 2:
            time.sleep(0.01)
        waiting = pool.submit(gated.get, "/work?n=1")
        assert gated.get("/healthz") == (200, "ok")  # not behind the two held requests
        time.sleep(0.2)
        assert not waiting.done() and probe.running == 2  # the gated one waits its turn
        probe.release.set()
        assert [f.result() for f in held] == [(200, "held")] * 2
        assert waiting.result() == (200, "done")
    assert probe.most == 2


def test_a_failing_handler_gives_its_slot_back(probe: Probe) -> None:
    with Server(AdmissionGate(make_app(probe), slots=1)) as server:
        for _ in range(3):
            assert server.get("/boom")[0] == 500
        assert server.get("/work?n=7") == (200, "done")


def test_gate_refuses_zero_slots(probe: Probe) -> None:
    with pytest.raises(ValueError):
        AdmissionGate(make_app(probe), slots=0)


def test_reader_app_is_gated_by_the_setting(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'gate.db'}"
    store = Store(url)
    try:
        for configured, expected in ((0, default_slots("sqlite")), (3, 3)):
            settings = load_settings(environ={}, config_file=None, database_url=url, request_slots=configured)
            app = create_app(settings, store)
            gates = [m for m in app.user_middleware if m.cls is AdmissionGate]
            assert len(gates) == 1 and gates[0].kwargs == {"slots": expected}
    finally:
        store.close()
