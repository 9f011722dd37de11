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

/** Sets an input a person would pick from a native widget (date, time, select). */
async function set(app, css, value, event = "input") {
  await app.exec(
    "const el = document.querySelector(arguments[0]); el.value = arguments[1]; el.dispatchEvent(new Event(arguments[2], {bubbles: true}));",
    [css, value, event],
  );
}

test("a person sets up Weft and uses every module offline", async () => {
  const app = await App.start({ binary, env: { WEFT_KEYCHAIN: "off", WEFT_PASSPHRASE: "e2e-secret" } });
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
    // A file rides on the reply (picked in the thread's own file input).
    await app.exec(`
      const dt = new DataTransfer();
      dt.items.add(new File(["outline"], "outline.txt", { type: "text/plain" }));
      const input = document.querySelector("aside.thread input[name=reply-attach]");
      input.files = dt.files;
      input.dispatchEvent(new Event("change", { bubbles: true }));`);
    await app.until("return /7 B/.test(document.querySelector('aside.thread .pending li')?.textContent ?? '')", "the reply's file is attached");
    await app.click("aside.thread button[type=submit]", { text: "Reply" });
    await app.find("aside.thread .reply", { text: "I'll write the notes" });
    await app.find("aside.thread .reply .file[data-state=ready]", { text: "outline.txt" });
    assert.equal(await app.exec("return document.querySelectorAll('aside.thread .pending li').length"), 0);
    await app.find("article.message button", { text: "1 reply" });

    // Mentions autocomplete, emoji reactions, pins, saved items, scheduled send.
    await app.type("textarea[name=composer]", "thanks @an");
    await app.find(".mentions li", { text: "Ana Lima" });
    await app.type("textarea[name=composer]", "\uE004");
    assert.equal(await app.exec("return document.querySelector('textarea[name=composer]').value"), "thanks @ana ");
    await app.click("button[type=submit]", { text: "Send" });
    await app.find("article.message", { text: "thanks @ana" });
    await app.click("article.message button[aria-label='Add a reaction']");
    await app.click(".picker button", { text: "🎉" });
    await app.find("article.message .reaction", { text: "🎉 1" });
    await app.click("article.message button[aria-label='Pin']");
    await app.find("article.message .meta", { text: "pinned" });
    await app.click("aside.thread button[aria-label='Close thread']");
    await app.click("header button", { text: "Pinned" });
    await app.find("aside[aria-label='Pinned messages'] .reply", { text: "Ship the beta on Monday" });
    await app.click("article.message button[aria-label='Save message']");
    await app.find("[role=status]", { text: "Saved" });
    await app.click("button[aria-label='Schedule for later']");
    const tomorrow = new Date(Date.now() + 86_400_000);
    const local = new Date(tomorrow.getTime() - tomorrow.getTimezoneOffset() * 60_000).toISOString().slice(0, 16);
    await set(app, "input[name=schedule-at]", local);
    await app.type("textarea[name=composer]", "Reminder: retro at 4");
    await app.click("button[type=submit]", { text: "Schedule" });
    await app.find(".scheduled li", { text: "Reminder: retro at 4" });
    assert.equal(await app.exec("return [...document.querySelectorAll('article.message')].some(a => a.textContent.includes('retro at 4'))"), false);
    await app.screenshot(join(shots, "chat.png"));
    await app.click(".scheduled button", { text: "Cancel" });
    await app.until("return document.querySelectorAll('.scheduled li').length === 0", "the scheduled message cancelled");

    await app.click("nav button", { text: "Saved" });
    await app.find("section.saved .item", { text: "Ship the beta on Monday" });
    await app.screenshot(join(shots, "saved.png"));
    await app.click("nav button", { text: "#general" });

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

    // A column added and renamed; the card's detail: priority, a checklist item, a comment.
    await app.type("input[name=column-name]", "QA\uE007");
    await app.find(".column h3", { text: "QA" });
    await app.click(".column button[aria-label='Rename QA']");
    await set(app, "input[name=column-rename]", "QA review");
    await app.type("input[name=column-rename]", "\uE007");
    await app.find(".column h3", { text: "QA review" });
    await app.click(".card button.title", { text: "Write release notes" });
    await app.find("[role=dialog][aria-label=Card]");
    await set(app, "select[name=card-priority]", "high", "change");
    await app.type("input[name=subtask]", "Draft\uE007");
    await app.find("[role=dialog] fieldset label", { text: "Draft" });
    await app.type("input[name=comment]", "Started on it\uE007");
    await app.find("[role=dialog] .comment", { text: "Started on it" });
    // A file attached to the card (picked in its file input) shows on it, ready here.
    const onCard = await app.exec(`
      const dt = new DataTransfer();
      dt.items.add(new File(["# Release notes\\n- faster sync\\n"], "notes-draft.md", { type: "text/markdown" }));
      const input = document.querySelector("input[name=card-attach]");
      input.files = dt.files;
      input.dispatchEvent(new Event("change", { bubbles: true }));
      return !!input;`);
    assert.equal(onCard, true);
    await app.find("[role=dialog] .attachments .file[data-state=ready]", { text: "notes-draft.md" });
    await app.find(".card .chip", { text: "📎 1" });
    await app.find(".card .chip", { text: "high" });
    await app.find(".card .chip", { text: "☑ 0/1" });
    await app.screenshot(join(shots, "card.png"));
    await app.click("button[aria-label='Close card']");
    await set(app, "select[aria-label='Priority filter']", "low", "change");
    assert.equal(await app.exec("return document.querySelectorAll('.card').length"), 0);
    await set(app, "select[aria-label='Priority filter']", "high", "change");
    await app.find(".card", { text: "Write release notes" });
    await app.screenshot(join(shots, "board.png"));
    await app.click("button", { text: "Clear filters" });

    // A task made from a message lands on the board.
    await app.click("nav button", { text: "#general" });
    await app.click("article.message button[aria-label='Make a task']");
    await app.click("form.tasking button[type=submit]", { text: "Create task" });
    await app.find("[role=status]", { text: "added to Launch" });
    await app.click("nav button", { text: "Boards" });
    await app.find(".card", { text: "Ship the beta on Monday" });

    // Calendar: a recurring event shows on every day it happens this month.
    await app.click("nav button", { text: "Calendar" });
    await app.click("button", { text: "New event" });
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

    // The week view of the 1st shows it at its hour; editing it renames every occurrence.
    await app.click("button[aria-pressed]", { text: "Week" });
    await app.click("button", { text: "Today" });
    const monthStart = new Date(today.getFullYear(), today.getMonth(), 1);
    const weeksBack = Math.round((today.getTime() - monthStart.getTime()) / 86_400_000 / 7) + 1;
    for (let i = 0; i < weeksBack; i++) {
      if (await app.exec("return !!document.querySelector('.col .timed')")) break;
      await app.click("button[aria-label='Previous week']");
    }
    await app.click(".col .timed", { text: "Standup" });
    await app.type("input[name=event-title]", "Standup (team)");
    await app.click("form button[type=submit]", { text: "Save event" });
    await app.find(".col .timed", { text: "Standup (team)" });
    await app.screenshot(join(shots, "calendar-week.png"));
    await app.click("button", { text: "Export .ics" });
    await app.find(".calendar [role=status]", { text: ".ics" });

    // Focus: a pomodoro runs.
    await app.click("nav button", { text: "Focus" });
    await app.click("button", { text: "Start a pomodoro" });
    const timer = await app.text("[role=timer]");
    assert.match(timer, /^2[45]:\d\d$/);
    await app.click("button", { text: "Pause" });
    await app.find("button", { text: "Resume" });
    const paused = await app.text("[role=timer]");
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(await app.text("[role=timer]"), paused);
    await app.click("button", { text: "Resume" });
    await app.type("input[name=interruption]", "Phone call");
    await app.click("button[type=submit]", { text: "Log interruption" });
    await app.find(".focus p", { text: "1 interruptions" });
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

    // Ctrl+K jumps anywhere by a few letters.
    await app.exec("window.dispatchEvent(new KeyboardEvent('keydown', {key: 'k', ctrlKey: true, bubbles: true}))");
    await app.type("input[name=switcher]", "gen");
    await app.find("[role=option]", { text: "#general" });
    await app.screenshot(join(shots, "switcher.png"));
    await app.type("input[name=switcher]", "\uE007");
    await app.find("section.chat h2", { text: "#general" });

    // Settings: the profile saved, the dark theme applied, the member list.
    await app.click("nav button", { text: "Settings" });
    await app.type("input[name=profile-title]", "Release manager");
    await app.click("button[type=submit]", { text: "Save profile" });
    await app.find("[role=status]", { text: "Profile saved." });
    await set(app, "select[aria-label=Theme]", "dark", "change");
    await app.find("[role=status]", { text: "Settings saved." });
    assert.equal(await app.exec("return document.documentElement.dataset.theme"), "dark");
    await app.find(".member", { text: "Ana Lima (you)" });
    // Calls: a TURN server over TLS is refused with the reason; over UDP it is kept.
    await app.click("button", { text: "Add server" });
    await app.type("input[name=call-server-0]", "turns:turn.acme.example:5349");
    await app.type("input[name=call-server-user-0]", "acme");
    await app.type("input[name=call-server-credential-0]", "hunter2");
    await app.click("button[type=submit]", { text: "Save call servers" });
    await app.find(".settings .error", { text: "TLS is not supported" });
    await set(app, "input[name=call-server-0]", "turn:turn.acme.example:3478", "input");
    await app.click("input[name=calls-relay-only]");
    await app.click("button[type=submit]", { text: "Save call servers" });
    await app.find("[role=status]", { text: "Call servers saved" });
    // Stored: back on Settings later, the form shows them.
    await app.click("nav button", { text: "Inbox" });
    await app.click("nav button", { text: "Settings" });
    await app.until(
      "return document.querySelector('input[name=call-server-0]')?.value === 'turn:turn.acme.example:3478' && document.querySelector('input[name=calls-relay-only]').checked",
      "the call servers shown as stored",
    );
    await app.exec("document.querySelector('form[aria-label=\"Call servers\"]').scrollIntoView()");
    await app.screenshot(join(shots, "settings-calls.png"));
    await app.exec("document.querySelector('.settings').scrollTop = 0");
    await app.screenshot(join(shots, "settings-dark.png"));
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
  // No camera or microphone here: the numbered test pattern and a tone stand in for them.
  const env = {
    WEFT_KEYCHAIN: "off",
    WEFT_PASSPHRASE: "e2e-secret",
    WEFT_CAMERA: "pattern",
    WEFT_MIC: "tone",
    WEFT_CALL_BIND: "127.0.0.1:0",
  };
  const downloads = mkdtempSync(join(tmpdir(), "weft-e2e-downloads-"));
  const a = await App.start({ binary, env });
  const b = await App.start({ binary, env: { ...env, WEFT_DOWNLOAD_DIR: downloads } });
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
    // Wait for the page to settle (the relay joins the list above) before the next click.
    await a.find(".settings [role=status]", { text: "Relay added" });
    await a.find(".settings .list li", { text: url });
    await a.click("button", { text: "Create invite link" });
    const made = await a.find("input[name=invite-out], .settings .error");
    assert.equal(await a.exec("return document.querySelector('.settings .error')?.textContent ?? ''"), "");
    const linkId = made;
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
    await b.find("article.message .author", { text: "ana" });
    await b.screenshot(join(shots, "two-apps-relay.png"));

    // Typing shows on the other side while it lasts, and is never stored.
    await b.type("textarea[name=composer]", "writing…");
    await a.find(".typing", { text: "ben is typing", timeout: 20_000 });
    await b.exec("const t = document.querySelector('textarea[name=composer]'); t.value = ''; t.dispatchEvent(new Event('input', {bubbles: true}));");

    // A direct message from Ana reaches Ben, with his unread count; a mention reaches his inbox.
    await a.click("details.start-dm summary");
    await a.click("details.start-dm button", { text: "ben" });
    await a.find("section.chat h2", { text: "ben" });
    await a.type("textarea[name=composer]", "psst @ben, a private word");
    await a.click("button[type=submit]", { text: "Send" });
    await b.find("nav .dms button", { text: "ana", timeout: 20_000 });
    await b.click("nav .dms button", { text: "ana" });
    await b.find("article.message", { text: "a private word", timeout: 20_000 });
    await b.click("nav button", { text: "Inbox" });
    await b.find("section.inbox article", { text: "a private word", timeout: 20_000 });
    await b.screenshot(join(shots, "inbox-dm.png"));

    // Files: Ana attaches a plan and an image to a message in #general (picked in the
    // composer's file input); Ben sees the image's preview, downloads the plan from the relay
    // and gets the very bytes, and finds it in the Files view by name.
    await a.click("nav button", { text: "#general" });
    const attached = await a.exec(`
      const done = arguments[arguments.length - 1];
      (async () => {
      const dt = new DataTransfer();
      const plan = new Uint8Array(300000).map((_, i) => (i * 7919) % 251);
      dt.items.add(new File([plan], "launch-plan.bin", { type: "application/octet-stream" }));
      const c = document.createElement("canvas"); c.width = 64; c.height = 40;
      const g = c.getContext("2d"); g.fillStyle = "#3a7"; g.fillRect(0, 0, 64, 40);
      const png = await new Promise((r) => c.toBlob(r, "image/png"));
      dt.items.add(new File([png], "chart.png", { type: "image/png" }));
      const input = document.querySelector("input[name=attach]");
      input.files = dt.files;
      input.dispatchEvent(new Event("change", { bubbles: true }));
      })().then(() => done(null), (e) => done(String(e)));`, [], true);
    assert.equal(attached, null);
    await a.until("return document.querySelectorAll('.pending li').length === 2 && ![...document.querySelectorAll('.pending li')].some((l) => /attaching/.test(l.textContent))", "both files are attached");
    assert.equal(await a.exec("return document.querySelector('.pending li.failed')?.title ?? ''"), "");
    await a.type("textarea[name=composer]", "the launch plan, and the chart");
    await a.click("button[type=submit]", { text: "Send" });
    await a.find("article.message .file", { text: "launch-plan.bin" });
    await b.click("nav button", { text: "#general" });
    await b.find("article.message", { text: "the launch plan", timeout: 20_000 });
    await b.find("article.message .file img[alt='Preview of chart.png']");
    await b.find("article.message .file[data-state=missing]", { text: "launch-plan.bin" });
    await b.click("article.message button[aria-label='Download launch-plan.bin']");
    await b.find("article.message .file", { text: "Saved to", timeout: 30_000 });
    const { readFileSync } = await import("node:fs");
    const got = readFileSync(join(downloads, "launch-plan.bin"));
    assert.equal(got.length, 300000);
    assert.ok(got.every((v, i) => v === (i * 7919) % 251), "the downloaded plan is the very bytes Ana attached");
    await b.screenshot(join(shots, "files-in-chat.png"));
    // The image's preview opens it whole (fetched first: it was not on Ben's device).
    await b.click("article.message button[aria-label='Show chart.png whole']");
    await b.find("[role=dialog][aria-label='chart.png'] img[src^='data:image/png']", { timeout: 30_000 });
    await b.until("return document.querySelector(\"[role=dialog][aria-label='chart.png'] img\")?.naturalWidth === 64", "the whole image, 64 pixels wide");
    await b.click("button[aria-label='Close image']");
    await b.until("return !document.querySelector(\"[role=dialog][aria-label='chart.png']\")", "the image closes");
    await b.click("nav button", { text: "Files" });
    await b.type("input[name=file-search]", "chart");
    await b.until("return [...document.querySelectorAll('.files-view .list li')].map((l) => l.textContent).join('|').includes('chart.png') && document.querySelectorAll('.files-view .list li').length === 1", "the Files view finds the chart by name");
    await b.screenshot(join(shots, "files.png"));

    // A call in #general: Ana starts it; Ben sees it going on and joins; each shows the
    // other's video, decoded in Rust and painted by WebGL.
    await a.click("nav button", { text: "#general" });
    await a.click("section.chat header button", { text: "Call" });
    // The pre-join screen shows the camera and meters the microphone before joining.
    await a.find("[role=dialog] .preview[data-live=yes]", { timeout: 15_000 });
    await a.until("return Number(document.querySelector('[role=dialog] [role=meter]')?.getAttribute('aria-valuenow')) > 10", "the microphone meter moves");
    // The pickers show the devices the call will open.
    const picked = (app, name) => app.exec(`const s = document.querySelector('select[name=${name}]'); return s ? s.selectedOptions[0]?.textContent : null`);
    await a.until("return !!document.querySelector('select[name=camera-device]')", "the camera picker");
    assert.equal(await picked(a, "camera-device"), "Test pattern");
    assert.equal(await picked(a, "microphone-device"), "Test tone");
    await a.click("button[type=submit]", { text: "Join call" });
    await a.find("section.call figure.tile[data-peer=me][data-live=yes]", { timeout: 20_000 });
    // Ben sees the call going on in #general, and is rung: he joins from his inbox.
    await b.click("nav button", { text: "#general" });
    await b.find("section.chat header button", { text: "Join call", timeout: 30_000 });
    await b.click("nav button", { text: "Inbox" });
    await b.click("section.inbox article button", { text: "Join", timeout: 20_000 });
    await b.find("[role=dialog] .preview[data-live=yes]", { timeout: 15_000 });
    await b.screenshot(join(shots, "prejoin.png"));
    await b.click("button[type=submit]", { text: "Join call" });
    const remote = "section.call figure.tile[data-live=yes]:not([data-peer=me])";
    await b.find(remote, { timeout: 30_000 });
    await a.find(remote, { timeout: 30_000 });
    await a.find("section.call figcaption", { text: "ben" });
    await b.find("section.call figcaption", { text: "ana" });
    // The call's chat is the thread of the message the call posted in #general.
    await b.click("section.call footer button", { text: "Chat" });
    await b.type("input[name=call-chat]", "the chart is on slide 3");
    await b.click("section.call .chat-panel button[type=submit]", { text: "Send" });
    await b.find("section.call .chat-panel li", { text: "the chart is on slide 3" });
    await a.click("section.call footer button", { text: "Chat" });
    await a.find("section.call .chat-panel li", { text: "the chart is on slide 3", timeout: 20_000 });
    await a.find("article.message", { text: "Started a call" });
    // Devices can be changed in the call; the pickers show the ones in use.
    await a.click("section.call footer button", { text: "Devices" });
    await a.find("section.call [aria-label='Call devices'] select[name=camera-device]");
    assert.equal(await picked(a, "camera-device"), "Test pattern");
    await a.screenshot(join(shots, "call.png"));
    await b.click("section.call button", { text: "Mute" });
    await b.find("section.call button", { text: "Unmute" });
    await b.click("section.call button", { text: "Leave" });
    await b.until("return !document.querySelector('section.call')", "the call view closes");
    await a.click("section.call button", { text: "Leave" });
  } finally {
    await a.stop();
    await b.stop();
    relay.kill("SIGTERM");
  }
});

