// Managing a project: edit its schema, load items, read agreement, cut and export snapshots. Each section shows
// only when the caller's role allows it. Creating a project is in schema.js.

import { api, ApiError } from "../api.js";
import { h, mount, num, pct, table, who } from "../dom.js";
import { schemaForm } from "./schema.js";

// --- manage an existing project --------------------------------------------------------------------------

/** A .json file is a Label Studio export (imported with its answers); anything else goes to the upload route. */
async function sendFile(project, file) {
  const base = `/projects/${encodeURIComponent(project.id)}`;
  if (!file.name.toLowerCase().endsWith(".json")) {
    const data = new FormData();
    data.append("file", file);
    return api("POST", `${base}/items/upload`, { form: data });
  }
  let tasks;
  try {
    tasks = JSON.parse(await file.text());
  } catch {
    throw new ApiError(0, "invalid", `${file.name} is not valid JSON: export the project from Label Studio as JSON`);
  }
  return api("POST", `${base}/import/label-studio`, { json: tasks });
}

function itemsSection(ctx, project, refresh) {
  const path = `/projects/${encodeURIComponent(project.id)}/items`;
  const file = h("input", { id: "upload-file", type: "file", accept: ".jsonl,.csv,.json", required: true, "aria-describedby": "upload-help" });
  const upload = h(
    "form",
    { class: "upload" },
    h("label", { for: "upload-file" }, "Upload a JSONL, CSV or Label Studio JSON file"),
    file,
    h("p", { id: "upload-help", class: "muted" }, "JSONL: one {\"text\": …} object per line. CSV: a text column. Label Studio: its tasks JSON, with annotations. Texts are redacted on upload; duplicates are skipped."),
    h("button", { type: "submit", class: "primary", id: "upload-button" }, "Upload"),
  );
  const texts = h("textarea", { id: "paste-texts", rows: 4, "aria-describedby": "paste-help" });
  const paste = h(
    "form",
    { class: "paste" },
    h("label", { for: "paste-texts" }, "Or paste texts, one per line"),
    texts,
    h("p", { id: "paste-help", class: "muted" }, "Redacted before they are stored."),
    h("button", { type: "submit", id: "paste-button" }, "Add texts"),
  );
  const report = (result) => {
    const model = result.preannotation === "ok" ? `; ${result.preannotated} pre-annotated by the model` : result.preannotation && result.preannotation !== "none" ? "; no model pre-annotation (the model is unavailable)" : "";
    const answers = result.annotations !== undefined ? `, with ${result.annotations} answer${result.annotations === 1 ? "" : "s"}` : "";
    ctx.status(`Added ${result.added} item${result.added === 1 ? "" : "s"}${answers}, skipped ${result.skipped_duplicates ?? 0} duplicate${result.skipped_duplicates === 1 ? "" : "s"}${model}.`);
  };
  upload.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!file.files?.length) return ctx.status("Choose a file first.");
    ctx.error(null);
    try {
      report(await sendFile(project, file.files[0]));
      upload.reset();
      await refresh();
    } catch (err) {
      ctx.error(err);
    }
  });
  paste.addEventListener("submit", async (event) => {
    event.preventDefault();
    const lines = texts.value.split("\n").map((t) => t.trim()).filter(Boolean);
    if (!lines.length) return ctx.status("Paste at least one text.");
    ctx.error(null);
    try {
      report(await api("POST", path, { json: { texts: lines.map((text) => ({ text })) } }));
      texts.value = "";
      await refresh();
    } catch (err) {
      ctx.error(err);
    }
  });
  return h("section", { class: "card", "aria-labelledby": "items-title" }, h("h2", { id: "items-title" }, "Load items"), h("div", { class: "two-col" }, upload, paste));
}

function agreementTables(result) {
  const perLabel = Object.entries(result.per_label ?? {});
  return [
    h(
      "dl",
      { class: "facts big" },
      h("dt", {}, "Items compared"),
      h("dd", { id: "items-compared" }, String(result.items_compared ?? 0)),
      h("dt", {}, "Fleiss’ κ"),
      h("dd", { id: "fleiss-kappa" }, num(result.fleiss_kappa)),
      h("dt", {}, "Krippendorff’s α"),
      h("dd", { id: "krippendorff-alpha" }, num(result.krippendorff_alpha)),
    ),
    result.cohen?.length
      ? table("Cohen’s κ per pair of labellers", ["Labeller A", "Labeller B", "κ", "Items"], result.cohen.map((p) => [who(p.a), who(p.b), num(p.kappa), String(p.n)]))
      : h("p", { class: "muted" }, "No pair of labellers has answered the same items yet."),
    perLabel.length ? table("Per label", ["Label", "Fleiss’ κ", "Krippendorff’s α"], perLabel.map(([label, v]) => [label, num(v.fleiss_kappa), num(v.krippendorff_alpha)])) : null,
    result.labellers?.length
      ? table("Labellers", ["Labeller", "Labelled", "Gold items", "Gold accuracy"], result.labellers.map((l) => [who(l.labeller), String(l.labelled), String(l.gold_items ?? 0), l.gold_items ? pct(l.gold_accuracy) : "—"]))
      : null,
  ];
}

