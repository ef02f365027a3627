// The workbench REST client: the API key lives in sessionStorage (gone when the tab closes) and travels as
// `Authorization: Bearer`; errors arrive as the gateway's envelope and become ApiError with its message.

const STORAGE_KEY = "salesai.workbench.apiKey";
export const BASE = "/v1/workbench";

export class ApiError extends Error {
  constructor(status, reason, message, { field = null, problems = [], requestId = null } = {}) {
    super(message);
    this.status = status;
    this.reason = reason;
    this.field = field;
    this.problems = problems;
    this.requestId = requestId;
  }

  /** What to show a person: the message, the field to fix, and the request id for support. */
  describe() {
    const field = this.field && !this.message.includes(this.field) ? ` (field: ${this.field})` : "";
    const id = this.requestId ? ` — request id ${this.requestId}` : "";
    return `${this.message}${field}${id}`;
  }
}

export const getKey = () => sessionStorage.getItem(STORAGE_KEY);
export const setKey = (key) => sessionStorage.setItem(STORAGE_KEY, key);
export const clearKey = () => sessionStorage.removeItem(STORAGE_KEY);

async function toError(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    // not JSON (a proxy error page, say): fall through to a generic message
  }
  const err = body?.error;
  if (err?.message) {
    return new ApiError(response.status, err.reason ?? "error", err.message, {
      field: err.field,
      problems: err.problems ?? [],
      requestId: body.request_id ?? response.headers.get("x-request-id"),
    });
  }
  const text = response.status >= 500 ? "the server failed; try again shortly" : `request failed (${response.status})`;
  return new ApiError(response.status, "http_error", text, { requestId: response.headers.get("x-request-id") });
}

/**
 * Call the workbench API. `json` sends a JSON body, `form` a FormData (multipart); `query` adds parameters.
 * Returns parsed JSON, null for 204, or the Response itself with `raw: true` (file downloads).
 */
export async function api(method, path, { json, form, query, raw = false, base = BASE } = {}) {
  const key = getKey();
  const headers = { Accept: "application/json" };
  if (key) headers.Authorization = `Bearer ${key}`;
  let body;
  if (json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(json);
  } else if (form !== undefined) {
    body = form;
  }
  const params = query ? `?${new URLSearchParams(Object.entries(query).filter(([, v]) => v !== undefined && v !== null))}` : "";
  let response;
  try {
    response = await fetch(`${base}${path}${params}`, { method, headers, body, credentials: "omit", cache: "no-store" });
  } catch {
    throw new ApiError(0, "network", "cannot reach the gateway; check your connection and try again");
  }
  if (response.status === 401) window.dispatchEvent(new CustomEvent("workbench:unauthenticated"));
  if (!response.ok) throw await toError(response);
  if (raw) return response;
  if (response.status === 204) return null;
  return response.json();
}
