"""`--backend triton` against a real Triton server: PyTriton's tritonserver in .venv-triton (make triton-venv),
serving a repository written by `calibrate triton-repo` on 127.0.0.1 (scripts/triton_serve.py)."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from calibrate.triton_repo import write_triton_repo
from edge.config import TritonConfig
from edge.model.engine import Engine
from edge.model.shipped import DEFAULT_BUNDLE
from scripts.triton_serve import TRITON_PYTHON, TritonServer

pytestmark = [pytest.mark.triton, pytest.mark.slow]
MODEL = "eeg_edge"
WAIT_S = 300.0  # generous: a busy 2-core machine starts PyTriton in seconds to a minute


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    if not TRITON_PYTHON.is_file():
        pytest.skip(f"{TRITON_PYTHON} is missing: run `make triton-venv` for the Triton tests")
    pytest.importorskip("tritonclient.grpc", reason="tritonclient is missing: pip install 'eeg-edge[triton]'")
    work = tmp_path_factory.mktemp("triton")
    write_triton_repo(DEFAULT_BUNDLE, work / "repo", name=MODEL, precision="fp32")
    with TritonServer(work / "repo", MODEL, workdir=work, threads=1) as running:
        yield running


def test_triton_predictions_equal_the_local_backend_on_real_segments(server, shared_data) -> None:
    from edge.offline.predict import predict_files

    files = sorted((shared_data / "sparcnet_iiic").glob("*.parquet"))
    assert len(files) == 12
    config = TritonConfig(url=server.url, model=MODEL)
    with Engine(DEFAULT_BUNDLE, "triton", triton=config) as remote, Engine(DEFAULT_BUNDLE, "onnxruntime") as local:
        by_triton = [r for r in predict_files(files, remote) if r["type"] == "prediction"]
        by_local = [r for r in predict_files(files, local) if r["type"] == "prediction"]
    assert len(by_triton) == len(by_local) >= 12
    triton_probs = np.array([list(r["probs"].values()) for r in by_triton])
    local_probs = np.array([list(r["probs"].values()) for r in by_local])
    assert np.abs(triton_probs - local_probs).max() <= 1e-5


def test_a_server_serving_another_bundle_is_refused(server, test_bundle) -> None:
    from edge.errors import BundleError

    with pytest.raises(BundleError, match="serves eeg_edge_bundle_id") as caught:
        Engine(test_bundle, "triton", triton=TritonConfig(url=server.url, model=MODEL))
    assert "\n" not in str(caught.value)


def _records(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.endswith("}")]


def _wait(path: Path, what: str, done, child: subprocess.Popen) -> list[dict]:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        records = _records(path)
        if done(records):
            return records
        assert child.poll() is None, f"edge run exited ({child.returncode}) while waiting for {what}"
        time.sleep(0.2)
    raise AssertionError(f"no {what} within {WAIT_S:.0f} s")


@pytest.mark.lsl
def test_a_killed_and_restarted_triton_server_costs_only_its_windows(server, shared_data, stream_name,
                                                                     tmp_path) -> None:
    """edge run --backend triton over a replayed real segment: the server is killed (SIGKILL) and restarted;
    its windows become backend_unavailable statuses, the signal alarm goes on, predictions come back, and every
    window of the run is either predicted or such a status (none shed, none lost)."""
    from edge.inputs.input_files import read_recording
    from edge.inputs.replay import Player, ReplayConfig

    config = tmp_path / "run.toml"  # 4x replay (no rate check), a signal alarm after 8 s, nothing shed
    config.write_text("[run]\nmax_lag_s = 1000.0\n[run.watchdog]\ncheck_rate = false\n"
                      "[run.alarm]\nsignal_after_s = 8.0\n")
    out = tmp_path / "run.jsonl"
    stop = threading.Event()
    player = Player(read_recording(shared_data / "sparcnet_iiic" / "LPD_sample1.parquet"),
                    ReplayConfig(name=stream_name, speed=4.0, loop=True, chunk=50))
    replay = threading.Thread(target=player.run, args=(stop,), daemon=True)
    replay.start()
    child = subprocess.Popen([sys.executable, "-c", "from edge.cli import main; main()", "run", "--stream",
                              stream_name, "--bundle", str(DEFAULT_BUNDLE), "--backend", "triton", "--triton-url",
                              server.url, "--triton-model", MODEL, "--out", str(out), "--config", str(config)],
                             stdout=subprocess.DEVNULL, stderr=(tmp_path / "run.err").open("w"))
    try:
        _wait(out, "3 predictions", lambda rs: sum(r["type"] == "prediction" for r in rs) >= 3, child)
        server.kill()
        down_at = lambda rs: [r["t"] for r in rs if r.get("kind") == "backend_unavailable"]  # noqa: E731
        records = _wait(out, "the signal alarm after backend_unavailable", lambda rs: down_at(rs) and any(
            r["type"] == "alarm" and r["level"] == "signal" and r["state"] == "on" and r["t"] > down_at(rs)[0]
            for r in rs), child)
        down = [r for r in records if r.get("kind") == "backend_unavailable"]
        assert all("Triton" in r["message"] and "not predicted" in r["message"] for r in down)
        server.start(WAIT_S)
        after = lambda rs: [r for r in rs if r["type"] == "prediction" and r["window_end"] > down[-1]["t"]]  # noqa: E731
        records = _wait(out, "predictions after the restart", lambda rs: len(after(rs)) >= 3, child)
    finally:
        child.terminate()
        child.wait(timeout=60)
        stop.set()
        replay.join()
    assert child.returncode == 0, (tmp_path / "run.err").read_text()[-2000:]
    records = _records(out)
    statuses = {r["kind"] for r in records if r["type"] == "status"}
    assert statuses <= {"warming", "backend_unavailable"}, statuses
    ends = sorted([r["window_end"] for r in records if r["type"] == "prediction"]
                  + [r["t"] for r in records if r.get("kind") == "backend_unavailable"])
    hops = np.diff(ends)
    assert hops[0] > 0.1 and np.allclose(hops, hops[0], atol=0.05), "a window was lost or repeated"  # one hop apart
    first_down = min(r["t"] for r in records if r.get("kind") == "backend_unavailable")
    assert any(r["type"] == "prediction" and r["window_end"] < first_down for r in records)
    signal = [r for r in records if r["type"] == "alarm" and r["level"] == "signal" and r["t"] > first_down]
    assert [r["state"] for r in signal] == ["on", "off"]  # on during the outage, off with the first prediction back
