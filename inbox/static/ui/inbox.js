// The agent inbox: views and filters, one cross-channel timeline, replies, live updates.
import {
  api, agentName, applyLanguage, channelBadge, clear, connectLive, fmtTime, h, languageButton,
  loadMe, loadTeams, logout, moodBadge, qs, since, state, t, teamChip, toast,
} from "./common.js";
import { activityText } from "./activity.js";

const VIEWS = {
  mine: { assignee: "me", status: "open" },
  teams: { team: "mine", active: "true" },
  pending: { status: "pending", sort: "waiting" },
  bot: { status: "bot" },
  all: {},
  resolved: { status: "resolved" },
};
const CHANNELS = ["telegram", "email", "webchat", "whatsapp", "webhook", "memory"];
const SENTIMENTS = ["angry", "negative", "neutral", "positive"];

const ui = {
  view: localStorage.getItem("tawasul.view") || "pending",
  items: [], cursor: null, counts: {}, unread: new Map(), search: null,
  current: null, // {conversation, customer, messages: Map, canned: []}
  customer: null, mode: "reply", typingTimer: null, lastTypingSent: 0, readLater: null,
  pending: new Map(), // conversation id -> files being attached to the next reply
};
const $ = (id) => document.getElementById(id);

// ---------- login ----------
async function start() {
  applyLanguage(state.lang);
  const me = await loadMe();
  if (!me) return showLogin();
  showApp();
}

function showLogin() {
  $("login").hidden = false;
  $("app").hidden = true;
  clear($("login-lang")).append(languageButton(() => {}));
  $("login-form").onsubmit = async (ev) => {
    ev.preventDefault();
    $("login-error").textContent = "";
    try {
      await api("POST", "/auth/login", { login: $("login-user").value, password: $("login-password").value });
      await loadMe();
      $("login").hidden = true;
      showApp();
    } catch (e) {
      $("login-error").textContent = e.status === 401 ? t("bad_login") : t("failed", { msg: e.message });
    }
  };
  $("login-user").focus();
}

