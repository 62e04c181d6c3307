// The portal page: applications, a form generated from each job definition, a live job list, job
// pages with result previews, and SAMP. No framework: a small DOM helper and hash routes
//   #/                      applications
//   #/apps/{def}            new job form + the job list (live: server-sent events)
//   #/jobs/{def}/{id}       one job (live: UWS WAIT)
// Every request goes to this origin with the session cookie; state-changing ones carry the session's
// CSRF token. The SAMP hub on this machine is the only other address (see samp.js).
// The page starts from the session and the applications inlined by the server (#boot): the
// applications are shown without a request; SAMP and the VOTable reader load after that.
import { check, message, paramOf, requiredMessage } from "./rules.js";

const $main = document.getElementById("main");
const LIVE = ["PENDING", "QUEUED", "EXECUTING", "HELD", "SUSPENDED"];
let session = null;
let defs = [];
let teardown = [];
// samp.js once needed (the hub indicator after the first view, job pages); SAMP: the module.
let SAMP = null;
let sampClient = null;
let sampLoading = null;
const loadSamp = () =>
  (sampLoading ??= import("/portal/assets/samp.js").then((m) => {
    SAMP = m;
    sampClient = new m.Samp("UWS portal");
    return m;
  }));

// ---- helpers -------------------------------------------------------------------------------------
function h(tag, attrs = {}, ...kids) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const k of kids.flat(Infinity)) if (k !== null && k !== undefined && k !== false) el.append(k instanceof Node ? k : String(k));
  return el;
}
const enc = encodeURIComponent;
const jobHash = (def, id) => `#/jobs/${enc(def)}/${enc(id)}`;
const jobUrl = (def, id) => `/uws/${enc(def)}/${enc(id)}`;
// toLocaleString's format, from one formatter: toLocaleString builds a new one per call (a list of
// 100 rows spent most of its rendering there).
const TIME = new Intl.DateTimeFormat(undefined, { year: "numeric", month: "numeric", day: "numeric", hour: "numeric", minute: "numeric", second: "numeric" });
const when = (iso) => (iso ? TIME.format(new Date(iso)) : "—");
const size = (n) => (n === null || n === undefined ? "size when served" : n < 1024 ? `${n} B` : n < 1048576 ? `${(n / 1024).toFixed(1)} KiB` : `${(n / 1048576).toFixed(1)} MiB`);
const phaseBadge = (p) => h("span", { class: `phase phase-${(p ?? "gone").toLowerCase()}` }, p ?? "DELETED");

class HttpError extends Error {
  constructor(status, text) {
    super(text.trim() || `HTTP ${status}`);
    this.status = status;
  }
}

/** fetch on this origin; throws HttpError with the server's plain-text message. */
async function api(method, url, { body, json = true, follow = true } = {}) {
  const headers = { accept: json ? "application/json" : "*/*" };
  if (method !== "GET" && session?.csrf) headers["x-csrf-token"] = session.csrf;
  if (body && !(body instanceof FormData) && !(body instanceof URLSearchParams)) {
    headers["content-type"] = "application/json";
    body = JSON.stringify(body);
  }
  const res = await fetch(url, { method, headers, body, credentials: "same-origin", redirect: follow ? "follow" : "manual" });
  if (res.type === "opaqueredirect") return null;
  if (!res.ok) throw new HttpError(res.status, await res.text());
  const type = res.headers.get("content-type") ?? "";
  return json && type.startsWith("application/json") ? res.json() : res.text();
}
const form = (o) => new URLSearchParams(o);

function notice(text, kind = "info") {
  const box = document.getElementById("notice");
  box.replaceChildren(text ? h("p", { class: `notice ${kind}` }, text) : "");
}

// ---- shell: header, login, routes --------------------------------------------------------------------
async function start() {
  const boot = JSON.parse(document.getElementById("boot")?.textContent || "null");
  // Without the inlined data (a page saved or served elsewhere), ask for it.
  const definitions = boot ? Promise.resolve(boot.definitions && { definitions: boot.definitions }) : api("GET", "/uws").catch(() => null);
  session = boot?.session ?? (await api("GET", "/portal/session"));
  const user = document.getElementById("user");
  if (session.auth === "none") document.getElementById("banner").replaceChildren(h("p", { class: "banner", role: "note" }, "Development server: authentication is off (auth none). Every visitor is anonymous and sees every job."));
  if (session.user) {
    user.replaceChildren(
      h("span", { class: "who" }, session.user.name, session.user.admin && session.auth !== "none" ? " (admin)" : ""),
      session.auth !== "none" ? h("button", { type: "button", class: "link", id: "logout", onclick: logout }, "Log out") : "",
    );
  }
  addEventListener("hashchange", route);
  if (!session.user) {
    loginView();
    return setTimeout(hubWatch);
  }
  defs = ((await definitions) ?? (await api("GET", "/uws"))).definitions;
  route();
  performance.mark("portal:ready");
  // Not needed to use the page: after the first view is on screen.
  setTimeout(hubWatch);
}

