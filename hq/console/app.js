// tillhq's console: no framework, no CDN, served from tillhq itself.
"use strict";

const texts = {
  en: {
    lang: "RU", logout: "Log out", login: "Log in", name: "Name", password: "Password", fleet: "Fleet",
    terminal: "Terminal", state: "State", last: "Last contact", tilld: "tilld", ruleset: "Ruleset",
    waiting: "Sales waiting", oldest: "Oldest waiting", online: "online", offline: "offline", revoked: "revoked",
    rules: "Rules", check: "Check", publish: "Publish", diff: "Changes against the active ruleset",
    activeRules: (v) => v ? `Active ruleset: version ${v}.` : "No ruleset published yet.",
    checkOK: (r) => `OK: version ${r.version}, ${r.currency}, ${r.rules} rules.`, checkBad: "The ruleset has errors:",
    published: (v) => `Published version ${v}: the tills get it now.`, line: "line", warning: "warning", noChanges: "(no changes)",
    adminLog: "Admin log", enroll: "Enroll a terminal", store: "Store", enrollButton: "Make a one-time token",
    tokenOnce: "Shown once: hand it to store IT for tilld enroll.", revoke: "Revoke a terminal", revokeType: "Type the terminal id",
    revokeButton: "Revoke for good", revokedAt: (id, at) => `${id} revoked at ${at}.`, at: "When", operator: "Who", action: "What",
    target: "Target", outcome: "Outcome", from: "From", detail: "Detail",
    chainOK: "Hash chain intact.", chainBroken: (why) => `Hash chain BROKEN: ${why}`,
    badLogin: "Wrong name or password.",
    summary: (n, off, attn, cur) => `${n} terminals, ${off} offline, ${attn} needing attention; current ruleset ${cur}.`,
    readers: "Readers", skew: "Clock skew", secs: "s", certLeft: "Certificate", noReaders: "none",
    certDays: (d) => d < 0 ? "expired" : `${d} d`, dur: (s) => dur(s, "s", "min", "h", "d"),
    fleetLimits: (f) => `Offline: no contact for ${dur(f.offline_after_s, "s", "min", "h", "d")}. Flagged: sales waiting longer than that, a reader down, a clock off by more than ${f.max_skew_s} s, a certificate with less than ${f.cert_warn_days} days left, an older ruleset.`,
    fleetFilter: "Show", fleetAll: "all terminals", fleetAttention: "only those needing attention", fleetFind: "Terminal or store",
    fleetShown: (n, all) => `Shown: ${n} of ${all}.`, fleetMore: (n) => `Show ${n} more`,
    cardOrPhone: "Card number or phone", matches: (n, q) => n === 1 ? `1 card holder whose phone ends with ${q}.` : `${n} card holders whose phone ends with ${q}; choose one.`, moreMatches: (n) => `More than ${n}: type more digits.`,
    noMatch: (q) => `No card ${q} and no card holder whose phone ends with ${q}.`, purchases: "Purchases and returns, every store", kind: "Kind",
    saleKind: "Sale", returnKind: (of) => `Return of ${of}`, receipt: "Receipt", paidTotal: "Total", discount: "Discount",
    noPurchases: "No purchases at HQ.", purchasesShown: (n, more) => more ? `The newest ${n}; older ones are not shown.` : `${n} in all.`,
    customers: "Customers", cardNumber: "Card number", find: "Find", holder: "Card holder", account: "Account, every store",
    forget: "Forget the holder", forgetHint: "Erases the name, phone, e-mail and birthday at HQ and on every till; the account and the sales stay. Type the card number to confirm.",
    forgetButton: "Forget for good", noHolder: "No holder known (never registered, or forgotten).", notFound: (c) => `No card ${c} at HQ: no sale and no holder.`,
    found: (c) => `Card ${c}.`, forgotten: (c) => `The holder of card ${c} is forgotten, at HQ and on every till.`, forgetMismatch: "Type the same card number to confirm.",
    fullName: "Name", phone: "Phone", email: "E-mail", birthday: "Birthday", consent: "Consent to contact", registered: "Registered", yes: "yes", no: "no",
    spend: "Lifetime spend", points: "Points", salesCount: "Purchases", lastSale: "Last purchase", overdraft: "Overdraft (points)", currencyNone: "no ruleset yet",
    reports: "Reports", period: "Period", day: "day", week: "week", month: "month", fromDay: "From", toDay: "To", show: "Show", csv: "Download CSV",
    periodStart: "Period", sales: "Sales", cardSales: "With a card", revenue: "Revenue", pointsEarned: "Points earned", pointsSpent: "Points spent",
    byTerminal: "Sales, returns and net by terminal (all time)", total: "Sold", returns: "Returns", refunded: "Refunded", net: "Net", allStores: "all stores",
    partnerOwed: "Partner points owed", partner: "Partner",
    discountsByRule: "Discounts and points by rule", discountGiven: "Discount", overdrafts: "Offline overdrafts (points redeemed beyond the balance)",
    owed: "Still owed", recorded: "Overdrawn in all", firstAt: "First", lastAt: "Last",
    charityTitle: "Charity by cause (returns counted where and when they were made)", cause: "Cause", given: "Given", pointsGiven: "Points given",
    givenBack: "Returned", pointsBack: "Points returned", rafflesTitle: "Raffle winners", when: "When", tickets: "Tickets", won: "Won",
    prize: "Prize", receiptCode: "Receipt code", raffleState: "State", raffleValid: "valid", raffleVoid: "void: the sale was returned",
    notYet: (m) => `Not in these figures: ${m}.`, chartTitle: "Revenue per period",
    effectiveFrom: "Takes effect (empty: at once; each till's wall clock)", versionsTitle: "Published versions", version: "Version", effective: "Takes effect",
    rulesCount: "Rules", atOnce: "at once", rollback: "Roll back to this", activeEffective: (v, at) => `Newest ruleset: version ${v}, takes effect ${at} (the tills keep the one before until then).`,
    scheduled: (v, at) => `Published version ${v}: the tills take it now and price with it from ${at}.`,
    rolledBack: (from, v) => `Rolled back to version ${from}: published as version ${v}, in effect at once.`,
    simTitle: "Simulation against the sales HQ holds", simulate: "Simulate", live: "Live rules", draft: "Draft", change: "Change",
    simByRule: "By rule", simByStore: "By store", rule: "Rule", kind: "Kind", salesLive: "Sales, live", salesDraft: "Sales, draft",
    discountLive: "Discount, live", discountDraft: "Discount, draft", pointsLive: "Points, live", pointsDraft: "Points, draft",
    customersAffected: "Customers affected", discounts: "Discounts", paid: "Paid", pointsRedeemed: "Points redeemed", newRule: "new", goneRule: "not in the draft",
    simSummary: (s) => `Version ${s.version} on the sales of ${s.from} to ${s.to}${s.store ? ", store " + s.store : ""}: ${s.sales} sales priced again, ${s.changed} priced otherwise, ${s.customers} customers affected.`,
    simLeft: (s) => `Left out: ${s.unpriceable} sales recorded before tills kept their inputs, ${s.other_currency} in another currency, ${s.failed} the engine refused${s.first_failure ? " (first: " + s.first_failure + ")" : ""}.`,
    ago: (s) => `${dur(s, "s", "min", "h", "d")} ago`,
  },
  ru: {
    lang: "EN", logout: "Выйти", login: "Войти", name: "Имя", password: "Пароль", fleet: "Кассы",
    terminal: "Касса", state: "Состояние", last: "Последняя связь", tilld: "tilld", ruleset: "Правила",
    waiting: "Продаж в очереди", oldest: "Самая старая в очереди", online: "на связи", offline: "нет связи", revoked: "отозвана",
    rules: "Правила", check: "Проверить", publish: "Опубликовать", diff: "Изменения относительно действующих правил",
    activeRules: (v) => v ? `Действуют правила версии ${v}.` : "Правила ещё не опубликованы.",
    checkOK: (r) => `Без ошибок: версия ${r.version}, ${r.currency}, правил: ${r.rules}.`, checkBad: "В правилах ошибки:",
    published: (v) => `Опубликована версия ${v}: кассы получат её сейчас.`, line: "строка", warning: "предупреждение", noChanges: "(без изменений)",
    adminLog: "Журнал действий", enroll: "Подключить кассу", store: "Магазин", enrollButton: "Выдать одноразовый токен",
    tokenOnce: "Показывается один раз: передайте его ИТ магазина для tilld enroll.", revoke: "Отозвать кассу", revokeType: "Введите номер кассы",
    revokeButton: "Отозвать навсегда", revokedAt: (id, at) => `Касса ${id} отозвана: ${at}.`, at: "Когда", operator: "Кто", action: "Что",
    target: "Объект", outcome: "Итог", from: "Откуда", detail: "Подробности",
    chainOK: "Цепочка хешей цела.", chainBroken: (why) => `Цепочка хешей НАРУШЕНА: ${why}`,
    badLogin: "Неверное имя или пароль.",
    summary: (n, off, attn, cur) => `Касс: ${n}, без связи: ${off}, требуют внимания: ${attn}; текущие правила: ${cur}.`,
    readers: "Считыватели", skew: "Расхождение часов", secs: "с", certLeft: "Сертификат", noReaders: "нет",
    certDays: (d) => d < 0 ? "истёк" : `${d} дн.`, dur: (s) => dur(s, "с", "мин", "ч", "д"),
    fleetLimits: (f) => `Нет связи: касса не выходила на связь ${dur(f.offline_after_s, "с", "мин", "ч", "д")}. Отмечено: продажи ждут дольше этого, не работает считыватель, часы расходятся больше чем на ${f.max_skew_s} с, сертификату осталось меньше ${f.cert_warn_days} дней, правила старее текущих.`,
    fleetFilter: "Показать", fleetAll: "все кассы", fleetAttention: "только требующие внимания", fleetFind: "Касса или магазин",
    fleetShown: (n, all) => `Показано: ${n} из ${all}.`, fleetMore: (n) => `Показать ещё ${n}`,
    cardOrPhone: "Номер карты или телефон", matches: (n, q) => `Владельцев карт с телефоном на ${q}: ${n}; выберите одного.`, moreMatches: (n) => `Больше ${n}: введите больше цифр.`,
    noMatch: (q) => `Нет ни карты ${q}, ни владельца карты с телефоном на ${q}.`, purchases: "Покупки и возвраты во всех магазинах", kind: "Вид",
    saleKind: "Продажа", returnKind: (of) => `Возврат ${of}`, receipt: "Чек", paidTotal: "Сумма", discount: "Скидка",
    noPurchases: "Покупок в HQ нет.", purchasesShown: (n, more) => more ? `Последние ${n}; более ранние не показаны.` : `Всего: ${n}.`,
    customers: "Покупатели", cardNumber: "Номер карты", find: "Найти", holder: "Владелец карты", account: "Счёт во всех магазинах",
    forget: "Забыть владельца", forgetHint: "Стирает имя, телефон, e-mail и день рождения в HQ и на всех кассах; счёт и продажи остаются. Введите номер карты для подтверждения.",
    forgetButton: "Забыть навсегда", noHolder: "Владелец неизвестен (не регистрировался или забыт).", notFound: (c) => `Карты ${c} в HQ нет: ни продаж, ни владельца.`,
    found: (c) => `Карта ${c}.`, forgotten: (c) => `Владелец карты ${c} забыт в HQ и на всех кассах.`, forgetMismatch: "Введите тот же номер карты для подтверждения.",
    fullName: "Имя", phone: "Телефон", email: "E-mail", birthday: "День рождения", consent: "Согласие на связь", registered: "Зарегистрирован", yes: "да", no: "нет",
    spend: "Всего покупок на", points: "Баллы", salesCount: "Покупок", lastSale: "Последняя покупка", overdraft: "Перерасход (баллы)", currencyNone: "правил ещё нет",
    reports: "Отчёты", period: "Период", day: "день", week: "неделя", month: "месяц", fromDay: "С", toDay: "По", show: "Показать", csv: "Скачать CSV",
    periodStart: "Период", sales: "Продажи", cardSales: "С картой", revenue: "Выручка", pointsEarned: "Начислено баллов", pointsSpent: "Списано баллов",
    byTerminal: "Продажи, возвраты и итог по кассам (за всё время)", total: "Продано", returns: "Возвраты", refunded: "Возвращено", net: "Итог", allStores: "все магазины",
    partnerOwed: "Партнёрские баллы к оплате", partner: "Партнёр",
    discountsByRule: "Скидки и баллы по правилам", discountGiven: "Скидка", overdrafts: "Перерасход баллов без связи (списано сверх остатка)",
    owed: "Ещё не погашено", recorded: "Всего перерасход", firstAt: "Первый", lastAt: "Последний",
    charityTitle: "Благотворительность по получателям (возвраты — где и когда оформлены)", cause: "Получатель", given: "Пожертвовано",
    pointsGiven: "Баллов пожертвовано", givenBack: "Возвращено", pointsBack: "Баллов возвращено", rafflesTitle: "Победители розыгрышей",
    when: "Когда", tickets: "Билетов", won: "Выиграно", prize: "Приз", receiptCode: "Код на чеке", raffleState: "Состояние",
    raffleValid: "действителен", raffleVoid: "аннулирован: покупку вернули",
    notYet: (m) => `Не входит в эти цифры: ${m}.`, chartTitle: "Выручка по периодам",
    effectiveFrom: "Действует с (пусто: сразу; по часам каждой кассы)", versionsTitle: "Опубликованные версии", version: "Версия", effective: "Действует с",
    rulesCount: "Правил", atOnce: "сразу", rollback: "Вернуть эту", activeEffective: (v, at) => `Новейшие правила: версия ${v}, действуют с ${at} (до тех пор кассы работают по прежним).`,
    scheduled: (v, at) => `Опубликована версия ${v}: кассы получат её сейчас и будут применять с ${at}.`,
    rolledBack: (from, v) => `Возврат к версии ${from}: опубликована как версия ${v}, действует сразу.`,
    simTitle: "Симуляция на продажах, которые есть в HQ", simulate: "Симулировать", live: "Действующие", draft: "Черновик", change: "Разница",
    simByRule: "По правилам", simByStore: "По магазинам", rule: "Правило", kind: "Вид", salesLive: "Продаж, сейчас", salesDraft: "Продаж, черновик",
    discountLive: "Скидка, сейчас", discountDraft: "Скидка, черновик", pointsLive: "Баллы, сейчас", pointsDraft: "Баллы, черновик",
    customersAffected: "Затронуто покупателей", discounts: "Скидки", paid: "Оплачено", pointsRedeemed: "Списано баллов", newRule: "новое", goneRule: "нет в черновике",
    simSummary: (s) => `Версия ${s.version} на продажах с ${s.from} по ${s.to}${s.store ? ", магазин " + s.store : ""}: пересчитано продаж: ${s.sales}, изменилось: ${s.changed}, затронуто покупателей: ${s.customers}.`,
    simLeft: (s) => `Не вошли: ${s.unpriceable} продаж без сохранённых входных данных, ${s.other_currency} в другой валюте, ${s.failed} отвергнуто движком${s.first_failure ? " (первая: " + s.first_failure + ")" : ""}.`,
    ago: (s) => `${dur(s, "с", "мин", "ч", "д")} назад`,
  },
};
let lang = localStorage.getItem("tillhq-lang") || (navigator.language.startsWith("ru") ? "ru" : "en");
const t = (k) => texts[lang][k];
const $ = (id) => document.getElementById(id);

