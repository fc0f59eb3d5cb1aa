// courierwatch built-in dashboard, for the duty officer: which company breaches which target
// in my city, since when. Every value reaches the page through textContent or an attribute
// (never innerHTML); the chart library (uPlot) is served from the package. Every time shown
// is China Standard Time (the figures' periods), whatever the browser's zone.
"use strict";

const SEED = ["320400", "331000", "371500", "420100"]; // 常州 台州 聊城 武汉: own plans
const REFRESH_MS = 10000;
const HOUR = 3600;
const TOKEN_KEY = "courierwatch.token"; // sessionStorage: kept for the browser session
// Board and overview columns (short labels; the full names come with the board's kpis).
const COLUMNS = [
  ["volume", "业务量", "acceptances"], ["on_time_rate", "准时率", "on time"],
  ["on_time_rate.yrd_key_12h", "12h准时", "YRD 12 h"], ["on_time_rate.yrd_24h", "24h准时", "YRD 24 h"],
  ["on_time_rate.national_key_48h", "48h准时", "national 48 h"],
  ["promise_kept_rate", "承诺兑现", "promise kept"], ["delay_rate", "延误率", "delays"],
  ["damage_rate", "损毁率", "damage"], ["loss_rate", "丢失率", "loss"],
  ["valid_complaint_rate", "有效申诉", "valid appeals"],
  ["complaint_acceptance_rate", "申诉受理", "appeals accepted"],
  ["complaint_satisfaction", "申诉满意", "appeal satisf."],
  ["company_complaint_satisfaction", "投诉满意", "company satisf."],
  ["locker_share", "智能箱", "locker"], ["standard_packaging_share", "规范包装", "std pack."],
  ["e_waybill_share", "电子面单", "e-waybill"],
  ["no_secondary_packaging_share", "不二次包装", "no re-pack"],
  ["recycled_bag_share", "循环袋", "recycled bags"], ["real_name_rate", "实名", "real name"],
  ["inspection_rate", "验视", "inspection"], ["xray_rate", "过机安检", "X-ray"],
];
const SHORT = Object.fromEntries(COLUMNS.map(([k, zh, en]) => [k, zh + " " + en]));
const SCALE = {ratio: 1, per_1000: 1e3, per_100000: 1e5, per_1000000: 1e6, mm_per_parcel: 1};
const SUFFIX = {ratio: "%", per_1000: "‰", per_100000: "/100k", per_1000000: "/M",
                mm_per_parcel: " mm", count: ""};
const RANGES = {"6h": 6 * HOUR, "24h": 24 * HOUR, "7d": 7 * 24 * HOUR, "all": null};
const COMPANY_COLOUR = "#1f77b4";
const state = {city: null, company: "", kpi: "", range: "24h", from: null, to: null,
               minSample: 50, upTo: null, names: {}, tv: false, showOthers: false};
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

// ---- the token: this browser session, shared with the session's other tabs -------------
const tokenChannel = "BroadcastChannel" in window ? new BroadcastChannel("courierwatch-token") : null;
if (tokenChannel) tokenChannel.onmessage = e => {
  const have = sessionStorage.getItem(TOKEN_KEY);
  if (e.data === "ask" && have) tokenChannel.postMessage({token: have});
  else if (e.data && typeof e.data.token === "string" && !have) {
    sessionStorage.setItem(TOKEN_KEY, e.data.token); $("token-form").hidden = true; refresh();
  }
};

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
  state.kpi = q.get("kpi") || "";
  state.range = RANGES.hasOwnProperty(q.get("range")) ? q.get("range") : "24h";
  state.from = q.get("from"); state.to = q.get("to");
  state.tv = q.get("tv") === "1";
}
function writeUrl() {
  const q = new URLSearchParams();
  if (state.city) q.set("city", state.city);
  if (state.company) q.set("company", state.company);
  if (state.kpi) q.set("kpi", state.kpi);
  q.set("range", state.range);
  if (state.from) q.set("from", state.from);
  if (state.to) q.set("to", state.to);
  if (state.tv) q.set("tv", "1");
  history.replaceState(null, "", "?" + q.toString());
}
// The window shown: an alert's link gives from/to; else the chosen span up to the latest
// event time (not the browser's clock: a backfill of last week still shows a full day).
function window_() {
  if (state.from || state.to) return {from: state.from, to: state.to};
  const span = RANGES[state.range];
  if (!span || !state.upTo) return {};
  const end = Math.ceil(state.upTo / HOUR) * HOUR;
  return {from: new Date((end - span) * 1000).toISOString(), to: null};
}

