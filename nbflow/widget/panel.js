// nbflow lineage panel: draws the SVG the kernel lays out, restyles nodes from `states`,
// and sends clicks back as anywidget custom messages ({action: ...}).

function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") el.className = v;
    else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v);
  }
  for (const c of children) el.append(c);
  return el;
}

const SCOPES = [
  ["this", "Materialise this"],
  ["upstream", "… with upstream"],
  ["downstream", "… with downstream"],
];

function render({ model, el }) {
  const root = h("div", { class: "nbflow-panel" });
  const staleBtn = h("button", { class: "nbflow-stale", title: "Materialise every stale or missing asset" },
                     "Materialise stale");
  const cancelBtn = h("button", { class: "nbflow-cancel", title: "Stop after the current step" }, "Cancel");
  const zoomOut = h("button", { class: "nbflow-zoom", title: "Zoom out" }, "−");
  const zoomFit = h("button", { class: "nbflow-zoom", title: "Fit / actual size" }, "fit");
  const zoomIn = h("button", { class: "nbflow-zoom", title: "Zoom in" }, "+");
  const message = h("span", { class: "nbflow-message", role: "status" });
  const notice = h("div", { class: "nbflow-notice" });
  const graph = h("div", { class: "nbflow-graph" });
  const menu = h("div", { class: "nbflow-menu", hidden: "" });
  const details = h("div", { class: "nbflow-details" });
  root.append(
    h("div", { class: "nbflow-toolbar" }, staleBtn, cancelBtn, zoomOut, zoomFit, zoomIn, message),
    notice,
    h("div", { class: "nbflow-body" }, graph, details),
    menu,
  );
  el.append(root);

  let nodes = new Map();
  let zoom = 1;
  let fitted = false;
  let updates = 0;
  let maxLag = 0;
  const lags = [];

  const send = (msg) => model.send(msg);

  function drawGraph() {
    graph.innerHTML = model.get("svg");
    nodes = new Map();
    for (const g of graph.querySelectorAll("g.nbflow-node")) nodes.set(g.dataset.name, g);
    applyZoom();
    applyStates();
    const built = model.get("built_at");
    requestAnimationFrame(() => {
      if (!root.dataset.paintMs && built) root.dataset.paintMs = String(Date.now() - built * 1000);
      root.dataset.nodes = String(nodes.size);
    });
  }

  function applyZoom() {
    const svg = graph.querySelector("svg");
    if (!svg) return;
    const w = Number(svg.getAttribute("width")), hgt = Number(svg.getAttribute("height"));
    const scale = fitted ? Math.min(1, (graph.clientWidth - 4) / w) : zoom;
    svg.style.width = `${w * scale}px`;
    svg.style.height = `${hgt * scale}px`;
  }

  function applyStates() {
    const states = model.get("states") || {};
    const selected = model.get("selected");
    for (const [name, label] of Object.entries(states)) {
      const g = nodes.get(name);
      if (!g) continue;
      const cls = `nbflow-node state-${label.replace(/ /g, "-")}` + (name === selected ? " selected" : "");
      if (g.getAttribute("class") !== cls) g.setAttribute("class", cls);
      const text = g.querySelector("text.nbflow-state");
      if (text && text.textContent !== label) text.textContent = label;
    }
  }

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

  function showMenu(name, g) {
    menu.replaceChildren(
      h("div", { class: "nbflow-menu-title" }, name),
      ...SCOPES.map(([scope, label]) =>
        h("button", { class: `nbflow-menu-${scope}`, "data-scope": scope, onclick: () => {
          menu.hidden = true;
          send({ action: "materialize", name, scope });
        } }, label)),
      h("button", { class: "nbflow-menu-close", onclick: () => { menu.hidden = true; } }, "Close"),
    );
    const box = g.getBoundingClientRect(), outer = root.getBoundingClientRect();
    menu.style.left = `${Math.max(0, box.left - outer.left)}px`;
    menu.style.top = `${box.bottom - outer.top + 4}px`;
    menu.hidden = false;
  }

  graph.addEventListener("click", (ev) => {
    const g = ev.target.closest("g.nbflow-node");
    if (!g) { menu.hidden = true; return; }
    const name = g.dataset.name;
    send({ action: "select", name });
    showMenu(name, g);
  });
  graph.addEventListener("keydown", (ev) => {
    const g = ev.target.closest && ev.target.closest("g.nbflow-node");
    if (g && (ev.key === "Enter" || ev.key === " ")) { ev.preventDefault(); g.dispatchEvent(new MouseEvent("click", { bubbles: true })); }
  });
  staleBtn.addEventListener("click", () => send({ action: "materialize_stale" }));
  cancelBtn.addEventListener("click", () => send({ action: "cancel" }));
  zoomIn.addEventListener("click", () => { fitted = false; zoom = Math.min(3, zoom * 1.25); applyZoom(); });
  zoomOut.addEventListener("click", () => { fitted = false; zoom = Math.max(0.1, zoom / 1.25); applyZoom(); });
  zoomFit.addEventListener("click", () => { fitted = !fitted; zoom = 1; applyZoom(); });

  function fmt(v) {
    if (v === null || v === undefined || v === "") return "—";
    if (typeof v === "number") return Number.isInteger(v) ? String(v) : v.toFixed(3);
    if (typeof v === "object") return JSON.stringify(v);
    return String(v);
  }

  function drawDetails() {
    const d = model.get("details") || {};
    if (!d.name) { details.replaceChildren(h("p", { class: "nbflow-hint" }, "Click a node for its details.")); return; }
    const rows = [
      ["state", d.label], ["status", d.status], ["stale reason", d.reason], ["kind", d.kind],
      ["group", d.group], ["upstream", (d.upstream || []).join(", ")],
    ];
    const last = d.last || {};
    rows.push(["last materialised", last.time], ["duration (s)", last.duration], ["run id", last.run_id],
              ["code version", last.code_version], ["data version", last.data_version]);
    const meta = last.metadata || {};
    for (const [k, v] of Object.entries(meta)) rows.push([k, v]);
    const table = h("table", {}, ...rows.map(([k, v]) => h("tr", {}, h("th", {}, k), h("td", {}, fmt(v)))));
    const parts = [h("h4", {}, d.name), table];
    if (d.error) parts.push(h("pre", { class: "nbflow-error" }, d.error));
    details.replaceChildren(...parts);
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
  model.on("change:states", scheduleApply);
  model.on("change:selected", scheduleApply);
  model.on("change:stamp", scheduleApply);
  model.on("change:details", drawDetails);
  model.on("change:running", drawStatus);
  model.on("change:message", drawStatus);
  model.on("change:notice", drawStatus);
  drawGraph();
  drawDetails();
  drawStatus();
  return () => { menu.hidden = true; };
}

export default { render };
