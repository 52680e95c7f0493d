// Passkey ceremonies: login (button and autofill) and creating a passkey (registration, another device,
// recovery, invitation). The server sends options as JSON and gets the browser's answer back as JSON;
// every message shown to the person comes translated from data-* attributes on the page.
(function () {
  'use strict';

  function b64urlToBuffer(value) {
    const base64 = value.replace(/-/g, '+').replace(/_/g, '/');
    const padded = base64 + '='.repeat((4 - (base64.length % 4)) % 4);
    const binary = atob(padded);
    const bytes = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i += 1) bytes[i] = binary.charCodeAt(i);
    return bytes.buffer;
  }

  function bufferToB64url(buffer) {
    const bytes = new Uint8Array(buffer);
    let binary = '';
    for (let i = 0; i < bytes.length; i += 1) binary += String.fromCharCode(bytes[i]);
    return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  }

  function creationOptions(json) {
    if (window.PublicKeyCredential && PublicKeyCredential.parseCreationOptionsFromJSON) {
      return PublicKeyCredential.parseCreationOptionsFromJSON(json);
    }
    return Object.assign({}, json, {
      challenge: b64urlToBuffer(json.challenge),
      user: Object.assign({}, json.user, { id: b64urlToBuffer(json.user.id) }),
      excludeCredentials: (json.excludeCredentials || []).map(function (c) {
        return Object.assign({}, c, { id: b64urlToBuffer(c.id) });
      }),
    });
  }

  function requestOptions(json) {
    if (window.PublicKeyCredential && PublicKeyCredential.parseRequestOptionsFromJSON) {
      return PublicKeyCredential.parseRequestOptionsFromJSON(json);
    }
    return Object.assign({}, json, {
      challenge: b64urlToBuffer(json.challenge),
      allowCredentials: (json.allowCredentials || []).map(function (c) {
        return Object.assign({}, c, { id: b64urlToBuffer(c.id) });
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
      rawId: bufferToB64url(credential.rawId),
      type: credential.type,
      clientExtensionResults: credential.getClientExtensionResults ? credential.getClientExtensionResults() : {},
      authenticatorAttachment: credential.authenticatorAttachment || null,
      response: { clientDataJSON: bufferToB64url(response.clientDataJSON) },
    };
    if (response.attestationObject) {
      out.response.attestationObject = bufferToB64url(response.attestationObject);
      out.response.transports = response.getTransports ? response.getTransports() : [];
    } else {
      out.response.authenticatorData = bufferToB64url(response.authenticatorData);
      out.response.signature = bufferToB64url(response.signature);
      out.response.userHandle = response.userHandle ? bufferToB64url(response.userHandle) : null;
    }
    return out;
  }

  function csrfToken() {
    const meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : '';
  }

  async function postJSON(url, body) {
    const response = await fetch(url, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json', 'x-csrftoken': csrfToken() },
      body: body === undefined ? '{}' : JSON.stringify(body),
    });
    let data = {};
    try { data = await response.json(); } catch (e) { data = {}; }
    if (!response.ok) {
      const error = new Error(data.detail || data.error || '');
      error.serverMessage = data.detail || data.error || '';
      throw error;
    }
    return data;
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
    const options = await postJSON(root.dataset.optionsUrl);
    if (controller && controller.signal.aborted) return;
    const request = { publicKey: requestOptions(options) };
    if (controller) {
      request.mediation = 'conditional';
      request.signal = controller.signal;
    }
    const credential = await navigator.credentials.get(request);
    const result = await postJSON(root.dataset.verifyUrl, Object.assign(credentialJSON(credential), { next: root.dataset.next || '' }));
    window.location.assign(result.redirect || '/');
  }

  async function create(root) {
    const options = await postJSON(root.dataset.optionsUrl);
    const credential = await navigator.credentials.create({ publicKey: creationOptions(options) });
    const result = await postJSON(root.dataset.verifyUrl, credentialJSON(credential));
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
