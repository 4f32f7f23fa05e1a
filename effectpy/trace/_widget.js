// effectpy's timeline widget (anywidget ESM). The Python side sends the trace's events in
// batches, each once ({type: "events", start, events}); this side derives fibers, lanes and
// resources from them and draws. One store per model, shared by its views.

const NS = "http://www.w3.org/2000/svg";
const LANE_H = 24;
const BAR_H = 10;
const LABEL_W = 210;
const AXIS_H = 26;
const MARK_GAP = 11; // least distance between two markers of a lane
const MAX_TREE = 2000; // fibers listed in the fiber-tree pane at most
// Keyed by the widget's `_uid`: anywidget hands each call its own proxy of the model.
const STORES = new Map();

// --- the store: events in, fibers out ------------------------------------------------------

function newStore() {
  return { events: [], pending: new Map(), asked: -1, views: new Set(),
           fibers: new Map(), resources: new Map(), done: 0, order: null,
           look: { mode: null, win: null, effectPane: false } };
}

function reset(st) {
  Object.assign(st, { events: [], pending: new Map(), asked: -1, fibers: new Map(),
                      resources: new Map(), done: 0, order: null });
  st.look.win = null; // the timestamps may have been rebased
}

function fiberOf(st, id, e, i) {
  let f = st.fibers.get(id);
  if (!f) {
    f = { id, parent: null, name: null, start: i, end: null, outcome: null, children: [],
          marks: [], waits: [], open: null, cancels: [] };
    st.fibers.set(id, f);
    st.order = null;
  }
  if (e[6] != null) f.name = e[6];
  return f;
}

// Derive what the new events say (index i is the event's place in the trace).
function derive(st) {
  const ev = st.events;
  for (let i = st.done; i < ev.length; i++) {
    const e = ev[i];
    const [, , kind, fid, parent, by, , data] = e;
    const f = fiberOf(st, fid, e, i);
    switch (kind) {
      case "fork":
        f.start = i;
        if (parent != null && parent !== fid) {
          f.parent = parent;
          fiberOf(st, parent, [0, 0, "", parent, null, null, null, {}], i).children.push(fid);
          st.order = null;
        }
        break;
      case "exit":
        f.end = i; f.outcome = (data && data.outcome) || "success";
        if (f.open != null) { f.waits.push([f.open, i]); f.open = null; }
        break;
      case "suspend": case "sleep":
        if (f.open == null) f.open = i;
        break;
      case "resume": case "wake":
        if (f.open != null) { f.waits.push([f.open, i]); f.open = null; }
        break;
      case "acquire":
        st.resources.set(data.resource, { id: data.resource, fiber: fid, acq: i, rel: null, value: data.value });
        f.marks.push(i);
        break;
      case "release": {
        const r = st.resources.get(data.resource);
        if (r) r.rel = i;
        f.marks.push(i);
        break;
      }
      case "cancel":
        f.marks.push(i);
        if (typeof by === "number") f.cancels.push(i);
        break;
      case "fail": case "die": case "timeout": case "retry": case "join":
        f.marks.push(i);
        break;
      default:
        break;
    }
  }
  st.done = ev.length;
}

// Fibers depth-first under their parents, children in fork order.
function laneOrder(st) {
  if (st.order) return st.order;
  const order = [];
  const roots = [...st.fibers.values()].filter((f) => f.parent == null || !st.fibers.has(f.parent));
  const stack = roots.reverse().map((f) => [f, 0]);
  while (stack.length) {
    const [f, depth] = stack.pop();
    f.lane = order.length; f.depth = depth;
    order.push(f);
    for (let k = f.children.length - 1; k >= 0; k--) {
      const c = st.fibers.get(f.children[k]);
      if (c && c.parent === f.id) stack.push([c, depth + 1]);
    }
  }
  st.order = order;
  return order;
}

function receive(model, st, msg) {
  if (!msg || typeof msg !== "object") return;
  if (msg.type === "reset") { reset(st); redrawAll(st); return; }
  if (msg.type !== "events") return;
  if (msg.start > st.events.length) {
    st.pending.set(msg.start, msg.events); // a batch we missed comes first: ask for it
    ask(model, st);
    return;
  }
  append(st, msg.start, msg.events);
  for (let again = true; again;) {
    again = false;
    for (const [start, rows] of st.pending) {
      if (start <= st.events.length) {
        st.pending.delete(start);
        append(st, start, rows);
        again = true;
      }
    }
  }
  derive(st);
  redrawAll(st);
}

