// What a device keeps until the server has answered it: the member's check-ins at a venue, and the uses a shop
// counter allowed with no network. Kept in IndexedDB, because what was scanned with no signal must outlive a
// closed tab and a restarted device; each item carries a nonce of its own, so sending it twice (the page and the
// service worker at once, or an answer lost on the way) records it once.
// An item leaves `pending` only when the server answered it (a final status, or refused: moved to `answered`
// for the page to show); a failed connection, a login that ended, a 409 (another account's item) or a server
// error keep it.
// Loaded by the pages that scan and built into the service worker (app/service_worker.py), which sends with
// Background Sync: one implementation for every queue, each in a database of its own.
(function (scope) {
  'use strict';
  const PENDING = 'pending';
  const ANSWERED = 'answered';
  // The send URL and the CSRF token, written by each visit of the page for the worker. A token older than
  // the browser's cookie is refused (403) and the items wait for the next visit, which writes a fresh one.
  const META = 'meta';
  const ANSWERS_KEPT_MS = 3 * 24 * 60 * 60 * 1000; // as long as the server takes a late check-in

  function done(request) {
    return new Promise(function (resolve, reject) {
      request.onsuccess = function () { resolve(request.result); };
      request.onerror = function () { reject(request.error); };
    });
  }

  // One queue. `kind`: {db: IndexedDB name, owner: the field naming whose item it is, fields: what is sent,
  // final: the statuses that end an item, twin(item, kept): whether a kept item makes `item` redundant}.
  function queue(kind) {
    function openDb() {
      const request = scope.indexedDB.open(kind.db, 1);
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

    // Keeps `item` unless a kept one makes it redundant (kind.twin). Resolves true when it was added. Read and
    // write in one transaction, so two quick scans add one.
    function add(item) {
      return inTransaction([PENDING], 'readwrite', function (tx) {
        const store = tx.objectStore(PENDING);
        return new Promise(function (resolve) {
          store.getAll().onsuccess = function (event) {
            const twin = event.target.result.some(function (kept) { return kept.nonce === item.nonce || kind.twin(item, kept); });
            if (!twin) store.add(item);
            resolve(!twin);
          };
        });
      });
    }

    // An item the server answered at once (the counter online), kept with the answers so that a later decision
    // with no network knows of it.
    function remember(item) {
      return inTransaction([ANSWERED], 'readwrite', function (tx) {
        tx.objectStore(ANSWERED).put(Object.assign({ answered_at: Date.now() }, item));
      });
    }

    function mine(items, owner) {
      return items.filter(function (item) { return !owner || item[kind.owner] === owner; });
    }

    async function pending(owner) {
      const items = await inTransaction([PENDING], 'readonly', function (tx) { return done(tx.objectStore(PENDING).getAll()); });
      return mine(await items, owner).sort(function (a, b) { return a.scanned_at - b.scanned_at; });
    }

    // The answers of the last days (older ones are dropped here), newest first.
    async function answered(owner, now) {
      const items = await inTransaction([ANSWERED], 'readwrite', function (tx) {
        const store = tx.objectStore(ANSWERED);
        return done(store.getAll()).then(function (all) {
          all.filter(function (item) { return now - item.answered_at > ANSWERS_KEPT_MS; })
            .forEach(function (item) { store.delete(item.nonce); });
          return all.filter(function (item) { return now - item.answered_at <= ANSWERS_KEPT_MS; });
        });
      });
      return mine(await items, owner).sort(function (a, b) { return b.answered_at - a.answered_at; });
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
        body: JSON.stringify(kind.fields.reduce(function (body, field) { body[field] = item[field]; return body; }, {})),
      });
    }

    // Sends the owner's pending items, oldest scan first (every owner's, from the worker: the server refuses, and
    // so keeps, one scanned for another account). Resolves {answers, kept}: kept counts those still waiting.
    async function send(owner) {
      const config = await settings();
      const items = await pending(owner);
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
        if ((response.ok && kind.final.indexOf(data.status) >= 0)
            || (data.status === 'refused' && (response.status === 400 || response.status === 422))) {
          const outcome = Object.assign({}, data, { outcome: data.status });
          delete outcome.status;
          answers.push(await answer(item, outcome));
        } else if (response.status !== 409) {
          return { answers: answers, kept: items.length - index }; // logged out, busy, or down: try later
        }
      }
      return { answers: answers, kept: items.length - answers.length };
    }

    return { add: add, remember: remember, pending: pending, answered: answered, settings: settings, send: send };
  }

  scope.Tsunagu = Object.assign(scope.Tsunagu || {}, {
    // One check-in a day is all a code gives: the same code waiting for the same member is not kept twice.
    checkInQueue: queue({
      db: 'tsunagu-check-ins', owner: 'member_no', fields: ['code', 'nonce', 'scanned_at', 'member_no'],
      final: ['recorded', 'already'],
      twin: function (item, kept) { return kept.code === item.code && kept.member_no === item.member_no; },
    }),
    // Each use is its own: the counter's rules (counter_rules.js) decided already whether a second one is allowed.
    counterQueue: queue({
      db: 'tsunagu-counter', owner: 'account', fields: ['code', 'offer', 'nonce', 'scanned_at', 'account'],
      final: ['recorded', 'already', 'conflict'],
      twin: function () { return false; },
    }),
  });
})(self);
