// The positions explorer: shuffle the running sentence, with no positions, sinusoidal positions or
// RoPE, and watch the attention of one word.
//
// Everything is computed here, in the browser, from the widget state (the embeddings of the words,
// W_q, W_k, W_v and the settings of the scheme), so the explorer works in the static HTML book with
// no kernel. The pure functions follow selfattn.positions.attention_with_positions line by line:
// row vectors (Q = X W_q), float64 (JavaScript numbers), positions 0, 1, ..., n - 1 of the words as
// shown;
//   "none"        softmax(Q K^T / sqrt(d_k)) V;
//   "sinusoidal"  X + amplitude * PE enters the projections; an odd d_model gets one zero feature
//                 appended first (and the matrices one zero row), since the table comes in pairs;
//   "rope"        the queries and keys (not the values) are rotated pair by pair by their position;
//                 an odd d_k gets one zero coordinate appended first, which changes no dot
//                 product; the scale stays 1 / sqrt(d_k) of the matrices, as in selfattn.
// The shuffle is seeded (mulberry32, widgets.py has its twin), so the n-th shuffle of a seed is
// always the same order.
//
// The pure functions are exported so that node can import the widget's module, common.js followed by
// this file (tests/test_position_explorer.py); matmul, softmaxRows and h() come from common.js.

// --------------------------------------------------------------------------------------------
// pure functions
// --------------------------------------------------------------------------------------------

/** The rows of A with one zero column appended when their width is odd (positions._even_width). */
export function evenColumns(A) {
  if (!A.length || A[0].length % 2 === 0) return A;
  return A.map((row) => [...row, 0]);
}

/** A with one zero row appended when it has an odd number of rows (positions._even_width, axis 0). */
export function evenRows(A) {
  if (A.length % 2 === 0) return A;
  return [...A, new Array(A[0].length).fill(0)];
}

/** The d / 2 angular frequencies base^(-2i/d), i = 0 .. d/2 - 1 (positions.rope_frequencies). */
export function frequencies(d, base) {
  if (!(Number.isInteger(d) && d >= 2 && d % 2 === 0)) throw new Error(`d must be even and >= 2, got ${d}`);
  if (!(Number.isFinite(base) && base > 1)) throw new Error(`base must be a number > 1, got ${base}`);
  const w = new Array(d / 2);
  for (let i = 0; i < d / 2; i++) w[i] = base ** (-(2 * i) / d);
  return w; // (d/2,)
}

/** The sinusoidal table (n, d): PE[p][2i] = sin(pos_p w_i), PE[p][2i+1] = cos(pos_p w_i). */
export function sinusoidal(positions, d, base) {
  const w = frequencies(d, base);
  return positions.map((p) => {
    const row = new Array(d);
    for (let i = 0; i < d / 2; i++) {
      const angle = p * w[i];
      row[2 * i] = Math.sin(angle);
      row[2 * i + 1] = Math.cos(angle);
    }
    return row;
  }); // (n, d)
}

/**
 * RoPE: row p of x (n, d), d even, has each pair i turned by the angle positions[p] * w_i.
 * layout "interleaved": the pairs (x[2i], x[2i+1]); "half": the pairs (x[i], x[i + d/2]).
 */
export function rope(x, positions, base, layout = "interleaved") {
  if (!x.length) return [];
  const d = x[0].length;
  if (layout !== "interleaved" && layout !== "half") throw new Error(`unknown layout ${layout}`);
  const w = frequencies(d, base);
  const half = d / 2;
  return x.map((row, p) => {
    const out = new Array(d);
    for (let i = 0; i < half; i++) {
      const ia = layout === "interleaved" ? 2 * i : i;
      const ib = layout === "interleaved" ? 2 * i + 1 : i + half;
      const angle = positions[p] * w[i];
      const c = Math.cos(angle);
      const s = Math.sin(angle);
      const a = row[ia];
      const b = row[ib];
      out[ia] = a * c - b * s;
      out[ib] = a * s + b * c;
    }
    return out;
  }); // (n, d)
}

/**
 * One self-attention layer with positions, as positions.attention_with_positions computes it.
 * X (n, d_model) are the embeddings in the order shown; options: {amplitude, base, layout,
 * positions (default 0 .. n-1)}. Returns {weights (n, n), output (n, d_v)}.
 */
