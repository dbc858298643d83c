// A camera's visits over one day (the browser's day): bars on a 24 h axis, a cursor moved by the
// range input or a click on a bar, and the visits at the cursor with their face and clip.
"use strict";

const DAY_S = 86400, MAX_VISITS = 2000, MAX_LANES = 12;

function localDay(text) {
  // "YYYY-MM-DD" as local midnight; today when empty or not a date.
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text || "");
  const d = m ? new Date(+m[1], +m[2] - 1, +m[3]) : new Date();
  d.setHours(0, 0, 0, 0);
  return d;
}

function dayText(d) {
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

async function dayVisits(camera, start, who) {
  const query = new URLSearchParams({ since: String(start), until: String(start + DAY_S - 0.001), limit: "500" });
  if (camera) query.set("camera", camera);
  if (who.toLowerCase() === "unknown") query.set("unknown", "true"); else if (who) query.set("name", who);
  const visits = [];
  let cursor = null;
  do {
    if (cursor) query.set("cursor", cursor);
    const page = await ef.api("/api/v1/events?" + query);
    visits.push(...page.events);
    cursor = page.next_cursor;
  } while (cursor && visits.length < MAX_VISITS);
  return visits.reverse();          // oldest first, as on the axis
}

function pct(t, start) { return Math.min(100, Math.max(0, (t - start) / DAY_S * 100)); }

async function showAtCursor(visits, t, first) {
  // The visits within half a minute of the cursor (the clicked one first), the first one's clip.
  const out = document.getElementById("at-cursor");
  const here = visits.filter((v) => v.started_at <= t + 30 && v.last_seen >= t - 30)
    .sort((a, b) => (b.id === first) - (a.id === first));
  document.querySelectorAll(".day-bar").forEach((bar) => bar.classList.toggle("at", here.some((v) => v.id === bar.dataset.event)));
  if (!here.length) { out.replaceChildren(ef.el("p", { class: "hint" }, "Nobody on this camera then.")); return; }
  out.replaceChildren(ef.el("ol", { class: "event-list" }, ...here.slice(0, 5).map((v) => ef.eventItem(v, true))));
  try {        // the first one's clip, when it has one
    const detail = await ef.api("/api/v1/events/" + encodeURIComponent(here[0].id));
    if (detail.clips && detail.clips.length && out.contains(out.querySelector(`[data-event="${CSS.escape(here[0].id)}"]`))) {
      out.append(ef.el("video", { controls: "", preload: "metadata", playsinline: "", class: "clip", id: "at-clip",
        src: detail.clips[0].url, "aria-label": "clip of " + ef.who(detail) }));
    }
  } catch (err) { ef.showError(err); }
}

async function initDay() {
  const section = document.getElementById("day-section");
  const day = localDay(section.dataset.day), start = day.getTime() / 1000;
  if (section.dataset.day && dayText(day) !== section.dataset.day) {
    ef.showError(new Error(`"${section.dataset.day.slice(0, 20)}" is not a day: pick one with the Day field (today is shown).`));
  }
  document.getElementById("t-day").value = dayText(day);
  const select = document.getElementById("t-camera");
  let camera = section.dataset.camera;
  try {
    const cameras = (await ef.api("/api/v1/cameras")).cameras;
    if (!camera && cameras.length) camera = cameras[0].id;
    select.replaceChildren(...cameras.map((c) => ef.el("option", { value: c.id, selected: c.id === camera }, ef.cameraName(c))));
    if (camera && !cameras.some((c) => c.id === camera)) select.append(ef.el("option", { value: camera, selected: true }, camera));
    const visits = await dayVisits(camera, start, section.dataset.name.trim());
    const track = document.getElementById("day-track"), cursor = document.getElementById("day-cursor");
    // Bars that would touch go to separate lanes (visits minutes apart are pixels apart on 24 h).
    const ends = [], placed = visits.map((v) => {
      const left = pct(v.started_at, start), width = Math.max(0.4, pct(v.last_seen, start) - left);
      let lane = ends.findIndex((end) => end < left);
      if (lane < 0) lane = ends.length < MAX_LANES ? ends.length : ends.indexOf(Math.min(...ends));
      ends[lane] = left + width + 0.1;
      return { v, left, width, lane };
    });
    const barH = ends.length <= 2 ? 28 : Math.max(8, Math.floor(72 / ends.length));
    track.style.height = `${ends.length * (barH + 2) + 14}px`;
    for (const { v, left, width, lane } of placed) {
      const bar = ef.el("button", { type: "button", class: "day-bar " + (ef.isUnknown(v) ? "unknown" : "known"),
        "data-event": v.id, title: `${ef.who(v)}, ${ef.clock(v.started_at)}`, "aria-label": `${ef.who(v)}, ${ef.clock(v.started_at)}`,
        style: `left:${left}%;width:${width}%;top:${7 + lane * (barH + 2)}px;height:${barH}px` });
      bar.addEventListener("click", () => { scrub.value = String(Math.floor((v.started_at - start) / 60)); move(v.id); });
      track.append(bar);
    }
    const list = document.getElementById("day-visits");
    list.replaceChildren(...visits.slice().reverse().map((v) => ef.eventItem(v)));
    document.getElementById("day-empty").hidden = visits.length > 0;
    const scrub = document.getElementById("day-scrub"), at = document.getElementById("day-at");
    const move = (first) => {
      const t = start + Number(scrub.value) * 60 + 30;
      cursor.style.left = pct(t, start) + "%";
      at.textContent = ef.clock(t);
      showAtCursor(visits, t, first);
    };
    scrub.addEventListener("input", () => {
      cursor.style.left = (Number(scrub.value) / 1440 * 100) + "%";
      at.textContent = ef.clock(start + Number(scrub.value) * 60);
    });
    scrub.addEventListener("change", () => move());
    if (visits.length) scrub.value = String(Math.floor((visits[visits.length - 1].started_at - start) / 60));
    move();
    document.getElementById("day").hidden = false;
    await ef.fillNames();
    document.getElementById("known-names").append(ef.el("option", { value: "Unknown" }));
  } catch (err) { ef.showError(err); }
}

if (ef.page === "timeline") initDay();
