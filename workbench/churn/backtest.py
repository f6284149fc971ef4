"""Rolling-origin backtest over cutoffs: which cutoffs train the model scored at each cutoff, the
candidates and baselines scored out of time, and the metrics (ROC AUC, PR AUC, Brier, top-10%
capture), calibration, ROC and gains tables that compare them."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd

from workbench.churn.drivers import ACTIVE_DAYS, DatesLike, _data_span, _day, _tables, cutoff_frames
from workbench.churn.models import (
    CANDIDATES,
    PROBABILISTIC,
    ConstantRate,
    _fit_candidate,
    _predict,
    baseline_scores,
    design_matrix,
    odds_ratios,
    tune,
    usable_columns,
)
from workbench.errors import NotEnoughData

__all__ = [
    "MAX_TRAIN_CUTOFFS",
    "SHORT_ACTIVE_DAYS",
    "VALUE_METHODS",
    "Backtest",
    "BacktestDesign",
    "backtest",
    "backtest_design",
    "backtest_plan",
    "calibration_table",
    "calibration_tables",
    "default_cutoffs",
    "gains_table",
    "metrics_table",
    "min_history_days",
    "monthly_cutoffs",
    "paired_wins",
    "quarterly_cutoffs",
    "roc_points",
    "run_backtest",
    "top_capture",
    "truth_oracle",
    "truth_table",
    "value_metrics",
    "value_predictions",
    "winner",
]


def quarterly_cutoffs(*, first: DatesLike, last: DatesLike) -> list[date]:
    """Calendar quarter-end dates d with first <= d <= last."""
    q = pd.period_range(pd.Timestamp(_day(first)).to_period("Q"), pd.Timestamp(_day(last)).to_period("Q"), freq="Q")
    ends = [p.end_time.date() for p in q]
    return [d for d in ends if _day(first) <= d <= _day(last)]


def monthly_cutoffs(*, first: DatesLike, last: DatesLike) -> list[date]:
    """Calendar month-end dates d with first <= d <= last."""
    m = pd.period_range(pd.Timestamp(_day(first)).to_period("M"), pd.Timestamp(_day(last)).to_period("M"), freq="M")
    ends = [p.end_time.date() for p in m]
    return [d for d in ends if _day(first) <= d <= _day(last)]


MAX_TRAIN_CUTOFFS = 4  # sliding window: the latest four observable quarters (a year of seasons)


def backtest_plan(
    cutoffs: Iterable[DatesLike], *, horizon_days: int = 90, n_scored: int = 6, max_train: int = MAX_TRAIN_CUTOFFS
) -> pd.DataFrame:
    """Which cutoffs train the model scored at each cutoff: rows scored_cutoff, train_cutoffs, n_train.

    A cutoff t may train the model scored at s only if its labels were observable at s:
    t + horizon_days <= s; the latest `max_train` such cutoffs are used. The last `n_scored`
    cutoffs with at least one such t are scored.
    """
    cs = sorted({_day(c) for c in cutoffs})
    rows = []
    for s in cs:
        train = tuple(t for t in cs if t + timedelta(days=horizon_days) <= s)[-max_train:]
        if train:
            rows.append({"scored_cutoff": s, "train_cutoffs": train, "n_train": len(train)})
    return pd.DataFrame(rows[-n_scored:], columns=["scored_cutoff", "train_cutoffs", "n_train"])


@dataclass(frozen=True)
class Backtest:
    """Result of `run_backtest`.

    predictions: cutoff, partner_id, churned, model, score (one row per partner x cutoff x model).
    metrics: per cutoff and model (roc_auc, pr_auc, brier, top10_capture, n, churn_rate).
    summary: metrics averaged over cutoffs per model, best ROC AUC first.
    plan: the training plan (backtest_plan). odds: odds ratios of the last logit fitted.
    tuning: hyper-parameters chosen per scored cutoff and candidate, on its training cutoffs only.
    winner: name of the model with the best mean ROC AUC; margin: its lead over the runner-up.
    """

    predictions: pd.DataFrame
    metrics: pd.DataFrame
    summary: pd.DataFrame
    plan: pd.DataFrame
    odds: pd.DataFrame
    winner: str
    margin: float
    horizon_days: int
    tuning: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["scored_cutoff", "model", "params"]))

    @property
    def ranked(self) -> bool:
        """False when no scored cutoff had both churners and stayers (every ROC AUC undefined)."""
        return bool(self.summary["roc_auc"].notna().any())


def paired_wins(metrics: pd.DataFrame, a: str, b: str) -> int:
    """Number of cutoffs at which model `a` has a higher ROC AUC than model `b`."""
    m = metrics.pivot_table(index="cutoff", columns="model", values="roc_auc", dropna=False)
    if a not in m.columns or b not in m.columns:
        return 0
    return int((m[a] > m[b]).sum())


def run_backtest(
    frames: dict[date, pd.DataFrame],
    *,
    horizon_days: int = 90,
    n_scored: int = 6,
    seed: int = 0,
    candidates: Sequence[str] = CANDIDATES,
) -> Backtest:
    """Rolling-origin backtest over labelled cutoff frames (cutoff_frame output keyed by cutoff date).

    Each scored cutoff s gets models trained only on cutoffs t with t + horizon_days <= s (expanding
    window of the latest MAX_TRAIN_CUTOFFS), and the baselines computed from s's own drivers.
    """
    frames = {_day(k): v for k, v in frames.items()}
    plan = backtest_plan(frames, horizon_days=horizon_days, n_scored=n_scored)
    if plan.empty:
        raise NotEnoughData(
            f"A backtest needs two cutoffs at least {horizon_days} days apart with labels; the store has too "
            "little history, so the risk list is ranked without a backtest."
        )
    preds: list[pd.DataFrame] = []
    tuning: list[dict] = []
    odds = pd.DataFrame(columns=["feature", "coef_per_sd", "odds_ratio_per_sd"])
    for s, train in zip(plan["scored_cutoff"], plan["train_cutoffs"], strict=True):
        test = frames[s]
        tr = pd.concat([frames[t] for t in train], ignore_index=True)
        if test.empty or tr.empty:  # nobody active at the cutoff or on its training cutoffs
            continue
        cols = usable_columns(tr)
        Xtr, ytr = design_matrix(tr, cols), tr["churned"].to_numpy(bool).astype(int)
        Xte = design_matrix(test, cols)
        scores: dict[str, np.ndarray] = {}
        for name in candidates:
            params = tune(name, Xtr.to_numpy(float), ytr, cutoffs=tr["cutoff"].to_numpy(), seed=seed, columns=cols)
            tuning.append({"scored_cutoff": s, "model": name, "params": params})
            model = _fit_candidate(name, Xtr, ytr, seed=seed, cutoffs=tr["cutoff"].to_numpy(), params=params)
            scores[name] = _predict(model, Xte)
            if name == "logit" and not isinstance(model, ConstantRate):
                odds = odds_ratios(model, cols)
        scores.update(baseline_scores(test, seed=seed))
        for name, sc in scores.items():
            preds.append(
                pd.DataFrame(
                    {
                        "cutoff": pd.Timestamp(s),
                        "partner_id": test["partner_id"].to_numpy(),
                        "churned": test["churned"].to_numpy(bool),
                        "model": name,
                        "score": sc,
                    }
                )
            )
    if not preds:
        raise NotEnoughData("No partner was active at the backtest's cut-offs, so the risk list is ranked without a backtest.")
    predictions = pd.concat(preds, ignore_index=True)
    scored = {_day(c) for c in predictions["cutoff"].unique()}
    plan = plan[plan["scored_cutoff"].isin(scored)].reset_index(drop=True)
    metrics = metrics_table(predictions)
    summary = _summary(metrics)
    margin = float(summary["roc_auc"].iloc[0] - summary["roc_auc"].iloc[1])
    return Backtest(predictions, metrics, summary, plan, odds, str(summary["model"].iloc[0]), margin, horizon_days,
                    pd.DataFrame(tuning, columns=["scored_cutoff", "model", "params"]))


def top_capture(y: Any, score: Any, share: float = 0.10) -> float:
    """Share of all churners found among the `share` highest-risk partners (ties broken by order)."""
    y = np.asarray(y, dtype=bool)
    score = np.nan_to_num(np.asarray(score, dtype=float), nan=-np.inf)
    if y.sum() == 0:
        return float("nan")
    k = max(1, int(math.ceil(share * len(y))))
    top = np.argsort(-score, kind="stable")[:k]
    return float(y[top].sum() / y.sum())


def metrics_table(predictions: pd.DataFrame) -> pd.DataFrame:
    """ROC AUC, PR AUC, Brier (probability models only), top-10% capture per cutoff and model."""
    from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

    rows = []
    for (cutoff, model), g in predictions.groupby(["cutoff", "model"], sort=True):
        y = g["churned"].to_numpy(bool)
        sc = np.nan_to_num(g["score"].to_numpy(float), nan=np.nanmin(g["score"]) if g["score"].notna().any() else 0)
        both = 0 < y.sum() < len(y)
        rows.append(
            {
                "cutoff": cutoff,
                "model": model,
                "n": len(g),
                "churn_rate": float(y.mean()),
                "roc_auc": roc_auc_score(y, sc) if both else np.nan,
                "pr_auc": average_precision_score(y, sc) if both else np.nan,
                "brier": brier_score_loss(y, np.clip(sc, 0, 1)) if model in PROBABILISTIC else np.nan,
                "top10_capture": top_capture(y, sc, 0.10),
            }
        )
    return pd.DataFrame(rows)


def _summary(metrics: pd.DataFrame) -> pd.DataFrame:
    """Metrics averaged over cutoffs per model, best mean ROC AUC first, with the kind (candidate/baseline)."""
    s = (
        metrics.groupby("model", sort=False)[["roc_auc", "pr_auc", "brier", "top10_capture", "churn_rate"]]
        .mean()
        .reset_index()
    )
    s["roc_auc_sd"] = metrics.groupby("model", sort=False)["roc_auc"].std().to_numpy()
    s["kind"] = np.where(s["model"].isin(CANDIDATES), "candidate", "baseline")
    s = s.sort_values("roc_auc", ascending=False).reset_index(drop=True)
    return s[["model", "kind", "roc_auc", "roc_auc_sd", "pr_auc", "brier", "top10_capture", "churn_rate"]]


def winner(bt: Backtest) -> str:
    """Name of the backtest winner (best mean ROC AUC over the scored cutoffs)."""
    return bt.winner


def calibration_table(predictions: pd.DataFrame, *, model: str, bins: int = 10) -> pd.DataFrame:
    """Predicted vs observed churn rate by risk decile (pooled over cutoffs): bin, n, mean_predicted, observed."""
    g = predictions[predictions["model"] == model]
    q = pd.qcut(g["score"].rank(method="first"), q=min(bins, len(g)), labels=False)
    out = (
        g.assign(bin=q + 1)
        .groupby("bin")
        .agg(n=("churned", "size"), mean_predicted=("score", "mean"), observed=("churned", "mean"))
        .reset_index()
    )
    out["model"] = model
    return out


def calibration_tables(predictions: pd.DataFrame, *, models: Sequence[str], bins: int = 10) -> pd.DataFrame:
    """calibration_table for each of `models` present in the predictions, stacked (empty when none is)."""
    have = set(predictions["model"])
    parts = [calibration_table(predictions, model=m, bins=bins) for m in models if m in have]
    if not parts:
        return pd.DataFrame(columns=["bin", "n", "mean_predicted", "observed", "model"])
    return pd.concat(parts, ignore_index=True)


def roc_points(predictions: pd.DataFrame, *, models: Sequence[str] | None = None, max_points: int = 200) -> pd.DataFrame:
    """ROC curve points per model pooled over cutoffs: model, fpr, tpr (at most max_points per model)."""
    from sklearn.metrics import roc_curve

    out = []
    for m, g in predictions.groupby("model", sort=False):
        if models is not None and m not in models:
            continue
        sc = g["score"].fillna(g["score"].min())
        fpr, tpr, _ = roc_curve(g["churned"], sc)
        idx = np.unique(np.linspace(0, len(fpr) - 1, min(max_points, len(fpr))).astype(int))
        out.append(pd.DataFrame({"model": m, "fpr": fpr[idx], "tpr": tpr[idx]}))
    return pd.concat(out, ignore_index=True)


def gains_table(predictions: pd.DataFrame, *, models: Sequence[str] | None = None, steps: int = 20) -> pd.DataFrame:
    """Cumulative gains and lift per model: model, share_flagged, share_captured, lift (per cutoff, averaged)."""
    rows = []
    shares = np.linspace(1 / steps, 1.0, steps)
    for (m, _c), g in predictions.groupby(["model", "cutoff"], sort=False):
        if models is not None and m not in models:
            continue
        y = g["churned"].to_numpy(bool)
        if y.sum() == 0:
            continue
        sc = np.nan_to_num(g["score"].to_numpy(float), nan=-np.inf)
        for s in shares:
            cap = top_capture(y, sc, s)
            rows.append({"model": m, "share_flagged": round(float(s), 4), "share_captured": cap, "lift": cap / s})
    if not rows:  # no cutoff had a partner who churned (e.g. a one-partner region): nothing to rank
        return pd.DataFrame(columns=["model", "share_flagged", "share_captured", "lift"])
    return pd.DataFrame(rows).groupby(["model", "share_flagged"], sort=False).mean().reset_index()


def default_cutoffs(con: Any, *, as_of: DatesLike | None = None, horizon_days: int = 90, region: str | None = None) -> list[date]:
    """Quarter ends whose labels are observable by `as_of` (or by the last order in the store),
    from the first quarter end with 180 days of order history."""
    start, last = _data_span(_tables(con, region))
    end = last if as_of is None else min(_day(as_of), last)
    first = start + timedelta(days=ACTIVE_DAYS - 1)
    return quarterly_cutoffs(first=first, last=end - timedelta(days=horizon_days))


MIN_SCORED = 2  # a design is preferred when it scores at least this many cutoffs out of time
SHORT_ACTIVE_DAYS = 90  # activity window when the history is too short for the glossary's 180 days


def min_history_days(horizon_days: int = 90) -> int:
    """Least order history (days) for an honest out-of-time backtest: a SHORT_ACTIVE_DAYS activity
    window before a training cutoff, whose label (horizon_days) is known by a scored cutoff, whose
    own label is known by the last order: SHORT_ACTIVE_DAYS + 2 × horizon_days."""
    return SHORT_ACTIVE_DAYS + 2 * int(horizon_days)


@dataclass(frozen=True)
class BacktestDesign:
    """How the backtest is cut for this store's history (see backtest_design).

    cutoffs: the labelled cutoffs (ascending); cadence: 'quarterly' or 'monthly'; active_days:
    the activity window defining the churn population; first_order/last_order: the history;
    horizon_days: the churn horizon.
    """

    cutoffs: tuple[date, ...]
    cadence: str
    active_days: int
    first_order: date
    last_order: date
    horizon_days: int

    @property
    def history_days(self) -> int:
        """Days from the first to the last order, both included."""
        return (self.last_order - self.first_order).days + 1

    @property
    def short(self) -> bool:
        """True when the history forced monthly cutoffs or a shorter activity window."""
        return self.cadence != "quarterly" or self.active_days != ACTIVE_DAYS


def backtest_design(
    con: Any, *, as_of: DatesLike | None = None, horizon_days: int = 90, region: str | None = None
) -> BacktestDesign:
    """Cutoffs and activity window for the backtest, adapted to the history up to `as_of`.

    The glossary's design first: quarter ends from the first one with 180 days of history. When that
    scores fewer than MIN_SCORED cutoffs out of time, month ends with the 180-day window, then month
    ends with a SHORT_ACTIVE_DAYS window (the first design scoring MIN_SCORED wins, else the first
    scoring one). Below min_history_days(horizon_days) of orders no honest
    out-of-time test exists: raises NotEnoughData saying so.
    """
    from workbench.errors import NotEnoughData

    start, last = _data_span(_tables(con, region))
    end = last if as_of is None else min(_day(as_of), last)
    h = int(horizon_days)
    fallback = None
    for cadence, active in (("quarterly", ACTIVE_DAYS), ("monthly", ACTIVE_DAYS), ("monthly", SHORT_ACTIVE_DAYS)):
        make = quarterly_cutoffs if cadence == "quarterly" else monthly_cutoffs
        cuts = make(first=start + timedelta(days=active - 1), last=end - timedelta(days=h))
        n = len(backtest_plan(cuts, horizon_days=h))
        if n >= MIN_SCORED:
            return BacktestDesign(tuple(cuts), cadence, active, start, end, h)
        if n and fallback is None:
            fallback = BacktestDesign(tuple(cuts), cadence, active, start, end, h)
    if fallback is not None:
        return fallback
    days = (end - start).days + 1
    raise NotEnoughData(
        f"The orders span {days} days ({start} to {end}); an out-of-time backtest with a {h}-day horizon "
        f"needs at least {min_history_days(h)}, so the risk list below is ranked by the BG/NBD model "
        "alone, without a backtest."
    )


def backtest(
    con: Any,
    *,
    as_of: DatesLike | None = None,
    horizon_days: int = 90,
    n_scored: int = 6,
    region: str | None = None,
    seed: int = 0,
    frames: dict[date, pd.DataFrame] | None = None,
) -> Backtest:
    """Rolling-origin backtest on the store: the cutoffs of backtest_design (quarterly when the history
    allows, else monthly) whose labels are observable by `as_of` (default: the last order in the
    store), the last `n_scored` of them scored."""
    if frames is None:
        d = backtest_design(con, as_of=as_of, horizon_days=horizon_days, region=region)
        frames = cutoff_frames(con, d.cutoffs, horizon_days=horizon_days, region=region, active_days=d.active_days)
    return run_backtest(frames, horizon_days=horizon_days, n_scored=n_scored, seed=seed)


# --------------------------------------------------------------------------------------------
# Forward value backtest and the check against a known truth
# --------------------------------------------------------------------------------------------

VALUE_METHODS: tuple[str, ...] = ("churn_model", "bgnbd_gg", "trailing")


def value_predictions(frames: dict[date, pd.DataFrame], bt: Backtest) -> pd.DataFrame:
    """Predicted and actual non-return sales in the horizon per partner at each scored cutoff.

    Methods: churn_model = (1 - the backtest winner's out-of-time risk) × BG/NBD × Gamma-Gamma sales
    given at least one order (expected_sales / (1 - P(no order))); bgnbd_gg = expected_sales;
    trailing = net sales of the last horizon_days (the last 90 days scaled to the horizon).
    Columns: cutoff, partner_id, method, predicted, actual (frames need sales_next: labels=True).
    """
    h = bt.horizon_days
    win = bt.predictions[bt.predictions["model"] == bt.winner]
    rows = []
    for c, g in win.groupby("cutoff", sort=True):
        f = frames[_day(c)].set_index("partner_id")
        risk = g.set_index("partner_id")["score"].reindex(f.index).clip(0, 1).to_numpy(float)
        exp_sales = f["expected_sales"].to_numpy(float)
        p_none = f["bg_p_no_order"].clip(upper=1 - 1e-9).to_numpy(float)
        given_order = exp_sales / (1.0 - p_none)
        pred = {
            "churn_model": (1.0 - risk) * given_order,
            "bgnbd_gg": exp_sales,
            "trailing": f["sales_90d"].clip(lower=0).to_numpy(float) * h / 90.0,
        }
        actual = f["sales_next"].clip(lower=0).to_numpy(float)
        for m, p in pred.items():
            rows.append(pd.DataFrame({"cutoff": c, "partner_id": f.index.to_numpy(), "method": m,
                                      "predicted": np.nan_to_num(p, nan=0.0), "actual": actual}))
    return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(
        columns=["cutoff", "partner_id", "method", "predicted", "actual"])


def value_metrics(values: pd.DataFrame) -> pd.DataFrame:
    """Per cutoff and method: Spearman rank correlation of predicted with actual sales, share of all
    actual sales held by the top 20% predicted (top20_capture), and total predicted / total actual."""
    from scipy.stats import spearmanr

    rows = []
    for (c, m), g in values.groupby(["cutoff", "method"], sort=True):
        p, a = g["predicted"].to_numpy(float), g["actual"].to_numpy(float)
        k = max(1, int(math.ceil(0.2 * len(g))))
        top = np.argsort(-p, kind="stable")[:k]
        rho = spearmanr(p, a).statistic if len(g) > 2 and np.ptp(p) > 0 and np.ptp(a) > 0 else np.nan
        rows.append({"cutoff": c, "method": m, "n": len(g), "spearman": float(rho),
                     "top20_capture": float(a[top].sum() / a.sum()) if a.sum() > 0 else np.nan,
                     "total_ratio": float(p.sum() / a.sum()) if a.sum() > 0 else np.nan})
    return pd.DataFrame(rows, columns=["cutoff", "method", "n", "spearman", "top20_capture", "total_ratio"])


def truth_oracle(partner_month: pd.DataFrame, cutoffs: Iterable[DatesLike], *, horizon_days: int = 90) -> pd.DataFrame:
    """The generator's truth at each cutoff for the partners alive in truth in the cutoff's month:
    cutoff, partner_id, p_true (true probability of stopping for good within the horizon, from the
    monthly hazards) and died (the partner did stop: alive in the cutoff's month, not in the last
    month starting within the horizon). partner_month: a synthetic store's truth.partner_month."""
    from workbench.synth import true_churn_probability

    month = pd.to_datetime(partner_month["month"])
    alive = partner_month["alive"].astype(bool)
    parts = []
    for c in sorted({_day(c) for c in cutoffs}):
        ts = pd.Timestamp(c)
        o = true_churn_probability(partner_month, as_of=c, horizon_days=horizon_days)
        last = month[(month > ts) & (month <= ts + pd.Timedelta(days=int(horizon_days)))].max()
        still = set(partner_month.loc[(month == last) & alive, "partner_id"]) if pd.notna(last) else set(o["partner_id"])
        parts.append(pd.DataFrame({"cutoff": ts, "partner_id": o["partner_id"], "p_true": o["p_churn"],
                                   "died": ~o["partner_id"].isin(still)}))
    if not parts:
        return pd.DataFrame(columns=["cutoff", "partner_id", "p_true", "died"])
    return pd.concat(parts, ignore_index=True)


def truth_table(predictions: pd.DataFrame, oracle: pd.DataFrame, *, bins: int = 10) -> pd.DataFrame:
    """Each model judged among the partners alive in truth at the cutoff (a synthetic world's oracle).

    oracle: cutoff, partner_id, p_true (true probability of stopping within the horizon), one row per
    partner alive in truth, and optionally died (truth_oracle). Per model, pooled over cutoffs: n,
    label_rate (observed churn label among the alive), auc_label (ROC AUC against that label),
    auc_oracle (the true probability's AUC on the same rows), spearman_truth (rank correlation of score
    with the true probability), with died: auc_truth / auc_truth_oracle (the score's and the true
    probability's ROC AUC against truly stopping within the horizon) and died_rate; brier (against the
    label), brier_truth (mean squared distance to the true probability), ece (expected calibration
    error over risk deciles against the label) and mean_score / mean_true.
    """
    from scipy.stats import spearmanr
    from sklearn.metrics import roc_auc_score

    o = oracle.assign(cutoff=pd.to_datetime(oracle["cutoff"]))
    m = predictions.assign(cutoff=pd.to_datetime(predictions["cutoff"])).merge(o, on=["cutoff", "partner_id"])
    rows = []
    for model, g in m.groupby("model", sort=False):
        y, s, t = g["churned"].to_numpy(bool), g["score"].to_numpy(float), g["p_true"].to_numpy(float)
        both = 0 < y.sum() < len(y)
        prob = model in PROBABILISTIC
        cal = calibration_table(g, model=model, bins=bins) if prob and len(g) >= bins else None
        rows.append({
            "model": model, "n": len(g), "label_rate": float(y.mean()),
            "auc_label": roc_auc_score(y, s) if both else np.nan,
            "auc_oracle": roc_auc_score(y, t) if both else np.nan,
            **_died_aucs(g, s, t),
            "spearman_truth": float(spearmanr(s, t).statistic) if np.ptp(s) > 0 and np.ptp(t) > 0 else np.nan,
            "brier": float(np.mean((np.clip(s, 0, 1) - y) ** 2)) if prob else np.nan,
            "brier_truth": float(np.mean((np.clip(s, 0, 1) - t) ** 2)) if prob else np.nan,
            "ece": float((cal["n"] * (cal["mean_predicted"] - cal["observed"]).abs()).sum() / cal["n"].sum())
            if cal is not None else np.nan,
            "mean_score": float(s.mean()) if prob else np.nan, "mean_true": float(t.mean()),
        })
    return pd.DataFrame(rows).sort_values("auc_label", ascending=False).reset_index(drop=True)


def _died_aucs(g: pd.DataFrame, score: np.ndarray, p_true: np.ndarray) -> dict[str, float]:
    """died_rate, auc_truth and auc_truth_oracle of truth_table (NaN without a died column or with one class)."""
    from sklearn.metrics import roc_auc_score

    if "died" not in g.columns:
        return {"died_rate": np.nan, "auc_truth": np.nan, "auc_truth_oracle": np.nan}
    d = g["died"].to_numpy(bool)
    both = 0 < d.sum() < len(d)
    return {"died_rate": float(d.mean()),
            "auc_truth": roc_auc_score(d, score) if both else np.nan,
            "auc_truth_oracle": roc_auc_score(d, p_true) if both else np.nan}