function append(st, start, rows) {
  const skip = st.events.length - start;
  for (let k = Math.max(0, skip); k < rows.length; k++) st.events.push(rows[k]);
}

function ask(model, st) {
  const have = st.events.length;
  if (st.asked === have) return;
  st.asked = have;
  model.send({ type: "need", have });
}

function checkComplete(model, st) {
  if (model.get("sent") > st.events.length) ask(model, st);
}

function redrawAll(st) {
  for (const v of st.views) v.schedule();
}

// --- text --------------------------------------------------------------------------------

function fmtTime(s) {
  if (typeof s !== "number" || !Number.isFinite(s)) return "?";
  if (s === 0) return "0";
  const a = Math.abs(s);
  const g = (x) => Number(x.toPrecision(3)).toString();
  if (a < 1e-3) return g(s * 1e6) + "\u00b5s";
  if (a < 1) return g(s * 1e3) + "ms";
  return g(s) + "s";
}

function short(text, n) {
  const s = String(text);
  return s.length <= n ? s : s.slice(0, n - 1) + "\u2026";
}

function who(st, id) {
  if (typeof id !== "number") return String(id);
  const f = st.fibers.get(id);
  return f && f.name ? `#${id} ${f.name}` : `#${id}`;
}

function describe(st, e) {
  const [, , kind, fid, parent, by, , data] = e;
  const me = who(st, fid);
  const d = data || {};
  switch (kind) {
    case "fork": return parent == null ? `${me} starts` : `${who(st, parent)} forks ${me}`;
    case "exit": return `${me} ends: ${d.outcome || "success"}`;
    case "cancel": return `${who(st, by)} interrupts ${me}` + (d.reason ? ` (${d.reason})` : "");
    case "fail": return `${me} fails: ${d.error}`;
    case "die": return `${me} dies: ${d.error}`;
    case "suspend": return `${me} waits on ${d.on}`;
    case "resume": return `${me} resumes`;
    case "join": return `${me} joins ${who(st, by)}`;
    case "sleep": return `${me} sleeps ${fmtTime(d.seconds)}`;
    case "wake": return `${me} wakes`;
    case "timeout": return `${me} times out after ${fmtTime(d.after)}`;
    case "retry": return `${me} retries (attempt ${d.attempt}) in ${fmtTime(d.delay)} after ${d.error}`;
    case "scope_open": return `${me} opens a ${d.kind} scope`;
    case "scope_close": return `${me} closes its ${d.kind} scope`;
    case "acquire": return `${me} acquires resource r${d.resource}: ${d.value}`;
    case "release": return `${me} releases resource r${d.resource} (${d.exit})`;
    default: return `${me} ${kind}`;
  }
}

// --- a view ----------------------------------------------------------------------------

function h(tag, attrs, parent, text) {
  const node = tag.startsWith("svg:") ? document.createElementNS(NS, tag.slice(4)) : document.createElement(tag);
  for (const k in attrs || {}) node.setAttribute(k, attrs[k]);
  if (text != null) node.textContent = text;
  if (parent) parent.appendChild(node);
  return node;
}

function niceStep(span, ticks) {
  const raw = span / ticks;
  const p = Math.pow(10, Math.floor(Math.log10(raw)));
  for (const m of [1, 2, 2.5, 5, 10]) if (raw <= m * p) return m * p;
  return 10 * p;
}

class View {
  // How the reader looks at the run (axis, zoom, pane) lives in the store, so a view made
  // again (`%%effect` updates its display at the end of the run) keeps it.
  get mode() { return this.st.look.mode; } // "time" | "steps"; null: chosen from the trace
  set mode(m) { this.st.look.mode = m; }
  get win() { return this.st.look.win; } // [d0, d1] of the domain shown; null: fit
  set win(w) { this.st.look.win = w; }

