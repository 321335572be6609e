// neuron playground: draws what the server's engine computes. Nothing here trains or
// differentiates; every number shown comes from the server's frames and walk-throughs.
"use strict";

const $ = (id) => document.getElementById(id);
const TOKEN = new URLSearchParams(location.search).get("token");
const PALETTE = ["#0877bd", "#f59322", "#2ca02c", "#9467bd", "#d62728", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];
const FEATURES = ["x", "y", "x2", "y2", "xy", "sin_x", "sin_y"];
const FEATURE_LABEL = { x: "x", y: "y", x2: "x²", y2: "y²", xy: "xy", sin_x: "sin x", sin_y: "sin y" };
const ACTS = ["relu", "tanh", "sigmoid", "leaky_relu", "gelu", "none"];
const DATASETS = ["circles", "xor", "gauss", "spirals", "blobs3", "pinwheel5", "plane", "ripple"];
const DEFAULT = { dataset: "spirals", noise: 0, train_ratio: 0.5, points: 600, seed: 1, features: ["x", "y"],
  layers: [{ units: 12, activation: "tanh" }, { units: 12, activation: "tanh" }, { units: 8, activation: "tanh" }],
  loss: "cross-entropy", optimizer: "adam", lr: 0.01, batch: 10, l2: 0, dropout: 0 };

const S = { cfg: null, id: null, info: null, frame: null, es: null, history: [], playing: false,
  stats: { received: 0, drawn: 0, drawMs: [], lastSecond: [], since: performance.now() } };
window.playground = S; // for tests and the curious

function api(path, opts = {}) {
  const headers = Object.assign({}, opts.headers || {});
  if (TOKEN) headers["x-token"] = TOKEN;
  return fetch(path, Object.assign({}, opts, { headers })).then(async (r) => {
    if (r.status === 204) return null;
    const ct = r.headers.get("content-type") || "";
    const body = ct.includes("json") ? await r.json() : await r.blob();
    if (!r.ok) throw new Error(body && body.error ? body.error : r.statusText);
    return body;
  });
}
const json = (method, path, body) => api(path, { method, headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
function say(m) { $("msg").textContent = m || ""; }

// ---------- numbers ----------
function fmt(v) {
  if (v === null || v === undefined || Number.isNaN(v)) return "–";
  const a = Math.abs(v);
  if (a !== 0 && (a >= 1e4 || a < 1e-3)) return v.toExponential(2);
  return String(Number(v.toPrecision(4)));
}
function num(v, k, l, j, m) {
  const attrs = k ? ` data-k="${k}" data-l="${l}" data-j="${j}"${m !== undefined ? ` data-m="${m}"` : ""} data-v="${v}"` : "";
  return `<span class="num${v < 0 ? " neg" : ""}"${attrs}>${fmt(v)}</span>`;
}
const par = (v) => `(${num(v)})`;

// ---------- colours ----------
function rgb(hex) { return [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16)); }
const POS = rgb("#0877bd"), NEG = rgb("#f59322");
function diverging(t) { // t in [-1, 1]
  const c = t >= 0 ? POS : NEG, a = Math.min(1, Math.abs(t));
  return [255 + (c[0] - 255) * a, 255 + (c[1] - 255) * a, 255 + (c[2] - 255) * a];
}
function decode(b64) { const s = atob(b64); const out = new Uint8Array(s.length); for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i); return out; }
function paintHeat(canvas, heat, n) {
  const px = decode(heat.px), span = heat.hi - heat.lo, scale = Math.max(Math.abs(heat.lo), Math.abs(heat.hi)) || 1;
  if (canvas.width !== n) { canvas.width = n; canvas.height = n; }
  const ctx = canvas.getContext("2d"), img = ctx.createImageData(n, n);
  for (let i = 0; i < n * n; i++) {
    const v = heat.lo + (px[i] / 255) * span, c = diverging(v / scale);
    img.data.set([c[0], c[1], c[2], 255], i * 4);
  }
  ctx.putImageData(img, 0, 0);
}

// ---------- configuration <-> URL ----------
function readHash() {
  const m = location.hash.match(/cfg=([^&]+)/);
  if (!m) return null;
  try { return Object.assign({}, DEFAULT, JSON.parse(decodeURIComponent(m[1]))); } catch (e) { return null; }
}
function writeHash() { history.replaceState(null, "", location.pathname + location.search + "#cfg=" + encodeURIComponent(JSON.stringify(S.cfg))); }

