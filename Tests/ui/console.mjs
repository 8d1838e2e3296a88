// The web console in a real browser: three `rafthost serve` processes on loopback, headless
// Chromium driven through the Chrome DevTools Protocol (no npm packages: the few lines of
// WebSocket client below, so any node >= 18 will do), the page opened on a follower.
// It checks that the page shows the leader, writes a key through the page's key browser and
// reads it back with raftctl, sees raftctl bench traffic in the charts, SIGKILLs the leader
// and sees the page show the new one (and the old leader unreachable), then reads the key
// again through the page. Screenshots go to the output folder. `make ui-test` runs it.
//
//   RAFTHOST=.build/debug/rafthost RAFTCTL=.build/debug/raftctl \
//     node Tests/ui/console.mjs build/ui-test
//
// Every wait polls a condition with a deadline; nothing sleeps to synchronise.
import { spawn, execFile } from "node:child_process";
import { mkdtempSync, writeFileSync, mkdirSync, rmSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { request } from "node:http";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

const started = Date.now();
const out = process.argv[2] ?? "build/ui-test";
const rafthost = process.env.RAFTHOST, raftctl = process.env.RAFTCTL;
const chromium = process.env.CHROMIUM ?? "chromium";
if (!rafthost || !raftctl) throw new Error("set RAFTHOST and RAFTCTL to the built executables");
mkdirSync(out, { recursive: true });
const work = mkdtempSync(join(tmpdir(), "rafthost-ui-"));
const children = new Map(); // name -> child process
const phases = [];
const phase = (name) => phases.push({ name, ms: Date.now() - started });

function log(message) { console.log(`ui-test ${((Date.now() - started) / 1000).toFixed(1)}s: ${message}`); }

/** Polls `attempt` until it returns a value other than undefined/false, or fails after `seconds`. */
async function eventually(seconds, what, attempt) {
  const deadline = Date.now() + seconds * 1000;
  let last;
  for (;;) {
    try {
      const value = await attempt();
      if (value !== undefined && value !== false && value !== null) return value;
    } catch (error) { last = error; }
    if (Date.now() > deadline) throw new Error(`timed out after ${seconds}s waiting for ${what}${last ? `: ${last.message}` : ""}`);
    await new Promise((resolve) => setTimeout(resolve, 100)); // the poll interval, not a synchronisation
  }
}

async function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => { const { port } = server.address(); server.close(() => resolve(port)); });
  });
}

// --- the cluster --------------------------------------------------------------------------
const ports = [];
while (ports.length < 9) { const port = await freePort(); if (!ports.includes(port)) ports.push(port); }
const nodes = [0, 1, 2].map((i) => ({ id: `n${i + 1}`, peer: ports[i], client: ports[3 + i], http: ports[6 + i] }));
const config = join(work, "cluster.yaml");
writeFileSync(config, [
  "cluster: ui-test", `data: ${work}/data`, "nodes:",
  ...nodes.flatMap((n) => [`  - id: ${n.id}`, `    peer: 127.0.0.1:${n.peer}`, `    client: 127.0.0.1:${n.client}`,
    `    http: 127.0.0.1:${n.http}`]),
  "groups:", "  - name: kv", "    stateMachine: KeyValueStore", "  - name: locks", "    stateMachine: LockService",
  "raft:", "  heartbeat: 50ms", "  electionTimeout: 500ms", "storage:", "  fsync: always", "",
].join("\n"));

function startNode(node) {
  const child = spawn(rafthost, ["serve", "--config", config, "--node", node.id], { stdio: ["ignore", "pipe", "pipe"] });
  const chunks = [];
  child.stdout.on("data", (d) => chunks.push(d));
  child.stderr.on("data", (d) => chunks.push(d));
  child.logs = () => Buffer.concat(chunks).toString();
  children.set(node.id, child);
}

/** SIGKILLs a child (its whole process group when it leads one) and resolves once it has exited. */
function killAndWait(child) {
  const running = child.exitCode === null && child.signalCode === null;
  const exited = running ? new Promise((resolve) => child.once("exit", resolve)) : Promise.resolve();
  try {
    if (child.processGroup) process.kill(-child.pid, "SIGKILL");
    else if (running) child.kill("SIGKILL");
  } catch (error) {
    if (error.code !== "ESRCH") throw error; // the group is already gone
  }
  return exited;
}

