"""How fast the attention explorer answers a slider: ``python -m selfattn.bench widget``.

Three paths, each timed from "a slider value changes" to "the new weights are there":

* **python**: what happens with a kernel. Set ``X`` on an :class:`~selfattn.widgets.AttentionExplorer`
  as the browser's slider does; the observer recomputes ``weights`` with ``selfattn``; the changed
  state is serialised to JSON as it would be sent to the browser.
* **browser**: what happens in the static book. Headless Chromium (if installed) loads the real
  ``explorer.js`` with a stand-in for the widget model, moves a slider by dispatching ``input``
  events and forces style and layout after each one. Without Chromium, node times only the
  compute function (``attention``), which is a lower bound.
* **matplotlib**: for comparison, re-plotting the heatmap with :func:`selfattn.plotting.attention_heatmap`
  and rendering it to PNG, which is what a Python-only widget would do on every change.

Sentence: 12 tokens (the target of the course is 30 ms at the 95th percentile for up to 12 tokens).
Timings are printed, never asserted: these machines are shared and noisy.
"""

from __future__ import annotations

import argparse
import io
import json
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

SENTENCE_12 = "The cat sat on the mat because it was tired and hungry"
TARGET_MS = 30.0
STATIC = Path(__file__).resolve().parent.parent / "static"


def _percentiles(samples_ms) -> tuple[float, float]:
    a = np.asarray(samples_ms, dtype=np.float64)
    return float(np.percentile(a, 50)), float(np.percentile(a, 95))


def time_python(n: int) -> list[float]:
    """Milliseconds per slider change on the Python side (observer + selfattn + JSON of the sync)."""
    from selfattn.widgets import AttentionExplorer

    ex = AttentionExplorer(SENTENCE_12, query="it", controls=("embedding", "scale", "mask"))
    values = np.linspace(-1.0, 1.5, 51)
    out = []
    for t in range(n):
        X = [row[:] for row in ex.X]  # what the browser sends: a whole new X
        X[1][t % 5] = float(values[t % len(values)])
        t0 = time.perf_counter()
        ex.X = X
        json.dumps(ex.get_state(["X", "weights", "error", "note"]))  # the message back to the browser
        out.append((time.perf_counter() - t0) * 1e3)
    return out


