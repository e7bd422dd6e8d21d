// The sign-up wizard: terms → user information → cloud organization →
// submit → check your email. The sign-up id and token live in
// sessionStorage (never the URL), so the wizard resumes after a reload.
"use strict";
(() => {
  const KEY = "onboarding.signup";
  const $ = (id) => document.getElementById(id);
  let state = JSON.parse(sessionStorage.getItem(KEY) || "null"); // {id, token}
  let verified = null; // the verified business number, as 123-45-67890
  let certificateUploaded = false;
  let pollTimer = null;

  const save = () => sessionStorage.setItem(KEY, JSON.stringify(state));
  const call = (method, path, body) => App.api(method, "/signups/" + state.id + path, body, state.token);
  const digits = (s) => (s || "").replace(/[^0-9]/g, "");

  function show(step, quiet) {
    ["1", "2", "3", "done"].forEach((s) => { $("step-" + s).hidden = s !== step; });
    const n = step === "done" ? 4 : Number(step);
    document.querySelectorAll(".steps li").forEach((li) => {
      const k = Number(li.dataset.step);
      li.classList.toggle("done", k < n);
      if (k === n) li.setAttribute("aria-current", "step"); else li.removeAttribute("aria-current");
    });
    const heading = document.querySelector("#step-" + step + " h2");
    if (heading && !quiet) { heading.tabIndex = -1; heading.focus(); }
  }

  function fill(view) {
    const b = view.business || {}, o = view.organization || {};
    for (const f of ["billing_email", "company_name", "representative_name", "representative_phone", "address", "business_type", "business_category"]) {
      if (b[f] && !$(f).value) $(f).value = b[f];
    }
    if (b.business_number) {
      $("business_number").value = b.business_number;
      if (b.verified) { verified = b.business_number; $("business_number-status").textContent = "✓ " + App.t("verify.ok"); }
    }
    for (const f of ["organization_name", "contact_name", "contact_email", "mobile_phone"]) {
      if (o[f] && !$(f).value) $(f).value = o[f];
    }
    if (view.certificate) {
      certificateUploaded = true;
      $("certificate-status").textContent = "✓ " + App.t("upload.done") + ": " + view.certificate.filename + " — " + App.t("upload.replace");
    }
  }

  function route(view, quiet) {
    fill(view);
    switch (view.status) {
      case "user_info": show("2", quiet); break;
      case "organization_info": case "ready": show("3", quiet); break;
      default: show("done", quiet); follow(view);
    }
  }

  // Step 1: terms.
  $("agree-all").addEventListener("click", () => {
    document.querySelectorAll("input[name=terms]").forEach((c) => { c.checked = true; });
    App.fieldError("accepted_terms", "");
  });
  $("form-terms").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    App.clearErrors($("step-1"));
    const accepted = [...document.querySelectorAll("input[name=terms]:checked")].map((c) => c.value);
    const missing = [...document.querySelectorAll("input[name=terms][data-required]")].filter((c) => !c.checked);
    if (missing.length) { App.fieldError("accepted_terms", App.t("err.terms")); missing[0].focus(); return; }
    await App.busy([$("terms-next"), $("agree-all")], async () => {
      const res = await App.api("POST", "/signups", { accepted_terms: accepted });
      if (res.status !== 201) { App.showError(res, "step-1-error"); return; }
      state = { id: res.body.signup_id, token: res.body.signup_token };
      save();
      route(res.body);
    });
  });

  // Step 2: certificate upload with progress.
  $("certificate").addEventListener("change", () => {
    const file = $("certificate").files[0];
    App.fieldError("certificate", "");
    if (!file) return;
    const form = new FormData();
    form.append("file", file);
    const xhr = new XMLHttpRequest();
    const bar = $("certificate-progress");
    bar.hidden = false; bar.value = 0;
    $("certificate-status").textContent = App.t("upload.progress") + "…";
    $("user-next").disabled = true;
    xhr.upload.addEventListener("progress", (e) => { if (e.lengthComputable) bar.value = Math.round((e.loaded / e.total) * 100); });
    xhr.addEventListener("loadend", () => {
      $("user-next").disabled = false;
      bar.hidden = true;
      let body = null;
      try { body = JSON.parse(xhr.responseText); } catch (e) { body = null; }
      const res = { status: xhr.status, body };
      if (xhr.status === 201) {
        certificateUploaded = true;
        $("certificate-status").textContent = "✓ " + App.t("upload.done") + ": " + body.certificate.filename;
      } else {
        $("certificate-status").textContent = "";
        App.fieldError("certificate", App.errorText(res));
      }
    });
    xhr.open("POST", "/api/v1/signups/" + state.id + "/certificate");
    xhr.setRequestHeader("Authorization", "Bearer " + state.token);
    xhr.send(form);
  });

  // Verify button: the result shows inline.
  $("verify").addEventListener("click", async () => {
    App.fieldError("business_number", "");
    $("business_number-status").textContent = "";
    const number = $("business_number").value.trim();
    if (!number) { App.fieldError("business_number", App.t("err.required")); $("business_number").focus(); return; }
    await App.busy([$("verify")], async () => {
      const res = await call("POST", "/business-number/verify", { business_number: number });
      if (res.status === 200) {
        verified = res.body.business_number;
        $("business_number").value = verified;
        $("business_number-status").textContent = "✓ " + App.t("verify.ok") + " (" + App.t("verify.source." + res.body.source) + ")";
      } else {
        verified = null;
        App.fieldError("business_number", App.errorText(res));
      }
    });
  });
  $("business_number").addEventListener("input", () => {
    if (verified && digits($("business_number").value) !== digits(verified)) { verified = null; $("business_number-status").textContent = ""; }
  });

  const userFields = ["business_number", "billing_email", "company_name", "representative_name", "representative_phone", "address", "business_type", "business_category"];
  $("form-user").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    App.clearErrors($("step-2"));
    let first = null;
    for (const f of userFields) if (!$(f).value.trim()) { App.fieldError(f, App.t("err.required")); first = first || $(f); }
    if (!certificateUploaded) { App.fieldError("certificate", App.t("err.certificate_required")); first = first || $("certificate"); }
    if (!first && (!verified || digits(verified) !== digits($("business_number").value))) {
      App.fieldError("business_number", App.t("verify.first")); first = $("business_number");
    }
    if (first) { first.focus(); return; }
    const body = {};
    for (const f of userFields) body[f] = $(f).value.trim();
    await App.busy([$("user-next"), $("verify")], async () => {
      const res = await call("PUT", "/user-info", body);
      if (res.status !== 200) {
        if (res.body && res.body.error && res.body.error.code === "certificate_required") App.fieldError("certificate", App.errorText(res));
        else if (res.body && res.body.error && res.body.error.code === "business_number_not_verified") App.fieldError("business_number", App.errorText(res));
        else App.showError(res, "step-2-error");
        return;
      }
      route(res.body);
    });
  });

  // Step 3: Check button and submit.
  $("check").addEventListener("click", async () => {
    App.fieldError("organization_name", "");
    $("organization_name-status").textContent = "";
    const name = $("organization_name").value.trim();
    if (!name) { App.fieldError("organization_name", App.t("err.required")); $("organization_name").focus(); return; }
    await App.busy([$("check")], async () => {
      const res = await App.api("GET", "/organization-names/" + encodeURIComponent(name) + "/availability");
      if (res.status !== 200) { App.fieldError("organization_name", App.errorText(res)); return; }
      const mine = state && res.body.reason === "reserved" && $("organization_name").dataset.reserved === res.body.name;
      if (res.body.available || mine) $("organization_name-status").textContent = "✓ " + res.body.name + " " + App.t("check.available");
      else App.fieldError("organization_name", res.body.name + " " + App.t("check." + res.body.reason));
    });
  });
  $("org-back").addEventListener("click", () => show("2"));
  const orgFields = ["organization_name", "contact_name", "contact_email", "mobile_phone"];
  $("form-org").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    App.clearErrors($("step-3"));
    let first = null;
    for (const f of orgFields) if (!$(f).value.trim()) { App.fieldError(f, App.t("err.required")); first = first || $(f); }
    if (first) { first.focus(); return; }
    const body = {};
    for (const f of orgFields) body[f] = $(f).value.trim();
    await App.busy([$("submit"), $("check"), $("org-back")], async () => {
      let res = await call("PUT", "/organization", body);
      if (res.status !== 200) { App.showError(res, "step-3-error"); return; }
      $("organization_name").dataset.reserved = res.body.organization.organization_name;
      res = await call("POST", "/submit");
      if (res.status !== 202) { App.showError(res, "step-3-error"); return; }
      show("done");
      follow(res.body);
    });
  });

  // Check your email: follow the status until the invitation is out.
  function follow(view) {
    clearTimeout(pollTimer);
    $("done-status").textContent = App.t("status." + view.status, view.status);
    $("done-email").textContent = view.organization ? view.organization.contact_email : "";
    const invited = view.invite && view.invite.sent_at;
    $("done-waiting").hidden = !(view.status === "provisioning" || (view.status === "invited" && !invited));
    $("done-invited").hidden = !invited;
    if (invited) $("done-expires").textContent = App.formatTime(view.invite.expires_at);
    const notes = { needs_attention: "done.attention", cancelled: "done.cancelled", abandoned: "done.abandoned", active: "done.active", reset_required: "done.reset_required" };
    $("done-message").textContent = notes[view.status] ? App.t(notes[view.status]) : "";
    if (view.status === "provisioning" || view.status === "needs_attention" || (view.status === "invited" && !invited)) {
      pollTimer = setTimeout(async () => {
        const res = await call("GET", "");
        if (res.status === 200) follow(res.body); else pollTimer = setTimeout(() => follow(view), 2000);
      }, 1000);
    }
  }

  $("start-over").addEventListener("click", () => {
    sessionStorage.removeItem(KEY);
    location.assign(App.withLang("/signup"));
  });

  // Resume where the wizard was.
  (async () => {
    if (!state) { show("1", true); return; }
    const res = await call("GET", "");
    if (res.status !== 200) { sessionStorage.removeItem(KEY); state = null; show("1", true); return; }
    route(res.body, true);
  })();
})();
