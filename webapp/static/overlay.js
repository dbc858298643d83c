// The faces on the live pictures, drawn by the browser over the camera's own frames (the server
// never re-encodes a frame to draw them). One event stream per page (/live/marks) carries every
// camera's faces, each message stamped with the frame it belongs to (its number and time); boxes
// are placed in percent of the picture and names are text, so they are sharp at any size.
"use strict";

// Boxes are hidden when the analysis behind them is this old at their frame (live.js: LAG_WARN_S,
// the amber badge): the tracker draws a prediction for at most ~0.9 s, so beyond it a box would
// be beside the face.
const MARKS_STALE_S = 1.0;
// No message for this long while boxes are shown: the stream or the camera stalled; hide them.
const MARKS_QUIET_MS = 1500;
const CONFIDENCE_WORDS = { sure: "sure", likely: "likely" };

const efMarks = {
  pictures: new Map(),   // camera id -> {img, layer, note, last, behind, quiet}
  source: null,

  // Draw camera ``id``'s faces over ``img`` (inside ``holder``, which is position: relative).
  attach(id, img, holder) {
    const layer = ef.el("div", { class: "marks", "aria-hidden": "true", "data-camera": id });
    const note = ef.el("div", { class: "marks-note", role: "status", hidden: true }, "boxes hidden: analysis behind");
    holder.append(layer, note);
    const picture = { img, layer, note, last: null, behind: false, quiet: null };
    this.pictures.set(id, picture);
    new ResizeObserver(() => this.place(picture)).observe(img);
    img.addEventListener("load", () => this.place(picture));
    this.start();
    return picture;
  },

  detach(id) {
    const picture = this.pictures.get(id);
    if (!picture) return;
    picture.layer.remove(); picture.note.remove();
    this.pictures.delete(id);
  },

  // The picture stopped (camera offline): nothing to draw on.
  clear(id) {
    const picture = this.pictures.get(id);
    if (picture) { picture.last = null; this.draw(picture); }
  },

  // The camera's analysis is behind by the console's own reckoning (live.js polls the lag).
  setBehind(id, behind) {
    const picture = this.pictures.get(id);
    if (!picture || picture.behind === behind) return;
    picture.behind = behind;
    this.draw(picture);
  },

  // The page's one stream (app.js), with every camera's faces; alerts come on it too.
  start() {
    if (this.source) return;
    this.source = efStream.open(true);
    this.source.addEventListener("faces", (e) => this.show(JSON.parse(e.data)));
  },

  show(message) {
    const picture = this.pictures.get(message.camera);
    if (!picture) return;
    picture.last = message;
    clearTimeout(picture.quiet);
    if (message.faces.length) {
      picture.quiet = setTimeout(() => { picture.last = null; this.draw(picture); }, MARKS_QUIET_MS);
    }
    this.draw(picture);
  },

  // The frame's size: the message's, else the picture's own.
  size(picture) {
    const s = picture.last && picture.last.size;
    if (s) return s;
    return picture.img.naturalWidth ? [picture.img.naturalWidth, picture.img.naturalHeight] : null;
  },

  // The layer covers the picture as shown (object-fit: contain leaves bars above or beside it).
  place(picture) {
    const size = this.size(picture);
    const img = picture.img;
    if (!size || !img.clientWidth) return;
    const scale = Math.min(img.clientWidth / size[0], img.clientHeight / size[1]);
    const w = size[0] * scale, h = size[1] * scale;
    Object.assign(picture.layer.style, { left: img.offsetLeft + (img.clientWidth - w) / 2 + "px",
      top: img.offsetTop + (img.clientHeight - h) / 2 + "px", width: w + "px", height: h + "px" });
  },

  draw(picture) {
    const message = picture.last;
    const stale = picture.behind || (message && message.lag_s != null && message.lag_s > MARKS_STALE_S);
    // No boxes over a picture that is not there (loading again, or the camera offline).
    const faces = message && !stale && picture.img.naturalWidth ? message.faces : [];
    picture.note.hidden = !(stale && picture.img.getAttribute("src"));
    picture.layer.dataset.seq = message ? message.seq : "";
    picture.layer.dataset.frame = message && message.camera_frame != null ? message.camera_frame : "";
    picture.layer.dataset.lag = message && message.lag_s != null ? message.lag_s : "";
    const size = this.size(picture);
    if (!size) { picture.layer.replaceChildren(); return; }
    this.place(picture);
    const pct = (v, of) => (100 * v / of).toFixed(3) + "%";
    picture.layer.replaceChildren(...faces.map((f) => {
      const [top, right, bottom, left] = f.box;
      const named = f.state === "named" && f.name;
      const text = f.state === "pending" ? "…" : named
        ? f.name + (f.confidence ? " · " + CONFIDENCE_WORDS[f.confidence] : "") : "Unknown";
      const box = ef.el("div", { class: "mark " + f.state, "data-box": f.box.join(","), "data-name": named ? f.name : "",
        "data-confidence": f.confidence || "" }, ef.el("span", { class: "mark-label" + (bottom > size[1] * 0.85 ? " above" : "") }, text));
      Object.assign(box.style, { left: pct(left, size[0]), top: pct(top, size[1]),
        width: pct(right - left, size[0]), height: pct(bottom - top, size[1]) });
      return box;
    }));
    this.keepInside(picture.layer);
  },

  // A name that would stick out of the picture (a face near its edge, a narrow phone) is moved
  // back over it: aligned with the box's right edge, or with the picture's.
  keepInside(layer) {
    const bounds = layer.getBoundingClientRect();
    for (const label of layer.querySelectorAll(".mark-label")) {
      const r = label.getBoundingClientRect();
      if (r.right <= bounds.right + 1) continue;
      const shift = Math.min(r.right - bounds.right, r.left - bounds.left);
      label.style.transform = `translateX(${-Math.max(0, shift)}px)`;
    }
  },
};
