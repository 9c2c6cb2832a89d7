"""Collecting log records in tests that run the agent in-process (threads included, unlike caplog's default)."""

from __future__ import annotations

import logging


class ListHandler(logging.Handler):
    """Appends every INFO-or-above record to a list the test holds."""

    def __init__(self, records: list[logging.LogRecord]) -> None:
        super().__init__(logging.INFO)
        self.records = records

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)
