// tillhq's console, the loyalty analytics page (docs/analytics.md): the
// programme's KPIs per period with returns, expired points and NPS, the NPS
// by store, the segments, the distribution of customer lifetime value and
// who is late on their purchase cycle. Loaded after app.js, whose catalog
// (texts), helpers ($, t, api, show, displayMoney, fail) and sections it
// uses; it adds its strings to the one catalog. SVG drawn here: no library.
"use strict";

Object.assign(texts.en, {
  analytics: "Loyalty", anTitle: "Loyalty analytics", asOf: "As of", by: "Rows by", byStore: "store", byRegion: "region", region: "Region",
  anKPI: "Programme KPIs", anNPS: "NPS by store", anSegments: "Segments (customers by home store)", anCLV: "Customer lifetime value",
  anLate: "Who is late", row: "Row", chain: "chain", active: "Active", newMembers: "New", repeatRate: "Repeat rate",
  returnsCount: "Returns", returned: "Returned", returnShare: "Share of revenue", expired: "Points expired", breakage: "Breakage", nps: "NPS",
  answers: "Answers", promoters: "Promoters 9–10", passives: "Passives 7–8", detractors: "Detractors 0–6", responseRate: "Response rate",
  segment: "Segment", customersN: "Customers", meanIndicator: "Mean indicator", valueUpTo: "Value up to", card: "Card", lastPurchase: "Last purchase",
  cycle: "Usual cycle", daysLate: "Days late", stores: "Stores", pAlive: "P(alive)",
  kpiChart: "Revenue and returns per period", npsChart: "NPS by store", segChart: "Customers by segment", clvChart: "Customers by lifetime value",
  revenueBar: "revenue", returnsBar: "returns",
  anTiers: "Tier moves (tier at the last sale before the period → at the last sale in it)", tierMoves: "Moves", tiersUp: "Up", tiersDown: "Down", noTier: "(no tier)",
  lateSummary: (n, asOf) => `${n} customers late on their own purchase cycle as of ${asOf}, longest overdue first.`,
  clvSummary: (r) => r.model && r.model.bgnbd ? `${r.horizon}. Total ${displayMoney(r.total, r.currency)}; a purchase of a new customer is worth ${displayMoney(r.mean_spend, r.currency)}.` : `No model yet: ${(r.model && r.model.why) || "too little data"}.`,
  expiredNote: (p, v) => `Points expired (chain): ${p}${v ? `, worth ${v}` : ""}.`,
  days: (d) => `${d} days`,
  segNames: { new: "new", lost: "lost", at_risk: "at risk", champions: "champions", loyal: "loyal", one_time: "one time", regular: "regular" },
});
Object.assign(texts.ru, {
  analytics: "Лояльность", anTitle: "Аналитика лояльности", asOf: "На дату", by: "Строки по", byStore: "магазинам", byRegion: "регионам", region: "Регион",
  anKPI: "Показатели программы", anNPS: "NPS по магазинам", anSegments: "Сегменты (покупатели по основному магазину)", anCLV: "Ценность клиента (CLV)",
  anLate: "Кто опаздывает", row: "Строка", chain: "сеть", active: "Активные", newMembers: "Новые", repeatRate: "Доля повторных",
  returnsCount: "Возвраты", returned: "Возвращено", returnShare: "Доля выручки", expired: "Сгорело баллов", breakage: "Доля сгорания", nps: "NPS",
  answers: "Ответы", promoters: "Промоутеры 9–10", passives: "Нейтральные 7–8", detractors: "Критики 0–6", responseRate: "Доля ответивших",
  segment: "Сегмент", customersN: "Покупатели", meanIndicator: "Средний индикатор", valueUpTo: "Ценность до", card: "Карта", lastPurchase: "Последняя покупка",
  cycle: "Обычный цикл", daysLate: "Дней опоздания", stores: "Магазины", pAlive: "P(активен)",
  kpiChart: "Выручка и возвраты по периодам", npsChart: "NPS по магазинам", segChart: "Покупатели по сегментам", clvChart: "Покупатели по ценности",
  revenueBar: "выручка", returnsBar: "возвраты",
  anTiers: "Переходы между уровнями (уровень последней покупки до периода → последней в периоде)", tierMoves: "Переходы", tiersUp: "Вверх", tiersDown: "Вниз", noTier: "(без уровня)",
  lateSummary: (n, asOf) => `Опаздывают по своему циклу покупок на ${asOf}: ${n}; сначала самые давние.`,
  clvSummary: (r) => r.model && r.model.bgnbd ? `Ожидаемые покупки за 12 месяцев с дисконтом 1 % в месяц. Всего ${displayMoney(r.total, r.currency)}; покупка нового клиента — ${displayMoney(r.mean_spend, r.currency)}.` : `Модели пока нет: ${(r.model && r.model.why) || "мало данных"}.`,
  expiredNote: (p, v) => `Сгорело баллов (сеть): ${p}${v ? `, на ${v}` : ""}.`,
  days: (d) => `${d} дн.`,
  segNames: { new: "новые", lost: "ушедшие", at_risk: "под угрозой", champions: "чемпионы", loyal: "лояльные", one_time: "разовые", regular: "постоянные" },
});

