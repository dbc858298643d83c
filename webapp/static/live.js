// Live view: the camera grid (any number of tiles) and one camera, full screen, with its health,
// who is on it now, and its settings.
"use strict";

const MAX_STREAMS = 4;       // browsers allow ~6 connections per host: more MJPEG streams would starve the rest
const TILE_FRAME_MS = 250;   // polled tiles (beyond MAX_STREAMS) refresh at ~4 fps

const LAG_WARN_S = 1.0;      // analysis this far behind the picture: boxes and names are late (amber)
const LAG_BAD_S = 3.0;       // this far: what the tile says about people is stale (red)

// Online / offline / disabled, since when, and why offline.
function describe(cam) {
  const since = cam.state_since ? " since " + ef.clock(cam.state_since) : "";
  if (cam.enabled === false) return "disabled" + since;
  if (!cam.online) return "offline" + since + (cam.error ? " — " + cam.error : "");
  return "online" + since;
}

// How far analysis is behind the picture, when it matters (an offline camera has no picture to analyse).
function lagLevel(cam) {
  const lag = cam.analysis_lag_s;
  if (!cam.online || cam.enabled === false || cam.recognition === false || lag == null || lag < LAG_WARN_S) return null;
  return lag >= LAG_BAD_S ? "bad" : "warn";
}

// fps in/out, as label/value pairs.
function health(cam) {
  const fps = (v) => (v == null ? "—" : v.toFixed(1));
  const pairs = [["frames in per s", fps(cam.fps_in ?? cam.fps)], ["frames shown per s", fps(cam.fps_out)]];
  if (cam.recognition === false) pairs.push(["recognition", "off"]);
  // A camera with a main stream: whether faces are cropped from it, or from the detect stream and why.
  if (cam.identify_url && cam.identify) pairs.push(["faces from", cam.identify]);
  return pairs;
}

function renderHealth(dl, cam) {
  ef.facts(dl, cam.online ? health(cam) : []);
  const level = lagLevel(cam);
  if (level) {
    dl.append(ef.el("div", { class: "badge lag " + level, role: "status" },
      `analysis ${cam.analysis_lag_s.toFixed(1)} s behind`));
  }
}

function renderPeopleNow(node, cam) {
  const names = cam.people_now || [];
  let empty = "nobody";
  if (!cam.online || cam.enabled === false) empty = "no picture";
  else if (cam.recognition === false) empty = "recognition is off";
  else if (lagLevel(cam) === "bad") empty = `not known: nothing analysed for ${cam.analysis_lag_s.toFixed(0)} s`;
  node.replaceChildren(...(names.length && cam.online
    ? names.map((n) => ef.el("span", { class: "chip" + (n === "Unknown" ? " unknown" : "") }, n,
        (cam.people_local || []).includes(n) ? ef.localTag() : null))
    : [ef.el("span", { class: "hint" }, empty)]));
}

// An <img> showing an MJPEG stream; re-opened after an error (camera re-registered, app restarted).
function streamInto(img, url) {
  img.onerror = () => setTimeout(() => { img.src = url + "?r=" + Date.now(); }, 2000);
  img.src = url;
}

// An <img> refreshed frame by frame (tiles beyond MAX_STREAMS).
function pollInto(img, url) {
  let stopped = false;
  const next = () => { if (!stopped) setTimeout(() => { img.src = url + "?t=" + Date.now(); }, TILE_FRAME_MS); };
  img.onload = next;
  img.onerror = () => setTimeout(next, 2000);
  img.src = url + "?t=" + Date.now();
  return () => { stopped = true; };
}

const tiles = new Map();   // camera id -> {node, parts, stop, live}

function makeTile(cam, streamed) {
  const img = ef.el("img", { class: "feed", alt: "live feed of " + ef.cameraName(cam) });
  const parts = { img, name: ef.el("strong", { class: "cam-name" }), status: ef.el("span", { class: "status" }),
    health: ef.el("dl", { class: "health" }), people: ef.el("div", { class: "chips people-now" }) };
  const screen = ef.el("a", { href: "/cameras/" + encodeURIComponent(cam.id), "aria-label": "open " + ef.cameraName(cam),
    class: "screen" }, img);
  const node = ef.el("figure", { class: "tile", "data-camera": cam.id }, screen,
    ef.el("figcaption", {}, ef.el("div", {}, parts.name, " ", parts.status), parts.health, parts.people));
  efMarks.attach(cam.id, img, screen);     // the faces, drawn over the picture (overlay.js)
  return { node, parts, streamed, stop: null };
}

// A tile's picture runs only while the camera is online (a disabled one is not read at all):
// asking an offline camera for frames only collects errors.
function runTile(tile, cam) {
  const want = cam.enabled !== false && cam.online;
  if (want && !tile.stop) {
    const id = encodeURIComponent(cam.id);
    tile.stop = tile.streamed ? (streamInto(tile.parts.img, "/video_feed/" + id), () => { tile.parts.img.onerror = null; tile.parts.img.removeAttribute("src"); })
                              : pollInto(tile.parts.img, "/api/v1/cameras/" + id + "/frame.jpg");
  } else if (!want && tile.stop) {
    tile.stop(); tile.stop = null;
    efMarks.clear(cam.id);
  }
}