def time_matplotlib(n: int) -> list[float] | None:
    """Milliseconds to re-plot the heatmap and render it to PNG (None without matplotlib)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    from selfattn.example import running_example
    from selfattn.plotting import attention_heatmap

    ex = running_example(SENTENCE_12)
    X = ex.X.copy()  # (n, d_model)
    out = []
    for t in range(n):
        X[1, 1] = 0.5 + 0.01 * t
        t0 = time.perf_counter()
        from selfattn import scaled_dot_product_attention

        _, w = scaled_dot_product_attention(X @ ex.W_q, X @ ex.W_k, X @ ex.W_v)  # (n, n)
        fig, ax = plt.subplots(figsize=(6, 5))
        attention_heatmap(w, ex.tokens, ax=ax)
        fig.savefig(io.BytesIO(), format="png", dpi=100)
        plt.close(fig)
        out.append((time.perf_counter() - t0) * 1e3)
    return out


def _classic_script() -> str:
    """explorer.js as a classic script exposing its functions on ``window.__explorer``."""
    code = (STATIC / "explorer.js").read_text(encoding="utf-8")
    code = code.replace("export function ", "function ").replace(
        "export default { render };", "window.__explorer = { render, attention };")
    assert "export " not in code.replace("// export", ""), \
        "explorer.js gained an export this bench does not strip"
    return code


_FAKE_MODEL_AND_BENCH = r"""
function fakeModel(state) {
  const listeners = {};
  return {
    get: (k) => state[k],
    set: (k, v) => { state[k] = v; (listeners["change:" + k] || []).forEach((f) => f()); },
    on: (evt, f) => { (listeners[evt] = listeners[evt] || []).push(f); },
    off: () => {},
    save_changes: () => {},
    send: () => {},
  };
}
const state = JSON.parse(document.getElementById("state").textContent);
const el = document.getElementById("host");
window.__explorer.render({ model: fakeModel(state), el });
const root = el.querySelector('[data-testid="attention-explorer"]');
const slider = root.querySelector('input[data-testid="slider"][data-word-index="1"][data-feature="1"]');
const times = [];
const N = Number(document.getElementById("n").textContent);
for (let t = -20; t < N; t++) { // the first 20 moves warm the JIT up and are not counted
  slider.value = String(-1 + 0.05 * (t % 50));
  const t0 = performance.now();
  slider.dispatchEvent(new Event("input", { bubbles: true }));
  void root.getBoundingClientRect().height; // style and layout of the updated view
  if (t >= 0) times.push(performance.now() - t0);
}
const ok = root.querySelector('[data-testid="weight"][data-key-index="1"]').getAttribute("data-value");
document.getElementById("result").textContent = JSON.stringify({ times, ok });
"""


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    return None


def time_browser(n: int) -> tuple[str, list[float]] | None:
    """Milliseconds per slider input in headless Chromium, or compute-only under node; None if neither."""
    from selfattn.widgets import AttentionExplorer

    ex = AttentionExplorer(SENTENCE_12, query="it", controls=("embedding", "scale", "mask"))
    state = {k: v for k, v in ex.get_state().items() if not k.startswith("_")}
    chromium = _chromium()
    with tempfile.TemporaryDirectory() as tmp:
        if chromium:
            page = Path(tmp) / "bench.html"
            page.write_text(
                "<!doctype html><html><head><meta charset='utf-8'><style>"
                + (STATIC / "explorer.css").read_text(encoding="utf-8")
                + "</style></head><body><div id='host'></div>"
                + f"<script type='application/json' id='state'>{json.dumps(state)}</script>"
                + f"<pre id='n'>{n}</pre><pre id='result'></pre>"
                + f"<script>{_classic_script()}</script>"
                + f"<script>{_FAKE_MODEL_AND_BENCH}</script></body></html>",
                encoding="utf-8",
            )
            proc = subprocess.run(
                [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom", page.as_uri()],
                capture_output=True, text=True, timeout=120,
            )
            start = proc.stdout.find('<pre id="result">')
            if start >= 0:
                text = proc.stdout[start + len('<pre id="result">'):].split("</pre>", 1)[0]
                if text.strip():
                    import html

                    times = json.loads(html.unescape(text))["times"]
                    return "chromium (input event -> DOM updated, layout forced)", times
        node = shutil.which("node")
        if node:
            shutil.copy(STATIC / "explorer.js", Path(tmp) / "explorer.mjs")
            (Path(tmp) / "state.json").write_text(json.dumps(state))
            (Path(tmp) / "run.mjs").write_text(
                "import { attention } from './explorer.mjs';\n"
                "import { readFileSync } from 'node:fs';\n"
                "const s = JSON.parse(readFileSync('state.json', 'utf8'));\n"
                f"const times = []; for (let t = 0; t < {n}; t++) {{\n"
                "  const X = s.X.map((r) => r.slice()); X[1][1] = -1 + 0.05 * (t % 50);\n"
                "  const t0 = performance.now();\n"
                "  attention(X, s.W_q, s.W_k, s.W_v, { scale: s.scale, mask: s.mask });\n"
                "  times.push(performance.now() - t0); }\n"
                "process.stdout.write(JSON.stringify(times));\n")
            proc = subprocess.run([node, "run.mjs"], capture_output=True, text=True, cwd=tmp, timeout=120)
            if proc.returncode == 0:
                return "node (compute only, no DOM)", json.loads(proc.stdout)
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m selfattn.bench widget",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=300, help="slider changes per path (default 300)")
    parser.add_argument("--n-matplotlib", type=int, default=20,
                        help="re-plots for the comparison (default 20)")
    args = parser.parse_args(argv)

    print(f"Attention explorer, {len(SENTENCE_12.split())} tokens, target p95 <= {TARGET_MS:.0f} ms")
    rows = []
    py = time_python(args.n)
    rows.append(("python: set X -> weights (+ JSON)", py))
    browser = time_browser(args.n)
    if browser is None:
        print("browser path: skipped (neither chromium nor node found)")
    else:
        rows.append((f"browser: {browser[0]}", browser[1]))
    mpl = time_matplotlib(args.n_matplotlib)
    for name, samples in rows:
        p50, p95 = _percentiles(samples)
        verdict = "meets" if p95 <= TARGET_MS else "MISSES"
        print(f"{name:<62} p50 {p50:8.3f} ms   p95 {p95:8.3f} ms   ({verdict} the target)")
    if mpl is None:
        print("matplotlib comparison: skipped (matplotlib not installed)")
    else:
        m50, m95 = _percentiles(mpl)
        name = "matplotlib: re-plot heatmap + render PNG (comparison)"
        print(f"{name:<62} p50 {m50:8.3f} ms   p95 {m95:8.3f} ms")
        for name, samples in rows:
            p50, _ = _percentiles(samples)
            print(f"  {name.split(':')[0]} is {m50 / max(p50, 1e-6):,.0f}x faster than re-plotting (p50)")
    return 0
