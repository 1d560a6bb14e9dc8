// The join timeline (web/static/timeline.js) read from a page, for the join test and the join
// benchmark (loadtest/join-bench.sh).

export const TIMELINE = `(() => {
  const at = {};
  const marks = performance.getEntriesByType('mark').filter((m) => m.name.startsWith('join:'));
  const click = marks.find((m) => m.name === 'join:click')?.startTime ?? 0;
  for (const m of marks) at[m.name.slice(5)] = Math.round(m.startTime - click);
  // The click's wall-clock time, to line the timeline up with the server's log.
  return { at, clickedAt: performance.timeOrigin + click };
})()`;

// Steps that must come in this order, each list on its own: the two connections proceed side
// by side, so only steps that wait on one another are ordered.
export const ORDERS = [
  ['click', 'ws-open', 'joined', 'publish-offer', 'publish-answer', 'publish-connected'],
  ['publish-ice', 'publish-connected'],
  ['joined', 'subscribe-offer', 'subscribe-answer', 'subscribe-connected', 'first-rtp', 'first-frame'],
  ['subscribe-ice', 'subscribe-connected'],
  ['subscribe-offer', 'first-track', 'first-frame'],
];

/** Steps out of order in a timeline: ["a (12) after b (10)"], or ["a missing"]. */
export function disorder(at) {
  const out = [];
  for (const order of ORDERS) {
    for (let i = 0; i < order.length; i += 1) {
      if (at[order[i]] === undefined) {
        out.push(`${order[i]} missing`);
        continue;
      }
      if (i > 0 && at[order[i - 1]] !== undefined && at[order[i]] < at[order[i - 1]]) {
        out.push(`${order[i]} (${at[order[i]]}) before ${order[i - 1]} (${at[order[i - 1]]})`);
      }
    }
  }
  return [...new Set(out)];
}

/** A timeline as aligned text, steps in time order. */
export function describeTimeline(name, { at, clickedAt }) {
  const rows = Object.entries(at).sort((a, b) => a[1] - b[1]);
  return [`join timeline of ${name} (ms from the click on Join, at ${new Date(clickedAt).toISOString()}):`, ...rows.map(([s, ms]) => `  ${s.padEnd(20)} ${String(ms).padStart(6)}`)].join('\n');
}
