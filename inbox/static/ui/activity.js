// Timeline activity lines written in the reader's language from their meta (action + data).
// The server's English text is only the fallback for an action this page does not know.
import { agentName, state, t } from "./common.js";

/** Whether a string exists for the key (t() answers the key itself when it does not). */
function known(key) { return t(key) !== key; }

/** An escalation or handoff reason in words; an unknown reason code as it is. */
export function reasonText(reason) {
  if (!reason) return t("r_unspecified");
  return known(`r_${reason}`) ? t(`r_${reason}`) : reason;
}

/** The facts an escalation or alert carries, in words: anger level, error name. */
function facts(meta) {
  const out = [];
  if (typeof meta.anger === "number") out.push(t("anger_pct", { pct: Math.round(meta.anger * 100) }));
  if (meta.error) out.push(t("error_named", { name: meta.error }));
  return out;
}

/** Field names of a customer edit: profile fields translated, attributes by their own key. */
function fieldNames(fields) {
  const label = { display_name: "ce_name", email: "email", phone: "phone", language: "language" };
  return (fields || []).map((f) => (f.startsWith("attributes.") ? f.slice(11) : t(label[f] || f))).join("، ");
}

/** The line's text in the UI language. */
export function activityText(m) {
  const meta = m.meta || {};
  const withFacts = (text, extra) => (extra.length ? `${text} (${extra.join("، ")})` : text);
  switch (meta.action) {
    case "escalated": {
      const extra = facts(meta);
      // Lines written before the facts were kept carry only English detail: shown in English.
      if (!extra.length && meta.detail && state.lang === "en") extra.push(meta.detail);
      return withFacts(t("a_escalated", { reason: reasonText(meta.reason) }), extra);
    }
    case "alert": {
      if (!known(`al_${meta.alert}`)) return t("a_alert", { detail: m.text });
      const text = withFacts(t(`al_${meta.alert}`, { reason: reasonText(meta.reason), minutes: Math.round((meta.waited_seconds || 0) / 60) }), facts(meta));
      return meta.acknowledged_by ? `${text} · ${t("acked_by", { name: agentName(meta.acknowledged_by) })}` : text;
    }
    case "assigned": return t("a_assigned", { name: agentName(meta.assignee_id) });
    case "taken_over": return t("a_taken_over", { name: agentName(m.agent_id) });
    case "merged": return t("a_merged", { source: meta.source_id, target: meta.target_id });
    case "merged_into": return t("a_merged_into", { id: meta.target_conversation_id });
    case "labelled": return t("a_labelled", { labels: (meta.labels || []).join("، ") || "—" });
    case "priority": return t("a_priority", { priority: t(`p_${meta.priority}`) });
    case "team":
      if (meta.reason === "team_deleted") return t("a_team_deleted", { name: meta.previous_team_name || "—" });
      return meta.team_id ? t("a_team", { name: meta.team_name }) : t("a_team_removed", { name: meta.previous_team_name || "—" });
    case "identified": return t("a_identified", { email: meta.email });
    case "contact_email":
      return t("a_contact_email", { email: meta.email }) + (meta.known_customer_id ? ` · ${t("a_contact_known", { id: meta.known_customer_id })}` : "");
    case "customer_updated": return t("a_customer_updated", { fields: fieldNames(meta.fields) });
    case "erased": return t("a_erased", { name: m.agent_id ? agentName(m.agent_id) : t("system"), reason: meta.reason || "—" });
    case "unassigned": case "resolved": case "reopened": case "handed_to_bot": return t(`a_${meta.action}`);
    default: return m.text;
  }
}
