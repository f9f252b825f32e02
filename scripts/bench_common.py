"""What the benchmark scripts share: the section writer of docs/benchmarks.md, the default model they
measure, `edge run` children fed by replayed LSL outlets (with their health figures), and the training-step rates.

Each benchmark script owns a section of docs/benchmarks.md delimited by `<!-- BEGIN name -->` /
`<!-- END name -->`. Importing this module sets the loopback-only LSL config (before pylsl loads), so no
benchmark traffic leaves the machine. No benchmark script imports another one; they import this.
"""

from __future__ import annotations

import itertools
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from edge.inputs.lsl_config import use_loopback_only

use_loopback_only()  # before pylsl loads anywhere in this process

from edge.inputs.replay import COUNTER_LABEL, Player, ReplayConfig  # noqa: E402
from edge.model.bundle import atomic_write  # noqa: E402
from edge.model.model_spec import ModelSpec  # noqa: E402
from edge.sinks.jsonl import read_jsonl  # noqa: E402
from edge.testing import synthetic_eeg, write_parquet  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
HEADER = "# Benchmarks\n\nEvery figure here is written by a command the project ships, named in its section.\n"
MODEL = "mel2d"  # the default model every edge benchmark measures
HOP = 400  # samples between windows (2 s at 200 Hz), as `edge run` defaults


def provenance(*, outputs: tuple[Path, ...] = ()) -> str:
    """When and from which tree a section was written: UTC time, commit, and whether code (not docs, nor the
    ``outputs`` the writing script itself just wrote into the tree) had edits."""
    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, check=False)
        return done.stdout.strip() if done.returncode == 0 else ""

    commit = git("rev-parse", "--short=12", "HEAD") or "unknown (not a git checkout)"
    resolved = (Path(p).resolve() for p in outputs)
    own = tuple(f":(exclude){p.relative_to(REPO)}" for p in resolved if p.is_relative_to(REPO))
    code = git("status", "--porcelain", "--untracked-files=no", "--", ".", ":(exclude)docs", ":(exclude)README.md",
               *own)
    edited = " with uncommitted code edits" if code else ""
    return f"_Written {time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC at commit {commit}{edited}._"


def replace_section(path: str | Path, name: str, body: str, *, outputs: tuple[Path, ...] = ()) -> Path:
    """Write ``body`` as section ``name`` of ``path`` with its provenance line; ``outputs``: files or folders in the
    tree that the calling script wrote (a rebuilt model), not edits to the code that measured."""
    path = Path(path)
    text = path.read_text() if path.is_file() else HEADER
    block = f"<!-- BEGIN {name} -->\n{body.rstrip()}\n\n{provenance(outputs=outputs)}\n<!-- END {name} -->"
    pattern = re.compile(rf"<!-- BEGIN {re.escape(name)} -->.*?<!-- END {re.escape(name)} -->", re.DOTALL)
    text = pattern.sub(lambda _: block, text) if pattern.search(text) else text.rstrip() + "\n\n" + block + "\n"
    return atomic_write(path, text)


def percentiles(values: list[float]) -> tuple[float, float]:
    return float(np.percentile(values, 50)), float(np.percentile(values, 99))


def build_bundle(directory: Path):
    """Default mel2d, untrained (latency does not depend on the weights), exported with the calibrate API."""
    import torch

    from calibrate.export import export_onnx
    from edge.model.bundle import ONNX_FILE, save_spec, write_checksums
    from train.models import ProbabilityModel, create_model

    torch.manual_seed(0)
    spec = ModelSpec(model=MODEL)
    model = ProbabilityModel(create_model(MODEL, spec.frontend)).eval()
    directory.mkdir(parents=True, exist_ok=True)
    export_onnx(model, spec, directory / ONNX_FILE)
    save_spec(directory, spec)
    write_checksums(directory)
    return model


