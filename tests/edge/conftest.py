"""Fixtures for the edge tests: a tiny ONNX bundle built without torch, and synthetic recordings."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge.testing import ListSink, build_test_bundle, synthetic_eeg, write_parquet


@pytest.fixture(scope="session")
def test_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_test_bundle(tmp_path_factory.mktemp("bundle") / "test-onnx")


@pytest.fixture(scope="session")
def recording_70s(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_parquet(tmp_path_factory.mktemp("rec") / "synthetic_70s.parquet", synthetic_eeg(70.0))


@pytest.fixture
def live_session():
    """Run the live runtime in this thread while `script` drives outlets in another; returns the records.

    Outlets must exist before the call (the runtime resolves them at start). The run ends `grace`
    seconds after the script returns, or at `timeout`.
    """
    import threading
    import time

    from edge.config import RunConfig
    from edge.model.engine import Engine
    from edge.runtime import Runtime

    def session(bundle, requests, script, config: RunConfig | None = None, grace: float = 1.0,
                timeout: float = 60.0, wrap_engine=None, **runtime_kw) -> list[dict]:
        sink = ListSink()
        engine = Engine(bundle, "onnxruntime", threads=1)
        if wrap_engine is not None:
            wrap_engine(engine)
        # the tests replay at 20-25x real time, which the stream-rate check (rightly) refuses
        config = config or RunConfig().replace(watchdog={"check_rate": False})
        runtime = Runtime(engine, requests, [sink], config.validate(), **runtime_kw)
        stop = threading.Event()

        def drive() -> None:
            try:
                script()
            finally:
                time.sleep(grace)
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
        return sink.records

    return session


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
