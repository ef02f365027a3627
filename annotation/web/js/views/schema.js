// The label-schema editor: a new project (drafted from a plain-language description, then edited) or the
// schema of an existing one (labels may be added or re-described; the API refuses removing a used label).

import { api, ApiError } from "../api.js";
import { h, mount } from "../dom.js";

const KINDS = [
  ["single", "Single label"],
  ["multi", "Multi-label"],
  ["span", "Spans in the text"],
];

function labelRow(label = {}) {
  const row = h(
    "li",
    { class: "label-row" },
    h("label", {}, h("span", {}, "Name"), h("input", { name: "label-name", required: true, maxlength: 100, value: label.name ?? "" })),
    h("label", {}, h("span", {}, "Description"), h("input", { name: "label-description", maxlength: 2000, value: label.description ?? "" })),
    h("label", { class: "hotkey" }, h("span", {}, "Key"), h("input", { name: "label-hotkey", maxlength: 1, size: 2, value: label.hotkey ?? "" })),
  );
  row.append(h("button", { type: "button", class: "ghost small", "aria-label": "Remove this label", onclick: () => row.remove() }, "Remove"));
  return row;
}

function readSchema(form) {
  const value = (name) => form.elements.namedItem(name).value.trim();
  const labels = [...form.querySelectorAll(".label-row")].map((row) => ({
    name: row.querySelector("[name=label-name]").value.trim(),
    description: row.querySelector("[name=label-description]").value.trim(),
    hotkey: row.querySelector("[name=label-hotkey]").value.trim(),
  }));
  return {
    name: value("name"),
    description: value("description"),
    kind: value("kind"),
    overlap: Number(value("overlap")),
    task: value("task"),
    instructions: value("instructions"),
    labels,
  };
}

/** Problems the admin can fix before a round trip; the API checks everything again. */
function schemaProblems(schema) {
  const problems = [];
  if (!schema.name) problems.push("give the project a name");
  if (!schema.labels.length) problems.push("add at least one label");
  if (schema.labels.some((l) => !l.name)) problems.push("every label needs a name");
  const names = schema.labels.map((l) => l.name);
  if (new Set(names).size !== names.length) problems.push("label names must be different");
  const keys = schema.labels.map((l) => l.hotkey).filter(Boolean);
  if (new Set(keys).size !== keys.length) problems.push("label keys must be different");
  if (!(schema.overlap >= 1 && schema.overlap <= 5)) problems.push("labellers per item must be 1 to 5");
  return problems;
}

/**
 * The editor form. `project` given: edit it (kind fixed); otherwise a new project with a "draft from a
 * description" button. `onSubmit(schema)` gets the checked values.
 */
export function schemaForm(ctx, { project = null, onSubmit }) {
  const editing = Boolean(project);
  const labels = h("ol", { class: "label-rows", "aria-label": "Labels" });
  const description = h("textarea", { id: "description", name: "description", rows: 3, maxlength: 2000, "aria-describedby": editing ? undefined : "description-help", value: project?.description ?? "" });
  const form = h(
    "form",
    { class: editing ? "schema-form" : "card schema-form", "aria-label": "Project and label schema" },
    h("label", { for: "description" }, editing ? "Description" : "Describe what to predict"),
    description,
    editing
      ? null
      : [
          h("p", { id: "description-help", class: "muted" }, "For example: “when a customer says they are comparing prices, predict whether they close within 30 days”. Draft a schema from it, then edit."),
          h("div", { class: "actions" }, h("button", { type: "button", id: "draft", onclick: () => draft() }, "Draft schema from description")),
        ],
    h(
      "div",
      { class: "fields" },
      h("label", {}, h("span", {}, "Name"), h("input", { name: "name", id: "project-name", required: true, maxlength: 200, value: project?.name ?? "" })),
      h("label", {}, h("span", {}, "Kind"), h("select", { name: "kind", id: "project-kind", disabled: editing }, KINDS.map(([v, t]) => h("option", { value: v, selected: project?.kind === v }, t)))),
      h("label", {}, h("span", {}, "Labellers per item"), h("input", { name: "overlap", id: "project-overlap", type: "number", min: 1, max: 5, value: String(project?.overlap ?? 2), required: true })),
      h("label", {}, h("span", {}, "Model task for pre-annotation (optional)"), h("input", { name: "task", id: "project-task", maxlength: 63, placeholder: "e.g. intent", value: project?.task ?? "" })),
    ),
    h("label", { for: "instructions" }, "Instructions for labellers (optional)"),
    h("textarea", { id: "instructions", name: "instructions", rows: 3, maxlength: 20000, value: project?.instructions ?? "" }),
    h("h3", {}, "Labels"),
    labels,
    h(
      "div",
      { class: "actions" },
      h("button", { type: "button", id: "add-label", onclick: () => labels.append(labelRow()) }, "Add label"),
      h("button", { type: "submit", class: "primary", id: editing ? "save-project" : "create-project" }, editing ? "Save changes" : "Create project"),
    ),
  );
  mount(labels, (project?.labels ?? [{}, {}]).map(labelRow));

  async function draft() {
    const text = description.value.trim();
    if (!text) {
      ctx.status("Write a description first.");
      description.focus();
      return;
    }
    ctx.error(null);
    try {
      const schema = await api("POST", "/projects/draft", { json: { description: text } });
      form.elements.namedItem("name").value = schema.name ?? "";
      if (schema.kind) form.elements.namedItem("kind").value = schema.kind;
      form.elements.namedItem("instructions").value = schema.instructions ?? "";
      form.elements.namedItem("task").value = schema.task ?? "";
      mount(labels, (schema.labels ?? []).map(labelRow));
      ctx.status(`Drafted “${schema.name}” with ${schema.labels?.length ?? 0} labels: review and edit them, then create the project.`);
      form.elements.namedItem("name").focus();
    } catch (err) {
      ctx.error(err);
    }
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const schema = readSchema(form);
    const problems = schemaProblems(schema);
    if (problems.length) {
      ctx.error(new ApiError(0, "invalid", `Fix the schema: ${problems.join("; ")}.`));
      return;
    }
    ctx.error(null);
    try {
      await onSubmit(schema);
    } catch (err) {
      ctx.error(err);
    }
  });
  return form;
}

export async function newProjectView(ctx, view) {
  ctx.crumbs(h("span", { "aria-current": "page" }, "New project"));
  if (!ctx.session.can("admin")) {
    mount(view, h("h1", {}, "New project"), h("p", { class: "card" }, "Only a project admin can create projects."));
    return;
  }
  const form = schemaForm(ctx, {
    onSubmit: async (schema) => {
      const body = { ...schema, task: schema.task || undefined };
      const project = await api("POST", "/projects", { json: body });
      ctx.go(`#/p/${encodeURIComponent(project.id)}/manage`);
    },
  });
  mount(view, h("h1", {}, "New project"), form);
  form.querySelector("#description").focus();
}
