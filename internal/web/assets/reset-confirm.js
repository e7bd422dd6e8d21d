// /password-reset/<token>: choose a new password.
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const token = App.tokenFromPath();
  const valid = App.watchPolicy();
  $("form-password").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    App.clearErrors();
    const pw = $("password").value, confirm = $("confirm_password").value;
    if (pw !== confirm) { App.fieldError("confirm_password", App.t("err.password_mismatch")); $("confirm_password").focus(); return; }
    if (!valid()) { App.fieldError("password", App.t("code.weak_password", "Check the password rules below.")); $("password").focus(); return; }
    await App.busy([$("set-password")], async () => {
      const res = await App.api("POST", "/password-resets/" + encodeURIComponent(token) + "/confirm", { password: pw });
      if (res.status === 200) { $("form-section").hidden = true; $("done").hidden = false; }
      else if (res.status === 404) { $("form-section").hidden = true; $("invalid").hidden = false; }
      else if (res.status === 410) { $("form-section").hidden = true; $("expired").hidden = false; }
      else App.showError(res, "form-error");
    });
  });
})();
