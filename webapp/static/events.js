// The events timeline (filters = the API's query parameters, kept in the URL), one event (the
// whole frame with the face boxed), and the Unknown faces queue with "this is …" labelling.
"use strict";

const PAGE_SIZE = 50;

// Epoch seconds or ISO 8601 (as the API takes them) -> the value of a datetime-local input.
function toLocalInput(value) {
  if (!value) return "";
  const t = /^-?\d+(\.\d+)?$/.test(value) ? Number(value) * 1000 : Date.parse(value);
  if (!Number.isFinite(t)) return "";
  const d = new Date(t - new Date(t).getTimezoneOffset() * 60000);
  return d.toISOString().slice(0, 19);
}

// A paged list: fetches `path` + cursor, appends items, shows "older" while there are more.
function pager(path, list, render, empty) {
  const more = document.getElementById("more");
  let cursor = null;
  async function load() {
    try {
      const sep = path.includes("?") ? "&" : "?";
      const page = await ef.api(path + sep + "limit=" + PAGE_SIZE + (cursor ? "&cursor=" + encodeURIComponent(cursor) : ""));
      list.append(...page.events.map(render));
      cursor = page.next_cursor || null;
      more.hidden = !cursor;
      empty.hidden = list.children.length > 0;
      ef.showError(null);
    } catch (err) { ef.showError(err); }
  }
  more.addEventListener("click", load);
  return load;
}

// -- /events -------------------------------------------------------------------------------------
async function initTimeline() {
  const form = document.getElementById("filters");
  const since = document.getElementById("f-since"), until = document.getElementById("f-until");
  since.value = toLocalInput(since.dataset.value);
  until.value = toLocalInput(until.dataset.value);
  form.addEventListener("submit", (e) => {
    // The URL keeps only the filters in use; times as epoch seconds (the inputs are local time).
    e.preventDefault();
    form.elements.since.value = since.value ? String(Date.parse(since.value) / 1000) : "";
    form.elements.until.value = until.value ? String(Date.parse(until.value) / 1000) : "";
    const params = new URLSearchParams();
    for (const [k, v] of new FormData(form)) if (v !== "") params.set(k, v);
    location.search = params.toString();
  });
  const query = new URLSearchParams(location.search);
  query.delete("limit"); query.delete("cursor");
  const list = document.getElementById("timeline");
  await pager("/api/v1/events" + (query.toString() ? "?" + query : ""), list, pickable,
              document.getElementById("timeline-empty"))();
  wireBulk(list);
  try {
    const select = document.getElementById("f-camera");
    const chosen = select.dataset.value;
    const cameras = (await ef.api("/api/v1/cameras")).cameras;
    select.replaceChildren(ef.el("option", { value: "" }, "all"),
      ...cameras.map((c) => ef.el("option", { value: c.id, selected: c.id === chosen }, ef.cameraName(c))));
    if (chosen && !cameras.some((c) => c.id === chosen)) select.append(ef.el("option", { value: chosen, selected: true }, chosen));
    ef.fillGroups(document.getElementById("f-group"), cameras, document.getElementById("group-label"));
    await ef.fillNames();
  } catch (err) { ef.showError(err); }
}

// -- bulk: reviewed, delete, download ---------------------------------------------------------
// A timeline line with a box to pick it; the bulk buttons act on the picked ones, or on all shown.
function pickable(ev) {
  const item = ef.eventItem(ev);
  item.prepend(ef.el("input", { type: "checkbox", class: "pick", value: ev.id,
    "aria-label": `select ${ef.who(ev)}, ${ef.time(ev.started_at ?? ev.time)}` }));
  return item;
}

