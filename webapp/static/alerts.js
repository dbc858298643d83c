// The alert watchlist: who (a person, or any Unknown face), on which cameras, at which hours.
// The admin adds and removes alerts; a viewer sees them. The alerts themselves show on every
// page (app.js, from the page's event stream).
"use strict";

function describeRule(rule, names) {
  const who = rule.unknown ? "Any unknown face" : rule.who;
  const where = rule.cameras.length ? "on " + rule.cameras.map((c) => names.get(c) || c).join(", ") : "on every camera";
  const hh = (h) => String(h).padStart(2, "0") + ":00";
  const when = rule.hours ? `from ${hh(rule.hours[0])} to ${hh(rule.hours[1])}` : "at any hour";
  return `${who} ${where}, ${when}`;
}

async function refreshRules() {
  try {
    const [{ rules, error }, { cameras }] = await Promise.all([ef.api("/api/v1/alerts"), ef.api("/api/v1/cameras")]);
    const names = new Map(cameras.map((c) => [c.id, ef.cameraName(c)]));
    document.getElementById("rules").replaceChildren(...rules.map((rule) => {
      const words = describeRule(rule, names);
      const remove = ef.canChange
        ? ef.el("button", { type: "button", class: "remove-rule", "aria-label": "remove alert: " + words }, "Remove") : null;
      if (remove) remove.addEventListener("click", () => removeRule(rule.id));
      return ef.el("li", { class: "rule", "data-rule": rule.id }, ef.el("span", {}, words), remove);
    }));
    document.getElementById("rules-empty").hidden = rules.length > 0;
    document.getElementById("rule-count").textContent = rules.length ? `(${rules.length})` : "";
    const box = document.getElementById("rule-cameras");
    if (!box.children.length) {
      box.replaceChildren(...cameras.map((c) => ef.el("label", { class: "check" },
        ef.el("input", { type: "checkbox", name: "camera", value: c.id }), " " + ef.cameraName(c))));
    }
    ef.showError(error ? { message: "The saved alerts cannot be used: " + error } : null);
  } catch (err) { ef.showError(err); }
}

async function removeRule(id) {
  const out = document.getElementById("rule-result");
  try {
    await ef.api("/api/v1/alerts/" + encodeURIComponent(id), { method: "DELETE" });
    out.className = "ok"; out.textContent = "Removed.";
    refreshRules();
  } catch (err) { out.className = "form-error"; out.textContent = err.message; }
}

function wireRuleForm() {
  const form = document.getElementById("add-rule");
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const out = document.getElementById("rule-result");
    const from = form.elements.from.value, to = form.elements.to.value;
    const body = { who: form.elements.who.value.trim(),
      cameras: [...form.querySelectorAll("input[name=camera]:checked")].map((i) => i.value) };
    if (from !== "" || to !== "") body.hours = [Number(from || 0), Number(to || 24)];
    try {
      await ef.api("/api/v1/alerts", { method: "POST", json: body });
      form.reset();
      out.className = "ok"; out.textContent = "Alert added.";
      refreshRules();
    } catch (err) { out.className = "form-error"; out.textContent = err.message; }
  });
}

if (ef.page === "alerts") {
  wireRuleForm();
  ef.fillNames().catch(() => {});
  ef.every(refreshRules, 10000);
}
