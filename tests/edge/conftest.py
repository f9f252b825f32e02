"""Fixtures for the edge tests: a tiny ONNX bundle built without torch, and synthetic recordings."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from edge.testing import build_test_bundle, synthetic_eeg, write_parquet


@pytest.fixture(scope="session")
def test_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_test_bundle(tmp_path_factory.mktemp("bundle") / "test-onnx")


@pytest.fixture(scope="session")
def recording_70s(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_parquet(tmp_path_factory.mktemp("rec") / "synthetic_70s.parquet", synthetic_eeg(70.0))


class SampleFlow:
    """Samples pushed to LSL outlets and pulled by the runtime's LslSource inlets, per stream name: a test
    waits for the event "the runtime has every sample sent on these streams" instead of sleeping."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from collections import Counter

        import pylsl

        from edge.inputs.lsl_source import LslSource

        self.pushed: Counter[str] = Counter()
        self.pulled: Counter[str] = Counter()
        self.changed = threading.Condition()
        push_chunk, pull = pylsl.StreamOutlet.push_chunk, LslSource.pull

        def counted_push(outlet, x, *args, **kwargs):
            push_chunk(outlet, x, *args, **kwargs)
            name = outlet.__dict__.get("_flow_name")
            if name is None:
                name = outlet.__dict__["_flow_name"] = outlet.get_info().name()
            self._add(self.pushed, name, len(x))

        def counted_pull(source):
            pulled = pull(source)
            if pulled is not None:
                self._add(self.pulled, source.name, len(pulled[1]))
            return pulled

        monkeypatch.setattr(pylsl.StreamOutlet, "push_chunk", counted_push)
        monkeypatch.setattr(LslSource, "pull", counted_pull)

    def _add(self, counter, name: str, n: int) -> None:
        with self.changed:
            counter[name] += n
            self.changed.notify_all()

    def replay(self, player, done, *, ready=None) -> threading.Thread:
        """Start `player` in a thread once the runtime (and `ready`, e.g. a listener) is subscribed; set `done`
        once the runtime pulled every sample it pushed."""

        def run() -> None:
            if ready is not None:
                ready.wait(30.0)
            player.outlet.wait_for_consumers(30.0)
            player.run()
            self.wait_consumed([player.config.name])
            done.set()

        thread = threading.Thread(target=run)
        thread.start()
        return thread

    def wait_consumed(self, names, timeout: float = 30.0) -> bool:
        """True once the inlets of ``names`` pulled every sample pushed on them (False after ``timeout``,
        a bound that matters only on failure, e.g. when a killed outlet took unsent samples with it)."""
        with self.changed:
            return self.changed.wait_for(lambda: all(self.pulled[n] >= self.pushed[n] for n in names), timeout)


@pytest.fixture
def sample_flow(monkeypatch) -> SampleFlow:
    return SampleFlow(monkeypatch)


class LiveSession:
    """Run the live runtime in this thread while `script` drives outlets in another; returns the records.

    Outlets must exist before the call (the runtime resolves them at start). The run ends once the runtime
    has pulled every sample the script pushed on the requested streams (`SampleFlow`): the step that pulled
    the last ones finishes before the loop sees `stop`. `timeout` bounds the whole run; it matters only on
    failure. Scripts wait for events with `wait_records` / `flow.wait_consumed`, never with sleeps.
    """

    def __init__(self, flow: SampleFlow) -> None:
        from edge.testing import ListSink

        self.flow = flow
        self.sink = ListSink()

    def wait_records(self, predicate, timeout: float = 30.0) -> bool:
        """True once some record of this session satisfies ``predicate`` (False after ``timeout``)."""
        import time

        deadline = time.monotonic() + timeout
        while not any(predicate(r) for r in list(self.sink.records)):
            if time.monotonic() > deadline:
                return False
            time.sleep(0.01)
        return True

    def __call__(self, bundle, requests, script, config=None, timeout: float = 60.0, wrap_engine=None,
                 **runtime_kw) -> list[dict]:
        import time

        from edge.config import RunConfig
        from edge.model.engine import Engine
        from edge.runtime import Runtime

        engine = Engine(bundle, "onnxruntime", threads=1)
        if wrap_engine is not None:
            wrap_engine(engine)
        # the tests replay at 20-25x real time, which the stream-rate check (rightly) refuses
        config = config or RunConfig().replace(watchdog={"check_rate": False})
        runtime = Runtime(engine, requests, [self.sink], config.validate(), **runtime_kw)
        stop = threading.Event()
        deadline = time.monotonic() + timeout

        def drive() -> None:
            try:
                script()
            finally:
                self.flow.wait_consumed([r.name for r in requests], max(0.0, deadline - time.monotonic()))
                stop.set()

        thread = threading.Thread(target=drive, daemon=True)
        thread.start()
        try:
            runtime.run(timeout, stop)
        finally:
            stop.set()
            thread.join()
            runtime.close()
            engine.close()
        return self.sink.records


@pytest.fixture
def live_session(sample_flow) -> LiveSession:
    return LiveSession(sample_flow)


@pytest.fixture
def edge_run_child(test_bundle, recording_70s, tmp_path):
    """`edge run` (the real CLI) in a child process for 6 s on a 25x looping replay of the 70 s recording;
    `after` is Python run in the child once run_app returned `code`. Returns the CompletedProcess."""
    import subprocess
    import sys

    config = tmp_path / "replay-25x.toml"
    config.write_text("[run.watchdog]\ncheck_rate = false\n")  # the replay runs at 25x

    def run(stream: str, args: list[str], after: str = "") -> subprocess.CompletedProcess:
        script = (
            "import sys, threading\n"
            "from edge.inputs.lsl_config import use_loopback_only\n"
            "use_loopback_only()\n"
            "from edge.cli import app\n"
            "from edge.cli_support import run_app\n"
            "from edge.inputs.input_files import read_recording\n"
            "from edge.inputs.replay import Player, ReplayConfig\n"
            f"p = Player(read_recording({str(recording_70s)!r}), ReplayConfig(name={stream!r}, speed=25, loop=True))\n"
            "threading.Thread(target=p.run, daemon=True).start()\n"
            f"code = run_app(app, ['run', '--stream', {stream!r}, '--bundle', {str(test_bundle)!r}, '--backend', "
            f"'onnxruntime', '--for', '6', '--config', {str(config)!r}, *{args!r}])\n"
            f"{after}"
            "raise SystemExit(code)\n"
        )
        return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)

    return run
