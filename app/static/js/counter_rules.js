// The shop counter's rules a device can apply by itself, with no network: specified once, as the cases of
// tests/cases/counter_rules.json, which the server's rules (app/services/wallet/redemption.py) meet too. It
// reads and verifies the wallet token (signed_token.js, Ed25519 by Web Crypto), and decides with the counter
// bundle (app/services/wallet/counter_bundle.py) and this device's own earlier uses.
// Plain functions on `self`, after http.js and signed_token.js (the token reader it shares with the check-in):
// the scanner page loads them, and the service worker can build them in, as it does the check-in queue, to
// decide and keep redemptions while offline.
(function (scope) {
  'use strict';
  const SHORT_CODE_MAX = 16; // longer texts are tokens, as redemption.read_code() tells them apart
  // Looked up when used: a page swapped in by htmx may run its scripts in any order.
  function token() { return scope.Tsunagu.signedToken; }
  function tokyoDay(ms) { return token().tokyoDay(ms); }
  function clean(text) { return token().clean(text); }

  // What a code is: {kind: 'short'} for the typed short code, {kind: 'token', walletPassId, expiresMs} for a
  // verified wallet token, or {kind: 'refused', reason} (damaged, forged, wrong_kind, expired), in the server's
  // order. {kind: 'unverified', ...} when this browser cannot verify Ed25519.
  async function readCode(text, tokenRules, now) {
    const code = clean(text);
    if (!code) return { kind: 'refused', reason: 'damaged' };
    if (code.length <= SHORT_CODE_MAX) return { kind: 'short', code: code };
    const read = await token().read(code, tokenRules, now);
    if (!read.ok) return { kind: 'refused', reason: read.reason };
    return { kind: read.verified === null ? 'unverified' : 'token', code: read.code, walletPassId: read.subject,
             expiresMs: read.expiresMs };
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
