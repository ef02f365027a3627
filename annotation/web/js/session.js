// Who is signed in and what their role lets the UI offer. The API stays the authority: a hidden button is a
// convenience, every call is still checked by the gateway.

import { api, ApiError } from "./api.js";

/** What each role may do in the workbench (annotation/README.md, "Roles"). */
const CAPABILITIES = {
  labeller: ["label"],
  reviewer: ["label", "review", "agreement"],
  project_admin: ["review", "agreement", "admin", "snapshots"],
  ml_engineer: ["agreement", "snapshots"],
  admin: ["label", "review", "agreement", "admin", "snapshots"],
};

export class Session {
  constructor(role, tenant = null) {
    this.role = role;
    this.tenant = tenant;
    this.caps = new Set(CAPABILITIES[role] ?? []);
  }

  can(capability) {
    return this.caps.has(capability);
  }

  /** The name of the project page this role gets (null: none). */
  get manageTitle() {
    if (this.can("admin")) return "Manage";
    if (this.can("snapshots")) return "Agreement & snapshots";
    return this.can("agreement") ? "Agreement" : null;
  }
}

const PROBE_ID = "00000000-0000-0000-0000-000000000000";

/** 403 means "your role may not"; anything else (404 for the made-up project) means it may. */
async function allowed(path) {
  try {
    await api("GET", path);
    return true;
  } catch (err) {
    if (err instanceof ApiError && err.status === 403) return false;
    if (err instanceof ApiError && err.status === 404) return true;
    throw err;
  }
}

/**
 * The caller's role: from `GET /v1/workbench/me` when the gateway has it; otherwise inferred from three
 * read-only calls on a project id that cannot exist (the role check answers before the lookup does).
 */
export async function whoAmI() {
  try {
    const me = await api("GET", "/me");
    if (me?.role) return new Session(me.role, me.tenant_id ?? me.tenant ?? null);
  } catch (err) {
    if (!(err instanceof ApiError) || ![404, 405].includes(err.status)) throw err;
  }
  await api("GET", "/projects"); // authenticates the key (401) before any inference
  const [label, review, snapshots] = await Promise.all([
    allowed(`/projects/${PROBE_ID}/next`),
    allowed(`/projects/${PROBE_ID}/conflicts`),
    allowed(`/projects/${PROBE_ID}/snapshots`),
  ]);
  if (review && snapshots) return new Session(label ? "admin" : "project_admin");
  if (review) return new Session("reviewer");
  if (snapshots) return new Session("ml_engineer");
  return new Session(label ? "labeller" : "none");
}
