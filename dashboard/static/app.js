// Salvo dashboard page: vanilla JS drawing SVG (map, charts) and canvas (heatmap). No CDN, no framework.
"use strict";

const SVGNS = "http://www.w3.org/2000/svg";
const state = { token: null, meta: null, zones: null, schools: null, req: 0, feedTimer: null };

// ---- helpers -------------------------------------------------------------------------------------
function el(tag, attrs, parent) {
  const e = document.createElementNS(SVGNS, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  if (parent) parent.appendChild(e);
  return e;
}
function svgIn(container, w, h) {
  container.innerHTML = "";
  return el("svg", { viewBox: `0 0 ${w} ${h}`, preserveAspectRatio: "xMidYMid meet" }, container);
}
function title(node, text) { el("title", {}, node).textContent = text; return node; }
function fmt(n) { return n == null ? "-" : Number(n).toLocaleString("en-US"); }
function setStatus(text, st) { const s = document.getElementById("status"); s.textContent = text; s.dataset.state = st; }

async function api(path, params) {
  const qs = params ? "?" + params.toString() : "";
  const r = await fetch("/api/" + path + qs, { headers: { Authorization: "Bearer " + state.token } });
  if (r.status === 401) { showLogin("Your token was not accepted."); throw new Error("401"); }
  if (!r.ok) {
    let msg = r.status + "";
    try { msg += ": " + (await r.json()).error; } catch (e) { /* not JSON */ }
    throw new Error(msg);
  }
  return r;
}
async function apiJson(path, params) { return (await api(path, params)).json(); }

// ---- projection: Web Mercator, so optional base-map tiles line up ---------------------------------
const WORLD = 1e6; // SVG units across the whole world
function project(lon, lat) {
  const x = (lon + 180) / 360 * WORLD;
  const s = Math.sin(lat * Math.PI / 180);
  const y = (0.5 - Math.log((1 + s) / (1 - s)) / (4 * Math.PI)) * WORLD;
  return [x, y];
}
function ringPath(ring) {
  return ring.map((p, i) => { const [x, y] = project(p[0], p[1]); return (i ? "L" : "M") + x.toFixed(2) + " " + y.toFixed(2); }).join("") + "Z";
}
function geomPath(g) {
  const polys = g.type === "Polygon" ? [g.coordinates] : g.coordinates;
  return polys.map(poly => poly.map(ringPath).join("")).join("");
}

// ---- filters -------------------------------------------------------------------------------------
function setParams() {
  const p = new URLSearchParams();
  if (state.zoneSet) p.set("zone_set", state.zoneSet);
  return p;
}

function filterParams() {
  const p = setParams();
  const v = id => document.getElementById(id).value;
  if (v("f-from")) p.set("from", v("f-from"));
  if (v("f-to")) p.set("to", v("f-to"));
  if (v("f-zone")) p.set("zone", v("f-zone"));
  if (v("f-school")) p.set("school", v("f-school"));
  const h0 = +v("f-hour-from"), h1 = +v("f-hour-to");
  if (!(h0 === 0 && h1 === 23)) p.set("hour", h0 <= h1 ? `${h0}-${h1}` : `${h0}-23,0-${h1}`);
  const days = [...document.querySelectorAll("#f-weekdays input:checked")].map(i => i.value);
  if (days.length && days.length < 7) p.set("weekday", days.join(","));
  if (v("f-fireworks") !== "include") p.set("fireworks", v("f-fireworks"));
  return p;
}

// Choices that depend on the zone set (and, for a partner, its area).
function fillChoices(meta) {
  const fill = (id, first, values) => {
    const sel = document.getElementById(id), keep = sel.value;
    sel.innerHTML = "";
    sel.appendChild(new Option(first, ""));
    for (const v of values) sel.appendChild(new Option(v, v));
    sel.value = values.includes(keep) ? keep : "";
  };
  fill("f-zone", "All my zones", meta.zones);
  fill("f-school", "Any (no radius filter)", meta.schools.map(s => s.name));
  const sets = document.getElementById("f-zone-set");
  sets.innerHTML = "";
  for (const z of meta.zone_sets) sets.appendChild(new Option(z || "(none)", z));
  sets.value = meta.zone_set;
  sets.parentElement.hidden = meta.zone_sets.length < 2;
}

async function loadZoneSet() {
  const p = setParams();
  state.meta = await apiJson("meta", p);
  const [zones, schools] = await Promise.all([apiJson("zones", p), apiJson("schools", p)]);
  fillChoices(state.meta);
  drawMap(zones, schools);
}

function buildFilters(meta) {
  document.getElementById("f-zone-set").addEventListener("change", async ev => {
    state.zoneSet = ev.target.value;
    try { await loadZoneSet(); await refresh(); } catch (e) { setStatus("Error: " + e.message, "error"); }
  });
  for (const id of ["f-hour-from", "f-hour-to"]) {
    const sel = document.getElementById(id);
    for (let h = 0; h < 24; h++) sel.appendChild(new Option(String(h).padStart(2, "0") + ":00", h));
  }
  document.getElementById("f-hour-to").value = 23;
  const wd = document.getElementById("f-weekdays");
  meta.weekdays.forEach((d, i) => {
    const lab = document.createElement("label");
    lab.innerHTML = `<input type="checkbox" id="f-weekday-${i}" value="${i}" checked> ${d}`;
    wd.appendChild(lab);
  });
  for (const id of ["f-from", "f-to"]) {
    const inp = document.getElementById(id);
    if (meta.first_day) { inp.min = meta.first_day; inp.max = meta.last_day; }
  }
  // Periods end on the newest incident's day, so a historic record works like a live one.
  document.getElementById("f-preset").addEventListener("change", ev => {
    const days = +ev.target.value, from = document.getElementById("f-from"), to = document.getElementById("f-to");
    if (!days || !meta.last_day) { from.value = ""; to.value = ""; }
    else {
      const end = new Date(meta.last_day + "T00:00:00Z");
      to.value = meta.last_day;
      from.value = new Date(end.getTime() - (days - 1) * 86400000).toISOString().slice(0, 10);
    }
  });
  document.querySelectorAll("#filters select:not(#f-zone-set), #filters input[type=date], #f-weekdays input")
    .forEach(e => e.addEventListener("change", refresh));
  for (const id of ["f-from", "f-to"]) document.getElementById(id).addEventListener("change", () => {
    document.getElementById("f-preset").value = "";
  });
  document.querySelectorAll("#filters input[id^=l-]").forEach(e => e.addEventListener("change", applyLayers));
  const kernel = document.getElementById("l-kernel");
  kernel.value = meta.kde_kernel;
  document.getElementById("f-reset").addEventListener("click", () => {
    for (const id of ["f-preset", "f-from", "f-to", "f-zone", "f-school"]) document.getElementById(id).value = "";
    document.getElementById("f-hour-from").value = 0; document.getElementById("f-hour-to").value = 23;
    document.querySelectorAll("#f-weekdays input").forEach(i => { i.checked = true; });
    document.getElementById("f-fireworks").value = "include";
    refresh();
  });
  document.querySelectorAll("[data-export]").forEach(b => b.addEventListener("click", () => exportView(b.dataset.export)));
  document.getElementById("print").addEventListener("click", () => window.print());
  const tiles = document.getElementById("l-tiles");
  tiles.disabled = !meta.tiles_url;
  tiles.parentElement.title = meta.tiles_url ? meta.tiles_url : "no tile server configured (serve --tiles-url)";
  const sd = meta.school_day;
  document.getElementById("settings-note").textContent =
    `Times are local (${meta.time_zone}). School day ${sd.start_hour}-${sd.end_hour} h, after school to ` +
    `${sd.after_school_end_hour} h, night ${sd.night_start_hour}-${sd.night_end_hour} h. School radius ` +
    `${meta.school_radius_m} m. Heatmap: ${meta.kde_kernel} kernel, bandwidth ${meta.kde_bandwidth_m} m` +
    (meta.kde_kernel === "gaussian" ? " (standard deviation)" : " (radius)") + `. Fireworks windows: ` +
    `July 4th and New Year +-${meta.fireworks_window_h} h.`;
  document.getElementById("radius-note").textContent = `(within ${meta.school_radius_m} m)`;
}

async function exportView(what) {
  try {
    setStatus("Preparing " + what + "...", "loading");
    const r = await api(what, filterParams());
    const blob = await r.blob();
    const a = document.createElement("a");
    a.href = URL.createObjectURL(blob);
    a.download = "salvo-" + (what === "zones" || what === "schools" ? what + ".geojson" : what.replace("export.", "incidents."));
    // (counts.csv keeps its name: salvo-counts.csv)
    document.body.appendChild(a); a.click(); a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 5000);
    setStatus("Ready", "ready");
  } catch (e) { setStatus("Export failed: " + e.message, "error"); }
}

