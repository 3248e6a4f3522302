// The Console: a single-page app on the service's own API, same origin, no dependencies.
// Every element is built with h() (text nodes, never HTML strings): a value from the log cannot become markup.
// The API key lives in sessionStorage only, and "Sign out" forgets it.

const KEY = "ld-api-key";
// The API's base: the Console is served by the API itself, under its stage's prefix on AWS ("/dev/console/...").
const BASE = location.pathname.slice(0, location.pathname.lastIndexOf("/console/"));
const url = (path) => (path.startsWith("/") ? BASE + path : path);
const main = document.getElementById("main");
const who = document.getElementById("who");
const cursors = new Map(); // listing and filters -> the cursors of the pages before, for "Previous"
let me = null;
let settings = { timezone: "UTC" };
let types = null;

function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else element.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined) element.append(child instanceof Node ? child : String(child));
  }
  return element;
}

class ApiError extends Error {
  constructor(status, body) {
    super(body?.error?.message || `HTTP ${status}`);
    this.status = status;
    this.code = body?.error?.code;
    this.details = body?.error?.details || []; // a 400's problems: [{location, problem}]
  }
}

async function api(path) {
  const response = await fetch(url(path), { headers: { [KEY]: sessionStorage.getItem(KEY) || "" } });
  const body = response.headers.get("Content-Type")?.includes("json") ? await response.json() : await response.blob();
  if (response.status === 401) {
    sessionStorage.removeItem(KEY);
    me = null;
  }
  if (!response.ok && response.status !== 202) throw new ApiError(response.status, body);
  return { status: response.status, body };
}

function show(...nodes) {
  main.replaceChildren(...nodes);
  main.focus();
}

function state(text, kind = "") {
  return h("p", { class: `state ${kind}`, role: kind === "error" ? "alert" : "status" }, text);
}

function failure(error, what) {
  if (error instanceof ApiError && error.status === 403) {
    return state(`You cannot see ${what}: your role in this tenant does not include the permission it needs. ` +
      "Ask an owner or admin of the tenant.", "error");
  }
  return state(`Could not load ${what}: ${error.message}`, "error");
}

function when(iso) {
  try {
    return new Intl.DateTimeFormat(undefined, {
      dateStyle: "medium", timeStyle: "medium", timeZone: settings.timezone || "UTC",
    }).format(new Date(iso));
  } catch {
    return iso;
  }
}

// ------------------------------------------------------------------ routing: #/path?query
function route() {
  const [path, query] = location.hash.slice(1).split("?");
  return { parts: (path || "/").split("/").filter(Boolean), query: new URLSearchParams(query || "") };
}

function go(path, query) {
  const text = query && [...query].length ? `?${query}` : "";
  location.hash = `#${path}${text}`;
}

// ------------------------------------------------------------------ sign in and out
function signIn() {
  who.replaceChildren();
  const input = h("input", { id: "key", type: "password", autocomplete: "off", required: true, size: 50 });
  const form = h("form", { class: "card", onsubmit: async (event) => {
    event.preventDefault();
    sessionStorage.setItem(KEY, input.value.trim());
    await rerender();
  } },
  h("h1", {}, "Sign in"),
  h("div", { class: "field" }, h("label", { for: "key" }, "API key"), input),
  h("p", { class: "muted" }, "Kept in this tab only (sessionStorage), sent only to this service."),
  h("button", { type: "submit" }, "Sign in"));
  show(form);
}

function signOut() {
  sessionStorage.removeItem(KEY);
  me = null;
  types = null;
  cursors.clear();
  go("/");
  signIn();
}

async function header() {
  if (!me) {
    me = (await api("/users/me")).body;
    settings = (await api("/users/me/settings")).body;
  }
  who.replaceChildren(
    h("a", { href: "#/account" }, me.name),
    h("button", { class: "plain", type: "button", onclick: signOut }, "Sign out"));
}

// ------------------------------------------------------------------ pages
async function home() {
  const { body } = await api("/users/me/tenants");
  if (!body.data.length) return show(h("h1", {}, "Your tenants"), state("You are not a member of any tenant yet."));
  show(h("h1", {}, "Your tenants"), h("table", {},
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Tenant"), h("th", { scope: "col" }, "Your role"),
      h("th", { scope: "col" }, "Plan"))),
    h("tbody", {}, body.data.map((tenant) => h("tr", {},
      h("td", {}, h("a", { href: `#/tenants/${tenant.id}/audit` }, tenant.name)),
      h("td", {}, tenant.role), h("td", {}, tenant.plan))))));
}

const TABS = [["audit", "Audit"], ["access", "Who looked"], ["security", "Security events"],
  ["integrity", "Integrity"], ["members", "Members"], ["streams", "Streams"]];
const MANAGERS = new Set(["owner", "admin"]);
const STREAMERS = new Set(["owner"]); // the roles holding audit:stream (domain/permissions.py)