  constructor(model, el, st) {
    this.model = model; this.st = st; this.el = el;
    this.queued = false; this.timer = null;
    const root = this.root = h("div", { class: "eptw" }, el);
    const bar = h("div", { class: "eptw-bar" }, root);
    this.titleEl = h("span", { class: "eptw-title" }, bar);
    this.badge = h("span", { class: "eptw-badge" }, bar);
    this.stats = h("span", { class: "eptw-badge" }, bar);
    h("span", { class: "eptw-spacer" }, bar);
    this.modeBtn = h("button", { title: "x axis: the trace's clock, or one step per event" }, bar, "axis: time");
    const zin = h("button", { title: "zoom in (or ctrl + wheel on the lanes, wheel on the axis)" }, bar, "+");
    const zout = h("button", { title: "zoom out" }, bar, "\u2212");
    const fit = h("button", { title: "show everything (or double-click)" }, bar, "fit");
    const main = h("div", { class: "eptw-main" }, root);
    const time = this.timeEl = h("div", { class: "eptw-time" }, main);
    this.axis = h("svg:svg", { class: "eptw-axis", height: AXIS_H }, h("div", { class: "eptw-axis" }, time));
    this.scroll = h("div", { class: "eptw-scroll" }, time);
    this.svg = h("svg:svg", { class: "eptw-lanes" }, this.scroll);
    const side = this.side = h("div", { class: "eptw-side" }, main);
    const tabs = h("div", { class: "eptw-tabs" }, side);
    this.fiberTab = h("button", { class: "on" }, tabs, "fibers");
    this.effectTab = h("button", {}, tabs, "effect");
    this.treePane = h("div", { class: "eptw-pane eptw-tree" }, side);
    this.effectPane = h("div", { class: "eptw-pane eptw-effect", style: "display:none" }, side);
    const replay = h("div", { class: "eptw-replay" }, root);
    this.playBtn = h("button", { title: "replay the events one by one" }, replay, "\u25b6");
    const back = h("button", { title: "one event back" }, replay, "\u25c0");
    const fwd = h("button", { title: "one event forward" }, replay, "\u25b6|");
    this.slider = h("input", { class: "eptw-slider", type: "range", min: 0, max: 0, value: 0, step: 1,
                               "aria-label": "replay: events shown" }, replay);
    this.count = h("span", { class: "eptw-badge" }, replay);
    this.now = h("div", { class: "eptw-now" }, root);
    this.tip = h("div", { class: "eptw-tip" }, root);

    this.modeBtn.onclick = () => { this.mode = this.currentMode() === "time" ? "steps" : "time"; this.win = null; this.schedule(); };
    zin.onclick = () => this.zoom(0.6, null);
    zout.onclick = () => this.zoom(1 / 0.6, null);
    fit.onclick = () => { this.win = null; this.schedule(); };
    this.fiberTab.onclick = () => this.showPane(false);
    this.effectTab.onclick = () => this.showPane(true);
    this.playBtn.onclick = () => this.play();
    back.onclick = () => this.step(-1);
    fwd.onclick = () => this.step(1);
    this.slider.oninput = () => this.setCursor(Number(this.slider.value));
    this.scroll.onscroll = () => this.schedule();
    this.bindPointer();
    this.treePane.onclick = (ev) => {
      const span = ev.target.closest("[data-fiber]");
      if (span) this.select(Number(span.getAttribute("data-fiber")), true);
    };
    this.effectPane.onclick = (ev) => {
      const node = ev.target.closest("g.node[data-fiber]");
      if (node) this.select(Number(node.getAttribute("data-fiber")), true);
    };
    for (const name of ["selected", "cursor", "running", "title", "effect_tree_svg", "sent"]) {
      model.on(`change:${name}`, () => this.schedule(name === "effect_tree_svg"));
    }
    this.effectDirty = true;
    if (st.look.effectPane) this.showPane(true);
    this.resize = new ResizeObserver(() => this.schedule());
    this.resize.observe(root);
    this.schedule();
  }

  dispose() {
    this.unbind();
    this.resize.disconnect();
    if (this.timer) clearInterval(this.timer);
  }

  // state

  cursor() {
    const c = this.model.get("cursor");
    const n = this.st.events.length;
    return c == null || c > n ? n : Math.max(0, c);
  }

  setCursor(c) {
    const n = this.st.events.length;
    this.model.set("cursor", c >= n && !this.timer ? null : c);
    this.model.save_changes();
    this.schedule();
  }

  step(d) {
    this.stop();
    this.setCursor(Math.min(this.st.events.length, Math.max(0, this.cursor() + d)));
  }

  play() {
    if (this.timer) { this.stop(); return; }
    if (this.cursor() >= this.st.events.length) this.setCursor(0);
    this.playBtn.textContent = "\u275a\u275a";
    this.timer = setInterval(() => {
      const c = this.cursor();
      if (c >= this.st.events.length) { this.stop(); this.setCursor(c); return; }
      this.setCursor(c + 1);
    }, 160);
  }

