#!/usr/bin/env python3
"""Screenshots of pages of a running renkei server through chromedriver's WebDriver HTTP
API (standard library only; chromedriver listening on 127.0.0.1:9515): log in (changing
the password when the first login asks for it), then open each page and save a PNG of
the whole page (OUT.png:/path), of its first 1280x2400 pixels (OUT.png:/path@) or of one
element (OUT.png:/path#id).

usage: capture.py BASE LOGIN PASSWORD NEW_PASSWORD OUT.png:/path [OUT.png:/path ...]
"""
import base64
import json
import sys
import time
import urllib.request

DRIVER = "http://127.0.0.1:9515"


def call(method, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(DRIVER + path, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=600) as r:
        return json.loads(r.read())["value"]


def main():
    base, login, password, new_password = sys.argv[1:5]
    shots = [a.split(":", 1) for a in sys.argv[5:]]
    caps = {"capabilities": {"alwaysMatch": {"goog:chromeOptions": {
        "binary": "/usr/bin/chromium",
        "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                 "--window-size=1280,2400", "--lang=ja-JP", "--hide-scrollbars"]}}}}
    sid = call("POST", "/session", caps)["sessionId"]
    s = f"/session/{sid}"
    try:
        call("POST", s + "/timeouts", {"pageLoad": 600000, "script": 600000})
        call("POST", s + "/url", {"url": base + "/login"})
        js = ("document.querySelector('#login').value = arguments[0];"
              "document.querySelector('#password').value = arguments[1];"
              "document.querySelector('form.stack button[type=submit]').click();")
        call("POST", s + "/execute/sync", {"script": js, "args": [login, password]})
        time.sleep(1)
        url = call("GET", s + "/url")
        if "/password" in url:
            fill = ("const f = document.querySelector('#current_password').form;"
                    "for (const i of f.querySelectorAll('input[type=password]')) {"
                    "  i.value = i.name.includes('current') ? arguments[0] : arguments[1]; }"
                    "f.querySelector('button[type=submit]').click();")
            call("POST", s + "/execute/sync", {"script": fill, "args": [password, new_password]})
            time.sleep(1)
        print("after login:", call("GET", s + "/url"), file=sys.stderr)
        for out, path in shots:
            # PATH#css: that element only; PATH@: the first 1280x2400 only; else the full page.
            element = None
            viewport = path.endswith("@")
            path = path.rstrip("@")
            if "#" in path:
                path, element = path.split("#", 1)
                element = "#" + element
            t = time.time()
            call("POST", s + "/url", {"url": base + path})
            print(f"{path}: loaded in {time.time() - t:.1f} s", file=sys.stderr)
            h = call("POST", s + "/execute/sync", {
                "script": "return Math.max(document.body.scrollHeight, document.documentElement.scrollHeight);",
                "args": []})
            height = 2400 if viewport else int(h) + 140
            call("POST", s + "/window/rect", {"width": 1280, "height": height})
            if element:
                el = call("POST", s + "/element", {"using": "css selector", "value": element})
                eid = list(el.values())[0]
                png = base64.b64decode(call("GET", s + f"/element/{eid}/screenshot"))
            else:
                png = base64.b64decode(call("GET", s + "/screenshot"))
            with open(out, "wb") as f:
                f.write(png)
            print(f"{out}: {len(png)} bytes, page height {h}", file=sys.stderr)
    finally:
        call("DELETE", s)


if __name__ == "__main__":
    main()
