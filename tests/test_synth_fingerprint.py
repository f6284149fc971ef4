"""Fingerprint of the synthetic generators: every table of a few small worlds hashes to a recorded value.

The planted truths other tests rely on are only as stable as the generator's output; this test pins it
for small worlds (easy and realistic, SKU codes, dirty exports, the action and incentive worlds) so that
a refactor that must not change any draw (such as splitting ``workbench.synth`` into modules) is checked
bit for bit. A deliberate change to the generator changes these hashes: run
``python -m tests.test_synth_fingerprint`` and paste the printed dictionary over ``EXPECTED``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest


def frame_hash(frame: pd.DataFrame) -> str:
    """First 16 hex digits of a SHA-256 over a frame's column names, dtypes and row values (index included)."""
    h = hashlib.sha256()
    h.update(repr([(str(c), str(t)) for c, t in frame.dtypes.items()]).encode())
    h.update(pd.util.hash_pandas_object(frame, index=True).to_numpy().tobytes())
    return h.hexdigest()[:16]


def _network(mode: str, seed: int, skus: bool = False) -> dict[str, pd.DataFrame]:
    """Tables and truth of one small generated network, keyed table / truth.<name>."""
    from workbench import synth

    net = synth.generate(partners=150, months=24, seed=seed, mode=mode, skus=skus)
    return {**net.tables, **{f"truth.{k}": v for k, v in net.truth.items()}}


def _dirty(tmp: Path) -> dict[str, pd.DataFrame]:
    """Planted defects, clean rows and the raw bytes of each file of the dirty exports of a small network."""
    from workbench import synth

    ex = synth.write_dirty_exports(synth.generate(partners=80, months=12, seed=4), tmp, seed=2, defects=2)
    files = {f"file.{k}": pd.DataFrame({"sha": [hashlib.sha256(p.read_bytes()).hexdigest()]})
             for k, p in ex.files.items() if p.suffix != ".xlsx"}  # xlsx embeds a timestamp
    return {"defects": ex.defects, **{f"clean.{k}": v for k, v in ex.clean.items()}, **files}


def _actions() -> dict[str, pd.DataFrame]:
    """Tables and truths of a small action world."""
    from workbench.synth import actions

    aw = actions.action_world(seed=1, partners=150, months=24)
    return {**aw.tables, "tiers": aw.tiers, "tier_effects": aw.tier_effects, "repeat_effects": aw.repeat_effects}


def _incentives() -> dict[str, pd.DataFrame]:
    """A small heterogeneous panel and pull-forward order book with their truths."""
    from workbench.synth import incentives

    p = incentives.heterogeneous_panel(partners=200, quarters=8, seed=3)
    o = incentives.pull_forward_orders(partners=100, quarters=4, seed=3)
    return {"panel": p.panel, "panel_truth": p.truth, "orders": o.orders, "orders_truth": o.truth}


WORLDS: dict[str, Callable[[Path], dict[str, pd.DataFrame]]] = {
    "easy-5": lambda _: _network("easy", 5),
    "easy-11": lambda _: _network("easy", 11),
    "realistic-3": lambda _: _network("realistic", 3),
    "realistic-8-skus": lambda _: _network("realistic", 8, skus=True),
    "dirty": _dirty,
    "actions": lambda _: _actions(),
    "incentives": lambda _: _incentives(),
}