  stop() {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.playBtn.textContent = "\u25b6";
  }

  select(id, reveal) {
    const cur = this.model.get("selected");
    this.model.set("selected", id === cur && !reveal ? null : id);
    this.model.save_changes();
    const f = this.st.fibers.get(id);
    if (reveal && f && f.lane != null) {
      const y = f.lane * LANE_H;
      if (y < this.scroll.scrollTop || y > this.scroll.scrollTop + this.scroll.clientHeight - LANE_H) {
        this.scroll.scrollTop = Math.max(0, y - this.scroll.clientHeight / 2);
      }
    }
    this.schedule();
  }

  subtree() {
    const id = this.model.get("selected");
    const f = id == null ? null : this.st.fibers.get(id);
    if (!f) return null;
    const set = new Set();
    const stack = [f];
    while (stack.length) {
      const g = stack.pop();
      set.add(g.id);
      for (const c of g.children) {
        const k = this.st.fibers.get(c);
        if (k && k.parent === g.id && !set.has(c)) stack.push(k);
      }
    }
    return set;
  }

  showPane(effect) {
    this.st.look.effectPane = effect;
    this.effectPane.style.display = effect ? "" : "none";
    this.treePane.style.display = effect ? "none" : "";
    this.effectTab.classList.toggle("on", effect);
    if (effect) this.fitEffect();
    this.fiberTab.classList.toggle("on", !effect);
  }

  currentMode() {
    if (this.mode) return this.mode;
    const ev = this.st.events;
    return ev.length && ev[ev.length - 1][1] > ev[0][1] ? "time" : "steps";
  }

  // the x axis: a domain value per event (its time, or its index), and the window shown

  dom(i) {
    return this.currentMode() === "time" ? this.st.events[i][1] : i;
  }

  full() {
    const n = this.st.events.length;
    if (!n) return [0, 1];
    let d0 = this.dom(0), d1 = this.dom(n - 1);
    if (d1 <= d0) d1 = d0 + 1;
    const pad = (d1 - d0) * 0.03;
    return [d0 - pad, d1 + pad];
  }

  window() {
    return this.win || this.full();
  }

  plotWidth() {
    return Math.max(120, this.timeEl.clientWidth - LABEL_W - 12);
  }

  x(d) {
    const [d0, d1] = this.window();
    return LABEL_W + ((d - d0) / (d1 - d0)) * this.plotWidth();
  }

  zoom(factor, at) {
    const [d0, d1] = this.window();
    const m = at == null ? (d0 + d1) / 2 : at;
    let a = m - (m - d0) * factor, b = m + (d1 - m) * factor;
    const [f0, f1] = this.full();
    if (b - a >= f1 - f0) { this.win = null; } else {
      if (b - a < (f1 - f0) * 1e-6) return;
      this.win = [a, b];
    }
    this.schedule();
  }

  pan(dx) {
    const [d0, d1] = this.window();
    const dd = (dx / this.plotWidth()) * (d1 - d0);
    this.win = [d0 - dd, d1 - dd];
    this.schedule();
  }

  domainAt(px) {
    const [d0, d1] = this.window();
    return d0 + ((px - LABEL_W) / this.plotWidth()) * (d1 - d0);
  }

  bindPointer() {
    const svg = this.svg;
    let drag = null;
    const onWheel = (ev, always) => {
      if (!always && !(ev.ctrlKey || ev.metaKey)) return;
      ev.preventDefault();
      const px = ev.clientX - svg.getBoundingClientRect().left;
      this.zoom(Math.exp(ev.deltaY * 0.0015), px > LABEL_W ? this.domainAt(px) : null);
    };
    svg.addEventListener("wheel", (ev) => onWheel(ev, false), { passive: false });
    this.axis.addEventListener("wheel", (ev) => onWheel(ev, true), { passive: false });
    svg.addEventListener("dblclick", () => { this.win = null; this.schedule(); });
    svg.addEventListener("mousedown", (ev) => { drag = { x: ev.clientX, moved: false }; });
    const onMove = (ev) => {
      if (!drag) return;
      const dx = ev.clientX - drag.x;
      if (Math.abs(dx) > 3 || drag.moved) {
        drag.moved = true; drag.x = ev.clientX;
        svg.classList.add("dragging");
        this.pan(dx);
      }
    };
    const onUp = (ev) => {
      if (!drag) return;
      const moved = drag.moved;
      drag = null;
      svg.classList.remove("dragging");
      if (!moved && svg.contains(ev.target)) this.click(ev);
    };
    window.addEventListener("mousemove", onMove);
    window.addEventListener("mouseup", onUp);
    this.unbind = () => {
      window.removeEventListener("mousemove", onMove);
      window.removeEventListener("mouseup", onUp);
    };
    svg.addEventListener("mousemove", (ev) => { if (!drag) this.hover(ev); });
    svg.addEventListener("mouseleave", () => { this.tip.style.display = "none"; });
  }

