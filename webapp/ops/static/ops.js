/* Ops console: a small single-page app over /api/v1/ops (no framework, no CDN).
   Everything user-supplied is inserted as text (h() / textContent), never as HTML. */
"use strict";

const API = "/api/v1";
const TOKENS = "huimin-ops-tokens";
const state = { vocab: null, inboxIds: [], inboxQuery: null, pollers: [] };

// ---- tiny DOM helpers --------------------------------------------------------------------

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") el.className = v;
    else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "dataset") Object.assign(el.dataset, v);
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}
const $ = (sel, root = document) => root.querySelector(sel);
const view = () => $("#view");
const pct = (x) => (x === null || x === undefined ? "—" : (x * 100).toFixed(1) + "%");
const num = (x, d = 3) => (x === null || x === undefined ? "—" : Number(x).toFixed(d));
function when(iso) {
  if (!iso) return "—";
  const d = new Date(iso);
  const p = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}`;
}
function flash(message, bad = false) {
  const el = $("#flash");
  el.textContent = message;
  el.className = "flash" + (bad ? " bad" : "");
  el.hidden = false;
  clearTimeout(flash.timer);
  flash.timer = setTimeout(() => { el.hidden = true; }, bad ? 8000 : 4000);
}
function stopPolling() { state.pollers.forEach(clearInterval); state.pollers = []; }

// ---- API with tokens --------------------------------------------------------------------

function tokens() { try { return JSON.parse(sessionStorage.getItem(TOKENS)) || null; } catch { return null; } }
function saveTokens(t) { sessionStorage.setItem(TOKENS, JSON.stringify(t)); }

class ApiError extends Error {
  constructor(status, body) {
    const err = (body && body.error) || {};
    super(err.message || `请求失败（${status}）`);
    this.status = status; this.code = err.code; this.fields = err.fields || {};
  }
}

async function refresh() {
  const t = tokens();
  if (!t) return false;
  const resp = await fetch(API + "/auth/refresh", {
    method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ refresh_token: t.refresh_token }),
  });
  if (!resp.ok) return false;
  saveTokens(await resp.json());
  return true;
}

async function api(path, { method = "GET", body, query } = {}, retried = false) {
  const url = new URL(API + path, location.origin);
  for (const [k, v] of Object.entries(query || {})) {
    if (v !== "" && v !== null && v !== undefined) url.searchParams.set(k, v);
  }
  const t = tokens();
  const headers = { Accept: "application/json" };
  if (t) headers.Authorization = "Bearer " + t.access_token;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const resp = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  if (resp.status === 401 && !retried && t && await refresh()) return api(path, { method, body, query }, true);
  if (resp.status === 401) { signOut(); throw new ApiError(401, { error: { message: "登录已失效，请重新登录" } }); }
  if (resp.status === 204) return null;
  const data = await resp.json().catch(() => null);
  if (!resp.ok) throw new ApiError(resp.status, data);
  return data;
}

// ---- sign-in -----------------------------------------------------------------------------

function showLogin() {
  stopPolling();
  $("#app").hidden = true;
  $("#login").hidden = false;
}

function signOut() {
  sessionStorage.removeItem(TOKENS);
  showLogin();
}

$("#login-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const form = ev.target;
  const err = $("#login-error");
  err.textContent = "";
  const body = { username: form.username.value.trim(), password: form.password.value, totp: form.totp.value.trim() };
  const resp = await fetch(API + "/staff/login", {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
  });
  const data = await resp.json().catch(() => ({}));
  if (!resp.ok) { err.textContent = (data.error && data.error.message) || "登录失败"; return; }
  saveTokens(data);
  form.password.value = ""; form.totp.value = "";
  try {
    await start();
  } catch (e) {
    err.textContent = e.status === 403 ? "该账号没有运营后台权限" : e.message;
    sessionStorage.removeItem(TOKENS);
    showLogin();
  }
});

$("#logout").addEventListener("click", async () => {
  try { await api("/auth/logout", { method: "POST", body: {} }); } catch { /* signed out anyway */ }
  signOut();
});

async function start() {
  const status = await api("/ops/status");
  state.vocab = await api("/ops/vocabulary");
  $("#login").hidden = true;
  $("#app").hidden = false;
  $("#me-name").textContent = status.me || "";
  showBadges(status);
  window.onhashchange = route;
  route();
  state.statusTimer = state.statusTimer || setInterval(refreshStatus, 15000);
}

function showBadges(status) {
  $("#badge-inbox").textContent = status.pending_reviews || "";
  $("#badge-tickets").textContent = status.open_tickets || "";
  $("#badge-undelivered").textContent = status.open_undelivered || "";
}
async function refreshStatus() {
  if ($("#app").hidden) return;
  try { showBadges(await api("/ops/status")); } catch { /* shown on next action */ }
}

// ---- routing -------------------------------------------------------------------------------

const ROUTES = [
  [/^#\/inbox$/, "inbox", () => inboxView()],
  [/^#\/message\/(\d+)$/, "inbox", (m) => messageView(Number(m[1]))],
  [/^#\/tickets$/, "tickets", () => ticketsView()],
  [/^#\/ticket\/(\d+)$/, "tickets", (m) => ticketView(Number(m[1]))],
  [/^#\/undelivered$/, "undelivered", () => undeliveredView()],
  [/^#\/training$/, "training", () => trainingView()],
  [/^#\/models$/, "models", () => modelsView()],
  [/^#\/model\/(\d+)$/, "models", (m) => modelView(Number(m[1]))],
  [/^#\/dashboard$/, "dashboard", () => dashboardView()],
];

async function route() {
  stopPolling();
  const hash = location.hash || "#/inbox";
  for (const [re, tab, render] of ROUTES) {
    const m = hash.match(re);
    if (!m) continue;
    document.querySelectorAll("#nav a").forEach((a) => a.classList.toggle("active", a.dataset.tab === tab));
    view().replaceChildren(h("p", { class: "muted" }, "加载中…"));
    try { await render(m); } catch (e) {
      if (e.status !== 401) view().replaceChildren(h("p", { class: "error" }, e.message));
    }
    return;
  }
  location.hash = "#/inbox";
}

function pager(page, onGo) {
  const pages = Math.max(1, Math.ceil(page.total / page.per_page));
  return h("div", { class: "pager" },
    h("button", { disabled: page.page <= 1, onclick: () => onGo(page.page - 1) }, "上一页"),
    h("span", { class: "muted" }, `第 ${page.page} / ${pages} 页，共 ${page.total} 条`),
    h("button", { disabled: page.page >= pages, onclick: () => onGo(page.page + 1) }, "下一页"));
}

function confidence(c) {
  if (c === null || c === undefined) return h("span", { class: "muted" }, "—");
  return h("span", { class: "conf", title: "置信度" },
    h("span", { class: "bar" }, h("i", { style: `width:${Math.round(c * 100)}%` })), c.toFixed(2));
}

// ---- inbox ---------------------------------------------------------------------------------

const ACTION_LABELS = { correct: "预测正确", relabel: "已改意图", out_of_scope: "超出范围", ignore: "已忽略" };

async function inboxView() {
  const q = state.inboxQuery || { status: "pending", page: 1 };
  const vocab = state.vocab;
  const field = (label, input) => h("label", {}, label, input);
  const select = (name, options, value) => h("select", { name },
    options.map(([v, t]) => h("option", { value: v, selected: String(value ?? "") === v }, t)));
  const form = h("form", { class: "card filters", id: "inbox-filters" },
    field("原因", select("reason", [["", "全部"], ...Object.entries(vocab.reasons)], q.reason)),
    field("预测意图", select("intent", [["", "全部"], ["nlu_fallback", "nlu_fallback（未识别）"], ...vocab.intents.map((i) => [i, i])], q.intent)),
    field("开始日期", h("input", { type: "date", name: "date_from", value: q.date_from || "" })),
    field("结束日期", h("input", { type: "date", name: "date_to", value: q.date_to || "" })),
    field("最低置信度", h("input", { type: "number", name: "min_confidence", min: 0, max: 1, step: 0.05, value: q.min_confidence ?? "" })),
    field("最高置信度", h("input", { type: "number", name: "max_confidence", min: 0, max: 1, step: 0.05, value: q.max_confidence ?? "" })),
    field("搜索文字", h("input", { type: "search", name: "q", value: q.q || "", placeholder: "消息包含…" })),
    field("状态", select("status", [["pending", "待审"], ["reviewed", "已审"], ["all", "全部"]], q.status)),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "查询"),
      h("button", { type: "button", onclick: () => { state.inboxQuery = null; inboxView(); } }, "重置")));
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const data = Object.fromEntries(new FormData(form).entries());
    state.inboxQuery = { ...data, page: 1 };
    inboxView();
  });
  const page = await api("/ops/inbox", { query: { ...q, per_page: 20 } });
  state.inboxIds = page.items.map((m) => m.id);
  const list = h("div", { class: "list", id: "inbox-list" },
    page.items.length ? page.items.map(inboxItem) : h("p", { class: "muted" }, "没有符合条件的消息。"));
  view().replaceChildren(
    h("h2", {}, "待审消息"),
    h("p", { class: "muted" }, `助手没听懂、没把握（置信度低于 ${vocab.low_confidence}）、随后转人工、用户重复提问或说没帮到的消息。个人信息已打码。`),
    form, list,
    pager(page, (p) => { state.inboxQuery = { ...q, page: p }; inboxView(); }));
}

function inboxItem(m) {
  const top = (m.alternatives || []).slice(1, 3).map((a) => `${a.intent} ${a.confidence.toFixed(2)}`).join("，");
  return h("div", { class: "item", dataset: { id: m.id }, onclick: () => { location.hash = `#/message/${m.id}`; } },
    h("div", { class: "text" }, m.text),
    h("div", {}, m.annotation ? h("span", { class: "chip done" }, ACTION_LABELS[m.annotation.action] + (m.annotation.intent ? "：" + m.annotation.intent : "")) : ""),
    h("div", { class: "meta" },
      h("span", {}, when(m.at)),
      h("span", {}, "预测：", h("b", {}, m.intent || "—")), confidence(m.confidence),
      top ? h("span", {}, "其次：" + top) : "",
      m.reasons.map((r) => h("span", { class: "chip reason" }, state.vocab.reasons[r] || r))),
    h("div", {}));
}

