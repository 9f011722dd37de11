// A small WebDriver client over fetch, and the app under test started through tauri-driver
// (which runs WebKitWebDriver against the real app binary in a real WebKitGTK webview).
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import net from "node:net";

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
    s.on("error", reject);
  });
}

export class App {
  static async start({ binary, dataDir, env = {} }) {
    const port = await freePort();
    const nativePort = await freePort();
    const dir = dataDir ?? mkdtempSync(join(tmpdir(), "weft-e2e-"));
    const driver = spawn(
      "tauri-driver",
      ["--port", String(port), "--native-port", String(nativePort), "--native-driver", "/usr/bin/WebKitWebDriver"],
      { env: { ...process.env, WEFT_DATA_DIR: dir, ...env }, stdio: ["ignore", "inherit", "inherit"] },
    );
    const base = `http://127.0.0.1:${port}`;
    // tauri-driver answers its own /status at once, but a session it forwards before
    // WebKitWebDriver listens hangs (seen in CI): wait for both.
    for (const [url, who] of [[`${base}/status`, "tauri-driver"], [`http://127.0.0.1:${nativePort}/status`, "WebKitWebDriver"]]) {
      for (let i = 0; ; i++) {
        try {
          await fetch(url, { signal: AbortSignal.timeout(2_000) });
          break;
        } catch (e) {
          if (i > 150) throw new Error(`${who} did not start: ${e}`);
          await sleep(100);
        }
      }
    }
    const app = new App(base, driver, dir);
    const r = await app.req("POST", "/session", {
      capabilities: { alwaysMatch: { "tauri:options": { application: binary } } },
    });
    app.session = r.sessionId ?? r.value?.sessionId;
    if (!app.session) throw new Error(`no session: ${JSON.stringify(r)}`);
    return app;
  }

  constructor(base, driver, dir) {
    this.base = base;
    this.driver = driver;
    this.dir = dir;
  }

  async req(method, path, body) {
    if (process.env.E2E_DEBUG) console.error(new Date().toISOString(), method, path, JSON.stringify(body ?? "").slice(0, 120));
    const res = await fetch(this.base + path, {
      method,
      headers: { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(60_000),
    });
    const json = await res.json();
    if (json.value && json.value.error) {
      throw new Error(`${method} ${path}: ${json.value.error}: ${json.value.message}`);
    }
    return json;
  }

  s(path) {
    return `/session/${this.session}${path}`;
  }

  /** Waits for an element (CSS selector, optionally whose text content holds `text`); returns
   * its WebDriver id. */
  async find(css, { text, timeout = 10_000 } = {}) {
    const until = Date.now() + timeout;
    let last = "";
    while (Date.now() < until) {
      try {
        const el = await this.exec(
          "const all = [...document.querySelectorAll(arguments[0])];" +
            "return (arguments[1] === null ? all[0] : all.find((e) => e.textContent.includes(arguments[1]))) ?? null;",
          [css, text ?? null],
        );
        if (el) return Object.values(el)[0];
        last = String(await this.exec("return [...document.querySelectorAll(arguments[0])].map((e) => e.textContent).join(' | ').slice(0, 300)", [css]));
      } catch (e) {
        last = String(e);
      }
      await sleep(100);
    }
    throw new Error(`no ${css}${text ? ` with "${text}"` : ""} (seen: ${last})`);
  }

  /** Waits until `script` returns true in the page. */
  async until(script, what, timeout = 10_000) {
    const end = Date.now() + timeout;
    while (Date.now() < end) {
      if (await this.exec(script)) return;
      await sleep(100);
    }
    throw new Error(`timed out waiting for ${what}`);
  }

  async click(css, opts) {
    const id = await this.find(css, opts);
    try {
      await this.req("POST", this.s(`/element/${id}/click`), {});
    } catch (e) {
      // Say what covers the element: the driver does not.
      const over = await this.exec(
        "const el = document.querySelector(arguments[0]); if (!el) return 'gone'; const r = el.getBoundingClientRect(); const top = document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2); const d = top?.closest('.backdrop')?.querySelector('[role=dialog]'); return d ? 'dialog: ' + [...d.querySelectorAll('.small, .error')].map((p) => p.textContent).join(' | ') : top ? top.outerHTML.slice(0, 200) : 'nothing';",
        [css],
      ).catch(() => "?");
      throw new Error(`${e.message} (clicking ${css}; on top: ${over})`);
    }
  }

  async type(css, text) {
    const id = await this.find(css);
    await this.req("POST", this.s(`/element/${id}/clear`), {});
    await this.req("POST", this.s(`/element/${id}/value`), { text });
  }

  async text(css) {
    const id = await this.find(css);
    return (await this.req("GET", this.s(`/element/${id}/text`))).value;
  }

  /** Runs `script` in the page; with `async`, it ends by calling its last argument. */
  async exec(script, args = [], async = false) {
    const kind = async ? "async" : "sync";
    return (await this.req("POST", this.s(`/execute/${kind}`), { script, args })).value;
  }

  /** Saves the screen (the app's window on the virtual display) as PNG. WebKitWebDriver's own
   * screenshot waits for a repaint that an idle window under Xvfb may never do. */
  async screenshot(path) {
    mkdirSync(join(path, ".."), { recursive: true });
    await sleep(300);
    const r = spawnSync("import", ["-window", "root", path], { stdio: "inherit" });
    if (r.status !== 0) throw new Error(`screenshot ${path} failed (${r.status})`);
  }

  async stop() {
    try {
      await this.req("DELETE", this.s(""));
    } catch {
      // The app may already be gone.
    }
    this.driver.kill("SIGTERM");
    await sleep(300);
  }
}
