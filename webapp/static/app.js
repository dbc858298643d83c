// edgeface operator page: camera grid / single camera, recent recognitions, model version.
// Plain JS, no dependencies (the page must work without internet access).
"use strict";

const MAX_STREAMS = 4;       // browsers allow ~6 connections per host: more MJPEG streams would starve the rest
const POLL_MS = 2000;
const TILE_FRAME_MS = 250;   // polled tiles (beyond MAX_STREAMS) refresh at ~4 fps

const page = document.body.dataset.page;
const pageCamera = document.body.dataset.camera;
const csrf = document.querySelector('meta[name="csrf-token"]').content;

async function api(path, options = {}) {
  const headers = Object.assign({ "Accept": "application/json" }, options.headers || {});
  if (options.method && options.method !== "GET") headers["X-CSRF-Token"] = csrf;
  const response = await fetch(path, Object.assign({ credentials: "same-origin" }, options, { headers }));
  if (response.status === 401) { location.href = "/login?next=" + encodeURIComponent(location.pathname); throw new Error("login"); }
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(body.error ? body.error + (body.hint ? " — " + body.hint : "") : response.statusText);
  return body;
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v; else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c);
  return node;
}

function describe(cam) {
  if (!cam.online) return cam.error ? "offline: " + cam.error : "offline";
  const age = cam.last_frame_age_s == null ? "" : ` · ${cam.last_frame_age_s.toFixed(1)} s`;
  return `online · ${cam.fps.toFixed(1)} fps${age}`;
}

// An <img> showing an MJPEG stream; re-opened after an error (camera re-registered, app restarted).
function streamInto(img, url) {
  img.src = url;
  img.onerror = () => setTimeout(() => { img.src = url + "?r=" + Date.now(); }, 2000);
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

const tiles = new Map();   // camera id -> {node, status, stop}

function renderGrid(cameras) {
  const grid = document.getElementById("camera-grid");
  const seen = new Set();
  cameras.forEach((cam, i) => {
    seen.add(cam.id);
    let tile = tiles.get(cam.id);
    if (!tile) {
      const img = el("img", { class: "feed", alt: "live feed of " + cam.id });
      const status = el("span", { class: "status" });
      const node = el("figure", { class: "tile", "data-camera": cam.id },
        el("a", { href: "/cameras/" + encodeURIComponent(cam.id) }, img),
        el("figcaption", {}, el("strong", {}, cam.id), " ", status));
      grid.append(node);
      const stop = i < MAX_STREAMS ? (streamInto(img, "/video_feed/" + encodeURIComponent(cam.id)), () => { img.src = ""; })
                                   : pollInto(img, "/api/v1/cameras/" + encodeURIComponent(cam.id) + "/frame.jpg");
      tile = { node, status, stop };
      tiles.set(cam.id, tile);
    }
    tile.status.textContent = describe(cam);
    tile.node.classList.toggle("offline", !cam.online);
  });
  for (const [id, tile] of tiles) {
    if (!seen.has(id)) { tile.stop(); tile.node.remove(); tiles.delete(id); }
  }
  document.getElementById("no-cameras").hidden = cameras.length > 0;
}

function renderEvents(events) {
  const list = document.getElementById("event-list");
  list.replaceChildren(...events.map((ev) => {
    const known = ev.name !== "Unknown";
    const when = new Date(ev.time * 1000).toLocaleTimeString();
    return el("li", { class: "event " + (known ? "known" : "unknown"), "data-event": ev.id },
      el("img", { class: "thumb", alt: ev.name, loading: "lazy", src: `/api/v1/events/${ev.id}/snapshot.jpg` }),
      el("div", {}, el("strong", { class: "name" }, ev.name),
        el("div", { class: "meta" }, `${ev.camera} · ${when} · d=${ev.distance.toFixed(2)}`)));
  }));
  if (!events.length) list.replaceChildren(el("li", { class: "hint" }, "Nothing recognised yet."));
}

async function refresh() {
  try {
    const model = await api("/api/v1/model");
    document.querySelector("#model-version strong").textContent = model.version || "not loaded";
    document.getElementById("model-error").textContent = model.last_error || "";
    if (page === "grid") {
      renderGrid((await api("/api/v1/cameras")).cameras);
      renderEvents((await api("/api/v1/events?limit=12")).events);
    } else if (page === "camera") {
      const cam = await api("/api/v1/cameras/" + encodeURIComponent(pageCamera)).catch(() => null);
      document.getElementById("camera-status").textContent = cam ? describe(cam) : "removed";
      if (cam) document.getElementById("camera-url").textContent = cam.url;
      renderEvents((await api("/api/v1/events?limit=20&camera=" + encodeURIComponent(pageCamera))).events);
    }
  } catch (err) {
    console.warn("refresh failed:", err.message);
  }
}

function wireForms() {
  const add = document.getElementById("add-camera");
  if (add) add.addEventListener("submit", async (e) => {
    e.preventDefault();
    const out = document.getElementById("add-camera-error");
    try {
      await api("/api/v1/cameras", { method: "POST", headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ url: add.url.value }) });
      add.reset(); out.textContent = ""; refresh();
    } catch (err) { out.textContent = err.message; }
  });
  const remove = document.getElementById("remove-camera");
  if (remove) remove.addEventListener("click", async () => {
    if (!confirm("Remove camera " + pageCamera + "?")) return;
    try { await api("/api/v1/cameras/" + encodeURIComponent(pageCamera), { method: "DELETE" }); location.href = "/"; }
    catch (err) { alert(err.message); }
  });
  const feed = document.getElementById("feed");
  if (feed) streamInto(feed, feed.dataset.src);
}

wireForms();
refresh();
setInterval(refresh, POLL_MS);