function wireBulk(list) {
  const bar = document.getElementById("bulk"), all = document.getElementById("select-all");
  const out = document.getElementById("bulk-result"), count = document.getElementById("bulk-count");
  const boxes = () => [...list.querySelectorAll("input.pick")];
  const chosen = () => { const b = boxes(), c = b.filter((x) => x.checked); return c.length ? c : b; };
  const update = () => {
    const n = boxes().length, picked = boxes().filter((x) => x.checked).length;
    bar.hidden = n === 0;
    count.textContent = picked ? `${picked} selected` : `none selected: the buttons act on all ${n} shown`;
    all.checked = n > 0 && picked === n;
  };
  new MutationObserver(update).observe(list, { childList: true });
  list.addEventListener("change", update);
  all.addEventListener("change", () => { boxes().forEach((b) => { b.checked = all.checked; }); update(); });
  const say = (text, ok = true) => { out.className = ok ? "ok" : "form-error"; out.textContent = text; };
  const mark = (reviewed) => async () => {
    const picked = chosen();
    try {
      const done = await ef.api("/api/v1/events/review", { method: "POST",
        json: { ids: picked.map((b) => b.value), reviewed } });
      for (const box of picked) {
        const tags = box.closest("li").querySelector(".tags");
        tags.querySelectorAll(".reviewed").forEach((t) => t.remove());
        if (reviewed) tags.append(ef.el("span", { class: "tag reviewed" }, "reviewed"));
      }
      say(`${done.marked} marked ${reviewed ? "reviewed" : "not reviewed"}.`);
    } catch (err) { say(err.message, false); }
  };
  const wire = (id, fn) => { const b = document.getElementById(id); if (b) b.addEventListener("click", fn); };
  wire("bulk-reviewed", mark(true));
  wire("bulk-unreviewed", mark(false));
  wire("bulk-delete", async () => {
    const picked = chosen();
    if (!confirm(`Delete ${picked.length} events and their pictures? This cannot be undone.`)) return;
    try {
      const done = await ef.api("/api/v1/events/delete", { method: "POST", json: { ids: picked.map((b) => b.value) } });
      picked.forEach((b) => b.closest("li").remove());
      say(`Deleted ${done.deleted} events.`);
    } catch (err) { say(err.message, false); }
  });
  wire("bulk-export", async () => {
    const picked = chosen();
    try {
      const response = await fetch("/api/v1/events/export.zip?ids=" + picked.map((b) => encodeURIComponent(b.value)).join(","),
                                   { credentials: "same-origin" });
      if (!response.ok) throw new Error((await response.json().catch(() => ({}))).error || response.statusText);
      const link = ef.el("a", { href: URL.createObjectURL(await response.blob()),
        download: (response.headers.get("Content-Disposition") || "").match(/filename="([^"]+)"/)?.[1] || "events.zip" });
      document.body.append(link); link.click(); link.remove();
      setTimeout(() => URL.revokeObjectURL(link.href), 10000);
      say(`Downloaded ${picked.length} events: a spreadsheet (visits.csv) and their faces.`);
    } catch (err) { say(err.message, false); }
  });
  update();
}

// -- "this is …", "not …" ----------------------------------------------------------------------------
function labelled(ev) {
  return ef.el("p", { class: "labelled" }, `Labelled “${ev.label}”` + (ev.labelled_by_role ? ` by ${ev.labelled_by_role}` : "")
    + " — named so here at once (local), and a training candidate for the next model.");
}

// A "This is [name] [button]" form; ``send(name)`` does it, ``done(name, answer)`` shows what changed.
function nameForm(id, button, send, done) {
  const input = ef.el("input", { id, name: "name", list: "known-names", required: true, placeholder: "Jane Doe",
    autocomplete: "off" });
  const error = ef.el("span", { class: "form-error", role: "alert" });
  const form = ef.el("form", { class: "label-form" }, ef.el("label", { for: id }, "This is "), input,
    ef.el("button", { type: "submit" }, button), error);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const name = input.value.trim();
    try { done(name, await send(name)); } catch (err) { error.textContent = err.message; }
  });
  return form;
}

const labelVisit = (ev) => (name) => ef.api(`/api/v1/events/${encodeURIComponent(ev.id)}/label`,
  { method: "POST", json: { name } });

// The labelling form for an Unknown event (admin), or what was said about it; replaced in place.
function labelArea(ev) {
  if (ev.label) return labelled(ev);
  if (!ef.canChange) return ef.el("p", { class: "hint" }, "Not labelled yet.");
  const form = nameForm("label-" + ev.id, "Label", labelVisit(ev),
    (name, done) => form.replaceWith(labelled(Object.assign({}, ev, { label: name }, done.event || done))));
  return form;
}

// A named visit (admin): "this is not X" (that face is Unknown here from now on; X's other faces
// are still named), or "this is someone else" (the face joins that person here).
function correctArea(ev) {
  const out = ef.el("p", { class: "said", role: "status" });
  const not = ef.el("button", { type: "button", id: "not-this" }, `Not ${ev.name}`);
  not.addEventListener("click", async () => {
    try {
      await ef.api(`/api/v1/events/${encodeURIComponent(ev.id)}/not`, { method: "POST", json: {} });
      out.className = "said ok";
      out.textContent = `Said: not ${ev.name}. From now on this face is Unknown here (a local correction); `
        + `${ev.name}'s other faces are still named.`;
      not.disabled = true;
    } catch (err) { out.className = "form-error"; out.textContent = err.message; }
  });
  const other = nameForm("label-" + ev.id, "Correct", labelVisit(ev), (name) => {
    out.className = "said ok";
    out.textContent = `Said: this is ${name}. Faces like it are named ${name} here from now on (local).`;
  });
  return ef.el("div", { class: "corrections" }, ef.el("p", { class: "hint" }, "Wrong name?"), not, other, out);
}

