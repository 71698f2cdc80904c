import { after, before, describe, it, mock } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as pkijs from 'pkijs';
import { createCrlPublisher, loadCaConfig, loadIssuer, type CrlPublisherOptions, type LoadedIssuer } from '@evpki/ca';
import { makeRoot } from '@evpki/cli';
import { fileSigner, readPrivateKey, readSecretFile } from '@evpki/keys';
import { ConfigError, dataPaths, type Logger } from '@evpki/service';
import { openStore, type CrlRecord, type Store } from '@evpki/store';
import {
  OID,
  Tag,
  authorityKeyIdentifier,
  buildCrl,
  children,
  ctx,
  enumerated,
  expectTag,
  extension,
  integer,
  keyIdentifier,
  pemBlocks,
  raw,
  readOnly,
  seq,
  signerFor,
  time,
  tlv,
  toPem,
  type CrlEntry,
  type CrlFields,
  type ParsedCertificate,
} from '@evpki/x509';
import { newP256Csr } from './helpers/csr.js';
import { openssl } from './helpers/openssl.js';
import { api, makeDevPki, registerStation, startStack, type DevPki, type Stack } from './helpers/pki.js';

const DAY = 86400;
const work = mkdtempSync(join(tmpdir(), 'evpki-crl-'));
after(() => rmSync(work, { recursive: true, force: true }));

/** A logger that drops everything but keeps error messages, for asserting that failures are logged. */
function captureLogger(onError: () => void = () => undefined): { log: Logger; errors: string[] } {
  const errors: string[] = [];
  const noop = (): void => undefined;
  const error = (_obj: unknown, msg: string): void => {
    errors.push(msg);
    onError();
  };
  return { log: { info: noop, debug: noop, warn: noop, error } as unknown as Logger, errors };
}

/** Lets every pending promise continuation run (a macrotask comes after the microtask queue drains). */
const drainMicrotasks = (): Promise<void> => new Promise((r) => setImmediate(r));

