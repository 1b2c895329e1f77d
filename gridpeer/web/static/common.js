// gridpeer: helpers shared by every page (formatting, live stream, model clock).
"use strict";
const gp = (() => {
  const fmtW = (w) => w == null ? "—" : Math.abs(w) >= 1000 ? (w / 1000).toFixed(2) + " kW" : Math.round(w) + " W";
  const fmtWh = (wh) => wh == null ? "—" : (wh / 1000).toFixed(2) + " kWh";
  const fmtPct = (x) => x == null ? "—" : Math.round(x * 100) + " %";
  const fmtV = (v) => v == null ? "—" : v.toFixed(1) + " V";
  const fmtA = (a) => a == null ? "—" : a.toFixed(2) + " A";
  // battery power (W, + discharging, - charging) in words
  const fmtBess = (w) => w == null ? "—" : Math.abs(w) < 1 ? "idle" : `${w > 0 ? "discharging" : "charging"} ${fmtW(Math.abs(w))}`;
  // does any trace have a value to draw?
  const hasData = (traces) => traces.some((t) => t.y.some((v) => v != null));
  // a chart without data: no axes, one line of text saying so
  const noData = (layout, text) => (delete layout.yaxis2, Object.assign(layout, {
    xaxis: Object.assign({}, layout.xaxis, { visible: false, rangeslider: { visible: false } }), yaxis: { visible: false },
    showlegend: false,
    annotations: [{ text, showarrow: false, xref: "paper", yref: "paper", x: 0.5, y: 0.5, font: { size: 15, color: "#55606b" } }],
  }));
  const listeners = [];
  let last = null;
  function onOverview(fn) { listeners.push(fn); if (last) fn(last); }
  function setClock(ov) {
    const t = document.getElementById("model-time");
    if (t) t.textContent = ov.now.replace("T", " ").slice(0, 16) + " " + (ov.tz || "UTC");
    const s = document.getElementById("speed");
    if (s) s.textContent = ov.speed === 1 ? "real time" : "×" + ov.speed;
  }
  function connect() {
    const dot = document.getElementById("live-dot");
    const es = new EventSource(document.body.dataset.stream || "/api/stream");
    es.addEventListener("overview", (e) => {
      last = JSON.parse(e.data);
      setClock(last);
      if (dot) { dot.classList.add("on"); dot.setAttribute("aria-label", "live updates: on"); }
      listeners.forEach((fn) => fn(last));
    });
    es.onerror = () => { if (dot) { dot.classList.remove("on"); dot.setAttribute("aria-label", "live updates: reconnecting"); } };
  }
  async function getJSON(url) {
    const r = await fetch(url);
    if (!r.ok) throw new Error((await r.json()).detail || r.statusText);
    return r.json();
  }
  // Times from the API carry the community's UTC offset; charts show their wall time
  // (plotly ignores the offset). Shift a wall time by ms without leaving it.
  const wall = (iso, shiftMs) => new Date(Date.parse(iso.slice(0, 19) + "Z") + (shiftMs || 0)).toISOString().slice(0, 19);
  const plotCfg = { responsive: true, displaylogo: false };
  const plotLayout = (extra) => Object.assign({
    margin: { l: 50, r: 10, t: 10, b: 40 }, hovermode: "x unified",
    legend: { orientation: "h", y: -0.18 }, paper_bgcolor: "#fff", plot_bgcolor: "#fff",
    xaxis: { type: "date", rangeslider: { visible: false } }, font: { family: "system-ui, sans-serif", size: 12 },
  }, extra || {});
  document.addEventListener("DOMContentLoaded", connect);
  // a signed-in member: the house pages of the menu are their own house's, and their
  // monthly statement is one click away; the header says whose house it is
  function showMember(s) {
    if (!s || !s.house) return;
    const nav = document.querySelector("header.top nav");
    for (const a of nav.querySelectorAll("a[href^='/houses/']")) {
      a.href = a.getAttribute("href").replace(/^\/houses\/[^/]+/, "/houses/" + s.house);
    }
    if (!nav.querySelector("[data-testid=nav-statement]")) {
      const st = document.createElement("a");
      st.href = `/houses/${s.house}/statement`;
      st.textContent = "My statement";
      st.dataset.testid = "nav-statement";
      if (document.body.dataset.page === "statement") st.setAttribute("aria-current", "page");
      nav.appendChild(st);
    }
    const brand = document.querySelector("header.top .brand");
    if (brand && !brand.querySelector("[data-testid=member-house]")) {
      const b = document.createElement("span");
      b.className = "badge";
      b.dataset.testid = "member-house";
      b.textContent = "House " + s.house.replace(/^h/, "");
      brand.appendChild(b);
    }
  }
  document.addEventListener("DOMContentLoaded", () => {
    fetch("/api/auth/session").then((r) => r.ok ? r.json() : null).then(showMember).catch(() => {});
  });
  return { showMember, fmtW, fmtWh, fmtPct, fmtV, fmtA, fmtBess, hasData, noData, onOverview, getJSON, wall, plotCfg, plotLayout };
})();
