"""Models: an in-graph signal front end plus a 2D (Mel image) or 1D (grouped conv) classifier.

Every model maps eeg [B, 20, 10000] uV (edge.contract.CHANNELS order) to logits [B, 6];
``forward_frontend``/``forward_classifier`` split the front end from the classifier
(forward == forward_classifier(forward_frontend(x))) so training can augment between them.
``ProbabilityModel`` wraps a model for export.
"""

from train.models import ensemble, grouped1d, mel2d  # noqa: F401  (importing registers the models)
from train.models.probability import ProbabilityModel
from train.models.registry import create_model, list_models, model_options, register_model, without_init_options

# Small configurations of every registered model, for fast tests anywhere in the project.
TINY_KWARGS: dict[str, dict] = {
    "mel2d": {"backbone": "test_efficientnet", "drop_rate": 0.0},
    "grouped1d": {"width": 4, "stage_strides": [4, 4], "drop_rate": 0.0},
}
TINY_KWARGS["ensemble"] = {"members": [{"model": k, "model_kwargs": v} for k, v in TINY_KWARGS.items()]}

__all__ = ["TINY_KWARGS", "ProbabilityModel", "create_model", "list_models", "model_options", "register_model",
           "without_init_options"]
