"""The tracking store, checked once before a stage opens its MLflow run; its failures as one line.

MLflow's own defaults suit a server that is up: a refused connection is retried for about
four minutes, and a locked sqlite file is waited for 20 s per call. A stage checks its store
first, in seconds, and stops with exit 2 and one line naming the store and what to do:

- ``http(s)://`` server: the host answers on its port within ``mlflow.connect_timeout_s``,
  then one API request, without retries, succeeds. Later requests of the stage are bounded
  by ``mlflow.request_timeout_s`` and ``mlflow.request_retries`` (MLflow's
  ``MLFLOW_HTTP_REQUEST_TIMEOUT`` and ``MLFLOW_HTTP_REQUEST_MAX_RETRIES``, unless set).
- ``sqlite:///`` file: its folder can be written, the file is an SQLite database, and its
  write lock is free, waited for at most ``mlflow.lock_wait_s`` (another ``dvc repro``
  or DVC experiment writing to the same store holds it for moments at a time).

Other stores (PostgreSQL, MySQL, Databricks) are left to MLflow.
"""

from __future__ import annotations

import logging
import os
import re
import socket
import sqlite3
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from brain_brr.errors import InputError

LOCK_NOTICE_S = 1.0  # a lock held longer than this is announced before the wait goes on


def check_store(uri: str, settings: Any = None) -> None:
    """Raise :class:`InputError` (one line) when the store at ``uri`` cannot take a stage's run now.

    ``settings`` is the ``mlflow`` section of the params (defaults when ``None``).
    """
    if settings is None:
        from brain_brr.config import MlflowConfig

        settings = MlflowConfig()
    scheme = urlsplit(uri).scheme.lower()
    if scheme in ("http", "https"):
        check_server(uri, settings.connect_timeout_s)
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", str(settings.request_timeout_s))
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", str(settings.request_retries))
    elif scheme == "sqlite":
        path = sqlite_path(uri)
        if path is not None:
            check_sqlite(path, settings.lock_wait_s)
        _quiet_lock_errors()


def _what_to_do() -> str:
    from brain_brr.tracking.run import store_root

    return f"start the server, or fix MLFLOW_TRACKING_URI, or unset it to log to {store_root() / 'mlflow.db'}"


def check_server(uri: str, timeout_s: float) -> None:
    """The server's port accepts a connection, and the server answers one API request, within ``timeout_s``."""
    parts = urlsplit(uri)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
    if not _behind_proxy(uri):
        try:
            socket.create_connection((host, port), timeout=timeout_s).close()
        except socket.gaierror:
            raise InputError(f"MLflow tracking server {uri}: host name '{host}' not found; {_what_to_do()}") from None
        except TimeoutError:
            raise InputError(
                f"MLflow tracking server {uri}: no answer from {host}:{port} within {timeout_s:g} s; {_what_to_do()}"
            ) from None
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
            raise InputError(
                f"MLflow tracking server {uri} is unreachable ({reason.lower()} at {host}:{port}); {_what_to_do()}"
            ) from None
    _check_api(uri, timeout_s)


def _behind_proxy(uri: str) -> bool:
    """Requests to ``uri`` go through an HTTP proxy: only the proxy itself can be reached directly."""
    import requests.utils

    return bool(requests.utils.get_environ_proxies(uri))


def _check_api(uri: str, timeout_s: float) -> None:
    """One MLflow API request, no retries: a port that answers may not be an MLflow server, or may want a login."""
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    bounded = {
        "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
        "MLFLOW_HTTP_REQUEST_TIMEOUT": str(max(1, round(timeout_s))),
    }
    with _environ(bounded):
        try:
            MlflowClient(tracking_uri=uri).search_experiments(max_results=1)
        except MlflowException as exc:
            reason = _reason(exc.message)
            if reason in ("unauthorized", "forbidden"):
                todo = "set MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD (or MLFLOW_TRACKING_TOKEN)"
            elif reason.startswith("HTTP status 5"):
                todo = "the server fails: see its log; " + _what_to_do()
            else:
                todo = "is MLFLOW_TRACKING_URI the server's address? " + _what_to_do()
            raise InputError(f"MLflow tracking server {uri} does not answer as one ({reason}); {todo}") from None


@contextmanager
def _environ(values: dict[str, str]):
    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def sqlite_path(uri: str) -> Path | None:
    """The database file of a ``sqlite:///`` URI (``None`` for an in-memory database)."""
    from sqlalchemy.engine import make_url

    database = make_url(uri).database
    return Path(database) if database and database != ":memory:" else None


