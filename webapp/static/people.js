// The face library (who the model knows) and one person's page (when and where they were seen).
"use strict";

const personUrl = (name) => "/people/" + encodeURIComponent(name);
// How many enrolment images: ``image_count``, else the length of the ``images`` list (or the number).
const imageCount = (p) => String(p.image_count ?? (Array.isArray(p.images) ? p.images.length : p.images ?? "—"));

async function initPeople() {
  try {
    const people = await ef.api("/api/v1/people");
    const rows = people.map((p) => ef.el("tr", { "data-name": p.name },
      ef.el("th", { scope: "row" }, ef.el("a", { href: personUrl(p.name) }, p.name)),
      ef.el("td", { "data-label": "Enrolment images" }, imageCount(p)),
      ef.el("td", { "data-label": "Visits" }, String(p.visits ?? 0)),
      ef.el("td", { "data-label": "Last seen" }, ef.time(p.last_seen))));
    document.getElementById("people-rows").replaceChildren(...rows);
    document.getElementById("people-table").hidden = !people.length;
    document.getElementById("people-empty").hidden = people.length > 0;
  } catch (err) { ef.showError(err); }
}

async function initPerson() {
  const name = document.getElementById("person-section").dataset.name;
  try {
    const p = await ef.api("/api/v1/people/" + encodeURIComponent(name));
    document.getElementById("person-title").textContent = p.name;   // as spelled, whatever the link's case
    const files = Array.isArray(p.images) ? p.images.map((i) => i.file).filter(Boolean) : [];
    const facts = p.known_to_model === false
      ? [["Known to the model", "not yet: operators labelled Unknown faces with this name (training candidates "
          + "for the next model)"], ["Visits", String(p.visits ?? 0)], ["Last seen", ef.time(p.last_seen)]]
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
    const events = (await ef.api("/api/v1/events?limit=20&name=" + encodeURIComponent(name))).events;
    document.getElementById("timeline").replaceChildren(...events.map((ev) => ef.eventItem(ev)));
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