export function attentionWithPositions(X, W_q, W_k, W_v, scheme, options = {}) {
  [[X, "X"], [W_q, "W_q"], [W_k, "W_k"], [W_v, "W_v"]].forEach(([A, name]) => checkFinite(A, name));
  const n = X.length;
  const positions = options.positions ?? [...Array(n).keys()];
  const base = options.base ?? 10000;
  const layout = options.layout ?? "interleaved";
  if (!["none", "sinusoidal", "rope"].includes(scheme)) throw new Error(`unknown scheme ${scheme}`);
  let x = X;
  let [wq, wk, wv] = [W_q, W_k, W_v];
  if (scheme === "sinusoidal") {
    const amplitude = options.amplitude ?? 0.5;
    x = evenColumns(x);
    [wq, wk, wv] = [wq, wk, wv].map(evenRows);
    const pe = sinusoidal(positions, x[0].length, base); // (n, d_model rounded up to even)
    x = x.map((row, p) => row.map((value, f) => value + amplitude * pe[p][f]));
  }
  const scale = 1 / Math.sqrt(wq[0].length); // 1 / sqrt(d_k), before any zero column
  let q = matmul(x, wq); // (n, d_k)
  let k = matmul(x, wk); // (n, d_k)
  const v = matmul(x, wv); // (n, d_v)
  if (scheme === "rope") {
    q = rope(evenColumns(q), positions, base, layout); // (n, d_k rounded up to even)
    k = rope(evenColumns(k), positions, base, layout);
  }
  const scores = q.map((qi) => k.map((kj) => {
    let s = 0;
    for (let c = 0; c < qi.length; c++) s += qi[c] * scale * kj[c];
    return s;
  })); // (n, n)
  const weights = softmaxRows(scores); // (n, n)
  return { weights, output: matmul(weights, v) };
}

/** The mulberry32 generator: a function returning floats in [0, 1) (widgets.py: _mulberry32). */
export function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * The word order after `count` shuffles with `seed` (widgets.py: shuffled_order): every shuffle
 * draws a Fisher-Yates permutation of 0 .. n-1 from one mulberry32 stream, drawn again while it
 * equals the order before it (so a click always changes the order when n >= 2). 0 shuffles: 0 .. n-1.
 */
export function shuffledOrder(n, seed, count) {
  const random = mulberry32(seed);
  let order = [...Array(n).keys()];
  for (let s = 0; s < count; s++) {
    let next;
    do {
      next = [...Array(n).keys()];
      for (let i = n - 1; i > 0; i--) {
        const j = Math.floor(random() * (i + 1));
        [next[i], next[j]] = [next[j], next[i]];
      }
    } while (n >= 2 && next.every((w, i) => w === order[i]));
    order = next;
  }
  return order;
}

/**
 * What the explorer shows for the query word (an index into the original sentence):
 * {weights: its weights on the words as shown, output: its output vector,
 *  byWord: its weight on each word of the original sentence (indexed as the sentence)}.
 */
export function queryView(X, W_q, W_k, W_v, order, query, scheme, options = {}) {
  const shown = order.map((i) => X[i]);
  const { weights, output } = attentionWithPositions(shown, W_q, W_k, W_v, scheme, options);
  const qp = order.indexOf(query); // where the query word stands now
  const byWord = new Array(order.length);
  order.forEach((word, j) => { byWord[word] = weights[qp][j]; });
  return { weights: weights[qp], output: output[qp], byWord, position: qp };
}

/** Largest absolute difference of two equally long arrays, and where it is. */
export function largestChange(a, b) {
  let best = 0;
  let where = 0;
  a.forEach((x, i) => {
    const d = Math.abs(x - b[i]);
    if (d > best) {
      best = d;
      where = i;
    }
  });
  return { change: best, index: where };
}

// --------------------------------------------------------------------------------------------
// the view
// --------------------------------------------------------------------------------------------

let instances = 0;

/** Labels that tell repeated words apart by their place in the original sentence. */
function tokenLabels(tokens) {
  return tokens.map((t, i) => (tokens.indexOf(t) !== tokens.lastIndexOf(t) ? `${t} (${i + 1})` : t));
}

const SCHEME_TEXT = {
  none: ["none", "no positions"],
  sinusoidal: ["sinusoidal", "sinusoidal positions, added to the embeddings"],
  rope: ["RoPE", "RoPE, rotating queries and keys"],
};
const UNCHANGED = 1e-9; // a weight that moved less than this has not changed (float rounding)

