// The project list: progress per project and the actions the caller's role allows.

import { api } from "../api.js";
import { h, mount } from "../dom.js";

function progress(stats) {
  const items = stats?.items ?? 0;
  const done = stats?.done ?? 0;
  const share = items ? Math.round((100 * done) / items) : 0;
  return h(
    "div",
    { class: "progress-block" },
    h("progress", { max: items || 1, value: done, "aria-label": `${done} of ${items} items done` }),
    h("span", { class: "muted" }, `${done} of ${items} done (${share}%)`),
  );
}

function card(ctx, project) {
  const id = encodeURIComponent(project.id);
  const stats = project.stats ?? {};
  const actions = [
    ctx.session.can("label") && h("a", { class: "button primary", href: `#/p/${id}/label` }, "Label"),
    ctx.session.can("review") && h("a", { class: "button", href: `#/p/${id}/review` }, `Review${stats.conflicts ? ` (${stats.conflicts})` : ""}`),
    ctx.session.manageTitle && h("a", { class: "button", href: `#/p/${id}/manage` }, ctx.session.manageTitle),
  ];
  return h(
    "li",
    { class: "card project", dataset: { projectId: project.id } },
    h("div", { class: "project-head" }, h("h2", {}, project.name), h("span", { class: "badge" }, project.kind)),
    project.description ? h("p", { class: "muted clamp" }, project.description) : null,
    progress(stats),
    h(
      "dl",
      { class: "facts" },
      h("dt", {}, "Labelled by me"),
      h("dd", {}, String(stats.labelled_by_me ?? 0)),
      h("dt", {}, "Conflicts"),
      h("dd", {}, String(stats.conflicts ?? 0)),
      h("dt", {}, "Labellers per item"),
      h("dd", {}, String(project.overlap ?? 1)),
    ),
    h("div", { class: "actions" }, actions),
  );
}

export async function projectsView(ctx, view, _params, current) {
  ctx.crumbs();
  const { projects } = await api("GET", "/projects");
  if (!current()) return;
  const header = h(
    "div",
    { class: "page-head" },
    h("h1", {}, "Projects"),
    ctx.session.can("admin") ? h("a", { class: "button primary", href: "#/new" }, "New project") : null,
  );
  const empty = h(
    "p",
    { class: "card muted" },
    ctx.session.can("admin") ? "No projects yet: create one to start labelling." : "No projects to work on yet. A project admin creates them.",
  );
  mount(view, header, projects.length ? h("ul", { class: "grid", "aria-label": "Projects" }, projects.map((p) => card(ctx, p))) : empty);
  ctx.status(`${projects.length} project${projects.length === 1 ? "" : "s"}.`);
}
