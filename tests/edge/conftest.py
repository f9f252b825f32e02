"""Fixtures for the edge tests: a tiny ONNX bundle built without torch, and synthetic recordings."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge.testing import build_test_bundle, synthetic_eeg, write_parquet


@pytest.fixture(scope="session")
def test_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_test_bundle(tmp_path_factory.mktemp("bundle") / "test-onnx")


@pytest.fixture(scope="session")
def recording_70s(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_parquet(tmp_path_factory.mktemp("rec") / "synthetic_70s.parquet", synthetic_eeg(70.0))


class ListSink:
    def __init__(self) -> None:
        self.records: list[dict] = []

    def write(self, record: dict) -> None:
        self.records.append(record)

    def close(self) -> None:
        """Records stay readable after the run."""


@pytest.fixture
def live_session():
    """Run the live runtime in this thread while `script` drives outlets in another; returns the records.

    Outlets must exist before the call (the runtime resolves them at start). The run ends `grace`
    seconds after the script returns, or at `timeout`.
    """
    import threading
    import time

    from edge.config import RunConfig
    from edge.engine import Engine
    from edge.runtime import Runtime

    def session(bundle, requests, script, config: RunConfig | None = None, grace: float = 1.0,
                timeout: float = 60.0, wrap_engine=None, **runtime_kw) -> list[dict]:
        sink = ListSink()
        engine = Engine(bundle, "onnxruntime", threads=1)
        if wrap_engine is not None:
            wrap_engine(engine)
        runtime = Runtime(engine, requests, [sink], (config or RunConfig()).validate(), **runtime_kw)
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
