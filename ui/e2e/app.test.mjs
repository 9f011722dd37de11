// End to end: the real weft-desktop binary in a real WebKitGTK webview, driven through
// tauri-driver under Xvfb. Each main view is saved under docs/screenshots/.
import { test } from "node:test";
import assert from "node:assert/strict";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { App } from "./webdriver.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const binary =
  process.env.WEFT_DESKTOP_BIN ??
  join(process.env.CARGO_TARGET_DIR ?? join(root, "target"), "debug", "weft-desktop");
const shots = join(root, "docs", "screenshots");

test("a person sets up Weft and uses every module offline", async () => {
  const app = await App.start({ binary });
  try {
    // First run: a profile, then a workspace.
    await app.find("h1", { text: "Welcome to Weft" });
    await app.screenshot(join(shots, "first-run.png"));
    await app.type("input[name=display-name]", "Ana Lima");
    await app.type("input[name=username]", "ana");
    await app.click("button[type=submit]", { text: "Create profile" });
    await app.type("input[name=workspace-name]", "Acme");
    await app.click("button[type=submit]", { text: "Create workspace" });
    await app.find("nav button", { text: "#general" });

    // Chat: send, react, edit, reply in a thread.
    await app.type("textarea[name=composer]", "Ship the **beta** on Friday @ana");
    await app.click("button[type=submit]", { text: "Send" });
    await app.find("article.message", { text: "Ship the beta on Friday" });
    const bold = await app.text("article.message strong");
    assert.equal(bold, "beta");
    await app.click("article.message button[aria-label='React with thumbs up']");
    await app.find("article.message .reaction", { text: "👍 1" });
    await app.click("article.message button", { text: "Edit" });
    await app.type("input[name=edit]", "Ship the beta on Monday");
    await app.click("article.message button[type=submit]", { text: "Save" });
    await app.find("article.message", { text: "(edited)" });
    await app.click("article.message button", { text: "Reply" });
    await app.type("input[name=reply]", "I'll write the notes");
    await app.click("aside.thread button[type=submit]", { text: "Reply" });
    await app.find("aside.thread .reply", { text: "I'll write the notes" });
    await app.find("article.message button", { text: "1 reply" });
    await app.screenshot(join(shots, "chat.png"));

    // Hostile content renders as text and runs nothing.
    const hostile = [
      "<script>document.title='pwned'</script>",
      "<img src=x onerror=\"document.title='pwned'\">",
      "click javascript:document.title='pwned'",
    ];
    for (const h of hostile) {
      await app.type("textarea[name=composer]", h);
      await app.click("button[type=submit]", { text: "Send" });
      await app.find("article.message", { text: h.slice(0, 20) });
    }
    assert.equal(await app.exec("return document.title"), "Weft");
    assert.equal(await app.exec("return document.querySelectorAll('.messages script, .messages img').length"), 0);
    assert.equal(await app.exec("return [...document.querySelectorAll('.messages a')].filter(a => !/^https?:|^weft:/.test(a.getAttribute('href'))).length"), 0);

    // Boards: a board, a card, the card moved to the next column.
    await app.click("nav button", { text: "Boards" });
    await app.type("input[name=board-name]", "Launch");
    await app.click("button[type=submit]", { text: "Create board" });
    await app.find(".column h3");
    const first = await app.exec("return document.querySelector('.column').dataset.column");
    const second = await app.exec("return document.querySelectorAll('.column')[1].dataset.column");
    await app.type(".column input[name=task-title]", "Write release notes\uE007");
    await app.find(`.column[data-column='${first}'] .card`, { text: "Write release notes" });
    await app.click(`.column[data-column='${first}'] .card button[aria-label='Move right']`);
    await app.find(`.column[data-column='${second}'] .card`, { text: "Write release notes" });
    await app.screenshot(join(shots, "board.png"));

    // Calendar: a recurring event shows on every day it happens this month.
    await app.click("nav button", { text: "Calendar" });
    const today = new Date();
    const iso = `${today.getFullYear()}-${String(today.getMonth() + 1).padStart(2, "0")}-01`;
    await app.exec(`const el = document.querySelector("input[name=event-day]"); el.value = "${iso}"; el.dispatchEvent(new Event("input", {bubbles: true}));`);
    await app.type("input[name=event-title]", "Standup");
    await app.exec(`const s = document.querySelector("select[name=event-repeat]"); s.value = "daily"; s.dispatchEvent(new Event("change", {bubbles: true}));`);
    await app.type("input[name=event-count]", "5");
    await app.click("form button[type=submit]", { text: "Add event" });
    const calError = await app.exec("return document.querySelector('.calendar .error')?.textContent ?? ''");
    assert.equal(calError, "");
    await app.find(".day .event", { text: "Standup" });
    const days = await app.exec(
      "return [...document.querySelectorAll('.day')].filter(d => !d.classList.contains('other') && [...d.querySelectorAll('.event')].some(e => e.textContent.includes('Standup'))).map(d => d.dataset.day)",
    );
    assert.deepEqual(days, ["1", "2", "3", "4", "5"]);
    await app.screenshot(join(shots, "calendar.png"));

    // Focus: a pomodoro runs.
    await app.click("nav button", { text: "Focus" });
    await app.click("button", { text: "Start a pomodoro" });
    const timer = await app.text("[role=timer]");
    assert.match(timer, /^2[45]:\d\d$/);
    await app.screenshot(join(shots, "focus.png"));
    await app.click("button", { text: "Stop" });
    await app.find("button", { text: "Start a pomodoro" });

    // Search finds the edited message by a partial word.
    await app.click("nav button", { text: "Search" });
    await app.type("input[name=search]", "Mond");
    await app.click("form button[type=submit]", { text: "Search" });
    await app.find(".hit", { text: "Ship the beta on Monday" });
    await app.screenshot(join(shots, "search.png"));

    await app.click("nav button", { text: "Inbox" });
    await app.find("section.inbox h2", { text: "Inbox" });
    await app.screenshot(join(shots, "inbox.png"));
    // Always shown: where sync stands.
    assert.match(await app.text("[role=status]"), /Offline|Up to date|Connecting|Syncing/);
  } finally {
    await app.stop();
  }
});