function tileMin(count) {
  return count <= 4 ? 320 : count <= 9 ? 240 : 200;
}

function renderGrid(cameras) {
  const grid = document.getElementById("camera-grid");
  const seen = new Set();
  cameras.forEach((cam, i) => {
    seen.add(cam.id);
    let tile = tiles.get(cam.id);
    if (!tile) {
      tile = makeTile(cam, i < MAX_STREAMS);
      grid.append(tile.node);
      tiles.set(cam.id, tile);
    }
    runTile(tile, cam);
    tile.parts.name.textContent = ef.cameraName(cam);
    tile.parts.status.textContent = describe(cam);
    renderHealth(tile.parts.health, cam);
    renderPeopleNow(tile.parts.people, cam);
    efMarks.setBehind(cam.id, lagLevel(cam) !== null);
    tile.node.classList.toggle("offline", !cam.online || cam.enabled === false);
  });
  for (const [id, tile] of tiles) {
    if (!seen.has(id)) { if (tile.stop) tile.stop(); efMarks.detach(id); tile.node.remove(); tiles.delete(id); }
  }
  grid.dataset.tiles = String(cameras.length);
  // Smaller tiles as cameras are added, so 9 show as 3 x 3 rather than a long column of pairs.
  grid.style.setProperty("--tile-min", tileMin(cameras.length) + "px");
  document.getElementById("camera-count").textContent = cameras.length ? `(${cameras.length})` : "";
  document.getElementById("no-cameras").hidden = cameras.length > 0;
}

function renderEvents(events) {
  const list = document.getElementById("event-list");
  list.replaceChildren(...events.map((ev) => ef.eventItem(ev, true)));
  if (!events.length) list.replaceChildren(ef.el("li", { class: "hint" }, "Nothing seen yet."));
}

// The grid shows one group when one is chosen (kept in the URL: ?group=Entrances).
function wireGroups() {
  const select = document.getElementById("f-group");
  select.addEventListener("change", () => { location.search = select.value ? "group=" + encodeURIComponent(select.value) : ""; });
}

async function refreshGrid() {
  try {
    const cameras = (await ef.api("/api/v1/cameras")).cameras;
    const select = document.getElementById("f-group");
    ef.fillGroups(select, cameras, document.getElementById("group-form"));
    renderGrid(select.dataset.value ? cameras.filter((c) => c.group === select.dataset.value) : cameras);
    renderEvents((await ef.api("/api/v1/events?limit=12")).events);
    ef.showError(null);
  } catch (err) { ef.showError(err); }
}

// -- one camera ----------------------------------------------------------------------------------
const section = document.getElementById("camera-section");
const cameraId = section ? section.dataset.camera : null;
let settingsFilled = false;

function fillSettings(cam) {
  const form = document.getElementById("camera-settings");
  form.elements.name.value = cam.name && cam.name !== cam.id ? cam.name : "";
  form.elements.group.value = cam.group || "";
  form.elements.enabled.checked = cam.enabled !== false;
  form.elements.recognition.checked = cam.recognition !== false;
  form.elements.min_face_px.value = cam.min_face_px ?? "";
  // Privacy: a setting the camera leaves to the site shows as "The site's setting (its value)".
  const fromSite = cam.from_site || [];
  for (const key of ["privacy", "captures"]) {
    const select = form.elements[key];
    select.options[0].textContent = "The site's setting" + (fromSite.includes(key) ? " (" + cam[key] + ")" : "");
    select.value = fromSite.includes(key) ? "" : cam[key] || "";
  }
  form.elements.watchlist.value = fromSite.includes("watchlist") ? "" : (cam.watchlist || []).join("\n");
  form.elements.watchlist.placeholder = fromSite.includes("watchlist") ? (cam.watchlist || []).join(", ") : "";
  form.elements.unblurred.checked = cam.unblurred === "allowed";
  form.elements.retention_days.value = cam.retention_days ?? "";
  const unblurred = document.getElementById("unblurred-link");
  if (unblurred) unblurred.hidden = cam.unblurred !== "allowed";
  // Shown redacted, so never sent back: a new URL is typed in full (credentials included).
  form.elements.identify_url.value = "";
  form.elements.identify_url.placeholder = cam.identify_url || "none: faces from the detect stream";
  document.getElementById("identify-clear").hidden = !cam.identify_url;
  if (window.efZone) window.efZone.set(cam.zone || null);
  settingsFilled = true;
}

