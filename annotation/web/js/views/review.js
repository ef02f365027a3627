// The reviewer view: items whose labellers disagree, each answer side by side; accept one answer with its
// number key (or a click), or compose a resolution from the label buttons. A resolution is final.

import { api } from "../api.js";
import { h, kbd, mount, typing, who } from "../dom.js";
import { normaliseKey } from "../hotkeys.js";
import { spanList } from "../spans.js";

class Reviewer {
  constructor(ctx, view, project, current) {
    Object.assign(this, { ctx, view, project, current });
    this.conflicts = [];
    this.index = 0;
    this.custom = new Set();
    this.busy = false;
  }

  async load() {
    const { items } = await api("GET", `/projects/${encodeURIComponent(this.project.id)}/conflicts`);
    if (!this.current()) return;
    this.conflicts = items;
    this.index = Math.min(this.index, Math.max(0, items.length - 1));
    this.custom = new Set();
    this.render();
  }

  get conflict() {
    return this.conflicts[this.index] ?? null;
  }

  async resolve(labels, spans, how) {
    if (this.busy || !this.conflict) return;
    if (!labels.length && !spans?.length) {
      this.ctx.status("Choose at least one label for the resolution.");
      return;
    }
    this.busy = true;
    this.ctx.error(null);
    const note = this.view.querySelector("#resolution-note")?.value.trim() || undefined;
    const gold = this.view.querySelector("#make-gold")?.checked;
    const item = `/projects/${encodeURIComponent(this.project.id)}/items/${encodeURIComponent(this.conflict.item.id)}`;
    try {
      await api("PUT", `${item}/resolution`, { json: { labels, spans: spans ?? undefined, note } });
      if (gold) await api("POST", `${item}/gold`, { json: { labels, spans: spans ?? [] } });
      this.ctx.status(`Resolved as ${labels.join(", ") || "spans"} (${how})${gold ? ", and made a gold item" : ""}.`);
      await this.load();
    } catch (err) {
      if (this.current()) this.ctx.error(err);
    } finally {
      this.busy = false;
    }
  }

  accept(n) {
    const answer = this.conflict?.annotations[n];
    const spans = (answer?.spans ?? []).map(({ start, end, label }) => ({ start, end, label }));
    if (answer) this.resolve(answer.labels ?? [], spans, `answer ${n + 1}`);
  }

  move(step) {
    if (!this.conflicts.length) return;
    this.index = (this.index + step + this.conflicts.length) % this.conflicts.length;
    this.custom = new Set();
    this.render();
  }

  onKey(event) {
    if (typing(event)) return;
    const key = normaliseKey(event);
    const onControl = event.target instanceof HTMLElement && event.target.matches("button, a, summary");
    if (onControl && (key === "Enter" || key === " ")) return;
    let action = null;
    if (/^[1-9]$/.test(key)) action = () => this.accept(Number(key) - 1);
    else if (key === "ArrowDown" || key === "j" || key === "ArrowRight") action = () => this.move(1);
    else if (key === "ArrowUp" || key === "k" || key === "ArrowLeft") action = () => this.move(-1);
    else if (key === "Enter" && this.custom.size) action = () => this.resolve([...this.custom], null, "custom");
    if (!action) return;
    event.preventDefault();
    action();
  }

  answerColumn(annotation, n) {
    const text = this.conflict.item.text;
    const spans = annotation.spans ?? [];
    return h(
      "section",
      { class: "answer", "aria-label": `Answer ${n + 1}` },
      h("h3", {}, kbd(String(n + 1)), " ", h("span", { title: annotation.labeller }, who(annotation.labeller))),
      h("ul", { class: "chips" }, (annotation.labels ?? []).map((l) => h("li", { class: "badge" }, l))),
      this.project.kind === "span" ? spanList(text, spans) : null,
      h("button", { type: "button", class: "primary", "aria-keyshortcuts": String(n + 1), onclick: () => this.accept(n) }, `Use answer ${n + 1}`),
    );
  }

