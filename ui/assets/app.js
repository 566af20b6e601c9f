// Plexus dashboard: a single page over the node's HTTP API (/v1/...) and its
// Server-Sent Events stream (/v1/events). Log in with a user's name and
// password (POST /v1/auth/login sets the HttpOnly session cookie and answers
// the CSRF token that every changing request sends in X-CSRF-Token). Pages
// are hash routes (#/peers); each page renders itself and re-reads what it
// shows when an event says it changed. Nothing here builds HTML from
// strings: elements are made with h() and text is set as text.

// ---------------------------------------------------------------- helpers

/** h makes an element: attrs holds attributes, "class", "text" and on* handlers. */
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") el.className = v;
    else if (k === "text") el.textContent = v;
    else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (v === true) el.setAttribute(k, "");
    else el.setAttribute(k, v);
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

const $ = (sel, root = document) => root.querySelector(sel);

function fmtBytes(n) {
  if (!Number.isFinite(n)) return "–";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (Math.abs(n) >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return (i === 0 ? n.toFixed(0) : n.toFixed(1)) + " " + units[i];
}

function fmtDuration(ms) {
  let s = Math.floor(ms / 1000);
  const d = Math.floor(s / 86400); s %= 86400;
  const hh = Math.floor(s / 3600); s %= 3600;
  const mm = Math.floor(s / 60); s %= 60;
  if (d) return `${d}d ${hh}h ${mm}m`;
  if (hh) return `${hh}h ${mm}m ${s}s`;
  if (mm) return `${mm}m ${s}s`;
  return `${s}s`;
}

function fmtTime(t) {
  if (!t) return "–";
  const d = new Date(t);
  return isNaN(d) ? String(t) : d.toLocaleString();
}

/** plural counts: plural(1, "block") is "1 block", plural(2, "block") "2 blocks". */
function plural(n, word) {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

function shortID(id) {
  return id && id.length > 16 ? id.slice(0, 8) + "…" + id.slice(-6) : id || "";
}

function b64ToText(b64) {
  try {
    const bin = atob(b64 || "");
    return new TextDecoder("utf-8", { fatal: false }).decode(Uint8Array.from(bin, (c) => c.charCodeAt(0)));
  } catch { return ""; }
}

function textToB64(s) {
  const bytes = new TextEncoder().encode(s);
  let bin = "";
  for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(bin);
}

let toastTimer;
function toast(msg, isError) {
  let el = $("#toast");
  if (!el) { el = h("div", { id: "toast", class: "toast", role: "status", "aria-live": "polite" }); document.body.append(el); }
  el.textContent = msg;
  el.className = "toast" + (isError ? " error" : "");
  el.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { el.hidden = true; }, isError ? 8000 : 3500);
}

/** debounce runs fn at most once per wait ms, after the last call. */
function debounce(fn, wait) {
  let t;
  return (...a) => { clearTimeout(t); t = setTimeout(() => fn(...a), wait); };
}

// ---------------------------------------------------------------- the API

const state = { me: null, csrf: "", id: null, version: null };

class APIError extends Error {
  constructor(status, body) {
    super((body && body.error) || `HTTP ${status}`);
    this.status = status;
    this.code = body && body.code;
  }
}

/** api calls the HTTP API; a 401 sends the user back to the login page. */
async function api(method, path, body, opts = {}) {
  const headers = { Accept: "application/json" };
  if (method !== "GET" && method !== "HEAD") headers["X-CSRF-Token"] = state.csrf;
  let payload;
  if (body !== undefined) { headers["Content-Type"] = "application/json"; payload = JSON.stringify(body); }
  let resp;
  try {
    resp = await fetch(path, { method, headers, body: payload, credentials: "same-origin", signal: opts.signal });
  } catch (e) {
    if (e.name === "AbortError") throw e;
    connection.lost();
    throw new APIError(0, { error: "the daemon does not answer" });
  }
  const text = await resp.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = { error: text }; }
  if (resp.status === 401 && !opts.noLogout) { showLogin("Your session ended: log in again."); throw new APIError(401, data); }
  if (!resp.ok) throw new APIError(resp.status, data);
  return data;
}

const isAdmin = () => state.me && state.me.role === "admin";

/**
 * readSSE reads a Server-Sent Events answer from fetch and calls onEvent(type, data)
 * for each event. It resolves when the stream ends cleanly and rejects when it breaks.
 */
async function readSSE(resp, onEvent, signal) {
  const reader = resp.body.getReader();
  const dec = new TextDecoder();
  let buf = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    if (signal && signal.aborted) { reader.cancel(); return; }
    buf += dec.decode(value, { stream: true });
    let i;
    while ((i = buf.indexOf("\n\n")) >= 0) {
      const block = buf.slice(0, i);
      buf = buf.slice(i + 2);
      let type = "message";
      const data = [];
      for (const line of block.split("\n")) {
        if (line.startsWith("event:")) type = line.slice(6).trim();
        else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
      }
      if (!data.length) continue;
      let parsed;
      try { parsed = JSON.parse(data.join("\n")); } catch { parsed = data.join("\n"); }
      onEvent(type, parsed);
    }
  }
}

/**
 * stream opens an SSE route (a GET, or a POST with a JSON body for the routes that report
 * progress) and reads it; it rejects with APIError on an error answer.
 */
async function stream(path, onEvent, signal, body) {
  const init = { headers: { Accept: "text/event-stream" }, credentials: "same-origin", signal };
  if (body !== undefined) {
    init.method = "POST";
    init.body = JSON.stringify(body);
    init.headers["Content-Type"] = "application/json";
    init.headers["X-CSRF-Token"] = state.csrf;
  }
  const resp = await fetch(path, init);
  if (!resp.ok) {
    let body = null;
    try { body = await resp.json(); } catch { /* not JSON */ }
    if (resp.status === 401) showLogin("Your session ended: log in again.");
    throw new APIError(resp.status, body);
  }
  return readSSE(resp, onEvent, signal);
}

// ---------------------------------------------------------------- the event stream and the connection

/** The node's event stream, shared by every page; kept in memory for the Events page. */
const bus = {
  listeners: new Set(),
  recent: [], // newest last, at most keep
  keep: 500,
  on(fn) { this.listeners.add(fn); return () => this.listeners.delete(fn); },
  emit(ev) {
    this.recent.push(ev);
    if (this.recent.length > this.keep) this.recent.shift();
    for (const fn of [...this.listeners]) {
      try { fn(ev); } catch (e) { console.error(e); }
    }
  },
};