// ---------- controls ----------
function options(sel, values, label = (v) => v) { sel.innerHTML = values.map((v) => `<option value="${v}">${label(v)}</option>`).join(""); }
function setupControls() {
  options($("lr"), [0.00001, 0.0001, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1, 3, 10]);
  options($("batch"), [1, 5, 10, 20, 30, 50, 100]);
  options($("l2"), [0, 0.0001, 0.001, 0.003, 0.01, 0.03, 0.1]);
  options($("dropout"), [0, 0.1, 0.2, 0.3, 0.5]);
  for (const [id, key, cast] of [["lr", "lr", Number], ["optimizer", "optimizer", String], ["loss", "loss", String], ["batch", "batch", Number], ["l2", "l2", Number], ["dropout", "dropout", Number]]) {
    $(id).onchange = () => { S.cfg[key] = cast($(id).value); apply(); };
  }
  for (const [id, key] of [["noise", "noise"], ["ratio", "train_ratio"], ["points", "points"]]) {
    $(id).oninput = () => { $(id + "-v").textContent = $(id).value; };
    $(id).onchange = () => { S.cfg[key] = Number($(id).value); apply(); };
  }
  $("speed").onchange = () => { S.speed = Number($("speed").value); json("POST", `/api/sessions/${S.id}/control`, { action: "speed", value: S.speed }).catch((e) => say(e.message)); };
  $("play").onclick = () => control(S.playing ? "pause" : "play");
  $("step").onclick = () => control("step");
  $("reset").onclick = () => apply();
  $("regen").onclick = () => { S.cfg.seed += 1; apply(); };
  $("addl").onclick = () => { if (S.cfg.layers.length < 6) { S.cfg.layers.push({ units: 4, activation: S.cfg.layers.length ? S.cfg.layers[S.cfg.layers.length - 1].activation : "tanh" }); apply(); } };
  $("dell").onclick = () => { if (S.cfg.layers.length > 0) { S.cfg.layers.pop(); apply(); } };
  $("showtest").onchange = () => drawPlane();
  $("share").onclick = (e) => { e.preventDefault(); navigator.clipboard && navigator.clipboard.writeText(location.href); say("The link to this set-up is in the address bar (and copied)."); };
  $("download").onclick = (e) => { e.preventDefault(); download(); };
  $("plane").onclick = pickPoint;
  $("csv").onchange = uploadCsv;
  $("use-csv").onclick = () => {
    S.cfg.dataset = "upload"; S.cfg.columns = { x: $("col-x").value, y: $("col-y").value, label: $("col-l").value }; apply();
  };
  $("wprev").onclick = () => walkStage(-1); $("wnext").onclick = () => walkStage(1); $("wclose").onclick = () => { $("walk").hidden = true; };
  const box = $("datasets");
  for (const d of DATASETS) {
    const c = document.createElement("canvas"); c.width = 44; c.height = 44; c.title = d; c.dataset.name = d;
    c.onclick = () => { S.cfg.dataset = d; delete S.cfg.columns; apply(); };
    box.appendChild(c); thumb(c, d);
  }
}
function thumb(c, d) { // a sketch of each set's shape for its button
  const g = c.getContext("2d"); g.fillStyle = "#fff"; g.fillRect(0, 0, 44, 44);
  for (let i = 0; i < 140; i++) {
    const t = i / 140, k = i % (d === "blobs3" ? 3 : d === "pinwheel5" ? 5 : 2);
    let x, y, v = k;
    const r1 = Math.sin(i * 12.9898) * 43758.5453 % 1, r2 = Math.sin(i * 78.233) * 12345.678 % 1;
    if (d === "circles") { const r = k ? 0.35 * Math.abs(r1) : 0.55 + 0.25 * Math.abs(r1), a = r2 * 7; x = r * Math.cos(a); y = r * Math.sin(a); }
    else if (d === "xor" || d === "plane" || d === "ripple") { x = r1 * 0.9; y = r2 * 0.9; v = d === "xor" ? (x * y > 0 ? 1 : 0) : d === "plane" ? (x + y > 0 ? 0 : 1) : (Math.sin(x * 5) * Math.cos(y * 5) > 0 ? 0 : 1); }
    else if (d === "gauss" || d === "blobs3") { const cs = d === "gauss" ? [[.4, .4], [-.4, -.4]] : [[-.5, -.35], [.5, -.35], [0, .55]]; x = cs[k][0] + r1 * .25; y = cs[k][1] + r2 * .25; }
    else { const arms = d === "spirals" ? 2 : 5, turns = arms === 2 ? 1.75 : 0.6, a = turns * 6.283 * t + k * 6.283 / arms, r = 0.1 + 0.8 * t; x = r * Math.cos(a); y = r * Math.sin(a); }
    g.fillStyle = PALETTE[v]; g.fillRect(22 + x * 20, 22 - y * 20, 2.5, 2.5);
  }
}
function syncControls() {
  const c = S.cfg;
  for (const [id, v] of [["lr", c.lr], ["optimizer", c.optimizer], ["loss", c.loss], ["batch", c.batch], ["l2", c.l2], ["dropout", c.dropout], ["noise", c.noise], ["ratio", c.train_ratio], ["points", c.points]]) $(id).value = v;
  for (const id of ["noise", "ratio", "points"]) $(id + "-v").textContent = $(id).value;
  for (const t of $("datasets").children) t.classList.toggle("on", t.dataset.name === c.dataset);
  $("loss").disabled = !!(S.info && !S.info.classes);
  $("nlayers").textContent = c.layers.length;
}

