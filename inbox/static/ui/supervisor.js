// The supervisor console: live alert feed, metrics with charts and CSV, the team's load, agents.
import {
  api, agentName, applyLanguage, clear, connectLive, fmtDuration, fmtTime, h, languageButton,
  loadMe, loadTeams, logout, qs, since, state, t, toast,
} from "./common.js";
import { bars, columns } from "./charts.js";

const $ = (id) => document.getElementById(id);
const CHANNELS = ["telegram", "email", "webchat", "whatsapp", "webhook", "memory"];
const MOOD_COLORS = [
  { key: "angry", color: "#b3261e" }, { key: "negative", color: "#e59a3a" },
  { key: "neutral", color: "#a9b1bd" }, { key: "positive", color: "#2e9d57" },
];
const feed = { alerts: [], waiting: [] };
let lastMetrics = null;

async function start() {
  applyLanguage(state.lang);
  const me = await loadMe();
  if (!me) { location.href = "/"; return; }
  $("who").textContent = me.display_name;
  $("logout").onclick = logout;
  clear($("lang-slot")).append(languageButton(rerender));
  if (me.role === "agent") {
    $("denied").hidden = false;
    $("denied-text").textContent = t("need_supervisor");
    return;
  }
  $("console").hidden = false;
  buildForm();
  connectLive(onEvent, loadAlerts);
  $("team-create").onsubmit = createTeam;
  renderTeams();
  $("agent-create").onsubmit = createAgent;
  fillAgentForm();
  if (isAdmin()) { $("integrations-card").hidden = false; loadWebhooks(); }
  await Promise.all([loadAlerts(), loadMetrics(), loadTeam(), loadAgents(true)]);
  setInterval(loadWaiting, 30000);
  setInterval(() => { loadTeam(); loadAgents(); }, 15000);
}

function rerender() {
  renderTeams();
  fillAgentForm();
  renderAgents();
  if (isAdmin()) renderWebhooks();
  buildForm();
  renderAlerts();
  if (lastMetrics) renderMetrics(lastMetrics);
  loadTeam();
}

// ---------- alerts ----------
async function loadAlerts() {
  try {
    const data = await api("GET", "/alerts");
    feed.alerts = data.alerts;
    feed.waiting = data.waiting;
    renderAlerts();
  } catch (e) { toast(t("failed", { msg: e.message })); }
}

async function loadWaiting() {
  try { feed.waiting = (await api("GET", "/alerts")).waiting; renderAlerts(); } catch { /* next round */ }
}

function reasonText(reason) {
  if (!reason) return "";
  const key = `r_${reason}`;
  return t(key) === key ? reason : t(key);
}

/** Which wait an entry is about (queue or the agent's reply) and, for a breach, its limit. */
function scopeText(a) {
  if (!a.scope) return null;
  if (a.kind === "sla_breach" && a.limit_seconds != null) return t(`sla_${a.scope}`, { limit: fmtDuration(a.limit_seconds) });
  return t(`w_${a.scope}`);
}

