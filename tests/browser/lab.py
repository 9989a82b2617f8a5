"""A JupyterLab (or Notebook 7) server for browser tests and the panel benchmark: free loopback port, isolated
Jupyter dirs, its own NBFLOW_HOME, stopped through /api/shutdown (then its own process group)."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

TOKEN = "nbflow-test"
CHROMIUM = os.environ.get("CHROMIUM", shutil.which("chromium") or "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage"]
KERNEL_IDLE = re.compile(r"\S \| Idle$")   # status bar: "Python 3 (ipykernel) | Idle"


def chromium_available() -> bool:
    return Path(CHROMIUM).exists()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LabServer:
    """``jupyter lab`` (``app="notebook"``: Notebook 7) serving ``root`` in the background."""

    def __init__(self, workdir: Path, root: Path, app: str = "jupyterlab") -> None:
        if app not in ("jupyterlab", "notebook"):
            raise ValueError(f"app must be jupyterlab or notebook, not {app!r}")
        self.workdir = workdir
        self.root = root
        self.app = app
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = workdir / "jupyterlab.log"

    def url(self, notebook: str) -> str:
        if self.app == "notebook":
            return f"{self.base}/notebooks/{notebook}?token={TOKEN}"
        return f"{self.base}/lab/tree/{notebook}?token={TOKEN}"

    def start(self, timeout: float = 90) -> LabServer:
        env = dict(os.environ)
        for var, sub in [("JUPYTER_CONFIG_DIR", "config"), ("JUPYTER_RUNTIME_DIR", "runtime"),
                         ("JUPYTERLAB_WORKSPACES_DIR", "workspaces"),
                         ("JUPYTERLAB_SETTINGS_DIR", "settings"), ("IPYTHONDIR", "ipython"),
                         ("JUPYTER_DATA_DIR", "data")]:
            env[var] = str(self.workdir / sub)
        env["NBFLOW_HOME"] = str(self.workdir / "nbflow-home")
        env.pop("NBFLOW_DATABASE_URL", None)
        settings = self.workdir / "settings" / "@jupyterlab" / "apputils-extension"
        settings.mkdir(parents=True, exist_ok=True)
        (settings / "notification.jupyterlab-settings").write_text(
            json.dumps({"fetchNews": "false", "checkForUpdates": False}))
        cmd = [sys.executable, "-m", self.app, "--no-browser", f"--port={self.port}",
               "--ServerApp.ip=127.0.0.1", f"--IdentityProvider.token={TOKEN}",
               f"--ServerApp.root_dir={self.root}", "--ServerApp.port_retries=0"]
        if self.app == "jupyterlab":
            cmd += ["--LabApp.news_url=None",
                    "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
        if os.geteuid() == 0:
            cmd.append("--allow-root")
        self.proc = subprocess.Popen(cmd, env=env, stdout=self.log.open("wb"),
                                     stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"jupyter lab exited {self.proc.returncode}:\n{self.log.read_text()}")
            try:
                with urllib.request.urlopen(f"{self.base}/api/status?token={TOKEN}", timeout=2):
                    return self
            except OSError:
                time.sleep(0.25)
        self.stop()
        raise TimeoutError(f"jupyter lab not up after {timeout}s:\n{self.log.read_text()}")

    def kernels(self) -> list[dict[str, Any]]:
        """The server's running kernels (its REST API)."""
        with urllib.request.urlopen(f"{self.base}/api/kernels?token={TOKEN}", timeout=5) as r:
            return list(json.load(r))

    def stop(self) -> None:
        if not self.proc or self.proc.poll() is not None:
            return
        try:   # a clean shutdown also stops its kernels
            req = urllib.request.Request(f"{self.base}/api/shutdown?token={TOKEN}", method="POST")
            urllib.request.urlopen(req, timeout=5).close()
            self.proc.wait(timeout=20)
        except Exception:  # noqa: BLE001 - then stop our own process group
            os.killpg(self.proc.pid, signal.SIGTERM)      # our own process group only
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


def open_notebook(browser: Any, server: LabServer, notebook: str, errors: list[str]) -> Any:
    """A page with ``notebook`` open and its kernel connected and idle."""
    from playwright.sync_api import expect

    page = browser.new_page(viewport={"width": 1500, "height": 1100})
    page.set_default_timeout(60_000)
    page.on("pageerror", lambda e: errors.append(f"{e}\n{e.stack or ''}".strip()))
    page.goto(server.url(notebook))
    if server.app == "notebook":
        # Notebook 7 has no status bar: its execution indicator goes connecting -> idle, and
        # the server must list the kernel (an indicator without a kernel also says idle).
        expect(page.locator(".jp-Notebook-ExecutionIndicator[data-status=idle]")).to_be_attached()
        deadline = time.monotonic() + 60
        while not server.kernels():
            if time.monotonic() > deadline:
                raise TimeoutError("Notebook 7 started no kernel in 60 s")
            time.sleep(0.25)
        expect(page.locator(".jp-Notebook-ExecutionIndicator[data-status=idle]")).to_be_attached()
        return page
    # The toolbar's execution indicator says idle before a kernel exists; the status bar's
    # kernel item reaches "| Idle" only once cells will really run.
    expect(page.locator(".jp-StatusBar-TextItem", has_text=KERNEL_IDLE)).to_be_visible()
    return page


def run_all(page: Any) -> None:
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.get_by_role("menuitem", name="Run All Cells", exact=True).click()


__all__ = ["CHROMIUM", "CHROMIUM_ARGS", "LabServer", "chromium_available", "open_notebook", "run_all"]