// ---- one message: context and annotation ------------------------------------------------

async function messageView(id) {
  const data = await api(`/ops/messages/${id}`);
  const m = data.message;
  const chat = h("div", { class: "chat card" }, data.context.map((c) =>
    h("div", { class: `bubble ${c.role}${c.id === m.id ? " focus" : ""}` }, c.text,
      h("small", {}, when(c.at) + (c.role === "user" && c.intent ? ` · ${c.intent} ${num(c.confidence, 2)}` : "")))));
  const spans = (m.annotation && m.annotation.entities.length ? m.annotation.entities : m.entities || [])
    .filter((e) => Number.isInteger(e.start) && Number.isInteger(e.end))
    .map((e) => ({ entity: e.entity, start: e.start, end: e.end }));
  let picked = null; // [start, end) being selected
  let anchor = null; // first character clicked
  const intentSelect = h("select", { id: "intent-select" }, h("option", { value: "" }, "选择正确的意图…"),
    state.vocab.intents.map((i) => h("option", { value: i, selected: (m.annotation && m.annotation.intent === i) || (!m.annotation && i === m.intent) }, i)));
  const entitySelect = h("select", { id: "entity-select" }, state.vocab.entities.map((e) => h("option", { value: e }, e)));
  const tagger = h("div", { class: "tagger", id: "tagger" });
  const entityList = h("ul", { class: "entities" });
  const chars = [...m.text];

  function renderTagger() {
    tagger.replaceChildren(...chars.map((ch, i) => {
      const inEnt = spans.some((s) => i >= s.start && i < s.end);
      const inSel = picked && i >= picked[0] && i < picked[1];
      return h("span", { class: inSel ? "sel" : inEnt ? "ent" : "", dataset: { i } }, ch);
    }));
    entityList.replaceChildren(...spans.map((s, k) => h("li", {},
      h("span", { class: "chip" }, s.entity), " “", chars.slice(s.start, s.end).join(""), "” ",
      h("button", { class: "link", onclick: () => { spans.splice(k, 1); renderTagger(); } }, "删除"))));
  }
  tagger.addEventListener("click", (ev) => {
    const i = ev.target.dataset && ev.target.dataset.i;
    if (i === undefined) return;
    const n = Number(i);
    if (anchor === null) { anchor = n; picked = [n, n + 1]; } else { picked = [Math.min(anchor, n), Math.max(anchor, n) + 1]; anchor = null; }
    renderTagger();
  });
  renderTagger();

  async function save(action) {
    const body = { action };
    if (action === "relabel") {
      body.intent = intentSelect.value;
      if (!body.intent) { flash("请先选择正确的意图", true); return; }
    }
    if (action === "relabel" || action === "correct") body.entities = spans;
    try {
      await api(`/ops/messages/${id}/annotation`, { method: "PUT", body });
      flash("已保存标注");
      refreshStatus();
      const next = state.inboxIds[state.inboxIds.indexOf(id) + 1];
      location.hash = next ? `#/message/${next}` : "#/inbox";
    } catch (e) { flash(e.message, true); }
  }

  const alts = h("div", { class: "alts" }, (m.alternatives || []).map((a) =>
    h("button", { type: "button", onclick: () => { if (state.vocab.intents.includes(a.intent)) intentSelect.value = a.intent; } },
      `${a.intent} ${a.confidence.toFixed(2)}`)));
  const annotation = m.annotation ? h("p", {}, h("span", { class: "chip done" }, ACTION_LABELS[m.annotation.action]),
    ` ${m.annotation.intent || ""} — ${m.annotation.annotator_name || m.annotation.annotated_by}，${when(m.annotation.annotated_at)} `,
    h("button", { class: "link", onclick: async () => { await api(`/ops/messages/${id}/annotation`, { method: "DELETE" }); flash("已撤销"); messageView(id); } }, "撤销")) : "";

  view().replaceChildren(
    h("p", {}, h("a", { href: "#/inbox" }, "← 返回待审列表")),
    h("div", { class: "split" },
      h("section", {}, h("h2", {}, "对话上下文"), chat),
      h("section", { class: "card", id: "annotate-panel" },
        h("h2", {}, "标注"),
        annotation,
        h("p", {}, "预测意图：", h("b", { id: "predicted" }, m.intent || "—"), " ", confidence(m.confidence), " ",
          m.reasons.map((r) => h("span", { class: "chip reason" }, state.vocab.reasons[r] || r))),
        h("h3", {}, "候选意图（点击选用）"), alts,
        h("h3", {}, "正确的意图"), h("div", { class: "row" }, intentSelect),
        h("h3", {}, "实体（点击首字和末字选中，再添加）"), tagger,
        h("div", { class: "row" }, entitySelect,
          h("button", { type: "button", id: "add-entity", onclick: () => {
            if (!picked) { flash("请先在上面的文字中选中实体", true); return; }
            if (spans.some((s) => picked[0] < s.end && s.start < picked[1])) { flash("实体不能重叠", true); return; }
            spans.push({ entity: entitySelect.value, start: picked[0], end: picked[1] });
            spans.sort((a, b) => a.start - b.start); picked = null; anchor = null; renderTagger();
          } }, "添加实体")),
        entityList,
        h("div", { class: "row" },
          h("button", { class: "primary", id: "save-relabel", onclick: () => save("relabel") }, "保存为所选意图"),
          h("button", { id: "mark-correct", disabled: !m.intent || m.intent === "nlu_fallback", onclick: () => save("correct") }, "预测正确"),
          h("button", { id: "mark-oos", onclick: () => save("out_of_scope") }, "超出范围"),
          h("button", { id: "mark-ignore", onclick: () => save("ignore") }, "忽略")))));
}

