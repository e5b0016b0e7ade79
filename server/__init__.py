"""`homeshore serve`: the measurement server a contact centre runs next to its collector (DESIGN.md, server/).

asyncio throughout, on one event loop (serve.py runs both until SIGTERM or SIGINT):
- the speed-test HTTP endpoints on aiohttp: speed_http.py (endpoints), speed_connection.py (one connection:
  admission, parse errors), speed_state.py (counters, receipts, deadlines), speed_limits.py; the pure protocol
  in speed_protocol.py and the upload receipts in receipts.py; downloads counted by what the client's TCP
  acknowledged: tcp_info.py (struct tcp_info, pure), download_count.py, download_receipts.py;
- the UDP reflector as a datagram protocol: reflector.py, its admission rule in reflector_limits.py;
- candidate check links: invite_token.py (signed opaque tokens), invite_secret.py, invite_store.py, invites.py,
  and the pages a link opens (candidate_pages.py, candidate_page_html.py);
- the candidate's synthetic call over WebRTC: webrtc_call.py (the offer and the arrival log, the server's
  aiortc peer), webrtc_limits.py, call_figures.py (packets, log and scoring, pure) and call_script.py (the
  page's side, CALL_JS).
sockets.py binds before anything serves; loop_thread.py and speed_server.py run a server on a thread of its own
for synchronous callers (tests). Installed as the `server` extra (aiohttp, aiortc): nothing in probe/,
quality/, collector/ or planning/ imports this package, so the agent on a homeworker's machine never needs them.
"""