function alertEl(a) {
  const acked = Boolean(a.acknowledged_by);
  const kindKey = `k_${a.kind}`;
  const assign = h("select", { "aria-label": t("assign"), "data-role": "assign" }, h("option", { value: "" }, t("assign_to")),
    [...state.agents.values()].map((ag) => h("option", { value: ag.id }, ag.display_name)));
  assign.onchange = async () => {
    if (!assign.value) return;
    try {
      await api("POST", `/conversations/${a.conversation_id}/assign`, { agent_id: Number(assign.value) });
      toast(t("a_assigned", { name: agentName(Number(assign.value)) }));
      if (typeof a.id === "number" && !acked) await acknowledge(a);
    } catch (e) { toast(t("failed", { msg: e.message })); }
  };
  return h("li", { class: `alert-item kind-${a.kind}${acked ? " acked" : ""}`, "data-kind": a.kind, "data-conversation": a.conversation_id, "data-id": a.id },
    h("div", { class: "head" },
      h("span", {}, t(kindKey) === kindKey ? a.kind : t(kindKey)),
      a.customer_name ? h("span", {}, "· ", h("bdi", {}, a.customer_name)) : null,
      h("time", { datetime: a.created_at }, a.waiting_seconds !== undefined ? t("waiting", { t: since(a.created_at) }) : fmtTime(a.created_at))),
    a.reason ? h("div", { class: "detail" }, reasonText(a.reason)) : null,
    a.scope ? h("div", { class: "detail", "data-role": "scope" }, scopeText(a)) : null,
    // The server's detail is English: shown in the English console, or for a kind this page
    // cannot name; the Arabic console names the kind and reason itself.
    a.detail && !["handoff", "sla_breach"].includes(a.kind) && (state.lang === "en" || t(kindKey) === kindKey)
      ? h("div", { class: "detail", dir: "auto" }, a.detail) : null,
    a.excerpt ? h("blockquote", { class: "detail" }, t("excerpt", { text: a.excerpt })) : null,
    h("div", { class: "acts" },
      h("a", { href: `/#/c/${a.conversation_id}` }, `${t("open")} · ${t("conv_n", { id: a.conversation_id })}`),
      assign,
      typeof a.id === "number"
        ? (acked ? h("span", { class: "badge" }, `${t("acked")} · ${agentName(a.acknowledged_by)}`)
          : h("button", { type: "button", "data-role": "ack", onclick: () => acknowledge(a) }, t("ack")))
        : null));
}

async function acknowledge(a) {
  try {
    const m = await api("POST", `/alerts/${a.id}/acknowledge`);
    a.acknowledged_by = m.meta.acknowledged_by;
    renderAlerts();
  } catch (e) { toast(t("failed", { msg: e.message })); }
}

function renderAlerts() {
  const list = clear($("alerts"));
  const items = [...feed.waiting, ...feed.alerts];
  if (!items.length) { list.append(h("li", { class: "empty" }, t("no_alerts"))); return; }
  for (const a of items) list.append(alertEl(a));
}

function onEvent(ev) {
  const d = ev.data || {};
  if (ev.event === "alert.raised") {
    // A breached wait moves from the waiting list to the feed, where it can be acknowledged.
    if (d.kind === "sla_breach") feed.waiting = feed.waiting.filter((w) => w.conversation_id !== d.conversation?.id);
    addAlert({
      id: d.activity?.id, kind: d.kind, reason: d.reason || null, detail: d.detail, excerpt: d.excerpt || null,
      conversation_id: d.conversation?.id, customer_name: null, created_at: d.activity?.created_at, acknowledged_by: null,
      scope: d.scope || null, limit_seconds: d.limit_seconds ?? null, waiting_since: d.waiting_since || null,
    }, d.conversation?.customer_id);
  } else if (ev.event === "conversation.escalated" && d.escalation_reason !== "no_bot") {
    // `no_bot` is the normal path when no bot is configured, not a handoff to alert on.
    const a = d.activity || {};
    addAlert({
      id: a.id, kind: "handoff", reason: d.escalation_reason, detail: a.text, conversation_id: d.id,
      customer_name: null, created_at: a.created_at, acknowledged_by: null,
    }, d.customer_id);
  } else if (ev.event === "alert.acknowledged") {
    const found = feed.alerts.find((x) => x.id === d.id || x.twin_ids?.includes(d.id));
    if (found) { found.acknowledged_by = d.meta.acknowledged_by; renderAlerts(); }
  } else if (ev.event === "webhook.paused") {
    // Only admins get this event (and only they can resume); the table follows.
    toast(t("wh_paused_toast", { url: d.url }));
    loadWebhooks();
  } else if (ev.event === "agent.updated") {
    // Another admin changed my role: the card follows (an agent's page is sent elsewhere).
    if (d.id === state.me.id) state.me.role = d.role;
    clearTimeout(onEvent.agentsTimer);
    onEvent.agentsTimer = setTimeout(() => loadAgents(), 300);
  } else if (ev.event === "team.updated" || ev.event === "team.deleted") {
    loadTeams().then(renderTeams).catch(() => {});
  } else if (ev.event === "conversation.assigned" || ev.event === "conversation.resolved") {
    clearTimeout(onEvent.timer);
    onEvent.timer = setTimeout(() => { loadTeam(); loadWaiting(); }, 300);
  }
}