// ---- hand-off tickets --------------------------------------------------------------------

const TICKET_STATUS = { open: "待认领", claimed: "处理中", closed: "已关闭" };

async function ticketsView(status = "active", page = 1) {
  const data = await api("/ops/tickets", { query: { status: status === "all" ? "" : status, page } });
  const filter = h("select", { onchange: (ev) => ticketsView(ev.target.value, 1) },
    [["active", "未关闭"], ["open", "待认领"], ["claimed", "处理中"], ["closed", "已关闭"], ["all", "全部"]]
      .map(([v, t]) => h("option", { value: v, selected: v === status }, t)));
  view().replaceChildren(
    h("h2", {}, "人工工单"),
    h("div", { class: "row" }, h("label", {}, "状态", filter)),
    h("div", { class: "list" }, data.items.length ? data.items.map((t) =>
      h("div", { class: "item", onclick: () => { location.hash = `#/ticket/${t.id}`; } },
        h("div", { class: "text" }, `#${t.id} ${t.last_message || "（无文字）"}`),
        h("div", {}, h("span", { class: "chip" }, TICKET_STATUS[t.status] || t.status)),
        h("div", { class: "meta" }, when(t.created_at), t.claimed_by_name ? `认领人：${t.claimed_by_name}` : ""),
        h("div", {}))) : h("p", { class: "muted" }, "没有工单。")),
    pager(data, (p) => ticketsView(status, p)));
}

