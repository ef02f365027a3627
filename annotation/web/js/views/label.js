// The labelling view: one redacted item at a time, every action on the keyboard.
// Keys: label hotkeys choose (single) or toggle (multi) a label, or label the selected text (span);
// Enter / → save and go on, ← goes back through the caller's history, S skips, C comments, ? helps.

import { api } from "../api.js";
import { h, kbd, mount, pct, typing } from "../dom.js";
import { assignHotkeys, normaliseKey } from "../hotkeys.js";
import { selectionSpan } from "../offsets.js";
import { markedText, spanList } from "../spans.js";

const HUES = [210, 145, 30, 280, 0, 180, 60, 320, 100, 250];

class Labeller {
  constructor(ctx, view, project, current) {
    Object.assign(this, { ctx, view, project, current });
    this.keys = assignHotkeys(project.labels);
    this.hue = new Map(project.labels.map((l, i) => [l.name, HUES[i % HUES.length]]));
    this.item = null;
    this.mode = "queue"; // or "history": revisiting an item the caller already answered
    this.history = [];
    this.historyPos = -1;
    this.remaining = 0;
    this.busy = false;
    this.commentOpen = false;
  }

  // --- loading ---------------------------------------------------------------------------------------------

  async refreshProject() {
    this.project = await api("GET", `/projects/${encodeURIComponent(this.project.id)}`);
  }

  async loadNext() {
    const path = `/projects/${encodeURIComponent(this.project.id)}`;
    const [next] = await Promise.all([api("GET", `${path}/next`), this.refreshProject()]);
    this.mode = "queue";
    this.historyPos = -1;
    this.remaining = next?.remaining ?? 0;
    this.show(next?.item ?? null);
  }

  async loadItem(itemId) {
    const item = await api("GET", `/projects/${encodeURIComponent(this.project.id)}/items/${encodeURIComponent(itemId)}`);
    this.show(item);
  }

  show(item) {
    if (!this.current()) return; // the person has moved to another page meanwhile
    this.item = item;
    const mine = item?.my_annotation;
    this.chosen = new Set(mine && !mine.skipped ? mine.labels ?? [] : []);
    this.spans = mine && !mine.skipped ? (mine.spans ?? []).map(({ start, end, label }) => ({ start, end, label })) : [];
    this.dirty = false;
    this.started = performance.now();
    this.render();
  }

  // --- actions ---------------------------------------------------------------------------------------------

  async run(action) {
    if (this.busy) return;
    this.busy = true;
    this.view.setAttribute("aria-busy", "true");
    this.ctx.error(null);
    try {
      await action();
    } catch (err) {
      if (this.current()) this.ctx.error(err);
    } finally {
      this.busy = false;
      this.view.setAttribute("aria-busy", "false");
    }
  }

  choose(label) {
    if (!this.item) return;
    if (this.project.kind === "span") return this.labelSelection(label);
    if (this.project.kind === "multi") {
      if (this.chosen.has(label)) this.chosen.delete(label);
      else this.chosen.add(label);
    } else {
      this.chosen = new Set([label]);
    }
    this.dirty = true;
    this.renderChoice();
    this.ctx.status(this.chosen.size ? `Chosen: ${this.ordered([...this.chosen]).join(", ")}` : "No label chosen");
  }

  labelSelection(label) {
    const textEl = this.view.querySelector("#item-text");
    const span = selectionSpan(textEl, this.item.text);
    if (!span) {
      this.ctx.status(`Select some text in the message first, then press ${this.keys.byLabel.get(label) ?? "the label's button"}.`);
      return;
    }
    const clash = this.spans.find((s) => span.start < s.end && s.start < span.end);
    if (clash) {
      this.ctx.status(`That overlaps the “${clash.label}” span; remove it first (Backspace removes the last span).`);
      return;
    }
    this.spans.push({ start: span.start, end: span.end, label });
    this.dirty = true;
    window.getSelection()?.removeAllRanges();
    this.render();
    this.ctx.status(`Span labelled ${label} (${span.end - span.start} characters).`);
  }

