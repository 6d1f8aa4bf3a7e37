"""MQTT over WebSocket from a real browser (issue 4): headless Chromium (driven by playwright-core,
tests/js/browser_page.js) loads a page served by this test (tests/js/browser/index.html with MQTT.js's browser bundle), which connects to mqttd
over ws://, subscribes, publishes, and writes the round trip into the page; the test asserts on
the DOM Chromium dumps. The listener's origin allow-list names the page's origin, so the browser's
Origin header is checked on the way."""

import functools
import http.server
import os
import re
import shutil
import subprocess
import sys
import threading
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mqtt_harness as h  # noqa: E402
import ws_support as ws  # noqa: E402

CHROMIUM = shutil.which("chromium")


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


class Browser(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        ws.need_mqttd()
        ws.need_mqtt_js()
        if not CHROMIUM:
            raise unittest.SkipTest("chromium is not installed")
        handler = functools.partial(QuietHandler, directory=ws.JS_DIR)
        cls.http = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        cls.http_port = cls.http.server_address[1]
        threading.Thread(target=cls.http.serve_forever, daemon=True).start()
        cls.ws_port, cls.foreign_port = h.free_port(), h.free_port()
        cls.broker = h.Broker(
            ws.listener_lines(cls.ws_port, "websockets_origin http://127.0.0.1:%d" % cls.http_port)
            + ws.listener_lines(cls.foreign_port, "websockets_origin https://elsewhere.example"))
        cls.broker.start()

    @classmethod
    def tearDownClass(cls):
        cls.http.shutdown()
        cls.http.server_close()
        cls.broker.__exit__(None, None, None)

    def dump_dom(self, page_url):
        """The page's HTML once it shows a result or an error: playwright-core drives Debian's
        Chromium and waits in real time, so a slow broker (a sanitizer build) only takes longer."""
        proc = subprocess.run(["node", os.path.join(ws.JS_DIR, "browser_page.js"), page_url],
                              capture_output=True, text=True, timeout=60)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        return proc.stdout

    def page(self, ws_port, topic):
        return "http://127.0.0.1:%d/browser/index.html?url=ws://127.0.0.1:%d/mqtt&topic=%s" % (
            self.http_port, ws_port, topic)

    def test_browser_page_round_trips_a_message_through_mqttd_over_websocket(self):
        dom = self.dump_dom(self.page(self.ws_port, "browser/roundtrip"))
        result = re.search(r'<div id="result">([^<]*)</div>', dom)
        self.assertIsNotNone(result, dom)
        self.assertEqual(result.group(1),
                         "round trip on browser/roundtrip qos 1: hello from the browser",
                         dom + self.broker.log_text())
        self.assertIn('<div id="error"></div>', dom)

    def test_browser_on_a_page_whose_origin_is_not_allowed_cannot_connect(self):
        dom = self.dump_dom(self.page(self.foreign_port, "browser/refused"))
        self.assertIn('<div id="result"></div>', dom)
        self.assertRegex(dom, r'<div id="error">error: [^<]+</div>')
        self.assertIn("websocket: upgrade refused (403 Forbidden)", self.broker.log_text())


if __name__ == "__main__":
    unittest.main()