/** Put a live alert on top; a bot handoff reported twice (escalation + alert) shows once. */
function addAlert(item, customerId) {
  const twin = item.kind === "handoff" && feed.alerts.find((x) => x.kind === "handoff" && x.conversation_id === item.conversation_id
    && !x.acknowledged_by && Math.abs(new Date(x.created_at) - new Date(item.created_at)) < 60000);
  if (twin) { twin.reason = twin.reason || item.reason; twin.twin_ids = [...(twin.twin_ids || []), item.id]; renderAlerts(); return; }
  feed.alerts.unshift(item);
  renderAlerts();
  customerName(customerId, item);
}

async function customerName(id, item) {
  if (!id) return;
  try { item.customer_name = (await api("GET", `/customers/${id}`)).display_name; renderAlerts(); } catch { /* keep blank */ }
}

// ---------- metrics ----------
function buildForm() {
  const fill = (sel, options) => { const keep = sel.value; clear(sel).append(...options); sel.value = keep; };
  fill($("m-channel"), [h("option", { value: "" }, t("all_channels")), ...CHANNELS.map((c) => h("option", { value: c }, t(`ch_${c}`)))]);
  fill($("m-agent"), [h("option", { value: "" }, t("all_agents")), ...[...state.agents.values()].map((a) => h("option", { value: a.id }, a.display_name))]);
  fill($("m-language"), [h("option", { value: "" }, t("all_languages")), h("option", { value: "ar" }, t("l_ar")), h("option", { value: "en" }, t("l_en"))]);
  fill($("m-group"), ["channel", "agent", "language"].map((g) => h("option", { value: g }, t(`g_${g}`))));
  if (!$("m-group").value) $("m-group").value = "channel";
  if (!$("m-end").value) {
    const end = new Date();
    const start = new Date(end.getTime() - 13 * 86400000);
    $("m-end").value = end.toISOString().slice(0, 10);
    $("m-start").value = start.toISOString().slice(0, 10);
  }
  $("metrics-form").onsubmit = (ev) => { ev.preventDefault(); loadMetrics(); };
}

function metricsParams() {
  return {
    start: $("m-start").value, end: $("m-end").value, channel: $("m-channel").value,
    agent_id: $("m-agent").value, language: $("m-language").value, group_by: $("m-group").value,
  };
}

async function loadMetrics() {
  try {
    const data = await api("GET", `/metrics${qs(metricsParams())}`);
    lastMetrics = data;
    renderMetrics(data);
  } catch (e) { toast(e.code === "period_too_long" ? t("period_too_long") : t("failed", { msg: e.message })); }
}

const pct = (x) => (x === null || x === undefined ? "—" : `${Math.round(x * 100)}%`);

function tile(key, value, sub) {
  return h("div", { class: "tile", "data-metric": key }, h("div", { class: "k" }, t(key)), h("div", { class: "v" }, value), sub ? h("div", { class: "s" }, sub) : null);
}

