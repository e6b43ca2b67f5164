// A minimal W3C WebDriver client over chromedriver (Node 18+, no dependencies): enough to sign in to a
// console, load pages at a window size, run scripts and save screenshots. Used by bench/ui.mjs.
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { createServer } from "node:net";

const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const CHROMEDRIVER = process.env.CHROMEDRIVER || "/usr/bin/chromedriver";

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
    s.on("error", reject);
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export class Browser {
  static async start({ width = 1400, height = 1000 } = {}) {
    const port = await freePort();
    const child = spawn(CHROMEDRIVER, [`--port=${port}`], { stdio: "ignore" });
    const b = new Browser(child, `http://127.0.0.1:${port}`);
    for (let i = 0; i < 150; i++) {
      try {
        const r = await fetch(`${b.url}/status`);
        if (r.ok) break;
      } catch { /* not up yet */ }
      await sleep(100);
    }
    const caps = {
      capabilities: {
        alwaysMatch: {
          browserName: "chrome",
          "goog:chromeOptions": {
            binary: CHROMIUM,
            args: ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
              "--no-first-run", "--disable-background-networking", `--window-size=${width},${height}`],
          },
        },
      },
    };
    const s = await b.call("POST", "/session", caps, false);
    b.session = s.sessionId;
    return b;
  }

  constructor(child, url) {
    this.child = child;
    this.url = url;
  }

  async call(method, path, body, inSession = true) {
    const at = inSession ? `${this.url}/session/${this.session}${path}` : `${this.url}${path}`;
    const r = await fetch(at, {
      method,
      headers: { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const v = await r.json();
    if (!r.ok) throw new Error(`${method} ${path}: ${JSON.stringify(v.value).slice(0, 300)}`);
    return v.value;
  }

  goto(url) { return this.call("POST", "/url", { url }); }
  size(width, height) { return this.call("POST", "/window/rect", { width, height }); }
  exec(script, args = []) { return this.call("POST", "/execute/sync", { script, args }); }
  execAsync(script, args = []) { return this.call("POST", "/execute/async", { script, args }); }

  async waitFor(script, what, ms = 20000) {
    const end = Date.now() + ms;
    for (;;) {
      const v = await this.exec(script);
      if (v) return v;
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
      await sleep(50);
    }
  }

  async screenshot(file) {
    const png = await this.call("GET", "/screenshot");
    writeFileSync(file, Buffer.from(png, "base64"));
  }

  // Signs in through the demo identity provider as `user` and lands on `path`.
  async signIn(base, user, path) {
    await this.goto(`${base}${path}`);
    await this.waitFor(`return !!document.querySelector("button[name=user][value=${user}]")`, "the demo sign-in");
    await this.exec(`document.querySelector("button[name=user][value=${user}]").click()`);
    await this.waitFor(`return location.pathname === ${JSON.stringify(path.split("?")[0])} && document.readyState === "complete"`, `${path} after sign-in`);
  }

  async quit() {
    try { await this.call("DELETE", ""); } catch { /* already gone */ }
    this.child.kill();
  }
}