  customPicker() {
    if (this.project.kind === "span") return null;
    const toggle = (name) => {
      if (this.project.kind === "single") this.custom = new Set([name]);
      else if (this.custom.has(name)) this.custom.delete(name);
      else this.custom.add(name);
      this.render();
    };
    return h(
      "section",
      { class: "card custom", "aria-label": "Another resolution" },
      h("h3", {}, "Or resolve with other labels"),
      h(
        "div",
        { class: "label-buttons", role: "group", "aria-label": "Resolution labels" },
        this.project.labels.map((l) => h("button", { type: "button", class: "label-button", "aria-pressed": String(this.custom.has(l.name)), onclick: () => toggle(l.name) }, h("span", { class: "label-name" }, l.name))),
      ),
      h("button", { type: "button", class: "primary", disabled: !this.custom.size, onclick: () => this.resolve([...this.custom], null, "custom") }, "Resolve ", kbd("Enter")),
    );
  }

  /** Every open conflict, the current one marked; a click jumps to it. */
  conflictList() {
    if (this.conflicts.length < 2) return null;
    const short = (text) => (Array.from(text).length > 90 ? `${Array.from(text).slice(0, 90).join("")}…` : text);
    const jump = (n) => {
      this.index = n;
      this.custom = new Set();
      this.render();
    };
    return h(
      "nav",
      { class: "card conflict-list", "aria-label": "All conflicts" },
      h("h2", {}, `All conflicts (${this.conflicts.length})`),
      h("ol", {}, this.conflicts.map((c, n) => h("li", {}, h("button", { type: "button", class: "ghost link", "aria-current": n === this.index ? "true" : undefined, onclick: () => jump(n) }, short(c.item.text))))),
    );
  }

  render() {
    const head = h("div", { class: "page-head" }, h("h1", {}, `Review: ${this.project.name}`), h("p", { class: "progress-text", id: "conflict-count" }, this.conflicts.length ? `Conflict ${this.index + 1} of ${this.conflicts.length}` : "No conflicts"));
    if (!this.conflict) {
      mount(this.view, head, h("div", { class: "card done" }, h("h2", {}, "No open conflicts"), h("p", {}, "Every item with disagreeing answers has been resolved.")));
      this.view.dataset.itemId = "";
      return;
    }
    const { item, annotations } = this.conflict;
    mount(
      this.view,
      head,
      h("article", { class: "card item" }, h("h2", { class: "visually-hidden" }, "Message"), h("div", { id: "item-text", class: "item-text" }, item.text)),
      h("div", { class: "answers" }, annotations.map((a, n) => this.answerColumn(a, n))),
      this.customPicker(),
      h(
        "div",
        { class: "card" },
        h("label", { for: "resolution-note" }, "Note (optional, saved with the resolution)"),
        h("input", { id: "resolution-note", type: "text", maxlength: 5000 }),
        this.ctx.session.can("admin")
          ? h("label", { class: "check" }, h("input", { id: "make-gold", type: "checkbox" }), " Also make it a gold item (measures each labeller’s accuracy)")
          : null,
      ),
      this.conflictList(),
    );
    this.view.dataset.itemId = item.id;
  }
}

export async function reviewView(ctx, view, [projectId], current) {
  const project = await api("GET", `/projects/${encodeURIComponent(projectId)}`);
  if (!current()) return;
  ctx.crumbs(h("span", {}, project.name), h("span", { "aria-current": "page" }, "Review"));
  const reviewer = new Reviewer(ctx, view, project, current);
  ctx.shortcuts([
    [["1", "2", "…"], "resolve with that labeller's answer"],
    [["↓", "→", "J"], "next conflict"],
    [["↑", "←", "K"], "previous conflict"],
    [["Enter"], "resolve with the labels chosen below"],
  ]);
  ctx.onKey = (event) => reviewer.onKey(event);
  await reviewer.load();
}
