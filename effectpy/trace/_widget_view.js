// effectpy's timeline widget, part 2 of 4: a view (the controls, what the reader does,
// the tooltip) and its drawing loop.

class View {
  // How the reader looks at the run (axis, zoom, pane, what is unfolded) lives in the store,
  // so a view made again (`%%effect` updates its display at the end of the run) keeps it.
  get mode() { return this.st.look.mode; } // "time" | "steps"; null: chosen from the trace
  set mode(m) { this.st.look.mode = m; }
  get win() { return this.st.look.win; } // [d0, d1] of the domain shown; null: fit
  set win(w) { this.st.look.win = w; }

  constructor(model, el, st) {
    this.model = model; this.st = st; this.el = el;
    this.queued = false; this.timer = null; this.hoverAt = null;
    const root = this.root = h("div", { class: "eptw" }, el);
    const bar = h("div", { class: "eptw-bar" }, root);
    this.titleEl = h("span", { class: "eptw-title" }, bar);
    this.badge = h("span", { class: "eptw-badge" }, bar);
    this.stats = h("span", { class: "eptw-badge" }, bar);
    h("span", { class: "eptw-spacer" }, bar);
    this.internalBtn = h("button", { title: "show effectpy's internal fibers (a timeout's timer, a stream's pump) in lanes of their own" },
                         bar, "\u2699 internal");
    this.modeBtn = h("button", { title: "x axis: the trace's clock, or one step per event" }, bar, "axis: time");
    const zin = h("button", { title: "zoom in (or ctrl + wheel on the lanes, wheel on the axis)" }, bar, "+");
    const zout = h("button", { title: "zoom out" }, bar, "\u2212");
    const fit = h("button", { title: "show everything (or double-click)" }, bar, "fit");
    const main = h("div", { class: "eptw-main" }, root);
    const time = this.timeEl = h("div", { class: "eptw-time" }, main);
    this.axis = h("svg:svg", { class: "eptw-axis", height: AXIS_H }, h("div", { class: "eptw-axis" }, time));
    this.scroll = h("div", { class: "eptw-scroll" }, time);
    this.svg = h("svg:svg", { class: "eptw-lanes" }, this.scroll);
    this.legend = h("div", { class: "eptw-legend" }, time);
    const side = this.side = h("div", { class: "eptw-side" }, main);
    const tabs = h("div", { class: "eptw-tabs" }, side);
    this.fiberTab = h("button", { class: "on" }, tabs, "fibers");
    this.effectTab = h("button", {}, tabs, "effect");
    this.diagTab = h("button", { title: "what in the trace points at a bug (trace.diagnose()): click one to see it" },
                     tabs, "diagnostics");
    this.treePane = h("div", { class: "eptw-pane eptw-tree" }, side);
    this.effectPane = h("div", { class: "eptw-pane eptw-effect", style: "display:none" }, side);
    this.diagPane = h("div", { class: "eptw-pane eptw-diagnostics", style: "display:none" }, side);
    this.panes = [["fibers", this.fiberTab, this.treePane], ["effect", this.effectTab, this.effectPane],
                  ["diagnostics", this.diagTab, this.diagPane]];
    const replay = h("div", { class: "eptw-replay" }, root);
    this.playBtn = h("button", { title: "replay the events one by one" }, replay, "\u25b6");
    const back = h("button", { title: "one event back" }, replay, "\u25c0");
    const fwd = h("button", { title: "one event forward" }, replay, "\u25b6|");
    this.slider = h("input", { class: "eptw-slider", type: "range", min: 0, max: 0, value: 0, step: 1,
                               "aria-label": "replay: events shown" }, replay);
    this.count = h("span", { class: "eptw-badge" }, replay);
    this.now = h("div", { class: "eptw-now" }, root);
    this.tip = h("div", { class: "eptw-tip" }, root);

    this.internalBtn.onclick = () => { st.look.internal = !st.look.internal; st.order = null; this.schedule(); };
    this.modeBtn.onclick = () => { this.mode = this.currentMode() === "time" ? "steps" : "time"; this.win = null; this.schedule(); };
    zin.onclick = () => this.zoom(0.6, null);
    zout.onclick = () => this.zoom(1 / 0.6, null);
    fit.onclick = () => { this.win = null; this.schedule(); };
    for (const [name, tab] of this.panes) tab.onclick = () => this.showPane(name);
    this.playBtn.onclick = () => this.play();
    back.onclick = () => this.step(-1);
    fwd.onclick = () => this.step(1);
    this.slider.oninput = () => this.setCursor(Number(this.slider.value));
    this.scroll.onscroll = () => this.schedule();
    this.treePane.onscroll = () => this.schedule();
    this.bindPointer();
    this.treePane.onclick = (ev) => {
      const group = ev.target.closest("[data-group]");
      if (group) { this.toggle(group.getAttribute("data-group")); return; }
      const span = ev.target.closest("[data-fiber]");
      if (span) this.select(Number(span.getAttribute("data-fiber")), true);
    };
    this.effectPane.onclick = (ev) => {
      const node = ev.target.closest("g.node[data-fiber]");
      if (node) this.select(Number(node.getAttribute("data-fiber")), true);
    };
    this.diagPane.onclick = (ev) => {
      const row = ev.target.closest("[data-diagnostic]");
      const d = row && this.diagnostics()[Number(row.getAttribute("data-diagnostic"))];
      if (d) this.goTo(d);
    };
    for (const name of ["selected", "cursor", "running", "title", "_heading", "effect_tree_svg", "sent", "diagnostics"]) {
      model.on(`change:${name}`, () => this.schedule(name === "effect_tree_svg"));
    }
    this.effectDirty = true;
    if (st.look.pane !== "fibers") this.showPane(st.look.pane);
    this.resize = new ResizeObserver(() => this.schedule());
    this.resize.observe(root);
    this.schedule();
  }