async function getJSON(port, path) {
  const response = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(2000) });
  if (!response.ok) throw new Error(`HTTP ${response.status}`);
  return response.json();
}

function run(file, args) {
  return new Promise((resolve) => execFile(file, args, { timeout: 30000 }, (error, stdout, stderr) =>
    resolve({ code: error ? (error.code ?? 1) : 0, stdout, stderr })));
}

// --- the browser, over the DevTools protocol ------------------------------------------------

/** A WebSocket client for the DevTools endpoint: text messages, no extensions (RFC 6455). */
class DevToolsSocket {
  constructor(url) {
    const { hostname, port, pathname } = new URL(url);
    this.buffer = Buffer.alloc(0);
    this.parts = [];
    const upgrade = request({ host: hostname, port, path: pathname, headers: {
      Connection: "Upgrade", Upgrade: "websocket", "Sec-WebSocket-Version": "13",
      "Sec-WebSocket-Key": randomBytes(16).toString("base64") } });
    upgrade.on("upgrade", (_, socket, head) => {
      this.socket = socket;
      socket.on("data", (data) => { this.buffer = Buffer.concat([this.buffer, data]); this.receive(); });
      this.buffer = head;
      this.receive();
      this.onopen?.();
    });
    upgrade.on("error", (error) => this.onerror?.(error));
    upgrade.end();
  }

  receive() {
    for (;;) {
      const b = this.buffer;
      if (b.length < 2) return;
      let length = b[1] & 0x7f, offset = 2;
      if (length === 126) { if (b.length < 4) return; length = b.readUInt16BE(2); offset = 4; }
      if (length === 127) { if (b.length < 10) return; length = Number(b.readBigUInt64BE(2)); offset = 10; }
      if (b.length < offset + length) return;
      const final = (b[0] & 0x80) !== 0, opcode = b[0] & 0x0f;
      if (opcode === 1 || opcode === 0) this.parts.push(b.subarray(offset, offset + length));
      this.buffer = b.subarray(offset + length);
      if ((opcode === 1 || opcode === 0) && final) {
        const data = Buffer.concat(this.parts).toString();
        this.parts = [];
        this.onmessage?.({ data });
      }
    }
  }

  send(text) {
    const payload = Buffer.from(text), mask = randomBytes(4);
    const header = payload.length < 126 ? Buffer.from([0x81, 0x80 | payload.length])
      : Buffer.from([0x81, 0x80 | 126, payload.length >> 8, payload.length & 0xff]);
    if (payload.length >= 65536) throw new Error("DevTools commands here are small");
    for (let i = 0; i < payload.length; i++) payload[i] ^= mask[i % 4];
    this.socket.write(Buffer.concat([header, mask, payload]));
  }

  close() { this.socket?.end(); }
}

