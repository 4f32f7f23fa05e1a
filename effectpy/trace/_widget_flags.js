// effectpy's timeline widget, part 3 of 4: the trace's diagnostics (`Trace.diagnose`, sent
// by Python as the `diagnostics` trait): the *diagnostics* pane that lists them, each a link
// to its place in the picture (a click selects its fiber and moves the replay there), and
// their flags on the lanes, as the SVG timeline draws them (`_flags.py`).

const RISE = 12; // px: how far above its lane's middle a flag stands
const DRIFT = 3 * MARK_GAP; // px: how far right of its time a flag may move to make room
const PANE_ROWS = 200; // the pane lists at most this many (a trace may have thousands)

Object.assign(View.prototype, {
  diagnostics() { return this.model.get("diagnostics") || []; },

  // The index of the event that shows diagnostic d (found by its seq; events are in seq
  // order), or, without one in the events held, that of the first event at its time.
  eventOf(d) {
    const ev = this.st.events;
    const find = (ok) => { let lo = 0, hi = ev.length; while (lo < hi) { const m = (lo + hi) >> 1; if (ok(ev[m])) hi = m; else lo = m + 1; } return lo; };
    if (d.seq != null) {
      const i = find((e) => e[0] >= d.seq);
      if (i < ev.length && ev[i][0] === d.seq) return i;
    }
    return Math.min(ev.length - 1, find((e) => e[1] >= d.at));
  },

  // The x domain value of a time: itself, or on the steps axis the first event at it.
  domAt(t) {
    if (this.currentMode() === "time") return t;
    const ev = this.st.events;
    let lo = 0, hi = ev.length;
    while (lo < hi) { const m = (lo + hi) >> 1; if (ev[m][1] >= t) hi = m; else lo = m + 1; }
    return Math.min(lo, ev.length - 1);
  },

  // Each diagnostic with the index of its event, by the lane that flags it: made again when
  // the diagnostics, the rows or the events change (a frame only looks its lanes up).
  flagIndex() {
    const list = this.diagnostics(), st = this.st, ix = this.flags;
    if (ix && ix.list === list && ix.order === st.order && ix.n === st.events.length) return ix;
    const byLane = new Map(), events = [];
    list.forEach((d, n) => {
      const i = this.eventOf(d), lane = st.laneOf.get(d.fibers[0]);
      events.push(i);
      if (lane != null) (byLane.get(lane) || byLane.set(lane, []).get(lane)).push([n, d, i]);
    });
    for (const flags of byLane.values()) flags.sort((a, b) => a[1].at - b[1].at); // in time order
    this.flags = { list, order: st.order, n: st.events.length, byLane, events };
    return this.flags;
  },

  // Go to a diagnostic's place: the replay shows the run up to the event that shows it,
  // and its fiber is selected (and scrolled into view).
  goTo(d) {
    this.stop();
    const i = this.eventOf(d);
    this.setCursor(i < 0 ? this.st.events.length : i + 1);
    if (d.fibers.length && this.st.fibers.has(d.fibers[0])) this.select(d.fibers[0], true);
  },

  // The pane: one row per diagnostic (those the replay has not reached yet in grey).
  drawDiagnostics(c) {
    const list = this.diagnostics(), g = this.grammar();
    this.diagTab.textContent = `diagnostics (${list.length})`;
    this.diagTab.classList.toggle("warn", list.length > 0);
    const pane = this.diagPane;
    if (pane.style.display === "none") return;
    const { events } = this.flagIndex();
    const key = `${this.st.rev}:${this.st.events.length}:${c}:${this.model.get("selected")}`;
    if (this.diagKey === key && this.diagList === list) return;
    this.diagKey = key;
    this.diagList = list;
    pane.replaceChildren();
    if (!list.length) {
      h("div", { class: "eptw-empty" }, pane, "no diagnostics: no leak, no unreleased resource, nothing blocked or slow");
      return;
    }
    const sel = this.model.get("selected");
    list.slice(0, PANE_ROWS).forEach((d, k) => {
      const i = events[k];
      const row = h("div", { class: "eptw-diag", "data-diagnostic": k, title: "show it in the picture" }, pane);
      if (i >= c) row.classList.add("future");
      if (sel === d.fibers[0] && c === i + 1) row.classList.add("sel");
      const icon = h("svg:svg", { width: 14, height: 14, viewBox: "-7 -7 14 14" }, row);
      icon.innerHTML = (g.glyphs || {}).diagnostic || "";
      h("b", {}, row, d.kind);
      h("span", { class: "eptw-diag-at" }, row, ` at ${fmtTime(d.at)}`);
      h("div", {}, row, d.message);
    });
    if (list.length > PANE_ROWS) {
      h("div", { class: "eptw-empty" }, pane, `and ${list.length - PANE_ROWS} more: trace.diagnose() lists them all`);
    }
  },

  // A lane's flags, up to the cursor (`f`: the lane's fiber, null for a group's row): the
  // glyph above the bar, moved right of the arrows that come down to the lane there
  // (`arrows`: their x), and for what lasted, a band behind it (drawn into `under`, which is
  // under the bar); they take their room in `bands`.
  laneFlags(f, k, c, under, frame, bands, arrows) {
    const flags = [], g = frame.g, mid = k * LANE_H + LANE_H / 2;
    let lastX = -Infinity, last = null;
    for (const [n, d, i] of this.flagIndex().byLane.get(k) || []) {
      if (i < 0 || i >= c) continue;
      const at = d.seconds != null || this.currentMode() === "time" ? this.x(this.domAt(d.at)) : this.x(this.dom(i));
      let x = at;
      for (const a of arrows) if (Math.abs(x - a) < GLYPH_R + 4) x = a + GLYPH_R + 4;
      const b0 = d.seconds ? this.x(this.domAt(d.at)) : 0, b1 = d.seconds ? this.x(this.domAt(d.at + d.seconds)) : 0;
      if (d.seconds && b1 >= LABEL_W && b0 <= frame.xEnd) { // its band, flagged on its own or not (as in the SVG)
        const x0 = frame.clip(b0), x1 = frame.clip(b1);
        const span = h("svg:rect", { class: "eptw-flag-span", x: x0, y: mid - g.span_h / 2, width: Math.max(3, x1 - x0), height: g.span_h,
                                     rx: 2, fill: g.diagnostic, "fill-opacity": 0.55, stroke: g.diagnostic_ink, "stroke-dasharray": "3 2" }, under);
        h("svg:title", {}, span, d.message);
      }
      if (x < lastX + MARK_GAP) {
        x = lastX + MARK_GAP;
        // no room near its time: the flag before it on the lane stands for it too (as in the SVG)
        if (last && (x > at + DRIFT || x > frame.xEnd)) { last.more += 1; continue; }
      }
      lastX = x;
      last = null;
      if (x < LABEL_W - GLYPH_R || x > frame.xEnd) continue;
      const id = d.fibers[0];
      const flag = h("svg:g", { class: "eptw-flag", "data-diagnostic": n, "data-fiber": id, transform: `translate(${x},${mid - RISE})` }, frame.marks);
      flag.innerHTML = (g.glyphs || {}).diagnostic || "";
      if (frame.sub && !frame.sub.has(f ? f.id : id)) flag.setAttribute("opacity", 0.3);
      bands.take("above", x - GLYPH_R, x + GLYPH_R);
      last = { x, y: mid - RISE, d, more: 0 };
      this.flagged.push(last);
      flags.push(last);
    }
    return flags;
  },

  // The words beside a lane's flags, where there is room (else its "+n").
  labelFlags(flags, texts, bands, mid, missed, g) {
    const gap = GLYPH_R + 2;
    for (const { x, d, more } of flags) {
      if (!d.words) continue;
      const words = more ? `${d.words} (and ${more} more)` : d.words;
      this.label(texts, bands, words, [[x + gap, "above", "start"], [x - gap, "above", "end"], [x + gap, "below", "start"],
                                          [x - gap, "below", "end"]], mid, g.diagnostic_ink, false, false, missed, x);
    }
  },

  // The flag under the pointer (for the tooltip: its diagnostic and how many more it stands
  // for), or null.
  flagAt(px, py) {
    for (const f of this.flagged || []) if (Math.abs(f.x - px) <= GLYPH_R + 1 && Math.abs(f.y - py) <= GLYPH_R + 1) return f;
    return null;
  },
});
