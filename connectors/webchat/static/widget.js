/* Tawasul web chat widget: one <script> tag, no build step. Everything typed is shown with
   textContent, never parsed as HTML. */
(function () {
  "use strict";
  if (window.Tawasul && window.Tawasul.ready) return;
  var script = document.currentScript || document.querySelector("script[data-site][src*='widget.js']");
  var base = new URL(script.src, location.href);
  var api = base.origin + base.pathname.replace(/\/widget\.js$/, "");
  var site = script.getAttribute("data-site") || "demo";
  var lang = (script.getAttribute("data-lang") || document.documentElement.lang || navigator.language || "en").slice(0, 2).toLowerCase();
  var rtl = lang === "ar" || lang === "fa" || lang === "ur" || document.documentElement.dir === "rtl";
  var key = "tawasul:" + site + ":";
  var T = {
    ar: { open: "افتح المحادثة", close: "إغلاق", send: "إرسال", placeholder: "اكتب رسالتك…", typing: "يكتب الآن…",
          offline: "لسنا متصلين الآن. اترك بريدك وسنرد عليك هناك.", email: "بريدك الإلكتروني", save: "حفظ",
          saved: "سنرد على ", reconnecting: "انقطع الاتصال، نعيد المحاولة…", failed: "لم تُرسل: ", queued: "بانتظار الاتصال",
          telegram: "تابع المحادثة على تيليجرام" },
    en: { open: "Open chat", close: "Close", send: "Send", placeholder: "Type your message…", typing: "typing…",
          offline: "We're away right now. Leave your email and we'll reply there.", email: "Your email", save: "Save",
          saved: "We'll reply to ", reconnecting: "Connection lost, retrying…", failed: "Not sent: ", queued: "waiting for connection",
          telegram: "Continue on Telegram" }
  };
  var t = T[lang] || T.en;
  var state = { token: null, ws: null, lastId: 0, rendered: {}, inflight: {}, failures: 0, polling: null,
                backoff: 1000, maxChars: 2000, identity: null, ready: null, unread: 0 };

  function store(name, value) {
    try { if (value === undefined) return JSON.parse(localStorage.getItem(key + name) || "null");
          localStorage.setItem(key + name, JSON.stringify(value)); } catch (e) { return null; }
  }
  function outbox() { return store("outbox") || []; }
  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined) node.textContent = text;
    return node;
  }
  function newId() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID().replace(/-/g, "");
    return Date.now().toString(36) + Math.random().toString(36).slice(2);
  }

  var link = el("link"); link.rel = "stylesheet"; link.href = api + "/widget.css";
  document.head.appendChild(link);
  var root = el("div", "tw-root"); root.id = "tawasul-widget";
  root.setAttribute("dir", rtl ? "rtl" : "ltr"); root.setAttribute("lang", lang);
  var launcher = el("button", "tw-launcher"); launcher.type = "button";
  var svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("viewBox", "0 0 24 24"); svg.setAttribute("aria-hidden", "true");
  var path = document.createElementNS("http://www.w3.org/2000/svg", "path");
  path.setAttribute("d", "M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z");
  svg.appendChild(path); launcher.appendChild(svg);
  launcher.setAttribute("aria-label", t.open); launcher.setAttribute("aria-expanded", "false");
  var panel = el("section", "tw-panel"); panel.hidden = true; panel.setAttribute("aria-label", t.open);
  var header = el("header", "tw-header");
  var title = el("h2", "tw-title", "");
  var close = el("button", "tw-close", "×"); close.type = "button"; close.setAttribute("aria-label", t.close);
  header.appendChild(title); header.appendChild(close);
  var status = el("div", "tw-status"); status.hidden = true; status.setAttribute("role", "status");
  var log = el("ol", "tw-log"); log.setAttribute("role", "log"); log.setAttribute("aria-live", "polite");
  var typing = el("div", "tw-typing", t.typing); typing.hidden = true; typing.setAttribute("aria-live", "polite");
  var telegram = el("a", "tw-telegram", t.telegram); telegram.hidden = true;
  telegram.target = "_blank"; telegram.rel = "noopener noreferrer";
  var offline = el("form", "tw-offline"); offline.hidden = true;
  var offlineText = el("p", "", t.offline);
  var email = el("input"); email.type = "email"; email.required = true; email.placeholder = t.email;
  email.setAttribute("aria-label", t.email); email.setAttribute("dir", "ltr");
  var save = el("button", "", t.save); save.type = "submit";
  offline.appendChild(offlineText); offline.appendChild(email); offline.appendChild(save);
  var form = el("form", "tw-composer");
  var input = el("textarea"); input.rows = 1; input.placeholder = t.placeholder; input.setAttribute("dir", "auto");
  input.setAttribute("aria-label", t.placeholder);
  var send = el("button", "tw-send", t.send); send.type = "submit";
  form.appendChild(input); form.appendChild(send);
  [header, status, log, typing, telegram, offline, form].forEach(function (n) { panel.appendChild(n); });
  root.appendChild(panel); root.appendChild(launcher);
  (document.body || document.documentElement).appendChild(root);

  function setOpen(open) {
    panel.hidden = !open; launcher.setAttribute("aria-expanded", String(open)); store("open", open);
    if (open) { state.unread = 0; launcher.removeAttribute("data-unread"); }
    if (open) { input.focus(); log.scrollTop = log.scrollHeight; offerTelegram(); }
  }
  // The link names the visitor's customer, so it is asked for only once they open the chat.
  function offerTelegram() {
    if (!state.telegram || state.telegramAsked || panel.hidden) return;
    state.telegramAsked = true;
    request("GET", "/telegram").then(function (r) { telegram.href = r.url; telegram.hidden = false; },
                                     function () { state.telegramAsked = false; });
  }
  launcher.addEventListener("click", function () { setOpen(panel.hidden); });
  close.addEventListener("click", function () { setOpen(false); });

  function showStatus(text) { status.textContent = text || ""; status.hidden = !text; }
  var typingTimer = null;
  function showTyping() {
    typing.hidden = false; clearTimeout(typingTimer);
    typingTimer = setTimeout(function () { typing.hidden = true; }, 6000);
  }

  function bubble(m) {
    var li = el("li", "tw-msg " + (m.author === "visitor" ? "tw-visitor" : "tw-agent"));
    var body = el("div", "tw-text", m.text); body.setAttribute("dir", "auto");
    li.appendChild(body);
    if (!m.text) body.hidden = true;
    (m.attachments || []).forEach(function (a) { li.appendChild(fileLink(a)); });
    if (m.id) li.setAttribute("data-id", String(m.id));
    if (m.client_id) li.setAttribute("data-client-id", m.client_id);
    return li;
  }
  var RASTER = ["image/png", "image/jpeg", "image/gif", "image/webp"];
  /* A file from the agent: a link signed for this visitor (it expires), names as text only. */
  function fileLink(a) {
    var name = String(a.name || "file");
    var path = typeof a.path === "string" && a.path.indexOf("/files/") === 0 ? a.path : null;
    if (!path) return el("span", "tw-file", "📎 " + name);
    var link = el("a", "tw-file", "📎 " + name);
    link.href = api + path; link.target = "_blank"; link.rel = "noopener noreferrer";
    if (RASTER.indexOf(a.content_type) >= 0) {
      var img = el("img", "tw-thumb"); img.src = api + path + "&inline=1"; img.alt = name;
      link.insertBefore(img, link.firstChild);
    }
    return link;
  }
  function render(m) {
    if (m.id && state.rendered[m.id]) return;
    var pending = m.client_id && log.querySelector("[data-client-id='" + m.client_id + "']");
    if (pending) { pending.classList.remove("tw-pending"); if (m.id) pending.setAttribute("data-id", String(m.id)); }
    else if (m.text !== undefined) log.appendChild(bubble(m));
    if (m.id) { state.rendered[m.id] = true; state.lastId = Math.max(state.lastId, m.id); }
    if (m.author !== "visitor") {
      typing.hidden = true;
      if (panel.hidden && m.live) { state.unread += 1; launcher.setAttribute("data-unread", String(state.unread)); }
    }
    log.scrollTop = log.scrollHeight;
  }

  function request(method, path, body) {
    var headers = { "Content-Type": "application/json" };
    if (state.token) headers["X-Visitor-Token"] = state.token;
    return fetch(api + path, { method: method, headers: headers, body: body ? JSON.stringify(body) : undefined,
                               credentials: "omit", mode: "cors" })
      .then(function (r) { return r.json().then(function (data) { if (!r.ok) throw data; return data; }); });
  }

  function onAck(frame) {
    delete state.inflight[frame.id];
    store("outbox", outbox().filter(function (m) { return m.id !== frame.id; }));
    render({ id: frame.message_id, author: "visitor", client_id: frame.id });
  }
  var PERMANENT = ["too_long", "empty", "bad_id"];
  function onError(frame) {
    if (!frame.id) return;
    delete state.inflight[frame.id];
    if (PERMANENT.indexOf(frame.code) < 0) {
      // Rate limits and outages are temporary: keep the message queued and try again.
      setTimeout(flush, Math.max(1, frame.retry_after || 2) * 1000); return;
    }
    store("outbox", outbox().filter(function (m) { return m.id !== frame.id; }));
    var li = log.querySelector("[data-client-id='" + frame.id + "']");
    if (li) { li.classList.remove("tw-pending"); li.classList.add("tw-failed"); li.title = t.failed + frame.message; }
  }

  function flush() {
    outbox().forEach(function (m) {
      if (state.inflight[m.id]) return;
      if (state.ws && state.ws.readyState === 1) {
        state.inflight[m.id] = true;
        state.ws.send(JSON.stringify({ type: "message", id: m.id, text: m.text, page: location.href }));
      } else if (state.polling) {
        state.inflight[m.id] = true;
        request("POST", "/messages", { id: m.id, text: m.text, page: location.href })
          .then(onAck, function (err) {
            var e = (err && err.error) || {};
            if (e.code) onError({ id: m.id, code: e.code, message: e.message, retry_after: e.retry_after });
            else delete state.inflight[m.id];
          });
      }
    });
  }

  function sendText(text) {
    text = (text || "").trim();
    if (!text) return;
    if (text.length > state.maxChars) { showStatus(t.failed + state.maxChars); return; }
    var m = { id: newId(), text: text };
    store("outbox", outbox().concat([m]));
    var li = bubble({ author: "visitor", text: text, client_id: m.id });
    li.classList.add("tw-pending"); li.title = t.queued; log.appendChild(li);
    log.scrollTop = log.scrollHeight;
    flush();
  }
  form.addEventListener("submit", function (e) { e.preventDefault(); sendText(input.value); input.value = ""; });
  input.addEventListener("keydown", function (e) {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); form.requestSubmit(); }
  });
  offline.addEventListener("submit", function (e) {
    e.preventDefault();
    request("POST", "/contact", { email: email.value }).then(function (r) {
      offline.hidden = true; showStatus(t.saved + r.email);
    });
  });

  function startPolling() {
    if (state.polling) return;
    state.polling = setInterval(function () {
      request("GET", "/messages?after=" + state.lastId).then(function (r) { r.messages.forEach(render); }, function () {});
      flush();
    }, 3000);
    flush();
  }
  function stopPolling() { if (state.polling) { clearInterval(state.polling); state.polling = null; } }

  function connect() {
    if (!window.WebSocket) { startPolling(); return; }
    var ws = new WebSocket(api.replace(/^http/, "ws") + "/ws?token=" + encodeURIComponent(state.token));
    state.ws = ws;
    ws.onopen = function () {
      ws.send(JSON.stringify({ type: "sync", after: state.lastId }));
    };
    ws.onmessage = function (event) {
      var frame; try { frame = JSON.parse(event.data); } catch (e) { return; }
      if (frame.type === "message") { frame.message.live = true; render(frame.message); }
      else if (frame.type === "history") frame.messages.forEach(render);
      else if (frame.type === "ack") onAck(frame);
      else if (frame.type === "error") onError(frame);
      else if (frame.type === "typing") showTyping();
      else if (frame.type === "hello") {
        // Only the service's hello proves the line works (a proxy may accept and then drop it).
        state.failures = 0; state.backoff = 1000; state.inflight = {}; stopPolling(); showStatus("");
        offline.hidden = frame.online || !!state.contact;
        flush();
      }
    };
    ws.onclose = function () {
      if (state.ws !== ws) return;
      state.ws = null; state.inflight = {}; state.failures += 1;
      showStatus(t.reconnecting);
      if (state.failures >= 3) startPolling();
      var wait = Math.min(state.backoff, 30000) * (0.75 + Math.random() / 2);
      state.backoff *= 2;
      setTimeout(connect, wait);
    };
  }
  // A safety net for replies delivered by another service process: catch up every 30 s.
  setInterval(function () {
    if (state.ws && state.ws.readyState === 1) state.ws.send(JSON.stringify({ type: "sync", after: state.lastId }));
  }, 30000);
  window.addEventListener("online", function () {
    if (!state.ws && state.token) { state.backoff = 1000; connect(); }
  });

  function start() {
    state.ready = request("POST", "/session", { site: site, token: store("token"), lang: lang, page: location.href })
      .then(function (s) {
        state.token = s.token; store("token", s.token); state.maxChars = s.max_chars; state.contact = s.contact;
        state.telegram = !!s.telegram;
        title.textContent = s.title;
        if (!s.history.length) log.appendChild(bubble({ author: "agent", text: s.greeting }));
        s.history.forEach(render);
        outbox().forEach(function (m) {
          if (!log.querySelector("[data-client-id='" + m.id + "']")) {
            var li = bubble({ author: "visitor", text: m.text, client_id: m.id }); li.classList.add("tw-pending");
            log.appendChild(li);
          }
        });
        offline.hidden = s.online || !!s.contact;
        if (store("open")) setOpen(true);
        offerTelegram();
        if (state.identity) request("POST", "/identify", state.identity);
        connect();
      }, function () { setTimeout(start, 5000); });
  }

  window.Tawasul = {
    ready: true,
    open: function () { setOpen(true); },
    close: function () { setOpen(false); },
    send: sendText,
    identify: function (who) {
      state.identity = who;
      return state.ready ? state.ready.then(function () { return request("POST", "/identify", who); }) : null;
    }
  };
  start();
})();
