// The network change both ICE-restart tests make (Chromium, and Firefox with a Chromium page):
// inside the test's namespace, nft drops everything to and from the engine's port for 2 s;
// when the network returns, the ports the connections used stay dead, so media can only come
// back over new paths that an ICE restart finds. Then the checks: media back within 3 s, on the
// same connections, with new ufrags and new ports, as the same participants.
// Each person is { name, connections() (lib.mjs CONNECTIONS), videos(), describe?() }.
import { nft } from './server.mjs';
import { until, sleep } from './lib.mjs';

const received = (conns) => conns.reduce((a, c) => ({ audio: a.audio + c.audio, frames: a.frames + c.frames }), { audio: 0, frames: 0 });
const others = async (p) => (await p.videos()).map((v) => v.participant).sort();

/** Waits until everyone sees a camera and every connection is up; what they had then. */
export async function settled(people) {
  for (const p of people) {
    await until(async () => (await p.videos()).some((v) => v.kind === 'camera' && v.width > 0 && !v.noVideo), 25000, `${p.name} sees video`);
    await until(async () => {
      const conns = await p.connections();
      return Array.isArray(conns) && conns.length >= 2 && conns.every((c) => c.state === 'connected' && c.port);
    }, 10000, `${p.name}'s connections are up`);
  }
  const before = new Map();
  for (const p of people) before.set(p.name, { conns: await p.connections(), others: await others(p) });
  return before;
}

/** The network goes for 2 s (`offline(bool)` tells the browsers), and comes back without the
 *  old paths; returns when it came back and what each had received by then. */
export async function changeNetwork(table, media, before, offline, people) {
  const drop = (ports) => {
    for (const proto of ['udp', 'tcp']) {
      for (const side of ['dport', 'sport']) nft('add', 'rule', 'inet', table, 'out', proto, side, ports, 'drop');
    }
  };
  const oldPorts = [...new Set([...before.values()].flatMap((b) => b.conns.map((c) => c.port)))];
  nft('add', 'table', 'inet', table);
  nft('add', 'chain', 'inet', table, 'out', '{ type filter hook output priority 0; }');
  drop(String(media));
  await offline(true);
  await sleep(2000);
  nft('flush', 'chain', 'inet', table, 'out');
  drop(`{ ${oldPorts.join(', ')} }`);
  const back = Date.now();
  const atBack = new Map();
  for (const p of people) atBack.set(p.name, received(await p.connections()));
  await offline(false);
  return { back, atBack, oldPorts };
}

/** Everyone at once: the time each receives again (audio and video apart), then the checks. */
export async function checkRestartedInPlace(check, people, before, { back, atBack, oldPorts }) {
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
    const why = ms !== null ? '' : `\n${p.describe ? await p.describe() : JSON.stringify(await p.connections())}`;
    check(ms !== null && ms < 3000, `${p.name} receives again after the network returned: audio in ${at.audio ?? 'never'} ms, video in ${at.frames ?? 'never'} ms (goal < 3000)${why}`);
    const was = before.get(p.name);
    const conns = await p.connections();
    check(conns.length === was.conns.length, `${p.name} kept its ${was.conns.length} connections (now ${conns.length}): no rejoin`);
    check(conns.every((c, j) => c.local !== was.conns[j].local && c.remote !== was.conns[j].remote),
      `${p.name}'s connections restarted ICE, both sides with new ufrags: ${JSON.stringify(was.conns.map((c) => [c.local, c.remote]))} -> ${JSON.stringify(conns.map((c) => [c.local, c.remote]))}`);
    check(conns.every((c) => c.state === 'connected' && c.port && !oldPorts.includes(c.port)),
      `${p.name}'s connections run on new paths: ports ${JSON.stringify(was.conns.map((c) => c.port))} -> ${JSON.stringify(conns.map((c) => `${c.protocol}:${c.port}`))}`);
    const now = await others(p);
    check(JSON.stringify(now) === JSON.stringify(was.others), `${p.name} still sees the same participant ids: ${JSON.stringify(now)}`);
  }
}
