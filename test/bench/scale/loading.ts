/** Loading the population through the real write path, and waiting until the responder has pre-signed it. */
import type { Redis } from 'ioredis';
import { chargingStation, coverageOf } from '@evpki/issuance';
import type { CertificateRecord, RedisStore } from '@evpki/store';
import { sleep, type Proc } from '../bench-kit.js';
import { LOAD_CONCURRENCY, STALL_MS, STATION_SPREAD } from './config.js';
import { sha256hex, spkiOf, stationOf, type Population } from './population.js';
import { ProgressLine, int } from './progress.js';
import { OCSP_DUE } from './redis.js';

export interface LoadResult {
  readonly seconds: number;
  readonly perSecond: number;
  readonly conflicts: number;
}

/**
 * Records [from, to) through RedisStore.recordIssuance, LOAD_CONCURRENCY in flight, with a
 * progress line that also shows how many of them the responder has pre-signed meanwhile.
 */
export async function load(store: RedisStore, raw: Redis, pop: Population, template: CertificateRecord, from: number, to: number, label: string): Promise<LoadResult> {
  const progress = new ProgressLine(label, to - from);
  const subjectOf = (i: number): string => template.subject.replace('SCALE-TEMPLATE', `SCALE-${i % STATION_SPREAD}`);
  let next = from;
  let done = 0;
  let conflicts = 0;
  let presigned = 0;
  const dueBefore = await pendingPresign(raw);
  const poll = setInterval(() => {
    pendingPresign(raw).then(
      (p) => void (presigned = Math.max(0, done - (p - dueBefore))),
      () => undefined,
    );
  }, 1000);
  const t0 = performance.now();
  try {
    await Promise.all(
      Array.from({ length: Math.min(LOAD_CONCURRENCY, to - from) }, async () => {
        while (next < to) {
          const i = next++;
          for (;;) {
            const serial = pop.draw(i);
            const rec: CertificateRecord = {
              ...template,
              serial: pop.hex(i),
              stationId: stationOf(i),
              subject: subjectOf(i),
              spkiSha256: spkiOf(serial),
              sha256Fingerprint: sha256hex('fp', serial),
              issuedAt: new Date().toISOString(),
            };
            const outcome = await store.recordIssuance(rec, coverageOf(chargingStation));
            if (outcome.ok) break;
            conflicts++; // a serial (or key) drawn twice: draw again
            if (conflicts > 100) throw new Error(`recordIssuance keeps refusing: ${JSON.stringify(outcome)}`);
          }
          done++;
          progress.update(done, `  | pre-signed ${int(presigned)}`);
        }
      }),
    );
  } finally {
    clearInterval(poll);
    progress.end();
  }
  pop.count = to;
  const seconds = (performance.now() - t0) / 1000;
  return { seconds, perSecond: (to - from) / seconds, conflicts };
}

/**
 * Certificates not yet pre-signed: due now, or claimed by the pre-signer (a claim moves the score
 * to now + 60 s). A pre-signed one is due again at half its response's life (days ahead).
 */
export async function pendingPresign(raw: Redis): Promise<number> {
  return raw.zcount(OCSP_DUE, '-inf', Date.now() + 3_600_000);
}

/** Waits until the responder has pre-signed everything queued; `phaseRecords` sizes the progress line. */
export async function waitPresigned(raw: Redis, phaseRecords: number, label: string, responder: Proc): Promise<number> {
  const t0 = performance.now();
  let pending = await pendingPresign(raw);
  const progress = new ProgressLine(label, pending);
  const start = pending;
  let lastChange = performance.now();
  try {
    while (pending > 0) {
      if (responder.child.exitCode !== null) throw new Error(`the OCSP responder exited:\n${responder.output()}`);
      await sleep(500);
      const p = await pendingPresign(raw);
      if (p !== pending) lastChange = performance.now();
      pending = p;
      progress.update(start - pending, `  (${int(phaseRecords - pending)}/${int(phaseRecords)} of the phase's records)`);
      if (performance.now() - lastChange > STALL_MS) throw new Error(`pre-signing stalled at ${pending} pending:\n${responder.output()}`);
    }
  } finally {
    progress.end();
  }
  return (performance.now() - t0) / 1000;
}