test("two apps meet through a relay: a message typed in one appears in the other", async () => {
  const { spawn } = await import("node:child_process");
  const { mkdtempSync } = await import("node:fs");
  const { tmpdir } = await import("node:os");
  const weft = join(dirname(binary), "weft");
  const relayDir = mkdtempSync(join(tmpdir(), "weft-e2e-relay-"));
  const relay = spawn(weft, ["relay", "--listen", "127.0.0.1:0", "--relay-dir", relayDir], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const url = await new Promise((resolve, reject) => {
    let out = "";
    relay.stdout.on("data", (d) => {
      out += d;
      const m = /listening on ([0-9.]+:[0-9]+)/.exec(out);
      if (m) resolve(`ws://${m[1]}`);
    });
    relay.on("exit", (c) => reject(new Error(`relay exited ${c}: ${out}`)));
  });
  const env = { WEFT_KEYCHAIN: "off", WEFT_PASSPHRASE: "e2e-secret" };
  const a = await App.start({ binary, env });
  const b = await App.start({ binary, env });
  try {
    for (const [app, name] of [[a, "ana"], [b, "ben"]]) {
      await app.type("input[name=display-name]", name);
      await app.type("input[name=username]", name);
      await app.click("button[type=submit]", { text: "Create profile" });
    }
    await a.type("input[name=workspace-name]", "Acme");
    await a.click("button[type=submit]", { text: "Create workspace" });
    await a.click("nav button", { text: "Settings" });
    await a.type("input[name=relay-url]", url);
    await a.click("button[type=submit]", { text: "Add relay" });
    await a.click("button", { text: "Create invite link" });
    const linkId = await a.find("input[name=invite-out]");
    const link = (await a.req("GET", a.s(`/element/${linkId}/property/value`))).value;
    assert.match(link, /^weft:\/\/join\//);
    await a.find("[role=status][aria-label='Sync status']", { text: "Up to date", timeout: 20_000 });

    await b.type("input[name=invite-link]", link);
    await b.click("button[type=submit]", { text: "Join" });
    await b.find("nav button", { text: "#general", timeout: 30_000 });

    await a.click("nav button", { text: "#general" });
    await a.type("textarea[name=composer]", "Hello from Ana's app");
    await a.click("button[type=submit]", { text: "Send" });
    await b.click("nav button", { text: "#general" });
    await b.find("article.message", { text: "Hello from Ana's app", timeout: 20_000 });
    await b.screenshot(join(shots, "two-apps-relay.png"));
  } finally {
    await a.stop();
    await b.stop();
    relay.kill("SIGTERM");
  }
});
