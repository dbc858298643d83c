// The detection zone editor: a polygon over a still frame of the camera, drawn on a canvas.
// The textarea (one "x,y" pair per line, 0…1 of the frame) is the value; clicks on the still add
// corners to it, so the zone can be made with a mouse or typed with a keyboard.
"use strict";

(function () {
  const still = document.getElementById("zone-still");
  const canvas = document.getElementById("zone-canvas");
  const text = document.getElementById("set-zone");
  if (!still || !canvas || !text) return;
  const cameraId = document.getElementById("camera-section").dataset.camera;

  function parse() {
    const points = [];
    for (const line of text.value.split("\n")) {
      if (!line.trim()) continue;
      const [x, y] = line.split(",").map(Number);
      if (!(x >= 0 && x <= 1 && y >= 0 && y <= 1)) throw new Error(`zone point "${line.trim()}" is not x,y between 0 and 1`);
      points.push([x, y]);
    }
    return points;
  }

  function draw() {
    const w = canvas.width = still.clientWidth, h = canvas.height = still.clientHeight;
    const ctx = canvas.getContext("2d");
    ctx.clearRect(0, 0, w, h);
    let points;
    try { points = parse(); } catch { return; }
    if (!points.length) return;
    ctx.beginPath();
    points.forEach(([x, y], i) => (i ? ctx.lineTo(x * w, y * h) : ctx.moveTo(x * w, y * h)));
    if (points.length > 2) ctx.closePath();
    ctx.fillStyle = "rgba(74, 163, 255, .2)";
    ctx.strokeStyle = "#4aa3ff";
    ctx.lineWidth = 2;
    if (points.length > 2) ctx.fill();
    ctx.stroke();
    ctx.fillStyle = "#4aa3ff";
    for (const [x, y] of points) { ctx.beginPath(); ctx.arc(x * w, y * h, 4, 0, 2 * Math.PI); ctx.fill(); }
  }

  function set(zone) {
    text.value = zone ? zone.map(([x, y]) => `${x.toFixed(3)},${y.toFixed(3)}`).join("\n") : "";
    draw();
  }

  // The zone to save: null for the whole frame; a polygon needs 3 corners.
  function get() {
    const points = parse();
    if (!points.length) return null;
    if (points.length < 3) throw new Error("a zone needs at least 3 corners (or none for the whole frame)");
    return points;
  }

  function newStill() {
    still.src = "/api/v1/cameras/" + encodeURIComponent(cameraId) + "/frame.jpg?t=" + Date.now();
  }

  canvas.addEventListener("click", (e) => {
    if (document.getElementById("camera-settings").querySelector("fieldset").disabled) return;
    const r = canvas.getBoundingClientRect();
    const x = Math.min(1, Math.max(0, (e.clientX - r.left) / r.width));
    const y = Math.min(1, Math.max(0, (e.clientY - r.top) / r.height));
    text.value = (text.value.trim() ? text.value.trim() + "\n" : "") + `${x.toFixed(3)},${y.toFixed(3)}`;
    draw();
  });
  text.addEventListener("input", draw);
  still.addEventListener("load", draw);
  // No still (camera offline): the editor still takes typed points.
  still.addEventListener("error", () => { still.removeAttribute("src"); still.alt = "no still frame: the camera is offline"; });
  window.addEventListener("resize", draw);
  document.getElementById("zone-clear").addEventListener("click", () => set(null));
  document.getElementById("zone-refresh").addEventListener("click", newStill);
  window.efZone = { get, set, newStill };   // live.js asks for the first still once the camera is online
})();
