/**
 * CPU profiles for benchmarks, read without Go's or Chrome's tools:
 * nats-server's own pprof endpoint (`--profile PORT`), and V8's profiler
 * in a running chorus process or this one. Each prints the functions
 * where the time goes: flat (in the function itself) and cumulative (it or
 * what it called), as shares of all samples.
 */
import { Session } from "node:inspector/promises";
import { gunzipSync } from "node:zlib";
import { Profile } from "pprof-format";

interface Share {
  name: string;
  flat: number;
  cum: number;
}

/** The top `n` functions of one profile, one line each. */
function table(shares: Map<string, Share>, total: number, n: number): string {
  const pct = (v: number): string => `${((v / total) * 100).toFixed(1).padStart(5)}%`;
  const top = [...shares.values()].sort((a, b) => b.flat - a.flat).slice(0, n);
  const byCum = [...shares.values()].sort((a, b) => b.cum - a.cum).slice(0, n);
  return [
    "    flat    cum  function (by flat time)",
    ...top.map((s) => `  ${pct(s.flat)} ${pct(s.cum)}  ${s.name}`),
    "    flat    cum  function (by cumulative time)",
    ...byCum.map((s) => `  ${pct(s.flat)} ${pct(s.cum)}  ${s.name}`),
  ].join("\n");
}

function add(shares: Map<string, Share>, name: string, flat: number, cum: number): void {
  const s = shares.get(name) ?? { name, flat: 0, cum: 0 };
  s.flat += flat;
  s.cum += cum;
  shares.set(name, s);
}

/** Ask a nats-server started with `--profile PORT` for `seconds` of CPU profile. */
export async function brokerProfile(port: number, seconds: number, n = 20): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${port}/debug/pprof/profile?seconds=${seconds}`);
  if (!res.ok) throw new Error(`pprof endpoint answered ${res.status}`);
  let bytes = Buffer.from(await res.arrayBuffer());
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) bytes = gunzipSync(bytes);
  const profile = Profile.decode(bytes);
  const str = (i: number | bigint): string => profile.stringTable.strings[Number(i)] ?? "?";
  const fnName = new Map(profile.function.map((f) => [Number(f.id), str(f.name)]));
  const locNames = new Map(
    profile.location.map((l) => [
      Number(l.id),
      l.line.map((line) => fnName.get(Number(line.functionId)) ?? "?"),
    ]),
  );
  // Value 1 is CPU time in nanoseconds (value 0 the sample count).
  const shares = new Map<string, Share>();
  let total = 0;
  for (const sample of profile.sample) {
    const v = Number(sample.value[1] ?? sample.value[0] ?? 0);
    total += v;
    const stack = sample.locationId.flatMap((id) => locNames.get(Number(id)) ?? []);
    const seen = new Set<string>();
    stack.forEach((name, depth) => {
      add(shares, name, depth === 0 ? v : 0, seen.has(name) ? 0 : v);
      seen.add(name);
    });
  }
  return `nats-server, ${seconds} s, ${(total / 1e9).toFixed(1)} s of CPU:\n${table(shares, total, n)}`;
}

interface CpuProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: CpuProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** `seconds` of CPU profile of this process. */
export async function ownProfile(seconds: number, n = 20): Promise<string> {
  const session = new Session();
  session.connect();
  await session.post("Profiler.enable");
  await session.post("Profiler.start");
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  const { profile } = await session.post("Profiler.stop");
  session.disconnect();
  return summarise("this process (the listeners)", profile as CpuProfile, n);
}

/**
 * `seconds` of CPU profile of another Node process, by PID: SIGUSR1 opens its
 * inspector on 127.0.0.1:9229 (so one process at a time), and the profiler
 * is driven over the DevTools protocol (`node --experimental-websocket`).
 */
export async function processProfile(
  pid: number,
  label: string,
  seconds: number,
  n = 20,
): Promise<string> {
  process.kill(pid, "SIGUSR1");
  const deadline = Date.now() + 5000;
  let url: string | undefined;
  while (!url) {
    const list = await fetch("http://127.0.0.1:9229/json/list")
      .then((r) => r.json() as Promise<{ webSocketDebuggerUrl: string }[]>)
      .catch(() => []);
    url = list[0]?.webSocketDebuggerUrl;
    if (!url && Date.now() > deadline) throw new Error(`no inspector for ${label} (pid ${pid})`);
    if (!url) await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const ws = new WebSocket(url);
  await new Promise((resolve, reject) => {
    ws.onopen = resolve;
    ws.onerror = reject;
  });
  let nextId = 1;
  const pending = new Map<number, (result: unknown) => void>();
  ws.onmessage = (e: MessageEvent<string>) => {
    const msg = JSON.parse(e.data) as { id?: number; result?: unknown };
    if (msg.id !== undefined) pending.get(msg.id)?.(msg.result);
  };
  const post = (method: string): Promise<unknown> =>
    new Promise((resolve) => {
      const id = nextId++;
      pending.set(id, resolve);
      ws.send(JSON.stringify({ id, method }));
    });
  await post("Profiler.enable");
  await post("Profiler.start");
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  const { profile } = (await post("Profiler.stop")) as { profile: CpuProfile };
  ws.close();
  return summarise(label, profile, n);
}

function summarise(label: string, prof: CpuProfile, n: number): string {
  const parent = new Map<number, number>();
  const byId = new Map<number, CpuProfileNode>();
  for (const node of prof.nodes) {
    byId.set(node.id, node);
    for (const c of node.children ?? []) parent.set(c, node.id);
  }
  const nameOf = (node: CpuProfileNode): string => {
    const { functionName, url, lineNumber } = node.callFrame;
    const where = url ? `${url.replace(/^.*\/(node_modules|dist)\//, "")}:${lineNumber + 1}` : "";
    return `${functionName || "(anonymous)"} ${where}`.trim();
  };
  const shares = new Map<string, Share>();
  let total = 0;
  prof.samples.forEach((id, i) => {
    const dt = prof.timeDeltas[i] ?? 0;
    const leaf = byId.get(id);
    if (!leaf || leaf.callFrame.functionName === "(idle)") return;
    total += dt;
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const node = byId.get(at) as CpuProfileNode;
      if (node.callFrame.functionName === "(root)") continue; // every stack's bottom
      const name = nameOf(node);
      add(shares, name, at === id ? dt : 0, seen.has(name) ? 0 : dt);
      seen.add(name);
    }
  });
  return `${label}, ${(total / 1e6).toFixed(1)} s of CPU:\n${table(shares, total, n)}`;
}
