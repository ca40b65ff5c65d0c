"""Strategy discovery: package entry points (group ``drydock.strategies``) and user folders.

A package registers a strategy class in its ``pyproject.toml``::

    [project.entry-points."drydock.strategies"]
    ema_cross = "strategies.ema_cross:EmaCross"

A user drops a ``.py`` file defining :class:`Strategy` subclasses into ``$DRYDOCK_HOME/strategies``
(or a folder or file listed in ``DRYDOCK_STRATEGY_PATH``); no edit to this repository is needed.
Two strategies with one id are an error naming both sources; a module that fails to import is an
error naming the file and the exception.
"""

from __future__ import annotations

import importlib.util
import inspect
import sys
import zlib
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path
from types import ModuleType

from drydock.errors import ConfigError, unknown_choice
from strategies.base import Strategy

ENTRY_POINT_GROUP = "drydock.strategies"
USER_MODULE_PREFIX = "drydock_user_strategies"


@dataclass(frozen=True, slots=True)
class StrategySource:
    """A discovered strategy class and where it came from (entry point or file path)."""

    id: str
    cls: type[Strategy]
    origin: str


def _is_strategy(obj: object) -> bool:
    return inspect.isclass(obj) and issubclass(obj, Strategy) and not inspect.isabstract(obj)


def _source(obj: type[Strategy], origin: str) -> StrategySource:
    """A discovered class with its origin; a class without a string ``id`` is an error."""
    sid = vars(obj).get("id")
    if not isinstance(sid, str) or not sid:
        raise ConfigError(
            f"Strategy class {obj.__name__} from {origin} has no `id`; add e.g. "
            f'id = "{obj.__name__.lower()}" as a class attribute.'
        )
    return StrategySource(sid, obj, origin)


def _from_entry_points() -> list[StrategySource]:
    """Strategy classes named by installed packages under the ``drydock.strategies`` group."""
    found: list[StrategySource] = []
    for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        origin = f"entry point {ep.name} = {ep.value}"
        try:
            obj = ep.load()
        except Exception as exc:
            raise ConfigError(
                f"Strategy {origin} (package {ep.dist.name if ep.dist else '?'}) failed to "
                f"load: {type(exc).__name__}: {exc}. Fix or uninstall that package."
            ) from exc
        if not _is_strategy(obj):
            raise ConfigError(
                f"Strategy {origin} is not a concrete Strategy subclass; point it at one."
            )
        found.append(_source(obj, origin))
    return found


def _load_file(path: Path) -> ModuleType:
    """Import one user strategy file under a private module name; errors name the file."""
    name = f"{USER_MODULE_PREFIX}.{path.stem}_{zlib.crc32(str(path).encode()):08x}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ConfigError(f"Strategy file {path} cannot be imported; is it a .py file?")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except (Exception, SystemExit) as exc:  # a stray sys.exit() must not end the command silently
        del sys.modules[name]
        raise ConfigError(
            f"Strategy file {path} failed to import: {type(exc).__name__}: {exc}. Fix the file "
            "or move it out of the strategy folder."
        ) from exc
    return module


def _user_files(folders: list[Path], must_exist: bool) -> list[Path]:
    """The ``.py`` files of each strategy folder (a listed file counts as itself), sorted."""
    files: list[Path] = []
    for entry in folders:
        if entry.is_file():
            files.append(entry)
        elif entry.is_dir():
            files += sorted(p for p in entry.glob("*.py") if not p.name.startswith("_"))
        elif must_exist:
            raise ConfigError(
                f"Strategy path {entry} (from DRYDOCK_STRATEGY_PATH) does not exist; fix the "
                "setting or create the folder."
            )
    return files


def _from_files(files: list[Path]) -> list[StrategySource]:
    """Strategy classes defined (not merely imported) in each user file."""
    found: list[StrategySource] = []
    for path in files:
        module = _load_file(path)
        for _, obj in inspect.getmembers(module, _is_strategy):
            if obj.__module__ == module.__name__:
                found.append(_source(obj, str(path)))
    return found


_cache: dict[tuple[object, ...], dict[str, StrategySource]] = {}


def discover(folders: list[Path] | None = None) -> dict[str, StrategySource]:
    """Every strategy by id; ``folders`` defaults to the settings' strategy folders."""
    must_exist = folders is not None
    if folders is None:
        from drydock.settings import get_settings

        settings = get_settings()
        folders, must_exist = settings.strategy_dirs, bool(settings.strategy_path.strip())
    files = _user_files(folders, must_exist)
    key = tuple((str(p), p.stat().st_mtime_ns) for p in files)
    if key in _cache:
        return _cache[key]
    registry: dict[str, StrategySource] = {}
    for source in [*_from_entry_points(), *_from_files(files)]:
        if source.id in registry:
            raise ConfigError(
                f"Two strategies share the id {source.id!r}: {registry[source.id].origin} and "
                f"{source.origin}. Rename one of them (its class attribute `id`)."
            )
        registry[source.id] = source
    _cache[key] = registry
    return registry


def strategy_sources() -> list[StrategySource]:
    """Every discovered strategy, sorted by id."""
    return sorted(discover().values(), key=lambda s: s.id)


def strategy_ids() -> list[str]:
    """The ids of every discovered strategy, sorted."""
    return sorted(discover())


def get_strategy(strategy_id: str) -> Strategy:
    """Instantiate a discovered strategy; a clear error lists the valid ids."""
    registry = discover()
    if strategy_id not in registry:
        raise unknown_choice(
            "strategy", strategy_id, registry, "List them with `drydock strategies`."
        )
    return registry[strategy_id].cls()