  removeSpan(index) {
    const [removed] = this.spans.splice(index, 1);
    if (!removed) return;
    this.dirty = true;
    this.render();
    this.ctx.status(`Removed the ${removed.label} span.`);
  }

  ordered(labels) {
    const order = this.project.labels.map((l) => l.name);
    return [...labels].sort((a, b) => order.indexOf(a) - order.indexOf(b));
  }

  body(extra = {}) {
    const seconds = Math.round((performance.now() - this.started) / 100) / 10;
    if (this.project.kind === "span") {
      const spans = [...this.spans].sort((a, b) => a.start - b.start);
      return { labels: this.ordered(new Set(spans.map((s) => s.label))), spans, seconds, ...extra };
    }
    return { labels: this.ordered(this.chosen), seconds, ...extra };
  }

  async put(body) {
    const path = `/projects/${encodeURIComponent(this.project.id)}/items/${encodeURIComponent(this.item.id)}/annotation`;
    await api("PUT", path, { json: body });
  }

  /** Enter / →: save when there is something new to save, then go on (newer history item, or the queue). */
  async forward() {
    if (!this.item) return;
    const needsSave = this.mode === "queue" || this.dirty;
    if (needsSave) {
      const body = this.body();
      if (this.project.kind !== "span" && !body.labels.length) {
        const first = this.keys.byLabel.get(this.project.labels[0]?.name);
        this.ctx.status(`Choose a label first${first ? ` (keys ${first}…)` : ""}, or press S to skip.`);
        return;
      }
      await this.put(body);
      this.ctx.status(body.labels.length ? `Saved: ${body.labels.join(", ")}.` : "Saved.");
    }
    await this.advance();
  }

  async advance() {
    if (this.mode === "history" && this.historyPos > 0) {
      this.historyPos -= 1;
      await Promise.all([this.refreshProject(), this.loadItem(this.history[this.historyPos])]);
    } else {
      await this.loadNext();
    }
  }

  async skip() {
    if (!this.item) return;
    await this.put({ labels: [], spans: [], skipped: true, seconds: this.body().seconds });
    this.ctx.status("Skipped.");
    await this.advance();
  }

  /** ←: the caller's previous answer (history is newest first). */
  async previous() {
    if (this.mode === "queue") {
      const { items } = await api("GET", `/projects/${encodeURIComponent(this.project.id)}/history`);
      this.history = items.map((i) => i.id).filter((id) => id !== this.item?.id);
      if (!this.history.length) {
        this.ctx.status("There is no earlier item: you have not labelled any yet.");
        return;
      }
      this.mode = "history";
      this.historyPos = 0;
    } else if (this.historyPos + 1 < this.history.length) {
      this.historyPos += 1;
    } else {
      this.ctx.status("This is the first item you labelled.");
      return;
    }
    await this.loadItem(this.history[this.historyPos]);
    this.ctx.status("Showing an earlier answer: change it and press Enter to save, or → to go on.");
  }

  openComment() {
    if (!this.item || this.commentOpen) return;
    this.commentOpen = true;
    this.renderComments();
    this.view.querySelector("#comment-text")?.focus();
  }

  async sendComment(text) {
    const path = `/projects/${encodeURIComponent(this.project.id)}/items/${encodeURIComponent(this.item.id)}/comments`;
    const comment = await api("POST", path, { json: { text } });
    this.item.comments = [...(this.item.comments ?? []), comment];
    this.commentOpen = false;
    this.renderComments();
    this.view.focus({ preventScroll: true });
    this.ctx.status("Comment added.");
  }

  onKey(event) {
    if (this.commentOpen || typing(event)) return;
    const key = normaliseKey(event);
    const onControl = event.target instanceof HTMLElement && event.target.matches("button, a, summary");
    if (onControl && (key === "Enter" || key === " ")) return; // let focused buttons and links work natively
    const actions = {
      Enter: () => this.run(() => this.forward()),
      ArrowRight: () => this.run(() => this.forward()),
      ArrowLeft: () => this.run(() => this.previous()),
      s: () => this.run(() => this.skip()),
      c: () => this.openComment(),
      Backspace: () => this.project.kind === "span" && this.removeSpan(this.spans.length - 1),
    };
    const action = actions[key] ?? (this.keys.byKey.has(key) ? () => this.busy || this.choose(this.keys.byKey.get(key)) : null);
    if (!action) return;
    event.preventDefault();
    action();
  }