/** The store with some methods replaced; everything else goes to the real one. */
function wrapStore(base: Store, overrides: Partial<Store>): Store {
  return new Proxy(base, {
    get(target, key) {
      if (Object.hasOwn(overrides, key)) return overrides[key as keyof Store];
      const v: unknown = Reflect.get(target, key, target);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

function writePem(name: string, label: string, der: Buffer | Buffer[]): string {
  const file = join(work, name);
  writeFileSync(file, (Array.isArray(der) ? der : [der]).map((d) => toPem(label, d)).join(''));
  return file;
}

/** Serial (lowercase hex, no leading zeros) → reasonCode (undefined when absent), as pkijs reads the CRL. */
function pkijsEntries(der: Buffer): Map<string, number | undefined> {
  const crl = pkijs.CertificateRevocationList.fromBER(der);
  const out = new Map<string, number | undefined>();
  for (const rc of crl.revokedCertificates ?? []) {
    const serial = Buffer.from(rc.userCertificate.valueBlock.valueHexView).toString('hex').replace(/^0+(?=.)/, '');
    const reason = rc.crlEntryExtensions?.extensions.find((e) => e.extnID === OID.crlReason);
    out.set(serial, reason ? readOnly(Buffer.from(reason.extnValue.valueBlock.valueHexView), Tag.ENUMERATED).value[0] : undefined);
  }
  return out;
}

/** How openssl prints a serial: uppercase hex, an even number of digits. */
const opensslSerial = (hex: string): string => (hex.length % 2 ? '0' + hex : hex).toUpperCase();

/** The children of the TBSCertList, read with the strict DER reader. */
function tbsFields(der: Buffer): { tbs: Buffer; fields: ReturnType<typeof children> } {
  const top = readOnly(der, Tag.SEQUENCE);
  const tbsT = expectTag(children(top, 3)[0], Tag.SEQUENCE, 'tbsCertList');
  return { tbs: raw(top.value, tbsT), fields: children(tbsT, 8) };
}

describe('buildCrl: DER CertificateList v2 (RFC 5280 section 5)', () => {
  const { privateKey: key } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  let ca: ParsedCertificate;
  let caPem: string;
  before(async () => {
    ca = await makeRoot(key, { organization: 'Test', commonName: 'Test CRL CA' }, new Date(), 40);
    caPem = writePem('builder-ca.pem', 'CERTIFICATE', ca.der);
    Object.assign(base, { issuerName: ca.subject.der, issuerKeyId: keyIdentifier(ca.publicKey) });
  });
  const base = {
    signer: signerFor(key),
    issuerName: Buffer.alloc(0),
    issuerKeyId: Buffer.alloc(0),
    thisUpdate: new Date('2030-01-02T03:04:05Z'),
    nextUpdate: new Date('2030-01-09T03:04:05Z'),
  };

  it('empty: revokedCertificates absent (5.1.2.6), v2, AKI + CRL Number non-critical (5.2.1, 5.2.3), verified by openssl and pkijs', async () => {
    const der = await buildCrl({ ...base, number: 7, entries: [] });
    const { fields } = tbsFields(der);
    // version, signature, issuer, thisUpdate, nextUpdate, [0] crlExtensions: no list in between.
    assert.deepEqual(fields.map((f) => f.tag), [Tag.INTEGER, Tag.SEQUENCE, Tag.SEQUENCE, Tag.UTCTime, Tag.UTCTime, 0xa0]);
    assert.deepEqual(fields[0]!.value, Buffer.from([1]), 'version v2 (5.1.2.1)');

    const file = writePem('empty.crl.pem', 'X509 CRL', der);
    const v = openssl(['crl', '-in', file, '-CAfile', caPem, '-verify', '-noout']);
    assert.equal(v.code, 0, v.stderr);
    assert.match(v.stdout + v.stderr, /verify OK/);
    const text = openssl(['crl', '-in', file, '-noout', '-text']).stdout;
    assert.match(text, /Version 2 \(0x1\)/);
    assert.match(text, /X509v3 CRL Number: \n\s+7\n/);
    assert.match(text, /No Revoked Certificates/);

    const p = pkijs.CertificateRevocationList.fromBER(der);
    assert.equal(p.version, 1);
    assert.equal(p.revokedCertificates, undefined);
    assert.deepEqual(p.thisUpdate.value, base.thisUpdate);
    assert.deepEqual(p.nextUpdate?.value, base.nextUpdate);
    const exts = p.crlExtensions!.extensions;
    assert.deepEqual(exts.map((e) => [e.extnID, e.critical]), [[OID.authorityKeyIdentifier, false], [OID.crlNumber, false]]);
    assert.equal(await p.verify({ issuerCertificate: pkijs.Certificate.fromBER(ca.der) }), true);
  });

  it('entries in serial order, reasonCode except for unspecified (5.3.1): the TBS equals the reference encoding', async () => {
    const at = new Date('2030-01-01T12:00:00Z');
    const entries: CrlEntry[] = [
      { serial: 'ABC', revokedAt: at, reason: 'keyCompromise' },
      { serial: Buffer.from('00ff', 'hex'), revokedAt: at, reason: 'unspecified' },
      { serial: '0a', revokedAt: at, reason: 'removeFromCRL' },
      { serial: '8000000000000000000000000000000001', revokedAt: at, reason: 'superseded' },
    ];
    const { tbs } = tbsFields(await buildCrl({ ...base, number: 300, entries }));
    const reason = (code: number): Buffer => seq(extension(OID.crlReason, false, enumerated(code)));
    const expected = seq(
      integer(1),
      base.signer.algorithmDer,
      ca.subject.der,
      time(base.thisUpdate),
      time(base.nextUpdate),
      seq(
        seq(integer(Buffer.from('0a', 'hex')), time(at), reason(8)),
        seq(integer(Buffer.from('ff', 'hex')), time(at)),
        seq(integer(Buffer.from('0abc', 'hex')), time(at), reason(1)),
        seq(integer(Buffer.from('8000000000000000000000000000000001', 'hex')), time(at), reason(4)),
      ),
      ctx(0, seq(authorityKeyIdentifier(base.issuerKeyId), extension(OID.crlNumber, false, integer(300)))),
    );
    assert.equal(tbs.toString('hex'), expected.toString('hex'));
  });

  it('revocation dates encode as time(): UTCTime through 2049, GeneralizedTime from 2050 (5.1.2.6, 4.1.2.5)', async () => {
    const dates = ['1950-01-01T00:00:00Z', '2049-12-31T23:59:59Z', '2050-01-01T00:00:00Z', '2030-06-07T08:09:10.999Z', '9999-12-31T23:59:59Z', '0999-01-01T00:00:00Z'];
    const entries = dates.map((d, i) => ({ serial: (i + 1).toString(16), revokedAt: new Date(d), reason: 'superseded' as const }));
    // A 130-octet serial does not fit a short-form entry length: the general path.
    entries.push({ serial: '7f' + 'ab'.repeat(129), revokedAt: new Date(dates[1]!), reason: 'superseded' });
    const list = tbsFields(await buildCrl({ ...base, number: 1, entries })).fields[5]!;
    const got = children(list, 10);
    assert.equal(got.length, entries.length);
    got.forEach((entry, i) => {
      const [serialT, timeT] = children(entry, 3);
      assert.equal(serialT!.value.toString('hex').replace(/^0+/, ''), entries[i]!.serial, 'serial order');
      assert.deepEqual(raw(entry.value, timeT!), time(entries[i]!.revokedAt), dates[i] ?? 'long serial');
    });
  });

  it('100 000 entries: one list, every entry present, in order (docs/architecture.md "Hot paths")', async () => {
    const n = 100_000;
    const entries: CrlEntry[] = Array.from({ length: n }, (_, i) => ({
      serial: randomBytes(16).toString('hex').replace(/^./, '7'), // 16 octets, no leading zero: hex order is numeric order
      revokedAt: new Date(Date.UTC(2030, 0, 1) + i * 1000),
      reason: i % 3 ? 'keyCompromise' : 'unspecified',
    }));
    const der = await buildCrl({ ...base, number: 2, entries });
    const list = children(tbsFields(der).fields[5]!, n + 1);
    assert.equal(list.length, n);
    const serials = list.map((e) => children(e, 3)[0]!.value.toString('hex'));
    assert.deepEqual(serials, entries.map((e) => e.serial as string).sort());
    const file = writePem('big.crl.pem', 'X509 CRL', der);
    const v = openssl(['crl', '-in', file, '-CAfile', caPem, '-verify', '-noout']);
    assert.equal(v.code, 0, v.stderr);
  });

  const refusals: [string, Partial<CrlFields>, RegExp][] = [
    ['nextUpdate equal to thisUpdate (5.1.2.5)', { nextUpdate: base.thisUpdate }, /nextUpdate must be after thisUpdate/],
    ['negative CRL Number (5.2.3)', { number: -1 }, /bad CRL number/],
    ['serial that is not hex', { entries: [{ serial: 'xyz', revokedAt: new Date(), reason: 'keyCompromise' }] }, /not hex/],
    ['unknown reason', { entries: [{ serial: '01', revokedAt: new Date(), reason: 'bogus' as 'keyCompromise' }] }, /unknown revocation reason/],
  ];
  for (const [name, change, error] of refusals)
    it(`refuses: ${name}`, () => assert.rejects(() => buildCrl({ ...base, number: 1, entries: [], ...change }), error));
});

describe('CRL publisher: the issuing CA CRL, with a running RA/CA/OCSP stack', () => {
  let pki: DevPki;
  let stack: Stack;
  let issuer: LoadedIssuer;
  let rootPem: string;
  let subPem: string;
  let stationNo = 0;

  before(async () => {
    pki = await makeDevPki();
    stack = await startStack(pki);
    const paths = dataPaths(pki.dataDir);
    const key = readPrivateKey(paths.issuerKey(pki.manifest.issuers.chargePoint), readSecretFile(paths.devPassphrase));
    issuer = await loadIssuer(stack.store, pki.manifest.issuers.chargePoint, fileSigner(key), pki.manifest.publicOcspBase);
    rootPem = writePem('root.pem', 'CERTIFICATE', (await stack.store.getIssuer(pki.manifest.issuers.root))!.certificate);
    subPem = writePem('sub.pem', 'CERTIFICATE', issuer.cert.der);
  });
  after(async () => {
    await stack.stop();
    pki.cleanup();
  });

  const publisher = (o: Partial<CrlPublisherOptions> = {}) =>
    createCrlPublisher({ store: stack.store, issuer, now: () => new Date(), log: captureLogger().log, nextUpdateSeconds: 7 * DAY, refreshSeconds: DAY, ...o });

  /** A charge point certificate signed through the RA; returns its serial and a PEM file. */
  async function issueLeaf(): Promise<{ serial: string; pem: string }> {
    const n = ++stationNo;
    await registerStation(stack, `cp-crl-${n}`, `CP-CRL-${n}`);
    const r = await api(stack, 'POST', `/v1/stations/cp-crl-${n}/certificates`, { csr: newP256Csr(`CP-CRL-${n}`).csr, certificateType: 'ChargingStationCertificate' });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    return { serial: r.body.serialNumber, pem: writePem(`leaf-${n}.pem`, 'CERTIFICATE', pemBlocks(r.body.certificateChain, 'CERTIFICATE')[0]!) };
  }
  const revoke = async (serial: string, reason: Parameters<Store['revokeCertificate']>[1] = 'keyCompromise') =>
    assert.equal((await stack.store.revokeCertificate(serial, reason, new Date().toISOString(), () => [])).ok, true);

  it('flags the revoked certificate: openssl crl -verify, crl -text, verify -crl_check and -crl_check_all with the root CRL from pki init', async () => {
    const bad = await issueLeaf();
    const good = await issueLeaf();
    await revoke(bad.serial);
    const crl = await publisher().publishNow();
    const crlDer = join(work, 'sub.crl.der');
    writeFileSync(crlDer, crl.der);

    const v = openssl(['crl', '-inform', 'DER', '-in', crlDer, '-verify', '-CAfile', subPem, '-noout']);
    assert.equal(v.code, 0, v.stderr);
    assert.match(v.stdout + v.stderr, /verify OK/);
    const text = openssl(['crl', '-inform', 'DER', '-in', crlDer, '-noout', '-text']).stdout;
    assert.match(text, new RegExp(`X509v3 CRL Number: \\n\\s+${crl.number}\\n`));
    const entry = new RegExp(`Serial Number: ${opensslSerial(bad.serial)}\\n.*\\n\\s+CRL entry extensions:\\n\\s+X509v3 CRL Reason Code: \\n\\s+Key Compromise`);
    assert.match(text, entry);
    assert.doesNotMatch(text, new RegExp(opensslSerial(good.serial)));

    const crlPem = writePem('sub.crl.pem', 'X509 CRL', crl.der);
    const verify = (leaf: string, crls: string, all = false) =>
      openssl(['verify', all ? '-crl_check_all' : '-crl_check', '-CRLfile', crls, '-CAfile', rootPem, '-untrusted', subPem, leaf]);
    const revoked = verify(bad.pem, crlPem);
    assert.notEqual(revoked.code, 0);
    assert.match(revoked.stdout + revoked.stderr, /certificate revoked/);
    const ok = verify(good.pem, crlPem);
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);

    // -crl_check_all needs the root's CRL as well: without it the chain cannot be checked.
    const noRootCrl = verify(good.pem, crlPem, true);
    assert.notEqual(noRootCrl.code, 0);
    assert.match(noRootCrl.stdout + noRootCrl.stderr, /unable to get certificate CRL/);
    const rootCrl = await stack.store.getCrl(pki.manifest.issuers.root);
    assert.ok(rootCrl, 'pki init stores a root CRL');
    const both = writePem('both.crl.pem', 'X509 CRL', [rootCrl.der, crl.der]);
    const all = verify(good.pem, both, true);
    assert.equal(all.code, 0, all.stdout + all.stderr);
    const allRevoked = verify(bad.pem, both, true);
    assert.match(allRevoked.stdout + allRevoked.stderr, /certificate revoked/);
  });

  it('pkijs reads the stored CRL: issuer, times, CRL Number, AKI, entries and the CA signature', async () => {
    const leaf = await issueLeaf();
    await revoke(leaf.serial, 'cessationOfOperation');
    const crl = await publisher().publishNow();
    assert.deepEqual((await stack.store.getCrl(issuer.id))?.der, crl.der, 'the returned record is the stored one');
    const p = pkijs.CertificateRevocationList.fromBER(crl.der);
    assert.deepEqual(Buffer.from(p.issuer.toSchema().toBER()), issuer.cert.subject.der);
    assert.equal(p.thisUpdate.value.toISOString(), crl.thisUpdate);
    assert.equal(p.nextUpdate?.value.toISOString(), crl.nextUpdate);
    assert.equal(Date.parse(crl.nextUpdate) - Date.parse(crl.thisUpdate), 7 * DAY * 1000);
    const number = p.crlExtensions!.extensions.find((e) => e.extnID === OID.crlNumber)!;
    assert.equal(parseInt(readOnly(Buffer.from(number.extnValue.valueBlock.valueHexView), Tag.INTEGER).value.toString('hex'), 16), crl.number);
    const aki = p.crlExtensions!.extensions.find((e) => e.extnID === OID.authorityKeyIdentifier)!;
    assert.deepEqual(Buffer.from(aki.extnValue.valueBlock.valueHexView), seq(tlv(0x80, keyIdentifier(issuer.cert.publicKey))));
    assert.equal(pkijsEntries(crl.der).get(leaf.serial), 5, 'cessationOfOperation (5.3.1)');
    assert.equal(await p.verify({ issuerCertificate: pkijs.Certificate.fromBER(issuer.cert.der) }), true);
  });

  it('the CRL Number strictly increases with each publication and the store keeps the newest (5.2.3)', async () => {
    const pub = publisher();
    const numbers: number[] = [];
    for (let i = 0; i < 3; i++) numbers.push((await pub.publishNow()).number);
    assert.ok(numbers[0]! < numbers[1]! && numbers[1]! < numbers[2]!, numbers.join(','));
    assert.equal((await stack.store.getCrl(issuer.id))?.number, numbers[2]);
  });

  it('an unspecified reason has no reasonCode entry extension (RFC 5280 5.3.1)', async () => {
    const plain = await issueLeaf();
    await revoke(plain.serial, 'unspecified');
    const der = (await publisher().publishNow()).der;
    const entries = pkijsEntries(der);
    assert.ok(entries.has(plain.serial));
    assert.equal(entries.get(plain.serial), undefined);
    const crl = pkijs.CertificateRevocationList.fromBER(der);
    const entry = crl.revokedCertificates!.find((r) => Buffer.from(r.userCertificate.valueBlock.valueHexView).toString('hex').replace(/^0+/, '') === plain.serial)!;
    assert.equal(entry.crlEntryExtensions, undefined);
  });

  it('publishNow coalesces: callers during a generation share the next one, which has their revocations', async () => {
    const [a, b] = [await issueLeaf(), await issueLeaf()];
    await revoke(a.serial);
    let generations = 0;
    let hold: { entered: ReturnType<typeof deferred>; release: ReturnType<typeof deferred> } | undefined = { entered: deferred(), release: deferred() };
    const gate = hold;
    const store = wrapStore(stack.store, {
      nextCrlNumber: async (id: string) => {
        generations++;
        return stack.store.nextCrlNumber(id);
      },
      listRevoked: async (id: string) => {
        const list = await stack.store.listRevoked(id);
        const h = hold;
        hold = undefined;
        if (h) {
          // The first generation stalls here, having read the list.
          h.entered.resolve();
          await h.release.promise;
        }
        return list;
      },
    });
    const pub = publisher({ store });
    const first = pub.publishNow();
    await gate.entered.promise;
    await revoke(b.serial); // committed while the first generation runs, before the calls below
    const later = [pub.publishNow(), pub.publishNow(), pub.publishNow(), pub.publishNow()];
    gate.release.resolve();
    const [one, ...rest] = await Promise.all([first, ...later]);

    assert.ok(pkijsEntries(one.der).has(a.serial));
    assert.ok(!pkijsEntries(one.der).has(b.serial), 'the first generation read the list before b was revoked');
    for (const r of rest) {
      assert.equal(r.number, rest[0]!.number, 'the four waiting callers share one generation');
      const entries = pkijsEntries(r.der);
      assert.ok(entries.has(a.serial) && entries.has(b.serial));
    }
    assert.ok(rest[0]!.number > one.number);
    assert.equal(generations, 2);
  });

  it('five concurrent calls after revocations all get every revocation, in fewer than five generations', async () => {
    const leaves = [await issueLeaf(), await issueLeaf(), await issueLeaf()];
    for (const l of leaves) await revoke(l.serial);
    const before = (await stack.store.getCrl(issuer.id))!.number;
    const pub = publisher();
    const results = await Promise.all(Array.from({ length: 5 }, () => pub.publishNow()));
    for (const r of results) for (const l of leaves) assert.ok(pkijsEntries(r.der).has(l.serial), `${l.serial} in CRL ${r.number}`);
    const numbers = new Set(results.map((r) => r.number));
    assert.ok(numbers.size < 5, [...numbers].join(','));
    assert.ok(Math.max(...numbers) - before < 5, 'fewer than five CRL Numbers were taken');
  });
});

describe('CRL publisher schedule and limits (fake clock, no services)', () => {
  let pki: DevPki;
  let store: Store;
  let issuer: LoadedIssuer;
  let clock: Date;

  before(async () => {
    pki = await makeDevPki();
    store = openStore({ dataDir: pki.dataDir });
    const paths = dataPaths(pki.dataDir);
    const key = readPrivateKey(paths.issuerKey(pki.manifest.issuers.chargePoint), readSecretFile(paths.devPassphrase));
    issuer = await loadIssuer(store, pki.manifest.issuers.chargePoint, fileSigner(key), pki.manifest.publicOcspBase);
    clock = new Date();
  });
  after(async () => {
    await store.close();
    pki.cleanup();
  });

  const publisher = (o: Partial<CrlPublisherOptions> = {}) =>
    createCrlPublisher({ store, issuer, now: () => clock, log: captureLogger().log, nextUpdateSeconds: 7 * DAY, refreshSeconds: DAY, ...o });
  const stored = async (): Promise<CrlRecord | undefined> => store.getCrl(issuer.id);

  it('start() publishes when no CRL is stored, not when the stored one is fresh; checks publish when it ages', async () => {
    assert.equal(await stored(), undefined, 'pki init leaves the sub-CA CRL to the CA');
    const p1 = publisher();
    await p1.start();
    await p1.stop();
    const first = (await stored())!;
    assert.ok(first, 'published at start');
    assert.equal(first.thisUpdate, new Date(Math.floor(clock.getTime() / 1000) * 1000).toISOString());

    const p2 = publisher();
    await p2.start();
    await p2.stop();
    assert.equal((await stored())!.number, first.number, 'fresh: nothing published');

    clock = new Date(clock.getTime() + DAY * 1000 - 1000);
    assert.equal(await p2.checkNow(), false, 'just under refreshSeconds old');
    clock = new Date(clock.getTime() + 1000);
    assert.equal(await p2.checkNow(), true, 'refreshSeconds old');
    assert.equal((await stored())!.number, first.number + 1);
  });

  it('a CRL whose nextUpdate is within refreshSeconds is due even when young', async () => {
    const short = publisher({ nextUpdateSeconds: 1.5 * DAY });
    await short.publishNow();
    const n = (await stored())!.number;
    clock = new Date(clock.getTime() + 0.4 * DAY * 1000);
    assert.equal(await publisher().checkNow(), false, '1.1 days to nextUpdate');
    clock = new Date(clock.getTime() + 0.2 * DAY * 1000);
    assert.equal(await publisher().checkNow(), true, '0.9 days to nextUpdate, 0.6 days old');
    assert.equal((await stored())!.number, n + 1);
  });

  it('nextUpdate never passes the issuer notAfter; an expired issuer gets no CRL', async () => {
    clock = new Date(issuer.cert.notAfter.getTime() - 2 * DAY * 1000);
    const crl = await publisher().publishNow();
    assert.equal(crl.nextUpdate, issuer.cert.notAfter.toISOString());
    const p = pkijs.CertificateRevocationList.fromBER(crl.der);
    assert.equal(p.nextUpdate?.value.toISOString(), issuer.cert.notAfter.toISOString());
    clock = new Date(issuer.cert.notAfter.getTime() + 1000);
    await assert.rejects(publisher().publishNow(), /expired/);
    clock = new Date();
  });

  it('the timer republishes when due and logs failures without throwing (mocked timers, no waiting)', async () => {
    clock = new Date();
    await publisher().publishNow(); // a fresh CRL: start() leaves it alone
    const n = (await stored())!.number;
    let published = deferred();
    const logged = deferred();
    const { log, errors } = captureLogger(logged.resolve);
    let fail = false;
    let checks = 0;
    const flaky = wrapStore(store, {
      getCrl: async (id: string) => {
        checks++;
        return store.getCrl(id);
      },
      nextCrlNumber: async (id: string) => {
        if (fail) throw new Error('disk on fire');
        return store.nextCrlNumber(id);
      },
      putCrl: async (crl: CrlRecord) => {
        const ok = await store.putCrl(crl);
        published.resolve();
        return ok;
      },
    });
    mock.timers.enable({ apis: ['setInterval'] });
    try {
      const pub = publisher({ store: flaky, log, checkIntervalSeconds: 60 });
      await pub.start();
      assert.equal((await stored())!.number, n, 'fresh at start');

      mock.timers.tick(60_000);
      await drainMicrotasks();
      assert.equal((await stored())!.number, n, 'checked, not due yet');

      clock = new Date(clock.getTime() + DAY * 1000);
      published = deferred();
      mock.timers.tick(60_000);
      await published.promise;
      await drainMicrotasks();
      assert.equal((await stored())!.number, n + 1, 'republished by the timer once refreshSeconds old');

      fail = true;
      clock = new Date(clock.getTime() + DAY * 1000);
      mock.timers.tick(60_000);
      await logged.promise;
      assert.deepEqual(errors, ['scheduled CRL publication failed']);
      assert.equal((await stored())!.number, n + 1);

      await pub.stop();
      const before = checks;
      mock.timers.tick(600_000); // a running timer would call getCrl synchronously from its callback
      assert.equal(checks, before, 'stopped: no more checks');
    } finally {
      mock.timers.reset();
    }
  });

  it('refuses a refresh interval not shorter than nextUpdate', () => {
    assert.throws(() => publisher({ refreshSeconds: 7 * DAY }), /shorter than the nextUpdate/);
  });
});

describe('pki init: the root CRL', () => {
  it('an empty CRL signed by the root, CRL Number 1, nextUpdate 365 days ahead', async () => {
    const pki = await makeDevPki();
    try {
      const store = openStore({ dataDir: pki.dataDir });
      const crl = await store.getCrl(pki.manifest.issuers.root);
      const root = (await store.getIssuer(pki.manifest.issuers.root))!.certificate;
      await store.close();
      assert.ok(crl);
      assert.equal(crl.number, 1);
      assert.equal(Date.parse(crl.nextUpdate) - Date.parse(crl.thisUpdate), 365 * DAY * 1000);
      const file = writePem('root.crl.pem', 'X509 CRL', crl.der);
      const v = openssl(['crl', '-in', file, '-CAfile', writePem('init-root.pem', 'CERTIFICATE', root), '-verify', '-noout']);
      assert.equal(v.code, 0, v.stderr);
      assert.match(v.stdout + v.stderr, /verify OK/);
      assert.equal(pkijs.CertificateRevocationList.fromBER(crl.der).revokedCertificates, undefined);
    } finally {
      pki.cleanup();
    }
  });
});

describe('CA config: CRL intervals', () => {
  const cases: [string, NodeJS.ProcessEnv, { next: number; refresh: number } | RegExp][] = [
    ['defaults: 168 h and 24 h', {}, { next: 168 * 3600, refresh: 24 * 3600 }],
    ['set both', { CA_CRL_NEXT_UPDATE_HOURS: '48', CA_CRL_REFRESH_HOURS: '12' }, { next: 48 * 3600, refresh: 12 * 3600 }],
    ['refresh equal to nextUpdate', { CA_CRL_REFRESH_HOURS: '168' }, /CA_CRL_REFRESH_HOURS .* less than/],
    ['nextUpdate below refresh default', { CA_CRL_NEXT_UPDATE_HOURS: '12' }, /less than CA_CRL_NEXT_UPDATE_HOURS/],
    ['nextUpdate of 0', { CA_CRL_NEXT_UPDATE_HOURS: '0' }, /CA_CRL_NEXT_UPDATE_HOURS must be an integer in 1\.\.8760/],
    ['nextUpdate over a year', { CA_CRL_NEXT_UPDATE_HOURS: '8761' }, /CA_CRL_NEXT_UPDATE_HOURS must be an integer/],
  ];
  for (const [name, env, want] of cases)
    it(name, () => {
      if (want instanceof RegExp) assert.throws(() => loadCaConfig(env), (e: unknown) => e instanceof ConfigError && want.test(e.message));
      else {
        const c = loadCaConfig(env);
        assert.deepEqual({ next: c.crlNextUpdateSeconds, refresh: c.crlRefreshSeconds }, want);
      }
    });
});
