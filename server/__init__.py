"""`homeshore serve`: the measurement server a contact centre runs next to its collector (DESIGN.md, server/).

asyncio throughout, on one event loop: the speed-test HTTP endpoints on aiohttp (speed_http.py, with the pure
protocol in speed_protocol.py and the upload receipts in receipts.py) and the UDP reflector as a datagram
protocol (reflector.py, its admission rule in reflector_limits.py); serve.py runs both until SIGTERM or SIGINT.
Installed as the `server` extra (aiohttp, aiortc): nothing in probe/, quality/, collector/ or planning/ imports
this package, so the agent on a homeworker's machine never needs them.
"""
