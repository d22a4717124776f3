// What the three views share: matrix arithmetic, the colour scale and DOM helpers.
//
// selfattn.widgets puts this file in front of each view's own file (explorer.js, head_explorer.js,
// position_explorer.js) to make the widget's ES module, and the node tests import the same
// concatenation (selfattn.widgets.view_source), so there is one copy of each function.

// --------------------------------------------------------------------------------------------
// arithmetic, as in selfattn.attention: row vectors, float64, a stable softmax
// --------------------------------------------------------------------------------------------

/** Matrix product A (n, p) times B (p, m) as arrays of rows. */
export function matmul(A, B) {
  const n = A.length;
  const p = B.length;
  const m = p ? B[0].length : 0;
  if (n && A[0].length !== p) {
    throw new Error(`cannot multiply shapes (${n}, ${A[0].length}) and (${p}, ${m})`);
  }
  const C = new Array(n);
  for (let i = 0; i < n; i++) {
    const row = new Array(m).fill(0);
    const a = A[i];
    for (let k = 0; k < p; k++) {
      const aik = a[k];
      const b = B[k];
      for (let j = 0; j < m; j++) row[j] += aik * b[j];
    }
    C[i] = row;
  }
  return C; // (n, m)
}

/**
 * Numerically stable softmax of every row, restricted to the positions where mask is true.
 * A row in which every position is masked gets all-zero weights (never NaN).
 */
export function softmaxRows(scores, mask = null) {
  return scores.map((row, i) => {
    const allowed = row.map((_, j) => (mask ? Boolean(mask[i][j]) : true));
    let m = -Infinity;
    row.forEach((x, j) => {
      if (allowed[j] && x > m) m = x;
    });
    if (!Number.isFinite(m)) m = 0; // fully masked row
    const e = row.map((x, j) => (allowed[j] ? Math.exp(x - m) : 0)); // every exponent <= 0
    let total = 0;
    for (const x of e) total += x;
    return e.map((x) => (total > 0 ? x / total : 0));
  });
}

function checkFinite(A, name) {
  A.forEach((row, i) =>
    row.forEach((x, j) => {
      if (typeof x !== "number" || !Number.isFinite(x)) {
        throw new Error(`${name} holds a non-finite value ${x} at (${i}, ${j})`);
      }
    }),
  );
}

// --------------------------------------------------------------------------------------------
// colours
// --------------------------------------------------------------------------------------------

// Matplotlib's "cividis" (colour-blind safe, perceptually uniform), sampled at 17 points.
const CIVIDIS = [
  [0, 34, 78], [0, 46, 106], [26, 56, 111], [50, 67, 109], [67, 78, 108], [83, 90, 109],
  [97, 101, 111], [111, 112, 115], [125, 124, 120], [140, 136, 120], [155, 148, 118],
  [171, 160, 114], [188, 174, 108], [205, 187, 99], [222, 201, 88], [240, 216, 70], [254, 232, 56],
];

/** Cividis colour [r, g, b] (0..255) of t in [0, 1], linearly interpolated. */
export function cividis(t) {
  const x = Math.min(1, Math.max(0, Number.isFinite(t) ? t : 0)) * (CIVIDIS.length - 1);
  const i = Math.min(CIVIDIS.length - 2, Math.floor(x));
  const f = x - i;
  return CIVIDIS[i].map((c, ch) => Math.round(c + f * (CIVIDIS[i + 1][ch] - c)));
}

function luminance([r, g, b]) {
  const lin = (c) => {
    const s = c / 255;
    return s <= 0.04045 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  };
  return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
}

/** Black or white, whichever contrasts more with the background rgb (at least 4.5:1 on cividis). */
export function textColour(rgb) {
  const L = luminance(rgb);
  return (L + 0.05) / 0.05 >= 1.05 / (L + 0.05) ? "#000000" : "#ffffff";
}

// --------------------------------------------------------------------------------------------
// the DOM
// --------------------------------------------------------------------------------------------

/** An element: h("div", {class: "x", text: "hi", "data-testid": "y"}, child, ...). */
function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children) if (child) node.append(child);
  return node;
}

/**
 * The root element of a view, appended to el. data-lm-suppress-shortcuts and the key handler keep
 * JupyterLab's notebook shortcuts off the view: arrow keys on a slider, a radio button or a picker
 * move it, not the cell (Escape, Tab and the rest still reach JupyterLab).
 */
function viewRoot(el, className, testid) {
  const root = h("div", { class: className, "data-testid": testid, "data-lm-suppress-shortcuts": "true" });
  el.append(root);
  const MOVE_KEYS = ["ArrowLeft", "ArrowRight", "ArrowUp", "ArrowDown", "PageUp", "PageDown", "Home", "End"];
  root.addEventListener("keydown", (event) => {
    const t = event.target;
    if (MOVE_KEYS.includes(event.key) && t instanceof HTMLElement && t.matches("input, select")) {
      event.stopPropagation();
    }
  });
  return root;
}

/** choose({trait: value, ...}): set several traits of the model and send them in one message. */
function chooser(model) {
  return (values) => {
    for (const [name, value] of Object.entries(values)) model.set(name, value);
    model.save_changes();
  };
}