function renderMetrics(d) {
  $("m-export").href = `/api/v1/metrics.csv${qs(metricsParams())}`;
  const s = d.totals;
  clear($("tiles")).append(
    tile("t_volume", String(s.conversations)),
    tile("t_containment", pct(s.containment_rate), t("of_resolved", { n: s.resolved })),
    tile("t_frt", fmtDuration(s.first_response_median_s), t("median_p90", { p90: fmtDuration(s.first_response_p90_s) })),
    tile("t_resolution", fmtDuration(s.resolution_median_s), t("median_p90", { p90: fmtDuration(s.resolution_p90_s) })),
    tile("t_escalations", String(s.escalations)),
    tile("t_csat", s.csat_count ? `${s.csat_average} / 5` : t("not_collected"), s.csat_count ? `${pct(s.csat_satisfied_rate)} · n=${s.csat_count}` : null));
  const day = (iso) => iso.slice(5);
  const charts = clear($("charts"));
  charts.append(
    h("figure", { class: "chart", id: "chart-volume" }, h("h3", {}, t("c_volume")),
      columns(d.volume.map((v) => ({ label: day(v.day), n: v.conversations })), [{ key: "n", color: "#0b6e6e", name: t("t_volume") }], t("c_volume"))),
    h("figure", { class: "chart", id: "chart-reasons" }, h("h3", {}, t("c_reasons")),
      bars(Object.entries(d.escalations_by_reason).map(([k, v]) => ({ label: reasonText(k), value: v })), t("c_reasons"), "#6c63ff")),
    h("figure", { class: "chart", id: "chart-sentiment" }, h("h3", {}, t("c_sentiment")),
      columns(d.sentiment_trend.map((r) => ({ label: day(r.day), ...r })), MOOD_COLORS.map((m) => ({ ...m, name: t(`m_${m.key}`) })), t("c_sentiment")),
      h("div", { class: "legend" }, MOOD_COLORS.map((m) => h("span", { style: null, "data-c": m.key, class: `lg-${m.key}` }, t(`m_${m.key}`))))));
  for (const m of MOOD_COLORS) for (const span of charts.querySelectorAll(`.lg-${m.key}`)) span.style.setProperty("--c", m.color);
  const table = clear($("breakdown"));
  table.append(h("thead", {}, h("tr", {}, [t(`g_${d.group_by}`), t("t_volume"), t("t_containment"), t("t_escalations"), t("t_frt"), t("t_resolution"), t("t_csat")].map((x) => h("th", { scope: "col" }, x)))));
  const body = h("tbody");
  const keyLabel = (k) => (d.group_by === "channel" && t(`ch_${k}`) !== `ch_${k}` ? t(`ch_${k}`) : d.group_by === "language" && t(`l_${k}`) !== `l_${k}` ? t(`l_${k}`) : k);
  for (const r of d.breakdown) {
    body.append(h("tr", {}, h("th", { scope: "row", dir: "auto" }, keyLabel(r.key)), h("td", {}, String(r.conversations)), h("td", {}, pct(r.containment_rate)),
      h("td", {}, String(r.escalations)), h("td", {}, `${fmtDuration(r.first_response_median_s)} / ${fmtDuration(r.first_response_p90_s)}`),
      h("td", {}, `${fmtDuration(r.resolution_median_s)} / ${fmtDuration(r.resolution_p90_s)}`), h("td", {}, r.csat_average ?? "—")));
  }
  table.append(body);
}

// ---------- team ----------
async function loadTeam() {
  let team;
  try { team = await api("GET", "/team"); } catch { return; }
  const table = clear($("team"));
  table.append(h("thead", {}, h("tr", {}, ["", t("role"), t("open_load"), ""].map((x) => h("th", { scope: "col" }, x)))));
  const body = h("tbody");
  for (const a of team) {
    body.append(h("tr", { "data-agent": a.id },
      h("th", { scope: "row" }, h("span", { class: `dot${a.online ? " on" : ""}`, role: "img", "aria-label": t(a.online ? "online" : "offline") }), h("span", { dir: "auto" }, a.display_name)),
      h("td", {}, t(`r_${a.role}`)), h("td", {}, String(a.open)),
      h("td", {}, a.open ? h("button", { type: "button", onclick: () => showOpen(a) }, t("show_open")) : null)));
  }
  table.append(body);
}

async function showOpen(agent) {
  const page = await api("GET", `/conversations${qs({ assignee: agent.id, status: "open", limit: 50 })}`);
  const box = clear($("team-open"));
  box.append(h("h3", { dir: "auto" }, agent.display_name));
  const list = h("ul", {});
  for (const c of page.items) {
    const sel = h("select", { "aria-label": t("reassign") }, h("option", { value: "" }, t("reassign")),
      [...state.agents.values()].filter((x) => x.id !== agent.id).map((x) => h("option", { value: x.id }, x.display_name)));
    sel.onchange = async () => {
      if (!sel.value) return;
      try { await api("POST", `/conversations/${c.id}/assign`, { agent_id: Number(sel.value) }); await loadTeam(); await showOpen(agent); } catch (e) { toast(t("failed", { msg: e.message })); }
    };
    list.append(h("li", {}, h("a", { href: `/#/c/${c.id}`, dir: "auto" }, c.customer?.display_name || t("conv_n", { id: c.id })), " ", sel));
  }
  box.append(list);
}

// ---------- teams ----------
async function teamCall(method, path, body) {
  try {
    await api(method, path, body);
    await loadTeams();
    renderTeams();
    return true;
  } catch (e) { toast(t("failed", { msg: e.message })); return false; }
}

