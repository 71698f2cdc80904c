/**
 * The Redis backend's multi-key writes. A Lua script runs atomically: the keys it writes are all
 * written or none are, and no other command runs in between. Every key a script touches is passed
 * in KEYS (redis-store.ts names them).
 */
export const REDIS_SCRIPTS = {
  // KEYS: cert, spki, idempotency, station index, OCSP due
  // ARGV: record, status, serial, idempotency record ('' none), charge point ('1'/'0'), issued at (ms)
  recordIssuance: `
if ARGV[4] ~= '' then
  local existing = redis.call('GET', KEYS[3])
  if existing then return {'idempotency', existing} end
end
if redis.call('EXISTS', KEYS[1]) == 1 then return {'serial'} end
if redis.call('EXISTS', KEYS[2]) == 1 then return {'key'} end
redis.call('HSET', KEYS[1], 'rec', ARGV[1], 'st', ARGV[2])
redis.call('SET', KEYS[2], ARGV[3])
if ARGV[4] ~= '' then redis.call('SET', KEYS[3], ARGV[4]) end
if ARGV[5] == '1' then
  redis.call('ZADD', KEYS[4], ARGV[6], ARGV[3])
  redis.call('ZADD', KEYS[5], 0, ARGV[3])
end
return {'ok'}
`,

  // KEYS: OCSP epoch, OCSP due, station, station index, then per certificate: cert, issuer's
  //       revoked list, its OCSP responses, its blocked-key entry
  // ARGV: reason, at, station removal ('1'/'0'), n, invalidation channel, n serials
  // An already revoked certificate keeps its time; its reason can only be raised to keyCompromise.
  // A station removal revokes only good certificates, and retries if the station's index changed.
  revoke: `
local reason, at, removal, n = ARGV[1], ARGV[2], ARGV[3] == '1', tonumber(ARGV[4])
if removal then
  if redis.call('ZCARD', KEYS[4]) ~= n then return {'retry', 0} end
  for i = 1, n do
    if not redis.call('ZSCORE', KEYS[4], ARGV[5 + i]) then return {'retry', 0} end
  end
end
local out = {'ok', 0}
local any = false
for i = 1, n do
  local base = 4 + (i - 1) * 4
  local serial = ARGV[5 + i]
  local st = redis.call('HGET', KEYS[base + 1], 'st')
  local changed = 0
  if st then
    local rr = redis.call('HGET', KEYS[base + 1], 'rr')
    local skip = (st == 'revoked' and (reason ~= 'keyCompromise' or rr == 'keyCompromise')) or (removal and st ~= 'good')
    if not skip then
      local ra = redis.call('HGET', KEYS[base + 1], 'ra') or at
      redis.call('HSET', KEYS[base + 1], 'st', 'revoked', 'ra', ra, 'rr', reason)
      redis.call('HSET', KEYS[base + 2], serial, cmsgpack.pack({serial = serial, revokedAt = ra, reason = reason}))
      redis.call('DEL', KEYS[base + 3])
      redis.call('ZADD', KEYS[2], 0, serial)
      if reason == 'keyCompromise' then redis.call('SET', KEYS[base + 4], at) end
      changed = 1
      any = true
    end
  end
  out[#out + 1] = changed
end
if any then
  redis.call('INCR', KEYS[1])
  redis.call('PUBLISH', ARGV[5], '1')
end
if removal then out[2] = redis.call('DEL', KEYS[3]) end
return out
`,

  // KEYS: cert, its OCSP responses, OCSP due
  // ARGV: signed status, revokedAt, reason, serial, schedule ('keep' | 'none' | next due ms), then hash/response pairs
  putOcspResponses: `
local st = redis.call('HGET', KEYS[1], 'st')
if not st then return 0 end
local ra = redis.call('HGET', KEYS[1], 'ra') or ''
local rr = redis.call('HGET', KEYS[1], 'rr') or ''
if st ~= ARGV[1] or ra ~= ARGV[2] or rr ~= ARGV[3] then return 0 end
for i = 6, #ARGV, 2 do redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1]) end
if ARGV[5] == 'none' then redis.call('ZREM', KEYS[3], ARGV[4])
elseif ARGV[5] ~= 'keep' then redis.call('ZADD', KEYS[3], ARGV[5], ARGV[4]) end
return 1
`,

  // KEYS: OCSP due. ARGV: now, limit, lease until. Returns serial, due, serial, due, ...
  claimOcspDue: `
local items = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'WITHSCORES', 'LIMIT', 0, tonumber(ARGV[2]))
for i = 1, #items, 2 do redis.call('ZADD', KEYS[1], 'XX', ARGV[3], items[i]) end
return items
`,

  // KEYS: CRL. ARGV: number, record. Never replaces a CRL with a higher number.
  putCrl: `
local cur = redis.call('HGET', KEYS[1], 'n')
if cur and tonumber(cur) >= tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], 'n', ARGV[1], 'rec', ARGV[2])
return 1
`,

  // KEYS: buckets (sorted sets of event times). ARGV: now, event id, then limit and window (ms) per bucket.
  // Returns {-1, 0} when counted in every bucket, else {index of the fullest bucket, ms to wait}.
  consumeRate: `
local now = tonumber(ARGV[1])
local worst, worstAfter = -1, 0
for i = 1, #KEYS do
  local limit, window = tonumber(ARGV[1 + 2 * i]), tonumber(ARGV[2 + 2 * i])
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now - window)
  if redis.call('ZCARD', KEYS[i]) >= limit then
    local oldest = redis.call('ZRANGE', KEYS[i], 0, 0, 'WITHSCORES')
    local after = tonumber(oldest[2]) + window - now
    if worst < 0 or after > worstAfter then worst, worstAfter = i - 1, after end
  end
end
if worst >= 0 then return {worst, worstAfter} end
for i = 1, #KEYS do
  redis.call('ZADD', KEYS[i], now, ARGV[2])
  redis.call('PEXPIRE', KEYS[i], tonumber(ARGV[2 + 2 * i]))
end
return {-1, 0}
`,
} as const;