const connection = {
  ctrl: null,
  up: false,
  retry: 0,
  timer: null,
  start() {
    this.stop();
    this.ctrl = new AbortController();
    const ctrl = this.ctrl;
    stream("/v1/events", (type, data) => {
      if (!this.up) this.ok();
      if (data && typeof data === "object" && data.type) bus.emit(data);
    }, ctrl.signal).then(() => {
      if (ctrl.signal.aborted) return;
      this.lost("The daemon stopped (its event stream ended).");
    }).catch((e) => {
      if (ctrl.signal.aborted || e.status === 401) return;
      this.lost();
    });
    // The stream's first bytes are a comment, not an event: mark it up once the answer came.
    this.probeUp(ctrl);
  },
  async probeUp(ctrl) {
    try {
      const r = await fetch("/healthz", { signal: ctrl.signal });
      if (r.ok && !ctrl.signal.aborted && !this.timer) this.ok();
    } catch { /* the stream reports it */ }
  },
  stop() {
    if (this.ctrl) this.ctrl.abort();
    this.ctrl = null;
    clearTimeout(this.timer);
    this.timer = null;
  },
  ok() {
    const wasDown = !this.up && this.retry > 0;
    this.up = true;
    this.retry = 0;
    $("#banner").hidden = true;
    $("#live").className = "live on";
    $("#live").title = "Live: connected to the daemon's event stream";
    if (wasDown) { toast("Reconnected to the daemon"); router.render(); }
  },
  lost(why) {
    if (this.timer) return;
    this.up = false;
    if (this.ctrl) this.ctrl.abort();
    this.ctrl = null;
    const delay = Math.min(10000, 1000 * 2 ** Math.min(this.retry, 4));
    this.retry++;
    const banner = $("#banner");
    banner.textContent = `${why || "Lost the connection to the daemon."} Reconnecting in ${Math.round(delay / 1000)} s… (attempt ${this.retry})`;
    banner.hidden = false;
    $("#live").className = "live off";
    $("#live").title = "Not connected to the daemon";
    this.timer = setTimeout(() => this.reconnect(), delay);
  },
  async reconnect() {
    this.timer = null;
    try {
      const r = await fetch("/v1/auth/me", { credentials: "same-origin" });
      if (r.status === 401) { $("#banner").hidden = true; showLogin("The daemon restarted and your session ended: log in again."); return; }
      if (!r.ok) throw new Error("not ready");
      const me = await r.json();
      state.me = me;
      state.csrf = me.csrf_token || state.csrf;
      this.start();
    } catch {
      this.lost();
    }
  },
};

/** samples are the node's stats, taken every 2 s while logged in, for the bandwidth chart. */
const samples = {
  keep: 150, // 5 minutes
  xs: [], ins: [], outs: [],
  listeners: new Set(),
  timer: null,
  on(fn) { this.listeners.add(fn); return () => this.listeners.delete(fn); },
  async take() {
    const s = await api("GET", "/v1/stats");
    s.at = Date.now();
    this.xs.push(s.at / 1000); this.ins.push(s.rate_in); this.outs.push(s.rate_out);
    if (this.xs.length > this.keep) { this.xs.shift(); this.ins.shift(); this.outs.shift(); }
    return s;
  },
  start() {
    this.stop();
    this.timer = setInterval(async () => {
      if (!connection.up) return;
      try { const s = await this.take(); for (const fn of this.listeners) fn(s); } catch { /* the connection reports it */ }
    }, 2000);
  },
  stop() { clearInterval(this.timer); this.timer = null; this.xs.length = this.ins.length = this.outs.length = 0; },
};

// ---------------------------------------------------------------- login and the shell

function showLogin(msg) {
  connection.stop();
  samples.stop();
  router.unmount();
  state.me = null;
  $("#app").hidden = true;
  $("#login").hidden = false;
  const err = $("#login-error");
  err.textContent = msg || "";
  err.hidden = !msg;
  $("#login-pass").value = "";
  $("#login-user").focus();
}

async function login(ev) {
  ev.preventDefault();
  const btn = $("#login-submit");
  const err = $("#login-error");
  btn.disabled = true;
  err.hidden = true;
  try {
    const res = await api("POST", "/v1/auth/login", { username: $("#login-user").value, password: $("#login-pass").value }, { noLogout: true });
    state.csrf = res.csrf_token;
    await enter();
  } catch (e) {
    err.textContent = e.status === 401 ? "Wrong user name or password." : e.message;
    err.hidden = false;
  } finally {
    btn.disabled = false;
  }
}

async function logout() {
  try { await api("POST", "/v1/auth/logout"); } catch { /* the session may be gone already */ }
  state.csrf = "";
  showLogin("You are logged out.");
}

/** enter shows the dashboard for the session the cookie holds. */
async function enter() {
  const me = await api("GET", "/v1/auth/me", undefined, { noLogout: true });
  state.me = me;
  state.csrf = me.csrf_token || state.csrf;
  $("#login").hidden = true;
  $("#app").hidden = false;
  $("#whoami").textContent = `${me.username || "api token"} (${me.role})`;
  for (const a of document.querySelectorAll("[data-admin]")) a.hidden = !isAdmin();
  connection.retry = 0;
  connection.start();
  samples.start();
  router.render();
}

// ---------------------------------------------------------------- pages

