// motcua screen: draws the provisioned Grafana dashboards. The server resolves variables and runs each
// panel's SQL; this page only sends the dashboard uid, a panel id, the time range and the selections.
"use strict";

const ZONE = "Asia/Ho_Chi_Minh";
const ALL = "$__all";
const PALETTE = ["#73bf69", "#f2cc0c", "#8ab8ff", "#ff780a", "#f2495c", "#5794f2", "#b877d9", "#ff9830"];
const COLORS = { green: "#73bf69", yellow: "#fade2a", red: "#f2495c", orange: "#ff9830", blue: "#5794f2" };
const REFRESHES = ["", "5s", "10s", "30s", "1m", "5m"];
const localTime = new Intl.DateTimeFormat("sv-SE", {
  timeZone: ZONE, year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit",
  second: "2-digit", hour12: false,
});

const state = { uid: "", board: null, from: "", to: "", refresh: "", vars: {}, variables: [], timer: null,
  charts: new Map(), generation: 0 };

async function api(path, body) {
  const response = await fetch(path, body === undefined ? {} : {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
  if (!response.ok) throw new Error(`${response.status}: ${await response.text()}`);
  return response.json();
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v; else if (k.startsWith("data-")) node.setAttribute(k, v); else node[k] = v;
  }
  for (const c of children) node.append(c);
  return node;
}

// values ----------------------------------------------------------------------------------------------------

function fieldConfig(panel, name) {
  const conf = { ...(panel.fieldConfig?.defaults || {}) };
  for (const o of panel.fieldConfig?.overrides || []) {
    if (o.matcher?.id === "byName" && o.matcher.options === name) {
      for (const p of o.properties || []) conf[p.id] = p.value;
    }
  }
  return conf;
}

function trimmed(value, decimals) {
  return decimals === undefined || decimals === null ? String(+value.toFixed(2)) : value.toFixed(decimals);
}

function format(value, conf, kind) {
  if (value === null || value === undefined) return conf.noValue ?? "—";
  if (kind === "time") return localTime.format(new Date(value * 1000));
  if (typeof value !== "number") return String(value);
  switch (conf.unit) {
    case "percentunit": return `${(value * 100).toFixed(conf.decimals ?? 1)}%`;
    case "percent": return `${value.toFixed(conf.decimals ?? 1)}%`;
    case "s": return `${trimmed(value, conf.decimals ?? 1)} s`;
    case "ms": return `${trimmed(value, conf.decimals ?? 0)} ms`;
    default: return trimmed(value, conf.decimals);
  }
}

function thresholdColor(value, conf) {
  const steps = conf.thresholds?.steps;
  if (!steps || value === null || value === undefined) return null;
  let color = steps[0].color;
  for (const s of steps) if (s.value !== null && s.value !== undefined && value >= s.value) color = s.color;
  return COLORS[color] || color;
}

// the page's URL: from, to, refresh and var-<name> as Grafana writes them ------------------------------------

function query(vars = state.vars, withTime = true) {
  const params = new URLSearchParams();
  if (withTime) { params.set("from", state.from); params.set("to", state.to); }
  for (const [name, values] of Object.entries(vars)) for (const v of values) params.append(`var-${name}`, v);
  return params;
}

function saveUrl() {
  const params = query();
  if (state.refresh !== (state.board.refresh || "")) params.set("refresh", state.refresh);
  history.replaceState(null, "", `${location.pathname}?${params}`);
}

function dashboardHref(link) {
  const params = new URLSearchParams();
  if (link.keepTime) { params.set("from", state.from); params.set("to", state.to); }
  if (link.includeVars) for (const [k, vs] of query(state.vars, false)) params.append(k, vs);
  return `${link.url}?${params}`;
}

// variables -------------------------------------------------------------------------------------------------

async function loadVariables() {
  const answer = await api("/api/variables", { uid: state.uid, from: state.from, to: state.to, vars: state.vars });
  state.variables = answer.variables;
  for (const v of answer.variables) state.vars[v.name] = v.selected;
  document.getElementById("range").textContent =
    `${localTime.format(new Date(answer.from * 1000))} – ${localTime.format(new Date(answer.to * 1000))}`;
  drawVariables();
  drawLinks();
  if (answer.errors.length) console.warn("variable queries failed", answer.errors);
}

function selectionText(values) {
  return values.length === 1 && values[0] === ALL ? "Tất cả" : values.join(", ") || "—";
}

async function choose(name, values) {
  state.vars[name] = values.length ? values : [ALL];
  saveUrl();
  await loadVariables();
  await refreshPanels();
}

function drawVariables() {
  const box = document.getElementById("variables");
  box.replaceChildren();
  for (const model of state.board.templating?.list || []) {
    if (model.hide === 2) continue;
    const resolved = state.variables.find((v) => v.name === model.name);
    if (!resolved) continue;
    const label = el("span", { class: "name" }, model.label || model.name);
    if (model.type === "textbox") {
      const input = el("input", { value: resolved.selected[0] || "", size: 28, "data-variable": model.name });
      input.addEventListener("change", () => choose(model.name, [input.value.trim()]));
      box.append(el("div", { class: "var" }, el("label", {}, label, input)));
    } else if (!model.multi) {
      const select = el("select", { "data-variable": model.name });
      for (const o of resolved.options) select.append(el("option", { value: o, selected: resolved.selected[0] === o }, o));
      select.addEventListener("change", () => choose(model.name, [select.value]));
      box.append(el("div", { class: "var" }, el("label", {}, label, select)));
    } else {
      box.append(multiSelect(model, resolved, label));
    }
  }
}

function multiSelect(model, resolved, label) {
  const details = el("details", { class: "var", "data-variable": model.name });
  details.append(el("summary", {}, label, selectionText(resolved.selected)));
  const list = el("div", { class: "options" });
  const isAll = resolved.selected.includes(ALL);
  const boxes = [];
  const entry = (value, text, checked) => {
    const input = el("input", { type: "checkbox", value, checked });
    boxes.push(input);
    list.append(el("label", {}, input, ` ${text}`));
  };
  if (model.includeAll) entry(ALL, "Tất cả", isAll);
  for (const o of resolved.options) entry(o, o, !isAll && resolved.selected.includes(o));
  list.addEventListener("change", (event) => {
    const changed = event.target;
    if (changed.value === ALL && changed.checked) boxes.forEach((b) => { b.checked = b.value === ALL; });
    else if (changed.checked) boxes.forEach((b) => { if (b.value === ALL) b.checked = false; });
  });
  details.addEventListener("toggle", () => {
    if (!details.open) {
      const values = boxes.filter((b) => b.checked).map((b) => b.value);
      if (JSON.stringify(values) !== JSON.stringify(state.vars[model.name])) choose(model.name, values);
    }
  });
  details.append(list);
  return details;
}

// panels ----------------------------------------------------------------------------------------------------

function layout() {
  const grid = document.getElementById("grid");
  grid.replaceChildren();
  for (const panel of state.board.panels) {
    const g = panel.gridPos;
    const section = el("section", { class: "panel", "data-panel-id": panel.id, "data-type": panel.type,
      "data-title": panel.title, "data-state": "loading" },
    el("h2", { title: panel.title }, panel.title), el("div", { class: "body" }));
    section.style.gridColumn = `${g.x + 1} / span ${g.w}`;
    section.style.gridRow = `${g.y + 1} / span ${g.h}`;
    grid.append(section);
  }
}

// Grafana's Dashboard datasource: a panel that shows another panel's result sends no query of its own
const SHARED = "-- Dashboard --";

function sourceOf(panel) {
  return panel.datasource?.uid === SHARED ? panel.targets?.[0]?.panelId : panel.id;
}

async function refreshPanels() {
  const generation = ++state.generation;
  const answers = new Map();  // panel id -> its answer's promise: one query per source panel
  const answer = (id) => {
    if (!answers.has(id)) {
      answers.set(id, api("/api/query", { uid: state.uid, panel: id, from: state.from, to: state.to, vars: state.vars })
        .catch((error) => ({ results: [{ columns: [], rows: [], error: String(error.message || error) }] })));
    }
    return answers.get(id);
  };
  await Promise.all(state.board.panels.map((panel) => runPanel(panel, generation, answer)));
  document.body.dataset.refreshed = String(generation);
}

async function runPanel(panel, generation, answerOf) {
  const section = document.querySelector(`section[data-panel-id="${panel.id}"]`);
  const body = section.querySelector(".body");
  const answer = await answerOf(sourceOf(panel));
  if (generation !== state.generation) return;
  const result = answer.results[0];
  if (result.error) {
    body.replaceChildren(el("div", { class: "error" }, result.error));
    section.dataset.state = "error";
    return;
  }
  const draw = { stat: drawStat, timeseries: drawSeries, table: drawTable, bargauge: drawBars }[panel.type];
  if (!result.rows.length && panel.type !== "stat") body.replaceChildren(el("div", { class: "empty" }, "Không có dữ liệu"));
  else if (draw) draw(panel, result, body, answer);
  else body.replaceChildren(el("div", { class: "error" }, `panel type ${panel.type} is not drawn by this viewer`));
  section.dataset.state = "done";
  section.dataset.ms = String(result.ms);
}

function numberColumn(result) {
  const i = result.columns.findIndex((c) => c.kind === "number");
  return i >= 0 ? i : result.columns.length - 1;
}

function fieldPattern(spec) {  // Grafana's reduceOptions.fields: "/regex/flags" or a whole name
  const m = /^\/(.*)\/([a-z]*)$/.exec(spec);
  return m ? new RegExp(m[1], m[2]) : new RegExp(`^${spec.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}$`);
}

function statColumn(panel, result) {
  const spec = panel.options?.reduceOptions?.fields;
  if (!spec) return numberColumn(result);
  const pattern = fieldPattern(spec);
  return result.columns.findIndex((c) => pattern.test(c.name));
}

function drawStat(panel, result, body) {
  const i = statColumn(panel, result);
  const values = i < 0 ? [] : result.rows.map((r) => r[i]).filter((v) => v !== null && v !== undefined);
  const value = values.length ? values[values.length - 1] : null;
  const conf = fieldConfig(panel, result.columns[i]?.name);
  const node = el("div", { class: "stat", "data-raw": value === null ? "" : String(value) }, format(value, conf, "number"));
  const color = thresholdColor(value, conf);
  if (color) node.style.color = color;
  body.replaceChildren(node);
}

function drawSeries(panel, result, body, answer) {
  const previous = state.charts.get(panel.id);
  if (previous) previous.destroy();
  const t = result.columns.findIndex((c) => c.kind === "time");
  const series = result.columns.map((c, i) => ({ ...c, i })).filter((c) => c.i !== t && c.kind === "number");
  const data = [result.rows.map((r) => r[t]), ...series.map((c) => result.rows.map((r) => r[c.i]))];
  const conf0 = fieldConfig(panel, series[0]?.name);
  const width = Math.max(200, body.clientWidth - 4);
  const height = Math.max(80, body.clientHeight - 34);
  const chart = new uPlot({
    width, height,
    tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), ZONE),
    scales: { x: { time: true, range: () => [answer.from, answer.to] }, y: { range: (u, min, max) => [conf0.min ?? Math.min(0, min), conf0.max ?? (max > 0 ? max * 1.1 : 1)] } },
    axes: [{ stroke: "#8e9299", grid: { stroke: "#2c3037" } },
      { stroke: "#8e9299", grid: { stroke: "#2c3037" }, values: (u, vals) => vals.map((v) => format(v, conf0, "number")),
        size: (u, values) => Math.max(44, 22 + 8 * Math.max(0, ...(values || []).map((v) => String(v).length))) }],
    series: [{ value: (u, v) => (v === null ? "—" : localTime.format(new Date(v * 1000))) },
      ...series.map((c, k) => {
        const conf = fieldConfig(panel, c.name);
        return { label: conf.displayName || c.name, stroke: PALETTE[k % PALETTE.length], width: 2,
          points: { show: result.rows.length < 3, fill: PALETTE[k % PALETTE.length] },
          value: (u, v) => format(v, conf, "number") };
      })],
  }, data, body);
  body.replaceChildren(chart.root);
  body.dataset.points = String(result.rows.length);
  state.charts.set(panel.id, chart);
}

