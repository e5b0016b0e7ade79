"""The script of the candidate's page (pure: a constant, allowed by its SHA-256 in the page's policy).

It reads the link's token from the page's own path (so the script is the same text for every link, and its
hash constant), takes a check from `POST /c/{token}/start`, then runs the phases the server planned:

- idle: a fetch of the speed server's tiny latency.txt every 100 ms for idle_s (the first, which opens the
  connection, left out): the round trip a request from this home waits on a quiet line;
- download: 4 fetches at a time of random{1000}x{1000}.jpg?test=ID (the server counts what the browser's TCP
  acknowledged under ID), for download_s, the browser counting what it read after the warm-up
  (max(1 s, 20 % of the phase), as probe/speed_timeline.py) beside it; pings every 200 ms after the warm-up
  give the round trip under load;
- upload: 4 XHR POSTs at a time of 1 MiB of random bytes to upload.php?test=ID (the server counts what
  arrived), XHR because its upload progress is the browser's own count; pings as for the download;
- call: window.homeshoreCall(checkUrl, {seconds, onProgress}) when the call's script is on the page;
- finish: POST /check/{id}/finish with the figures; the reply is the verdict, shown as it came.

Every text the server sends is put in with textContent, never as HTML. document.body.dataset.state says
"running", "done" or "error" (what a test waits for).
"""