async function logout() {
  const r = await api("POST", "/portal/logout", { body: {} });
  location.assign(r.redirect);
}

function loginView() {
  document.title = "Log in · UWS portal";
  if (session.login === "oidc") {
    const ret = location.pathname + location.hash;
    $main.replaceChildren(
      h("section", { class: "narrow" }, h("h1", {}, "Log in"), h("p", {}, "Log in with your institution's account through ", h("strong", {}, new URL(session.issuer).host), "."), h("p", {}, h("a", { class: "button primary", href: `/portal/login?return=${enc(ret)}`, id: "login" }, "Log in"))),
    );
    return;
  }
  const input = h("input", { id: "token", name: "token", type: "password", autocomplete: "off", required: true, "aria-describedby": "token-help" });
  const err = h("p", { class: "err", role: "alert", id: "token-err" });
  $main.replaceChildren(
    h(
      "form",
      {
        class: "narrow",
        onsubmit: async (e) => {
          e.preventDefault();
          try {
            await api("POST", "/portal/token", { body: { token: input.value } });
            location.reload();
          } catch (x) {
            err.textContent = x.message;
          }
        },
      },
      h("h1", {}, "Log in with a token"),
      h("label", { for: "token" }, "Access token"),
      input,
      h("p", { class: "help", id: "token-help" }, "The token your administrator gave you. It is checked once; the page then keeps a session (not the token)."),
      err,
      h("button", { type: "submit", class: "primary" }, "Log in"),
    ),
  );
  input.focus();
}