// ---------- session ----------
async function start() {
  S.cfg = readHash() || JSON.parse(JSON.stringify(DEFAULT));
  if (S.cfg.dataset === "upload") { S.cfg.dataset = DEFAULT.dataset; delete S.cfg.columns; }
  syncControls();
  try {
    const r = await json("POST", "/api/sessions", S.cfg);
    S.id = r.id; setInfo(r.info);
  } catch (e) { say(e.message); return; }
  window.addEventListener("beforeunload", () => { navigator.sendBeacon && fetch(`/api/sessions/${S.id}${TOKEN ? "?token=" + TOKEN : ""}`, { method: "DELETE", keepalive: true }); });
}
async function apply() {
  syncControls();
  try { setInfo(await json("PUT", `/api/sessions/${S.id}`, S.cfg)); say(""); }
  catch (e) { say(e.message); }
}
function setInfo(info) {
  S.info = info; S.cfg = info.config; S.history = []; S.frame = null; S.playing = false; S.rate = 0;
  writeHash(); syncControls(); buildNetwork(); stream();
  if (S.speed) json("POST", `/api/sessions/${S.id}/control`, { action: "speed", value: S.speed }).catch(() => {});
  $("accs").style.visibility = info.classes ? "visible" : "hidden";
  $("walk").hidden = true;
}
function stream() {
  if (S.es) return;
  const q = TOKEN ? `&token=${TOKEN}` : "";
  S.es = new EventSource(`/api/sessions/${S.id}/frames?fps=30${q}`);
  S.es.onmessage = (ev) => {
    S.stats.received++;
    const f = JSON.parse(ev.data);
    if (!S.info || f.generation !== S.info.generation) return;
    const t0 = performance.now();
    S.frame = f; draw(f);
    const dt = performance.now() - t0;
    S.stats.drawn++; S.stats.drawMs.push(dt); if (S.stats.drawMs.length > 300) S.stats.drawMs.shift();
    S.stats.lastSecond.push(performance.now());
  };
  S.es.onerror = () => { if (S.es.readyState === 2) { S.es = null; say("The connection to the server was lost; reload the page."); } };
}
async function control(action) {
  try { await json("POST", `/api/sessions/${S.id}/control`, { action }); if (action === "play") S.playing = true; if (action !== "play") S.playing = false; $("play").textContent = S.playing ? "❚❚" : "▶"; }
  catch (e) { say(e.message); }
}
async function download() {
  try {
    const blob = await api(`/api/sessions/${S.id}/model`);
    const a = document.createElement("a"); a.href = URL.createObjectURL(blob); a.download = "playground.safetensors"; a.click();
    say("Saved playground.safetensors: `neuron predict --model playground.safetensors --data points.csv` takes columns " + S.cfg.features.join(", ") + ".");
  } catch (e) { say(e.message); }
}
async function uploadCsv() {
  const f = $("csv").files[0]; if (!f) return;
  try {
    const r = await api(`/api/sessions/${S.id}/csv`, { method: "POST", headers: { "content-type": "text/csv" }, body: f });
    options($("col-x"), r.numeric); options($("col-y"), r.numeric); options($("col-l"), r.columns);
    $("col-y").value = r.numeric[1]; $("col-l").value = r.columns[r.columns.length - 1];
    $("cols").hidden = false; say(`${r.rows} rows; choose the columns.`);
  } catch (e) { say(e.message); }
}