// ---- map -----------------------------------------------------------------------------------------
function drawMap(zonesFc, schoolsFc) {
  const box = [Infinity, Infinity, -Infinity, -Infinity];
  const grow = (lon, lat) => { const [x, y] = project(lon, lat); box[0] = Math.min(box[0], x); box[1] = Math.min(box[1], y); box[2] = Math.max(box[2], x); box[3] = Math.max(box[3], y); };
  for (const f of zonesFc.features) {
    const polys = f.geometry.type === "Polygon" ? [f.geometry.coordinates] : f.geometry.coordinates;
    for (const poly of polys) for (const p of poly[0]) grow(p[0], p[1]);
  }
  if (!isFinite(box[0])) for (const s of schoolsFc.features) grow(...s.geometry.coordinates);
  if (!isFinite(box[0])) { box[0] = 0; box[1] = 0; box[2] = 1; box[3] = 1; }
  const pad = 0.03 * Math.max(box[2] - box[0], box[3] - box[1]);
  const vb = [box[0] - pad, box[1] - pad, box[2] - box[0] + 2 * pad, box[3] - box[1] + 2 * pad];
  const host = document.getElementById("map");
  host.innerHTML = "";
  const svg = el("svg", { viewBox: vb.join(" "), preserveAspectRatio: "xMidYMid meet", id: "map-svg" }, host);
  state.mapBox = vb;
  el("g", { id: "layer-tiles" }, svg);
  const gz = el("g", { id: "layer-zones" }, svg);
  el("g", { id: "layer-heat" }, svg);
  el("g", { id: "layer-points" }, svg);
  const gs = el("g", { id: "layer-schools" }, svg);
  el("g", { id: "layer-labels" }, svg);
  for (const f of zonesFc.features) {
    const p = el("path", { d: geomPath(f.geometry), class: "zone", "data-name": f.properties.name, fill: "#ffffff" }, gz);
    title(p, f.properties.name);
    p.addEventListener("click", () => {
      const sel = document.getElementById("f-zone");
      sel.value = sel.value === f.properties.name ? "" : f.properties.name;
      refresh();
    });
  }
  const r = 0.004 * vb[2];
  for (const s of schoolsFc.features) {
    const [x, y] = project(...s.geometry.coordinates);
    const c = el("circle", { cx: x, cy: y, r: r, class: "school", "data-name": s.properties.name }, gs);
    title(c, s.properties.name);
    c.addEventListener("click", () => {
      const sel = document.getElementById("f-school");
      sel.value = sel.value === s.properties.name ? "" : s.properties.name;
      refresh();
    });
  }
  drawTiles();
  applyLayers();
}

