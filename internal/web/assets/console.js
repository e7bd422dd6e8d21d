// /console: the signed-in user, the organization and the roles.
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const token = sessionStorage.getItem("onboarding.session");
  (async () => {
    if (!token) { location.replace(App.withLang("/sign-in")); return; }
    const res = await App.api("GET", "/console/me", undefined, token);
    if (res.status !== 200) { sessionStorage.removeItem("onboarding.session"); location.replace(App.withLang("/sign-in")); return; }
    $("c-org").textContent = res.body.organization.organization_name;
    $("c-name").textContent = res.body.user.name;
    $("c-email").textContent = res.body.user.email;
    $("c-owner").hidden = !res.body.user.is_owner;
    const ul = $("c-roles");
    for (const role of res.body.roles) {
      const li = document.createElement("li");
      li.textContent = App.t("role." + role, role);
      li.dataset.role = role;
      ul.appendChild(li);
    }
    $("console").hidden = false;
  })();
  $("sign-out").addEventListener("click", async () => {
    await App.api("DELETE", "/console/sessions/current", undefined, token);
    sessionStorage.removeItem("onboarding.session");
    location.assign(App.withLang("/sign-in"));
  });
})();
