// Houses list: search, order and pages served by /api/houses/live (any community size).
"use strict";
(() => {
  const q = document.getElementById("q"), sort = document.getElementById("sort");
  const limitSel = document.getElementById("limit");
  const rows = document.getElementById("house-rows"), status = document.getElementById("page-status");
  const prev = document.getElementById("prev"), next = document.getElementById("next");
  const kinds = { pv_bess: "PV + battery", pv: "PV", consumer: "consumer" };
  let offset = 0, total = 0, seq = 0, last = 0;
  const params = new URLSearchParams(location.search);
  if (params.get("q")) q.value = params.get("q");
  const esc = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  async function load() {
    const mine = ++seq, limit = Number(limitSel.value);
    last = Date.now();
    const url = `/api/houses/live?q=${encodeURIComponent(q.value)}&limit=${limit}&offset=${offset}&sort=${sort.value}`;
    let page;
    try { page = await gp.getJSON(url); } catch (e) { console.error(e); return; }
    if (mine !== seq) return;  // a newer search is on its way
    total = page.total;
    rows.innerHTML = page.houses.map((h) => `<tr data-house="${esc(h.id)}">` +
      `<th scope="row"><a href="/houses/${encodeURIComponent(h.id)}/meter">${esc(h.name)}</a> <span class="small">${esc(h.id)}</span></th>` +
      `<td>${kinds[h.kind] || esc(h.kind)}</td><td>${gp.fmtW(h.load_w)}</td><td>${gp.fmtW(h.pv_w)}</td>` +
      `<td>${gp.fmtW(h.grid_w)}</td><td>${h.soc == null ? "—" : gp.fmtPct(h.soc)}</td>` +
      `<td>${gp.fmtWh(h.today_load_wh)}</td><td>${gp.fmtWh(h.today_pv_wh)}</td></tr>`).join("");
    const shown = page.houses.length;
    status.textContent = total === 0 ? "No house matches." :
      `Houses ${offset + 1}–${offset + shown} of ${total}` + (q.value ? ` matching “${q.value}”` : "");
    prev.disabled = offset === 0;
    next.disabled = offset + shown >= total;
  }
  let timer = null;
  q.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(() => { offset = 0; load(); }, 200); });
  sort.addEventListener("change", () => { offset = 0; load(); });
  limitSel.addEventListener("change", () => { offset = 0; load(); });
  prev.addEventListener("click", () => { offset = Math.max(0, offset - Number(limitSel.value)); load(); });
  next.addEventListener("click", () => { offset += Number(limitSel.value); load(); });
  load();
  gp.onOverview(() => { if (Date.now() - last > 3000) load(); });  // readings stay live
})();
