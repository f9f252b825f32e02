"""The live display in a real browser: Debian's Chromium driven by Playwright (no browser download).

Four beds are replayed over loopback LSL at 10x into the runtime, which writes the JSONL log and feeds the
display in its child process, as `edge run --serve` does: one in "seizure" with an active alarm, one with a
flat channel, one that stops, one normal.

About the seizure bed, honestly: the test bundle is a tiny random-weight model, not a seizure detector.
Its seizure output is highest for very low-amplitude input, so that bed replays synthetic EEG at 2 % of
the usual amplitude and the per-window alarm is set at 0.2 (off 0.15), between that bed's smoothed seizure
probability (>= 0.24 on these recordings) and the others' (<= 0.1). The flat threshold is lowered so the
low-amplitude bed is not itself flagged flat, and burden levels and the signal alarm are off so the only
alarm is that one. The browser checks what a nurse sees: each bed's state, probabilities that equal the
bed's newest JSONL record (or a newer one's), and the stopped bed turning stale. Every wait is on the event
itself, bounded by WAIT_MS: generous, because the suite runs on loaded 2-core machines (a 1 s bound on the
page showing the newest record failed a fresh-clone `make test` there).
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from edge.config import QualityConfig, RunConfig
from edge.contract import CHANNELS
from edge.display.launch import display_config
from edge.display.process import DisplayProcess
from edge.display.server import ServeConfig
from edge.display.state import PAIRS
from edge.inputs.input_files import read_recording
from edge.inputs.replay import Player, ReplayConfig
from edge.runtime import Runtime, StreamRequest
from edge.sinks.jsonl import JsonlSink, read_jsonl
from edge.testing import synthetic_eeg, write_parquet

pytestmark = [pytest.mark.lsl, pytest.mark.slow]

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]
SPEED = 10.0
WAIT_MS = 60_000  # the bound on every wait for the page: the test passes as soon as the page shows it
CONFIG = RunConfig().replace(
    watchdog={"check_rate": False, "silence_s": 1.0},
    # the tiny test model calls tiny amplitudes seizure: below the microvolt plausibility floor (min_scale_uv)
    chain={"quality": QualityConfig(flat_uv=0.05, min_scale_uv=0.01)},
    alarm={"on": 0.2, "off": 0.15, "levels": (), "signal_after_s": 3600.0},
)


@pytest.fixture(scope="module")
def chromium():
    executable = shutil.which("chromium")
    if executable is None:
        pytest.skip("browser tests need Chromium from the OS packages (apt-get install chromium; .ci/run does)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="browser tests need playwright (the dev extra)")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def bed_recordings(folder: Path) -> dict[str, tuple[Path, bool]]:
    """name suffix -> (parquet, loop)."""
    flat = 3 * synthetic_eeg(300.0, seed=3)
    flat[:, CHANNELS.index("C3")] = 0.0
    beds = {"normal": (3 * synthetic_eeg(300.0, seed=1), True), "seizure": (0.02 * synthetic_eeg(300.0, seed=2), True),
            "flat": (flat, True), "stopped": (3 * synthetic_eeg(70.0, seed=4), False)}
    return {name: (write_parquet(folder / f"{name}.parquet", data.astype(np.float32)), loop)
            for name, (data, loop) in beds.items()}


@pytest.fixture
def ward(tmp_path, stream_name, test_bundle):
    """The four beds streaming into a runtime with the JSONL and display sinks; yields (url, names, log)."""
    from edge.model.engine import Engine

    names = {bed: f"{stream_name}-{bed}" for bed in ("normal", "seizure", "flat", "stopped")}
    players = [Player(read_recording(path), ReplayConfig(name=names[bed], speed=SPEED, loop=loop, chunk=40))
               for bed, (path, loop) in bed_recordings(tmp_path).items()]
    log = tmp_path / "predictions.jsonl"
    serve = ServeConfig(port=0, display=display_config(CONFIG.alarm, stale_s=2.0))
    engine = Engine(test_bundle, "onnxruntime", threads=1)
    stop = threading.Event()
    threads = [threading.Thread(target=p.run, args=(stop,), daemon=True) for p in players]
    with DisplayProcess(serve) as display:  # as `edge run --serve`: the server in its child process
        runtime = Runtime(engine, [StreamRequest(n) for n in names.values()], [JsonlSink(log), display.sink], CONFIG)
        threads.append(threading.Thread(target=runtime.run, kwargs={"stop": stop}, daemon=True))
        for thread in threads:
            thread.start()
        try:
            yield display.url, names, log
        finally:
            stop.set()
            for thread in threads:
                thread.join(timeout=10)
            runtime.close()
            engine.close()


def newest_prediction(log: Path, stream: str) -> dict:
    records = [r for r in read_jsonl(log) if r["type"] == "prediction" and r["stream"] == stream]
    assert records, f"no prediction for {stream} yet"
    return records[-1]


def assert_shows_newest_record(page, log: Path, stream: str, selector: str) -> None:
    """After reading the bed's newest JSONL record, the page comes to show that record (or a newer one), and
    its probabilities are exactly those the JSONL holds for the window it shows."""
    record = newest_prediction(log, stream)
    page.wait_for_function("([sel, end]) => Number(document.querySelector(sel)?.dataset.windowEnd) >= end",
                           arg=[selector, record["window_end"]], timeout=WAIT_MS)
    # both attributes in one evaluation: the page may update between two reads
    shown_end, shown = page.eval_on_selector(selector, "n => [Number(n.dataset.windowEnd), "
                                                       "JSON.parse(n.dataset.smoothed)]")
    same_window = [r for r in read_jsonl(log) if r["type"] == "prediction" and r["stream"] == stream
                   and r["window_end"] == shown_end]
    assert len(same_window) == 1 and shown == same_window[0]["smoothed"]


def wait_for_state(page, name: str, state: str) -> None:
    # functions, not strings: the page's Content-Security-Policy forbids evaluating strings
    page.wait_for_function("([sel, state]) => document.querySelector(sel)?.dataset.state === state",
                           arg=[f'.tile[data-stream="{name}"]', state], timeout=WAIT_MS)


def test_ward_and_bed_pages_follow_the_runtime(chromium, ward) -> None:
    url, names, log = ward
    page = chromium.new_page(viewport={"width": 1400, "height": 900})
    page.goto(url)
    wait_for_state(page, names["seizure"], "alarm")
    wait_for_state(page, names["flat"], "quality")
    wait_for_state(page, names["normal"], "ok")
    assert "C3" in page.inner_text(f'.tile[data-stream="{names["flat"]}"]')
    assert "ALARM" in page.inner_text(f'.tile[data-stream="{names["seizure"]}"]')
    wait_for_state(page, names["stopped"], "stale")  # 70 s at 10x, then silence
    assert "STALE" in page.inner_text(f'.tile[data-stream="{names["stopped"]}"]')
    order = page.eval_on_selector_all(".tile", "tiles => tiles.map(t => t.dataset.stream)")
    assert order[:2] == [names["seizure"], names["stopped"]]  # alarm first, then stale
    for _ in range(3):  # while the beds stream: probabilities equal their newest JSONL record (or a newer one's)
        for bed in ("normal", "seizure"):
            assert_shows_newest_record(page, log, names[bed], f'.tile[data-stream="{names[bed]}"]')
        time.sleep(0.5)

    bed = chromium.new_page(viewport={"width": 1400, "height": 1600})
    errors: list[str] = []
    bed.on("pageerror", lambda error: errors.append(str(error)))
    bed.goto(f"{url}bed?stream={names['seizure']}")
    bed.wait_for_function("() => document.body.dataset.state === 'alarm'", timeout=WAIT_MS)
    for _ in range(3):
        assert_shows_newest_record(bed, log, names["seizure"], "#probs")
        time.sleep(0.5)
    assert bed.inner_text("#alarms tbody").count("on") >= 1
    assert bed.query_selector("#timeline .uplot") is not None
    # charts take new data in place (setData), not rebuilt per update: the same element across updates, still
    # on the page (the aEEG chart once lost its node when the CDSA panels were redrawn)
    bed.wait_for_selector("#aeeg .uplot", timeout=WAIT_MS)
    for chart in ("#timeline .uplot", "#aeeg .uplot"):
        bed.eval_on_selector(chart, "n => { n.dataset.mark = 'first'; }")
    shown = bed.eval_on_selector("#probs", "n => Number(n.dataset.windowEnd)")
    bed.wait_for_function("([end]) => Number(document.querySelector('#probs').dataset.windowEnd) > end",
                          arg=[shown], timeout=WAIT_MS)
    for chart in ("#timeline .uplot", "#aeeg .uplot"):
        assert bed.eval_on_selector(chart, "n => n.dataset.mark") == "first", chart
    assert len(bed.query_selector_all("#cdsa canvas.cdsa")) == 2  # left and right hemisphere
    # the EEG of the newest predicted window, via the runtime's window hook: one trace per double-banana pair
    bed.wait_for_selector("#eeg[data-t-end]", timeout=WAIT_MS)
    assert bed.get_attribute("#eeg", "data-pairs") == str(len(PAIRS))
    assert not errors, errors
    if figures := os.environ.get("EEG_EDGE_DISPLAY_FIGURES"):  # how docs/figures/display_*.png are made
        page.screenshot(path=str(Path(figures) / "display_ward.png"))
        bed.goto(f"{url}bed?stream={names['normal']}")  # EEG at a usual amplitude, smoothed timeline, burden
        bed.wait_for_selector("#eeg[data-t-end]", timeout=WAIT_MS)
        bed.screenshot(path=str(Path(figures) / "display_bed.png"), full_page=True)


def test_hostile_bed_names_and_bad_records_in_the_browser(chromium, make_prediction) -> None:
    """Bed names holding HTML and script are shown as text (nothing runs), bad records are counted on the ward
    and on their bed's tile, and a new bed written after them appears."""
    from edge.display.server import DisplayServer
    from edge.display.sink import DisplaySink

    hostile = ['<img src=x onerror="window.pwned=1">', "<script>window.pwned=2</script>", "O'Brien \"&\" \u00e9\u4e2d"]
    sink = DisplaySink()
    with DisplayServer(sink, ServeConfig(port=0)) as server:
        for name in hostile:
            sink.write(make_prediction(name, 60.0))
        sink.write({**make_prediction(hostile[0], 62.0), "window_end": "62"})
        sink.feed("not json")
        page = chromium.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(server.url)
        page.wait_for_function("() => document.querySelector('#rejected')?.dataset.count === '2'", timeout=WAIT_MS)
        sink.write(make_prediction("bed-after", 64.0))
        page.wait_for_function("() => document.querySelector('.tile[data-stream=\"bed-after\"]') !== null",
                               timeout=WAIT_MS)
        shown = page.eval_on_selector_all(".tile h2 span:first-child", "nodes => nodes.map(n => n.textContent)")
        assert sorted(shown) == sorted([*hostile, "bed-after"])
        assert page.evaluate("() => window.pwned") is None and page.query_selector(".tile img, .tile script") is None
        assert "1 bad record ignored" in page.inner_text("main")  # on the first bed's tile
        assert "2 bad records ignored" in page.inner_text("#rejected")
        assert not errors, errors