function drawTiles() {
  const g = document.getElementById("layer-tiles");
  if (!g) return;
  g.innerHTML = "";
  const url = state.meta && state.meta.tiles_url;
  if (!url || !document.getElementById("l-tiles").checked) return;
  const vb = state.mapBox;
  const z = Math.max(0, Math.min(18, Math.round(Math.log2(WORLD / vb[2] * 1000 / 256))));
  const n = 2 ** z, size = WORLD / n;
  for (let tx = Math.floor(vb[0] / size); tx <= Math.floor((vb[0] + vb[2]) / size); tx++) {
    for (let ty = Math.floor(vb[1] / size); ty <= Math.floor((vb[1] + vb[3]) / size); ty++) {
      const href = url.replace("{z}", z).replace("{x}", tx).replace("{y}", ty);
      el("image", { href: href, x: tx * size, y: ty * size, width: size, height: size, opacity: 0.8 }, g);
    }
  }
}

function applyLayers() {
  const show = (id, layer) => { const g = document.getElementById(layer); if (g) g.style.display = document.getElementById(id).checked ? "" : "none"; };
  show("l-zones", "layer-zones"); show("l-heat", "layer-heat"); show("l-points", "layer-points"); show("l-schools", "layer-schools");
  drawTiles();
}

function shadeZones(summary) {
  const counts = Object.fromEntries(summary.zones.map(z => [z.name, z.incidents]));
  const max = Math.max(1, ...Object.values(counts));
  const selected = document.getElementById("f-zone").value;
  document.querySelectorAll("path.zone").forEach(p => {
    const c = counts[p.dataset.name] || 0;
    const t = Math.sqrt(c / max);
    p.setAttribute("fill", `rgba(230, 126, 34, ${(0.05 + 0.45 * t).toFixed(3)})`);
    p.dataset.count = c;
    p.classList.toggle("selected", p.dataset.name === selected);
    p.querySelector("title").textContent = `${p.dataset.name}: ${fmt(c)} incidents`;
  });
  const school = document.getElementById("f-school").value;
  const scount = Object.fromEntries(summary.schools.map(s => [s.name, s.incidents]));
  const gs = document.getElementById("layer-schools");
  gs.querySelectorAll("circle.radius").forEach(c => c.remove());
  const sel = state.meta.schools.find(s => s.name === school);
  if (sel) {
    // The school's radius on the Mercator map: metres over the circumference at that latitude.
    const [x, y] = project(sel.lon, sel.lat);
    const r = summary.school_radius_m / (40075016.686 * Math.cos(sel.lat * Math.PI / 180)) * WORLD;
    gs.insertBefore(el("circle", { cx: x, cy: y, r: r, class: "radius" }), gs.firstChild);
  }
  document.querySelectorAll("circle.school").forEach(c => {
    c.classList.toggle("selected", c.dataset.name === school);
    c.querySelector("title").textContent = `${c.dataset.name}: ${fmt(scount[c.dataset.name] || 0)} incidents within ${summary.school_radius_m} m`;
  });
}