async function ticketView(id) {
  const t = await api(`/ops/tickets/${id}`);
  const conversation = t.conversation.length ? t.conversation : t.transcript.map((x) => ({ role: x.who === "user" ? "user" : "bot", text: x.text }));
  const reply = h("textarea", { id: "reply-text", rows: 4, maxlength: 600, placeholder: "回复内容将通过微信客服消息发给市民", style: "width:100%" });
  const act = async (path, body) => {
    try {
      await api(`/ops/tickets/${id}/${path}`, { method: "POST", body });
      flash({ claim: "已认领", reply: "已处理回复", close: "工单已关闭" }[path]);
      refreshStatus();
      ticketView(id);
    } catch (e) { flash(e.message, true); }
  };
  view().replaceChildren(
    h("p", {}, h("a", { href: "#/tickets" }, "← 返回工单列表")),
    h("div", { class: "split" },
      h("section", {}, h("h2", {}, `工单 #${t.id} 的对话`),
        h("div", { class: "chat card" }, conversation.map((c) => h("div", { class: `bubble ${c.role}` }, c.text, c.at ? h("small", {}, when(c.at)) : "")))),
      h("section", { class: "card" },
        h("h2", {}, "处理"),
        h("p", {}, "状态：", h("b", { id: "ticket-status" }, TICKET_STATUS[t.status] || t.status),
          t.claimed_by_name ? `（${t.claimed_by_name}）` : "", "　原因：", t.reason === "user_request" ? "用户要求" : "助手未能回答"),
        h("div", { class: "row" },
          h("button", { id: "claim", disabled: t.status !== "open", onclick: () => act("claim") }, "认领"),
          h("button", { id: "close", class: "danger", disabled: t.status === "closed" || (t.status === "claimed" && !t.mine), onclick: () => act("close") }, "关闭工单")),
        h("h3", {}, "回复市民"), reply,
        h("div", { class: "row" }, h("button", { class: "primary", id: "send-reply", disabled: !t.mine || t.status === "closed",
          onclick: () => { if (reply.value.trim()) act("reply", { text: reply.value.trim() }); } }, "发送")),
        t.mine ? "" : h("p", { class: "muted" }, "认领后才能回复。"),
        h("h3", {}, "处理记录"),
        h("ul", {}, t.events.map((e) => h("li", {}, `${when(e.at)} ${e.actor_name || e.actor} `,
          { claim: "认领", reply: "回复", close: "关闭" }[e.action] || e.action,
          e.text ? `：${e.text}` : "",
          e.action === "reply" ? h("span", { class: e.delivered ? "ok" : "bad" }, e.delivered ? "（已送达微信）" : `（未送达：${e.error || ""}）`) : ""))))));
}

// ---- undelivered WeChat messages ---------------------------------------------------------

const UNDELIVERED_STATUS = [["open", "未处理"], ["resolved", "已处理"], ["all", "全部"]];

