"""The HTML report: self-contained, and its slider works in headless Chromium.

The browser is driven over the Chrome DevTools Protocol with the standard
library only (a minimal WebSocket client below): the test clicks the slider,
presses arrow keys on it, drags it, and after each move reads back what the
page shows (the step, every gate's value, the highlighted cell) and compares
it with `trace`.
"""
import base64
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import time
import urllib.parse
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from lstmlab.explain import trace, what_units_mean, write_report
from lstmlab.layers import LSTM, Dense, Input
from lstmlab.models import Sequential

T = 6
KEYS = ("i", "f", "g", "o", "c", "h")


def stacked():
    m = Sequential([Input((T, 2)), LSTM(4, return_sequences=True, dtype="float64"), LSTM(3, dtype="float64"),
                    Dense(1, dtype="float64")])
    rng = np.random.default_rng(0)
    m.set_weights([rng.normal(0, 0.7, w.shape) for w in m.get_weights()])
    x = np.random.default_rng(1).normal(size=(2, T, 2))
    return m, x


def test_report_is_self_contained(tmp_path):
    m, x = stacked()
    png = tmp_path / "p.png"
    from lstmlab.explain import plot_gates
    plot_gates(m, x, png)
    f = write_report(m, x, tmp_path / "r.html", sample=1, results=[what_units_mean(m)], pictures={"gates": png})
    text = Path(f).read_text()
    assert text.count('id="cell-') == 2 * T                     # the unrolled picture, inline
    assert 'src="data:image/png;base64,' in text
    for external in ('src="http', "src='http", 'href="http', "<link", "@import", "<script src"):
        assert external not in text
    assert 'id="v-1-o-2"' in text and "units = 4, units = 3" in text


def test_long_sequence_draws_the_last_steps(tmp_path):
    m = Sequential([Input((30, 1)), LSTM(3), Dense(1)])
    x = np.linspace(0, 1, 30).reshape(1, 30, 1)
    text = Path(write_report(m, x, tmp_path / "r.html", max_steps=10)).read_text()
    assert text.count('id="cell-0-') == 10 and 'max="29"' in text and '"first": 20' in text


# -- headless Chromium over the DevTools Protocol ------------------------------

@pytest.fixture(scope="session")
def chromium():
    """Debian's chromium; installed by tests/install_chromium.sh when missing (root + apt-get, as on CI)."""
    exe = shutil.which("chromium")
    if exe is None:
        script = Path(__file__).with_name("install_chromium.sh")
        run = subprocess.run(["sh", str(script)], capture_output=True, text=True, timeout=900)
        exe = shutil.which("chromium")
        if exe is None:
            pytest.skip(f"chromium is not installed and could not be: {run.stderr.strip()[-300:]}")
    return exe


class WebSocket:
    """Just enough of RFC 6455 for CDP: text frames out (masked), text frames in."""

    def __init__(self, url):
        u = urllib.parse.urlparse(url)
        self.sock = socket.create_connection((u.hostname, u.port), timeout=30)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((f"GET {u.path} HTTP/1.1\r\nHost: {u.hostname}:{u.port}\r\nUpgrade: websocket\r\n"
                           f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
                           ).encode())
        head = b""
        while b"\r\n\r\n" not in head:
            head += self.sock.recv(1)
        assert b" 101 " in head.split(b"\r\n")[0], head

    def _exact(self, n):
        buf = b""
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise ConnectionError("the browser closed the DevTools connection")
            buf += chunk
        return buf

    def send(self, text):
        data = text.encode()
        n = len(data)
        head = bytes([0x81]) + (bytes([0x80 | n]) if n < 126 else
                                bytes([0x80 | 126]) + struct.pack(">H", n) if n < 65536 else
                                bytes([0x80 | 127]) + struct.pack(">Q", n))
        mask = os.urandom(4)
        self.sock.sendall(head + mask + bytes(b ^ mask[k % 4] for k, b in enumerate(data)))

    def recv(self):
        parts = []
        while True:
            b0, b1 = self._exact(2)
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack(">H", self._exact(2))[0]
            elif n == 127:
                n = struct.unpack(">Q", self._exact(8))[0]
            payload = self._exact(n)
            if b0 & 0x0F == 0x8:
                raise ConnectionError("the browser closed the DevTools connection")
            if b0 & 0x0F in (0x9, 0xA):                      # ping / pong: not ours
                continue
            parts.append(payload)
            if b0 & 0x80:
                return b"".join(parts).decode()


