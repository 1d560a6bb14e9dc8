// ICE restart in place: the browser's network drops for 2 s and comes back changed. Inside this
// test's namespace (scripts/e2e.sh made it), nft drops everything to and from the engine's
// port while both pages are offline; when the network returns, the addresses the connections
// used stay dead (a new network), so media can only come back over new paths that an ICE
// restart finds. It must come back within 3 s, on the same connections, as the same
// participants: no rejoin.
//   node icerestart.test.mjs   (COHORT_BIN: the cohort binary; run as root inside the namespace)
import { ownServer, nft } from './server.mjs';
import { launchChromium, until, remoteVideos, joinRoom, describePcs, reporter, CONNECTIONS } from './lib.mjs';

const { check, finish } = reporter('icerestart');
const port = 18095;
const media = 53310;
const table = 'cohort_e2e_network_change';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const connections = (page) => page.evaluate(CONNECTIONS);
const received = (conns) => conns.reduce((a, c) => ({ audio: a.audio + c.audio, frames: a.frames + c.frames }), { audio: 0, frames: 0 });
const restarts = async (base) => Number((await (await fetch(`${base}/metrics`)).text()).match(/^cohort_engine_ice_restarts_total (\d+)/m)?.[1] ?? NaN);
const othersIds = async (page) => (await remoteVideos(page)).map((v) => v.participant).sort();

let server;
let browser;
try {
  server = await ownServer('icerestart', port, media);
  const { base } = server;

  browser = await launchChromium();
  const room = `restart-${Date.now()}`;
  const pages = [await joinRoom(browser, base, room, 'Ada'), await joinRoom(browser, base, room, 'Bea')];
  for (const p of pages) {
    await until(async () => (await remoteVideos(p.page)).some((v) => v.kind === 'camera' && v.width > 0 && !v.noVideo), 20000, `${p.name} sees video`);
    await until(async () => (await connections(p.page)).every((c) => c.state === 'connected' && c.port), 10000, `${p.name}'s connections are up`);
  }
  const before = new Map();
  for (const p of pages) before.set(p.name, { conns: await connections(p.page), others: await othersIds(p.page) });
  const restartsBefore = await restarts(base);
  const oldPorts = [...new Set([...before.values()].flatMap((b) => b.conns.map((c) => c.port)))];

  // The network goes: nothing reaches the engine's port, and the pages are offline.
  nft('add', 'table', 'inet', table);
  nft('add', 'chain', 'inet', table, 'out', '{ type filter hook output priority 0; }');
  for (const proto of ['udp', 'tcp']) {
    for (const side of ['dport', 'sport']) nft('add', 'rule', 'inet', table, 'out', proto, side, String(media), 'drop');
  }
  for (const p of pages) await p.context.setOffline(true);
  await sleep(2000);
  // It comes back as a new network: the old paths stay dead.
  nft('flush', 'chain', 'inet', table, 'out');
  const set = `{ ${oldPorts.join(', ')} }`;
  for (const proto of ['udp', 'tcp']) {
    for (const side of ['dport', 'sport']) nft('add', 'rule', 'inet', table, 'out', proto, side, set, 'drop');
  }
  const back = Date.now();
  const atBack = new Map();
  for (const p of pages) atBack.set(p.name, received(await connections(p.page)));
  for (const p of pages) await p.context.setOffline(false);

  // Both pages at once: the time each starts receiving again, audio and video apart.
  const recovery = await Promise.all(pages.map(async (p) => {
    const then = atBack.get(p.name);
    const at = { audio: null, frames: null };
    await until(async () => {
      const now = received(await connections(p.page));
      for (const k of ['audio', 'frames']) if (at[k] === null && now[k] > then[k]) at[k] = Date.now() - back;
      return at.audio !== null && at.frames !== null;
    }, 15000, `${p.name} receives again`).catch(() => null);
    return at;
  }));
  for (const [i, p] of pages.entries()) {
    const at = recovery[i];
    const ms = at.audio === null || at.frames === null ? null : Math.max(at.audio, at.frames);
    check(ms !== null && ms < 3000, `${p.name} receives again after the network returned: audio in ${at.audio ?? 'never'} ms, video in ${at.frames ?? 'never'} ms (goal < 3000)${ms !== null ? '' : `\n${await describePcs(p.page)}`}`);
  }
  for (const p of pages) {
    const was = before.get(p.name);
    const conns = await connections(p.page);
    check(conns.length === was.conns.length, `${p.name} kept its ${was.conns.length} connections (now ${conns.length}): no rejoin`);
    check(conns.every((c, i) => c.local !== was.conns[i].local && c.remote !== was.conns[i].remote),
      `${p.name}'s connections restarted ICE, both sides with new ufrags: ${JSON.stringify(was.conns.map((c) => [c.local, c.remote]))} -> ${JSON.stringify(conns.map((c) => [c.local, c.remote]))}`);
    check(conns.every((c) => c.state === 'connected' && c.port && !oldPorts.includes(c.port)),
      `${p.name}'s connections run on new paths: ports ${JSON.stringify(was.conns.map((c) => c.port))} -> ${JSON.stringify(conns.map((c) => `${c.protocol}:${c.port}`))}`);
    const others = await othersIds(p.page);
    check(JSON.stringify(others) === JSON.stringify(was.others), `${p.name} still sees the same participant ids: ${JSON.stringify(others)}`);
  }
  const counted = (await restarts(base)) - restartsBefore;
  check(counted >= 4, `the engine counted the restarts of the 4 connections: ${counted}`);
} catch (e) {
  check(false, `the test ran to its end: ${e.stack ?? e}`);
} finally {
  await browser?.close();
  await server?.stop();
  try { nft('delete', 'table', 'inet', table); } catch { /* never made */ }
}
finish();