test("with no keychain, the app asks for a passphrase, refuses a wrong one, and keeps what is stored", async () => {
  const env = { WEFT_KEYCHAIN: "off", WEFT_PASSPHRASE: "" };
  const first = await App.start({ binary, env });
  const dir = first.dir;
  try {
    await first.type("input[name=display-name]", "Cy");
    await first.type("input[name=username]", "cy");
    await first.click("button[type=submit]", { text: "Create profile" });
    await first.type("input[name=workspace-name]", "Vaulted");
    await first.click("button[type=submit]", { text: "Create workspace" });
    await first.type("textarea[name=composer]", "kept across the lock");
    await first.click("button[type=submit]", { text: "Send" });
    // Looking at Settings does not ask; the first thing that needs the device's keys does.
    await first.click("nav button", { text: "Settings" });
    await first.find(".settings", { text: "keys locked" });
    assert.equal(await first.exec("return document.querySelectorAll('[role=dialog]').length"), 0);
    await first.type("input[name=relay-url]", "ws://127.0.0.1:9");
    await first.click("button[type=submit]", { text: "Add relay" });
    await first.find("[role=dialog] h2", { text: "Unlock this device" });
    await first.screenshot(join(shots, "unlock.png"));
    await first.type("input[name=passphrase]", "correct horse battery");
    await first.type("input[name=passphrase-again]", "correct horse batery");
    await first.click("[role=dialog] button[type=submit]", { text: "Unlock" });
    await first.find("[role=dialog] .error", { text: "differ" });
    await first.type("input[name=passphrase-again]", "correct horse battery");
    await first.click("[role=dialog] button[type=submit]", { text: "Unlock" });
    await first.until("return document.querySelectorAll('[role=dialog]').length === 0", "the dialog to close");
    await first.click("button[type=submit]", { text: "Add relay" });
    await first.find(".settings [role=status]", { text: "Relay added" });
    await first.find(".settings .list li", { text: "127.0.0.1:9" });
    await first.click("button", { text: "Create invite link" });
    await first.find("input[name=invite-out]");
  } finally {
    await first.stop();
  }
  const again = await App.start({ binary, env, dataDir: dir });
  try {
    // With a relay to sync with, the app asks as it starts.
    await again.find("[role=dialog] h2", { text: "Unlock this device", timeout: 20_000 });
    assert.equal(await again.exec("return !!document.querySelector('input[name=passphrase-again]')"), false);
    await again.type("input[name=passphrase]", "not the passphrase");
    await again.click("[role=dialog] button[type=submit]", { text: "Unlock" });
    await again.find("[role=dialog] .error", { text: "wrong passphrase" });
    await again.type("input[name=passphrase]", "correct horse battery");
    await again.click("[role=dialog] button[type=submit]", { text: "Unlock" });
    await again.until("return document.querySelectorAll('[role=dialog]').length === 0", "the dialog to close");
    await again.click("nav button", { text: "Settings" });
    // Settings has settled (the relay listed) before the click lands.
    await again.find(".settings .list li", { text: "127.0.0.1:9" });
    await again.click("button", { text: "Create invite link" });
    await again.find("input[name=invite-out]");
    await again.click("nav button", { text: "#general" });
    await again.find("article.message", { text: "kept across the lock" });
  } finally {
    await again.stop();
  }
});

