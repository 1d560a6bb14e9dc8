// A cohort server of a test's own (for tests that firewall its media port with nft): one
// engine on `media`, an SQLite file and data folder in a temporary directory, open rooms.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { until } from './lib.mjs';

/** nft with these arguments, inside the test's namespace; its output. */
export const nft = (...args) => execFileSync('nft', args, { encoding: 'utf8' });

/** Starts the server and waits until it answers; `stop()` ends it and removes its files. */
export async function ownServer(name, port, media) {
  const dir = mkdtempSync(join(tmpdir(), `cohort-${name}-`));
  const base = `http://127.0.0.1:${port}`;
  const child = spawn(process.env.COHORT_BIN, [
    '--http', `127.0.0.1:${port}`, '--udp-port', String(media), '--engines', '1', '--log-level', 'warn',
    '--db', `sqlite://${dir}/${name}.db`, '--data-dir', join(dir, 'files'), '--no-demo', '--open-rooms', '--join-rate', '0',
  ], { stdio: ['ignore', 'ignore', 'inherit'] });
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
