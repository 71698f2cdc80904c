/** `openssl ocsp -multi 2` as a responder for the same CA and certificates, with a delegated P-256 signer certified by our CA. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CPO, QUICK, f0, f2, freePort, killGroup, log, serviceEnv, sleep, spawnProc, type Proc } from '../bench-kit.js';
import { evenHex, indexTime } from './certificates.js';
import { sanityCheck, statusSweep } from './checks.js';
import { abBody, runAb } from './ab.js';
import { MEASURE_S } from './config.js';
import type { Requests } from './requests.js';
import type { OcspRun } from './run.js';
import { abScenario, toScenario } from './scenario.js';
import type { Setup } from './setup.js';
import { runWrk } from './wrk.js';

export async function measureOpenssl({ work, procs, scenarios, problems }: OcspRun, { issued, files, signer }: Setup, { postTargets, scripts }: Requests): Promise<void> {
  const first = issued[0]!;
  const index = join(work, 'index.txt');
  writeFileSync(`${index}.attr`, 'unique_subject = no\n'); // several certificates per station, as in the store
  writeFileSync(index, issued.map((c) => `V\t${indexTime(c.notAfter)}\t\t${evenHex(c.serialHex).toUpperCase()}\tunknown\t/O=${CPO}/CN=BENCH-${c.station}\n`).join(''));
  writeFileSync(join(work, 'signer.pem'), signer.certPem);
  writeFileSync(join(work, 'signer.key'), signer.keyPem, { mode: 0o600 });
  const args = (port: number): string[] =>
    ['ocsp', '-index', index, '-CA', files.sub, '-rsigner', join(work, 'signer.pem'), '-rkey', join(work, 'signer.key'), '-resp_key_id', '-port', String(port), '-multi', '2', '-nmin', '1', '-ignore_err'];
  /** A fresh `openssl ocsp` per load generator (see the spin below), answering a checked request before it is measured. */
  const start = async (): Promise<{ url: string; ossl: Proc; check: { ok: boolean; detail: string; bytes: number } }> => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const ossl = spawnProc('openssl ocsp', 'openssl', args(port), serviceEnv({}), true);
    procs.push(ossl);
    const until = Date.now() + 15_000;
    for (;;) {
      const check = await sanityCheck({ ...postTargets[0]!, url }, first.serialHex, files, work).catch((e: Error) => ({ ok: false, detail: `${e.message} ${(e.cause as Error | undefined)?.message ?? ''}`, bytes: 0 }));
      if (check.ok) return { url, ossl, check };
      if (Date.now() > until || ossl.child.exitCode !== null) throw new Error(`openssl ocsp not answering: ${check.detail}\n${ossl.output()}`);
      await sleep(200);
    }
  };

  // The checks and the warm-up come before the measurement: OpenSSL 3.0's responder workers spin
  // forever on a connection closed before its request arrived, which is how every wrk run ends
  // (connections still waiting in the accept queue), so after a run the responder is killed, and
  // each load generator gets its own.
  let o = await start();
  try {
    const sweep = await statusSweep(o.url, postTargets.map((t) => ({ ...t, url: o.url })), QUICK ? 300 : 1000);
    const w = await runWrk(o.url, scripts.post, MEASURE_S, o.ossl.child.pid!);
    const s = toScenario('openssl-post', 'openssl ocsp -multi 2, POST', w, {
      note: 'closes the connection after each response (HTTP/1.0, no keep-alive), by design: wrk reconnects, and latency excludes connect time',
    });
    scenarios.push({ ...s, sanity: { ok: o.check.ok, detail: o.check.detail, bodyBytes: o.check.bytes }, sweep });
    if (sweep.bad) problems.push(`openssl ocsp: ${sweep.bad}/${sweep.checked} sampled answers not successful (${sweep.example ?? ''})`);
    log(`openssl ocsp -multi 2: ${f0(s.perSecond)} req/s, p50 ${f2(s.p50Ms)} ms, p99 ${f2(s.p99Ms)} ms, errors ${s.errors}`);
  } finally {
    await killGroup(o.ossl);
  }
  o = await start();
  try {
    // No warm-up run: when ab finishes it closes connections it opened for requests it no longer
    // sends, which leaves `openssl ocsp` children spinning (above); the checks warmed it up.
    const abFile = abBody(work, postTargets[0]!.body!);
    const a = abScenario('openssl-post-close', 'openssl ocsp -multi 2, POST, no keep-alive (ab)', await runAb(o.url, abFile, o.ossl.child.pid!));
    scenarios.push(a);
    log(`openssl ocsp -multi 2 (ab): ${f0(a.perSecond)} req/s, p50 ${f2(a.p50Ms)} ms, p99 ${f2(a.p99Ms)} ms, errors ${a.errors}`);
  } catch (e) {
    // A reference, not what is under test: `openssl ocsp` stalling (its children hang on a connection
    // now and then on a loaded machine) leaves the ratio n/a rather than failing the run.
    log(`openssl ocsp -multi 2 (ab) not measured: ${(e as Error).message.split('\n').slice(-2).join(' ')}`);
  } finally {
    await killGroup(o.ossl);
  }
}