// ---------- the network picture ----------
function layout() {
  const c = S.cfg, cols = [c.features.length ? FEATURES : []].concat(c.layers.map((l) => l.units)).concat([S.info.classes ? S.info.classes.length : 1]);
  const body = $("netbody"), w = body.clientWidth || 600, n = cols.length;
  return { xs: cols.map((_, i) => 30 + (i * (w - 60)) / (n - 1)), cols };
}
function buildNetwork() {
  const body = $("netbody");
  body.querySelectorAll(".col").forEach((e) => e.remove());
  const { xs } = layout(), c = S.cfg;
  S.cells = []; // S.cells[layer][neuron] = canvas; layer 0 = inputs
  const col = (x) => { const d = document.createElement("div"); d.className = "col"; d.style.left = (x - 30) + "px"; d.style.width = "60px"; body.appendChild(d); return d; };
  // inputs
  const inCol = col(xs[0]); inCol.style.left = (xs[0] - 30) + "px";
  const head = document.createElement("div"); head.className = "colhead"; head.innerHTML = "inputs<br>x⁽¹⁾"; inCol.appendChild(head);
  S.cells.push([]);
  for (const f of FEATURES) {
    const on = c.features.includes(f), d = document.createElement("div"); d.className = "neuron" + (on ? "" : " off"); d.title = FEATURE_LABEL[f];
    const cv = document.createElement("canvas"); d.appendChild(cv); paintFeature(cv, f);
    const lab = document.createElement("span"); lab.textContent = FEATURE_LABEL[f]; lab.style.cssText = "position:absolute;left:-34px;top:7px;font-size:11px;color:#555;width:30px;text-align:right";
    d.appendChild(lab);
    d.onclick = () => { const i = c.features.indexOf(f); if (i >= 0) { if (c.features.length > 1) c.features.splice(i, 1); } else c.features.push(f); c.features.sort((a, b) => FEATURES.indexOf(a) - FEATURES.indexOf(b)); apply(); };
    inCol.appendChild(d); if (on) S.cells[0].push(d);
  }
  c.layers.forEach((l, li) => {
    const k = col(xs[li + 1]), h = document.createElement("div"); h.className = "colhead";
    h.innerHTML = `<div><button data-l="${li}" data-d="1">+</button><button data-l="${li}" data-d="-1">−</button></div><span>${l.units} neurons</span>`;
    const sel = document.createElement("select"); options(sel, ACTS); sel.value = l.activation; sel.onchange = () => { l.activation = sel.value; apply(); };
    h.appendChild(sel); k.appendChild(h);
    h.querySelectorAll("button").forEach((b) => b.onclick = () => { l.units = Math.max(1, Math.min(16, l.units + Number(b.dataset.d))); apply(); });
    S.cells.push(neurons(k, l.units, li + 1));
  });
  const o = col(xs[xs.length - 1]), oh = document.createElement("div"); oh.className = "colhead";
  oh.innerHTML = S.info.classes ? "output<br>P(class)" : "output<br>ŷ"; o.appendChild(oh);
  S.cells.push(neurons(o, S.info.classes ? S.info.classes.length : 1, c.layers.length + 1));
  if (S.info.classes) S.cells[S.cells.length - 1].forEach((d, j) => { d.style.borderColor = PALETTE[j]; d.style.borderWidth = "2px"; });
  body.style.height = (80 + 36 * Math.max(7, ...c.layers.map((l) => l.units))) + "px";
  buildWires();
}
function neurons(colDiv, n, layer) {
  const out = [];
  for (let j = 0; j < n; j++) {
    const d = document.createElement("div"); d.className = "neuron"; d.appendChild(document.createElement("canvas"));
    d.onmouseenter = (e) => showTip(e, layer, j); d.onmousemove = moveTip; d.onmouseleave = () => { $("tip").hidden = true; S.tip = null; };
    colDiv.appendChild(d); out.push(d);
  }
  return out;
}
function paintFeature(cv, f) {
  const n = 20, [x0, x1, y0, y1] = S.info.extent; cv.width = n; cv.height = n;
  const vals = [];
  for (let r = 0; r < n; r++) for (let q = 0; q < n; q++) {
    const x = x0 + (q + 0.5) / n * (x1 - x0), y = y1 - (r + 0.5) / n * (y1 - y0);
    vals.push({ x, y, x2: x * x, y2: y * y, xy: x * y, sin_x: Math.sin(x), sin_y: Math.sin(y) }[f]);
  }
  const s = Math.max(...vals.map(Math.abs)) || 1, g = cv.getContext("2d"), img = g.createImageData(n, n);
  vals.forEach((v, i) => { const c = diverging(v / s); img.data.set([c[0], c[1], c[2], 255], i * 4); });
  g.putImageData(img, 0, 0);
}
function centre(el) { const b = $("netbody").getBoundingClientRect(), r = el.getBoundingClientRect(); return [r.left - b.left + r.width / 2, r.top - b.top + r.height / 2, r.width / 2]; }
// The wires are made once per network (positions read once); each frame only restyles them.
function buildWires() {
  const svg = $("wires"), NS = "http://www.w3.org/2000/svg";
  svg.innerHTML = ""; S.wires = [];
  for (let li = 0; li + 1 < S.cells.length; li++) {
    const from = S.cells[li].map(centre), to = S.cells[li + 1].map(centre), layer = [];
    to.forEach(([x2, y2, r2]) => {
      const row = [];
      from.forEach(([x1, y1, r1]) => {
        const p = document.createElementNS(NS, "path");
        p.setAttribute("d", `M${x1 + r1} ${y1} C${(x1 + x2) / 2} ${y1},${(x1 + x2) / 2} ${y2},${x2 - r2} ${y2}`);
        p.setAttribute("fill", "none"); p.setAttribute("opacity", "0.75"); p.setAttribute("stroke-width", "0.3"); p.setAttribute("stroke", "#ccc");
        svg.appendChild(p); row.push(p);
      });
      layer.push(row);
    });
    S.wires.push(layer);
  }
}
function drawWires(f) {
  if (!S.wires) return;
  f.layers.forEach((L, li) => {
    const wires = S.wires[li]; if (!wires) return;
    let m = 1e-9; for (const row of L.w) for (const w of row) m = Math.max(m, Math.abs(w));
    L.w.forEach((row, j) => row.forEach((w, k) => {
      const p = wires[j] && wires[j][k]; if (!p) return;
      p.setAttribute("stroke", w >= 0 ? "#0877bd" : "#f59322"); p.setAttribute("stroke-width", (0.3 + 4.5 * Math.abs(w) / m).toFixed(2));
    }));
  });
}

