// Firefox ESR for the e2e tests: geckodriver on a port of the test's own, one headless session
// with fake media and host candidates on loopback, and the probes the Chromium pages have.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { until, REMOTE_VIDEOS, INBOUND_AUDIO, INIT } from './lib.mjs';
import { WebDriver } from './webdriver.mjs';

/** Starts geckodriver on `port` and a Firefox session; `quit()` ends both. */
export async function startFirefox(port) {
  const gecko = spawn(process.env.GECKODRIVER ?? 'geckodriver', ['--host', '127.0.0.1', '--port', String(port)], { stdio: 'ignore' });
  const ff = new WebDriver(`http://127.0.0.1:${port}`);
  const profile = mkdtempSync(join(tmpdir(), 'cohort-firefox-'));
  const quit = async () => {
    await ff.quit().catch(() => {});
    gecko.kill();
    rmSync(profile, { recursive: true, force: true });
  };
  try {
    await until(() => fetch(`http://127.0.0.1:${port}/status`).then((r) => r.ok).catch(() => false), 10000, 'geckodriver');
    await ff.start({
      browserName: 'firefox',
      'moz:firefoxOptions': {
        binary: '/usr/bin/firefox-esr',
        args: ['-headless', '-profile', profile],
        prefs: {
          'media.navigator.streams.fake': true,
          'media.navigator.permission.disabled': true,
          'media.peerconnection.ice.obfuscate_host_addresses': false,
          'media.peerconnection.ice.loopback': true,
          'network.manage-offline-status': false,
          'media.autoplay.default': 0,
          'media.autoplay.blocking_policy': 0,
        },
      },
    });
  } catch (e) {
    await quit();
    throw e;
  }
  return { ff, quit };
}

/** Firefox, seen through the same probes as the Chromium pages. */
export const firefoxProbes = (ff, name) => ({
  name,
  videos: () => ff.exec(`return ${REMOTE_VIDEOS};`),
  audio: () => ff.execAsync(`const done = arguments[arguments.length - 1]; ${INBOUND_AUDIO}.then(done, () => done(-1));`),
});

/** Opens `room` in Firefox, types the name and clicks Join. */
export async function firefoxJoins(ff, base, room, name) {
  await ff.goto(`${base}/r/${room}`);
  await until(() => ff.exec("const b = document.querySelector('#join'); return Boolean(b && !b.disabled);"), 15000, 'Firefox pre-join ready');
  await ff.type('#name', name);
  await ff.exec(`(${INIT.toString()})();`);
  await ff.click('#join');
}

/** The protocol of the local candidate of each connection's selected pair (getStats). */
export const SELECTED_PROTOCOLS = `(async () => {
  const out = [];
  for (const pc of window.__pcs) {
    const stats = await pc.getStats();
    let pairId = null;
    stats.forEach((s) => {
      if (s.type === 'transport' && s.selectedCandidatePairId) pairId = s.selectedCandidatePairId;
      if (!pairId && s.type === 'candidate-pair' && (s.selected || s.nominated) && s.state === 'succeeded') pairId = s.id;
    });
    const pair = pairId ? stats.get(pairId) : null;
    out.push(pair ? stats.get(pair.localCandidateId)?.protocol ?? 'none' : 'none');
  }
  return out;
})()`;
