// The grid workers' workbench (/grid/): sign-in, worklist, a resident's page, consent,
// acting for the resident, visit notes. Outdoors on a phone with weak signal: the session
// lives in localStorage, and visit notes and confirmations made offline wait in an outbox
// on the phone and are sent once the connection returns (Idempotency-Key: sent once).
(function () {
  const content = document.getElementById("content");
  const login = document.getElementById("login");
  const CARE_KEY = "huimin-grid-care";
  const OUTBOX = "huimin-grid-outbox";
  const api = new Api("huimin-grid-tokens", localStorage, showLogin);
  // From the address, not the HTML: offline, every workbench page is the same cached shell.
  const residentId = Number((location.pathname.match(/^\/grid\/residents\/(\d+)/) || [])[1]) || null;
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("/grid/sw.js", { scope: "/grid/" }).catch(function () { /* works online without it */ });
  }
  const SCOPES = { grid_worker_assist: "全部协助（查看政策、代办、指导）", view_benefits: "查看可享受的政策", apply_on_behalf: "代为确认、申请", guide: "指导办理" };
  let roles = [];
  const OUTCOMES = { met: "见到本人", helped: "已协助办理", not_home: "不在家", declined_help: "本人不需要帮助" };

  function render() { content.replaceChildren.apply(content, arguments); }

  setCare(localStorage.getItem(CARE_KEY) === "1", CARE_KEY);
  document.getElementById("care-toggle").addEventListener("click", function () {
    setCare(!document.documentElement.classList.contains("care"), CARE_KEY);
  });

  // ---- the connection and the outbox -----------------------------------------------------
  const net = document.getElementById("net");
  function showNet() {
    net.hidden = navigator.onLine;
    net.textContent = navigator.onLine ? "" : "没有网络：走访记录和确认会先存在手机里，有网后自动发送";
  }
  window.addEventListener("offline", showNet);
  let startedOffline = false;
  window.addEventListener("online", function () {
    showNet();
    if (startedOffline) { startedOffline = false; start(); } else flushOutbox();
  });

  function outbox() { try { return JSON.parse(localStorage.getItem(OUTBOX)) || []; } catch (e) { return []; } }
  function saveOutbox(items) { localStorage.setItem(OUTBOX, JSON.stringify(items)); showOutbox(); }
  function showOutbox() {
    const items = outbox();
    const box = document.getElementById("outbox");
    box.hidden = !items.length;
    box.textContent = items.length ? "等待发送：" + items.length + " 条（" + items.map(function (i) { return i.label; }).join("；") + "）" : "";
  }
  function newKey() {
    return (crypto.randomUUID ? crypto.randomUUID() : Date.now().toString(36) + Math.random().toString(36).slice(2));
  }

  // Send now, or keep it on the phone when there is no connection. Resolves to the result
  // ({status, ok, data}) or null when queued.
  async function sendOrKeep(item) {
    item.key = item.key || newKey();
    if (!navigator.onLine) { saveOutbox(outbox().concat([item])); return null; }
    try {
      return await api.call(item.method, item.path, item.body, { "Idempotency-Key": item.key });
    } catch (e) {
      if (!(e instanceof Offline)) throw e;
      saveOutbox(outbox().concat([item]));
      return null;
    }
  }

  let flushing = false;
  async function flushOutbox() {
    if (flushing || !navigator.onLine || !api.tokens()) return;
    flushing = true;
    let sent = 0;
    try {
      for (const item of outbox()) {
        let r;
        try { r = await api.call(item.method, item.path, item.body, { "Idempotency-Key": item.key }); }
        catch (e) { break; }  // still offline: try again later, in the same order
        if (r.status === 401) break;  // signed out: keep it for after sign-in
        saveOutbox(outbox().filter(function (i) { return i.key !== item.key; }));
        sent += 1;
        if (r.ok) flash("已发送：" + item.label);
        else flash("没能发送“" + item.label + "”：" + errorText(r), true);
      }
    } finally { flushing = false; }
    // Show what was just stored (unless the worker is typing the next note).
    if (sent && residentId && !document.querySelector("#visit-form textarea:focus")) showResident(residentId, true);
  }
  setInterval(flushOutbox, 5000);

  // ---- sign-in -----------------------------------------------------------------------------
  function showLogin() {
    login.hidden = false;
    document.getElementById("foot").hidden = true;
    render();
  }
  document.getElementById("login-form").addEventListener("submit", async function (e) {
    e.preventDefault();
    const form = e.target;
    const body = { username: form.username.value, password: form.password.value };
    if (form.totp.value) body.totp = form.totp.value;
    const error = document.getElementById("login-error");
    let r;
    try { r = await api.call("POST", "/staff/login", body); } catch (err) { error.textContent = "网络不好，请稍后再试"; return; }
    if (!r.ok) {
      const code = r.data && r.data.error && r.data.error.code;
      if (code === "totp_required") { document.getElementById("totp-row").hidden = false; form.totp.focus(); }
      error.textContent = errorText(r);
      return;
    }
    api.save(r.data);
    error.textContent = "";
    form.password.value = ""; form.totp.value = "";
    start();
  });
  document.getElementById("logout").addEventListener("click", async function () {
    try { await api.call("POST", "/auth/logout"); } catch (e) { /* signed out locally anyway */ }
    api.clear();
    location.href = "/grid/";
  });

  // ---- worklist ----------------------------------------------------------------------------
  async function showWorklist(q) {
    const path = "/grid/worklist?per_page=50" + (q ? "&q=" + encodeURIComponent(q) : "");
    const r = await api.call("GET", path);
    if (!r.ok) { render(h("p", { class: "error", role: "alert" }, errorText(r))); return; }
    const search = h("form", { id: "search", role: "search" },
      h("label", { for: "q" }, "在我的网格里找人（姓名或身份证号后4位）"),
      h("input", { id: "q", name: "q", value: q || "", autocomplete: "off" }),
      h("button", { type: "submit", class: "primary" }, "查找"),
      q ? h("button", { type: "button", onclick: function () { showWorklist(""); } }, "清除") : null);
    search.addEventListener("submit", function (e) { e.preventDefault(); showWorklist(search.q.value.trim()); });
    const items = r.data.items.map(function (it) {
      return h("li", { class: "card", "data-resident": it.resident_id },
        h("button", { type: "button", onclick: function () { location.href = "/grid/residents/" + it.resident_id; } },
          h("span", {}, h("strong", {}, (it.name || "居民 #" + it.resident_id) + (it.age ? "，" + it.age + "岁" : "")), h("br"),
            h("span", { class: "reason" }, it.reason_labels.join("；")), h("br"),
            h("span", { class: "muted" }, "网格 " + it.grid_id + (it.consent_scopes.length ? " · 已授权" : " · 未授权")))));
    });
    render(search, h("h2", {}, (q ? "查找结果" : "需要走访的居民") + "（" + r.data.total + "）"),
      items.length ? h("ul", { class: "plain worklist", id: "worklist" }, ...items) : h("p", { class: "muted", id: "worklist-empty" }, q ? "我的网格里没有找到。" : "暂时没有需要走访的居民。"));
  }

  // ---- paper consents to check (grid supervisors) ------------------------------------------
  // A paper form recorded by a grid worker is in force only once a supervisor of the grid has
  // checked the photo of the signed form against it: confirm, or send it back with a reason.
  async function paperSection() {
    const r = await api.call("GET", "/grid/consents/pending");
    const section = h("section", { id: "paper-pending" }, h("h2", {}, "待核对的纸质授权书（" + (r.ok ? r.data.items.length : 0) + "）"));
    if (!r.ok) { section.appendChild(h("p", { class: "error", role: "alert" }, errorText(r))); return section; }
    if (!r.data.items.length) section.appendChild(h("p", { class: "muted", id: "paper-empty" }, "没有等待核对的授权书。"));
    r.data.items.forEach(function (it) { section.appendChild(paperCard(it)); });
    return section;
  }

  function paperCard(it) {
    const reason = h("input", { id: "reject-reason-" + it.id, name: "reason", maxlength: "200", autocomplete: "off" });
    const card = h("article", { class: "card paper", id: "paper-" + it.id, "data-resident": it.resident_id },
      h("h3", {}, (it.resident_name || "居民 #" + it.resident_id) + " · 网格 " + (it.grid_id || "")),
      h("p", {}, "授权范围：" + it.scope_labels.join("、") + "，有效 " + it.days + " 天"),
      h("p", {}, "授权书照片编号：" + (it.evidence || "无")),
      h("p", { class: "muted" }, "登记人：" + (it.requested_by_name || "") + "，" + fmtTime(it.requested_at)),
      h("button", { type: "button", class: "primary wide", "data-paper-confirm": it.id, onclick: function () { decidePaper(it, "confirm", {}); } }, "核对无误，确认生效"),
      h("label", { for: reason.id }, "退回原因（照片看不清、签字不符等）"), reason,
      h("button", { type: "button", class: "danger wide", "data-paper-reject": it.id, onclick: function () { decidePaper(it, "reject", { reason: reason.value }); } }, "退回"));
    return card;
  }

  async function decidePaper(it, what, body) {
    const r = await api.call("POST", "/grid/consents/" + it.id + "/" + what, body);
    if (!r.ok) { flash(errorText(r), true); return; }
    flash(what === "confirm" ? "已确认，授权立即生效，居民会收到微信消息" : "已退回，登记的网格员需要重新登记");
    const card = document.getElementById("paper-" + it.id);
    if (card) card.remove();
  }

  // ---- a resident --------------------------------------------------------------------------
  async function showResident(id, quiet) {
    const back = h("a", { class: "button", href: "/grid/" }, "返回清单");
    const who = await api.call("GET", "/staff/residents/" + id);
    if (!who.ok) {
      const code = who.data && who.data.error && who.data.error.code;
      const parts = [back, h("p", { class: "error", role: "alert", id: "refusal" }, errorText(who))];
      if (code === "consent_required") parts.push(consentSection(id, []));
      render.apply(null, parts);
      return;
    }
    const p = who.data;
    const [ben, visits, guides] = await Promise.all([
      api.call("GET", "/grid/residents/" + id + "/benefits"), api.call("GET", "/grid/residents/" + id + "/visits"), api.call("GET", "/guides")]);
    const sections = [back,
      h("section", { class: "card", id: "identity" }, h("h2", {}, p.name || "居民 #" + p.resident_id),
        h("p", {}, "身份证号：" + (p.id_number || "无")), h("p", {}, "手机号：" + (p.phone || "无")), h("p", {}, "网格：" + p.grid_id)),
      consentSection(id, p.consents, p.consents_in_force)];
    if (ben.ok) sections.push(benefitsSection(id, ben.data));
    else sections.push(h("p", { class: "muted" }, errorText(ben)));
    if (guides.ok) sections.push(guideSection(id, guides.data.items));
    sections.push(visitSection(id, visits.ok ? visits.data.items : []));
    render.apply(null, sections);
    if (!quiet) window.scrollTo(0, 0);
  }

  function consentSection(id, scopes, details) {
    const inForce = scopes.filter(function (s) { return SCOPES[s]; });
    const until = {};
    (details || []).forEach(function (c) { until[c.scope] = c.expires_at ? "有效至 " + fmtTime(c.expires_at).slice(0, 10) : "长期有效"; });
    const section = h("section", { class: "card", id: "consent" }, h("h2", {}, "居民授权"),
      h("p", { id: "consent-state" }, inForce.length ? "正在生效：" + inForce.map(function (s) { return SCOPES[s] + (until[s] ? "（" + until[s] + "）" : ""); }).join("、") : "没有授权：不能查看或代办。"));
    if (inForce.length) {
      section.appendChild(h("button", { type: "button", class: "danger wide", id: "withdraw", onclick: async function () {
        const r = await api.call("POST", "/grid/residents/" + id + "/consents/withdraw", { scopes: inForce });
        if (!r.ok) { flash(errorText(r), true); return; }
        flash("已按居民要求撤回授权");
        showResident(id, true);
      } }, "居民要求撤回授权"));
      return section;
    }
    const ask = h("form", { id: "ask-form" },
      h("label", { for: "ask-days" }, "有效天数"), h("input", { id: "ask-days", name: "days", type: "number", min: "1", max: "90", value: "30" }),
      h("button", { type: "submit", class: "primary wide" }, "请居民在微信里授权"));
    ask.addEventListener("submit", async function (e) {
      e.preventDefault();
      const r = await api.call("POST", "/grid/residents/" + id + "/consent-requests", { scopes: ["grid_worker_assist"], days: Number(ask.days.value) });
      if (r.ok) flash("已发给居民，居民在公众号里点“同意”后生效");
      else if (!showFieldErrors(ask, r)) flash(errorText(r), true);
    });
    const paper = h("form", { id: "paper-form" },
      h("h3", {}, "当面授权（签字授权书）"),
      h("label", { for: "paper-evidence" }, "授权书照片编号"), h("input", { id: "paper-evidence", name: "evidence", required: true }),
      h("label", { for: "paper-days" }, "有效天数"), h("input", { id: "paper-days", name: "days", type: "number", min: "1", max: "90", value: "30" }),
      h("button", { type: "submit", class: "wide" }, "登记，等另一位工作人员核对"));
    paper.addEventListener("submit", async function (e) {
      e.preventDefault();
      const r = await api.call("POST", "/grid/residents/" + id + "/consents", { scopes: ["grid_worker_assist"], days: Number(paper.days.value), evidence: paper.evidence.value });
      if (r.ok) flash("已登记，另一位工作人员核对照片后生效");
      else if (!showFieldErrors(paper, r)) flash(errorText(r), true);
    });
    section.appendChild(ask);
    section.appendChild(paper);
    return section;
  }

  function benefitsSection(id, data) {
    const cards = data.items.filter(function (b) { return b.status !== "not_eligible" || b.notice; }).map(function (b) {
      const card = h("article", { class: "card benefit", "data-policy": b.policy },
        h("h3", {}, b.title), h("span", { class: "chip " + b.status }, { eligible: "符合条件", unknown: "还需了解", not_eligible: "暂不符合" }[b.status]),
        h("ul", { class: "plain" }, ...b.reasons.map(function (t) { return h("li", {}, t); })),
        b.missing.length ? h("p", { class: "missing" }, "还需了解：" + b.missing.join("、")) : null);
      const n = b.notice;
      if (n && (n.status === "matched" || n.status === "notified")) {
        card.appendChild(h("button", { type: "button", class: "primary wide", "data-confirm": n.id, onclick: function () { confirmFor(id, n.id, b.title, card); } }, "代居民确认领取"));
      } else if (n) {
        card.appendChild(h("p", { class: "ok" }, "提醒状态：" + ({ confirmed: "已确认", declined: "居民不需要", expired: "已过期", granted: "已发放" }[n.status] || n.status)));
      }
      return card;
    });
    return h("section", { id: "benefits" }, h("h2", {}, "可享受的政策"), ...cards);
  }

  async function confirmFor(id, noticeId, title, card) {
    const r = await sendOrKeep({ method: "POST", path: "/grid/residents/" + id + "/notices/" + noticeId + "/confirm", label: "代确认：" + title });
    if (r === null) { card.appendChild(h("p", { class: "pending" }, "等待发送")); flash("没有网络：已存在手机里，有网后自动发送"); return; }
    if (!r.ok) { flash(errorText(r), true); return; }
    flash("已代居民确认领取，居民会收到微信消息");
    showResident(id, true);
  }

  function guideSection(id, guides) {
    const pick = h("select", { id: "guide-key", name: "guide", "aria-label": "办事指引" }, ...guides.map(function (g) { return h("option", { value: g.key }, g.title); }));
    const box = h("div", { id: "guide-box" });
    const section = h("section", { class: "card", id: "guide" }, h("h2", {}, "协助办理（读给居民听）"), pick,
      h("button", { type: "button", class: "primary wide", id: "guide-start", onclick: function () { guideCall(id, pick.value, "", box); } }, "开始"), box);
    return section;
  }

  async function guideCall(id, key, action, box, body) {
    const r = await api.call("POST", "/grid/residents/" + id + "/guides/" + encodeURIComponent(key) + (action ? "/" + action : ""), body);
    if (!r.ok) { flash(errorText(r), true); return; }
    const t = r.data;
    const lines = t.messages.map(function (m) { return h("p", { class: "step" }, m.lines.join(" ")); });
    const options = t.messages.flatMap(function (m) { return m.options; }).filter(function (o) { return ["answer", "resume", "restart"].indexOf(o.command) >= 0; });
    const over = t.finished || t.event === "stopped" || t.event === "handoff";
    const controls = over ? [h("p", { class: "ok", id: "guide-done" }, t.finished ? "办完了" : "已停止")] : [
      ...options.map(function (o) { return h("button", { type: "button", onclick: function () { guideCall(id, key, "answer", box, { choice: o.number }); } }, o.label); }),
      h("button", { type: "button", class: "primary", id: "guide-next", onclick: function () { guideCall(id, key, "next", box); } }, "下一步"),
      h("button", { type: "button", id: "guide-repeat", onclick: function () { guideCall(id, key, "repeat", box); } }, "再说一遍"),
      h("button", { type: "button", id: "guide-back", onclick: function () { guideCall(id, key, "back", box); } }, "上一步"),
      h("button", { type: "button", class: "danger", id: "guide-stop", onclick: function () { guideCall(id, key, "stop", box); } }, "不办了")];
    box.dataset.turn = String(Number(box.dataset.turn || 0) + 1);  // one more answer shown
    box.replaceChildren(h("p", { class: "muted", id: "guide-progress" }, t.step ? "第 " + t.step + " 步，共 " + t.steps + " 步" : t.guide.title), ...lines, ...controls);
  }

  function pendingItem(v) {
    return h("li", { class: "pending", "data-key": v.key }, "等待发送：" + OUTCOMES[v.body.outcome] + " " + (v.body.note || ""));
  }

  function visitSection(id, visits) {
    const pending = outbox().filter(function (i) { return i.resident === id && i.kind === "visit"; });
    const form = h("form", { id: "visit-form", novalidate: true },
      h("label", { for: "visit-outcome" }, "走访结果"),
      h("select", { id: "visit-outcome", name: "outcome" }, ...Object.entries(OUTCOMES).map(function (o) { return h("option", { value: o[0] }, o[1]); })),
      h("label", { for: "visit-note" }, "记录"), h("textarea", { id: "visit-note", name: "note", maxlength: "500" }),
      h("label", { for: "visit-next" }, "下次走访日期"), h("input", { id: "visit-next", name: "next_visit_on", type: "date" }),
      h("button", { type: "submit", class: "primary wide" }, "保存走访记录"));
    form.addEventListener("submit", async function (e) {
      e.preventDefault();
      const body = { outcome: form.outcome.value, note: form.note.value };
      if (form.next_visit_on.value) body.next_visit_on = form.next_visit_on.value;
      const item = { method: "POST", path: "/grid/residents/" + id + "/visits", body: body, label: "走访记录", resident: id, kind: "visit" };
      const r = await sendOrKeep(item);
      if (r === null) {
        flash("没有网络：走访记录已存在手机里，有网后自动发送");
        form.reset();
        document.getElementById("visit-list").prepend(pendingItem(item));
        return;
      }
      if (!r.ok) { if (!showFieldErrors(form, r)) flash(errorText(r), true); return; }
      flash("走访记录已保存");
      showResident(id, true);
    });
    return h("section", { class: "card", id: "visits" }, h("h2", {}, "走访记录"), form,
      h("ul", { class: "plain", id: "visit-list" },
        ...pending.map(pendingItem),
        ...visits.map(function (v) {
          return h("li", { "data-visit": v.id }, fmtTime(v.visited_at) + " " + v.outcome_label + (v.note ? "：" + v.note : "") + (v.next_visit_on ? "（下次 " + v.next_visit_on + "）" : ""));
        })));
  }

  // ---- start -------------------------------------------------------------------------------
  async function start() {
    showNet(); showOutbox();
    if (!api.tokens()) { showLogin(); return; }
    let me;
    try { me = await api.call("GET", "/staff/me"); }
    catch (e) { startedOffline = true; showOffline(); return; }
    if (!me.ok) { showLogin(); return; }
    login.hidden = true;
    document.getElementById("foot").hidden = false;
    document.getElementById("me-name").textContent = me.data.username;
    flushOutbox();
    roles = me.data.roles || [];
    if (residentId) await showResident(residentId);
    else await showHome();
  }

  // Opened with no signal (the shell came from the service worker's cache): what waits in the
  // outbox, and on a resident's page a visit note can still be written; the rest needs signal.
  function showOffline() {
    login.hidden = true;
    const parts = [h("p", { class: "error", role: "alert", id: "offline-note" }, "没有网络：居民资料要等有网才能打开。已保存的内容有网后自动发送。")];
    if (residentId) parts.push(visitSection(residentId, []));
    render.apply(null, parts);
  }

  // Home: the supervisor's forms to check, the grid worker's worklist (one account may be both).
  async function showHome(q) {
    const worker = roles.indexOf("grid_worker") >= 0, supervisor = roles.indexOf("grid_supervisor") >= 0;
    if (!supervisor) { await showWorklist(q || ""); return; }
    const paper = await paperSection();
    if (!worker) { render(paper); return; }
    await showWorklist(q || "");
    content.prepend(paper);
  }
  start();
})();