function agreementSection(ctx, project) {
  const body = h("div", { id: "agreement-body", "aria-live": "polite" }, h("p", { class: "muted" }, "Loading…"));
  const load = async () => {
    try {
      const result = await api("GET", `/projects/${encodeURIComponent(project.id)}/agreement`);
      mount(body, agreementTables(result));
    } catch (err) {
      mount(body, h("p", { class: "muted" }, "Agreement could not be computed."));
      ctx.error(err);
    }
  };
  load();
  return h(
    "section",
    { class: "card", "aria-labelledby": "agreement-title" },
    h("div", { class: "section-head" }, h("h2", { id: "agreement-title" }, "Agreement"), h("button", { type: "button", id: "agreement-refresh", onclick: load }, "Refresh")),
    body,
  );
}

async function download(ctx, snapshot, format) {
  ctx.error(null);
  try {
    const response = await api("GET", `/snapshots/${encodeURIComponent(snapshot.id)}/export`, { query: { format }, raw: true });
    const named = /filename="?([^";]+)"?/.exec(response.headers.get("content-disposition") ?? "")?.[1];
    const name = named ?? `${snapshot.project_id}-v${snapshot.version}.${format === "jsonl" ? "jsonl" : "json"}`;
    const url = URL.createObjectURL(await response.blob());
    const link = h("a", { href: url, download: name, hidden: true });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
    ctx.status(`Downloaded ${name}.`);
  } catch (err) {
    ctx.error(err);
  }
}

async function train(ctx, snapshot) {
  ctx.error(null);
  try {
    const job = await api("POST", `/snapshots/${encodeURIComponent(snapshot.id)}/train`, { json: { deploy: "canary", canary_percent: 10 } });
    ctx.status(`Training job ${job.id} queued for task ${job.task} (canary 10% if it passes the gate). Follow it: salesai jobs watch ${job.id}`);
  } catch (err) {
    ctx.error(err);
  }
}

function snapshotsTable(ctx, snapshots, project) {
  if (!snapshots.length) return h("p", { class: "muted" }, "No snapshots yet.");
  const counts = (s) => ["train", "dev", "test"].map((k) => `${k} ${s.counts?.[k] ?? 0}`).join(" · ") + (s.counts?.excluded ? ` · excluded ${s.counts.excluded}` : "");
  return table(
    "Snapshots (immutable)",
    ["Version", "Created", "Rows", "Labels", "SHA-256", "Export"],
    snapshots.map((s) => [
      `v${s.version}`,
      new Date(s.created_at).toLocaleString(),
      counts(s),
      Object.entries(s.label_counts ?? {}).map(([label, n]) => `${label} ${n}`).join(" · "),
      h("code", { title: s.sha256 }, `${(s.sha256 ?? "").slice(0, 12)}…`),
      h(
        "span",
        { class: "actions" },
        h("button", { type: "button", class: "small", dataset: { export: "jsonl", version: String(s.version) }, onclick: () => download(ctx, s, "jsonl") }, "JSONL"),
        h("button", { type: "button", class: "small", dataset: { export: "label-studio", version: String(s.version) }, onclick: () => download(ctx, s, "label-studio") }, "Label Studio"),
        project.kind === "single"
          ? h("button", { type: "button", class: "small", dataset: { train: String(s.version) }, title: "Queue a training job on this snapshot; canary 10% if it passes", onclick: () => train(ctx, s) }, "Train")
          : null,
      ),
    ]),
  );
}