async function undeliveredView(status = "open", page = 1) {
  const data = await api("/ops/undelivered", { query: { status, page, per_page: 20 } });
  const filter = h("select", { id: "undelivered-status", onchange: (ev) => undeliveredView(ev.target.value, 1) },
    UNDELIVERED_STATUS.map(([v, t]) => h("option", { value: v, selected: v === status }, t)));
  const resolve = async (row, note, button) => {
    button.disabled = true;
    try {
      await api(`/ops/undelivered/${row.id}/resolve`, { method: "POST", body: note.value.trim() ? { note: note.value.trim() } : {} });
      flash(`#${row.id} 已标记为已处理`);
      refreshStatus();
      undeliveredView(status, page);
    } catch (e) { flash(e.message, true); button.disabled = false; }
  };
  const handled = (r) => {
    if (r.resolved_at) {
      return h("div", {}, h("span", { class: "chip done" }, "已处理"),
        h("div", { class: "muted" }, `${when(r.resolved_at)} ${r.resolved_by_name || r.resolved_by || ""}`),
        r.resolution_note ? h("div", {}, r.resolution_note) : "");
    }
    const note = h("input", { class: "note", maxlength: 500, placeholder: "处理说明（可不填）" });
    const button = h("button", { class: "primary", dataset: { resolve: r.id } }, "已处理");
    button.addEventListener("click", () => resolve(r, note, button));
    return h("div", { class: "resolve" }, note, button);
  };
  view().replaceChildren(
    h("h2", {}, "未送达消息"),
    h("p", { class: "muted" }, "微信拒绝送达的回答（如超过48小时未互动、客服消息条数已达上限、市民已取消关注）和未能转交助手的提问。"
      + "请通过电话等方式跟进，或等市民再次留言时回复，然后点“已处理”。文字中的个人信息已打码，微信账号只显示首尾几位。"),
    h("div", { class: "row" }, h("label", {}, "状态", filter)),
    data.items.length ? h("div", { class: "table-wrap" }, h("table", { id: "undelivered-table" },
      h("thead", {}, h("tr", {}, ["时间", "类型", "原因", "消息内容（已打码）", "微信用户", "处理"].map((x) => h("th", {}, x)))),
      h("tbody", {}, data.items.map((r) => h("tr", { dataset: { id: r.id } },
        h("td", {}, when(r.created_at)),
        h("td", {}, h("span", { class: "chip" }, r.kind_label)),
        h("td", {}, r.reason_text, r.errcode !== null && r.errcode !== undefined ? h("div", { class: "muted" }, `微信错误码 ${r.errcode}`) : ""),
        h("td", { class: "text-cell" }, r.text || "（无文字）"),
        h("td", { class: "mono" }, r.openid),
        h("td", {}, handled(r)))))))
      : h("p", { class: "muted" }, status === "open" ? "没有待处理的未送达消息。" : "没有记录。"),
    pager(data, (p) => undeliveredView(status, p)));
}

// ---- training ------------------------------------------------------------------------------

const RUN_STATUS = { queued: "排队中", running: "进行中", succeeded: "成功", failed: "失败" };

async function trainingView() {
  const runs = await api("/ops/training", { query: { per_page: 10 } });
  const current = runs.items.find((r) => r.status === "queued" || r.status === "running");
  const shown = current || runs.items[0];
  const startButton = h("button", { class: "primary", id: "start-training", disabled: !!current, onclick: async () => {
    startButton.disabled = true;
    try { await api("/ops/training", { method: "POST" }); flash("训练已开始"); trainingView(); } catch (e) { flash(e.message, true); startButton.disabled = false; }
  } }, "开始训练");
  const panel = h("section", { class: "card", id: "run-panel" });
  view().replaceChildren(
    h("h2", {}, "训练"),
    h("p", { class: "muted" }, "用仓库中的训练数据加上已采纳的标注训练新模型，并在独立测试集上评估。训练约需几分钟，完成后在“模型”页上线。"),
    h("div", { class: "row" }, startButton),
    panel,
    h("h3", {}, "训练记录"),
    h("div", { class: "table-wrap" }, h("table", {},
      h("thead", {}, h("tr", {}, ["#", "状态", "发起人", "开始时间", "用时", "标注数", "模型"].map((x) => h("th", {}, x)))),
      h("tbody", {}, runs.items.map((r) => h("tr", { class: "clickable", onclick: () => followRun(panel, r.id) },
        h("td", {}, r.id), h("td", {}, RUN_STATUS[r.status] || r.status), h("td", {}, r.started_by_name || r.started_by),
        h("td", {}, when(r.created_at)), h("td", {}, duration(r)), h("td", {}, r.annotation_count),
        h("td", {}, r.model_id ? h("a", { href: `#/model/${r.model_id}` }, `#${r.model_id}`) : "—")))))));
  if (shown) followRun(panel, shown.id);
  else panel.replaceChildren(h("p", { class: "muted" }, "还没有训练记录。"));
}

function duration(r) {
  if (!r.started_at) return "—";
  const end = r.finished_at ? new Date(r.finished_at) : new Date();
  const s = Math.round((end - new Date(r.started_at)) / 1000);
  return `${Math.floor(s / 60)}分${s % 60}秒`;
}