function translate() {
  document.documentElement.lang = lang;
  for (const el of document.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
}

async function api(method, path, body) {
  const opts = { method, credentials: "same-origin", headers: {} };
  if (body !== undefined) {
    opts.headers["Content-Type"] = "application/json";
    opts.body = JSON.stringify(body);
  }
  const resp = await fetch(path, opts);
  let data = null;
  if (resp.status !== 204) data = await resp.json().catch(() => null);
  return { status: resp.status, data };
}

const SECTIONS = ["fleet", "rules", "customers", "reports", "analytics", "log"];

function showLogin() {
  $("login").hidden = false;
  for (const sec of SECTIONS) {
    $(sec).hidden = true;
    $(`nav-${sec}`).hidden = true;
  }
  $("logout").hidden = true;
  $("who").textContent = "";
}

async function start() {
  translate();
  const me = await api("GET", "/v1/admin/me");
  if (me.status !== 200) return showLogin();
  $("login").hidden = true;
  $("logout").hidden = false;
  $("who").textContent = me.data.open ? "(open)" : `${me.data.name} (${me.data.role})`;
  const role = me.data.role, admin = role === "admin";
  const reads = admin || role === "analyst";
  $("nav-fleet").hidden = !reads;
  $("nav-rules").hidden = false;
  $("nav-customers").hidden = !(admin || role === "support");
  $("nav-reports").hidden = !reads;
  $("nav-analytics").hidden = !reads; // analytics.js
  $("nav-log").hidden = !admin;
  for (const f of document.querySelectorAll(".actions form")) f.hidden = !admin;
  if (role === "support") return loadCustomers();
  if (role === "marketing") return loadRules();
  await loadFleet();
}

// dur is a duration of s seconds a person reads: its two largest units.
function dur(s, sec, min, hour, day) {
  s = Math.max(0, Math.round(s));
  if (s < 60) return `${s} ${sec}`;
  if (s < 3600) return `${Math.floor(s / 60)} ${min}`;
  if (s < 86400) return `${Math.floor(s / 3600)} ${hour} ${Math.floor(s % 3600 / 60)} ${min}`;
  return `${Math.floor(s / 86400)} ${day} ${Math.floor(s % 86400 / 3600)} ${hour}`;
}

function show(id) {
  for (const sec of SECTIONS) $(sec).hidden = sec !== id;
}

// The fleet page: HQ answers the terminals in the order of what needs
// attention (wire.Fleet), with their status judged at HQ's clock, filtered
// by terminal or store and by attention, FLEET_PAGE rows at a time (10 000
// rows of DOM take seconds to lay out, and their JSON a while to come):
// more on demand.
const FLEET_PAGE = 200;
let fleet = null; // the last answer
let fleetShown = FLEET_PAGE;

// ATTENTION_CELLS: the cells each attention reason highlights.
const ATTENTION_CELLS = {
  offline: ["state", "waiting", "oldest"], waiting: ["waiting", "oldest"], silent: ["state", "last"],
  reader: ["readers"], clock: ["skew"], cert: ["cert"], ruleset: ["ruleset"],
};

async function loadFleet() {
  show("fleet");
  const q = new URLSearchParams({ limit: String(fleetShown) });
  const find = $("fleet-find").value.trim();
  if (find) q.set("find", find);
  if ($("fleet-only").value === "attention") q.set("attention", "1");
  const res = await api("GET", "/v1/admin/fleet?" + q);
  if (res.status !== 200) {
    $("fleet-error").textContent = (res.data && res.data.error) || `HTTP ${res.status}`;
    return;
  }
  $("fleet-error").textContent = "";
  fleet = res.data;
  renderFleet();
}

function fleetRow(term) {
  const tr = document.createElement("tr");
  tr.dataset.terminal = term.terminal;
  const attn = term.attention || [];
  const hot = new Set(attn.flatMap((a) => ATTENTION_CELLS[a] || []));
  tr.className = [term.status, attn.length ? "attn" : "", term.revoked ? "revoked" : ""].join(" ").trim();
  const skew = term.clock_skew_s;
  const cells = [
    [term.terminal, "terminal"], [term.store || "", "store"], [t(term.status), "state"], [t("ago")(term.contact_age_s), "last"],
    [term.tilld || "", "tilld"], [String(term.ruleset), "ruleset num"], [String(term.waiting), "waiting num"],
    [term.oldest_wait ? t("dur")(term.oldest_age_s) : "", "oldest num"],
    [term.readers ? `${term.readers_up}/${term.readers}${term.reader_error ? " " + term.reader_error : ""}` : t("noReaders"), "readers"],
    [skew === undefined ? "" : skewText(skew), "skew num"],
    [term.cert_days_left === undefined ? "" : t("certDays")(term.cert_days_left), "cert num"],
  ];
  for (const [text, cls] of cells) {
    const td = document.createElement("td");
    td.textContent = text; // never innerHTML: terminal ids, versions and errors come from tills
    td.className = hot.has(cls.split(" ")[0]) ? cls + " late" : cls;
    tr.append(td);
  }
  tr.children[3].title = fmt().date.format(new Date(term.last_contact));
  if (term.reader_error) tr.children[8].title = term.reader_error;
  if (term.oldest_wait) tr.children[7].title = fmt().date.format(new Date(term.oldest_wait));
  return tr;
}

// skewText is a clock skew of s seconds: signed, to a tenth of a second
// under a minute.
function skewText(s) {
  const abs = Math.abs(s);
  if (abs < 0.05) return `0 ${t("secs")}`;
  const sign = s < 0 ? "−" : "+";
  return sign + (abs < 60 ? `${fmt().tenths.format(abs)} ${t("secs")}` : t("dur")(abs));
}

// fmt returns the page language's formatters, made once: toLocaleString
// makes one per call, which costs more than the rest of a fleet row.
let formats = null;
function fmt() {
  if (!formats || formats.lang !== lang) {
    formats = { lang, date: new Intl.DateTimeFormat(lang, { dateStyle: "short", timeStyle: "medium" }), tenths: new Intl.NumberFormat(lang, { maximumFractionDigits: 1 }) };
  }
  return formats;
}

// renderFleet shows the last answer: the rows built into a fragment and put
// in the table at once (one layout).
function renderFleet() {
  if (!fleet) return;
  const frag = document.createDocumentFragment();
  for (const term of fleet.terminals) frag.append(fleetRow(term));
  $("terminals").replaceChildren(frag);
  $("summary").textContent = t("summary")(fleet.total, fleet.offline_count, fleet.attention_count, fleet.current_ruleset);
  $("fleet-limits").textContent = t("fleetLimits")(fleet);
  $("fleet-shown").textContent = t("fleetShown")(fleet.terminals.length, fleet.matching);
  const more = fleet.matching - fleet.terminals.length;
  $("fleet-more").hidden = more <= 0;
  $("fleet-more").textContent = t("fleetMore")(Math.min(more, FLEET_PAGE));
}

let fleetTyping = 0;
$("fleet-find").addEventListener("input", () => {
  clearTimeout(fleetTyping);
  fleetTyping = setTimeout(() => { fleetShown = FLEET_PAGE; loadFleet(); }, 250);
});
$("fleet-only").addEventListener("change", () => { fleetShown = FLEET_PAGE; loadFleet(); });
$("fleet-more").addEventListener("click", () => { fleetShown += FLEET_PAGE; loadFleet(); });

$("login").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const res = await api("POST", "/v1/admin/login", { name: $("name").value, password: $("password").value });
  $("password").value = "";
  if (res.status !== 200) {
    // Too many failures: HQ says how long to wait (Retry-After).
    $("login-error").textContent = res.status === 429 && res.data ? res.data.error : t("badLogin");
    return;
  }
  $("login-error").textContent = "";
  await start();
});

