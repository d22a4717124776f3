// The attention explorer: pure compute functions, then the anywidget view.
//
// The compute functions (and those of common.js, which selfattn.widgets puts in front of this file)
// are exported so that node can import the widget's module and the test suite can
// compare them with selfattn (tests/test_widgets.py). They follow selfattn.attention line by line:
// row vectors (Q = X W_q), float64 (JavaScript numbers), scores = (Q K^T) * scale, a stable
// softmax that subtracts the row maximum, mask true = may attend, fully masked row = all zeros.
//
// The view renders and recomputes entirely in the browser, so it keeps working in the static HTML
// book with no kernel. With a kernel, Python recomputes `weights` too; in mode "python" (the
// learner's own attention function) the view shows Python's `weights` instead of its own.

// --------------------------------------------------------------------------------------------
// pure compute functions
// --------------------------------------------------------------------------------------------

/** Transpose of a (n, m) matrix. */
export function transpose(A) {
  const n = A.length;
  const m = n ? A[0].length : 0;
  const T = new Array(m);
  for (let j = 0; j < m; j++) {
    T[j] = new Array(n);
    for (let i = 0; i < n; i++) T[j][i] = A[i][j];
  }
  return T; // (m, n)
}

/** Boolean (n, n) mask, true on and below the diagonal: token i may attend to tokens 0..i. */
export function causalMask(n) {
  const M = new Array(n);
  for (let i = 0; i < n; i++) {
    M[i] = new Array(n);
    for (let j = 0; j < n; j++) M[i][j] = j <= i;
  }
  return M;
}

/**
 * Self-attention of the embeddings X (n, d_model) with W_q, W_k (d_model, d_k), W_v (d_model, d_v).
 *
 * options.scale multiplies the scores (default 1 / sqrt(d_k)); options.mask is "none", "causal"
 * or a boolean (n, n) matrix. Returns every intermediate, like SelfAttention.steps in Python:
 * {q, k, v, scores (raw Q K^T), scale, weights (n, n), output (n, d_v)}.
 */
export function attention(X, W_q, W_k, W_v, options = {}) {
  checkFinite(X, "X");
  checkFinite(W_q, "W_q");
  checkFinite(W_k, "W_k");
  checkFinite(W_v, "W_v");
  const n = X.length;
  const q = matmul(X, W_q); // (n, d_k)
  const k = matmul(X, W_k); // (n, d_k)
  const v = matmul(X, W_v); // (n, d_v)
  const d_k = W_q[0].length;
  if (W_k[0].length !== d_k) {
    throw new Error(`W_q and W_k must have the same number of columns d_k, got ${d_k} and ${W_k[0].length}`);
  }
  let scale = options.scale;
  if (scale === undefined || scale === null) scale = 1 / Math.sqrt(d_k);
  if (!Number.isFinite(scale)) throw new Error(`scale must be a finite number, got ${scale}`);
  const scores = matmul(q, transpose(k)); // (n, n)
  const scaled = scores.map((row) => row.map((x) => x * scale)); // (n, n)
  let mask = options.mask ?? "none";
  if (mask === "none") mask = null;
  else if (mask === "causal") mask = causalMask(n);
  const weights = softmaxRows(scaled, mask); // (n, n)
  const output = matmul(weights, v); // (n, d_v)
  return { q, k, v, scores, scale, weights, output };
}

// --------------------------------------------------------------------------------------------
// the view
// --------------------------------------------------------------------------------------------

let instances = 0;

function tokenLabels(tokens) {
  return tokens.map((t, i) => (tokens.indexOf(t) !== tokens.lastIndexOf(t) ? `${t} (${i + 1})` : t));
}

