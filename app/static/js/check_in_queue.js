// The check-ins a phone keeps until the server has answered them. Kept in IndexedDB, because a check-in made
// at a venue with no signal must outlive a closed tab and a restarted phone; each carries a nonce of its own,
// so sending it twice (the page and the service worker at once, or an answer lost on the way) records it once.
// An item leaves `pending` only when the server answered it (recorded, already, or refused: moved to
// `answered` for the page to show); a failed connection, a login that ended or a server error keep it.
// Loaded by the check-in page and built into the service worker (app/service_worker.py), which sends with
// Background Sync: one implementation for both.
(function (scope) {
  'use strict';
  const DB_NAME = 'tsunagu-check-ins';
  const PENDING = 'pending';
  const ANSWERED = 'answered';
  // The send URL and the CSRF token, written by each visit of the page for the worker. A token older than
  // the browser's cookie is refused (403) and the check-ins wait for the next visit, which writes a fresh one.
  const META = 'meta';
  const ANSWERS_KEPT_MS = 3 * 24 * 60 * 60 * 1000; // as long as the server takes a late check-in

  function done(request) {
    return new Promise(function (resolve, reject) {
      request.onsuccess = function () { resolve(request.result); };
      request.onerror = function () { reject(request.error); };
    });
  }

  function openDb() {
    const request = scope.indexedDB.open(DB_NAME, 1);
    request.onupgradeneeded = function () {
      const db = request.result;
      db.createObjectStore(PENDING, { keyPath: 'nonce' });
      db.createObjectStore(ANSWERED, { keyPath: 'nonce' });
      db.createObjectStore(META);
    };
    return done(request);
  }

  // Runs `work(tx)` in one transaction and resolves with what it returned once the transaction committed.
  async function inTransaction(stores, mode, work) {
    const db = await openDb();
    try {
      const tx = db.transaction(stores, mode);
      const committed = new Promise(function (resolve, reject) {
        tx.oncomplete = resolve;
        tx.onerror = function () { reject(tx.error); };
        tx.onabort = function () { reject(tx.error); };
      });
      const result = work(tx);
      await committed;
      return result;
    } finally {
      db.close();
    }
  }

  // Keeps `item` unless the same code waits already for the same member (one check-in a day is all it gives).
  // Resolves true when it was added. Read and write in one transaction, so two quick scans add one.
  function add(item) {
    return inTransaction([PENDING], 'readwrite', function (tx) {
      const store = tx.objectStore(PENDING);
      return new Promise(function (resolve) {
        store.getAll().onsuccess = function (event) {
          const twin = event.target.result.some(function (kept) { return kept.code === item.code && kept.member_no === item.member_no; });
          if (!twin) store.add(item);
          resolve(!twin);
        };
      });
    });
  }

  function mine(items, memberNo) {
    return items.filter(function (item) { return !memberNo || item.member_no === memberNo; });
  }

  async function pending(memberNo) {
    const items = await inTransaction([PENDING], 'readonly', function (tx) { return done(tx.objectStore(PENDING).getAll()); });
    return mine(await items, memberNo);
  }

  // The answers of the last days (older ones are dropped here), newest first.
  async function answered(memberNo, now) {
    const items = await inTransaction([ANSWERED], 'readwrite', function (tx) {
      const store = tx.objectStore(ANSWERED);
      return done(store.getAll()).then(function (all) {
        all.filter(function (item) { return now - item.answered_at > ANSWERS_KEPT_MS; })
          .forEach(function (item) { store.delete(item.nonce); });
        return all.filter(function (item) { return now - item.answered_at <= ANSWERS_KEPT_MS; });
      });
    });
    return mine(await items, memberNo).sort(function (a, b) { return b.answered_at - a.answered_at; });
  }

  function settings(values) {
    return inTransaction([META], 'readwrite', function (tx) {
      const store = tx.objectStore(META);
      if (values) store.put(values, 'settings');
      return done(store.get('settings'));
    });
  }

  // The item leaves `pending` and its answer is kept, in one transaction: never both, never neither. When the
  // page and the worker sent it at once, the server said "recorded" to one and "already" to the other: the
  // member is shown "recorded".
  function answer(item, outcome) {
    const fresh = Object.assign({}, item, outcome, { answered_at: Date.now() });
    return inTransaction([PENDING, ANSWERED], 'readwrite', function (tx) {
      tx.objectStore(PENDING).delete(item.nonce);
      const answers = tx.objectStore(ANSWERED);
      return done(answers.get(item.nonce)).then(function (earlier) {
        if (earlier && !(earlier.outcome === 'already' && fresh.outcome === 'recorded')) return earlier;
        answers.put(fresh);
        return fresh;
      });
    });
  }

  async function post(config, item) {
    return scope.fetch(config.send_url, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json', 'x-csrftoken': config.csrf || '' },
      body: JSON.stringify({ code: item.code, nonce: item.nonce, scanned_at: item.scanned_at, member_no: item.member_no }),
    });
  }

  // Sends the member's pending check-ins (every member's, from the worker: the server refuses, and so keeps,
  // one scanned for another member). Resolves {answers, kept}: kept counts those still waiting.
  async function send(memberNo) {
    const config = await settings();
    const items = await pending(memberNo);
    const answers = [];
    for (let index = 0; index < items.length; index += 1) {
      const item = items[index];
      let response;
      try {
        response = await post(config, item);
      } catch (error) {
        return { answers: answers, kept: items.length - index }; // no connection: the rest waits too
      }
      let data = {};
      try { data = await response.json(); } catch (error) { data = {}; }
      if (response.ok && (data.status === 'recorded' || data.status === 'already')) {
        answers.push(await answer(item, { outcome: data.status, title: data.title, day: data.day }));
      } else if (data.status === 'refused' && (response.status === 400 || response.status === 422)) {
        answers.push(await answer(item, { outcome: 'refused', reason: data.reason, detail: data.detail }));
      } else if (response.status !== 409) {
        return { answers: answers, kept: items.length - index }; // logged out, busy, or down: try later
      }
    }
    return { answers: answers, kept: items.length - answers.length };
  }

  scope.Tsunagu = Object.assign(scope.Tsunagu || {}, {
    checkInQueue: { add: add, pending: pending, answered: answered, settings: settings, send: send },
  });
})(self);
