// Shared by the inbox and the console: strings, safe DOM building, the API and the live socket.
import { STRINGS } from "./i18n.js";

const LANG_KEY = "tawasul.lang";
export const state = { lang: localStorage.getItem(LANG_KEY) || "en", me: null, agents: new Map(), teams: new Map() };

export function t(key, vars = {}) {
  const table = STRINGS[state.lang] || STRINGS.en;
  let text = table[key] ?? STRINGS.en[key] ?? key;
  for (const [k, v] of Object.entries(vars)) text = text.replaceAll(`{${k}}`, String(v));
  return text;
}

/** Build an element. Children that are strings become text nodes: data is never parsed as HTML. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") el.className = v;
    else if (k === "text") el.textContent = v;
    else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "dataset") Object.assign(el.dataset, v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

export function clear(el) { el.replaceChildren(); return el; }

export class ApiError extends Error {
  constructor(status, code, message, details = []) { super(message); this.status = status; this.code = code; this.details = details; }
}

export async function api(method, path, body) {
  const init = { method, headers: {}, credentials: "same-origin" };
  if (body !== undefined) { init.headers["Content-Type"] = "application/json"; init.body = JSON.stringify(body); }
  const resp = await fetch(`/api/v1${path}`, init);
  const data = resp.headers.get("content-type")?.includes("json") ? await resp.json() : await resp.text();
  if (!resp.ok) {
    // The session expired or was ended elsewhere: back to the login page.
    if (resp.status === 401 && state.me && path !== "/auth/login") location.href = "/";
    const err = (data && data.error) || {};
    throw new ApiError(resp.status, err.code || "error", err.message || resp.statusText, err.details || []);
  }
  return data;
}

export function qs(params) {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== null && v !== undefined && v !== "") p.set(k, v);
  const s = p.toString();
  return s ? `?${s}` : "";
}

/** Apply the chosen language: strings, lang/dir attributes (the CSS mirrors itself from dir). */
export function applyLanguage(lang) {
  state.lang = lang === "ar" ? "ar" : "en";
  localStorage.setItem(LANG_KEY, state.lang);
  document.documentElement.lang = state.lang;
  document.documentElement.dir = state.lang === "ar" ? "rtl" : "ltr";
  for (const el of document.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of document.querySelectorAll("[data-i18n-ph]")) el.placeholder = t(el.dataset.i18nPh);
  for (const el of document.querySelectorAll("[data-i18n-label]")) el.setAttribute("aria-label", t(el.dataset.i18nLabel));
  document.title = `${t(document.body.dataset.titleKey || "inbox")} · ${t("app")}`;
}

export function languageButton(onChange) {
  const btn = h("button", { type: "button", id: "lang-switch", lang: state.lang === "ar" ? "en" : "ar" }, t("switch_lang"));
  btn.setAttribute("aria-label", t("switch_lang_label"));
  btn.addEventListener("click", () => {
    applyLanguage(state.lang === "ar" ? "en" : "ar");
    btn.textContent = t("switch_lang");
    btn.lang = state.lang === "ar" ? "en" : "ar";
    btn.setAttribute("aria-label", t("switch_lang_label"));
    onChange();
  });
  return btn;
}

export async function loadMe() {
  try { state.me = await api("GET", "/me"); } catch (e) { if (e.status === 401) return null; throw e; }
  if (!localStorage.getItem(LANG_KEY) && state.me.language) applyLanguage(state.me.language);
  const agents = await api("GET", "/agents");
  state.agents = new Map(agents.map((a) => [a.id, a]));
  await loadTeams();
  return state.me;
}

/** Every team (name and member ids); reloaded when a team changes. */
export async function loadTeams() {
  const teams = await api("GET", "/teams");
  state.teams = new Map(teams.map((x) => [x.id, x]));
  return state.teams;
}

/** The conversation's team chip, or nothing. Its name comes from the team list when known. */
export function teamChip(c, id = undefined) {
  if (!c.team_id) return null;
  const name = state.teams.get(c.team_id)?.name || c.team?.name || `#${c.team_id}`;
  return h("span", { class: "badge team-chip", "data-team": c.team_id, id, title: t("team_label"), dir: "auto" }, name);
}

export function agentName(id) { return state.agents.get(id)?.display_name || t("agent_fallback"); }

export function channelBadge(channel) {
  if (!channel) return null;
  const label = STRINGS.en[`ch_${channel}`] ? t(`ch_${channel}`) : channel;
  return h("span", { class: `badge ch-${channel}`, title: label, "data-channel": channel }, label);
}

export function moodBadge(label, anger) {
  if (!label) return null;
  const icon = { angry: "😠 ", negative: "☹ ", neutral: "", positive: "🙂 " }[label] ?? "";
  const pct = anger != null && label === "angry" ? ` ${Math.round(anger * 100)}%` : "";
  return h("span", { class: `mood mood-${label}`, "data-sentiment": label, role: "img", "aria-label": t(`m_${label}`) + pct }, `${icon}${t(`m_${label}`)}${pct}`);
}

export function fmtTime(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  const sameDay = new Date().toDateString() === d.toDateString();
  const opts = sameDay ? { hour: "2-digit", minute: "2-digit" } : { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" };
  return new Intl.DateTimeFormat(state.lang === "ar" ? "ar-SA-u-nu-latn" : "en-GB", opts).format(d);
}

export function fmtDuration(seconds) {
  if (seconds === null || seconds === undefined) return "—";
  const s = Math.max(0, Math.round(seconds));
  const unit = s < 90 ? ["second", s] : s < 5400 ? ["minute", Math.round(s / 60)] : s < 172800 ? ["hour", Math.round(s / 3600)] : ["day", Math.round(s / 86400)];
  return new Intl.NumberFormat(state.lang === "ar" ? "ar-u-nu-latn" : "en", { style: "unit", unit: unit[0], unitDisplay: "short" }).format(unit[1]);
}

export function since(iso) { return fmtDuration((Date.now() - new Date(iso).getTime()) / 1000); }

export function toast(text) {
  let box = document.querySelector(".toasts");
  if (!box) { box = h("div", { class: "toasts", role: "status", "aria-live": "polite" }); document.body.append(box); }
  const el = h("div", { class: "toast" }, text);
  box.append(el);
  setTimeout(() => el.remove(), 5000);
}

/** The live event socket; reconnects with backoff and tells the page when it came back. */
export function connectLive(onEvent, onReconnect) {
  let delay = 500;
  let opened = false;
  const open = () => {
    const ws = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/api/v1/ws`);
    ws.addEventListener("open", () => { delay = 500; if (opened) onReconnect?.(); opened = true; });
    ws.addEventListener("message", (ev) => {
      let data;
      try { data = JSON.parse(ev.data); } catch { return; }
      // The server says hello once it has registered the socket: from then on nothing is missed.
      if (data.event === "hello") { document.body.dataset.live = "on"; return; }
      try { onEvent(data); } catch (e) { console.error(e); }
    });
    ws.addEventListener("close", (ev) => {
      document.body.dataset.live = "off";
      // 4401: the session ended (logout elsewhere, password reset, deactivation, expiry).
      if (ev.code === 4401) { location.href = "/"; return; }
      setTimeout(open, delay); delay = Math.min(delay * 2, 15000);
    });
  };
  open();
}

export async function logout() {
  try { await api("POST", "/auth/logout"); } finally { location.href = "/"; }
}