// ---- formatting: the rules of courierwatch.units.fmt_figure ------------------------------
function fmt(v, unit) {
  if (v === null || v === undefined || Number.isNaN(v)) return "–";
  if (unit === "ratio") {
    const pct = v * 100;
    if (pct > 100 + 1e-9) return "invalid >100%";
    let t = pct.toFixed(1);
    if ((t === "100.0" && pct < 100) || (t === "0.0" && pct > 0))
      t = pct > 50 ? (Math.floor(pct * 100) / 100).toFixed(2) : pct.toFixed(2);
    return t + "%";
  }
  if (unit === "count") return Math.round(v).toLocaleString("en");
  const digits = Math.abs(v) >= 100 ? 0 : Math.abs(v) >= 10 ? 1 : 2;
  let t = v.toFixed(digits);
  if (t.includes(".")) t = t.replace(/0+$/, "").replace(/\.$/, "");
  return t + (SUFFIX[unit] || "");
}
const CST_PARTS = new Intl.DateTimeFormat("en-GB", {timeZone: "Asia/Shanghai", year: "numeric",
  month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", hourCycle: "h23"});
function cstParts(secs) {
  const p = Object.fromEntries(CST_PARTS.formatToParts(new Date(secs * 1000))
                               .map(x => [x.type, x.value]));
  return {date: `${p.year}-${p.month}-${p.day}`, md: `${p.month}-${p.day}`,
          hm: `${p.hour}:${p.minute}`};
}
function cstTime(secs) { const p = cstParts(secs); return `${p.md} ${p.hm}`; }
function cstFull(secs) { const p = cstParts(secs); return `${p.date} ${p.hm} CST`; }
function fmtTarget(t) {
  if (t.text) return t.text;
  const c = {">=": "≥", "<=": "≤"}[t.comparator] || t.comparator;
  return c + (t.unit === "ratio" ? +(t.threshold * 100).toFixed(2) + "%"
                                 : t.threshold + (SUFFIX[t.unit] || ""));
}
function passes(value, t) {
  switch (t.comparator) {
    case ">=": return value >= t.threshold; case ">": return value > t.threshold;
    case "<=": return value <= t.threshold; case "<": return value < t.threshold;
    default: return value === t.threshold;
  }
}
const isAspirational = t => t.strength === "aspirational";
// "breach" | "aspirational" | "pass" | "small" | "invalid" | "none" of a board cell.
function cellVerdict(c) {
  if (c.status === "breach") return c.breach_strength === "aspirational" ? "aspirational" : "breach";
  return {pass: "pass", too_few: "small", invalid: "invalid"}[c.status] || "none";
}
const MARK = {breach: " ✗", aspirational: " △"};

// ---- overview (cities x KPIs, all companies) and the city's board (companies x KPIs) ------
function cityOrder(cities, volume) {
  return cities.sort((a, b) => {
    const ra = SEED.includes(a) ? SEED.indexOf(a) : a === "YRD" ? 10 : 20;
    const rb = SEED.includes(b) ? SEED.indexOf(b) : b === "YRD" ? 10 : 20;
    return ra - rb || (volume[b] || 0) - (volume[a] || 0) || a.localeCompare(b);
  });
}
function shownColumns(cells) {
  // A wall screen (?tv=1) keeps volume and the KPIs something breaches: large type, few columns.
  const keep = c => c.kpi === "volume" || (state.tv ? ["breach", "aspirational", "invalid"]
    .includes(cellVerdict(c)) && c.company !== "*" || cellVerdict(c) === "breach" : c.thresholds.length);
  const have = new Set(cells.filter(keep).map(c => c.kpi));
  return COLUMNS.filter(([k]) => have.has(k));
}
function cellTitle(c) {
  const lines = [`${state.names[c.city] || c.city} · ${c.company === "*" ? "all companies 全部企业" : c.company} · ${SHORT[c.kpi] || c.kpi}`,
    c.status === "invalid" ? "a share above 100 % cannot be true: not shown as a figure"
      : `${c.text} of ${c.denominator.toLocaleString("en")} ${c.denominator_name} in the range`];
  if (c.status === "too_few") lines.push(`fewer than ${state.minSample}: too few to judge 样本不足`);
  for (const t of c.thresholds)
    lines.push(`${t.status === "breach" ? "✗" : t.status === "pass" ? "✓" : "·"} ${t.policy_id}: ${fmtTarget(t)}` +
               `${isAspirational(t) ? " (aspirational 力争)" : ""} — ${t.quote}`);
  return lines.join("\n");
}
function boardCell(c, onClick) {
  const v = cellVerdict(c);
  const policies = c.thresholds.filter(t => t.status === "breach").map(t => t.policy_id);
  const td = el("td", {class: "cell " + v, title: cellTitle(c), "data-city": c.city,
                       "data-company": c.company, "data-kpi": c.kpi, "data-verdict": v,
                       "data-policies": policies.join(" "), tabindex: 0},
                c.status === "invalid" ? "invalid" : c.text + (MARK[v] || ""));
  td.addEventListener("click", () => onClick(c));
  return td;
}
function headerRow(first, columns, extra) {
  const tr = el("tr", {}, el("th", {}, first));
  if (extra) tr.appendChild(el("th", {}, extra));
  for (const [k, zh, en] of columns)
    tr.appendChild(el("th", {"data-kpi": k, title: k}, zh, el("br"), el("span", {class: "en"}, en)));
  return tr;
}

function renderOverview(board, alerts) {
  const star = board.cells.filter(c => c.company === "*");
  const byCity = {}, volume = {};
  for (const c of star) {
    (byCity[c.city] = byCity[c.city] || {})[c.kpi] = c;
    if (c.kpi === "volume") volume[c.city] = c.value;
  }
  for (const c of board.cities) state.names[c.city] = c.city_name;
  const cities = cityOrder(Object.keys(byCity), volume);
  const breaching = Object.fromEntries(board.cities.map(c => [c.city, c]));
  // Cities where parcels are accepted (or that breach) are listed; cities that only
  // receive parcels are folded into one row of names (open it to see their figures).
  const main = cities.filter(c => (volume[c] || 0) > 0 || (breaching[c] && breaching[c].breaching.length));
  const others = cities.filter(c => !main.includes(c));
  if (!state.city && cities.length) {
    state.city = breachingFirst(main.length ? main : cities, breaching);
    writeUrl();
  }
  fillCitySelect(cities);
  const columns = shownColumns(star);
  const alerting = new Set(alerts.map(a => a.city + "|" + a.kpi));
  const table = $("overview");
  const thead = table.tHead; clear(thead);
  thead.appendChild(headerRow("城市 City", columns, "未达标企业 companies breaching"));
  const tbody = table.tBodies[0]; clear(tbody);
  for (const city of [...main, ...(state.showOthers ? others : [])]) {
    const b = breaching[city] || {breaching: [], aspirational: []};
    const name = el("th", {class: "city" + (city === state.city ? " chosen" : ""),
                           "data-city": city, title: "open the board 查看企业", scope: "row"},
                    state.names[city] || city);
    name.addEventListener("click", () => choose(city));
    const count = el("td", {class: "count" + (b.breaching.length ? " breach" : ""),
                            "data-city": city, "data-breaching": b.breaching.length,
                            title: [...b.breaching.map(x => "✗ " + x), ...b.aspirational.map(x => "△ " + x)].join("\n")},
      b.breaching.length ? `✗ ${b.breaching.length} ${b.breaching.join(" ")}` : "✓ 0",
      b.aspirational.length ? el("span", {class: "muted"}, ` △${b.aspirational.length}`) : null);
    const tr = el("tr", {"data-city": city}, name, count);
    for (const [k] of columns) {
      const c = byCity[city][k];
      if (!c) { tr.appendChild(el("td", {class: "none"}, "")); continue; }
      const td = boardCell(c, () => choose(city, k));
      if (alerting.has(city + "|" + k)) td.classList.add("alerting");
      tr.appendChild(td);
    }
    tbody.appendChild(tr);
  }
  if (others.length) {
    const toggle = el("button", {type: "button", class: "linkish"}, state.showOthers
      ? "hide them 收起" : `show ${others.length} cities with deliveries only 仅派送城市`);
    toggle.addEventListener("click", () => { state.showOthers = !state.showOthers; renderOverview(board, alerts); });
    const names = state.showOthers ? "" : others.map(c => state.names[c] || c).join(" · ");
    tbody.appendChild(el("tr", {class: "others"}, el("td", {colspan: columns.length + 2},
      toggle, " ", el("span", {class: "muted"}, names))));
  }
}
function breachingFirst(cities, breaching) {
  return cities.find(c => c !== "YRD" && (breaching[c] || {breaching: []}).breaching.length) ||
         cities.find(c => c !== "YRD") || cities[0];
}

function renderBoard(board) {
  const city = state.city;
  const cells = board.cells.filter(c => c.city === city);
  const title = $("board-title"); clear(title);
  title.appendChild(document.createTextNode(`企业达标情况 Breach board · ${state.names[city] || city}`));
  const table = $("board");
  clear(table.tHead); clear(table.tBodies[0]);
  if (!cells.length) {
    table.tBodies[0].appendChild(el("tr", {}, el("td", {class: "muted"}, "no figures for this city in the range 该时段无数据")));
    return;
  }
  const columns = shownColumns(cells);
  table.tHead.appendChild(headerRow("企业 Company", columns));
  const byCompany = {};
  for (const c of cells) (byCompany[c.company] = byCompany[c.company] || {})[c.kpi] = c;
  const companies = Object.keys(byCompany).sort((a, b) =>
    (a !== "*") - (b !== "*") || a.localeCompare(b));
  for (const company of companies) {
    const name = el("th", {scope: "row", class: "company" + (company === state.company ? " chosen" : ""),
                           "data-company": company, title: "show this company on the charts"},
                    company === "*" ? "全部 all" : company);
    name.addEventListener("click", () => chooseCompany(company === "*" ? "" : company));
    const tr = el("tr", {"data-company": company}, name);
    for (const [k] of columns) {
      const c = byCompany[company][k];
      if (!c) { tr.appendChild(el("td", {class: "none"}, "")); continue; }
      const td = boardCell(c, showDetail);
      if (lastAlerts.some(a => a.city === city && a.company === company && a.kpi === k))
        td.classList.add("alerting");
      tr.appendChild(td);
    }
    $("board").tBodies[0].appendChild(tr);
  }
}
function showDetail(c) {
  const box = $("cell-detail"); clear(box); box.hidden = false;
  box.appendChild(el("strong", {}, cellTitle(c).split("\n")[0]));
  box.appendChild(el("div", {}, c.status === "invalid" ? "invalid: above 100 %" :
    `${c.text} of ${c.denominator.toLocaleString("en")} ${c.denominator_name}`));
  const ul = el("ul", {});
  for (const t of c.thresholds)
    ul.appendChild(el("li", {class: t.status === "breach" ? (isAspirational(t) ? "aspirational" : "breach") : ""},
      el("code", {}, t.policy_id), ` ${fmtTarget(t)} · ${t.status} · ${isAspirational(t) ? "aspirational 力争" : "binding 约束性"} · ${t.source} ${t.section}: `,
      el("q", {}, t.quote)));
  if (!c.thresholds.length) ul.appendChild(el("li", {class: "muted"}, "no target 无目标"));
  box.appendChild(ul);
  if (c.company !== "*") {
    const b = el("button", {type: "button"}, `show ${c.company} on the charts`);
    b.addEventListener("click", () => { chooseCompany(c.company, c.kpi); });
    box.appendChild(b);
  }
}

function fillCitySelect(cities) {
  const sel = $("city");
  clear(sel);
  const all = state.city && !cities.includes(state.city) ? [...cities, state.city] : cities;
  for (const c of all) {
    const o = el("option", {value: c}, state.names[c] || c);
    if (c === state.city) o.selected = true;
    sel.appendChild(o);
  }
}
function fillCompanySelect(board) {
  const sel = $("company");
  const companies = [...new Set(board.cells.filter(c => c.city === state.city && c.company !== "*")
                                    .map(c => c.company))].sort();
  if (state.company && !companies.includes(state.company)) companies.push(state.company);
  clear(sel);
  sel.appendChild(el("option", {value: ""}, "全部 all companies"));
  for (const c of companies) {
    const o = el("option", {value: c}, c);
    if (c === state.company) o.selected = true;
    sel.appendChild(o);
  }
}

// ---- alerts: written by the server (courierwatch.alert_format.describe_alert) -------------
async function loadAlerts() {
  const list = $("alerts");
  let alerts = [];
  try {
    const res = await api("/api/alerts", {active: "1"});
    if (res.status === 404) {
      clear(list); list.appendChild(el("li", {class: "muted"}, "告警未启用 alerting not enabled on this server"));
      return [];
    }
    const body = await res.json();
    alerts = (body.rows || []).filter(a => a.state === "firing");
  } catch (e) {
    if (e instanceof AuthNeeded) throw e;
    clear(list); list.appendChild(el("li", {class: "muted"}, "alerts unavailable: " + e.message));
    return [];
  }
  clear(list);
  if (!alerts.length) list.appendChild(el("li", {class: "muted"}, "无告警 no active alerts"));
  for (const a of alerts) {
    const d = a.display;
    const warning = a.severity !== "page";
    const link = el("a", {class: "drill"}, "drill down 查看 →");
    if (typeof d.link === "string" && d.link.startsWith("/?")) link.setAttribute("href", d.link);
    link.addEventListener("click", e => { e.preventDefault(); followAlert(a); });
    const li = el("li", {class: "alert " + (warning ? "warning" : "page"), "data-city": a.city,
                         "data-company": a.company, "data-kpi": a.kpi},
      el("span", {class: "mark"}, d.mark + " "),
      el("strong", {}, d.place), " · ", el("strong", {}, d.company), " · ", d.kpi, " ",
      el("span", {class: "value"}, d.value), " vs ", d.target, " · ", d.strength,
      el("span", {class: "muted"}, ` (${a.policy_id})`), " · since ",
      el("span", {class: "since"}, d.since), " ", link);
    list.appendChild(li);
  }
  return alerts;
}
function followAlert(a) {
  const q = new URLSearchParams(a.display.link.slice(1));
  state.city = q.get("city"); state.company = q.get("company") || "";
  state.kpi = q.get("kpi") || ""; state.from = q.get("from"); state.to = q.get("to");
  writeUrl(); refresh().then(() => scrollToChart());
}

// ---- choosing ------------------------------------------------------------------------------
function choose(city, kpi) {
  if (!city) return;
  state.city = city;
  if (kpi) state.kpi = kpi;
  writeUrl();
  for (const th of document.querySelectorAll("th.city"))
    th.classList.toggle("chosen", th.getAttribute("data-city") === city);
  $("city").value = city;
  if (lastBoard) { renderBoard(lastBoard); fillCompanySelect(lastBoard); }
  loadCity().then(() => { if (kpi) scrollToChart(); else $("board-section").scrollIntoView(); });
}
function chooseCompany(company, kpi) {
  state.company = company;
  if (kpi) state.kpi = kpi;
  writeUrl();
  $("company").value = company;
  if (lastBoard) renderBoard(lastBoard);
  loadCity().then(() => { if (kpi) scrollToChart(); });
}
function scrollToChart() {
  const card = state.kpi && document.querySelector(`.chart[data-kpi="${CSS.escape(state.kpi)}"]`);
  if (card) card.scrollIntoView({block: "center"});
}

// ---- city drill-down charts ---------------------------------------------------------------
function xRange(body) {
  const w = window_();
  let lo = w.from ? Date.parse(w.from) / 1000 : null;
  let hi = w.to ? Date.parse(w.to) / 1000 : state.upTo ? Math.ceil(state.upTo / HOUR) * HOUR : null;
  if (lo === null || hi === null) {
    const ts = body.series.flatMap(s => s.points.map(p => Date.parse(p.t) / 1000));
    if (!ts.length) return null;
    if (lo === null) lo = Math.min(...ts);
    if (hi === null) hi = Math.max(...ts) + HOUR;
  }
  return [Math.floor(lo / HOUR) * HOUR, hi];
}
function drawable(p, s) {
  return p.value !== null && !p.invalid && (s.unit === "count" || p.denominator >= state.minSample);
}
// One value per hour of the page's x range (null = a gap); a series summed over windows of
// several hours holds its window's value on each of its hours (a step, never a bridge).
function hourly(s, xs) {
  const y = new Array(xs.length).fill(null);
  const step = (s.window_h || 1) * HOUR;
  for (const p of s.points) {
    if (!drawable(p, s)) continue;
    const t0 = Date.parse(p.t) / 1000;
    for (let t = t0; t < t0 + step; t += HOUR) {
      const i = (t - xs[0]) / HOUR;
      if (i >= 0 && i < xs.length) y[i] = p.value;
    }
  }
  return y;
}
function judging(targets, company) {
  // A company-scoped target judges only its companies' own series, never all companies.
  return targets.filter(t => !t.companies || (company !== "*" && t.companies.includes(company)));
}
function breachMarks(s, targets, xs) {
  const hard = new Array(xs.length).fill(null), soft = new Array(xs.length).fill(null);
  let nHard = 0, nSoft = 0;
  const step = (s.window_h || 1) * HOUR;
  for (const p of s.points) {
    if (p.status !== "breach" || !drawable(p, s)) continue;
    const failed = targets.filter(t => !passes(p.value, t));
    if (!failed.length) continue;
    const aspirational = failed.every(isAspirational);
    const t0 = Date.parse(p.t) / 1000;
    const i = Math.round((t0 + step / 2 - HOUR / 2 - xs[0]) / HOUR); // mid-window
    if (i < 0 || i >= xs.length) continue;
    if (aspirational) { soft[i] = p.value; nSoft++; } else { hard[i] = p.value; nHard++; }
  }
  return {hard, soft, nHard, nSoft};
}
function yRange(unit, values, targets) {
  const vals = values.filter(v => v !== null);
  const ts = targets.map(t => t.threshold);
  const all = [...vals, ...ts];
  if (unit === "ratio") {
    const lo = Math.max(0, Math.min(...all) - 0.02);
    return [Math.floor(lo * 50) / 50, 1];
  }
  const hi = Math.max(...all, 0);
  return [0, hi > 0 ? hi * 1.15 : 1];
}

async function loadCity() {
  const city = state.city;
  if (!city) return;
  const w = window_();
  // Only a brand code goes to the API (anything else is shown as text, never sent).
  const companies = /^[A-Z][A-Z0-9_]{0,15}$/.test(state.company) ? state.company : "";
  let body;
  try {
    body = await apiJson("/api/series", {city, from: w.from, to: w.to, by: "hour",
                                         company: companies});
  } catch (e) {
    if (e instanceof AuthNeeded) return;
    $("drill-title").textContent = "无法加载 cannot load " + city + ": " + e.message;
    destroyCharts(); clear($("charts"));
    return;
  }
  if (city !== state.city) return; // the user chose another city meanwhile
  state.minSample = body.min_sample || state.minSample;
  const title = $("drill-title"); clear(title);
  title.appendChild(document.createTextNode(`城市详情 Drill-down · ${body.city_name}`));
  title.appendChild(el("span", {class: "muted", id: "chosen-company"},
    state.company ? ` · ${state.company} and all companies 全部企业` : " · all companies 全部企业"));
  const range = xRange(body);
  const box = $("charts");
  if (!range) {
    destroyCharts(); clear(box);
    box.appendChild(el("p", {class: "muted"}, "no data for this city in the range 该时段无数据"));
    return;
  }
  const xs = [];
  for (let t = range[0]; t < range[1]; t += HOUR) xs.push(t);
  const byKpi = {};
  for (const s of body.series) (byKpi[s.kpi] = byKpi[s.kpi] || []).push(s);
  const specs = [], empty = [];
  for (const [kpi] of COLUMNS) {
    const ks = byKpi[kpi] || [];
    const all = ks.find(s => s.company === "*");
    const mine = state.company ? ks.find(s => s.company === state.company) : null;
    const shown = [all, mine].filter(s => s && s.points.some(p => drawable(p, s)));
    if (!shown.length) { empty.push(SHORT[kpi]); continue; }
    const unit = shown[0].unit;
    const focus = mine && shown.includes(mine) ? mine : all;
    const lines = judging(body.targets.filter(t => t.kpi === kpi), focus ? focus.company : "*");
    const marks = focus ? breachMarks(focus, lines, xs) : {hard: [], soft: [], nHard: 0, nSoft: 0};
    const ys = shown.map(s => hourly(s, xs));
    const invalid = ks.reduce((n, s) => n + s.points.filter(p => p.invalid).length, 0);
    specs.push({kpi, unit, shown, focus, lines, marks, invalid, yr: yRange(unit, ys.flat(), lines),
                data: [xs, ...ys, ...lines.map(t => xs.map(() => t.threshold)), marks.hard, marks.soft],
                key: [kpi, shown.map(s => s.company + s.window_h).join(","),
                      lines.map(t => t.policy_id).join(","), range.join("-")].join("|")});
  }
  // A refresh of the same charts draws the new data in place (no flicker, hover kept).
  const same = specs.length === charts.length && specs.every((sp, i) => sp.key === charts[i].key);
  if (!same) { destroyCharts(); clear(box); }
  specs.forEach((sp, i) => {
    const {kpi, unit, shown, focus, lines, marks, invalid} = sp;
    const legend = el("p", {class: "chart-legend"});
    shown.forEach(s => legend.appendChild(el("span", {class: "key " + (s.company === "*" ? "all" : "company")},
      (s.company === "*" ? "全部 all" : s.company) + (s.window_h > 1 ? ` · per ${s.window_h === 24 ? "day" : s.window_h + " h"} (an hour is below ${state.minSample})` : ""))));
    lines.forEach(t => legend.appendChild(el("span", {class: "key " + (isAspirational(t) ? "asp-target" : "target"),
      title: t.policy_id}, `${fmtTarget(t)} ${t.policy_id}${isAspirational(t) ? " 力争" : ""}`)));
    if (marks.nHard) legend.appendChild(el("span", {class: "key breach-dot"}, `✗ ${marks.nHard}`));
    if (marks.nSoft) legend.appendChild(el("span", {class: "key asp-dot"}, `△ ${marks.nSoft}`));
    if (invalid) legend.appendChild(el("span", {class: "key invalid"}, `${invalid} invalid (>100 %) not drawn`));
    const attrs = {class: "chart" + (marks.nHard ? " breached" : marks.nSoft ? " asp-breached" : ""),
                   "data-kpi": kpi, "data-breaches": marks.nHard + marks.nSoft,
                   "data-targets": lines.length, "data-focus": focus ? focus.company : "",
                   "data-window-h": focus ? focus.window_h || 1 : 1};
    if (same) {
      const card = charts[i].card;
      for (const [k, v] of Object.entries(attrs))
        if (k === "class") card.className = v; else card.setAttribute(k, String(v));
      card.replaceChild(legend, card.querySelector(".chart-legend"));
      charts[i].plot.setData(sp.data);
      return;
    }
    const card = el("div", attrs, el("h3", {}, SHORT[kpi]), legend);
    box.appendChild(card);
    const width = Math.max(280, card.clientWidth - 12); // the grid's column, never wider
    const series = [{label: "CST", value: (u, v) => v === null ? "–" : cstTime(v)}];
    shown.forEach(s => series.push({label: s.company === "*" ? "all" : s.company,
      stroke: s.company === "*" ? "#1d2430" : COMPANY_COLOUR, width: s.company === "*" ? 2 : 2.5,
      spanGaps: false, points: {show: false}, value: (u, v) => fmt(v, unit)}));
    lines.forEach(t => series.push({label: fmtTarget(t), stroke: isAspirational(t) ? "#e8710a" : "#d93025",
      dash: [8, 6], width: 1.5, points: {show: false}, value: () => fmtTarget(t)}));
    for (const colour of ["#d93025", "#e8710a"])
      series.push({label: colour === "#d93025" ? "✗" : "△", stroke: colour, width: 0, paths: () => null,
                   points: {show: true, size: 9, fill: colour, stroke: colour},
                   value: (u, v) => v === null ? "" : fmt(v, unit)});
    const yr = sp.yr;
    const plot = new uPlot({width, height: state.tv ? 260 : 200, series, legend: {show: false},
      cursor: {points: {show: false}},
      // Ticks fall on CST hours and days whatever the browser's zone.
      tzDate: ts => uPlot.tzDate(new Date(ts * 1e3), "Asia/Shanghai"),
      scales: {x: {time: true, range: () => [range[0], range[1]]}, y: {range: () => yr}},
      axes: [{space: 70, values: (u, vals) => vals.map(v => { const p = cstParts(v); return p.hm + "\n" + p.md; })},
             {size: 64, values: (u, vals) => vals.map(v => fmt(v, unit))}]}, sp.data, card);
    charts.push({key: sp.key, plot, card});
  });
  const note = box.querySelector(".empty-charts");
  if (note) note.remove();
  if (empty.length) box.appendChild(el("p", {class: "muted empty-charts"},
    "no figures to draw in the range 无数据: " + empty.join(", ")));
  $("x-range").textContent = `${cstFull(range[0])} – ${cstFull(range[1])}`;
}
function destroyCharts() { for (const c of charts.splice(0)) c.plot.destroy(); }

// ---- refresh loop ------------------------------------------------------------------------
let lastBoard = null, lastAlerts = [];
async function refresh() {
  try {
    const status = await apiJson("/api/status", {});
    // The live watermark, else (a server started on stored data) the latest stored event.
    const latest = status.watermark_ms ||
      (await apiJson("/api/board", {latest: "1"})).data_up_to_ms;
    state.upTo = latest ? latest / 1000 : null;
    $("data-up-to").textContent = state.upTo ? "data up to 数据截至 " + cstFull(state.upTo) : "no data yet 暂无数据";
    const alerts = await loadAlerts();
    lastAlerts = alerts;
    const w = window_();
    const board = await apiJson("/api/board", {from: w.from, to: w.to});
    lastBoard = board;
    if (board.min_sample !== undefined) state.minSample = board.min_sample;
    const lo = w.from ? cstFull(Date.parse(w.from) / 1000) : "all data 全部";
    const hi = w.to ? cstFull(Date.parse(w.to) / 1000) : state.upTo ? cstFull(state.upTo) : "";
    $("overview-sub").textContent = `· ${lo} – ${hi}, all companies 全部企业`;
    renderOverview(board, alerts);
    renderBoard(board);
    fillCompanySelect(board);
    await loadCity();
    const now = new Date();
    $("status").textContent = `updated ${cstParts(now / 1000).hm}:${String(now.getUTCSeconds()).padStart(2, "0")} CST · every ${REFRESH_MS / 1000} s`;
  } catch (e) {
    $("status").textContent = e instanceof AuthNeeded ? "token required 需要令牌" : "error: " + e.message;
  }
}

function start() {
  readUrl();
  if (state.tv) document.body.classList.add("tv");
  $("range").value = state.range;
  $("city").addEventListener("change", e => choose(e.target.value));
  $("company").addEventListener("change", e => chooseCompany(e.target.value));
  $("range").addEventListener("change", e => {
    state.range = e.target.value; state.from = state.to = null; writeUrl(); refresh();
  });
  $("token-form").addEventListener("submit", e => {
    e.preventDefault();
    sessionStorage.setItem(TOKEN_KEY, $("token").value);
    $("token").value = ""; $("token-form").hidden = true; refresh();
  });
  if (!sessionStorage.getItem(TOKEN_KEY) && tokenChannel) tokenChannel.postMessage("ask");
  writeUrl();
  refresh().then(() => { if (state.kpi) scrollToChart(); });
  setInterval(refresh, REFRESH_MS);
}
start();