function showApp() {
  $("app").hidden = false;
  clear($("login-lang"));
  $("who").textContent = `${state.me.display_name} · ${t(`r_${state.me.role}`)}`;
  $("to-supervisor").hidden = state.me.role === "agent";
  clear($("lang-slot")).append(languageButton(rerender));
  $("logout").onclick = logout;
  buildFilters();
  renderViews();
  bindKeys();
  $("search").addEventListener("keydown", (ev) => { if (ev.key === "Enter") runSearch($("search").value.trim()); });
  $("search").addEventListener("search", () => { if (!$("search").value) { ui.search = null; renderList(); } });
  connectLive(onEvent, () => { refreshList(); if (ui.current) openConversation(ui.current.conversation.id); });
  refreshList();
  const m = location.hash.match(/^#\/c\/(\d+)/);
  if (m) openConversation(Number(m[1]));
  document.addEventListener("visibilitychange", () => {
    const later = ui.readLater;
    if (document.visibilityState !== "visible" || !later) return;
    ui.readLater = null;
    if (ui.current?.conversation.id === later.id) markRead(later.id, later.messageId);
  });
  if ("Notification" in window && Notification.permission === "default") {
    document.addEventListener("click", () => Notification.requestPermission().catch(() => {}), { once: true });
  }
}

function rerender() {
  $("who").textContent = `${state.me.display_name} · ${t(`r_${state.me.role}`)}`;
  buildFilters();
  renderViews();
  renderList();
  if (ui.current) renderConversation();
  if (ui.customer) renderCustomer();
}

// ---------- list ----------
function buildFilters() {
  const fill = (sel, values, prefix) => {
    const keep = sel.value;
    clear(sel).append(h("option", { value: "" }, `${t(`f_${sel.id.slice(2)}`)}: ${t("f_any")}`));
    for (const v of values) sel.append(h("option", { value: v }, t(`${prefix}${v}`)));
    sel.value = keep;
    sel.onchange = refreshList;
  };
  fill($("f-channel"), CHANNELS, "ch_");
  fill($("f-sentiment"), SENTIMENTS, "m_");
  fill($("f-language"), ["ar", "en"], "l_");
  $("f-label").onchange = refreshList;
}

function renderViews() {
  const box = clear($("views"));
  for (const name of Object.keys(VIEWS)) {
    const count = ui.counts[name];
    box.append(h("button", {
      type: "button", "data-view": name, "aria-pressed": String(ui.view === name),
      onclick: () => { ui.view = name; localStorage.setItem("tawasul.view", name); ui.search = null; $("search").value = ""; renderViews(); refreshList(); },
    }, t(`v_${name}`), count !== undefined ? h("span", { class: "count" }, String(count)) : null));
  }
}

function listQuery(cursor) {
  return {
    ...VIEWS[ui.view],
    channel: $("f-channel").value, sentiment: $("f-sentiment").value,
    language: $("f-language").value, label: $("f-label").value.trim().toLowerCase(),
    cursor, limit: 30,
  };
}

let refreshing = null;
let refreshAgain = false;
async function refreshList() {
  if (refreshing) { refreshAgain = true; return refreshing; }
  refreshing = (async () => {
    try {
      const page = await api("GET", `/conversations${qs(listQuery())}`);
      ui.items = page.items;
      ui.cursor = page.next_cursor;
      // The server's counts are the truth; live bumps only fill the gap until the next reload.
      ui.unread = new Map(page.items.map((c) => [c.id, c.unread || 0]));
      ui.counts = await api("GET", "/inbox/counts");
      renderViews();
      if (!ui.search) renderList();
    } catch (e) { toast(t("failed", { msg: e.message })); }
  })();
  await refreshing;
  refreshing = null;
  if (refreshAgain) { refreshAgain = false; await refreshList(); }
}
let listTimer = null;
// Busy inboxes send many events a second; one list reload per burst is enough.
function scheduleRefresh() { if (!listTimer) listTimer = setTimeout(() => { listTimer = null; refreshList(); }, 400); }

async function loadMore() {
  const page = await api("GET", `/conversations${qs(listQuery(ui.cursor))}`);
  ui.items.push(...page.items);
  for (const c of page.items) ui.unread.set(c.id, c.unread || 0);
  ui.cursor = page.next_cursor;
  renderList();
}

function listItem(c) {
  const unread = ui.current?.conversation.id === c.id ? 0 : ui.unread.get(c.id) || 0;
  const name = c.customer?.display_name || `#${c.customer_id}`;
  return h("li", {},
    h("button", {
      type: "button", class: `conv-item${c.sentiment === "angry" ? " angry" : ""}`, "data-id": c.id,
      "data-status": c.status, "aria-current": String(ui.current?.conversation.id === c.id),
      onclick: () => openConversation(c.id),
    },
      h("div", { class: "row" },
        h("span", { class: "name" }, name),
        unread ? h("span", { class: "unread", "aria-label": `${unread}` }, String(unread)) : null,
        h("span", { class: "time" }, fmtTime(c.last_message_at))),
      h("div", { class: "preview" }, c.preview || ""),
      h("div", { class: "row" },
        channelBadge(c.last_channel),
        h("span", { class: `badge status-${c.status}` }, t(`s_${c.status}`)),
        c.priority === "high" || c.priority === "urgent" ? h("span", { class: `badge prio-${c.priority}` }, t(`p_${c.priority}`)) : null,
        moodBadge(c.sentiment),
        teamChip(c),
        c.status === "pending" && c.waiting_since ? h("span", { class: "time" }, t("waiting", { t: since(c.waiting_since) })) : null,
        ...(c.labels || []).map((l) => h("span", { class: "badge" }, `#${l}`)))));
}

function renderList() {
  const list = clear($("conv-list"));
  if (ui.search) return renderSearch(list);
  if (!ui.items.length) { list.append(h("li", { class: "empty" }, t("empty_list"))); return; }
  for (const c of ui.items) list.append(listItem(c));
  if (ui.cursor) list.append(h("li", {}, h("button", { type: "button", class: "list-more", onclick: loadMore }, t("load_more"))));
}

async function runSearch(q) {
  if (!q) { ui.search = null; renderList(); return; }
  try { ui.search = await api("GET", `/search${qs({ q })}`); } catch (e) { toast(t("failed", { msg: e.message })); return; }
  renderList();
}

function renderSearch(list) {
  const r = ui.search;
  list.append(h("li", { class: "results" },
    h("button", { type: "button", class: "link", style: null, onclick: () => { ui.search = null; $("search").value = ""; renderList(); } }, t("clear_search"))));
  if (!r.customers.length && !r.messages.length) { list.append(h("li", { class: "empty" }, t("no_results"))); return; }
  if (r.customers.length) list.append(h("li", { class: "results" }, h("h4", {}, t("customers"))));
  for (const c of r.customers) {
    list.append(h("li", {}, h("button", { type: "button", class: "conv-item", onclick: () => openCustomerLatest(c.id) },
      h("div", { class: "row" }, h("span", { class: "name" }, c.display_name || `#${c.id}`)),
      h("div", { class: "preview" }, [c.email, c.phone].filter(Boolean).join(" · ")))));
  }
  if (r.messages.length) list.append(h("li", { class: "results" }, h("h4", {}, t("messages"))));
  for (const m of r.messages) {
    list.append(h("li", {}, h("button", { type: "button", class: "conv-item", onclick: () => m.conversation_id && openConversation(m.conversation_id) },
      h("div", { class: "row" }, h("span", { class: "name" }, m.customer_name || `#${m.customer_id}`), channelBadge(m.channel), h("span", { class: "time" }, fmtTime(m.created_at))),
      h("div", { class: "preview" }, m.snippet))));
  }
}

async function openCustomerLatest(customerId) {
  const c = await api("GET", `/customers/${customerId}`);
  if (c.conversations.length) openConversation(c.conversations[0].id);
}

// ---------- conversation ----------
async function openConversation(id) {
  try {
    const [data, canned] = await Promise.all([
      api("GET", `/conversations/${id}`),
      api("GET", `/canned-responses${qs({ conversation_id: id })}`).catch(() => []),
    ]);
    ui.current = {
      conversation: data.conversation, customer: data.customer, canned,
      messages: new Map(data.messages.map((m) => [m.id, m])), hasEarlier: data.has_earlier,
    };
  } catch (e) { toast(t("failed", { msg: e.message })); return; }
  ui.unread.set(id, 0);
  markRead(id, Math.max(0, ...ui.current.messages.keys()));
  history.replaceState(null, "", `#/c/${id}`);
  renderConversation();
  for (const b of document.querySelectorAll(".conv-item[data-id]")) b.setAttribute("aria-current", String(Number(b.dataset.id) === id));
  const unreadBadge = document.querySelector(`.conv-item[data-id="${id}"] .unread`);
  unreadBadge?.remove();
  loadCustomer(data_customer_id());
}
function data_customer_id() { return ui.current.conversation.customer_id; }

/** Move this agent's read marker on the server, so every tab and device agrees after reload. */
function markRead(id, messageId) {
  if (document.visibilityState === "hidden") { ui.readLater = { id, messageId }; return; }
  api("POST", `/conversations/${id}/read`, messageId ? { message_id: messageId } : {}).catch(() => {});
}

function clearUnreadBadge(id) {
  ui.unread.set(id, 0);
  document.querySelector(`.conv-item[data-id="${id}"] .unread`)?.remove();
}

function authorName(m) {
  if (m.author === "customer") return ui.current?.customer.display_name || t("customer");
  if (m.author === "bot") return t("bot");
  if (m.author === "system") return t("system");
  return agentName(m.agent_id);
}

function safeUrl(url) {
  try { const u = new URL(url, location.href); return ["http:", "https:"].includes(u.protocol) ? u.href : null; } catch { return null; }
}

function messageEl(m) {
  if (m.kind === "activity") {
    return h("div", { class: `msg msg-activity${m.meta?.action === "alert" ? " alert" : ""}`, "data-id": m.id, "data-kind": "activity", role: "note" },
      h("span", { dir: "auto" }, activityText(m)), " · ", h("time", { datetime: m.created_at }, fmtTime(m.created_at)));
  }
  const angry = m.sentiment?.label === "angry";
  const delivery = m.kind === "outgoing" && m.delivery_status
    ? h("span", { class: `delivery ${m.delivery_status}`, title: m.delivery_error || "" }, t(`d_${m.delivery_status}`)) : null;
  return h("article", {
    class: `msg msg-${m.kind}${angry ? " angry" : ""}${m.delivery_status === "failed" ? " failed" : ""}`,
    "data-id": m.id, "data-kind": m.kind, "data-channel": m.channel || "",
  },
    h("div", { class: "meta" },
      m.kind === "note" ? h("strong", {}, t("private")) : channelBadge(m.channel),
      h("span", { dir: "auto" }, authorName(m)),
      h("time", { datetime: m.created_at }, fmtTime(m.created_at)),
      m.kind === "incoming" && m.sentiment ? moodBadge(m.sentiment.label, m.sentiment.anger) : null,
      senderBadge(m),
      delivery),
    // An erased message keeps its row; its stored marker is English, so name it in the UI language.
    h("div", { class: "body", dir: "auto" }, m.meta?.erased ? t("erased_message") : m.text),
    fullEmail(m),
    m.attachments?.length ? h("div", { class: "attachments" }, m.attachments.map((a, i) => attachmentEl(m, a, i))) : null);
}

// What the email channel says about a mail (`meta.raw`, see connectors/email/parse.py).
const openEmails = new Set(); // ids of messages whose full email is unfolded, kept across redraws

/** "Sender not verified", with the receiving server's check as the tooltip (and on focus). */
function senderBadge(m) {
  const raw = m.kind === "incoming" && m.channel === "email" ? m.meta?.raw : null;
  if (!raw || raw.from_verified !== false) return null;
  // The check is the server's own words (e.g. "dmarc=fail"): isolated left-to-right inside Arabic.
  const why = t("em_unverified_why", { why: `\u2066${raw.from_check || "—"}\u2069` });
  return h("span", { class: "badge sender-unverified", "data-role": "sender-unverified", tabindex: "0", title: why },
    `⚠ ${t("em_unverified")}`, h("span", { class: "why" }, why));
}

/** The mail as it came (quotes, signature) behind a toggle, when the channel cut some of it. */
function fullEmail(m) {
  const raw = m.kind === "incoming" ? m.meta?.raw : null;
  if (!raw || raw.stripped !== true || typeof raw.original_text !== "string") return null;
  const id = `full-email-${m.id}`;
  const open = openEmails.has(m.id);
  const text = h("div", { class: "full-email", id, dir: "auto", hidden: !open }, raw.original_text);
  const toggle = h("button", { type: "button", class: "link email-toggle", "aria-expanded": String(open), "aria-controls": id },
    t(open ? "em_hide_full" : "em_show_full"));
  toggle.onclick = () => {
    const now = !openEmails.has(m.id);
    if (now) openEmails.add(m.id); else openEmails.delete(m.id);
    text.hidden = !now;
    toggle.setAttribute("aria-expanded", String(now));
    toggle.textContent = t(now ? "em_hide_full" : "em_show_full");
  };
  return h("div", { class: "email-more" }, toggle, text);
}

/** The store key of a file we can serve: agents' uploads, and mail attachments the email channel kept. */
function fileKey(m, a) {
  if (a.key && /^[0-9a-f]{64}$/.test(a.key)) return a.key;
  if (m.channel === "email" && /^sha256:[0-9a-f]{64}$/.test(a.external_id || "")) return a.external_id.slice(7);
  return null;
}

const RASTER = ["image/png", "image/jpeg", "image/gif", "image/webp"];

function attachmentEl(m, a, index) {
  const name = a.name || a.kind || "file";
  const label = `📎 ${name}${a.size ? ` (${fmtSize(a.size)})` : ""}`;
  const key = fileKey(m, a);
  // Telegram keeps customers' files; the service fetches them by file id on demand.
  const held = !key && m.kind === "incoming" && m.channel === "telegram" && a.external_id;
  if (key || held) {
    const href = key ? `/api/v1/files/${key}?name=${encodeURIComponent(name)}` : `/api/v1/messages/${m.id}/files/${index}`;
    const link = h("a", { href, download: name, class: "file-link", "data-key": key }, label);
    if (!RASTER.includes(a.mime_type) || held) return link;
    // A preview only for raster images, served inline by our own origin (never SVG).
    return h("span", { class: "file-preview" }, h("img", { src: `${href}&inline=1`, alt: name, loading: "lazy" }), link);
  }
  const url = a.url && safeUrl(a.url);
  return url ? h("a", { href: url, target: "_blank", rel: "noopener noreferrer" }, label) : h("span", { class: "badge" }, label);
}

function fmtSize(bytes) {
  return bytes >= 1048576 ? `${(bytes / 1048576).toFixed(1)} MB` : `${Math.max(1, Math.round(bytes / 1024))} KB`;
}

function renderConversation() {
  const { conversation: c } = ui.current;
  const pane = clear($("conversation"));
  const mine = c.assignee_id === state.me.id;
  const sup = state.me.role !== "agent";
  const actions = h("div", { class: "actions" });
  if (c.status !== "resolved") {
    // A colleague's conversation is theirs: only supervisors take it or return it to the queue.
    if (mayMove(c) && !mine) actions.append(h("button", { type: "button", id: "assign-me", onclick: () => act("assign", { agent_id: state.me.id }) }, t("assign_me")));
    if (sup) {
      const sel = h("select", { id: "assign-to", "aria-label": t("assign_to") }, h("option", { value: "" }, t("assign_to")),
        [...state.agents.values()].map((a) => h("option", { value: a.id, selected: a.id === c.assignee_id }, a.display_name)));
      sel.onchange = () => sel.value && act("assign", { agent_id: Number(sel.value) });
      actions.append(sel);
    }
    const teams = h("select", { id: "team-picker", "aria-label": t("team_label") },
      h("option", { value: "" }, c.team_id ? t("team_none") : t("team_pick")),
      [...state.teams.values()].map((x) => h("option", { value: x.id, selected: x.id === c.team_id }, x.name)));
    teams.onchange = () => act("team", { team_id: teams.value ? Number(teams.value) : null });
    actions.append(teams);
    if (c.assignee_id && mayMove(c)) actions.append(h("button", { type: "button", id: "unassign", onclick: () => act("assign", { agent_id: null }) }, t("unassign")));
    if (c.status !== "bot") actions.append(h("button", { type: "button", onclick: () => act("hand-to-bot") }, t("hand_bot")));
    actions.append(h("button", { type: "button", class: "primary", id: "resolve", onclick: () => act("resolve") }, t("resolve")));
  } else {
    actions.append(h("button", { type: "button", id: "reopen", onclick: () => act("reopen") }, t("reopen")));
  }
  pane.append(h("header", { class: "conv-head" },
    h("h2", { id: "conv-title" }, ui.current.customer.display_name || t("conv_n", { id: c.id })),
    h("span", { class: `badge status-${c.status}`, id: "conv-status" }, t(`s_${c.status}`)),
    c.assignee_id ? h("span", { class: "badge" }, agentName(c.assignee_id)) : null,
    teamChip(c, "conv-team"),
    moodBadge(c.sentiment),
    actions));
  const labels = h("input", { id: "labels", value: (c.labels || []).join(", "), placeholder: t("labels_ph"), "aria-label": t("labels") });
  pane.append(h("div", { class: "labels-edit" }, h("label", { for: "labels" }, t("labels")), labels,
    h("button", { type: "button", onclick: () => act("labels", { labels: labels.value.split(/[,،]/).map((s) => s.trim()).filter(Boolean) }, "PUT") }, t("save"))));
  const timeline = h("div", { class: "timeline", id: "timeline", role: "log", "aria-live": "polite" });
  if (ui.current.history?.length) {
    for (const m of ui.current.history) timeline.append(messageEl(m));
    timeline.append(h("div", { class: "msg msg-activity history-sep", role: "separator" }, t("conv_n", { id: c.id })));
  } else if (!ui.current.history) {
    timeline.append(h("button", { type: "button", class: "link", id: "load-history", onclick: loadHistory }, t("earlier")));
  }
  if (ui.current.hasEarlier) {
    timeline.append(h("button", { type: "button", class: "link", id: "load-earlier", onclick: loadEarlier }, t("earlier_messages")));
  }
  for (const m of ui.current.messages.values()) timeline.append(messageEl(m));
  pane.append(timeline, h("div", { class: "typing", id: "typing", "aria-live": "polite" }), composer());
  timeline.scrollTop = timeline.scrollHeight;
}

/** Whether I may take or drop this conversation: it is free or mine, or I supervise. */
function mayMove(c) {
  return !c.assignee_id || c.assignee_id === state.me.id || state.me.role !== "agent";
}

/** Re-render the open conversation without losing the agent's draft or focus. */
function rerenderKeepingDraft() {
  const old = $("reply-text");
  const draft = old?.value || "";
  const focused = document.activeElement === old;
  const caret = old?.selectionStart ?? draft.length;
  renderConversation();
  const text = $("reply-text");
  text.value = draft;
  if (focused) { text.focus(); text.setSelectionRange(caret, caret); }
}

/** Prepend this conversation's previous page of entries, keeping what the agent looks at in place. */
async function loadEarlier() {
  const id = ui.current.conversation.id;
  const oldest = Math.min(...ui.current.messages.keys());
  let page;
  try { page = await api("GET", `/conversations/${id}/messages${qs({ before: oldest, limit: 100 })}`); } catch (e) { toast(t("failed", { msg: e.message })); return; }
  if (ui.current?.conversation.id !== id) return;
  const before = $("timeline");
  const fromBottom = before.scrollHeight - before.scrollTop;
  // Map order is display order: the earlier page goes first.
  ui.current.messages = new Map([...page.items.map((m) => [m.id, m]), ...ui.current.messages]);
  ui.current.hasEarlier = page.has_earlier;
  rerenderKeepingDraft();
  const after = $("timeline");
  after.scrollTop = after.scrollHeight - fromBottom;
  after.querySelector("#load-earlier")?.focus();
}

/** Prepend the customer's earlier conversations, on every channel, to this one's timeline. */
async function loadHistory() {
  const id = ui.current.conversation.id;
  const entries = [];
  let cursor = null;
  do {
    const page = await api("GET", `/customers/${ui.current.conversation.customer_id}/timeline${qs({ cursor, limit: 1000 })}`);
    entries.push(...page.items.filter((m) => m.conversation_id !== id));
    cursor = page.next_cursor;
  } while (cursor && entries.length < 5000);
  if (ui.current?.conversation.id !== id) return;
  ui.current.history = entries;
  rerenderKeepingDraft();
  $("timeline").scrollTop = 0;
}

async function act(what, body = undefined, method = "POST") {
  const id = ui.current.conversation.id;
  try {
    const conv = await api(method, `/conversations/${id}/${what}`, body ?? (method === "POST" ? {} : undefined));
    if (ui.current?.conversation.id === id) { ui.current.conversation = conv; rerenderKeepingDraft(); }
    scheduleRefresh();
  } catch (e) { toast(t("failed", { msg: e.message })); }
}

function composer() {
  const c = ui.current.conversation;
  const box = h("form", { class: `composer${ui.mode === "note" ? " note-mode" : ""}`, id: "composer" });
  const text = h("textarea", { id: "reply-text", "aria-label": t(ui.mode === "note" ? "note_label" : "composer_label"), dir: "auto" });
  const picker = fillPicker(h("select", { id: "reply-channel", "aria-label": t("send_on") }));
  const tab = (mode, label) => h("button", { type: "button", "aria-pressed": String(ui.mode === mode), "data-mode": mode,
    onclick: () => { ui.mode = mode; const keep = text.value; const n = composer(); box.replaceWith(n); n.querySelector("textarea").value = keep; n.querySelector("textarea").focus(); } }, label);
  const menu = h("ul", { class: "canned-menu", role: "listbox", hidden: true, id: "canned-menu" });
  box.append(
    h("div", { class: "tabs" }, tab("reply", t("reply")), tab("note", t("note")),
      ui.mode === "reply" ? h("label", { class: "hint", for: "reply-channel" }, t("send_on")) : null,
      ui.mode === "reply" ? picker : null),
    menu, text);
  const files = ui.mode === "reply" ? attachControls(box, c.id) : null;
  box.append(
    files ? files.chips : "",
    h("div", { class: "bottom" }, files ? files.button : null, files ? files.input : null,
      h("span", { class: "hint" }, t("canned_hint")),
      h("button", { class: "primary", type: "submit", id: "send" }, t(ui.mode === "note" ? "add_note" : "send"))));
  let sel = 0;
  const matches = () => {
    const m = text.value.match(/^\/([\w-]*)$/);
    return m ? ui.current.canned.filter((r) => r.shortcut.startsWith(m[1].toLowerCase())) : [];
  };
  const showMenu = () => {
    const found = matches();
    menu.hidden = !found.length;
    clear(menu);
    sel = Math.min(sel, Math.max(0, found.length - 1));
    found.forEach((r, i) => menu.append(h("li", { role: "option", "aria-selected": String(i === sel), onmousedown: (ev) => { ev.preventDefault(); pick(r); } },
      h("span", { class: "sc" }, `/${r.shortcut}`), h("span", {}, r.title))));
  };
  const pick = (r) => { text.value = r.rendered; menu.hidden = true; text.focus(); };
  text.addEventListener("input", () => { showMenu(); signalTyping(); });
  text.addEventListener("keydown", (ev) => {
    const found = menu.hidden ? [] : matches();
    if (found.length && ["ArrowDown", "ArrowUp"].includes(ev.key)) { ev.preventDefault(); sel = (sel + (ev.key === "ArrowDown" ? 1 : found.length - 1)) % found.length; showMenu(); return; }
    if (found.length && (ev.key === "Enter" || ev.key === "Tab")) { ev.preventDefault(); pick(found[sel]); return; }
    if (ev.key === "Escape") { menu.hidden = true; text.blur(); return; }
    if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey)) { ev.preventDefault(); box.requestSubmit(); }
  });
  box.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const value = text.value;
    const ready = ui.mode === "reply" ? pendingFor(c.id).filter((f) => f.id) : [];
    if (!value.trim() && !ready.length) return;
    if (ui.mode === "reply" && pendingFor(c.id).some((f) => !f.id)) { toast(t("f_wait")); return; }
    const id = c.id;
    box.querySelector("#send").disabled = true;
    try {
      const m = ui.mode === "note"
        ? await api("POST", `/conversations/${id}/notes`, { text: value })
        : await api("POST", `/conversations/${id}/reply`, { text: value, channel: picker.value || null, attachments: ready.map((f) => f.id) });
      text.value = "";
      const current = $("reply-text");
      if (current && current !== text && current.value === value) current.value = "";
      // A live update may have re-rendered the composer meanwhile: clear the chips on the page.
      if (ui.mode === "reply") { ui.pending.delete(id); $("attach-chips")?.replaceChildren(); }
      // The WebSocket may already have shown it, and newer (say, its delivery receipt).
      if (ui.current?.conversation.id === id && !ui.current.messages.has(m.id)) upsertMessage(m);
    } catch (e) { toast(t("failed", { msg: e.message })); }
    box.querySelector("#send").disabled = false;
  });
  return box;
}