const AN_SVG = "http://www.w3.org/2000/svg";
let lastAnalytics = null;

// anBuild makes the page's elements once: the form, and per report a title,
// a chart box and a table with its head.
function anBuild() {
  const sec = $("analytics");
  if (sec.childElementCount) return;
  const el = (tag, attrs = {}, ...kids) => {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    e.append(...kids);
    return e;
  };
  const label = (key, input) => el("label", {}, el("span", { "data-i18n": key }), " ", input);
  const select = (id, opts) => el("select", { id }, ...opts.map(([v, key, sel]) => el("option", Object.assign({ value: v, "data-i18n": key }, sel ? { selected: "" } : {}))));
  const table = (body, keys) => el("table", {}, el("thead", {}, el("tr", {}, ...keys.map((k) => el("th", { "data-i18n": k })))), el("tbody", { id: body }));
  sec.append(
    el("h2", { "data-i18n": "anTitle" }),
    el("form", { id: "an-form", class: "inline" },
      label("asOf", el("input", { id: "an-asof", type: "date" })),
      label("store", el("input", { id: "an-store", pattern: "[A-Za-z0-9._\\-]{0,64}" })),
      label("period", select("an-period", [["day", "day"], ["week", "week"], ["month", "month", true]])),
      label("by", select("an-by", [["store", "byStore", true], ["region", "byRegion"]])),
      el("button", { type: "submit", id: "an-submit", "data-i18n": "show" })),
    el("p", { id: "an-error", class: "error", role: "alert" }),
    el("h3", { "data-i18n": "anKPI" }), el("div", { id: "an-kpi-chart", class: "an-chart" }), el("p", { id: "an-expired", class: "hint" }),
    table("an-kpi-rows", ["periodStart", "row", "sales", "revenue", "returnsCount", "returned", "returnShare", "active", "newMembers", "repeatRate",
      "pointsEarned", "pointsSpent", "expired", "nps"]),
    el("h4", { "data-i18n": "anTiers" }), table("an-tier-rows", ["periodStart", "row", "tierMoves", "tiersUp", "tiersDown"]),
    el("h3", { "data-i18n": "anNPS" }), el("div", { id: "an-nps-chart", class: "an-chart" }),
    table("an-nps-rows", ["store", "answers", "promoters", "passives", "detractors", "responseRate", "nps"]),
    el("h3", { "data-i18n": "anSegments" }), el("div", { id: "an-seg-chart", class: "an-chart" }),
    table("an-seg-rows", ["segment", "customersN", "meanIndicator"]),
    el("h3", { "data-i18n": "anCLV" }), el("p", { id: "an-clv-summary", class: "hint" }), el("div", { id: "an-clv-chart", class: "an-chart" }),
    el("h3", { "data-i18n": "anLate" }), el("p", { id: "an-late-summary", class: "hint" }),
    table("an-late-rows", ["card", "holder", "phone", "lastPurchase", "cycle", "daysLate", "stores", "segment", "pAlive"]),
  );
  $("an-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    anLoad();
  });
  translate();
}

function loadAnalytics() {
  anBuild();
  show("analytics");
  if (!lastAnalytics) anLoad();
}

// anLoad asks HQ for the five reports at once and draws them.
async function anLoad() {
  const asOf = $("an-asof").value, store = $("an-store").value;
  const common = new URLSearchParams();
  if (asOf) common.set("as_of", asOf);
  const withStore = new URLSearchParams(common);
  if (store) withStore.set("store", store);
  const kpiQ = new URLSearchParams({ period: $("an-period").value, by: $("an-by").value });
  if (asOf) kpiQ.set("to", asOf);
  if (store && $("an-by").value === "store") kpiQ.set("store", store);
  const [kpi, nps, seg, clv, late] = await Promise.all([
    api("GET", `/v1/report/kpi?${kpiQ}`),
    api("GET", `/v1/report/nps?by=store${asOf ? "&to=" + asOf : ""}`),
    api("GET", `/v1/report/segments?${common}`),
    api("GET", `/v1/report/clv?${withStore}&limit=0`),
    api("GET", `/v1/report/overdue?${withStore}&limit=200`),
  ]);
  for (const r of [kpi, nps, seg, clv, late]) if (r.status !== 200) return fail("an-error", r);
  $("an-error").textContent = "";
  lastAnalytics = { kpi: kpi.data, nps: nps.data, seg: seg.data, clv: clv.data, late: late.data };
  anRender();
}