SCRIPT = r"""(function () {
"use strict";
var $ = function (id) { return document.getElementById(id); };
var base = location.pathname.replace(/\/+$/, "");
var STREAMS = 4, UPLOAD_BYTES = 1 << 20;
function now() { return performance.now() / 1000; }
function warmup(s) { return Math.max(1, 0.2 * s); }
function sleep(ms) { return new Promise(function (r) { setTimeout(r, ms); }); }
function phase(name, fraction, note) {
  var item = document.querySelector('[data-phase="' + name + '"]');
  if (!item) { return; }
  item.querySelector("progress").value = Math.min(1, Math.max(0, fraction));
  if (note !== undefined) { item.querySelector(".note").textContent = note; }
}
function ticking(name, start, seconds) {
  return setInterval(function () { phase(name, (now() - start) / seconds); }, 200);
}
async function ping() {
  var t0 = performance.now();
  var reply = await fetch("/speedtest/latency.txt?x=" + Math.random(), {cache: "no-store"});
  await reply.text();
  return performance.now() - t0;
}
function pinger(intervalMs, fromS) {
  var samples = [], running = true;
  var done = (async function () {
    while (running) {
      var t = now();
      try {
        var rtt = await ping();
        if (t >= fromS && running) { samples.push(Math.round(rtt * 1000) / 1000); }
      } catch (e) { /* a ping lost under load is no round trip */ }
      var wait = intervalMs - (now() - t) * 1000;
      if (running && wait > 0) { await sleep(wait); }
    }
  })();
  return {stop: async function () { running = false; await done; return samples.slice(-600); }};
}
function rate(steady, cut, last) { return last > cut + 0.5 ? steady * 8 / (last - cut) / 1e6 : null; }
// STREAMS copies of stream() at once until the phase ends (abortAll() then cuts what is still under way), with
// pings after the warm-up: the round trips under load.
async function streams(name, start, seconds, cut, stream, abortAll) {
  var ticker = ticking(name, start, seconds), stopper = setTimeout(abortAll, seconds * 1000 + 20);
  var pings = pinger(200, cut), running = [];
  try {
    for (var i = 0; i < STREAMS; i++) { running.push(stream()); }
    await Promise.all(running);
  } finally { clearInterval(ticker); clearTimeout(stopper); }
  return pings.stop();
}
async function download(seconds, testId) {
  var start = now(), end = start + seconds, cut = start + warmup(seconds);
  var total = 0, steady = 0, last = cut, controllers = [];
  async function stream() {
    while (now() < end) {
      var controller = new AbortController();
      controllers.push(controller);
      try {
        var reply = await fetch("/speedtest/random1000x1000.jpg?test=" + testId + "&x=" + Math.random(),
                                {cache: "no-store", signal: controller.signal});
        if (!reply.ok) { throw new Error("refused (" + reply.status + ")"); }
        var reader = reply.body.getReader();
        for (;;) {
          var part = await reader.read();
          if (part.done) { break; }
          var t = now();
          total += part.value.length;
          if (t > cut && t <= end) { steady += part.value.length; last = t; }
        }
      } catch (e) {
        if (now() < end) { throw new Error("the download was cut off: " + e.message); }
      }
    }
  }
  var rtt = await streams("download", start, seconds, cut, stream,
                          function () { controllers.forEach(function (c) { c.abort(); }); });
  return {bytes: total, mbps: rate(steady, cut, last), rtt: rtt};
}
function randomBody() {
  var body = new Uint8Array(UPLOAD_BYTES);
  for (var i = 0; i < body.length; i += 65536) { crypto.getRandomValues(body.subarray(i, i + 65536)); }
  return body;
}
async function upload(seconds, testId) {
  var body = randomBody();
  var start = now(), end = start + seconds, cut = start + warmup(seconds);
  var total = 0, steady = 0, last = cut, requests = [];
  function one() {
    return new Promise(function (resolve, reject) {
      if (now() >= end) { resolve(); return; }
      var xhr = new XMLHttpRequest(), seen = 0;
      requests.push(xhr);
      xhr.open("POST", "/speedtest/upload.php?test=" + testId);
      xhr.upload.onprogress = function (e) {
        var t = now(), n = e.loaded - seen;
        seen = e.loaded;
        total += n;
        if (t > cut && t <= end) { steady += n; last = t; }
      };
      xhr.onloadend = function () {
        if (now() < end && xhr.status !== 200) { reject(new Error("the upload was refused (" + xhr.status + ")")); }
        else { resolve(one()); }
      };
      xhr.send(body);
    });
  }
  var rtt = await streams("upload", start, seconds, cut, one,
                          function () { requests.forEach(function (x) { x.abort(); }); });
  return {bytes: total, mbps: rate(steady, cut, last), rtt: rtt};
}
async function idle(seconds) {
  await ping();  // opens the connection: not a round trip of a quiet line
  var start = now(), ticker = ticking("idle", start, seconds), pings = pinger(100, start);
  await sleep(seconds * 1000);
  clearInterval(ticker);
  return pings.stop();
}
function connection() {
  var c = navigator.connection;
  return {connection_type: (c && c.type) || null, effective_type: (c && c.effectiveType) || null};
}
async function post(url, body) {
  var reply = await fetch(url, {method: "POST", cache: "no-store", headers: {"Content-Type": "application/json"},
                                body: JSON.stringify(body || {})});
  var answer = await reply.json().catch(function () { return {error: "the server's reply was unreadable"}; });
  if (!reply.ok) { throw new Error(answer.error || ("the server answered " + reply.status)); }
  return answer;
}
function row(table, label, value) {
  var tr = table.insertRow(), th = document.createElement("th");
  th.textContent = label;
  tr.appendChild(th);
  tr.insertCell().textContent = value === null || value === undefined ? "not measured" : String(value);
}
function show(reply) {
  var heading = $("verdict");
  heading.textContent = reply.headline;
  heading.className = reply.verdict.toLowerCase();
  heading.dataset.verdict = reply.verdict;
  $("verdict-code").textContent = reply.verdict;
  var fixes = $("fixes");
  reply.fixes.forEach(function (fix) {
    var item = document.createElement("li");
    item.textContent = fix.criterion + ": " + fix.advice;
    fixes.appendChild(item);
  });
  if (!reply.fixes.length) { $("nothing").hidden = false; }
  reply.not_measured.forEach(function (text) {
    var item = document.createElement("li");
    item.textContent = text;
    $("missing").appendChild(item);
  });
  var f = reply.figures, table = $("figures");
  row(table, "Download, Mbit/s (counted by the " + f.counted_by.download + ")", f.download_mbps);
  row(table, "Upload, Mbit/s (counted by the " + f.counted_by.upload + ")", f.upload_mbps);
  row(table, "Download as this browser counted it, Mbit/s", f.browser_download_mbps);
  row(table, "Upload as this browser counted it, Mbit/s", f.browser_upload_mbps);
  row(table, "Round trip, idle, ms", f.idle_rtt_ms);
  row(table, "Round trip while downloading, ms", f.loaded_rtt_download_ms);
  row(table, "Round trip while uploading, ms", f.loaded_rtt_upload_ms);
  row(table, "Bufferbloat grade", reply.bufferbloat_grade);
  row(table, "Jitter, ms", f.jitter_ms);
  row(table, "Packet loss, %", f.loss_pct);
  $("result").hidden = false;
}
async function run() {
  var started = now();
  $("start").disabled = true;
  $("not-yet").hidden = true;
  document.body.dataset.state = "running";
  var check = await post(base + "/start");
  var plan = check.plan, figures = connection();
  figures.rtt_idle_ms = await idle(plan.idle_s);
  phase("idle", 1, "done");
  var down = await download(plan.download_s, check.test_id);
  phase("download", 1, "done");
  var up = await upload(plan.upload_s, check.test_id);
  phase("upload", 1, "done");
  figures.rtt_download_ms = down.rtt;
  figures.rtt_upload_ms = up.rtt;
  figures.download_mbps = down.mbps;
  figures.upload_mbps = up.mbps;
  figures.download_bytes = down.bytes;
  figures.upload_bytes = up.bytes;
  if (typeof window.homeshoreCall === "function") {
    try {
      await window.homeshoreCall("/check/" + check.check_id,
                                 {seconds: plan.call_s, onProgress: function (f) { phase("call", f); }});
      phase("call", 1, "done");
    } catch (e) { phase("call", 1, "could not run"); }
  } else { phase("call", 1, "not run by this server"); }
  figures.duration_s = Math.round((now() - started) * 10) / 10;
  show(await post("/check/" + check.check_id + "/finish", figures));
  document.body.dataset.state = "done";
}
$("start").addEventListener("click", function () {
  run().catch(function (e) {
    var error = $("error");
    error.textContent = "The check stopped: " + e.message;
    error.hidden = false;
    document.body.dataset.state = "error";
  });
});
})();
"""