function linkUrl(template, raw) {
  return template.replace("${__value.raw}", encodeURIComponent(raw))
    .replace("${__url_time_range}", `from=${encodeURIComponent(state.from)}&to=${encodeURIComponent(state.to)}`);
}

function drawTable(panel, result, body) {
  const confs = result.columns.map((c) => fieldConfig(panel, c.name));
  const head = el("tr", {}, ...result.columns.map((c, i) => el("th", {}, confs[i].displayName || c.name)));
  const rows = result.rows.map((row) => el("tr", {}, ...row.map((value, i) => {
    const c = result.columns[i];
    const text = format(value, confs[i], c.kind);
    const cell = el("td", { class: c.kind, "data-column": c.name, "data-raw": value === null ? "" : String(value) });
    const links = confs[i].links;
    if (links?.length && value !== null) cell.append(el("a", { href: linkUrl(links[0].url, value), title: links[0].title }, text));
    else cell.append(text);
    return cell;
  })));
  body.replaceChildren(el("table", {}, el("thead", {}, head), el("tbody", {}, ...rows)));
}

function drawBars(panel, result, body) {
  const i = numberColumn(result);
  const label = result.columns.findIndex((c) => c.kind === "string");
  const conf = fieldConfig(panel, result.columns[i].name);
  const max = conf.max ?? Math.max(...result.rows.map((r) => r[i] ?? 0), 1);
  const bars = result.rows.map((row, k) => {
    const value = row[i];
    const fill = el("div", { class: "bar-fill" });
    fill.style.width = `${Math.max(0, Math.min(100, (100 * (value ?? 0)) / max))}%`;
    fill.style.background = PALETTE[k % PALETTE.length];
    return el("div", { class: "bar-row", "data-label": label >= 0 ? row[label] : "", "data-raw": String(value) },
      el("span", {}, label >= 0 ? String(row[label]) : result.columns[i].name),
      el("div", { class: "bar-track" }, fill), el("span", { class: "bar-value" }, format(value, conf, "number")));
  });
  body.replaceChildren(el("div", { class: "bars" }, ...bars));
}

