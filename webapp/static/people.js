// The face library (who the model knows), one person's page (when and where they were seen) and the train
// tab (the library in one place, and what the next training would gain).
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

// The model's enrolment photos of a person (the images where this site has the training folder) into
// ``box`` (the _photos.html partial); the admin leaves a wrong one out here ("not NAME"), or takes that back.
async function loadPhotos(name, box) {
  const listed = await ef.api("/api/v1/people/" + encodeURIComponent(name) + "/photos");
  const out = box.querySelector(".photos-result");
  const act = (fn) => async () => {
    try { await fn(); await loadPhotos(name, box); } catch (err) { out.className = "photos-result form-error"; out.textContent = err.message; }
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
  box.querySelector("ol.photos").replaceChildren(...items);
  const copies = listed.photos.filter((p) => p.image_url).length;
  box.querySelector(".photos-hint").textContent = `${listed.photos.length} photo${listed.photos.length === 1 ? "" : "s"} in model ${listed.model || "—"}`
    + (copies < listed.photos.length ? "; pictures shown where this site has the training folder" : "")
    + ". A photo left out here stays out until a model version without it comes; remove it from the training "
    + "folder for the next one.";
  box.hidden = false;
}

// One of the person's recent visits: its best face, how near it was to their photos, and (admin, for a
// face named so) "Add to NAME" (the face joins NAME's photos here: a local example, and a labelled capture
// for the next model) or "Not NAME" (that face is Unknown here from then on).
function recentShot(ev, name) {
  const item = ef.eventItem(ev);
  if (ef.isUnknown(ev) || ev.name !== name) return item;
  const out = ef.el("span", { class: "said", role: "status" });
  const line = ef.el("div", { class: "meta" }, `face distance ${ef.distance(ev.distance)} `, out);
  if (ef.canChange) {
    const say = (button, path, json, said) => button.addEventListener("click", async () => {
      try {
        await ef.api(`/api/v1/events/${encodeURIComponent(ev.id)}/${path}`, { method: "POST", json });
        out.textContent = said;
        for (const b of line.querySelectorAll("button")) b.disabled = true;
      } catch (err) { out.className = "said form-error"; out.textContent = err.message; }
    });
    const add = ef.el("button", { type: "button", "aria-label": `add this face to ${name}` }, `Add to ${name}`);
    const not = ef.el("button", { type: "button", "aria-label": `this face is not ${name}` }, `Not ${name}`);
    say(add, "label", { name }, `said: this is ${name} (a local example here, and sent for the next model)`);
    say(not, "not", {}, `said: not ${name} (Unknown here from now on)`);
    add.disabled = ev.label === name;
    line.prepend(add, " ", not, " ");
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
    if (p.known_to_model !== false) await loadPhotos(p.name, document.querySelector("#person-section .photos-box"));
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

// -- /train: the face library in one place -----------------------------------------------------------
// What the site's corrections (not yet in a model version) would give the next training, per person.
function pendingByPerson(corrections) {
  const out = new Map();
  for (const c of corrections) {
    if (!out.has(c.name)) out.set(c.name, { is: 0, not: 0, drop: [] });
    const p = out.get(c.name);
    if (c.kind === "drop") p.drop.push(c.source); else if (c.kind in p) p[c.kind] += 1;
  }
  return out;
}

const plural = (n, word) => `${n} ${word}${n === 1 ? "" : "s"}`;

function showNextTraining(pending, version) {
  const rows = [...pending].map(([name, p]) => ef.el("tr", { "data-name": name },
    ef.el("th", { scope: "row" }, name),
    ef.el("td", { "data-label": "Labelled faces to learn" }, String(p.is)),
    ef.el("td", { "data-label": "Photos to take out" }, p.drop.length ? p.drop.join(", ") : "0"),
    ef.el("td", { "data-label": "“Not” (stays at this site)" }, String(p.not))));
  document.getElementById("next-rows").replaceChildren(...rows);
  document.getElementById("next-table").hidden = rows.length === 0;
  const sum = (f) => [...pending.values()].reduce((n, p) => n + f(p), 0);
  const learn = sum((p) => p.is), out = sum((p) => p.drop.length);
  document.getElementById("next-summary").textContent = rows.length === 0
    ? `Nothing waits: the model in use (${version || "none"}) holds everything said at this site.`
    : `${plural(learn, "labelled face")} to learn, ${plural(out, "photo")} to take out `
      + `(${rows.length === 1 ? "1 person" : rows.length + " people"}). A “not” cannot be trained: it stays here.`;
}

// One person: their name, which model version knows them and what is local; opened, their photos and
// recent best faces (fetched the first time it is opened).
function personCard(p, version, pending) {
  const card = document.getElementById("person-card").content.firstElementChild.cloneNode(true);
  card.dataset.name = p.name;
  card.querySelector(".name").textContent = p.name;
  card.querySelector(".known").append(knownTo(p, version));
  const waiting = pending.get(p.name);
  if (waiting) card.querySelector(".pending").textContent = " · waiting for the next training: "
    + [waiting.is && plural(waiting.is, "face"), waiting.drop.length && plural(waiting.drop.length, "photo") + " out",
       waiting.not && `${waiting.not} “not”`].filter(Boolean).join(", ");
  const link = card.querySelector(".person-link");
  link.href = personUrl(p.name);
  const details = card.querySelector("details");
  let loaded = false;
  details.addEventListener("toggle", async () => {
    if (!details.open || loaded) return;
    loaded = true;
    try {
      if (p.known_to_model !== false) await loadPhotos(p.name, card.querySelector(".photos-box"));
      const events = (await ef.api("/api/v1/events?limit=8&name=" + encodeURIComponent(p.name))).events
        .filter((ev) => ev.name === p.name);
      card.querySelector(".shots").replaceChildren(...events.map((ev) => recentShot(ev, p.name)));
      card.querySelector(".shots-empty").hidden = events.length > 0;
    } catch (err) { ef.showError(err); }
  });
  return card;
}

async function initTrain() {
  try {
    const [people, model, corrections] = await Promise.all([ef.api("/api/v1/people"), ef.api("/api/v1/model"),
      ef.api("/api/v1/corrections")]);
    const pending = pendingByPerson(corrections.corrections);
    showNextTraining(pending, model.version);
    document.getElementById("library").replaceChildren(...people.map((p) => personCard(p, model.version, pending)));
    document.getElementById("library-empty").hidden = people.length > 0;
    await loadCorrections();
    await loadStrangers();
    if (ef.canChange) await ef.fillNames();
  } catch (err) { ef.showError(err); }
}

if (ef.page === "people") initPeople();
if (ef.page === "person") initPerson();
if (ef.page === "train") initTrain();
