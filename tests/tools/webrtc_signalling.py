"""A small signalling server for a WebRTC call between two headless Chromiums in a test (DESIGN.md's recipe).

`python -m tests.tools.webrtc_signalling ADDRESS` serves /call.html, relays offer, answer and ICE candidates
between the page opened as #caller and the one opened as #callee (each polls /msg/ROLE), and prints every JSON
body a page posts to /stats as one line on stdout. Its first line is "listening PORT" (bound to port 0).

The page makes its audio from a WebAudio oscillator (no microphone, so no secure origin is needed) and uses no
STUN/TURN server. Once connected the caller hangs up after ?seconds=N and tells the callee, which posts its
final `getStats()` inbound-rtp figures (with the codec's MIME type and clock rate) 1.5 s later.
"""

from __future__ import annotations

import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PAGE = r"""<!doctype html><meta charset="utf-8"><title>call</title><script>
const role = location.hash.slice(1), other = role === "caller" ? "callee" : "caller";
const seconds = Number(new URLSearchParams(location.search).get("seconds") || 10);
let sent = Promise.resolve();  // one POST at a time: a candidate must not overtake the offer it belongs to
const post = (path, body) => sent = sent.then(() => fetch(path, {method: "POST", body: JSON.stringify(body)}));
window.onerror = (m) => post("/stats", {role, error: String(m)});
window.onunhandledrejection = (e) => post("/stats", {role, error: String(e.reason)});
const pc = new RTCPeerConnection({iceServers: []});
const ctx = new AudioContext();
const osc = ctx.createOscillator(), dest = ctx.createMediaStreamDestination();
osc.frequency.value = 440; osc.connect(dest); osc.start();
for (const track of dest.stream.getAudioTracks()) pc.addTrack(track, dest.stream);
pc.onicecandidate = e => { if (e.candidate) post("/msg/" + other, {candidate: e.candidate.toJSON()}); };
async function inbound() {
  const found = [];
  (await pc.getStats()).forEach(s => { if (s.type === "inbound-rtp") found.push({ssrc: s.ssrc,
    packetsReceived: s.packetsReceived, packetsLost: s.packetsLost, jitter: s.jitter, codecId: s.codecId}); });
  const codecs = {};
  (await pc.getStats()).forEach(s => { if (s.type === "codec") codecs[s.id] = {mimeType: s.mimeType, clockRate: s.clockRate, payloadType: s.payloadType}; });
  return found.map(s => Object.assign(s, codecs[s.codecId] || {}));
}
async function poll() {
  for (;;) {
    const msgs = await (await fetch("/msg/" + role)).json();
    for (const m of msgs) {
      if (m.sdp) {
        await pc.setRemoteDescription(m.sdp);
        if (m.sdp.type === "offer") { await pc.setLocalDescription(await pc.createAnswer()); post("/msg/" + other, {sdp: pc.localDescription.toJSON()}); }
      } else if (m.candidate) { await pc.addIceCandidate(m.candidate); }
      else if (m.bye) { await new Promise(r => setTimeout(r, 1500)); await post("/stats", {role, final: true, inbound: await inbound()}); return; }
    }
    await new Promise(r => setTimeout(r, 100));
  }
}
pc.onconnectionstatechange = async () => {
  post("/stats", {role, state: pc.connectionState});
  if (pc.connectionState === "connected" && role === "caller") {
    setTimeout(async () => { pc.close(); await post("/msg/callee", {bye: true}); post("/stats", {role, closed: true}); }, seconds * 1000);
  }
};
(async () => {
  if (role === "caller") { await pc.setLocalDescription(await pc.createOffer()); post("/msg/callee", {sdp: pc.localDescription.toJSON()}); }
  poll();
})();
</script>"""

queues: dict[str, list] = {"caller": [], "callee": []}
lock = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    def log_message(self, fmt, *args) -> None:
        pass

    def _reply(self, body: bytes, kind: str = "application/json") -> None:
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        if self.path.startswith("/call.html"):
            self._reply(PAGE.encode(), "text/html")
        elif self.path.startswith("/msg/"):
            with lock:
                messages, queues[self.path[5:]] = queues[self.path[5:]], []
            self._reply(json.dumps(messages).encode())
        else:
            self.send_error(404)

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if self.path.startswith("/msg/"):
            with lock:
                queues[self.path[5:]].append(body)
        elif self.path == "/stats":
            with lock:  # one whole line at a time: the two pages post from two threads
                sys.stdout.write(json.dumps(body) + "\n")
                sys.stdout.flush()
        self._reply(b"{}")


def main() -> None:
    server = ThreadingHTTPServer((sys.argv[1], 0), Handler)
    print(f"listening {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
