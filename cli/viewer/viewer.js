// The Worldline viewer: the journal as a live timeline with filters, a record's why graph drawn
// as SVG, the state browser, and the governance proposals with their shadow reports. Served by
// `world run --listen` at `/`; it reads only the control API, and loads nothing from elsewhere.
"use strict";

const TIMELINE_RECORDS_MAX = 5000; // rows kept in the page; older ones are dropped
const JOURNAL_PAGE = 1000;
const NODE_W = 230, NODE_H = 40, GAP_X = 60, GAP_Y = 14;

const token = (() => {
  const fromUrl = new URLSearchParams(location.search).get("token");
  if (fromUrl) sessionStorage.setItem("worldline-token", fromUrl);
  return sessionStorage.getItem("worldline-token");
})();
const headers = () => (token ? { Authorization: `Bearer ${token}` } : {});

async function getJson(path) {
  const response = await fetch(path, { headers: headers() });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(body.error ? `${body.error.code}: ${body.error.message}` : response.statusText);
  return body;
}

const $ = (selector) => document.querySelector(selector);
const el = (tag, attrs = {}, text) => {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
};

// ---- tabs

for (const button of document.querySelectorAll("nav button")) {
  button.addEventListener("click", () => {
    for (const b of document.querySelectorAll("nav button")) b.classList.toggle("active", b === button);
    for (const t of document.querySelectorAll(".tab")) t.classList.toggle("active", t.id === button.dataset.tab);
    if (button.dataset.tab === "state") loadReducers();
    if (button.dataset.tab === "governance") loadProposals();
  });
}

// ---- what a record is about

function summary(r) {
  const b = r.body || {};
  switch (r.kind) {
    case "domain_event": return `${b.schema}`;
    case "effect_intent": return `${b.kind} via ${b.cap}`;
    case "admission": return `${b.stage}: ${b.code}`;
    case "receipt": return `${b.status} from ${b.adapter_id}`;
    case "plan_started": return `${b.plan}`;
    case "plan_ended": return `#${b.instance} ${b.status}${b.code ? " " + b.code : ""}`;
    case "step_failed": return `${b.reducer}: ${b.code}`;
    default: return b.proposal_id !== undefined ? `proposal ${b.proposal_id}` : "";
  }
}

function facets(r) {
  const b = r.body || {};
  const origin = b.origin || {};
  return {
    kind: r.kind,
    schema: b.schema || "",
    reducer: b.reducer || origin.reducer || (origin.kind === "reducer" ? origin.name : "") || "",
    plan: b.plan || origin.plan || (origin.kind === "plan" ? origin.name : "") || "",
  };
}

// ---- the timeline

const kinds = new Set();
let selected = null;

function addRecord(r) {
  const list = $("#records");
  if (list.querySelector(`li[data-seq="${r.seq}"]`)) return;
  const f = facets(r);
  const li = el("li", { "data-seq": r.seq, "data-kind": f.kind, "data-schema": f.schema, "data-reducer": f.reducer, "data-plan": f.plan });
  li.classList.add("record", r.kind);
  if (r.kind === "admission" && r.body && r.body.allowed === false) li.classList.add("deny");
  li.append(el("span", { class: "seq" }, `#${r.seq}`), el("span", { class: "kind" }, r.kind), document.createTextNode(" " + summary(r)));
  li.addEventListener("click", () => selectRecord(r));
  list.append(li);
  while (list.children.length > TIMELINE_RECORDS_MAX) list.firstElementChild.remove();
  if (!kinds.has(r.kind)) {
    kinds.add(r.kind);
    $("#filters select[name=kind]").append(el("option", { value: r.kind }, r.kind));
  }
  applyFilter(li);
  countShown();
}

function filterValues() {
  const form = $("#filters");
  return ["kind", "schema", "reducer", "plan"].map((name) => [name, form.elements[name].value.trim()]);
}

function applyFilter(li, values = filterValues()) {
  const shown = values.every(([name, want]) => !want || (li.dataset[name] || "").includes(want));
  li.classList.toggle("hidden", !shown);
}

