// tillhq's console: no framework, no CDN, served from tillhq itself.
"use strict";

const OFFLINE_AFTER_MS = 2 * 60 * 1000; // a till polls HQ at least every 40 s

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
    badLogin: "Wrong name or password.", summary: (n, off, cur) => `${n} terminals, ${off} offline; current ruleset ${cur}.`,
    ago: (s) => s < 60 ? `${s} s ago` : s < 3600 ? `${Math.floor(s / 60)} min ago` : `${Math.floor(s / 3600)} h ago`,
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
    badLogin: "Неверное имя или пароль.", summary: (n, off, cur) => `Касс: ${n}, без связи: ${off}; текущие правила: ${cur}.`,
    ago: (s) => s < 60 ? `${s} с назад` : s < 3600 ? `${Math.floor(s / 60)} мин назад` : `${Math.floor(s / 3600)} ч назад`,
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

function showLogin() {
  $("login").hidden = false;
  $("fleet").hidden = true;
  $("log").hidden = true;
  $("rules").hidden = true;
  $("nav-fleet").hidden = true;
  $("nav-rules").hidden = true;
  $("nav-log").hidden = true;
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
  const admin = me.data.role === "admin";
  $("nav-fleet").hidden = false;
  $("nav-rules").hidden = false;
  $("nav-log").hidden = !admin;
  for (const f of document.querySelectorAll(".actions form")) f.hidden = !admin;
  await loadFleet();
}

// attention orders terminals by what needs looking at first.
function attention(term, now, current) {
  if (term.revoked) return 0;
  if (now - Date.parse(term.last_contact) > OFFLINE_AFTER_MS) return 1;
  if (term.ruleset < current) return 2;
  if (term.waiting > 0) return 3;
  return 4;
}

function show(id) {
  for (const sec of ["fleet", "rules", "log"]) $(sec).hidden = sec !== id;
}

async function loadFleet() {
  show("fleet");
  const res = await api("GET", "/v1/admin/fleet");
  if (res.status !== 200) {
    $("fleet-error").textContent = (res.data && res.data.error) || `HTTP ${res.status}`;
    return;
  }
  $("fleet-error").textContent = "";
  const now = Date.now();
  const current = res.data.current_ruleset;
  const terms = res.data.terminals.slice().sort((a, b) =>
    attention(a, now, current) - attention(b, now, current) || b.waiting - a.waiting || a.terminal.localeCompare(b.terminal));
  const body = $("terminals");
  body.replaceChildren();
  let offline = 0;
  for (const term of terms) {
    const tr = document.createElement("tr");
    tr.dataset.terminal = term.terminal;
    const age = Math.max(0, Math.round((now - Date.parse(term.last_contact)) / 1000));
    const isOffline = age * 1000 > OFFLINE_AFTER_MS;
    if (isOffline) offline++;
    const state = term.revoked ? "revoked" : isOffline ? "offline" : "online";
    tr.className = [term.revoked ? "revoked" : "", isOffline ? "offline" : "", term.ruleset < current ? "behind" : ""].join(" ").trim();
    const cells = [
      [term.terminal, "terminal"], [t(state), "state"], [t("ago")(age), "last"], [term.tilld || "", "tilld"],
      [String(term.ruleset), "ruleset"], [String(term.waiting), "waiting num"],
      [term.oldest_wait ? new Date(term.oldest_wait).toLocaleString(lang) : "", "oldest"],
    ];
    for (const [text, cls] of cells) {
      const td = document.createElement("td");
      td.textContent = text; // never innerHTML: terminal ids and versions come from tills
      td.className = cls;
      tr.append(td);
    }
    body.append(tr);
  }
  $("summary").textContent = t("summary")(terms.length, offline, current);
}

$("login").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const res = await api("POST", "/v1/admin/login", { name: $("name").value, password: $("password").value });
  $("password").value = "";
  if (res.status !== 200) {
    $("login-error").textContent = t("badLogin");
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

async function loadRules() {
  show("rules");
  const res = await api("GET", "/v1/admin/rules");
  if (res.status !== 200) {
    $("rules-result").textContent = (res.data && res.data.error) || `HTTP ${res.status}`;
    return;
  }
  activeTOML = res.data.toml;
  $("rules-active").textContent = t("activeRules")(res.data.version);
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

$("rules-text").addEventListener("input", renderDiff);
$("rules-check").addEventListener("click", checkRules);
$("rules-publish").addEventListener("click", async () => {
  const resp = await fetch("/v1/admin/rules", { method: "POST", credentials: "same-origin", headers: { "Content-Type": "application/toml" }, body: $("rules-text").value });
  const res = await resp.json().catch(() => null);
  if (resp.status !== 201) {
    $("rules-result").textContent = (res && res.error) || `HTTP ${resp.status}`;
    return;
  }
  await loadRules();
  $("rules-result").textContent = t("published")(res.version);
});
$("nav-rules").addEventListener("click", loadRules);
$("nav-fleet").addEventListener("click", loadFleet);
$("nav-log").addEventListener("click", loadLog);

$("logout").addEventListener("click", async () => {
  await api("POST", "/v1/admin/logout");
  showLogin();
});

$("lang").addEventListener("click", () => {
  lang = lang === "ru" ? "en" : "ru";
  localStorage.setItem("tillhq-lang", lang);
  translate();
  if (!$("fleet").hidden) loadFleet();
});

setInterval(() => { if (!$("fleet").hidden) loadFleet(); }, 15000);
start();