function followRun(panel, runId) {
  stopPolling();
  let since = 0;
  const bar = h("div", { class: "progress" }, h("i", { style: "width:0%" }));
  const title = h("h3", {}, `训练 #${runId}`);
  const stage = h("p", { id: "run-stage" });
  const log = h("pre", { class: "log", id: "run-log" });
  panel.replaceChildren(title, stage, bar, log);
  const tick = async () => {
    let r;
    try { r = await api(`/ops/training/${runId}`, { query: { since } }); } catch { return; }
    since = r.next_line;
    const stick = log.scrollTop + log.clientHeight >= log.scrollHeight - 20;
    if (r.lines.length) log.append(r.lines.join("\n") + "\n");
    if (stick) log.scrollTop = log.scrollHeight;
    bar.firstChild.style.width = r.progress + "%";
    bar.className = "progress" + (r.status === "succeeded" ? " done" : r.status === "failed" ? " failed" : "");
    stage.replaceChildren(h("b", { id: "run-status", dataset: { status: r.status } }, RUN_STATUS[r.status] || r.status),
      ` · ${r.stage_label} · ${r.progress}% · ${duration(r)}`,
      r.error ? h("span", { class: "bad" }, ` · ${r.error}`) : "",
      r.model_id ? h("span", {}, " · 新模型 ", h("a", { href: `#/model/${r.model_id}`, id: "run-model" }, `#${r.model_id}`)) : "");
    if (r.status === "succeeded" || r.status === "failed") {
      stopPolling();
      const start = $("#start-training");
      if (start) start.disabled = false;
    }
  };
  tick();
  state.pollers.push(setInterval(tick, 1500));
}

// ---- models ----------------------------------------------------------------------------------

const SOURCE = { training: "控制台训练", installed: "make train" };

async function modelsView() {
  const [models, deployments] = await Promise.all([api("/ops/models", { query: { per_page: 50 } }), api("/ops/deployments", { query: { per_page: 10 } })]);
  view().replaceChildren(
    h("h2", {}, "模型"),
    h("div", { class: "row" }, h("button", { id: "rollback-previous", onclick: async () => {
      if (!confirm("回滚到上一个上线过的模型？")) return;
      try { const r = await api("/ops/models/rollback", { method: "POST", body: {} }); flash(r.message); modelsView(); } catch (e) { flash(e.message, true); }
    } }, "回滚到上一个模型")),
    h("div", { class: "table-wrap" }, h("table", { id: "models-table" },
      h("thead", {}, h("tr", {}, ["#", "名称", "来源", "宏平均F1", "准确率", "标注数", "发起人", "时间", "状态"].map((x) => h("th", {}, x)))),
      h("tbody", {}, models.items.map((m) => h("tr", { class: "clickable", dataset: { id: m.id }, onclick: () => { location.hash = `#/model/${m.id}`; } },
        h("td", {}, m.id), h("td", {}, m.name), h("td", {}, SOURCE[m.source] || m.source), h("td", {}, num(m.macro_f1)),
        h("td", {}, num(m.accuracy)), h("td", {}, m.annotation_count), h("td", {}, m.started_by_name || m.started_by),
        h("td", {}, when(m.registered_at)),
        h("td", {}, m.active ? h("span", { class: "chip done" }, "使用中") : m.deployed_before ? h("span", { class: "chip" }, "曾上线") : "")))))),
    h("h3", {}, "上线记录"),
    h("ul", {}, deployments.items.map((d) => h("li", {}, `${when(d.at)} ${d.actor_name || d.actor} `,
      { activate: "上线", rollback: "回滚到", bootstrap: "初始模型" }[d.action] || d.action, ` #${d.model_id}`,
      d.previous_model_id ? `（之前 #${d.previous_model_id}）` : ""))));
}

