// effectpy's timeline widget (anywidget ESM), part 1 of 4: the store. The Python side sends
// the trace's events in batches, each once ({type: "events", start, events}); this part
// derives fibers, lanes, scopes and resources from them, and the words the pictures use.
// `_widget.py` joins the four parts (_widget_model.js, _widget_view.js, _widget_flags.js,
// _widget_draw.js) into one module; the drawing speaks the SVG timeline's visual grammar (`_grammar`,
// received as the `_grammar` trait: colours, glyphs, legend). One store per model, shared
// by its views.

const NS = "http://www.w3.org/2000/svg";
const LANE_H = 38; // (the SVG timeline's: a label band never reaches the next lane's)
const BAR_H = 10;
const LABEL_W = 230;
const AXIS_H = 26;
const GLYPH_R = 6;
const MARK_GAP = 2 * GLYPH_R + 2; // least distance between two glyphs of a lane
const FAN = 4; // the offset between interruptions one fiber sends at one instant
const FAN_MAX = 36;
const FORK_REACH = 12; // lanes: a fork arrow to a child further below its parent is a stub
// Baselines of a lane's label bands, from its middle (as in the SVG timeline).
const ABOVE = -9.2, CENTER = 3.6, BELOW = 16.4;
const NOTE = 10; // px: labels
const TREE_ROW = 18; // px: a row of the fibers pane
const FONT = '"DejaVu Sans", Verdana, Helvetica, Arial, sans-serif';
const MONO = '"DejaVu Sans Mono", Menlo, Consolas, monospace';
const AFTER = { success: "recovered", interrupted: "then interrupted" };
const LABELLED = { fail: 0, die: 0, caught: 1, release: 2, acquire: 4 }; // placing order
// Keyed by the widget's `_uid`: anywidget hands each call its own proxy of the model.
const STORES = new Map();

// --- the store: events in, fibers out ------------------------------------------------------

function newStore() {
  const st = { views: new Set(), look: { mode: null, win: null, pane: "fibers", internal: false,
                                        expanded: new Set() } };
  reset(st);
  st.look.win = null;
  return st;
}

function reset(st) {
  Object.assign(st, { events: [], pending: new Map(), asked: -1, fibers: new Map(), resources: new Map(),
                      scopes: new Map(), open: new Map(), fan: new Map(), fanN: new Map(), kinds: new Set(),
                      done: 0, order: null, rev: (st.rev || 0) + 1 });
  st.look.win = null; // the timestamps may have been rebased
}

function fiberOf(st, id, i) {
  let f = st.fibers.get(id);
  if (!f) {
    f = { id, parent: null, name: null, start: i, end: null, outcome: null, children: [], marks: [],
          folded: [], waits: [], open: null, cancelAt: null, scope: null, internal: false, level: 0 };
    st.fibers.set(id, f);
    st.order = null;
  }
  return f;
}

function ownerOf(st, f) {
  let o = f;
  while (o && o.internal && o.parent != null && st.fibers.has(o.parent)) o = st.fibers.get(o.parent);
  return o;
}

