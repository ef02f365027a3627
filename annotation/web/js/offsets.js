// Offsets: the API counts Unicode code points (Python str indices); the DOM counts UTF-16 code units.
// Converting at this one edge keeps emoji (surrogate pairs, ZWJ sequences) and CJK spans exact.

const isHigh = (c) => c >= 0xd800 && c <= 0xdbff;
const isLow = (c) => c >= 0xdc00 && c <= 0xdfff;

/** Whether a UTF-16 index falls between the two halves of a surrogate pair. */
function splitsPair(text, u16) {
  return u16 > 0 && u16 < text.length && isHigh(text.charCodeAt(u16 - 1)) && isLow(text.charCodeAt(u16));
}

/** UTF-16 index -> code-point index; an index inside a pair snaps down (`"floor"`) or up (`"ceil"`). */
export function toCodePoints(text, u16, snap = "floor") {
  let index = Math.max(0, Math.min(u16, text.length));
  if (splitsPair(text, index)) index += snap === "ceil" ? 1 : -1;
  let count = 0;
  for (let i = 0; i < index; i += isHigh(text.charCodeAt(i)) && i + 1 < text.length ? 2 : 1) count += 1;
  return count;
}

/** Code-point index -> UTF-16 index. */
export function toUtf16(text, cp) {
  let i = 0;
  for (let n = 0; n < cp && i < text.length; n += 1) i += isHigh(text.charCodeAt(i)) && i + 1 < text.length ? 2 : 1;
  return i;
}

/** The code-point length of a string. */
export const cpLength = (text) => toCodePoints(text, text.length);

/** The substring between two code-point offsets. */
export const cpSlice = (text, start, end) => text.slice(toUtf16(text, start), toUtf16(text, end));

/** The UTF-16 offset of a DOM boundary (node, offset) within `container`'s text content. */
function boundaryOffset(container, node, offset) {
  const range = document.createRange();
  range.selectNodeContents(container);
  range.setEnd(node, offset);
  return range.toString().length;
}

/**
 * The current selection inside `container` as code-point offsets of `text` (container.textContent === text),
 * with surrounding whitespace trimmed; null when nothing (or something outside the text) is selected.
 */
export function selectionSpan(container, text) {
  const selection = window.getSelection();
  if (!selection || selection.rangeCount === 0 || selection.isCollapsed) return null;
  const range = selection.getRangeAt(0);
  if (!container.contains(range.startContainer) || !container.contains(range.endContainer)) return null;
  let start = boundaryOffset(container, range.startContainer, range.startOffset);
  let end = boundaryOffset(container, range.endContainer, range.endOffset);
  while (start < end && /\s/.test(text[start])) start += 1;
  while (end > start && /\s/.test(text[end - 1])) end -= 1;
  if (start >= end) return null;
  return { start: toCodePoints(text, start, "floor"), end: toCodePoints(text, end, "ceil") };
}
