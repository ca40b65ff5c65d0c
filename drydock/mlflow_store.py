"""The project's MLflow store (sqlite under DRYDOCK_HOME): the tracking URI set once, and named
experiments whose artifacts live under the same home. Shared by research and models."""

from __future__ import annotations

from typing import Any

from drydock.settings import Settings, get_settings

__all__ = ["experiment_id", "mlflow_for"]


def mlflow_for(settings: Settings | None = None) -> Any:
    """The ``mlflow`` module pointed at the home's store (imported on first use)."""
    import mlflow

    settings = settings or get_settings()
    settings.mlflow_dir.mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(settings.mlflow_tracking_uri)
    return mlflow


def experiment_id(settings: Settings | None = None, name: str = "backtests") -> str:
    """Id of the named experiment, created with artifacts under DRYDOCK_HOME if needed."""
    settings = settings or get_settings()
    mlflow = mlflow_for(settings)
    found = mlflow.get_experiment_by_name(name)
    if found is not None:
        return str(found.experiment_id)
    location = (settings.mlflow_artifact_root / name).as_uri()
    return str(mlflow.create_experiment(name, artifact_location=location))
