"""The browser call's server for live tests: server/webrtc_call.py's routes for one check, a page that runs
server/call_script.py's CALL_JS against them, and a route where the page posts its outcome.

    ip netns exec NS python -m tests.tools.call_server 10.77.0.1 CHECK_ID

Prints `listening PORT`, then for each outcome the page posts one JSON line {"browser": outcome, "server":
the call's CallFigures}; on SIGTERM a last line {"counters": ...} and exits 0.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import signal
import sys

from aiohttp import web

from homeshore.server.call_script import CALL_JS
from homeshore.server.webrtc_call import WebrtcCall

PAGE = """<!doctype html><meta charset="utf-8"><title>call</title><script>%s</script><script>
(async () => {
  const seconds = Number(new URLSearchParams(location.search).get("seconds"));
  const outcome = await window.homeshoreCall(location.origin + "/check/%s", {seconds});
  await fetch("/outcome", {method: "POST", body: JSON.stringify(outcome)});
})();
</script>"""
RESULT_WAIT_S = 30.0


async def main(address: str, check_id: str) -> None:
    calls = WebrtcCall({check_id}.__contains__)

    async def page(request: web.Request) -> web.Response:
        return web.Response(text=PAGE % (CALL_JS, check_id), content_type="text/html")

    async def outcome(request: web.Request) -> web.Response:
        browser = await request.json()
        figures = await calls.result(check_id, wait_s=RESULT_WAIT_S)
        print(json.dumps({"browser": browser, "server": figures and dataclasses.asdict(figures)}), flush=True)
        return web.Response(text="ok\n")

    app = web.Application()
    app.add_routes([*calls.routes(), web.get("/call.html", page), web.post("/outcome", outcome)])
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, address, 0)
    await site.start()
    stopping = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stopping.set)
    print(f"listening {runner.addresses[0][1]}", flush=True)
    await stopping.wait()
    counters = await calls.stop()
    await runner.cleanup()
    print(json.dumps({"counters": dataclasses.asdict(counters)}), flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
