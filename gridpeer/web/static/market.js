// Energy Market page: status + countdown, forms, offers/requests/trades, balance, wallet.
// Actions go to /api/market/*: as a demo house the server signs with its dev key; with a
// wallet the server returns an unsigned tx and the EIP-1193 provider (MetaMask…) sends it.
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const signerSel = $("signer"), msg = $("msg");
  let status = null, session = null, busy = false;
  const short = (a) => a ? a.slice(0, 6) + "…" + a.slice(-4) : "—";
  const houseName = (h, a) => h ? "House " + h.slice(1) : short(a);

  // ---------- money and time formatting (wei → currency units; times in schedule local)
  function money(wei) {
    if (wei == null || !status) return "—";
    const unit = BigInt(status.currency.wei_per_unit);
    const v = BigInt(wei), whole = v / unit, frac = (v % unit) * 100n / unit;
    return `${whole}.${String(frac).padStart(2, "0")} ${status.currency.code}`;
  }
  const price = (wei) => money(wei) + "/kWh";
  const eth = (wei) => (Number(BigInt(wei) / 10n ** 12n) / 1e6).toFixed(4) + " ETH";
  function local(ts) {
    const d = new Date((ts + (status ? status.tz_minutes * 60 : 0)) * 1000);
    return d.toISOString().slice(11, 16);
  }
  function windowText(s, e) {
    const day = new Date((s + status.tz_minutes * 60) * 1000).toISOString().slice(5, 10);
    return `${day} ${local(s)}–${local(e)}`;
  }
  function duration(sec) {
    sec = Math.max(0, Math.round(sec));
    const h = Math.floor(sec / 3600), m = Math.floor((sec % 3600) / 60);
    return h ? `${h} h ${m} min` : `${m} min ${sec % 60} s`;
  }
  function say(text, ok) { msg.textContent = text; msg.className = "msg " + (ok ? "ok" : "err"); }

  // ---------- API
  async function api(path, body) {
    const init = body === undefined ? {} : {
      method: "POST", headers: { "Content-Type": "application/json" }, body,
    };
    const r = await fetch(path, init);
    const data = await r.json().catch(() => ({}));
    if (!r.ok) {
      const d = data.detail;
      throw new Error(Array.isArray(d) ? d.map((e) => `${e.loc.slice(-1)[0]}: ${e.msg}`).join("; ") : d || r.statusText);
    }
    return data;
  }
  function me() {
    if (signerSel.value === "wallet") return session && session.address;
    const h = signerSel.value.slice(5);
    const opt = (window.GP_ACCOUNTS || {})[h];
    return opt;
  }

  // ---------- wallet (EIP-1193) and Sign-In with Ethereum (EIP-4361)
  const hex = (s) => "0x" + Array.from(new TextEncoder().encode(s)).map((b) => b.toString(16).padStart(2, "0")).join("");
  async function checkChain() {
    const want = "0x" + BigInt(status.chain_id).toString(16);
    const got = await window.ethereum.request({ method: "eth_chainId" });
    if (BigInt(got) === BigInt(want)) return true;
    say(`Wrong network: your wallet is on chain ${BigInt(got)}, this community's market runs on chain ${status.chain_id}. Switch networks in your wallet.`, false);
    try { await window.ethereum.request({ method: "wallet_switchEthereumChain", params: [{ chainId: want }] }); }
    catch (e) { return false; }
    return BigInt(await window.ethereum.request({ method: "eth_chainId" })) === BigInt(want);
  }
  async function connect() {
    if (!window.ethereum) { say("No browser wallet found. Install MetaMask (or another EIP-1193 wallet), or trade as a demo house.", false); return; }
    try {
      const [address] = await window.ethereum.request({ method: "eth_requestAccounts" });
      if (!(await checkChain())) return;
      const { message } = await api(`/api/auth/message?address=${address}`);
      const signature = await window.ethereum.request({ method: "personal_sign", params: [hex(message), address] });
      session = await api("/api/auth/verify", JSON.stringify({ message, signature }));
      showWho();
      say(`Signed in as ${short(session.address)}.`, true);
      refresh();
    } catch (e) { say("Wallet: " + (e.message || e), false); }
  }
  function showWho() {
    const who = $("who");
    if (signerSel.value === "wallet") {
      $("connect").hidden = !!(session && session.address);
      who.innerHTML = session && session.address
        ? `<span class="wallet-badge">wallet</span> ${short(session.address)}` : "not signed in";
    } else {
      $("connect").hidden = true;
      who.innerHTML = `<span class="demo-badge" title="The server signs with this house's development key. Never use demo accounts with real money.">demo account</span> server-side dev key`;
    }
  }

  // ---------- actions
  async function act(path, fields) {
    if (busy) return;
    const signer = signerSel.value;
    if (signer === "wallet" && !(session && session.address)) { say("Connect your wallet and sign in first.", false); return; }
    busy = true;
    try {
      const body = `{"signer":"${signer}"${fields ? "," + fields : ""}}`;
      const out = await api(path, body);
      if (out.tx) {
        if (!(await checkChain())) return;
        const hash = await window.ethereum.request({ method: "eth_sendTransaction", params: [out.tx] });
        say(`Sent from your wallet: ${hash.slice(0, 12)}…`, true);
      } else {
        say(`Done (tx ${out.tx_hash.slice(0, 12)}…${out.id ? ", id " + out.id : ""}).`, true);
      }
      setTimeout(refresh, 700);
    } catch (e) { say(e.message || String(e), false); }
    finally { busy = false; }
  }
  function toWei(value) {
    const micro = BigInt(Math.round(Number(value) * 1e6));
    return (micro * BigInt(status.currency.wei_per_unit)) / 1000000n;
  }
  for (const form of [$("sell-form"), $("request-form")]) {
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      const f = new FormData(form);
      if (!f.get("window")) { say("No delivery window is open for bids now.", false); return; }
      const [s, e] = String(f.get("window")).split("-");
      const wh = parseInt(String(f.get("wh")), 10);
      if (!(wh >= 1)) { say("Energy must be a whole number of Wh, at least 1.", false); return; }
      const p = toWei(f.get("price"));
      if (p < 1n) { say("Price must be above zero.", false); return; }
      act(`/api/market/${form.dataset.side}`, `"wh":${wh},"price":${p},"start":${s},"end":${e}`);
    });
  }
  $("withdraw").addEventListener("click", () => act("/api/market/withdraw", ""));
  $("connect").addEventListener("click", connect);
  signerSel.addEventListener("change", () => {
    showWho();
    if (signerSel.value === "wallet" && !(session && session.address)) connect();
    refresh();
  });

  // ---------- rendering
  function orderRows(tbody, rows, verb, path) {
    const mine = (me() || "").toLowerCase();
    if (!rows.length) { tbody.innerHTML = `<tr><td colspan="6" class="empty">none open</td></tr>`; return; }
    tbody.innerHTML = rows.map((o) => {
      const own = o.owner.toLowerCase() === mine;
      const action = own
        ? `<button type="button" class="secondary" data-cancel="${o.id}">Cancel</button>`
        : `<label class="visually-hidden" for="amt-${o.id}">Wh to ${verb.toLowerCase()}</label>
           <input id="amt-${o.id}" type="number" min="1" max="${o.remaining_wh}" value="${o.remaining_wh}" aria-label="Wh to ${verb.toLowerCase()} from #${o.id}">
           <button type="button" data-${path}="${o.id}" data-testid="${verb.toLowerCase()}-${o.id}">${verb}</button>`;
      return `<tr data-order="${o.id}"><td>${o.id}</td><td>${houseName(o.house, o.owner)}${own ? " (you)" : ""}</td>
        <td>${o.remaining_wh} Wh</td><td>${price(o.price)}</td><td>${windowText(o.start, o.end)}</td><td>${action}</td></tr>`;
    }).join("");
  }
  function tradeRows(rows) {
    const mine = (me() || "").toLowerCase();
    const tb = $("trades");
    if (!rows.length) { tb.innerHTML = `<tr><td colspan="8" class="empty">no trades yet</td></tr>`; return; }
    tb.innerHTML = rows.map((t) => {
      const sold = t.seller.toLowerCase() === mine;
      const other = sold ? houseName(t.buyer_house, t.buyer) : houseName(t.seller_house, t.seller);
      let settle = "escrow " + money(t.escrow);
      if (t.status === "settled") settle = `${t.delivered_wh} Wh delivered · ${sold ? "paid " + money(t.seller_paid) : "refund " + money(t.buyer_refund)}`;
      if (t.status === "reclaimed") settle = "reclaimed " + money(t.buyer_refund);
      const now = status ? status.now : 0;
      const reclaim = !sold && t.status === "open" && now >= t.reclaimable_at
        ? ` <button type="button" class="secondary" data-reclaim="${t.id}">Reclaim</button>` : "";
      return `<tr data-trade="${t.id}" data-phase="${t.phase}"><td>${t.id}</td><td>${sold ? "sold" : "bought"}</td><td>${other}</td>
        <td>${t.wh} Wh</td><td>${price(t.price)}</td><td>${windowText(t.start, t.end)}</td>
        <td><span class="progress" aria-hidden="true"><span style="width:${Math.round(t.progress * 100)}%"></span></span><span class="phase" data-testid="phase-${t.id}">${t.phase}</span></td>
        <td>${settle}${reclaim}</td></tr>`;
    }).join("");
  }
  function renderStatus() {
    const s = status;
    const open = $("st-open");
    open.textContent = s.bidding_open ? "Bidding open" : "Bidding closed";
    open.className = "pill " + (s.bidding_open ? "open" : "closed");
    const left = s.next_change == null ? "" : `${s.next_change_what} in ${duration(s.next_change - s.now)} (model time, ${duration((s.next_change - s.now) / (window.GP_SPEED || 1))} real)`;
    $("st-countdown").textContent = left;
    $("st-reason").textContent = s.reason;
    $("st-design").textContent = s.design;
    $("st-schedule").textContent = s.schedule;
    $("st-last").textContent = s.last_trade ? `${s.last_trade.wh} Wh at ${price(s.last_trade.price)} (trade ${s.last_trade.id})` : "none yet";
    document.querySelectorAll(".cur").forEach((el) => { el.textContent = s.currency.code; });
    const opts = s.open_windows.map((w) => `<option value="${w.start}-${w.end}">${windowText(w.start, w.end)} local</option>`).join("");
    document.querySelectorAll("select.windows").forEach((sel) => {
      const keep = sel.value;
      if (sel.dataset.opts !== opts) { sel.innerHTML = opts || `<option value="">no window open for bids</option>`; sel.dataset.opts = opts; if (keep) sel.value = keep; }
    });
  }
  async function refresh() {
    try {
      status = await api("/api/market/status");
      renderStatus();
      showWho();
      const addr = me();
      const [offers, requests, trades] = await Promise.all([
        api("/api/market/offers"), api("/api/market/requests"),
        addr ? api(`/api/market/trades?account=${addr}`) : Promise.resolve([]),
      ]);
      orderRows($("offers"), offers, "Buy", "buy");
      orderRows($("requests"), requests, "Sell", "sell");
      tradeRows(trades);
      if (addr) {
        const a = await api(`/api/market/accounts/${addr}`);
        $("bal-credit").textContent = money(a.credit);
        $("bal-wallet").textContent = eth(a.balance);
        $("bal-address").textContent = a.address;
        $("withdraw").disabled = a.credit === "0";
      } else {
        $("bal-credit").textContent = "—"; $("bal-wallet").textContent = "—"; $("bal-address").textContent = "—";
        $("withdraw").disabled = true;
      }
    } catch (e) { say(e.message || String(e), false); }
  }
  document.addEventListener("click", (ev) => {
    const b = ev.target.closest("button");
    if (!b) return;
    if (b.dataset.buy) act(`/api/market/offers/${b.dataset.buy}/buy`, `"wh":${parseInt($("amt-" + b.dataset.buy).value, 10) || 0}`);
    if (b.dataset.sell) act(`/api/market/requests/${b.dataset.sell}/sell`, `"wh":${parseInt($("amt-" + b.dataset.sell).value, 10) || 0}`);
    if (b.dataset.cancel) act(`/api/market/orders/${b.dataset.cancel}/cancel`, "");
    if (b.dataset.reclaim) act(`/api/market/trades/${b.dataset.reclaim}/reclaim`, "");
  });
  gp.onOverview((ov) => { window.GP_SPEED = ov.speed; });
  api("/api/auth/session").then((s) => { session = s; showWho(); }).catch(() => {});
  // Refresh on every live-stream tick (about once a wall second), and every 5 s anyway.
  let last = 0;
  gp.onOverview(() => { if (Date.now() - last > 1000) { last = Date.now(); refresh(); } });
  refresh();
  setInterval(() => { if (Date.now() - last > 5000) { last = Date.now(); refresh(); } }, 1000);
})();