// the page --------------------------------------------------------------------------------------------------

function schedule() {
  clearInterval(state.timer);
  const match = /^(\d+)([smh])$/.exec(state.refresh || "");
  if (match) state.timer = setInterval(refreshPanels, +match[1] * { s: 1e3, m: 6e4, h: 36e5 }[match[2]]);
}

function drawLinks() {  // they carry the time range and the resolved selections
  const links = document.getElementById("links");
  links.replaceChildren(...(state.board.links || []).map((l) => el("a", { href: dashboardHref(l), "data-link": l.url }, l.title)));
}

function header() {
  document.title = state.board.title;
  document.getElementById("title").textContent = state.board.title;
  const from = document.getElementById("from");
  const to = document.getElementById("to");
  from.value = state.from;
  to.value = state.to;
  document.getElementById("apply").onclick = async () => {
    state.from = from.value.trim();
    state.to = to.value.trim();
    saveUrl();
    header();
    await loadVariables();
    await refreshPanels();
  };
  const refresh = document.getElementById("refresh");
  const choices = REFRESHES.includes(state.refresh) ? REFRESHES : [...REFRESHES, state.refresh];
  refresh.replaceChildren(...choices.map((r) => el("option", { value: r, selected: r === state.refresh }, r || "tắt")));
  refresh.onchange = () => { state.refresh = refresh.value; saveUrl(); schedule(); };
}

