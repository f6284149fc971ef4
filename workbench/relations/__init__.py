"""Relationship management: contact cadence, onboarding and activation, partner feedback, channel mix.

Analysis is language-neutral (frames and codes); words live in `workbench.present.relations`.

- `contacts`: last visit/communication per partner against the tier's cadence; adherence by group.
- `onboarding`: time to first and second order by cohort (Kaplan–Meier), ramp curves, added/activated per quarter.
- `feedback`: survey comments into themes (jieba for Chinese), by tier and region, with quotes and satisfaction.
- `channel_mix`: sales share, trend and concentration by channel type (and by e-commerce platform when
  partners record one), alerts, and a partner review list.
"""

from workbench.relations.channel_mix import (
    ChannelMixConfig,
    channel_alerts,
    channel_mix,
    channel_mix_from_store,
    has_platforms,
    load_channel_mix_config,
    partner_review,
    partner_review_from_store,
)
from workbench.relations.contacts import (
    CONTACT_TYPES,
    DEFAULT_CADENCE,
    contact_adherence,
    contact_cadence,
    contact_status,
    contacts_from_store,
    last_contacts,
)
from workbench.relations.feedback import (
    FeedbackThemes,
    comment_themes,
    load_feedback_themes,
    surveys_from_store,
    theme_quotes,
    theme_summary,
    top_terms,
)
from workbench.relations.onboarding import (
    activation_by_quarter,
    activation_durations,
    activation_from_store,
    activation_survival,
    ramp_curves,
)

__all__ = [
    "CONTACT_TYPES", "DEFAULT_CADENCE", "ChannelMixConfig", "FeedbackThemes", "activation_by_quarter",
    "activation_durations", "activation_from_store", "activation_survival", "channel_alerts", "channel_mix",
    "channel_mix_from_store", "comment_themes", "contact_adherence", "contact_cadence", "contact_status",
    "contacts_from_store", "has_platforms", "last_contacts", "surveys_from_store", "load_channel_mix_config", "load_feedback_themes", "partner_review",
    "partner_review_from_store", "ramp_curves", "theme_quotes", "theme_summary", "top_terms",
]