const pages = {};
const router = {
  current: null, // { name, cleanup }
  unmount() {
    if (this.current && this.current.cleanup) this.current.cleanup();
    this.current = null;
  },
  render() {
    if (!state.me) return;
    let name = (location.hash.replace(/^#\/?/, "") || "overview").split("?")[0];
    if (!pages[name] || (name === "users" && !isAdmin())) name = "overview";
    this.unmount();
    for (const a of document.querySelectorAll("#nav a")) {
      if (a.dataset.page === name) a.setAttribute("aria-current", "page");
      else a.removeAttribute("aria-current");
    }
    const main = $("#main");
    main.replaceChildren();
    const cleanups = [];
    const ctx = {
      main,
      /** onEvent subscribes to the node's events while the page is shown. */
      onEvent: (fn) => cleanups.push(bus.on(fn)),
      cleanup: (fn) => cleanups.push(fn),
      interval: (fn, ms) => { const t = setInterval(fn, ms); cleanups.push(() => clearInterval(t)); },
    };
    this.current = { name, cleanup: () => cleanups.forEach((f) => f()) };
    document.title = `${pages[name].title} · Plexus`;
    pages[name].render(ctx);
  },
};

/** errorBox renders an error answer where the data would be. */
function errorBox(e) {
  return h("p", { class: "error", role: "alert", text: e.message });
}

/** guard runs an action of a control and reports its failure. */
async function guard(btn, fn) {
  if (btn) btn.disabled = true;
  try { return await fn(); } catch (e) { if (e.status !== 401) toast(e.message, true); } finally { if (btn) btn.disabled = false; }
}

/** sortableTable renders rows with sortable, filterable columns. */
function sortableTable({ columns, rows, key, filter, empty, sort }) {
  const wrap = h("div", { class: "table-wrap" });
  const st = sort || { col: 0, dir: 1 };
  const draw = () => {
    const q = (filter ? filter() : "").toLowerCase();
    let list = rows.filter((r) => !q || columns.some((c) => String(c.value(r) ?? "").toLowerCase().includes(q)));
    const c = columns[st.col];
    list.sort((a, b) => {
      const x = c.sort ? c.sort(a) : c.value(a);
      const y = c.sort ? c.sort(b) : c.value(b);
      return (x < y ? -1 : x > y ? 1 : 0) * st.dir;
    });
    const head = h("tr", {}, columns.map((col, i) => h("th", {
      scope: "col", class: col.num ? "num" : (col.narrow ? "hide-narrow" : undefined),
      "aria-sort": i === st.col ? (st.dir > 0 ? "ascending" : "descending") : undefined,
    }, col.nosort ? col.title : h("button", {
      type: "button", text: col.title, onclick: () => { st.dir = st.col === i ? -st.dir : 1; st.col = i; draw(); },
    }))));
    const body = list.map((r) => h("tr", { "data-key": key ? key(r) : undefined }, columns.map((col) => h("td", {
      class: col.num ? "num" : (col.narrow ? "hide-narrow" : undefined),
    }, col.render ? col.render(r) : String(col.value(r) ?? "")))));
    wrap.replaceChildren(list.length ? h("table", {}, h("thead", {}, head), h("tbody", {}, body))
      : h("p", { class: "empty", text: rows.length ? "Nothing matches the filter." : empty || "Nothing yet." }));
  };
  draw();
  return { el: wrap, redraw: draw, set(newRows) { rows = newRows; draw(); } };
}

// ---- Overview

pages.overview = {
  title: "Overview",
  render(ctx) {
    const idCard = h("section", { class: "card span2", "aria-labelledby": "ov-id" });
    const statsCard = h("section", { class: "card" }, h("h3", { text: "This node" }));
    const natCard = h("section", { class: "card" }, h("h3", { text: "Reachability" }));
    const bwCard = h("section", { class: "card span2" }, h("h3", { text: "Bandwidth" }));
    const chartEl = h("div", { class: "chart", id: "bw-chart", role: "img", "aria-label": "Bandwidth in and out, bytes per second, last minutes" });
    const bwNow = h("p", { class: "muted small", id: "bw-now" });
    bwCard.append(chartEl, bwNow);
    ctx.main.append(h("h2", { text: "Overview" }), h("div", { class: "grid" }, idCard, statsCard, bwCard, natCard));

    const drawID = (id) => {
      const copy = h("button", { type: "button", id: "copy-peer-id", text: "Copy", "aria-label": "Copy the peer ID" });
      copy.addEventListener("click", () => copyText(id.peer_id, copy));
      idCard.replaceChildren(
        h("h3", { id: "ov-id", text: "Peer ID" }),
        h("p", { class: "row" }, h("code", { id: "peer-id", class: "peerid", text: id.peer_id }), copy),
        h("h3", { text: "Addresses" }),
        id.addrs.length ? h("ul", { class: "plain mono", id: "addrs" }, id.addrs.map((a) => h("li", { text: a }))) : h("p", { class: "muted", text: "No addresses yet." }),
      );
    };
    let stats = null;
    const drawStats = () => {
      if (!stats) return;
      const v = state.version || {};
      const id = state.id || {};
      statsCard.replaceChildren(h("h3", { text: "This node" }), h("dl", { class: "kv" },
        h("dt", { text: "Connections" }), h("dd", {}, h("span", { class: "stat", id: "conn-count", text: stats.connections }), ` to ${stats.peers} peer${stats.peers === 1 ? "" : "s"}, ${stats.streams} streams`),
        h("dt", { text: "Uptime" }), h("dd", { id: "uptime", text: fmtDuration(stats.uptime_ms + (Date.now() - stats.at)) }),
        h("dt", { text: "Version" }), h("dd", { id: "version", text: `${v.version || "?"}${v.commit ? " (" + v.commit.slice(0, 12) + (v.modified ? ", modified" : "") + ")" : ""}` }),
        h("dt", { text: "libp2p" }), h("dd", { text: `${v.libp2p || "?"}, ${v.go || ""} ${v.platform || ""}` }),
        h("dt", { text: "DHT mode" }), h("dd", { text: id.dht_mode || "?" }),
        h("dt", { text: "Profile" }), h("dd", { text: id.profile || "none" }),
        h("dt", { text: "Traffic" }), h("dd", { text: `${fmtBytes(stats.bytes_in)} in, ${fmtBytes(stats.bytes_out)} out` }),
      ));
    };
    const drawNAT = (nat) => {
      const cls = nat.reachability === "public" ? "ok" : nat.reachability === "private" ? "warn" : "";
      natCard.replaceChildren(h("h3", { text: "Reachability" }),
        h("p", {}, h("span", { class: `stat ${cls}`, id: "reachability", text: nat.reachability }), " ",
          h("span", { class: "muted small", text: nat.reachability_source_text || nat.reachability_source || "" })),
        h("p", { class: "small", id: "nat-punch" }, `${nat.connections.direct_peers} direct, ${nat.connections.relayed_peers} relayed; hole punching ${nat.hole_punch.successes}/${nat.hole_punch.attempts}${nat.hole_punch.birthday && nat.hole_punch.birthday.enabled ? `, birthday punch ${nat.hole_punch.birthday.successes}/${nat.hole_punch.birthday.attempts}` : ""}`),
        h("h3", { text: "The NAT doctor's advice" }),
        nat.advice.length ? h("ul", { class: "advice", id: "advice" }, nat.advice.map((a) => h("li", {},
          h("span", { class: `tag ${a.level === "warn" ? "warn" : a.level === "ok" ? "ok" : ""}`, text: a.level }), " ", a.message)))
          : h("p", { class: "muted", text: "Nothing to advise." }));
    };

    // The bandwidth chart: the samples of GET /v1/stats taken every 2 s since login.
    let plot = null;
    const makePlot = () => {
      if (!window.uPlot) return null;
      const width = Math.max(260, chartEl.clientWidth || 600);
      const css = (v, d) => getComputedStyle(document.documentElement).getPropertyValue(v).trim() || d;
      return new uPlot({
        width, height: 220,
        // Up to the last five minutes: at least one, more as samples come.
        scales: { x: { time: true, range: () => {
          const now = Date.now() / 1000;
          const span = Math.min(samples.keep * 2, Math.max(60, samples.xs.length ? now - samples.xs[0] : 0));
          return [now - span, now];
        } }, y: { range: (u, min, max) => [0, Math.max(1024, max * 1.1)] } },
        axes: [{}, { values: (u, vals) => vals.map((v) => fmtBytes(v) + "/s"), size: 80 }],
        series: [{}, { label: "in", stroke: css("--in", "#2f5fc4"), width: 2, value: (u, v) => v == null ? "–" : fmtBytes(v) + "/s" },
          { label: "out", stroke: css("--out", "#d9822b"), width: 2, value: (u, v) => v == null ? "–" : fmtBytes(v) + "/s" }],
      }, [samples.xs, samples.ins, samples.outs], chartEl);
    };
    const onResize = debounce(() => { if (plot) plot.setSize({ width: Math.max(260, chartEl.clientWidth), height: 220 }); }, 150);
    window.addEventListener("resize", onResize);
    ctx.cleanup(() => { window.removeEventListener("resize", onResize); if (plot) plot.destroy(); });

    const showStats = (s) => {
      stats = s;
      if (!plot) plot = makePlot();
      else plot.setData([samples.xs, samples.ins, samples.outs]);
      bwNow.textContent = `Now ${fmtBytes(s.rate_in)}/s in, ${fmtBytes(s.rate_out)}/s out (every stream of the node, smoothed).`;
      drawStats();
    };
    const loadStats = async () => {
      try { showStats(await samples.take()); } catch (e) { if (e.status) statsCard.replaceChildren(h("h3", { text: "This node" }), errorBox(e)); }
    };
    ctx.cleanup(samples.on(showStats));
    const loadID = async () => {
      try { state.id = await api("GET", "/v1/id"); drawID(state.id); drawStats(); } catch (e) { idCard.replaceChildren(errorBox(e)); }
    };
    const loadNAT = async () => {
      try { drawNAT(await api("GET", "/v1/nat")); } catch (e) { natCard.replaceChildren(h("h3", { text: "Reachability" }), errorBox(e)); }
    };
    (async () => {
      if (!state.version) { try { state.version = await api("GET", "/v1/version"); } catch { /* shown as ? */ } }
      await loadID(); loadStats(); loadNAT();
    })();
    ctx.interval(drawStats, 1000);
    const natSoon = debounce(loadNAT, 500), statsSoon = debounce(loadStats, 300), idSoon = debounce(loadID, 300);
    ctx.onEvent((ev) => {
      if (ev.type.startsWith("nat.")) natSoon();
      if (ev.type.startsWith("peer.connected") || ev.type.startsWith("peer.disconnected")) { statsSoon(); natSoon(); }
      if (ev.type === "addrs.updated") idSoon();
    });
  },
};

async function copyText(text, btn) {
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    // No clipboard API (a plain-HTTP origin other than localhost): select and copy.
    const ta = h("textarea", { class: "offscreen" });
    ta.value = text;
    document.body.append(ta);
    ta.select();
    try { document.execCommand("copy"); } finally { ta.remove(); }
  }
  const old = btn.textContent;
  btn.textContent = "Copied";
  setTimeout(() => { btn.textContent = old; }, 1500);
}

// ---- Peers

pages.peers = {
  title: "Peers",
  render(ctx) {
    const filter = h("input", { type: "search", id: "peer-filter", placeholder: "Filter: peer, agent, transport…", "aria-label": "Filter peers" });
    const count = h("span", { class: "muted", id: "peer-count" });
    const card = h("section", { class: "card", id: "peers-table" });
    ctx.main.append(h("h2", {}, "Peers ", count));
    if (isAdmin()) {
      const addr = h("input", { id: "connect-addr", placeholder: "/ip4/127.0.0.1/tcp/4001/p2p/12D3Koo…", required: true, "aria-label": "Multiaddress to connect to" });
      const btn = h("button", { type: "submit", class: "primary", text: "Connect" });
      ctx.main.append(h("form", { class: "card row", id: "connect-form", onsubmit: (e) => {
        e.preventDefault();
        guard(btn, async () => {
          const r = await api("POST", "/v1/connect", { addr: addr.value.trim() });
          toast(`Connected to ${shortID(r.peer_id)} over ${r.addr}`);
          addr.value = "";
          load();
        });
      } }, h("label", {}, "Connect to a peer (full multiaddress with /p2p/)", addr), btn));
    }
    ctx.main.append(h("div", { class: "row" }, h("label", {}, "Filter", filter)), card);

    const columns = [
      { title: "Peer", value: (p) => p.peer_id, render: (p) => h("code", { title: p.peer_id, text: shortID(p.peer_id) }) },
      { title: "Agent", value: (p) => p.agent_version || "" },
      { title: "Transport", value: (p) => p.transport },
      { title: "Address", value: (p) => p.addr, narrow: true, render: (p) => h("code", { class: "small", text: p.addr }) },
      { title: "Latency", num: true, value: (p) => p.latency_ms ? p.latency_ms.toFixed(2) + " ms" : "–", sort: (p) => p.latency_ms || Infinity },
      { title: "Direction", value: (p) => p.direction },
      { title: "Streams", num: true, value: (p) => p.streams },
      { title: "Since", value: (p) => fmtTime(p.opened_at), sort: (p) => p.opened_at, narrow: true },
    ];
    if (isAdmin()) {
      columns.push({ title: "", nosort: true, value: () => "", render: (p) => {
        const b = h("button", { type: "button", class: "danger", text: "Disconnect", "aria-label": `Disconnect ${p.peer_id}` });
        b.addEventListener("click", () => guard(b, async () => { await api("POST", "/v1/disconnect", { peer: p.peer_id }); toast(`Disconnected ${shortID(p.peer_id)}`); load(); }));
        return b;
      } });
    }
    const table = sortableTable({ columns, rows: [], key: (p) => p.peer_id + p.addr, filter: () => filter.value, empty: "No open connections." });
    card.append(table.el);
    filter.addEventListener("input", () => table.redraw());
    const load = async () => {
      try {
        const peers = await api("GET", "/v1/peers");
        count.textContent = `(${new Set(peers.map((p) => p.peer_id)).size} connected, ${peers.length} connections)`;
        table.set(peers);
      } catch (e) { if (e.status) card.replaceChildren(errorBox(e)); }
    };
    load();
    const soon = debounce(load, 250);
    ctx.onEvent((ev) => { if (ev.type.startsWith("peer.")) soon(); });
    ctx.interval(load, 10000); // latencies and stream counts change without events
  },
};

// ---- Network

const agentColors = ["#2f5fc4", "#d9822b", "#1d7a3c", "#8e44ad", "#c0392b", "#16a085", "#7f8c8d", "#b7950b", "#2c3e50", "#e84393"];

pages.network = {
  title: "Network",
  render(ctx) {
    const runBtn = h("button", { type: "button", class: "primary", id: "explore-run", text: "Crawl the network" });
    const progress = h("p", { class: "muted", id: "explore-progress", role: "status", "aria-live": "polite", text: "The crawl asks every node reachable from this one for its routing table, then identifies them." });
    const graphEl = h("div", { class: "graph", id: "graph", role: "img", "aria-label": "Graph of the network's nodes and their routing-table links" });
    const legend = h("div", { class: "legend", id: "graph-legend" });
    const summary = h("div", { id: "explore-summary" });
    const tableCard = h("section", { class: "card" }, h("h3", { text: "Routing table (Kademlia buckets)" }));
    ctx.main.append(h("h2", { text: "Network" }), h("div", { class: "grid" },
      h("section", { class: "card span2" }, h("div", { class: "row" }, runBtn, progress), graphEl, legend, summary),
      tableCard));

    let cy = null;
    let ctrl = null;
    ctx.cleanup(() => { if (ctrl) ctrl.abort(); if (cy) cy.destroy(); });
    const draw = (rep) => {
      const agents = [...new Set(rep.nodes.map((n) => n.agent_version || "unknown"))].sort();
      const color = (a) => agentColors[agents.indexOf(a) % agentColors.length];
      const ids = new Set(rep.nodes.map((n) => n.peer_id));
      const els = rep.nodes.map((n) => ({ data: { id: n.peer_id, label: n.self ? "this node" : shortID(n.peer_id), color: color(n.agent_version || "unknown"),
        dialable: n.dialable || n.self ? "yes" : "no", self: n.self ? "yes" : "no" } }));
      const seen = new Set();
      for (const n of rep.nodes) for (const m of n.neighbours || []) {
        if (!ids.has(m) || m === n.peer_id) continue;
        const k = [n.peer_id, m].sort().join(" ");
        if (seen.has(k)) continue;
        seen.add(k);
        els.push({ data: { id: "e" + seen.size, source: n.peer_id, target: m } });
      }
      if (cy) cy.destroy();
      if (!window.cytoscape) { graphEl.replaceChildren(h("p", { class: "error", text: "The graph library did not load." })); return; }
      cy = cytoscape({
        container: graphEl, elements: els, wheelSensitivity: 0.3, maxZoom: 2.5, minZoom: 0.1,
        style: [
          { selector: "node", style: { "background-color": "data(color)", label: "data(label)", "font-size": 9, color: "#1d2330", width: 14, height: 14 } },
          { selector: 'node[dialable = "no"]', style: { "background-opacity": 0.25, "border-width": 2, "border-style": "dashed", "border-color": "data(color)" } },
          { selector: 'node[self = "yes"]', style: { width: 22, height: 22, "border-width": 3, "border-color": "#1d2330" } },
          { selector: "edge", style: { width: 1, "line-color": "#b8c0cf", "curve-style": "haystack" } },
        ],
        layout: { name: rep.nodes.length > 150 ? "circle" : "cose", animate: false, nodeDimensionsIncludeLabels: true, padding: 30 },
      });
      legend.replaceChildren(...agents.map((a) => h("span", {}, h("span", { class: "legend-dot", "data-color": color(a) }), `${a} (${rep.nodes.filter((n) => (n.agent_version || "unknown") === a).length})`)),
        h("span", { class: "muted", text: "Faded, dashed: not reachable by the crawler. Framed: this node." }));
      for (const dot of legend.querySelectorAll(".legend-dot")) dot.style.background = dot.dataset.color;
      const nodes = sortableTable({ rows: rep.nodes, key: (n) => n.peer_id, columns: [
        { title: "Node", value: (n) => n.peer_id, render: (n) => h("code", { title: n.peer_id, text: n.self ? "this node" : shortID(n.peer_id) }) },
        { title: "Agent", value: (n) => n.agent_version || "unknown" },
        { title: "Reachable", value: (n) => (n.dialable || n.self ? "yes" : "no"), render: (n) => n.dialable || n.self ? "yes" : h("span", { class: "warn", text: n.error ? `no: ${n.error}` : "no" }) },
        { title: "Neighbours", num: true, value: (n) => (n.neighbours || []).length },
        { title: "Addresses", narrow: true, value: (n) => (n.addrs || []).join(" "), render: (n) => h("code", { class: "small", text: (n.addrs || []).slice(0, 2).join(" ") }) },
      ] });
      summary.replaceChildren(h("p", { id: "explore-result" }, `${rep.total} nodes, ${rep.dialable} reachable, ${rep.undialable} not, in ${(rep.duration_ms / 1000).toFixed(1)} s${rep.complete ? "" : " (cut short by the timeout)"}.`),
        h("details", {}, h("summary", { text: "The nodes as a table" }), nodes.el));
    };
    runBtn.addEventListener("click", () => {
      if (ctrl) ctrl.abort();
      ctrl = new AbortController();
      runBtn.disabled = true;
      progress.textContent = "Crawling…";
      stream("/v1/explore", (type, data) => {
        if (type === "progress") progress.textContent = `${data.phase}: ${data.found} found, ${data.dialable} answered, ${data.failed} failed (${(data.elapsed_ms / 1000).toFixed(1)} s)`;
        else if (type === "result") { progress.textContent = "Done."; draw(data); }
        else if (type === "error") progress.textContent = "Crawl failed: " + data.error;
      }, ctrl.signal).catch((e) => { if (e.name !== "AbortError") progress.textContent = "Crawl failed: " + e.message; })
        .finally(() => { runBtn.disabled = false; });
    });

    const loadTable = async () => {
      try {
        const entries = await api("GET", "/v1/dht/table");
        const buckets = new Map();
        for (const e of entries) buckets.set(e.bucket, (buckets.get(e.bucket) || []).concat(e));
        const most = Math.max(1, ...[...buckets.values()].map((l) => l.length));
        const rows = [...buckets.keys()].sort((a, b) => a - b).map((b) => {
          const l = buckets.get(b);
          const bar = h("div", { class: "bar" });
          bar.style.width = `${(100 * l.length) / most}%`;
          return h("tr", {}, h("td", { class: "num", text: b }), h("td", { class: "num", text: l.length }),
            h("td", { class: "num", text: l.filter((e) => e.connected).length }), h("td", { class: "barcell" }, bar));
        });
        tableCard.replaceChildren(h("h3", { text: "Routing table (Kademlia buckets)" }),
          h("p", { class: "muted small", id: "table-size", text: `${plural(entries.length, "peer")} in ${plural(buckets.size, "bucket")}. Bucket = bits of prefix shared with this node's key.` }),
          rows.length ? h("div", { class: "table-wrap" }, h("table", { class: "bars" }, h("thead", {}, h("tr", {}, h("th", { class: "num", text: "Bucket" }), h("th", { class: "num", text: "Peers" }), h("th", { class: "num", text: "Connected" }), h("th", { text: "" }))), h("tbody", {}, rows)))
            : h("p", { class: "empty", text: "The routing table is empty." }));
      } catch (e) { if (e.status) tableCard.append(errorBox(e)); }
    };
    loadTable();
    const soon = debounce(loadTable, 400);
    ctx.onEvent((ev) => { if (ev.type.startsWith("routing.")) soon(); });
  },
};

// ---- Pub/sub

pages.pubsub = {
  title: "Pub/sub",
  render(ctx) {
    const topicsCard = h("section", { class: "card" }, h("h3", { text: "Joined topics" }));
    const msgs = h("div", { class: "messages", id: "messages", "aria-live": "polite" });
    const watchSel = h("input", { id: "watch-topic", placeholder: "topic", "aria-label": "Topic to watch", required: true });
    const watchBtn = h("button", { type: "submit", text: "Watch" });
    const watching = h("p", { class: "muted small", id: "watching", text: "Not watching a topic." });
    const liveCard = h("section", { class: "card" }, h("h3", { text: "Live messages" }),
      h("form", { class: "row", onsubmit: (e) => { e.preventDefault(); watch(watchSel.value.trim()); } }, h("label", {}, "Watch a topic", watchSel), watchBtn),
      watching, msgs);
    const scoresCard = h("section", { class: "card", id: "scores-card" }, h("h3", { text: "Peer scores" }));
    const grid = h("div", { class: "grid" }, topicsCard, liveCard, scoresCard);
    ctx.main.append(h("h2", { text: "Pub/sub" }), grid);

    if (isAdmin()) {
      const jt = h("input", { id: "join-topic", placeholder: "topic", required: true, "aria-label": "Topic to join" });
      const jb = h("button", { type: "submit", text: "Join" });
      const pt = h("input", { id: "publish-topic", placeholder: "topic", required: true, "aria-label": "Topic to publish on" });
      const pm = h("textarea", { id: "publish-message", rows: 3, placeholder: "message", required: true, "aria-label": "Message" });
      const pb = h("button", { type: "submit", class: "primary", id: "publish-submit", text: "Publish" });
      const pubResult = h("p", { class: "muted small", id: "publish-result", role: "status" });
      grid.prepend(h("section", { class: "card" }, h("h3", { text: "Join and publish" }),
        h("form", { class: "row", id: "join-form", onsubmit: (e) => {
          e.preventDefault();
          guard(jb, async () => { await api("POST", "/v1/pubsub/join", { topic: jt.value.trim() }); toast(`Joined ${jt.value.trim()}`); jt.value = ""; loadTopics(); });
        } }, h("label", {}, "Join a topic", jt), jb),
        h("form", { id: "publish-form", onsubmit: (e) => {
          e.preventDefault();
          guard(pb, async () => {
            const topic = pt.value.trim();
            const r = await api("POST", "/v1/pubsub/publish", { topic, data: textToB64(pm.value) });
            pubResult.textContent = r.no_peers ? `Published on ${topic}; ${r.warning || "no peer was on the topic"}` : `Published on ${topic} to ${r.peers} peer${r.peers === 1 ? "" : "s"} (${r.mesh_peers} in the mesh).`;
            pm.value = "";
            loadTopics();
          });
        } }, h("div", { class: "row" }, h("label", {}, "Topic", pt)), h("label", {}, "Message (text)", pm), h("p", {}, pb), pubResult)));
    }

    let ctrl = null;
    let watched = "";
    ctx.cleanup(() => { if (ctrl) ctrl.abort(); });
    const watch = (topic) => {
      if (!topic) return;
      if (ctrl) ctrl.abort();
      ctrl = new AbortController();
      const mine = ctrl;
      watched = topic;
      msgs.replaceChildren();
      watching.textContent = `Watching ${topic}…`;
      const retry = () => setTimeout(() => { if (!mine.signal.aborted && watched === topic) watch(topic); }, 2000);
      stream("/v1/pubsub/subscribe?topic=" + encodeURIComponent(topic), (type, m) => {
        if (type === "message") {
          const from = m.from === (state.id && state.id.peer_id) ? "this node" : shortID(m.from);
          msgs.prepend(h("div", { class: "msg" },
            h("div", { class: "small muted" }, `${new Date(m.received_at).toLocaleTimeString()} · ${m.topic} · from `, h("code", { title: m.from, text: from })),
            h("div", { class: "data", text: b64ToText(m.data) })));
          while (msgs.children.length > 200) msgs.lastChild.remove();
        } else if (type === "dropped") {
          msgs.prepend(h("div", { class: "msg warn", text: `${m.dropped} messages dropped (this view fell behind)` }));
        } else if (type === "closed") {
          watching.textContent = `Stopped watching ${topic}: the topic was left.`;
        }
      }, mine.signal).then(() => { if (!mine.signal.aborted) { watching.textContent = `The stream of ${topic} ended; retrying…`; retry(); } })
        .catch((e) => {
          if (mine.signal.aborted) return;
          watching.textContent = e.status ? `Cannot watch ${topic}: ${e.message}` : `Lost the stream of ${topic}; retrying…`;
          if (!e.status) retry();
        });
      loadTopics();
    };

    const loadTopics = debounce(async () => {
      try {
        const topics = await api("GET", "/v1/pubsub/topics");
        const rows = topics.map((t) => {
          const cells = [h("td", {}, h("code", { text: t.name })), h("td", { class: "num", text: t.peers }), h("td", { class: "num", text: t.mesh_peers }), h("td", { class: "num", text: t.local_subscribers })];
          const acts = h("td", {});
          const wb = h("button", { type: "button", text: "Watch", "aria-label": `Watch ${t.name}` });
          wb.addEventListener("click", () => { watchSel.value = t.name; watch(t.name); });
          acts.append(wb);
          if (isAdmin()) {
            const lb = h("button", { type: "button", class: "danger", text: "Leave", "aria-label": `Leave ${t.name}` });
            lb.addEventListener("click", () => guard(lb, async () => { await api("POST", "/v1/pubsub/leave", { topic: t.name }); toast(`Left ${t.name}`); loadTopics(); }));
            acts.append(" ", lb);
          }
          cells.push(acts);
          return h("tr", {}, cells);
        });
        topicsCard.replaceChildren(h("h3", { text: "Joined topics" }), rows.length ? h("div", { class: "table-wrap" }, h("table", { id: "topics" },
          h("thead", {}, h("tr", {}, h("th", { text: "Topic" }), h("th", { class: "num", text: "Peers" }), h("th", { class: "num", text: "Mesh" }), h("th", { class: "num", text: "Local subs" }), h("th", { text: "" }))),
          h("tbody", {}, rows))) : h("p", { class: "empty", text: "No topic joined." }));
      } catch (e) { if (e.status) topicsCard.append(errorBox(e)); }
    }, 200);
    loadTopics();
    ctx.onEvent((ev) => { if (ev.type.startsWith("pubsub.joined") || ev.type.startsWith("pubsub.left") || ev.type.startsWith("peer.")) loadTopics(); });

    // The gossipsub scores, lowest first, with what each does to its peer
    // (the API's state, from the router's thresholds), as plexus pubsub scores.
    const loadScores = async () => {
      try {
        const scores = await api("GET", "/v1/pubsub/scores");
        const rows = scores.map((p) => h("tr", { "data-key": p.peer },
          h("td", {}, h("code", { title: p.peer, text: shortID(p.peer) })),
          h("td", { class: "num", text: p.score.toFixed(2) }), h("td", { class: "num", text: p.rate_limited }), h("td", { text: p.state || "" })));
        scoresCard.replaceChildren(h("h3", { text: "Peer scores" }),
          h("p", { class: "muted small", text: "Lowest first. The topic peers with the shortest round trips (pubsub.mesh_fastest_peers) score a little more; slower ones score -1 and stay out of this node's meshes, still getting gossip and its messages. Invalid or flooding messages cost more; below -2500 a peer is graylisted." }),
          rows.length ? h("div", { class: "table-wrap" }, h("table", { id: "scores" },
            h("thead", {}, h("tr", {}, h("th", { text: "Peer" }), h("th", { class: "num", text: "Score" }), h("th", { class: "num", text: "Rate-limited" }), h("th", { text: "" }))),
            h("tbody", {}, rows))) : h("p", { class: "empty", text: "No peer scored yet." }));
      } catch (e) { if (e.status) scoresCard.replaceChildren(h("h3", { text: "Peer scores" }), errorBox(e)); }
    };
    loadScores();
    ctx.interval(loadScores, 5000);
  },
};

// ---- Records

pages.records = {
  title: "Records",
  render(ctx) {
    const own = h("section", { class: "card wide" }, h("h3", { text: "This node's records" }));
    const getKey = h("input", { id: "get-key", placeholder: "/plexus/<peer ID>/<name>", required: true, "aria-label": "Record key" });
    const getBtn = h("button", { type: "submit", text: "Get" });
    const got = h("div", { id: "get-result", "aria-live": "polite" });
    const getCard = h("section", { class: "card" }, h("h3", { text: "Get a record" }),
      h("form", { class: "row", onsubmit: (e) => {
        e.preventDefault();
        guard(getBtn, async () => {
          got.replaceChildren(h("p", { class: "muted", text: "Looking it up…" }));
          try {
            const r = await api("GET", "/v1/dht/get?key=" + encodeURIComponent(getKey.value.trim()));
            got.replaceChildren(recordView(r));
          } catch (err) { got.replaceChildren(errorBox(err)); }
        });
      } }, h("label", {}, "Key", getKey), getBtn), got);
    const grid = h("div", { class: "grid" }, getCard, own);
    ctx.main.append(h("h2", { text: "Records" }), grid);
    if (isAdmin()) {
      const name = h("input", { id: "put-name", placeholder: "name", required: true, "aria-label": "Record name" });
      const value = h("textarea", { id: "put-value", rows: 3, required: true, "aria-label": "Record value (text)" });
      const ttl = h("select", { id: "put-ttl", "aria-label": "Lifetime" }, ["default", "1h", "24h", "168h"].map((v) => h("option", { value: v, text: v === "default" ? "node default (24h)" : v })));
      const btn = h("button", { type: "submit", class: "primary", text: "Put" });
      grid.prepend(h("section", { class: "card" }, h("h3", { text: "Put a record" }),
        h("form", { onsubmit: (e) => {
          e.preventDefault();
          guard(btn, async () => {
            const body = { name: name.value.trim(), value: textToB64(value.value) };
            if (ttl.value !== "default") body.ttl_ms = parseInt(ttl.value, 10) * 3600000;
            const r = await api("POST", "/v1/dht/put", body);
            toast(`Published ${r.key} (seq ${r.seq})`);
            value.value = "";
            load();
          });
        } }, h("div", { class: "row" }, h("label", {}, "Name", name), h("label", {}, "Lifetime", ttl)), h("label", {}, "Value (text)", value), h("p", {}, btn))));
    }
    const load = async () => {
      try {
        const recs = await api("GET", "/v1/dht/records");
        const t = sortableTable({ rows: recs, empty: "This node has published no record.", key: (r) => r.key, columns: [
          { title: "Key", value: (r) => r.key, render: (r) => h("code", { class: "small", text: r.key }) },
          { title: "Value", value: (r) => b64ToText(r.value) },
          { title: "Seq", num: true, value: (r) => r.seq },
          { title: "Valid until", value: (r) => fmtTime(r.eol), sort: (r) => r.eol },
          { title: "", nosort: true, value: () => "", render: (r) => {
            const b = h("button", { type: "button", text: "Get", "aria-label": `Get ${r.key}` });
            b.addEventListener("click", () => { getKey.value = r.key; getBtn.click(); });
            return b;
          } },
        ] });
        own.replaceChildren(h("h3", { text: "This node's records" }), t.el);
      } catch (e) { if (e.status) own.append(errorBox(e)); }
    };
    load();
    const soon = debounce(load, 300);
    ctx.onEvent((ev) => { if (ev.type === "record.put") soon(); });
  },
};

function recordView(r) {
  return h("dl", { class: "kv" },
    h("dt", { text: "Key" }), h("dd", {}, h("code", { text: r.key })),
    h("dt", { text: "Owner" }), h("dd", {}, h("code", { text: r.owner || "–" })),
    h("dt", { text: "Value" }), h("dd", { class: "record-value", text: r.namespace === "plexus" ? b64ToText(r.value) : `${atob(r.value || "").length} bytes (${r.namespace})` }),
    h("dt", { text: "Seq" }), h("dd", { text: r.seq ?? "–" }),
    h("dt", { text: "Valid until" }), h("dd", { text: fmtTime(r.eol) }));
}

// ---- Files (the routes of the files issue: /v1/files/...)

pages.files = {
  title: "Files",
  render(ctx) {
    const pinsCard = h("section", { class: "card wide" }, h("h3", { text: "Pins" }));
    const cidIn = h("input", { id: "fetch-cid", placeholder: "bafy…", required: true, "aria-label": "CID to fetch" });
    const fetchBtn = h("button", { type: "submit", id: "fetch-submit", text: "Fetch" });
    const fetchProg = h("progress", { id: "fetch-progress", max: 1, value: 0, hidden: true, "aria-label": "Fetch progress" });
    const fetchOut = h("div", { id: "fetch-result", role: "status" });
    const fetchCard = h("section", { class: "card" }, h("h3", { text: "Fetch by CID" }),
      h("form", { class: "row", onsubmit: (e) => { e.preventDefault(); doFetch(cidIn.value.trim()); } }, h("label", {}, "CID", cidIn), fetchBtn),
      fetchProg, fetchOut);
    // Fetching stores blocks (POST, admins); a viewer downloads what is here.
    const grid = h("div", { class: "grid" }, isAdmin() ? fetchCard : null, pinsCard);
    ctx.main.append(h("h2", { text: "Files" }), grid);

    const doFetch = (cid) => {
      if (!cid) return;
      fetchProg.hidden = false; fetchProg.removeAttribute("value");
      fetchOut.replaceChildren(h("p", { class: "muted", text: `Fetching ${cid}…` }));
      const ctrl = new AbortController();
      ctx.cleanup(() => ctrl.abort());
      guard(fetchBtn, async () => {
        // POST /v1/files/fetch answers when the file is local; asked for an event stream it
        // reports its progress first.
        let failed = null;
        try {
          await stream("/v1/files/fetch", (type, d) => {
            if (type === "progress") {
              if (d.total_bytes) { fetchProg.max = d.total_bytes; fetchProg.value = d.bytes; }
              fetchOut.replaceChildren(h("p", { class: "muted", text: `${fmtBytes(d.bytes)}${d.total_bytes ? " of " + fmtBytes(d.total_bytes) : ""}, ${d.blocks}${d.total_blocks ? "/" + d.total_blocks : ""} blocks from ${plural(d.peers, "peer")}` }));
            } else if (type === "result") {
              fetchProg.max = 1; fetchProg.value = 1;
              const pin = h("button", { type: "button", id: "fetch-pin", text: "Pin" });
              pin.addEventListener("click", () => guard(pin, async () => { await api("POST", "/v1/files/pin", { cid }); toast(`Pinned ${cid}`); pin.remove(); loadPins(); }));
              fetchOut.replaceChildren(h("p", {}, `Fetched ${cid}: ${fmtBytes(d.bytes)} in ${plural(d.blocks, "block")} from ${plural(d.peers, "peer")} (blocks already here are not fetched again). `,
                h("a", { href: "/v1/files/get?cid=" + encodeURIComponent(cid), download: cid, id: "download-link", text: "Download" }), " ", pin));
            } else if (type === "error") {
              failed = new APIError(d.status, d);
            }
          }, ctrl.signal, { cid });
        } catch (e) { failed = e; }
        if (failed && failed.name !== "AbortError") {
          fetchProg.hidden = true;
          fetchOut.replaceChildren(errorBox(failed));
        }
      });
    };
    ctx.onEvent((ev) => { if (ev.type.startsWith("files.")) loadPins(); });

    if (isAdmin()) {
      const file = h("input", { type: "file", id: "upload-file", required: true, "aria-label": "File to add" });
      const upBtn = h("button", { type: "submit", class: "primary", id: "upload-submit", text: "Add" });
      const upProg = h("progress", { id: "upload-progress", max: 1, value: 0, hidden: true, "aria-label": "Upload progress" });
      const upOut = h("div", { id: "upload-result", role: "status" });
      grid.prepend(h("section", { class: "card" }, h("h3", { text: "Add a file" }),
        h("form", { class: "row", id: "upload-form", onsubmit: (e) => {
          e.preventDefault();
          const f = file.files[0];
          if (!f) return;
          upBtn.disabled = true;
          upProg.hidden = false; upProg.max = f.size || 1; upProg.value = 0;
          upOut.replaceChildren(h("p", { class: "muted", text: `Uploading ${f.name}…` }));
          const xhr = new XMLHttpRequest();
          xhr.open("POST", "/v1/files/add?name=" + encodeURIComponent(f.name));
          xhr.setRequestHeader("X-CSRF-Token", state.csrf);
          xhr.setRequestHeader("Content-Type", "application/octet-stream");
          xhr.upload.addEventListener("progress", (p) => { if (p.lengthComputable) { upProg.max = p.total || 1; upProg.value = p.loaded; } });
          xhr.addEventListener("loadend", () => {
            upBtn.disabled = false;
            let body = null;
            try { body = JSON.parse(xhr.responseText); } catch { /* not JSON */ }
            if (xhr.status >= 200 && xhr.status < 300 && body) {
              upProg.value = upProg.max;
              upOut.replaceChildren(h("p", {}, "Added ", h("code", { id: "added-cid", text: body.cid }), ` (${fmtBytes(body.size)}, ${plural(body.blocks, "block")}). `,
                h("a", { href: "/v1/files/get?cid=" + encodeURIComponent(body.cid), download: f.name, text: "Download" })));
              cidIn.value = body.cid;
              loadPins();
            } else {
              upProg.hidden = true;
              if (xhr.status === 401) showLogin("Your session ended: log in again.");
              upOut.replaceChildren(h("p", { class: "error", role: "alert", text: xhr.status === 404 ? "Files are not available on this node." : (body && body.error) || `Upload failed (HTTP ${xhr.status || "no answer"})` }));
            }
          });
          xhr.send(f);
        } }, h("label", {}, "File", file), upBtn), upProg, upOut));
    }

    const loadPins = debounce(async () => {
      try {
        const pins = await api("GET", "/v1/files/pins");
        const t = sortableTable({ rows: pins, empty: "Nothing pinned.", key: (p) => p.cid, columns: [
          { title: "CID", value: (p) => p.cid, render: (p) => h("code", { class: "small", text: p.cid }) },
          { title: "Since", value: (p) => fmtTime(p.since), sort: (p) => p.since },
          { title: "", nosort: true, value: () => "", render: (p) => {
            const cell = h("span", {}, h("a", { href: "/v1/files/get?cid=" + encodeURIComponent(p.cid), download: p.cid, text: "Download" }));
            if (isAdmin()) {
              const b = h("button", { type: "button", class: "danger", text: "Unpin", "aria-label": `Unpin ${p.cid}` });
              b.addEventListener("click", () => guard(b, async () => { await api("DELETE", "/v1/files/pin?cid=" + encodeURIComponent(p.cid)); toast(`Unpinned ${p.cid}`); loadPins(); }));
              cell.append(" ", b);
            }
            return cell;
          } },
        ] });
        pinsCard.replaceChildren(h("h3", { text: "Pins" }), t.el);
      } catch (e) {
        if (e.status === 404) {
          grid.replaceChildren(h("section", { class: "card wide note", id: "files-unavailable" }, h("h3", { text: "Files are not available on this node" }),
            h("p", { text: "This daemon has no file routes (/v1/files/…): it was built without file sharing. Everything else works." })));
        } else if (e.status) pinsCard.append(errorBox(e));
      }
    }, 100);
    loadPins();
  },
};

// ---- Events

pages.events = {
  title: "Events",
  render(ctx) {
    const filter = h("input", { type: "search", id: "event-filter", placeholder: "type prefix or text, e.g. peer.", "aria-label": "Filter events" });
    const pause = h("button", { type: "button", id: "event-pause", "aria-pressed": "false", text: "Pause" });
    const clear = h("button", { type: "button", text: "Clear" });
    const count = h("span", { class: "muted small", id: "event-count" });
    const tbody = h("tbody", { id: "event-rows" });
    ctx.main.append(h("h2", { text: "Events" }), h("div", { class: "row" }, h("label", {}, "Filter", filter), pause, clear, count),
      h("section", { class: "card" }, h("div", { class: "table-wrap" }, h("table", { class: "events" },
        h("thead", {}, h("tr", {}, h("th", { text: "Time" }), h("th", { text: "Type" }), h("th", { text: "Data" }))), tbody))));
    let paused = false;
    const matches = (ev) => {
      const q = filter.value.trim().toLowerCase();
      if (!q) return true;
      return ev.type.toLowerCase().startsWith(q) || JSON.stringify(ev.data || {}).toLowerCase().includes(q);
    };
    const row = (ev) => h("tr", { "data-type": ev.type }, h("td", { text: new Date(ev.time).toLocaleTimeString() }), h("td", {}, h("code", { text: ev.type })),
      h("td", { class: "data", text: ev.data ? JSON.stringify(ev.data) : "" }));
    const redraw = () => {
      const list = bus.recent.filter(matches).slice(-300).reverse();
      tbody.replaceChildren(...list.map(row));
      count.textContent = `${list.length} shown of ${bus.recent.length} received since login`;
    };
    redraw();
    filter.addEventListener("input", redraw);
    pause.addEventListener("click", () => { paused = !paused; pause.textContent = paused ? "Resume" : "Pause"; pause.setAttribute("aria-pressed", String(paused)); if (!paused) redraw(); });
    clear.addEventListener("click", () => { bus.recent.length = 0; redraw(); });
    ctx.onEvent((ev) => {
      if (paused) return;
      if (matches(ev)) { tbody.prepend(row(ev)); while (tbody.children.length > 300) tbody.lastChild.remove(); }
      count.textContent = `${tbody.children.length} shown of ${bus.recent.length} received since login`;
    });
  },
};

// ---- Users (admins)

pages.users = {
  title: "Users",
  render(ctx) {
    const card = h("section", { class: "card wide" });
    const name = h("input", { id: "user-name", required: true, autocomplete: "off", "aria-label": "User name" });
    const pass = h("input", { id: "user-pass", type: "password", required: true, minlength: 8, autocomplete: "new-password", "aria-label": "Password" });
    const role = h("select", { id: "user-role", "aria-label": "Role" }, h("option", { value: "viewer", text: "viewer (read-only)" }), h("option", { value: "admin", text: "admin" }));
    const btn = h("button", { type: "submit", class: "primary", text: "Add user" });
    ctx.main.append(h("h2", { text: "Users" }), h("div", { class: "grid" },
      h("form", { class: "card", id: "user-form", onsubmit: (e) => {
        e.preventDefault();
        guard(btn, async () => {
          const u = await api("POST", "/v1/users", { username: name.value, password: pass.value, role: role.value });
          toast(`Added ${u.username} (${u.role})`);
          name.value = ""; pass.value = "";
          load();
        });
      } }, h("h3", { text: "Add a user" }), h("label", {}, "Name", name), h("label", {}, "Password (8 characters or more)", pass), h("label", {}, "Role", role), h("p", {}, btn)),
      card));
    const load = async () => {
      try {
        const users = await api("GET", "/v1/users");
        const t = sortableTable({ rows: users, key: (u) => u.username, columns: [
          { title: "Name", value: (u) => u.username },
          { title: "Role", value: (u) => u.role, render: (u) => {
            const sel = h("select", { "aria-label": `Role of ${u.username}` }, ["viewer", "admin"].map((r) => h("option", { value: r, text: r, selected: r === u.role })));
            sel.addEventListener("change", () => guard(sel, async () => { await api("POST", "/v1/users/role", { username: u.username, role: sel.value }); toast(`${u.username} is now ${sel.value}`); load(); }));
            return sel;
          } },
          { title: "Created", value: (u) => fmtTime(u.created), sort: (u) => u.created },
          { title: "", nosort: true, value: () => "", render: (u) => {
            if (u.username === state.me.username) return h("span", { class: "muted small", text: "you" });
            const b = h("button", { type: "button", class: "danger", text: "Delete", "aria-label": `Delete ${u.username}` });
            b.addEventListener("click", () => {
              if (!confirm(`Delete ${u.username}? Their sessions and tokens are revoked.`)) return;
              guard(b, async () => { await api("DELETE", "/v1/users?name=" + encodeURIComponent(u.username)); toast(`Deleted ${u.username}`); load(); });
            });
            return b;
          } },
        ] });
        card.replaceChildren(h("h3", { text: "Accounts" }), t.el);
      } catch (e) { if (e.status) card.replaceChildren(errorBox(e)); }
    };
    load();
  },
};

// ---------------------------------------------------------------- start

window.addEventListener("hashchange", () => router.render());
$("#login-form").addEventListener("submit", login);
$("#logout").addEventListener("click", logout);
$(".skip").addEventListener("click", (e) => { e.preventDefault(); $("#main").focus(); });
enter().catch((e) => {
  if (e.status === 401) showLogin();
  else if (e.status === 0) { showLogin("The daemon does not answer."); }
  else showLogin(e.message);
});
