"""Scoring: the backtest winner refitted on every labelled cutoff, the warning signs that fire per
partner ranked by their contribution to the risk (reason codes), and the risk list.

Words for the reasons and actions live in workbench/present/churn.py; this module returns codes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from workbench.churn.backtest import MAX_TRAIN_CUTOFFS, Backtest, backtest_design, run_backtest
from workbench.churn.drivers import DatesLike, _day, _region, cutoff_frame, cutoff_frames
from workbench.churn.models import (
    CANDIDATES,
    DRIVER_FEATURES,
    ConstantRate,
    _fit_candidate,
    _predict,
    baseline_scores,
    bgnbd_scores,
    design_matrix,
    tune,
    usable_columns,
)
from workbench.errors import NotEnoughData

__all__ = [
    "RISK_COLUMNS",
    "UNVALIDATED",
    "ChurnActions",
    "ReasonRule",
    "Scorer",
    "fit_scorer",
    "load_actions",
    "reason_flags",
    "reasons_table",
    "risk_list",
    "score_frame",
    "threshold_table",
]


UNVALIDATED = "bgnbd_horizon"  # the scorer when no backtest is possible: BG/NBD P(no order in the horizon)


@dataclass(frozen=True)
class Scorer:
    """The backtest winner refitted on every labelled cutoff, plus a logit used to rank reasons.

    model: name of the winning model (UNVALIDATED when the history allows no backtest); fitted: the
    fitted estimator, or for a baseline an isotonic map from its score to the churn rate observed on
    the training cutoffs; explainer: fitted logit (reason ranking) or None; columns: model inputs;
    trained_on: cutoffs used; horizon_days: the churn horizon.
    """

    model: str
    fitted: Any
    explainer: Any
    columns: tuple[str, ...]
    trained_on: tuple[date, ...]
    backtest: Backtest | None = None
    horizon_days: int = 90
    validated: bool = True  # False: no backtest was possible, BG/NBD alone scores (model UNVALIDATED)

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """Risk of churn within the horizon per row of a cutoff frame (probability for the candidates)."""
        if frame.empty:
            return np.zeros(0)
        if self.model in CANDIDATES:
            return _predict(self.fitted, design_matrix(frame, self.columns))
        if not self.validated:
            if "bg_p_no_order" in frame.columns and frame["bg_p_no_order"].notna().all():
                return frame["bg_p_no_order"].to_numpy(float)
            return bgnbd_scores(frame, horizon_days=self.horizon_days)["p_no_order"].to_numpy(float)
        raw = np.nan_to_num(baseline_scores(frame)[self.model], nan=0.0)
        return self.fitted.predict(raw) if self.fitted is not None else raw

    def contributions(self, frame: pd.DataFrame) -> pd.DataFrame | None:
        """Per-row logit contributions coef × standardized value (log-odds units), one column per input;
        None when there is no fitted logit to explain with (reasons then follow the config order)."""
        if self.explainer is None or isinstance(self.explainer, ConstantRate):
            return None
        X = design_matrix(frame, self.columns).to_numpy(float)
        z = self.explainer[:-1].transform(X)  # imputed, standardized, clipped: what the logit saw
        lr = self.explainer[-1]
        return pd.DataFrame(z * lr.coef_[0], columns=list(self.columns), index=frame.index)


def fit_scorer(
    con: Any,
    *,
    as_of: DatesLike,
    horizon_days: int = 90,
    region: str | None = None,
    seed: int = 0,
    bt: Backtest | None = None,
    frames: dict[date, pd.DataFrame] | None = None,
) -> Scorer:
    """Run the backtest (unless given) and refit its winner on every cutoff labelled by `as_of`.

    When the history allows no backtest (NotEnoughData from backtest_design or run_backtest), the
    scorer is BG/NBD's P(no order within the horizon), fitted at scoring time: `validated` is False.
    """
    unvalidated = Scorer(UNVALIDATED, None, None, (), (), None, int(horizon_days), validated=False)
    if frames is None:
        try:
            d = backtest_design(con, as_of=as_of, horizon_days=horizon_days, region=region)
        except NotEnoughData:
            return unvalidated
        frames = cutoff_frames(con, d.cutoffs, horizon_days=horizon_days, region=region, active_days=d.active_days)
    frames = {k: v for k, v in frames.items() if k + timedelta(days=horizon_days) <= _day(as_of)}
    if bt is None:
        try:
            bt = run_backtest(frames, horizon_days=horizon_days, seed=seed)
        except NotEnoughData:
            return unvalidated
    if not bt.ranked:  # no scored cutoff had both churners and stayers: no winner out of time
        return unvalidated
    frames = {k: frames[k] for k in sorted(frames)[-MAX_TRAIN_CUTOFFS:]}
    tr = pd.concat(list(frames.values()), ignore_index=True)
    if tr.empty:
        return unvalidated
    cols = tuple(usable_columns(tr))
    X, y = design_matrix(tr, cols), tr["churned"].to_numpy(bool).astype(int)
    cuts = tr["cutoff"].to_numpy()
    logit_params = tune("logit", X.to_numpy(float), y, cutoffs=cuts, seed=seed)
    explainer = _fit_candidate("logit", X, y, seed=seed, params=logit_params)
    if bt.winner == "logit":
        fitted = explainer
    elif bt.winner in CANDIDATES:
        params = tune(bt.winner, X.to_numpy(float), y, cutoffs=cuts, seed=seed, columns=cols)
        fitted = _fit_candidate(bt.winner, X, y, seed=seed, cutoffs=cuts, params=params)
    else:  # a baseline won: turn its score into a probability on the training cutoffs
        from sklearn.isotonic import IsotonicRegression

        raw = np.concatenate([np.nan_to_num(baseline_scores(f, seed=seed)[bt.winner], nan=0.0)
                              for f in frames.values() if len(f)])
        lab = np.concatenate([f["churned"].to_numpy(bool) for f in frames.values() if len(f)]).astype(float)
        fitted = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(raw, lab)
    return Scorer(bt.winner, fitted, explainer, cols, tuple(sorted(frames)), bt, int(horizon_days))


@dataclass(frozen=True)
class ReasonRule:
    """One warning sign: the driver that ranks it and the action recommended (config/churn_actions.yaml)."""

    feature: str  # driver column whose logit contribution ranks the reason
    action: str
    action_zh: str = ""


@dataclass(frozen=True)
class ChurnActions:
    """Actions per reason code, plus the action shown when no warning sign fires."""

    reasons: dict[str, ReasonRule]
    default_action: str = ""  # empty: the words in workbench/present/churn.py
    default_action_zh: str = ""
    unexplained_action: str = ""
    unexplained_action_zh: str = ""
    unexplained_risk: float = 0.5  # at or above this risk, a partner without reasons gets unexplained_action


def load_actions(path: str | Path | None = None) -> ChurnActions:
    """Load config/churn_actions.yaml (or `path`) into ChurnActions; a bad file raises ConfigError."""
    from workbench import config
    from workbench.paths import config_file

    return config.load(ChurnActions, path or config_file("churn_actions.yaml"))

def reason_flags(df: pd.DataFrame) -> dict[str, pd.Series]:
    """Per reason code: a bool Series saying whether the warning sign fires, from a cutoff frame's drivers."""
    chg = df["sales_change_pct"]
    gap = df["median_gap_days"]
    return {
        "orders_down": (chg <= -25) & (df["sales_prev_90d"] > 0),
        "overdue": ((df["cycle_ratio"] >= 1.5) & gap.notna() & (df["recency_days"] >= 14))
        | (gap.isna() & (df["recency_days"] >= 60)),
        "rebate_unpaid": df["rebate_overdue"] >= 1000,
        "satisfaction_fell": df["sat_change"] <= -5,
        "low_satisfaction": (df["sat_last"] < 60) & ~(df["sat_change"] <= -5),
        "open_conflict": df["open_conflicts"] >= 1,
        "no_training": df["trainings_365d"] == 0,
        "contact_overdue": (df["days_overdue"] > 0) if "days_overdue" in df.columns else pd.Series(False, index=df.index),
    }