async function tenantPage(tenantId, tab, deploymentId, query) {
  const tenants = (await api("/users/me/tenants")).body.data;
  const tenant = tenants.find((t) => String(t.id) === tenantId);
  if (!tenant) return show(state("This tenant is not one of yours.", "error"));
  const base = deploymentId ? `/tenants/${tenantId}/deployments/${deploymentId}` : `/tenants/${tenantId}`;
  const tree = (await api(`/tenants/${tenantId}/resources`)).body;
  const deployment = tree.deployments.find((d) => String(d.id) === deploymentId);
  const title = deployment ? `${tenant.name} › ${deployment.name}` : tenant.name;
  const tabs = h("nav", { class: "tabs", "aria-label": "Tenant views" },
    TABS.filter(([id]) => (!deploymentId || id === "audit") && (id !== "streams" || STREAMERS.has(tenant.role)))
      .map(([id, label]) =>
      h("a", { href: `#${base}/${id}${period(query)}`, "aria-current": id === tab ? "page" : null }, label)));
  const body = h("section", { "aria-live": "polite" }, state("Loading…"));
  show(h("h1", {}, title), h("p", { class: "muted" }, `Your role: ${tenant.role}`), resources(tenantId, tree), tabs,
    body);
  const view = { tenantId, tab, base, tree, deploymentId, query };
  const message = h("p", { role: "status", class: "muted" });
  view.say = (text) => { message.textContent = text; };
  body.before(message);
  try {
    if (tab === "audit") await auditTab(body, view);
    else if (tab === "integrity") await integrityTab(body, view);
    else if (tab === "members") await membersTab(body, { ...view, role: tenant.role });
    else if (tab === "streams") await streamsTab(body, { ...view, role: tenant.role });
    else await logTab(body, view);
  } catch (error) {
    const what = { audit: "this audit log", streams: "this tenant's log streams" }[tab] || "this log";
    body.replaceChildren(failure(error, what));
  }
}

function resources(tenantId, tree) {
  // divisions > environments > deployments, each deployment linking to its own Audit tab
  const under = (items, parent) => items.filter((item) => item.parent_id === parent);
  const deployments = (environment) => under(tree.deployments, environment.id).map((deployment) =>
    h("li", {}, h("a", { href: `#/tenants/${tenantId}/deployments/${deployment.id}/audit` }, deployment.name)));
  const environments = (items) => items.map((environment) => h("li", {}, environment.name,
    h("ul", {}, deployments(environment))));
  const placed = new Set(tree.environments.filter((e) => tree.divisions.some((d) => d.id === e.parent_id)).map((e) => e.id));
  const loose = tree.deployments.filter((d) => !tree.environments.some((e) => e.id === d.parent_id));
  return h("details", { class: "card resources" }, h("summary", {}, "Divisions, environments and deployments"),
    h("ul", {}, tree.divisions.map((division) => h("li", {}, division.name,
      h("ul", {}, environments(under(tree.environments, division.id))))),
    environments(tree.environments.filter((e) => !placed.has(e.id))),
    loose.map((deployment) => h("li", {},
      h("a", { href: `#/tenants/${tenantId}/deployments/${deployment.id}/audit` }, deployment.name)))));
}

function period(query) {
  // the time range on screen travels with the tabs (the Integrity tab verifies that period)
  const kept = new URLSearchParams();
  for (const name of ["from", "to"]) if (query.get(name)) kept.set(name, query.get(name));
  return [...kept].length ? `?${kept}` : "";
}

function options(items, selected, empty) {
  return [h("option", { value: "" }, empty),
    ...items.map((item) => h("option", { value: item.id, selected: String(item.id) === selected }, item.name))];
}

function localInput(iso) {
  return iso ? iso.slice(0, 16) : "";
}

async function auditTab(body, view) {
  const { query, tree } = view;
  types = types || (await api("/audit/types")).body;
  if (view.deploymentId) query.set("deployment_id", view.deploymentId);
  const field = (name, label, control) => h("div", { class: "field" }, h("label", { for: name }, label), control);
  const form = h("form", { class: "filters card", onsubmit: (event) => {
    event.preventDefault();
    const next = new URLSearchParams();
    for (const [name, value] of new FormData(form)) {
      if (!value) continue;
      next.set(name, name === "from" || name === "to" ? `${value}:00Z` : value);
    }
    go(`${view.base}/audit`, next);
  } },
  field("type", "Type", h("select", { id: "type", name: "type" },
    options(types.map((t) => ({ id: t.type, name: t.deprecated ? `${t.name} (deprecated)` : t.name })),
      query.get("type"), "Any type"))),
  field("author_id", "Author id", h("input", { id: "author_id", name: "author_id", type: "number", min: 1,
    value: query.get("author_id") || "" })),
  field("division_id", "Division", h("select", { id: "division_id", name: "division_id" },
    options(tree.divisions, query.get("division_id"), "Any division"))),
  field("environment_id", "Environment", h("select", { id: "environment_id", name: "environment_id" },
    options(tree.environments, query.get("environment_id"), "Any environment"))),
  view.deploymentId ? null : field("deployment_id", "Deployment", h("select", { id: "deployment_id",
    name: "deployment_id" }, options(tree.deployments, query.get("deployment_id"), "Any deployment"))),
  field("from", "From (UTC)", h("input", { id: "from", name: "from", type: "datetime-local",
    value: localInput(query.get("from")) })),
  field("to", "To (UTC)", h("input", { id: "to", name: "to", type: "datetime-local",
    value: localInput(query.get("to")) })),
  h("button", { type: "submit" }, "Apply"),
  h("button", { type: "button", class: "plain", onclick: () => download(view) }, "Download CSV"));
  const listing = h("div", {}, state("Loading…"));
  body.replaceChildren(form, listing);
  await page(listing, view, `/audit/tenants/${view.tenantId}`, auditTable);
}

