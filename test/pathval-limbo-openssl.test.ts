/**
 * Cross-check of the x509-limbo subset with `openssl verify -x509_strict` (-attime, -CAfile anchors,
 * -untrusted, -crl_check/-CRLfile, -partial_chain for an anchor that is not self-signed,
 * -verify_depth, -purpose any): openssl must agree with every expected_result except the cases
 * listed below, each with why. A new disagreement, or a listed case openssl now gets right, fails
 * the test (the list is kept exact). Written against OpenSSL 3.0; libs/pathval itself is checked
 * in pathval-limbo.test.ts.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { limboCases } from './helpers/limbo.js';
import { opensslVerifyAll } from './helpers/limbo-openssl.js';
import { openssl } from './helpers/openssl.js';

const OPENSSL_DISAGREES: Readonly<Record<string, string>> = {
  'crl::crlnumber-missing': 'openssl uses a CRL without the cRLNumber RFC 5280 5.2.3 requires',
  'crl::issuer-no-keyusage-extension': '-x509_strict demands keyUsage in CA certificates (error 92), RFC 5280 only recommends it',
  'cve::cve-2025-61727': 'openssl matches the wildcard SAN *.example.com literally against the excluded bar.example.com',
  'pathlen::max-chain-depth-1-self-issued': '-verify_depth counts self-issued intermediates too',
  'rfc5280::aki::cross-signed-root-missing-aki': 'openssl does not require authorityKeyIdentifier in a trust anchor',
  'rfc5280::eku::ee-wrong-eku': '-purpose any accepts any extKeyUsage (the case asks for serverAuth)',
  'rfc5280::eku::ee-eku-empty': 'openssl accepts an empty extKeyUsage SEQUENCE (SIZE (1..MAX) in RFC 5280)',
  'rfc5280::nc::permitted-dns-match-noncritical': 'openssl does not require nameConstraints to be critical',
  'rfc5280::nc::invalid-dnsname-leading-period': 'openssl accepts a dNSName constraint with a leading period',
  'rfc5280::nc::not-allowed-in-ee-noncritical': 'openssl ignores nameConstraints in an end-entity certificate',
  'rfc5280::nc::not-allowed-in-ee-critical': 'openssl ignores nameConstraints in an end-entity certificate, even critical',
  'rfc5280::nc::nc-permits-invalid-dns-san': 'openssl does not check the dNSName syntax of a SAN',
  'rfc5280::nc::nc-permits-invalid-email-san': 'openssl does not check the rfc822Name syntax of a SAN',
  'rfc5280::nc::nc-forbids-alternate-chain-ica': 'openssl does not backtrack to an alternative issuer when its first chain fails',
  'rfc5280::nc::nc-forbids-same-chain-ica': 'openssl does not try another path after a name constraint violation',
  'rfc5280::nc::nc-forbids-dnsname-wildcard-san': 'openssl matches a wildcard SAN literally against name constraints',
  'rfc5280::pc::ica-noncritical-pc': 'openssl does not require policyConstraints to be critical',
  'rfc5280::san::underscore-dns': 'openssl does not check the dNSName syntax of a SAN',
  'rfc5280::san::ip-in-dns': 'openssl verify without -verify_ip does no peer-name matching',
  'rfc5280::ca-as-leaf-wrong-san': 'openssl verify without -verify_hostname does no peer-name matching',
  'rfc5280::serial::too-long': 'OpenSSL 3.0 -x509_strict does not check the 20-octet serial number limit',
  'rfc5280::serial::zero': 'OpenSSL 3.0 -x509_strict does not refuse a zero serial number',
  'rfc5280::serial::negative': 'OpenSSL 3.0 -x509_strict does not refuse a negative serial number',
  'rfc5280::validity::notafter-exact': 'openssl treats a certificate as expired at its notAfter second (RFC 5280: inclusive)',
  'rfc5280::validity::notafter-fractional': 'openssl treats a certificate as expired at its notAfter second (RFC 5280: inclusive)',
};

describe('x509-limbo subset: openssl verify -x509_strict agrees except for the listed cases', () => {
  it('openssl is OpenSSL 3.x', () => {
    assert.match(openssl(['version']).stdout, /^OpenSSL 3\./);
  });

  it('every case, in parallel (pool of 4)', async () => {
    const cases = limboCases();
    for (const id of Object.keys(OPENSSL_DISAGREES)) assert.ok(cases.some((c) => c.id === id), `list names an unknown case ${id}`);
    const verdicts = await opensslVerifyAll(cases, 4);
    assert.equal(verdicts.size, cases.length);
    const disagree: Record<string, string> = {};
    for (const c of cases) {
      const v = verdicts.get(c.id)!;
      if ((v.ok ? 'SUCCESS' : 'FAILURE') !== c.expected_result) disagree[c.id] = `openssl ${v.ok ? 'accepts' : 'refuses'}: ${v.output.split('\n').slice(-2).join(' / ')}`;
    }
    const unexpected = Object.keys(disagree).filter((id) => !OPENSSL_DISAGREES[id]);
    const nowAgreeing = Object.keys(OPENSSL_DISAGREES).filter((id) => !disagree[id]);
    assert.deepEqual(unexpected.map((id) => `${id}: ${disagree[id]}`), [], 'new disagreements between openssl and the suite');
    assert.deepEqual(nowAgreeing, [], 'listed disagreements that openssl no longer has: remove them from the list');
  });
});
