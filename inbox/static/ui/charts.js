// Tiny SVG charts (bars, stacked bars, horizontal bars). Labels are set as text, never markup.
const NS = "http://www.w3.org/2000/svg";

function el(tag, attrs = {}, text = null) {
  const node = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text !== null) node.textContent = text;
  return node;
}

function frame(width, height, label) {
  // Time runs left to right in both languages, as in printed Arabic business charts.
  return el("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": label, direction: "ltr" });
}

/** Stacked columns: series = [{key, color}], rows = [{label, <key>: n}]. */
export function columns(rows, series, label) {
  const W = 360, H = 170, pad = { l: 28, r: 6, t: 8, b: 24 };
  const svg = frame(W, H, label);
  const max = Math.max(1, ...rows.map((r) => series.reduce((s, x) => s + (r[x.key] || 0), 0)));
  const bw = (W - pad.l - pad.r) / Math.max(1, rows.length);
  for (let i = 0; i <= 4; i++) {
    const y = pad.t + ((H - pad.t - pad.b) * i) / 4;
    svg.append(el("line", { x1: pad.l, x2: W - pad.r, y1: y, y2: y, stroke: "#e3e6eb" }));
    svg.append(el("text", { x: pad.l - 4, y: y + 4, "text-anchor": "end", "font-size": 10, fill: "#5b6475" }, String(Math.round(max * (1 - i / 4)))));
  }
  rows.forEach((r, i) => {
    let y = H - pad.b;
    for (const s of series) {
      const v = r[s.key] || 0;
      const bh = ((H - pad.t - pad.b) * v) / max;
      if (v) {
        const rect = el("rect", { x: pad.l + i * bw + 1, y: y - bh, width: Math.max(1, bw - 2), height: bh, fill: s.color });
        rect.append(el("title", {}, `${r.label} · ${s.name || s.key}: ${v}`));
        svg.append(rect);
      }
      y -= bh;
    }
    const step = Math.ceil(rows.length / 7);
    if (i % step === 0) svg.append(el("text", { x: pad.l + i * bw + bw / 2, y: H - pad.b + 14, "text-anchor": "middle", "font-size": 10, fill: "#5b6475" }, r.label));
  });
  return svg;
}

/** Horizontal bars: items = [{label, value}]. */
export function bars(items, label, color = "#0b6e6e") {
  const row = 22, W = 360, H = Math.max(40, items.length * row + 10), left = 170;
  const svg = frame(W, H, label);
  const max = Math.max(1, ...items.map((x) => x.value));
  items.forEach((x, i) => {
    const y = 5 + i * row;
    svg.append(el("text", { x: left - 6, y: y + 15, "text-anchor": "end", "font-size": 10, fill: "#1d2330" }, x.label));
    const w = ((W - left - 40) * x.value) / max;
    svg.append(el("rect", { x: left, y: y + 3, width: Math.max(1, w), height: row - 8, fill: color, rx: 3 }));
    svg.append(el("text", { x: left + w + 4, y: y + 15, "font-size": 11, fill: "#1d2330" }, String(x.value)));
  });
  return svg;
}