// Derive what the new events say (index i is the event's place in the trace).
function derive(st, grammar) {
  const ev = st.events, prefix = grammar.internal || "effectpy:";
  for (let i = st.done; i < ev.length; i++) {
    const e = ev[i];
    const [, ts, kind, fid, parent, by, name, data] = e;
    const f = fiberOf(st, fid, i);
    if (name != null) f.name = name;
    switch (kind) {
      case "fork": {
        f.start = i;
        let level = 0;
        if (parent != null && parent !== fid) {
          f.parent = parent;
          const p = fiberOf(st, parent, i);
          p.children.push(fid);
          const open = st.open.get(parent);
          if (open && open.length) {
            const scope = st.scopes.get(open[open.length - 1]);
            f.scope = scope.id;
            scope.children.push(fid);
            level = scope.level + 1;
          } else level = p.level;
        }
        // effectpy's own (what it forks for the program, such as map_par's calls, is not)
        f.internal = f.name != null && f.name.startsWith(prefix) && f.parent != null;
        f.level = level;
        st.order = null;
        break;
      }
      case "exit":
        f.end = i; f.outcome = (data && data.outcome) || "success";
        if (f.open != null) { f.waits.push([f.open, i]); f.open = null; }
        break;
      case "suspend":
        if (f.open == null) f.open = i;
        break;
      case "resume":
        if (f.open != null) { f.waits.push([f.open, i]); f.open = null; }
        break;
      case "scope_open":
        if (data.kind !== "scoped") {
          const open = st.open.get(fid) || [];
          const level = open.length ? st.scopes.get(open[open.length - 1]).level + 1 : f.level;
          st.scopes.set(data.scope, { id: data.scope, kind: data.kind, fiber: fid, from: i, to: null, level, children: [] });
          open.push(data.scope);
          st.open.set(fid, open);
        }
        break;
      case "scope_close": {
        const scope = st.scopes.get(data.scope);
        if (scope) {
          scope.to = i;
          const open = st.open.get(scope.fiber) || [];
          const k = open.indexOf(scope.id);
          if (k >= 0) open.splice(k, 1);
        }
        break;
      }
      case "acquire":
        st.resources.set(data.resource, { id: data.resource, fiber: fid, acq: i, rel: null, name: unquoted(String(data.value)) });
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
        if (f.cancelAt == null) f.cancelAt = i;
        if (typeof by === "number") {
          const key = `${by}:${ts}`, n = st.fanN.get(key) || 0;
          st.fan.set(i, n); st.fanN.set(key, n + 1);
        }
        break;
      case "timeout": {
        f.marks.push(i);
        const owner = ownerOf(st, f);
        if (owner !== f) owner.folded.push(i); // drawn on its owner's lane while f is folded
        break;
      }
      case "fail": case "die": case "retry":
        f.marks.push(i);
        break;
      default:
        break;
    }
    if (!f.internal || kind === "timeout") st.kinds.add(kind); // for the legend
  }
  st.done = ev.length;
}

