// Passkey ceremonies: login (button and autofill) and creating a passkey (registration, another device,
// recovery, invitation). The server sends options as JSON and gets the browser's answer back as JSON;
// every message shown to the person comes translated from data-* attributes on the page.
(function () {
  'use strict';
  const http = window.Tsunagu.http;

  function creationOptions(json) {
    if (window.PublicKeyCredential && PublicKeyCredential.parseCreationOptionsFromJSON) {
      return PublicKeyCredential.parseCreationOptionsFromJSON(json);
    }
    return Object.assign({}, json, {
      challenge: http.b64urlDecode(json.challenge),
      user: Object.assign({}, json.user, { id: http.b64urlDecode(json.user.id) }),
      excludeCredentials: (json.excludeCredentials || []).map(function (c) {
        return Object.assign({}, c, { id: http.b64urlDecode(c.id) });
      }),
    });
  }

  function requestOptions(json) {
    if (window.PublicKeyCredential && PublicKeyCredential.parseRequestOptionsFromJSON) {
      return PublicKeyCredential.parseRequestOptionsFromJSON(json);
    }
    return Object.assign({}, json, {
      challenge: http.b64urlDecode(json.challenge),
      allowCredentials: (json.allowCredentials || []).map(function (c) {
        return Object.assign({}, c, { id: http.b64urlDecode(c.id) });
      }),
    });
  }

  function credentialJSON(credential) {
    if (typeof credential.toJSON === 'function') {
      try { return credential.toJSON(); } catch (e) { /* fall through to the manual form */ }
    }
    const response = credential.response;
    const out = {
      id: credential.id,
      rawId: http.b64urlEncode(credential.rawId),
      type: credential.type,
      clientExtensionResults: credential.getClientExtensionResults ? credential.getClientExtensionResults() : {},
      authenticatorAttachment: credential.authenticatorAttachment || null,
      response: { clientDataJSON: http.b64urlEncode(response.clientDataJSON) },
    };
    if (response.attestationObject) {
      out.response.attestationObject = http.b64urlEncode(response.attestationObject);
      out.response.transports = response.getTransports ? response.getTransports() : [];
    } else {
      out.response.authenticatorData = http.b64urlEncode(response.authenticatorData);
      out.response.signature = http.b64urlEncode(response.signature);
      out.response.userHandle = response.userHandle ? http.b64urlEncode(response.userHandle) : null;
    }
    return out;
  }

  function showError(box, error) {
    if (!box) return;
    let message = error.serverMessage;
    if (!message) {
      if (error.name === 'NotAllowedError' || error.name === 'AbortError') message = box.dataset.msgCancelled;
      else if (error.name === 'InvalidStateError') message = box.dataset.msgExists;
      else if (error.name === 'TypeError' && !navigator.onLine) message = box.dataset.msgOffline;
      else message = box.dataset.msgFailed;
    }
    box.textContent = message;
    box.hidden = false;
  }

  function supported() {
    return Boolean(window.PublicKeyCredential && navigator.credentials);
  }

  let conditionalAbort = null;

  async function login(box, mediation) {
    const root = document.querySelector('[data-passkey-login]');
    // The autofill request is abortable from the moment it starts, so a tap on the button always wins.
    const controller = mediation ? new AbortController() : null;
    if (controller) conditionalAbort = controller;
    const options = await http.postJSON(root.dataset.optionsUrl);
    if (controller && controller.signal.aborted) return;
    const request = { publicKey: requestOptions(options) };
    if (controller) {
      request.mediation = 'conditional';
      request.signal = controller.signal;
    }
    const credential = await navigator.credentials.get(request);
    const result = await http.postJSON(root.dataset.verifyUrl, Object.assign(credentialJSON(credential), { next: root.dataset.next || '' }));
    window.location.assign(result.redirect || '/');
  }

  async function create(root) {
    const options = await http.postJSON(root.dataset.optionsUrl);
    const credential = await navigator.credentials.create({ publicKey: creationOptions(options) });
    const result = await http.postJSON(root.dataset.verifyUrl, credentialJSON(credential));
    window.location.assign(result.redirect || '/');
  }

  function wire() {
    const loginRoot = document.querySelector('[data-passkey-login]');
    if (loginRoot && !loginRoot.dataset.wired) {
      loginRoot.dataset.wired = '1';
      const box = loginRoot.querySelector('[data-passkey-error]');
      const button = loginRoot.querySelector('[data-passkey-button]');
      if (!supported()) {
        box.textContent = box.dataset.msgUnsupported;
        box.hidden = false;
        if (button) button.disabled = true;
        return;
      }
      button.disabled = false;
      button.addEventListener('click', function () {
        box.hidden = true;
        if (conditionalAbort) conditionalAbort.abort();
        login(box, false).catch(function (error) { showError(box, error); });
      });
      // Autofill: the browser offers saved passkeys in the field's suggestions, no button needed.
      if (PublicKeyCredential.isConditionalMediationAvailable) {
        PublicKeyCredential.isConditionalMediationAvailable().then(function (available) {
          if (!available) return;
          login(box, true).catch(function (error) {
            if (error.name !== 'AbortError') showError(box, error);
          });
        });
      }
    }

    const createRoot = document.querySelector('[data-passkey-create]');
    if (createRoot && !createRoot.dataset.wired) {
      createRoot.dataset.wired = '1';
      const box = createRoot.querySelector('[data-passkey-error]');
      const button = createRoot.querySelector('[data-passkey-button]');
      if (!supported()) {
        box.textContent = box.dataset.msgUnsupported;
        box.hidden = false;
        button.disabled = true;
        return;
      }
      button.disabled = false;
      button.addEventListener('click', function () {
        box.hidden = true;
        button.disabled = true;
        create(createRoot).catch(function (error) {
          button.disabled = false;
          showError(box, error);
        });
      });
    }
  }

  document.addEventListener('DOMContentLoaded', wire);
  document.addEventListener('htmx:load', wire);
  if (document.readyState !== 'loading') wire();
})();
