"""User-facing errors: one clear line, exit code 2, never a traceback."""

from __future__ import annotations

import errno

# The path itself is wrong (the UI answers these 400): a file given where a folder goes or the
# other way round (the commands check their outputs first; this catches the rest), a name too
# long for the file system (data.train: 'aaa...'), a symbolic link loop.
PATH_ERRORS = (errno.ENOTDIR, errno.EISDIR, errno.ENAMETOOLONG, errno.ELOOP)
# The user's path or machine, not a bug: exit 2 with one line.
USER_OS_ERRORS = (errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOSPC, errno.EDQUOT, *PATH_ERRORS)


class UserError(Exception):
    """A mistake in the user's input (recipe, data file, model name, path).

    The message is one line that says what is wrong and where (file:line or key path),
    with a suggestion where one exists. The CLI prints it and exits with code 2.
    """

    exit_code = 2


def is_user_error(exc: BaseException) -> bool:
    """Bad input or the user's machine (exit 2), not a bug: a UserError, or an OSError of the
    user's path or disk (a folder where a run file goes, a full disk), as the CLI treats them.
    Drivers that record a member's or trial's failure classify it the same way."""
    return isinstance(exc, UserError) or (isinstance(exc, OSError) and exc.errno in USER_OS_ERRORS)


class PeerLost(UserError):
    """Another process of the same job (a Flower client, a torchrun rank) failed or went away:
    one line, exit code 1. Not a mistake in the input, and no bug of ours for a traceback to
    locate: a process was killed or its machine went away."""

    exit_code = 1


def suggest(word: str, choices: list[str] | tuple[str, ...]) -> str:
    """Return ' (did you mean 'x'?)' for the closest choice, or '' when none is close."""
    import difflib

    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def one_line(exc: BaseException, named: bool = True) -> str:
    """The first line of `exc`'s message, for a record's `error` field (a run's manifest, a
    group member's status); `named` puts the exception's class first ('OSError: ...'), which
    an unexpected error needs to be recognisable and a user error's own wording does not."""
    if isinstance(exc, KeyboardInterrupt):  # a record said "KeyboardInterrupt" after a kill
        from tunesmith.interrupts import stop_reason

        return stop_reason()
    lines = str(exc).strip().splitlines()
    first = lines[0] if lines else ""
    if isinstance(exc, OSError) and exc.strerror and exc.filename and not named:
        first = f"{exc.filename}: {exc.strerror}"  # not "[Errno 21] Is a directory: '...'"
    if not named:
        return first
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__


def masked_url(text: str) -> str:
    """`text` with the password of every URL in it written as *** (error lines and reports
    are shared; a database URL often carries its password)."""
    import re

    return re.sub(r"://([^:/@\s]+):[^@\s]*@", r"://\1:***@", text)
