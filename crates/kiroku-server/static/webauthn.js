// kiroku: security keys (WebAuthn). A form marked data-webauthn="register" or "login" first posts
// its fields (with the CSRF token) to its data-options address, which answers the options of the
// ceremony as JSON; the browser asks the key (navigator.credentials.create / get), and the form is
// then submitted with the key's answer as JSON in its hidden "credential" field. Binary fields
// travel as base64url, as the WebAuthn JSON forms do.
(function () {
  "use strict";
  function toBytes(s) {
    var b64 = s.replace(/-/g, "+").replace(/_/g, "/");
    while (b64.length % 4) b64 += "=";
    var bin = atob(b64), out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out.buffer;
  }
  function toB64u(buf) {
    var bytes = new Uint8Array(buf), bin = "";
    for (var i = 0; i < bytes.length; i++) bin += String.fromCharCode(bytes[i]);
    return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }
  function creationOptions(o) {
    var pk = o.publicKey;
    pk.challenge = toBytes(pk.challenge);
    pk.user.id = toBytes(pk.user.id);
    (pk.excludeCredentials || []).forEach(function (c) { c.id = toBytes(c.id); });
    return o;
  }
  function requestOptions(o) {
    var pk = o.publicKey;
    pk.challenge = toBytes(pk.challenge);
    (pk.allowCredentials || []).forEach(function (c) { c.id = toBytes(c.id); });
    return o;
  }
  function registration(c) {
    return {
      id: c.id, rawId: toB64u(c.rawId), type: c.type,
      response: { attestationObject: toB64u(c.response.attestationObject), clientDataJSON: toB64u(c.response.clientDataJSON) },
      extensions: c.getClientExtensionResults ? c.getClientExtensionResults() : {}
    };
  }
  function assertion(c) {
    var r = c.response;
    return {
      id: c.id, rawId: toB64u(c.rawId), type: c.type,
      response: {
        authenticatorData: toB64u(r.authenticatorData), clientDataJSON: toB64u(r.clientDataJSON),
        signature: toB64u(r.signature), userHandle: r.userHandle ? toB64u(r.userHandle) : null
      },
      extensions: c.getClientExtensionResults ? c.getClientExtensionResults() : {}
    };
  }
  function fail(form) {
    var box = document.getElementById(form.getAttribute("data-error-box"));
    if (box) { box.textContent = form.getAttribute("data-error"); box.hidden = false; }
    var button = form.querySelector("button");
    if (button) button.disabled = false;
  }
  document.addEventListener("submit", function (e) {
    var form = e.target, kind = form.getAttribute && form.getAttribute("data-webauthn");
    if (!kind || form.getAttribute("data-ready") === "1") return;
    e.preventDefault();
    if (!window.PublicKeyCredential || !navigator.credentials) { fail(form); return; }
    var button = form.querySelector("button");
    if (button) button.disabled = true;
    var body = new URLSearchParams(new FormData(form));
    body.delete("credential");
    fetch(form.getAttribute("data-options"), {
      method: "POST", credentials: "same-origin", body: body,
      headers: { "Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json" }
    }).then(function (r) {
      if (!r.ok) throw new Error("options " + r.status);
      return r.json();
    }).then(function (options) {
      return kind === "register"
        ? navigator.credentials.create(creationOptions(options)).then(registration)
        : navigator.credentials.get(requestOptions(options)).then(assertion);
    }).then(function (answer) {
      form.querySelector("input[name=credential]").value = JSON.stringify(answer);
      form.setAttribute("data-ready", "1");
      form.submit();
    }).catch(function () { fail(form); });
  });
})();