async function index() {
  const boards = await api("/api/search");
  document.getElementById("title").textContent = "Màn hình điều hành";
  document.getElementById("time").hidden = true;
  const list = el("ul", {}, ...boards.map((b) => el("li", {}, el("a", { href: `/d/${b.uid}` }, b.title))));
  document.getElementById("grid").replaceWith(el("main", { class: "index" }, list));
}

async function main() {
  if (!location.pathname.startsWith("/d/")) return index();
  state.uid = decodeURIComponent(location.pathname.slice(3));
  state.board = (await api(`/api/dashboards/uid/${encodeURIComponent(state.uid)}`)).dashboard;
  const params = new URLSearchParams(location.search);
  state.from = params.get("from") || state.board.time.from;
  state.to = params.get("to") || state.board.time.to;
  state.refresh = params.has("refresh") ? params.get("refresh") : state.board.refresh || "";
  for (const model of state.board.templating?.list || []) {
    const values = params.getAll(`var-${model.name}`);
    if (values.length) state.vars[model.name] = values;
  }
  header();
  layout();
  await loadVariables();
  await refreshPanels();
  schedule();
}

// a click outside an open drop-down closes it, which applies its selection (as Grafana's picker does)
document.addEventListener("click", (event) => {
  for (const open of document.querySelectorAll("details.var[open]")) if (!open.contains(event.target)) open.open = false;
});

main().catch((error) => {
  document.getElementById("grid").replaceChildren(el("div", { class: "panel error" }, String(error.message || error)));
  throw error;
});
