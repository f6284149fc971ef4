"""Settings and targets of the retrospective: ``config/retro.yaml`` and ``config/targets.yaml``."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from workbench.config import load as load_config
from workbench.errors import ConfigError, WorkbenchError
from workbench.paths import config_file
from workbench.vocab import Quarter

__all__ = ["TARGET_KPIS", "RetroSettings", "Target", "TargetsConfig", "load_settings", "load_targets"]


DEFAULT_ACTION_COSTS: dict[str, float] = {
    "training": 30000.0, "incentive": 50000.0, "marketing_automation": 20000.0, "tiering": 5000.0,
    "communication": 10000.0, "visit": 8000.0, "other": 10000.0,
}


@dataclass(frozen=True)
class RetroSettings:
    """Alert thresholds and design choices of the retrospective (``config/retro.yaml``)."""

    top1_share_alert: float = 0.30  # alert when one partner's share of net sales passes this (0–1)
    top5_share_alert: float = 0.60  # alert when the five largest partners' share passes this (0–1)
    event_pre_months: int = 12  # event-study months before the action
    event_post_months: int = 12  # event-study months from the action on
    naive_months: int = 6  # months before / after in the naive comparison
    forecast_horizon_months: int = 3  # next quarter
    backtest_origins: int = 4  # rolling forecast origins in the backtest
    # cost of one action by type (store currency), where the actions table has no cost recorded
    action_costs: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_ACTION_COSTS))
    roi_horizon_months: int = 12  # months of sales after an action counted in its return on cost
    channel_mix: dict[str, float] | None = None  # channel-dependence thresholds (workbench.relations.ChannelMixConfig)


def load_settings(path: str | Path | None = None) -> RetroSettings:
    """Settings from `path` (default ``config/retro.yaml``; defaults if that file is absent)."""
    if path is None:
        path = config_file("retro.yaml")
        if not Path(path).exists():
            return RetroSettings()
    cfg = load_config(RetroSettings, path)
    for name in ("top1_share_alert", "top5_share_alert"):
        v = getattr(cfg, name)
        if not 0 < v <= 1:
            raise ConfigError(f"{path}: {name} must be a share between 0 and 1, not {v}.")
    for kind, cost in cfg.action_costs.items():
        if not cost >= 0:
            raise ConfigError(f"{path}: action_costs: {kind} must be a cost of at least 0, not {cost}.")
    for name in ("event_pre_months", "event_post_months", "naive_months", "forecast_horizon_months",
                 "backtest_origins", "roi_horizon_months"):
        if getattr(cfg, name) < 1:
            raise ConfigError(f"{path}: {name} must be at least 1, not {getattr(cfg, name)}.")
    return cfg


TARGET_KPIS: tuple[str, ...] = ("growth", "satisfaction", "repeat_rate", "new_partners")


@dataclass(frozen=True)
class Target:
    """KPI targets of one region for one period (a year like 2026, or a quarter like 2026Q3).

    growth: year-on-year growth of monthly sales (0.08 = +8%); satisfaction: mean survey score
    (0–100); repeat_rate: share (0–1); new_partners: partners onboarded in the period.
    """

    period: str
    region: str = "all"
    growth: float | None = None
    satisfaction: float | None = None
    repeat_rate: float | None = None
    new_partners: int | None = None


@dataclass(frozen=True)
class TargetsConfig:
    """``config/targets.yaml``: a list of targets."""

    targets: list[Target] = field(default_factory=list)


def _period_key(period: str) -> str:
    """A target period as '2026' (a year) or '2026Q3' (a quarter, ``workbench.vocab.Quarter`` rules)."""
    p = str(period).strip()
    return p if len(p) == 4 and p.isdigit() else str(Quarter.parse(p))


def _check_target(t: Target, where: str) -> None:
    try:
        _period_key(t.period)
    except WorkbenchError as exc:
        raise ConfigError(f"{where} period '{t.period}' is not a year like 2026 or a quarter like 2026Q3.") from exc
    if all(getattr(t, k) is None for k in TARGET_KPIS):
        raise ConfigError(f"{where} sets no target (give at least one of {', '.join(TARGET_KPIS)}).")
    if t.growth is not None and t.growth <= -1:
        raise ConfigError(f"{where}: growth must be above -1 (a fraction like 0.08 for +8%), not {t.growth}.")
    if t.satisfaction is not None and not 0 <= t.satisfaction <= 100:
        raise ConfigError(f"{where}: satisfaction must be between 0 and 100, not {t.satisfaction}.")
    if t.repeat_rate is not None and not 0 <= t.repeat_rate <= 1:
        raise ConfigError(f"{where}: repeat_rate must be a share between 0 and 1, not {t.repeat_rate}.")
    if t.new_partners is not None and t.new_partners < 0:
        raise ConfigError(f"{where}: new_partners must not be negative, not {t.new_partners}.")


def load_targets(path: str | Path | None = None) -> TargetsConfig:
    """Targets from `path` (default ``config/targets.yaml``); a bad file is one ConfigError sentence."""
    path = config_file("targets.yaml") if path is None else Path(path)
    cfg = load_config(TargetsConfig, path)
    seen: set[tuple[str, str]] = set()
    for i, t in enumerate(cfg.targets):
        where = f"{path}: targets[{i}]"
        _check_target(t, where)
        key = (_period_key(t.period), t.region)
        if key in seen:
            raise ConfigError(f"{where} repeats the target for period {key[0]} and region {key[1]}.")
        seen.add(key)
    return cfg


def _targets_frame(cfg: TargetsConfig) -> pd.DataFrame:
    rows = [{"period": _period_key(t.period), "region": t.region,
             **{k: getattr(t, k) for k in TARGET_KPIS}} for t in cfg.targets]
    return pd.DataFrame(rows, columns=["period", "region", *TARGET_KPIS])


def _resolve_targets(targets: TargetsConfig | str | Path | None) -> TargetsConfig | None:
    if isinstance(targets, TargetsConfig):
        return targets
    if targets is None:
        default = config_file("targets.yaml")
        return load_targets(default) if default.exists() else None
    return load_targets(targets)
