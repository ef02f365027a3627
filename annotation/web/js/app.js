// The workbench shell: sign-in, hash routing, status and error banners, the help overlay and the one global
// keyboard listener that hands keys to the current view.

import { ApiError, clearKey, getKey, setKey } from "./api.js";
import { h, kbd, mount, typing } from "./dom.js";
import { whoAmI } from "./session.js";
import { adminView } from "./views/admin.js";
import { labelView } from "./views/label.js";
import { projectsView } from "./views/projects.js";
import { reviewView } from "./views/review.js";
import { newProjectView } from "./views/schema.js";

const $ = (id) => document.getElementById(id);

const ROUTES = [
  [/^#?\/?$/, () => projectsView],
  [/^#\/projects$/, () => projectsView],
  [/^#\/new$/, () => newProjectView],
  [/^#\/p\/([^/]+)\/label(?:\/([^/]+))?$/, () => labelView],
  [/^#\/p\/([^/]+)\/review$/, () => reviewView],
  [/^#\/p\/([^/]+)\/manage$/, () => adminView],
];

/** What views get: the session, banners, breadcrumbs, help text and navigation. */
class Context {
  constructor(session) {
    this.session = session;
    this.onKey = null; // the current view's key handler
    this.help = [];
  }

  status(message) {
    $("status").textContent = message;
  }

  /** Show an error (an ApiError's message, request id and field; never the request's content). */
  error(err) {
    const box = $("error");
    if (!err) {
      box.hidden = true;
      box.replaceChildren();
      return;
    }
    const text = err instanceof ApiError ? err.describe() : "something went wrong in the page; reload and try again";
    const problems = err instanceof ApiError ? err.problems : [];
    mount(box, h("strong", {}, "Error: "), text, problems.length > 1 ? h("ul", {}, problems.map((p) => h("li", {}, `${p.field || "body"}: ${p.message}`))) : null);
    box.hidden = false;
  }

  crumbs(...items) {
    const parts = [h("a", { href: "#/" }, "Projects"), ...items];
    mount($("crumbs"), parts.flatMap((p, i) => (i ? [h("span", { "aria-hidden": "true" }, " / "), p] : [p])));
  }

  /** Declare the view's shortcuts for the help overlay: [[keys, what], ...]. */
  shortcuts(rows) {
    this.help = rows;
  }

  go(hash) {
    if (location.hash === hash) route();
    else location.hash = hash;
  }
}

let context = null;
let renderToken = 0;

async function route() {
  if (!context) return;
  const token = ++renderToken;
  context.onKey = null;
  context.help = [];
  context.error(null);
  context.status("");
  const hash = location.hash || "#/";
  const match = ROUTES.map(([re, view]) => [hash.match(re), view]).find(([m]) => m);
  const view = $("view");
  if (!match) {
    mount(view, h("h1", {}, "Not found"), h("p", {}, "There is no such page. ", h("a", { href: "#/" }, "Back to the projects")));
    return;
  }
  const [m, load] = match;
  mount(view, h("p", { class: "muted" }, "Loading…"));
  view.setAttribute("aria-busy", "true");
  try {
    await load()(context, view, m.slice(1).map((p) => (p ? decodeURIComponent(p) : p)), () => token === renderToken);
  } catch (err) {
    if (token !== renderToken) return;
    mount(view, h("h1", {}, "Could not load this page"), h("p", {}, h("a", { href: "#/" }, "Back to the projects")));
    context.error(err);
  }
  if (token !== renderToken) return;
  if (!view.contains(document.activeElement)) view.focus({ preventScroll: true });
  view.setAttribute("aria-busy", "false");
}

function showHelp() {
  const general = [
    [["?"], "show this help"],
    [["Esc"], "close a dialog or cancel"],
  ];
  const rows = [...context.help, ...general];
  mount(
    $("help-body"),
    h("table", { class: "keys" }, h("tbody", {}, rows.map(([keys, what]) => h("tr", {}, h("td", {}, keys.map((k, i) => [i ? " " : "", kbd(k)])), h("td", {}, what))))),
  );
  $("help").showModal();
}

function onKeyDown(event) {
  if (!context || event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) return;
  if ($("help").open) return; // the dialog handles Esc itself
  if (event.key === "?" && !typing(event)) {
    event.preventDefault();
    showHelp();
    return;
  }
  context.onKey?.(event);
}

function signInView(message) {
  mount($("crumbs"));
  $("who").hidden = true;
  const input = h("input", { id: "api-key", type: "password", autocomplete: "off", spellcheck: "false", required: true, "aria-describedby": "api-key-help" });
  const form = h(
    "form",
    { class: "card narrow signin", "aria-labelledby": "signin-title" },
    h("h1", { id: "signin-title" }, "Sign in"),
    h("label", { for: "api-key" }, "API key"),
    input,
    h("p", { id: "api-key-help", class: "muted" }, "Paste the key you were given (sai_…). It stays in this browser tab only and is sent to this gateway only."),
    h("button", { type: "submit", class: "primary" }, "Sign in"),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const key = input.value.trim();
    if (!key) return;
    setKey(key);
    await start();
  });
  mount($("view"), form);
  if (message) {
    $("error").hidden = false;
    mount($("error"), message);
  } else {
    $("error").hidden = true;
  }
  input.focus();
}

async function start() {
  if (!getKey()) {
    context = null;
    signInView();
    return;
  }
  $("status").textContent = "Signing in…";
  let session;
  try {
    session = await whoAmI();
  } catch (err) {
    clearKey();
    context = null;
    $("status").textContent = "";
    signInView(err instanceof ApiError && err.status === 401 ? "That API key was not accepted: check it and paste it again." : `Could not sign in: ${err instanceof ApiError ? err.describe() : "unexpected error"}`);
    return;
  }
  context = new Context(session);
  $("who-role").textContent = session.role.replace("_", " ");
  $("who").hidden = false;
  await route();
  $("status").textContent = `Signed in as ${session.role.replace("_", " ")}.`;
}

window.addEventListener("hashchange", route);
window.addEventListener("keydown", onKeyDown);
window.addEventListener("workbench:unauthenticated", () => {
  if (!context) return; // signing in: start() reports the rejected key itself
  clearKey();
  context = null;
  signInView("Your API key is no longer accepted (revoked or expired). Paste a valid key.");
});
$("sign-out").addEventListener("click", () => {
  clearKey();
  context = null;
  location.hash = "#/";
  signInView();
});
$("help-button").addEventListener("click", () => context && showHelp());
start();
