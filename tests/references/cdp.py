"""A tiny Chrome DevTools Protocol client: headless Chromium on a page, driven as a person would (click, read),
and its screenshot. Chromium's own protocol, spoken over aiohttp's WebSocket client, so a test needs no
WebDriver: `--remote-debugging-port=0` makes Chromium print "DevTools listening on ws://127.0.0.1:PORT/...";
`GET /json/list` there names the page's socket; Runtime.evaluate runs an expression in the page (awaiting a
promise, the value returned as JSON) and Page.captureScreenshot returns the viewport as PNG bytes.

    with Browser(chromium, profile_dir, width=390, height=844) as browser:   # about:blank, in its namespace
        async with Page(browser.port) as page:
            await page.open(url)
            await page.evaluate("document.title")

Everything here runs in the caller's network namespace: Chromium listens on its loopback (a test in another
namespace drives it from a thread that joined that one, tests/netlab.py in_namespace).
"""

from __future__ import annotations

import base64
import json
import os
import re
import signal
import subprocess
import threading
from collections.abc import Sequence
from pathlib import Path

TIMEOUT_S = 60.0
FLAGS = (  # DESIGN.md's recipe; no host-resolver rules: the test's namespace has no way out anyway
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-features=NetworkTimeServiceQuerying", "--remote-debugging-port=0", "--remote-allow-origins=*",
)
_LISTENING = re.compile(r"DevTools listening on ws://[^:]+:(\d+)/")


class CdpError(AssertionError):
    """The browser or the page did not do what was asked; str() says what."""


class Launched:
    """A browser process started with `argv` in a session of its own, the port it listens on read from its stderr
    (the first match of `listening`); ended (its process group) on exit."""

    def __init__(self, argv: Sequence[str], listening: re.Pattern[str]) -> None:
        self.argv = list(argv)
        self.listening = listening
        self.port: int | None = None
        self.stderr: list[str] = []
        self._process: subprocess.Popen | None = None

    def __enter__(self):
        self._process = subprocess.Popen(self.argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                         start_new_session=True)
        found = threading.Event()

        def read() -> None:
            assert self._process is not None and self._process.stderr is not None
            for line in self._process.stderr:
                self.stderr.append(line)
                match = self.listening.search(line)
                if match and self.port is None:
                    self.port = int(match[1])
                    found.set()
            found.set()

        threading.Thread(target=read, daemon=True).start()
        if not found.wait(TIMEOUT_S) or self.port is None:
            self.__exit__()
            raise CdpError(f"{self.argv[0]} printed no port to drive it by:\n" + "".join(self.stderr[-20:]))
        return self

    def __exit__(self, *exc_info) -> None:
        if self._process is not None and self._process.poll() is None:
            os.killpg(self._process.pid, signal.SIGTERM)
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self._process.pid, signal.SIGKILL)
                self._process.wait()


class Browser(Launched):
    """Headless Chromium on about:blank, its DevTools port read from its stderr. Page.open() then loads a page and
    waits for it, which a URL on the command line would not."""

    def __init__(self, chromium: str, profile: Path, *, width: int, height: int,
                 argv_prefix: Sequence[str] = (), extra_flags: Sequence[str] = ()) -> None:
        super().__init__([*argv_prefix, chromium, *FLAGS, *extra_flags, f"--user-data-dir={profile}",
                          f"--window-size={width},{height}", "about:blank"], _LISTENING)


class Page:
    """One page's DevTools session (async): `async with Page(port) as page: await page.evaluate("1 + 1")`."""

    def __init__(self, port: int) -> None:
        self.port = port
        self._next_id = 0

    async def __aenter__(self) -> Page:
        import aiohttp

        self._session = aiohttp.ClientSession()
        async with self._session.get(f"http://127.0.0.1:{self.port}/json/list") as reply:
            targets = await reply.json()
        pages = [target for target in targets if target.get("type") == "page"]
        if not pages:
            await self._session.close()
            raise CdpError(f"no page among the browser's targets: {targets}")
        self._socket = await self._session.ws_connect(pages[0]["webSocketDebuggerUrl"], max_msg_size=0)
        return self

    async def __aexit__(self, *exc_info) -> None:
        await self._socket.close()
        await self._session.close()

    async def call(self, method: str, params: dict | None = None, timeout_s: float = TIMEOUT_S) -> dict:
        """Send one command and return its result (events that come meanwhile are passed over)."""
        import asyncio

        self._next_id += 1
        await self._socket.send_str(json.dumps({"id": self._next_id, "method": method, "params": params or {}}))
        async with asyncio.timeout(timeout_s):
            while True:
                message = json.loads((await self._socket.receive()).data)
                if message.get("id") == self._next_id:
                    if "error" in message:
                        raise CdpError(f"{method}: {message['error']}")
                    return message["result"]

    async def emulate_screen(self, width: int, height: int) -> None:
        """Lay the page out on a phone's screen of width x height CSS pixels (headless Chromium's window is at
        least 500 px wide whatever --window-size says)."""
        await self.call("Emulation.setDeviceMetricsOverride", {"width": width, "height": height,
                                                               "deviceScaleFactor": 1, "mobile": True})

    async def open(self, url: str, timeout_s: float = TIMEOUT_S) -> dict:
        """Navigate to url and return once its load event fired; the navigation's result (errorText if any)."""
        import asyncio

        await self.call("Page.enable")
        navigated = await self.call("Page.navigate", {"url": url})
        async with asyncio.timeout(timeout_s):
            while True:
                message = json.loads((await self._socket.receive()).data)
                if message.get("method") == "Page.loadEventFired":
                    return navigated

    async def evaluate(self, expression: str, timeout_s: float = TIMEOUT_S):
        """The expression's value in the page (a promise awaited), as JSON; CdpError if it threw."""
        result = await self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                                      "awaitPromise": True}, timeout_s)
        if "exceptionDetails" in result:
            raise CdpError(f"{expression!r} threw: {result['exceptionDetails'].get('exception', result)}")
        return result["result"].get("value")

    async def screenshot(self) -> bytes:
        return base64.b64decode((await self.call("Page.captureScreenshot", {"format": "png"}))["data"])
