// ICE restart in place in Firefox ESR, as icerestart.test.mjs does it in Chromium: nft drops
// everything to and from the engine's port for 2 s; when the network returns, the ports the
// connections used stay dead, so media can only come back over new paths that an ICE restart
// finds. Firefox, driven through geckodriver, cannot be taken offline the way Playwright takes a
// Chromium page, so the page hears the `online` event the browser fires when a network comes
// back. Media must come back within 3 s, on the same connections, as the same participants.
//   node firefox-icerestart.test.mjs   (COHORT_BIN: the cohort binary; run as root inside the namespace)
import { ownServer, nft } from './server.mjs';
import { startFirefox, firefoxProbes, firefoxJoins } from './firefox.mjs';
import { launchChromium, until, remoteVideos, joinRoom, reporter, CONNECTIONS, sleep } from './lib.mjs';

const { check, finish } = reporter('firefox-icerestart');
const port = 18098;
const media = 53340;
const table = 'cohort_e2e_firefox_network_change';

const received = (conns) => conns.reduce((a, c) => ({ audio: a.audio + c.audio, frames: a.frames + c.frames }), { audio: 0, frames: 0 });
const drop = (ports) => {
  for (const proto of ['udp', 'tcp']) {
    for (const side of ['dport', 'sport']) nft('add', 'rule', 'inet', table, 'out', proto, side, ports, 'drop');
  }
};

let server;
let browser;
let firefox;
try {
  // Firefox gathers on the namespace's veth address, not on loopback: the engine listens on
  // the veth pair's other end (as in firefox-icetcp).
  server = await ownServer('firefox-icerestart', port, media, ['--media-ip', '10.200.0.2']);
  const { base } = server;
  browser = await launchChromium();
  firefox = await startFirefox(4446);
  const { ff } = firefox;
  const room = `ffrestart-${Date.now()}`;
  const ada = await joinRoom(browser, base, room, 'Ada');
  const fiona = firefoxProbes(ff, 'Fiona (Firefox)');
  await firefoxJoins(ff, base, room, fiona.name);
  const ffConnections = () => ff.execAsync(`const done = arguments[arguments.length - 1]; ${CONNECTIONS}.then(done, (e) => done(String(e)));`);
  const people = [
    { name: 'Ada', connections: () => ada.page.evaluate(CONNECTIONS), videos: () => remoteVideos(ada.page) },
    { name: fiona.name, connections: ffConnections, videos: fiona.videos },
  ];
  for (const p of people) {
    await until(async () => (await p.videos()).some((v) => v.kind === 'camera' && v.width > 0 && !v.noVideo), 25000, `${p.name} sees video`);
    await until(async () => {
      const conns = await p.connections();
      return Array.isArray(conns) && conns.length >= 2 && conns.every((c) => c.state === 'connected' && c.port);
    }, 10000, `${p.name}'s connections are up`);
  }
  const before = new Map();
  for (const p of people) {
    before.set(p.name, { conns: await p.connections(), others: (await p.videos()).map((v) => v.participant).sort() });
  }
  const oldPorts = [...new Set([...before.values()].flatMap((b) => b.conns.map((c) => c.port)))];

  // The network goes for 2 s.
  nft('add', 'table', 'inet', table);
  nft('add', 'chain', 'inet', table, 'out', '{ type filter hook output priority 0; }');
  drop(String(media));
  await ada.context.setOffline(true);
  await sleep(2000);
  // It comes back as a new network: the old paths stay dead.
  nft('flush', 'chain', 'inet', table, 'out');
  drop(`{ ${oldPorts.join(', ')} }`);
  const back = Date.now();
  const atBack = new Map();
  for (const p of people) atBack.set(p.name, received(await p.connections()));
  await ada.context.setOffline(false);
  await ff.exec("window.dispatchEvent(new Event('online'));");

  const recovery = await Promise.all(people.map(async (p) => {
    const then = atBack.get(p.name);
    const at = { audio: null, frames: null };
    await until(async () => {
      const now = received(await p.connections());
      for (const k of ['audio', 'frames']) if (at[k] === null && now[k] > then[k]) at[k] = Date.now() - back;
      return at.audio !== null && at.frames !== null;
    }, 15000, `${p.name} receives again`).catch(() => null);
    return at;
  }));
  for (const [i, p] of people.entries()) {
    const at = recovery[i];
    const ms = at.audio === null || at.frames === null ? null : Math.max(at.audio, at.frames);
    check(ms !== null && ms < 3000, `${p.name} receives again after the network returned: audio in ${at.audio ?? 'never'} ms, video in ${at.frames ?? 'never'} ms (goal < 3000)${ms !== null ? '' : `\n${JSON.stringify(await p.connections())}`}`);
    const was = before.get(p.name);
    const conns = await p.connections();
    check(conns.length === was.conns.length, `${p.name} kept its ${was.conns.length} connections (now ${conns.length}): no rejoin`);
    check(conns.every((c, j) => c.local !== was.conns[j].local && c.remote !== was.conns[j].remote),
      `${p.name}'s connections restarted ICE, both sides with new ufrags: ${JSON.stringify(was.conns.map((c) => [c.local, c.remote]))} -> ${JSON.stringify(conns.map((c) => [c.local, c.remote]))}`);
    check(conns.every((c) => c.state === 'connected' && c.port && !oldPorts.includes(c.port)),
      `${p.name}'s connections run on new paths: ports ${JSON.stringify(was.conns.map((c) => c.port))} -> ${JSON.stringify(conns.map((c) => `${c.protocol}:${c.port}`))}`);
    const others = (await p.videos()).map((v) => v.participant).sort();
    check(JSON.stringify(others) === JSON.stringify(was.others), `${p.name} still sees the same participant ids: ${JSON.stringify(others)}`);
  }
} catch (e) {
  check(false, `the test ran to its end: ${e.stack ?? e}`);
} finally {
  await firefox?.quit();
  await browser?.close();
  await server?.stop();
  try { nft('delete', 'table', 'inet', table); } catch { /* never made */ }
}
finish();
