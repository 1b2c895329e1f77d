// Energy Market page: status + countdown, forms, offers/requests/trades, balance, wallet.
// Actions go to /api/market/*: as a demo house the server signs with its dev key; with a
// wallet the server returns an unsigned tx and the EIP-1193 provider (MetaMask…) sends it.
// The forms fit the community's market design (window.GP_DESIGN): decentralized – post
// offers/requests and take each other's; centralized/hybrid – sign an order (EIP-712,
// eth_signTypedData_v4 in the wallet) and submit it to the coordinator (/api/orders).
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const DESIGN = window.GP_DESIGN || "decentralized", SIGNED = DESIGN !== "decentralized";
  const signerSel = $("signer"), msg = $("msg");
  let status = null, session = null, busy = false;
  const short = (a) => a ? a.slice(0, 6) + "…" + a.slice(-4) : "—";
  const houseName = (h, a) => h ? "House " + h.slice(1) : short(a);

  // ---------- money and time formatting (wei → currency units; times in schedule local)
  function money(wei) {
    if (wei == null || !status) return "—";
    const unit = BigInt(status.currency.wei_per_unit);
    const v = BigInt(wei), whole = v / unit, frac = (v % unit) * 100n / unit;
    return `${whole.toLocaleString("en")}.${String(frac).padStart(2, "0")} ${status.currency.code}`;
  }
  const price = (wei) => money(wei) + "/kWh";
  const energy = (wh) => wh == null ? "—" : Math.abs(wh) < 10000 ? `${wh.toLocaleString("en")} Wh` : `${(wh / 1000).toLocaleString("en", { maximumFractionDigits: 1 })} kWh`;
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
    if (h) return m ? `${h} h ${m} min` : `${h} h`;
    return m ? (sec % 60 ? `${m} min ${sec % 60} s` : `${m} min`) : `${sec} s`;
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
      throw new Error(Array.isArray(d) ? d.map((e) => e.msg).join("; ") : d || r.statusText);
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
      if (!status) await refresh();  // the market's chain id, before the page's first refresh
      const [address] = await window.ethereum.request({ method: "eth_requestAccounts" });
      if (!(await checkChain())) return;
      const { message } = await api(`/api/auth/message?address=${address}`);
      const signature = await window.ethereum.request({ method: "personal_sign", params: [hex(message), address] });
      session = await api("/api/auth/verify", JSON.stringify({ message, signature }));
      showWho();
      gp.showMember(session);
      say(`Signed in as ${short(session.address)}.`, true);
      refresh();
    } catch (e) { say("Wallet: " + (e.message || e), false); }
  }
  function showWho() {
    const who = $("who");
    if (signerSel.value === "wallet") {
      $("connect").hidden = !!(session && session.address);
      who.innerHTML = session && session.address
        ? `<span class="wallet-badge">wallet</span> ${short(session.address)}` + (session.house ? ` · <a href="/houses/${session.house}/meter" data-testid="my-house">${houseName(session.house)}</a>` : " · no house of this community") : "not signed in";
    } else {
      $("connect").hidden = true;
      who.innerHTML = `<span class="demo-badge" title="The server signs with this house's development key. Never use demo accounts with real money.">demo account</span> server-side dev key`;
    }
  }

  // ---------- actions
  async function act(path, fields, what) {
    if (busy) return;
    const signer = signerSel.value;
    if (signer === "wallet" && !(session && session.address)) { say("Connect your wallet and sign in first.", false); return; }
    busy = true;
    try {
      const body = `{"signer":"${signer}"${fields ? "," + fields : ""}}`;
      const before = credit;
      const out = await api(path, body);
      if (out.tx) {
        if (!(await checkChain())) return;
        const hash = await window.ethereum.request({ method: "eth_sendTransaction", params: [out.tx] });
        say(`Sent from your wallet: ${hash.slice(0, 12)}…` + (what === "withdraw" ? ` Withdrawing ${money(before)}; your wallet shows the gas it costs.` : ""), true);
      } else if (what === "withdraw") {
        const amount = BigInt(out.amount || "0"), fee = BigInt(out.fee || "0");
        const warn = fee > amount ? ` Note: the gas (${money(fee)}) cost more than the credit withdrawn — let credit build up before withdrawing.` : "";
        say(`Withdrew ${money(amount)} to your account; gas cost ${money(fee)}.${warn}`, !warn);
      } else {
        say(`${what}${out.label ? " " + out.label : ""} (tx ${out.tx_hash.slice(0, 10)}…).`, true);
      }
      setTimeout(refresh, 700);
    } catch (e) { say(e.message || String(e), false); }
    finally { busy = false; }
  }
  function toWei(value) {
    const micro = BigInt(Math.round(Number(value) * 1e6));
    return (micro * BigInt(status.currency.wei_per_unit)) / 1000000n;
  }
  for (const form of [$("sell-form"), $("request-form")].filter(Boolean)) {
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      const f = new FormData(form);
      if (!f.get("window")) { say("No delivery window is open for bids now.", false); return; }
      const [s, e] = String(f.get("window")).split("-");
      const wh = parseInt(String(f.get("wh")), 10);
      if (!(wh >= 1)) { say("Energy must be a whole number of Wh, at least 1.", false); return; }
      const p = toWei(f.get("price"));
      if (p < 1n) { say("Price must be above zero.", false); return; }
      act(`/api/market/${form.dataset.side}`, `"wh":${wh},"price":${p},"start":${s},"end":${e}`, form.dataset.side === "offers" ? "Offer posted:" : "Request posted:");
    });
  }
  $("withdraw").addEventListener("click", () => act("/api/market/withdraw", "", "withdraw"));

  // ---------- centralized / hybrid: deposit credit, sign an order, submit it
  if ($("deposit-form")) $("deposit-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const v = toWei(new FormData(ev.target).get("amount"));
    if (v < 1n) { say("Deposit must be above zero.", false); return; }
    act("/api/market/deposit", `"value":${v}`, "Deposited " + money(v));
  });
  // The wire format (docs/market.md): every integer a JSON number; the price may exceed
  // 2^53, so its digits come from a BigInt, never through a double.
  // Trading preferences (buy orders): prefs 1 partner / 2 local / 4 green, premium wei/kWh,
  // partner member index; sent only when not 0 (the wire's rule).
  const orderJson = (o) => `{"maker":"${o.maker}","sell":${o.sell},"wh":${o.wh},"price":${o.price},"start":${o.start},"end":${o.end},"nonce":${o.nonce},"expiry":${o.expiry}`
    + (o.prefs ? `,"prefs":${o.prefs}` : "") + (o.premium ? `,"premium":${o.premium}` : "") + (o.partner ? `,"partner":${o.partner}` : "") + "}";
  const PREFS = { 1: "partner", 2: "local", 4: "green" };
  function prefText(o) {
    const p = Number(o.prefs || 0);
    if (!p) return "";
    const kinds = Object.keys(PREFS).filter((b) => p & Number(b)).map((b) => PREFS[b]).join("/");
    return ` · prefers ${kinds}` + (BigInt(o.premium || 0) > 0n ? ` (+${price(o.premium)})` : "");
  }
  async function nextNonce(maker) {
    const [chain, mine] = await Promise.all([api(`/api/market/nonce/${maker}`), api(`/api/orders?maker=${maker}`)]);
    let n = Number(chain.last_consumed);
    for (const o of mine) n = Math.max(n, Number(o.order.nonce));
    return n + 1;
  }
  async function signOrder(order) {
    const signer = signerSel.value;
    if (signer !== "wallet") {
      const out = await api("/api/market/orders/demo-signature", `{"signer":"${signer}","order":${orderJson(order)}}`);
      return out.signature;
    }
    if (!(await checkChain())) throw new Error("wrong network");
    const td = await api("/api/orders/typed-data");
    const message = { ...order, price: order.price.toString(), premium: order.premium.toString() };
    return window.ethereum.request({ method: "eth_signTypedData_v4", params: [order.maker, JSON.stringify({ ...td, message })] });
  }
  if ($("order-form")) $("order-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    if (busy) return;
    const f = new FormData(ev.target);
    const maker = me();
    if (!maker) { say("Connect your wallet and sign in first.", false); return; }
    if (!f.get("window")) { say("No delivery window is open for bids now.", false); return; }
    const [start, end] = String(f.get("window")).split("-").map(Number);
    const wh = parseInt(String(f.get("wh")), 10);
    if (!(wh >= 1)) { say("Energy must be a whole number of Wh, at least 1.", false); return; }
    const p = toWei(f.get("price"));
    if (p < 1n) { say("Price must be above zero.", false); return; }
    const sell = f.get("side") === "sell";
    const prefs = sell ? 0 : Number(f.get("pref") || 0);
    const premium = prefs && f.get("premium") ? toWei(f.get("premium")) : 0n;
    if (premium < 0n) { say("Premium must not be negative.", false); return; }
    const partnerAddr = prefs === 1 ? (window.GP_ACCOUNTS || {})[String(f.get("partner") || "")] : null;
    if (prefs === 1 && !partnerAddr) { say("Choose the partner house.", false); return; }
    busy = true;
    try {
      const partner = partnerAddr ? Number((await api(`/api/market/nonce/${partnerAddr}`)).member_index) : 0;
      // the order expires at its window's start: it is worth nothing once delivery began
      const order = { maker, sell, wh, price: p, start, end, nonce: await nextNonce(maker), expiry: start, prefs, premium, partner };
      const signature = await signOrder(order);
      const out = await api("/api/orders", `{"order":${orderJson(order)},"signature":"${signature}"}`);
      say(`Signed ${sell ? "sell" : "buy"} order for ${energy(wh)} at ${price(p)} submitted: ${out.state} (order ${out.id.slice(0, 10)}…).`, true);
      setTimeout(refresh, 500);
    } catch (e) { say("Order: " + (e.message || String(e)), false); }
    finally { busy = false; }
  });
  $("connect").addEventListener("click", connect);
  signerSel.addEventListener("change", () => {
    showWho();
    if (signerSel.value === "wallet" && !(session && session.address)) connect();
    refresh();
  });

  // ---------- rendering (keyed: a refresh updates changed cells only, so an amount being
  // typed, the focus and the caret survive every refresh)
  function syncRows(tbody, items, keyOf, rowOf, empty) {
    const want = new Set(items.map(keyOf));
    for (const tr of [...tbody.rows]) if (!want.has(tr.dataset.key)) tr.remove();
    let prev = null;
    for (const it of items) {
      const k = keyOf(it);
      let tr = [...tbody.rows].find((r) => r.dataset.key === k);
      const { cells, attrs } = rowOf(it);
      if (!tr) { tr = document.createElement("tr"); tr.dataset.key = k; }
      for (const [a, v] of Object.entries(attrs || {})) if (tr.getAttribute(a) !== v) tr.setAttribute(a, v);
      cells.forEach((c, i) => {
        const td = tr.cells[i] || tr.insertCell(i);
        const html = typeof c === "string" ? c : c.html, sig = typeof c === "string" ? c : c.sig;
        if (td.dataset.sig !== sig) { td.innerHTML = html; td.dataset.sig = sig; }
      });
      const next = prev ? prev.nextSibling : tbody.firstChild;
      if (next !== tr) tbody.insertBefore(tr, next);
      prev = tr;
    }
    if (!items.length && !(tbody.rows[0] && tbody.rows[0].dataset.key === "")) {
      tbody.innerHTML = `<tr data-key=""><td colspan="${empty[0]}" class="empty">${empty[1]}</td></tr>`;
    }
  }
  function orderRows(tbody, rows, verb, path) {
    const mine = (me() || "").toLowerCase();
    const v = verb.toLowerCase();
    syncRows(tbody, rows, (o) => o.id, (o) => {
      const own = o.owner.toLowerCase() === mine;
      const action = own
        ? { sig: "own", html: `<button type="button" class="secondary" data-cancel="${o.id}">Cancel</button>` }
        : { sig: "take", html: `<label class="visually-hidden" for="amt-${o.id}">Wh to ${v} from ${o.label}</label>
           <input id="amt-${o.id}" class="amt" type="number" min="1" step="1" max="${o.remaining_wh}" value="${o.remaining_wh}" inputmode="numeric">
           <span class="unit">Wh</span>
           <button type="button" data-${path}="${o.id}" data-testid="${v}-${o.id}">${verb}</button>` };
      return {
        attrs: { "data-order": o.id },
        cells: [`<span class="tid" title="id ${o.id}">${o.label}</span>`, `${houseName(o.house, o.owner)}${own ? " (you)" : ""}`,
          energy(o.remaining_wh), price(o.price), windowText(o.start, o.end), action],
      };
    }, [6, "none open"]);
    // amounts the user has not touched follow what remains; typed ones are left alone
    for (const o of rows) {
      const inp = $("amt-" + o.id);
      if (!inp) continue;
      inp.max = String(o.remaining_wh);
      if (!inp.dataset.touched && document.activeElement !== inp) inp.value = String(o.remaining_wh);
    }
  }
  function closedRows(rows) {
    const all = rows.slice().sort((a, b) => b.start - a.start || a.label.localeCompare(b.label));
    $("closed-count").textContent = String(all.length);
    syncRows($("closed"), all, (o) => o.id, (o) => ({
      attrs: { "data-closed": o.id },
      cells: [`<span class="tid" title="id ${o.id}">${o.label}</span>`, o.side === "offer" ? "offer" : "request",
        houseName(o.house, o.owner), `${energy(o.remaining_wh)} unsold`, price(o.price), windowText(o.start, o.end)],
    }), [6, "none"]);
  }
  function tradeRows(rows) {
    const mine = (me() || "").toLowerCase();
    syncRows($("trades"), rows, (t) => t.id, (t) => {
      const sold = t.seller.toLowerCase() === mine;
      const other = sold ? houseName(t.buyer_house, t.buyer) : houseName(t.seller_house, t.seller);
      let settle = "escrow " + money(t.escrow);
      if (t.status === "settled") settle = `${energy(t.delivered_wh)} delivered · ${sold ? "paid " + money(t.seller_paid) : "refund " + money(t.buyer_refund)}`;
      if (t.status === "reclaimed") settle = "reclaimed " + money(t.buyer_refund);
      const now = status ? status.now : 0;
      const reclaim = !sold && t.status === "open" && now >= t.reclaimable_at
        ? ` <button type="button" class="secondary" data-reclaim="${t.id}">Reclaim</button>` : "";
      return {
        attrs: { "data-trade": t.id, "data-phase": t.phase },
        cells: [`<span class="tid" title="id ${t.id}">${t.label}</span>`, sold ? "sold" : "bought", other, energy(t.wh), price(t.price),
          windowText(t.start, t.end),
          `<span class="progress" aria-hidden="true"><span style="width:${Math.round(t.progress * 100)}%"></span></span><span class="phase" data-testid="phase-${t.id}">${t.phase}</span>`,
          settle + reclaim],
      };
    }, [8, "no trades yet"]);
  }
  function clearingText(c) {
    $("st-clearing").textContent = !c ? "none yet"
      : `${c.trades} trade${c.trades === 1 ? "" : "s"}, ${energy(c.volume_wh)}` + (c.price_wei_per_kwh == null ? "" : ` at ${price(c.price_wei_per_kwh)}`)
        + ` for ${windowText(c.window_start, c.window_end)}` + (c.tx ? ` (tx ${c.tx.slice(0, 10)}…)` : "");
  }
  const STATES = { accepted: "accepted: waiting for gate closure", matched: "matched: settling on chain", settled: "settled on chain", dropped: "dropped" };
  function signedRows(rows) {
    const all = rows.slice().sort((a, b) => b.order.start - a.order.start || b.order.nonce - a.order.nonce);
    syncRows($("signed"), all, (o) => String(o.id), (o) => ({
      attrs: { "data-signed": String(o.id), "data-state": o.state },
      cells: [`<span class="tid">#${o.order.nonce}</span>`, (o.order.sell ? "sell" : "buy") + prefText(o.order), energy(o.order.wh),
        `${o.order.sell ? "≥" : "≤"} ${price(o.order.price)}`, windowText(o.order.start, o.order.end),
        `<span class="state" data-testid="state-${o.order.nonce}">${STATES[o.state] || o.state}</span>` + (o.reason ? `: ${esc(o.reason)}` : ""),
        (o.trade_ids || []).map((t) => `<span class="tid" title="id ${t}">${batchLabel(t)}</span>`).join(" ") || "—"],
    }), [7, "no signed orders yet"]);
  }
  // trade j (0-based) of batch b has id (b << 16 | j) << 2: label B<b>.<j+1> (web/units.py)
  function batchLabel(t) {
    const v = BigInt(t);
    return (v & 3n) === 0n ? `B${v >> 18n}.${((v >> 2n) & 0xffffn) + 1n}` : String(v);
  }
  const esc = (t) => t.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  function span(what, a, b) {
    const sp = status.speed || 1;
    const real = sp === 1 ? "" : ` = ${duration((b - a) / sp)} real at ×${sp}`;
    return `${what} ${local(a)}–${local(b)} (${duration(b - a)} model time${real})`;
  }
  // what the signer's house may post in the chosen window (the server's rule, limits.py)
  function hints() {
    if (!status) return;
    const range = `Price ${price(status.tariff_feed_in)}–${price(status.tariff_import)} (the grid's tariff range).`;
    const forms = SIGNED ? [["order-form", "order-hint", $("order-form").elements.side.value === "sell"]]
      : [["sell-form", "sell-hint", true], ["request-form", "request-hint", false]];
    for (const [form, hint, sell] of forms) {
      const w = String(new FormData($(form)).get("window") || "").split("-");
      const hours = w.length === 2 ? (Number(w[1]) - Number(w[0])) / 3600 : 1;
      const house = signerSel.value.startsWith("demo:") ? signerSel.value.slice(5) : null;
      const cap = house && (window.GP_CAPACITY || {})[house];
      let energyText = "";
      if (sell && cap) {
        const max = Math.floor(cap.pv_kwp * 1000 * hours + cap.bess_kwh * 1000);
        energyText = max ? `At most ${energy(max)}: ${cap.pv_kwp} kWp of PV for the whole window${cap.bess_kwh ? ` plus a full ${cap.bess_kwh} kWh battery` : ""}. `
          : "This house has no PV and no battery: nothing to sell. ";
      } else if (!sell) {
        energyText = `At most ${energy(Math.floor((window.GP_CONNECTION_W || 9200) * hours))} (the grid connection). `;
      }
      $(hint).textContent = energyText + range;
    }
  }
  for (const el of document.querySelectorAll("select.windows")) el.addEventListener("change", hints);
  signerSel.addEventListener("change", hints);
  if ($("order-form")) $("order-form").elements.side.addEventListener("change", hints);
  function renderStatus() {
    const s = status;
    const open = $("st-open");
    open.textContent = s.bidding_open ? "Bidding open" : "Bidding closed";
    open.className = "pill " + (s.bidding_open ? "open" : "closed");
    const sp = s.speed || 1;
    const left = s.next_change == null ? "" : `${s.next_change_what} in ${duration(s.next_change - s.now)} model time` + (sp === 1 ? "" : ` (${duration((s.next_change - s.now) / sp)} real)`);
    $("st-countdown").textContent = left;
    $("st-reason").textContent = s.reason;
    $("st-design").textContent = s.design;
    $("st-schedule").textContent = s.schedule;
    $("st-session").textContent = !s.session ? "—"
      : (s.session.bid_open ? span("bidding", s.session.bid_open, s.session.start) + "; " : "") + span("delivery", s.session.start, s.session.end);
    if (SIGNED) {
      const gate = s.gate_closes_at == null ? null : Math.floor(Date.parse(s.gate_closes_at) / 1000);
      $("st-gate").textContent = gate == null ? "no window takes orders now"
        : gate <= s.now ? "closed" : `in ${duration(gate - s.now)} model time` + (sp === 1 ? "" : ` (${duration((gate - s.now) / sp)} real)`) + `, at ${local(gate)} local`;
    }
    $("st-last").textContent = s.last_trade ? `${energy(s.last_trade.wh)} at ${price(s.last_trade.price)} (trade ${s.last_trade.label})` : "none yet";
    $("st-tariff").textContent = `${price(s.tariff_feed_in)} (feed-in) to ${price(s.tariff_import)} (import)`;
    document.querySelectorAll(".cur").forEach((el) => { el.textContent = s.currency.code; });
    const opts = s.open_windows.map((w) => `<option value="${w.start}-${w.end}">${windowText(w.start, w.end)} local</option>`).join("");
    document.querySelectorAll("select.windows").forEach((sel) => {
      const keep = sel.value;
      if (sel.dataset.opts !== opts) { sel.innerHTML = opts || `<option value="">no window open for bids</option>`; sel.dataset.opts = opts; if (keep) sel.value = keep; }
    });
    hints();
  }
  async function refresh() {
    try {
      status = await api("/api/market/status");
      renderStatus();
      showWho();
      const addr = me();
      const trades = addr ? api(`/api/market/trades?account=${addr}`) : Promise.resolve([]);
      if (SIGNED) {
        const [clearings, signed] = await Promise.all([
          api("/api/market/clearings?limit=1"), addr ? api(`/api/orders?maker=${addr}`) : Promise.resolve([]),
        ]);
        clearingText(clearings[0]);
        signedRows(signed);
      } else {
        const [offers, requests] = await Promise.all([api("/api/market/offers?state=all"), api("/api/market/requests?state=all")]);
        orderRows($("offers"), offers.filter((o) => o.bidding_open), "Buy", "buy");
        orderRows($("requests"), requests.filter((o) => o.bidding_open), "Sell", "sell");
        closedRows(offers.concat(requests).filter((o) => !o.bidding_open));
      }
      tradeRows(await trades);
      if (addr) {
        const a = await api(`/api/market/accounts/${addr}`);
        credit = a.credit;
        $("bal-credit").textContent = money(a.credit);
        $("bal-wallet").textContent = money(a.balance);
        $("bal-wallet").title = eth(a.balance);
        $("bal-address").textContent = a.address;
        $("withdraw").disabled = a.credit === "0";
      } else {
        $("bal-credit").textContent = "—"; $("bal-wallet").textContent = "—"; $("bal-address").textContent = "—";
        $("withdraw").disabled = true;
      }
      refreshes += 1;
      document.body.dataset.refreshes = String(refreshes);
    } catch (e) { say(e.message || String(e), false); }
  }
  let credit = "0", refreshes = 0;
  document.addEventListener("input", (ev) => { if (ev.target.classList && ev.target.classList.contains("amt")) ev.target.dataset.touched = "1"; });
  document.addEventListener("click", (ev) => {
    const b = ev.target.closest("button");
    if (!b) return;
    const amount = (id) => { const inp = $("amt-" + id); delete inp.dataset.touched; return parseInt(inp.value, 10) || 0; };
    if (b.dataset.buy) act(`/api/market/offers/${b.dataset.buy}/buy`, `"wh":${amount(b.dataset.buy)}`, "Bought: trade");
    if (b.dataset.sell) act(`/api/market/requests/${b.dataset.sell}/sell`, `"wh":${amount(b.dataset.sell)}`, "Sold: trade");
    if (b.dataset.cancel) act(`/api/market/orders/${b.dataset.cancel}/cancel`, "", "Cancelled");
    if (b.dataset.reclaim) act(`/api/market/trades/${b.dataset.reclaim}/reclaim`, "", "Reclaimed");
  });
  api("/api/auth/session").then((s) => { session = s; showWho(); }).catch(() => {});
  // Refresh on every live-stream tick (about once a wall second), and every 5 s anyway.
  let last = 0;
  gp.onOverview(() => { if (Date.now() - last > 1000) { last = Date.now(); refresh(); } });
  refresh();
  setInterval(() => { if (Date.now() - last > 5000) { last = Date.now(); refresh(); } }, 1000);
})();