// anRow appends a table row of [text, numeric] cells with data attributes.
function anRow(body, data, cells) {
  const tr = document.createElement("tr");
  for (const [k, v] of Object.entries(data)) tr.dataset[k] = v;
  for (const [text, num] of cells) {
    const td = document.createElement("td");
    td.textContent = text; // names and cards come from tills: never innerHTML
    if (num) td.className = "num";
    tr.append(td);
  }
  body.append(tr);
}

const pct = (v) => `${(100 * v).toFixed(1)} %`;
const score = (n) => n && n.score !== null && n.score !== undefined ? (n.score > 0 ? "+" : "") + n.score.toFixed(1) : "–";

function anRender() {
  if (!lastAnalytics) return;
  const { kpi, nps, seg, clv, late } = lastAnalytics;
  const cur = kpi.currency;

  // KPIs: the chain's row, then each store's (or region's).
  const kb = $("an-kpi-rows"), tb = $("an-tier-rows");
  kb.replaceChildren();
  tb.replaceChildren();
  const tier = (name) => name || t("noTier");
  let expired = 0, expiredValue = null;
  for (const p of kpi.periods) {
    const c = p.chain;
    if (!c.sales && !(c.returns || {}).count && !c.points_expired && !c.nps) continue; // a period with nothing to say
    const when = kpi.period === "month" ? p.start.slice(0, 7) : p.start === p.end ? p.start : `${p.start} – ${p.end}`;
    const rows = [["", p.chain], ...(kpi.by === "region" ? p.regions || [] : p.stores).map((k) => [kpi.by === "region" ? k.region || "–" : k.store, k])];
    for (const [name, k] of rows) {
      const r = k.returns || { count: 0, amount: 0, share: 0 };
      anRow(kb, { period: p.start, row: name || "chain" }, [[when], [name || t("chain")], [String(k.sales), 1], [displayMoney(k.revenue, cur), 1],
        [String(r.count), 1], [displayMoney(r.amount, cur), 1], [pct(r.share), 1], [String(k.active), 1], [String(k.new), 1], [pct(k.repeat_rate), 1],
        [String(k.points_earned), 1], [String(k.points_redeemed), 1], [k.points_expired === null ? "–" : String(k.points_expired), 1], [score(k.nps), 1]]);
      if ((k.tier_moves || []).length) { // the rows with a card whose tier changed
        const count = (v) => v === null || v === undefined ? "–" : String(v);
        anRow(tb, { period: p.start, row: name || "chain" }, [[when], [name || t("chain")],
          [k.tier_moves.map((m) => `${tier(m.from)} → ${tier(m.to)}: ${m.cards}`).join(", ")], [count(k.tiers_up), 1], [count(k.tiers_down), 1]]);
      }
    }
    expired += p.chain.points_expired || 0;
    if (p.chain.expired_value !== null) expiredValue = (expiredValue || 0) + p.chain.expired_value;
  }
  $("an-expired").textContent = t("expiredNote")(expired, expiredValue === null ? "" : displayMoney(expiredValue, cur));
  anBars($("an-kpi-chart"), "an-kpi-svg", t("kpiChart"), kpi.periods.map((p) => ({
    label: kpi.period === "month" ? p.start.slice(0, 7) : p.start.slice(5),
    bars: [{ value: p.chain.revenue, cls: "bar", tip: `${p.start} ${t("revenueBar")}: ${displayMoney(p.chain.revenue, cur)}` },
      { value: (p.chain.returns || {}).amount || 0, cls: "bar returns", tip: `${p.start} ${t("returnsBar")}: ${displayMoney((p.chain.returns || {}).amount || 0, cur)}` }],
    text: (v) => displayMoney(v, ""),
  })));

  // NPS by store.
  const nb = $("an-nps-rows");
  nb.replaceChildren();
  for (const g of nps.groups) {
    const n = g.nps;
    anRow(nb, { store: g.key }, [[g.key || "–"], [String(n.answers), 1], [`${n.promoters} (${pct(n.promoter_share)})`, 1], [`${n.passives} (${pct(n.passive_share)})`, 1],
      [`${n.detractors} (${pct(n.detractor_share)})`, 1], [pct(n.response_rate), 1], [score(n), 1]]);
  }
  anBars($("an-nps-chart"), "an-nps-svg", t("npsChart"), nps.groups.map((g) => ({
    label: g.key || "–", bars: [{ value: g.nps.score || 0, cls: (g.nps.score || 0) < 0 ? "bar negative" : "bar", tip: `${g.key}: NPS ${score(g.nps)} (${g.nps.answers})` }],
    text: (v) => (v > 0 ? "+" : "") + v.toFixed(1),
  })));

  // Segments.
  const sb = $("an-seg-rows");
  sb.replaceChildren();
  const names = t("segNames");
  for (const s of seg.segments) anRow(sb, { segment: s.segment }, [[names[s.segment] || s.segment], [String(s.customers), 1], [s.mean_indicator.toFixed(1), 1]]);
  anBars($("an-seg-chart"), "an-seg-svg", t("segChart"), seg.segments.map((s) => ({
    label: names[s.segment] || s.segment, bars: [{ value: s.customers, cls: "bar", tip: `${names[s.segment] || s.segment}: ${s.customers}` }], text: String,
  })));

  // Customer lifetime value: how many customers up to each value.
  $("an-clv-summary").textContent = t("clvSummary")(clv);
  anBars($("an-clv-chart"), "an-clv-svg", t("clvChart"), (clv.distribution || []).map((b) => ({
    label: "≤ " + displayMoney(b.up_to, ""),
    bars: [{ value: b.customers, cls: "bar", tip: `${t("valueUpTo")} ${displayMoney(b.up_to, clv.currency)}: ${b.customers}` }], text: String,
  })));

  // Who is late.
  $("an-late-summary").textContent = t("lateSummary")(late.late, late.as_of);
  const lb = $("an-late-rows");
  lb.replaceChildren();
  for (const r of late.rows) {
    anRow(lb, { card: r.card }, [[r.card], [r.holder || "–"], [r.phone || "–"], [r.last], [`${r.cycle_days.toFixed(1)} ± ${r.spread_days.toFixed(1)}`, 1],
      [String(r.days_late), 1], [(r.stores || []).join(", ")], [names[r.segment] || r.segment], [r.p_alive === null ? "–" : r.p_alive.toFixed(2), 1]]);
  }
}

