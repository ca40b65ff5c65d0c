"""Train the offline model, compare it with VADER and the majority class on a hold-out no training
step saw, log one MLflow run, and register the winner as ``sentiment@champion`` (runner-up
``challenger``) with a signature and an input example."""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from drydock.mlflow_store import experiment_id, mlflow_for
from drydock.settings import Settings, get_settings
from models.sentiment import datasets
from models.sentiment.offline import Majority, VaderBaseline, build_model

EXPERIMENT = "sentiment"
MODEL_NAME = "sentiment"
#: The project's own estimator classes inside the saved pipelines (skops loads only listed types).
TRUSTED = [
    f"models.sentiment.offline.{n}"
    for n in ("VaderFeatures", "VaderBaseline", "Majority", "as_texts")
]
EXAMPLE = ["Bitcoin ETF inflows hit a record as BTC rallies", "Exchange hacked, $40 million stolen"]
#: Model version tag holding :func:`fingerprint`: an equal one is reused, not registered again.
FINGERPRINT_TAG = "drydock.fingerprint"
#: The code a trained model depends on (its estimators, the split, this training procedure).
_CODE = [Path(__file__).with_name(n) for n in ("offline.py", "datasets.py", "train.py")]


@dataclass
class TrainReport:
    """Figures of one training: per model and per evaluation set, plus the registered versions."""

    run_id: str
    metrics: dict[str, float] = field(default_factory=dict)
    champion: str = ""
    versions: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    #: Aliases whose model was registered now (the others reuse an equal version).
    registered: tuple[str, ...] = ()


def evaluate(model: Any, data: datasets.Labelled) -> dict[str, float]:
    """macro-F1 and accuracy of ``model`` on ``data``."""
    from sklearn.metrics import accuracy_score, f1_score

    predicted = model.predict(data.texts)
    return {
        "macro_f1": float(
            f1_score(data.labels, predicted, average="macro", labels=list(datasets.LABELS))
        ),
        "accuracy": float(accuracy_score(data.labels, predicted)),
    }


def _stable(value: Any) -> Any:
    """``value`` as JSON-able data that is equal across processes (no object addresses)."""
    if hasattr(value, "get_params") and not isinstance(value, type):
        params = value.get_params(deep=False)
        return {"class": _stable(type(value)), **{k: _stable(v) for k, v in sorted(params.items())}}
    if isinstance(value, list | tuple):
        return [_stable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _stable(v) for k, v in sorted(value.items())}
    if callable(value) and hasattr(value, "__qualname__"):
        return f"{getattr(value, '__module__', '')}.{value.__qualname__}"
    return repr(value)


def fingerprint(name: str, model: Any, train: datasets.Labelled) -> str:
    """sha256 of what decides a trained model: its name and parameters, the training data, the
    code (the sentiment package's sources) and scikit-learn's version."""
    import sklearn

    digest = hashlib.sha256()
    head = {"name": name, "params": _stable(model), "sklearn": sklearn.__version__}
    digest.update(json.dumps(head, sort_keys=True).encode())
    digest.update(json.dumps([list(train.texts), [int(v) for v in train.labels]]).encode())
    for path in _CODE:
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _registered_versions(client: Any) -> dict[str, str]:
    """Fingerprint -> newest registered version of the model carrying it."""
    found: dict[str, str] = {}
    for version in client.search_model_versions(f"name='{MODEL_NAME}'"):
        fp = version.tags.get(FINGERPRINT_TAG)
        if fp and int(version.version) > int(found.get(fp, "0")):
            found[fp] = str(version.version)
    return found


def train_and_register(settings: Settings | None = None) -> TrainReport:
    """The whole training run (deterministic: fixed split and seeds)."""
    import mlflow.sklearn
    from mlflow.models import infer_signature

    started = time.perf_counter()
    settings = settings or get_settings()
    mlflow = mlflow_for(settings)
    train, holdout = datasets.split(datasets.cryptolin())
    outside = datasets.twitter_financial()
    candidates = {"tfidf_vader_lr": build_model(), "vader": VaderBaseline(), "majority": Majority()}
    metrics: dict[str, float] = {}
    for name, model in candidates.items():
        model.fit(train.texts, train.labels)
        for data in (holdout, outside):
            for metric, value in evaluate(model, data).items():
                metrics[f"{name}.{data.name}.{metric}"] = value
    ranked = sorted(candidates, key=lambda n: -metrics[f"{n}.cryptolin.macro_f1"])
    champion, challenger = ranked[0], ranked[1]
    headline = {"macro_f1": metrics[f"{champion}.cryptolin.macro_f1"],
                "accuracy": metrics[f"{champion}.cryptolin.accuracy"]}  # fmt: skip
    with mlflow.start_run(
        experiment_id=experiment_id(settings, EXPERIMENT), run_name="sentiment offline"
    ) as run:
        mlflow.log_params({"train_set": "cryptolin", "train_rows": len(train.texts),
                           "holdout_rows": len(holdout.texts), "split_seed": datasets.SEED,
                           "holdout_fraction": datasets.HOLDOUT, "champion": champion,
                           "challenger": challenger})  # fmt: skip
        mlflow.log_metrics(metrics | headline)
        mlflow.set_tags({"drydock.kind": "sentiment_training"})
        versions = {}
        registered: list[str] = []
        client = mlflow.MlflowClient()
        known = _registered_versions(client)
        for alias, name in (("champion", champion), ("challenger", challenger)):
            model = candidates[name]
            fp = fingerprint(name, model, train)
            version = known.get(fp, "")
            if not version:  # a model that differs from every registered one: a new version
                signature = infer_signature(EXAMPLE, model.predict(EXAMPLE))
                info = mlflow.sklearn.log_model(model, name=name, signature=signature, input_example=EXAMPLE,
                                                registered_model_name=MODEL_NAME,
                                                skops_trusted_types=TRUSTED,
                                                pip_requirements=["scikit-learn", "vaderSentiment"])  # fmt: skip
                version = str(info.registered_model_version)
                client.set_model_version_tag(MODEL_NAME, version, "scorer", name)
                client.set_model_version_tag(MODEL_NAME, version, FINGERPRINT_TAG, fp)
                registered.append(alias)
            client.set_registered_model_alias(MODEL_NAME, alias, version)
            versions[alias] = version
        mlflow.set_tags({f"drydock.{alias}_version": v for alias, v in versions.items()})
    return TrainReport(
        run.info.run_id,
        metrics | headline,
        champion,
        versions,
        time.perf_counter() - started,
        tuple(registered),
    )


def load_champion(settings: Settings | None = None) -> tuple[Any, str]:
    """The registered champion and its version (a clear error when none is trained yet)."""
    import mlflow.sklearn
    from mlflow.exceptions import MlflowException

    from drydock.errors import DrydockError

    settings = settings or get_settings()
    mlflow = mlflow_for(settings)
    try:
        version = mlflow.MlflowClient().get_model_version_by_alias(MODEL_NAME, "champion")
    except MlflowException:
        raise DrydockError(
            "No trained sentiment model (models:/sentiment@champion); run `drydock news train` "
            "(make demo does it)."
        ) from None
    return mlflow.sklearn.load_model(f"models:/{MODEL_NAME}@champion"), str(version.version)