  dispose() {
    this.unbind();
    this.resize.disconnect();
    if (this.timer) clearInterval(this.timer);
  }

  grammar() { return this.model.get("_grammar") || { colors: {}, glyphs: {}, swatches: {}, legend: [] }; }

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

  toggle(key) {
    const open = this.st.look.expanded;
    if (open.has(key)) open.delete(key); else open.add(key);
    this.st.order = null;
    this.schedule();
  }

  select(id, reveal) {
    const cur = this.model.get("selected");
    this.model.set("selected", id === cur && !reveal ? null : id);
    this.model.save_changes();
    const lane = this.st.laneOf ? this.st.laneOf.get(id) : null;
    if (reveal && lane != null) {
      const y = lane * LANE_H;
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

  showPane(name) {
    this.st.look.pane = name;
    for (const [key, tab, pane] of this.panes) {
      tab.classList.toggle("on", key === name);
      pane.style.display = key === name ? "" : "none";
    }
    this.treeKey = this.diagKey = null;
    this.schedule();
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
    // room on the right for the last labels (a root's result)
    return Math.max(120, this.timeEl.clientWidth - LABEL_W - 150);
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
    svg.addEventListener("mousemove", (ev) => {
      if (drag) return;
      this.hoverAt = { clientX: ev.clientX, clientY: ev.clientY };
      this.hover(this.hoverAt);
    });
    svg.addEventListener("mouseleave", () => { this.hoverAt = null; this.tip.style.display = "none"; });
  }

  rowAt(pos) {
    const r = this.svg.getBoundingClientRect();
    const order = laneOrder(this.st, this.grammar());
    const k = Math.floor((pos.clientY - r.top) / LANE_H);
    return { row: k >= 0 && k < order.length ? order[k] : null, px: pos.clientX - r.left };
  }

  click(ev) {
    const { row, px } = this.rowAt(ev);
    const flag = this.flagAt(px, ev.clientY - this.svg.getBoundingClientRect().top);
    if (flag) { this.showPane("diagnostics"); this.goTo(flag.d); return; }
    if (row && row.group) { this.toggle(row.group.key); return; }
    if (!row) { this.model.set("selected", null); this.model.save_changes(); this.schedule(); return; }
    this.select(row.f.id, false);
  }

  // The tooltip for a place in the lanes, as the replay shows the run now: called on every
  // mouse move, and again at each redraw (the replay moving under a still mouse).
  hover(pos) {
    const { row, px } = this.rowAt(pos);
    if (!row) { this.tip.style.display = "none"; return; }
    const st = this.st, c = this.cursor();
    const flag = this.flagAt(px, pos.clientY - this.svg.getBoundingClientRect().top);
    let text;
    if (flag) {
      const more = flag.more ? `\nand ${flag.more} more on this lane: the diagnostics pane lists them` : "";
      text = `${flag.d.kind}: ${wrap(flag.d.message, 72)}${more}\nclick: show it in the diagnostics pane`;
    } else if (row.group) {
      text = this.groupWords(row.group, c).join("\n") + `\nclick to ${st.look.expanded.has(row.group.key) ? "fold" : "show"} its fibers`;
    } else {
      const f = row.f;
      let best = null, bestD = 7;
      for (const [i, x] of this.placed || []) {
        const e = st.events[i];
        if (e[3] !== f.id && !(f.folded.includes(i))) continue;
        const d = Math.abs(x - px);
        if (d < bestD) { best = i; bestD = d; }
      }
      if (best != null) {
        const e = st.events[best];
        text = `${describe(st, e, judge(st, f, c).get(best))}\nt = ${fmtTime(e[1])} \u00b7 event ${best + 1} of ${st.events.length}`;
        if (e[7] && e[7].cause) text += "\n" + short(e[7].cause, 600);
      } else if (f.start >= c) {
        text = `${label(st, f)}: not started yet at this point of the replay (event ${c} of ${st.events.length})`;
      } else {
        const end = f.end != null && f.end < c ? f.end : null;
        const t0 = st.events[f.start][1];
        text = `${label(st, f)}` + (f.parent != null ? `  (child of #${f.parent})` : "  (root)") +
          `\nstarted ${fmtTime(t0)}` + (end != null ? `, ${f.outcome} at ${fmtTime(st.events[end][1])}` +
          ` (after ${fmtTime(st.events[end][1] - t0)})` : ", still running") +
          (f.cancelAt != null && f.cancelAt < c && f.outcome !== "success" ? `\ninterrupted at ${fmtTime(st.events[f.cancelAt][1])}, then releasing` : "") +
          (f.hidden ? `\n${f.hidden} internal fiber(s) folded here (\u2699 internal shows them)` : "") +
          `\n${f.children.length} children \u00b7 click to highlight its subtree`;
      }
    }
    this.tip.textContent = text;
    const r = this.root.getBoundingClientRect();
    this.tip.style.display = "block";
    this.tip.style.left = `${Math.min(pos.clientX - r.left + 12, r.width - 260)}px`;
    this.tip.style.top = `${pos.clientY - r.top + 14}px`;
  }

  // drawing

  schedule(effectTree) {
    if (effectTree) this.effectDirty = true;
    if (this.queued) return;
    this.queued = true;
    requestAnimationFrame(() => { this.queued = false; this.draw(); });
  }

  draw() {
    const st = this.st, model = this.model, grammar = this.grammar();
    const n = st.events.length, c = this.cursor();
    const order = laneOrder(st, grammar);
    this.titleEl.textContent = model.get("_heading") || model.get("title") || "effectpy timeline";
    const running = model.get("running");
    this.badge.textContent = running ? "\u25cf live" : `${model.get("clock")} clock`;
    this.badge.classList.toggle("live", !!running);
    const dropped = model.get("dropped");
    this.stats.textContent = `${st.fibers.size} fibers \u00b7 ${n} events` +
      (dropped ? ` \u00b7 the ${dropped} oldest dropped` : "");
    this.internalBtn.classList.toggle("on", st.look.internal);
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
      // one unit a pixel (its smallest text is 11 units): the pane scrolls rather than shrink it
      const tree = this.effectPane.querySelector("svg"), box = tree && tree.viewBox && tree.viewBox.baseVal;
      if (box && box.width) { tree.setAttribute("width", `${box.width}`); tree.setAttribute("height", `${box.height}`); }
    }
    const sub = this.subtree();
    this.drawAxis(c);
    this.drawLanes(order, c, sub);
    this.drawTree(order, c, sub);
    this.drawDiagnostics(c);
    this.drawLegend();
    this.markEffect(sub);
    if (this.hoverAt) this.hover(this.hoverAt); // the tooltip follows the replay
  }

}