  laneAt(ev) {
    const r = this.svg.getBoundingClientRect();
    const order = laneOrder(this.st);
    const k = Math.floor((ev.clientY - r.top) / LANE_H);
    return { f: k >= 0 && k < order.length ? order[k] : null, px: ev.clientX - r.left };
  }

  click(ev) {
    const { f } = this.laneAt(ev);
    if (!f) { this.model.set("selected", null); this.model.save_changes(); this.schedule(); return; }
    this.select(f.id, false);
  }

  hover(ev) {
    const { f, px } = this.laneAt(ev);
    if (!f) { this.tip.style.display = "none"; return; }
    const st = this.st, c = this.cursor();
    let best = null, bestD = 7;
    for (const i of [f.start, ...f.marks, f.end]) {
      if (i == null || i >= c) continue;
      const x = this.placed && this.placed.has(i) ? this.placed.get(i) : this.x(this.dom(i));
      const d = Math.abs(x - px);
      if (d < bestD) { best = i; bestD = d; }
    }
    let text;
    if (best != null) {
      const e = st.events[best];
      text = `${describe(st, e)}\nt = ${fmtTime(e[1])} \u00b7 event ${best + 1} of ${st.events.length}`;
      if (e[7] && e[7].cause) text += "\n" + short(e[7].cause, 600);
    } else if (f.start >= c) {
      text = `${who(st, f.id)}: not started yet at this point of the replay (event ${c} of ${st.events.length})`;
    } else {
      const end = f.end != null && f.end < c ? f.end : null;
      const t0 = st.events[f.start][1];
      text = `${who(st, f.id)}` + (f.parent != null ? `  (child of #${f.parent})` : "  (root)") +
        `\nstarted ${fmtTime(t0)}` + (end != null ? `, ${f.outcome} at ${fmtTime(st.events[end][1])}` +
        ` (${fmtTime(st.events[end][1] - t0)})` : ", still running") +
        `\n${f.children.length} children \u00b7 click to highlight its subtree`;
    }
    this.tip.textContent = text;
    const r = this.root.getBoundingClientRect();
    this.tip.style.display = "block";
    this.tip.style.left = `${Math.min(ev.clientX - r.left + 12, r.width - 260)}px`;
    this.tip.style.top = `${ev.clientY - r.top + 14}px`;
  }

  // drawing

  schedule(effectTree) {
    if (effectTree) this.effectDirty = true;
    if (this.queued) return;
    this.queued = true;
    requestAnimationFrame(() => { this.queued = false; this.draw(); });
  }

  draw() {
    const st = this.st, model = this.model;
    const n = st.events.length, c = this.cursor();
    const order = laneOrder(st);
    this.titleEl.textContent = model.get("title") || "effectpy timeline";
    const running = model.get("running");
    this.badge.textContent = running ? "\u25cf live" : `${model.get("clock")} clock`;
    this.badge.classList.toggle("live", !!running);
    const dropped = model.get("dropped");
    this.stats.textContent = `${order.length} fibers \u00b7 ${n} events` +
      (dropped ? ` \u00b7 the ${dropped} oldest dropped` : "");
    this.modeBtn.textContent = `axis: ${this.currentMode()}`;
    this.slider.max = String(n);
    this.slider.value = String(c);
    this.count.textContent = `${c} / ${n}`;
    this.now.textContent = c > 0 && n > 0
      ? `[${c}/${n}] t=${fmtTime(st.events[c - 1][1])}  ${describe(st, st.events[c - 1])}` : (n ? "[0] before the first event" : "");
    if (this.effectDirty) {
      this.effectDirty = false;
      const svg = model.get("effect_tree_svg");
      this.effectPane.innerHTML = svg || "<div class='eptw-empty'>no effect given: trace.widget(effect) draws its tree here</div>";
      this.fitEffect();
    }
    const sub = this.subtree();
    this.drawAxis(c);
    this.drawLanes(order, c, sub);
    this.drawTree(order, c, sub);
    this.markEffect(sub);
  }

