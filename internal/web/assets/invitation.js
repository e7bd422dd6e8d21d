// /invitations/<token>: show the organization and login id, set the first password.
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const token = App.tokenFromPath();
  const valid = App.watchPolicy();

  (async () => {
    const res = await App.api("GET", "/invitations/" + encodeURIComponent(token));
    if (res.status === 200) {
      $("inv-org").textContent = res.body.organization_name;
      $("inv-email").textContent = res.body.email;
      $("inv-expires").textContent = App.formatTime(res.body.expires_at);
      $("form-section").hidden = false;
      $("password").focus();
    } else if (res.status === 410) {
      $("expired").hidden = false;
    } else if (res.status === 404) {
      $("invalid").hidden = false;
    } else {
      $("loading").textContent = App.errorText(res);
    }
  })();

  $("form-password").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    App.clearErrors();
    const pw = $("password").value, confirm = $("confirm_password").value;
    if (pw !== confirm) { App.fieldError("confirm_password", App.t("err.password_mismatch")); $("confirm_password").focus(); return; }
    if (!valid()) { App.fieldError("password", App.t("code.weak_password", "Check the password rules below.")); $("password").focus(); return; }
    await App.busy([$("set-password")], async () => {
      const res = await App.api("POST", "/invitations/" + encodeURIComponent(token) + "/accept", { password: pw });
      if (res.status === 200) {
        $("form-section").hidden = true;
        $("done").hidden = false;
        $("go-sign-in").focus();
      } else if (res.status === 410) {
        $("form-section").hidden = true; $("expired").hidden = false;
      } else if (res.status === 404) {
        $("form-section").hidden = true; $("invalid").hidden = false;
      } else {
        App.showError(res, "form-error");
      }
    });
  });
})();