function route() {
  performance.mark("route");
  for (const f of teardown) f();
  teardown = [];
  notice("");
  const parts = location.hash.replace(/^#\/?/, "").split("/").map(decodeURIComponent);
  if (parts[0] === "apps" && parts[1]) return appView(parts[1]);
  if (parts[0] === "jobs" && parts[2]) return jobView(parts[1], parts[2]);
  return appsView();
}

function findDef(name) {
  const d = defs.find((x) => x.name === name);
  if (!d) $main.replaceChildren(h("p", { role: "alert" }, `No application '${name}'. `, h("a", { href: "#/" }, "All applications")));
  return d;
}

// ---- applications ----------------------------------------------------------------------------
function appsView() {
  document.title = "Applications · UWS portal";
  $main.replaceChildren(
    h("h1", {}, "Applications"),
    h(
      "ul",
      { class: "cards" },
      defs.map((d) =>
        h(
          "li",
          { class: "card" },
          h("h2", {}, h("a", { href: `#/apps/${enc(d.name)}` }, d.name)),
          h("p", {}, d.description || "No description."),
          h("p", { class: "meta" }, `${d.parameters.length} parameter${d.parameters.length === 1 ? "" : "s"} · results: ${d.results.map((r) => r.name).join(", ") || "none declared"}`),
        ),
      ),
    ),
  );
}

// ---- one application: the form and the job list ---------------------------------------------------
function appView(name) {
  const d = findDef(name);
  if (!d) return;
  document.title = `${d.name} · UWS portal`;
  const list = h("section", { class: "jobs", "aria-labelledby": "jobs-h" });
  $main.replaceChildren(
    h("p", { class: "crumbs" }, h("a", { href: "#/" }, "Applications"), " / ", d.name),
    h("h1", {}, d.name),
    h("p", { class: "lead" }, d.description),
    h("div", { class: "split" }, jobForm(d, list), list),
  );
  jobList(d, list);
}

function inputFor(d, p) {
  const id = `p-${p.name}`;
  const common = { id, name: p.name, "aria-describedby": `${id}-help ${id}-err`, required: p.required && p.default === null && p.type !== "bool" };
  switch (p.type) {
    case "enum":
      return h("select", common, p.values.map((v) => h("option", { value: v, selected: v === p.default }, v)));
    case "bool":
      return h("input", { ...common, type: "checkbox", checked: ["true", "1", "yes"].includes(String(p.default).toLowerCase()) });
    case "file":
      return h("input", { ...common, type: "file" });
    case "int":
    case "float":
      return h("input", { ...common, type: "text", inputmode: p.type === "int" ? "numeric" : "decimal", value: p.default ?? "", autocomplete: "off" });
    case "url":
      return h("input", { ...common, type: "url", value: p.default ?? "", placeholder: "https://…" });
    default:
      return h("input", { ...common, type: "text", value: p.default ?? "", autocomplete: "off", maxlength: p.maxLength ?? null });
  }
}

function hint(p) {
  const bits = [];
  if (p.type === "int" || p.type === "float") {
    bits.push(p.type === "int" ? "integer" : "number");
    if (p.min !== null && p.max !== null) bits.push(`${p.min} to ${p.max}`);
    else if (p.min !== null) bits.push(`≥ ${p.min}`);
    else if (p.max !== null) bits.push(`≤ ${p.max}`);
  }
  if (p.type === "file") bits.push(`file up to ${session.uploadLimitMb} MB`, "upload or URL");
  if (p.type === "url") bits.push("http(s) URL");
  if (p.default !== null && p.type !== "bool") bits.push(`default ${p.default === "" ? "empty" : p.default}`);
  return bits.join(" · ");
}

function jobForm(d, list) {
  const fields = d.parameters.map((p) => {
    const id = `p-${p.name}`;
    const input = inputFor(d, p);
    const label = h("label", { for: id }, p.name, p.required && p.default === null ? h("span", { class: "req", title: "required" }, " *") : "");
    const help = h("p", { class: "help", id: `${id}-help` }, p.description ?? "", p.description && hint(p) ? " — " : "", h("span", { class: "hint" }, hint(p)));
    const err = h("p", { class: "err", id: `${id}-err`, role: "alert" });
    if (p.type === "file") {
      // Upload or by reference (a URL the server fetches): one of the two, chosen by a radio pair.
      const url = h("input", { id: `${id}-url`, name: p.name, type: "url", placeholder: "https://…", autocomplete: "off", hidden: true, "aria-label": `${p.name}: URL of the file`, "aria-describedby": `${id}-help ${id}-err` });
      const radio = (value, text) => h("label", { class: "radio" }, h("input", { type: "radio", name: `${id}-source`, id: `${id}-source-${value}`, value, checked: value === "upload", onchange: () => ((input.hidden = value !== "upload"), (url.hidden = value !== "url")) }), ` ${text}`);
      const source = h("div", { class: "source", role: "radiogroup", "aria-label": `${p.name}: file source` }, radio("upload", "Upload"), radio("url", "From a URL"));
      const f = { p, input, url, err, byUrl: () => !url.hidden };
      f.active = () => (f.byUrl() ? url : input);
      f.el = h("div", { class: `field field-${p.type}` }, label, source, input, url, help, err);
      return f;
    }
    return { p, input, err, active: () => input, el: h("div", { class: `field field-${p.type}` }, p.type === "bool" ? h("div", { class: "check" }, input, label) : [label, input], help, err) };
  });
  const more = [
    { name: "RUNID", label: "runId", help: "a label of your own for this job", input: h("input", { id: "c-runid", name: "RUNID", type: "text", maxlength: 64, autocomplete: "off" }) },
    { name: "EXECUTIONDURATION", label: "executionDuration (s)", help: `stop the job after this many seconds (0 = the definition's limit${d.resources.maxDuration ? `, ${d.resources.maxDuration} s` : ""})`, input: h("input", { id: "c-executionduration", name: "EXECUTIONDURATION", type: "text", inputmode: "numeric", autocomplete: "off" }) },
    { name: "DESTRUCTION", label: "destruction", help: "when the job and its results are deleted (your local time)", input: h("input", { id: "c-destruction", name: "DESTRUCTION", type: "datetime-local" }) },
  ];
  const formErr = h("p", { class: "err", role: "alert", id: "form-err" });
  const status = h("p", { class: "status", role: "status", id: "form-status" });

  const clear = () => {
    for (const f of fields) {
      f.err.textContent = "";
      f.input.removeAttribute("aria-invalid");
      f.url?.removeAttribute("aria-invalid");
    }
    formErr.textContent = "";
  };
  const fieldError = (name, text) => {
    const f = fields.find((x) => x.p.name.toLowerCase() === String(name).toLowerCase());
    if (!f) return false;
    f.err.textContent = text;
    f.active().setAttribute("aria-invalid", "true");
    f.active().focus();
    return true;
  };
  const validate = () => {
    for (const f of fields) {
      const { p, input } = f;
      if (p.type === "file" && f.byUrl()) {
        const v = f.url.value.trim();
        if (v === "") {
          if (p.required && p.default === null) return fieldError(p.name, requiredMessage(d.name, p)), false;
          continue;
        }
        const rule = check(p, v);
        if (rule) return fieldError(p.name, message(d.name, p, rule)), false;
        continue;
      }
      if (p.type === "file") {
        if (!input.files.length && p.required && p.default === null) return fieldError(p.name, requiredMessage(d.name, p)), false;
        if (input.files.length && input.files[0].size > session.uploadLimitMb * 1048576) return fieldError(p.name, `upload '${p.name}' is larger than the server's upload limit of ${session.uploadLimitMb} MB`), false;
        continue;
      }
      if (p.type === "bool") continue;
      const v = input.value;
      if (v === "") {
        if (p.required && p.default === null) return fieldError(p.name, requiredMessage(d.name, p)), false;
        continue;
      }
      const rule = check(p, v);
      if (rule) return fieldError(p.name, message(d.name, p, rule)), false;
    }
    const dur = more[1].input.value.trim();
    if (dur && !/^\d+$/.test(dur)) return (formErr.textContent = `EXECUTIONDURATION: must be a non-negative integer, got '${dur}'`), false;
    return true;
  };

  const submit = async (run) => {
    clear();
    if (!el.dataset.servercheck && !validate()) return;
    const pairs = [];
    let files = false;
    for (const f of fields) {
      const { p, input } = f;
      if (p.type === "file") {
        if (f.byUrl()) {
          // By reference: the server fetches it (the same field, its value a URL).
          if (f.url.value.trim()) pairs.push([p.name, f.url.value.trim()]);
        } else if (input.files.length) files = true;
        continue;
      }
      if (p.type === "bool") pairs.push([p.name, input.checked ? "true" : "false"]);
      else if (input.value !== "" || p.default === "") pairs.push([p.name, input.value]);
    }
    for (const m of more) {
      const v = m.input.value.trim();
      if (v) pairs.push([m.name, m.name === "DESTRUCTION" ? new Date(v).toISOString() : v]);
    }
    if (run) pairs.push(["PHASE", "RUN"]);
    let body;
    if (files) {
      body = new FormData();
      for (const [k, v] of pairs) body.append(k, v);
      for (const f of fields) if (f.p.type === "file" && !f.byUrl() && f.input.files.length) body.append(f.p.name, f.input.files[0], f.input.files[0].name);
    } else body = form(pairs);
    status.textContent = files ? "Uploading…" : fields.some((f) => f.byUrl?.() && f.url.value.trim()) ? "Submitting (the server fetches the file)…" : "Submitting…";
    try {
      const job = await api("POST", `/uws/${enc(d.name)}`, { body });
      status.replaceChildren("Job ", h("a", { href: jobHash(d.name, job.jobId) }, job.jobId), ` created (${job.phase}).`);
      list.dispatchEvent(new CustomEvent("job", { detail: { id: job.jobId, phase: job.phase, runId: job.runId, creationTime: job.creationTime } }));
    } catch (x) {
      status.textContent = "";
      const name = paramOf(x.message);
      if (!(name && fieldError(name, x.message))) formErr.textContent = x.message;
    }
  };

  const el = h(
    "form",
    { class: "jobform", "aria-labelledby": "form-h", novalidate: true, onsubmit: (e) => (e.preventDefault(), submit(e.submitter?.value !== "create")) },
    h("h2", { id: "form-h" }, "New job"),
    fields.map((f) => f.el),
    h("details", { class: "more" }, h("summary", {}, "More: run id, duration, destruction"), more.map((m) => h("div", { class: "field" }, h("label", { for: m.input.id }, m.label), m.input, h("p", { class: "help" }, m.help)))),
    formErr,
    h("div", { class: "buttons" }, h("button", { type: "submit", class: "primary", value: "run", id: "run" }, "Run"), h("button", { type: "submit", value: "create", id: "create" }, "Create (pending)")),
    status,
  );
  return el;
}

const PAGE = 100;
async function jobList(d, box) {
  const phaseSel = h("select", { id: "phase-filter", "aria-label": "Show phase" }, h("option", { value: "" }, "all phases"), ["PENDING", "QUEUED", "EXECUTING", "COMPLETED", "ERROR", "ABORTED", "HELD", "SUSPENDED"].map((p) => h("option", { value: p }, p)));
  const tbody = h("tbody");
  const more = h("button", { type: "button", hidden: true, id: "more-jobs" });
  const count = h("span", { class: "count", role: "status" });
  box.replaceChildren(
    h("div", { class: "listhead" }, h("h2", { id: "jobs-h" }, "Your jobs"), count, phaseSel),
    h("div", { class: "tablewrap" }, h("table", { class: "joblist" }, h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "job"), h("th", { scope: "col" }, "phase"), h("th", { scope: "col" }, "created"), h("th", { scope: "col" }, h("span", { class: "sr" }, "actions")))), tbody)),
    more,
  );
  // The server sends a page: the newest `shown` jobs (of the chosen phase) and how many there are.
  let jobs = [];
  let total = 0;
  let shown = PAGE;
  let asked = 0;
  const byId = new Map();
  const rows = new Map();
  const load = async () => {
    const mine = ++asked;
    const r = await api("GET", `/portal/jobs/${enc(d.name)}?LAST=${shown}${phaseSel.value ? `&PHASE=${phaseSel.value}` : ""}`);
    if (mine !== asked) return false; // a newer request (filter, more) answers instead
    jobs = r.rows.map(([id, phase, runId, creationTime]) => ({ id, phase, runId, creationTime }));
    total = r.total;
    byId.clear();
    for (const j of jobs) byId.set(j.id, j);
    return true;
  };
  performance.mark("joblist:fetch");
  await load();
  performance.mark("joblist:fetched");

  const actions = (j) => {
    const act = async (what) => {
      try {
        if (what === "DELETE") {
          await api("DELETE", jobUrl(d.name, j.id), { follow: false });
          update({ id: j.id, phase: null });
        } else await api("POST", `${jobUrl(d.name, j.id)}/phase`, { body: form({ PHASE: what }), follow: false });
      } catch (x) {
        notice(`${j.id}: ${x.message}`, "error");
      }
    };
    return h(
      "td",
      { class: "actions" },
      j.phase === "PENDING" || j.phase === "HELD" ? h("button", { type: "button", onclick: () => act("RUN"), "aria-label": `Run ${j.id}` }, "Run") : "",
      LIVE.includes(j.phase) ? h("button", { type: "button", onclick: () => act("ABORT"), "aria-label": `Abort ${j.id}` }, "Abort") : "",
      h("button", { type: "button", class: "danger", onclick: () => act("DELETE"), "aria-label": `Delete ${j.id}` }, "Delete"),
    );
  };
  // Which buttons a phase offers: a row whose phase changes keeps its buttons (the same elements)
  // when the set is the same, so a click landing while the row updates is not lost.
  const buttonSet = (phase) => `${phase === "PENDING" || phase === "HELD" ? "R" : ""}${LIVE.includes(phase) ? "A" : ""}`;
  const row = (j) => {
    const tr = h("tr", { "data-job": j.id }, h("th", { scope: "row" }, h("a", { href: jobHash(d.name, j.id) }, j.id), j.runId ? h("span", { class: "runid" }, ` ${j.runId}`) : ""), h("td", {}, phaseBadge(j.phase)), h("td", {}, when(j.creationTime)), actions(j));
    rows.set(j.id, { tr, phase: j.phase });
    return tr;
  };
  /** The row of `j`, the one already shown when there is one (its phase cell and buttons updated). */
  const rowOf = (j) => {
    const r = rows.get(j.id);
    if (!r) return row(j);
    if (r.phase !== j.phase) {
      r.tr.cells[1].replaceChildren(phaseBadge(j.phase));
      if (buttonSet(r.phase) !== buttonSet(j.phase)) r.tr.cells[3].replaceWith(actions(j));
      r.phase = j.phase;
    }
    return r.tr;
  };
  const render = () => {
    const trs = jobs.slice(0, shown).map(rowOf);
    const keep = new Set(jobs.slice(0, shown).map((j) => j.id));
    for (const id of [...rows.keys()]) if (!keep.has(id)) rows.delete(id);
    tbody.replaceChildren(...trs);
    count.textContent = `${total} job${total === 1 ? "" : "s"}`;
    const rest = total - Math.min(shown, jobs.length);
    more.hidden = rest <= 0;
    more.textContent = `Show ${Math.min(PAGE, rest)} more (${rest} not shown)`;
    if (!jobs.length) tbody.replaceChildren(h("tr", {}, h("td", { colspan: 4, class: "empty" }, phaseSel.value ? `No ${phaseSel.value} jobs.` : "No jobs yet: fill in the form to run one.")));
  };
  const reload = async () => {
    try {
      if (await load()) render();
    } catch (x) {
      notice(x.message, "error");
    }
  };
  more.onclick = () => {
    shown += PAGE;
    reload();
  };
  phaseSel.onchange = () => {
    shown = PAGE;
    reload();
  };
  render();
  performance.mark("joblist:rendered");
  performance.measure("joblist", "joblist:fetch", "joblist:rendered");
  performance.measure("joblist:render", "joblist:fetched", "joblist:rendered");

  // Live: a phase change of a listed job, a new job (at the top, when it belongs to the filter), a
  // job gone. Jobs beyond the loaded page are counted but not shown; the stream also reports those
  // (every live job at connect), and they stay where they are.
  // `added` (the form's own job): only adds a job not listed yet. Its phase was read before some
  // changes the stream may already have reported, so it never overrides a listed job's phase.
  const update = ({ id, phase, runId, creationTime }, added = false) => {
    let j = byId.get(id);
    if (j && added) return;
    if (!j) {
      if (phase === null || (phaseSel.value && phaseSel.value !== phase)) return;
      // Older than the newest listed while some are not loaded: one of those, already counted.
      if (jobs.length < total && (!creationTime || (jobs[0] && creationTime < jobs[0].creationTime))) return;
      j = { id, phase, runId: runId ?? null, creationTime: creationTime ?? new Date().toISOString() };
      byId.set(id, j);
      jobs.unshift(j);
      total++;
      shown++;
      return render();
    }
    if (phase === null) {
      byId.delete(id);
      jobs.splice(jobs.indexOf(j), 1);
      total--;
      return render();
    }
    if (j.phase === phase) return;
    j.phase = phase;
    if (rows.has(id)) rowOf(j);
  };
  box.addEventListener("job", (e) => update(e.detail, true));
  const es = new EventSource(`/portal/events/${enc(d.name)}`);
  es.onmessage = (e) => update(JSON.parse(e.data));
  // The stream reports live jobs at connect, not the changes it missed while reconnecting (a job
  // that ended meanwhile): after a reconnect the list is read again.
  let connected = false;
  es.onopen = () => {
    if (connected) reload();
    connected = true;
  };
  teardown.push(() => es.close());
}

