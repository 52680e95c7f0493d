// A signed code read on the device, as app/services/shared/signed_tokens.py writes it: base32 of version |
// key id | kind | subject (uvarint) | expiry in minutes (uvarint) | Ed25519 signature. One reader for the
// activity check-in (check_in.js) and the shop counter (counter_rules.js), refusing with the server's reasons
// in the server's order. Plain functions on `self`, after http.js (base64url): pages and the service worker
// can both load it.
(function (scope) {
  'use strict';
  const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  const SIGNATURE_BYTES = 64;
  const MINUTE_MS = 60000;
  const tokyoDayFormat = new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Tokyo', year: 'numeric', month: '2-digit', day: '2-digit' });

  // The Tokyo date of a moment (ms), as YYYY-MM-DD: the day the check-in codes, per-day limits and stays use.
  function tokyoDay(ms) {
    return tokyoDayFormat.format(new Date(ms));
  }

  // What was typed or scanned, without spaces and hyphens, in capitals.
  function clean(text) {
    return String(text || '').replace(/\s+/g, '').replace(/-/g, '').toUpperCase();
  }

  function base32Decode(text) {
    const bytes = [];
    let buffer = 0;
    let bits = 0;
    for (let i = 0; i < text.length; i += 1) {
      const value = BASE32.indexOf(text[i]);
      if (value < 0) return null;
      buffer = ((buffer << 5) | value) & 0xffff;
      bits += 5;
      if (bits >= 8) {
        bits -= 8;
        bytes.push((buffer >> bits) & 0xff);
      }
    }
    return new Uint8Array(bytes);
  }

  // [value, next position], or null; at most 10 bytes, as the server reads it. Ids and minutes stay far
  // below 2^53, so plain numbers hold them.
  function readUvarint(bytes, pos) {
    let result = 0;
    let factor = 1;
    for (let i = 0; i < 10 && pos < bytes.length; i += 1) {
      const byte = bytes[pos];
      pos += 1;
      result += (byte & 0x7f) * factor;
      if (!(byte & 0x80)) return [result, pos];
      factor *= 128;
    }
    return null;
  }

  // Where Web Crypto has no Ed25519 (older Chrome, Safari and Firefox): the vendored noble-ed25519, when the page
  // loaded it, checking as strictly as the server (RFC 8032, not ZIP 215's wider rules). null without it.
  async function nobleHolds(key, signature, body) {
    if (!scope.nobleEd25519) return null;
    try {
      return await scope.nobleEd25519.verifyAsync(signature, body, key, { zip215: false });
    } catch (error) {
      return false;
    }
  }

  // true or false; null where this browser cannot check Ed25519 at all (then only the server can tell).
  async function signatureHolds(key, signature, body) {
    if (!scope.crypto || !scope.crypto.subtle) return null;
    try {
      const publicKey = await scope.crypto.subtle.importKey('raw', key, { name: 'Ed25519' }, false, ['verify']);
      return await scope.crypto.subtle.verify({ name: 'Ed25519' }, publicKey, signature, body);
    } catch (error) {
      return error && error.name === 'NotSupportedError' ? nobleHolds(key, signature, body) : false;
    }
  }

  // {ok: true, code, subject, expiresMs, verified} (verified: true, or null where this browser cannot tell),
  // or {ok: false, reason} with reason damaged, forged, wrong_kind or expired. `rules`: {version, kind, keys
  // (key id → base64url public key)}; `now` in ms.
  async function read(text, rules, now) {
    const code = clean(text);
    const raw = code && code.length <= 200 ? base32Decode(code) : null;
    if (!raw || raw.length < 3 + 2 + SIGNATURE_BYTES || raw[0] !== rules.version) return { ok: false, reason: 'damaged' };
    const body = raw.slice(0, raw.length - SIGNATURE_BYTES);
    const signature = raw.slice(raw.length - SIGNATURE_BYTES);
    const key = rules.keys[String(body[1])];
    if (!key) return { ok: false, reason: 'forged' };
    const holds = await signatureHolds(scope.Tsunagu.http.b64urlDecode(key), signature, body);
    if (holds === false) return { ok: false, reason: 'forged' };
    if (body[2] !== rules.kind) return { ok: false, reason: 'wrong_kind' };
    const subject = readUvarint(body, 3);
    const minutes = subject && readUvarint(body, subject[1]);
    if (!minutes || minutes[1] !== body.length) return { ok: false, reason: 'damaged' };
    const expiresMs = minutes[0] * MINUTE_MS;
    if (expiresMs <= now) return { ok: false, reason: 'expired' };
    return { ok: true, code: code, subject: subject[0], expiresMs: expiresMs, verified: holds };
  }

  scope.Tsunagu = Object.assign(scope.Tsunagu || {}, { signedToken: { read: read, clean: clean, tokyoDay: tokyoDay } });
})(self);
