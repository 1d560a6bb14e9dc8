// ICE restart in place in Firefox ESR, as icerestart.test.mjs does it in Chromium (e2e/restart.mjs
// makes the network change and checks what follows). Firefox, driven through geckodriver,
// cannot be taken offline the way Playwright takes a Chromium page, so the page hears the
// `online` event the browser fires when a network comes back. Media must come back within 3 s,
// on the same connections, as the same participants.
//   node firefox-icerestart.test.mjs   (COHORT_BIN: the cohort binary; run as root inside the namespace)
import { ownServer, nft } from './server.mjs';
import { startFirefox, firefoxProbes, firefoxJoins } from './firefox.mjs';
import { launchChromium, remoteVideos, joinRoom, describePcs, reporter, CONNECTIONS } from './lib.mjs';
import { settled, changeNetwork, checkRestartedInPlace } from './restart.mjs';

const { check, finish } = reporter('firefox-icerestart');
const port = 18098;
const media = 53340;
const table = 'cohort_e2e_firefox_network_change';

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
  const people = [
    { name: 'Ada', connections: () => ada.page.evaluate(CONNECTIONS), videos: () => remoteVideos(ada.page), describe: () => describePcs(ada.page) },
    { name: fiona.name, connections: () => ff.execAsync(`const done = arguments[arguments.length - 1]; ${CONNECTIONS}.then(done, (e) => done(String(e)));`), videos: fiona.videos },
  ];
  const before = await settled(people);
  const offline = async (off) => {
    await ada.context.setOffline(off);
    if (!off) await ff.exec("window.dispatchEvent(new Event('online'));");
  };
  await checkRestartedInPlace(check, people, before, await changeNetwork(table, media, before, offline, people));
} catch (e) {
  check(false, `the test ran to its end: ${e.stack ?? e}`);
} finally {
  await firefox?.quit();
  await browser?.close();
  await server?.stop();
  try { nft('delete', 'table', 'inet', table); } catch { /* never made */ }
}
finish();