async function createTeam(ev) {
  ev.preventDefault();
  const name = $("team-new-name").value.trim();
  if (!name) return;
  if (await teamCall("POST", "/teams", { name, description: $("team-new-desc").value.trim() })) {
    $("team-new-name").value = "";
    $("team-new-desc").value = "";
  }
}

function teamEl(team) {
  const rename = h("input", { class: "team-rename", value: team.name, maxlength: "80", dir: "auto", "aria-label": t("team_name") });
  const members = h("ul", { class: "team-members" });
  for (const id of team.member_ids) {
    const name = agentName(id);
    members.append(h("li", { "data-agent": id }, h("bdi", {}, name), " ",
      h("button", { type: "button", class: "link remove-member", "aria-label": t("remove_member", { name }), title: t("remove_member", { name }),
        onclick: () => teamCall("DELETE", `/teams/${team.id}/members/${id}`) }, "×")));
  }
  if (!team.member_ids.length) members.append(h("li", { class: "muted" }, t("no_members")));
  const add = h("select", { class: "add-member", "aria-label": t("add_member") }, h("option", { value: "" }, t("add_member")),
    [...state.agents.values()].filter((a) => !team.member_ids.includes(a.id)).map((a) => h("option", { value: a.id }, a.display_name)));
  add.onchange = () => add.value && teamCall("POST", `/teams/${team.id}/members`, { agent_id: Number(add.value) });
  const del = h("button", { type: "button", class: "danger delete-team" }, t("delete"));
  // Two clicks, not a modal confirm(): a stray click cannot delete a team.
  del.onclick = () => {
    if (del.dataset.armed) { teamCall("DELETE", `/teams/${team.id}`); return; }
    del.dataset.armed = "1";
    del.textContent = t("confirm_delete", { name: team.name });
  };
  return h("li", { class: "team", "data-team": team.id },
    h("div", { class: "team-head" }, rename,
      h("button", { type: "button", class: "rename-team", onclick: () => rename.value.trim() && teamCall("PATCH", `/teams/${team.id}`, { name: rename.value.trim() }) }, t("rename")),
      del),
    team.description ? h("p", { class: "detail", dir: "auto" }, team.description) : null,
    h("div", { class: "team-body" }, h("span", { class: "k" }, t("members")), members, add));
}

function renderTeams() {
  const list = clear($("teams"));
  if (!state.teams.size) { list.append(h("li", { class: "empty" }, t("no_teams"))); return; }
  for (const team of state.teams.values()) list.append(teamEl(team));
}

// ---------- agents (admins manage them, supervisors read the list) ----------
const ROLES = ["agent", "supervisor", "admin"];
const roster = { list: [], resetOpen: null };
const AGENT_ERRORS = {
  self_lockout: "ag_self_lockout", login_taken: "ag_login_taken", weak_password: "ag_bad_password",
  not_found: "ag_not_found", forbidden: "ag_forbidden",
};
const FIELD_ERRORS = { login: "ag_bad_login", display_name: "ag_bad_name", password: "ag_bad_password" };

/** The fields a 422 names (`details[].field`), top level only. */
function badFields(e) {
  return e.code === "validation_error" ? [...new Set((e.details || []).map((d) => String(d.field).split(".")[0]))] : [];
}

/** A refusal from the agents API in the page's language (the server's text only as a last resort). */
function agentErrorText(e) {
  if (AGENT_ERRORS[e.code]) return t(AGENT_ERRORS[e.code]);
  const fields = badFields(e);
  if (fields.length) return fields.map((f) => (FIELD_ERRORS[f] ? t(FIELD_ERRORS[f]) : t("invalid_field", { field: f }))).join(" ");
  return t("failed", { msg: e.message });
}

function fillAgentForm() {
  const fill = (sel, options, initial) => { const keep = sel.value || initial; clear(sel).append(...options); sel.value = keep; };
  fill($("agent-new-role"), ROLES.map((r) => h("option", { value: r }, t(`r_${r}`))), "agent");
  fill($("agent-new-language"), ["ar", "en"].map((l) => h("option", { value: l }, t(`l_${l}`))), state.lang);
}