  // --- rendering -------------------------------------------------------------------------------------------

  progressText() {
    const mine = this.project.stats?.labelled_by_me ?? 0;
    if (this.mode === "history") return `Your answer ${this.history.length - this.historyPos} of ${this.history.length}`;
    const total = mine + this.remaining;
    return this.item ? `Item ${Math.min(mine + 1, total)} of ${total}` : `${mine} of ${mine} done`;
  }

  render() {
    const kind = this.project.kind;
    const head = h(
      "div",
      { class: "page-head" },
      h("h1", {}, this.project.name),
      h("p", { id: "progress", class: "progress-text", "aria-live": "polite" }, this.progressText()),
    );
    if (!this.item) {
      mount(
        this.view,
        head,
        h("div", { class: "card done" }, h("h2", {}, "Queue empty"), h("p", {}, "Nothing left for you in this project right now. Press ", kbd("←"), " to revisit your answers.")),
      );
      this.view.dataset.itemId = "";
      return;
    }
    const article = h(
      "article",
      { class: "card item", "aria-labelledby": "item-heading" },
      h("h2", { id: "item-heading", class: "visually-hidden" }, "Message"),
      h("div", { class: "item-meta" }, this.mode === "history" ? h("span", { class: "badge warn" }, this.item.my_annotation?.skipped ? "earlier item · skipped" : "earlier answer") : null, this.prediction()),
      this.textBlock(),
      kind === "span" ? h("p", { class: "hint" }, "Select words with the mouse, then press a label's key. ", kbd("Backspace"), " removes the last span.") : null,
      h("section", { id: "comments", class: "comments", "aria-label": "Comments" }),
    );
    const panel = h(
      "aside",
      { class: "card panel", "aria-label": "Labels" },
      h("h2", {}, kind === "multi" ? "Labels (choose any)" : kind === "span" ? "Span labels" : "Label (choose one)"),
      this.project.instructions ? h("details", { class: "instructions" }, h("summary", {}, "Instructions"), h("p", {}, this.project.instructions)) : null,
      h("div", { class: "label-buttons", role: "group", "aria-label": "Labels" }, this.project.labels.map((l) => this.labelButton(l))),
      kind === "span" ? spanList(this.item.text, this.spans, (i) => this.removeSpan(i)) : null,
      h(
        "div",
        { class: "nav-buttons" },
        h("button", { type: "button", onclick: () => this.run(() => this.previous()), "aria-keyshortcuts": "ArrowLeft" }, kbd("←"), " Previous"),
        h("button", { type: "button", onclick: () => this.run(() => this.skip()), "aria-keyshortcuts": "S" }, kbd("S"), " Skip"),
        h("button", { type: "button", onclick: () => this.openComment(), "aria-keyshortcuts": "C" }, kbd("C"), " Comment"),
        h("button", { type: "button", class: "primary", onclick: () => this.run(() => this.forward()), "aria-keyshortcuts": "Enter ArrowRight" }, "Save & next ", kbd("Enter")),
      ),
    );
    mount(this.view, head, h("div", { class: "label-layout" }, article, panel));
    this.view.dataset.itemId = this.item.id;
    this.renderChoice();
    this.renderComments();
  }

  prediction() {
    const p = this.item.prediction;
    if (!p?.label) return h("span", { class: "muted" }, "No model suggestion");
    return h("span", { class: "prediction" }, "Model suggests ", h("strong", {}, p.label), " ", h("span", { class: "confidence" }, `${pct(p.confidence)} confident`));
  }

  textBlock() {
    const lang = this.item.lang === "zh" ? "zh" : undefined;
    return markedText(this.item.text, this.spans, { lang, hue: (label) => this.hue.get(label) ?? 210 });
  }

