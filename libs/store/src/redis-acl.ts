import { OCSP_INVALIDATE_CHANNEL, REDIS_KEY_PREFIX } from './redis-store.js';
import type { Store } from './store.js';
import { CA_STORE_METHODS, OCSP_STORE_METHODS, RA_STORE_METHODS } from './views.js';

/**
 * Redis ACL users by role (issue 15): each service's user may run only what the methods of its
 * store view (views.ts) run, on the keys they read and write (the key layout of redis-store.ts).
 *
 * A Lua script is checked twice: EVALSHA/EVAL needs read AND write on every key the script
 * declares (Redis cannot tell how a script uses them), and then each command the script runs is
 * checked like a command of its own. So the scripts' keys go into a selector that allows nothing
 * but EVALSHA/EVAL, and what a script does inside is held to the user's own key permissions: the
 * OCSP responder's putOcspResponses script reads the certificate's status, but a script of its
 * writing the status would be refused.
 */

/** What one Store method does in Redis (RedisStore): keys are layout patterns without the prefix. */
interface RedisAccess {
  /** Every command it sends, and every command its scripts run. */
  readonly commands: readonly string[];
  readonly read?: readonly string[];
  readonly write?: readonly string[];
  /** The keys its scripts declare (KEYS). */
  readonly scripts?: readonly string[];
  /** Pub/sub channels it publishes (from a script) or subscribes to. */
  readonly channels?: readonly string[];
}

/** Methods that first check the store's schema (RedisStore.schema: GET; migrating needs migrate's rights). */
const SCHEMA: RedisAccess = { commands: ['get'], read: ['schema'] };
const AUDIT_WRITE: RedisAccess = { commands: ['hmget', 'zadd', 'hset', 'wait'], read: ['audit-head'], write: ['audit-head', 'audit', 'audit-t:*'], scripts: ['audit-head', 'audit', 'audit-t:*'] };
const TENANT_WRITE: RedisAccess = {
  commands: ['get', 'exists', 'zrangebylex', 'zrem', 'zadd', 'set', 'sadd', 'smembers', 'mget', 'scard', 'del'],
  read: ['t:*', 'tenants', 'tenant-claims', 'tenant-claims-built-v2'],
  write: ['t:*', 'tenants', 'tenant-claims', 'tenant-claims-built-v2'],
  scripts: ['t:*', 'tenants', 'tenant-claims', 'tenant-claims-built-v2'],
};
/** Reading certificate records: c:* and the DER dictionaries their DER is deflated against (schema 7, der-dict). */
const CERT_READ: RedisAccess = { commands: ['hmget', 'hget'], read: ['c:*', 'der-dict'] };
/** The revoke script; a station removal also reads the station's index and deletes the station. */
const REVOKE: RedisAccess = merge(CERT_READ, {
  commands: ['hmget', 'hget', 'hset', 'del', 'zadd', 'set', 'incr', 'publish', 'wait'],
  // INCR reads the counter it raises (a write-only key would refuse it).
  read: ['c:*', 'ocsp-epoch'],
  write: ['c:*', 'rv:*', 'o:*', 'b:*', 'ocspdue', 'ocsp-epoch', 'cl:*'],
  scripts: ['ocsp-epoch', 'ocspdue', 'c:*', 'rv:*', 'o:*', 'b:*', 'cl:*'],
  channels: [OCSP_INVALIDATE_CHANNEL],
});

/** The writeStations script: a station's record, its list and SECC-ID indexes, compare-and-set on the record read. */
const STATION_WRITE: RedisAccess = merge(SCHEMA, {
  // PnC-4.3.secc-id-unique: the script reads the SECC-ID index; building it first (secc-built) as findStationBySeccId does.
  commands: ['mget', 'get', 'set', 'del', 'zadd', 'zrem', 'zrangebylex', 'exists', 'scan', 'multi', 'exec'],
  read: ['s:*', 'secc:*', 'secc-built'],
  write: ['s:*', 'sx:*', 'secc:*', 'secc-built'],
  scripts: ['s:*', 'sx:*', 'secc:*'],
});