function drawPoints(body) {
  const g = document.getElementById("layer-points");
  g.innerHTML = "";
  const r = 0.0018 * state.mapBox[2];
  state.points = body.points;
  // One node per point, no per-point tooltip element: the legend reads the hovered point.
  const frag = document.createDocumentFragment();
  body.points.forEach(([lat, lon, rounds, t, zone, fireworks], i) => {
    const [x, y] = project(lon, lat);
    frag.appendChild(el("circle", { cx: x.toFixed(1), cy: y.toFixed(1), r: (r * Math.sqrt(Math.min(rounds, 16))).toFixed(1),
                                    class: fireworks ? "incident fireworks" : "incident", "data-i": i }));
  });
  g.appendChild(frag);
  const legend = document.getElementById("map-legend");
  const base = `${fmt(body.points.length)} of ${fmt(body.total)} incidents drawn` + (body.truncated ? " (newest)" : "") +
    ` <span class="dot"></span> incident <span class="dot fw"></span> fireworks window <span class="dot school"></span> school`;
  legend.innerHTML = base;
  g.onmouseover = ev => {
    const p = state.points[+ev.target.dataset.i];
    if (!p) return;
    legend.textContent = `${p[3]} UTC - ${p[2]} round(s)` + (p[4] ? ` - ${p[4]}` : "") + (p[5] ? " - fireworks window" : "");
  };
  g.onmouseout = () => { legend.innerHTML = base; };
}

function drawHeat(h) {
  const g = document.getElementById("layer-heat");
  g.innerHTML = "";
  const raw = atob(h.data);
  const cv = document.createElement("canvas");
  cv.width = h.nx; cv.height = h.ny;
  const ctx = cv.getContext("2d");
  const img = ctx.createImageData(h.nx, h.ny);
  for (let row = 0; row < h.ny; row++) {
    const src = (h.ny - 1 - row) * h.nx; // row 0 of the grid is the south edge
    for (let col = 0; col < h.nx; col++) {
      const v = raw.charCodeAt(src + col) / 255, o = 4 * (row * h.nx + col);
      img.data[o] = 255; img.data[o + 1] = Math.round(220 * (1 - v)); img.data[o + 2] = 0;
      img.data[o + 3] = v < 0.02 ? 0 : Math.round(40 + 180 * v);
    }
  }
  ctx.putImageData(img, 0, 0);
  const [x0, y1] = project(h.west, h.south), [x1, y0] = project(h.east, h.north);
  el("image", { href: cv.toDataURL(), x: x0, y: y0, width: x1 - x0, height: y1 - y0, preserveAspectRatio: "none",
                opacity: 0.75, id: "heat-image" }, g);
  g.dataset.bandwidth = h.bandwidth_m;
  g.dataset.kernel = h.kernel;
}

