// courierwatch built-in dashboard. Every value reaches the page through textContent or an
// attribute (never innerHTML); the chart library (uPlot) is served from the package.
"use strict";

const SEED = ["320400", "331000", "371500", "420100"]; // 常州 台州 聊城 武汉: own plans
const REFRESH_MS = 10000;
const TOKEN_KEY = "courierwatch.token"; // sessionStorage only: gone when the tab closes
const KPIS = [
  ["volume", "业务量 volume"], ["on_time_rate", "时限准时率 on time"],
  ["on_time_rate.yrd_key_12h", "长三角重点城市 12h on time"],
  ["on_time_rate.yrd_24h", "长三角 24h on time"],
  ["on_time_rate.national_key_48h", "全国重点城市 48h on time"],
  ["on_time_rate.intra_city", "同城 intra-city on time (no plan target)"],
  ["promise_kept_rate", "承诺时限 promise kept"], ["delay_rate", "延误率 delays"],
  ["damage_rate", "损毁率 damage"], ["loss_rate", "丢失率 loss"],
  ["valid_complaint_rate", "有效申诉率 valid complaints"],
  ["complaint_acceptance_rate", "申诉受理 complaints accepted"],
  ["complaint_satisfaction", "申诉满意 complaint satisfaction"],
  ["company_complaint_satisfaction", "企业投诉处理满意 company complaint satisfaction"],
  ["locker_share", "智能箱投递 locker share"],
  ["standard_packaging_share", "规范包装 standard packaging"],
  ["e_waybill_share", "电子面单 e-waybill"],
  ["no_secondary_packaging_share", "不再二次包装 no re-packing"],
  ["recycled_bag_share", "循环中转袋 recycled bags"],
  ["tape_mm_mean", "胶带 tape mm/parcel"], ["real_name_rate", "实名收寄 real name"],
  ["inspection_rate", "收寄验视 inspection"], ["xray_rate", "过机安检 x-ray"],
];
const LABEL = Object.fromEntries(KPIS);
const SCALE = {ratio: 1, per_1000: 1e3, per_100000: 1e5, per_1000000: 1e6, mm_per_parcel: 1};
const SUFFIX = {per_1000: "‰", per_100000: "/100k", per_1000000: "/M", mm_per_parcel: " mm"};
const RANGES = {"6h": 6 * 3600e3, "24h": 24 * 3600e3, "7d": 7 * 24 * 3600e3, "all": null};
const COLOURS = ["#1f77b4", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf",
                 "#bcbd22", "#7f7f7f", "#aec7e8", "#98df8a"];
const state = {city: null, company: "", range: "24h", from: null, to: null, minSample: 50,
               rangeChosen: false};
const charts = [];

// ---- DOM helpers: text only ------------------------------------------------------------
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") node.className = v; else node.setAttribute(k, String(v));
  }
  for (const c of children) {
    if (c === null || c === undefined) continue;
    node.appendChild(typeof c === "string" || typeof c === "number"
                     ? document.createTextNode(String(c)) : c);
  }
  return node;
}
function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }
const $ = id => document.getElementById(id);

// ---- the one place that talks to the API (add headers here) ----------------------------
class AuthNeeded extends Error {}
async function api(path, params) {
  const url = new URL(path, window.location.origin);
  for (const [k, v] of Object.entries(params || {})) if (v) url.searchParams.set(k, v);
  const headers = {"Accept": "application/json"};
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token) headers["Authorization"] = "Bearer " + token;
  const res = await fetch(url, {headers});
  if (res.status === 401 || res.status === 403) {
    $("token-form").hidden = false;
    throw new AuthNeeded("the API asks for a token");
  }
  return res;
}
async function apiJson(path, params) {
  const res = await api(path, params);
  const body = await res.json();
  if (!res.ok) throw new Error(body && body.error ? body.error : "HTTP " + res.status);
  return body;
}

// ---- URL state ---------------------------------------------------------------------------
function readUrl() {
  const q = new URLSearchParams(window.location.search);
  state.city = q.get("city") || null;
  state.company = q.get("company") || "";
  state.rangeChosen = RANGES.hasOwnProperty(q.get("range")) || q.has("from") || q.has("to");
  state.range = RANGES.hasOwnProperty(q.get("range")) ? q.get("range") : "24h";
  state.from = q.get("from"); state.to = q.get("to");
}
function writeUrl() {
  const q = new URLSearchParams();
  if (state.city) q.set("city", state.city);
  if (state.company) q.set("company", state.company);
  q.set("range", state.range);
  if (state.from) q.set("from", state.from);
  if (state.to) q.set("to", state.to);
  history.replaceState(null, "", "?" + q.toString());
}
function window_() {
  if (state.from || state.to) return {from: state.from, to: state.to};
  const span = RANGES[state.range];
  return span ? {from: new Date(Date.now() - span).toISOString(), to: null} : {};
}