function snapshotsSection(ctx, project) {
  const path = `/projects/${encodeURIComponent(project.id)}/snapshots`;
  const list = h("div", { id: "snapshots-list" }, h("p", { class: "muted" }, "Loading…"));
  const load = async () => {
    const { snapshots } = await api("GET", path);
    mount(list, snapshotsTable(ctx, [...snapshots].sort((a, b) => b.version - a.version), project));
  };
  const field = (name, label, attrs) => h("label", {}, h("span", {}, label), h("input", { name, id: `snapshot-${name}`, type: "number", ...attrs }));
  const form = ctx.session.can("admin")
    ? h(
        "form",
        { class: "fields snapshot-form" },
        field("seed", "Seed", { value: "13", step: 1 }),
        field("dev", "Dev share", { value: "0.1", min: 0, max: 0.5, step: 0.05 }),
        field("test", "Test share", { value: "0.2", min: 0, max: 0.5, step: 0.05 }),
        field("min_annotations", "Min. answers per item", { value: "1", min: 1, max: 5, step: 1 }),
        h("button", { type: "submit", class: "primary", id: "cut-snapshot" }, "Cut snapshot"),
      )
    : null;
  form?.addEventListener("submit", async (event) => {
    event.preventDefault();
    const read = (name) => Number(form.elements.namedItem(name).value);
    ctx.error(null);
    try {
      const snapshot = await api("POST", path, { json: { seed: read("seed"), dev: read("dev"), test: read("test"), min_annotations: read("min_annotations") } });
      ctx.status(`Snapshot v${snapshot.version} cut: ${snapshot.counts?.train ?? 0} train, ${snapshot.counts?.dev ?? 0} dev, ${snapshot.counts?.test ?? 0} test.`);
      await load();
    } catch (err) {
      ctx.error(err);
    }
  });
  load().catch((err) => ctx.error(err));
  return h("section", { class: "card", "aria-labelledby": "snapshots-title" }, h("h2", { id: "snapshots-title" }, "Dataset snapshots"), form, list);
}

function summary(project) {
  const stats = project.stats ?? {};
  return h(
    "section",
    { class: "card", "aria-label": "Summary", id: "project-summary" },
    project.description ? h("p", {}, project.description) : null,
    h(
      "dl",
      { class: "facts" },
      h("dt", {}, "Kind"), h("dd", {}, project.kind),
      h("dt", {}, "Labels"), h("dd", {}, project.labels.map((l) => l.name).join(", ")),
      h("dt", {}, "Labellers per item"), h("dd", {}, String(project.overlap)),
      h("dt", {}, "Items"), h("dd", { id: "stat-items" }, String(stats.items ?? 0)),
      h("dt", {}, "Done"), h("dd", { id: "stat-done" }, String(stats.done ?? 0)),
      h("dt", {}, "Conflicts"), h("dd", { id: "stat-conflicts" }, String(stats.conflicts ?? 0)),
      h("dt", {}, "Pre-annotation task"), h("dd", {}, project.task || "none"),
    ),
  );
}

function editSection(ctx, project, refresh) {
  const form = schemaForm(ctx, {
    project,
    onSubmit: async (schema) => {
      const { kind: _fixed, ...changes } = schema; // the kind of a project cannot change
      await api("PATCH", `/projects/${encodeURIComponent(project.id)}`, { json: changes });
      await refresh();
      ctx.status("Project saved.");
    },
  });
  return h("details", { class: "card edit" }, h("summary", {}, h("h2", {}, "Edit project and labels")), form);
}

export async function adminView(ctx, view, [projectId], current) {
  const path = `/projects/${encodeURIComponent(projectId)}`;
  let project = await api("GET", path);
  if (!current()) return;
  ctx.crumbs(h("span", {}, project.name), h("span", { "aria-current": "page" }, ctx.session.manageTitle ?? "Project"));
  const summarySlot = h("div", {}, summary(project));
  const refresh = async () => {
    project = await api("GET", path);
    mount(summarySlot, summary(project));
  };
  const links = h(
    "div",
    { class: "actions" },
    ctx.session.can("review") ? h("a", { class: "button", href: `#/p/${encodeURIComponent(project.id)}/review` }, "Review conflicts") : null,
    ctx.session.can("label") ? h("a", { class: "button", href: `#/p/${encodeURIComponent(project.id)}/label` }, "Label") : null,
  );
  mount(
    view,
    h("div", { class: "page-head" }, h("h1", {}, project.name), links),
    summarySlot,
    ctx.session.can("admin") ? editSection(ctx, project, refresh) : null,
    ctx.session.can("admin") ? itemsSection(ctx, project, refresh) : null,
    ctx.session.can("agreement") ? agreementSection(ctx, project) : null,
    ctx.session.can("snapshots") ? snapshotsSection(ctx, project) : null,
  );
}