// ---- one job -----------------------------------------------------------------------------------
async function jobView(defName, id) {
  const d = findDef(defName);
  if (!d) return;
  const url = jobUrl(defName, id);
  document.title = `${id} · ${defName} · UWS portal`;
  const gone = new AbortController();
  teardown.push(() => gone.abort());
  let job;
  // The send buttons need samp.js (which message types fit): loaded beside the job.
  const samp = loadSamp();
  try {
    job = await api("GET", url);
    await samp;
  } catch (x) {
    $main.replaceChildren(h("p", { class: "crumbs" }, h("a", { href: `#/apps/${enc(defName)}` }, defName)), h("h1", {}, id), h("p", { role: "alert", class: "notice error" }, x.message));
    return;
  }
  const head = h("div");
  const body = h("div");
  $main.replaceChildren(h("p", { class: "crumbs" }, h("a", { href: "#/" }, "Applications"), " / ", h("a", { href: `#/apps/${enc(defName)}` }, defName), " / ", id), head, body);
  let shownResults = "";
  const paint = async () => {
    head.replaceChildren(jobHead(d, job));
    const key = job.phase + JSON.stringify(job.results);
    if (key !== shownResults) {
      shownResults = key;
      body.replaceChildren(await jobBody(d, job));
    }
  };
  await paint();
  // Follow the job while it is live: UWS WAIT returns at the next phase change.
  while (LIVE.includes(job.phase) && !gone.signal.aborted) {
    try {
      const res = await fetch(`${url}?WAIT=60`, { headers: { accept: "application/json" }, signal: gone.signal });
      if (res.status === 404 || res.status === 403) break;
      if (res.ok) job = await res.json();
      else await new Promise((r) => setTimeout(r, 2000));
    } catch {
      if (gone.signal.aborted) return;
      await new Promise((r) => setTimeout(r, 2000));
    }
    await paint();
  }
}