async function download(view) {
  const query = new URLSearchParams(view.query);
  for (const name of ["cursor", "page", "results"]) query.delete(name);
  const { body } = await api(`/audit/tenants/${view.tenantId}/export.csv?${query}`);
  save(body, `audit-tenant-${view.tenantId}.csv`);
}

async function page(container, view, path, table) {
  const query = new URLSearchParams(view.query);
  const filters = new URLSearchParams(query);
  filters.delete("cursor");
  filters.delete("page");
  const key = `${path}?${filters}`;
  const number = Number(query.get("page") || 1);
  query.delete("page");
  const { body } = await api(`${path}?${query}`);
  if (!body.data.length) return container.replaceChildren(state("No records match these filters."));
  const history = cursors.get(key) || [];
  const previous = () => {
    const back = new URLSearchParams(filters);
    const before = history[number - 2];
    if (before) back.set("cursor", before);
    if (number > 2) back.set("page", String(number - 1));
    go(`${view.base}/${view.tab}`, back);
  };
  const next = () => {
    history[number - 1] = query.get("cursor") || "";
    cursors.set(key, history);
    const forward = new URLSearchParams(filters);
    forward.set("cursor", body.next);
    forward.set("page", String(number + 1));
    go(`${view.base}/${view.tab}`, forward);
  };
  container.replaceChildren(
    h("p", { class: "muted", role: "status" }, `${body.total} records · page ${number}`),
    table(body.data, view),
    h("div", { class: "pager" },
      h("button", { type: "button", class: "plain", disabled: number <= 1, onclick: previous }, "Previous"),
      h("button", { type: "button", class: "plain", disabled: !body.next, onclick: next }, "Next")));
}

function ref(value) {
  return value ? value.name : "";
}

function auditTable(records) {
  const detail = h("div");
  const rows = records.map((record) => {
    const open = () => showRecord(detail, record);
    return h("tr", { tabindex: 0, onclick: open, onkeydown: (e) => (e.key === "Enter" || e.key === " ") && open() },
      h("td", {}, when(record.timestamp)), h("td", {}, record.name), h("td", {}, ref(record.author)),
      h("td", {}, ref(record.division)), h("td", {}, ref(record.environment)), h("td", {}, ref(record.deployment)));
  });
  return h("div", {}, h("table", { class: "records", "aria-label": "Audit records, newest first" },
    h("thead", {}, h("tr", {}, ["When", "What", "Who", "Division", "Environment", "Deployment"]
      .map((name) => h("th", { scope: "col" }, name)))),
    h("tbody", {}, rows)), detail);
}

function pretty(value) {
  return value === undefined ? "" : JSON.stringify(value, null, 2);
}

function showRecord(detail, record) {
  const before = record.previous || {};
  const after = record.current || {};
  const fields = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
  const rows = fields.map((name) => {
    const changed = JSON.stringify(before[name]) !== JSON.stringify(after[name]);
    return h("tr", { class: changed ? "changed" : null }, h("th", { scope: "row" }, name),
      h("td", { class: "before" }, pretty(before[name])), h("td", { class: "after" }, pretty(after[name])));
  });
  detail.replaceChildren(h("section", { class: "card", "aria-label": "Record" },
    h("h2", { tabindex: -1 }, `${record.name} · ${when(record.timestamp)}`),
    h("dl", { class: "meta" },
      h("dt", {}, "Record id"), h("dd", {}, record.id),
      h("dt", {}, "Author"), h("dd", {}, `${ref(record.author)} (user ${record.author.id})`),
      h("dt", {}, "Request id"), h("dd", {}, record.request_id || "—"),
      h("dt", {}, "Source IP"), h("dd", {}, record.source_ip || "—"),
      h("dt", {}, "User-Agent"), h("dd", {}, record.user_agent || "—")),
    fields.length ? h("table", { class: "diff", "aria-label": "Previous and new values" },
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Field"), h("th", { scope: "col" }, "Previous"),
        h("th", { scope: "col" }, "New"))), h("tbody", {}, rows))
      : h("p", { class: "muted" }, "No previous or new values.")));
  detail.querySelector("h2").focus();
}

function filterForm(view, fields) {
  // the listing's own filters, kept in the URL like the Audit tab's
  const form = h("form", { class: "filters card", onsubmit: (event) => {
    event.preventDefault();
    const next = new URLSearchParams();
    for (const [name, value] of new FormData(form)) {
      if (value) next.set(name, name === "from" || name === "to" ? `${value}:00Z` : value);
    }
    go(`${view.base}/${view.tab}`, next);
  } },
  fields.map(([name, label, control]) => h("div", { class: "field" }, h("label", { for: name }, label), control)),
  h("button", { type: "submit" }, "Apply"));
  return form;
}

