// Plays a citizen's WeChat: asks the emulator for a real signed envelope, posts it to the
// real callback, opens the passive reply, and polls for messages delivered later.
(function () {
  const chat = document.getElementById("chat");
  const input = document.getElementById("input");
  let openid = localStorage.getItem("huimin-sim-openid");
  if (!openid) {
    openid = "sim-" + Math.random().toString(36).slice(2, 12);
    localStorage.setItem("huimin-sim-openid", openid);
  }
  let sinceId = 0;

  // WeChat opens a link inside its own browser, signed in as this user: here the emulator
  // remembers who "this user" is before going on to the page.
  const emulator = document.getElementById("menu").dataset.emulator;
  function asMe(url) {
    return emulator + "/_emulator/as?openid=" + encodeURIComponent(openid) + "&next=" + encodeURIComponent(url);
  }
  const LINK = /<a href="(https?:\/\/[^"]+)"[^>]*>([^<]*)<\/a>/g;

  // Text with WeChat's <a href> links made clickable; everything else stays text.
  function fill(bubble, text) {
    let last = 0;
    for (const m of text.matchAll(LINK)) {
      bubble.appendChild(document.createTextNode(text.slice(last, m.index)));
      const a = document.createElement("a");
      a.href = asMe(m[1]); a.target = "_blank"; a.rel = "noopener"; a.textContent = m[2];
      a.dataset.url = m[1];
      bubble.appendChild(a);
      last = m.index + m[0].length;
    }
    bubble.appendChild(document.createTextNode(text.slice(last)));
  }

  function show(who, text, extra) {
    const row = document.createElement("div");
    row.className = "msg " + who + (extra ? " " + extra : "");
    const bubble = document.createElement("div");
    bubble.className = "bubble";
    fill(bubble, text);
    row.appendChild(bubble);
    chat.appendChild(row);
    chat.scrollTop = chat.scrollHeight;
    return bubble;
  }

  function showImage(mediaId) {
    const bubble = show("bot", "", "later");
    const img = document.createElement("img");
    img.alt = "图片";
    img.src = "/simulator/api/media/" + encodeURIComponent(mediaId);
    bubble.appendChild(img);
  }

  async function postJSON(url, body) {
    const resp = await fetch(url, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
    return resp.json();
  }

  async function deliver(message) {
    const env = await postJSON("/simulator/api/envelope", Object.assign({ openid: openid }, message));
    if (!env.body) { show("system", "模拟服务不可用"); return; }
    const qs = new URLSearchParams(env.query).toString();
    const resp = await fetch("/wechat/callback?" + qs, { method: "POST", headers: { "Content-Type": "text/xml" }, body: env.body });
    const text = await resp.text();
    if (!resp.ok) { show("system", "回调返回 " + resp.status); return; }
    const opened = await postJSON("/simulator/api/open", { body: text });
    if (opened.content) show("bot", opened.content);
  }

  async function poll() {
    try {
      const resp = await fetch("/simulator/api/messages?openid=" + encodeURIComponent(openid) + "&since_id=" + sinceId);
      const data = await resp.json();
      for (const m of data.messages || []) {
        sinceId = Math.max(sinceId, m.id);
        const body = m.body || {};
        if (m.msgtype === "text") show("bot", body.text.content, "later");
        else if (m.msgtype === "image") showImage(body.image.media_id);
        else show("bot", "[" + m.msgtype + "] " + JSON.stringify(body.data || body), "later");
      }
    } catch (e) { /* emulator restarting: try again next tick */ }
  }

  document.querySelectorAll("#menu .menu-item").forEach(function (item) {
    if (item.dataset.url) {
      item.href = asMe(item.dataset.url);
      item.addEventListener("click", function () { deliver({ msg_type: "event", event: "VIEW", event_key: item.dataset.url }); });
    } else {
      item.addEventListener("click", function () { show("me", "【菜单】" + item.textContent); deliver({ msg_type: "event", event: "CLICK", event_key: item.dataset.key }); });
    }
  });

  document.getElementById("composer").addEventListener("submit", function (e) {
    e.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    input.value = "";
    show("me", text);
    deliver({ msg_type: "text", content: text });
  });
  document.querySelectorAll(".quick button").forEach(function (b) {
    b.addEventListener("click", function () {
      if (b.dataset.voice) { show("me", "🎤 " + b.dataset.voice); deliver({ msg_type: "voice", recognition: b.dataset.voice }); }
      else { show("me", b.dataset.text); deliver({ msg_type: "text", content: b.dataset.text }); }
    });
  });

  (async function start() {
    const first = await fetch("/simulator/api/messages?openid=" + encodeURIComponent(openid) + "&since_id=0").then(r => r.json()).catch(() => ({}));
    for (const m of first.messages || []) sinceId = Math.max(sinceId, m.id);
    show("system", "已关注“惠民人社”公众号");
    deliver({ msg_type: "event", event: "subscribe" });
    setInterval(poll, 2000);
  })();
})();
