// nbflow lineage panel: draws the SVG the kernel lays out (one innerHTML per graph change),
// restyles nodes from `states`, pans and zooms with one CSS transform on the SVG's wrapper (the
// compositor moves it: no SVG repaint), lists runs in a Runs tab, and sends clicks back as
// anywidget custom messages ({action: ...}). Every listener sits on the panel, never on a node.

function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") el.className = v;
    else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children) if (c !== null && c !== undefined) el.append(c);
  return el;
}

const SVGNS = "http://www.w3.org/2000/svg";
function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVGNS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  for (const c of children) el.append(c);
  return el;
}

// One entry per scope, each with a forced variant: [scope, force, label].
const ENTRIES = [
  ["this", false, "Materialise this"], ["this", true, "force"],
  ["upstream", false, "… with upstream"], ["upstream", true, "force"],
  ["downstream", false, "… with downstream"], ["downstream", true, "force"],
];
const FORCE_TITLE = "Rebuild even what is fresh";
// Same shapes as layout.BADGES: a state reads by its text and its badge, not colour alone.
const BADGES = { missing: "○", fresh: "●", stale: "!", queued: "…", running: "↻",
                 succeeded: "✓", failed: "✗", "check failed": "⚠" };
const LEGEND = [
  ["fresh", "stored, nothing changed since"], ["succeeded", "built in this run"],
  ["stale", "code or inputs changed"], ["missing", "never built"], ["queued", "waiting in this run"],
  ["running", "building now"], ["failed", "last build failed"], ["check failed", "a blocking check failed"],
];
const NEEDS_RUN = new Set(["stale", "missing", "failed", "check failed"]);
const MIN_ZOOM = 0.01, MAX_ZOOM = 4;
const PING_TIMEOUT_MS = 4000;   // no answer from the kernel after a connection change: it is not ours
const FAR_ZOOM = 0.35;    // below this the nodes' text is unreadable anyway: draw boxes only
const LABEL_OF = Object.fromEntries(Object.keys(BADGES).map((l) => [`state-${l.replace(/ /g, "-")}`, l]));
const RUN_STATE_CLASS = { SUCCEEDED: "ok", CACHED: "ok", RUNNING: "live", PENDING: "live", RETRYING: "live",
                          FAILED: "bad", CRASHED: "bad", CANCELLED: "off", SKIPPED: "off" };