function cell(tr, text) {
  const td = document.createElement("td");
  td.textContent = text;
  tr.append(td);
}

// tableRow appends a row to body: data become its data- attributes, each
// cell is [text] or [text, 1] for a number (right-aligned).
function tableRow(body, data, cells) {
  const tr = document.createElement("tr");
  Object.assign(tr.dataset, data);
  for (const [text, num] of cells) {
    cell(tr, text);
    if (num) tr.lastChild.className = "num";
  }
  body.append(tr);
  return tr;
}

async function loadLog() {
  show("log");
  const res = await api("GET", "/v1/admin/log?limit=500");
  const body = $("log-entries");
  body.replaceChildren();
  if (res.status !== 200) {
    $("log-verified").textContent = (res.data && res.data.error) || `HTTP ${res.status}`;
    return;
  }
  $("log-verified").textContent = res.data.verified ? t("chainOK") : t("chainBroken")(res.data.broken);
  $("log-verified").className = res.data.verified ? "" : "broken";
  for (const e of res.data.entries.slice().reverse()) { // newest first
    const tr = document.createElement("tr");
    tr.dataset.seq = e.seq;
    for (const text of [String(e.seq), new Date(e.at).toLocaleString(lang), e.operator, e.action, e.target || "",
      `${e.outcome} ${e.status}`, e.remote, e.detail || ""]) cell(tr, text);
    body.append(tr);
  }
}

