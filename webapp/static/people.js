// The face library (who the model knows) and one person's page (when and where they were seen).
"use strict";

const personUrl = (name) => "/people/" + encodeURIComponent(name);
// How many enrolment images: ``image_count``, else the length of the ``images`` list (or the number).
const imageCount = (p) => String(p.image_count ?? (Array.isArray(p.images) ? p.images.length : p.images ?? "—"));

// Which model version knows a person, and what only this site's corrections add.
function knownTo(p, version) {
  if (p.known_to_model === false) return ef.el("span", {}, "this site only ", ef.localTag());
  return ef.el("span", {}, "model " + (version || "—"), p.local ? ` + ${p.local} local example${p.local === 1 ? "" : "s"}` : "");
}

async function initPeople() {
  try {
    const [people, model] = await Promise.all([ef.api("/api/v1/people"), ef.api("/api/v1/model")]);
    const rows = people.map((p) => ef.el("tr", { "data-name": p.name },
      ef.el("th", { scope: "row" }, ef.el("a", { href: personUrl(p.name) }, p.name)),
      ef.el("td", { "data-label": "Enrolment images" }, imageCount(p)),
      ef.el("td", { "data-label": "Known to" }, knownTo(p, model.version)),
      ef.el("td", { "data-label": "Visits" }, String(p.visits ?? 0)),
      ef.el("td", { "data-label": "Last seen" }, ef.time(p.last_seen))));
    document.getElementById("people-rows").replaceChildren(...rows);
    document.getElementById("people-table").hidden = !people.length;
    document.getElementById("people-empty").hidden = people.length > 0;
    await loadCorrections();
    const groups = (await ef.api("/api/v1/strangers?limit=6")).strangers.filter((g) => g.visits > 1 && !g.name);
    document.getElementById("stranger-list").replaceChildren(...groups.map((g) => ef.el("li", { class: "group" },
      ef.el("a", { href: "/unknown#stranger-" + g.id }, ef.el("strong", {}, g.label)),
      ef.el("div", { class: "faces" }, ...g.faces.filter((f) => f.snapshot_url).map((f) => ef.el("img",
        { alt: "a face of " + g.label, loading: "lazy", src: f.snapshot_url }))),
      ef.el("p", { class: "meta" }, `Seen ${g.visits} times on ${g.camera_names.join(", ")}, last ${ef.time(g.last_seen)}`))));
    document.getElementById("strangers-section").hidden = groups.length === 0;
  } catch (err) { ef.showError(err); }
}

// What the site's corrections say now (until a model version holds them); the admin may undo one.
const SAID = { is: (c) => `this is ${c.name}`, not: (c) => `not ${c.name}`, drop: (c) => `photo is not ${c.name}` };

async function loadCorrections() {
  const listed = (await ef.api("/api/v1/corrections")).corrections;
  const rows = listed.map((c) => {
    const about = c.kind === "drop" ? ef.el("span", {}, c.source)
      : ef.el("a", { href: "/events/" + encodeURIComponent(c.source) }, "the visit");
    const cells = [ef.el("th", { scope: "row" }, SAID[c.kind] ? SAID[c.kind](c) : c.kind),
      ef.el("td", { "data-label": "About" }, about), ef.el("td", { "data-label": "When" }, ef.time(c.added_at)),
      ef.el("td", { "data-label": "By" }, c.by || "—")];
    if (ef.canChange) {
      const undo = ef.el("button", { type: "button", "aria-label": `undo: ${SAID[c.kind] ? SAID[c.kind](c) : c.kind}` }, "Undo");
      undo.addEventListener("click", async () => {
        try {
          await ef.api("/api/v1/corrections/" + encodeURIComponent(c.id), { method: "DELETE" });
          await loadCorrections();
        } catch (err) { ef.showError(err); }
      });
      cells.push(ef.el("td", {}, undo));
    }
    return ef.el("tr", { "data-correction": c.id }, ...cells);
  });
  document.getElementById("correction-rows").replaceChildren(...rows);
  document.getElementById("corrections-section").hidden = rows.length === 0;
}