function timeFields(query) {
  return [["from", "From (UTC)", h("input", { id: "from", name: "from", type: "datetime-local",
    value: localInput(query.get("from")) })],
  ["to", "To (UTC)", h("input", { id: "to", name: "to", type: "datetime-local", value: localInput(query.get("to")) })]];
}

const SECURITY_TYPES = ["authentication_failed", "permission_denied", "log_stream_paused"];

async function logTab(body, view) {
  const path = `/audit/tenants/${view.tenantId}/${view.tab}`;
  const listing = h("div", {}, state("Loading…"));
  const number = (name, label) => [name, label, h("input", { id: name, name, type: "number", min: 1,
    value: view.query.get(name) || "" })];
  const fields = view.tab === "access"
    ? [number("actor_id", "Who read (user id)"), number("subject_user_id", "Whose data (user id)")]
    : [["type", "Type", h("select", { id: "type", name: "type" }, h("option", { value: "" }, "Any type"),
      SECURITY_TYPES.map((t) => h("option", { value: t, selected: view.query.get("type") === t }, t)))]];
  body.replaceChildren(filterForm(view, [...fields, ...timeFields(view.query)]), listing);
  await page(listing, view, path, (records) => h("table", { "aria-label": "Records, newest first" },
    h("thead", {}, h("tr", {}, ["When", "What", "Who", "Where", "From"].map((name) => h("th", { scope: "col" }, name)))),
    h("tbody", {}, records.map((record) => h("tr", {},
      h("td", {}, when(record.timestamp)),
      h("td", {}, record.action || record.type),
      h("td", {}, record.actor ? `user ${record.actor.id}` : "—"),
      h("td", {}, record.path ? `${record.method} ${record.path}` : record.permission || record.reason || ""),
      h("td", {}, record.source_ip || "—"))))));
}

async function integrityTab(body, view) {
  const period = new URLSearchParams();
  for (const name of ["from", "to"]) if (view.query.get(name)) period.set(name, view.query.get(name));
  const { body: report } = await api(`/audit/tenants/${view.tenantId}/verify?${period}`);
  const verdict = report.verified
    ? h("p", { role: "status", class: "ok" }, "The log verifies: complete and unmodified.")
    : h("p", { role: "alert", class: "state error" }, "The log does not verify.");
  const problems = report.problems.length ? h("table", { "aria-label": "Problems found" },
    h("thead", {}, h("tr", {}, ["Problem", "Checkpoint", "Record", "Detail"].map((n) => h("th", { scope: "col" }, n)))),
    h("tbody", {}, report.problems.map((p) => h("tr", {}, h("td", {}, p.problem), h("td", {}, p.checkpoint ?? ""),
      h("td", {}, p.record_id || ""), h("td", {}, p.detail || ""))))) : null;
  const bundle = h("button", { type: "button", onclick: async () => {
    const { body: bundle } = await api(`/audit/tenants/${view.tenantId}/export?${period}`);
    save(new Blob([JSON.stringify(bundle)], { type: "application/json" }), `audit-bundle-${view.tenantId}.json`);
  } }, "Download the export bundle");
  body.replaceChildren(filterForm(view, timeFields(view.query)), h("section", { class: "card" },
    h("h2", {}, report.from || report.to ? `From ${report.from || "the start"} to ${report.to || "now"}` : "Everything stored"),
    verdict,
    h("dl", { class: "meta" },
      h("dt", {}, "Records checked"), h("dd", {}, report.records.checked),
      h("dt", {}, "Not sealed yet"), h("dd", {}, report.records.unsealed),
      h("dt", {}, "Checkpoints"), h("dd", {}, `${report.checkpoints.checked} (newest anchored: ${report.checkpoints.anchored ?? "none"})`),
      h("dt", {}, "Signing key"), h("dd", {}, report.key_fingerprint)),
    problems, bundle,
    h("p", { class: "muted" }, "Verify it offline, pinning the key: ",
      h("code", {}, `ld-audit-admin bundle verify audit-bundle-${view.tenantId}.json --fingerprint ${report.key_fingerprint}`))));
}

