// No imports: `pki --help` prints these without loading the store (@evpki/store/audit-limits).

/** Bounds of one event (and of one appendAudit call). */
export const AUDIT_LIMITS = {
  eventChars: 64,
  actorChars: 128,
  tenantChars: 128,
  atChars: 64,
  rules: 32,
  ruleChars: 64,
  detailKeys: 32,
  detailKeyChars: 64,
  detailValueChars: 512,
  /** Events per append; a revocation write (revokeCertificate, removeStation) may add one per certificate it revokes (validateAuditAppend's `maxEvents`). */
  eventsPerAppend: 1000,
  /** listAudit pages at most this many entries. */
  pageSize: 1000,
} as const;
