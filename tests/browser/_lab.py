"""JupyterLab for the browser tests: a private server, a notebook opened, Run All.

:func:`lab_server` starts JupyterLab on 127.0.0.1 at a free port, with a random token,
rooted at a folder the caller prepares (the tests use a temporary copy of the chapters,
so a run never writes into ``chapters/``). Its settings, workspaces and runtime files live
in a temporary folder too, so neither the user's JupyterLab settings nor a previous run
changes what the test sees. Notebooks are shown with windowing off, so every cell is in
the page and its text can be read.

:func:`run_notebook` opens a notebook in Chromium, runs all its cells, waits until the
kernel is idle and every code cell has run, and returns the page.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

BIN = Path(sys.executable).parent

# Settings for a predictable page: every cell rendered in the DOM (no virtual scrolling),
# no news or update pop-ups over the notebook.
SETTINGS = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false", "checkForUpdates": False},
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _jupyter_lab() -> list[str]:
    exe = BIN / "jupyter-lab"
    if exe.exists():
        return [str(exe)]
    found = shutil.which("jupyter-lab")
    return [found] if found else [sys.executable, "-m", "jupyterlab"]


@dataclass
class LabServer:
    url: str
    token: str
    root: Path
    proc: subprocess.Popen
    home: Path
    log: Path

    def notebook_url(self, path: str) -> str:
        return f"{self.url}lab/tree/{path}?token={self.token}&reset"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        shutil.rmtree(self.home, ignore_errors=True)

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log.read_text(errors="replace")[-chars:]
        except OSError:
            return ""


def lab_server(root: Path, timeout: float = 120) -> LabServer:
    """Start JupyterLab rooted at ``root``; return when it answers, else raise RuntimeError."""
    home = Path(tempfile.mkdtemp(prefix="selfattn-lab-"))
    settings = home / "settings"
    for name, value in SETTINGS.items():
        target = settings / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(value))
    port, token = _free_port(), secrets.token_hex(16)
    args = _jupyter_lab() + [
        "--no-browser", "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}", "--LabApp.expose_app_in_browser=True",
        f"--LabApp.user_settings_dir={settings}", f"--LabApp.workspaces_dir={home / 'workspaces'}",
    ]
    if hasattr(os, "getuid") and os.getuid() == 0:
        args.append("--allow-root")  # containers and CI images run as root
    env = dict(os.environ, JUPYTER_RUNTIME_DIR=str(home / "runtime"),
               JUPYTER_DATA_DIR=str(home / "data"), JUPYTER_CONFIG_DIR=str(home / "config"),
               PYDEVD_DISABLE_FILE_VALIDATION="1")
    log = home / "server.log"
    with log.open("w") as out:
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=root)
    server = LabServer(f"http://127.0.0.1:{port}/", token, root, proc, home, log)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = server.log_tail()
            server.stop()
            raise RuntimeError(f"JupyterLab exited with {proc.returncode}:\n{tail}")
        try:
            with urllib.request.urlopen(f"{server.url}api/status?token={token}", timeout=5) as r:
                if r.status == 200:
                    return server
        except OSError:
            time.sleep(0.5)
    tail = server.log_tail()
    server.stop()
    raise RuntimeError(f"JupyterLab did not answer within {timeout:.0f} s:\n{tail}")


# Resolves once the notebook is open and its kernel connected.
NOTEBOOK_READY = """() => {
  const app = window.jupyterapp;
  const panel = app && app.shell.currentWidget;
  const session = panel && panel.sessionContext && panel.sessionContext.session;
  return !!(panel && panel.context && panel.context.isReady && session && session.kernel
            && session.kernel.connectionStatus === 'connected' && panel.content.widgets.length > 0);
}"""

# Resolves once the kernel is idle again with no cell running, and every code cell has run, or
# one failed (Run All stops at an error; the cells after it never run).
ALL_RUN = """() => {
  const panel = window.jupyterapp.shell.currentWidget;
  const kernel = panel.sessionContext.session.kernel;
  const code = panel.content.widgets.filter(c => c.model.type === 'code').map(c => c.model);
  if (kernel.status !== 'idle' || code.some(m => m.executionState === 'running')) return false;
  const ran = m => m.executionCount !== null && m.executionCount !== undefined;
  const failed = m => m.outputs.toJSON().some(o => o.output_type === 'error');
  return code.every(ran) || code.some(failed);
}"""

# Resolves once jupyterlab-myst has evaluated the {eval} roles of every markdown cell that has some.
EXPRESSIONS_DONE = """() => window.jupyterapp.shell.currentWidget.content.widgets.every(c => {
  if (c.model.type !== 'markdown' || !c.model.sharedModel.getSource().includes('{eval}')) return true;
  const found = c.model.getMetadata('user_expressions');
  return Array.isArray(found) && found.length > 0;
})"""

# What a learner sees in the notebook after Run All, read from JupyterLab's own models and the DOM.
LAB_FACTS = """() => {
  const panel = window.jupyterapp.shell.currentWidget;
  const visible = (e) => !!e && e.offsetParent !== null;
  const isSolution = (e) => /Solution/.test((e.querySelector('summary') || e).innerText);
  const cells = panel.content.widgets;
  return {
    cells: cells.map(c => {
      const first = c.node.querySelector('.myst > *');
      return {type: c.model.type,
              solutions: [...c.node.querySelectorAll('.myst details.myst-exercise')]
                .filter(isSolution).length,
              opensWith: first ? first.tagName + '.' + first.className.split(' ')[0] : ''};
    }),
    markdown: cells.filter(c => c.model.type === 'markdown').map(c => ({
      text: c.node.innerText,
      evals: (c.model.sharedModel.getSource().match(/\\{eval\\}`/g) || []).length,
      expressions: (c.model.getMetadata('user_expressions') || []).map(e => ({
        expression: e.expression, status: e.result && e.result.status,
        error: e.result && e.result.status === 'error' ? `${e.result.ename}: ${e.result.evalue}` : null})),
    })),
    code: cells.filter(c => c.model.type === 'code').map(c => {
      const jupyter = c.model.getMetadata('jupyter') || {};
      return {
        first: c.model.sharedModel.getSource().split('\\n')[0],
        sourceHidden: !!jupyter.source_hidden,
        placeholder: visible(c.node.querySelector('.jp-InputPlaceholder')),
        editorVisible: visible(c.node.querySelector('.jp-InputArea-editor')),
        errors: c.model.outputs.toJSON().filter(o => o.output_type === 'error')
          .map(o => `${o.ename}: ${o.evalue}`),
      };
    }),
    admonitions: [...panel.node.querySelectorAll('.myst aside.myst-admonition')].map(e => e.innerText.trim().split('\\n')[0]),
    exercises: [...panel.node.querySelectorAll('.myst aside.myst-exercise')].map(e => e.innerText.trim().split('\\n')[0]),
    solutions: [...panel.node.querySelectorAll('.myst details.myst-exercise')].filter(isSolution).map(e => ({
      title: (e.querySelector('summary') || e).innerText.trim(), open: e.open})),
  };
}"""


def run_notebook(browser, server: LabServer, path: str, timeout_ms: int = 600_000):
    """Open ``path`` (relative to the server root), Run All, wait; return (context, page, log).

    ``log`` lists console errors, uncaught exceptions and requests that left 127.0.0.1
    (blocked: JupyterLab and its extensions must work offline).
    """
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    context.set_default_timeout(120_000)
    log: dict[str, list[str]] = {"console": [], "exceptions": [], "external": []}

    def route(r):
        if r.request.url.startswith(server.url):
            return r.continue_()
        log["external"].append(r.request.url)
        return r.abort("blockedbyclient")

    context.route("**/*", route)
    page = context.new_page()
    page.on("console", lambda m: log["console"].append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: log["exceptions"].append(str(e)))
    page.goto(server.notebook_url(path))
    page.wait_for_function(NOTEBOOK_READY)
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
    page.wait_for_function(ALL_RUN, timeout=timeout_ms, polling=500)
    try:
        page.wait_for_function(EXPRESSIONS_DONE, timeout=30_000, polling=250)
    except Exception:  # reported by the test, which names the cells left unevaluated
        pass
    page.wait_for_timeout(1000)  # let the last renders settle
    return context, page, log


def shut_down_kernel(page) -> None:
    """Stop the notebook's kernel, so that the next chapter starts on a quiet server."""
    page.evaluate("() => window.jupyterapp.shell.currentWidget.sessionContext.shutdown()")