/** Every Store method: a new one cannot compile without its entry. Keep in step with redis-store.ts. */
export const REDIS_ACCESS: Readonly<Record<keyof Store, RedisAccess>> = {
  ping: { commands: ['ping'] },
  close: { commands: [] },
  assertDurable: { commands: ['info'] },
  migrate: {
    commands: ['get', 'exists', 'scan', 'hget', 'hgetall', 'hset', 'hdel', 'set', 'del', 'mget', 'hmget', 'zadd'],
    read: ['schema', 'c:*', 'der-dict', 'k:*', 'b:*', 'issuers', 'issuer-leaf', 'rotation', 'rotation:*', 's:*'],
    // Schema 7 deletes the certificate list indexes of before (cx:*) once they are built again as cl:*.
    write: ['schema', 'c:*', 'der-dict', 'k:*', 'b:*', 'issuers', 'issuer-leaf', 'rotation', 'rotation:*', 'sx:*', 'cl:*', 'cx:*'],
    scripts: ['schema', 'c:*', 'k:*', 'b:*', 'issuers', 'issuer-leaf', 'rotation', 'rotation:*'],
  },
  getTenant: { commands: ['get'], read: ['t:*'] },
  putTenant: TENANT_WRITE,
  createTenant: TENANT_WRITE,
  updateTenant: TENANT_WRITE,
  listTenants: { commands: ['smembers', 'mget'], read: ['tenants', 't:*'] },
  getOAuthClient: { commands: ['get'], read: ['oc:*'] },
  putOAuthClient: { commands: ['multi', 'set', 'sadd', 'exec'], write: ['oc:*', 'oc-t:*'] },
  listOAuthClients: { commands: ['smembers', 'mget'], read: ['oc-t:*', 'oc:*'] },
  getManufacturer: { commands: ['get'], read: ['mf:*'] },
  putManufacturer: { commands: ['multi', 'set', 'sadd', 'exec'], write: ['mf:*', 'mf-t:*'] },
  deleteManufacturer: { commands: ['multi', 'del', 'srem', 'exec'], write: ['mf:*', 'mf-t:*'] },
  listManufacturers: { commands: ['smembers', 'mget'], read: ['mf-t:*', 'mf:*'] },
  getStation: { commands: ['get'], read: ['s:*'] },
  listStations: merge(SCHEMA, { commands: ['zrange', 'mget'], read: ['sx:*', 's:*'] }),
  findStations: merge(SCHEMA, { commands: ['zrangebylex', 'mget'], read: ['sx:*', 's:*'] }),
  // The SECC-ID index (secc:<tenant>) is written with the station (writeStations); secc-built once
  // it covers the stations written before it existed.
  findStationBySeccId: { commands: ['exists', 'zrangebylex', 'get', 'scan', 'mget', 'multi', 'zadd', 'exec', 'set'], read: ['secc-built', 'secc:*', 's:*'], write: ['secc:*', 'secc-built'] },
  putStation: STATION_WRITE,
  putStations: STATION_WRITE,
  deleteStation: STATION_WRITE,
  listIssuers: merge(SCHEMA, { commands: ['hgetall'], read: ['issuers'] }),
  getIssuer: merge(SCHEMA, { commands: ['hget'], read: ['issuers'] }),
  putIssuer: merge(SCHEMA, { commands: ['multi', 'hset', 'hdel', 'exec'], write: ['issuers', 'issuer-st', 'issuer-leaf'] }),
  issuerLastExpiry: { commands: ['hget'], read: ['issuer-exp'] },
  getRotation: merge(SCHEMA, { commands: ['hget'], read: ['rotation:*'] }),
  commitRotation: merge(SCHEMA, {
    commands: ['hget', 'hset', 'hdel', 'wait'],
    read: ['rotation:*'],
    write: ['rotation:*', 'issuers', 'issuer-st', 'issuer-leaf'],
    scripts: ['rotation:*', 'issuers', 'issuer-st', 'issuer-leaf'],
  }),
  getCertificate: CERT_READ,
  findCertificates: merge(SCHEMA, CERT_READ, { commands: ['zrangebylex'], read: ['cl:*'] }),
  tenantSummary: merge(SCHEMA, { commands: ['zlexcount'], read: ['sx:*', 'cl:*'] }),
  listStationCertificates: merge(CERT_READ, { commands: ['zrange'], read: ['sc:*'] }),
  isKeyCertified: merge(SCHEMA, { commands: ['exists'], read: ['k:*'] }),
  getCertificateByKey: merge(SCHEMA, CERT_READ, { commands: ['get'], read: ['k:*'] }),
  isKeyBlocked: merge(SCHEMA, { commands: ['exists'], read: ['b:*'] }),
  blockKey: merge(SCHEMA, { commands: ['set'], write: ['b:*'] }),
  getIdempotency: { commands: ['get'], read: ['idem:*'] },
  // With its audit entries (and appends queued with them) in one script: chainedWrite.
  recordIssuance: merge(SCHEMA, AUDIT_WRITE, {
    // The rate count (rl:*) is in the same write.
    commands: ['get', 'exists', 'hget', 'hset', 'set', 'zadd', 'zremrangebyscore', 'zcard', 'zrange', 'pexpire', 'wait'],
    // A zero-touch onboarding registers the station in the same write (s:*, its list and SECC-ID entries).
    read: ['idem:*', 'c:*', 'k:*', 'issuer-st', 'issuer-exp', 'issuer-leaf', 's:*', 'rl:*'],
    // The DER dictionary of the certificate (der-dict) is written before the script.
    write: ['c:*', 'der-dict', 'k:*', 'idem:*', 'sc:*', 'ocspdue', 'issuer-exp', 's:*', 'cl:*', 'sx:*', 'secc:*', 'rl:*'],
    scripts: ['c:*', 'k:*', 'idem:*', 'idem-none', 'sc:*', 'ocspdue', 'issuer-st', 'issuer-exp', 'issuer-leaf', 's:*', 's-none', 'cl:*', 'sx:*', 'secc:*', 'rl:*'],
  }),
  // With its audit entries in the same script (and the audit head read first).
  revokeCertificate: merge(SCHEMA, REVOKE, AUDIT_WRITE, { commands: [], scripts: ['s-none', 'sc-none'] }),
  removeStation: merge(SCHEMA, REVOKE, AUDIT_WRITE, { commands: ['zrange', 'zcard', 'zscore', 'get', 'zrem'], read: ['sc:*', 's:*'], write: ['s:*', 'sx:*', 'secc:*'], scripts: ['s:*', 'sc:*', 'sx:*', 'secc:*'] }),
  listRevoked: { commands: ['hgetall'], read: ['rv:*'] },
  // A store written before schema 6 holds a hash at o:* (HGET after GET's WRONGTYPE).
  getOcspResponse: { commands: ['get', 'hget'], read: ['o:*', 'ocsp-tail'] },
  ocspEpoch: { commands: ['subscribe', 'get'], read: ['ocsp-epoch'], channels: [OCSP_INVALIDATE_CHANNEL] },
  putOcspResponses: { commands: ['hget', 'hset', 'type', 'get', 'set', 'zadd', 'zrem'], read: ['c:*', 'o:*'], write: ['o:*', 'ocspdue', 'ocsp-tail'], scripts: ['c:*', 'o:*', 'o-none', 'ocspdue', 'ocsp-tail'] },
  claimOcspDue: { commands: ['zrangebyscore', 'zadd'], read: ['ocspdue'], write: ['ocspdue'], scripts: ['ocspdue'] },
  requeueOcsp: merge(CERT_READ, { commands: ['zscan', 'zadd'], read: ['ocspdue'], write: ['ocspdue'] }),
  nextCrlNumber: { commands: ['incr'], read: ['crlno:*'], write: ['crlno:*'] },
  putCrl: { commands: ['hget', 'hset'], read: ['crl:*'], write: ['crl:*'], scripts: ['crl:*'] },
  getCrl: { commands: ['hget'], read: ['crl:*'] },
  peekRate: { commands: ['zcount', 'zrangebyscore'], read: ['rl:*'] },
  appendAudit: AUDIT_WRITE,
  listAudit: { commands: ['zrangebyscore'], read: ['audit', 'audit-t:*'], scripts: ['audit', 'audit-t:*'] },
  auditHead: { commands: ['hmget'], read: ['audit-head'] },
  auditCheckpoint: { commands: ['hmget'], read: ['audit-checkpoint'] },
  pruneAudit: { commands: ['hmget', 'zrangebyscore', 'zremrangebyscore', 'hset', 'wait'], read: ['audit-checkpoint', 'audit', 'audit-t:*'], write: ['audit-checkpoint', 'audit', 'audit-t:*'], scripts: ['audit-checkpoint', 'audit', 'audit-t:*'] },
};

