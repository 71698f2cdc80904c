/** Chain checks on sampled responses: the leaf issued and signed by the chain's issuer, with the bench subject. */
import { X509Certificate } from 'node:crypto';

export function checkChain(chainPem: string): string | undefined {
  const blocks = chainPem.match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----\n?/g) ?? [];
  if (blocks.length < 2) return `chain has ${blocks.length} certificate(s)`;
  const leaf = new X509Certificate(blocks[0]!);
  const issuer = new X509Certificate(blocks[1]!);
  if (!leaf.checkIssued(issuer)) return 'leaf not issued by the chain issuer (names/AKI)';
  if (!leaf.verify(issuer.publicKey)) return 'leaf signature does not verify with the issuer key';
  if (!/^CN=BENCH-\d+$/m.test(leaf.subject) || !/^O=Demo CPO$/m.test(leaf.subject)) return `unexpected leaf subject ${leaf.subject}`;
  return undefined;
}

export function verifySamples(samples: readonly string[]): { checked: number; bad: string[] } {
  const bad: string[] = [];
  for (const s of samples) {
    try {
      const body = JSON.parse(s) as { certificateChain?: string };
      const why = checkChain(body.certificateChain ?? '');
      if (why) bad.push(why);
    } catch (e) {
      bad.push(`unparseable response: ${(e as Error).message}`);
    }
  }
  return { checked: samples.length, bad };
}
