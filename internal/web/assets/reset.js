// /password-reset: ask for a reset link (the answer never says whether the account exists).
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  $("form-reset").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    App.clearErrors();
    let first = null;
    for (const f of ["organization_name", "email"]) if (!$(f).value.trim()) { App.fieldError(f, App.t("err.required")); first = first || $(f); }
    if (first) { first.focus(); return; }
    await App.busy([$("reset")], async () => {
      const res = await App.api("POST", "/password-resets", { organization_name: $("organization_name").value.trim(), email: $("email").value.trim() });
      if (res.status === 202) { $("form-section").hidden = true; $("sent").hidden = false; }
      else App.showError(res, "form-error");
    });
  });
})();
