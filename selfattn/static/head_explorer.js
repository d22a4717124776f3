// The head explorer: every head of all-MiniLM-L6-v2 on a few sentences, precomputed in Python.
//
// The widget state holds, for each sentence, its tokens and its attentions (n_layers, n_heads, n, n)
// as little-endian float32 bytes in C order: exactly the numbers selfattn.pretrained computed. The
// state is saved in the executed notebook, so in the static HTML book this view reads the weights
// from it and needs no kernel. With a kernel, a text box sends a typed sentence to Python, which
// runs the encoder and adds it to the choices.
//
// The pure functions are exported so that node can import the widget's module, common.js followed by
// this file (tests/test_head_explorer.py); matmul, the colours and h() come from common.js.
// Layers and heads are numbered from 0, as in `encoding.attentions[layer, head]`.

// --------------------------------------------------------------------------------------------
// pure functions
// --------------------------------------------------------------------------------------------

/** A DataView over the bytes the widget manager hands over (DataView, ArrayBuffer or typed array). */
export function asDataView(bytes) {
  if (bytes instanceof DataView) return bytes;
  if (bytes instanceof ArrayBuffer) return new DataView(bytes);
  if (ArrayBuffer.isView(bytes)) return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  throw new Error(`expected the attention bytes of a sentence, got ${Object.prototype.toString.call(bytes)}`);
}

/**
 * The (n, n) weights of one head, as an array of rows: entry [i][j] is how much token i attends
 * to token j in head `head` of layer `layer`. `bytes` holds float32 (nLayers, nHeads, n, n), C order.
 */
export function headWeights(bytes, n, nLayers, nHeads, layer, head) {
  const view = asDataView(bytes);
  if (view.byteLength !== 4 * nLayers * nHeads * n * n) {
    throw new Error(`the attention bytes hold ${view.byteLength / 4} numbers, expected `
      + `${nLayers} x ${nHeads} x ${n} x ${n} = ${nLayers * nHeads * n * n}`);
  }
  if (!(Number.isInteger(layer) && layer >= 0 && layer < nLayers)) {
    throw new Error(`layer must be a whole number from 0 to ${nLayers - 1}, got ${layer}`);
  }
  if (!(Number.isInteger(head) && head >= 0 && head < nHeads)) {
    throw new Error(`head must be a whole number from 0 to ${nHeads - 1}, got ${head}`);
  }
  const start = (layer * nHeads + head) * n * n; // first number of this head's (n, n) block
  const W = new Array(n);
  for (let i = 0; i < n; i++) {
    const row = new Array(n);
    for (let j = 0; j < n; j++) row[j] = view.getFloat32(4 * (start + i * n + j), true); // little-endian
    W[i] = row;
  }
  return W; // (n, n)
}

/** The colour of a cell whose weight is exactly 0 (masked): light grey, outside the colour scale. */
export const MASKED_RGB = [232, 232, 232];

/** A weight as the heatmap prints it: two decimals without the leading zero (".25"), so that a
 * sentence of 17 tokens fits the book's column; 1 prints as "1.00". A weight of exactly 0, a key
 * the mask hides (a decoder's future tokens), prints as nothing, so the mask shows as a blank
 * triangle instead of a crowd of ".00". */
export function cellText(w) {
  if (w === 0) return "";
  const t = w.toFixed(2);
  return t.startsWith("0.") ? t.slice(1) : t;
}

/** Position of the first "it", else the first word after [CLS] (widgets.py: _default_query). */
export function defaultQuery(tokens) {
  const i = tokens.indexOf("it");
  return i >= 0 ? i : Math.min(1, tokens.length - 1);
}

// --------------------------------------------------------------------------------------------
// the view
// --------------------------------------------------------------------------------------------

let instances = 0;

/** Labels that tell repeated tokens apart: "the (1)", "the (5)". */
function tokenLabels(tokens) {
  return tokens.map((t, i) => (tokens.indexOf(t) !== tokens.lastIndexOf(t) ? `${t} (${i})` : t));
}

function field(id, text, control) {
  return h("div", { class: "sa-field" }, h("label", { for: id, text }), control);
}