  drawAxis(c) {
    const axis = this.axis, w = this.timeEl.clientWidth;
    axis.replaceChildren();
    axis.setAttribute("width", w);
    const [d0, d1] = this.window();
    const timeMode = this.currentMode() === "time";
    let stepSize = niceStep(d1 - d0, Math.max(2, Math.floor(this.plotWidth() / 90)));
    if (!timeMode) stepSize = Math.max(1, Math.round(stepSize)); // events are whole numbers
    // counting ticks by an integer: `t += step` can stop moving when |t| dwarfs the step
    for (let k = Math.ceil(d0 / stepSize), n = 0; k * stepSize <= d1 && n < 200; k++, n++) {
      const t = k * stepSize, x = this.x(t);
      h("svg:line", { x1: x, x2: x, y1: AXIS_H - 6, y2: AXIS_H, stroke: "#9aa5b1" }, axis);
      h("svg:text", { x, y: AXIS_H - 9, "text-anchor": "middle", "font-size": 10, fill: "#52606d" }, axis,
        timeMode ? fmtTime(t) : `#${t + 1}`); // event numbers count from 1, as the slider does
    }
    h("svg:text", { x: 8, y: AXIS_H - 9, "font-size": 10, fill: "#52606d" }, axis,
      timeMode ? `time (${this.model.get("clock")} clock)` : "event number");
    if (c < this.st.events.length && c > 0) this.cursorLine(axis, c, AXIS_H);
  }

  cursorLine(svg, c, height) {
    const x = this.x(this.dom(c - 1));
    h("svg:line", { class: "eptw-cursor", x1: x, x2: x, y1: 0, y2: height, stroke: "#1d4ed8", "stroke-width": 1.5 }, svg);
  }