// ---- formatting and judging ------------------------------------------------------------
function fmt(v, unit) {
  if (v === null || v === undefined || Number.isNaN(v)) return "–";
  if (unit === "ratio") return (v * 100).toFixed(1) + "%";
  if (unit === "count") return Math.round(v).toLocaleString("en");
  return v.toFixed(2) + (SUFFIX[unit] || "");
}
// Times are shown in China Standard Time whatever the browser's zone (figures are CST).
const CST_FMT = new Intl.DateTimeFormat("zh-CN", {timeZone: "Asia/Shanghai", month: "2-digit",
  day: "2-digit", hour: "2-digit", minute: "2-digit", hour12: false});
function cstTime(secs) { return CST_FMT.format(new Date(secs * 1000)); }
function axisFmt(v, unit) {
  if (v === null) return "";
  if (unit === "ratio") return +(v * 100).toFixed(1) + "%";
  if (unit === "count") return Math.round(v).toLocaleString("en");
  return +v.toFixed(2) + (SUFFIX[unit] || "");
}
function fmtTarget(t) {
  const c = {">=": "≥", "<=": "≤"}[t.comparator] || t.comparator;
  const v = t.unit === "ratio" ? +(t.threshold * 100).toFixed(2) + "%"
                               : t.threshold + (SUFFIX[t.unit] || "");
  return c + v;
}
function passes(value, t) {
  switch (t.comparator) {
    case ">=": return value >= t.threshold; case ">": return value > t.threshold;
    case "<=": return value <= t.threshold; case "<": return value < t.threshold;
    default: return value === t.threshold;
  }
}
function isAspirational(t) { return t.strength === "aspirational"; }
function scopeNote(t) {
  return t.companies ? " (" + t.companies.length + " major brands 主要品牌)" : "";
}
// "breach" | "aspirational" | "pass" | "small" | "none" for a value and its targets.
function verdict(value, denominator, unit, targets) {
  if (value === null || value === undefined || !targets.length) return "none";
  if (unit !== "count" && denominator < state.minSample) return "small";
  const failed = targets.filter(t => !passes(value, t));
  if (!failed.length) return "pass";
  return failed.every(isAspirational) ? "aspirational" : "breach";
}

// ---- overview ------------------------------------------------------------------------------
function cityRank(c, volume) {
  const i = SEED.indexOf(c);
  return [i >= 0 ? i : c === "YRD" ? 10 : 20, -(volume[c] || 0)];
}
function aggregate(rows) {
  // Sum numerators and denominators of each city x KPI over the days of the range
  // (all companies), keeping every target that judged any of the days.
  const cells = {}, names = {}, volume = {};
  for (const r of rows) {
    if (r.company !== "*") continue;
    names[r.city] = r.city_name;
    const key = r.city + "|" + r.kpi;
    const c = cells[key] || (cells[key] = {unit: r.unit, num: 0, den: 0, targets: {}});
    c.num += r.numerator; c.den += r.denominator;
    for (const t of r.thresholds) c.targets[t.policy_id] = t;
    if (r.kpi === "volume") volume[r.city] = (volume[r.city] || 0) + r.numerator;
  }
  for (const c of Object.values(cells)) {
    c.value = c.unit === "count" ? c.num : c.den > 0 ? c.num / c.den * SCALE[c.unit] : null;
    c.targets = Object.values(c.targets);
  }
  return {cells, names, volume};
}
let policyStrength = {};
function withStrength(t) { return Object.assign({strength: policyStrength[t.policy_id]}, t); }

