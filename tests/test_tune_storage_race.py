"""Workers started together on a fresh database race to create Optuna's schema: the loser
retries once the winner's schema exists, and any other database error is raised at once."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import IntegrityError, ProgrammingError

from tunesmith.tune import storage


class _Flaky:
    """Stands in for the RDB storage class: fails with `errors` in turn, then opens."""

    def __init__(self, errors):
        self.errors, self.calls = list(errors), 0

    def __call__(self, url, **kwargs):
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "opened"


def _lost(kind, text):
    return kind("CREATE ...", {}, Exception(text))


@pytest.fixture
def flaky(monkeypatch):
    def install(errors):
        made = _Flaky(errors)
        monkeypatch.setattr(storage, "_owned_classes", lambda: {"rdb": made})
        monkeypatch.setattr(storage.time, "sleep", lambda seconds: None)
        return made

    return install


@pytest.mark.parametrize(
    "error",
    [
        _lost(ProgrammingError, 'type "studydirection" already exists'),  # PostgreSQL enums
        _lost(IntegrityError, "duplicate key value violates unique constraint"),
    ],
)
def test_a_worker_that_loses_the_schema_race_retries(flaky, error):
    made = flaky([error])
    assert storage._rdb("postgresql://x@127.0.0.1/db") == "opened"
    assert made.calls == 2


def test_other_programming_errors_are_not_retried(flaky):
    made = flaky([_lost(ProgrammingError, "permission denied for schema public")])
    with pytest.raises(ProgrammingError):
        storage._rdb("postgresql://x@127.0.0.1/db")
    assert made.calls == 1


def test_the_race_is_retried_a_bounded_number_of_times(flaky):
    made = flaky([_lost(ProgrammingError, "already exists")] * 5)
    with pytest.raises(ProgrammingError):
        storage._rdb("postgresql://x@127.0.0.1/db", attempts=3)
    assert made.calls == 3
