"""Planted contact lapses (opt-in, `generate(contact_lapse=...)`): visits and communications drawn at a
partner's own monthly contact rate, and a churn hazard raised by how long the partner has gone without
one. Drawn from a generator of its own (seeded by the world's seed), so a world without lapses is
bit-identical to one generated before this module existed.

Planted truth: at the start of month t, overdue_days = max(0, days since the last contact - CADENCE_DAYS)
(a partner onboarded before the window counts from the window's start); the hazard's logit gains
contact_lapse × min(overdue_days / 30, LAPSE_CAP_MONTHS).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from workbench.synth.params import ACTION_NOTES
from workbench.synth.world import _day_in_month, _frame, _ids, _pick, _to_datetime, _World

__all__ = ["CADENCE_DAYS", "LAPSE_CAP_MONTHS", "SEED_SALT", "contact_actions", "draw_contacts"]

CADENCE_DAYS = 60  # the planted rhythm: a contact at least every 60 days (growth tier's cadence)
LAPSE_CAP_MONTHS = 6.0  # the hazard stops rising six months past due
SEED_SALT = 18  # np.random.default_rng([seed, SEED_SALT]): the contacts' own stream
CONTACT_TYPES = ("visit", "communication")


def draw_contacts(seed: int, w: _World, contact_lapse: float) -> None:
    """Contacts per onboarded month (Bernoulli at a partner's own rate, 5–95% a month) and the hazard
    term they plant (w.hazard_extra, logit units, partner × month); masked by `alive` in contact_actions."""
    rng = np.random.default_rng([int(seed), SEED_SALT])
    n, T = w.n, w.T
    rate = rng.uniform(0.05, 0.95, size=n)
    has = (rng.random((n, T)) < rate[:, None]) & w.eligible
    k_p, k_t = np.nonzero(has)
    k_day = _day_in_month(rng, w, k_p, k_t)
    k_type = rng.integers(0, len(CONTACT_TYPES), size=len(k_p))
    # the latest contact day before each month start (window start for partners onboarded earlier)
    last = np.full((n, T + 1), -1, dtype=np.int64)
    last[:, 0] = np.maximum(w.onboard_day, w.window_start)
    np.maximum.at(last, (k_p, k_t + 1), k_day)
    last = np.maximum.accumulate(last, axis=1)[:, :T]
    overdue = np.maximum(w.month_start[None, :T] - last - CADENCE_DAYS, 0)
    extra = float(contact_lapse) * np.minimum(overdue / 30.0, LAPSE_CAP_MONTHS)
    w.arrays.update(k_p=k_p, k_t=k_t, k_day=k_day, k_type=k_type, hazard_extra=extra * w.eligible,
                    contact_overdue_days=overdue * w.eligible)


def contact_actions(w: _World, pid: pa.Array, actions: pd.DataFrame) -> pd.DataFrame:
    """`actions` with the contacts made while the partner was alive appended (ids continue the sequence)."""
    keep = w.alive[w.k_p, w.k_t]
    p, day, ty = w.k_p[keep], w.k_day[keep], w.k_type[keep]
    order = np.lexsort((p, day))
    p, day, ty = p[order], day[order], ty[order]
    first = len(actions) + 1
    extra = _frame("actions", {
        "action_id": _ids("A", np.arange(first, first + len(p)), 6),
        "partner_id": pc.take(pid, pa.array(p)),
        "action_date": _to_datetime(day),
        "action_type": _pick(CONTACT_TYPES, ty),
        "note": _pick([ACTION_NOTES[c] for c in CONTACT_TYPES], ty),
    })
    out = pd.concat([actions, extra], ignore_index=True)
    return out.sort_values(["action_date", "partner_id"], kind="stable").reset_index(drop=True)