def reasons_table(
    frame: pd.DataFrame,
    scorer: Scorer | None = None,
    *,
    actions: ChurnActions | None = None,
    top: int = 3,
    risk: np.ndarray | None = None,
) -> pd.DataFrame:
    """Top `top` reason codes for each partner of a cutoff frame, and which fallback action applies.

    Reasons are the warning signs that fire, ranked by their logit contribution (log-odds) when a
    scorer is given (signs with no positive contribution are dropped), else in config order.
    Returns partner_id, reason_codes (';'-joined, strongest first) and fallback: '' when a reason
    fired, 'unexplained' when `risk` is at or above `actions.unexplained_risk` without one, else 'default'.
    """
    actions = actions or load_actions()
    contrib = scorer.contributions(frame) if scorer is not None else None
    flags = reason_flags(frame)
    codes = [c for c in flags if c in actions.reasons]
    if not codes:
        fires = np.zeros((len(frame), 0), bool)
    else:
        fires = np.column_stack([flags[c].fillna(False).to_numpy(bool) for c in codes])
    weight = np.zeros(fires.shape)
    for j, c in enumerate(codes):
        feat = actions.reasons[c].feature
        base = -j * 1e-3  # stable fallback order: config order
        if contrib is not None and feat in contrib.columns:
            weight[:, j] = contrib[feat].to_numpy(float) + base
        elif contrib is not None and feat.removesuffix("_cny") in contrib.columns:  # old config names
            weight[:, j] = contrib[feat.removesuffix("_cny")].to_numpy(float) + base
        else:
            weight[:, j] = base
    if contrib is not None:  # a sign that does not raise this partner's risk is not a reason
        fires = fires & (weight > 0)
    weight = np.where(fires, weight, -np.inf)
    order = np.argsort(-weight, axis=1, kind="stable")[:, :top]
    high = np.zeros(len(frame), bool) if risk is None else np.asarray(risk) >= actions.unexplained_risk
    out_codes, fallback = [], []
    for i in range(len(frame)):
        cs = [codes[j] for j in order[i] if fires[i, j]]
        out_codes.append(";".join(cs))
        fallback.append("" if cs else ("unexplained" if high[i] else "default"))
    return pd.DataFrame(
        {"partner_id": frame["partner_id"].to_numpy(), "reason_codes": out_codes, "fallback": fallback},
        index=frame.index,
    )