$("enroll").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const res = await api("POST", "/v1/admin/terminals", { store: $("enroll-store").value, terminal: $("enroll-terminal").value });
  $("enroll-token").textContent = res.status === 201 ? res.data.token : "";
  $("enroll-error").textContent = res.status === 201 ? "" : ((res.data && res.data.error) || `HTTP ${res.status}`);
});

$("revoke").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const id = $("revoke-terminal").value;
  const res = await api("POST", `/v1/admin/terminals/${encodeURIComponent(id)}/revoke`);
  $("revoke-result").textContent = res.status === 200 ? t("revokedAt")(res.data.terminal, new Date(res.data.at).toLocaleString(lang))
    : ((res.data && res.data.error) || `HTTP ${res.status}`);
  $("revoke-terminal").value = "";
  await loadFleet();
});

// The rules page: the active ruleset to edit, a check with the problems at
// their lines, the changes against the active one, and publish.
let activeTOML = "";
// rulesEdited is set by the editor's input and cleared when the editor holds
// the active ruleset again: loading the rules page (or a load still under way
// when the user starts typing) never throws an edit away.
let rulesEdited = false;

async function loadRules(opts) {
  show("rules");
  const res = await api("GET", "/v1/admin/rules");
  if (res.status !== 200) {
    $("rules-result").textContent = (res.data && res.data.error) || `HTTP ${res.status}`;
    return;
  }
  activeTOML = res.data.toml;
  $("rules-active").textContent = res.data.effective ? t("activeEffective")(res.data.version, res.data.effective) : t("activeRules")(res.data.version);
  loadVersions();
  if (rulesEdited && !(opts && opts.replace)) {
    renderDiff();
    return;
  }
  rulesEdited = false;
  $("rules-text").value = activeTOML;
  $("rules-result").textContent = "";
  $("rules-problems").replaceChildren();
  renderDiff();
}