function jobHead(d, j) {
  const url = jobUrl(d.name, j.jobId);
  const act = async (what) => {
    try {
      if (what === "DELETE") {
        if (!confirm(`Delete job ${j.jobId} and its results?`)) return;
        await api("DELETE", url, { follow: false });
        location.hash = `#/apps/${enc(d.name)}`;
        notice(`Job ${j.jobId} deleted.`);
        return;
      }
      await api("POST", `${url}/phase`, { body: form({ PHASE: what }), follow: false });
      route();
    } catch (x) {
      notice(x.message, "error");
    }
  };
  return h(
    "header",
    { class: "jobhead" },
    h("h1", {}, `Job ${j.jobId}`, j.runId ? h("span", { class: "runid" }, ` (${j.runId})`) : ""),
    h("p", { class: "bigphase", "aria-live": "polite", id: "phase" }, phaseBadge(j.phase)),
    h(
      "div",
      { class: "buttons" },
      j.phase === "PENDING" || j.phase === "HELD" ? h("button", { type: "button", class: "primary", id: "job-run", onclick: () => act("RUN") }, "Run") : "",
      LIVE.includes(j.phase) ? h("button", { type: "button", id: "job-abort", onclick: () => act("ABORT") }, "Abort") : "",
      h("button", { type: "button", class: "danger", id: "job-delete", onclick: () => act("DELETE") }, "Delete"),
    ),
    h(
      "dl",
      { class: "times" },
      [
        ["created", when(j.creationTime)],
        ["started", when(j.startTime)],
        ["ended", when(j.endTime)],
        ["duration limit", j.executionDuration ? `${j.executionDuration} s` : "none"],
        ["destruction", when(j.destruction)],
        ["owner", j.ownerId ?? "—"],
      ].map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]),
    ),
  );
}

