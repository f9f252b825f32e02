"""`train ensemble`: average trained bundles in one graph, without retraining.

Models of one recipe trained with different seeds disagree most where the data differ from their training
data, and averaging their probabilities cancels much of that disagreement: on the 12 real sparcnet_iiic
segments each of the 35 two- and three-model averages of six seeds of the shipped recipe scored a lower KL
than its members' mean (docs/experiments/2026-12-seed-spread.md). The cost is size and compute times the
member count: the shipped default averages three small members (tinynet_e mel2d, 10.8 MB together;
docs/experiments/2026-12-small-members.md), and a site with the budget can combine larger ones.

The members keep their weights and their own fitted temperatures. Without ``temperature_data`` the ensemble's
temperature is 1, so its output is exactly the mean of the members' shipped probabilities. That mean is less
confident than it should be where calibrated members disagree (the shipped three: a temperature of 0.818 fits new
synthetic patients best; docs/benchmarks.md "default-model"), so ``temperature_data``, a labelled layout no
member trained on, fits the ensemble's own temperature on top of the average (spec.json: training.calibration).
Members must answer the same question: the same signal contract, front end and lookahead. The bundle has no
held-out figures of its own (seeds split the patients differently); spec.json lists the members and theirs.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from edge.errors import DataError
from edge.model.model_spec import ModelSpec
from train.fit.reports import METRICS_FILE

MIN_MEMBERS = 2


def _member_record(bundle: Path, spec: ModelSpec) -> dict:
    metrics = json.loads((bundle / METRICS_FILE).read_text()) if (bundle / METRICS_FILE).is_file() else {}
    config = spec.training.get("config", {})
    return {"bundle": str(bundle), "model": spec.model, "seed": config.get("run", {}).get("seed"),
            "held_out_kl": metrics.get("oof_kl"), "held_out_prior_kl": metrics.get("oof_prior_kl")}


def _fit_ensemble_temperature(ensemble, data_dir: Path, specs: list[ModelSpec], *, lookahead_s: float) -> dict:
    """Set the ensemble's temperature to the one that fits ``data_dir``'s votes best; returns its record."""
    from train.data import build_window_set
    from train.fit.distributed import resolve_device
    from train.fit.evaluate import fit_temperature, predict_probs, scale_probs
    from train.fit.run import set_temperature
    from train.metric import score
    from train.synth.evaluation_set import refuse_training_on

    refuse_training_on(data_dir, option="--temperature-data")
    for spec in specs:
        if spec.training.get("data", {}).get("source") == data_dir.name:
            raise DataError(f"--temperature-data {data_dir}: a member trained on a layout of this name; fit the "
                            "temperature on patients no member saw (e.g. `train synth` with another seed)")
    windows = build_window_set(data_dir, split="train", margin=0, lookahead_s=lookahead_s)
    if windows.targets is None:
        raise DataError(f"--temperature-data {data_dir} has no vote columns; it needs the labelled train layout")
    targets = np.asarray(windows.targets, dtype=np.float64)
    probs = predict_probs(ensemble, windows, np.arange(len(windows)), batch_size=32, device=resolve_device("cpu"))
    temperature = fit_temperature(targets, probs)
    set_temperature(ensemble, temperature)
    return {"temperature": round(temperature, 4), "data": data_dir.name, "rows": len(windows),
            "kl_mean_of_members": round(score(targets, probs), 4),
            "kl_after": round(score(targets, scale_probs(probs, temperature)), 4)}


def combine_bundles(bundles: list[str | Path], out: str | Path, *, temperature_data: str | Path | None = None) -> Path:
    """Write ``out``: one `ensemble` bundle whose output is the mean of ``bundles``' probabilities, sharpened or
    softened by a temperature fitted on ``temperature_data`` when given."""
    from train.checkpoint import load_bundle_model, require_new_bundle_dir, runtime_versions, save_bundle
    from train.models import create_model, without_init_options

    bundles, out = [Path(b) for b in bundles], Path(out)
    if len(bundles) < MIN_MEMBERS:
        raise DataError(f"an ensemble needs at least {MIN_MEMBERS} --bundle, got {len(bundles)}")
    require_new_bundle_dir(out)
    loaded = [load_bundle_model(b) for b in bundles]  # one-line errors for a missing bundle or weights
    first = loaded[0][1]
    for bundle, (_, spec) in zip(bundles, loaded, strict=True):
        if spec.model == "ensemble":
            raise DataError(f"--bundle {bundle} is itself an ensemble; list its members instead")
        for what in ("contract", "frontend", "lookahead_s", "input_name", "output_name"):
            if getattr(spec, what) != getattr(first, what):
                raise DataError(f"--bundle {bundle}: its {what} differs from {bundles[0]}'s; members must answer "
                                "the same question (same contract, front end and lookahead)")
    members = [{"model": spec.model, "model_kwargs": without_init_options(spec.model, spec.model_kwargs)}
               for _, spec in loaded]
    ensemble = create_model("ensemble", frontend=first.frontend, members=members)
    for target, (model, _) in zip(ensemble.members, loaded, strict=True):
        target.load_state_dict(model.state_dict())
    calibration = {} if temperature_data is None else {"calibration": _fit_ensemble_temperature(
        ensemble.eval(), Path(temperature_data), [s for _, s in loaded], lookahead_s=first.lookahead_s)}
    priors = [s.training.get("data", {}).get("class_prior") for _, s in loaded]
    data = {"class_prior": np.mean(priors, axis=0).tolist()} if all(p is not None for p in priors) else {}
    spec = ModelSpec(model="ensemble", model_kwargs={"members": members}, frontend=first.frontend,
                     contract=first.contract, lookahead_s=first.lookahead_s, input_name=first.input_name,
                     output_name=first.output_name, versions=runtime_versions(),
                     training={"ensemble_of": [_member_record(b, s) for b, (_, s) in zip(bundles, loaded, strict=True)],
                               "data": data, **calibration})
    return save_bundle(out, ensemble.eval(), spec.validate())