function renderOverview(rows, alerts) {
  const {cells, names, volume} = aggregate(rows);
  const cities = Object.keys(names);
  cities.sort((a, b) => {
    const [ra, va] = cityRank(a, volume), [rb, vb] = cityRank(b, volume);
    return ra - rb || va - vb || a.localeCompare(b);
  });
  fillCitySelect(cities, names);
  const alerting = new Set(alerts.map(a => a.city + "|" + a.kpi));
  const head = el("tr", {}, el("th", {}, "指标 KPI"));
  for (const c of cities) {
    const th = el("th", {class: "city" + (c === state.city ? " chosen" : ""),
                         "data-city": c, title: "drill down"}, names[c] || c);
    th.addEventListener("click", () => choose(c));
    head.appendChild(th);
  }
  const thead = $("overview").tHead; clear(thead); thead.appendChild(head);
  const tbody = $("overview").tBodies[0]; clear(tbody);
  for (const [kpi, label] of KPIS) {
    const targets = new Set();
    const tr = el("tr", {});
    let any = false;
    for (const c of cities) {
      const cell = cells[c + "|" + kpi];
      if (!cell) { tr.appendChild(el("td", {class: "none"}, "–")); continue; }
      any = true;
      const ts = cell.targets.map(withStrength);
      ts.forEach(t => targets.add(fmtTarget(t)));
      const v = verdict(cell.value, cell.den, cell.unit, ts);
      const mark = v === "breach" ? " ✗" : v === "aspirational" ? " △" : "";
      const title = (v === "small" ? `n = ${cell.den}: below ${state.minSample}, not judged\n`
                                   : `n = ${cell.den}\n`) +
        ts.map(t => `${t.policy_id}: ${fmtTarget(t)}${isAspirational(t) ? " (aspirational)" : ""}`
                    + ` ${passes(cell.value, t) ? "pass" : "breach"}`).join("\n");
      const td = el("td", {class: "cell " + v + (alerting.has(c + "|" + kpi) ? " alerting" : ""),
                           title, "data-city": c, "data-kpi": kpi, "data-verdict": v},
                    fmt(cell.value, cell.unit) + mark);
      td.addEventListener("click", () => choose(c));
      tr.appendChild(td);
    }
    if (!any) continue;
    tr.insertBefore(el("td", {}, label + " ", el("span", {class: "muted"}, [...targets].join(", "))),
                    tr.firstChild);
    tbody.appendChild(tr);
  }
  if (!state.city && cities.length) choose(cities.find(c => c !== "YRD") || cities[0], true);
}

function fillCitySelect(cities, names) {
  const sel = $("city");
  const wanted = state.city;
  clear(sel);
  const all = wanted && !cities.includes(wanted) ? [...cities, wanted] : cities;
  for (const c of all) {
    const o = el("option", {value: c}, names[c] || c);
    if (c === wanted) o.selected = true;
    sel.appendChild(o);
  }
}

// ---- alerts --------------------------------------------------------------------------------
async function loadAlerts() {
  const list = $("alerts");
  let alerts = [];
  try {
    const res = await api("/api/alerts", {});
    if (res.status === 404) {
      clear(list); list.appendChild(el("li", {class: "muted"}, "告警未启用 alerting not enabled on this server"));
      return [];
    }
    const body = await res.json();
    const items = Array.isArray(body) ? body : body.alerts || body.rows || [];
    alerts = items.filter(a => (a.state || "firing") === "firing");
  } catch (e) {
    if (e instanceof AuthNeeded) throw e;
    clear(list); list.appendChild(el("li", {class: "muted"}, "alerts unavailable: " + e.message));
    return [];
  }
  clear(list);
  if (!alerts.length) list.appendChild(el("li", {class: "muted"}, "无告警 no alerts"));
  for (const a of alerts) {
    const name = a.city_name || [a.city_name_zh, a.city_name_en].filter(Boolean).join(" ") ||
                 a.city;
    const warning = a.severity === "warning" || a.strength === "aspirational";
    const li = el("li", {class: "firing" + (warning ? " warning" : ""), "data-city": a.city},
      `${warning ? "△" : "✗"} ${name} ${a.company} ${LABEL[a.kpi] || a.kpi}: ` +
      `${a.value ?? "–"} vs ${a.comparator || ""}${a.threshold ?? "–"} (${a.policy_id || ""}) ` +
      `since ${a.started_at || a.first_breach || "?"}`);
    li.addEventListener("click", () => choose(a.city));
    list.appendChild(li);
  }
  return alerts;
}

// ---- city drill-down ---------------------------------------------------------------------
function choose(city, initial) {
  if (!city) return;
  state.city = city;
  writeUrl();
  for (const th of document.querySelectorAll("th.city"))
    th.classList.toggle("chosen", th.getAttribute("data-city") === city);
  $("city").value = city;
  if (!initial) loadCity();
}

function drawable(p, unit) {
  // Rates over fewer than min_sample are not drawn: a handful of parcels swings a rate
  // from 0 to 100 % and hides the trend (the overview still shows them, greyed).
  return p.value !== null && (unit === "count" || p.denominator >= state.minSample);
}

