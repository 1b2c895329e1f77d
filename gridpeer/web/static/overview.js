// Community overview: live totals, house cards and the day's energy flow chart.
"use strict";
(() => {
  const fmt = { load_w: gp.fmtW, pv_w: gp.fmtW, grid_w: gp.fmtW, bess_w: gp.fmtW,
    today_load_wh: gp.fmtWh, today_pv_wh: gp.fmtWh, today_import_wh: gp.fmtWh,
    today_export_wh: gp.fmtWh, self_sufficiency: gp.fmtPct, soc: gp.fmtPct };
  function render(ov) {
    const t = ov.totals;
    document.querySelectorAll("[data-k]").forEach((el) => { el.textContent = fmt[el.dataset.k](t[el.dataset.k]); });
    document.getElementById("grid-label").textContent = t.grid_w < 0 ? "Grid (exporting)" : "Grid (importing)";
    const bl = document.getElementById("bess-label");
    if (bl) {
      bl.textContent = Math.abs(t.bess_w) < 1 ? "Batteries (idle)" : t.bess_w > 0 ? "Batteries (discharging)" : "Batteries (charging)";
      document.querySelector("[data-k=bess_w]").textContent = gp.fmtW(Math.abs(t.bess_w));
    }
    const pct = Math.round(t.self_sufficiency * 100);
    document.getElementById("ss-fill").style.width = pct + "%";
    document.getElementById("ss-gauge").setAttribute("aria-valuenow", String(pct));
    for (const h of ov.houses) {
      const card = document.querySelector(`[data-house="${h.id}"]`);
      if (!card) continue;
      card.querySelectorAll("[data-f]").forEach((el) => {
        const f = el.dataset.f;
        if (f === "soc-bar") {
          const s = h.soc == null ? 0 : h.soc;
          el.style.width = Math.round(s * 100) + "%";
          el.className = "bar-fill" + (s < 0.2 ? " low" : s < 0.5 ? " mid" : "");
        } else if (f === "role") {
          const g = h.grid_w || 0;
          el.textContent = g < -1 ? "▲ exporting" : g > 1 ? "▼ importing" : "";
          el.className = "role " + (g < -1 ? "exporting" : g > 1 ? "importing" : "");
        } else if (f === "bess_label") {
          el.textContent = h.bess_w == null || Math.abs(h.bess_w) < 1 ? "Battery idle" : h.bess_w > 0 ? "Discharging" : "Charging";
        } else if (f === "bess_w") {
          el.textContent = h.bess_w == null ? "—" : gp.fmtW(Math.abs(h.bess_w));
        } else {
          el.textContent = fmt[f](h[f]);
        }
      });
    }
  }
  const dateInput = document.getElementById("flows-date");
  const compare = document.getElementById("flows-compare");
  let today = null, lastDraw = 0, drawing = false;
  const series = (pts, key, name, color, dash, shift) => ({
    x: pts.map((p) => gp.wall(p.start, shift ? 86400000 : 0)),
    y: pts.map((p) => p[key]), name, type: "scatter", mode: "lines",
    line: { color, width: 2, dash: dash || "solid", shape: "spline" },
    hovertemplate: "%{y:.0f} W",
  });
  async function draw() {
    if (drawing || !window.Plotly) return;
    drawing = true;
    try {
      const day = dateInput.value;
      const f = await gp.getJSON(`/api/flows?date=${day}`);
      const p = f.points;
      const traces = [
        series(p, "pv_w", "PV", "#b45f06"), series(p, "load_w", "Consumption", "#1f5fbf"),
        series(p, "import_w", "Grid import", "#6b3fa0"), series(p, "export_w", "Grid export", "#0e7c86"),
        Object.assign(series(p, "bess_w", "Battery (+ discharging, − charging)", "#137a43", "dash"), { hovertemplate: "%{y:.0f} W" }),
      ];
      if (compare.checked) {
        const prev = new Date(Date.parse(day) - 86400000).toISOString().slice(0, 10);
        const g = await gp.getJSON(`/api/flows?date=${prev}`);
        traces.push(series(g.points, "pv_w", "PV (previous day)", "#b45f06", "dot", true));
        traces.push(series(g.points, "load_w", "Consumption (previous day)", "#1f5fbf", "dot", true));
      }
      const start = day + "T00:00:00Z", end = day + "T23:59:59Z";
      const layout = gp.plotLayout({
        yaxis: { title: { text: "W" } },
        xaxis: { type: "date", range: [start, end], rangeslider: { visible: true, thickness: 0.08 } },
        legend: { orientation: "h", x: 0, y: 1.12 }, margin: { l: 50, r: 10, t: 30, b: 30 },
        uirevision: day,
      });
      const empty = !gp.hasData(traces);
      if (empty) gp.noData(layout, `No measurements for ${day}` + (day > (today || day) ? " (a future day)" : ""));
      document.getElementById("flows-chart").dataset.empty = String(empty);
      Plotly.react("flows-chart", empty ? [] : traces, layout, gp.plotCfg);
      lastDraw = Date.now();
    } catch (e) { console.error(e); } finally { drawing = false; }
  }
  gp.onOverview((ov) => {
    render(ov);
    const d = ov.now.slice(0, 10);
    if (today !== d) { const follow = !dateInput.value || dateInput.value === today; today = d; if (follow) dateInput.value = d; }
    if (Date.now() - lastDraw > 3000 && dateInput.value === today) draw();
  });
  let lastMarket = 0, cur = null;
  async function market() {
    lastMarket = Date.now();
    try {
      if (!cur) {
        const r = await fetch("/api/market/status");
        if (!r.ok) return;  // no chain: the section stays hidden
        cur = (await r.json()).currency;
      }
      const m = await gp.getJSON("/api/market/summary");
      const unit = BigInt(cur.wei_per_unit);
      const money = (w) => (Number(BigInt(w) * 100n / unit) / 100).toFixed(2) + " " + cur.code;
      const show = { trades: String(m.trades), traded_wh: gp.fmtWh(m.traded_wh),
        avg_price: m.avg_price == null ? "—" : money(m.avg_price) + "/kWh",
        share_p2p: gp.fmtPct(m.share_p2p), savings: money(m.savings) };
      document.querySelectorAll("[data-m]").forEach((el) => { el.textContent = show[el.dataset.m]; });
      const pct = Math.round(m.share_p2p * 100);
      document.getElementById("p2p-fill").style.width = pct + "%";
      document.getElementById("p2p-gauge").setAttribute("aria-valuenow", String(pct));
      document.getElementById("market-today").hidden = false;
    } catch (e) { console.error(e); }
  }
  gp.onOverview(() => { if (Date.now() - lastMarket > 3000) market(); });
  dateInput.addEventListener("change", draw);
  compare.addEventListener("change", draw);
})();
// The community at a glance (/api/community): the same size for 5 or 1,000 houses.
(() => {
  let last = 0;
  const esc = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  const rank = (id, list) => {
    const el = document.getElementById(id);
    el.innerHTML = list.length ? list.map((r) => `<li><a href="/houses/${encodeURIComponent(r.id)}/meter">${esc(r.name)}</a> ${gp.fmtWh(r.wh)}</li>`).join("")
      : '<li class="empty">not shown</li>';
  };
  async function glance() {
    last = Date.now();
    let s;
    try { s = await gp.getJSON("/api/community"); } catch (e) { console.error(e); return; }
    document.querySelector("[data-s=reporting]").textContent = String(s.reporting);
    const most = Math.max(1, ...s.grid_distribution.map((b) => b.houses));
    document.getElementById("grid-dist").innerHTML = s.grid_distribution.map((b) =>
      `<li><span class="dist-label">${esc(b.label)}</span> <span class="bar" aria-hidden="true"><span class="bar-fill" style="width:${Math.round(100 * b.houses / most)}%"></span></span> ${b.houses} ${b.houses === 1 ? "house" : "houses"}</li>`).join("");
    rank("top-exporters", s.top_exporters);
    rank("top-importers", s.top_importers);
    rank("top-pv", s.top_pv);
    rank("lowest-load", s.lowest_load);
  }
  gp.onOverview(() => { if (Date.now() - last > 3000) glance(); });
})();
// The feeder now (/api/grid): voltages and loadings of an AC power flow, violations
// highlighted; the section stays hidden when the community has no [grid].
(() => {
  let last = 0, absent = false;
  const esc = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  const label = (kind, e) => e ? `${kind} ${kind === "bus" ? e.bus : e.index}${e.name ? " (" + e.name + ")" : ""}` : "";
  const pu = (v) => v == null ? "—" : v.toFixed(3) + " p.u.";
  const pct = (v) => v == null ? "—" : v.toFixed(0) + " %";
  const words = { overvoltage: "Overvoltage", undervoltage: "Undervoltage", line_overload: "Line overloaded", trafo_overload: "Transformer overloaded" };
  // a red border for a figure outside its limits (the list below says it in words)
  function mark(key, bad) {
    const el = document.querySelector(`#feeder [data-r=${key}]`);
    el.className = "reading " + (bad ? "bad" : "ok");
    el.dataset.violation = String(bad);
  }
  function render(g) {
    const band = g.voltage_band, lim = g.max_loading_pct;
    const show = {
      network: g.network, reporting: String(g.reporting), houses: String(g.houses),
      band: band.toFixed(2), limit: lim.toFixed(0) + " %",
      vmin: pu(g.vmin_pu), vmin_bus: label("bus", g.lowest_bus),
      vmax: pu(g.vmax_pu), vmax_bus: label("bus", g.highest_bus),
      line: pct(g.worst_line && g.worst_line.loading_pct), line_name: label("line", g.worst_line),
      trafo: pct(g.worst_trafo && g.worst_trafo.loading_pct), trafo_name: label("trafo", g.worst_trafo),
      count: String(g.violation_count),
      flow: g.converged ? `grid ${gp.fmtW(g.grid_w)} · losses ${gp.fmtW(g.losses_w)}` : "the power flow did not converge",
    };
    document.querySelectorAll("#feeder [data-g]").forEach((el) => { el.textContent = show[el.dataset.g]; });
    mark("vmin", g.vmin_pu != null && g.vmin_pu < 1 - band);
    mark("vmax", g.vmax_pu != null && g.vmax_pu > 1 + band);
    mark("line", !!g.worst_line && g.worst_line.loading_pct > lim);
    mark("trafo", !!g.worst_trafo && g.worst_trafo.loading_pct > lim);
    mark("count", g.violation_count > 0 || !g.converged);
    const unit = (v) => v.kind.endsWith("voltage") ? pu(v.value) + ` (limit ${v.limit.toFixed(3)})` : pct(v.value) + ` (limit ${v.limit.toFixed(0)} %)`;
    const list = document.getElementById("feeder-violations");
    list.innerHTML = g.violations.length
      ? g.violations.map((v) => `<li data-kind="${esc(v.kind)}">⚠ ${esc(words[v.kind])}: ${esc(v.element)} at ${esc(unit(v))}</li>`).join("")
        + (g.violation_count > g.violations.length ? `<li>… and ${g.violation_count - g.violations.length} more</li>` : "")
      : '<li class="none">No violations: every voltage and loading within its limits.</li>';
    document.getElementById("feeder").hidden = false;
  }
  async function feeder() {
    last = Date.now();
    try {
      const r = await fetch("/api/grid");
      if (r.status === 404) { absent = true; return; }  // no [grid]: nothing to show
      if (!r.ok) return;  // the model is loading: next time
      render(await r.json());
    } catch (e) { console.error(e); }
  }
  gp.onOverview(() => { if (!absent && Date.now() - last > 3000) feeder(); });
})();