async function modelView(id) {
  const m = await api(`/ops/models/${id}`);
  const ev = m.evaluation;
  const diff = {};
  for (const row of (m.diff && m.diff.per_intent) || []) diff[row.intent] = row;
  const intents = ev ? Object.keys(ev.per_intent_f1).sort((a, b) => ev.per_intent_f1[a] - ev.per_intent_f1[b]) : [];
  const delta = (d) => (d === undefined || d === null ? "" : h("span", { class: d > 0.0005 ? "delta-up" : d < -0.0005 ? "delta-down" : "muted" }, (d > 0 ? "+" : "") + d.toFixed(3)));
  const actions = h("div", { class: "row" });
  if (!m.active) {
    actions.append(h("button", { class: "primary", id: "activate", disabled: !m.gate.ok, onclick: async () => {
      try { const r = await api(`/ops/models/${id}/activate`, { method: "POST" }); flash(r.message); modelView(id); } catch (e) { flash(e.message, true); }
    } }, "上线此模型"));
    if (m.deployed_before) actions.append(h("button", { id: "rollback-to", onclick: async () => {
      try { const r = await api("/ops/models/rollback", { method: "POST", body: { model_id: id } }); flash(r.message); modelView(id); } catch (e) { flash(e.message, true); }
    } }, "回滚到此模型"));
  } else actions.append(h("span", { class: "chip done" }, "使用中"));
  view().replaceChildren(
    h("p", {}, h("a", { href: "#/models" }, "← 返回模型列表")),
    h("h2", {}, `模型 #${m.id} ${m.name}`),
    h("p", { class: "muted" }, `${SOURCE[m.source] || m.source} · 发起人 ${m.started_by_name || m.started_by} · 开始 ${when(m.started_at)} · 登记 ${when(m.registered_at)} · 数据指纹 ${m.data_fingerprint || "—"} · 标注样例 ${m.annotation_count} 条`),
    actions,
    h("section", { class: "card", id: "gate" },
      h("h3", {}, m.gate.ok ? "上线检查：通过" : "上线检查：未通过"),
      m.gate.ok ? "" : h("p", { class: "bad", id: "gate-reasons" }, m.gate.reasons.join("；")),
      h("ul", { class: "checks" }, m.gate.checks.filter((c) => !c.name.startsWith("floor:") || !c.ok).map((c) => h("li", { class: c.ok ? "" : "fail" }, c.message)),
        h("li", { class: m.gate.checks.some((c) => c.name.startsWith("floor:") && !c.ok) ? "fail" : "" },
          `必需意图下限检查：${m.gate.checks.filter((c) => c.name.startsWith("floor:") && c.ok).length} / ${m.gate.checks.filter((c) => c.name.startsWith("floor:")).length} 项通过`))),
    ev ? h("section", { class: "card" },
      h("h3", {}, "测试集评估"),
      h("div", { class: "kpis" },
        h("div", { class: "kpi" }, "准确率", h("b", {}, num(ev.accuracy)), m.diff.accuracy !== undefined ? delta(m.diff.accuracy) : ""),
        h("div", { class: "kpi" }, "宏平均F1", h("b", {}, num(ev.macro_f1)), m.diff.macro_f1 !== undefined ? delta(m.diff.macro_f1) : ""),
        h("div", { class: "kpi" }, "测试样例", h("b", {}, ev.examples))),
      m.diff.against ? h("p", { class: "muted" }, `变化：与当前上线的模型 #${m.diff.against} 比较`) : "",
      h("div", { class: "table-wrap" }, h("table", {},
        h("thead", {}, h("tr", {}, ["意图", "F1", "变化", "样例数"].map((x) => h("th", {}, x)))),
        h("tbody", {}, intents.map((i) => h("tr", {}, h("td", {}, i), h("td", {}, num(ev.per_intent_f1[i])),
          h("td", {}, diff[i] ? delta(diff[i].delta) : ""), h("td", {}, (ev.support || {})[i] ?? "")))))))
      : h("p", { class: "muted card" }, "该模型还没有在测试集上评估（下一次训练会顺带评估当前模型）。"));
}

// ---- dashboard (inline SVG charts) ---------------------------------------------------------

const SVGNS = "http://www.w3.org/2000/svg";
function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVGNS, tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, v);
  for (const c of children) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return el;
}
const COLORS = ["#1565c0", "#ef6c00", "#2e7d32", "#8e24aa"];

function barChart(labels, values, { height = 220, format = (v) => v } = {}) {
  const W = 640, H = height, L = 40, B = 28, T = 10;
  const max = Math.max(1, ...values);
  const bw = (W - L - 10) / Math.max(1, values.length);
  const svg = s("svg", { class: "chart", viewBox: `0 0 ${W} ${H}`, role: "img" });
  for (let g = 0; g <= 4; g++) {
    const y = T + (H - T - B) * (1 - g / 4);
    svg.append(s("line", { x1: L, x2: W, y1: y, y2: y, stroke: "#e5e9ef" }), s("text", { x: L - 4, y: y + 4, "text-anchor": "end" }, format(Math.round(max * g / 4))));
  }
  values.forEach((v, i) => {
    const bh = (H - T - B) * v / max;
    const rect = s("rect", { x: L + i * bw + 1, y: H - B - bh, width: Math.max(1, bw - 2), height: bh, fill: COLORS[0], rx: 2 });
    rect.append(s("title", {}, `${labels[i]}：${format(v)}`));
    svg.append(rect);
  });
  const every = Math.ceil(labels.length / 8);
  labels.forEach((lab, i) => { if (i % every === 0) svg.append(s("text", { x: L + i * bw + bw / 2, y: H - 8, "text-anchor": "middle" }, lab.slice(5))); });
  return svg;
}