def check_sqlite(path: Path, lock_wait_s: float) -> None:
    """The store can be created or written; a held write lock is waited for at most ``lock_wait_s``."""
    if not path.exists():
        folder = next(p for p in (path.parent, *path.parent.parents) if p.exists())
        if not os.access(folder, os.W_OK | os.X_OK):
            raise InputError(
                f"{path}: cannot create the MLflow store, {folder} is not writable; "
                "make it writable, or set MLFLOW_TRACKING_URI to a store you can write"
            )
        return
    if path.is_dir():
        raise InputError(f"{path}: a folder, not an MLflow sqlite store; move it away, or fix MLFLOW_TRACKING_URI")
    start = time.monotonic()
    try:
        if not _take_write_lock(path, min(LOCK_NOTICE_S, lock_wait_s)):
            print(
                f"[MLFLOW] {path} is locked by another process; waiting up to {lock_wait_s:g} s (mlflow.lock_wait_s)",
                flush=True,
            )
            if not _take_write_lock(path, max(0.0, lock_wait_s - (time.monotonic() - start))):
                raise InputError(
                    f"{path}: the MLflow store stayed locked by another process for {time.monotonic() - start:.0f} s "
                    "(another `dvc repro`, DVC experiment or `mlflow` command writing to it); let it finish and "
                    "rerun, or raise mlflow.lock_wait_s"
                )
    except sqlite3.DatabaseError as exc:  # not a database, damaged, read-only, no room for the journal
        raise InputError(
            f"{path}: the MLflow store cannot be written ({exc}); restore it from a backup or move it aside "
            "(a new, empty store is created in its place), or fix MLFLOW_TRACKING_URI"
        ) from None


def _take_write_lock(path: Path, timeout_s: float) -> bool:
    """Take and release the store's write lock (sqlite retries while it is busy); ``False`` if it stayed locked."""
    conn = sqlite3.connect(path, timeout=timeout_s, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        conn.execute("ROLLBACK")
        return True
    except sqlite3.OperationalError as exc:
        if "locked" in str(exc) or "busy" in str(exc):
            return False
        raise
    finally:
        conn.close()


class _DropReportedLockErrors(logging.Filter):
    """MLflow logs a traceback for a locked sqlite store before raising; the stage reports it in one line."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("SQLAlchemy database error")


def _quiet_lock_errors() -> None:
    logger = logging.getLogger("mlflow.store.db.utils")
    if not any(isinstance(f, _DropReportedLockErrors) for f in logger.filters):
        logger.addFilter(_DropReportedLockErrors())


# ------------------------------------------------------------------ failures once the run is open
def failure_line(exc: BaseException | None, stage: str, uri: str) -> str | None:
    """One line for an exception that is the store failing (unreachable, locked), else ``None``."""
    reason = _store_fault(exc)
    if reason is None:
        return None
    resume = " (`python stages/train.py --resume` continues from the last finished epoch)" if stage == "train" else ""
    return (
        f"MLflow tracking store {uri} failed during the {stage} stage ({reason}); the files the stage wrote "
        f"before are kept, its run is closed when the next stage starts; rerun it once the store answers{resume}"
    )


def _store_fault(exc: BaseException | None) -> str | None:
    if exc is None:
        return None
    import requests
    import sqlalchemy.exc
    from mlflow.exceptions import MlflowException

    if isinstance(exc, MlflowException):
        cause = exc.__cause__
        if exc.error_code == "TEMPORARILY_UNAVAILABLE" or exc.message.startswith("API request to"):
            return _reason(exc.message)
        if isinstance(cause, sqlalchemy.exc.OperationalError) or type(cause) is sqlalchemy.exc.DatabaseError:
            return _reason(str(cause))  # the sqlite file went away, or was damaged, under the stage
        return None
    if isinstance(exc, (requests.exceptions.ConnectionError, requests.exceptions.Timeout)):
        return _reason(str(exc))
    if isinstance(exc, sqlalchemy.exc.OperationalError) or type(exc) is sqlalchemy.exc.DatabaseError:
        return _reason(str(exc))
    return None


KNOWN_REASONS = (
    "Connection refused",
    "Connection reset",
    "Name or service not known",
    "timed out",
    "database is locked",
    "disk image is malformed",
    "file is not a database",
    "no such table",
)


HTTP_REASONS = {401: "unauthorized", 403: "forbidden", 404: "not found"}


def _reason(message: str) -> str:
    """The part of an MLflow error message a user can act on, short."""
    status = re.search(r"error code (\d{3})", message)
    if status:
        code = int(status.group(1))
        return HTTP_REASONS.get(code, f"HTTP status {code}")
    for known in KNOWN_REASONS:
        if known.lower() in message.lower():
            return known.lower()
    first = message.strip().splitlines()[0] if message.strip() else "no message"
    return first if len(first) <= 160 else first[:157] + "..."
