// Drawing spans: the item text with each span in a <mark> (its label name comes from CSS ::after, so the
// container's textContent stays exactly the item text and selections map straight back to offsets), and the
// list of spans with what each covers. Offsets are code points, as the API stores them.

import { h } from "./dom.js";
import { cpSlice, toUtf16 } from "./offsets.js";

/** The text element with `spans` marked; `hue(label)` colours each label. */
export function markedText(text, spans, { id = "item-text", lang, hue = () => 210 } = {}) {
  const el = h("div", { id, class: "item-text", lang });
  const sorted = spans.map((s, i) => ({ ...s, i })).sort((a, b) => a.start - b.start);
  let at = 0;
  for (const span of sorted) {
    const start = toUtf16(text, span.start);
    const end = toUtf16(text, span.end);
    if (start > at) el.append(text.slice(at, start));
    const mark = h("mark", { class: "span", dataset: { label: span.label, index: String(span.i) }, title: span.label }, text.slice(start, end));
    mark.style.setProperty("--hue", String(hue(span.label)));
    el.append(mark);
    at = Math.max(at, end);
  }
  if (at < text.length) el.append(text.slice(at));
  return el;
}

/** The spans as a list: label, quoted text, and a Remove button when `onRemove(index)` is given. */
export function spanList(text, spans, onRemove = null) {
  if (!spans.length) return h("p", { class: "muted spans-empty" }, "No spans.");
  return h(
    "ol",
    { class: "spans", "aria-label": "Spans" },
    spans.map((s, i) =>
      h(
        "li",
        {},
        h("span", { class: "badge" }, s.label),
        " ",
        h("q", {}, cpSlice(text, s.start, s.end)),
        onRemove ? [" ", h("button", { type: "button", class: "ghost small", onclick: () => onRemove(i), "aria-label": `Remove the ${s.label} span` }, "Remove")] : null,
      ),
    ),
  );
}