// -- /unknown: repeat strangers, then every Unknown visit ------------------------------------------------
function strangerCard(g, groups) {
  const faces = ef.el("div", { class: "faces" }, ...g.faces.filter((f) => f.snapshot_url).map((f) => ef.el("a", { href: ef.eventUrl(f) },
    ef.el("img", { alt: `a face of ${g.label}, ${f.camera_name || f.camera} at ${ef.time(f.started_at)}`,
      loading: "lazy", src: f.snapshot_url }))));
  const times = g.visits === 1 ? "once" : `${g.visits} times`;
  const parts = [ef.el("h3", {}, g.label, g.name ? ` — named ${g.name}` : ""), faces,
    ef.el("p", { class: "meta" }, `Seen ${times} on ${g.camera_names.join(", ")} · first ${ef.time(g.first_seen)}`
      + ` · last ${ef.time(g.last_seen)}`)];
  const item = ef.el("li", { class: "group" + (g.name ? " named" : ""), id: "stranger-" + g.id, "data-stranger": g.id });
  if (ef.canChange && !g.name) {
    const say = ef.el("p", { class: "said", role: "status" });
    parts.push(nameForm("stranger-name-" + g.id, "Name all",
      (name) => ef.api(`/api/v1/strangers/${g.id}/label`, { method: "POST", json: { name } }),
      (name, done) => {
        say.className = "said ok";
        say.textContent = `Named ${name}: ${done.labelled} visits labelled; faces like these are named ${name} `
          + "here from now on (local) and sent for the next model.";
        item.classList.add("named");
      }), say);
    const others = groups.filter((o) => o.id !== g.id);
    if (others.length) parts.push(mergeForm(g, others, say));
  }
  item.append(...parts);
  return item;
}

// "Same person as Unknown N": the group's visits join that one.
function mergeForm(g, others, say) {
  const id = "merge-" + g.id;
  const select = ef.el("select", { id, name: "into" }, ...others.map((o) => ef.el("option", { value: o.id }, o.label)));
  const form = ef.el("form", { class: "label-form" }, ef.el("label", { for: id }, "Same person as "), select,
    ef.el("button", { type: "submit" }, "Merge"));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    try {
      await ef.api(`/api/v1/strangers/${g.id}/merge`, { method: "POST", json: { into: Number(select.value) } });
      await loadStrangers();
    } catch (err) { say.className = "form-error"; say.textContent = err.message; }
  });
  return form;
}

async function loadStrangers() {
  const groups = (await ef.api("/api/v1/strangers")).strangers;
  document.getElementById("stranger-list").replaceChildren(...groups.map((g) => strangerCard(g, groups)));
  document.getElementById("strangers-empty").hidden = groups.length > 0;
}

function unknownCard(ev) {
  const face = ev.snapshot_url ? ef.el("img", { class: "face", alt: ef.who(ev) + " face", loading: "lazy", src: ev.snapshot_url })
                               : ef.el("span", { class: "face none" }, "no picture");
  return ef.el("li", { class: "card" + (ev.label ? " done" : ""), "data-event": ev.id },
    ef.el("a", { href: ef.eventUrl(ev), "aria-label": "event details" }, face),
    ef.el("div", { class: "meta" }, `${ef.who(ev)} · ${ev.camera_name || ev.camera} · ${ef.time(ev.started_at ?? ev.time)} · `
      + ef.duration(ev.duration_s)),
    labelArea(ev));
}

async function initUnknown() {
  try { await loadStrangers(); } catch (err) { ef.showError(err); }
  await pager("/api/v1/events?unknown=true", document.getElementById("unknown-list"), unknownCard,
              document.getElementById("unknown-empty"))();
  if (ef.canChange) ef.fillNames().catch((err) => ef.showError(err));
}

// -- /events/<id> --------------------------------------------------------------------------------
// The face box over the whole frame: an SVG in the frame's own pixels, scaled with the image.
function boxFace(img, box) {
  const svg = document.getElementById("event-box");
  const [top, right, bottom, left] = box;
  svg.setAttribute("viewBox", `0 0 ${img.naturalWidth} ${img.naturalHeight}`);
  const rect = svg.querySelector("rect");
  for (const [k, v] of Object.entries({ x: left, y: top, width: right - left, height: bottom - top })) rect.setAttribute(k, v);
  svg.hidden = false;
}