async function jobBody(d, j) {
  const url = jobUrl(d.name, j.jobId);
  const out = [];
  if (j.errorSummary) {
    let detail = "";
    try {
      detail = await api("GET", `${url}/error`, { json: false });
    } catch {
      /* none */
    }
    out.push(h("section", { class: "error-summary", role: "alert" }, h("h2", {}, "Error"), h("p", {}, j.errorSummary.message), detail && detail.trim() !== j.errorSummary.message ? h("pre", { class: "viewer" }, detail) : ""));
  }
  out.push(
    h(
      "section",
      {},
      h("h2", {}, "Parameters"),
      h("div", { class: "tablewrap" }, h("table", { class: "kv" }, h("tbody", {}, Object.entries(j.parameters).map(([k, v]) => h("tr", {}, h("th", { scope: "row" }, k), h("td", {}, /^https?:\/\//.test(v) && v.includes("/parameters/") ? h("a", { href: new URL(v).pathname }, "uploaded file") : v)))))),
    ),
  );
  const results = h("section", { "aria-labelledby": "results-h" }, h("h2", { id: "results-h" }, `Results (${j.results.length})`));
  if (!j.results.length) results.append(h("p", {}, LIVE.includes(j.phase) ? "Results appear when the job ends." : "This job has no results."));
  const images = j.results.filter((r) => /^image\/(png|jpeg|gif|svg\+xml)/.test(r.mimeType));
  if (images.length) results.append(h("div", { class: "thumbs" }, images.map((r) => h("figure", {}, h("a", { href: resultPath(url, r.id), target: "_blank", rel: "noopener" }, h("img", { src: resultPath(url, r.id), alt: `result ${r.id}`, loading: "lazy" })), h("figcaption", {}, r.id, " ", sendButtons(d, j, r))))));
  for (const r of j.results) results.append(resultBlock(d, j, r));
  out.push(results);
  out.push(outputBlock(d, j, "stdout"), outputBlock(d, j, "stderr"));
  if (!LIVE.includes(j.phase) && j.phase !== "PENDING") {
    const prov = `${url}/provenance`;
    out.push(
      h(
        "section",
        {},
        h("h2", {}, "Provenance"),
        h("p", {}, "Download: ", ["PROV-JSON|json", "PROV-N|provn", "PROV-XML|xml", "SVG|svg"].map((x, i) => [i ? " · " : "", h("a", { href: `${prov}?FORMAT=${x.split("|")[1]}`, download: `${j.jobId}-provenance.${x.split("|")[1]}` }, x.split("|")[0])])),
        h("img", { class: "provgraph", src: `${prov}?FORMAT=svg`, alt: "provenance graph of this job", loading: "lazy", onerror: (e) => e.target.replaceWith(h("p", {}, "No provenance graph for this job.")) }),
      ),
    );
  }
  return h("div", {}, out);
}

const resultPath = (url, rid) => `${url}/results/${enc(rid)}`;

function resultBlock(d, j, r) {
  const href = resultPath(jobUrl(d.name, j.jobId), r.id);
  const preview = h("div", { class: "preview" });
  const kind = /votable/i.test(r.mimeType) ? "votable" : /^image\//.test(r.mimeType) ? "image" : /^text\/|json|xml|ndjson/.test(r.mimeType) ? "text" : "other";
  const det = h(
    "details",
    { class: "result", "data-result": r.id, open: kind === "votable" && j.results.filter((x) => /votable/i.test(x.mimeType))[0] === r },
    h("summary", {}, h("strong", {}, r.id), h("span", { class: "meta" }, ` ${r.mimeType} · ${size(r.size)}`)),
    h("p", { class: "buttons" }, h("a", { class: "button", href, download: r.id }, "Download"), sendButtons(d, j, r)),
    preview,
  );
  let loaded = false;
  const load = async () => {
    if (loaded || kind === "image" || kind === "other") return;
    loaded = true;
    preview.textContent = "Loading…";
    try {
      const text = await api("GET", href, { json: false });
      const s = typeof text === "string" ? text : JSON.stringify(text, null, 2);
      if (kind === "votable") {
        VOTABLE ??= await import("/portal/assets/votable.js");
        preview.replaceChildren(votableView(s));
      }
      else {
        let shown = s.slice(0, 65536);
        if (/json/.test(r.mimeType) && !/ndjson/.test(r.mimeType)) {
          try {
            shown = JSON.stringify(JSON.parse(s), null, 2).slice(0, 65536);
          } catch {
            /* as is */
          }
        }
        preview.replaceChildren(h("pre", { class: "viewer", tabindex: 0 }, shown), s.length > 65536 ? h("p", { class: "meta" }, `first 64 KiB of ${size(s.length)} shown`) : "");
      }
    } catch (x) {
      preview.textContent = x.message;
    }
  };
  det.addEventListener("toggle", () => det.open && load());
  if (det.open) queueMicrotask(load);
  if (kind === "image") preview.append(h("p", { class: "meta" }, "Shown above."));
  return det;
}

let VOTABLE = null;
function votableView(text) {
  let v;
  try {
    v = VOTABLE.parseVotable(text, 20);
  } catch (x) {
    return h("p", {}, `Cannot preview: ${x.message}`);
  }
  return h(
    "div",
    { class: "votable" },
    v.params.length
      ? h("details", { open: v.params.length <= 12 }, h("summary", {}, `PARAMs (${v.params.length})`), h("div", { class: "tablewrap" }, h("table", { class: "kv params" }, h("tbody", {}, v.params.map((p) => h("tr", {}, h("th", { scope: "row" }, p.name), h("td", {}, p.value, p.unit ? ` ${p.unit}` : "")))))))
      : "",
    h("div", { class: "tablewrap" }, h("table", { class: "vot" }, h("caption", {}, `first ${v.rows.length} of ${v.total} rows`), h("thead", {}, h("tr", {}, v.fields.map((f) => h("th", { scope: "col", title: f.ucd }, f.name, f.unit ? h("span", { class: "unit" }, ` [${f.unit}]`) : "")))), h("tbody", {}, v.rows.map((r) => h("tr", {}, r.map((c) => h("td", {}, c))))))),
    v.note ? h("p", { class: "meta" }, v.note) : "",
  );
}

function outputBlock(d, j, stream) {
  const pre = h("pre", { class: "viewer", tabindex: 0 });
  const det = h("details", { class: "output", id: `out-${stream}` }, h("summary", {}, stream), pre);
  det.addEventListener("toggle", async () => {
    if (!det.open) return;
    pre.textContent = "Loading…";
    try {
      const t = await api("GET", `/portal/jobs/${enc(d.name)}/${enc(j.jobId)}/output/${stream}`, { json: false });
      pre.textContent = t || `(${stream} is empty)`;
    } catch (x) {
      pre.textContent = x.message;
    }
  });
  return det;
}

// ---- SAMP ----------------------------------------------------------------------------------------
let hubPresent = false;
function hubWatch() {
  const el = document.getElementById("hub");
  const show = (up) => {
    hubPresent = up;
    el.className = up ? "hub up" : "hub";
    el.textContent = up ? "SAMP hub: connected" : "SAMP hub: none";
    el.title = up ? "VO desktop tools (TOPCAT, Aladin…) can receive results" : "Start TOPCAT or Aladin (or another SAMP hub) to send results to them";
    document.body.classList.toggle("has-hub", up);
  };
  const tick = async () => show(await (await loadSamp()).ping());
  tick();
  // The hub is on this machine: looking every 10 s costs the server nothing.
  const t = setInterval(tick, 10000);
  addEventListener("pagehide", () => clearInterval(t));
}

function sendButtons(d, j, r) {
  const types = SAMP.mtypesFor(r.mimeType);
  if (!types.length) return "";
  const label = { "table.load.votable": "table", "spectrum.load.ssa-generic": "spectrum", "image.load.fits": "image", "table.load.fits": "table" };
  const status = h("span", { class: "samp-status", role: "status" });
  return h(
    "span",
    { class: "samp" },
    types.map((mt) =>
      h(
        "button",
        {
          type: "button",
          class: "send",
          "data-mtype": mt,
          "aria-label": `Send ${r.id} to VO tools as ${label[mt]}`,
          title: mt,
          onclick: async () => {
            status.textContent = "sending…";
            try {
              const { url } = await api("POST", "/portal/sign", { body: { def: d.name, id: j.jobId, result: r.id } });
              const to = await sampClient.send(mt, url, `${j.jobId} ${r.id}`, r.mimeType.split(";")[0]);
              status.textContent = to?.length ? `sent to ${to.length} tool${to.length === 1 ? "" : "s"}` : "no tool takes this";
            } catch (x) {
              status.textContent = hubPresent ? `not sent: ${x.message}` : "no SAMP hub: start TOPCAT or Aladin";
            }
          },
        },
        `Send to VO tools (${label[mt]})`,
      ),
    ),
    status,
  );
}

start().catch((x) => $main.replaceChildren(h("p", { role: "alert", class: "notice error" }, `The portal could not start: ${x.message}`)));