// lineDiff is the longest-common-subsequence diff of two texts, by line.
function lineDiff(a, b) {
  const x = a.split("\n"), y = b.split("\n");
  const n = x.length, m = y.length;
  const lcs = Array.from({ length: n + 1 }, () => new Int32Array(m + 1));
  for (let i = n - 1; i >= 0; i--)
    for (let j = m - 1; j >= 0; j--)
      lcs[i][j] = x[i] === y[j] ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
  const out = [];
  let i = 0, j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && x[i] === y[j]) { i++; j++; continue; }
    if (i < n && (j === m || lcs[i + 1][j] >= lcs[i][j + 1])) out.push(["del", `- ${i + 1}: ${x[i++]}`]);
    else out.push(["add", `+ ${j + 1}: ${y[j++]}`]);
  }
  return out;
}

function renderDiff() {
  const pre = $("rules-diff");
  pre.replaceChildren();
  const d = lineDiff(activeTOML, $("rules-text").value);
  if (d.length === 0) pre.textContent = t("noChanges");
  for (const [cls, text] of d) {
    const span = document.createElement("span");
    span.className = cls;
    span.textContent = text + "\n";
    pre.append(span);
  }
}

async function checkRules() {
  renderDiff();
  const resp = await fetch("/v1/admin/rules/check", { method: "POST", credentials: "same-origin", headers: { "Content-Type": "application/toml" }, body: $("rules-text").value });
  const res = await resp.json().catch(() => null);
  const list = $("rules-problems");
  list.replaceChildren();
  if (resp.status !== 200 || !res) {
    $("rules-result").textContent = (res && res.error) || `HTTP ${resp.status}`;
    return false;
  }
  $("rules-result").textContent = res.ok ? t("checkOK")(res) : t("checkBad");
  for (const [kind, ps] of [["error", res.errors], ["warning", res.warnings]]) {
    for (const p of ps) {
      const li = document.createElement("li");
      li.className = kind;
      li.textContent = [p.line ? `${t("line")} ${p.line}` : "", kind === "warning" ? t("warning") : "", p.rule ? `"${p.rule}"` : "", p.field, p.msg]
        .filter(Boolean).join(": ");
      list.append(li);
    }
  }
  return res.ok;
}

$("rules-text").addEventListener("input", () => { rulesEdited = true; renderDiff(); });
$("rules-check").addEventListener("click", checkRules);
$("rules-publish").addEventListener("click", async () => {
  const effective = effectiveValue();
  const path = "/v1/admin/rules" + (effective ? `?effective=${encodeURIComponent(effective)}` : "");
  const resp = await fetch(path, { method: "POST", credentials: "same-origin", headers: { "Content-Type": "application/toml" }, body: $("rules-text").value });
  const res = await resp.json().catch(() => null);
  if (resp.status !== 201) {
    $("rules-result").textContent = (res && res.error) || `HTTP ${resp.status}`;
    return;
  }
  await loadRules({ replace: true });
  $("rules-effective").value = "";
  $("rules-result").textContent = effective ? t("scheduled")(res.version, effective) : t("published")(res.version);
});

// ---- Scheduling and rollback: the start a publish takes effect from, the
// published versions, and rolling back to one (published again, at once).

// effectiveValue is the schedule input as HQ takes it: the tills' wall clock.
function effectiveValue() {
  const v = $("rules-effective").value;
  return v.length === 16 ? v + ":00" : v; // datetime-local may leave the seconds out
}

async function loadVersions() {
  const res = await api("GET", "/v1/admin/rules/versions?limit=20");
  const body = $("rules-versions");
  body.replaceChildren();
  if (res.status !== 200) return fail("rules-result", res);
  for (const p of res.data) {
    const tr = document.createElement("tr");
    tr.dataset.version = p.version;
    for (const text of [String(p.version), p.problem || p.effective || t("atOnce"), String(p.rules), p.hash.slice(0, 12)]) cell(tr, text);
    const td = document.createElement("td");
    if (p !== res.data[0]) {
      const b = document.createElement("button");
      b.type = "button";
      b.className = "rollback";
      b.textContent = t("rollback");
      b.addEventListener("click", () => rollbackTo(p.version));
      td.append(b);
    }
    tr.append(td);
    body.append(tr);
  }
}

async function rollbackTo(version) {
  const res = await api("POST", "/v1/admin/rules/rollback", { version });
  if (res.status !== 201) return fail("rules-result", res);
  await loadRules({ replace: true });
  $("rules-result").textContent = t("rolledBack")(version, res.data.version);
}
// ---- end of scheduling and rollback

// ---- Rules simulation: the editor's draft priced against the sales HQ
// holds (POST /v1/admin/rules/simulate), beside what the live rules gave.
let lastSim = null;

function signedMoney(minor, currency) { return (minor > 0 ? "+" : "") + displayMoney(minor, currency); }
function signedNum(n) { return (n > 0 ? "+" : "") + String(n); }

async function simulateRules(ev) {
  ev.preventDefault();
  const q = new URLSearchParams();
  for (const k of ["from", "to", "store"]) if ($(`sim-${k}`).value) q.set(k, $(`sim-${k}`).value);
  $("sim-summary").textContent = "…";
  const resp = await fetch(`/v1/admin/rules/simulate?${q}`, { method: "POST", credentials: "same-origin", headers: { "Content-Type": "application/toml" }, body: $("rules-text").value });
  const res = await resp.json().catch(() => null);
  if (resp.status !== 200 || !res) {
    lastSim = null;
    $("sim-result").hidden = true;
    $("sim-summary").textContent = (res && res.error) || `HTTP ${resp.status}`;
    return;
  }
  lastSim = res;
  renderSim();
}

function renderSim() {
  const s = lastSim, cur = s.currency;
  $("sim-summary").textContent = t("simSummary")(s);
  $("sim-result").hidden = false;
  const row = (body, key, cells, firstNum = 1) => {
    const tr = document.createElement("tr");
    tr.dataset.key = key;
    cells.forEach((c, i) => { cell(tr, c); if (i >= firstNum) tr.lastChild.className = "num"; });
    body.append(tr);
  };
  const totals = $("sim-totals");
  totals.replaceChildren();
  row(totals, "discount", [t("discounts"), displayMoney(s.live.discount, cur), displayMoney(s.draft.discount, cur), signedMoney(s.draft.discount - s.live.discount, cur)]);
  row(totals, "total", [t("paid"), displayMoney(s.live.total, cur), displayMoney(s.draft.total, cur), signedMoney(s.draft.total - s.live.total, cur)]);
  row(totals, "points_earned", [t("pointsEarned"), String(s.live.points_earned), String(s.draft.points_earned), signedNum(s.draft.points_earned - s.live.points_earned)]);
  row(totals, "points_redeemed", [t("pointsRedeemed"), String(s.live.points_redeemed), String(s.draft.points_redeemed), signedNum(s.draft.points_redeemed - s.live.points_redeemed)]);
  const rules = $("sim-rules");
  rules.replaceChildren();
  for (const r of s.rules) {
    const name = r.rule + (!r.in_draft ? ` (${t("goneRule")})` : !r.in_live ? ` (${t("newRule")})` : "");
    row(rules, r.rule, [name, r.kind, String(r.live_sales), String(r.draft_sales), displayMoney(r.live_amount, cur), displayMoney(r.draft_amount, cur),
      signedMoney(r.draft_amount - r.live_amount, cur), String(r.live_points), String(r.draft_points), signedNum(r.draft_points - r.live_points)], 2);
  }
  const stores = $("sim-stores");
  stores.replaceChildren();
  for (const st of s.stores) {
    row(stores, st.store, [st.store || "—", String(st.sales), String(st.customers), displayMoney(st.live.discount, cur), displayMoney(st.draft.discount, cur),
      signedMoney(st.draft.discount - st.live.discount, cur), String(st.live.points_earned), String(st.draft.points_earned), signedNum(st.draft.points_earned - st.live.points_earned)]);
  }
  $("sim-left").textContent = s.unpriceable + s.other_currency + s.failed > 0 ? t("simLeft")(s) : "";
}