function render({ model, el }) {
  const uid = `sa-heads-${++instances}`;
  const get = (name) => model.get(name);
  const manager = model.widget_manager;
  const live = Boolean(manager && manager.kernel); // the static book's widget manager has no kernel

  const root = viewRoot(el, "sa-explorer sa-head-explorer", "head-explorer");
  const choose = chooser(model);

  function select(id, testid, options, onChange) {
    const s = h("select", { id, "data-testid": testid });
    options.forEach(([value, text]) => s.append(h("option", { value, text })));
    s.addEventListener("change", () => onChange(Number(s.value)));
    return s;
  }

  let parts = {};

  // ---- building the DOM: on a new sentence list, or a new sentence (its tokens) ----
  function build() {
    root.replaceChildren();
    parts = { cells: [], bars: [], rows: [] };
    const sentences = get("sentences");
    const si = get("sentence_index");
    const tokens = get("token_lists")[si];
    const labels = tokenLabels(tokens);
    const n = tokens.length;

    const top = h("div", { class: "sa-controls" });
    parts.sentence = select(`${uid}-sentence`, "sentence-select",
      sentences.map((s, i) => [i, `${i + 1}. ${s}`]), (i) => {
        choose({ sentence_index: i, query_index: defaultQuery(get("token_lists")[i]) });
      });
    parts.layer = select(`${uid}-layer`, "layer-select",
      [...Array(get("n_layers")).keys()].map((l) => [l, String(l)]), (l) => choose({ layer: l }));
    parts.head = select(`${uid}-head`, "head-select",
      [...Array(get("n_heads")).keys()].map((k) => [k, String(k)]), (k) => choose({ head: k }));
    parts.query = select(`${uid}-query`, "query-select",
      labels.map((t, i) => [i, t]), (i) => choose({ query_index: i }));
    top.append(
      field(`${uid}-sentence`, "Sentence", parts.sentence),
      field(`${uid}-layer`, `Layer (0–${get("n_layers") - 1})`, parts.layer),
      field(`${uid}-head`, `Head (0–${get("n_heads") - 1})`, parts.head),
      field(`${uid}-query`, "Query token", parts.query),
    );
    root.append(top);

    // typing a sentence needs Python: only offered when a kernel runs
    if (live) {
      const tid = `${uid}-text`;
      const input = h("input", {
        type: "text", id: tid, "data-testid": "sentence-input", size: 40,
        placeholder: "e.g. The dog chased the ball because it was fast.",
      });
      const button = h("button", { type: "submit", "data-testid": "add-sentence", text: "Add and show" });
      const form = h("form", { class: "sa-controls sa-type" },
        h("label", { for: tid, text: "Your sentence" }), input, button);
      const submit = () => {
        parts.status.textContent = "Python is running the model on your sentence…";
        model.send({ event: "add_sentence", text: input.value });
      };
      form.addEventListener("submit", (event) => {
        event.preventDefault();
        submit();
      });
      // JupyterLab takes Enter for its own (edit mode) before the form sees it: submit here
      input.addEventListener("keydown", (event) => {
        if (event.key === "Enter") {
          event.preventDefault();
          event.stopPropagation();
          submit();
        }
      });
      root.append(form);
    } else {
      root.append(h("p", {
        class: "sa-note", "data-testid": "kernel-note",
        text: "The weights of these sentences were computed in Python when this page was built. "
          + "To try your own sentence, open the notebook in JupyterLab or Binder: a Python kernel "
          + "runs the model on it.",
      }));
    }
    parts.status = h("p", { class: "sa-note", role: "status", "data-testid": "status" });
    parts.errorSlot = h("div", { class: "sa-error-slot" });
    root.append(parts.status, parts.errorSlot);

    const main = h("div", { class: "sa-main" });
    parts.caption = h("caption");
    const table = h("table", { class: "sa-heatmap", "data-testid": "heatmap" }, parts.caption);
    const headRow = h("tr", {}, h("th", { scope: "col", class: "sa-corner", text: "query \\ key" }));
    labels.forEach((t) => headRow.append(h("th", { scope: "col", text: t })));
    const tbody = h("tbody");
    for (let i = 0; i < n; i++) {
      const tr = h("tr", {}, h("th", { scope: "row", text: labels[i] }));
      const rowCells = [];
      for (let j = 0; j < n; j++) {
        const td = h("td", { "data-testid": "cell", "data-i": i, "data-j": j });
        tr.append(td);
        rowCells.push(td);
      }
      parts.rows.push(tr);
      parts.cells.push(rowCells);
      tbody.append(tr);
    }
    table.append(h("thead", {}, headRow), tbody);
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
    parts.builtFor = JSON.stringify([sentences, si]);
    update();
  }

  // ---- updating the numbers: on a new layer, head or query token ----
  function update() {
    const si = get("sentence_index");
    if (parts.builtFor !== JSON.stringify([get("sentences"), si])) {
      build(); // a new sentence: new rows and columns
      return;
    }
    const tokens = get("token_lists")[si];
    const labels = tokenLabels(tokens);
    const n = tokens.length;
    const layer = get("layer");
    const head = get("head");
    const qi = get("query_index");
    root.setAttribute("data-state", JSON.stringify({ sentence_index: si, layer, head, query_index: qi, tokens }));
    parts.sentence.value = String(si);
    parts.layer.value = String(layer);
    parts.head.value = String(head);
    parts.query.value = String(qi);

    const error = get("error") || "";
    parts.errorSlot.replaceChildren();
    if (error) parts.errorSlot.append(h("div", { class: "sa-error", role: "alert", "data-testid": "error", text: error }));

    let W;
    try {
      W = headWeights(get("attention_data")[si], n, get("n_layers"), get("n_heads"), layer, head);
    } catch (e) {
      parts.errorSlot.append(h("div", { class: "sa-error", role: "alert", "data-testid": "error", text: String(e.message || e) }));
      parts.table.hidden = true;
      parts.barsBox.hidden = true;
      return;
    }
    parts.table.hidden = false;
    parts.barsBox.hidden = false;
    parts.caption.textContent = `Attention weights of layer ${layer}, head ${head}. Each row is a query token, `
      + "each column a key token; each row sums to 1 (.25 is 0.25). Lighter colour: larger weight."
      + (W.some((r) => r.includes(0)) ? " Blank grey cells: weight exactly 0, a key the mask hides." : "");
    // colours span 0 .. this head's largest weight, like selfattn.plotting.attention_heatmap
    let vmax = 1e-12;
    for (const r of W) for (const w of r) if (w > vmax) vmax = w;
    for (let i = 0; i < n; i++) {
      parts.rows[i].classList.toggle("sa-query-row", i === qi);
      for (let j = 0; j < n; j++) {
        const w = W[i][j];
        const td = parts.cells[i][j];
        const rgb = w === 0 ? MASKED_RGB : cividis(w / vmax);
        td.setAttribute("data-value", String(w));
        td.textContent = cellText(w);
        td.title = `${labels[i]} → ${labels[j]}: ${w === 0 ? "0 (masked)" : w.toFixed(4)}`;
        td.style.backgroundColor = `rgb(${rgb[0]}, ${rgb[1]}, ${rgb[2]})`;
        td.style.color = textColour(rgb);
      }
    }
    const row = W[qi];
    let best = 0;
    row.forEach((w, j) => {
      if (w > row[best]) best = j;
    });
    parts.barsTitle.textContent = `Weights of “${labels[qi]}” on each token (layer ${layer}, head ${head})`;
    row.forEach((w, j) => {
      const b = parts.bars[j];
      b.li.setAttribute("data-value", String(w));
      b.li.classList.toggle("sa-best", j === best);
      b.bar.style.width = `${(100 * Math.min(1, Math.max(0, w))).toFixed(2)}%`;
      b.value.textContent = w.toFixed(3);
    });
  }

  model.on("change:sentences", build);
  model.on("change:token_lists", build);
  for (const name of ["sentence_index", "layer", "head", "query_index", "attention_data"]) {
    model.on(`change:${name}`, update);
  }
  model.on("change:error", update);
  // Python's answer to the text box (also when the message is the same as last time)
  model.on("msg:custom", (msg) => {
    if (!msg || msg.event !== "add_sentence_done") return;
    parts.status.textContent = msg.error ? "" : `Added and shown: sentence ${get("sentence_index") + 1}.`;
    update();
  });
  build();
}

export default { render };