// ---------- frames ----------
function draw(f) {
  $("epoch").textContent = f.epoch.toLocaleString("en"); $("stepn").textContent = f.step.toLocaleString("en");
  S.playing = f.playing; $("play").textContent = f.playing ? "❚❚" : "▶";
  $("train-loss").textContent = fmt(f.loss[0]); $("test-loss").textContent = fmt(f.loss[1]);
  if (f.accuracy) { $("train-acc").textContent = (100 * f.accuracy[0]).toFixed(1) + " %"; $("test-acc").textContent = (100 * f.accuracy[1]).toFixed(1) + " %"; }
  if (f.error) say(f.error);
  const h = S.history, last = h[h.length - 1];
  if (!last || last[0] !== f.step) { h.push([f.step, f.loss[0], f.loss[1]]); if (h.length > 600) S.history = h.filter((_, i) => i % 2 === 0 || i === h.length - 1); }
  f.neurons.forEach((layer, li) => layer.forEach((heat, j) => { const d = S.cells[li + 1] && S.cells[li + 1][j]; if (d) paintHeat(d.firstChild, heat, S.info.small); }));
  drawWires(f); drawPlane(); drawChart();
  if (S.tip) fillTip();
  const now = performance.now(); S.stats.lastSecond = S.stats.lastSecond.filter((t) => now - t < 1000);
  $("rate").textContent = f.playing ? `${Math.round(f.steps_per_s).toLocaleString("en")} steps/s on the server` : "paused";
  $("fps").textContent = `${S.stats.lastSecond.length} frames/s drawn`;
}
function toPlane(x, y) { const [x0, x1, y0, y1] = S.info.extent; return [(x - x0) / (x1 - x0) * 320, (y1 - y) / (y1 - y0) * 320]; }
function drawPlane() {
  const cv = $("plane"), g = cv.getContext("2d"), f = S.frame, info = S.info; if (!info) return;
  g.clearRect(0, 0, 320, 320);
  if (f) {
    const n = info.grid, px = decode(f.output.px);
    if (!S.off || S.off.width !== n) { S.off = document.createElement("canvas"); S.off.width = n; S.off.height = n; }
    const off = S.off, og = off.getContext("2d"), img = og.createImageData(n, n);
    for (let i = 0; i < n * n; i++) {
      let c;
      if (info.classes) { const k = px[2 * i], p = px[2 * i + 1] / 255, K = info.classes.length, a = Math.max(0, (p - 1 / K) / (1 - 1 / K)) * 0.85; const b = rgb(PALETTE[k]); c = [255 + (b[0] - 255) * a, 255 + (b[1] - 255) * a, 255 + (b[2] - 255) * a]; }
      else { const v = f.output.lo + px[i] / 255 * (f.output.hi - f.output.lo), s = Math.max(Math.abs(f.output.lo), Math.abs(f.output.hi)) || 1; c = diverging(v / s); }
      img.data.set([c[0], c[1], c[2], 255], i * 4);
    }
    og.putImageData(img, 0, 0); g.imageSmoothingEnabled = true; g.drawImage(off, 0, 0, 320, 320);
  }
  g.drawImage(pointsLayer(), 0, 0);
  if (S.walkPoint !== undefined) { const p = info.points[S.walkPoint], [u, v] = toPlane(p[0], p[1]); g.beginPath(); g.arc(u, v, 8, 0, 6.3); g.lineWidth = 2.5; g.strokeStyle = "#000"; g.stroke(); }
}
// The points, drawn once per data set and test-point choice.
function pointsLayer() {
  const info = S.info, test = $("showtest").checked;
  if (S.dots && S.dots.info === info && S.dots.test === test) return S.dots.canvas;
  const cv = document.createElement("canvas"); cv.width = 320; cv.height = 320; const g = cv.getContext("2d");
  const lo = Math.min(...info.points.map((p) => p[2])), hi = Math.max(...info.points.map((p) => p[2]));
  for (const [x, y, l, row] of info.points) {
    if (row < 0 && !test) continue;
    const [u, v] = toPlane(x, y);
    g.beginPath(); g.arc(u, v, 3.6, 0, 6.3);
    if (info.classes) g.fillStyle = PALETTE[l]; else { const c = diverging(2 * (l - lo) / ((hi - lo) || 1) - 1); g.fillStyle = `rgb(${c[0]},${c[1]},${c[2]})`; }
    g.fill(); g.lineWidth = row >= 0 ? 1.5 : 1; g.strokeStyle = row >= 0 ? "#fff" : "#000"; g.stroke();
  }
  S.dots = { info, test, canvas: cv };
  return cv;
}
function drawChart() {
  const cv = $("chart"), g = cv.getContext("2d"), h = S.history; g.clearRect(0, 0, 320, 90); if (h.length < 2) return;
  const m = Math.max(...h.map((r) => Math.max(r[1] || 0, r[2] || 0))) || 1, s0 = h[0][0], s1 = h[h.length - 1][0] || 1;
  for (const [i, color] of [[1, "#777"], [2, "#000"]]) {
    g.beginPath(); g.strokeStyle = color; g.lineWidth = 1.3;
    h.forEach((r, k) => { const x = (r[0] - s0) / ((s1 - s0) || 1) * 316 + 2, y = 86 - (r[i] / m) * 80; k ? g.lineTo(x, y) : g.moveTo(x, y); });
    g.stroke();
  }
  g.fillStyle = "#555"; g.font = "10px sans-serif"; g.fillText("test", 290, 12); g.fillStyle = "#999"; g.fillText("training", 250, 12);
}

