// Who is here now: one card per person (and per Unknown face) with an open visit, on which
// camera(s) since when, and where they were seen last elsewhere. Refreshed every few seconds.
"use strict";

function presenceCard(p) {
  const first = p.here[0];
  const face = first.snapshot_url
    ? ef.el("img", { class: "thumb", alt: "face of " + p.name, src: first.snapshot_url })
    : ef.el("span", { class: "thumb none", "aria-hidden": "true" }, "?");
  const unknown = p.stranger ? "Unknown " + p.stranger : "Unknown face";
  const title = p.unknown
    ? ef.el("strong", { class: "name" }, p.name === "Unknown" ? unknown : unknown + " — labelled " + p.name)
    : ef.el("span", {}, ef.el("a", { class: "name", href: "/people/" + encodeURIComponent(p.name) }, p.name),
        p.local ? ef.localTag() : null);
  const here = p.here.map((v) => ef.el("li", {}, "on ",
    ef.el("a", { href: "/cameras/" + encodeURIComponent(v.camera) }, v.camera_name || v.camera),
    ` since ${ef.clock(v.started_at)} (${ef.duration(v.last_seen - v.started_at)}) · `,
    ef.el("a", { href: ef.eventUrl(v) }, "the visit")));
  const elsewhere = p.elsewhere.length
    ? ef.el("p", { class: "meta" }, "Before: " + p.elsewhere.slice(0, 3)
        .map((e) => `${e.camera_name || e.camera} at ${ef.time(e.last_seen)}`).join(" · "))
    : null;
  return ef.el("li", { class: "presence " + (p.unknown ? "unknown" : "known"), "data-name": p.name },
    face, ef.el("div", {}, title, ef.el("ul", { class: "here" }, ...here), elsewhere));
}

async function refreshBoard() {
  try {
    const present = (await ef.api("/api/v1/present")).present;
    document.getElementById("board").replaceChildren(...present.map(presenceCard));
    document.getElementById("board-empty").hidden = present.length > 0;
    document.getElementById("present-count").textContent = present.length ? `(${present.length})` : "";
    ef.showError(null);
  } catch (err) { ef.showError(err); }
}

if (ef.page === "present") ef.every(refreshBoard);