function countShown() {
  const all = $("#records").children.length;
  const hidden = $("#records").querySelectorAll("li.hidden").length;
  $("#count").textContent = `${all - hidden} of ${all} records`;
}

$("#filters").addEventListener("input", () => {
  const values = filterValues();
  for (const li of $("#records").children) applyFilter(li, values);
  countShown();
});

async function loadJournal(head) {
  let from = Math.max(0, head - TIMELINE_RECORDS_MAX + 1);
  while (from <= head) {
    const page = await getJson(`/journal?from=${from}&limit=${JOURNAL_PAGE}`);
    page.records.forEach(addRecord);
    if (!page.records.length) break;
    from = page.next;
  }
  return from;
}

// Server-sent events read with fetch, so the token can go in a header.
async function follow(from) {
  for (;;) {
    try {
      const response = await fetch(`/events/stream?from=${from}`, { headers: headers() });
      const reader = response.body.getReader();
      const decoder = new TextDecoder();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, { stream: true });
        let end;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          const message = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const data = message.split("\n").filter((l) => l.startsWith("data:")).map((l) => l.slice(5).trimStart()).join("\n");
          if (!data) continue;
          const record = JSON.parse(data);
          addRecord(record);
          from = record.seq + 1;
          $("#world").dataset.head = record.seq;
        }
      }
    } catch (e) {
      console.warn("stream:", e);
    }
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

// ---- the why graph

function direction() {
  return document.querySelector("input[name=direction]:checked").value;
}
for (const radio of document.querySelectorAll("input[name=direction]")) {
  radio.addEventListener("change", () => selected && selectRecord(selected));
}

async function selectRecord(r) {
  selected = r;
  for (const li of $("#records").querySelectorAll("li.selected")) li.classList.remove("selected");
  const li = $(`#records li[data-seq="${r.seq}"]`);
  if (li) li.classList.add("selected");
  $("#record-detail").textContent = JSON.stringify(r, null, 2);
  $("#why-controls").hidden = false;
  $("#why-title").textContent = `${direction() === "back" ? "Why" : "What followed"} #${r.seq} ${r.kind} ${summary(r)}`;
  try {
    const graph = await getJson(`/why/${r.seq}?direction=${direction()}`);
    drawWhy(graph);
  } catch (e) {
    $("#why").textContent = e.message;
  }
}

const SVG = "http://www.w3.org/2000/svg";
const svgEl = (tag, attrs = {}, text) => {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
};