async function refreshCamera() {
  try {
    const cam = await ef.api("/api/v1/cameras/" + encodeURIComponent(cameraId));
    document.getElementById("camera-name").textContent = ef.cameraName(cam);
    document.title = ef.cameraName(cam) + " · edgeface";
    document.getElementById("camera-status").textContent = describe(cam);
    document.getElementById("camera-status").classList.toggle("off", !cam.online || cam.enabled === false);
    runFeed(cam);
    document.getElementById("camera-url").textContent = cam.url;
    renderHealth(document.getElementById("camera-health"), cam);
    renderPeopleNow(document.getElementById("people-now"), cam);
    efMarks.setBehind(cameraId, lagLevel(cam) !== null);
    if (!settingsFilled) {
      fillSettings(cam);
      ef.api("/api/v1/cameras").then((all) => {
        const groups = [...new Set(all.cameras.map((c) => c.group).filter(Boolean))].sort();
        document.getElementById("camera-groups").replaceChildren(...groups.map((g) => ef.el("option", { value: g })));
      }).catch(() => {});
      if (cam.online && window.efZone) window.efZone.newStill();
    }
    renderEvents((await ef.api("/api/v1/events?limit=20&camera=" + encodeURIComponent(cameraId))).events);
  } catch (err) {
    document.getElementById("camera-status").textContent = err.status === 404 ? "removed" : "unreachable: " + err.message;
  }
}

// The big picture streams only while the camera is online: an offline camera's page says
// "no picture" (and finishes loading) instead of waiting on a stream that sends nothing.
let stopFeed = null;
function runFeed(cam) {
  const feed = document.getElementById("feed");
  const want = cam.enabled !== false && cam.online;
  document.getElementById("stage").classList.toggle("offline", !want);
  if (want && !stopFeed) {
    streamInto(feed, feed.dataset.src);
    stopFeed = () => { feed.onerror = null; feed.removeAttribute("src"); };
  } else if (!want && stopFeed) {
    stopFeed(); stopFeed = null;
    efMarks.clear(cameraId);
  }
}

function wireCamera() {
  const stage = document.getElementById("stage");
  efMarks.attach(cameraId, document.getElementById("feed"), stage);   // the faces, drawn over the picture
  const full = document.getElementById("fullscreen");
  full.addEventListener("click", () => {
    if (document.fullscreenElement) document.exitFullscreen(); else stage.requestFullscreen().catch(() => {});
  });
  document.addEventListener("fullscreenchange", () => {
    full.textContent = document.fullscreenElement ? "Leave full screen" : "Full screen";
  });
  const form = document.getElementById("camera-settings");
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const out = document.getElementById("settings-result");
    try {
      const zone = window.efZone ? window.efZone.get() : null;
      const minFace = form.elements.min_face_px.value === "" ? undefined : Number(form.elements.min_face_px.value);
      const body = { name: form.elements.name.value.trim() || null, group: form.elements.group.value.trim() || null,
        enabled: form.elements.enabled.checked,
        recognition: form.elements.recognition.checked, zone };
      if (minFace !== undefined) body.min_face_px = minFace;
      const names = form.elements.watchlist.value.split("\n").map((n) => n.trim()).filter(Boolean);
      const days = form.elements.retention_days.value;
      Object.assign(body, { privacy: form.elements.privacy.value || null, captures: form.elements.captures.value || null,
        watchlist: names.length ? names : null, unblurred: form.elements.unblurred.checked ? "allowed" : "denied",
        retention_days: days === "" ? null : Number(days) });
      if (form.elements.identify_url.value.trim()) body.identify_url = form.elements.identify_url.value.trim();
      const cam = await ef.api("/api/v1/cameras/" + encodeURIComponent(cameraId), { method: "PATCH", json: body });
      fillSettings(cam.camera || cam);
      out.className = "ok"; out.textContent = "Saved.";
      refreshCamera();
    } catch (err) { out.className = "form-error"; out.textContent = err.message; }
  });
  document.getElementById("identify-clear").addEventListener("click", async () => {
    const out = document.getElementById("settings-result");
    try {
      const cam = await ef.api("/api/v1/cameras/" + encodeURIComponent(cameraId),
        { method: "PATCH", json: { identify_url: null } });
      fillSettings(cam);
      out.className = "ok"; out.textContent = "Faces are cropped from the detect stream now.";
    } catch (err) { out.className = "form-error"; out.textContent = err.message; }
  });
  const remove = document.getElementById("remove-camera");
  if (remove) remove.addEventListener("click", async () => {
    if (!confirm("Remove camera " + cameraId + "?")) return;
    try { await ef.api("/api/v1/cameras/" + encodeURIComponent(cameraId), { method: "DELETE" }); location.href = "/"; }
    catch (err) { document.getElementById("settings-result").textContent = err.message; }
  });
}

function wireAdd() {
  const add = document.getElementById("add-camera");
  if (add) add.addEventListener("submit", async (e) => {
    e.preventDefault();
    const out = document.getElementById("add-camera-error");
    try {
      await ef.api("/api/v1/cameras", { method: "POST", json: { url: add.elements.url.value } });
      add.reset(); out.textContent = ""; refreshGrid();
    } catch (err) { out.textContent = err.message; }
  });
}

if (ef.page === "grid") { wireAdd(); wireGroups(); ef.every(refreshGrid); }
if (ef.page === "camera") { wireCamera(); ef.every(refreshCamera); }