// The rows shown: fibers depth-first under their parents (children in fork order),
// internal fibers folded into their owner's row (unless shown), and more than
// `max_siblings` siblings forked in one scope drawn as one group row (expandable).
function laneOrder(st, grammar) {
  if (st.order) return st.order;
  const look = st.look, max = grammar.max_siblings || 24;
  const order = [];
  st.laneOf = new Map();
  const shown = (f) => look.internal || !f.internal;
  const roots = [...st.fibers.values()].filter((f) => (f.parent == null || !st.fibers.has(f.parent)) && shown(f));
  const stack = roots.reverse().map((f) => ({ f, depth: 0 }));
  const fold = (f, lane) => {
    const todo = [f];
    while (todo.length) {
      const g = todo.pop();
      st.laneOf.set(g.id, lane);
      for (const c of g.children) { const k = st.fibers.get(c); if (k && k.parent === g.id) todo.push(k); }
    }
  };
  while (stack.length) {
    const row = stack.pop();
    row.lane = order.length;
    order.push(row);
    if (row.group) {
      const g = row.group, open = look.expanded.has(g.key);
      if (!open) for (const id of g.members) fold(st.fibers.get(id), row.lane);
      else for (let k = g.members.length - 1; k >= 0; k--) stack.push({ f: st.fibers.get(g.members[k]), depth: row.depth + 1 });
      continue;
    }
    const f = row.f;
    f.lane = row.lane; f.depth = row.depth;
    st.laneOf.set(f.id, row.lane);
    f.hidden = 0;
    const kids = [];
    const adopt = (g) => { // g's children; those of a folded internal child are f's to show
      for (const c of g.children) {
        const k = st.fibers.get(c);
        if (!k || k.parent !== g.id) continue;
        if (shown(k)) kids.push(k); else { st.laneOf.set(k.id, row.lane); f.hidden += 1; adopt(k); }
      }
    };
    adopt(f);
    const items = [];
    if (kids.length > max) {
      const sets = new Map();
      for (const k of kids) { const key = k.scope == null ? "-" : k.scope; (sets.get(key) || sets.set(key, []).get(key)).push(k.id); }
      const made = new Set();
      for (const k of kids) {
        const key = k.scope == null ? "-" : k.scope, members = sets.get(key);
        if (members.length <= max) { items.push({ f: k, depth: row.depth + 1 }); continue; }
        if (made.has(key)) continue;
        made.add(key);
        const scope = st.scopes.get(k.scope);
        items.push({ group: { key: `${f.id}:${key}`, kind: scope ? scope.kind : "fork", parent: f.id, members },
                     depth: row.depth + 1 });
      }
    } else for (const k of kids) items.push({ f: k, depth: row.depth + 1 });
    for (let k = items.length - 1; k >= 0; k--) stack.push(items[k]);
  }
  const open = []; // the last row of each row's subtree (for scope brackets)
  order.forEach((row, i) => {
    while (open.length && order[open[open.length - 1]].depth >= row.depth) order[open.pop()].last = i - 1;
    open.push(i);
  });
  for (const i of open) order[i].last = order.length - 1;
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
  derive(st, model.get("_grammar") || {});
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

// --- text ----------------------------------------------------------------------------------

// Durations for people, as the SVG timeline writes them (`_text.fmt_duration`).
function fmtTime(s) {
  if (typeof s !== "number" || !Number.isFinite(s)) return "?";
  const a = Math.abs(s), sign = s < 0 ? "-" : "";
  if (a === 0) return "0";
  const sig = (x, d) => { const t = Number(x.toPrecision(d)); return Math.abs(t) >= 1000 ? t.toFixed(0) : String(t); };
  if (a >= 59.95) {
    const r = Math.round(a * 10) / 10, m = Math.floor(r / 60), rest = r - 60 * m;
    return `${sign}${m} min` + (rest >= 0.05 ? ` ${sig(rest, 2)} s` : "");
  }
  for (const [scale, unit] of [[1, "s"], [1e-3, "ms"], [1e-6, "\u00b5s"], [1e-9, "ns"]]) {
    if (a >= scale * 0.9995 || scale === 1e-9) return `${sign}${sig(Number((a / scale).toPrecision(3)), 3)} ${unit}`;
  }
  return String(s);
}

function short(text, n) {
  const s = String(text);
  return s.length <= n ? s : s.slice(0, n - 1) + "\u2026";
}

// Text in lines of at most n characters, broken between words (for a tooltip).
function wrap(text, n) {
  const lines = [];
  let line = "";
  for (const word of String(text).split(" ")) {
    if (line && line.length + 1 + word.length > n) { lines.push(line); line = word; } else line = line ? `${line} ${word}` : word;
  }
  return [...lines, line].join("\n");
}

function unquoted(text) {
  return text.length >= 2 && text[0] === text[text.length - 1] && (text[0] === "'" || text[0] === '"') ? text.slice(1, -1) : text;
}

function displayName(st, name) {
  const prefix = "effectpy:";
  return name.startsWith(prefix) ? `\u2699 ${name.slice(prefix.length)}` : name;
}

// `#2 Primary`; `#1 main` for a root without a name (`_story.fiber_label`).
function label(st, f) {
  if (f.name) return `#${f.id} ${displayName(st, f.name)}`;
  return f.parent == null || !st.fibers.has(f.parent) ? `#${f.id} main` : `#${f.id}`;
}

function who(st, id) {
  if (typeof id !== "number") return String(id);
  const f = st.fibers.get(id);
  return f ? label(st, f) : `#${id}`;
}

function describe(st, e, judged) {
  const [, , kind, fid, parent, by, , data] = e;
  const me = who(st, fid);
  const d = data || {};
  switch (kind) {
    case "fork": return parent == null ? `${me} starts` : `${who(st, parent)} forks ${me}`;
    case "exit": return `${me} ends: ${d.outcome || "success"}`;
    case "cancel": return `${who(st, by)} interrupts ${me}` + (d.reason ? ` (${d.reason})` : "");
    case "fail": case "die": {
      const verb = kind === "fail" ? "fails" : "dies";
      return judged && judged.kind === "caught" ? `${me} ${verb}: ${d.error}, caught \u2192 ${judged.after}` : `${me} ${verb}: ${d.error}`;
    }
    case "suspend": return `${me} waits on ${d.on}`;
    case "resume": return `${me} resumes`;
    case "join": return `${me} joins ${who(st, by)}`;
    case "sleep": return `${me} sleeps ${fmtTime(d.seconds)}`;
    case "wake": return `${me} wakes`;
    case "timeout": return `${me} times out after ${fmtTime(d.after)}`;
    case "step": return `${me} held the event loop for ${fmtTime(d.seconds)}`;
    case "retry": return `${me} retries (attempt ${d.attempt}) in ${fmtTime(d.delay)} after ${d.error}`;
    case "scope_open": return `${me} opens a ${d.kind} scope`;
    case "scope_close": return `${me} closes its ${d.kind} scope`;
    case "acquire": return `${me} acquires ${unquoted(String(d.value))}`;
    case "release": {
      const r = st.resources.get(d.resource);
      return `${me} releases ${r ? r.name : "resource " + d.resource} (its use ended: ${d.exit})`;
    }
    default: return `${me} ${kind}`;
  }
}

// The failures of a fiber up to the cursor: which were caught, and what came of each
// (`_story.Story._judge`): a failure is part of how its fiber ended when its error is in the
// cause of its failing exit; else it was caught, unless its fiber has not gone on yet.
function judge(st, f, c) {
  const ev = st.events, out = new Map(), marks = [];
  for (const i of f.marks) {
    if (i >= c) break;
    const kind = ev[i][2];
    if (kind === "fail" || kind === "die" || kind === "retry") marks.push({ i, kind, error: String((ev[i][7] || {}).error) });
  }
  const ended = f.end != null && f.end < c;
  const ending = ended && f.outcome === "failure" ? String((ev[f.end][7] || {}).cause || "") : null;
  const drawn = new Set();
  marks.forEach((m, k) => {
    if (m.kind === "retry") { drawn.clear(); return; }
    if (drawn.has(m.error)) { out.set(m.i, { kind: "dup" }); return; }
    drawn.add(m.error);
    const later = marks.slice(k + 1).find((n) => n.kind === "retry" || n.error !== m.error);
    let after = null;
    if (later && later.kind === "retry") after = "retried";
    else if (ending != null && ending.includes(m.error)) after = null;
    else if (later) after = `then ${later.error}`;
    else if (ended) {
      after = AFTER[f.outcome] || "handled";
      const value = (ev[f.end][7] || {}).value;
      if (f.outcome === "success" && value != null) after += ` \u2192 ${value}`;
    }
    if (after == null) { out.set(m.i, { kind: m.kind, text: m.error, unhandled: true }); return; }
    out.set(m.i, { kind: "caught", after, text: after === "retried" ? `${m.error} \u2192 retry` : `${m.error} caught \u2192 ${after}` });
  });
  return out;
}

// How a fiber ended, as its lane's last words (`_story.Story.result`).
function result(st, f, judged) {
  const data = st.events[f.end][7] || {};
  if (f.outcome === "success") return data.value != null ? `\u2192 ${data.value}` : "\u2713 success";
  if (f.outcome === "failure") {
    let error = null;
    for (const [, j] of judged) if (j.unhandled && error == null) error = j.text;
    return `\u2717 ${error || String(data.cause || "failed").trim().split("\n")[0]}`;
  }
  return f.outcome;
}

// --- a view --------------------------------------------------------------------------------

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

let measurer = null;
function textWidth(text, size, mono, bold) {
  if (!measurer) measurer = document.createElement("canvas").getContext("2d");
  measurer.font = `${bold ? "bold " : ""}${size}px ${mono ? MONO : FONT}`;
  return measurer.measureText(text).width;
}

// The label bands of one lane: intervals taken, so that no label covers another.
class Bands {
  constructor(x0, x1) { this.x0 = x0; this.x1 = x1; this.taken = { above: [], center: [], below: [] }; }
  free(band, a, b) {
    if (a < this.x0 || b > this.x1) return false;
    for (const [p, q] of this.taken[band]) if (a < q + 1.2 && p < b + 1.2) return false;
    return true;
  }
  take(band, a, b) { this.taken[band].push([a, b]); }
  // the first of the (x, band, anchor) spots where a text of width w fits, now taken
  place(w, spots) {
    for (const [x, band, anchor] of spots) {
      const a = anchor === "start" ? x : anchor === "end" ? x - w : x - w / 2;
      if (this.free(band, a, a + w)) { this.take(band, a, a + w); return [x, band, anchor]; }
    }
    return null;
  }
}
const BAND_Y = { above: ABOVE, center: CENTER, below: BELOW };