$("sim-form").addEventListener("submit", simulateRules);
// ---- end of the rules simulation

$("nav-rules").addEventListener("click", () => loadRules());
$("nav-fleet").addEventListener("click", loadFleet);
$("nav-log").addEventListener("click", loadLog);
$("nav-customers").addEventListener("click", loadCustomers);
$("nav-reports").addEventListener("click", loadReports);

$("logout").addEventListener("click", async () => {
  await api("POST", "/v1/admin/logout");
  showLogin();
});

$("lang").addEventListener("click", () => {
  lang = lang === "ru" ? "en" : "ru";
  localStorage.setItem("tillhq-lang", lang);
  translate();
  if (!$("fleet").hidden) loadFleet();
  if (!$("reports").hidden && lastReport) renderReport();
  if (!$("rules").hidden && lastSim) renderSim();
  if (!$("rules").hidden) loadVersions();
});

// displayMoney writes an amount in minor units for a person to read: major
// units with the currency's fraction digits, then its code ("99.90 RUB"),
// as money.Display does in Go.
function displayMoney(minor, currency) {
  let digits = 2;
  try {
    if (currency) digits = new Intl.NumberFormat("en", { style: "currency", currency }).resolvedOptions().maximumFractionDigits;
  } catch { currency = ""; }
  const neg = minor < 0;
  let s = String(Math.abs(minor)).padStart(digits + 1, "0");
  if (digits > 0) s = s.slice(0, -digits) + "." + s.slice(-digits);
  return (neg ? "-" : "") + s + (currency ? " " + currency : "");
}

function fail(id, res) {
  $(id).textContent = (res.data && res.data.error) || `HTTP ${res.status}`;
}

// dl fills a definition list with [term, value] pairs.
function dl(el, pairs) {
  el.replaceChildren();
  for (const [k, v] of pairs) {
    const dt = document.createElement("dt");
    dt.textContent = t(k);
    const dd = document.createElement("dd");
    dd.textContent = v; // holders' data comes from tills and imports: never innerHTML
    dd.dataset.field = k;
    el.append(dt, dd);
  }
}

// The customers page: a card's holder and account across every store, and
// forgetting the holder (support or admin; HQ logs it in the admin log).
function loadCustomers() {
  show("customers");
  $("cust-card").focus();
}

// searchCustomers takes what the box holds: a card number shows that card;
// anything else, or digits that are no card HQ knows, is the end of a phone
// number, and the holders whose phone ends with it are listed to choose from
// (HQ logs each search in the admin log).
async function searchCustomers(q) {
  $("cust-matches").hidden = true;
  if (/^[0-9]+$/.test(q) && await findCustomer(q, true)) return;
  $("cust-found").hidden = true;
  const res = await api("GET", `/v1/admin/customers?phone=${encodeURIComponent(q)}`);
  if (res.status !== 200) return fail("cust-result", res);
  const found = res.data.customers;
  if (!found.length) {
    $("cust-result").textContent = t("noMatch")(q);
    return;
  }
  $("cust-result").textContent = t("matches")(found.length, q) + (res.data.more ? " " + t("moreMatches")(res.data.limit) : "");
  const rows = $("cust-match-rows");
  rows.replaceChildren();
  for (const c of found) {
    const tr = document.createElement("tr");
    tr.dataset.card = c.card;
    const open = document.createElement("button");
    open.type = "button";
    open.className = "link";
    open.textContent = c.card;
    open.addEventListener("click", () => { $("cust-matches").hidden = true; findCustomer(c.card); });
    const td = document.createElement("td");
    td.append(open);
    tr.append(td);
    for (const v of [c.name, c.phone]) {
      const cell = document.createElement("td");
      cell.textContent = v; // holders' data: never innerHTML
      tr.append(cell);
    }
    rows.append(tr);
  }
  $("cust-matches").hidden = false;
}

// findCustomer shows a card; quiet, it reports whether HQ knows the card
// and leaves the page alone when it does not.
async function findCustomer(card, quiet) {
  $("cust-found").hidden = true;
  const res = await api("GET", `/v1/admin/customers/${encodeURIComponent(card)}`);
  if (res.status !== 200) {
    if (!quiet) fail("cust-result", res);
    return false;
  }
  const a = res.data, acc = a.account || {};
  if (!a.holder && !a.forgotten && !acc.sales) {
    if (!quiet) $("cust-result").textContent = t("notFound")(card);
    return false;
  }
  $("cust-result").textContent = t("found")(a.card);
  const h = a.holder;
  $("cust-holder").replaceChildren();
  if (h) {
    dl($("cust-holder"), [
      ["fullName", [h.name, h.patronymic, h.surname].filter(Boolean).join(" ")], ["phone", h.phone || ""], ["email", h.email || ""],
      ["birthday", h.birthday || ""], ["consent", h.consent ? t("yes") : t("no")],
      ["registered", (h.registered ? new Date(h.registered).toLocaleString(lang) : "") + (h.terminal ? ` (${h.terminal})` : "")],
    ]);
  } else {
    const p = document.createElement("p");
    p.textContent = t("noHolder");
    p.id = "cust-no-holder";
    $("cust-holder").append(p);
  }
  dl($("cust-account"), [
    ["spend", displayMoney(acc.lifetime_spend || 0, a.currency)], ["points", String(acc.points || 0)], ["salesCount", String(acc.sales || 0)],
    ["lastSale", acc.last_sale ? new Date(acc.last_sale).toLocaleString(lang) : ""], ["overdraft", String(a.overdraft || 0)],
  ]);
  $("cust-forget").hidden = !h;
  $("cust-found").dataset.card = a.card;
  await loadPurchases(a.card);
  $("cust-found").hidden = false;
  return true;
}

