"""CSV cells a spreadsheet will not run: every CSV tunesmith writes for people to open.

Training data, prompts and model answers are untrusted text, and these files are made to be
opened in Excel, LibreOffice or Google Sheets (rating sheets, refine's review file).
"""

from __future__ import annotations

# A cell starting with one of these is a formula (or a DDE call) to Excel, LibreOffice and
# Google Sheets: a prompt or a model's answer like `=HYPERLINK(...)` would come alive in the
# rater's spreadsheet (CSV injection, OWASP; ASVS 1.2.10 adds the NUL). Such a cell gets a
# leading `'`, which spreadsheets read as "this is text". A cell already starting with `'`
# gets one too, so the prefix can be taken off again without guessing (item ids come back).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\0")
TEXT_MARK = "'"


def neutralise(cell: str) -> str:
    """`cell` made inert for a spreadsheet: a leading `'` when it could start a formula."""
    return TEXT_MARK + cell if _needs_mark(cell) else cell


def restore(cell: str) -> str:
    """The cell `neutralise` was given: its `'` prefix taken off, and only that one."""
    body = cell.removeprefix(TEXT_MARK)
    return body if cell.startswith(TEXT_MARK) and _needs_mark(body) else cell


def _needs_mark(cell: str) -> bool:
    return cell.startswith((*FORMULA_STARTS, TEXT_MARK))