// ---- charts --------------------------------------------------------------------------------------
function barChart(id, values, labels, opts) {
  const W = 480, H = 200, L = 34, B = 22, T = 8;
  const svg = svgIn(document.getElementById(id), W, H);
  const max = Math.max(1, ...values);
  const bw = (W - L - 4) / values.length;
  for (let k = 0; k <= 4; k++) {
    const v = max * k / 4, y = H - B - (H - B - T) * k / 4;
    el("line", { x1: L, x2: W, y1: y, y2: y, stroke: "#eee" }, svg);
    el("text", { x: L - 3, y: y + 3, "text-anchor": "end" }, svg).textContent = Math.round(v);
  }
  values.forEach((v, i) => {
    const h = (H - B - T) * v / max;
    const r = el("rect", { x: L + i * bw + 1, y: H - B - h, width: Math.max(1, bw - 2), height: h, class: "bar",
                           "data-index": i, "data-count": v }, svg);
    title(r, `${labels[i]}: ${fmt(v)}`);
    if (!opts || !opts.every || i % opts.every === 0)
      el("text", { x: L + (i + 0.5) * bw, y: H - 8, "text-anchor": "middle" }, svg).textContent = labels[i];
  });
}

function matrixChart(id, m, dayNames) {
  const W = 480, H = 200, L = 34, T = 4, B = 18;
  const svg = svgIn(document.getElementById(id), W, H);
  const max = Math.max(1, ...m.flat());
  const cw = (W - L - 4) / 24, ch = (H - T - B) / 7;
  m.forEach((row, d) => {
    el("text", { x: L - 4, y: T + (d + 0.65) * ch, "text-anchor": "end" }, svg).textContent = dayNames[d];
    row.forEach((v, h) => {
      const t = Math.sqrt(v / max);
      const c = el("rect", { x: L + h * cw, y: T + d * ch, width: cw - 1, height: ch - 1, class: "cell",
                             fill: `rgb(${255 - Math.round(60 * t)}, ${Math.round(245 - 200 * t)}, ${Math.round(235 - 220 * t)})`,
                             "data-count": v }, svg);
      title(c, `${dayNames[d]} ${h}:00 - ${fmt(v)}`);
    });
  });
  for (let h = 0; h < 24; h += 3) el("text", { x: L + (h + 0.5) * cw, y: H - 5, "text-anchor": "middle" }, svg).textContent = h;
}

function trendChart(id, tr) {
  const W = 480, H = 200, L = 34, B = 30, T = 8;
  const svg = svgIn(document.getElementById(id), W, H);
  const n = tr.months.length;
  if (!n) { el("text", { x: W / 2, y: H / 2, "text-anchor": "middle" }, svg).textContent = "no incidents"; return; }
  const max = Math.max(1, ...tr.incidents);
  const x = i => L + (n === 1 ? 0.5 : i / (n - 1)) * (W - L - 10);
  const y = v => H - B - (H - B - T) * v / max;
  el("path", { d: tr.incidents.map((v, i) => (i ? "L" : "M") + x(i) + " " + y(v)).join(""), fill: "none", stroke: "#333", "stroke-width": 1.5 }, svg);
  tr.incidents.forEach((v, i) => {
    const ch = tr.change[i], pct = tr.change_pct[i];
    const c = el("circle", { cx: x(i), cy: y(v), r: 3, fill: ch == null ? "#333" : ch > 0 ? "#c0392b" : "#27ae60", "data-count": v }, svg);
    title(c, `${tr.months[i]}: ${fmt(v)} incidents, ${fmt(tr.rounds[i])} rounds` +
      (ch == null ? "" : `; ${ch > 0 ? "+" : ""}${ch} vs previous month` + (pct == null ? "" : ` (${pct > 0 ? "+" : ""}${pct}%)`)));
  });
  const step = Math.max(1, Math.ceil(n / 8));
  for (let i = 0; i < n; i += step) el("text", { x: x(i), y: H - 12, "text-anchor": "middle" }, svg).textContent = tr.months[i];
  el("text", { x: L - 3, y: T + 6, "text-anchor": "end" }, svg).textContent = max;
}

function fillTable(id, rows, onClick) {
  const tb = document.querySelector(`#${id} tbody`);
  tb.innerHTML = "";
  for (const r of [...rows].sort((a, b) => b.incidents - a.incidents || a.name.localeCompare(b.name))) {
    const tr = document.createElement("tr");
    tr.dataset.name = r.name;
    for (const [v, cls] of [[r.name, ""], [fmt(r.incidents), "num"], [fmt(r.rounds), "num"]]) {
      const td = document.createElement("td"); td.textContent = v; if (cls) td.className = cls; tr.appendChild(td);
    }
    tr.addEventListener("click", () => onClick(r.name));
    tb.appendChild(tr);
  }
}

