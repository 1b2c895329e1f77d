// Chain explorer: blocks, transactions, decoded events, accounts; refreshed every 3 s.
// Amounts in the community's currency (ether in the tooltip), energy in Wh/kWh, times local.
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const short = (h) => h ? h.slice(0, 10) + "…" + h.slice(-6) : "—";
  const eth = (wei) => (Number(BigInt(wei) / 10n ** 12n) / 1e6).toFixed(6) + " ETH";
  const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);
  let cur = null;
  function money(wei) {
    if (!cur) return eth(wei);
    const unit = BigInt(cur.wei_per_unit), v = BigInt(wei);
    return `${(v / unit).toLocaleString("en")}.${String((v % unit) * 100n / unit).padStart(2, "0")} ${cur.code}`;
  }
  const cash = (wei) => `<span title="${eth(wei)}">${money(wei)}</span>`;
  async function refresh() {
    try {
      const r = await fetch("/api/chain/explorer?blocks=12");
      if (!r.ok) { $("x-head").textContent = (await r.json()).detail; return; }
      const x = await r.json();
      cur = x.currency;
      $("x-chain").textContent = x.chain_id;
      $("x-head").textContent = "#" + x.head;
      $("x-held").innerHTML = cash(x.contract_balance);
      $("x-contract").textContent = x.contract;
      $("x-tz").textContent = x.tz;
      $("x-roles").textContent = "Roles: " + Object.entries(x.roles).map(([k, v]) => `${k} ${short(v)}`).join(" · ");
      $("x-accounts").innerHTML = x.accounts.map((a) => `<tr><td>${a.house ? "House " + a.house.slice(1) : "—"}</td><td class="mono small">${a.address}</td>
        <td>${a.member ? "yes" : "no"}</td><td>${cash(a.balance)}</td><td>${cash(a.credit)}</td></tr>`).join("");
      $("x-events").innerHTML = x.events.length ? x.events.map((e) => `<tr><td>${e.block}</td><td><strong>${esc(e.name)}</strong></td>
        <td class="small">${Object.entries(e.readable).map(([k, v]) => `<span title="${esc(k)}=${esc(e.fields[k])}">${esc(k)}: ${esc(v)}</span>`).join(", ")}</td>
        <td class="mono small">${short(e.tx)}</td></tr>`).join("") : `<tr><td colspan="4" class="empty">no events yet</td></tr>`;
      $("x-txs").innerHTML = x.txs.length ? x.txs.map((t) => `<tr><td>${t.block}</td><td><strong>${esc(t.method)}</strong></td><td class="mono small">${short(t.from)}</td>
        <td class="mono small">${short(t.to)}</td><td>${cash(t.value)}</td><td class="mono small">${short(t.hash)}</td></tr>`).join("") : `<tr><td colspan="6" class="empty">no transactions in these blocks</td></tr>`;
      $("x-blocks").innerHTML = x.blocks.map((b) => `<tr><td>${b.number}</td><td title="${b.timestamp} (UTC unix s)">${b.time}</td>
        <td>${b.txs}</td><td>${b.gas_used.toLocaleString("en")}</td><td class="mono small">${short(b.hash)}</td></tr>`).join("");
    } catch (e) { console.error(e); }
  }
  refresh();
  setInterval(refresh, 3000);
})();
