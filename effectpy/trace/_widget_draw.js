// effectpy's timeline widget, part 4 of 4: drawing a view (the axis, the lanes, group rows,
// scope brackets, the fibers pane, the legend), and the module's entry points.

Object.assign(View.prototype, {
  drawAxis(c) {
    const axis = this.axis, w = this.timeEl.clientWidth;
    axis.replaceChildren();
    axis.setAttribute("width", w);
    const [d0, d1] = this.window();
    const timeMode = this.currentMode() === "time";
    let ticks = Math.max(2, Math.floor(this.plotWidth() / 90)), stepSize, labels;
    for (;;) { // as many ticks as fit, their labels never touching
      stepSize = niceStep(d1 - d0, ticks);
      if (!timeMode) stepSize = Math.max(1, Math.round(stepSize)); // events are whole numbers
      labels = [];
      for (let k = Math.ceil(d0 / stepSize), m = 0; k * stepSize <= d1 && m < 200; k++, m++) {
        const t = k * stepSize;
        labels.push([t, timeMode ? fmtTime(t) : `#${t + 1}`]); // event numbers count from 1, as the slider
      }
      const widest = Math.max(0, ...labels.map(([, s]) => textWidth(s, 10)));
      if (ticks <= 2 || (stepSize / (d1 - d0)) * this.plotWidth() >= widest + 14) break;
      ticks -= 1;
    }
    const caption = timeMode ? `time (${this.model.get("clock")} clock)` : "event number";
    const room = textWidth(caption, 10) + 16;
    for (const [t, s] of labels) {
      const x = this.x(t);
      h("svg:line", { x1: x, x2: x, y1: AXIS_H - 6, y2: AXIS_H, stroke: "#9aa5b1" }, axis);
      if (x - textWidth(s, 10) / 2 > room) {
        h("svg:text", { x, y: AXIS_H - 9, "text-anchor": "middle", "font-size": 10, fill: "#52606d" }, axis, s);
      }
    }
    h("svg:text", { x: 8, y: AXIS_H - 9, "font-size": 10, fill: "#52606d" }, axis, caption);
    if (c < this.st.events.length && c > 0) this.cursorLine(axis, c, AXIS_H);
  },

  cursorLine(svg, c, height) {
    const x = this.x(this.dom(c - 1));
    h("svg:line", { class: "eptw-cursor", x1: x, x2: x, y1: 0, y2: height, stroke: "#1d4ed8", "stroke-width": 1.5 }, svg);
  },

  drawLanes(order, c, sub) {
    const st = this.st, svg = this.svg, g = this.grammar();
    const width = this.timeEl.clientWidth;
    const height = Math.max(LANE_H, order.length * LANE_H + 4);
    svg.replaceChildren();
    this.placed = new Map(); // event index -> x of its glyph, as drawn
    this.flagged = []; // each flag drawn: {x, y, d: its diagnostic, more: how many more it stands for}
    svg.setAttribute("width", width);
    svg.setAttribute("height", height);
    h("svg:defs", {}, svg).innerHTML = g.defs || "";
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
    const frame = { width, c, sub, g, xEnd: width - 6, cx: c > 0 ? this.x(this.dom(c - 1)) : LABEL_W,
                    plot: h("svg:g", {}, null), scopes: h("svg:g", {}, null), arrows: h("svg:g", {}, null),
                    marks: h("svg:g", {}, null), labels: h("svg:g", {}, null) };
    frame.clip = (x) => Math.max(LABEL_W, Math.min(frame.xEnd, x));
    this.drawScopes(order, first, last, frame);
    for (let k = first; k < last; k++) {
      const row = order[k];
      if (row.group) this.drawGroup(row, k, frame); else this.drawFiber(row, k, frame);
    }
    for (const layer of [frame.plot, frame.scopes, frame.arrows, frame.marks, frame.labels]) svg.appendChild(layer);
    if (c < st.events.length && c > 0) this.cursorLine(svg, c, height);
  },

  rowBackground(row, k, frame, lane) {
    h("svg:rect", { class: "eptw-hl", x: 0, y: k * LANE_H, width: frame.width, height: LANE_H,
                    fill: k % 2 ? "#fbfcfd" : "#ffffff" }, lane);
  },

  drawFiber(row, k, frame) {
    const st = this.st, f = row.f, { c, sub, g, clip } = frame;
    const y = k * LANE_H, mid = y + LANE_H / 2;
    const colors = g.colors || {};
    const lane = h("svg:g", { class: "eptw-lane", "data-fiber": f.id }, frame.plot);
    if (sub) lane.classList.add(sub.has(f.id) ? "sel" : "dim");
    this.rowBackground(row, k, frame, lane);
    const started = f.start < c, ended = f.end != null && f.end < c;
    const color = ended ? (colors[f.outcome] || colors.never) : colors.never;
    const indent = 16 + f.depth * 12;
    h("svg:circle", { cx: indent - 7, cy: mid, r: 3.5, fill: started ? color : "#d9dee4" }, lane);
    let room = LABEL_W - 10 - indent;
    if (f.hidden && !st.look.internal) {
      const badge = `\u2699 ${f.hidden}`;
      room -= textWidth(badge, NOTE) + 6;
      h("svg:text", { x: LABEL_W - 10, y: mid + 4, "text-anchor": "end", "font-size": NOTE, fill: g.muted }, lane, badge);
    }
    h("svg:text", { class: "eptw-label", x: indent, y: mid + 4, fill: started ? g.text : "#9aa5b1" }, lane,
      this.fit(label(st, f), 12, room));
    if (!started) return;
    const bands = new Bands(LABEL_W, frame.xEnd);
    const x0 = this.x(this.dom(f.start));
    const x1 = ended ? this.x(this.dom(f.end)) : frame.cx;
    const a = clip(x0), b = clip(Math.max(x1, x0 + 2));
    // the glyphs first: where they go decides where the bar and the labels end
    const judged = judge(st, f, c);
    const marks = st.look.internal || !f.folded.length ? f.marks : [...f.marks, ...f.folded].sort((p, q) => p - q);
    const placed = [];
    let lastX = -Infinity;
    for (const i of marks) {
      if (i >= c) break;
      const e = st.events[i], kind = e[2];
      const j = judged.get(i);
      if (j && j.kind === "dup") continue;
      let x = this.x(this.dom(i));
      if (kind === "cancel" && st.fan.has(i) && this.currentMode() === "time") {
        const n = st.fanN.get(`${e[5]}:${e[1]}`) || 1;
        x += st.fan.get(i) * Math.min(FAN, FAN_MAX / Math.max(n - 1, 1));
      }
      x = Math.max(x, lastX + MARK_GAP);
      lastX = x;
      placed.push([i, x, j ? j.kind : kind, j]);
    }
    let reach = b;
    for (const [, x] of placed) reach = Math.max(reach, x + GLYPH_R);
    const releasing = f.cancelAt != null && f.cancelAt < c && !(ended && f.outcome === "success");
    const barEnd = releasing && ended ? Math.min(frame.xEnd, Math.max(b, reach)) : b;
    const arrows = placed.filter(([i, , kind]) => kind === "cancel" && typeof st.events[i][5] === "number" &&
                                 st.laneOf.has(st.events[i][5]) && st.laneOf.get(st.events[i][5]) !== k).map(([, x]) => x);
    if (f.parent != null && st.laneOf.has(f.parent) && st.laneOf.get(f.parent) !== k) arrows.push(x0);
    const flags = this.laneFlags(f, k, c, lane, frame, bands, arrows.sort((p, q) => p - q)); // (bands under the bar)
    if (barEnd > a || x0 >= LABEL_W) {
      h("svg:rect", { class: "eptw-bar", x: a, y: mid - BAR_H / 2, width: Math.max(2, barEnd - a), height: BAR_H, rx: 3,
                      fill: color, "fill-opacity": 0.28, stroke: color }, lane);
      const runs = this.running(f, c, frame);
      for (const [p, q] of runs) h("svg:rect", { x: p, y: mid - BAR_H / 2, width: Math.max(1.5, q - p), height: BAR_H, rx: 2, fill: color }, lane);
    }
    if (releasing) {
      const r0 = clip(this.x(this.dom(f.cancelAt)));
      h("svg:rect", { class: "eptw-releasing", x: r0, y: mid - BAR_H / 2 - 1, width: Math.max(3, barEnd - r0), height: BAR_H + 2,
                      rx: 2, fill: "url(#eptl-releasing)", stroke: colors.interrupted }, lane);
    }
    bands.take("center", a, Math.max(barEnd, reach));
    // fork arrow from the parent's lane
    if (f.parent != null && st.laneOf.has(f.parent) && st.laneOf.get(f.parent) !== k && x0 >= LABEL_W && x0 <= frame.xEnd) {
      this.forkLine(x0, st.laneOf.get(f.parent), k, mid - BAR_H / 2 - 5, g, frame);
      h("svg:path", { d: `M${x0 - 3},${mid - BAR_H / 2 - 6} L${x0},${mid - BAR_H / 2 - 1} L${x0 + 3},${mid - BAR_H / 2 - 6} Z`, fill: g.fork }, frame.arrows);
    }
    // the glyphs, and the interruption arrows
    for (const [i, x, kind] of placed) {
      if (x < LABEL_W - GLYPH_R || x > frame.xEnd) continue;
      this.placed.set(i, x);
      const e = st.events[i];
      if (kind === "cancel" && typeof e[5] === "number" && st.laneOf.has(e[5]) && st.laneOf.get(e[5]) !== k) {
        const by = st.laneOf.get(e[5]) * LANE_H + LANE_H / 2, d = mid > by ? 1 : -1;
        h("svg:path", { d: `M${x},${by + d * BAR_H / 2} L${x},${mid - d * (GLYPH_R + 6)}`, stroke: g.cancel, "stroke-width": 1.5,
                        "stroke-dasharray": "4 3", fill: "none" }, frame.arrows);
        const tip = mid - d * (GLYPH_R + 1);
        h("svg:path", { d: `M${x - 3.5},${tip - d * 6} L${x},${tip} L${x + 3.5},${tip - d * 6} Z`, fill: g.cancel }, frame.arrows);
      }
      const mark = h("svg:g", { class: `eptw-mark eptw-${kind}`, "data-event": i, "data-fiber": f.id, transform: `translate(${x},${mid})` }, frame.marks);
      mark.innerHTML = (g.glyphs || {})[kind] || "";
      if (sub && !sub.has(f.id)) mark.setAttribute("opacity", 0.3);
      if ((kind === "acquire" || kind === "release") && sub && sub.has(e[3])) mark.setAttribute("transform", `translate(${x},${mid}) scale(1.3)`);
      bands.take("center", x - GLYPH_R, x + GLYPH_R);
    }
    // the labels: the lane's last words, then failures, releases, acquires (`_timeline._labels`)
    const texts = h("svg:g", { class: "eptw-texts" }, frame.labels);
    if (sub && !sub.has(f.id)) texts.setAttribute("opacity", 0.3);
    const missed = [];
    const root = f.parent == null || !st.fibers.has(f.parent);
    if (ended && root) {
      const words = result(st, f, judged);
      this.label(texts, bands, words, [[reach + 6, "center", "start"], [frame.xEnd, "below", "end"], [frame.xEnd, "above", "end"]],
                 mid, f.outcome === "success" ? g.text : colors[f.outcome], false, true, missed, reach);
    } else if (!ended && c >= st.events.length && !this.model.get("running")) {
      this.label(texts, bands, "never ended", [[reach + 6, "center", "start"]], mid, colors.never, false, false, missed, reach);
    }
    this.labelFlags(flags, texts, bands, mid, missed, g);
    const ordered = placed.filter(([, , kind, j]) => kind in LABELLED && !(j && j.unhandled && root))
      .sort((p, q) => LABELLED[p[2]] - LABELLED[q[2]] || p[0] - q[0]);
    for (const [i, x, kind, j] of ordered) {
      const e = st.events[i], failure = kind === "fail" || kind === "die" || kind === "caught";
      const words = failure ? j.text : (st.resources.get((e[7] || {}).resource) || { name: "" }).name;
      if (!words) continue;
      const gap = GLYPH_R + 2;
      const spots = failure
        ? [[x - gap, "below", "start"], [x + gap, "below", "end"], [x - gap, "above", "start"], [x + gap, "above", "end"]]
        : [[x + gap, "above", "start"], [x - gap, "above", "end"], [x + gap, "below", "start"], [x - gap, "below", "end"]];
      const color = kind === "die" ? "#9b1c1c" : failure ? colors.failure : g.resource;
      this.label(texts, bands, words, spots, mid, color, failure, false, missed, x);
    }
    if (missed.length) {
      const words = `+${missed.length}`, w = textWidth(words, NOTE);
      const x = missed[0][1];
      const spot = bands.place(w, [[x + GLYPH_R + 2, "above", "start"], [x - GLYPH_R - 2, "above", "end"],
                                   [x + GLYPH_R + 2, "below", "start"], [x - GLYPH_R - 2, "below", "end"]]);
      if (spot) {
        const t = h("svg:text", { x: spot[0], y: mid + BAND_Y[spot[1]], "text-anchor": spot[2], "font-size": NOTE,
                                  "font-weight": "bold", fill: g.muted, class: "eptw-more" }, texts, words);
        h("svg:title", {}, t, missed.map(([s]) => s).join("\n"));
      }
    }
  },

  // a fork arrow's line from the parent's bar; from a child far below it, a stub
  forkLine(x, parentLane, lane, y2, g, frame) {
    const far = lane - parentLane > FORK_REACH;
    const y1 = far ? y2 - 14 : parentLane * LANE_H + LANE_H / 2 + BAR_H / 2;
    const attrs = { d: `M${x},${y1} L${x},${y2}`, stroke: g.fork, fill: "none", "stroke-width": 1 };
    if (far) attrs["stroke-dasharray"] = "2 2";
    h("svg:path", attrs, frame.arrows);
  },

  label(parent, bands, words, spots, mid, color, mono, bold, missed, x) {
    const shown = short(words, 60);
    const w = textWidth(shown, NOTE, mono, bold);
    const spot = bands.place(w, spots);
    if (!spot) { missed.push([words, x]); return; }
    const attrs = { x: spot[0], y: mid + BAND_Y[spot[1]], "text-anchor": spot[2], "font-size": NOTE, fill: color,
                    class: "eptw-note", stroke: "#ffffff", "stroke-width": 3, "paint-order": "stroke", "stroke-linejoin": "round" };
    if (mono) attrs["font-family"] = MONO;
    if (bold) attrs["font-weight"] = "bold";
    h("svg:text", attrs, parent, shown);
  },

  fit(text, size, room) {
    if (textWidth(text, size) <= room) return text;
    let s = text;
    while (s.length > 1 && textWidth(s + "\u2026", size) > room) s = s.slice(0, -1);
    return s + "\u2026";
  },

  // the stretches of the fiber's life outside its waits, up to the cursor (pixels)
  running(f, c, frame) {
    const out = [], clip = frame.clip;
    const end = f.end != null && f.end < c ? this.x(this.dom(f.end)) : frame.cx;
    let t = this.x(this.dom(f.start));
    for (const [w0, w1] of f.waits) {
      if (w0 >= c) break;
      const p = this.x(this.dom(w0)), q = w1 < c ? this.x(this.dom(w1)) : frame.cx;
      if (p > t) out.push([clip(t), clip(p)]);
      t = Math.max(t, q);
    }
    if (end > t) out.push([clip(t), clip(end)]);
    return out;
  },

  // The members' starts and ends (event indices, in order), made again when fibers came.
  groupIndex(group) {
    const st = this.st;
    if (group.indexed !== st.done) {
      const starts = [], ends = [];
      for (const id of group.members) {
        const f = st.fibers.get(id);
        starts.push(f.start);
        if (f.end != null) ends.push([f.end, f.outcome]);
      }
      starts.sort((p, q) => p - q); ends.sort((p, q) => p[0] - q[0]);
      Object.assign(group, { indexed: st.done, starts, ends });
    }
    return group;
  },

  // A group as words at the cursor: its size, how its fibers ended, the most at once.
  groupWords(group, c) {
    const { starts, ends } = this.groupIndex(group);
    const counts = { success: 0, failure: 0, interrupted: 0, running: 0 };
    let peak = 0, live = 0, si = 0, ei = 0;
    while (si < starts.length && starts[si] < c) {
      if (ei < ends.length && ends[ei][0] < c && ends[ei][0] <= starts[si]) { live -= 1; counts[ends[ei][1]] = (counts[ends[ei][1]] || 0) + 1; ei++; }
      else { live += 1; si++; peak = Math.max(peak, live); }
    }
    while (ei < ends.length && ends[ei][0] < c) { counts[ends[ei][1]] = (counts[ends[ei][1]] || 0) + 1; ei++; live -= 1; }
    counts.running = live;
    const parts = [["success", "success"], ["failure", "failed"], ["interrupted", "interrupted"], ["running", "running"]]
      .filter(([k]) => counts[k]).map(([k, w]) => `${counts[k].toLocaleString("en")} ${w}`);
    return [`${group.kind}: ${group.members.length.toLocaleString("en")} fibers`, parts.join(", "), `at most ${peak.toLocaleString("en")} at once`];
  },

  // A group row: how many of its fibers run (above) and have finished, by outcome (below),
  // over the window shown, up to the cursor; a parallelism bound shows as a plateau.
  drawGroup(row, k, frame) {
    const st = this.st, group = row.group, { c, g } = frame;
    const y = k * LANE_H, mid = y + LANE_H / 2, colors = g.colors || {};
    const lane = h("svg:g", { class: "eptw-lane eptw-group", "data-group": group.key }, frame.plot);
    this.rowBackground(row, k, frame, lane);
    const open = st.look.expanded.has(group.key);
    const indent = 16 + row.depth * 12;
    const [title, counts, peak] = this.groupWords(group, c);
    h("svg:text", { class: "eptw-label", x: indent - 10, y: mid - 3, "font-style": "italic", fill: g.text }, lane,
      this.fit(`${open ? "\u25be" : "\u25b8"} ${title}`, 12, LABEL_W - indent));
    h("svg:text", { x: indent, y: mid + 11, "font-size": NOTE, fill: g.muted }, lane, this.fit(`${counts}; ${peak}`, NOTE, LABEL_W - 10 - indent));
    const x0 = LABEL_W, x1 = Math.min(frame.xEnd, this.x(this.window()[1]));
    const cols = Math.max(1, Math.floor(x1 - x0));
    this.groupIndex(group);
    const runTop = y + 3, runH = LANE_H / 2 - 4, doneTop = mid + 1, doneH = LANE_H / 2 - 4;
    const running = [], done = [];
    let si = 0, ei = 0, liveNow = 0, peakAll = 1;
    const fin = { success: 0, failure: 0, interrupted: 0 };
    for (let p = 0; p <= cols; p++) {
      const d = this.domainAt(x0 + p);
      let top = liveNow;
      for (;;) {
        const s = si < group.starts.length && group.starts[si] < c ? group.starts[si] : null;
        const e = ei < group.ends.length && group.ends[ei][0] < c ? group.ends[ei] : null;
        const next = e && (s == null || e[0] <= s) ? e[0] : s;
        if (next == null || this.dom(next) > d) break;
        if (e && e[0] === next) { liveNow -= 1; fin[e[1] in fin ? e[1] : "interrupted"] += 1; ei++; } else { liveNow += 1; si++; }
        top = Math.max(top, liveNow);
      }
      running.push(top); peakAll = Math.max(peakAll, top);
      done.push([fin.success, fin.failure, fin.interrupted]);
    }
    const n = group.members.length;
    const pts = running.map((v, p) => `${x0 + p},${runTop + runH - (v / peakAll) * runH}`);
    h("svg:path", { d: `M${x0},${runTop + runH} L${pts.join(" L")} L${x0 + cols},${runTop + runH} Z`, fill: g.group,
                    "fill-opacity": 0.35, stroke: g.group }, lane);
    let below = done.map(() => 0);
    [["success", 0], ["failure", 1], ["interrupted", 2]].forEach(([outcome, idx]) => {
      const tops = done.map((v, p) => below[p] + v[idx]);
      if (tops.some((v, p) => v !== below[p])) {
        const up = tops.map((v, p) => `${x0 + p},${doneTop + doneH - (v / n) * doneH}`);
        const down = below.map((v, p) => `${x0 + p},${doneTop + doneH - (v / n) * doneH}`).reverse();
        h("svg:path", { d: `M${up.concat(down).join(" L")} Z`, fill: colors[outcome], "fill-opacity": 0.8 }, lane);
      }
      below = tops;
    });
    h("svg:rect", { x: x0, y: doneTop, width: cols, height: doneH, fill: "none", stroke: "#d9dee4" }, lane);
    const parent = st.laneOf.get(group.parent);
    const first = st.fibers.get(group.members[0]);
    const arrows = [];
    if (parent != null && parent !== k && first.start < c) {
      const x = this.x(this.dom(first.start));
      if (x >= LABEL_W && x <= frame.xEnd) {
        this.forkLine(x, parent, k, y - 1, g, frame);
        h("svg:path", { d: `M${x - 3},${y - 5} L${x},${y} L${x + 3},${y - 5} Z`, fill: g.fork }, frame.arrows);
        arrows.push(x);
      }
    }
    // its members' diagnostics, flagged on the group's row (as in the SVG; no words: the
    // row has no room for them, the tooltip and the pane say what they are)
    this.laneFlags(null, k, c, lane, frame, new Bands(LABEL_W, frame.xEnd), arrows);
  },

  // A bracket around the rows of each scope's children (offset by nesting), its kind by
  // its top corner when there is room (`_timeline._scopes`).
  drawScopes(order, first, last, frame) {
    const st = this.st, { c, g } = frame;
    for (const scope of st.scopes.values()) {
      if (scope.from >= c) continue;
      const span = this.scopeRows(scope, order, c);
      if (!span) continue;
      const [top, bottom] = span;
      if (bottom < first || top >= last) continue;
      const inset = 3 * Math.min(scope.level, 4);
      const y0 = top * LANE_H + 2 + inset, y1 = (bottom + 1) * LANE_H - 2 - inset;
      const bx0 = this.x(this.dom(scope.from)) - 7 + inset;
      const bx1 = Math.max((scope.to != null && scope.to < c ? this.x(this.dom(scope.to)) : frame.cx) + 7 - inset, bx0 + 8);
      h("svg:path", { class: "eptw-scope", d: `M${bx0 + 4},${y0} H${bx0} V${y1} H${bx0 + 4} M${bx1 - 4},${y0} H${bx1} V${y1} H${bx1 - 4}`,
                      fill: "none", stroke: g.scope, "stroke-width": 1.5 }, frame.scopes);
    }
  },

  // The first and last rows a scope's bracket spans at the cursor: those of the children
  // started by then (a prefix of them: they are in fork order) and their subtrees. Kept
  // per scope as running minima and maxima, so that a frame costs a binary search.
  scopeRows(scope, order, c) {
    const st = this.st;
    if (scope.rowsOf !== order || scope.rowsFor !== scope.children.length) {
      const own = st.laneOf.get(scope.fiber), lo = [], hi = [], starts = [];
      let a = Infinity, b = -Infinity;
      for (const id of scope.children) {
        const lane = st.laneOf.get(id), f = st.fibers.get(id);
        if (lane != null && f && lane !== own) { a = Math.min(a, lane); b = Math.max(b, order[lane].last); }
        lo.push(a); hi.push(b); starts.push(f ? f.start : Infinity);
      }
      Object.assign(scope, { rowsOf: order, rowsFor: scope.children.length, lo, hi, starts });
    }
    let n = 0, m = scope.starts.length; // children started before the cursor: the first n
    while (n < m) { const mid = (n + m) >> 1; if (scope.starts[mid] < c) n = mid + 1; else m = mid; }
    return n && scope.lo[n - 1] !== Infinity ? [scope.lo[n - 1], scope.hi[n - 1]] : null;
  },

  // The fibers pane: one row per lane (the same rows, in the same order), drawn for the
  // part of the list in view only, so that a trace of any size scrolls freely.
  drawTree(order, c, sub) {
    const st = this.st, pane = this.treePane, colors = this.grammar().colors || {};
    if (pane.style.display === "none") return;
    const top = pane.scrollTop, view = pane.clientHeight || 446;
    const first = Math.max(0, Math.floor(top / TREE_ROW) - 5);
    const last = Math.min(order.length, Math.ceil((top + view) / TREE_ROW) + 5);
    const key = `${st.rev}:${order.length}:${first}:${last}:${c}:${this.model.get("selected")}:${st.events.length}`;
    if (this.treeKey === key) return;
    this.treeKey = key;
    if (!this.treeBox || this.treeBox.parentNode !== pane) {
      pane.replaceChildren();
      this.treeBox = h("div", { class: "eptw-rows" }, pane);
    }
    const box = this.treeBox;
    box.style.height = `${order.length * TREE_ROW}px`;
    box.replaceChildren();
    for (let k = first; k < last; k++) {
      const row = order[k];
      const item = h("div", { class: "eptw-row", style: `top:${k * TREE_ROW}px;padding-left:${4 + row.depth * 14}px` }, box);
      if (row.group) {
        const open = st.look.expanded.has(row.group.key);
        h("span", { "data-group": row.group.key, class: "group" }, item,
          `${open ? "\u25be" : "\u25b8"} ${row.group.kind}: ${row.group.members.length.toLocaleString("en")} fibers`);
        continue;
      }
      const f = row.f;
      const started = f.start < c, ended = f.end != null && f.end < c;
      const span = h("span", { "data-fiber": f.id }, item);
      if (!started) span.classList.add("future");
      if (sub && sub.has(f.id)) span.classList.add("sel");
      const dot = h("span", { class: "eptw-dot" }, span);
      dot.style.background = !started ? "#d9dee4" : ended ? colors[f.outcome] || colors.never : colors.never;
      span.appendChild(document.createTextNode(short(label(st, f), 40) +
        (ended ? ` \u00b7 ${f.outcome}` : started ? " \u00b7 running" : "")));
    }
  },

  // The legend: the grammar's entries for what this trace holds.
  drawLegend() {
    const st = this.st, g = this.grammar();
    if (st.outcomesAt !== st.done) { // how the fibers ended (or not), made again when events came
      const outcomes = new Set();
      for (const f of st.fibers.values()) if (!f.internal) outcomes.add(f.end != null ? f.outcome : "running");
      Object.assign(st, { outcomes, outcomesAt: st.done });
    }
    // the outcomes the trace has (not only those up to the cursor: the legend stays put)
    const seen = st.kinds, keys = new Set(["waiting", ...st.outcomes]);
    for (const k of ["acquire", "release", "timeout", "retry", "die"]) if (seen.has(k)) keys.add(k);
    if (seen.has("fork")) keys.add("fork");
    if (seen.has("cancel")) { keys.add("interrupt"); keys.add("releasing"); }
    if (seen.has("fail")) { keys.add("fail"); keys.add("caught"); }
    if (seen.has("scope_open")) keys.add("scope");
    if ((st.order || []).some((row) => row.group)) keys.add("group");
    const flagged = this.diagnostics().filter((d) => st.fibers.has(d.fibers[0]));
    if (flagged.length) keys.add("diagnostic");
    if (flagged.some((d) => d.seconds)) keys.add("diagnostic_span");
    const folded = !st.look.internal && (st.order || []).some((row) => row.f && row.f.hidden);
    const key = [...keys].sort().join(",") + (folded ? ":folded" : "");
    if (this.legendKey === key) return;
    this.legendKey = key;
    this.legend.replaceChildren();
    for (const [swatch, words] of g.legend || []) {
      if (!keys.has(swatch)) continue;
      const item = h("span", { class: "eptw-key" }, this.legend);
      const icon = h("svg:svg", { width: 26, height: 14, viewBox: "-13 -7 26 14" }, item);
      icon.innerHTML = (g.defs ? `<defs>${g.defs}</defs>` : "") + (g.swatches || {})[swatch];
      item.appendChild(document.createTextNode(words));
    }
    if (folded) h("span", { class: "eptw-key" }, this.legend, g.legend_internal);
  },

  markEffect(sub) {
    const sel = this.model.get("selected");
    for (const node of this.effectPane.querySelectorAll("g.node[data-fiber]")) {
      const id = Number(node.getAttribute("data-fiber"));
      node.classList.toggle("sel", id === sel);
      node.classList.toggle("dim", !!sub && !sub.has(id));
    }
  }
});

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
