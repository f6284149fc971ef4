"""Benchmark: does the segmentation recover known groups? ARI per method on the easy and realistic
synthetic worlds (planted segments, 5 seeds each) and on the UCI Wholesale customers data (Channel).

Run: .venv/bin/python bench/segment_ari.py [--seeds 0,1,2,3,4] [--partners 3000]
Prints one Markdown table (pasted into docs/segment.md) and the per-run rows. Methods: the chosen
segmentation (`make_segmenter()` defaults on `cluster_features`: KMeans, k by silhouette + stability);
the same with a Gaussian mixture (`algorithm="gmm"`); baselines from `segment.compare_baselines`:
KMeans on standardised log spend per line (k by silhouette, 2–8) and a full-covariance GMM on the same
features (2–8 components by BIC); and, as a reference a user could not run, KMeans on log spend with
the true number of groups, and a full-covariance GMM on log spend with the true number of groups.
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import ibis
import numpy as np
import pandas as pd
from sklearn.metrics import adjusted_rand_score
from sklearn.mixture import GaussianMixture

from workbench import segment as sg
from workbench.segment.compositional import clr
from workbench.segment.selection import kmeans_log_spend
from workbench.synth import generate

AS_OF = "2026-09-30"
WHOLESALE = Path(__file__).resolve().parents[1] / "tests" / "data" / "wholesale_customers" / "wholesale_customers.csv"


def _rows(feats: pd.DataFrame, spend: np.ndarray, y: np.ndarray, seed: int) -> list[dict]:
    X = feats.drop(columns="partner_id")
    out = []
    t = time.perf_counter()
    seg = sg.make_segmenter(seed=seed).fit(X)
    took = time.perf_counter() - t
    cmp = sg.compare_baselines(seg, X, spend, truth=y, seed=seed)
    names = {"chosen (kmeans)": "chosen: Segmenter (KMeans, clr mix)", "kmeans_log_spend": "KMeans, log spend (k by silhouette)",
             "gmm_same_features": "GMM full cov., same features (k by BIC)"}
    for r in cmp.itertuples():
        out.append({"method": names.get(r.method, r.method), "ari": r.ari_truth, "k": r.k})
    gmm = sg.make_segmenter(seed=seed, algorithm="gmm").fit(X)
    out.append({"method": "Segmenter (GMM, clr mix)", "ari": adjusted_rand_score(y, gmm.labels_), "k": gmm.n_clusters_})
    k_true = len(np.unique(y))
    lab, _, _ = kmeans_log_spend(spend, seed=seed, k=k_true)
    out.append({"method": "reference: KMeans, log spend, true k", "ari": adjusted_rand_score(y, lab), "k": k_true})
    Z = np.log1p(np.clip(spend, 0, None))
    g = GaussianMixture(n_components=k_true, covariance_type="full", reg_covar=1e-4, n_init=3, random_state=seed)
    out.append({"method": "reference: GMM full cov., log spend, true k", "ari": adjusted_rand_score(y, g.fit(Z).predict(Z)),
                "k": k_true})
    out[0]["fit_s"] = took
    return out


def synthetic(mode: str, seed: int, partners: int) -> list[dict]:
    """ARI rows for one synthetic world."""
    net = generate(partners=partners, months=36, seed=seed, mode=mode)
    con = ibis.duckdb.connect()
    for name, frame in net.tables.items():
        con.create_table(name, frame)
    feats = sg.cluster_features(con, as_of=AS_OF)
    spend = sg.product_mix_wide(sg.product_mix(con, as_of=AS_OF, top_lines=sg.DEFAULT_TOP_LINES).to_pandas(),
                                value="net_sales", prefix="")
    spend = spend.set_index("partner_id").reindex(feats["partner_id"]).fillna(0.0).to_numpy()
    y = net.truth["partners"].set_index("partner_id")["segment"].reindex(feats["partner_id"]).to_numpy()
    rows = _rows(feats, spend, y, seed)
    for r in rows:
        r.update(world=mode, seed=seed, partners=len(feats))
    return rows


def wholesale_features(frame: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
    """The Wholesale table as the workbench's features: total spend, line breadth and clr of the six
    categories (no zeros in the data), plus the spend matrix."""
    cats = ["Fresh", "Milk", "Grocery", "Frozen", "Detergents_Paper", "Delicassen"]
    spend = frame[cats].to_numpy(dtype=float)
    share = spend / spend.sum(axis=1, keepdims=True)
    feats = pd.DataFrame({"partner_id": np.arange(len(frame)), "net_sales_365d": spend.sum(axis=1),
                          "line_breadth": np.exp(-(share * np.log(share)).sum(axis=1))})
    c = clr(spend)
    for j, cat in enumerate(cats):
        feats[f"clr_{cat}"] = c[:, j]
    return feats, spend


def wholesale(seed: int) -> list[dict]:
    """ARI rows for the UCI Wholesale customers data against Channel (Horeca / Retail)."""
    frame = pd.read_csv(WHOLESALE)
    feats, spend = wholesale_features(frame)
    rows = _rows(feats, spend, frame["Channel"].to_numpy(), seed)
    for r in rows:
        r.update(world="wholesale (UCI, Channel)", seed=seed, partners=len(feats))
    return rows


def main() -> None:
    """Run every world and seed; print the summary table and the runs."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seeds", default="0,1,2,3,4")
    ap.add_argument("--partners", type=int, default=3000)
    ap.add_argument("--worlds", default="easy,realistic,wholesale")
    args = ap.parse_args()
    warnings.filterwarnings("ignore")
    seeds = [int(s) for s in args.seeds.split(",")]
    rows: list[dict] = []
    for world in args.worlds.split(","):
        for seed in (seeds if world != "wholesale" else [0]):
            t = time.perf_counter()
            rows += wholesale(seed) if world == "wholesale" else synthetic(world, seed, args.partners)
            print(f"{world} seed {seed}: {time.perf_counter() - t:.0f} s", flush=True)
    df = pd.DataFrame(rows)
    print(df.round(3).to_string(index=False))
    order = list(dict.fromkeys(df["method"]))
    summary = df.groupby(["method", "world"], sort=False)["ari"].agg(["mean", "min"]).unstack("world")
    k = df.groupby(["method", "world"], sort=False)["k"].agg(lambda s: "/".join(str(int(v)) for v in s)).unstack("world")
    worlds = list(dict.fromkeys(df["world"]))
    lines = ["| method | " + " | ".join(worlds) + " |", "|---|" + "---|" * len(worlds)]
    for m in order:
        cells = []
        for wld in worlds:
            mean, lo = summary.loc[m, ("mean", wld)], summary.loc[m, ("min", wld)]
            cells.append(f"{mean:.2f} (min {lo:.2f}; k {k.loc[m, wld]})" if wld != "wholesale (UCI, Channel)"
                         else f"{mean:.2f} (k {k.loc[m, wld]})")
        lines.append(f"| {m} | " + " | ".join(cells) + " |")
    print("\n" + "\n".join(lines))


if __name__ == "__main__":
    main()