def _tiers(con: Any, *, as_of: date, region: str | None) -> pd.DataFrame:
    """partner_id, tier from segment.partner_tiers."""
    from workbench import segment

    return segment.partner_tiers(con, as_of=as_of, region=_region(region))[["partner_id", "tier"]]


RISK_COLUMNS = [
    "partner_id", "name", "region", "tier", "risk", "sales_at_risk", "expected_sales", "clv_12m",
    "reason_codes", "fallback",
]


def score_frame(frame: pd.DataFrame, scorer: Scorer, *, actions: ChurnActions | None = None) -> pd.DataFrame:
    """Risk, forward value and reason codes per partner of a cutoff frame (money in the store currency).

    expected_sales: BG/NBD × Gamma-Gamma non-return sales in the horizon; clv_12m: discounted sales
    over the next 12 months; sales_at_risk: risk × value_if_active_12m (what the partner would buy
    over 12 months if it stays: what churn costs).
    """
    risk = np.clip(scorer.predict(frame), 0.0, 1.0)
    rs = reasons_table(frame, scorer, actions=actions, risk=risk)
    out = frame[["partner_id", "name", "region"]].copy()
    out["risk"] = np.round(risk, 4)
    value = frame["value_if_active_12m"].clip(lower=0).fillna(0.0)
    out["sales_at_risk"] = np.round(out["risk"] * value, 2)
    out["expected_sales"] = np.round(frame["expected_sales"].clip(lower=0).fillna(0.0), 2)
    out["clv_12m"] = np.round(frame["clv_12m"].clip(lower=0).fillna(0.0), 2)
    out["value_if_active_12m"] = np.round(value, 2)
    out["reason_codes"] = rs["reason_codes"].to_numpy()
    out["fallback"] = rs["fallback"].to_numpy()
    return out


def risk_list(
    con: Any,
    *,
    as_of: DatesLike,
    horizon_days: int = 90,
    region: str | None = None,
    scorer: Scorer | None = None,
    detail: bool = False,
) -> pd.DataFrame:
    """Partners at `as_of` ranked by churn risk within `horizon_days`.

    Columns (RISK_COLUMNS): partner_id, name, region, tier, risk (probability), sales_at_risk (store
    currency: risk × the 12-month value of the partner if it stays), expected_sales (in the horizon),
    clv_12m (discounted 12-month value), reason_codes (top three warning signs, ';'-joined),
    fallback ('' | 'default' | 'unexplained': the action when no sign fires). `detail=True` adds the
    drivers the reasons quote; workbench.present.churn turns codes into words and actions.
    """
    d = _day(as_of)
    scorer = scorer or fit_scorer(con, as_of=d, horizon_days=horizon_days, region=region)
    frame = cutoff_frame(con, as_of=d, horizon_days=horizon_days, region=region, labels=False)
    out = score_frame(frame, scorer)
    out = out.merge(_tiers(con, as_of=d, region=region), on="partner_id", how="left")
    out = out.sort_values(["risk", "sales_at_risk"], ascending=False, kind="stable").reset_index(drop=True)
    if detail:
        extra = frame[["partner_id", *[c for c in DRIVER_FEATURES if c not in out.columns]]]
        return out.merge(extra, on="partner_id", how="left")
    return out[RISK_COLUMNS]


def threshold_table(risk: pd.DataFrame, predictions: pd.DataFrame | None = None, *, model: str | None = None,
                    steps: int = 50) -> pd.DataFrame:
    """For risk thresholds 0..1: partners flagged, sales at risk flagged (store currency), and the share of churners
    the backtest captured at that threshold (pooled over cutoffs, winner's scores)."""
    th = np.round(np.linspace(0, 1, steps + 1), 4)
    r = risk["risk"].to_numpy(float)
    sar = risk["sales_at_risk"].to_numpy(float)
    out = pd.DataFrame({
        "threshold": th,
        "partners_flagged": [(r >= t).sum() for t in th],
        "sales_at_risk_flagged": [sar[r >= t].sum() for t in th],
    })
    out["share_flagged"] = out["partners_flagged"] / max(len(r), 1)
    if predictions is not None and model is not None:
        g = predictions[predictions["model"] == model]
        y = g["churned"].to_numpy(bool)
        s = g["score"].to_numpy(float)
        out["share_churners_captured"] = [(y & (s >= t)).sum() / max(y.sum(), 1) for t in th]
    return out
