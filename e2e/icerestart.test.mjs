// ICE restart in place: the browser's network drops for 2 s and comes back changed (e2e/restart.mjs
// makes the change: the addresses the connections used stay dead, so media can only come back
// over new paths that an ICE restart finds). It must come back within 3 s, on the same
// connections, as the same participants: no rejoin.
//   node icerestart.test.mjs   (COHORT_BIN: the cohort binary; run as root inside the namespace)
import { ownServer, nft } from './server.mjs';
import { launchChromium, remoteVideos, joinRoom, describePcs, reporter, CONNECTIONS } from './lib.mjs';
import { settled, changeNetwork, checkRestartedInPlace } from './restart.mjs';

const { check, finish } = reporter('icerestart');
const port = 18095;
const media = 53310;
const table = 'cohort_e2e_network_change';

const restarts = async (base) => Number((await (await fetch(`${base}/metrics`)).text()).match(/^cohort_engine_ice_restarts_total (\d+)/m)?.[1] ?? NaN);

let server;
let browser;
try {
  server = await ownServer('icerestart', port, media);
  const { base } = server;
  browser = await launchChromium();
  const room = `restart-${Date.now()}`;
  const pages = [await joinRoom(browser, base, room, 'Ada'), await joinRoom(browser, base, room, 'Bea')];
  const people = pages.map((p) => ({
    name: p.name,
    connections: () => p.page.evaluate(CONNECTIONS),
    videos: () => remoteVideos(p.page),
    describe: () => describePcs(p.page),
  }));
  const before = await settled(people);
  const restartsBefore = await restarts(base);
  // The pages go offline with the network, and online when it returns.
  const offline = async (off) => { for (const p of pages) await p.context.setOffline(off); };
  const change = await changeNetwork(table, media, before, offline, people);
  await checkRestartedInPlace(check, people, before, change);
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