/** Every agent, deactivated ones too; a redraw only when someone changed (online dots in place). */
async function loadAgents(force = false) {
  let list;
  try { list = await api("GET", `/agents${qs({ include_inactive: "true" })}`); } catch (e) { if (force) toast(agentErrorText(e)); return; }
  const shape = (xs) => JSON.stringify(xs.map((a) => [a.id, a.login, a.display_name, a.role, a.active]));
  const changed = shape(list) !== shape(roster.list);
  roster.list = list;
  if (changed) {
    // Pickers everywhere on the page offer active agents only.
    state.agents = new Map(list.filter((a) => a.active).map((a) => [a.id, a]));
    renderTeams();
    buildForm();
    renderAlerts();
    loadTeam();
  }
  if (force || changed) renderAgents(); else updateOnline();
}

function onlineCell(a) {
  return h("td", { "data-role": "online", "data-online": String(a.online) },
    h("span", { class: `dot${a.online ? " on" : ""}`, "aria-hidden": "true" }), t(a.online ? "online" : "offline"));
}

function updateOnline() {
  for (const a of roster.list) {
    const cell = document.querySelector(`#agents tr[data-agent="${a.id}"] [data-role="online"]`);
    if (cell && cell.dataset.online !== String(a.online)) cell.replaceWith(onlineCell(a));
  }
}

function loginCell(a) {
  return h("th", { scope: "row" }, h("bdi", { dir: "ltr", class: "agent-login" }, a.login),
    a.id === state.me.id ? h("span", { class: "muted" }, ` ${t("ag_you")}`) : null);
}

function stateCell(a) {
  return h("td", { "data-role": "state" }, h("span", { class: `badge ag-${a.active ? "active" : "inactive"}` }, t(a.active ? "ag_active" : "ag_inactive")));
}

function agentRow(a) {
  return h("tr", { "data-agent": a.id, "data-active": String(a.active) },
    loginCell(a), h("td", { dir: "auto", "data-role": "name" }, a.display_name), h("td", { "data-role": "role" }, t(`r_${a.role}`)),
    stateCell(a), onlineCell(a));
}

function adminAgentRow(a) {
  const self = a.id === state.me.id;
  const name = h("input", { class: "agent-name", value: a.display_name, maxlength: "200", dir: "auto", "data-role": "name-input", "aria-label": t("ag_name_of", { login: a.login }) });
  const role = h("select", { "data-role": "role-select", "aria-label": t("ag_role_of", { login: a.login }) },
    ROLES.map((r) => h("option", { value: r, selected: r === a.role }, t(`r_${r}`))));
  const save = () => saveAgent(a, name, role);
  name.addEventListener("keydown", (ev) => { if (ev.key === "Enter") { ev.preventDefault(); save(); } });
  const toggle = h("button", { type: "button", class: a.active ? "danger" : null, "data-role": "toggle-active" }, t(a.active ? "ag_deactivate" : "ag_reactivate"));
  // Deactivating signs the agent out everywhere: two clicks, as for deleting a team.
  toggle.onclick = () => {
    if (a.active && !toggle.dataset.armed) {
      toggle.dataset.armed = "1";
      toggle.textContent = t("ag_confirm_deactivate", { name: a.display_name });
      return;
    }
    changeAgent(a, { active: !a.active }, a.active ? "ag_deactivated" : "ag_reactivated");
  };
  toggle.onblur = () => { delete toggle.dataset.armed; toggle.textContent = t(a.active ? "ag_deactivate" : "ag_reactivate"); };
  const acts = h("td", { class: "agent-acts" },
    h("button", { type: "button", "data-role": "save", onclick: save }, t("ag_save")), toggle);
  // My own password is not reset from here: that would end this very session.
  if (!self) acts.append(...resetControls(a));
  return h("tr", { "data-agent": a.id, "data-active": String(a.active) },
    loginCell(a), h("td", {}, name), h("td", {}, role), stateCell(a), onlineCell(a), acts);
}