// ---------- attachments on the composer ----------
function pendingFor(conversationId) {
  if (!ui.pending.has(conversationId)) ui.pending.set(conversationId, []);
  return ui.pending.get(conversationId);
}

/** The attach button, a hidden file input, the pending chips, and drag-and-drop onto the composer. */
function attachControls(box, conversationId) {
  const input = h("input", { type: "file", id: "attach-input", multiple: true, hidden: true, "aria-hidden": "true", tabindex: "-1" });
  const button = h("button", { type: "button", id: "attach", class: "attach", "aria-label": t("attach_label"), title: t("attach_label"), onclick: () => input.click() }, `📎 ${t("attach")}`);
  const chips = h("ul", { class: "attach-chips", id: "attach-chips", "aria-live": "polite", "aria-label": t("attachments") });
  const render = () => {
    chips.replaceChildren(...pendingFor(conversationId).map((f) => chipEl(f, conversationId, render)));
  };
  const add = (list) => { for (const file of list) uploadFile(file, conversationId, render); };
  input.addEventListener("change", () => { add(input.files); input.value = ""; });
  box.addEventListener("dragover", (ev) => { if (ev.dataTransfer?.types?.includes("Files")) { ev.preventDefault(); box.classList.add("drop"); } });
  box.addEventListener("dragleave", (ev) => { if (!box.contains(ev.relatedTarget)) box.classList.remove("drop"); });
  box.addEventListener("drop", (ev) => {
    box.classList.remove("drop");
    if (!ev.dataTransfer?.files?.length) return;
    ev.preventDefault();
    add(ev.dataTransfer.files);
  });
  render();
  return { input, button, chips };
}