function lineChart(labels, series, { height = 220 } = {}) {
  const W = 640, H = height, L = 44, B = 28, T = 10;
  const all = series.flatMap((x) => x.values.filter((v) => v !== null));
  const max = Math.max(0.05, ...all);
  const x = (i) => L + (W - L - 10) * (labels.length <= 1 ? 0.5 : i / (labels.length - 1));
  const y = (v) => T + (H - T - B) * (1 - v / max);
  const svg = s("svg", { class: "chart", viewBox: `0 0 ${W} ${H}`, role: "img" });
  for (let g = 0; g <= 4; g++) {
    const v = max * g / 4;
    svg.append(s("line", { x1: L, x2: W, y1: y(v), y2: y(v), stroke: "#e5e9ef" }), s("text", { x: L - 4, y: y(v) + 4, "text-anchor": "end" }, (v * 100).toFixed(0) + "%"));
  }
  series.forEach((ser, k) => {
    let d = "";
    ser.values.forEach((v, i) => { if (v !== null) d += (d ? " L" : "M") + x(i).toFixed(1) + " " + y(v).toFixed(1); });
    if (d) svg.append(s("path", { d, fill: "none", stroke: COLORS[k], "stroke-width": 2 }));
    ser.values.forEach((v, i) => {
      if (v === null) return;
      const c = s("circle", { cx: x(i), cy: y(v), r: 3, fill: COLORS[k] });
      c.append(s("title", {}, `${labels[i]} ${ser.name}：${pct(v)}`));
      svg.append(c);
    });
  });
  const every = Math.ceil(labels.length / 8);
  labels.forEach((lab, i) => { if (i % every === 0) svg.append(s("text", { x: x(i), y: H - 8, "text-anchor": "middle" }, lab.slice(5))); });
  return h("div", {}, h("div", { class: "legend" }, series.map((ser, k) => h("span", {}, h("i", { style: `background:${COLORS[k]}` }), ser.name))), svg);
}

function hbarChart(items, { color = COLORS[0] } = {}) {
  const W = 640, row = 26, L = 210, H = Math.max(row, items.length * row) + 6;
  const max = Math.max(1, ...items.map((x) => x.value));
  const svg = s("svg", { class: "chart", viewBox: `0 0 ${W} ${H}`, role: "img" });
  items.forEach((it, i) => {
    const y = 3 + i * row;
    const label = it.label.length > 16 ? it.label.slice(0, 15) + "…" : it.label;
    svg.append(s("text", { x: L - 6, y: y + 16, "text-anchor": "end" }, label));
    const w = (W - L - 50) * it.value / max;
    const rect = s("rect", { x: L, y: y + 4, width: Math.max(1, w), height: row - 8, fill: color, rx: 2 });
    rect.append(s("title", {}, `${it.label}：${it.value}`));
    svg.append(rect, s("text", { x: L + w + 4, y: y + 16 }, it.value));
  });
  return svg;
}

async function dashboardView(days = 30) {
  const d = await api("/ops/dashboard", { query: { days } });
  const labels = d.days.map((x) => x.day);
  const pick = h("select", { id: "days", onchange: (e) => dashboardView(Number(e.target.value)) },
    [7, 30, 90].map((n) => h("option", { value: n, selected: n === days }, `最近 ${n} 天`)));
  const card = (title, body) => h("section", { class: "card" }, h("h3", {}, title), body);
  const t = d.totals;
  const notices = d.notices;
  view().replaceChildren(
    h("h2", {}, "质量看板"),
    h("div", { class: "row" }, pick),
    h("div", { class: "kpis" },
      h("div", { class: "kpi" }, "市民消息", h("b", { id: "kpi-messages" }, t.messages)),
      h("div", { class: "kpi" }, "对话人次", h("b", {}, t.conversations)),
      h("div", { class: "kpi" }, "未识别率", h("b", {}, pct(t.fallback_rate))),
      h("div", { class: "kpi" }, "转人工率", h("b", {}, pct(t.handoff_rate))),
      h("div", { class: "kpi" }, "菜单率", h("b", { id: "kpi-menu-rate" }, pct(t.menu_rate))),
      h("div", { class: "kpi" }, "转介率", h("b", { id: "kpi-referral-rate" }, pct(t.referral_rate))),
      notices ? h("div", { class: "kpi" }, "通知送达率", h("b", {}, pct(notices.totals.delivery_rate))) : "",
      notices ? h("div", { class: "kpi" }, "通知确认率", h("b", {}, pct(notices.totals.confirmation_rate))) : ""),
    h("div", { class: "grid2" },
      card("每日消息量", barChart(labels, d.days.map((x) => x.messages))),
      card("未识别率、转人工率、菜单率与转介率", lineChart(labels, [
        { name: "未识别率", values: d.days.map((x) => x.fallback_rate) },
        { name: "转人工率", values: d.days.map((x) => x.handoff_rate) },
        { name: "菜单率", values: d.days.map((x) => x.menu_rate) },
        { name: "转介率", values: d.days.map((x) => x.referral_rate) }])),
      card("意图分布", d.intents.length ? hbarChart(d.intents.map((x) => ({ label: x.intent, value: x.count }))) : h("p", { class: "muted" }, "暂无数据")),
      card("最常见的未识别说法", d.unrecognised.length ? hbarChart(d.unrecognised.map((x) => ({ label: x.text, value: x.count })), { color: COLORS[1] }) : h("p", { class: "muted" }, "暂无数据")),
      card("福利通知推送送达率与确认率", notices && notices.days.length
        ? lineChart(notices.days.map((x) => x.day), [
          { name: "送达率", values: notices.days.map((x) => x.delivery_rate) },
          { name: "确认率", values: notices.days.map((x) => x.confirmation_rate) }])
        : h("p", { class: "muted" }, "暂无福利通知推送数据。"))));
}

// ---- boot ------------------------------------------------------------------------------------

if (tokens()) start().catch(() => signOut()); else showLogin();
