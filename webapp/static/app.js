// edgeface operator console: what every page shares (API calls, small DOM helpers, formats, the
// model version in the header). Plain JS, no dependencies: the pages must work without internet.
"use strict";

const POLL_MS = 2000;

const ef = {
  page: document.body.dataset.page,
  canChange: document.body.dataset.canChange === "yes",
  // The distance under which a face is named (EDGEFACE_LIVE_TOLERANCE): words for distances use it.
  tolerance: Number(document.body.dataset.tolerance) || 0.6,
  csrf: (document.querySelector('meta[name="csrf-token"]') || {}).content || "",

  // fetch + JSON; a change carries the CSRF token; a lost session goes back to the login page.
  async api(path, options = {}) {
    const headers = Object.assign({ "Accept": "application/json" }, options.headers || {});
    if (options.method && options.method !== "GET") headers["X-CSRF-Token"] = ef.csrf;
    if (options.json !== undefined) {
      headers["Content-Type"] = "application/json";
      options = Object.assign({}, options, { body: JSON.stringify(options.json) });
    }
    const response = await fetch(path, Object.assign({ credentials: "same-origin" }, options, { headers }));
    if (response.status === 401) {
      location.href = "/login?next=" + encodeURIComponent(location.pathname + location.search);
      throw new Error("logged out");
    }
    const body = await response.json().catch(() => ({}));
    if (!response.ok) {
      // The API's hints are written for scripts; one that names an API call means nothing to an operator.
      const hint = body.hint && !/\/api\/|\b(GET|POST|PATCH|DELETE) \/|curl /.test(body.hint) ? body.hint : "";
      const error = new Error(body.error ? body.error + (hint ? " — " + hint : "") : response.statusText);
      error.status = response.status;
      throw error;
    }
    return body;
  },

  el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "class") node.className = v; else node.setAttribute(k, v === true ? "" : v);
    }
    for (const c of children) if (c !== null && c !== undefined) node.append(c);
    return node;
  },

  // An error where the page shows them (an element with role=alert), or cleared with null.
  showError(err, id = "load-error") {
    const out = document.getElementById(id);
    if (!out) return;
    out.hidden = !err;
    out.textContent = err ? (err.message || String(err)) : "";
  },

  time(epoch) { return epoch == null ? "—" : new Date(epoch * 1000).toLocaleString(); },
  clock(epoch) { return epoch == null ? "—" : new Date(epoch * 1000).toLocaleTimeString(); },
  duration(s) {
    if (s == null) return "—";
    if (s < 60) return s.toFixed(1) + " s";
    const m = Math.floor(s / 60);
    return m < 60 ? `${m} min ${Math.round(s % 60)} s` : `${Math.floor(m / 60)} h ${m % 60} min`;
  },
  distance(d) { return d == null ? "—" : d.toFixed(2); },
  // A distance in words, as edgeface/history/review.py:match_words says it (the zip's CSV too).
  match(d, unknown = false) {
    if (d == null) return "not measured";
    if (unknown || d > ef.tolerance) return "like nobody known";
    return d <= 0.75 * ef.tolerance ? "close match" : "weak match";
  },
  // The same with what it means, for an event's facts.
  matchExplained(d, unknown = false) {
    if (d == null) return "not measured";
    const limit = ef.tolerance.toFixed(2);
    return `${ef.match(d, unknown)} (face distance ${d.toFixed(2)}: 0 is the same face; `
      + `below ${limit} a face is named, lower is surer)`;
  },
  cameraName(cam) { return cam.name || cam.id; },
  // Who an event is about, as shown: a name, "Unknown" (or a repeat stranger's "Unknown 17"),
  // or "Unknown — labelled Jane Doe".
  who(ev) {
    if (!ev.unknown && ev.name !== "Unknown") return ev.name;
    const unknown = ev.stranger ? "Unknown " + ev.stranger : "Unknown";
    return ev.label ? unknown + " — labelled " + ev.label : unknown;
  },
  // A name only this site's corrections know: shown until a model version knows it.
  localTag() {
    return ef.el("span", { class: "tag local", title: "named by a correction made at this site; "
      + "no model version knows this name yet" }, "local");
  },
  isUnknown(ev) { return ev.unknown === true || ev.name === "Unknown"; },
  eventUrl(ev) { return "/events/" + encodeURIComponent(ev.id); },

  // One line of a timeline: thumbnail, who, where, when, how long, how sure, still here, reviewed.
  eventItem(ev, compact = false) {
    const unknown = ef.isUnknown(ev);
    const thumb = ev.snapshot_url
      ? ef.el("img", { class: "thumb", alt: "face of " + ef.who(ev), loading: "lazy", src: ev.snapshot_url })
      : ef.el("span", { class: "thumb none", "aria-hidden": "true" }, "?");
    const match = ef.match(ev.distance, unknown);
    const meta = compact
      ? `${ev.camera_name || ev.camera} · ${ef.clock(ev.started_at ?? ev.time)} · ${match}`
      : `${ev.camera_name || ev.camera} · ${ef.time(ev.started_at ?? ev.time)} · ${ef.duration(ev.duration_s)}`
        + ` · ${match} · model ${ev.model_version || "—"}`;
    const tags = ef.el("span", { class: "tags" },
      ev.local ? ef.localTag() : null,
      ev.still_here ? ef.el("span", { class: "tag here" }, "still here") : null,
      !compact && ev.reviewed ? ef.el("span", { class: "tag reviewed" }, "reviewed") : null);
    return ef.el("li", { class: "event " + (unknown ? "unknown" : "known"), "data-event": ev.id },
      ef.el("a", { href: ef.eventUrl(ev), class: "event-link" }, thumb,
        ef.el("div", {}, ef.el("strong", { class: "name" }, ef.who(ev)), " ", tags,
          ef.el("div", { class: "meta" }, meta))));
  },

  // The names the current model knows, into a <datalist> (for the name filter and labelling).
  async fillNames(listId = "known-names") {
    const list = document.getElementById(listId);
    if (!list) return;
    const model = await ef.api("/api/v1/model");
    list.replaceChildren(...(model.identities || []).map((n) => ef.el("option", { value: n })));
  },

  // The operators' camera groups into a <select> (its data-value chosen); its label shown only when there are groups.
  fillGroups(select, cameras, shown) {
    const chosen = select.dataset.value || "";
    const groups = [...new Set(cameras.map((c) => c.group).filter(Boolean).concat(chosen ? [chosen] : []))].sort();
    select.replaceChildren(ef.el("option", { value: "" }, "all"),
      ...groups.map((g) => ef.el("option", { value: g, selected: g === chosen }, g)));
    shown.hidden = groups.length === 0;
    return groups;
  },

  // Label/value pairs into a <dl>, one <div> per pair (so a label never wraps away from its value).
  facts(dl, pairs) {
    dl.replaceChildren(...pairs.map(([k, v]) => ef.el("div", {}, ef.el("dt", {}, k), ef.el("dd", {}, v))));
  },

  every(fn, ms = POLL_MS) { fn(); return setInterval(fn, ms); },
};

