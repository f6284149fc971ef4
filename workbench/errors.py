"""The one exception type users see: its message is a single clear sentence."""

from __future__ import annotations


class WorkbenchError(Exception):
    """A problem the user can fix (bad file, bad config, bad parameter); message is one sentence."""


class ConfigError(WorkbenchError):
    """A configuration file (YAML) is malformed; the message names the file and the field."""


class IngestError(WorkbenchError):
    """A file-level ingestion problem: nothing was written; the message names the file and column."""


class NotEnoughData(WorkbenchError):
    """A job lacks the data for one result; the message says what is missing and what still shows.

    Notebooks catch it per section and show it with ``workbench.present.notice(exc, lang)``.
    """
