// UDP blocked: inside this test's network namespace (scripts/e2e.sh made it), nft drops every UDP
// packet to a server's media port, as a school firewall would. Chromium then reaches the
// engine over ICE-TCP on the same port number, and two participants see and hear each other.
//   node icetcp.test.mjs   (COHORT_BIN: the cohort binary; run as root inside the namespace)
import { ownServer, nft } from './server.mjs';
import { launchChromium, until, remoteVideos, inboundAudioPackets, joinRoom, describePcs, reporter } from './lib.mjs';

const { check, finish } = reporter('icetcp');
const port = 18094;
const media = 53300;
const table = 'cohort_e2e_udp_blocked';

// What each page's connections selected: the local candidate's protocol of each selected pair.
const selectedProtocols = (page) => page.evaluate(async () => {
  const out = [];
  for (const pc of window.__pcs) {
    const stats = await pc.getStats();
    stats.forEach((s) => {
      if (s.type === 'transport' && s.selectedCandidatePairId) {
        const pair = stats.get(s.selectedCandidatePairId);
        out.push(stats.get(pair?.localCandidateId)?.protocol ?? 'none');
      }
    });
  }
  return out;
});

const droppedUdp = () => {
  const rules = JSON.parse(nft('-j', 'list', 'table', 'inet', table)).nftables.filter((x) => x.rule);
  return rules.reduce((n, r) => n + (r.rule.expr.find((e) => e.counter)?.counter.packets ?? 0), 0);
};

let server;
let browser;
try {
  nft('add', 'table', 'inet', table);
  nft('add', 'chain', 'inet', table, 'out', '{ type filter hook output priority 0; }');
  nft('add', 'rule', 'inet', table, 'out', 'udp', 'dport', String(media), 'counter', 'drop');
  server = await ownServer('icetcp', port, media);
  const { base } = server;

  browser = await launchChromium();
  const room = `tcp-${Date.now()}`;
  const ada = await joinRoom(browser, base, room, 'Ada');
  const bea = await joinRoom(browser, base, room, 'Bea');
  for (const p of [ada, bea]) {
    const playing = await until(async () => (await remoteVideos(p.page)).some((v) => v.kind === 'camera' && v.width > 0 && !v.noVideo), 20000, `${p.name} sees video`).catch(() => false);
    check(Boolean(playing), `${p.name} sees the other's video over ICE-TCP, ${Date.now() - p.clicked} ms after Join${playing ? '' : `\n${await describePcs(p.page)}`}`);
    const before = await inboundAudioPackets(p.page);
    await new Promise((r) => setTimeout(r, 1500));
    const after = await inboundAudioPackets(p.page);
    check(after > before, `${p.name} hears the other: audio packets ${before} -> ${after}`);
    const protocols = await selectedProtocols(p.page);
    check(protocols.length >= 2 && protocols.every((x) => x === 'tcp'), `${p.name}'s connections run over TCP: ${JSON.stringify(protocols)}`);
  }
  const dropped = droppedUdp();
  check(dropped > 0, `the browsers tried UDP first, and nft dropped it (${dropped} packets)`);
  const metrics = await (await fetch(`${base}/metrics`)).text();
  const accepted = Number(metrics.match(/^cohort_engine_tcp_connections_total\{event="accepted"\} (\d+)/m)?.[1] ?? 0);
  const open = Number(metrics.match(/^cohort_engine_tcp_connections_open (\d+)/m)?.[1] ?? 0);
  check(accepted >= 4 && open >= 4, `the engine counts the TCP connections: ${accepted} accepted, ${open} open`);
} catch (e) {
  check(false, `the test ran to its end: ${e.stack ?? e}`);
} finally {
  await browser?.close();
  await server?.stop();
  try { nft('delete', 'table', 'inet', table); } catch { /* never made */ }
}
finish();
