/**
 * Packet loss in the kernel for one UDP flow, the way a bad network loses packets: an nftables
 * rule in the test's network namespace drops a random share of the flow's datagrams both ways
 * (`numgen random`, counted). These kernels have no netem qdisc ("Specified qdisc kind is
 * unknown"), so loss comes from nftables and delay, where a test needs it, from the gateway's
 * test impairment (`MediaEngine.impair`).
 *
 * The rule sits on the input hook — where a datagram arrives — not on output: a datagram dropped
 * on output fails the sender's `sendmsg` with EPERM, and Chromium simply sends it again (measured:
 * the gateway then saw 0.2 % loss while the output rule dropped 15 % of the attempts).
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);
let nextTable = 1;

/** A lossy flow; {@link LossyFlow.stop} removes the rule. */
export interface LossyFlow {
  /** Datagrams of the flow seen and dropped so far (both directions). */
  counts(): Promise<{ seen: number; dropped: number }>;
  /** Removes the rule: the flow is clean again. */
  stop(): Promise<void>;
}

/**
 * Drops `pct` % of the UDP datagrams between ports `a` and `b` on loopback, in both directions.
 * Needs root in the test's network namespace (test/run.sh runs there) and `nft` (Debian nftables).
 */
export async function loseUdp(a: number, b: number, pct: number): Promise<LossyFlow> {
  const table = `sbloss_${process.pid}_${nextTable++}`;
  const flow = (from: number, to: number) => `udp sport ${from} udp dport ${to}`;
  const rules = [a, b].flatMap((from) => {
    const to = from === a ? b : a;
    return [`  ${flow(from, to)} counter`, `  ${flow(from, to)} numgen random mod 100 < ${Math.round(pct)} counter drop`];
  });
  await nft(`table inet ${table} {\n chain in {\n  type filter hook input priority 0; policy accept;\n${rules.join('\n')}\n }\n}\n`);
  let stopped = false;
  return {
    counts: async () => {
      const { stdout } = await run('nft', ['list', 'table', 'inet', table]);
      const n = { seen: 0, dropped: 0 };
      for (const line of stdout.split('\n')) {
        const m = /counter packets (\d+)/.exec(line);
        if (m) n[line.includes('drop') ? 'dropped' : 'seen'] += Number(m[1]);
      }
      return n;
    },
    stop: async () => {
      if (stopped) return;
      stopped = true;
      await run('nft', ['delete', 'table', 'inet', table]);
    },
  };
}

function nft(ruleset: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = execFile('nft', ['-f', '-'], (err, _out, stderr) => (err ? reject(new Error(`nft: ${stderr || err.message}`)) : resolve()));
    child.stdin!.end(ruleset);
  });
}