async function initEvent() {
  const id = document.getElementById("event-section").dataset.event;
  let ev;
  try {
    ev = await ef.api("/api/v1/events/" + encodeURIComponent(id));
  } catch (err) {
    document.getElementById("event-title").textContent = err.status === 404 ? "No such event" : "Event";
    ef.showError(err.status === 404
      ? new Error("no such event: it may have aged out or been deleted. The events page lists what is kept.") : err);
    return;
  }
  const unknown = ef.isUnknown(ev);
  const title = document.getElementById("event-title");
  title.textContent = ef.who(ev);
  title.className = unknown ? "unknown" : "known";
  document.title = ef.who(ev) + " · edgeface";
  const frame = document.getElementById("event-frame"), face = document.getElementById("event-face");
  document.getElementById("event-box").hidden = true;
  if (ev.frame_url) {
    frame.addEventListener("load", () => { if (ev.box) boxFace(frame, ev.box); });
    frame.src = ev.frame_url;
  } else {
    frame.hidden = true;
    document.getElementById("frame-caption").textContent = "No context frame was kept for this event.";
  }
  if (ev.snapshot_url) face.src = ev.snapshot_url; else face.hidden = true;
  showClips(ev.clips || []);
  const camera = ef.el("a", { href: "/cameras/" + encodeURIComponent(ev.camera) }, ev.camera_name || ev.camera);
  const person = unknown ? null : ef.el("span", {}, ef.el("a", { href: "/people/" + encodeURIComponent(ev.name) }, ev.name),
    ev.local ? ef.localTag() : null);
  const tracks = (ev.tracks || [ev.track]).length;
  const versions = ev.model_versions || [];
  const model = (ev.model_version || "—") + (versions.length > 1
    ? ` (named it; after a model reload during the visit ${versions.slice(1).join(", ")} named it too)` : "");
  const facts = [["Who", person || ef.who(ev)], ["Camera", camera], ["First seen", ef.time(ev.started_at ?? ev.time)],
    ["Last seen", ev.still_here ? ef.el("span", {}, ef.time(ev.last_seen), " ", ef.el("span", { class: "tag here" }, "still here"))
                                : ef.time(ev.last_seen)],
    ["Duration", ef.duration(ev.duration_s)],
    ["Best match", ef.matchExplained(ev.distance, unknown)], ["Model version", model],
    ["Face picked up", tracks === 1 ? "once" : `${tracks} times (lost from view and found again in between)`],
    ["Reviewed", ev.reviewed ? `yes, by ${ev.reviewed_by_role || "an operator"} at ${ef.time(ev.reviewed_at)}` : "not yet"]];
  if (ev.stranger) facts.splice(1, 0, ["Repeat stranger", ef.el("a", { href: "/unknown#stranger-" + ev.stranger },
    `Unknown ${ev.stranger}: all its visits`)]);
  ef.facts(document.getElementById("event-facts"), facts);
  const area = unknown ? labelArea(ev) : ef.canChange ? correctArea(ev) : null;
  if (area) {
    document.getElementById("label-area").replaceChildren(ef.el("datalist", { id: "known-names" }), area);
    if (ef.canChange && !ev.label) ef.fillNames().catch((err) => ef.showError(err));
  }
  wireReview(ev);
  document.getElementById("event-body").hidden = false;
}

// A visit's clips: its arrival and, after a stay longer than a clip, its departure.
function showClips(clips) {
  const area = document.getElementById("clip-area");
  if (!clips.length) { document.getElementById("clip-none").hidden = false; return; }
  const shown = clips.length > 1 ? [clips[0], clips[clips.length - 1]] : clips;
  shown.forEach((clip, i) => {
    const video = ef.el("video", { controls: "", preload: "metadata", playsinline: "", src: clip.url,
      class: "clip", "aria-label": i ? "departure clip" : "clip of the visit" });
    const caption = `${shown.length > 1 ? (i ? "Leaving: " : "Arriving: ") : ""}${ef.time(clip.started_at)}, ` +
      `${ef.duration(clip.duration_s)}`;
    area.append(ef.el("figure", {}, video, ef.el("figcaption", {}, caption)));
  });
}

// The admin marks this one event reviewed (or not); the facts say so at once.
function wireReview(ev) {
  const button = document.getElementById("review-toggle");
  if (!button) return;
  let reviewed = ev.reviewed;
  const show = () => { button.textContent = reviewed ? "Mark not reviewed" : "Mark reviewed"; button.hidden = false; };
  button.addEventListener("click", async () => {
    const out = document.getElementById("review-result");
    try {
      await ef.api("/api/v1/events/review", { method: "POST", json: { ids: [ev.id], reviewed: !reviewed } });
      reviewed = !reviewed;
      const fact = [...document.querySelectorAll("#event-facts dt")].find((dt) => dt.textContent === "Reviewed");
      if (fact) fact.nextElementSibling.textContent = reviewed ? "yes, just now" : "not yet";
      out.className = "ok"; out.textContent = "Saved."; show();
    } catch (err) { out.className = "form-error"; out.textContent = err.message; }
  });
  show();
}

if (ef.page === "events") initTimeline();
if (ef.page === "unknown") initUnknown();
if (ef.page === "event") initEvent();