  labelButton(label) {
    const key = this.keys.byLabel.get(label.name);
    const suggested = this.item.prediction?.label === label.name;
    const button = h(
      "button",
      {
        type: "button",
        class: `label-button${suggested ? " suggested" : ""}`,
        dataset: { label: label.name },
        "aria-keyshortcuts": key,
        title: label.description || undefined,
        onmousedown: (e) => this.project.kind === "span" && e.preventDefault(), // keep the text selection
        onclick: (e) => {
          this.choose(label.name);
          if (e.detail > 0) this.view.focus({ preventScroll: true }); // a mouse click: keys go back to the item
        },
      },
      key ? kbd(key) : null,
      h("span", { class: "label-name" }, label.name),
      suggested ? h("span", { class: "tag" }, "model") : null,
      label.description ? h("span", { class: "label-desc" }, label.description) : null,
    );
    button.style.setProperty("--hue", String(this.hue.get(label.name)));
    return button;
  }

  renderChoice() {
    if (this.project.kind === "span") return;
    for (const button of this.view.querySelectorAll(".label-button")) {
      button.setAttribute("aria-pressed", String(this.chosen.has(button.dataset.label)));
    }
  }

  renderComments() {
    const box = this.view.querySelector("#comments");
    if (!box || !this.item) return;
    const list = (this.item.comments ?? []).map((c) => h("li", {}, h("span", { class: "muted" }, c.author ? `${c.author}: ` : ""), c.text));
    const form = this.commentOpen ? this.commentForm() : null;
    mount(box, list.length ? h("ul", { class: "comment-list" }, list) : null, form);
  }

  commentForm() {
    const area = h("textarea", { id: "comment-text", rows: 3, maxlength: 2000, "aria-describedby": "comment-help" });
    const cancel = () => {
      this.commentOpen = false;
      this.renderComments();
      this.view.focus({ preventScroll: true });
    };
    const submit = () => {
      const text = area.value.trim();
      if (!text) return this.ctx.status("Write a comment first, or press Esc to cancel.");
      this.run(() => this.sendComment(text));
    };
    area.addEventListener("keydown", (e) => {
      if (e.key === "Escape") {
        e.preventDefault();
        cancel();
      } else if (e.key === "Enter" && !e.shiftKey) {
        e.preventDefault();
        submit();
      }
    });
    return h(
      "form",
      { class: "comment-form", onsubmit: (e) => (e.preventDefault(), submit()) },
      h("label", { for: "comment-text" }, "Comment on this item"),
      area,
      h("p", { id: "comment-help", class: "muted" }, kbd("Enter"), " adds it, ", kbd("Shift"), "+", kbd("Enter"), " a new line, ", kbd("Esc"), " cancels."),
      h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Add comment"), h("button", { type: "button", onclick: cancel }, "Cancel")),
    );
  }

  shortcuts() {
    const labelKeys = this.project.labels
      .filter((l) => this.keys.byLabel.has(l.name))
      .map((l) => [[this.keys.byLabel.get(l.name)], this.project.kind === "span" ? `label the selected text “${l.name}”` : `${this.project.kind === "multi" ? "toggle" : "choose"} “${l.name}”`]);
    return [
      ...labelKeys,
      [["Enter", "→"], "save and go to the next item"],
      [["←"], "previous item (your history)"],
      [["S"], "skip this item"],
      [["C"], "comment on this item"],
      ...(this.project.kind === "span" ? [[["Backspace"], "remove the last span"]] : []),
    ];
  }
}

export async function labelView(ctx, view, [projectId, itemId], current) {
  const project = await api("GET", `/projects/${encodeURIComponent(projectId)}`);
  if (!current()) return;
  ctx.crumbs(h("span", {}, project.name), h("span", { "aria-current": "page" }, "Label"));
  const labeller = new Labeller(ctx, view, project, current);
  ctx.shortcuts(labeller.shortcuts());
  ctx.onKey = (event) => labeller.onKey(event);
  if (itemId) {
    labeller.mode = "history";
    labeller.history = [itemId];
    labeller.historyPos = 0;
    await labeller.loadItem(itemId);
  } else {
    await labeller.loadNext();
  }
}