function render({ model, el }) {
  const uid = `sa-positions-${++instances}`;
  const get = (name) => model.get(name);
  const root = viewRoot(el, "sa-explorer sa-position-explorer", "position-explorer");
  const choose = chooser(model);

  let parts = {};

  function build() {
    root.replaceChildren();
    parts = { bars: [], radios: {}, outputs: [] };
    const tokens = get("tokens");
    const labels = tokenLabels(tokens);
    const n = tokens.length;

    const top = h("div", { class: "sa-controls" });
    const fs = h("fieldset", { class: "sa-pe-schemes" }, h("legend", { text: "Positions" }));
    for (const scheme of get("schemes")) {
      const id = `${uid}-scheme-${scheme}`;
      const input = h("input", {
        type: "radio", name: `${uid}-scheme`, id, value: scheme, "data-testid": `scheme-${scheme}`,
      });
      input.addEventListener("change", () => {
        if (input.checked) choose({ scheme });
      });
      fs.append(h("span", { class: "sa-pe-radio" }, input,
        h("label", { for: id, text: (SCHEME_TEXT[scheme] || [scheme])[0] })));
      parts.radios[scheme] = input;
    }
    top.append(fs);

    const qid = `${uid}-query`;
    parts.query = h("select", { id: qid, "data-testid": "query-select" });
    labels.forEach((t, i) => parts.query.append(h("option", { value: i, text: t })));
    parts.query.addEventListener("change", () => choose({ query_index: Number(parts.query.value) }));
    top.append(h("div", { class: "sa-field" }, h("label", { for: qid, text: "Query word" }), parts.query));

    const shuffle = h("button", { type: "button", "data-testid": "shuffle", text: "Shuffle the words" });
    shuffle.addEventListener("click", () => {
      const count = get("shuffles") + 1;
      choose({ shuffles: count, order: shuffledOrder(n, get("seed"), count) });
    });
    const reset = h("button", { type: "button", "data-testid": "reset", text: "Reset order" });
    reset.addEventListener("click", () => choose({ shuffles: 0, order: [...Array(n).keys()] }));
    top.append(h("div", { class: "sa-field" }, shuffle, reset));
    root.append(top);

    parts.sentence = h("p", { class: "sa-pe-sentence", "data-testid": "sentence" });
    parts.readout = h("p", { class: "sa-pe-readout", "data-testid": "readout", "aria-live": "polite" });
    parts.errorSlot = h("div", { class: "sa-error-slot" });
    root.append(parts.sentence, parts.readout, parts.errorSlot);

    const main = h("div", { class: "sa-main" });
    parts.barsTitle = h("p", { class: "sa-title", id: `${uid}-bars` });
    const list = h("ol", { class: "sa-bars sa-pe-bars", "aria-labelledby": `${uid}-bars` });
    for (let j = 0; j < n; j++) {
      const bar = h("span", { class: "sa-bar" });
      const mark = h("span", { class: "sa-pe-mark" });
      const pos = h("span", { class: "sa-pe-pos" });
      const label = h("span", { class: "sa-bar-label" });
      const value = h("span", { class: "sa-bar-value" });
      const li = h("li", { "data-testid": "weight", "data-key-index": j },
        pos, label, h("span", { class: "sa-bar-track", "aria-hidden": "true" }, bar, mark), value);
      list.append(li);
      parts.bars.push({ li, bar, mark, pos, label, value });
    }
    parts.barsNote = h("p", { class: "sa-note", text: "Position, word, weight (the thin line: the weight "
      + "on that word in the original order)." });
    parts.barsBox = h("div", { class: "sa-bars-box" }, parts.barsTitle, parts.barsNote, list);

    parts.outputTitle = h("p", { class: "sa-title", id: `${uid}-output` });
    parts.output = h("dl", { class: "sa-pe-output", "data-testid": "output", "aria-labelledby": `${uid}-output` });
    get("value_dims").forEach((name) => {
      const dd = h("dd");
      parts.output.append(h("div", {}, h("dt", { text: name }), dd));
      parts.outputs.push(dd);
    });
    parts.outputBox = h("div", { class: "sa-pe-output-box" }, parts.outputTitle, parts.output);
    main.append(parts.barsBox, parts.outputBox);
    root.append(main);
    parts.builtFor = JSON.stringify(tokens);
    update();
  }

  function update() {
    const tokens = get("tokens");
    if (parts.builtFor !== JSON.stringify(tokens)) {
      build();
      return;
    }
    const labels = tokenLabels(tokens);
    const n = tokens.length;
    const scheme = get("scheme");
    const order = get("order");
    const query = get("query_index");
    root.setAttribute("data-state", JSON.stringify({
      scheme, order, query_index: query, tokens, shown: order.map((i) => tokens[i]),
      shuffles: get("shuffles"), seed: get("seed"),
    }));
    for (const [name, input] of Object.entries(parts.radios)) input.checked = name === scheme;
    parts.query.value = String(query);
    parts.sentence.textContent = `Order: ${order.map((i) => tokens[i]).join(" ")}`;

    const options = { amplitude: get("amplitude"), base: get("base"), layout: get("rope_layout") };
    const X = get("X");
    const W = [get("W_q"), get("W_k"), get("W_v")];
    let now;
    let before;
    parts.errorSlot.replaceChildren();
    try {
      if (order.length !== n || new Set(order).size !== n || !order.every((i) => Number.isInteger(i) && i >= 0 && i < n)) {
        throw new Error(`the word order ${JSON.stringify(order)} is not an order of the ${n} words`);
      }
      now = queryView(X, ...W, order, query, scheme, options);
      before = queryView(X, ...W, [...Array(n).keys()], query, scheme, options);
    } catch (e) {
      parts.errorSlot.append(h("div", { class: "sa-error", role: "alert", "data-testid": "error", text: String(e.message || e) }));
      parts.barsBox.hidden = true;
      parts.outputBox.hidden = true;
      parts.readout.textContent = "";
      return;
    }
    parts.barsBox.hidden = false;
    parts.outputBox.hidden = false;
    const q = labels[query];
    parts.barsTitle.textContent = `Weights of “${q}” on each word, in the order shown`;
    let best = 0;
    now.weights.forEach((w, j) => {
      if (w > now.weights[best]) best = j;
    });
    now.weights.forEach((w, j) => {
      const b = parts.bars[j];
      const word = order[j];
      b.li.setAttribute("data-value", String(w));
      b.li.setAttribute("data-word-index", String(word));
      b.li.classList.toggle("sa-best", j === best);
      b.li.classList.toggle("sa-query-row", word === query);
      b.pos.textContent = String(j);
      b.label.textContent = labels[word];
      b.bar.style.width = `${(100 * Math.min(1, Math.max(0, w))).toFixed(2)}%`;
      b.mark.style.left = `${(100 * Math.min(1, Math.max(0, before.byWord[word]))).toFixed(2)}%`;
      b.value.textContent = w.toFixed(3);
    });
    parts.outputTitle.textContent = `Output of “${q}”`;
    parts.output.setAttribute("data-value", JSON.stringify(now.output));
    now.output.forEach((x, c) => { parts.outputs[c].textContent = x.toFixed(3); });

    // the readout: did shuffling change the weight of the query word on any word?
    const weightChange = largestChange(now.byWord, before.byWord);
    const outputChange = largestChange(now.output, before.output).change;
    root.setAttribute("data-max-change", String(weightChange.change));
    const shuffled = order.some((w, i) => w !== i);
    const name = (SCHEME_TEXT[scheme] || [scheme, scheme])[1];
    let text;
    if (!shuffled) {
      text = `Original order, ${name}. Shuffle the words: do the weights of “${q}” only move with their words, or change?`;
    } else if (weightChange.change < UNCHANGED) {
      text = `Shuffled, ${name}: “${q}” gives every word exactly the weight it gave in the original order `
        + "(the bars only moved with their words), and its output is the same: the layer cannot see the order.";
    } else {
      text = `Shuffled, ${name}: the weights change. “${q}” on “${labels[weightChange.index]}”: `
        + `${before.byWord[weightChange.index].toFixed(3)} in the original order, `
        + `${now.byWord[weightChange.index].toFixed(3)} now (the largest change); `
        + `its output moved by up to ${outputChange.toFixed(3)}.`;
    }
    parts.readout.textContent = text;
  }

  model.on("change:tokens", build);
  model.on("change:schemes", build);
  model.on("change:value_dims", build);
  for (const name of ["X", "W_q", "W_k", "W_v", "scheme", "order", "query_index", "amplitude", "base", "rope_layout",
    "shuffles", "seed"]) {
    model.on(`change:${name}`, update);
  }
  build();
}

export default { render };