// ---- refresh -------------------------------------------------------------------------------------
async function refresh() {
  const my = ++state.req;
  const p = filterParams();
  setStatus("Loading...", "loading");
  try {
    const pts = new URLSearchParams(p); pts.set("limit", "5000");
    const hp = new URLSearchParams(p); hp.set("kernel", document.getElementById("l-kernel").value);
    const [summary, points, heat] = await Promise.all([apiJson("summary", p), apiJson("points", pts), apiJson("heatmap", hp)]);
    if (my !== state.req) return; // a newer request superseded this one
    document.getElementById("total-incidents").textContent = fmt(summary.incidents);
    document.getElementById("total-rounds").textContent = fmt(summary.rounds);
    document.getElementById("total-fireworks").textContent = fmt(summary.fireworks_incidents);
    const prev = summary.previous_period;
    document.getElementById("prev-period").textContent = prev
      ? `${summary.incidents - prev.incidents >= 0 ? "+" : ""}${fmt(summary.incidents - prev.incidents)}` : "-";
    document.getElementById("prev-period").title = prev ? `${prev.from} to ${prev.to}: ${fmt(prev.incidents)} incidents` : "choose a date range";
    const zone = document.getElementById("f-zone").value, school = document.getElementById("f-school").value;
    document.getElementById("view-title").textContent = school ? `Near ${school}` : zone ? zone : "All " + (state.meta.account.role === "partner" ? "my zones" : "zones");
    const hours = [...Array(24).keys()].map(h => String(h));
    barChart("hour-chart", summary.hours, hours, { every: 2 });
    matrixChart("matrix-chart", summary.hour_weekday, state.meta.weekdays);
    barChart("period-chart", summary.periods.map(x => x.incidents), summary.periods.map(x => x.name));
    trendChart("trend-chart", summary.trend);
    fillTable("zone-table", summary.zones, n => { document.getElementById("f-zone").value = n; refresh(); });
    fillTable("school-table", summary.schools, n => { document.getElementById("f-school").value = n; refresh(); });
    shadeZones(summary);
    drawPoints(points);
    drawHeat(heat);
    applyLayers();
    setStatus(`Ready - ${fmt(summary.incidents)} incidents`, "ready");
  } catch (e) {
    if (my === state.req) setStatus("Error: " + e.message, "error");
  }
}

async function pollFeed() {
  try {
    const body = await apiJson("feed", new URLSearchParams({ limit: "20" }));
    const tb = document.querySelector("#feed-table tbody");
    tb.innerHTML = "";
    for (const i of body.incidents) {
      const tr = document.createElement("tr");
      const pos = i.lat == null ? "-" : `${(+i.lat).toFixed(5)}, ${(+i.lon).toFixed(5)}`;
      for (const v of [i.t_utc, i.class || "", i.rounds, pos]) {
        const td = document.createElement("td"); td.textContent = v; tr.appendChild(td);
      }
      tb.appendChild(tr);
    }
    const link = document.getElementById("feed-link");
    link.textContent = body.from === "locator" ? `(from the locator; alert stream: ${body.sse})`
      : body.error ? `(locator not answering: ${body.error}; newest stored incidents)`
      : "(no locator configured: newest stored incidents)";
  } catch (e) { /* the feed is optional; the next poll retries */ }
}

// ---- start ---------------------------------------------------------------------------------------
function showLogin(msg) {
  sessionStorage.removeItem("salvo-token");
  document.getElementById("app").hidden = true;
  document.getElementById("login").hidden = false;
  if (msg) document.querySelector("#login .note").textContent = msg;
}

async function start() {
  const m = location.hash.match(/token=([^&]+)/);
  if (m) { sessionStorage.setItem("salvo-token", decodeURIComponent(m[1])); history.replaceState(null, "", location.pathname); }
  state.token = sessionStorage.getItem("salvo-token");
  if (!state.token) { showLogin(); return; }
  document.getElementById("login").hidden = true;
  document.getElementById("app").hidden = false;
  try {
    await loadZoneSet();
    const a = state.meta.account;
    document.getElementById("who").textContent = `${a.name} (${a.role}${a.zones.length ? ": " + a.zones.join(", ") : ""})`;
    buildFilters(state.meta);
    if (state.meta.feed) {
      document.getElementById("feed-panel").hidden = false;
      pollFeed();
      state.feedTimer = setInterval(pollFeed, 10000);
    }
    await refresh();
  } catch (e) {
    setStatus("Error: " + e.message, "error");
  }
}

document.getElementById("login-form").addEventListener("submit", ev => {
  ev.preventDefault();
  sessionStorage.setItem("salvo-token", document.getElementById("token-input").value.trim());
  location.reload();
});
start();
