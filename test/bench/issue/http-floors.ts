/** HTTP floors under the same client, one server process each: bare node:http, express 5, express + the RA's request schemas. */
import { Pool } from 'undici';
import { FLOOR_SERVER, f0, log, spawnNode, stopProc, waitListening } from '../bench-kit.js';
import { SIDE_S, WARMUP_S } from './config.js';
import { raHeaders, raRequest, runPhase } from './load-client.js';
import type { IssueRun } from './run.js';
import { toScenario } from './scenario.js';

export async function floorsSection({ token, take, procs, scenarios }: IssueRun): Promise<void> {
  const body = raRequest((await take(1))[0]!);
  const labels = { bare: 'HTTP floor: bare node:http', express: 'HTTP floor: express 5 + json', 'express-schemas': 'HTTP floor: express + request schemas' } as const;
  for (const mode of ['bare', 'express', 'express-schemas'] as const) {
    const srv = spawnNode(`floor ${mode}`, [FLOOR_SERVER, mode]);
    procs.push(srv);
    const url = `http://127.0.0.1:${await waitListening(srv)}`;
    for (const conc of mode === 'bare' ? [1, 32] : [32]) {
      const pool = new Pool(url, { connections: conc, pipelining: 1, keepAliveTimeout: 60_000 });
      try {
        await runPhase({ pool, conc, source: () => body, headers: raHeaders(token), seconds: WARMUP_S, maxCount: 1e7, expect: 201 });
        const p = await runPhase({ pool, conc, source: () => body, headers: raHeaders(token), seconds: SIDE_S, maxCount: 1e7, expect: 201, pids: { server: srv.child.pid! } });
        scenarios.push(toScenario('floor', labels[mode], conc, p, { note: `POST ${body.body.length} B, fixed 471 B reply` }));
        log(`${labels[mode]} conc ${conc}: ${f0(p.perSecond)} req/s`);
      } finally {
        await pool.close();
      }
    }
    await stopProc(srv);
  }
}