async function send(method, path, body) {
  const response = await fetch(url(path), {
    method,
    headers: { [KEY]: sessionStorage.getItem(KEY) || "", "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const answer = response.status === 204 ? null : await response.json();
  if (!response.ok) throw new ApiError(response.status, answer);
  return answer;
}

const ROLES = ["owner", "admin", "auditor", "member"];

async function membersTab(body, view) {
  const manage = MANAGERS.has(view.role);
  const members = (await api(`/tenants/${view.tenantId}/members?results=100`)).body;
  const act = async (work, done) => {
    try {
      await work();
      await membersTab(body, view);
      view.say(done);
    } catch (error) {
      view.say(`Not done: ${error.message}`);
    }
  };
  const memberRows = members.data.map((member) => h("tr", {},
    h("td", {}, member.user.name), h("td", {}, member.user.email || ""),
    h("td", {}, manage
      ? h("select", { "aria-label": `Role of ${member.user.name}`, onchange: (event) => act(
        () => send("PATCH", `/tenants/${view.tenantId}/members/${member.user.id}`, { role: event.target.value }),
        `${member.user.name} is now ${event.target.value}.`) },
      ROLES.map((role) => h("option", { value: role, selected: role === member.role }, role)))
      : member.role),
    h("td", {}, when(member.joined_at)),
    manage ? h("td", {}, h("button", { type: "button", class: "plain", onclick: () => act(
      () => send("DELETE", `/tenants/${view.tenantId}/members/${member.user.id}`),
      `${member.user.name} was removed.`) }, "Remove")) : null));
  const parts = [h("h2", {}, `Members (${members.total})`), h("table", { "aria-label": "Members" },
    h("thead", {}, h("tr", {}, ["Name", "Email", "Role", "Since", manage ? "Actions" : null].filter(Boolean)
      .map((n) => h("th", { scope: "col" }, n)))), h("tbody", {}, memberRows))];
  if (manage) {
    const invitations = (await api(`/tenants/${view.tenantId}/invitations?results=100`)).body;
    const email = h("input", { id: "invite-email", type: "email", required: true });
    const role = h("select", { id: "invite-role" }, ROLES.map((r) => h("option", { value: r, selected: r === "member" }, r)));
    parts.push(h("h2", {}, "Invitations"),
      h("form", { class: "filters", onsubmit: (event) => {
        event.preventDefault();
        act(() => send("POST", `/tenants/${view.tenantId}/invitations`, { email: email.value, role: role.value }),
          `Invitation sent to ${email.value}.`);
      } },
      h("div", { class: "field" }, h("label", { for: "invite-email" }, "Email"), email),
      h("div", { class: "field" }, h("label", { for: "invite-role" }, "Role"), role),
      h("button", { type: "submit" }, "Invite")),
      invitations.data.length ? h("table", { "aria-label": "Invitations" },
        h("thead", {}, h("tr", {}, ["Email", "Role", "Status", "Expires", "Actions"].map((n) => h("th", { scope: "col" }, n)))),
        h("tbody", {}, invitations.data.map((invitation) => h("tr", {},
          h("td", {}, invitation.email), h("td", {}, invitation.role), h("td", {}, invitation.status),
          h("td", {}, when(invitation.expires_at)),
          h("td", {}, invitation.status === "pending" ? h("button", { type: "button", class: "plain", onclick: () => act(
            () => send("DELETE", `/tenants/${view.tenantId}/invitations/${invitation.id}`),
            `The invitation to ${invitation.email} was revoked.`) }, "Revoke") : "")))))
        : h("p", { class: "muted" }, "No invitations."));
  }
  body.replaceChildren(h("section", { class: "card" }, ...parts));
}

// ------------------------------------------------------------------ log streams (owners: audit:stream)
// The destination types the API takes, each with the fields its form needs and how a stream shows it:
// another type is one more entry. A field with `secret` is write-only: the API never returns it.
const DESTINATIONS = {
  https: { label: "HTTPS endpoint", fields: [
    { name: "url", label: "URL", type: "url", required: true, placeholder: "https://siem.example.com/ld" },
    { name: "secret", label: "Signing secret (32-256 characters)", secret: true, required: true, minlength: 32 }] },
  splunk_hec: { label: "Splunk HTTP Event Collector", fields: [
    { name: "url", label: "URL", type: "url", required: true,
      placeholder: "https://splunk.example.com:8088/services/collector/event" },
    { name: "token", label: "HEC token", secret: true, required: true, minlength: 16 }] },
  datadog: { label: "Datadog logs intake", fields: [
    { name: "url", label: "URL (your Datadog site's)", type: "url",
      value: "https://http-intake.logs.datadoghq.com/api/v2/logs" },
    { name: "api_key", label: "API key", secret: true, required: true, minlength: 16 }] },
  s3: { label: "S3 bucket (your AWS account)", fields: [
    { name: "bucket", label: "Bucket", required: true, placeholder: "acme-audit-logs" },
    { name: "prefix", label: "Prefix (optional)", placeholder: "ld-audit/" },
    { name: "role_arn", label: "Role the service assumes", required: true,
      placeholder: "arn:aws:iam::123456789012:role/ld-audit-log-stream" },
    { name: "region", label: "Bucket's region (optional)", placeholder: "eu-west-1" }],
  // the external ID is the service's, made for this stream: it goes into the role's trust policy
  show: (d) => [`s3://${d.bucket}/${d.prefix || ""}`, h("br"), d.role_arn, h("br"), `external ID: ${d.external_id}`] },
};
const shown = (destination) => destination.url; // an entry may bring its own `show` (a bucket has no URL)
const KINDS = ["audit", "access", "security"];
const STATES = { active: "Active", failing: "Failing: retrying", paused: "Paused", disabled: "Disabled: kept failing" };

function duration(seconds) {
  if (seconds === null || seconds === undefined) return "";
  if (seconds < 120) return `${Math.round(seconds)} s`;
  return seconds < 7200 ? `${Math.round(seconds / 60)} min` : `${Math.round(seconds / 3600)} h`;
}

function formErrors(error) {
  return [h("p", {}, `Not created: ${error.message}`), error.details?.length ? h("ul", {}, error.details.map((d) =>
    h("li", {}, `${d.location.replace(/^body\./, "")}: ${d.problem}`))) : null];
}

async function streamsTab(body, view) {
  if (!STREAMERS.has(view.role)) {
    return body.replaceChildren(state(`Log streams are managed by the tenant's owners: your role (${view.role}) ` +
      "cannot see or change them.", "error"));
  }
  const path = `/tenants/${view.tenantId}/streams`;
  const streams = (await api(path)).body;
  const heading = h("h2", { tabindex: -1 }, `Log streams (${streams.total})`);
  const act = async (work, done, focus) => {
    try {
      const result = await work();
      await streamsTab(body, view);
      view.say(done(result));
      (focus && body.querySelector(`[data-stream="${focus}"] button`) || body.querySelector("h2")).focus();
    } catch (error) {
      view.say(`Not done: ${error.message}`);
    }
  };
  const rows = streams.data.map((stream) => {
    const at = `${path}/${stream.id}`;
    const health = stream.health;
    const named = `name-of-${stream.id}`;
    const paused = health.state === "paused" || health.state === "disabled"; // disabled: paused by the service
    const from = h("input", { id: `replay-${stream.id}`, type: "datetime-local", required: true,
      "aria-describedby": named });
    const actions = h("div", { class: "actions" },
      h("button", { type: "button", class: "plain", "aria-describedby": named, onclick: () => act(
        () => send("POST", `${at}/${paused ? "resume" : "pause"}`),
        () => `${stream.name} is ${paused ? "resumed: the records of the pause follow" : "paused"}.`, stream.id) },
      paused ? "Resume" : "Pause"),
      h("button", { type: "button", class: "plain", "aria-describedby": named, onclick: () => act(
        () => send("POST", `${at}/test`),
        (sent) => `Test event ${sent.delivered ? "delivered" : "not delivered"} to ${stream.name}: your endpoint ` +
          `answered ${[sent.status, sent.message].filter((part) => part !== null && part !== "").join(" ")}.`,
        stream.id) }, "Send test"),
      h("form", { class: "inline", onsubmit: (event) => {
        event.preventDefault();
        act(() => send("POST", `${at}/replay`, { from: `${from.value}:00Z` }),
          (queued) => `Replay of ${stream.name} queued: records from ${when(queued.from)} to ${when(queued.to)} ` +
            "follow, marked replayed.", stream.id);
      } }, h("div", { class: "field" }, h("label", { for: `replay-${stream.id}` }, "Replay from (UTC)"), from),
      h("button", { type: "submit", class: "plain", "aria-describedby": named }, "Replay")),
      h("button", { type: "button", class: "plain danger", "aria-describedby": named, onclick: () => {
        const cancel = h("button", { type: "button", class: "plain", onclick: () => streamsTab(body, view)
          .then(() => body.querySelector(`[data-stream="${stream.id}"] button`).focus()) }, "Cancel");
        actions.replaceChildren(h("span", {}, `Delete ${stream.name}? Its queued deliveries are dropped.`),
          h("button", { type: "button", class: "danger", onclick: () => act(() => send("DELETE", at),
            () => `${stream.name} was deleted.`) }, "Yes, delete"), cancel);
        cancel.focus();
      } }, "Delete"));
    const error = health.last_error;
    return h("tr", { "data-stream": stream.id },
      h("th", { scope: "row", id: named }, stream.name),
      h("td", {}, DESTINATIONS[stream.destination.type]?.label || stream.destination.type, h("br"),
        h("span", { class: "url" }, (DESTINATIONS[stream.destination.type]?.show || shown)(stream.destination))),
      h("td", {}, stream.kinds.join(", "), h("br"),
        h("span", { class: "muted" }, stream.types.length ? stream.types.join(", ") : "all types")),
      h("td", {}, stream.format),
      h("td", {}, h("span", { class: `badge ${health.state}` }, STATES[health.state] || health.state),
        paused ? h("span", { class: "muted" }, h("br"), `by ${health.paused_by === "service" ? "the service" :
          "an owner"}, ${when(health.paused_at)}`) : null),
      h("td", {}, `${health.delivered} delivered`, h("br"), `${health.failed} failed`,
        health.failed_attempts ? ` (${health.failed_attempts} failed attempts)` : ""),
      h("td", {}, health.last_record_at ? [when(health.last_record_at), h("br"),
        h("span", { class: "muted" }, `lag ${duration(health.lag_seconds)}`)] : "nothing yet"),
      h("td", {}, error ? [error.status ?? "", " ", error.message, error.at ? h("br") : null,
        error.at ? h("span", { class: "muted" }, when(error.at)) : null] : "none"),
      h("td", {}, actions));
  });
  const table = streams.data.length ? h("table", { class: "streams", "aria-label": "Log streams" },
    h("thead", {}, h("tr", {}, ["Name", "Destination", "Kinds and types", "Format", "State", "Records",
      "Last delivered record", "Last error", "Actions"].map((n) => h("th", { scope: "col" }, n)))),
    h("tbody", {}, rows)) : h("p", { class: "muted" }, "No log streams yet: create one below.");
  // a narrow window scrolls the table rather than the page (focusable, so a keyboard can scroll it too)
  const scroller = h("div", { class: "scroll", tabindex: 0, role: "region", "aria-label": "Log streams table" }, table);
  body.replaceChildren(h("section", { class: "card" }, heading, streams.data.length ? scroller : table),
    h("section", { class: "card" }, h("h2", {}, "New log stream"), streamForm(view, path, act)));
}

function streamForm(view, path, act) {
  const field = (id, label, control) => h("div", { class: "field" }, h("label", { for: id }, label), control);
  const errors = h("div", { id: "stream-errors", class: "errors", role: "alert" });
  const name = h("input", { id: "stream-name", required: true, maxlength: 100 });
  const type = h("select", { id: "stream-type" }, Object.entries(DESTINATIONS).map(([id, d]) =>
    h("option", { value: id }, d.label)));
  const fields = h("div", { class: "row" });
  const destination = () => fields.replaceChildren(...DESTINATIONS[type.value].fields.map((f) =>
    field(`stream-${f.name}`, f.label, h("input", { id: `stream-${f.name}`, name: f.name, size: f.secret ? 34 : 50,
      type: f.secret ? "password" : f.type || "text", autocomplete: f.secret ? "new-password" : "off",
      required: f.required, minlength: f.minlength, placeholder: f.placeholder, value: f.value }))));
  type.addEventListener("change", destination);
  destination();
  const kinds = KINDS.map((kind) => h("label", { class: "check" },
    h("input", { type: "checkbox", name: "kinds", value: kind, checked: kind === "audit" }), ` ${kind}`));
  const types = h("input", { id: "stream-types", size: 50, placeholder: "deployment_created, permission_denied" });
  const format = h("select", { id: "stream-format" }, h("option", { value: "jsonl" }, "JSON lines (as the API shows records)"),
    h("option", { value: "ocsf" }, "OCSF 1.1.0 events"));
  const form = h("form", { "aria-describedby": "stream-errors", onsubmit: async (event) => {
    event.preventDefault();
    const credentials = Object.fromEntries([...fields.querySelectorAll("input")].filter((i) => i.value)
      .map((i) => [i.name, i.value]));
    const stream = { name: name.value, destination: { type: type.value, ...credentials },
      kinds: kinds.map((label) => label.firstChild).filter((box) => box.checked).map((box) => box.value),
      types: types.value.split(",").map((t) => t.trim()).filter(Boolean), format: format.value };
    try {
      const created = await send("POST", path, stream);
      errors.replaceChildren();
      await act(() => created, () => `${created.name} was created: new records reach it within seconds.`, created.id);
    } catch (error) {
      errors.replaceChildren(...formErrors(error));
    }
  } },
  h("div", { class: "row" }, field("stream-name", "Name", name), field("stream-type", "Destination", type)),
  fields,
  h("fieldset", {}, h("legend", {}, "Kinds of records"), kinds),
  h("div", { class: "row" }, field("stream-types", "Types (comma-separated; empty for all)", types),
    field("stream-format", "Format", format)),
  errors,
  h("button", { type: "submit" }, "Create stream"));
  return form;
}

async function account() {
  const status = h("p", { role: "status", id: "account-status" });
  const say = (text) => { status.textContent = text; };
  const exportButton = h("button", { type: "button", onclick: async () => {
    exportButton.disabled = true;
    say("Preparing your data… this can take a little while.");
    try {
      let { status: code, body } = await api("/account/export");
      while (code === 202) {
        await new Promise((resolve) => setTimeout(resolve, 2000));
        ({ status: code, body } = await api(body.location));
      }
      save(new Blob([JSON.stringify(body, null, 2)], { type: "application/json" }), `my-data-${me.id}.json`);
      say("Downloaded.");
    } catch (error) {
      say(`The export failed: ${error.message}`);
    } finally {
      exportButton.disabled = false;
    }
  } }, "Export my data");

  const keys = (await api("/users/me/api-keys")).body.data;
  const identities = (await api("/users/me/identities")).body.data;
  const sessions = (await api("/users/me/sessions")).body.data;
  const redo = async (work, done) => {
    try {
      const result = await work();
      await account();
      document.getElementById("account-status").textContent = done(result);
    } catch (error) {
      say(`Not done: ${error.message}`);
    }
  };
  const keyName = h("input", { id: "key-name", required: true, maxlength: 100 });
  const timezone = h("input", { id: "timezone", value: settings.timezone, required: true });
  const confirm = h("input", { id: "confirm", autocomplete: "off" });
  const erase = h("button", { type: "button", disabled: true, onclick: async () => {
    erase.disabled = true;
    say("Erasing your account…");
    try {
      let body = await send("POST", "/account/erasure", { confirm: confirm.value });
      while (body.status === "running") {
        await new Promise((resolve) => setTimeout(resolve, 2000));
        body = (await api(`/account/erasure/${body.erasure_id}`)).body;
      }
      if (body.status === "succeeded") {
        sessionStorage.removeItem(KEY);
        me = null;
        who.replaceChildren();
        return show(h("h1", {}, "Your account was erased"), h("p", {}, "Every key of it stopped working."));
      }
      say(`The erasure failed: ${body.reason || "unknown reason"}`);
    } catch (error) {
      say(error instanceof ApiError && error.status === 409
        ? `Not erased: ${error.message} Another member must be made an owner of that tenant first.`
        : `Not erased: ${error.message}`);
    }
  } }, "Delete my account");
  confirm.addEventListener("input", () => { erase.disabled = confirm.value !== "erase my account"; });

  show(h("h1", {}, "Your account"), status,
    h("section", { class: "card" }, h("h2", {}, "Profile"), h("dl", { class: "meta" },
      h("dt", {}, "Name"), h("dd", {}, me.name), h("dt", {}, "Email"), h("dd", {}, me.email))),
    h("section", { class: "card" }, h("h2", {}, "Settings"),
      h("form", { class: "filters", onsubmit: (event) => {
        event.preventDefault();
        redo(async () => {
          settings = await send("PATCH", "/users/me/settings", { timezone: timezone.value });
        }, () => `Times are now shown in ${settings.timezone}.`);
      } }, h("div", { class: "field" }, h("label", { for: "timezone" }, "Time zone (IANA, e.g. Europe/Warsaw)"),
        timezone), h("button", { type: "submit" }, "Save"))),
    h("section", { class: "card" }, h("h2", {}, "API keys"),
      h("table", { "aria-label": "API keys" },
        h("thead", {}, h("tr", {}, ["Name", "Status", "Created", ""].map((n) => h("th", { scope: "col" }, n)))),
        h("tbody", {}, keys.map((key) => h("tr", {}, h("td", {}, key.name), h("td", {}, key.status),
          h("td", {}, when(key.created_at)),
          h("td", {}, key.status === "active" ? h("button", { type: "button", class: "plain", onclick: () => redo(
            () => send("DELETE", `/users/me/api-keys/${key.id}`), () => `The key "${key.name}" was revoked.`) },
          "Revoke") : ""))))),
      h("form", { class: "filters", onsubmit: (event) => {
        event.preventDefault();
        redo(() => send("POST", "/users/me/api-keys", { name: keyName.value }),
          (created) => `New key "${created.name}": ${created.secret} (shown this once: copy it now).`);
      } }, h("div", { class: "field" }, h("label", { for: "key-name" }, "New key's name"), keyName),
      h("button", { type: "submit" }, "Create key"))),
    h("section", { class: "card" }, h("h2", {}, "Linked identities"), identities.length
      ? h("table", { "aria-label": "Linked identities" },
        h("thead", {}, h("tr", {}, ["Provider", "Account", "Linked", ""].map((n) => h("th", { scope: "col" }, n)))),
        h("tbody", {}, identities.map((identity) => h("tr", {}, h("td", {}, identity.provider),
          h("td", {}, identity.external_id), h("td", {}, when(identity.linked_at)),
          h("td", {}, h("button", { type: "button", class: "plain", onclick: () => redo(
            () => send("DELETE", `/users/me/identities/${identity.id}`),
            () => `The ${identity.provider} account was unlinked.`) }, "Unlink"))))))
      : h("p", { class: "muted" }, "No linked identities.")),
    h("section", { class: "card" }, h("h2", {}, "Sessions"), sessions.length ? h("table", { "aria-label": "Sessions" },
      h("thead", {}, h("tr", {}, ["Provider", "Status", "Started", "From", ""].map((n) => h("th", { scope: "col" }, n)))),
      h("tbody", {}, sessions.map((session) => h("tr", {}, h("td", {}, session.provider), h("td", {}, session.status),
        h("td", {}, when(session.started_at)), h("td", {}, session.source_ip || ""),
        h("td", {}, session.status === "active" ? h("button", { type: "button", class: "plain", onclick: () => redo(
          () => send("DELETE", `/users/me/sessions/${session.id}`), () => "The session was revoked.") }, "Revoke")
          : "")))))
      : h("p", { class: "muted" }, "No sessions.")),
    h("section", { class: "card" }, h("h2", {}, "Your data"), exportButton),
    h("section", { class: "card" }, h("h2", {}, "Delete my account"),
      h("p", {}, "Erases your profile, keys, identities and memberships. Records of what you did stay, " +
        "without your personal data. Type \u201cerase my account\u201d to confirm."),
      h("div", { class: "field" }, h("label", { for: "confirm" }, "Confirmation"), confirm), erase));
}

function save(blob, name) {
  const link = h("a", { href: URL.createObjectURL(blob), download: name });
  document.body.append(link);
  link.click();
  link.remove();
}

async function render() {
  if (!sessionStorage.getItem(KEY)) return signIn();
  try {
    await header();
    const { parts, query } = route();
    if (parts[0] === "tenants" && parts[1]) {
      const deploymentId = parts[2] === "deployments" ? parts[3] : null;
      const tab = deploymentId ? "audit" : parts[2] || "audit";
      return await tenantPage(parts[1], tab, deploymentId, query);
    }
    if (parts[0] === "account") return await account();
    return await home();
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) return signIn();
    show(failure(error, "this page"));
  }
}

// One render at a time, in the order the hash changed: a slow page can never land over a newer one.
let rendering = Promise.resolve();
function rerender() {
  rendering = rendering.then(render, render);
  return rendering;
}

window.addEventListener("hashchange", rerender);
rerender();