/** "Reset password" and its inline form (a disclosure: Escape closes it, focus returns). */
function resetControls(a) {
  const open = roster.resetOpen === a.id;
  const pw = h("input", { type: "password", id: `agent-pw-${a.id}`, maxlength: "200", autocomplete: "new-password", dir: "ltr", "data-role": "new-password" });
  const box = h("div", { class: "agent-reset", id: `agent-reset-${a.id}`, hidden: !open },
    h("label", { for: pw.id }, t("ag_new_password", { name: a.display_name })), pw,
    h("button", { type: "button", class: "primary", "data-role": "set-password", onclick: () => setPassword(a, pw) }, t("ag_set_password")),
    h("button", { type: "button", "data-role": "cancel-reset", onclick: () => toggleReset(a, false) }, t("cancel")));
  pw.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter") { ev.preventDefault(); setPassword(a, pw); }
    if (ev.key === "Escape") { ev.preventDefault(); toggleReset(a, false); }
  });
  const button = h("button", { type: "button", "data-role": "reset", "aria-expanded": String(open), "aria-controls": box.id, onclick: () => toggleReset(a, !open) }, t("ag_reset"));
  return [button, box];
}

function agentRowEl(id) { return document.querySelector(`#agents tr[data-agent="${id}"]`); }

function toggleReset(a, open) {
  roster.resetOpen = open ? a.id : null;
  renderAgents();
  const row = agentRowEl(a.id);
  row?.querySelector(open ? '[data-role="new-password"]' : '[data-role="reset"]')?.focus();
}

function renderAgents() {
  const admin = isAdmin();
  $("agent-create").hidden = !admin;
  $("agents-readonly").hidden = admin;
  // The redraw keeps the keyboard where it was: the same control of the same row.
  const active = document.activeElement;
  const row = active?.closest?.("#agents tr[data-agent]");
  const keep = row ? { id: row.dataset.agent, role: active.dataset.role } : null;
  const table = clear($("agents"));
  if (!roster.list.length) { table.append(h("tbody", {}, h("tr", {}, h("td", { class: "empty" }, t("ag_no_agents"))))); return; }
  const heads = [t("ag_login"), t("ag_name"), t("role"), t("ag_state"), t("ag_online_col")];
  if (admin) heads.push(t("ag_actions"));
  table.append(h("thead", {}, h("tr", {}, heads.map((x) => h("th", { scope: "col" }, x)))));
  table.append(h("tbody", {}, roster.list.map((a) => (admin ? adminAgentRow(a) : agentRow(a)))));
  if (keep) {
    const again = agentRowEl(keep.id);
    const target = keep.role && again?.querySelector(`[data-role="${keep.role}"]`);
    (target && !target.closest("[hidden]") ? target : again?.querySelector("button"))?.focus();
  }
}

async function changeAgent(a, body, doneKey) {
  try {
    const updated = await api("PATCH", `/agents/${a.id}`, body);
    toast(t(doneKey, { name: updated.display_name }));
  } catch (e) { toast(agentErrorText(e)); }
  await loadAgents(true); // on a refusal too: the row shows what the server holds
}

function saveAgent(a, nameInput, roleSelect) {
  const body = {};
  if (nameInput.value.trim() !== a.display_name) body.display_name = nameInput.value.trim();
  if (roleSelect.value !== a.role) body.role = roleSelect.value;
  if (Object.keys(body).length) changeAgent(a, body, "ag_saved");
}

async function setPassword(a, input) {
  try {
    await api("POST", `/agents/${a.id}/password`, { password: input.value });
  } catch (e) {
    input.setAttribute("aria-invalid", "true");
    toast(agentErrorText(e));
    input.focus();
    return;
  }
  toast(t("ag_password_set", { name: a.display_name }));
  toggleReset(a, false);
}

async function createAgent(ev) {
  ev.preventDefault();
  const fields = { login: $("agent-new-login"), display_name: $("agent-new-name"), password: $("agent-new-password") };
  for (const el of Object.values(fields)) el.removeAttribute("aria-invalid");
  const body = {
    login: fields.login.value.trim(), display_name: fields.display_name.value.trim(), password: fields.password.value,
    role: $("agent-new-role").value, language: $("agent-new-language").value,
  };
  let agent;
  try { agent = await api("POST", "/agents", body); } catch (e) {
    toast(agentErrorText(e));
    const bad = e.code === "login_taken" ? [fields.login] : badFields(e).map((f) => fields[f]).filter(Boolean);
    for (const el of bad) el.setAttribute("aria-invalid", "true");
    bad[0]?.focus();
    return;
  }
  toast(t("ag_created", { name: agent.display_name, login: agent.login }));
  for (const el of Object.values(fields)) el.value = "";
  await loadAgents(true);
  fields.login.focus();
}