function merge(...all: RedisAccess[]): RedisAccess {
  const union = (f: keyof RedisAccess) => [...new Set(all.flatMap((a) => a[f] ?? []))];
  return { commands: union('commands'), read: union('read'), write: union('write'), scripts: union('scripts'), channels: union('channels') };
}

/** The users `pki redis-acl` writes, each with the Store methods its service calls. */
export const REDIS_ACL_USERS = {
  'pki-ca': CA_STORE_METHODS,
  'pki-ra': RA_STORE_METHODS,
  'pki-ocsp': OCSP_STORE_METHODS,
} as const satisfies Record<string, readonly (keyof Store)[]>;
/** The pki CLI: the full Store and Redis administration (see redisAclFile). */
export const REDIS_CLI_USER = 'pki-cli';

/**
 * A service user's rules (after `on` and its password): its channels, its commands (and INFO, which
 * the Redis client's ready check sends on connecting), each key pattern with %R~ (read only), %W~
 * (write only) or ~ (both), and the script selector.
 */
export function redisAclRules(methods: readonly (keyof Store)[]): string[] {
  const access = merge(...methods.map((m) => REDIS_ACCESS[m]));
  const key = (k: string) => REDIS_KEY_PREFIX + k;
  const read = new Set(access.read);
  const write = new Set(access.write);
  const keys = [...new Set([...read, ...write])].sort().map((k) => `${read.has(k) ? (write.has(k) ? '' : '%R') : '%W'}~${key(k)}`);
  const commands = [...new Set(['info', ...access.commands])].sort();
  const rules = ['resetchannels', ...[...(access.channels ?? [])].sort().map((c) => `&${c}`), '-@all', ...commands.map((c) => `+${c}`), ...keys];
  const scripts = [...(access.scripts ?? [])].sort().map((k) => `~${key(k)}`);
  if (scripts.length) rules.push(`(${[...scripts, '-@all', '+evalsha', '+eval'].join(' ')})`);
  return rules;
}

/**
 * The ACL file (Redis 7 `aclfile`; it takes no comments): `default` may only PING (the Redis pod's
 * probes authenticate as it) and one user per service. The pki CLI is the operator's tool (it
 * already holds the CA keys' passphrase): every command, Redis administration included, on the
 * PKI's keys and channels. `passwordHash(user)` is the SHA-256 (hex) of the user's password.
 */
export function redisAclFile(passwordHash: (user: string) => string): string {
  const lines = [
    `user default on #${passwordHash('default')} resetchannels -@all +ping`,
    ...Object.entries(REDIS_ACL_USERS).map(([user, methods]) => `user ${user} on #${passwordHash(user)} ${redisAclRules(methods).join(' ')}`),
    `user ${REDIS_CLI_USER} on #${passwordHash(REDIS_CLI_USER)} resetchannels &${REDIS_KEY_PREFIX}* +@all ~${REDIS_KEY_PREFIX}*`,
  ];
  return lines.join('\n') + '\n';
}

/** Every user of the ACL file, `default` first. */
export const REDIS_ACL_USER_NAMES: readonly string[] = ['default', ...Object.keys(REDIS_ACL_USERS), REDIS_CLI_USER];
