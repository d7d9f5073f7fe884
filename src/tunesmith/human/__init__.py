"""Blind side-by-side human evaluation: sessions, rating files, statistics, CSV sheets."""

from tunesmith.human.items import load_items
from tunesmith.human.names import check_name
from tunesmith.human.session import VERDICTS, Session

__all__ = ["VERDICTS", "Session", "check_name", "load_items"]