def live_run(bundle: Path, recording: Path, streams: int, *, speed: float, seconds: float, workdir: Path,
             extra_args: tuple[str, ...] = ()) -> dict:
    """`edge run` in a child process on `streams` replays at `speed`x; its records, peak RSS and samples sent.
    `extra_args` go to `edge run` too (scripts/bench_display.py: `--serve PORT`)."""
    names = [f"bench-{os.getpid()}-{i}-{time.monotonic_ns() % 10**8}" for i in range(streams)]
    out = workdir / f"live-{streams}-{speed:g}.jsonl"
    out.unlink(missing_ok=True)
    players = [Player(read(recording), ReplayConfig(name=n, speed=speed, loop=True, counter=True)) for n in names]
    config = workdir / "faster-than-real-time.toml"  # N streams emulated by fewer outlets at N/outlets x
    config.write_text("[run.watchdog]\ncheck_rate = false\n")
    command = [sys.executable, "-c", "from edge.cli import main; main()", "run", "--bundle", str(bundle),
               "--backend", "onnxruntime", "--for", str(seconds), "--out", str(out), "--counter", COUNTER_LABEL,
               "--config", str(config)]
    for name in names:
        command += ["--stream", name]
    command += extra_args
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                             env={**os.environ, "LSLAPICFG": os.environ["LSLAPICFG"]})
    stop = threading.Event()
    time.sleep(3.0)  # the child resolves and subscribes before the replays start
    threads = [threading.Thread(target=p.run, args=(stop,), daemon=True) for p in players]
    for thread in threads:
        thread.start()
    peak_rss = 0
    while child.poll() is None:
        peak_rss = max(peak_rss, rss_bytes(child.pid))
        time.sleep(0.25)
    stop.set()
    for thread in threads:
        thread.join()
    if child.returncode != 0:
        raise RuntimeError(f"edge run failed: {child.stderr.read()[-2000:]}")
    from edge.sinks.jsonl import read_jsonl

    return {"records": read_jsonl(out), "peak_rss": peak_rss, "names": names}


