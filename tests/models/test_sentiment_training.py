"""Training and registration on MLflow (sqlite): one run compares the model with VADER and the
majority class on a hold-out per source, the champion and challenger aliases point at registered
versions with a signature, and the champion scores headlines after loading."""

from __future__ import annotations

import pytest
from mlflow.tracking import MlflowClient

from drydock.settings import Settings
from models.sentiment.scorer import active_scorer
from models.sentiment.train import MODEL_NAME, train_and_register

pytestmark = pytest.mark.integration  # MLflow registry and sklearn training


def test_training_logs_every_figure_and_registers_the_champion(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-must-not-leak-0123456789")
    report = train_and_register(settings)
    m = report.metrics
    assert report.champion == "tfidf_vader_lr"
    assert m["macro_f1"] == m["tfidf_vader_lr.cryptolin.macro_f1"]
    # measured: 0.558 (the 0.65 is not met; see docs/news.md), above both baselines
    assert m["macro_f1"] > m["vader.cryptolin.macro_f1"] > m["majority.cryptolin.macro_f1"]
    assert m["macro_f1"] == pytest.approx(0.558, abs=0.005)
    assert "tfidf_vader_lr.twitter_financial.macro_f1" in m
    client = MlflowClient(settings.mlflow_tracking_uri)
    champion = client.get_model_version_by_alias(MODEL_NAME, "champion")
    challenger = client.get_model_version_by_alias(MODEL_NAME, "challenger")
    assert champion.tags["scorer"] == "tfidf_vader_lr" and challenger.tags["scorer"] == "vader"
    run = client.get_run(report.run_id)
    assert run.data.metrics["accuracy"] == pytest.approx(m["accuracy"])
    assert all("sk-ant" not in str(v) for v in run.data.params.values())
    import mlflow.models

    info = mlflow.models.get_model_info(f"models:/{MODEL_NAME}@champion")
    assert info.signature is not None
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    name, score = active_scorer(settings)
    [scored] = score(["Hackers drain $100 million from a Solana DeFi protocol"])
    assert name == "offline" and scored.scorer == "offline" and scored.assets == ("SOL",)
    assert (
        -1 <= scored.score <= 1
        and 0 <= scored.impact <= 1
        and scored.version == str(champion.version)
    )


def test_an_unchanged_model_is_not_registered_again(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before: every training (``make demo`` runs two) registered two new versions."""
    import dataclasses

    from models.sentiment import datasets
    from models.sentiment.train import FINGERPRINT_TAG

    client = MlflowClient(settings.mlflow_tracking_uri)

    def versions() -> dict[str, str]:
        found = client.search_model_versions(f"name='{MODEL_NAME}'")
        return {str(v.version): v.tags[FINGERPRINT_TAG] for v in found}

    first = train_and_register(settings)
    assert first.registered == ("champion", "challenger")
    registered = versions()
    assert len(registered) == 2 and len(set(registered.values())) == 2
    again = train_and_register(settings)
    assert again.registered == () and again.versions == first.versions
    assert versions() == registered  # same data, params and code: the same versions
    assert (
        str(client.get_model_version_by_alias(MODEL_NAME, "champion").version)
        == first.versions["champion"]
    )

    full = datasets.cryptolin()
    fewer = dataclasses.replace(full, texts=full.texts[:-40], labels=full.labels[:-40])
    monkeypatch.setattr(datasets, "cryptolin", lambda: fewer)
    changed = train_and_register(settings)
    assert changed.registered == ("champion", "challenger")
    assert len(versions()) == 4
    assert set(changed.versions.values()).isdisjoint(first.versions.values())
    champion = client.get_model_version_by_alias(MODEL_NAME, "champion")
    assert str(champion.version) == changed.versions["champion"]
