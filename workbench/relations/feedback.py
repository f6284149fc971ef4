"""Partner feedback: survey comments grouped into themes (Chinese via jieba, English by words), with scores."""

from __future__ import annotations

import logging
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from workbench.config import from_dict, load_yaml
from workbench.paths import config_file
from workbench.vocab import Scope

OTHER = "other"
_HAN = re.compile(r"[\u3400-\u9fff]")
_WORD = re.compile(r"[a-z][a-z'\-]*[a-z]")


@dataclass(frozen=True)
class ThemeWords:
    """Keywords of one theme: Chinese (substring match) and English (whole words)."""

    zh: list[str] = field(default_factory=list)
    en: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Stopwords:
    """Words left out of term counts."""

    zh: list[str] = field(default_factory=list)
    en: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class FeedbackThemes:
    """Theme lexicon (config/feedback.yaml)."""

    themes: dict[str, ThemeWords]
    stopwords: Stopwords = field(default_factory=Stopwords)


def load_feedback_themes(source: str | Path | dict | FeedbackThemes | None = None) -> FeedbackThemes:
    """The theme lexicon from `source` (a YAML path, dict, or None for config/feedback.yaml)."""
    if isinstance(source, FeedbackThemes):
        return source
    if isinstance(source, dict):
        return from_dict(FeedbackThemes, source, where="feedback themes")
    path = Path(source) if source else config_file("feedback.yaml")
    return from_dict(FeedbackThemes, load_yaml(path), where=str(path))


def _themes_of(text: str, lexicon: FeedbackThemes) -> list[str]:
    """The themes whose keywords `text` contains (Chinese as substrings, English as whole words)."""
    lower = text.lower()
    words = set(_WORD.findall(lower))
    found = [name for name, kw in lexicon.themes.items()
             if any(k in text for k in kw.zh) or any(k.lower() in words for k in kw.en)]
    return found or [OTHER]


def comment_themes(surveys: pd.DataFrame, lexicon: FeedbackThemes | None = None) -> pd.DataFrame:
    """One row per (survey, theme) for surveys with a non-empty comment: survey columns plus `theme` and `lang`.

    surveys: survey_id, partner_id, satisfaction, comment (and any grouping columns, e.g. tier, region).
    `lang` is "zh" when the comment contains Han characters, else "en".
    """
    lexicon = lexicon or load_feedback_themes()
    s = surveys[surveys["comment"].notna()].copy()
    s["comment"] = s["comment"].astype(str).str.strip()
    s = s[s["comment"] != ""]
    s["lang"] = s["comment"].map(lambda t: "zh" if _HAN.search(t) else "en")
    s["theme"] = s["comment"].map(lambda t: _themes_of(t, lexicon))
    return s.explode("theme").reset_index(drop=True)


def theme_summary(themed: pd.DataFrame, *, by: str | None = None) -> pd.DataFrame:
    """Per theme (and `by` group): comments, partners, share of commented surveys, mean satisfaction, gap.

    gap = the theme's mean satisfaction − the mean over all commented surveys of the same group (points
    on the 0–100 scale): negative themes pull satisfaction down.
    """
    keys = [by, "theme"] if by else ["theme"]
    frame = themed.copy()
    if by:
        frame[by] = frame[by].astype("string").fillna("unknown")
    per = frame.groupby(keys).agg(comments=("survey_id", "nunique"), partners=("partner_id", "nunique"),
                                  satisfaction=("satisfaction", "mean"))
    surveys = frame.drop_duplicates("survey_id")
    if by:
        totals = surveys.groupby(by).agg(total=("survey_id", "size"), overall=("satisfaction", "mean"))
        per = per.join(totals, on=by)
    else:
        per["total"], per["overall"] = len(surveys), surveys["satisfaction"].mean()
    per["share"] = per["comments"] / per["total"]
    per["gap"] = per["satisfaction"] - per["overall"]
    out = per.reset_index().drop(columns=["total", "overall"])
    return out.sort_values([*([by] if by else []), "comments"], ascending=[*([True] if by else []), False],
                           ignore_index=True)


def theme_quotes(themed: pd.DataFrame, *, per_theme: int = 3) -> pd.DataFrame:
    """Up to `per_theme` representative comments per theme: the most frequent distinct texts, ties by lower score.

    Returns theme, comment, times (how many surveys wrote it), satisfaction (their mean). The text is
    returned as written; the presentation layer escapes it.
    """
    g = themed.groupby(["theme", "comment"], as_index=False).agg(times=("survey_id", "nunique"),
                                                                 satisfaction=("satisfaction", "mean"))
    g = g.sort_values(["theme", "times", "satisfaction"], ascending=[True, False, True])
    return g.groupby("theme", sort=False).head(per_theme).reset_index(drop=True)


def _tokens(text: str, lexicon: FeedbackThemes) -> list[str]:
    """Content words of `text`: jieba words for Chinese, lower-case words for English, stopwords removed."""
    if _HAN.search(text):
        import jieba

        jieba.setLogLevel(logging.WARNING)  # its dictionary-loading lines would show on report pages
        stop = set(lexicon.stopwords.zh)
        return [w for w in jieba.lcut(text) if _HAN.search(w) and len(w) > 1 and w not in stop]
    stop = set(lexicon.stopwords.en)
    return [w for w in _WORD.findall(text.lower()) if w not in stop and len(w) > 2]


def top_terms(themed: pd.DataFrame, *, theme: str | None = OTHER, n: int = 10,
              lexicon: FeedbackThemes | None = None) -> pd.DataFrame:
    """The `n` most frequent content words in the comments of `theme` (None: all comments): term, count."""
    lexicon = lexicon or load_feedback_themes()
    rows = themed if theme is None else themed[themed["theme"] == theme]
    counts: Counter[str] = Counter()
    for text in rows.drop_duplicates("survey_id")["comment"]:
        counts.update(_tokens(text, lexicon))
    return pd.DataFrame(counts.most_common(n), columns=["term", "count"])


def surveys_from_store(con, *, as_of, region: str | Scope | None = None, days: int = 365) -> pd.DataFrame:
    """Surveys of the `days` up to `as_of` with the partner's region and network tier: survey_id, partner_id,
    survey_date, satisfaction, comment, region, tier (empty frame when the store has no surveys)."""
    import ibis

    from workbench import features, segment

    cut = pd.Timestamp(as_of).date()
    t = features.scoped_tables(con, region, as_of=cut)
    cols = ["survey_id", "partner_id", "survey_date", "satisfaction", "comment", "region", "tier"]
    if "surveys" not in t:
        return pd.DataFrame(columns=cols)
    s = t["surveys"]
    s = s.filter((s.survey_date <= ibis.literal(cut)) & (s.survey_date > ibis.literal(cut - pd.Timedelta(days=days))))
    frame = s.join(t["partners"].select("partner_id", "region"), "partner_id").select(cols[:-1]).to_pandas()
    if frame.empty:
        return pd.DataFrame(columns=cols)
    tiers = segment.partner_tiers(con, as_of=cut, region=Scope.parse(region).region)
    frame = frame.merge(tiers, on="partner_id", how="left")
    frame["tier"] = frame["tier"].fillna("pilot")
    frame["satisfaction"] = frame["satisfaction"].astype(float)
    return frame[cols]
