/** `openssl ocsp -multi 2` as a responder for the same CA and certificates, with a delegated P-256 signer certified by our CA. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CPO, QUICK, f0, f2, freePort, killGroup, log, serviceEnv, sleep, spawnProc } from '../bench-kit.js';
import { evenHex, indexTime } from './certificates.js';
import { sanityCheck, statusSweep } from './checks.js';
import { MEASURE_S } from './config.js';
import type { Requests } from './requests.js';
import type { OcspRun } from './run.js';
import { toScenario } from './scenario.js';
import type { Setup } from './setup.js';
import { runWrk } from './wrk.js';

export async function measureOpenssl({ work, procs, scenarios, problems }: OcspRun, { issued, files, signer }: Setup, { postTargets, scripts }: Requests): Promise<void> {
  const first = issued[0]!;
  const index = join(work, 'index.txt');
  writeFileSync(`${index}.attr`, 'unique_subject = no\n'); // several certificates per station, as in the store
  writeFileSync(index, issued.map((c) => `V\t${indexTime(c.notAfter)}\t\t${evenHex(c.serialHex).toUpperCase()}\tunknown\t/O=${CPO}/CN=BENCH-${c.station}\n`).join(''));
  writeFileSync(join(work, 'signer.pem'), signer.certPem);
  writeFileSync(join(work, 'signer.key'), signer.keyPem, { mode: 0o600 });
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const ossl = spawnProc(
    'openssl ocsp',
    'openssl',
    ['ocsp', '-index', index, '-CA', files.sub, '-rsigner', join(work, 'signer.pem'), '-rkey', join(work, 'signer.key'), '-resp_key_id', '-port', String(port), '-multi', '2', '-nmin', '1', '-ignore_err'],
    serviceEnv({}),
    true,
  );
  procs.push(ossl);
  try {
    const until = Date.now() + 15_000;
    let c: { ok: boolean; detail: string; bytes: number };
    for (;;) {
      c = await sanityCheck({ ...postTargets[0]!, url }, first.serialHex, files, work).catch((e: Error) => ({ ok: false, detail: `${e.message} ${(e.cause as Error | undefined)?.message ?? ''}`, bytes: 0 }));
      if (c.ok) break;
      if (Date.now() > until || ossl.child.exitCode !== null) throw new Error(`openssl ocsp not answering: ${c.detail}\n${ossl.output()}`);
      await sleep(200);
    }
    // The checks and the warm-up come before the measurement: OpenSSL 3.0's responder workers spin
    // forever on a connection closed before its request arrived, which is how every wrk run ends
    // (connections still waiting in the accept queue), so after a wrk run the responder is killed.
    const sweep = await statusSweep(url, postTargets.map((t) => ({ ...t, url })), QUICK ? 300 : 1000);
    const pid = ossl.child.pid!;
    const w = await runWrk(url, scripts.post, MEASURE_S, pid);
    const s = toScenario('openssl-post', 'openssl ocsp -multi 2, POST', w, {
      note: 'closes the connection after each response (HTTP/1.0, no keep-alive), by design: wrk reconnects, and latency excludes connect time',
    });
    scenarios.push({ ...s, sanity: { ok: c.ok, detail: c.detail, bodyBytes: c.bytes }, sweep });
    if (sweep.bad) problems.push(`openssl ocsp: ${sweep.bad}/${sweep.checked} sampled answers not successful (${sweep.example ?? ''})`);
    log(`openssl ocsp -multi 2: ${f0(s.perSecond)} req/s, p50 ${f2(s.p50Ms)} ms, p99 ${f2(s.p99Ms)} ms, errors ${s.errors}`);
  } finally {
    await killGroup(ossl);
  }
}