const pad2 = (n) => String(n).padStart(2, "0");
function localTime(ts) {
  if (ts === null || ts === undefined) return "—";
  const d = new Date(ts * 1000), now = new Date();
  const time = `${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
  if (d.toDateString() === now.toDateString()) return `today ${time}`;
  return `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())} ${time}`;
}
function seconds(v) {
  if (v === null || v === undefined) return "—";
  return v < 10 ? `${v.toFixed(2)} s` : `${v.toFixed(1)} s`;
}
function fmt(v) {
  if (v === null || v === undefined || v === "") return "—";
  if (typeof v === "number") return Number.isInteger(v) ? v.toLocaleString() : v.toFixed(3);
  if (typeof v === "object") return JSON.stringify(v);
  return String(v);
}
const INTERNAL_FRAME = /[\\/](nbflow|site-packages|dist-packages|IPython)[\\/]|<frozen /;

// The failure: its message first, then the traceback with library frames folded away so the
// user's own frames are what shows.
function failureSection(text) {
  const at = text.indexOf("Traceback (most recent call last):");
  const head = (at >= 0 ? text.slice(0, at) : text).trim();
  const tb = at >= 0 ? text.slice(at) : "";
  const lines = tb.split("\n");
  const last = lines.filter((l) => l.trim()).pop() || "";
  const parts = [h("h5", {}, "Failure"), h("pre", { class: "nbflow-error-line" }, head || last)];
  if (tb) {
    const frames = [];   // [internal, text]
    let cur = null;
    for (const line of lines.slice(1)) {
      if (/^\s*File "|^\s*Cell In\[/.test(line)) {
        cur = [INTERNAL_FRAME.test(line), line];
        frames.push(cur);
      } else if (cur && /^\s/.test(line)) {
        cur[1] += "\n" + line;
      } else if (line.trim()) {
        frames.push([false, line]);
        cur = null;
      }
    }
    const body = h("div", { class: "nbflow-frames" });
    let hidden = [];
    const flush = () => {
      if (!hidden.length) return;
      body.append(h("details", { class: "nbflow-lib-frames" },
        h("summary", {}, `${hidden.length} library frame${hidden.length > 1 ? "s" : ""}`),
        h("pre", {}, hidden.join("\n"))));
      hidden = [];
    };
    for (const [internal, frame] of frames) {
      if (internal) { hidden.push(frame); continue; }
      flush();
      body.append(h("pre", { class: "nbflow-frame" }, frame));
    }
    flush();
    parts.push(h("details", { class: "nbflow-traceback", open: true }, h("summary", {}, "Traceback"), body));
  }
  return h("section", { class: "nbflow-failure" }, ...parts);
}

function previewSection(p) {
  if (!p) return null;
  const parts = [h("h5", {}, "Value")];
  if (p.kind === "table") {
    const [rows, cols] = p.shape || [];
    parts.push(h("p", { class: "nbflow-hint" },
      `${fmt(rows)} rows × ${fmt(cols)} columns` + (rows > (p.rows || []).length ? `, first ${p.rows.length}` : "")));
    const head = h("tr", {}, ...p.columns.map((c, i) => h("th", { title: p.dtypes[i] }, c, h("br"),
      h("span", { class: "nbflow-dtype" }, p.dtypes[i]))));
    const body = p.rows.map((r) => h("tr", {}, ...r.map((v) => h("td", {}, fmt(v)))));
    parts.push(h("div", { class: "nbflow-scroll" }, h("table", { class: "nbflow-preview" }, h("thead", {}, head),
      h("tbody", {}, ...body))));
  } else if (p.kind === "repr") {
    parts.push(h("p", { class: "nbflow-hint" }, p.type), h("pre", { class: "nbflow-repr" }, p.text));
  } else {
    parts.push(h("p", { class: "nbflow-hint" }, p.text || "No value stored."));
  }
  return h("section", { class: "nbflow-value" }, ...parts);
}

function historySection(items) {
  if (!items || !items.length) return null;
  return h("section", { class: "nbflow-history" }, h("h5", {}, "Last materialisations"),
    h("table", {}, h("thead", {}, h("tr", {}, h("th", {}, "time"), h("th", {}, "duration"), h("th", {}, "rows"))),
      h("tbody", {}, ...items.map((m) => h("tr", { title: `run ${m.run_id}` },
        h("td", {}, localTime(m.ts)), h("td", {}, seconds(m.duration)), h("td", {}, fmt(m.rows)))))));
}

// A partitioned node's strip: its partitions folded into a few bins, each the worst verdict in it.
function stripOf(g, box, strip) {
  const old = g.querySelector(".nbflow-strip");
  if (old) old.remove();
  if (!strip || !strip.bins || !strip.bins.length) return;
  const c = strip.counts || {};
  const left = 8, width = Math.max(8, box.w - 16), bw = width / strip.bins.length;
  const bar = s("g", { class: "nbflow-strip", "data-total": String(strip.total),
    transform: `translate(${left},${(box.h - 6).toFixed(1)})` },
    s("title", {}, `${strip.total} partitions: ${c.fresh || 0} fresh, ${c.stale || 0} stale, ` +
      `${c.missing || 0} missing, ${c.failed || 0} failed` + (strip.latest ? `; latest ${strip.latest}` : "")));
  strip.bins.forEach((verdict, i) => bar.appendChild(s("rect", { class: `strip-${verdict}`,
    x: (i * bw).toFixed(1), y: "0", width: Math.max(0.5, bw - 0.6).toFixed(1), height: "4" })));
  g.appendChild(bar);
}

function partitionsSection(p, name, send) {
  if (!p) return null;
  const c = p.counts || {};
  const summary = `${p.total} partitions: ${c.fresh || 0} fresh, ${c.stale || 0} stale, ${c.missing || 0} missing, ${c.failed || 0} failed`;
  const ranges = Object.entries(p.ranges || {}).map(([verdict, keys]) =>
    h("li", { "data-verdict": verdict }, h("b", {}, verdict), " ", keys));
  const from = h("input", { class: "nbflow-part-from", value: p.first || "", "aria-label": "First partition", size: "12" });
  const to = h("input", { class: "nbflow-part-to", value: p.last || "", "aria-label": "Last partition", size: "12" });
  const span = () => (from.value === to.value ? from.value : `${from.value.trim()}...${to.value.trim()}`);
  const run = h("button", { class: "nbflow-part-run", title: "Materialise these partitions (fresh ones are cached)" }, "Materialise range");
  run.addEventListener("click", () => send({ action: "materialize", name, scope: "this", partitions: span() }));
  const fill = h("button", { class: "nbflow-part-backfill", title: "A durable backfill: one run per partition, resumable" }, "Backfill range");
  fill.addEventListener("click", () => send({ action: "backfill", name, partitions: span() }));
  const later = h("button", { class: "nbflow-part-submit", title: "Write the backfill's plan; the daemon (nbflow daemon) runs it" }, "Backfill on daemon");
  later.addEventListener("click", () => send({ action: "backfill", name, partitions: span(), submit: true }));
  return h("section", { class: "nbflow-partitions" }, h("h5", {}, "Partitions"),
    h("p", { class: "nbflow-part-summary" }, summary + (p.latest ? `; latest ${p.latest}` : "")),
    h("ul", { class: "nbflow-part-ranges" }, ...ranges),
    h("div", { class: "nbflow-part-pick" }, from, " to ", to, " ", run, " ", fill, " ", later));
}

function legend() {
  return h("div", { class: "nbflow-legend", "aria-label": "Legend" }, ...LEGEND.map(([label, what]) => {
    const cls = `nbflow-swatch state-${label.replace(/ /g, "-")}`;
    const swatch = s("svg", { width: "30", height: "18", class: "nbflow-svg", "aria-hidden": "true" },
      s("g", { class: cls },
        s("rect", { x: "1", y: "1", width: "28", height: "16", rx: "4" }),
        s("g", { class: "nbflow-badge", transform: "translate(15,9)" }, s("circle", { r: "6" }),
          s("text", { y: "4" }, BADGES[label]))));
    return h("span", { class: "nbflow-legend-item", "data-state": label, title: what }, swatch,
      h("b", {}, label), h("span", { class: "nbflow-legend-what" }, what));
  }));
}

function render({ model, el }) {
  const root = h("div", { class: "nbflow-panel", "data-lm-suppress-shortcuts": "true" });
  const staleBtn = h("button", { class: "nbflow-stale", title: "Materialise every stale or missing asset" },
                     "Materialise stale");
  const cancelBtn = h("button", { class: "nbflow-cancel", title: "Stop after the current step" }, "Cancel");
  const refreshBtn = h("button", { class: "nbflow-refresh", title: "Re-read the graph and every status" }, "Refresh");
  const search = h("input", { class: "nbflow-search", type: "search", placeholder: "Find asset…",
                              "aria-label": "Find asset (Enter centres the first match)" });
  const found = h("span", { class: "nbflow-found", "aria-live": "polite" });
  const zoomOut = h("button", { class: "nbflow-zoom nbflow-zoom-out", title: "Zoom out", "aria-label": "Zoom out" }, "−");
  const zoomFit = h("button", { class: "nbflow-zoom nbflow-zoom-fit", title: "Fit the whole graph" }, "Fit");
  const zoomIn = h("button", { class: "nbflow-zoom nbflow-zoom-in", title: "Zoom in", "aria-label": "Zoom in" }, "+");
  const message = h("span", { class: "nbflow-message", role: "status" });
  const notice = h("div", { class: "nbflow-notice", hidden: true });
  const graph = h("div", { class: "nbflow-graph", "aria-label": "Lineage graph" });
  const canvas = h("div", { class: "nbflow-canvas" });
  graph.append(canvas);
  const tabGraph = h("button", { class: "nbflow-tab", role: "tab", "data-tab": "graph", "aria-selected": "true" }, "Graph");
  const tabRuns = h("button", { class: "nbflow-tab", role: "tab", "data-tab": "runs", "aria-selected": "false" }, "Runs");
  const runsList = h("div", { class: "nbflow-runs-list" });
  const runDetail = h("div", { class: "nbflow-run-detail" });
  const runsPane = h("div", { class: "nbflow-runs", role: "tabpanel", hidden: true }, runsList, runDetail);
  const dead = h("div", { class: "nbflow-dead", role: "alert", hidden: true });
  const menu = h("div", { class: "nbflow-menu", role: "menu", hidden: true });
  const details = h("div", { class: "nbflow-details" });
  root.append(
    h("div", { class: "nbflow-toolbar" }, staleBtn, cancelBtn, refreshBtn,
      h("span", { class: "nbflow-sep" }), search, found, h("span", { class: "nbflow-sep" }),
      zoomOut, zoomFit, zoomIn, message),
    dead, notice, h("div", { class: "nbflow-tabs", role: "tablist" }, tabGraph, tabRuns),
    h("div", { class: "nbflow-graph-tab", role: "tabpanel" }, legend(), h("div", { class: "nbflow-body" }, graph, details)),
    runsPane, menu,
  );
  el.append(root);

  let svg = null, viewport = null;
  let nodes = new Map();          // name -> <g>
  let boxes = new Map();          // name -> {x, y, w, h} in layout pixels
  let ups = new Map(), downs = new Map(), edgesOf = new Map();
  let size = { w: 0, h: 0 };
  const shown = new Map();        // name -> label drawn
  let view = { k: 1, x: 0, y: 0 };
  let userMoved = false;
  let selected = "";
  let lit = [], matched = [];
  let menuFor = null;
  let updates = 0, maxLag = 0;
  const lags = [];

  let connected = true;
  const send = (msg) => {
    if (!connected) { showDead(); return; }
    try { model.send(msg); } catch (err) { markDead(); }   // "Cannot send": the comm is gone
  };

  // -- drawing -----------------------------------------------------------------------------------

  function drawGraph() {
    const t0 = performance.now();
    const text = model.get("svg");
    // One innerHTML; then only attribute reads (no getBBox, no layout) until the first frame.
    canvas.innerHTML = text || '<p class="nbflow-hint nbflow-empty">No assets yet: define one with <code>%%asset</code> or <code>@nf.asset</code>.</p>';
    svg = canvas.querySelector("svg");
    viewport = svg ? canvas : null;
    nodes = new Map(); boxes = new Map(); ups = new Map(); downs = new Map(); edgesOf = new Map();
    shown.clear(); lit = []; matched = []; far = null;
    if (svg) {
      size = { w: Number(svg.getAttribute("width")), h: Number(svg.getAttribute("height")) };
      graph.style.height = `${Math.max(140, Math.min(560, size.h + 16))}px`;
      for (const g of svg.querySelectorAll("g.nbflow-node")) {
        const name = g.dataset.name;
        nodes.set(name, g);
        const m = /translate\(([-\d.]+),([-\d.]+)\)/.exec(g.getAttribute("transform") || "");
        const r = g.querySelector("rect");
        boxes.set(name, { x: m ? +m[1] : 0, y: m ? +m[2] : 0, w: r ? +r.getAttribute("width") : 0,
                          h: r ? +r.getAttribute("height") : 0 });
        // the kernel drew the labels it knew: remember them, so the first applyStates writes nothing
        const drawn = LABEL_OF[(g.getAttribute("class") || "").split(" ")[1]];
        if (drawn) shown.set(name, drawn);
        ups.set(name, []); downs.set(name, []); edgesOf.set(name, []);
      }
      for (const e of svg.querySelectorAll("path.nbflow-edge")) {
        const a = e.dataset.tail, b = e.dataset.head;
        if (!nodes.has(a) || !nodes.has(b)) continue;
        downs.get(a).push(b); ups.get(b).push(a);
        edgesOf.get(a).push(e); edgesOf.get(b).push(e);
      }
    } else {
      graph.style.height = "";
      canvas.style.transform = "";
    }
    if (!userMoved || !viewport) fit(); else applyView();
    drawStrips();
    applyStates();
    highlight();
    applySearch();
    const built = model.get("built_at");
    requestAnimationFrame(() => setTimeout(() => {
      root.dataset.renderMs = String(Math.round(performance.now() - t0));
      if (!root.dataset.paintMs && built && nodes.size) root.dataset.paintMs = String(Date.now() - built * 1000);
      root.dataset.nodes = String(nodes.size);
    }));
  }

  function drawStrips() {
    const strips = model.get("strips") || {};
    for (const [name, strip] of Object.entries(strips)) {
      const g = nodes.get(name), box = boxes.get(name);
      if (g && box) stripOf(g, box, strip);
    }
    for (const g of canvas.querySelectorAll(".nbflow-strip")) {
      if (!strips[g.parentNode.dataset.name]) g.remove();
    }
  }

  function applyStates() {
    const states = model.get("states") || {};
    let needsRun = false;
    for (const [name, label] of Object.entries(states)) {
      if (NEEDS_RUN.has(label)) needsRun = true;
      const g = nodes.get(name);
      if (!g) continue;
      const cls = `nbflow-node state-${label.replace(/ /g, "-")}` + (name === selected ? " selected" : "");
      if (shown.get(name) !== label || name === selected || g.classList.contains("selected")) {
        if (g.getAttribute("class") !== cls) g.setAttribute("class", cls);
      }
      if (shown.get(name) === label) continue;
      shown.set(name, label);
      const text = g.querySelector("text.nbflow-state");
      if (text) text.textContent = label;
      const badge = g.querySelector(".nbflow-badge text");
      if (badge) badge.textContent = BADGES[label] || "?";
      g.setAttribute("aria-label", `${name}: ${label}`);
    }
    staleBtn.disabled = !needsRun;
    staleBtn.title = needsRun ? "Materialise every stale or missing asset" : "Nothing is stale or missing";
  }

  // -- pan and zoom: one CSS transform on the wrapper ---------------------------------------------
  // While the view moves the wrapper is its own compositor layer (will-change), so a frame is a
  // composite, not a repaint of thousands of nodes; once it rests the layer goes and the text is
  // drawn sharp at the new scale. Far out, the nodes' text is hidden (boxes and edges remain).

  let viewPending = false, settleTimer = 0, far = null;
  function applyView() {
    if (viewPending) return;
    viewPending = true;
    requestAnimationFrame(() => {
      viewPending = false;
      if (!viewport) return;
      canvas.classList.add("nbflow-moving");
      canvas.style.transform = `translate(${view.x.toFixed(1)}px,${view.y.toFixed(1)}px) scale(${view.k.toFixed(4)})`;
      root.dataset.zoom = view.k.toFixed(3);
      clearTimeout(settleTimer);
      settleTimer = setTimeout(() => {
        canvas.classList.remove("nbflow-moving");
        setFar(view.k < FAR_ZOOM);
      }, 160);
    });
  }
  function setFar(isFar) {
    if (!svg || isFar === far) return;
    far = isFar;
    svg.classList.toggle("nbflow-far", isFar);
  }

  function fit() {
    const cw = graph.clientWidth || 600, ch = graph.clientHeight || 300;
    if (!size.w || !size.h) { view = { k: 1, x: 0, y: 0 }; applyView(); return; }
    const k = Math.min(1, (cw - 8) / size.w, (ch - 8) / size.h);
    view = { k, x: (cw - size.w * k) / 2, y: (ch - size.h * k) / 2 };
    userMoved = false;
    setFar(k < FAR_ZOOM);   // before the first paint: a big graph is never painted with all its text
    applyView();
  }

  function zoomAt(px, py, factor) {
    const k = Math.min(MAX_ZOOM, Math.max(MIN_ZOOM, view.k * factor));
    const f = k / view.k;
    view = { k, x: px - (px - view.x) * f, y: py - (py - view.y) * f };
    userMoved = true;
    applyView();
  }

  function centreOn(name) {
    const b = boxes.get(name);
    if (!b) return;
    const k = Math.max(view.k, 0.8);
    view = { k, x: graph.clientWidth / 2 - (b.x + b.w / 2) * k, y: graph.clientHeight / 2 - (b.y + b.h / 2) * k };
    userMoved = true;
    applyView();
  }

  function ensureVisible(name) {
    const b = boxes.get(name);
    if (!b) return;
    const x0 = b.x * view.k + view.x, y0 = b.y * view.k + view.y;
    const x1 = x0 + b.w * view.k, y1 = y0 + b.h * view.k;
    if (x0 < 0 || y0 < 0 || x1 > graph.clientWidth || y1 > graph.clientHeight) centreOn(name);
  }

  const local = (ev) => { const r = graph.getBoundingClientRect(); return [ev.clientX - r.left, ev.clientY - r.top]; };

  graph.addEventListener("wheel", (ev) => {
    if (!viewport) return;
    ev.preventDefault();
    const [px, py] = local(ev);
    const unit = ev.deltaMode === 1 ? 16 : ev.deltaMode === 2 ? 400 : 1;
    // a pinch on a touchpad arrives as a wheel with ctrlKey: let it zoom faster
    zoomAt(px, py, Math.exp(-ev.deltaY * unit * (ev.ctrlKey ? 0.01 : 0.0015)));
  }, { passive: false });

  const pointers = new Map();
  let drag = null, moved = false, pinch = null;
  graph.addEventListener("pointerdown", (ev) => {
    if (!viewport || ev.button !== 0) return;
    pointers.set(ev.pointerId, local(ev));
    moved = false;
    if (pointers.size === 1) drag = { start: local(ev), view: { ...view }, id: ev.pointerId };
    if (pointers.size === 2) {
      const [a, b] = [...pointers.values()];
      pinch = { dist: Math.hypot(a[0] - b[0], a[1] - b[1]) || 1, k: view.k };
      drag = null;
    }
  });
  graph.addEventListener("pointermove", (ev) => {
    if (!pointers.has(ev.pointerId)) return;
    const p = local(ev);
    pointers.set(ev.pointerId, p);
    if (pinch && pointers.size === 2) {
      const [a, b] = [...pointers.values()];
      const dist = Math.hypot(a[0] - b[0], a[1] - b[1]) || 1;
      zoomAt((a[0] + b[0]) / 2, (a[1] + b[1]) / 2, (pinch.k * dist / pinch.dist) / view.k);
      moved = true;
      return;
    }
    if (!drag) return;
    const dx = p[0] - drag.start[0], dy = p[1] - drag.start[1];
    if (!moved && Math.hypot(dx, dy) < 4) return;
    if (!moved) {
      moved = true;
      root.classList.add("nbflow-panning");
      try { graph.setPointerCapture(ev.pointerId); } catch { /* a synthetic pointer: pan without capture */ }
    }
    view = { k: drag.view.k, x: drag.view.x + dx, y: drag.view.y + dy };
    userMoved = true;
    applyView();
  });
  const endPointer = (ev) => {
    pointers.delete(ev.pointerId);
    if (pointers.size < 2) pinch = null;
    if (!pointers.size) { drag = null; root.classList.remove("nbflow-panning"); }
  };
  graph.addEventListener("pointerup", endPointer);
  graph.addEventListener("pointercancel", endPointer);

  zoomIn.addEventListener("click", () => zoomAt(graph.clientWidth / 2, graph.clientHeight / 2, 1.25));
  zoomOut.addEventListener("click", () => zoomAt(graph.clientWidth / 2, graph.clientHeight / 2, 1 / 1.25));
  zoomFit.addEventListener("click", fit);

  // -- selection and lineage -----------------------------------------------------------------------

  function walk(start, next) {
    const seen = new Set(), todo = [start];
    while (todo.length) {
      for (const n of next.get(todo.pop()) || []) if (!seen.has(n)) { seen.add(n); todo.push(n); }
    }
    return seen;
  }

  function highlight() {
    for (const e of lit) e.removeAttribute("data-lit");
    lit = [];
    if (!svg) return;
    const on = selected && nodes.has(selected);
    svg.classList.toggle("nbflow-focus", Boolean(on));
    if (!on) return;
    const up = walk(selected, ups), down = walk(selected, downs);
    const mark = (el, how) => { el.setAttribute("data-lit", how); lit.push(el); };
    mark(nodes.get(selected), "self");
    for (const n of up) mark(nodes.get(n), "upstream");
    for (const n of down) mark(nodes.get(n), "downstream");
    const inLine = new Set([selected, ...up, ...down]);
    for (const n of inLine) {
      for (const e of edgesOf.get(n)) {
        const a = e.dataset.tail, b = e.dataset.head;
        // an edge is part of the lineage when it runs along it, not just touches it
        if (!e.hasAttribute("data-lit") && ((up.has(a) || a === selected) && (up.has(b) || b === selected)
            || (down.has(b) || b === selected) && (down.has(a) || a === selected))) mark(e, "edge");
      }
    }
    root.dataset.lit = String(up.size + down.size + 1);
  }

  function select(name) {
    selected = name;
    applyStates();
    highlight();
    send({ action: "select", name });
  }

  // -- search --------------------------------------------------------------------------------------

  function applySearch() {
    for (const g of matched) g.removeAttribute("data-match");
    matched = [];
    const q = search.value.trim().toLowerCase();
    if (svg) svg.classList.toggle("nbflow-searching", Boolean(q));
    if (!q) { found.textContent = ""; return; }
    for (const [name, g] of nodes) if (name.toLowerCase().includes(q)) { g.setAttribute("data-match", ""); matched.push(g); }
    found.textContent = matched.length ? `${matched.length} of ${nodes.size}` : "no match";
  }
  search.addEventListener("input", applySearch);
  search.addEventListener("keydown", (ev) => {
    ev.stopPropagation();
    if (ev.key === "Enter" && matched.length) {
      ev.preventDefault();
      const name = matched[0].dataset.name;
      centreOn(name);
      select(name);
      matched[0].focus({ preventScroll: true });
    } else if (ev.key === "Escape") {
      search.value = "";
      applySearch();
    }
  });

  // -- the node menu -------------------------------------------------------------------------------

  function menuItems() { return [...menu.querySelectorAll("[role=menuitem]")]; }

  function showMenu(name, g) {
    menuFor = name;
    const item = (scope, force, label) => h("button", {
      class: force ? "nbflow-menu-force" : `nbflow-menu-${scope}`, role: "menuitem", tabindex: "-1",
      "data-scope": scope, "data-force": String(force), title: force ? FORCE_TITLE : null,
      "aria-label": force ? `${label} — ${scope === "this" ? "this" : `with ${scope}`}` : null }, label);
    const rows = [];
    for (let i = 0; i < ENTRIES.length; i += 2) {
      rows.push(h("div", { class: "nbflow-menu-row" }, item(...ENTRIES[i]), item(...ENTRIES[i + 1])));
    }
    menu.replaceChildren(h("div", { class: "nbflow-menu-title" }, name), ...rows,
      h("button", { class: "nbflow-menu-forget", role: "menuitem", tabindex: "-1",
                    title: "Remove it from the graph; its history stays in the store" }, "Forget (remove from graph)"),
      h("button", { class: "nbflow-menu-close", role: "menuitem", tabindex: "-1" }, "Close"));
    const box = g.getBoundingClientRect(), outer = root.getBoundingClientRect();
    menu.hidden = false;
    const left = Math.min(Math.max(0, box.left - outer.left), Math.max(0, outer.width - menu.offsetWidth - 4));
    menu.style.left = `${left}px`;
    menu.style.top = `${box.bottom - outer.top + 4}px`;
  }

  // Forget asks once more, in the menu itself: the question and two answers, "Cancel" focused.
  function confirmForget(name) {
    const no = h("button", { class: "nbflow-menu-forget-no", role: "menuitem", tabindex: "-1" }, "Cancel");
    menu.replaceChildren(h("div", { class: "nbflow-menu-title" }, name),
      h("p", { class: "nbflow-menu-question" }, `Remove ${name} from the graph? Its history stays in the store; cells that read it read the notebook variable instead.`),
      h("div", { class: "nbflow-menu-row" },
        h("button", { class: "nbflow-menu-forget-yes", role: "menuitem", tabindex: "-1" }, "Forget"), no));
    no.focus();
  }

  function closeMenu(refocus) {
    if (menu.hidden) return;
    menu.hidden = true;
    const g = menuFor && nodes.get(menuFor);
    menuFor = null;
    if (refocus && g) g.focus({ preventScroll: true });
  }

  menu.addEventListener("click", (ev) => {
    const b = ev.target.closest("button");
    if (!b) return;
    const name = menuFor;
    if (b.classList.contains("nbflow-menu-forget")) { confirmForget(name); return; }
    if (b.classList.contains("nbflow-menu-forget-yes")) { send({ action: "forget", name }); closeMenu(false); return; }
    if (b.classList.contains("nbflow-menu-forget-no")) { closeMenu(true); return; }
    if (b.dataset.scope && name) send({ action: "materialize", name, scope: b.dataset.scope, force: b.dataset.force === "true" });
    closeMenu(true);
  });
  menu.addEventListener("keydown", (ev) => {
    const items = menuItems();
    const i = items.indexOf(document.activeElement);
    const go = (j) => { ev.preventDefault(); items[(j + items.length) % items.length].focus(); };
    if (ev.key === "ArrowDown" || ev.key === "ArrowRight") go(i + 1);
    else if (ev.key === "ArrowUp" || ev.key === "ArrowLeft") go(i - 1);
    else if (ev.key === "Home") go(0);
    else if (ev.key === "End") go(items.length - 1);
    else if (ev.key === "Escape") { ev.preventDefault(); closeMenu(true); }
    else if (ev.key === "Tab") { closeMenu(false); return; }
    else return;
    ev.stopPropagation();
  });
  menu.addEventListener("focusout", (ev) => {
    if (!menu.contains(ev.relatedTarget) && ev.relatedTarget) closeMenu(false);
  });

  graph.addEventListener("click", (ev) => {
    if (moved) { moved = false; return; }     // the end of a drag is not a click
    const g = ev.target.closest("g.nbflow-node");
    if (!g) { closeMenu(false); return; }
    if (!connected) { showDead(); return; }   // a menu whose entries would do nothing: say why instead
    select(g.dataset.name);
    showMenu(g.dataset.name, g);
  });
  graph.addEventListener("keydown", (ev) => {
    const g = ev.target.closest && ev.target.closest("g.nbflow-node");
    if (!g) return;
    if (ev.key === "Enter" || ev.key === " ") {
      ev.preventDefault();
      ev.stopPropagation();
      select(g.dataset.name);
      showMenu(g.dataset.name, g);
      menuItems()[0].focus();
    } else if (ev.key === "Escape") {
      ev.stopPropagation();
      closeMenu(false);
    }
  });
  graph.addEventListener("focusin", (ev) => {
    const g = ev.target.closest && ev.target.closest("g.nbflow-node");
    graph.scrollTop = 0; graph.scrollLeft = 0;   // focus must not scroll the clipped box
    if (g) ensureVisible(g.dataset.name);
  });

  staleBtn.addEventListener("click", () => send({ action: "materialize_stale" }));
  cancelBtn.addEventListener("click", () => send({ action: "cancel" }));
  refreshBtn.addEventListener("click", () => send({ action: "refresh" }));

  // Pushes can arrive faster than a big SVG repaints: apply them once per animation frame,
  // and measure the lag (event in the kernel -> applied in the page) at that frame.
  let framePending = false;
  let measured = 0;
  function scheduleApply() {
    if (framePending) return;
    framePending = true;
    requestAnimationFrame(() => {
      framePending = false;
      applyStates();
      const stamp = model.get("stamp");
      if (!stamp || stamp === measured) return;
      measured = stamp;
      const lag = Date.now() - stamp * 1000;
      updates += 1;
      maxLag = Math.max(maxLag, lag);
      lags.push(Math.round(lag));
      if (lags.length > 50) lags.shift();
      root.dataset.lagMs = String(Math.round(lag));
      root.dataset.maxLagMs = String(Math.round(maxLag));
      root.dataset.updates = String(updates);
      root.dataset.lags = lags.join(",");
    });
  }

  // -- details -------------------------------------------------------------------------------------

  function drawDetails() {
    const d = model.get("details") || {};
    if (!d.name) { details.replaceChildren(h("p", { class: "nbflow-hint" }, "Click a node (or Tab to it and press Enter) for its details.")); return; }
    const last = d.last || {};
    const state = d.status && d.status !== d.label ? `${d.label} (stored: ${d.status})` : (d.label || d.status);
    const rows = [["state", state]];
    if (d.status === "stale" && d.reason) rows.push(["why stale", d.reason]);
    if (d.status === "missing" && d.reason) rows.push(["why", d.reason]);
    if (d.freshness) {
      const f = d.freshness, when = f.deadline ? localTime(f.deadline) : "";
      rows.push(["freshness", f.overdue ? `overdue${when ? ` since ${when}` : ""}${f.reason ? ` (${f.reason})` : ""}`
                                        : `on time${when ? `, due ${when}` : ""}`]);
    }
    rows.push(["kind", d.kind], ["group", d.group], ["upstream", (d.upstream || []).join(", ")],
              ["downstream", (d.downstream || []).join(", ")]);
    if (d.last) {
      rows.push(["last materialised", localTime(last.ts)], ["duration", seconds(last.duration)],
                ["run id", last.run_id], ["code version", last.code_version], ["data version", last.data_version]);
      for (const [k, v] of Object.entries(last.metadata || {})) rows.push([k, v]);
    }
    const table = h("table", { class: "nbflow-facts" }, ...rows.map(([k, v]) =>
      h("tr", { "data-key": k }, h("th", {}, k), h("td", {}, typeof v === "string" ? v || "—" : fmt(v)))));
    const parts = [h("h4", {}, d.name)];
    if (d.description) parts.push(h("p", { class: "nbflow-hint" }, d.description));
    if (d.error) parts.push(failureSection(String(d.error)));
    parts.push(table, partitionsSection(d.partitions, d.name, send), previewSection(d.preview), historySection(d.history));
    details.replaceChildren(...parts.filter(Boolean));
  }

  // -- after a kernel restart the comm is gone: say so, and offer to run the cell again -------------

  const cellOf = () => el.closest(".jp-Cell");
  function rerunCell() {
    const cell = cellOf();
    const nb = cell && cell.closest(".jp-Notebook");
    if (!cell || !nb) return false;
    // select the panel's cell the way a click on its prompt does, then the notebook's own
    // Ctrl+Enter ("notebook:run-cell") in command mode
    const prompt = cell.querySelector(".jp-InputPrompt") || cell;
    const at = prompt.getBoundingClientRect();
    for (const type of ["mousedown", "mouseup", "click"]) {
      prompt.dispatchEvent(new MouseEvent(type, { bubbles: true, cancelable: true, button: 0,
        clientX: at.left + 2, clientY: at.top + 2 }));
    }
    nb.focus();
    (document.activeElement || nb).dispatchEvent(new KeyboardEvent("keydown", { key: "Enter", code: "Enter",
      keyCode: 13, ctrlKey: true, bubbles: true, cancelable: true }));
    return true;
  }
  function showDead() {
    const inNotebook = Boolean(cellOf());
    const parts = [h("b", {}, "The kernel restarted (or stopped): this panel is no longer connected. "),
      "Clicks do nothing until its cell runs again. "];
    if (inNotebook) {
      const again = h("button", { class: "nbflow-rerun" }, "Re-run this cell");
      again.addEventListener("click", () => { if (!rerunCell()) again.replaceWith("Run this panel's cell again (Shift+Enter)."); });
      parts.push(again);
    } else {
      parts.push("Run the cell that shows it again.");
    }
    dead.replaceChildren(...parts);
    dead.hidden = false;
    root.classList.add("nbflow-disconnected");
    root.dataset.connected = "false";
  }
  function markDead() {
    if (!connected) return;
    connected = false; closeMenu(false); showDead();
  }
  function checkAlive() {
    if (el.closest(".jupyter-widgets-disconnected")) markDead();
  }
  // JupyterLab 4 flips the comm's liveness around a kernel restart without always leaving the
  // "disconnected" class behind, so the panel asks its kernel: a restarted kernel has never
  // heard of this panel and stays silent; the kernel that made it answers (once idle), and an
  // answer after a false alarm brings the panel back.
  let pingTimer = null, pingNonce = 0;
  function ping() {
    const nonce = ++pingNonce;
    clearTimeout(pingTimer);
    try { model.send({ action: "ping", nonce }); } catch (err) { markDead(); return; }
    pingTimer = setTimeout(() => { if (nonce === pingNonce) markDead(); }, PING_TIMEOUT_MS);
  }
  model.on("msg:custom", (msg) => {
    if (!msg || msg.pong === undefined) return;
    if (msg.pong === pingNonce) clearTimeout(pingTimer);
    if (!connected) {
      connected = true; dead.hidden = true; root.classList.remove("nbflow-disconnected");
      root.dataset.connected = "true";
    }
  });
  model.on("comm_live_update", () => { setTimeout(checkAlive); ping(); });
  const aliveTimer = setInterval(checkAlive, 1000);

  // -- the Runs tab --------------------------------------------------------------------------------

  let tab = "graph", runShown = "";
  function showTab(which) {
    tab = which;
    for (const t of [tabGraph, tabRuns]) t.setAttribute("aria-selected", String(t.dataset.tab === which));
    root.querySelector(".nbflow-graph-tab").hidden = which !== "graph";
    runsPane.hidden = which !== "runs";
    root.dataset.tab = which;
    if (which === "runs") { send({ action: "runs" }); drawRuns(); }
  }
  tabGraph.addEventListener("click", () => showTab("graph"));
  tabRuns.addEventListener("click", () => showTab("runs"));

  const stateChip = (state) => h("span", { class: `nbflow-chip run-${RUN_STATE_CLASS[state] || "off"}`, "data-state": state }, state.toLowerCase());

  function drawRuns() {
    if (tab !== "runs") return;
    const rows = model.get("runs") || [];
    if (!rows.length) { runsList.replaceChildren(h("p", { class: "nbflow-hint" }, "No runs yet.")); return; }
    const chosen = runShown || (model.get("run") || {}).run_id;
    const body = rows.map((r) => {
      const counts = Object.entries(r.counts || {}).map(([k, n]) => `${n} ${k.toLowerCase()}`).join(", ");
      return h("tr", { class: "nbflow-run-row" + (r.run_id === chosen ? " selected" : ""), "data-run": r.run_id,
                       "data-kind": r.kind, "data-state": r.state, tabindex: "0" },
        h("td", {}, stateChip(r.state)), h("td", {}, r.kind), h("td", { class: "nbflow-run-name" }, r.name || "—",
          r.parent ? h("span", { class: "nbflow-hint" }, " (inside a run)") : null),
        h("td", {}, localTime(r.started)), h("td", {}, seconds(r.duration)),
        h("td", {}, counts || "—"), h("td", { class: "nbflow-run-error" }, r.error || ""));
    });
    runsList.replaceChildren(h("table", { class: "nbflow-runs-table" },
      h("thead", {}, h("tr", {}, ...["state", "kind", "name", "started", "duration", "steps", "error"].map((c) => h("th", {}, c)))),
      h("tbody", {}, ...body)));
  }
  runsList.addEventListener("click", (ev) => {
    const tr = ev.target.closest("tr[data-run]");
    if (!tr) return;
    runShown = tr.dataset.run;
    send({ action: "run", run_id: runShown });   // answered once the kernel is idle
    drawRuns();
    drawRun();                                   // a run started here is shown at once
  });
  runsList.addEventListener("keydown", (ev) => {
    const tr = ev.target.closest && ev.target.closest("tr[data-run]");
    if (!tr || (ev.key !== "Enter" && ev.key !== " ")) return;
    ev.preventDefault(); ev.stopPropagation();
    tr.click();
  });

  function shownRun() {
    // A run started while the panel is open comes pushed in live_runs (the kernel may be busy
    // running a cell, and answers the page only after it); any other comes as the reply in run.
    const asked = model.get("run") || {};
    if (!runShown) return asked;
    const live = (model.get("live_runs") || {})[runShown];
    if (live) return live;
    return asked.run_id === runShown ? asked : { run_id: runShown, missing: "Reading the run..." };
  }

  function drawRun() {
    const r = shownRun();
    if (!r.run_id) { runDetail.replaceChildren(h("p", { class: "nbflow-hint" }, "Click a run for its steps, attempts and logs.")); return; }
    if (r.missing) { runDetail.replaceChildren(h("p", { class: "nbflow-hint" }, r.missing)); return; }
    const facts = [["run id", r.run_id], ["kind", r.kind], ["name", r.name], ["state", r.state],
      ["started", localTime(r.started)], ["duration", seconds(r.duration)],
      ["steps", String(r.steps.length)], ["cache hits", String(r.cache_hits)]];
    if (r.selection) facts.push(["selection", r.selection]);
    if (r.deployment) facts.push(["deployment", r.deployment]);
    if (r.parameters && Object.keys(r.parameters).length) facts.push(["parameters", JSON.stringify(r.parameters)]);
    if (r.output_path) facts.push(["output", r.output_path]);
    const parts = [h("h4", {}, `${r.kind} run ${r.name || ""}`.trim(), " ", stateChip(r.state)),
      h("table", { class: "nbflow-facts" }, ...facts.map(([k, v]) => h("tr", { "data-key": k }, h("th", {}, k), h("td", {}, v || "—"))))];
    if (r.full_error) parts.push(failureSection(String(r.full_error)));
    if (r.graph) {
      const box = h("div", { class: "nbflow-task-graph", "aria-label": "Task graph" });
      box.innerHTML = r.graph;
      const g = box.querySelector("svg");
      if (g) { g.setAttribute("width", "100%"); g.removeAttribute("height"); g.style.maxHeight = "220px"; }
      parts.push(h("h5", {}, "Task graph"), box);
    }
    if (r.steps.length) {
      parts.push(h("h5", {}, "Steps"), h("div", { class: "nbflow-scroll" }, h("table", { class: "nbflow-steps" },
        h("thead", {}, h("tr", {}, ...["step", "state", "attempts", "cache", "duration", "error"].map((c) => h("th", {}, c)))),
        h("tbody", {}, ...r.steps.map((st) => h("tr", { "data-step": st.name, "data-state": st.state },
          h("td", {}, st.name, st.upstream.length ? h("span", { class: "nbflow-hint" }, ` ← ${st.upstream.join(", ")}`) : null),
          h("td", {}, stateChip(st.state)), h("td", { class: "nbflow-attempts" }, String(st.attempts)),
          h("td", {}, st.cached ? "hit" : ""), h("td", {}, seconds(st.duration)),
          h("td", { class: "nbflow-step-error" }, st.error ? String(st.error).split("\n")[0] : "")))))));
    }
    if (r.children && r.children.length) {
      parts.push(h("h5", {}, "Runs inside it"), h("ul", { class: "nbflow-children" }, ...r.children.map((c) =>
        h("li", {}, stateChip(c.state), ` ${c.kind} ${c.name || ""} `, h("code", {}, c.run_id.slice(0, 8))))));
    }
    parts.push(h("h5", {}, "Logs"), r.logs.length
      ? h("pre", { class: "nbflow-logs" }, r.logs.map((l) => `${localTime(l.ts)} ${l.level.padEnd(7)} ${l.step ? `[${l.step}] ` : ""}${l.message}`).join("\n"))
      : h("p", { class: "nbflow-hint" }, "No log lines."));
    runDetail.replaceChildren(...parts);
  }

  function drawStatus() {
    const running = model.get("running");
    cancelBtn.disabled = !running;
    root.classList.toggle("nbflow-running", running);
    message.textContent = model.get("message");
    const n = model.get("notice");
    notice.textContent = n;
    notice.hidden = !n;
  }

  model.on("change:svg", drawGraph);
  model.on("change:strips", drawStrips);
  model.on("change:states", scheduleApply);
  model.on("change:selected", () => {
    const name = model.get("selected");
    if (name !== selected) { selected = name; highlight(); }
    scheduleApply();
  });
  model.on("change:stamp", scheduleApply);
  model.on("change:details", drawDetails);
  model.on("change:running", drawStatus);
  model.on("change:message", drawStatus);
  model.on("change:notice", drawStatus);
  model.on("change:runs", drawRuns);
  model.on("change:run", () => { drawRun(); drawRuns(); });
  model.on("change:live_runs", () => { if (runShown && (model.get("live_runs") || {})[runShown]) drawRun(); });
  selected = model.get("selected") || "";
  drawGraph();
  drawDetails();
  drawStatus();
  drawRun();
  root.dataset.connected = "true";
  checkAlive();
  // The output may be laid out after render: fit again once the box has its real size.
  requestAnimationFrame(() => { if (!userMoved) fit(); });
  return () => { menu.hidden = true; clearInterval(aliveTimer); clearTimeout(settleTimer); };
}

export default { render };
