// Tiny DOM helpers. Text always goes in through textContent (never innerHTML): item texts are user data.

/**
 * Create an element: h("button", {class: "x", onclick: fn, "aria-label": "y"}, "text", child).
 * Attributes starting with "on" become listeners; `dataset` and `hidden`/`disabled` are handled.
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") el.addEventListener(name.slice(2), value);
    else if (name === "dataset") Object.assign(el.dataset, value);
    else if (name === "class") el.className = value;
    else if (name === "value") el.value = value;
    else if (value === true) el.setAttribute(name, "");
    else el.setAttribute(name, String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replace an element's children. */
export function mount(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** A keyboard-key chip: <kbd>1</kbd>. */
export const kbd = (key) => h("kbd", {}, key);

/** 0.1234 -> "0.123"; null -> "—" (an undefined statistic, e.g. too few items). */
export function num(value, digits = 3) {
  return typeof value === "number" && Number.isFinite(value) ? value.toFixed(digits) : "—";
}

/** 0.834 -> "83%". */
export const pct = (value) => (typeof value === "number" ? `${Math.round(value * 100)}%` : "—");

/** A table from headers and rows of cells (strings or nodes). */
export function table(caption, headers, rows) {
  return h(
    "table",
    {},
    h("caption", {}, caption),
    h("thead", {}, h("tr", {}, headers.map((x) => h("th", { scope: "col" }, x)))),
    h("tbody", {}, rows.map((cells) => h("tr", {}, cells.map((c, i) => (i === 0 ? h("th", { scope: "row" }, c) : h("td", {}, c)))))),
  );
}

const NOT_TEXT = new Set(["checkbox", "radio", "button", "submit", "reset", "file", "range", "color"]);

/** Whether a key event comes from a text field (where letters type text, not shortcuts). */
export function typing(event) {
  const t = event.target;
  if (!(t instanceof HTMLElement)) return false;
  if (t instanceof HTMLInputElement) return !NOT_TEXT.has(t.type);
  return t.isContentEditable || t.tagName === "TEXTAREA" || t.tagName === "SELECT";
}

/** A short display form of a labeller id ("key:3fa9c1d2e4b5" -> "key:3fa9c1"). */
export const who = (id) => (typeof id === "string" && id.length > 12 ? `${id.slice(0, 10)}…` : String(id ?? "?"));