function chipEl(f, conversationId, render) {
  const phase = f.error ? "error" : f.id ? "ready" : "uploading";
  const remove = h("button", { type: "button", class: "chip-remove", "aria-label": t("f_remove", { name: f.name }), onclick: () => {
    f.xhr?.abort();
    const list = pendingFor(conversationId);
    list.splice(list.indexOf(f), 1);
    render();
  } }, "×");
  f.bar = f.id || f.error ? null : h("progress", { max: "1", value: String(f.progress), "aria-label": t("f_uploading", { name: f.name }) });
  return h("li", { class: `chip ${phase}`, "data-state": phase, title: f.error || "" },
    h("span", { class: "chip-name", dir: "auto" }, f.name),
    f.error ? h("span", { class: "chip-error", role: "alert" }, f.error)
      : h("span", { class: "chip-size" }, f.id ? fmtSize(f.size) : `${Math.round(f.progress * 100)}%`),
    f.bar, remove);
}

/** Error text in the agent's language for an upload the server (or the network) refused. */
function uploadError(status, code, fallback) {
  const known = { file_too_large: "f_too_large", file_type_mismatch: "f_mismatch", file_type_not_allowed: "f_type", file_refused: "f_type", file_empty: "f_empty" };
  if (known[code]) return t(known[code]);
  if (status === 413) return t("f_too_large");
  return t("failed", { msg: fallback || t("f_network") });
}

