// What the page scripts share: the CSRF token, a JSON POST, and base64url (passkeys, push keys).
// base.html loads it in <head> before app.js, so it is there for every page script, boosted visits included.
(function () {
  'use strict';

  function csrfToken() {
    const meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : '';
  }

  // Sends `body` (an empty object when left out) and resolves with the JSON answer. A refusal rejects with
  // an Error whose serverMessage is the server's own, translated, detail: ready to show as it is.
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

  function b64urlDecode(value) {
    const base64 = value.replace(/-/g, '+').replace(/_/g, '/');
    const binary = atob(base64 + '='.repeat((4 - (base64.length % 4)) % 4));
    const bytes = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i += 1) bytes[i] = binary.charCodeAt(i);
    return bytes;
  }

  function b64urlEncode(buffer) {
    const bytes = new Uint8Array(buffer);
    let binary = '';
    for (let i = 0; i < bytes.length; i += 1) binary += String.fromCharCode(bytes[i]);
    return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  }

  window.Tsunagu = Object.assign(window.Tsunagu || {}, {
    http: { csrfToken: csrfToken, postJSON: postJSON, b64urlDecode: b64urlDecode, b64urlEncode: b64urlEncode },
  });
})();
