// crmwh pivot explorer: picks a cube query, sends it to POST /query with the user's token, shows a pivot table
// or a chart, and drills down a hierarchy when a row member is clicked.
"use strict";

const API_BASE = location.pathname.replace(/\/explorer(\/.*)?$/, "");
const TOKEN_KEY = "crmwh.explorer.token";

const state = {
  token: "",
  cubes: [],
  cube: null,
  drills: [], // [{level, member, childLevel}] applied as filters, newest last
  view: "table",
  answer: null,
  request: null,
};

const $ = (id) => document.getElementById(id);

function option(value, label, selected) {
  const o = document.createElement("option");
  o.value = value;
  o.textContent = label;
  if (selected) o.selected = true;
  return o;
}

function showError(message) {
  const box = $("error");
  box.textContent = message;
  box.hidden = !message;
}

async function api(path, body) {
  const response = await fetch(API_BASE + path, {
    method: body === undefined ? "GET" : "POST",
    headers: Object.assign(
      { Authorization: "Bearer " + state.token, Accept: "application/json" },
      body === undefined ? {} : { "Content-Type": "application/json" }
    ),
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  let payload = null;
  try {
    payload = await response.json();
  } catch (e) {
    payload = null;
  }
  if (!response.ok) {
    const detail = payload && (payload.detail || payload.error);
    throw new Error(`${response.status} ${(payload && payload.error) || response.statusText}: ${detail || ""}`);
  }
  return payload;
}

// ---------------------------------------------------------------------------------------------- catalog

async function connect(event) {
  if (event) event.preventDefault();
  state.token = $("token").value.trim();
  showError("");
  if (!state.token) {
    showError("Enter the API token your warehouse administrator gave you.");
    return;
  }
  try {
    const answer = await api("/cubes");
    sessionStorage.setItem(TOKEN_KEY, state.token);
    state.cubes = answer.cubes;
    const restriction = answer.restricted_to ? " · sees only " + JSON.stringify(answer.restricted_to) : "";
    $("who").textContent = "connected as " + answer.token + restriction;
    const select = $("cube");
    select.replaceChildren(...state.cubes.map((c, i) => option(c.cube, c.cube, i === 0)));
    $("controls").hidden = false;
    $("intro").hidden = true;
    chooseCube();
  } catch (error) {
    showError(error.message);
  }
}

function levelsOf(cube) {
  return cube.dimensions.flatMap((d) => d.levels);
}

function chooseCube() {
  state.cube = state.cubes.find((c) => c.cube === $("cube").value);
  state.drills = [];
  const cube = state.cube;
  $("cube-description").textContent = cube.description || "";
  $("measures").replaceChildren(
    ...cube.measures.map((m, i) => {
      const label = document.createElement("label");
      label.title = m.description;
      const box = document.createElement("input");
      box.type = "checkbox";
      box.value = m.measure;
      box.checked = i === 0;
      label.append(box, " " + m.measure);
      return label;
    })
  );
  const levels = levelsOf(cube);
  $("rows").replaceChildren(...levels.map((l, i) => option(l, l, i === 0)));
  $("columns").replaceChildren(option("", "(none)", true), ...levels.map((l) => option(l, l)));
  $("filter-level").replaceChildren(...levels.map((l) => option(l, l)));
  $("filters").replaceChildren();
  renderBreadcrumb();
}

// ---------------------------------------------------------------------------------------------- query

function selectedMeasures() {
  return [...$("measures").querySelectorAll("input:checked")].map((b) => b.value);
}

function userFilters() {
  return [...$("filters").querySelectorAll(".filter")].map((div) => JSON.parse(div.dataset.filter));
}

function addFilter() {
  const level = $("filter-level").value;
  const op = $("filter-op").value;
  const raw = $("filter-values").value.trim();
  if (!raw) {
    showError("Type a value for the filter on " + level + ".");
    return;
  }
  const values = ["in", "not_in", "range"].includes(op) ? raw.split(",").map((v) => v.trim()) : [raw];
  if (op === "range" && values.length !== 2) {
    showError("between takes two values: low,high");
    return;
  }
  showError("");
  const filter = { level, op, values };
  const div = document.createElement("div");
  div.className = "filter";
  div.dataset.filter = JSON.stringify(filter);
  const text = document.createElement("span");
  text.textContent = `${level} ${$("filter-op").selectedOptions[0].textContent} ${values.join(", ")}`;
  const remove = document.createElement("button");
  remove.type = "button";
  remove.textContent = "✕";
  remove.title = "remove filter";
  remove.addEventListener("click", () => div.remove());
  div.append(text, remove);
  $("filters").append(div);
  $("filter-values").value = "";
}

function buildRequest() {
  const measures = selectedMeasures();
  const column = $("columns").value;
  const request = {
    cube: state.cube.cube,
    measures,
    rows: [$("rows").value],
    columns: column ? [column] : [],
    filters: [
      ...userFilters(),
      ...state.drills.map((d) => ({ level: d.level, op: "eq", values: [d.member] })),
    ],
    totals: $("totals").checked,
  };
  return request;
}

async function run() {
  showError("");
  if (!selectedMeasures().length) {
    showError("Choose at least one measure.");
    return;
  }
  if ($("columns").value && $("columns").value === $("rows").value) {
    showError("Rows and columns need different levels.");
    return;
  }
  const request = buildRequest();
  $("status").textContent = "running…";
  $("toolbar").hidden = false;
  const started = performance.now();
  try {
    const answer = await api("/query", request);
    state.request = request;
    state.answer = answer;
    $("status").textContent = `${answer.row_count} rows in ${Math.round(performance.now() - started)} ms`;
    render();
  } catch (error) {
    $("status").textContent = "";
    showError(error.message);
  }
}

// ---------------------------------------------------------------------------------------------- drilling

function childLevel(level) {
  const [dim, short] = level.split(".");
  const dimension = state.cube.dimensions.find((d) => d.dimension === dim);
  if (!dimension) return null;
  for (const chain of Object.values(dimension.hierarchies)) {
    const at = chain.indexOf(short);
    if (at >= 0 && at < chain.length - 1) return `${dim}.${chain[at + 1]}`;
  }
  return null;
}

function drillDown(level, member) {
  const child = childLevel(level);
  if (!child) return;
  state.drills.push({ level, member, childLevel: child });
  $("rows").value = child;
  if ($("columns").value === child) $("columns").value = "";
  renderBreadcrumb();
  run();
}

function drillUpTo(depth) {
  const undone = state.drills.splice(depth);
  if (!undone.length) return;
  $("rows").value = undone[0].level;
  renderBreadcrumb();
  run();
}

function renderBreadcrumb() {
  const nav = $("breadcrumb");
  nav.replaceChildren();
  if (!state.drills.length) return;
  const all = document.createElement("a");
  all.textContent = "all";
  all.addEventListener("click", () => drillUpTo(0));
  nav.append(all);
  state.drills.forEach((d, i) => {
    nav.append(" › ");
    const link = document.createElement("a");
    link.textContent = `${d.level} = ${d.member}`;
    link.dataset.depth = String(i + 1);
    link.addEventListener("click", () => drillUpTo(i + 1));
    nav.append(link);
  });
}

// ---------------------------------------------------------------------------------------------- rendering

function measureFormat(column) {
  const formats = Object.fromEntries(state.cube.measures.map((m) => [m.measure, m.format]));
  const measures = state.request.measures;
  const name = measures.length === 1 && state.request.columns.length ? measures[0] : column.split(" | ")[0];
  return formats[name.split("@")[0]] || "number";
}

function formatValue(value, format) {
  if (value === null || value === undefined) return "";
  if (typeof value !== "number") return String(value);
  if (format === "percent") return (value * 100).toFixed(1) + " %";
  if (format === "currency") return value.toLocaleString("en-US", { maximumFractionDigits: 2, minimumFractionDigits: 2 });
  if (format === "integer") return value.toLocaleString("en-US");
  if (format === "duration") return value.toLocaleString("en-US", { maximumFractionDigits: 0 }) + " s";
  return value.toLocaleString("en-US", { maximumFractionDigits: 3 });
}

function splitColumns() {
  const rowLevels = state.request.rows;
  const names = state.answer.columns.map((c) => c.name);
  const flags = names.filter((n) => n.endsWith("__total"));
  const valueColumns = names.filter((n) => !rowLevels.includes(n) && !flags.includes(n));
  return { rowLevels, valueColumns };
}

function render() {
  renderTable();
  if (state.view === "chart") renderChart();
}

function renderTable() {
  const { rowLevels, valueColumns } = splitColumns();
  const table = document.createElement("table");
  table.id = "pivot";
  const head = table.createTHead().insertRow();
  for (const level of rowLevels) {
    const th = document.createElement("th");
    th.className = "level";
    th.textContent = level;
    head.append(th);
  }
  for (const name of valueColumns) {
    const th = document.createElement("th");
    th.textContent = name;
    head.append(th);
  }
  const body = table.createTBody();
  const drillable = rowLevels.length === 1 && childLevel(rowLevels[0]);
  for (const row of state.answer.rows) {
    const tr = body.insertRow();
    const isTotal = rowLevels.some((l) => row[l + "__total"]);
    if (isTotal) tr.className = "total";
    for (const level of rowLevels) {
      const td = tr.insertCell();
      td.className = "member";
      const member = row[level];
      td.dataset.level = level;
      td.textContent = row[level + "__total"] ? "Total" : member === null ? "(null)" : String(member);
      if (drillable && !isTotal && member !== null) {
        td.classList.add("drillable");
        td.dataset.member = String(member);
        td.title = `drill down to ${childLevel(level)}`;
        td.addEventListener("click", () => drillDown(level, member));
      }
    }
    for (const name of valueColumns) {
      const td = tr.insertCell();
      const value = row[name];
      td.dataset.column = name;
      td.dataset.value = value === null || value === undefined ? "" : String(value);
      td.textContent = formatValue(value, measureFormat(name));
    }
  }
  $("result-table").replaceChildren(table);
}

function renderChart() {
  const { rowLevels, valueColumns } = splitColumns();
  const level = rowLevels[0];
  const rows = state.answer.rows.filter((r) => !rowLevels.some((l) => r[l + "__total"]));
  const x = rows.map((r) => (r[level] === null ? "(null)" : String(r[level])));
  const isTime = state.answer.columns.some((c) => c.name === level && /date|timestamp/.test(c.type));
  // Rates go on a second axis so they stay readable next to counts and amounts.
  const isRate = (name) => measureFormat(name) === "percent";
  const mixed = valueColumns.some(isRate) && !valueColumns.every(isRate);
  const traces = valueColumns.map((name) => ({
    type: isTime || (mixed && isRate(name)) ? "scatter" : "bar",
    mode: isTime || (mixed && isRate(name)) ? "lines+markers" : undefined,
    name,
    x,
    y: rows.map((r) => r[name]),
    yaxis: mixed && isRate(name) ? "y2" : "y",
  }));
  const layout = {
    title: { text: `${state.request.cube}: ${state.request.measures.join(", ")} by ${level}` },
    barmode: "group",
    margin: { l: 60, r: 60, t: 50, b: 80 },
    xaxis: { type: isTime ? "date" : "category" },
    yaxis: { tickformat: valueColumns.every(isRate) ? ".0%" : undefined },
    yaxis2: { overlaying: "y", side: "right", tickformat: ".0%", showgrid: false },
    legend: { orientation: "h", y: -0.15 },
  };
  Plotly.react("result-chart", traces, layout, { displaylogo: false, responsive: true });
}

function setView(view) {
  state.view = view;
  $("view-table").classList.toggle("active", view === "table");
  $("view-chart").classList.toggle("active", view === "chart");
  $("result-table").hidden = view !== "table";
  $("result-chart").hidden = view !== "chart";
  if (view === "chart" && state.answer) renderChart();
}

// ---------------------------------------------------------------------------------------------- wiring

document.addEventListener("DOMContentLoaded", () => {
  $("login").addEventListener("submit", connect);
  $("cube").addEventListener("change", chooseCube);
  $("rows").addEventListener("change", () => {
    state.drills = [];
    renderBreadcrumb();
  });
  $("add-filter").addEventListener("click", addFilter);
  $("run").addEventListener("click", run);
  $("view-table").addEventListener("click", () => setView("table"));
  $("view-chart").addEventListener("click", () => setView("chart"));
  const saved = sessionStorage.getItem(TOKEN_KEY);
  if (saved) {
    $("token").value = saved;
    connect();
  }
});