function seriesData(kpiSeries, targets) {
  // x: union of the drawn periods; one y array per company, then targets, then breaches.
  const unit = kpiSeries[0].unit;
  const xs = [...new Set(kpiSeries.flatMap(s => s.points.filter(p => drawable(p, unit))
                                                        .map(p => p.t)))].sort();
  const secs = xs.map(t => Date.parse(t) / 1000);
  const idx = Object.fromEntries(xs.map((t, i) => [t, i]));
  const ys = kpiSeries.map(s => {
    const y = new Array(xs.length).fill(null);
    for (const p of s.points) if (drawable(p, unit)) y[idx[p.t]] = p.value;
    return y;
  });
  const lines = targets.map(t => new Array(xs.length).fill(t.threshold));
  const focus = kpiSeries.find(s => s.company === (state.company || "*")) ||
                kpiSeries.find(s => s.company === "*");
  const breach = new Array(xs.length).fill(null), aspirational = new Array(xs.length).fill(null);
  let breaches = 0, binding = 0;
  // A company-scoped target judges only its companies' own series, never all companies.
  const judging = focus ? targets.filter(t => !t.companies ||
    (focus.company !== "*" && t.companies.includes(focus.company))) : [];
  if (focus) for (const p of focus.points) {
    const v = verdict(p.value, p.denominator, focus.unit, judging);
    if (v === "breach") { breach[idx[p.t]] = p.value; breaches++; binding++; }
    if (v === "aspirational") { aspirational[idx[p.t]] = p.value; breaches++; }
  }
  return {data: [secs, ...ys, ...lines, breach, aspirational], breaches, binding, focus};
}

function chartOptions(kpi, unit, kpiSeries, targets, width) {
  const series = [{}];
  kpiSeries.forEach((s, i) => series.push({
    label: s.company === "*" ? "* 全部 all" : s.company,
    stroke: s.company === "*" ? "#1d2430" : COLOURS[i % COLOURS.length],
    width: s.company === "*" || s.company === state.company ? 2.5 : 1,
    spanGaps: false, value: (u, v) => fmt(v, unit)}));
  for (const t of targets) series.push({
    label: (isAspirational(t) ? "aspirational target " : "target ") + fmtTarget(t) + scopeNote(t),
    stroke: isAspirational(t) ? "#e8710a" : "#d93025", dash: [8, 6], width: 2,
    points: {show: false}, value: () => fmtTarget(t)});
  for (const [label, colour] of [["✗ breach", "#d93025"], ["△ aspirational breach", "#e8710a"]])
    series.push({label, stroke: colour, width: 0, paths: () => null,
                 points: {show: true, size: 9, fill: colour, stroke: colour},
                 value: (u, v) => v === null ? "" : fmt(v, unit)});
  series[0] = {label: "CST", value: (u, v) => v === null ? "–" : cstTime(v)};
  return {width, height: 220, series, legend: {live: true},
          scales: {x: {time: true}},
          axes: [{space: 90, values: (u, vals) => vals.map(v => cstTime(v).replace(" ", "\n"))},
                 {size: 84, values: (u, vals) => vals.map(v => axisFmt(v, unit))}]};
}