// The page's one event stream (/live/marks): alerts on every page; the live pages' faces too
// (overlay.js opens it with them). EventSource opens it again by itself when it ends.
const efStream = {
  source: null,
  open(faces) {
    if (this.source) return this.source;
    this.source = new EventSource(faces ? "/live/marks" : "/live/marks?cameras=");
    this.source.addEventListener("alert", (e) => showAlert(JSON.parse(e.data)));
    return this.source;
  },
};

const ALERT_SHOWN_MS = 60000;   // a notification stays this long unless dismissed
const ALERTS_SHOWN = 5;         // at most this many at once, newest first

// A notification: who, where, when, with a link to the camera; dismissed by its button.
function showAlert(alert) {
  const box = document.getElementById("alert-toasts");
  if (!box) return;
  const who = alert.unknown ? "An unknown face" : alert.name;
  const close = ef.el("button", { type: "button", class: "dismiss", "aria-label": "dismiss alert" }, "×");
  const toast = ef.el("div", { class: "alert-toast" + (alert.unknown ? " unknown" : ""), role: "alert",
    "data-rule": alert.rule, "data-name": alert.name },
    ef.el("strong", {}, "Alert: "), who + " on ",
    ef.el("a", { href: "/cameras/" + encodeURIComponent(alert.camera) }, alert.camera_name || alert.camera),
    " at " + ef.clock(alert.seen_at), close);
  close.addEventListener("click", () => toast.remove());
  box.prepend(toast);
  while (box.children.length > ALERTS_SHOWN) box.lastChild.remove();
  setTimeout(() => toast.remove(), ALERT_SHOWN_MS);
}

// Pages without live pictures take only the alerts (the live pages open the stream with faces).
if (ef.page && ef.page !== "grid" && ef.page !== "camera") efStream.open(false);

async function refreshModel() {
  try {
    const model = await ef.api("/api/v1/model");
    document.querySelector("#model-version strong").textContent = model.version || "not loaded";
    document.getElementById("model-error").textContent = model.last_error || "";
  } catch (err) {
    console.warn("model status:", err.message);
  }
}

if (document.getElementById("model-version")) setInterval(refreshModel, POLL_MS * 5);