// ---------- hover ----------
function showTip(e, layer, j) { S.tip = { layer, j }; $("tip").hidden = false; moveTip(e); fillTip(); }
function moveTip(e) { const t = $("tip"); t.style.left = Math.min(innerWidth - 350, e.clientX + 16) + "px"; t.style.top = Math.min(innerHeight - 320, e.clientY + 10) + "px"; }
function fillTip() {
  const f = S.frame, t = S.tip; if (!f || !t) return;
  const L = f.layers[t.layer - 1], heat = f.neurons[t.layer - 1] && f.neurons[t.layer - 1][t.j]; if (!L || !heat) return;
  const tip = $("tip"); let cv = tip.querySelector("canvas");
  if (!cv) { tip.innerHTML = "<canvas></canvas><div class='body'></div>"; cv = tip.querySelector("canvas"); }
  paintHeat(cv, heat, S.info.small);
  const out = t.layer > S.cfg.layers.length, act = out ? (S.info.classes ? "softmax" : "none") : S.cfg.layers[t.layer - 1].activation;
  tip.querySelector(".body").innerHTML = `<b>${out ? "output" : "layer " + t.layer} · neuron ${t.j + 1}</b> (${act}); output from ${fmt(heat.lo)} to ${fmt(heat.hi)}<br>
    <div class="mono">w = [${L.w[t.j].map(fmt).join(", ")}]<br>b = ${fmt(L.b[t.j])}<br>∂L/∂w = [${L.gw[t.j].map(fmt).join(", ")}]<br>∂L/∂b = ${fmt(L.gb[t.j])}</div><span style="color:#777">gradients of the last training step (its batch)</span>`;
}