function render({ model, el }) {
  const uid = `sa-explorer-${++instances}`;
  const root = viewRoot(el, "sa-explorer", "attention-explorer");
  let pythonTimer = null;
  let waitingForPython = false;

  const get = (name) => model.get(name);
  // Is a Python kernel behind this view? The static book's widget manager has none; JupyterLab's
  // has one. Any update computed by Python also proves it.
  const manager = model.widget_manager;
  let live = Boolean(manager && manager.kernel);
  const showsPython = () => get("mode") === "python" && live;

  /** The weights to show, and an error message if they cannot be shown. */
  function currentResult() {
    if (showsPython()) {
      const w = get("weights") || [];
      const err = get("error") || "";
      const n = get("tokens").length;
      if (err) return { weights: null, error: err };
      if (w.length !== n) return { weights: null, error: "" };
      return { weights: w, error: "" };
    }
    const built = get("mode") === "python" && get("error")
      ? `When this page was built, Python said: ${get("error")}` : "";
    try {
      const res = attention(get("X"), get("W_q"), get("W_k"), get("W_v"), {
        scale: get("scale"),
        mask: get("mask"),
      });
      return { weights: res.weights, error: built };
    } catch (e) {
      return { weights: null, error: String(e.message || e) };
    }
  }

  // ---- building the DOM (when the sentence or the configuration changes) ----
  let parts = {};

  function build() {
    root.replaceChildren();
    parts = { sliders: [], cells: [], bars: [] };
    const tokens = get("tokens");
    const labels = tokenLabels(tokens);
    const controls = get("controls");
    const features = get("features");
    const n = tokens.length;

    // top row of controls: query word, scale, mask
    const top = h("div", { class: "sa-controls" });
    const qid = `${uid}-query`;
    const select = h("select", { id: qid, "data-testid": "query-select" });
    labels.forEach((t, i) => select.append(h("option", { value: i, text: t })));
    select.addEventListener("change", () => {
      model.set("query_index", Number(select.value));
      model.save_changes();
    });
    top.append(h("div", { class: "sa-field" }, h("label", { for: qid, text: "Query word" }), select));
    parts.select = select;

    if (controls.includes("scale")) {
      const sid = `${uid}-scale`;
      const slider = h("input", {
        type: "range", id: sid, min: 0, max: get("scale_max"), step: 0.01,
        "data-testid": "scale-slider",
      });
      const out = h("output", { for: sid, class: "sa-value" });
      slider.addEventListener("input", () => {
        model.set("scale", Number(slider.value));
        model.save_changes();
      });
      const reset = h("button", { type: "button", "data-testid": "scale-reset" });
      reset.addEventListener("click", () => {
        model.set("scale", get("default_scale"));
        model.save_changes();
      });
      const none = h("button", { type: "button", "data-testid": "scale-one", text: "No scaling (1)" });
      none.addEventListener("click", () => {
        model.set("scale", 1);
        model.save_changes();
      });
      top.append(
        h("div", { class: "sa-field" },
          h("label", { for: sid, text: "Score multiplier (scale)" }), slider, out, reset, none),
      );
      Object.assign(parts, { scaleSlider: slider, scaleOut: out, scaleReset: reset });
    }

    if (controls.includes("mask")) {
      const mid = `${uid}-mask`;
      const mselect = h("select", { id: mid, "data-testid": "mask-select" });
      mselect.append(h("option", { value: "none", text: "none: every word sees every word" }));
      mselect.append(h("option", { value: "causal", text: "causal: a word sees itself and earlier words" }));
      mselect.addEventListener("change", () => {
        model.set("mask", mselect.value);
        model.save_changes();
      });
      top.append(h("div", { class: "sa-field" }, h("label", { for: mid, text: "Mask" }), mselect));
      parts.maskSelect = mselect;
    }
    root.append(top);

    if (get("mode") === "python") {
      root.append(
        h("p", {
          class: "sa-note",
          "data-testid": "mode-note",
          text: live
            ? "These weights come from your own attention function, which runs in Python."
            : "This explorer is set up to run your own attention function, which needs Python, and no "
              + "Python kernel runs on this page. It shows selfattn's weights, computed in your browser, "
              + "instead. Open the notebook in JupyterLab or Binder to see your function's weights.",
        }),
      );
    }
    parts.status = h("p", { class: "sa-note", role: "status", "data-testid": "status" });
    root.append(parts.status);
    parts.errorSlot = h("div", { class: "sa-error-slot" });
    root.append(parts.errorSlot);

    // heatmap of all weights and bars of the query word
    const main = h("div", { class: "sa-main" });
    const table = h("table", { class: "sa-heatmap" });
    table.append(
      h("caption", {
        text: "All attention weights. Each row is a query word, each column a key word; "
          + "each row sums to 1. Lighter colour: larger weight.",
      }),
    );
    const thead = h("thead");
    const headRow = h("tr", {}, h("th", { scope: "col", class: "sa-corner", text: "query \\ key" }));
    labels.forEach((t) => headRow.append(h("th", { scope: "col", text: t })));
    thead.append(headRow);
    const tbody = h("tbody");
    parts.rowHeads = [];
    parts.rows = [];
    for (let i = 0; i < n; i++) {
      const th = h("th", { scope: "row", text: labels[i] });
      const tr = h("tr", {}, th);
      const rowCells = [];
      for (let j = 0; j < n; j++) {
        const td = h("td", { "data-testid": "cell", "data-i": i, "data-j": j });
        tr.append(td);
        rowCells.push(td);
      }
      parts.rowHeads.push(th);
      parts.rows.push(tr);
      parts.cells.push(rowCells);
      tbody.append(tr);
    }
    table.append(thead, tbody);
    parts.table = table;

    parts.barsTitle = h("p", { class: "sa-title", id: `${uid}-bars` });
    const list = h("ol", { class: "sa-bars", "aria-labelledby": `${uid}-bars` });
    for (let j = 0; j < n; j++) {
      const bar = h("span", { class: "sa-bar" });
      const value = h("span", { class: "sa-bar-value" });
      const li = h("li", { "data-testid": "weight", "data-key-index": j },
        h("span", { class: "sa-bar-label", text: labels[j] }),
        h("span", { class: "sa-bar-track", "aria-hidden": "true" }, bar),
        value);
      list.append(li);
      parts.bars.push({ li, bar, value });
    }
    parts.barsBox = h("div", { class: "sa-bars-box" }, parts.barsTitle, list);
    main.append(h("div", { class: "sa-heatmap-box" }, table), parts.barsBox);
    root.append(main);

    // sliders for the embedding values of the chosen words
    if (controls.includes("embedding")) {
      const box = h("div", { class: "sa-sliders" });
      for (const wi of get("words")) {
        const fs = h("fieldset", {}, h("legend", { text: `Embedding of “${labels[wi]}”` }));
        features.forEach((feat, f) => {
          const id = `${uid}-x-${wi}-${f}`;
          const input = h("input", {
            type: "range", id, min: get("slider_min"), max: get("slider_max"), step: get("slider_step"),
            "data-testid": "slider", "data-word-index": wi, "data-feature": f,
          });
          const out = h("output", { for: id, class: "sa-value" });
          input.addEventListener("input", () => {
            const X = get("X").map((row) => row.slice()); // new array so the change is seen
            X[wi][f] = Number(input.value);
            model.set("X", X);
            model.save_changes();
            if (showsPython()) expectPython();
          });
          fs.append(h("div", { class: "sa-slider" }, h("label", { for: id, text: `${labels[wi]}: ${feat}` }), input, out));
          parts.sliders.push({ input, out, wi, f });
        });
        box.append(fs);
      }
      root.append(box);
    }
    update();
  }

  function expectPython() {
    waitingForPython = true;
    clearTimeout(pythonTimer);
    pythonTimer = setTimeout(() => {
      if (waitingForPython) {
        parts.status.textContent = "No Python kernel answered. This explorer runs your own function in "
          + "Python: open the notebook in JupyterLab or Binder to use it.";
      }
    }, 2000);
  }

  // ---- updating the numbers (on every change): write only what changed, to keep it fast ----
  function put(node, key, value, write) {
    const cache = node.__sa || (node.__sa = {});
    if (cache[key] !== value) {
      cache[key] = value;
      write(value);
    }
  }

  function update() {
    const tokens = get("tokens");
    const labels = tokenLabels(tokens);
    const n = tokens.length;
    const qi = get("query_index");
    const X = get("X");
    const scale = get("scale");
    const mask = get("mask");
    root.setAttribute("data-state", JSON.stringify({
      tokens, X, W_q: get("W_q"), W_k: get("W_k"), W_v: get("W_v"), scale, mask, query_index: qi,
    }));

    parts.select.value = String(qi);
    if (parts.maskSelect) parts.maskSelect.value = mask;
    if (parts.scaleSlider) {
      if (Number(parts.scaleSlider.value) !== scale) parts.scaleSlider.value = String(scale);
      parts.scaleOut.textContent = scale.toFixed(3);
      parts.scaleReset.textContent = `Reset to 1/√d_k = ${get("default_scale").toFixed(3)}`;
    }
    for (const s of parts.sliders) {
      const x = X[s.wi][s.f];
      if (Number(s.input.value) !== x) s.input.value = String(x);
      put(s.out, "text", x.toFixed(2), (v) => { s.out.textContent = v; });
    }

    const { weights, error } = currentResult();
    put(parts.errorSlot, "error", error, (v) => {
      parts.errorSlot.replaceChildren();
      if (v) parts.errorSlot.append(h("div", { class: "sa-error", role: "alert", "data-testid": "error", text: v }));
    });
    if (showsPython() && !waitingForPython) parts.status.textContent = get("note") || "";
    const ok = weights !== null;
    parts.table.hidden = !ok;
    parts.barsBox.hidden = !ok;
    if (!ok) return;

    // colours span 0 .. the largest weight, like selfattn.plotting.attention_heatmap
    let vmax = 1e-12;
    for (const r of weights) for (const w of r) if (w > vmax) vmax = w;
    for (let i = 0; i < n; i++) {
      const isQuery = i === qi;
      parts.rows[i].classList.toggle("sa-query-row", isQuery);
      for (let j = 0; j < n; j++) {
        const w = weights[i][j];
        const td = parts.cells[i][j];
        const rgb = cividis(w / vmax);
        put(td, "value", String(w), (v) => td.setAttribute("data-value", v));
        put(td, "text", w.toFixed(2), (v) => { td.textContent = v; });
        put(td, "bg", `rgb(${rgb[0]}, ${rgb[1]}, ${rgb[2]})`, (v) => { td.style.backgroundColor = v; });
        put(td, "fg", textColour(rgb), (v) => { td.style.color = v; });
      }
    }
    const row = weights[qi];
    let best = 0;
    row.forEach((w, j) => {
      if (w > row[best]) best = j;
    });
    put(parts.barsTitle, "text", `Weights of “${labels[qi]}” on each word`, (v) => { parts.barsTitle.textContent = v; });
    row.forEach((w, j) => {
      const b = parts.bars[j];
      put(b.li, "value", String(w), (v) => b.li.setAttribute("data-value", v));
      b.li.classList.toggle("sa-best", j === best);
      put(b.bar, "width", `${(100 * Math.min(1, Math.max(0, w))).toFixed(2)}%`, (v) => { b.bar.style.width = v; });
      put(b.value, "text", w.toFixed(3), (v) => { b.value.textContent = v; });
    });
  }

  const rebuildOn = ["tokens", "words", "controls", "features", "mode"];
  const updateOn = ["X", "W_q", "W_k", "W_v", "scale", "default_scale", "mask", "query_index", "weights", "error", "note"];
  for (const name of rebuildOn) model.on(`change:${name}`, build);
  for (const name of updateOn) {
    model.on(`change:${name}`, () => {
      if (name === "weights" || name === "error") {
        waitingForPython = false;
        clearTimeout(pythonTimer);
        if (!live && get("mode") === "python") {
          live = true; // Python answered: show its weights from now on
          build();
          return;
        }
      }
      update();
    });
  }
  build();
  return () => clearTimeout(pythonTimer);
}

export default { render };
