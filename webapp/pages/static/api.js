// The pages' client for /api/v1: bearer tokens, one refresh on 401, errors in words.
/* exported Api, h, flash, showFieldErrors, fmtTime, setCare */
const API = "/api/v1";

class Offline extends Error {}

class Api {
  constructor(key, storage, onSignedOut) {
    this.key = key; this.storage = storage; this.onSignedOut = onSignedOut;
  }
  tokens() { try { return JSON.parse(this.storage.getItem(this.key)); } catch (e) { return null; } }
  save(t) { this.storage.setItem(this.key, JSON.stringify(t)); }
  clear() { this.storage.removeItem(this.key); }
  async refresh() {
    const t = this.tokens();
    if (!t || !t.refresh_token) return false;
    let resp;
    try {
      resp = await fetch(API + "/auth/refresh", { method: "POST", headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ refresh_token: t.refresh_token }) });
    } catch (e) { throw new Offline(); }
    if (!resp.ok) { this.clear(); return false; }
    this.save(await resp.json());
    return true;
  }
  // {status, data}; throws Offline when the request never reached the server.
  async call(method, path, body, headers, retried) {
    const t = this.tokens();
    const h2 = Object.assign({}, headers || {});
    if (t) h2.Authorization = "Bearer " + t.access_token;
    if (body !== undefined) h2["Content-Type"] = "application/json";
    let resp;
    try {
      resp = await fetch(API + path, { method: method, headers: h2, body: body === undefined ? undefined : JSON.stringify(body) });
    } catch (e) { throw new Offline(); }
    if (resp.status === 401 && !retried && t && await this.refresh()) return this.call(method, path, body, headers, true);
    if (resp.status === 401) { this.clear(); if (this.onSignedOut) this.onSignedOut(); }
    let data = null;
    if (resp.status !== 204) { try { data = await resp.json(); } catch (e) { data = null; } }
    return { status: resp.status, ok: resp.ok, data: data };
  }
}

function errorText(result) {
  const e = result && result.data && result.data.error;
  return (e && e.message) || "操作没有成功，请稍后再试";
}

// Build an element: h("p", {class: "muted"}, "text", child...).
function h(tag, attrs) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (k === "text") node.textContent = v;
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const child of Array.prototype.slice.call(arguments, 2)) {
    if (child === null || child === undefined || child === false) continue;
    node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
  }
  return node;
}

function flash(message, bad) {
  const box = document.getElementById("flash");
  box.textContent = message || "";
  box.className = bad ? "bad" : "";
  if (message) box.scrollIntoView({ block: "nearest" });
}

// The API names the field at fault: show the message next to it; what was typed stays.
function showFieldErrors(form, result) {
  form.querySelectorAll(".field-error").forEach(function (n) { n.remove(); });
  const fields = (result.data && result.data.error && result.data.error.fields) || {};
  let shown = false;
  for (const [name, message] of Object.entries(fields)) {
    const input = form.querySelector("[name='" + name.split(".").pop() + "']");
    if (!input) continue;
    const id = input.id + "-error";
    input.setAttribute("aria-describedby", id);
    input.setAttribute("aria-invalid", "true");
    input.insertAdjacentElement("afterend", h("p", { class: "field-error", id: id, role: "alert" }, String(message)));
    shown = true;
  }
  return shown;
}

function fmtTime(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  const pad = function (n) { return String(n).padStart(2, "0"); };
  return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) + " " + pad(d.getHours()) + ":" + pad(d.getMinutes());
}

function setCare(on, key) {
  document.documentElement.classList.toggle("care", !!on);
  localStorage.setItem(key, on ? "1" : "0");
  const b = document.getElementById("care-toggle");
  if (b) { b.setAttribute("aria-pressed", on ? "true" : "false"); b.textContent = on ? "标准模式" : "大字模式"; }
}
