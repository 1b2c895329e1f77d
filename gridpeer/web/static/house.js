// Smart Meter and PV & Battery pages: live readings, colour-coded ranges, history charts.
"use strict";
(() => {
  const page = document.body.dataset.page, house = document.body.dataset.house;
  const kind = document.body.dataset.kind;
  const fmt = { load_w: gp.fmtW, grid_w: gp.fmtW, pv_w: gp.fmtW, bess_w: gp.fmtBess,
    meter_v: gp.fmtV, meter_i: gp.fmtA, pv_v: gp.fmtV, pv_i: gp.fmtA, bess_v: gp.fmtV,
    soc: gp.fmtPct, today_load_wh: gp.fmtWh, ev_w: gp.fmtW, ev_soc: gp.fmtPct };
  // [ok-low, ok-high, watch-low, watch-high]: inside ok → green, inside watch → amber, else red.
  const ranges = { soc: [0.3, 0.95, 0.15, 1.0], bess_v: [46, 56, 44, 58], pv_v: [150, 450, 50, 500],
    pv_w: [500, 1e9, 50, 1e9] };
  const pick = document.getElementById("house-pick");
  if (pick) pick.addEventListener("change", () => {
    location.href = `/houses/${pick.value}/${page === "meter" ? "meter" : "pv"}`;
  });
  function classify(key, v) {
    const r = ranges[key];
    if (!r || v == null) return "";
    return v >= r[0] && v <= r[1] ? "ok" : v >= r[2] && v <= r[3] ? "mid" : "bad";
  }
  gp.onOverview((ov) => {
    const h = ov.houses.find((x) => x.id === house);
    if (!h) return;
    document.querySelectorAll("[data-f]").forEach((el) => { el.textContent = fmt[el.dataset.f](h[el.dataset.f]); });
    document.querySelectorAll("[data-range]").forEach((el) => {
      el.classList.remove("ok", "mid", "bad");
      const c = classify(el.dataset.range, h[el.dataset.range]);
      if (c) el.classList.add(c);
    });
    const d = ov.now.slice(0, 10);
    if (!dateInput.value) { dateInput.value = d; }
    if (Date.now() - lastDraw > 4000 && dateInput.value === d) drawDay();
    if (!month) month = d.slice(0, 7);
    if (page === "meter" && Date.now() - lastMonth > 15000) drawMonth();
  });
  const dateInput = document.getElementById("day-date");
  let lastDraw = 0, lastMonth = 0, month = null;
  const line = (pts, key, name, color, axis, scale, extra) => ({
    x: pts.map((p) => gp.wall(p.start)), y: pts.map((p) => p[key] == null ? null : p[key] * (scale || 1)),
    name, type: "scatter", mode: "lines", yaxis: axis || "y", line: Object.assign({ color, width: 2, shape: "spline" }, extra || {}),
  });
  async function hist(device, day, res) {
    return (await gp.getJSON(`/api/houses/${house}/history?device=${device}&date=${day}&resolution=${res}`)).points;
  }
  async function drawDay() {
    if (!window.Plotly || !dateInput) return;
    lastDraw = Date.now();
    const day = dateInput.value;
    const range = [day + "T00:00:00Z", day + "T23:59:59Z"];
    let traces, layout;
    if (page === "meter") {
      const m = await hist("meter", day, "15min");
      // consumption as a shaded area, grid as a dashed line on top: for a consumer both
      // are the same numbers, and both stay visible
      traces = [Object.assign(line(m, "p", "Consumption (W)", "#1f5fbf"), { fill: "tozeroy", fillcolor: "rgba(31,95,191,0.22)" }),
        line(m, "p_grid", "Grid (W, + import)", "#6b3fa0", "y", 1, { dash: "dash", width: 2 })];
      if (document.querySelector("[data-f=ev_w]")) {  // an EV house: its charger too
        traces.push(line(await hist("ev", day, "15min"), "p", "EV charging (W)", "#137a43", "y", 1, { dash: "dot", width: 2 }));
      }
      layout = gp.plotLayout({ yaxis: { title: { text: "W" } }, xaxis: { type: "date", range }, uirevision: day });
    } else {
      const pv = await hist("pv", day, "15min");
      traces = [line(pv, "p", "PV power (W)", "#b45f06")];
      layout = gp.plotLayout({ yaxis: { title: { text: "W" }, rangemode: "tozero" }, xaxis: { type: "date", range }, uirevision: day });
      if (kind === "pv_bess") {
        const b = await hist("bess", day, "15min");
        traces.push(line(b, "p", "Battery (W, + discharging, − charging)", "#0e7c86", "y", 1, { dash: "dash" }));
        traces.push(line(b, "soc", "SoC (%)", "#137a43", "y2", 100));
        layout.yaxis.rangemode = "normal";
        layout.yaxis2 = { title: { text: "SoC %" }, overlaying: "y", side: "right", range: [0, 100],
          tickmode: "array", tickvals: [0, 25, 50, 75, 100], showgrid: false };
        layout.margin = { l: 50, r: 55, t: 10, b: 40 };
      }
    }
    const empty = !gp.hasData(traces);
    if (empty) gp.noData(layout, `No measurements for ${day}`);
    document.getElementById("day-chart").dataset.empty = String(empty);
    Plotly.react("day-chart", empty ? [] : traces, layout, gp.plotCfg);
  }
  const monthName = (ym) => new Date(ym + "-15T00:00:00Z").toLocaleDateString("en", { month: "long", year: "numeric", timeZone: "UTC" });
  const shiftMonth = (ym, k) => new Date(Date.UTC(+ym.slice(0, 4), +ym.slice(5, 7) - 1 + k, 1)).toISOString().slice(0, 7);
  async function drawMonth() {
    if (!window.Plotly || !month) return;
    lastMonth = Date.now();
    const first = month + "-01";
    const m = await hist("meter", first, "1d");
    const next = shiftMonth(month, 1) + "-01";
    document.getElementById("month-label").textContent = monthName(month);
    const layout = gp.plotLayout({ yaxis: { title: { text: "kWh" }, rangemode: "tozero" },
      xaxis: { type: "date", range: [first, next], tickformat: "%b %d" }, hovermode: "closest" });
    const empty = !m.some((p) => p.n > 0);
    if (empty) gp.noData(layout, `No measurements in ${monthName(month)}`);
    document.getElementById("month-chart").dataset.empty = String(empty);
    Plotly.react("month-chart", empty ? [] : [{
      x: m.map((p) => gp.wall(p.start, 43200000)), y: m.map((p) => p.energy_wh / 1000), type: "bar",
      width: m.map(() => 0.8 * 86400000), name: "kWh per day", marker: { color: "#1f5fbf" },
      hovertemplate: "%{x|%b %d}: %{y:.2f} kWh<extra></extra>",
    }], layout, gp.plotCfg);
  }
  for (const [id, k] of [["month-prev", -1], ["month-next", 1]]) {
    const b = document.getElementById(id);
    if (b) b.addEventListener("click", () => { month = shiftMonth(month, k); drawMonth(); });
  }
  if (dateInput) dateInput.addEventListener("change", drawDay);
})();
