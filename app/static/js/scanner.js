// The camera scanner of the shop counter and of a member's check-in: camera frames decoded with jsQR
// (BarcodeDetector is missing in many browsers). A decoded code is announced as a `qr-scanned` event on the
// scanner; unless a page script takes it (preventDefault), the page at data-scan-url is asked about it.
// A continuous scanner (the shop's counter) keeps the camera on after a read and announces every code it
// decodes, about ten times a second; the page script decides what a repeat means. Typing the code is always
// possible.
(function () {
  'use strict';
  let stream = null;
  let facing = 'environment';
  let frameRequest = null;
  const DECODE_EVERY_MS = 100; // a cheap tablet keeps up, and a code is still read within a tenth of a second

  function stop() {
    if (frameRequest) cancelAnimationFrame(frameRequest);
    frameRequest = null;
    if (stream) stream.getTracks().forEach(function (track) { track.stop(); });
    stream = null;
  }

  function status(root, key) {
    const box = root.querySelector('[data-scanner-status]');
    box.textContent = box.dataset[key] || '';
  }

  // Resolves true when the camera keeps going (a continuous scanner whose page took the code).
  function found(root, text) {
    const event = new CustomEvent('qr-scanned', { detail: { text: text, at: performance.now() }, bubbles: true, cancelable: true });
    const taken = !root.dispatchEvent(event);
    if (taken && 'scannerContinuous' in root.dataset) return true;
    stop();
    if (!taken && root.dataset.scanUrl) window.location.assign(root.dataset.scanUrl + '?code=' + encodeURIComponent(text));
    return false;
  }

  function scan(root, video, canvas) {
    const context = canvas.getContext('2d', { willReadFrequently: true });
    let last = 0;
    function tick(time) {
      if (!stream) return;
      if (!root.isConnected) { stop(); return; } // the page moved on (a boosted visit swapped it out)
      if (time - last >= DECODE_EVERY_MS && video.readyState === video.HAVE_ENOUGH_DATA && video.videoWidth) {
        last = time;
        // Decode a reduced frame: fast enough on a cheap tablet, sharp enough for a phone-sized QR.
        const scale = Math.min(1, 640 / video.videoWidth);
        canvas.width = Math.round(video.videoWidth * scale);
        canvas.height = Math.round(video.videoHeight * scale);
        context.drawImage(video, 0, 0, canvas.width, canvas.height);
        const image = context.getImageData(0, 0, canvas.width, canvas.height);
        const code = window.jsQR(image.data, image.width, image.height, { inversionAttempts: 'dontInvert' });
        if (code && code.data && !found(root, code.data)) return;
      }
      frameRequest = requestAnimationFrame(tick);
    }
    frameRequest = requestAnimationFrame(tick);
  }

  // One start at a time: the autostart and a tap on the button may meet.
  let starting = null;
  function start(root) {
    if (!starting) starting = begin(root).finally(function () { starting = null; });
    return starting;
  }

  async function begin(root) {
    const video = root.querySelector('[data-scanner-video]');
    const canvas = root.querySelector('[data-scanner-canvas]');
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia || !window.jsQR) {
      status(root, 'msgNone');
      return;
    }
    stop();
    try {
      stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: facing }, audio: false });
    } catch (error) {
      status(root, error && error.name === 'NotAllowedError' ? 'msgDenied' : 'msgNone');
      return;
    }
    video.srcObject = stream;
    video.hidden = false;
    await video.play().catch(function () { /* autoplay of a muted inline video is allowed; ignore odd refusals */ });
    status(root, 'msgLooking');
    root.dataset.scanning = '1';
    const track = stream.getVideoTracks()[0];
    const capabilities = track && track.getCapabilities ? track.getCapabilities() : {};
    const torch = root.querySelector('[data-scanner-torch]');
    torch.hidden = !capabilities.torch;
    const devices = await navigator.mediaDevices.enumerateDevices();
    root.querySelector('[data-scanner-switch]').hidden = devices.filter(function (d) { return d.kind === 'videoinput'; }).length < 2;
    scan(root, video, canvas);
  }

  function wire() {
    const root = document.querySelector('[data-scanner]');
    if (!root || root.dataset.wired) return;
    root.dataset.wired = '1';
    root.querySelector('[data-scanner-start]').addEventListener('click', function () { start(root); });
    if ('scannerAutostart' in root.dataset && navigator.permissions && navigator.permissions.query) {
      // No prompt on its own: only when the browser already allows the camera for this site.
      navigator.permissions.query({ name: 'camera' }).then(function (state) {
        if (state.state === 'granted' && !stream) start(root);
      }).catch(function () { /* the permission cannot be asked about: the start button is there */ });
    }
    root.querySelector('[data-scanner-switch]').addEventListener('click', function () {
      facing = facing === 'environment' ? 'user' : 'environment';
      start(root);
    });
    let torchOn = false;
    root.querySelector('[data-scanner-torch]').addEventListener('click', function () {
      const track = stream && stream.getVideoTracks()[0];
      if (!track) return;
      torchOn = !torchOn;
      track.applyConstraints({ advanced: [{ torch: torchOn }] }).catch(function () { torchOn = false; });
    });
  }

  document.addEventListener('DOMContentLoaded', wire);
  document.addEventListener('htmx:load', wire);
  // Leaving the page by a boosted link stops the camera; the counter's own requests (a scan, the day's list) do not.
  document.addEventListener('htmx:beforeRequest', function (event) { if (event.detail.boosted) stop(); });
  window.addEventListener('pagehide', stop);
  if (document.readyState !== 'loading') wire();
})();