async function loadCity() {
  const city = state.city;
  if (!city) return;
  const w = window_();
  let body;
  try {
    body = await apiJson("/api/series", {city, from: w.from, to: w.to, by: "hour"});
  } catch (e) {
    if (e instanceof AuthNeeded) return;
    $("drill-title").textContent = "无法加载 cannot load " + city + ": " + e.message;
    for (const c of charts.splice(0)) c.plot.destroy();
    clear($("charts"));
    return;
  }
  if (city !== state.city) return; // the user chose another city meanwhile
  state.minSample = body.min_sample || state.minSample;
  $("min-sample-note").textContent = `· rates over fewer than ${state.minSample} in an hour's ` +
    "denominator are not drawn 样本不足不绘制";
  const title = $("drill-title"); clear(title);
  title.appendChild(document.createTextNode(`城市详情 ${body.city_name} · per hour`));
  if (state.company) title.appendChild(el("span", {class: "muted", id: "chosen-company"},
                                          " · company " + state.company));
  const box = $("charts");
  const width = Math.max(440, Math.min(760, box.clientWidth / 2 - 24 || 600));
  const byKpi = {};
  for (const s of body.series) (byKpi[s.kpi] = byKpi[s.kpi] || []).push(s);
  const built = [];
  for (const [kpi, label] of KPIS) {
    const ks = byKpi[kpi];
    if (!ks || !ks.some(s => s.points.some(p => drawable(p, s.unit)))) continue;
    const targets = body.targets.filter(t => t.kpi === kpi);
    const shaped = seriesData(ks, targets);
    const key = [city, state.company, kpi, ks.map(s => s.company).join(","),
                 targets.map(t => t.policy_id).join(",")].join("|");
    built.push({kpi, label, ks, targets, shaped, key});
  }
  // The same charts as before (a refresh): new data in place, no flicker, hover kept.
  const same = built.length === charts.length && built.every((b, i) => b.key === charts[i].key);
  if (!same) { for (const c of charts.splice(0)) c.plot.destroy(); clear(box); }
  built.forEach((b, i) => {
    const {data, breaches, binding, focus} = b.shaped;
    const mark = binding ? " breached" : breaches ? " asp-breached" : "";
    const attrs = {class: "chart" + mark, "data-kpi": b.kpi,
                   "data-targets": b.targets.length, "data-breaches": breaches,
                   "data-focus": focus ? focus.company : "",
                   "data-numerators": focus ? focus.points.reduce((a, p) => a + p.numerator, 0) : 0,
                   "data-companies": b.ks.map(s => s.company).join(",")};
    if (same) {
      const card = charts[i].card;
      for (const [k, v] of Object.entries(attrs))
        if (k === "class") card.className = v; else card.setAttribute(k, String(v));
      charts[i].plot.setData(data);
      return;
    }
    const card = el("div", attrs, el("h3", {}, b.label),
      el("p", {class: "targets muted"}, b.targets.length
        ? b.targets.map(t => `${fmtTarget(t)} ${t.policy_id}${isAspirational(t) ? " (力争 aspirational)" : ""}${scopeNote(t)}`).join(" · ")
        : "no target 无目标"));
    box.appendChild(card);
    const plot = new uPlot(chartOptions(b.kpi, b.ks[0].unit, b.ks, b.targets, width), data, card);
    charts.push({key: b.key, plot, card});
  });
  if (!box.firstChild) box.appendChild(el("p", {class: "muted"}, "no data for this city in the range 该时段无数据"));
}

// ---- refresh loop ------------------------------------------------------------------------
async function refresh() {
  const w = window_();
  try {
    if (!Object.keys(policyStrength).length) {
      const p = await apiJson("/api/policies", {});
      for (const t of p.policies) policyStrength[t.id] = t.strength || "binding";
    }
    const alerts = await loadAlerts();
    const kpiBody = await apiJson("/api/kpi", {by: "day", from: w.from, to: w.to});
    const rows = kpiBody.rows;
    if (!rows.length && !state.rangeChosen && state.range !== "all") {
      // Nothing in the last 24 h (say, a backfill of older events): show all the data
      // rather than an empty page; the user's own choice of range is never overridden.
      state.range = "all"; state.rangeChosen = true; $("range").value = "all"; writeUrl();
      return refresh();
    }
    if (kpiBody.min_sample !== undefined) state.minSample = kpiBody.min_sample;
    $("overview-sub").textContent = w.from || w.to
      ? `· ${w.from ? new Date(w.from).toLocaleString("zh-CN", {hour12: false}) : "…"} – ${w.to ? new Date(w.to).toLocaleString("zh-CN", {hour12: false}) : "now"}, all companies`
      : "· all data, all companies";
    renderOverview(rows, alerts);
    fillCompanySelect(rows);
    await loadCity();
    $("status").textContent = `${rows.length} figures · updated ${new Date().toLocaleTimeString("en-GB")} · refreshes every ${REFRESH_MS / 1000} s`;
  } catch (e) {
    $("status").textContent = e instanceof AuthNeeded ? "token required 需要令牌" : "error: " + e.message;
  }
}

function fillCompanySelect(rows) {
  const sel = $("company");
  const companies = [...new Set(rows.filter(r => r.city === state.city && r.company !== "*")
                                     .map(r => r.company))].sort();
  if (state.company && !companies.includes(state.company)) companies.push(state.company);
  clear(sel);
  sel.appendChild(el("option", {value: ""}, "全部 all companies"));
  for (const c of companies) {
    const o = el("option", {value: c}, c);
    if (c === state.company) o.selected = true;
    sel.appendChild(o);
  }
}

function start() {
  readUrl();
  $("range").value = state.range;
  $("city").addEventListener("change", e => { choose(e.target.value); });
  $("company").addEventListener("change", e => { state.company = e.target.value; writeUrl(); loadCity(); });
  $("range").addEventListener("change", e => {
    state.range = e.target.value; state.from = state.to = null; state.rangeChosen = true;
    writeUrl(); refresh();
  });
  $("token-form").addEventListener("submit", e => {
    e.preventDefault();
    sessionStorage.setItem(TOKEN_KEY, $("token").value);
    $("token").value = ""; $("token-form").hidden = true; refresh();
  });
  writeUrl();
  refresh();
  setInterval(refresh, REFRESH_MS);
}
start();
