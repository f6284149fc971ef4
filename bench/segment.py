"""Benchmark: fit the Segmenter (k over 2–8, bootstrap stability) on 20,000 partners; target < 60 s on 2 cores.

Run: .venv/bin/python bench/segment.py [--rows 20000] [--algorithms kmeans,gmm] [--mode easy|realistic]
The synthetic network is generated large enough (34,000 partners over 36 months) that about 20,000
partners have sales in the last 365 days; the first `--rows` of them are fitted. Prints the feature build time, the fit time per algorithm, the chosen k, the ARI against the planted
segments and the selection table.
"""

from __future__ import annotations

import argparse
import os
import time
import warnings

import ibis
import numpy as np
from sklearn.metrics import adjusted_rand_score

from workbench import segment as sg
from workbench.synth import generate

TARGET_S = 60.0


def main() -> None:
    """Generate the network, build the features, fit and print the figures."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rows", type=int, default=20_000)
    ap.add_argument("--partners", type=int, default=34_000)
    ap.add_argument("--algorithms", default="kmeans,gmm")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--mode", default="easy", help="synthetic world: easy or realistic")
    args = ap.parse_args()
    warnings.filterwarnings("ignore")

    t = time.perf_counter()
    net = generate(partners=args.partners, months=36, seed=args.seed, mode=args.mode)
    con = ibis.duckdb.connect()
    for name, frame in net.tables.items():
        con.create_table(name, frame)
    print(f"synthetic network: {args.partners:,} partners, {len(net.tables['orders']):,} order lines "
          f"({time.perf_counter() - t:.1f} s)")

    t = time.perf_counter()
    feats = sg.cluster_features(con, as_of="2026-09-30")
    feats = feats.iloc[: args.rows]
    X = feats.drop(columns="partner_id")
    truth = net.truth["partners"].set_index("partner_id")["segment"].reindex(feats["partner_id"]).to_numpy()
    print(f"cluster_features: fitting {len(X):,} partners with sales in the last 365 days × {X.shape[1]} features "
          f"in {time.perf_counter() - t:.1f} s")

    cores = os.cpu_count() or 1
    for algorithm in args.algorithms.split(","):
        seg = sg.make_segmenter(algorithm=algorithm, seed=0, n_jobs=min(2, cores))
        t = time.perf_counter()
        seg.fit(X)
        took = time.perf_counter() - t
        ari = adjusted_rand_score(truth, seg.labels_)
        verdict = "OK" if took < TARGET_S else "OVER TARGET"
        print(f"\n{algorithm}: fit with k search 2–8 and {seg.n_bootstrap} bootstrap resamples per k: "
              f"{took:.1f} s (target < {TARGET_S:.0f} s: {verdict}); chosen k = {seg.n_clusters_}; "
              f"ARI vs planted segments = {ari:.3f}")
        print(seg.selection_.round(3).to_string(index=False))
        print("clusters:", "; ".join(f"{i}: {n}" for i, n in seg.cluster_names_.items()))
        t = time.perf_counter()
        seg.predict(X)
        print(f"predict {len(X):,} partners: {time.perf_counter() - t:.2f} s")
    print(f"\nload average during the run: {np.round(os.getloadavg(), 2).tolist()} on {cores} cores")


if __name__ == "__main__":
    main()