test("a long channel is read back to its start and forward again with at most 200 messages in the page", async () => {
  const app = await App.start({ binary, env: { WEFT_KEYCHAIN: "off", WEFT_PASSPHRASE: "e2e-secret" } });
  try {
    await app.type("input[name=display-name]", "Di");
    await app.type("input[name=username]", "di");
    await app.click("button[type=submit]", { text: "Create profile" });
    await app.type("input[name=workspace-name]", "Long");
    await app.click("button[type=submit]", { text: "Create workspace" });
    await app.find("nav button", { text: "#general" });
    // 450 messages through the app's own send command (typing them would take minutes).
    const total = 450;
    const sent = await app.exec(
      `const done = arguments[arguments.length - 1];
       (async () => {
         const invoke = window.__TAURI_INTERNALS__.invoke;
         const ws = (await invoke("overview")).workspaces[0].id;
         const ch = (await invoke("channels", { workspace: ws })).find((c) => c.channel.name === "general").channel.id;
         for (let i = 0; i < ${total}; i++) await invoke("send_message", { channel: ch, text: "line " + i, parent: null, attachments: [] });
         done(true);
       })().catch((e) => done(String(e?.message ?? e)));`,
      [],
      true,
    );
    assert.equal(sent, true);
    await app.find("article.message", { text: `line ${total - 1}`, timeout: 90_000 });
    const shown = () => app.exec("return [...document.querySelectorAll('article.message .text')].map((t) => t.textContent.trim())");
    const most = { n: 0 };
    // Scroll up until the start of the channel.
    for (let i = 0; i < 40; i++) {
      const n = await app.exec("const s = document.querySelector('.messages'); s.scrollTop = 0; s.dispatchEvent(new Event('scroll')); return document.querySelectorAll('article.message').length");
      most.n = Math.max(most.n, n);
      if (await app.exec("return !!document.querySelector('.messages .start')")) break;
      await new Promise((r) => setTimeout(r, 150));
    }
    await app.find(".messages .start", { text: "very beginning" });
    let lines = await shown();
    assert.equal(lines[0], "line 0");
    assert.ok(lines.length <= 200, `${lines.length} messages in the page`);
    await app.find("button", { text: "Jump to latest" });
    // Scroll down through history until the newest, in order, none twice.
    const seen = [...lines];
    for (let i = 0; i < 40; i++) {
      const n = await app.exec("const s = document.querySelector('.messages'); s.scrollTop = s.scrollHeight; s.dispatchEvent(new Event('scroll')); return document.querySelectorAll('article.message').length");
      most.n = Math.max(most.n, n);
      lines = await shown();
      for (const l of lines) if (!seen.includes(l)) seen.push(l);
      if (lines.at(-1) === `line ${total - 1}` && !(await app.exec("return !!document.querySelector('.latest')"))) break;
      await new Promise((r) => setTimeout(r, 150));
    }
    assert.equal(lines.at(-1), `line ${total - 1}`);
    assert.ok(most.n <= 200, `at most ${most.n} messages were in the page`);
    assert.deepEqual(seen, Array.from({ length: total }, (_, i) => `line ${i}`));
    assert.equal(new Set(lines).size, lines.length);
  } finally {
    await app.stop();
  }
});