class Browser:
    def __init__(self, exe, profile):
        self.proc = subprocess.Popen(
            [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
             "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
             f"--user-data-dir={profile}", "--remote-debugging-port=0", "--window-size=1400,1000", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        port_file = Path(profile) / "DevToolsActivePort"
        deadline = time.time() + 30
        while not (port_file.exists() and port_file.read_text().strip()):
            if time.time() > deadline or self.proc.poll() is not None:
                self.close()
                raise RuntimeError("chromium did not start its DevTools server")
            time.sleep(0.05)
        port = int(port_file.read_text().split()[0])
        deadline = time.time() + 15
        while True:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as r:
                pages = [t for t in json.load(r) if t["type"] == "page"]
            if pages or time.time() > deadline:
                break
            time.sleep(0.05)
        self.ws = WebSocket(pages[0]["webSocketDebuggerUrl"])
        self.n, self.events = 0, []

    def call(self, method, **params):
        self.n += 1
        self.ws.send(json.dumps({"id": self.n, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == self.n:
                assert "error" not in msg, msg
                return msg.get("result", {})
            self.events.append(msg)

    def js(self, expression):
        r = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        assert "exceptionDetails" not in r, r
        return r["result"].get("value")

    def mouse(self, kind, x, y):
        self.call("Input.dispatchMouseEvent", type=kind, x=x, y=y, button="left", clickCount=1)

    def key(self, name, code):
        for kind in ("keyDown", "keyUp"):
            self.call("Input.dispatchKeyEvent", type=kind, key=name, code=name, windowsVirtualKeyCode=code)

    def close(self):
        # Debian's /usr/bin/chromium is a shell script: end the whole group this test started.
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(self.proc.pid, sig)
                self.proc.wait(timeout=10)
                return
            except ProcessLookupError:
                return
            except subprocess.TimeoutExpired:
                continue


def shown(b):
    """What the page shows now: the step, every value cell, and which picture cells are highlighted."""
    return b.js("""({
        step: Number(document.getElementById('step').value),
        label: document.getElementById('step-label').textContent,
        shown: document.getElementById('shown-step').textContent,
        values: Array.from(document.querySelectorAll('td[id^="v-"]'))
                     .map(td => [td.id, td.textContent, td.dataset.value]),
        current: Array.from(document.querySelectorAll('#picture .current')).map(g => g.id),
        x: document.getElementById('x-now').textContent,
    })""")


def check_step(state, tr, t, sample):
    assert state["step"] == t and state["shown"] == str(t) and state["label"] == f"t = {t + 1} of {T}"
    assert sorted(state["current"]) == [f"cell-{r}-{t}" for r in range(len(tr))]
    assert len(state["values"]) == sum(len(KEYS) * L.units for L in tr)
    for id_, text, value in state["values"]:
        _, l, k, u = id_.split("-")
        want = getattr(tr[int(l)], k)[sample, t, int(u)]
        assert abs(float(value) - want) < 1e-12, (id_, value, want)
        assert text == f"{want:+.4f}", (id_, text, want)
    assert state["x"] == ", ".join(f"{v:+.4f}" for v in tr[0].x[sample, t])


def test_slider_in_headless_chromium(chromium, tmp_path):
    m, x = stacked()
    sample = 1
    tr = trace(m, x)
    f = write_report(m, x, tmp_path / "report.html", sample=sample)
    b = Browser(chromium, tmp_path / "profile")
    try:
        b.call("Page.enable")
        b.call("Network.enable")
        b.call("Page.navigate", url=Path(f).resolve().as_uri())
        deadline = time.time() + 30
        loaded = ("location.protocol === 'file:' && document.readyState === 'complete' && "
                  "!!(document.getElementById('shown-step') || {}).textContent")
        while not b.js(loaded):
            assert time.time() < deadline, "the report did not load"
            time.sleep(0.05)
        check_step(shown(b), tr, 0, sample)                          # opens at step 1
        box = b.js("(() => { const r = document.getElementById('step').getBoundingClientRect();"
                   " return [r.left, r.top, r.width, r.height]; })()")
        left, top, width, height = box
        y = top + height / 2
        # click the slider's right end: the last step
        b.mouse("mousePressed", left + width - 2, y)
        b.mouse("mouseReleased", left + width - 2, y)
        check_step(shown(b), tr, T - 1, sample)
        # two steps back with the arrow keys (the click gave the slider the focus)
        b.key("ArrowLeft", 37)
        b.key("ArrowLeft", 37)
        check_step(shown(b), tr, T - 3, sample)
        # drag the thumb from the far left to the middle of the track
        b.key("Home", 36)
        check_step(shown(b), tr, 0, sample)
        thumb = left + 8
        b.mouse("mousePressed", thumb, y)
        for k in range(1, 11):
            b.call("Input.dispatchMouseEvent", type="mouseMoved", x=thumb + k * (width / 2 - 8) / 10, y=y,
                   button="left", buttons=1)
        b.mouse("mouseReleased", left + width / 2, y)
        state = shown(b)
        assert 0 < state["step"] < T - 1
        check_step(state, tr, state["step"], sample)
        # nothing was fetched: every request was the file itself or data inside it
        fetched = [e["params"]["request"]["url"] for e in b.events if e.get("method") == "Network.requestWillBeSent"]
        assert all(u.startswith(("file:", "data:")) for u in fetched), fetched
    finally:
        b.close()