let uploadLimits = null;

async function uploadFile(file, conversationId, render) {
  const entry = { name: file.name, size: file.size, progress: 0, id: null, error: null, xhr: null, bar: null };
  pendingFor(conversationId).push(entry);
  render();
  // Refuse an oversize file at once: the server stops reading it, which browsers may report
  // as a network error instead of the 413.
  uploadLimits ??= await api("GET", "/uploads/limits").catch(() => null);
  if (!pendingFor(conversationId).includes(entry)) return; // removed meanwhile
  if (uploadLimits && file.size > uploadLimits.max_bytes) {
    entry.error = t("f_too_large");
    if (ui.current?.conversation.id === conversationId) render();
    return;
  }
  const body = new FormData();
  body.append("file", file, file.name);
  const xhr = new XMLHttpRequest();
  entry.xhr = xhr;
  xhr.open("POST", "/api/v1/uploads");
  xhr.responseType = "json";
  xhr.upload.addEventListener("progress", (ev) => {
    if (!ev.lengthComputable) return;
    entry.progress = ev.loaded / ev.total;
    if (entry.bar) entry.bar.value = entry.progress;
  });
  xhr.addEventListener("load", () => {
    entry.xhr = null;
    const data = xhr.response || {};
    if (xhr.status === 201) { Object.assign(entry, { id: data.id, name: data.name, size: data.size, progress: 1 }); }
    else entry.error = uploadError(xhr.status, data.error?.code, data.error?.message);
    if (ui.current?.conversation.id === conversationId) render();
  });
  xhr.addEventListener("error", () => { entry.xhr = null; entry.error = uploadError(0, null, null); if (ui.current?.conversation.id === conversationId) render(); });
  xhr.send(body);
}