class Browser {
  static async launch() {
    const profile = join(work, "chromium");
    const child = spawn(chromium, ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
      "--no-first-run", "--no-default-browser-check", "--remote-debugging-port=0", `--user-data-dir=${profile}`,
      "--window-size=1280,1400", "about:blank"], { stdio: ["ignore", "ignore", "pipe"], detached: true });
    // Chromium's zygote and renderers keep writing the profile after the main process dies:
    // it leads a process group of its own so the cleanup can kill all of them.
    child.processGroup = true;
    children.set("chromium", child);
    let stderr = "";
    child.stderr.on("data", (d) => { stderr += d; });
    const url = await eventually(60, "Chromium's DevTools endpoint", () => stderr.match(/DevTools listening on (ws:\/\/\S+)/)?.[1]);
    const browser = new Browser(new DevToolsSocket(url));
    await new Promise((resolve, reject) => { browser.socket.onopen = resolve; browser.socket.onerror = reject; });
    return browser;
  }

  constructor(socket) {
    this.socket = socket;
    this.next = 1;
    this.pending = new Map();
    socket.onmessage = (event) => {
      const message = JSON.parse(event.data);
      const waiter = message.id && this.pending.get(message.id);
      if (!waiter) return;
      this.pending.delete(message.id);
      message.error ? waiter.reject(new Error(`${waiter.method}: ${message.error.message}`)) : waiter.resolve(message.result);
    };
  }

  send(method, params = {}, sessionId) {
    const id = this.next++;
    this.socket.send(JSON.stringify({ id, method, params, sessionId }));
    return new Promise((resolve, reject) => this.pending.set(id, { resolve, reject, method }));
  }

  async openPage(url) {
    const { targetId } = await this.send("Target.createTarget", { url: "about:blank" });
    const { sessionId } = await this.send("Target.attachToTarget", { targetId, flatten: true });
    const page = {
      send: (method, params) => this.send(method, params, sessionId),
      async evaluate(expression) {
        const { result, exceptionDetails } = await page.send("Runtime.evaluate",
          { expression, awaitPromise: true, returnByValue: true });
        if (exceptionDetails) throw new Error(exceptionDetails.exception?.description ?? exceptionDetails.text);
        return result.value;
      },
      async screenshot(name) {
        const { data } = await page.send("Page.captureScreenshot", { format: "png", captureBeyondViewport: true });
        writeFileSync(join(out, name), Buffer.from(data, "base64"));
        log(`screenshot ${join(out, name)}`);
      },
    };
    await page.send("Page.enable");
    await page.send("Emulation.setDeviceMetricsOverride", { width: 1280, height: 1400, deviceScaleFactor: 1, mobile: false });
    await page.send("Page.navigate", { url });
    return page;
  }

  /** Asks Chromium to quit, so it flushes and closes its profile; the cleanup kills what is left. */
  async close() {
    const child = children.get("chromium");
    const exited = child.exitCode !== null || child.signalCode !== null ? Promise.resolve()
      : new Promise((resolve) => child.once("exit", resolve));
    this.send("Browser.close").catch(() => {}); // the socket closes before any answer
    await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5000))]);
    this.socket.close();
  }
}

// What the page shows, read from its DOM.
const shown = `(() => {
  const text = (s) => document.querySelector(s)?.textContent.trim();
  return {
    servedBy: text("#served-by"),
    leader: text('article[data-group="kv"] .leader'),
    states: Object.fromEntries([...document.querySelectorAll("#nodes tr[data-node]")]
      .map((row) => [row.dataset.node, row.querySelector(".state").textContent.trim()])),
    result: document.querySelector("#kv-result")?.dataset.status,
    resultText: text("#kv-result"),
    banner: document.querySelector("#banner")?.hidden === false ? text("#banner") : null,
  };
})()`;