// loadPurchases fills the card's purchases and returns across stores,
// newest first (HQ answers the newest 100).
async function loadPurchases(card) {
  const rows = $("cust-purchase-rows");
  rows.replaceChildren();
  const res = await api("GET", `/v1/admin/customers/${encodeURIComponent(card)}/purchases`);
  if (res.status !== 200) return fail("cust-purchases-note", res);
  const ps = res.data.purchases;
  $("cust-purchases-note").textContent = ps.length ? t("purchasesShown")(ps.length, res.data.more) : t("noPurchases");
  for (const p of ps) {
    const kind = p.kind === "return" ? t("returnKind")(p.of || "") : t("saleKind");
    tableRow(rows, { receipt: p.receipt }, [[new Date(p.at).toLocaleString(lang)], [kind], [p.store || "—"], [p.terminal], [p.receipt],
      [displayMoney(p.total, p.currency), 1], [displayMoney(p.discount, p.currency), 1], [String(p.points_earned), 1], [String(p.points_spent), 1]])
      .className = p.kind === "return" ? "return" : "sale";
  }
}

$("cust-find").addEventListener("submit", (ev) => {
  ev.preventDefault();
  searchCustomers($("cust-card").value.trim());
});

$("cust-forget").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const card = $("cust-found").dataset.card;
  if ($("cust-forget-card").value.trim() !== card) {
    $("cust-forget-card").value = "";
    $("cust-result").textContent = t("forgetMismatch");
    return;
  }
  const res = await api("DELETE", `/v1/admin/customers/${encodeURIComponent(card)}`);
  $("cust-forget-card").value = "";
  if (res.status !== 200) return fail("cust-result", res);
  await findCustomer(card);
  $("cust-result").textContent = t("forgotten")(card);
});

// The reports page: HQ's KPI report per period and store (sales, revenue,
// points), a bar chart of the revenue, the sales report's sales, returns
// and net per terminal, and the lot as CSV.
let lastReport = null;

function loadReports() {
  show("reports");
  if (!lastReport) showReport();
}

async function showReport() {
  const q = new URLSearchParams({ period: $("rep-period").value });
  for (const [k, id] of [["from", "rep-from"], ["to", "rep-to"], ["store", "rep-store"]]) if ($(id).value) q.set(k, $(id).value);
  const [kpi, sales, discounts, overdrafts] = await Promise.all([api("GET", `/v1/report/kpi?${q}`), api("GET", "/v1/report/sales"),
    api("GET", `/v1/report/discounts?${q}`), api("GET", "/v1/report/overdrafts")]);
  for (const res of [kpi, sales, discounts, overdrafts]) if (res.status !== 200) return fail("rep-error", res);
  $("rep-error").textContent = "";
  lastReport = { kpi: kpi.data, sales: sales.data, discounts: discounts.data, overdrafts: overdrafts.data, store: $("rep-store").value };
  renderReport();
}

// reportRows are the report's lines: per period, each store's figures (or
// only the asked store's).
function reportRows() {
  const rows = [];
  for (const p of lastReport.kpi.periods) {
    for (const k of p.stores) {
      if (lastReport.store && k.store !== lastReport.store) continue;
      rows.push({ start: p.start, end: p.end, store: k.store, sales: k.sales, card_sales: k.card_sales, revenue: k.revenue, earned: k.points_earned, redeemed: k.points_redeemed,
        partner: Object.entries(k.partner || {}).sort(([a], [b]) => a.localeCompare(b)) });
    }
  }
  return rows;
}

function renderReport() {
  const cur = lastReport.kpi.currency;
  const body = $("rep-periods");
  body.replaceChildren();
  for (const r of reportRows()) {
    tableRow(body, { period: r.start, store: r.store }, [[r.start === r.end ? r.start : `${r.start} – ${r.end}`], [r.store], [String(r.sales), 1], [String(r.card_sales), 1],
      [displayMoney(r.revenue, cur), 1], [String(r.earned), 1], [String(r.redeemed), 1]]);
  }
  const partners = $("rep-partners");
  partners.replaceChildren();
  for (const r of reportRows()) {
    for (const [name, points] of r.partner) {
      tableRow(partners, { partner: name }, [[r.start === r.end ? r.start : `${r.start} – ${r.end}`], [r.store], [name], [String(points), 1]]);
    }
  }
  const terms = $("rep-terminals");
  terms.replaceChildren();
  for (const s of lastReport.sales.terminals) {
    const c = s.currency || cur;
    tableRow(terms, { terminal: s.terminal }, [[s.terminal], [String(s.count), 1], [displayMoney(s.total, c), 1], [String(s.refunds), 1],
      [displayMoney(s.refunded, c), 1], [displayMoney(s.net, c), 1]]);
  }
  renderDiscounts();
  $("rep-missing").textContent = lastReport.kpi.missing && lastReport.kpi.missing.length ? t("notYet")(lastReport.kpi.missing.join("; ")) : "";
  drawChart();
}

// drawChart draws the revenue per period (of the chain, or of the asked
// store) as SVG bars: no library.
function drawChart() {
  const NS = "http://www.w3.org/2000/svg";
  const cur = lastReport.kpi.currency;
  const bars = lastReport.kpi.periods.map((p) => {
    const k = lastReport.store ? p.stores.find((s) => s.store === lastReport.store) : p.chain;
    return { label: p.start, value: k ? k.revenue : 0 };
  });
  const box = $("rep-chart");
  box.replaceChildren();
  if (bars.length === 0) return;
  const max = Math.max(1, ...bars.map((b) => b.value));
  const W = 720, H = 220, top = 24, bottom = 40, left = 8;
  const bw = (W - left) / bars.length;
  const svg = document.createElementNS(NS, "svg");
  svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
  svg.setAttribute("role", "img");
  svg.id = "rep-svg";
  const title = document.createElementNS(NS, "title");
  title.textContent = t("chartTitle") + (lastReport.store ? ` (${lastReport.store})` : ` (${t("allStores")})`);
  svg.append(title);
  bars.forEach((b, i) => {
    const h = Math.round((H - top - bottom) * Math.max(0, b.value) / max);
    const x = left + i * bw + bw * 0.1, y = H - bottom - h;
    const rect = document.createElementNS(NS, "rect");
    for (const [k, v] of [["x", x], ["y", y], ["width", bw * 0.8], ["height", h], ["class", "bar"]]) rect.setAttribute(k, v);
    const tip = document.createElementNS(NS, "title");
    tip.textContent = `${b.label}: ${displayMoney(b.value, cur)}`;
    rect.append(tip);
    svg.append(rect);
    if (bars.length <= 31) {
      const v = document.createElementNS(NS, "text");
      for (const [k, val] of [["x", x + bw * 0.4], ["y", y - 4], ["text-anchor", "middle"], ["class", "value"]]) v.setAttribute(k, val);
      v.textContent = b.value ? displayMoney(b.value, "") : "";
      svg.append(v);
      const l = document.createElementNS(NS, "text");
      for (const [k, val] of [["x", x + bw * 0.4], ["y", H - bottom + 16], ["text-anchor", "middle"], ["class", "label"]]) l.setAttribute(k, val);
      l.textContent = b.label.slice(lastReport.kpi.period === "month" ? 0 : 5, lastReport.kpi.period === "month" ? 7 : 10);
      svg.append(l);
    }
  });
  box.append(svg);
}

