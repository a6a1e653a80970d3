#!/usr/bin/env python3
"""Opens an HTML page in headless Chromium as a user would, over the DevTools protocol, and fails
when the page is blank, an image does not load, or the console shows an error.

  check_page.py PAGE.html --screenshot OUT.png [--min-images N]

Exit 0: the page is fine; 1: it is not (each reason printed); 77: Chromium or the Python package
websocket-client is missing (the suite reports the test as skipped).
"""
import argparse
import base64
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

SKIP = 77
LOAD_TIMEOUT_S = 120  # a 2-core CI machine running two tests at once starts Chromium slowly

try:
    import websocket  # websocket-client
except ImportError:
    print("skipped: websocket-client is missing (python3 -m pip install websocket-client)")
    sys.exit(SKIP)


def find_chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def stop_browser(process):
    """Kills Chromium and its helper processes (renderer, GPU, crash handler) and waits for it:
    a helper still writing into the profile folder would make its removal fail."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait()


def start_browser(binary, profile):
    """Starts Chromium with a DevTools port of its choosing; returns (process, websocket URL of a page)."""
    process = subprocess.Popen(
        [binary, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
         "--no-first-run", "--remote-debugging-port=0", f"--user-data-dir={profile}", "--window-size=1280,1600",
         "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True)  # its own process group: stop_browser ends the helpers too
    port_file = os.path.join(profile, "DevToolsActivePort")
    deadline = time.time() + LOAD_TIMEOUT_S
    while not os.path.exists(port_file) or os.path.getsize(port_file) == 0:
        if time.time() > deadline or process.poll() is not None:
            stop_browser(process)
            raise SystemExit("Chromium did not start (no DevToolsActivePort)")
        time.sleep(0.1)
    port = open(port_file).read().split()[0]
    import urllib.request
    while True:
        targets = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json"))
        pages = [t for t in targets if t.get("type") == "page"]
        if pages:
            return process, pages[0]["webSocketDebuggerUrl"]
        if time.time() > deadline:
            raise SystemExit("Chromium shows no page target")
        time.sleep(0.1)


class DevTools:
    """Commands and events of one page over the DevTools protocol."""

    def __init__(self, url):
        self.socket = websocket.create_connection(url, timeout=LOAD_TIMEOUT_S)
        self.next_id = 0
        self.events = []

    def call(self, method, **params):
        self.next_id += 1
        self.socket.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.socket.recv())
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise SystemExit(f"{method}: {message['error']}")
                return message.get("result", {})
            self.events.append(message)

    def wait_for(self, method):
        deadline = time.time() + LOAD_TIMEOUT_S
        while time.time() < deadline:
            if any(e.get("method") == method for e in self.events):
                return True
            self.events.append(json.loads(self.socket.recv()))
        return False


def console_errors(events):
    errors = []
    for e in events:
        params = e.get("params", {})
        if e.get("method") == "Runtime.exceptionThrown":
            errors.append("exception: " + params.get("exceptionDetails", {}).get("text", "?"))
        elif e.get("method") == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            errors.append("console.error: " + " ".join(str(a.get("value", a.get("description", ""))) for a in
                                                        params.get("args", [])))
        elif e.get("method") == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
            entry = params["entry"]
            errors.append(f"{entry.get('source', 'log')}: {entry.get('text', '')} {entry.get('url', '')}".strip())
    return errors


PAGE_STATE = """(() => {
  const images = [...document.images];
  return JSON.stringify({
    text: document.body ? document.body.innerText.trim().length : 0,
    images: images.length,
    broken: images.filter(i => !i.complete || i.naturalWidth === 0).map(i => i.alt || i.src.slice(0, 60)),
    height: document.documentElement.scrollHeight});
})()"""


def check(page, screenshot, min_images):
    binary = find_chromium()
    if binary is None:
        print("skipped: Chromium is missing (Debian: apt-get install chromium)")
        return SKIP
    # A helper that outlives the group kill must not fail the check over its profile files.
    with tempfile.TemporaryDirectory(prefix="dasnet-chromium-", ignore_cleanup_errors=True) as profile:
        process, url = start_browser(binary, profile)
        try:
            tools = DevTools(url)
            for domain in ("Page", "Runtime", "Log"):
                tools.call(domain + ".enable")
            tools.call("Page.navigate", url="file://" + os.path.abspath(page))
            if not tools.wait_for("Page.loadEventFired"):
                print(f"{page}: did not finish loading in {LOAD_TIMEOUT_S} s")
                return 1
            state = json.loads(tools.call("Runtime.evaluate", expression=PAGE_STATE, returnByValue=True)["result"]["value"])
            shot = tools.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)
            with open(screenshot, "wb") as f:
                f.write(base64.b64decode(shot["data"]))
            problems = console_errors(tools.events)
        finally:
            stop_browser(process)
    if state["text"] == 0:
        problems.append("the page shows no text (blank)")
    if state["images"] < min_images:
        problems.append(f"{state['images']} images, expected at least {min_images}")
    problems += [f"image did not load: {name}" for name in state["broken"]]
    print(f"{page}: {state['images']} images, {state['text']} characters of text, "
          f"{state['height']} px tall; screenshot {screenshot}")
    for p in problems:
        print(f"{page}: {p}")
    return 1 if problems else 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("page")
    parser.add_argument("--screenshot", required=True)
    parser.add_argument("--min-images", type=int, default=1)
    args = parser.parse_args()
    if not os.path.isfile(args.page):
        print(f"{args.page}: no such file")
        return 1
    return check(args.page, args.screenshot, args.min_images)


if __name__ == "__main__":
    sys.exit(main())
