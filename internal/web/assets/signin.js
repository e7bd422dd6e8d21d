// /sign-in: organization name → Next → email + password → Sign in.
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  let org = "";
  $("form-org").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    App.clearErrors();
    const name = $("organization_name").value.trim();
    if (!name) { App.fieldError("organization_name", App.t("err.required")); $("organization_name").focus(); return; }
    await App.busy([$("next")], async () => {
      const res = await App.api("POST", "/console/organizations/lookup", { organization_name: name });
      if (res.status !== 200) { App.fieldError("organization_name", App.errorText(res)); $("organization_name").focus(); return; }
      org = res.body.organization_name;
      $("org-name").textContent = org;
      $("stage-org").hidden = true;
      $("stage-login").hidden = false;
      $("email").focus();
    });
  });
  $("change-org").addEventListener("click", () => {
    $("stage-login").hidden = true; $("stage-org").hidden = false; $("organization_name").focus();
  });
  $("form-login").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    App.clearErrors();
    $("reset-hint").hidden = true;
    let first = null;
    for (const f of ["email", "password"]) if (!$(f).value) { App.fieldError(f, App.t("err.required")); first = first || $(f); }
    if (first) { first.focus(); return; }
    await App.busy([$("sign-in")], async () => {
      const res = await App.api("POST", "/console/sessions", { organization_name: org, email: $("email").value.trim(), password: $("password").value });
      if (res.status === 201) {
        sessionStorage.setItem("onboarding.session", res.body.session_token);
        location.assign(App.withLang("/console"));
        return;
      }
      $("form-error").textContent = App.errorText(res);
      const code = res.body && res.body.error && res.body.error.code;
      if (code === "password_reset_required" || code === "invalid_credentials") $("reset-hint").hidden = false;
      $("password").value = "";
      $("password").focus();
    });
  });
})();