// The model's enrolment photos of a person (the images where this site has the training folder);
// the admin leaves a wrong one out here ("not NAME"), or takes that back.
async function loadPhotos(name) {
  const listed = await ef.api("/api/v1/people/" + encodeURIComponent(name) + "/photos");
  const out = document.getElementById("photos-result");
  const act = (fn) => async () => {
    try { await fn(); await loadPhotos(name); } catch (err) { out.className = "form-error"; out.textContent = err.message; }
  };
  const items = listed.photos.map((p) => {
    const label = p.file || `photo ${p.row}`;
    const picture = p.image_url ? ef.el("img", { alt: `enrolment photo ${label}`, loading: "lazy", src: p.image_url })
                                : ef.el("span", { class: "none" }, "no copy at this site");
    const parts = [picture, ef.el("span", {}, label)];
    if (p.dropped) parts.push(ef.el("span", {}, "left out here ", ef.localTag()));
    if (ef.canChange) {
      const button = p.dropped
        ? ef.el("button", { type: "button" }, "Use it again")
        : ef.el("button", { type: "button", class: "danger", "aria-label": `${label} is not ${name}` }, `Not ${name}`);
      button.addEventListener("click", act(() => p.dropped
        ? ef.api("/api/v1/corrections/" + encodeURIComponent(p.dropped), { method: "DELETE" })
        : ef.api(`/api/v1/people/${encodeURIComponent(name)}/photos/${p.row}`, { method: "DELETE" })));
      parts.push(button);
    }
    return ef.el("li", { class: "photo" + (p.dropped ? " dropped" : ""), "data-row": p.row }, ...parts);
  });
  document.getElementById("photos").replaceChildren(...items);
  const copies = listed.photos.filter((p) => p.image_url).length;
  document.getElementById("photos-hint").textContent = `${listed.photos.length} photo${listed.photos.length === 1 ? "" : "s"} in model ${listed.model || "—"}`
    + (copies < listed.photos.length ? "; pictures shown where this site has the training folder" : "")
    + ". A photo left out here stays out until a model version without it comes; remove it from the training "
    + "folder for the next one.";
  document.getElementById("photos-section").hidden = false;
}

// One of the person's recent visits: its best face, how near it was to their photos, and (admin,
// for a face named so by the model) "Not NAME": that face is Unknown here from then on.
function recentShot(ev, name) {
  const item = ef.eventItem(ev);
  if (ef.isUnknown(ev) || ev.name !== name) return item;
  const out = ef.el("span", { class: "said", role: "status" });
  const line = ef.el("div", { class: "meta" }, `face distance ${ef.distance(ev.distance)} `, out);
  if (ef.canChange) {
    const not = ef.el("button", { type: "button", "aria-label": `this face is not ${name}` }, `Not ${name}`);
    not.addEventListener("click", async () => {
      try {
        await ef.api(`/api/v1/events/${encodeURIComponent(ev.id)}/not`, { method: "POST", json: {} });
        out.textContent = `said: not ${name} (Unknown here from now on)`;
        not.disabled = true;
      } catch (err) { out.className = "form-error"; out.textContent = err.message; }
    });
    line.prepend(not, " ");
  }
  item.append(line);
  return item;
}

async function initPerson() {
  const name = document.getElementById("person-section").dataset.name;
  try {
    const p = await ef.api("/api/v1/people/" + encodeURIComponent(name));
    document.getElementById("person-title").textContent = p.name;   // as spelled, whatever the link's case
    const files = Array.isArray(p.images) ? p.images.map((i) => i.file).filter(Boolean) : [];
    const facts = p.known_to_model === false
      ? [["Known to the model", ef.el("span", {}, "not yet: operators labelled Unknown faces with this name (training "
          + "candidates for the next model)", p.local ? ef.el("span", {}, "; named here by their faces ", ef.localTag())
          : null)], ["Visits", String(p.visits ?? 0)], ["Last seen", ef.time(p.last_seen)]]
      : [["Enrolment images", imageCount(p) + (files.length ? " (" + files.join(", ") + ")" : "")],
         ["Visits", String(p.visits ?? 0)], ["Last seen", ef.time(p.last_seen)]];
    ef.facts(document.getElementById("person-facts"), facts);
    const cams = p.cameras || [];
    const table = document.getElementById("person-cameras");
    table.tBodies[0].replaceChildren(...cams.map((c) => ef.el("tr", {},
      ef.el("th", { scope: "row" }, ef.el("a", { href: "/events?camera=" + encodeURIComponent(c.camera) + "&name="
        + encodeURIComponent(name) }, c.camera_name || c.camera)),
      ef.el("td", { "data-label": "Visits" }, String(c.visits)),
      ef.el("td", { "data-label": "Last seen" }, ef.time(c.last_seen)))));
    table.hidden = !cams.length;
    document.getElementById("cameras-empty").hidden = cams.length > 0;
    if (p.known_to_model !== false) await loadPhotos(p.name);
    const events = (await ef.api("/api/v1/events?limit=20&name=" + encodeURIComponent(name))).events;
    document.getElementById("timeline").replaceChildren(...events.map((ev) => recentShot(ev, p.name)));
  } catch (err) {
    ef.showError(err.status === 404 ? new Error(`Nobody called “${name}”: the model in use does not know the name `
      + "and no event is labelled so. The events page finds names by their start.") : err);
  }
  const del = document.getElementById("delete-history");
  if (del) del.addEventListener("click", async () => {
    if (!confirm(`Delete every event and picture of ${name}? This cannot be undone.`)) return;
    const out = document.getElementById("delete-result");
    try {
      const done = await ef.api("/api/v1/people/" + encodeURIComponent(name) + "/history", { method: "DELETE" });
      out.textContent = `Deleted ${done.deleted ?? done.count ?? 0} events.`;
      document.getElementById("timeline").replaceChildren();
    } catch (err) { out.textContent = err.message; }
  });
}

if (ef.page === "people") initPeople();
if (ef.page === "person") initPerson();