# Session 5 (relations): the partners table gained the optional platform column (e-commerce partners get
# Tmall / JD / Pinduoduo by index, no draw), so every 'partners' hash changed; no other table did.
EXPECTED: dict[str, dict[str, str]] = {'easy-5': {'actions': '03a4d400c2290414',
            'conflicts': 'be77aa7fadd5c05b',
            'coverage': '47e3bd19eb6db076',
            'incentives': 'cb24e0757888c1c4',
            'orders': '5d4ef81112c438b6',
            'partners': 'beb32c777f86a810',
            'surveys': '5557a9a1dc0c365e',
            'trainings': '1a483246009e5b29',
            'truth.action_effects': '0d8703103044f6ba',
            'truth.params': 'f30795f68cc4ff08',
            'truth.partner_month': '0f1cbc77c1e5d339',
            'truth.partners': 'd42ee86bd38c14e5'},
 'easy-11': {'actions': '8e9686c1eda28ab6',
             'conflicts': '5795becc3a97f207',
             'coverage': 'fd31f82f6cfdd415',
             'incentives': 'fcf44b272688b540',
             'orders': 'acb4f35580df8c45',
             'partners': 'c4dc0efcb69f72a6',
             'surveys': 'd71858988375ee72',
             'trainings': 'd8f9468802271bc6',
             'truth.action_effects': '0d8703103044f6ba',
             'truth.params': '6fbff84e572bf08d',
             'truth.partner_month': '2cd83578f3d192df',
             'truth.partners': '421503940f0d0ee8'},
 'realistic-3': {'actions': '9d556ef753d3582f',
                 'conflicts': 'f5783c3f5378d661',
                 'coverage': 'd8487d381412ea47',
                 'incentives': 'bbfae08f46446331',
                 'orders': 'ae7cb0d9e1630553',
                 'partners': '36a60f29c3f23cf8',
                 'surveys': '9159e923d2d4447b',
                 'trainings': '778c3b53c23dc56c',
                 'truth.action_effects': '0d8703103044f6ba',
                 'truth.params': '00aee8c684a43582',
                 'truth.partner_month': '5c051622b02a5554',
                 'truth.partners': '3ba05c4415b7efd1',
                 'truth.skus': 'fe348f50dc1c80cc'},
 'realistic-8-skus': {'actions': 'ba0b24246c300c3a',
                      'conflicts': '4569f78d3e24a617',
                      'coverage': '620a8e8a22e75d9e',
                      'incentives': '97500d75b1be7bbe',
                      'orders': '9767aceee6a79ef5',
                      'partners': '34994ab441154f25',
                      'surveys': '3629fd51f21388ad',
                      'trainings': 'e0b78964f0e08807',
                      'truth.action_effects': '0d8703103044f6ba',
                      'truth.params': '9c177df31bd556f7',
                      'truth.partner_month': '3820791d2196911e',
                      'truth.partners': '7cbcddd1f6991fe3',
                      'truth.skus': 'fe348f50dc1c80cc'},
 'dirty': {'clean.incentives': '7fae691175c5ff61',
           'clean.orders': '057dab6570224f21',
           'clean.partners': 'a02cac31401c5478',
           'defects': 'a4d6c5599a065b1d',
           'file.orders': '2685370b6a82e8bc',
           'file.partners': '3c6ebf9af0777234'},
 'actions': {'actions': '5448d40e16f7b844',
             'conflicts': '5ea9f94f79bf813c',
             'coverage': 'b14f4328d8aab757',
             'incentives': '1dea8268011769fd',
             'orders': 'b5c8ad5c8b3bac4b',
             'partners': '387be86a541c201a',
             'repeat_effects': 'cf8e6c09cc303ee9',
             'surveys': '82c40538b56fe76f',
             'tier_effects': '445a1419a071b288',
             'tiers': '389b094c088a13d0',
             'trainings': '7062a7d40aec0c25'},
 'incentives': {'orders': '72782a3f4570bd58',
                'orders_truth': '39fc4104406bcd01',
                'panel': '552f24562dc61365',
                'panel_truth': '6cacaed661310e8c'}}


def fingerprints(world: str, tmp: Path) -> dict[str, str]:
    """Hash of every table of one named world."""
    return {k: frame_hash(v) for k, v in sorted(WORLDS[world](tmp).items())}


@pytest.mark.parametrize("world", list(WORLDS))
def test_generator_output_is_bit_identical(world: str, tmp_path: Path) -> None:
    assert fingerprints(world, tmp_path) == EXPECTED[world]


if __name__ == "__main__":
    import pprint
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        pprint.pprint({w: fingerprints(w, Path(d) / w) for w in WORLDS}, width=110, sort_dicts=False)