/** The channels a reply can go out on: the latest by default, or any unblocked identity. */
function fillPicker(picker) {
  const c = ui.current.conversation;
  const keep = picker.value;
  const identities = ui.customer?.id === c.customer_id ? ui.customer.identities : [];
  const channels = [...new Set(identities.filter((i) => !i.blocked).map((i) => i.channel))];
  clear(picker).append(
    h("option", { value: "" }, t("latest_channel", { ch: c.last_channel ? t(`ch_${c.last_channel}`) : "—" })),
    ...channels.map((ch) => h("option", { value: ch }, t(`ch_${ch}`))));
  picker.value = channels.includes(keep) ? keep : "";
  return picker;
}

function signalTyping() {
  const now = Date.now();
  if (!ui.current || now - ui.lastTypingSent < 2500) return;
  ui.lastTypingSent = now;
  api("POST", `/conversations/${ui.current.conversation.id}/typing`, { mode: ui.mode }).catch(() => {});
}

function upsertMessage(m) {
  if (!ui.current || m.conversation_id !== ui.current.conversation.id) return;
  const known = ui.current.messages.get(m.id);
  // The reply's own API answer can arrive after the live "sent" update: never step back to queued.
  if (known && m.delivery_status === "queued" && known.delivery_status && known.delivery_status !== "queued") {
    m = { ...m, delivery_status: known.delivery_status, delivery_error: known.delivery_error, channel_message_id: known.channel_message_id };
  }
  ui.current.messages.set(m.id, m);
  const timeline = $("timeline");
  if (!timeline) return;
  const el = messageEl(m);
  const old = timeline.querySelector(`[data-id="${m.id}"]`);
  const atBottom = timeline.scrollHeight - timeline.scrollTop - timeline.clientHeight < 80;
  if (old) old.replaceWith(el); else timeline.append(el);
  if (atBottom || !old) timeline.scrollTop = timeline.scrollHeight;
}

// ---------- customer panel ----------
async function loadCustomer(id) {
  let customer;
  try { customer = await api("GET", `/customers/${id}`); } catch { return; }
  if (ui.customer?.id !== customer.id) ui.editingCustomer = false;
  ui.customer = customer;
  renderCustomer();
  if (ui.current && ui.current.conversation.customer_id === id && $("reply-channel")) fillPicker($("reply-channel"));
}

function renderCustomer() {
  const c = ui.customer;
  const erased = Boolean(c.erased_at);
  if (erased) ui.editingCustomer = false;
  const pane = clear($("customer"));
  pane.append(h("h2", { id: "customer-name" }, erased ? t("erased_customer", { id: c.id }) : c.display_name || `#${c.id}`));
  if (erased) pane.append(h("p", { id: "customer-erased", class: "erased-note" }, t("erased_notice", { when: fmtTime(c.erased_at) })));
  pane.append(h("h3", {}, t("identities")), h("ul", { id: "identities" }, c.identities.map((i) =>
    h("li", {}, channelBadge(i.channel), " ", erased ? h("span", { class: "hint" }, t("erased_id")) : h("span", { dir: "ltr" }, i.external_id), i.blocked ? h("span", { class: "badge prio-high" }, t("blocked")) : null,
    i.profile?.verified === false ? h("span", { class: "badge", title: i.profile.via || "" }, t("unverified")) : null))));
  const dl = h("dl", {});
  const add = (k, v) => { if (v) dl.append(h("dt", {}, k), h("dd", { dir: "auto" }, String(v))); };
  add(t("email"), c.email); add(t("phone"), c.phone); add(t("language"), c.language && t(`l_${c.language}`));
  for (const [k, v] of Object.entries(c.attributes || {})) add(k, typeof v === "object" ? JSON.stringify(v) : v);
  pane.append(h("h3", {}, t("details"),
    ui.editingCustomer || erased ? null : h("button", { type: "button", class: "link", id: "customer-edit", onclick: () => { ui.editingCustomer = true; renderCustomer(); $("ce-name")?.focus(); } }, t("edit_details"))),
  ui.editingCustomer ? customerForm(c) : dl);
  pane.append(h("h3", {}, t("orders")), c.orders.length ? h("ul", {}, c.orders.map((o) =>
    h("li", {}, h("strong", {}, o.number), ` · ${o.status} · ${o.total} ${o.currency}`, o.eta ? ` · ${o.eta}` : ""))) : h("p", {}, t("none")));
  pane.append(h("h3", {}, t("past")), h("ul", {}, c.conversations.map((cv) =>
    h("li", {}, h("button", { type: "button", class: "link", onclick: () => openConversation(cv.id) }, t("conv_n", { id: cv.id })),
      " ", h("span", { class: `badge status-${cv.status}` }, t(`s_${cv.status}`)), " ", h("span", { class: "time" }, fmtTime(cv.last_message_at))))));
  if (state.me.role !== "agent" && !erased) pane.append(mergeBox(c));
  if (state.me.role === "admin" && !erased) {
    pane.append(h("div", { class: "erase-box" },
      h("button", { type: "button", class: "danger", id: "customer-erase", onclick: () => openEraseDialog(c) }, t("erase_button"))));
  }
}

/** Erasure is final: the admin gives a reason and types the customer's number before it is sent. */
function openEraseDialog(c) {
  $("erase-dialog")?.remove();
  const reason = h("input", { id: "erase-reason", required: true, maxlength: "500", dir: "auto", placeholder: t("erase_reason_ph") });
  const confirm = h("input", { id: "erase-confirm", inputmode: "numeric", autocomplete: "off", dir: "ltr" });
  const error = h("p", { class: "error", id: "erase-error", role: "alert" });
  const submit = h("button", { type: "submit", class: "danger", id: "erase-submit", disabled: true }, t("erase_submit"));
  const ready = () => { submit.disabled = !(confirm.value.trim() === String(c.id) && reason.value.trim()); };
  reason.addEventListener("input", ready);
  confirm.addEventListener("input", ready);
  const dialog = h("dialog", { id: "erase-dialog", "aria-labelledby": "erase-title" });
  const form = h("form", { class: "erase-form", novalidate: true },
    h("h2", { id: "erase-title" }, t("erase_title", { id: c.id })),
    h("p", {}, t("erase_explain")),
    h("label", { for: "erase-reason" }, t("erase_reason")), reason,
    h("label", { for: "erase-confirm" }, t("erase_confirm_label", { id: c.id })), confirm,
    error,
    h("div", { class: "actions" }, submit, " ", h("button", { type: "button", id: "erase-cancel", onclick: () => dialog.close() }, t("cancel"))));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    if (submit.disabled) return;
    submit.disabled = true;
    error.textContent = "";
    try {
      const done = await api("POST", `/customers/${c.id}/erase`, { reason: reason.value.trim(), confirm: Number(confirm.value.trim()) });
      dialog.close();
      toast(t("erase_done"));
      if (done.other_customers?.length) toast(t("erase_others", { ids: done.other_customers.map((i) => `#${i}`).join("، ") }));
      await loadCustomer(done.customer_id);
      if (ui.current) openConversation(ui.current.conversation.id);
    } catch (e) {
      error.textContent = t("failed", { msg: e.message });
      ready();
    }
  });
  dialog.addEventListener("close", () => dialog.remove());
  dialog.append(form);
  document.body.append(dialog);
  dialog.showModal();
  reason.focus();
}