let failed = false;
try {
  nodes.forEach(startNode);
  log(`three rafthost nodes started (${work})`);
  const firstLeader = await eventually(60, "a leader of kv that every node agrees on", async () => {
    const views = await Promise.all(nodes.map((n) => getJSON(n.http, "/v1/status")));
    const leaders = new Set(views.map((v) => v.groups.find((g) => g.name === "kv").leader));
    return leaders.size === 1 && [...leaders][0] ? [...leaders][0] : undefined;
  });
  phase("cluster up");
  const follower = nodes.find((n) => n.id !== firstLeader);
  log(`leader ${firstLeader}; opening the console on follower ${follower.id}`);

  const browser = await Browser.launch();
  const page = await browser.openPage(`http://127.0.0.1:${follower.http}/`);
  phase("browser up");
  await eventually(30, `the page to show leader ${firstLeader} and three reachable nodes`, async () => {
    const view = await page.evaluate(shown);
    return view.leader === firstLeader && Object.values(view.states).filter((s) => s === "reachable").length === 3
      && view.servedBy === follower.id;
  });
  await page.screenshot("1-leader.png");
  phase("leader shown");

  // A key written through the page's key browser, read back with raftctl.
  const value = `written by the browser at ${new Date().toISOString()}`;
  await page.evaluate(`(() => {
    document.querySelector("#kv-key").value = "ui/greeting";
    document.querySelector("#kv-value").value = ${JSON.stringify(value)};
    document.querySelector("#kv-put").click();
  })()`);
  await eventually(30, "the key browser's PUT to answer 200", async () => {
    const view = await page.evaluate(shown);
    if (view.result && view.result !== "pending" && view.result !== "200") throw new Error(view.resultText);
    return view.result === "200";
  });
  await page.screenshot("2-key-written.png");
  const read = await run(raftctl, ["kv", "get", "ui/greeting", "--config", config, "--timeout", "20s"]);
  if (read.code !== 0 || read.stdout.trim() !== value) {
    throw new Error(`raftctl kv get: exit ${read.code}, "${read.stdout.trim()}", expected "${value}"; ${read.stderr}`);
  }
  log(`raftctl read back "${read.stdout.trim()}"`);
  phase("key written and read back");

  // Traffic (raftctl bench, half puts, half linearizable gets) shows in the live charts.
  const bench = run(raftctl, ["bench", "--config", config, "--op", "mixed", "--clients", "4", "--conns", "2",
    "--keys", "100", "--duration", "4s"]);
  // Each chart is one bar per poll: wait for two seconds of traffic in both.
  const rates = await eventually(30, "the page to chart proposals and reads per second of kv", async () => {
    const [proposals, reads] = await page.evaluate(`["proposals", "reads"].map((name) => {
      const figure = document.querySelector('article[data-group="kv"] .rate-' + name).closest("figure");
      return [Number(figure.querySelector("b").textContent),
        [...figure.querySelectorAll("rect")].filter((bar) => Number(bar.getAttribute("height")) > 0).length];
    })`);
    return proposals[0] > 0 && reads[0] > 0 && proposals[1] >= 2 && reads[1] >= 2
      ? { proposals: proposals[0], reads: reads[0] } : undefined;
  });
  log(`the page shows ${rates.proposals} proposals/s and ${rates.reads} reads/s`);
  await page.screenshot("3-traffic.png");
  const benched = await bench;
  if (benched.code !== 0) throw new Error(`raftctl bench: exit ${benched.code}: ${benched.stderr}`);
  phase("traffic shown");

  // SIGKILL the leader: the page (served by a follower) shows the new leader and the old one unreachable.
  children.get(firstLeader).kill("SIGKILL");
  log(`SIGKILLed the leader ${firstLeader}`);
  const newLeader = await eventually(30, "the page to show a new leader and the old one unreachable", async () => {
    const view = await page.evaluate(shown);
    return view.leader && view.leader !== "none" && view.leader !== firstLeader
      && view.states[firstLeader] === "unreachable" ? view.leader : undefined;
  });
  await page.screenshot("4-new-leader.png");
  log(`the page shows the new leader ${newLeader}, ${firstLeader} unreachable`);
  phase("new leader shown");

  // The key is still there, read through the page from the new leader.
  await page.evaluate(`(() => {
    document.querySelector("#kv-value").value = "";
    document.querySelector("#kv-get").click();
  })()`);
  await eventually(30, "the key browser's GET to answer 200 with the value", async () => {
    const view = await page.evaluate(shown);
    return view.result === "200" && view.resultText.endsWith(value);
  });
  phase("key read through the page after the kill");
  await page.screenshot("5-key-read-after-kill.png");
  await browser.close();
} catch (error) {
  failed = true;
  console.error(`ui-test: FAILED: ${error.message}`);
  for (const node of nodes) {
    const child = children.get(node.id);
    console.error(`--- ${node.id} (last lines)\n${child?.logs().split("\n").slice(-15).join("\n")}`);
  }
} finally {
  // Every process started is killed and waited for, then the temporary folder goes.
  await Promise.all([...children.values()].map(killAndWait));
  try {
    rmSync(work, { recursive: true, force: true, maxRetries: 10 });
  } catch (error) {
    // A leftover temporary folder is not the console's failure; say where it is.
    console.error(`ui-test: could not remove ${work}: ${error.message}`);
  }
}
const seconds = ((Date.now() - started) / 1000).toFixed(1);
console.log(`ui-test phases: ${phases.map((p) => `${p.name} at ${(p.ms / 1000).toFixed(1)}s`).join(", ")}`);
if (failed) {
  console.log(`ui-test: 0 passed, 1 failed in ${seconds}s`);
  process.exit(1);
}
console.log(`ui-test: the console showed the leader, wrote a key, showed the new leader after a SIGKILL (${seconds}s)`);
