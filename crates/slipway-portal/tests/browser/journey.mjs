// The portal journey in headless Chromium (Debian's, via playwright-core;
// no browser is ever downloaded). Run by ../browser.rs against a real
// `slipway up`; the environment says where everything is.
import { chromium } from "playwright-core";
import { execFileSync, spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import assert from "node:assert/strict";
import { logViewBench } from "./logview-bench.mjs";

const base = process.env.PORTAL_URL;
const routerPort = process.env.ROUTER_ADDR.split(":").pop();
const adminPassword = process.env.ADMIN_PASSWORD;
const work = process.env.WORK_DIR;
const shots = process.env.SCREENSHOT_DIR;
const metrics = {};
const step = (name) => console.log(`--- ${name}`);

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run"],
});
const timeout = 240_000;
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  page.setDefaultTimeout(60_000);
  page.on("dialog", (dialog) => dialog.accept());
  const shot = (name, p = page) => p.screenshot({ path: path.join(shots, `${name}.png`), fullPage: true });

  step("wrong password shows an error beside the field");
  await page.goto(`${base}/`);
  assert.match(page.url(), /\/login$/);
  await page.fill("#username", "admin");
  await page.fill("#password", "wrong-password");
  await page.click("button[type=submit]");
  await page.waitForSelector("#password-error");
  assert.equal((await page.textContent("#password-error")).trim(), "Wrong username or password.");
  await shot("sign-in-error");

  step("sign in and create a workspace");
  await page.fill("#username", "admin");
  await page.fill("#password", adminPassword);
  await page.click("button[type=submit]");
  await page.waitForURL(/\/workspaces$/);
  await page.fill("#slug", "acme");
  await page.fill("#name", "Acme");
  await page.click("text=Create workspace");
  await page.waitForURL(/\/w\/acme$/);

  step("create a project; read the git lines it shows");
  await page.click("text=New project");
  await page.fill("#slug", "web");
  await shot("new-project");
  await page.click("button:has-text('Create project')");
  await page.waitForURL(/\/w\/acme\/p\/web/);
  const remoteLine = (await page.textContent("[data-git-remote]")).trim();
  const pushLine = (await page.textContent("[data-git-push]")).trim();
  assert.equal(remoteLine, `git remote add slipway ${base}/git/acme/web.git`);
  assert.equal(pushLine, "git push slipway main");
  assert.ok(await page.isVisible("#deploy"), "an owner sees the Deploy button");

  step("create an API token (shown once) for git");
  const tokens = await context.newPage();
  await tokens.goto(`${base}/tokens`);
  await tokens.fill("#token-name", "git");
  await tokens.click("text=Create token");
  const token = (await tokens.textContent("#new-token")).trim();
  assert.match(token, /\S{20,}/);
  await shot("tokens", tokens);
  await tokens.reload();
  assert.ok(!(await tokens.content()).includes(token), "a token is shown once only");
  await tokens.close();

  step("push examples/express with the lines the page showed");
  const repo = path.join(work, "web");
  fs.cpSync(process.env.EXAMPLE_DIR, repo, { recursive: true });
  const askpass = path.join(work, "askpass.sh");
  fs.writeFileSync(askpass, `#!/bin/sh\ncase "$1" in Username*) echo admin;; *) echo '${token}';; esac\n`, { mode: 0o755 });
  const gitEnv = { ...process.env, GIT_ASKPASS: askpass, GIT_TERMINAL_PROMPT: "0",
    GIT_AUTHOR_NAME: "E2E", GIT_AUTHOR_EMAIL: "e2e@example.com", GIT_COMMITTER_NAME: "E2E", GIT_COMMITTER_EMAIL: "e2e@example.com" };
  const git = (...args) => execFileSync("git", args, { cwd: repo, env: gitEnv, encoding: "utf8" });
  git("init", "-q", "-b", "main");
  git("add", ".");
  git("commit", "-q", "-m", "first");
  const sh = (line) => execFileSync("sh", ["-c", line], { cwd: repo, env: gitEnv, encoding: "utf8" });
  sh(remoteLine);
  const pushInBackground = (line) => new Promise((resolve, reject) => {
    const child = spawn("sh", ["-c", `${line} 2>&1`], { cwd: repo, env: gitEnv });
    let out = "";
    child.stdout.on("data", (d) => { out += d; });
    child.on("exit", (code) => (code === 0 ? resolve(out) : reject(new Error(`${line} failed:\n${out}`))));
  });
  const push1 = pushInBackground(pushLine);

  step("the open page follows the new deployment's log to its end");
  const finished = (number) => page.waitForFunction((n) => {
    const log = document.getElementById("build-log");
    const state = document.querySelector("#build [data-log-state]");
    return log && log.getAttribute("data-number") === String(n) && state && state.textContent.startsWith("finished");
  }, number, { timeout, polling: 250 });
  await finished(1);
  await push1;
  assert.equal(await page.textContent("#build [data-log-state]"), "finished: DEPLOYED");
  assert.match(await page.textContent("#build-log"), /Detected node/);
  await page.waitForSelector("[data-current-badge] .badge[data-status=DEPLOYED], [data-current-badge][data-status=DEPLOYED]");
  assert.ok(await page.isVisible("#deploy-banner"), "the success banner shows");
  const liveUrl = await page.getAttribute("#deploy-banner a", "href");
  assert.equal(liveUrl, `http://web-acme.localhost:${routerPort}`);
  await shot("project-deployed");

  step("the projects list shows the badge and the live URL");
  const list = await context.newPage();
  await list.goto(`${base}/w/acme`);
  await list.waitForSelector('[data-project-badge="web"] [data-status=DEPLOYED], [data-project-badge="web"][data-status=DEPLOYED]');
  assert.equal(await list.getAttribute("[data-live-url]", "href"), liveUrl);
  await shot("projects", list);

  step("open the live URL");
  const app = await context.newPage();
  await app.goto(liveUrl);
  assert.equal((await app.textContent("body")).trim(), "hello from express");

  step("set a config var and redeploy with the Deploy button");
  await page.fill("#config_name", "GREETING");
  await page.fill("#config_value", "ahoy");
  await page.click("#config button:has-text('Add')");
  await page.waitForSelector('tr[data-config="GREETING"]');
  await page.click("#deploy");
  await page.waitForURL(/#build$/);
  await finished(2);
  assert.equal(await page.textContent("#build [data-log-state]"), "finished: DEPLOYED");
  // The history redraws itself when the deploy ends: no reload needed.
  await page.waitForSelector('tr[data-deployment="2"] [data-status=DEPLOYED]');
  await page.waitForSelector('tr[data-deployment="1"] [data-status=SUPERSEDED]');
  await app.reload();
  assert.equal((await app.textContent("body")).trim(), "hello from express ahoy");

  step("a build printing 5,000 lines a second streams without freezing, across a blip");
  const LINES = 20000;
  fs.writeFileSync(path.join(repo, "noisy.js"),
    `let i = 0; const t = setInterval(() => { let s = ""; for (let k = 0; k < 50 && i < ${LINES}; k++) s += "\\x1b[32mnoisy\\x1b[0m " + (i++) + "\\n"; process.stdout.write(s); if (i >= ${LINES}) clearInterval(t); }, 10);\n`);
  const pkg = JSON.parse(fs.readFileSync(path.join(repo, "package.json"), "utf8"));
  pkg.scripts = { ...(pkg.scripts || {}), build: "node noisy.js" };
  fs.writeFileSync(path.join(repo, "package.json"), JSON.stringify(pkg, null, 2));
  git("add", ".");
  git("commit", "-q", "-m", "noisy build");
  // Measured in the foreground tab, as a user watching the log would be.
  await page.bringToFront();
  await page.evaluate(() => {
    window.__longTasks = [];
    new PerformanceObserver((list) => { for (const e of list.getEntries()) window.__longTasks.push(e.duration); })
      .observe({ type: "longtask", buffered: false });
    // Frame gaps while the log streams: the page must keep painting.
    window.__frames = []; let last = performance.now();
    const tick = (now) => { window.__frames.push(now - last); last = now; requestAnimationFrame(tick); };
    requestAnimationFrame(tick);
  });
  const push3 = pushInBackground(pushLine);
  // Cheap checks, polled: the test must not be what slows the page down.
  const poll = { timeout, polling: 100 };
  await page.waitForFunction(() => document.getElementById("build-log").getAttribute("data-number") === "3", null, poll);
  await page.waitForFunction(() => Number(document.getElementById("build-log").getAttribute("data-lines")) > 3000, null, poll);
  const streamStart = Date.now();
  await page.evaluate(() => { window.__frames = []; window.__longTasks = []; });
  await page.evaluate(() => window.slipway.build.blip());
  await page.waitForFunction((last) => {
    const kids = document.getElementById("build-log").children;
    for (let i = kids.length - 1; i >= Math.max(0, kids.length - 50); i--) if (kids[i].textContent.includes(last + "\n")) return true;
    return false;
  }, `noisy ${LINES - 1}`, poll);
  const streamMs = Date.now() - streamStart;
  const perf = await page.evaluate(() => ({ longTasks: window.__longTasks, frames: window.__frames }));
  await finished(3);
  await push3;
  const seen = await page.evaluate(() => (document.getElementById("build-log").textContent.match(/noisy (\d+)/g) || []).map((s) => Number(s.split(" ")[1])));
  assert.equal(seen.length, LINES, "every line exactly once after the blip");
  assert.equal(new Set(seen).size, LINES, "no line repeated");
  assert.ok(await page.$("#build-log span.fg-32"), "ANSI green became a span");
  const maxLong = Math.max(0, ...perf.longTasks);
  const slowFrames = perf.frames.filter((f) => f > 250).length;
  const sortedFrames = [...perf.frames].sort((a, b) => a - b);
  metrics.p95_frame_ms = Math.round(sortedFrames[Math.floor(sortedFrames.length * 0.95)] || 0);
  metrics.noisy_lines = LINES;
  metrics.stream_ms = streamMs;
  metrics.long_tasks = perf.longTasks.length;
  metrics.max_long_task_ms = Math.round(maxLong);
  metrics.frames = perf.frames.length;
  metrics.frames_over_250ms = slowFrames;
  metrics.lines_per_second_rendered = Math.round((LINES - 3000) / (streamMs / 1000));
  metrics.max_frame_ms = Math.round(Math.max(0, ...perf.frames));
  // Figures, not thresholds (the machines are shared and noisy): printed below as
  // PORTAL_METRICS and recorded in BENCHMARKS.md. What must hold is asserted above: every line
  // on the page exactly once.

  step("roll back to release #1 from the history");
  await page.goto(`${base}/w/acme/p/web`);
  await page.click('tr[data-deployment="1"] button:has-text("Rollback")');
  await page.waitForURL(/#build$/);
  await finished(4);
  assert.equal(await page.textContent("#build [data-log-state]"), "finished: DEPLOYED");
  await app.reload();
  assert.equal((await app.textContent("body")).trim(), "hello from express", "release #1 with its own config");
  await page.reload();
  await shot("project-history");

  step("members: invite a viewer");
  const created = await page.request.post(`${base}/v1/users`, {
    headers: { authorization: `Bearer ${token}` },
    data: { username: "vera", password: "vera-password-123" },
  });
  assert.equal(created.status(), 201, await created.text());
  await page.goto(`${base}/w/acme/members`);
  await page.fill("#username", "nobody-here");
  await page.click("button:has-text('Invite')");
  await page.waitForSelector("#username-error");
  assert.match(await page.textContent("#username-error"), /nobody-here|no user|not found/i);
  await page.fill("#username", "vera");
  await page.selectOption("#role", "viewer");
  await page.click("button:has-text('Invite')");
  await page.waitForSelector('tr[data-member="vera"]');
  await shot("members");

  step("a viewer sees no Deploy button, and a forced POST is refused");
  const viewerContext = await browser.newContext();
  const viewer = await viewerContext.newPage();
  viewer.setDefaultTimeout(60_000);
  await viewer.goto(`${base}/login`);
  await viewer.fill("#username", "vera");
  await viewer.fill("#password", "vera-password-123");
  await viewer.click("button[type=submit]");
  await viewer.waitForURL(/\/w\/acme$/);
  await viewer.goto(`${base}/w/acme/p/web`);
  assert.equal(await viewer.$("#deploy"), null, "no Deploy button for a viewer");
  assert.equal(await viewer.$('tr[data-deployment] button:has-text("Rollback")'), null, "no Rollback for a viewer");
  const csrf = await viewer.getAttribute("form[action='/logout'] input[name=_csrf]", "value");
  const forced = await viewer.request.post(`${base}/w/acme/p/web/deploy`, { form: { _csrf: csrf } });
  assert.equal(forced.status(), 422);
  assert.match(await forced.text(), /your role does not allow you to deploy/);
  const deployments = await page.request.get(`${base}/v1/workspaces/acme/projects/web/environments/production/deployments`, {
    headers: { authorization: `Bearer ${token}` } });
  assert.equal((await deployments.json()).items.length, 4, "the refused deploy created nothing");
  await viewerContext.close();

  step("audit log, 404 page, and a phone-sized screen");
  await page.goto(`${base}/w/acme/audit`);
  assert.match(await page.textContent("table"), /member/);
  await shot("audit");
  const missing = await page.goto(`${base}/w/acme/p/nothing-here`);
  assert.equal(missing.status(), 404);
  await shot("not-found");
  const phone = await browser.newContext({ viewport: { width: 375, height: 812 }, isMobile: true });
  const small = await phone.newPage();
  await phone.addCookies(await context.cookies());
  await small.goto(`${base}/w/acme/p/web`);
  await small.waitForFunction(() => document.querySelector("#build [data-log-state]").textContent.startsWith("finished"));
  await small.waitForFunction(() => Number(document.getElementById("runtime-log").getAttribute("data-lines")) > 0);
  const overflow = await small.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `the page is ${overflow}px wider than a 375px screen`);
  await shot("project-mobile", small);
  await small.goto(`${base}/w/acme`);
  await shot("projects-mobile", small);
  // Keyboard: Tab reaches the skip link first, and the Deploy button by tabbing.
  await page.goto(`${base}/w/acme/p/web`);
  await page.keyboard.press("Tab");
  assert.equal(await page.evaluate(() => document.activeElement.textContent), "Skip to content");
  let reached = false;
  for (let i = 0; i < 40 && !reached; i++) {
    await page.keyboard.press("Tab");
    reached = await page.evaluate(() => document.activeElement.id === "deploy");
  }
  assert.ok(reached, "the Deploy button is reachable by keyboard");
  await phone.close();
  await context.close();
  step("the log view alone at 5,000 lines a second");
  const alone = await logViewBench(browser, { rate: 5000, seconds: 6 });
  metrics.alone = alone;
  console.log(`PORTAL_METRICS ${JSON.stringify(metrics)}`);
  console.log("JOURNEY OK");
} finally {
  await browser.close();
}
