"""Promotion: a tracked backtest becomes the strategy configuration the live runner may load.

``promote(run_id)`` reads an MLflow backtest or simulation run, checks the gate (minimum Sharpe,
maximum drawdown, minimum trade count, as recorded on the run), writes the configuration
(strategy, params, series, execution model, policy file and hash, fingerprints) as the run's
``promotion/config.json``, registers it as a version of the registered model
``strategy.<id>`` and points the alias ``champion`` at it. A failing gate refuses with the
figures; ``force=True`` promotes anyway and is journaled (an event in the live journal and tags on
the version). The runner loads only ``models:/strategy.<id>@champion`` (:func:`load_champion`).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from drydock.errors import ConfigError, DrydockError
from drydock.settings import Settings, get_settings

ALIAS = "champion"
PROMOTABLE = ("backtest", "simulation")


class PromotionRefused(ConfigError):
    """The run does not meet the gate (the message lists every failing figure)."""


@dataclass(frozen=True)
class Gate:
    """Minimums a run must show to be promoted (None: not checked). ``max_drawdown`` is a
    positive fraction: 0.35 allows a drawdown down to -35%."""

    min_sharpe: float | None = 0.5
    max_drawdown: float | None = 0.35
    min_trades: int | None = 20

    def failures(self, metrics: dict[str, float]) -> list[str]:
        """Why ``metrics`` fail the gate; a missing or NaN figure fails its check."""
        out = []
        sharpe = metrics.get("sharpe", math.nan)
        if self.min_sharpe is not None and not sharpe >= self.min_sharpe:
            out.append(f"sharpe {sharpe:.3f} < {self.min_sharpe:g}")
        drawdown = metrics.get("max_drawdown", math.nan)
        if self.max_drawdown is not None and not -drawdown <= self.max_drawdown:
            out.append(f"max drawdown {drawdown:.2%} deeper than -{self.max_drawdown:.0%}")
        trades = metrics.get("trade_count", math.nan)
        if self.min_trades is not None and not trades >= self.min_trades:
            out.append(f"trade count {trades:g} < {self.min_trades}")
        return out


@dataclass(frozen=True)
class Promotion:
    """A registered champion: the model version and the configuration the runner loads."""

    name: str
    version: str
    run_id: str
    config: dict[str, Any]
    forced: bool = False
    failures: list[str] = field(default_factory=list)


def _client(settings: Settings) -> Any:
    import mlflow
    from mlflow.tracking import MlflowClient

    mlflow.set_tracking_uri(settings.mlflow_tracking_uri)
    return MlflowClient(settings.mlflow_tracking_uri)


def model_name(strategy_id: str) -> str:
    return f"strategy.{strategy_id}"


def _config(run: Any, policy: tuple[str, str, str] | None) -> dict[str, Any]:
    params, tags = run.data.params, run.data.tags
    return {
        "strategy": params.get("strategy", tags.get("strategy", "")),
        "params": {k.removeprefix("param."): v for k, v in params.items() if k.startswith("param.")},
        "series": {k: params.get(k, "") for k in ("exchange", "symbol", "timeframe")},
        "execution": {k: v for k, v in params.items() if k.startswith(("exec.", "engine.", "instrument."))},
        "source_run": run.info.run_id,
        "kind": tags.get("drydock.kind", ""),
        "fingerprints": {k: tags.get(k, "") for k in ("data_fingerprint", "code_fingerprint", "git_commit")},
        "policy": None if policy is None else dict(zip(("file", "version", "hash"), policy, strict=True)),
        "metrics": {k: run.data.metrics.get(k) for k in ("sharpe", "max_drawdown", "trade_count", "total_return")},
    }  # fmt: skip


def promote(
    run_id: str,
    *,
    gate: Gate | None = None,
    policy_file: Path | None = None,
    force: bool = False,
    operator: str = "",
    reason: str = "",
    settings: Settings | None = None,
) -> Promotion:
    """Register ``run_id``'s configuration as ``strategy.<id>@champion`` if it passes ``gate``."""
    from mlflow.exceptions import MlflowException

    settings = settings or get_settings()
    gate = gate or Gate()
    client = _client(settings)
    try:
        run = client.get_run(run_id)
    except MlflowException:
        raise ConfigError(
            f"No MLflow run {run_id!r} in {settings.mlflow_tracking_uri}; pick one from "
            "`make mlflow` or the id printed by `drydock backtest`."
        ) from None
    kind = run.data.tags.get("drydock.kind", "")
    if kind not in PROMOTABLE:
        raise ConfigError(
            f"Run {run_id} is a {kind or 'untagged'} run; only {' or '.join(PROMOTABLE)} runs "
            "can be promoted."
        )
    failures = gate.failures(dict(run.data.metrics))
    if failures and not force:
        raise PromotionRefused(
            f"Run {run_id} does not meet the promotion gate: {'; '.join(failures)}. Improve the "
            "strategy, or pass --force with a --reason (journaled)."
        )
    if force and not reason.strip():
        raise ConfigError("--force needs a --reason: a forced promotion is journaled with it.")
    policy = None
    if policy_file is not None:
        from drydock.policy import load_policy

        rules = load_policy(policy_file)
        policy = (str(policy_file), rules.version, rules.content_hash)
    config = _config(run, policy)
    name = model_name(config["strategy"])
    client.log_dict(run_id, config, "promotion/config.json")
    try:
        client.get_registered_model(name)
    except MlflowException:
        client.create_registered_model(name, description=f"Promoted configurations of {config['strategy']}")  # fmt: skip
    tags = {"forced": str(bool(failures) and force).lower(), "operator": operator,
            "reason": reason, "gate_failures": "; ".join(failures)}  # fmt: skip
    version = client.create_model_version(
        name, source=f"{run.info.artifact_uri}/promotion", run_id=run_id, tags=tags
    )
    client.set_registered_model_alias(name, ALIAS, version.version)
    forced = bool(failures) and force
    if forced:
        _journal_forced(config["strategy"], run_id, version.version, failures, operator, reason)
    return Promotion(name, str(version.version), run_id, config, forced, failures)


def _journal_forced(strategy: str, run_id: str, version: str, failures: list[str],
                    operator: str, reason: str) -> None:  # fmt: skip
    from live.journal import open_journal

    with open_journal() as journal:
        journal.record_event(
            "promotion_forced", f"strategy:{strategy}",
            {"run_id": run_id, "version": version, "failures": failures, "operator": operator,
             "reason": reason},
            datetime.now(UTC),
        )  # fmt: skip


def load_champion(strategy_id: str, settings: Settings | None = None) -> dict[str, Any]:
    """The configuration behind ``models:/strategy.<id>@champion``; refuses an unpromoted one."""
    import mlflow
    from mlflow.exceptions import MlflowException

    settings = settings or get_settings()
    client = _client(settings)
    try:
        version = client.get_model_version_by_alias(model_name(strategy_id), ALIAS)
    except MlflowException:
        raise DrydockError(
            f"Strategy {strategy_id!r} has no promoted configuration ({model_name(strategy_id)}"
            f"@{ALIAS}); promote a backtest first: drydock promote RUN_ID."
        ) from None
    folder = mlflow.artifacts.download_artifacts(artifact_uri=version.source)
    config: dict[str, Any] = json.loads((Path(folder) / "config.json").read_text(encoding="utf-8"))
    return config
