"""A tiny WebDriver BiDi client (W3C WebDriver BiDi), for the browsers that speak no Chrome DevTools Protocol:
Firefox (ESR 153 here) dropped CDP and answers `--remote-debugging-port` with BiDi alone ("WebDriver BiDi
listening on ws://127.0.0.1:PORT"). The same four things as tests/references/cdp.py's Page, over aiohttp's
WebSocket client: a phone's screen (browsingContext.setViewport), open a page and wait for its load
(browsingContext.navigate, wait "complete"), evaluate an expression (script.evaluate, a promise awaited; values
come back as JSON text, since BiDi serialises objects in a form of its own), and a screenshot.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
from collections.abc import Sequence
from pathlib import Path

from tests.references.cdp import TIMEOUT_S, CdpError, Launched

_LISTENING = re.compile(r"WebDriver BiDi listening on ws://[^:]+:(\d+)")


class Firefox(Launched):
    """Headless Firefox on about:blank with a profile of its own, its BiDi port read from its stderr."""

    def __init__(self, firefox: str, profile: Path, *, argv_prefix: Sequence[str] = ()) -> None:
        profile.mkdir(parents=True, exist_ok=True)
        super().__init__([*argv_prefix, firefox, "--headless", "--remote-debugging-port=0", "--no-remote",
                          "--profile", str(profile), "about:blank"], _LISTENING)


class BidiPage:
    """The browser's first tab, over one BiDi session: `async with BidiPage(port) as page:`."""

    def __init__(self, port: int) -> None:
        self.port = port
        self._next_id = 0

    async def __aenter__(self) -> BidiPage:
        import aiohttp

        self._session = aiohttp.ClientSession()
        self._socket = await self._session.ws_connect(f"ws://127.0.0.1:{self.port}/session", max_msg_size=0)
        await self.call("session.new", {"capabilities": {}})
        self.context = (await self.call("browsingContext.getTree", {}))["contexts"][0]["context"]
        return self

    async def __aexit__(self, *exc_info) -> None:
        try:
            await self.call("session.end", {}, timeout_s=5)
        except (CdpError, TimeoutError):
            pass
        await self._socket.close()
        await self._session.close()

    async def call(self, method: str, params: dict, timeout_s: float = TIMEOUT_S) -> dict:
        self._next_id += 1
        await self._socket.send_str(json.dumps({"id": self._next_id, "method": method, "params": params}))
        async with asyncio.timeout(timeout_s):
            while True:
                message = json.loads((await self._socket.receive()).data)
                if message.get("id") == self._next_id:
                    if message.get("type") == "error":
                        raise CdpError(f"{method}: {message.get('error')}: {message.get('message')}")
                    return message["result"]

    async def emulate_screen(self, width: int, height: int) -> None:
        await self.call("browsingContext.setViewport", {"context": self.context,
                                                        "viewport": {"width": width, "height": height}})

    async def open(self, url: str, timeout_s: float = TIMEOUT_S) -> dict:
        return await self.call("browsingContext.navigate", {"context": self.context, "url": url,
                                                            "wait": "complete"}, timeout_s)

    async def evaluate(self, expression: str, timeout_s: float = TIMEOUT_S):
        result = await self.call("script.evaluate", {
            "expression": f"(async () => JSON.stringify(await ({expression})))()",
            "target": {"context": self.context}, "awaitPromise": True}, timeout_s)
        if result.get("type") == "exception":
            raise CdpError(f"{expression!r} threw: {result.get('exceptionDetails', {}).get('text')}")
        value = result["result"].get("value")
        return None if value is None else json.loads(value)

    async def screenshot(self) -> bytes:
        return base64.b64decode((await self.call("browsingContext.captureScreenshot",
                                                 {"context": self.context}))["data"])