const FIELD_LABEL = { display_name: "ce_name", email: "email", phone: "phone", language: "language", attributes: "attributes" };

/** The customer's profile as a form; sends only what changed (PATCH), errors name the field. */
function customerForm(c) {
  const field = (id, label, input) => h("div", { class: "ce-field" }, h("label", { for: id }, label), input);
  const name = h("input", { id: "ce-name", value: c.display_name || "", dir: "auto", required: true, maxlength: "200" });
  const email = h("input", { id: "ce-email", type: "email", value: c.email || "", dir: "ltr" });
  const phone = h("input", { id: "ce-phone", type: "tel", value: c.phone || "", dir: "ltr" });
  const langs = [...new Set(["ar", "en", c.language].filter(Boolean))];
  const language = h("select", { id: "ce-language" }, langs.map((l) => h("option", { value: l, selected: l === c.language }, tOr(`l_${l}`, l))));
  const attrs = Object.entries(c.attributes || {});
  const rows = attrs.map(([k, v]) => {
    const value = h("input", { value: typeof v === "object" ? JSON.stringify(v) : String(v), "aria-label": k, dir: "auto", "data-key": k, class: "ce-attr" });
    const drop = h("input", { type: "checkbox", "aria-label": t("f_remove", { name: k }), "data-drop": k });
    return h("li", {}, h("span", { class: "ce-key", dir: "auto" }, k), value, h("label", { class: "hint" }, drop, t("remove")));
  });
  const newKey = h("input", { id: "ce-new-key", placeholder: t("attr_key"), "aria-label": t("attr_key"), dir: "auto", maxlength: "64" });
  const newValue = h("input", { id: "ce-new-value", placeholder: t("attr_value"), "aria-label": t("attr_value"), dir: "auto" });
  const error = h("p", { class: "error", id: "ce-error", role: "alert" });
  const inputs = { display_name: name, email, phone, language, attributes: newKey };
  // novalidate: the server checks every field and its 422 names the one to fix, in any language.
  const form = h("form", { id: "customer-form", class: "customer-form", novalidate: true },
    field("ce-name", t("ce_name"), name), field("ce-email", t("email"), email),
    field("ce-phone", t("phone"), phone), field("ce-language", t("language"), language),
    h("fieldset", {}, h("legend", {}, t("attributes")), h("ul", { class: "ce-attrs" }, rows, h("li", {}, newKey, newValue))),
    error,
    h("div", { class: "actions" },
      h("button", { type: "submit", class: "primary", id: "ce-save" }, t("save")),
      h("button", { type: "button", id: "ce-cancel", onclick: () => { ui.editingCustomer = false; renderCustomer(); } }, t("cancel"))));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    for (const el of Object.values(inputs)) el.removeAttribute("aria-invalid");
    const patch = {};
    if (name.value.trim() !== (c.display_name || "")) patch.display_name = name.value.trim();
    if (email.value.trim() !== (c.email || "")) patch.email = email.value.trim() || null;
    if (phone.value.trim() !== (c.phone || "")) patch.phone = phone.value.trim() || null;
    if (language.value !== (c.language || "")) patch.language = language.value;
    const attributes = {};
    for (const el of form.querySelectorAll("input.ce-attr")) {
      const k = el.dataset.key;
      const before = c.attributes[k];
      if (form.querySelector(`input[data-drop="${CSS.escape(k)}"]`).checked) attributes[k] = null;
      else if (el.value !== (typeof before === "object" ? JSON.stringify(before) : String(before))) attributes[k] = el.value;
    }
    if (newKey.value.trim()) attributes[newKey.value.trim()] = newValue.value;
    if (Object.keys(attributes).length) patch.attributes = attributes;
    if (!Object.keys(patch).length) { ui.editingCustomer = false; renderCustomer(); return; }
    try {
      ui.customer = { ...ui.customer, ...(await api("PATCH", `/customers/${c.id}`, patch)) };
      ui.editingCustomer = false;
      renderCustomer();
      toast(t("customer_saved"));
    } catch (e) {
      const bad = (e.details || []).map((d) => String(d.field).split(".")[0]).filter((f) => inputs[f]);
      for (const f of bad) inputs[f].setAttribute("aria-invalid", "true");
      error.textContent = bad.length ? t("invalid_field", { field: bad.map((f) => t(FIELD_LABEL[f])).join("، ") }) : t("failed", { msg: e.message });
      (inputs[bad[0]] || name).focus();
    }
  });
  return form;
}

/** A translated string when one exists, else the fallback (a language code we have no name for). */
function tOr(key, fallback) { const s = t(key); return s === key ? fallback : s; }