  drawLanes(order, c, sub) {
    const st = this.st, svg = this.svg, pal = this.model.get("_palette") || {};
    const width = this.timeEl.clientWidth;
    const height = Math.max(LANE_H, order.length * LANE_H + 4);
    svg.replaceChildren();
    this.placed = new Map(); // event index -> x of its marker, as drawn
    svg.setAttribute("width", width);
    svg.setAttribute("height", height);
    if (!order.length) {
      const owed = this.model.get("sent");
      h("svg:text", { x: 12, y: 16, fill: "#7b8794" }, svg, owed > 0
        ? `${owed} events are in the kernel: run the cell again to see them here` // a saved view, no kernel
        : this.model.get("running") ? "waiting for events\u2026" : "no events recorded");
      return;
    }
    const top = this.scroll.scrollTop, view = this.scroll.clientHeight || 420;
    const first = Math.max(0, Math.floor(top / LANE_H) - 2);
    const last = Math.min(order.length, Math.ceil((top + view) / LANE_H) + 2);
    const xEnd = width - 6;
    const clip = (x) => Math.max(LABEL_W, Math.min(xEnd, x));
    const plot = h("svg:g", {}, null);
    const cx = c > 0 ? this.x(this.dom(c - 1)) : LABEL_W;
    const arrows = h("svg:g", {}, null);
    for (let k = first; k < last; k++) {
      const f = order[k];
      const y = k * LANE_H, mid = y + LANE_H / 2;
      const lane = h("svg:g", { class: "eptw-lane", "data-fiber": f.id }, plot);
      if (sub) lane.classList.add(sub.has(f.id) ? "sel" : "dim");
      h("svg:rect", { class: "eptw-hl", x: 0, y, width, height: LANE_H, fill: k % 2 ? "#fbfcfd" : "#ffffff" }, lane);
      const started = f.start < c;
      const label = (f.name ? `#${f.id} ${f.name}` : `#${f.id}`);
      const ended = f.end != null && f.end < c;
      const color = ended ? (pal[f.outcome] || "#8d95a1") : (pal.running || "#8d95a1");
      h("svg:circle", { cx: 8 + f.depth * 12, cy: mid, r: 3.5, fill: started ? color : "#d9dee4" }, lane);
      h("svg:text", { class: "eptw-label", x: 15 + f.depth * 12, y: mid + 4, fill: started ? "#1f2933" : "#9aa5b1" },
        lane, short(label, Math.max(6, 30 - f.depth * 2)));
      if (!started) continue;
      const x0 = this.x(this.dom(f.start));
      const x1 = ended ? this.x(this.dom(f.end)) : cx;
      const a = clip(x0), b = clip(Math.max(x1, x0 + 2));
      if (b > a || x0 >= LABEL_W) {
        h("svg:rect", { class: "eptw-bar", x: a, y: mid - BAR_H / 2, width: Math.max(2, b - a), height: BAR_H, rx: 3,
                        fill: color, "fill-opacity": ended ? 0.9 : 0.55 }, lane);
      }
      for (const [w0, w1] of f.waits) {
        if (w0 >= c) continue;
        const p = clip(this.x(this.dom(w0))), q = clip(w1 < c ? this.x(this.dom(w1)) : cx);
        if (q > p) h("svg:rect", { x: p, y: mid - BAR_H / 2 + 2, width: q - p, height: BAR_H - 4, fill: "#ffffff", "fill-opacity": 0.55 }, lane);
      }
      if (!ended && f.end == null && !this.model.get("running") && c >= st.events.length) {
        h("svg:text", { x: clip(x1) + 4, y: mid + 4, "font-size": 10, fill: pal.running }, lane, "never ended");
      }
      if (f.parent != null && st.fibers.has(f.parent)) {
        const p = st.fibers.get(f.parent);
        const py = p.lane * LANE_H + LANE_H / 2;
        if (x0 >= LABEL_W && x0 <= xEnd) {
          h("svg:path", { d: `M${x0},${py + 4} L${x0},${mid - 5}`, stroke: pal.fork, "stroke-dasharray": "3 2",
                          fill: "none", "stroke-width": 1 }, arrows);
          h("svg:path", { d: `M${x0 - 3},${mid - 8} L${x0},${mid - 4} L${x0 + 3},${mid - 8}`, fill: "none",
                          stroke: pal.fork }, arrows);
        }
      }
      let last = -Infinity; // markers at one instant are spaced out, in event order
      for (const i of f.marks) {
        if (i >= c) continue;
        const x = Math.max(this.x(this.dom(i)), last + MARK_GAP);
        this.placed.set(i, x);
        last = x;
        this.mark(st.events[i], i, x, lane, arrows, mid, pal, sub, clip);
      }
    }
    svg.appendChild(plot);
    svg.appendChild(arrows);
    if (c < st.events.length && c > 0) this.cursorLine(svg, c, height);
  }

  mark(e, i, x, lane, arrows, mid, pal, sub, clip) {
    const st = this.st;
    if (x < LABEL_W - 4 || x > this.timeEl.clientWidth) return;
    const kind = e[2], data = e[7] || {};
    const attrs = { class: `eptw-mark eptw-${kind}`, "data-event": i };
    if (kind === "fail" || kind === "die") {
      h("svg:path", Object.assign(attrs, { d: `M${x - 4},${mid - 4} L${x + 4},${mid + 4} M${x - 4},${mid + 4} L${x + 4},${mid - 4}`,
                                           stroke: pal.failure, "stroke-width": 2.2 }), lane);
    } else if (kind === "cancel") {
      const by = st.fibers.get(e[5]);
      if (by && by.lane != null) {
        const by_ = by.lane * LANE_H + LANE_H / 2;
        const up = by_ < mid;
        h("svg:path", { d: `M${x},${by_} L${x},${mid + (up ? -6 : 6)}`, stroke: pal.cancel, "stroke-width": 1.5, fill: "none" }, arrows);
        h("svg:path", { d: up ? `M${x - 3.5},${mid - 10} L${x},${mid - 5} L${x + 3.5},${mid - 10} z`
                              : `M${x - 3.5},${mid + 10} L${x},${mid + 5} L${x + 3.5},${mid + 10} z`, fill: pal.cancel }, arrows);
      }
      h("svg:circle", Object.assign(attrs, { cx: x, cy: mid, r: 3, fill: "#ffffff", stroke: pal.cancel, "stroke-width": 1.8 }), lane);
    } else if (kind === "acquire" || kind === "release") {
      const mine = sub && sub.has(e[3]);
      const r = mine ? 5.5 : 4;
      const pts = `${x},${mid - r} ${x + r},${mid} ${x},${mid + r} ${x - r},${mid}`;
      h("svg:polygon", Object.assign(attrs, { points: pts, fill: kind === "acquire" ? pal.resource : "#ffffff",
                                              stroke: pal.resource, "stroke-width": mine ? 2.4 : 1.6 }), lane);
      if (kind === "release") {
        const res = st.resources.get(data.resource);
        if (res && res.acq != null) {
          const xa = clip(this.placed.get(res.acq) ?? this.x(this.dom(res.acq)));
          h("svg:line", { x1: xa, x2: clip(x), y1: mid - 8, y2: mid - 8, stroke: pal.resource, "stroke-width": mine ? 2 : 1,
                          "stroke-opacity": 0.7 }, lane);
        }
      }
    } else if (kind === "timeout") {
      h("svg:text", Object.assign(attrs, { x, y: mid - 5, "text-anchor": "middle", "font-size": 11, fill: pal.cancel }), lane, "\u23f1");
    } else if (kind === "retry") {
      h("svg:text", Object.assign(attrs, { x, y: mid + 4, "text-anchor": "middle", "font-size": 12, fill: "#7c3aed" }), lane, "\u21bb");
    } else if (kind === "join") {
      h("svg:rect", Object.assign(attrs, { x: x - 1, y: mid - 6, width: 2, height: 12, fill: "#52606d" }), lane);
    }
  }