def rss_bytes(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return 0
    return 0


_RECORDINGS: dict[Path, object] = {}


def read(path: Path):
    from edge.inputs.input_files import read_recording

    if path not in _RECORDINGS:
        _RECORDINGS[path] = read_recording(path)
    return _RECORDINGS[path]


def stream_health(run: dict) -> dict:
    """Dropped samples (gaps in the counter) and lag (emission minus the window's last sample, LSL clock)."""
    preds = [r for r in run["records"] if r["type"] == "prediction"]
    dropped = 0
    per_stream = 0
    for name in run["names"]:
        mine = [r for r in preds if r["stream"] == name]
        per_stream = min(per_stream or len(mine), len(mine))
        dropped += sum(not r["counter_contiguous"] for r in mine)
        dropped += sum(b["counter"][0] - a["counter"][0] != HOP for a, b in itertools.pairwise(mine))
    lag = [1e3 * (r["emitted_at"] - r["window_end"]) for r in preds]
    return {"predictions": len(preds), "min_per_stream": per_stream, "dropped": dropped,
            "lag_p50": percentiles(lag)[0] if lag else float("nan"),
            "lag_p99": percentiles(lag)[1] if lag else float("nan")}



def prepare(bundle: str | None, name: str) -> tuple[Path, Path, Path]:
    """A scratch folder, the bundle (`bundle`, or the default mel2d built there) and a 300 s recording to replay."""
    work = Path(tempfile.mkdtemp(prefix=f"eeg-edge-{name}-"))
    if bundle is None:
        print(f"bench_{name}: building and exporting the default mel2d model", flush=True)
        build_bundle(work / "bundle")
    recording = write_parquet(work / "load.parquet", synthetic_eeg(300.0))
    return work, Path(bundle) if bundle else work / "bundle", recording


class Fleet:
    """Real-time outlets, each in its own thread, that can be stopped one by one."""

    def __init__(self, recording: Path, count: int, tag: str) -> None:
        self.names = [f"load-{tag}-{os.getpid()}-{i}" for i in range(count)]
        self.players = [Player(read(recording), ReplayConfig(name=n, loop=True, counter=True)) for n in self.names]
        self.stops = [threading.Event() for _ in self.players]
        self.threads = [threading.Thread(target=p.run, args=(s,), daemon=True)
                        for p, s in zip(self.players, self.stops, strict=True)]
        for thread in self.threads:
            thread.start()

    def stop(self, keep: int = 0) -> None:
        """Stop all outlets but the first `keep` (they vanish from the network)."""
        for event in self.stops[keep:]:
            event.set()
        for thread, player in zip(self.threads[keep:], self.players[keep:], strict=True):
            thread.join()
            player.close()


def run_child(bundle: Path, names: list[str], seconds: float, *, out: Path, script=None,
              config: Path | None = None) -> dict:
    """`edge run` on `names` for `seconds`; `script(child, t0)` runs alongside. RSS trace and records."""
    out.unlink(missing_ok=True)
    command = [sys.executable, "-c", "from edge.cli import main; main()", "run", "--bundle", str(bundle),
               "--backend", "onnxruntime", "--for", str(seconds), "--out", str(out), "--counter", COUNTER_LABEL]
    if config is not None:
        command += ["--config", str(config)]
    for name in names:
        command += ["--stream", name]
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    t0 = time.monotonic()
    trace: list[tuple[float, int]] = []
    events: dict[str, float] = {}
    if script is not None:
        threading.Thread(target=script, args=(child, t0, events), daemon=True).start()
    while child.poll() is None:
        trace.append((time.monotonic() - t0, rss_bytes(child.pid)))
        time.sleep(1.0)
    if child.returncode != 0:
        raise RuntimeError(f"edge run failed: {child.stderr.read()[-2000:]}")
    return {"records": read_jsonl(out), "trace": trace, "events": events, "names": names}


def health(records: list[dict], names: list[str]) -> dict:
    preds = [r for r in records if r["type"] == "prediction"]
    broken = sum(not r["counter_contiguous"] for r in preds)
    lag = [r["emitted_at"] - r["window_end"] for r in preds]
    per_stream = [sum(r["stream"] == n for r in preds) for n in names]
    p50, p99 = percentiles(lag) if lag else (float("nan"), float("nan"))
    return {"predictions": len(preds), "min_per_stream": min(per_stream), "broken": broken, "lag_p50": p50,
            "lag_p99": p99, "shed": sum(r.get("kind") == "shed" for r in records),
            "rate": sum(r.get("kind") == "rate" for r in records)}



def loader_rate(windows, batch_size: int, batches: int) -> tuple[float, float]:
    """Windows/s of the training loader over the same batches twice: the first pass reads the memory-mapped
    window cache from disk (a run's first epoch), the second from the page cache (every later epoch)."""
    from train.fit.loop import epoch_order, make_loader

    keys = epoch_order(np.arange(len(windows)), 0, 0, epoch=0, max_shift=windows.margin)[: batch_size * batches]
    rates = []
    for _ in range(2):
        started = time.perf_counter()
        count = sum(len(eeg) for eeg, *_ in make_loader(windows, keys, batch_size, num_workers=0))
        rates.append(count / (time.perf_counter() - started))
    return rates[0], rates[1]


def step_rate(model: str, windows, batch_size: int, *, steps: int, device: str = "cpu") -> float:
    """Windows/s of Trainer.step (the whole optimizer step of `train fit`) on pre-loaded batches.

    On CUDA the step runs under bf16 autocast (FitConfig's run.amp), and the clock is read only once the
    GPU has finished the queued work.
    """
    import torch

    from train.fit.augment import step_rng
    from train.fit.config import FitConfig, ModelConfig
    from train.fit.distributed import DistContext, resolve_device
    from train.fit.loop import build_trainer, epoch_order, make_loader
    from train.metric import class_prior

    config = FitConfig(model=ModelConfig(name=model))
    torch.manual_seed(0)
    prior = torch.as_tensor(class_prior(windows.targets), dtype=torch.float32)
    trainer = build_trainer(config, DistContext(0, 1, resolve_device(device)), prior)
    sync = torch.cuda.synchronize if trainer.device.type == "cuda" else (lambda: None)
    keys = epoch_order(np.arange(len(windows)), 0, 0, epoch=0, max_shift=windows.margin)
    keys = [keys[i % len(keys)] for i in range(batch_size * (steps + 1))]  # repeats windows if there are too few
    batches = list(make_loader(windows, keys, batch_size, num_workers=0))
    trainer.model.train()
    eeg, targets, votes, _ = batches[0]
    trainer.step(eeg, targets, votes, rng=step_rng(0, 0, 0), lr=1e-4, step=0)  # warm-up: allocator, first calls
    sync()
    started = time.perf_counter()
    for step, (eeg, targets, votes, _) in enumerate(batches[1:], 1):
        trainer.step(eeg, targets, votes, rng=step_rng(0, 0, step), lr=1e-4, step=step)
    sync()
    return sum(len(eeg) for eeg, *_ in batches[1:]) / (time.perf_counter() - started)