function mergeBox(target) {
  const box = h("div", { class: "merge-box" });
  const input = h("input", { type: "search", id: "merge-search", placeholder: t("merge_search"), "aria-label": t("merge_search") });
  const results = h("ul", { id: "merge-results" });
  const preview = h("div", { id: "merge-preview" });
  input.addEventListener("keydown", async (ev) => {
    if (ev.key !== "Enter") return;
    ev.preventDefault();
    const found = await api("GET", `/customers${qs({ q: input.value.trim(), limit: 10 })}`);
    clear(results);
    for (const c of found.filter((x) => x.id !== target.id)) {
      results.append(h("li", {}, h("button", { type: "button", class: "link", onclick: () => showPreview(c.id) }, c.display_name || `#${c.id}`), ` ${[c.email, c.phone].filter(Boolean).join(" · ")}`));
    }
    if (!results.childElementCount) results.append(h("li", {}, t("no_results")));
  });
  async function showPreview(id) {
    const src = await api("GET", `/customers/${id}`);
    clear(preview).append(h("div", { class: "preview-card" },
      h("strong", { dir: "auto" }, src.display_name || `#${src.id}`),
      h("div", {}, src.identities.map((i) => [channelBadge(i.channel), " "])),
      h("div", {}, t("merge_preview", { n: src.identities.length, c: src.conversations.length })),
      h("button", { type: "button", class: "primary", id: "merge-confirm", onclick: async () => {
        try {
          await api("POST", `/customers/${target.id}/merge`, { source_id: src.id });
          toast(t("merge_done"));
          await loadCustomer(target.id);
          if (ui.current) openConversation(ui.current.conversation.id);
        } catch (e) { toast(t("failed", { msg: e.message })); }
      } }, t("merge_confirm", { name: src.display_name || `#${src.id}` })),
      " ", h("button", { type: "button", onclick: () => clear(preview) }, t("cancel"))));
  }
  box.append(h("label", { for: "merge-search" }, t("merge")), input, results, preview);
  return box;
}

// ---------- live ----------
const typingShown = new Map();
function onEvent(ev) {
  const d = ev.data || {};
  switch (ev.event) {
    case "message.created": case "message.updated":
      upsertMessage(d);
      if (ev.event === "message.created" && d.kind === "incoming") {
        if (d.conversation_id === ui.current?.conversation.id) markRead(d.conversation_id, d.id);
        else {
          ui.unread.set(d.conversation_id, (ui.unread.get(d.conversation_id) || 0) + 1);
          if (!ui.search) renderList();
        }
      }
      if (ev.event === "message.created") scheduleRefresh();
      if (ev.event === "message.updated" && d.sentiment) scheduleRefresh();
      break;
    case "conversation.updated": case "conversation.created":
      if (ui.current?.conversation.id === d.id) {
        const before = ui.current.conversation;
        ui.current.conversation = { ...before, ...d };
        if (before.status !== d.status || before.assignee_id !== d.assignee_id || before.sentiment !== d.sentiment || before.team_id !== d.team_id) {
          rerenderKeepingDraft();
        }
      }
      scheduleRefresh();
      break;
    case "conversation.assigned":
      if (d.assignee_id === state.me.id && d.activity?.agent_id !== state.me.id) notifyAssignment(d);
      break;
    case "conversation.read":
      // Another tab or device of this agent read it: agree at once.
      if (d.agent_id === state.me.id) clearUnreadBadge(d.conversation_id);
      break;
    case "team.updated": case "team.deleted":
      loadTeams().then(() => { if (!ui.search) renderList(); if (ui.current) rerenderKeepingDraft(); }).catch(() => {});
      scheduleRefresh();
      break;
    case "agent.typing":
      if (d.agent_id !== state.me.id && d.conversation_id === ui.current?.conversation.id) showTyping(d);
      break;
    case "customer.merged":
      if (ui.customer && [d.source_id, d.target_id].includes(ui.customer.id)) loadCustomer(d.target_id);
      break;
    case "customer.erased":
      // Someone erased this customer's data: show the erased panel (and timeline) at once.
      if (ui.customer && (d.customer_ids || []).includes(ui.customer.id)) loadCustomer(d.customer_id);
      if (ui.current && (d.customer_ids || []).includes(ui.current.customer.id)) openConversation(ui.current.conversation.id);
      scheduleRefresh();
      break;
    case "customer.updated":
      if (ui.current?.customer.id === d.customer.id) {
        ui.current.customer = d.customer;
        const title = $("conv-title");
        if (title) title.textContent = d.customer.display_name || t("conv_n", { id: ui.current.conversation.id });
      }
      // Never under an agent's half-typed edit: their form keeps its values.
      if (ui.customer?.id === d.customer.id && !ui.editingCustomer) loadCustomer(d.customer.id);
      scheduleRefresh();
      break;
    default:
  }
}

function showTyping(d) {
  const el = $("typing");
  if (!el) return;
  el.textContent = t(d.mode === "note" ? "typing_note" : "typing_reply", { name: d.agent_name });
  clearTimeout(typingShown.get("t"));
  typingShown.set("t", setTimeout(() => { el.textContent = ""; }, 4000));
}

function beep() {
  try {
    const ctx = new AudioContext();
    const osc = ctx.createOscillator(); const gain = ctx.createGain();
    osc.frequency.value = 880; gain.gain.value = 0.05;
    osc.connect(gain).connect(ctx.destination);
    osc.start(); osc.stop(ctx.currentTime + 0.15);
  } catch { /* no audio device */ }
}

async function notifyAssignment(conv) {
  let name = t("conv_n", { id: conv.id });
  try { name = (await api("GET", `/customers/${conv.customer_id}`)).display_name || name; } catch { /* keep the number */ }
  const text = t("new_assignment", { name });
  toast(text);
  beep();
  if ("Notification" in window && Notification.permission === "granted") {
    const n = new Notification(t("app"), { body: text, tag: `conv-${conv.id}` });
    n.onclick = () => { window.focus(); openConversation(conv.id); };
  }
}

// ---------- keyboard ----------
function bindKeys() {
  document.addEventListener("keydown", (ev) => {
    const tag = (ev.target.tagName || "").toLowerCase();
    if (["input", "textarea", "select"].includes(tag) || ev.ctrlKey || ev.metaKey || ev.altKey) return;
    const ids = ui.items.map((c) => c.id);
    const at = ui.current ? ids.indexOf(ui.current.conversation.id) : -1;
    const go = (i) => { if (ids[i] !== undefined) { openConversation(ids[i]); document.querySelector(`.conv-item[data-id="${ids[i]}"]`)?.focus(); } };
    switch (ev.key) {
      case "j": go(at + 1); break;
      case "k": go(Math.max(0, at - 1)); break;
      case "r": case "n":
        if (!ui.current) return;
        ev.preventDefault();
        if ((ev.key === "n") !== (ui.mode === "note")) document.querySelector(`#composer [data-mode="${ev.key === "n" ? "note" : "reply"}"]`)?.click();
        $("reply-text")?.focus();
        break;
      case "a": if (ui.current && ui.current.conversation.status !== "resolved" && mayMove(ui.current.conversation)) act("assign", { agent_id: state.me.id }); break;
      case "e": if (ui.current && ui.current.conversation.status !== "resolved") act("resolve"); break;
      case "/": ev.preventDefault(); $("search").focus(); break;
      case "?": $("help").showModal(); break;
      default: return;
    }
  });
}

start().catch((e) => toast(String(e)));