function drawWhy(graph) {
  const columns = new Map();
  for (const node of graph.nodes) {
    if (!columns.has(node.depth)) columns.set(node.depth, []);
    columns.get(node.depth).push(node);
  }
  const place = new Map();
  let height = 0;
  for (const [depth, nodes] of columns) {
    nodes.forEach((node, row) => {
      const x = 10 + depth * (NODE_W + GAP_X);
      const y = 10 + row * (NODE_H + GAP_Y);
      place.set(node.record.seq, { x, y });
      height = Math.max(height, y + NODE_H + 10);
    });
  }
  const width = 20 + columns.size * (NODE_W + GAP_X);
  const svg = svgEl("svg", { width, height, viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": "why graph" });
  const defs = svgEl("defs");
  const marker = svgEl("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 10, refY: 5, markerWidth: 6, markerHeight: 6, orient: "auto-start-reverse" });
  marker.append(svgEl("path", { d: "M 0 0 L 10 5 L 0 10 z", fill: "#8c959f" }));
  defs.append(marker);
  svg.append(defs);
  for (const edge of graph.edges) {
    const a = place.get(edge.cause), b = place.get(edge.effect);
    if (!a || !b) continue;
    // Drawn from the effect to its cause when asking why; from cause to effect forwards.
    const [from, to] = graph.direction === "forward" ? [a, b] : [b, a];
    const x1 = from.x + NODE_W, y1 = from.y + NODE_H / 2, x2 = to.x, y2 = to.y + NODE_H / 2;
    svg.append(svgEl("path", { class: "why-edge", d: `M ${x1} ${y1} C ${x1 + GAP_X / 2} ${y1}, ${x2 - GAP_X / 2} ${y2}, ${x2} ${y2}` }));
    svg.append(svgEl("text", { class: "why-edge-label", x: (x1 + x2) / 2 - 20, y: (y1 + y2) / 2 - 3 }, edge.via.kind));
  }
  const roots = new Set(graph.roots || []);
  for (const node of graph.nodes) {
    const r = node.record;
    const { x, y } = place.get(r.seq);
    const denied = (node.decisions || []).some((d) => !d.allowed) || (r.kind === "admission" && r.body.allowed === false);
    const g = svgEl("g", { class: `why-node${roots.has(r.seq) ? " root" : ""}${denied ? " deny" : ""}`, "data-seq": r.seq, transform: `translate(${x},${y})` });
    g.append(svgEl("rect", { width: NODE_W, height: NODE_H }));
    g.append(svgEl("text", { x: 6, y: 15 }, `#${r.seq} ${r.kind}`));
    const verdict = (node.decisions || []).map((d) => `${d.stage}: ${d.code}`);
    const mark = verdict.length ? (denied ? " ✗" : " ✓") : "";
    g.append(svgEl("text", { x: 6, y: 31 }, summary(r).slice(0, 32) + mark));
    g.append(svgEl("title", {}, [...verdict, JSON.stringify(r.body)].join("\n")));
    g.addEventListener("click", () => selectRecord(r));
    svg.append(g);
  }
  $("#why").replaceChildren(svg);
}

// ---- state

async function loadReducers() {
  const select = $("#reducers");
  if (select.options.length) return;
  const { reducers } = await getJson("/reducers");
  for (const r of reducers) select.append(el("option", { value: r.name }, r.keyed ? `${r.name} (cells)` : r.name));
  select.addEventListener("change", showState);
  if (reducers.length) showState();
}

async function showState() {
  const name = $("#reducers").value;
  try {
    const state = await getJson(`/state/${encodeURIComponent(name)}`);
    $("#state-json").textContent = JSON.stringify(state.state, null, 2);
  } catch (e) {
    $("#state-json").textContent = e.message;
  }
}

// ---- governance

async function loadProposals() {
  const { proposals } = await getJson("/proposals");
  const body = $("#proposals tbody");
  body.replaceChildren();
  for (const p of proposals) {
    const tr = el("tr", { "data-id": p.id });
    for (const cell of [p.id, p.status, `#${p.proposed_seq}`, p.shadow_seq ? `#${p.shadow_seq}` : "—", p.candidate.slice(0, 19) + "…"]) tr.append(el("td", {}, String(cell)));
    tr.addEventListener("click", () => showReport(p));
    body.append(tr);
  }
  if (!proposals.length) body.append(el("tr", {}, "no proposals"));
}

async function showReport(p) {
  const out = $("#report");
  out.replaceChildren(el("h2", {}, `Proposal ${p.id} (${p.status})`));
  if (!p.shadow_seq) {
    out.append(el("p", { class: "muted" }, "Not shadowed yet."));
    return;
  }
  const report = await getJson(`/proposals/${p.id}/report`);
  const section = (title, items, line) => {
    out.append(el("h3", {}, `${title} (${items.length})`));
    const ul = el("ul");
    for (const item of items) ul.append(el("li", {}, line(item)));
    out.append(ul);
  };
  section("Ledger deltas", report.ledger, (d) => `${d.action} ${d.section} ${d.name}`);
  section("Predicted intents", report.intents, (i) => `input ${i.input}: ${i.kind} by ${i.origin} via ${i.cap}: ${i.admitted ? "admitted" : "denied"} (${i.decisions.join(", ")})`);
  section("State diffs", report.state_diffs, (d) => `${d.reducer}: ${d.changes.map((c) => c.path).join(", ")}`);
  section("Divergence", report.divergence, (d) => `input ${d.input} ${d.what}`);
}

// ---- start

(async () => {
  try {
    const health = await getJson("/health");
    $("#world").textContent = `${health.did} · head #${health.head.seq} · manifest ${health.manifest_hash.slice(0, 19)}…`;
    const next = await loadJournal(health.head.seq);
    document.body.dataset.ready = "true";
    follow(next);
  } catch (e) {
    $("#world").textContent = `cannot reach the world: ${e.message}`;
  }
})();
