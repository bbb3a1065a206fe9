// The citizen's own pages inside WeChat (/my/): benefits and notices, employment code,
// grid-worker help, my data. Signed in through WeChat web authorisation (/my/sign-in).
(function () {
  const main = document.getElementById("main");
  const content = document.getElementById("content");
  const page = main.dataset.page;
  const CARE_KEY = "huimin-my-care";
  const api = new Api("huimin-my-tokens", sessionStorage, signIn);
  const STATUS = { eligible: "符合条件", unknown: "还需了解情况", not_eligible: "暂不符合" };
  const NEXT = {
    confirmed: "已确认领取。不用再填表，经办人员审核后会在公众号里告诉您结果。",
    declined: "已记下您不需要这项待遇。如果改变主意，请拨打 12333。",
  };
  let qrTimer = null;

  function signIn() {
    location.replace("/my/sign-in?next=" + encodeURIComponent(location.pathname + location.search));
  }

  function render() { content.replaceChildren.apply(content, arguments); }

  function care() { return document.documentElement.classList.contains("care"); }

  // Care mode (适老化): one screen at a time, one main action on each, plain words. A screen
  // is {key, build(flow)} where build returns its nodes; flow.next() moves on, flow.done(nodes)
  // shows what happened in place of the screen with the way on. Normal mode shows it all.
  function screens(list, startKey) {
    let at = Math.max(0, list.findIndex(function (x) { return x.key === startKey; }));
    const flow = {
      next: function () { at = Math.min(at + 1, list.length - 1); show(); },
      back: function () { at = Math.max(at - 1, 0); show(); },
      done: function (nodes) { show(nodes); },
    };
    function show(replaced) {
      const last = at === list.length - 1;
      const body = replaced || list[at].build(flow);
      const foot = [];
      // The screen's own action is its main one; "下一页" is the main one only when it has none
      // or once it is done.
      const acted = replaced || !list[at].action;
      if (!last) foot.push(h("button", { type: "button", class: acted ? "primary wide" : "wide", id: "screen-next", onclick: flow.next }, "下一页"));
      if (at > 0) foot.push(h("button", { type: "button", class: "wide", id: "screen-back", onclick: flow.back }, "上一页"));
      render(h("section", { class: "screen", id: "screen", "data-key": list[at].key },
        list.length > 1 ? h("p", { class: "muted", id: "screen-progress" }, "第 " + (at + 1) + " 页，共 " + list.length + " 页") : null,
        ...body, ...foot));
      window.scrollTo(0, 0);
    }
    show();
    return flow;
  }

  async function get(path) {
    const r = await api.call("GET", path);
    return r;
  }

  // ---- care mode: the same setting as in the chat ------------------------------------------
  async function loadCare() {
    const r = await get("/me/care-mode");
    if (r.ok) setCare(r.data.care_mode, CARE_KEY);
  }
  document.getElementById("care-toggle").addEventListener("click", async function () {
    const on = !document.documentElement.classList.contains("care");
    const r = await api.call("PUT", "/me/care-mode", { care_mode: on });
    if (r.ok) { setCare(r.data.care_mode, CARE_KEY); flash(on ? "已开启大字模式，公众号对话里也一样" : "已关闭大字模式"); }
    else flash(errorText(r), true);
  });

  // ---- real name (needed before benefits, code, help) ---------------------------------------
  function realNameForm(after) {
    const form = h("form", { id: "real-name-form", novalidate: true },
      h("p", {}, "请先实名认证，我们才能按您的资料查找政策。"),
      h("label", { for: "rn-name" }, "姓名"), h("input", { id: "rn-name", name: "name", autocomplete: "name", required: true }),
      h("label", { for: "rn-id" }, "身份证号"), h("input", { id: "rn-id", name: "id_number", inputmode: "text", maxlength: "18", required: true }),
      h("label", { class: "check", for: "rn-consent" }, h("input", { id: "rn-consent", name: "consent", type: "checkbox" }), "我同意用于办理社保和就业业务"),
      h("button", { type: "submit", class: "primary wide" }, "提交"));
    form.addEventListener("submit", async function (e) {
      e.preventDefault();
      const r = await api.call("POST", "/me/real-name", { name: form.name.value, id_number: form.id_number.value, consent: form.consent.checked });
      if (r.ok) { flash("实名认证成功"); after(); return; }
      if (!showFieldErrors(form, r)) flash(errorText(r), true);
    });
    return h("section", { class: "card" }, h("h2", {}, "实名认证"), form);
  }

  // ---- 我的补贴 --------------------------------------------------------------------------------
  const skipped = [];

  // One question at a time, the same as in the chat: the answer is saved to my records and
  // the matching runs again.
  async function questionCard() {
    const r = await get("/me/benefits/question?skip=" + encodeURIComponent(skipped.join(",")));
    if (!r.ok || !r.data.fact) return null;
    const q = r.data;
    const form = h("form", { id: "question-form", class: "card", "data-fact": q.fact, novalidate: true },
      h("h2", {}, "回答一个问题，帮您判断"),
      q.choices.length ? h("p", { id: "question-text" }, q.text) : h("label", { for: "answer" }, q.text));
    async function send(answer) {
      const res = await api.call("POST", "/me/benefits/answers", { fact: q.fact, answer: answer });
      if (!res.ok) { if (!showFieldErrors(form, res)) flash(errorText(res), true); return; }
      if (!res.data.saved) skipped.push(q.fact);
      flash(res.data.saved ? "已保存，正在重新为您查找" : "好的，先跳过这个问题");
      benefits("question");
    }
    if (q.choices.length) {
      form.appendChild(h("div", { role: "group", "aria-labelledby": "question-text" }, ...q.choices.map(function (c, i) {
        return h("button", { type: "button", class: "wide", "data-answer": c.value, onclick: function () { send(String(i + 1)); } }, c.label);
      })));
    } else {
      form.appendChild(h("input", { id: "answer", name: "answer", autocomplete: "off" }));
      form.appendChild(h("button", { type: "submit", class: "primary wide" }, "保存"));
      form.addEventListener("submit", function (e) { e.preventDefault(); send(form.answer.value); });
      form.appendChild(h("button", { type: "button", class: "wide", onclick: function () { send("不清楚"); } }, "不清楚"));
    }
    return form;
  }

  async function benefits(startKey) {
    const [b, n] = await Promise.all([get("/me/benefits"), get("/me/notices?per_page=50")]);
    if (b.status === 409) { render(realNameForm(benefits)); return; }
    if (!b.ok) { render(h("p", { class: "error" }, errorText(b))); return; }
    const focus = Number(new URLSearchParams(location.search).get("notice")) || null;
    const notices = (n.ok ? n.data.items : []);
    const open = notices.filter(function (x) { return x.status === "matched" || x.status === "notified"; });
    const done = notices.filter(function (x) { return open.indexOf(x) < 0; });
    const question = await questionCard();
    const eligible = b.data.results.filter(function (r) { return r.status !== "not_eligible"; });
    if (care()) {
      // One notice per screen (the one the push linked to first), then the question, then
      // what she may get, then what was done.
      const list = open.slice().sort(function (x, y) { return (y.id === focus) - (x.id === focus); }).map(function (x) {
        return { key: "notice-" + x.id, action: true, build: function (flow) { return [h("h2", {}, "请您确认"), noticeCard(x, x.id === focus, flow)]; } };
      });
      if (!open.length) list.push({ key: "no-open", build: function () { return [h("h2", {}, "待您确认"), h("p", { id: "no-open" }, "没有需要您确认的提醒。")]; } });
      if (question) list.push({ key: "question", action: true, build: function () { return [question]; } });
      list.push({ key: "eligible", build: function () { return [h("h2", {}, "您可能享受的政策"), ...eligible.map(benefitCard)]; } });
      if (done.length) list.push({ key: "done", build: function () { return [h("h2", {}, "处理过的提醒"), ...done.map(function (x) { return noticeCard(x, false); })]; } });
      screens(list, startKey || (focus ? "notice-" + focus : null));
      return;
    }
    const sections = [h("h2", {}, "待您确认")];
    if (!open.length) sections.push(h("p", { class: "muted", id: "no-open" }, "没有需要您确认的提醒。"));
    open.forEach(function (x) { sections.push(noticeCard(x, x.id === focus)); });
    if (question) sections.push(question);
    sections.push(h("h2", {}, "您可能享受的政策"));
    eligible.forEach(function (r) { sections.push(benefitCard(r)); });
    if (done.length) {
      sections.push(h("h2", {}, "处理过的提醒"));
      done.forEach(function (x) { sections.push(noticeCard(x, x.id === focus)); });
    }
    render.apply(null, sections);
    const target = focus && document.getElementById("notice-" + focus);
    if (target) target.scrollIntoView({ block: "center" });
  }

  function noticeCard(x, focused, flow) {
    const card = h("article", { class: "card notice" + (focused ? " focus" : ""), id: "notice-" + x.id, "data-status": x.status },
      h("h3", {}, x.title),
      x.amount ? h("p", {}, "金额：" + x.amount.text + (x.duration ? "，" + x.duration.text : "")) : null,
      h("p", { class: "muted" }, "请在 " + fmtTime(x.expires_at).slice(0, 10) + " 前确认"));
    if (x.status === "matched" || x.status === "notified") {
      card.appendChild(h("button", { type: "button", class: "primary wide", "data-confirm": x.id, onclick: function () { answer(x, "confirm", flow); } }, "确认领取"));
      card.appendChild(h("button", { type: "button", class: "wide", "data-decline": x.id, onclick: function () { answer(x, "decline", flow); } }, "不需要"));
    } else {
      const by = x.response_channel === "grid_worker" ? "（网格员代您确认）" : "";
      card.appendChild(h("p", { class: "ok next" }, (NEXT[x.status] || "状态：" + x.status) + by));
    }
    return card;
  }

  async function answer(x, what, flow) {
    const r = await api.call("POST", "/me/notices/" + x.id + "/" + what);
    if (!r.ok) { flash(errorText(r), true); return; }
    flash(NEXT[r.data.status] || "已处理");
    if (flow) { flow.done([h("h2", {}, "已办好"), noticeCard(r.data, true)]); return; }
    const card = document.getElementById("notice-" + x.id);
    card.replaceWith(noticeCard(r.data, true));
  }

  function benefitCard(r) {
    return h("article", { class: "card benefit", "data-policy": r.policy },
      h("h3", {}, r.title), h("span", { class: "chip " + r.status }, STATUS[r.status] || r.status),
      r.amount ? h("p", {}, "金额：" + r.amount.text) : null,
      h("p", { class: "muted" }, "理由："),
      h("ul", { class: "plain reasons" }, ...r.reasons.map(function (t) { return h("li", {}, t); })),
      r.missing_labels.length ? h("p", { class: "missing" }, "还需要了解：" + r.missing_labels.join("、")) : null);
  }

  // ---- 我的就业码 ------------------------------------------------------------------------------
  async function code() {
    clearTimeout(qrTimer);
    const r = await api.call("POST", "/me/employment-code");
    if (r.status === 403 && r.data.error.code === "real_name_required") { render(realNameForm(code)); return; }
    if (!r.ok) { render(h("p", { class: "error", role: "alert" }, errorText(r))); return; }
    const c = r.data;
    scheduleRefresh(c);
    const scans = await get("/me/employment-code/scans?per_page=20");
    const card = h("section", { class: "card", id: "code-card", "data-colour": c.colour },
      h("h2", { id: "code-label" }, c.label),
      h("img", { class: "qr " + c.colour, id: "qr", src: c.qr_svg_url, alt: "就业码二维码，" + c.label }),
      h("p", { class: "muted", id: "code-expiry" }, "有效至 " + fmtTime(c.expires_at) + "，到期前自动更新"));
    const revokeButton = h("button", { type: "button", class: "danger wide", id: "revoke", onclick: revoke }, "作废就业码");
    const log = h("section", { class: "card" }, h("h2", {}, "扫码记录"),
      h("ul", { class: "plain", id: "scans" }, ...((scans.ok && scans.data.items) || []).map(function (s) {
        return h("li", {}, fmtTime(s.scanned_at) + " " + s.who);
      })),
      (scans.ok && scans.data.items.length) ? null : h("p", { class: "muted" }, "还没有人扫过您的码。"));
    if (care()) {
      screens([
        { key: "code", build: function () { return [card]; } },
        { key: "scans", build: function () { return [log]; } },
        { key: "revoke", action: true, build: function () {
          return [h("h2", {}, "不想再用这个码？"), h("p", {}, "作废后，别人再扫会显示无效。"), revokeButton];
        } }]);
      return;
    }
    card.appendChild(revokeButton);
    render(card, log);
  }

  // A fresh code half a minute before this one expires: the QR on screen always scans. Only
  // the picture changes, so a care-mode reader stays on the screen she is on.
  function scheduleRefresh(c) {
    const left = new Date(c.expires_at) - Date.now();
    qrTimer = setTimeout(async function () {
      const r = await api.call("POST", "/me/employment-code");
      const img = document.getElementById("qr");
      if (!r.ok || !img) return;
      img.src = r.data.qr_svg_url;
      img.className = "qr " + r.data.colour;
      document.getElementById("code-expiry").textContent = "有效至 " + fmtTime(r.data.expires_at) + "，到期前自动更新";
      scheduleRefresh(r.data);
    }, Math.max(5000, left - 30000));
  }

  async function revoke() {
    const r = await api.call("POST", "/me/employment-code/revoke");
    if (!r.ok) { flash(errorText(r), true); return; }
    clearTimeout(qrTimer);
    flash("就业码已作废，别人再扫会显示无效");
    render(h("p", {}, "就业码已作废。"), h("button", { type: "button", class: "primary wide", onclick: code }, "重新出示"));
  }

  // ---- 网格员帮办 --------------------------------------------------------------------------------
  async function assist() {
    const [req, cons, hist] = await Promise.all([get("/me/grid-consent-requests"), get("/me/consents"), get("/me/history?per_page=50")]);
    const gridScopes = ["view_benefits", "apply_on_behalf", "guide", "grid_worker_assist"];
    const active = (cons.ok ? cons.data.items : []).filter(function (c) { return gridScopes.indexOf(c.scope) >= 0; });
    const requests = (req.ok && req.data.items) || [];
    const noConsents = h("p", { class: "muted", id: "no-consents" }, "您没有授权网格员帮您办事。");
    const history = h("ul", { class: "plain", id: "history" }, ...((hist.ok && hist.data.items) || []).map(function (e) {
      return h("li", { class: "card" }, h("strong", {}, fmtTime(e.at) + " " + e.who), h("br"), e.text);
    }));
    if (care()) {
      // Each request, then each consent in force, on a screen of its own; then the history.
      const list = requests.map(function (r) {
        return { key: "request-" + r.id, action: true, build: function () { return [h("h2", {}, "网格员请您授权"), requestCard(r)]; } };
      }).concat(active.map(function (c) {
        return { key: "consent-" + c.scope, action: true, build: function () { return [h("h2", {}, "正在生效的授权"), consentCard(c)]; } };
      }));
      if (!requests.length && !active.length) list.push({ key: "none", build: function () { return [h("h2", {}, "网格员帮办"), noConsents]; } });
      list.push({ key: "history", build: function () { return [h("h2", {}, "为我办过的事"), history]; } });
      screens(list, new URLSearchParams(location.search).get("request") ? "request-" + new URLSearchParams(location.search).get("request") : null);
      return;
    }
    render(
      h("section", {}, h("h2", {}, "网格员请您授权"),
        ...(requests.length ? requests.map(requestCard) : [h("p", { class: "muted" }, "没有新的请求。")])),
      h("section", {}, h("h2", {}, "正在生效的授权"), ...(active.length ? active.map(consentCard) : [noConsents])),
      h("section", {}, h("h2", {}, "为我办过的事"), history));
  }

  function requestCard(r) {
    return h("article", { class: "card", id: "request-" + r.id },
      h("p", {}, "网格员请您授权：" + r.scope_labels.join("、")),
      h("p", { class: "muted" }, "有效 " + r.days + " 天，" + (r.only_requester ? "只授权给这位网格员" : "本网格的网格员都可以帮您") + "。请在 " + fmtTime(r.answer_by).slice(0, 10) + " 前回复。"),
      h("button", { type: "button", class: "primary wide", "data-accept": r.id, onclick: function () { decide(r, "accept"); } }, "同意"),
      h("button", { type: "button", class: "wide", "data-decline": r.id, onclick: function () { decide(r, "decline"); } }, "不同意"));
  }

  async function decide(r, what) {
    const res = await api.call("POST", "/me/grid-consent-requests/" + r.id + "/" + what);
    if (!res.ok) { flash(errorText(res), true); return; }
    flash(what === "accept" ? "已同意。您随时可以在这里撤回。" : "已拒绝，网格员不能替您办事。");
    assist();
  }

  function consentCard(c) {
    return h("article", { class: "card consent", "data-scope": c.scope },
      h("p", {}, c.label), h("p", { class: "muted" }, c.expires_at ? "到 " + fmtTime(c.expires_at).slice(0, 10) + " 为止" : "长期有效"),
      h("button", { type: "button", class: "danger wide", "data-withdraw": c.scope, onclick: async function () {
        const r = await api.call("DELETE", "/me/consents/" + encodeURIComponent(c.scope));
        if (!r.ok) { flash(errorText(r), true); return; }
        flash("已撤回，网格员马上不能再替您办这件事。");
        assist();
      } }, "撤回"));
  }

  // ---- 我的数据 ----------------------------------------------------------------------------------
  async function data() {
    const r = await get("/me");
    if (!r.ok) { render(h("p", { class: "error" }, errorText(r))); return; }
    const p = r.data;
    const rows = [["姓名", p.name], ["身份证号", p.id_number], ["手机号", p.phone], ["网格", p.grid_id], ["实名认证", p.real_name_verified ? "已认证" : "未认证"]];
    const confirmBox = h("section", { class: "card", id: "delete-confirm", hidden: true },
      h("p", { class: "error" }, "注销后，您的授权全部撤回，您提供的个人信息将被删除，不能恢复。"),
      h("button", { type: "button", class: "danger wide", id: "delete-yes", onclick: erase }, "确认注销"),
      h("button", { type: "button", class: "wide", id: "delete-no", onclick: function () {
        confirmBox.hidden = true; deleteButton.hidden = false; deleteText.hidden = false;
      } }, "不注销了"));
    const profile = h("section", { class: "card" }, h("h2", {}, "我们保存的您的信息（已打码）"),
      h("ul", { class: "plain", id: "profile" }, ...rows.map(function (x) { return h("li", {}, x[0] + "：" + (x[1] || "无")); })));
    const exportButton = h("button", { type: "button", class: "primary wide", id: "export", onclick: exportData }, "下载我的全部数据");
    const deleteButton = h("button", { type: "button", class: "danger wide", id: "delete", onclick: function () {
      if (care()) { deleteButton.hidden = true; deleteText.hidden = true; }
      confirmBox.hidden = false;
    } }, "注销账号");
    const deleteText = h("p", {}, "不再使用惠民人社，可以注销账号。");
    if (care()) {
      screens([
        { key: "profile", build: function () { return [profile]; } },
        { key: "export", action: true, build: function () { return [h("h2", {}, "下载我的数据"), h("p", {}, "把我们保存的您的全部信息下载到手机上。"), exportButton]; } },
        { key: "delete", action: true, build: function () { return [h("h2", {}, "注销账号"), deleteText, deleteButton, confirmBox]; } }]);
      return;
    }
    render(profile, exportButton, deleteButton, confirmBox);
  }

  async function exportData() {
    const r = await get("/me/export");
    if (!r.ok) { flash(errorText(r), true); return; }
    const blob = new Blob([JSON.stringify(r.data, null, 2)], { type: "application/json" });
    const link = h("a", { href: URL.createObjectURL(blob), download: "我的数据.json" });
    document.body.appendChild(link); link.click(); link.remove();
    flash("已下载您的数据");
  }

  async function erase() {
    const r = await api.call("DELETE", "/me");
    if (!r.ok && r.status !== 204) { flash(errorText(r), true); return; }
    api.clear();
    render(h("p", { id: "deleted" }, "您的账号已注销，个人信息已删除。"));
  }

  const PAGES = { benefits: benefits, code: code, assist: assist, data: data };
  (async function start() {
    if (!api.tokens()) { signIn(); return; }
    try {
      await loadCare();
      await PAGES[page]();
    } catch (e) {
      render(h("p", { class: "error", role: "alert" }, "网络不好，请稍后再试"));
    }
  })();
})();