// ---- Reports: discounts by rule, charity by cause and raffle winners (GET
// /v1/report/discounts, per period and store) and the offline overdrafts (GET
// /v1/report/overdrafts).
function renderDiscounts() {
  const periodOf = (start) => lastReport.kpi.periods.find((p) => p.start === start);
  const span = (start) => { const p = periodOf(start); return p && p.end !== p.start ? `${p.start} – ${p.end}` : start; };
  const body = $("rep-discounts");
  body.replaceChildren();
  for (const r of lastReport.discounts.rows || []) {
    tableRow(body, { period: r.period, store: r.store, rule: r.rule }, [[span(r.period)], [r.store], [r.rule + (r.partner ? ` (${r.partner})` : "")], [r.kind], [String(r.sales), 1],
      [displayMoney(r.amount, r.currency), 1], [String(r.points), 1], [String(r.redeemed), 1]]);
  }
  const od = $("rep-overdrafts");
  od.replaceChildren();
  for (const c of lastReport.overdrafts.cards || []) {
    tableRow(od, { card: c.card }, [[c.card], [String(c.owed), 1], [String(c.recorded), 1], [new Date(c.first).toLocaleString(lang)], [new Date(c.last).toLocaleString(lang)]]);
  }
  const ch = $("rep-charity");
  ch.replaceChildren();
  for (const r of lastReport.discounts.charity || []) {
    tableRow(ch, { period: r.period, store: r.store, cause: r.cause }, [[span(r.period)], [r.store], [r.cause], [String(r.sales), 1], [displayMoney(r.amount, r.currency), 1], [String(r.points), 1],
      [displayMoney(r.returned_amount, r.currency), 1], [String(r.returned_points), 1], [displayMoney(r.amount - r.returned_amount, r.currency), 1]]);
  }
  const rf = $("rep-raffles");
  rf.replaceChildren();
  for (const w of lastReport.discounts.raffles || []) {
    const tr = tableRow(rf, { code: w.code }, [[w.at.replace("T", " ").slice(0, 16)], [w.store], [w.terminal], [w.card], [w.rule], [String(w.tickets), 1], [String(w.won), 1],
      [w.prize || ""], [w.code], [t(w.void ? "raffleVoid" : "raffleValid")]]);
    if (w.void) tr.className = "void";
  }
}

// csvDiscounts adds the rules', the overdrafts', the charity and the raffle
// winners' tables to the CSV lines.
function csvDiscounts(lines) {
  lines.push([]);
  lines.push(["period_start", "store", "rule", "kind", "partner", "sales", "discount", "currency", "points", "points_spent"]);
  for (const r of lastReport.discounts.rows || []) lines.push([r.period, r.store, r.rule, r.kind, r.partner || "", r.sales,
    displayMoney(r.amount, r.currency).replace(/ [A-Z]{3}$/, ""), r.currency, r.points, r.redeemed]);
  lines.push([]);
  lines.push(["card", "points_owed", "points_overdrawn", "first", "last"]);
  for (const c of lastReport.overdrafts.cards || []) lines.push([c.card, c.owed, c.recorded, c.first, c.last]);
  const major = (m, cur) => displayMoney(m, cur).replace(/ [A-Z]{3}$/, "");
  lines.push([]);
  lines.push(["period_start", "store", "cause", "sales", "given", "currency", "points_given", "returned", "points_returned"]);
  for (const r of lastReport.discounts.charity || []) lines.push([r.period, r.store, r.cause, r.sales, major(r.amount, r.currency), r.currency, r.points,
    major(r.returned_amount, r.currency), r.returned_points]);
  lines.push([]);
  lines.push(["at", "store", "terminal", "seq", "card", "rule", "tickets", "won", "prize", "code", "void"]);
  for (const w of lastReport.discounts.raffles || []) lines.push([w.at, w.store, w.terminal, w.seq, w.card, w.rule, w.tickets, w.won, w.prize || "", w.code, w.void ? "yes" : "no"]);
}
// ---- end of discounts by rule, overdrafts, charity and raffles

// csvField quotes a field for CSV (RFC 4180), and keeps a spreadsheet from
// taking a field for a formula.
function csvField(v) {
  let s = String(v);
  if (/^[=+\-@\t\r]/.test(s) && !/^-?\d/.test(s)) s = "'" + s;
  return /[",\n\r;]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

$("rep-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  showReport();
});

$("rep-csv").addEventListener("click", async () => {
  if (!lastReport) await showReport();
  if (!lastReport) return;
  const cur = lastReport.kpi.currency;
  const major = (v) => displayMoney(v, cur).replace(/ [A-Z]{3}$/, "");
  const lines = [["period_start", "period_end", "store", "sales", "card_sales", `revenue_${cur}`, "points_earned", "points_spent"]];
  for (const r of reportRows()) lines.push([r.start, r.end, r.store, r.sales, r.card_sales, major(r.revenue), r.earned, r.redeemed]);
  lines.push([]);
  lines.push(["period_start", "period_end", "store", "partner", "partner_points_owed"]);
  for (const r of reportRows()) for (const [name, points] of r.partner) lines.push([r.start, r.end, r.store, name, points]);
  lines.push([]);
  lines.push(["terminal", "sales", `sold_${cur}`, "returns", `refunded_${cur}`, `net_${cur}`]);
  for (const s of lastReport.sales.terminals) lines.push([s.terminal, s.count, major(s.total), s.refunds, major(s.refunded), major(s.net)]);
  csvDiscounts(lines);
  const text = lines.map((l) => l.map(csvField).join(",")).join("\r\n") + "\r\n";
  const a = $("rep-csv-link") || document.createElement("a");
  if (a.href) URL.revokeObjectURL(a.href);
  a.id = "rep-csv-link";
  a.hidden = true;
  a.href = URL.createObjectURL(new Blob([text], { type: "text/csv;charset=utf-8" }));
  a.download = `sales-${lastReport.kpi.period}-${lastReport.kpi.from}-${lastReport.kpi.to}${lastReport.store ? "-" + lastReport.store : ""}.csv`;
  document.body.append(a);
  a.click();
});

setInterval(() => { if (!$("fleet").hidden) loadFleet(); }, 15000);
start();
