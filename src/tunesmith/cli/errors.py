"""Run the typer app with one exit policy: every mistake is one clear message, never a traceback.

typer 0.29 vendors its own click (`typer._click`, not the `click` package) and, with
`standalone_mode=False`, raises its exceptions (usage errors, Abort) and *returns* an exit code
instead of raising (Ctrl-C becomes `return 130`). The policy is written here once, against
typer's public exception types (`TyperException`, `Exit`, `Abort`) by duck typing, so it holds
whichever click the installed typer uses.
"""

from __future__ import annotations

import errno
import sys

from tunesmith.errors import USER_OS_ERRORS

INTERRUPTED = 130  # 128 + SIGINT, what shells report for Ctrl-C (SIGTERM: 143, interrupts.py)
RESUME_HINT = "interrupted; run the same command again to resume"


def invoke(app) -> None:
    """Call `app` and exit: 0 ok, 2 user or usage error, 130 Ctrl-C, 143 SIGTERM."""
    import typer

    from tunesmith.errors import UserError
    from tunesmith.interrupts import install

    install()  # a Ctrl-C that lands in a finaliser is raised again, not lost
    _quiet_library_deprecations()
    framework = _framework_errors()
    try:
        code = app(standalone_mode=False, prog_name="tunesmith")
    except UserError as exc:
        _fail(f"error: {exc}", exc.exit_code)
    except (KeyboardInterrupt, typer.Abort):
        _interrupted()
    except typer.Exit as exc:
        code = exc.exit_code
    except framework as exc:
        _fail(_usage_message(exc), 2)
    except OSError as exc:
        if exc.errno in USER_OS_ERRORS:
            _fail(os_message(exc), 2)
        _interrupted_if_requested()
        raise
    except Exception:
        _interrupted_if_requested()
        raise
    code = code if isinstance(code, int) else 0
    if code == INTERRUPTED:  # typer's own Ctrl-C
        _interrupted()
    sys.exit(code)


# Deprecations one library's call into another raises, which no tunesmith user can act on:
# peft reads transformers' renamed `is_gradient_checkpointing` whenever it wraps a model (each
# federated round, each torchrun rank), a FutureWarning among the run's progress lines.
LIBRARY_DEPRECATIONS = (r"`is_gradient_checkpointing` is deprecated",)


def _quiet_library_deprecations() -> None:
    import warnings

    for message in LIBRARY_DEPRECATIONS:
        warnings.filterwarnings("ignore", message=message, category=FutureWarning)


def _interrupted() -> None:
    """The resume hint, exiting 128 + the signal that stopped the run."""
    from tunesmith.interrupts import exit_code

    _fail(RESUME_HINT, exit_code())


def _interrupted_if_requested() -> None:
    """Exit as interrupted when Ctrl-C (or SIGTERM) came first: a library that catches what an
    import raises (transformers' lazy modules) turns the KeyboardInterrupt into its own
    RuntimeError, which was a traceback instead of the resume hint."""
    from tunesmith.interrupts import requested

    if requested():
        _interrupted()


WRITE_ONLY_ERRORS = (errno.EROFS, errno.ENOSPC, errno.EDQUOT)


def os_message(exc: OSError) -> str:
    """One line: 'cannot write' only where the error can only come from a write (a permission
    or path-kind error may come from a read too)."""
    name = str(exc.filename or "a file")
    if len(name) > 200:  # a name too long for the file system is too long for one line too
        name = f"{name[:100]}...({len(name):,} characters)"
    if exc.errno in WRITE_ONLY_ERRORS:
        return f"error: cannot write {name}: {exc.strerror}"
    return f"error: {name}: {exc.strerror}"


def _framework_errors() -> tuple[type[BaseException], ...]:
    from typer.exceptions import TyperException

    found: list[type[BaseException]] = [TyperException]
    try:  # a typer that uses the click package raises click's exceptions instead
        import click

        found += [click.ClickException, click.exceptions.Abort]
    except ImportError:
        pass
    return tuple(found)


def _usage_message(exc: BaseException) -> str:
    """The usage line and the error, or the help page when no arguments were given."""
    ctx = getattr(exc, "ctx", None)
    message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
    if type(exc).__name__ == "NoArgsIsHelpError":
        return message
    if ctx is None:
        return f"error: {message}"
    return f"{ctx.get_usage()}\nerror: {message} (see '{ctx.command_path} --help')"


def _fail(message: str, code: int) -> None:
    print(message, file=sys.stderr)
    sys.exit(code)
