// Shared helpers of the pages: messages, API calls, errors beside fields.
"use strict";
const App = (() => {
  const lang = document.body.dataset.lang || "ko";
  const messages = JSON.parse(document.body.dataset.messages || "{}");
  const t = (key, fallback) => messages[key] || fallback || key;
  const withLang = (path) => path + (path.includes("?") ? "&" : "?") + "lang=" + lang;

  // api calls the JSON API; it resolves to {status, body} and never throws
  // for HTTP errors (status 0 means the network failed).
  async function api(method, path, body, token) {
    const headers = {};
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (token) headers["Authorization"] = "Bearer " + token;
    try {
      const res = await fetch("/api/v1" + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
      let data = null;
      const text = await res.text();
      if (text) { try { data = JSON.parse(text); } catch (e) { data = null; } }
      return { status: res.status, body: data };
    } catch (e) {
      return { status: 0, body: null };
    }
  }

  // errorText turns an API error into words for people, in the page's language.
  function errorText(res) {
    if (res.status === 0) return t("err.network");
    const err = res.body && res.body.error;
    if (!err) return t("err.generic");
    if (lang === "ko" && messages["code." + err.code]) return messages["code." + err.code];
    return err.message || t("err.generic");
  }

  function fieldError(name, text) {
    const el = document.getElementById(name + "-error");
    const input = document.getElementById(name);
    if (el) el.textContent = text || "";
    if (input) {
      if (text) input.setAttribute("aria-invalid", "true"); else input.removeAttribute("aria-invalid");
    }
    return !!el;
  }

  function clearErrors(root) {
    (root || document).querySelectorAll(".error").forEach((el) => { el.textContent = ""; });
    (root || document).querySelectorAll("[aria-invalid]").forEach((el) => el.removeAttribute("aria-invalid"));
  }

  // codeField names the field an error without fields belongs to.
  const codeField = {
    organization_name_taken: "organization_name", invalid_business_number: "business_number",
    business_not_registered: "business_number", business_not_active: "business_number",
    verification_unavailable: "business_number", business_number_not_verified: "business_number",
    certificate_required: "certificate", file_too_large: "certificate", unsupported_file_type: "certificate",
    file_missing: "certificate", weak_password: "password", organization_not_found: "organization_name",
  };

  // showError puts each field's error beside its field and the rest in the
  // step's error area; it focuses the first field in error.
  function showError(res, stepErrorId) {
    const err = res.body && res.body.error;
    let first = null;
    if (err && !err.fields && codeField[err.code] && fieldError(codeField[err.code], errorText(res))) {
      first = document.getElementById(codeField[err.code]);
      if (first) first.focus();
      return;
    }
    if (err && err.fields) {
      for (const [field, why] of Object.entries(err.fields)) {
        const text = lang === "ko" ? (messages["code." + err.code] && err.code !== "validation_failed" ? messages["code." + err.code] : t("field.invalid") + " (" + why + ")") : why;
        if (fieldError(field, text) && !first) first = document.getElementById(field);
      }
    }
    if (!first) {
      const el = document.getElementById(stepErrorId);
      if (el) el.textContent = errorText(res);
    }
    if (first) first.focus();
  }

  // busy disables the buttons of a form while a call is in flight.
  async function busy(buttons, fn) {
    buttons.forEach((b) => { b.disabled = true; b.setAttribute("aria-busy", "true"); });
    try { return await fn(); } finally { buttons.forEach((b) => { b.disabled = false; b.removeAttribute("aria-busy"); }); }
  }

  function formatTime(iso) {
    const d = new Date(iso);
    if (isNaN(d)) return iso;
    const kst = new Intl.DateTimeFormat(lang === "en" ? "en-GB" : "ko-KR", { timeZone: "Asia/Seoul", dateStyle: "long", timeStyle: "short" }).format(d);
    const utc = d.toISOString().replace("T", " ").slice(0, 16) + " UTC";
    return kst + " KST (" + utc + ")";
  }

  // Password policy, as the server checks it (internal/password).
  function passwordRules(pw, confirm) {
    const chars = [...pw];
    const lower = pw.toLowerCase();
    let sequence = false, repeat = false;
    for (let i = 0; i + 2 < lower.length; i++) {
      const a = lower.charCodeAt(i), b = lower.charCodeAt(i + 1), c = lower.charCodeAt(i + 2);
      const cls = (x) => (x >= 97 && x <= 122 ? "l" : x >= 48 && x <= 57 ? "d" : "");
      if (cls(a) && cls(a) === cls(b) && cls(b) === cls(c) && ((b === a + 1 && c === b + 1) || (b === a - 1 && c === b - 1))) sequence = true;
    }
    for (let i = 0; i + 2 < chars.length; i++) if (chars[i] === chars[i + 1] && chars[i + 1] === chars[i + 2]) repeat = true;
    return {
      length: chars.length >= 9 && chars.length <= 30,
      upper: /[A-Z]/.test(pw), lower: /[a-z]/.test(pw), digit: /[0-9]/.test(pw),
      symbol: /[!-\/:-@\[-`{-~]/.test(pw),
      sequence: pw.length > 0 && !sequence, repeat: pw.length > 0 && !repeat,
      characters: pw.length > 0 && /^[!-~]*$/.test(pw),
      match: pw.length > 0 && pw === confirm,
    };
  }

  // watchPolicy keeps the checklist under a new-password form current.
  function watchPolicy() {
    const pw = document.getElementById("password"), confirm = document.getElementById("confirm_password");
    const update = () => {
      const rules = passwordRules(pw.value, confirm.value);
      document.querySelectorAll("#policy li").forEach((li) => {
        const ok = rules[li.dataset.rule];
        li.classList.toggle("met", !!ok);
        li.classList.toggle("unmet", !ok && (pw.value.length > 0));
      });
      return Object.values(rules).every(Boolean);
    };
    pw.addEventListener("input", update);
    confirm.addEventListener("input", update);
    update();
    return update;
  }

  // tokenFromPath is the last path segment (the emailed token).
  const tokenFromPath = () => decodeURIComponent(location.pathname.split("/").filter(Boolean).pop() || "");

  return { lang, t, withLang, api, errorText, fieldError, clearErrors, showError, busy, formatTime, passwordRules, watchPolicy, tokenFromPath };
})();