// anBars draws groups of bars as SVG, like the reports page's chart: one
// group per label, each bar with its tooltip (title) and value above it; a
// value below zero goes down from the zero line.
function anBars(box, id, title, groups) {
  box.replaceChildren();
  if (groups.length === 0) return;
  const values = groups.flatMap((g) => g.bars.map((b) => b.value));
  const hi = Math.max(0, ...values), lo = Math.min(0, ...values);
  const span = Math.max(1, hi - lo);
  const W = 720, H = 220, top = 24, bottom = 40, left = 8;
  const zero = top + (H - top - bottom) * hi / span;
  const gw = (W - left) / groups.length;
  const svg = document.createElementNS(AN_SVG, "svg");
  svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
  svg.setAttribute("role", "img");
  svg.id = id;
  const add = (parent, tag, attrs, text) => {
    const e = document.createElementNS(AN_SVG, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    if (text !== undefined) e.textContent = text;
    parent.append(e);
    return e;
  };
  add(svg, "title", {}, title);
  add(svg, "line", { x1: left, x2: W, y1: zero, y2: zero, class: "axis" });
  groups.forEach((g, i) => {
    const bw = gw * 0.8 / g.bars.length;
    g.bars.forEach((b, j) => {
      const h = (H - top - bottom) * Math.abs(b.value) / span;
      const x = left + i * gw + gw * 0.1 + j * bw, y = b.value >= 0 ? zero - h : zero;
      const rect = add(svg, "rect", { x, y, width: bw, height: h, class: b.cls });
      add(rect, "title", {}, b.tip);
      if (groups.length <= 31 && b.value) add(svg, "text", { x: x + bw / 2, y: b.value >= 0 ? y - 4 : y + h + 12, "text-anchor": "middle", class: "value" }, g.text(b.value));
    });
    if (groups.length <= 31) add(svg, "text", { x: left + i * gw + gw / 2, y: H - bottom + 16, "text-anchor": "middle", class: "label" }, g.label);
  });
  box.append(svg);
}

$("nav-analytics").addEventListener("click", loadAnalytics);
$("lang").addEventListener("click", () => { if (!$("analytics").hidden) anRender(); });
translate();