// ---------- integrations (admins) ----------
const hooks = { list: [], open: null };

function isAdmin() { return state.me?.role === "admin"; }

async function loadWebhooks() {
  try { hooks.list = await api("GET", "/webhooks"); } catch (e) { toast(t("failed", { msg: e.message })); return; }
  renderWebhooks();
  if (hooks.open !== null) showDeliveries(hooks.open);
}

function renderWebhooks() {
  const table = clear($("webhooks"));
  if (!hooks.list.length) { table.append(h("tbody", {}, h("tr", {}, h("td", { class: "empty" }, t("wh_none"))))); return; }
  table.append(h("thead", {}, h("tr", {}, [t("wh_url"), t("wh_events"), t("wh_state"), t("wh_failures"), t("wh_last_error"), t("wh_last_success"), ""].map((x) => h("th", { scope: "col" }, x)))));
  const body = h("tbody");
  for (const s of hooks.list) {
    const events = s.events.includes("*") ? t("wh_all_events") : s.events.join(", ");
    body.append(h("tr", { "data-webhook": s.id, "data-status": s.status },
      h("th", { scope: "row" }, h("bdi", { dir: "ltr", class: "wh-url" }, s.url), s.description ? h("div", { class: "muted", dir: "auto" }, s.description) : null),
      h("td", { dir: "ltr" }, events),
      h("td", {}, h("span", { class: `badge wh-${s.status}`, "data-role": "state", title: s.pause_reason || null }, t(`wh_${s.status}`))),
      h("td", { "data-role": "failures" }, String(s.failure_streak)),
      h("td", { "data-role": "last-error", dir: "auto", class: "wh-error" }, s.last_error || "—"),
      h("td", {}, s.last_success_at ? fmtTime(s.last_success_at) : t("wh_never")),
      h("td", { class: "wh-acts" },
        s.status === "paused" ? h("button", { type: "button", class: "primary", "data-role": "resume", onclick: () => resumeWebhook(s) }, t("wh_resume")) : null,
        h("button", { type: "button", "data-role": "deliveries", onclick: () => showDeliveries(s.id) }, t("wh_deliveries")))));
  }
  table.append(body);
}

async function resumeWebhook(s) {
  try {
    await api("POST", `/webhooks/${s.id}/resume`);
    toast(t("wh_resumed", { url: s.url }));
  } catch (e) { toast(t("failed", { msg: e.message })); }
  await loadWebhooks();
}

async function showDeliveries(id) {
  hooks.open = id;
  let rows;
  try { rows = await api("GET", `/webhooks/${id}/deliveries${qs({ limit: 20 })}`); } catch (e) { toast(t("failed", { msg: e.message })); return; }
  const sub = hooks.list.find((x) => x.id === id);
  const box = clear($("webhook-deliveries"));
  box.append(h("h3", {}, t("wh_deliveries"), " · ", h("bdi", { dir: "ltr" }, sub?.url || `#${id}`)));
  if (!rows.length) { box.append(h("p", { class: "muted" }, t("wh_no_deliveries"))); return; }
  const list = h("ul", { class: "wh-deliveries" });
  for (const d of rows) {
    const outcome = d.last_error || (d.last_status_code ? `HTTP ${d.last_status_code}` : "");
    list.append(h("li", { "data-delivery": d.id, "data-status": d.status },
      h("span", { class: `badge wd-${d.status}` }, t(`wd_${d.status}`)), " ",
      h("bdi", { dir: "ltr" }, d.event), " · ", t("wh_attempts", { n: d.attempts }),
      outcome ? h("span", { class: "wh-error", dir: "auto" }, ` · ${outcome}`) : null,
      " · ", h("time", { datetime: d.created_at }, fmtTime(d.created_at))));
  }
  box.append(list);
}

start().catch((e) => toast(String(e)));