  drawTree(order, c, sub) {
    const st = this.st, pane = this.treePane, pal = this.model.get("_palette") || {};
    const key = `${order.length}:${c}:${this.model.get("selected")}:${st.events.length}`;
    if (this.treeKey === key) return;
    this.treeKey = key;
    pane.replaceChildren();
    if (!order.length) return;
    const rootUl = h("ul", {}, pane);
    const uls = new Map();
    const shown = order.slice(0, MAX_TREE);
    for (const f of shown) {
      const parentUl = f.parent != null && uls.has(f.parent) ? uls.get(f.parent) : rootUl;
      const li = h("li", {}, parentUl);
      const started = f.start < c, ended = f.end != null && f.end < c;
      const span = h("span", { "data-fiber": f.id }, li);
      if (!started) span.classList.add("future");
      if (sub && sub.has(f.id)) span.classList.add("sel");
      const dot = h("span", { class: "eptw-dot" }, span);
      dot.style.background = !started ? "#d9dee4" : ended ? pal[f.outcome] || "#8d95a1" : pal.running;
      span.appendChild(document.createTextNode(short(f.name ? `#${f.id} ${f.name}` : `#${f.id}`, 40) +
        (ended ? ` \u00b7 ${f.outcome}` : started ? " \u00b7 running" : "")));
      if (f.children.length) uls.set(f.id, h("ul", {}, li));
    }
    if (order.length > shown.length) h("div", { class: "eptw-empty" }, pane, `${order.length - shown.length} more fibers not listed`);
  }

  // The effect tree is drawn to the pane's width, but never below 60% of its size (then it scrolls).
  fitEffect() {
    const svg = this.effectPane.querySelector("svg");
    const box = svg && svg.viewBox && svg.viewBox.baseVal;
    if (!box || !box.width) return;
    const scale = Math.max(0.6, Math.min(1, (this.effectPane.clientWidth - 12) / box.width));
    svg.setAttribute("width", `${box.width * scale}`);
    svg.setAttribute("height", `${box.height * scale}`);
  }

  markEffect(sub) {
    const sel = this.model.get("selected");
    for (const node of this.effectPane.querySelectorAll("g.node[data-fiber]")) {
      const id = Number(node.getAttribute("data-fiber"));
      node.classList.toggle("sel", id === sel);
      node.classList.toggle("dim", !!sub && !sub.has(id));
    }
  }
}

function initialize({ model }) {
  const uid = model.get("_uid");
  const st = newStore();
  STORES.set(uid, st);
  model.on("msg:custom", (msg) => receive(model, st, msg));
  model.on("change:sent", () => checkComplete(model, st));
  checkComplete(model, st); // batches sent before this side was listening: ask for them
  return () => STORES.delete(uid); // anywidget calls this when the model goes away
}

function render({ model, el }) {
  let st = STORES.get(model.get("_uid"));
  if (!st) { initialize({ model }); st = STORES.get(model.get("_uid")); }
  const view = new View(model, el, st);
  st.views.add(view);
  return () => { st.views.delete(view); view.dispose(); };
}

export default { initialize, render };
