/** What bench-ocsp and bench-scale share: OCSP answers, the responder's outcomes from its /metrics, Lua strings for wrk scripts. */

/** responseStatus of a DER OCSPResponse (0 = successful), or -1 when it does not look like one. */
export function ocspResponseStatus(der: Buffer): number {
  if (der[0] !== 0x30 || der.length < 5) return -1;
  const l = der[1]!;
  const off = l < 0x80 ? 2 : 2 + (l & 0x7f);
  return der[off] === 0x0a && der[off + 1] === 1 ? der[off + 2]! : -1;
}

/** pki_ocsp_responses_total by `method/outcome` (presigned, signed, or the OCSP error) from the text of the responder's /metrics. */
export function outcomesOf(metrics: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const m of metrics.matchAll(/^pki_ocsp_responses_total\{([^}]*)\} (\S+)$/gm)) {
    const l = Object.fromEntries([...m[1]!.matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    // outcome: presigned, signed (live) or the OCSP error status, as the benchmarks report it.
    const labels = { method: l.method, outcome: l.source === 'live' ? 'signed' : l.source === 'unsigned' ? l.status : l.source };
    out[`${labels.method}/${labels.outcome}`] = (out[`${labels.method}/${labels.outcome}`] ?? 0) + Number(m[2]);
  }
  return out;
}

/** What grew from `a` to `b`, by key (counters). */
export function delta(a: Record<string, number>, b: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(b)) if (v - (a[k] ?? 0) > 0) out[k] = v - (a[k] ?? 0);
  return out;
}

/** A Lua string literal for any bytes (decimal escapes, always three digits). */
export function luaString(b: Buffer): string {
  let s = '"';
  for (const c of b) {
    if (c === 0x22) s += '\\"';
    else if (c === 0x5c) s += '\\\\';
    else if (c >= 0x20 && c < 0x7f) s += String.fromCharCode(c);
    else s += `\\${String(c).padStart(3, '0')}`;
  }
  return s + '"';
}
