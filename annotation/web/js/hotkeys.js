// One key per label: the schema's hotkey when it is free, else the next of 1-9 then letters. Keys the
// workbench itself uses (S skip, C comment, ? help) are never given to a label.

const RESERVED = new Set(["s", "c", "?"]);
const POOL = [..."123456789abdefghijklmnopqrtuvwxyz0"];

/** Map<key, label name> and Map<label name, key> for a schema's labels (in schema order). */
export function assignHotkeys(labels) {
  const byKey = new Map();
  const byLabel = new Map();
  const take = (key, name) => {
    byKey.set(key, name);
    byLabel.set(name, key);
  };
  for (const label of labels) {
    const key = typeof label.hotkey === "string" ? label.hotkey.trim().toLowerCase() : "";
    if (key.length === 1 && !RESERVED.has(key) && !byKey.has(key)) take(key, label.name);
  }
  const free = POOL.filter((k) => !byKey.has(k));
  for (const label of labels) if (!byLabel.has(label.name) && free.length) take(free.shift(), label.name);
  return { byKey, byLabel };
}

/** The key as the workbench compares it: single characters lower-cased, named keys as they are. */
export const normaliseKey = (event) => (event.key.length === 1 ? event.key.toLowerCase() : event.key);
