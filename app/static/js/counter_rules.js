// The shop counter's rules a device can apply by itself, with no network: specified once, as the cases of
// tests/cases/counter_rules.json, which the server's rules (app/services/wallet/redemption.py) meet too. It
// reads the wallet token as app/services/shared/signed_tokens.py writes it (version | key id | kind | subject
// uvarint | expiry minutes uvarint | Ed25519 signature), verifies it with Web Crypto, and decides with the
// counter bundle (app/services/wallet/counter_bundle.py) and this device's own earlier uses.
// Plain functions on `self`, after http.js (base64url): the scanner page loads both, and the service worker can
// build them in, as it does the check-in queue, to decide and keep redemptions while offline.
(function (scope) {
  'use strict';
  const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  const SIGNATURE_BYTES = 64;
  const SHORT_CODE_MAX = 16; // longer texts are tokens, as redemption.read_code() tells them apart
  const MINUTE_MS = 60000;
  const tokyoDayFormat = new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Tokyo', year: 'numeric', month: '2-digit', day: '2-digit' });

  // The Tokyo date of a moment (ms), as YYYY-MM-DD: the day the per-day limits, stays and offer dates use.
  function tokyoDay(ms) {
    return tokyoDayFormat.format(new Date(ms));
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

  // [value, next position] or null; at most 10 bytes, as the server reads it.
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

  // true or false; null where the browser has no Ed25519 in Web Crypto (then only the server can tell).
  async function signatureHolds(key, signature, body) {
    if (!scope.crypto || !scope.crypto.subtle) return null;
    try {
      const publicKey = await scope.crypto.subtle.importKey('raw', key, { name: 'Ed25519' }, false, ['verify']);
      return await scope.crypto.subtle.verify({ name: 'Ed25519' }, publicKey, signature, body);
    } catch (error) {
      return error && error.name === 'NotSupportedError' ? null : false;
    }
  }

  // A code as typed or read: spaces and dashes out, upper case.
  function clean(text) {
    return String(text || '').replace(/\s+/g, '').replace(/-/g, '').toUpperCase();
  }

  // What a code is: {kind: 'short'} for the typed short code, {kind: 'token', walletPassId, expiresMs} for a
  // verified wallet token, or {kind: 'refused', reason} (damaged, forged, wrong_kind, expired), in the server's
  // order. {kind: 'unverified', ...} when this browser cannot verify Ed25519.
  async function readCode(text, tokenRules, now) {
    const code = clean(text);
    if (!code) return { kind: 'refused', reason: 'damaged' };
    if (code.length <= SHORT_CODE_MAX) return { kind: 'short', code: code };
    const raw = code.length <= 200 ? base32Decode(code) : null;
    if (!raw || raw.length < 3 + 2 + SIGNATURE_BYTES || raw[0] !== tokenRules.version) return { kind: 'refused', reason: 'damaged' };
    const body = raw.slice(0, raw.length - SIGNATURE_BYTES);
    const signature = raw.slice(raw.length - SIGNATURE_BYTES);
    const key = tokenRules.keys[String(body[1])];
    if (!key) return { kind: 'refused', reason: 'forged' };
    const holds = await signatureHolds(scope.Tsunagu.http.b64urlDecode(key), signature, body);
    if (holds === false) return { kind: 'refused', reason: 'forged' };
    if (body[2] !== tokenRules.kind) return { kind: 'refused', reason: 'wrong_kind' };
    const subject = readUvarint(body, 3);
    const minutes = subject && readUvarint(body, subject[1]);
    if (!minutes || minutes[1] !== body.length) return { kind: 'refused', reason: 'damaged' };
    const expiresMs = minutes[0] * MINUTE_MS;
    if (expiresMs <= now) return { kind: 'refused', reason: 'expired' };
    return { kind: holds === null ? 'unverified' : 'token', code: code, walletPassId: subject[0], expiresMs: expiresMs };
  }

  // The limit key of a use, as redemption.limit_of() keys it: "once", the Tokyo day, or none for unlimited.
  function limitKey(offer, ms) {
    if (offer.limit_kind === 'once') return 'once';
    if (offer.limit_kind === 'per_day') return tokyoDay(ms);
    return null;
  }

  function slots(offer) {
    return offer.limit_kind === 'per_day' ? Math.max(1, offer.limit_count || 1) : 1;
  }

  // What makes the whole pass unusable now, or '': the bundle's lists and the declared stay.
  function passProblem(bundle, walletPassId, now) {
    if ((bundle.revoked || []).indexOf(walletPassId) >= 0) return 'revoked';
    if ((bundle.suspended || []).indexOf(walletPassId) >= 0) return 'suspended';
    const stay = (bundle.stays || {})[String(walletPassId)];
    if (stay) {
      const today = tokyoDay(now);
      if (stay[0] && today < stay[0]) return 'before_stay';
      if (stay[1] && today > stay[1]) return 'after_stay';
    }
    return '';
  }

  function offerProblem(offer, now) {
    if (!offer) return 'wrong_shop'; // the bundle holds this shop's offers only
    const today = tokyoDay(now);
    if (!offer.active || (offer.valid_from && today < offer.valid_from) || (offer.valid_to && today > offer.valid_to)) {
      return 'offer_unavailable';
    }
    return '';
  }

  // The device's decision on using `input.offer_id` with the code `input.text` at `input.now` (ms), given the
  // bundle and this device's earlier uses ([{wallet_pass_id, offer_id, at, undone}]):
  // {decision: 'ok', walletPassId, limitKey} | {decision: 'refused', reason} | {decision: 'server', reason}
  // ('server': only the server can decide: a typed short code, a premium-only offer, no Ed25519 here).
  async function decide(input, bundle) {
    const now = input.now;
    const read = await readCode(input.text, bundle.token, now);
    if (read.kind === 'refused') return { decision: 'refused', reason: read.reason };
    if (read.kind === 'short') return { decision: 'server', reason: 'short_code' };
    if (read.kind === 'unverified') return { decision: 'server', reason: 'no_ed25519' };
    const problem = passProblem(bundle, read.walletPassId, now);
    if (problem) return { decision: 'refused', reason: problem };
    const offer = (bundle.offers || []).filter(function (o) { return o.id === input.offer_id; })[0];
    const offerReason = offerProblem(offer, now);
    if (offerReason) return { decision: 'refused', reason: offerReason };
    if (offer.premium_only) return { decision: 'server', reason: 'premium_only' };
    const key = limitKey(offer, now);
    if (key !== null) {
      const taken = (input.uses || []).filter(function (use) {
        return use.wallet_pass_id === read.walletPassId && use.offer_id === offer.id && !use.undone && limitKey(offer, use.at) === key;
      }).length;
      if (taken >= slots(offer)) {
        return { decision: 'refused', reason: offer.limit_kind === 'per_day' ? 'already_used_today' : 'already_used' };
      }
    }
    return { decision: 'ok', reason: '', walletPassId: read.walletPassId, limitKey: key };
  }

  scope.Tsunagu = Object.assign(scope.Tsunagu || {}, {
    counterRules: { decide: decide, readCode: readCode, tokyoDay: tokyoDay, limitKey: limitKey, clean: clean },
  });
})(self);
