"""The candidate page's side of the synthetic call (server/webrtc_call.py), as a script to include in the page.

    const outcome = await window.homeshoreCall("/check/ID", {seconds: 20, onProgress: (fraction) => ...});
    // {ok, blocked, reason, browserStats, figures}

One RTCPeerConnection with no ICE servers (host candidates only: no STUN, no TURN, nothing asked of a third
party), one data channel that neither orders nor retransmits (ordered: false, maxRetransmits: 0), so a packet
late or lost stays so, as in a call. No microphone, no media permission: the packets are made here. Every
20 ms one 172-byte packet (sequence number, performance.now() at sending, zeros), for `seconds`; each packet
from the server is logged (sequence number, performance.now() at arrival) and the log posted once the call
ends, for the server to score. The browser's own getStats() (data channel, transport, the selected candidate
pair: messages and bytes each way, currentRoundTripTime) comes back as browserStats, the browser's reference
beside our figures. The channel not open within connectMs: blocked (UDP does not get through), the page is told
so, and the server reaches the same finding on its side.

A string, so the page (server/candidate_page_html.py) can serve it as it serves its other parts; a strict
Content-Security-Policy allows it by hash.
"""

from __future__ import annotations

from homeshore.server.call_figures import PACKET_BYTES, PACKET_S

CONNECT_MS = 12000  # the server gives up at its own bound (10 s after its answer); this leaves it time to say so
TAIL_MS = 1000  # after our last packet: the server's last ones, sent on its own schedule

CALL_JS = """\
window.homeshoreCall = async (checkUrl, {seconds = 20, onProgress = () => {}} = {}) => {
  const BYTES = %(bytes)d, INTERVAL_MS = %(interval_ms)d, CONNECT_MS = %(connect_ms)d, TAIL_MS = %(tail_ms)d;
  const packets = Math.round(seconds * 1000 / INTERVAL_MS);
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
  const pc = new RTCPeerConnection({iceServers: []});
  const channel = pc.createDataChannel("homeshore-call", {ordered: false, maxRetransmits: 0});
  channel.binaryType = "arraybuffer";
  const seqs = [], arrivals = [];
  channel.onmessage = (event) => {
    const arrival = performance.now();
    if (event.data instanceof ArrayBuffer && event.data.byteLength === BYTES) {
      seqs.push(new DataView(event.data).getUint32(0));
      arrivals.push(arrival);
    }
  };
  const post = async (path, body) => {
    const response = await fetch(checkUrl + path, {method: "POST", body: JSON.stringify(body),
                                                   headers: {"Content-Type": "application/json"}});
    if (!response.ok) throw new Error((await response.text()).trim() || `HTTP ${response.status}`);
    return response.json();
  };
  const browserStats = async () => {
    const kept = {dataChannel: null, transport: null, candidatePair: null};
    (await pc.getStats()).forEach((s) => {
      if (s.type === "data-channel") {
        kept.dataChannel = {messagesSent: s.messagesSent, bytesSent: s.bytesSent,
                            messagesReceived: s.messagesReceived, bytesReceived: s.bytesReceived};
      } else if (s.type === "transport") {
        kept.transport = {packetsSent: s.packetsSent, bytesSent: s.bytesSent,
                          packetsReceived: s.packetsReceived, bytesReceived: s.bytesReceived,
                          selectedCandidatePairId: s.selectedCandidatePairId};
      }
    });
    const pairs = [];
    (await pc.getStats()).forEach((s) => { if (s.type === "candidate-pair") pairs.push(s); });
    const selected = pairs.find((s) => kept.transport && s.id === kept.transport.selectedCandidatePairId)
      || pairs.find((s) => s.nominated && s.state === "succeeded");
    if (selected) {
      kept.candidatePair = {currentRoundTripTime: selected.currentRoundTripTime,
                            packetsSent: selected.packetsSent, bytesSent: selected.bytesSent,
                            packetsReceived: selected.packetsReceived, bytesReceived: selected.bytesReceived};
    }
    return kept;
  };
  try {
    await pc.setLocalDescription(await pc.createOffer());
    if (pc.iceGatheringState !== "complete") {  // all host candidates in the offer: the server takes no trickle
      await Promise.race([sleep(CONNECT_MS), new Promise((resolve) => pc.addEventListener(
        "icegatheringstatechange", () => pc.iceGatheringState === "complete" && resolve()))]);
    }
    await pc.setRemoteDescription(await post("/call/offer", {type: "offer", sdp: pc.localDescription.sdp,
                                                             seconds}));
    const opened = channel.readyState === "open" || await Promise.race([
      sleep(CONNECT_MS).then(() => false), new Promise((resolve) => { channel.onopen = () => resolve(true); })]);
    if (!opened) {
      return {ok: false, blocked: true, browserStats: await browserStats(), figures: null,
              reason: `no UDP path to the server: the call did not connect within ${CONNECT_MS / 1000} s`};
    }
    const start = performance.now();
    for (let seq = 0; seq < packets; seq++) {
      const wait = start + seq * INTERVAL_MS - performance.now();
      if (wait > 0) await sleep(wait);
      if (channel.readyState !== "open") throw new Error("the call was cut off");
      const packet = new ArrayBuffer(BYTES), view = new DataView(packet);
      view.setUint32(0, seq);
      view.setFloat64(4, performance.now());
      channel.send(packet);
      if (seq %% 50 === 0) onProgress(seq / packets);
    }
    await sleep(TAIL_MS);
    const stats = await browserStats();
    const figures = await post("/call/log", {seq: seqs, arrival_ms: arrivals});
    onProgress(1);
    return {ok: true, blocked: false, reason: null, browserStats: stats, figures};
  } catch (error) {
    return {ok: false, blocked: false, reason: String(error && error.message || error), browserStats: null,
            figures: null};
  } finally {
    pc.close();
  }
};
""" % {"bytes": PACKET_BYTES, "interval_ms": round(PACKET_S * 1000), "connect_ms": CONNECT_MS, "tail_ms": TAIL_MS}
