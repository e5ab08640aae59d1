"""Start the MLflow UI on 127.0.0.1 and drive it in headless Chromium.

Used by the browser test and by ``scripts/screenshot_mlflow.py``. Playwright and
Debian's ``chromium`` are test/tool dependencies, imported only here.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def mlflow_server(backend_uri: str, port: int | None = None, timeout: float = 120.0) -> Iterator[str]:
    """Run ``mlflow server`` bound to 127.0.0.1 only; yields its base URL."""
    port = port or free_port()
    cmd = [
        sys.executable,
        "-m",
        "mlflow",
        "server",
        "--backend-store-uri",
        backend_uri,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
    ]
    log = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 -- closed in finally; never a pipe: a full pipe would block the server
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                log.seek(0)
                raise RuntimeError(f"mlflow server exited with {proc.returncode}: {log.read()[-2000:]}")
            try:
                with urllib.request.urlopen(url + "/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"mlflow server did not answer on {url} within {timeout:.0f} s")
            time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@contextlib.contextmanager
def chromium_page(width: int = 1600, height: int = 1000) -> Iterator[object]:
    """A Playwright page in Debian's headless Chromium (no browser download)."""
    from playwright.sync_api import sync_playwright

    exe = chromium_path()
    if exe is None:
        raise RuntimeError("chromium not found: install Debian's 'chromium' package (apt-get install chromium)")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=exe, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            page.set_default_timeout(90_000)
            yield page
        finally:
            browser.close()


def screenshot(page: object, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), full_page=False)
    return path


def experiment_url(base: str, experiment_id: str) -> str:
    """The experiment's runs table in the UI's model-training view (the UI itself opens in its GenAI view)."""
    return f"{base}/#/experiments/{experiment_id}/runs?workflowType=machine_learning"


def run_url(base: str, experiment_id: str, run_id: str) -> str:
    """A run's page in the model-training view."""
    return f"{base}/#/experiments/{experiment_id}/runs/{run_id}?workflowType=machine_learning"


def main(argv: list[str] | None = None) -> int:
    """``python -m brain_brr.tracking.ui [PORT]``: the address of the experiment's runs table (``make ui``)."""
    from brain_brr.config import load_params
    from brain_brr.errors import ConfigError
    from brain_brr.tracking.run import ensure_experiment, repo_root

    port = (argv if argv is not None else sys.argv[1:] or ["5000"])[0]
    try:
        name = load_params(repo_root() / "params.yaml").mlflow.experiment
    except ConfigError:
        name = "brain-brr"
    print(experiment_url(f"http://127.0.0.1:{port}", ensure_experiment(name)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
