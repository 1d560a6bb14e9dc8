// A cohort server of a test's own (for tests that firewall its media port with nft): one
// engine on `media`, an SQLite file and data folder in a temporary directory, open rooms.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { until } from './lib.mjs';

/** nft with these arguments, inside the test's namespace; its output. */
export const nft = (...args) => execFileSync('nft', args, { encoding: 'utf8' });

/** An nft table `table` that drops (and counts) every UDP packet to port `media`. */
export function blockUdp(table, media) {
  nft('add', 'table', 'inet', table);
  nft('add', 'chain', 'inet', table, 'out', '{ type filter hook output priority 0; }');
  nft('add', 'rule', 'inet', table, 'out', 'udp', 'dport', String(media), 'counter', 'drop');
}

/** The packets the rules of `table` counted. */
export function droppedUdp(table) {
  const rules = JSON.parse(nft('-j', 'list', 'table', 'inet', table)).nftables.filter((x) => x.rule);
  return rules.reduce((n, r) => n + (r.rule.expr.find((e) => e.counter)?.counter.packets ?? 0), 0);
}

/** The engine's ICE-TCP connections, accepted so far and open now, from its metrics. */
export async function tcpConnections(base) {
  const metrics = await (await fetch(`${base}/metrics`)).text();
  const accepted = Number(metrics.match(/^cohort_engine_tcp_connections_total\{event="accepted"\} (\d+)/m)?.[1] ?? 0);
  const open = Number(metrics.match(/^cohort_engine_tcp_connections_open (\d+)/m)?.[1] ?? 0);
  return { accepted, open };
}

/** With UDP blocked: the browsers tried UDP first (nft dropped it), and reached the engine over
 * TCP, at least `conns` connections of it. */
export async function checkFellBackToTcp(check, table, base, conns = 4) {
  const dropped = droppedUdp(table);
  check(dropped > 0, `the browsers tried UDP first, and nft dropped it (${dropped} packets)`);
  const { accepted, open } = await tcpConnections(base);
  check(accepted >= conns && open >= conns, `the engine counts the TCP connections: ${accepted} accepted, ${open} open`);
}

/**
 * Starts the server (with `extra` arguments) and waits until it answers; `stop()` ends it and
 * removes its files. COHORT_E2E_OWN_LOG=filter logs at that filter, to the test's output.
 */
export async function ownServer(name, port, media, extra = []) {
  const dir = mkdtempSync(join(tmpdir(), `cohort-${name}-`));
  const base = `http://127.0.0.1:${port}`;
  const child = spawn(process.env.COHORT_BIN, [
    '--http', `127.0.0.1:${port}`, '--udp-port', String(media), '--engines', '1', '--log-level', process.env.COHORT_E2E_OWN_LOG ?? 'warn',
    '--db', `sqlite://${dir}/${name}.db`, '--data-dir', join(dir, 'files'), '--no-demo', '--open-rooms', '--join-rate', '0',
    ...extra,
  ], { stdio: ['ignore', process.env.COHORT_E2E_OWN_LOG ? 'inherit' : 'ignore', 'inherit'] });
  const stop = async () => {
    if (child.exitCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await until(async () => (await fetch(`${base}/healthz`).catch(() => null))?.ok, 15000, 'the server answers');
  } catch (e) {
    await stop();
    throw e;
  }
  return { base, stop };
}

/**
 * Checks that a participant (`videos`, `audio` and `protocols` probes, `since` its click on
 * Join, `describe` for a failure) sees video, hears audio, and runs every connection over TCP.
 */
export async function checkMediaOverTcp(check, p) {
  const playing = await until(async () => (await p.videos()).some((v) => v.kind === 'camera' && v.width > 0 && !v.noVideo), 25000, `${p.name} sees video`).then(() => true).catch(() => false);
  const why = !playing && p.describe ? `\n${await p.describe()}` : '';
  check(playing, `${p.name} sees the other's video over ICE-TCP, ${Date.now() - p.since} ms after Join${why}`);
  const before = await p.audio();
  await new Promise((r) => setTimeout(r, 1500));
  const after = await p.audio();
  check(after > before && before >= 0, `${p.name} hears the other: audio packets ${before} -> ${after}`);
  const protocols = await p.protocols();
  check(protocols.length >= 2 && protocols.every((x) => x === 'tcp'), `${p.name}'s connections run over TCP: ${JSON.stringify(protocols)}`);
}