// ---------- walk-through ----------
async function pickPoint(e) {
  const r = $("plane").getBoundingClientRect(), mx = (e.clientX - r.left) * 320 / r.width, my = (e.clientY - r.top) * 320 / r.height;
  let best = -1, bd = 14 * 14;
  S.info.points.forEach((p, i) => { if (p[3] < 0) return; const [u, v] = toPlane(p[0], p[1]), d = (u - mx) ** 2 + (v - my) ** 2; if (d < bd) { bd = d; best = i; } });
  if (best < 0) { say("Click on a training point (white ring)."); return; }
  await openWalk(best);
}
async function openWalk(pointIndex) {
  const row = S.info.points[pointIndex][3];
  try {
    const w = await api(`/api/sessions/${S.id}/walk?row=${row}`);
    S.walk = w; S.walkPoint = pointIndex; S.walkAt = 0; renderWalk(w); drawPlane();
    $("walk").hidden = false; $("walk").scrollIntoView({ behavior: "smooth" });
  } catch (err) { say(err.message); }
}
const SUP = (i) => String(i).split("").map((d) => "⁰¹²³⁴⁵⁶⁷⁸⁹"[d]).join("");
const sup = (i) => `⁽${SUP(i)}⁾`;
const G = { relu: "max(0, z)", tanh: "tanh z", sigmoid: "1 / (1 + e^(−z))", leaky_relu: "max(0.01·z, z)", gelu: "z·Φ(z)", none: "z", softmax: "e^(z_j) / Σ_m e^(z_m)" };
const GP = { relu: "1 if z > 0, else 0", tanh: "1 − g(z)²", sigmoid: "g(z)·(1 − g(z))", leaky_relu: "1 if z > 0, else 0.01", gelu: "Φ(z) + z·φ(z)", none: "1" };
function renderWalk(w) {
  $("wpoint").textContent = `(${fmt(w.xy[0])}, ${fmt(w.xy[1])}), label ${w.label}`;
  const L = w.layers, n = L.length, st = [];
  const inputs = w.features.map((f, k) => `${FEATURE_LABEL[f]} → x${SUP(1)}_${k + 1} = ${num(w.inputs[k])}`).join(" · ");
  L.forEach((l, i) => {
    const out = i === n - 1, act = out && w.loss_kind === "cross-entropy" ? "none" : l.activation;
    let h = `<h3>Forward · layer ${i + 1}${out ? " (output)" : ""}</h3>`;
    if (i === 0) h += `<p class="hint">Inputs, standardised as neuron's preprocessing does: ${inputs}</p>`;
    h += `<div class="formula">z_j${sup(i + 1)} = w_j${sup(i + 1)} · x${sup(i + 1)} + b_j${sup(i + 1)}, &nbsp; x${sup(i + 2)}_j = g(z_j${sup(i + 1)}), &nbsp; g(z) = ${G[act] || "z"}</div>`;
    l.z.forEach((z, j) => {
      const terms = l.w[j].map((wv, k) => `${par(wv)}·${par(l.x[k])}`).join(" + ");
      h += `<div class="eq">z${sup(i + 1)}_${j + 1} = ${terms} + ${par(l.b[j])} = <span class="res">${num(z, "z", i, j)}</span>`;
      if (act !== "none" && act !== "softmax") h += ` &nbsp;→&nbsp; g(z) = ${act}(${num(z)}) = <span class="res">${num(l.a[j], "a", i, j)}</span>`;
      else if (act === "softmax") h += ` &nbsp;→&nbsp; ŷ${j + 1} = softmax = <span class="res">${num(l.a[j], "a", i, j)}</span>`;
      else h += `<span hidden>${num(l.a[j], "a", i, j)}</span>`;
      h += "</div>";
    });
    if (out && w.loss_kind === "cross-entropy") h += `<div class="formula">ŷ_j = e^(z_j) / Σ_m e^(z_m) = [${w.yhat.map((v) => num(v)).join(", ")}]</div>`;
    st.push({ name: `Forward, layer ${i + 1}`, html: h });
  });
  let lh = `<h3>The loss for this point</h3>`;
  if (w.loss_kind === "cross-entropy") { const k = w.target.indexOf(1); lh += `<div class="formula">L = −log ŷ_y (cross-entropy; the label is class ${w.label})</div><div class="eq">L = −log ${par(w.yhat[k])} = <span class="res">${num(w.loss, "loss", 0, 0)}</span></div>`; }
  else { const K = w.yhat.length; lh += `<div class="formula">L = (1/${K}) Σ_j (ŷ_j − y_j)² (mean squared error${w.loss_kind === "mse" ? ", on the standardised value" : ", y one-hot"})</div><div class="eq">L = (1/${K})·[${w.yhat.map((v, j) => `(${num(v)} − ${num(w.target[j])})²`).join(" + ")}] = <span class="res">${num(w.loss, "loss", 0, 0)}</span></div>`; }
  st.push({ name: "Loss", html: lh });
  for (let i = n - 1; i >= 0; i--) {
    const l = L[i], out = i === n - 1;
    let h = `<h3>Backward · layer ${i + 1}${out ? " (output)" : ""}</h3>`;
    if (out) {
      if (w.loss_kind === "cross-entropy") h += `<div class="formula">∂L/∂z_j = ŷ_j − y_j (softmax with cross-entropy)</div>` + l.dz.map((d, j) => `<div class="eq">∂L/∂z${sup(i + 1)}_${j + 1} = ${num(w.yhat[j])} − ${num(w.target[j])} = <span class="res">${num(d, "dz", i, j)}</span></div>`).join("");
      else if (w.loss_kind === "mse-softmax") { const K = w.yhat.length; h += `<div class="formula">∂L/∂ŷ_j = 2(ŷ_j − y_j)/${K}, &nbsp; ∂L/∂z_j = ŷ_j · (∂L/∂ŷ_j − Σ_m ŷ_m ∂L/∂ŷ_m) (through the softmax)</div>` + l.dz.map((d, j) => `<div class="eq">∂L/∂ŷ_${j + 1} = 2·(${num(w.yhat[j])} − ${num(w.target[j])})/${K} = ${num(2 * (w.yhat[j] - w.target[j]) / K)} &nbsp;⇒&nbsp; ∂L/∂z${sup(i + 1)}_${j + 1} = <span class="res">${num(d, "dz", i, j)}</span></div>`).join(""); }
      else h += `<div class="formula">∂L/∂z = 2(ŷ − y) (mean squared error, no activation at the output)</div>` + l.dz.map((d, j) => `<div class="eq">∂L/∂z${sup(i + 1)}_${j + 1} = 2·(${num(w.yhat[j])} − ${num(w.target[j])}) = <span class="res">${num(d, "dz", i, j)}</span></div>`).join("");
    } else {
      const nx = L[i + 1];
      h += `<div class="formula">∂L/∂x${sup(i + 2)}_j = Σ_m ∂L/∂z${sup(i + 2)}_m · w${sup(i + 2)}_mj, &nbsp; ∂L/∂z${sup(i + 1)}_j = ∂L/∂x${sup(i + 2)}_j · g′(z_j), &nbsp; g′ = ${GP[l.activation] || "?"}</div>`;
      l.dz.forEach((d, j) => {
        const sum = nx.dz.map((dm, m) => `${par(dm)}·${par(nx.w[m][j])}`).join(" + ");
        h += `<div class="eq">∂L/∂x${sup(i + 2)}_${j + 1} = ${sum} = ${num(l.da[j], "da", i, j)} &nbsp;⇒&nbsp; ∂L/∂z${sup(i + 1)}_${j + 1} = ${par(l.da[j])}·${par(l.gprime[j])} = <span class="res">${num(d, "dz", i, j)}</span></div>`;
      });
    }
    h += `<div class="formula">∂L/∂w_jk = ∂L/∂z_j · x_k, &nbsp; ∂L/∂b_j = ∂L/∂z_j</div>`;
    l.dw.forEach((row, j) => { h += `<div class="eq">neuron ${j + 1}: ∂L/∂w = [${row.map((g, k) => `${par(l.dz[j])}·${par(l.x[k])} = ${num(g, "dw", i, j, k)}`).join("; ")}], &nbsp; ∂L/∂b = <span class="res">${num(l.db[j], "db", i, j)}</span></div>`; });
    st.push({ name: `Backward, layer ${i + 1}`, html: h });
  }
  let u = `<h3>The update: gradient descent, α = ${fmt(w.lr)}</h3><div class="formula">w ← w − α·∂L/∂w, &nbsp; b ← b − α·∂L/∂b</div>`;
  L.forEach((l, i) => {
    u += `<p><b>Layer ${i + 1}</b></p>`;
    l.w.forEach((row, j) => {
      u += `<div class="eq">neuron ${j + 1}: ` + row.map((wv, k) => `w${SUP(k + 1)} ← ${num(wv)} − ${fmt(w.lr)}·${par(l.dw[j][k])} = ${num(l.w_new[j][k], "w_new", i, j, k)}`).join("; ");
      u += `; b ← ${num(l.b[j])} − ${fmt(w.lr)}·${par(l.db[j])} = ${num(l.b_new[j], "b_new", i, j)}</div>`;
    });
  });
  st.push({ name: "Update", html: u });
  $("wbody").innerHTML = st.map((s, i) => `<div class="stage${i === 0 ? " on" : ""}" data-name="${s.name}">${s.html}</div>`).join("");
  S.walkStages = st.length; walkStage(0);
}
function walkStage(d) {
  S.walkAt = Math.max(0, Math.min(S.walkStages - 1, S.walkAt + d));
  const stages = $("wbody").children;
  for (let i = 0; i < stages.length; i++) stages[i].classList.toggle("on", i === S.walkAt);
  $("wstage").textContent = `${S.walkAt + 1}/${S.walkStages}: ${stages[S.walkAt].dataset.name}`;
}

setupControls();
start();
window.addEventListener("resize", () => { if (S.info) { buildNetwork(); if (S.frame) draw(S.frame); } });
