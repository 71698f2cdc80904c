/**
 * The Redis backend's multi-key writes. A Lua script runs atomically: the keys it writes are all
 * written or none are, and no other command runs in between. Every key a script touches is passed
 * in KEYS (redis-store.ts names them).
 */
/**
 * The compare-and-set on the audit head (KEYS[1]) that opens every script appending to the audit
 * chain: ARGV[1], ARGV[2] the head the caller chained from; another head returns {'conflict', seq,
 * hash} before anything is written.
 */
const AUDIT_HEAD_CAS = `local cur = redis.call('HMGET', KEYS[1], 'seq', 'hash')
if cur[1] then
  if cur[1] ~= ARGV[1] or cur[2] ~= ARGV[2] then return {'conflict', cur[1], cur[2] or ''} end
elseif ARGV[1] ~= '0' then
  return {'conflict', '0', ''}
end
`;

export const REDIS_SCRIPTS = {
  // KEYS: cert, spki, idempotency, station index, the station registered with it (s-none: none),
  //       OCSP due, issuer states, issuers' last expiry, leaf-signing issuers' hierarchies, then the
  //       list indexes it joins (list-index.ts; with a registered station, the station's too)
  // ARGV: record, status, serial, idempotency record ('' none), station index ('1'/'0'), issued at (ms),
  //       issuer id, leaf ('1'/'0': only the active leaf-signing CA of the leaf's hierarchy may sign
  //       one), notAfter (ms), the leaf's hierarchy, pre-sign OCSP ('1'/'0') (IssuanceCoverage),
  //       the station record to register ('' none; refused when the station exists), then its
  //       member of each list index
  recordIssuance: `
if ARGV[4] ~= '' then
  local existing = redis.call('GET', KEYS[3])
  if existing then return {'idempotency', existing} end
end
if redis.call('EXISTS', KEYS[1]) == 1 then return {'serial'} end
if redis.call('EXISTS', KEYS[2]) == 1 then return {'key'} end
if ARGV[8] == '1' then
  if redis.call('HGET', KEYS[7], ARGV[7]) ~= 'active' or redis.call('HGET', KEYS[9], ARGV[7]) ~= ARGV[10] then return {'issuer'} end
end
if ARGV[12] ~= '' and redis.call('EXISTS', KEYS[5]) == 1 then return {'station'} end
if ARGV[8] == '1' then
  local last = tonumber(redis.call('HGET', KEYS[8], ARGV[7]) or '0')
  if tonumber(ARGV[9]) > last then redis.call('HSET', KEYS[8], ARGV[7], ARGV[9]) end
end
redis.call('HSET', KEYS[1], 'rec', ARGV[1], 'st', ARGV[2])
redis.call('SET', KEYS[2], ARGV[3])
if ARGV[12] ~= '' then redis.call('SET', KEYS[5], ARGV[12]) end
if ARGV[4] ~= '' then redis.call('SET', KEYS[3], ARGV[4]) end
if ARGV[5] == '1' then redis.call('ZADD', KEYS[4], ARGV[6], ARGV[3]) end
if ARGV[11] == '1' then redis.call('ZADD', KEYS[6], 0, ARGV[3]) end
for i = 10, #KEYS do redis.call('ZADD', KEYS[i], 0, ARGV[i + 3]) end
return {'ok'}
`,

  // Issuances with their audit entries and plain audit appends, in one write (group commit: the
  // CA's concurrent issuances share one script, one AOF fsync and one WAIT).
  // KEYS: audit head, audit log, OCSP due, issuer states, issuers' last expiry, leaf-signing
  //       issuers' hierarchies, then per issuance: cert, spki, idempotency, station index, station
  //       registered (s-none: none), its L list indexes, its R rate buckets (sorted sets of event
  //       times); then tenant audit indexes
  // ARGV: expected head seq, expected head hash, new head seq, new head hash, n issuances, then per
  //       issuance the 12 ARGV of recordIssuance (record, status, serial, idempotency record ('' none),
  //       station index, issued at, issuer id, leaf, notAfter, hierarchy, pre-sign OCSP, station
  //       record to register ('' none)), L and its L list index members, R, the time (ms) and event
  //       id it counts, and per bucket its limit and window (ms); then per audit entry: the entry,
  //       the index of its tenant's key after the issuances' (0: none)
  // Compare-and-set on the audit head as appendAudit ({'conflict', seq, hash}: nothing written).
  // Every issuance is checked before anything is written (but a rate bucket's expired events, which
  // go either way): when any is refused, nothing is written and {'refused', i, why, existing, ...}
  // names them (i from 0; why: idempotency (existing: the stored record), serial, key, issuer,
  // station, rate (existing: '<bucket index from 0>:<ms until it has room>'), or later: it collides
  // with an earlier one of this batch, or would fill a bucket that earlier ones fill, and must be
  // tried again after it).
  chainedWrite: `
${AUDIT_HEAD_CAS}local n = tonumber(ARGV[5])
local refused = {'refused'}
local seen = {}
local pending = {}
local at = {}
local kb, ab = 6, 5
for i = 0, n - 1 do
  at[i] = {kb, ab}
  local hasIdem = ARGV[ab + 4] ~= ''
  local why, existing = nil, ''
  if hasIdem then
    local e = redis.call('GET', KEYS[kb + 3])
    if e then why, existing = 'idempotency', e end
  end
  if not why and redis.call('EXISTS', KEYS[kb + 1]) == 1 then why = 'serial' end
  if not why and redis.call('EXISTS', KEYS[kb + 2]) == 1 then why = 'key' end
  if not why and ARGV[ab + 8] == '1' and (redis.call('HGET', KEYS[4], ARGV[ab + 7]) ~= 'active' or redis.call('HGET', KEYS[6], ARGV[ab + 7]) ~= ARGV[ab + 10]) then why = 'issuer' end
  local registers = ARGV[ab + 12] ~= ''
  if not why and registers and redis.call('EXISTS', KEYS[kb + 5]) == 1 then why = 'station' end
  if not why and (seen[KEYS[kb + 1]] or seen[KEYS[kb + 2]] or (hasIdem and seen[KEYS[kb + 3]]) or (registers and seen[KEYS[kb + 5]])) then why = 'later' end
  local lists = tonumber(ARGV[ab + 13])
  local rk, rb = kb + 5 + lists, ab + 13 + lists
  local buckets, now = tonumber(ARGV[rb + 1]), tonumber(ARGV[rb + 2])
  if not why then
    local full, after, mate = nil, 0, false
    for j = 1, buckets do
      local key, limit, window = KEYS[rk + j], tonumber(ARGV[rb + 2 + 2 * j]), tonumber(ARGV[rb + 3 + 2 * j])
      redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
      local count = redis.call('ZCARD', key)
      if count >= limit then
        local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
        local wait = math.max(1, tonumber(oldest[2]) + window - now)
        if not full or wait > after then full, after = j, wait end
      elseif count + (pending[key] or 0) >= limit then
        mate = true
      end
    end
    if full then why, existing = 'rate', (full - 1) .. ':' .. after
    elseif mate then why = 'later' end
  end
  if why then
    refused[#refused + 1] = tostring(i)
    refused[#refused + 1] = why
    refused[#refused + 1] = existing
  else
    seen[KEYS[kb + 1]] = true
    seen[KEYS[kb + 2]] = true
    if hasIdem then seen[KEYS[kb + 3]] = true end
    if registers then seen[KEYS[kb + 5]] = true end
    for j = 1, buckets do pending[KEYS[rk + j]] = (pending[KEYS[rk + j]] or 0) + 1 end
  end
  kb = rk + buckets
  ab = rb + 3 + 2 * buckets
end
if #refused > 1 then return refused end
local tb, first = kb, ab + 1
for i = 0, n - 1 do
  kb, ab = at[i][1], at[i][2]
  if ARGV[ab + 8] == '1' then
    local last = tonumber(redis.call('HGET', KEYS[5], ARGV[ab + 7]) or '0')
    if tonumber(ARGV[ab + 9]) > last then redis.call('HSET', KEYS[5], ARGV[ab + 7], ARGV[ab + 9]) end
  end
  redis.call('HSET', KEYS[kb + 1], 'rec', ARGV[ab + 1], 'st', ARGV[ab + 2])
  redis.call('SET', KEYS[kb + 2], ARGV[ab + 3])
  if ARGV[ab + 4] ~= '' then redis.call('SET', KEYS[kb + 3], ARGV[ab + 4]) end
  if ARGV[ab + 12] ~= '' then redis.call('SET', KEYS[kb + 5], ARGV[ab + 12]) end
  if ARGV[ab + 5] == '1' then redis.call('ZADD', KEYS[kb + 4], ARGV[ab + 6], ARGV[ab + 3]) end
  if ARGV[ab + 11] == '1' then redis.call('ZADD', KEYS[3], 0, ARGV[ab + 3]) end
  local lists = tonumber(ARGV[ab + 13])
  for j = 1, lists do redis.call('ZADD', KEYS[kb + 5 + j], 0, ARGV[ab + 13 + j]) end
  local rk, rb = kb + 5 + lists, ab + 13 + lists
  for j = 1, tonumber(ARGV[rb + 1]) do
    redis.call('ZADD', KEYS[rk + j], ARGV[rb + 2], ARGV[rb + 3])
    redis.call('PEXPIRE', KEYS[rk + j], ARGV[rb + 3 + 2 * j])
  end
end
local base = tonumber(ARGV[1])
for j = 0, (#ARGV - first + 1) / 2 - 1 do
  local s = base + j + 1
  redis.call('ZADD', KEYS[2], s, ARGV[first + 2 * j])
  local t = tonumber(ARGV[first + 2 * j + 1])
  if t > 0 then redis.call('ZADD', KEYS[tb + t], s, s) end
end
if ARGV[3] ~= ARGV[1] then redis.call('HSET', KEYS[1], 'seq', ARGV[3], 'hash', ARGV[4]) end
return {'ok'}
`,

  // KEYS: audit head, audit log, OCSP epoch, OCSP due, station, station index, then per certificate:
  //       cert, issuer's revoked list, its OCSP responses, its blocked-key entry, its tenant's
  //       revoked list indexes (all revoked, revoked of its kind, revoked by notAfter: list-index.ts
  //       revokedIndexEntries); then (station removal) the station's list indexes (all, q, allowed 1,
  //       allowed 0) and its tenant's SECC-ID index; then the tenant audit indexes
  // ARGV: expected audit head seq ('' : no audit entries), its hash, new head seq, new head hash,
  //       reason, at, station removal: its index size as read ('' not a removal), n, invalidation
  //       channel, n serials (a removal: its good certificates), 3n revoked list
  //       index members (each certificate's three in turn), n certificate states as read
  //       ("<st>|<ra>|<rr>"), m, m audit entries each with the index of its tenant's audit key
  //       after the others (0: none), then (station removal) the station record as read ('' none)
  //       and its list and SECC-ID index members ("<index 1-5><member>")
  // The audit entries were chained by the caller from what the states read say the write does: a
  // moved audit head answers {'conflict', seq, hash}, a certificate, station or station index no
  // longer as read {'retry', 0}, both before anything is written; else the revocation and its audit
  // entries are written together.
  // An already revoked certificate keeps its time; its reason can only be raised to keyCompromise.
  // A station removal revokes only good certificates.
  revoke: `
if ARGV[1] ~= '' then
${AUDIT_HEAD_CAS}end
local reason, at, removal, n = ARGV[5], ARGV[6], ARGV[7] ~= '', tonumber(ARGV[8])
local m = tonumber(ARGV[10 + 5 * n])
local s0 = 11 + 5 * n + 2 * m
if removal then
  if (redis.call('GET', KEYS[5]) or '') ~= ARGV[s0] then return {'retry', 0} end
  if redis.call('ZCARD', KEYS[6]) ~= tonumber(ARGV[7]) then return {'retry', 0} end
  for i = 1, n do
    if not redis.call('ZSCORE', KEYS[6], ARGV[9 + i]) then return {'retry', 0} end
  end
end
for i = 1, n do
  local f = redis.call('HMGET', KEYS[6 + (i - 1) * 7 + 1], 'st', 'ra', 'rr')
  if (f[1] or '') .. '|' .. (f[2] or '') .. '|' .. (f[3] or '') ~= ARGV[9 + 4 * n + i] then return {'retry', 0} end
end
local out = {'ok', 0}
local any = false
for i = 1, n do
  local base = 6 + (i - 1) * 7
  local serial = ARGV[9 + i]
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
      redis.call('ZADD', KEYS[4], 0, serial)
      if reason == 'keyCompromise' then redis.call('SET', KEYS[base + 4], at) end
      for j = 1, 3 do redis.call('ZADD', KEYS[base + 4 + j], 0, ARGV[9 + n + (i - 1) * 3 + j]) end
      changed = 1
      any = true
    end
  end
  out[#out + 1] = changed
end
if any then
  redis.call('INCR', KEYS[3])
  redis.call('PUBLISH', ARGV[9], '1')
end
local tb = 6 + 7 * n
if removal then
  out[2] = redis.call('DEL', KEYS[5])
  for i = s0 + 1, #ARGV do
    redis.call('ZREM', KEYS[tb + tonumber(string.sub(ARGV[i], 1, 1))], string.sub(ARGV[i], 2))
  end
  tb = tb + 5
end
if m > 0 then
  local seq = tonumber(ARGV[1])
  for j = 1, m do
    local e = 10 + 5 * n + 2 * j
    redis.call('ZADD', KEYS[2], seq + j, ARGV[e - 1])
    local t = tonumber(ARGV[e])
    if t > 0 then redis.call('ZADD', KEYS[tb + t], seq + j, seq + j) end
  end
  redis.call('HSET', KEYS[1], 'seq', ARGV[3], 'hash', ARGV[4])
end
return out
`,

  // KEYS: per station: its record, its tenant's station list indexes (all, q, allowed 1, allowed 0),
  //       its tenant's SECC-ID index (secc-index.ts)
  // ARGV: replace ('1'/'0'), then per station: the record as read ('' none), the record to write
  //       ('' to delete it), m, then m index changes ("+" or "-", index 1-5, member)
  // Compare-and-set: writes nothing ({'changed'}) when a record is no longer the one read. An
  // existing station is kept without `replace`. Returns 'created' | 'replaced' | 'kept' | 'deleted'
  // | 'absent' per station. The caller sends each station at most once per call.
  // PnC-4.3.secc-id-unique: when a station written has a SECC-ID (a "+5" member) the index holds
  // for another station (as the stations before it in the call leave the index), nothing is
  // written: {'secc', i, SECC-ID key, other station id, ...} names each such station (i from 0; the
  // caller tells a stale index entry from another station's SECC-ID).
  writeStations: `
local replace = ARGV[1] == '1'
local a = 2
for i = 0, #KEYS / 6 - 1 do
  if (redis.call('GET', KEYS[i * 6 + 1]) or '') ~= ARGV[a] then return {'changed'} end
  a = a + 3 + tonumber(ARGV[a + 2])
end
local refused, added, dropped = {'secc'}, {}, {}
a = 2
for i = 0, #KEYS / 6 - 1 do
  local before, rec, m = ARGV[a], ARGV[a + 1], tonumber(ARGV[a + 2])
  local index = KEYS[i * 6 + 6]
  if rec ~= '' and (before == '' or replace) then
    local other, conflict = nil, nil
    for j = 1, m do
      local op = ARGV[a + 2 + j]
      if not other and string.sub(op, 1, 2) == '+5' then
        local member = string.sub(op, 3)
        local nl = string.find(member, '\\n', 1, true)
        local prefix = string.sub(member, 1, nl)
        other = added[index .. prefix]
        if not other then
          for _, e in ipairs(redis.call('ZRANGEBYLEX', index, '[' .. prefix, '[' .. prefix .. '\\255')) do
            if e ~= member and not dropped[index .. e] then
              other = string.sub(e, nl + 1)
              break
            end
          end
        end
        if other then conflict = string.sub(prefix, 1, nl - 1) end
      end
    end
    if other then
      refused[#refused + 1] = tostring(i)
      refused[#refused + 1] = conflict
      refused[#refused + 1] = other
    else
      for j = 1, m do
        local op = ARGV[a + 2 + j]
        if string.sub(op, 1, 2) == '-5' then dropped[index .. string.sub(op, 3)] = true end
        if string.sub(op, 1, 2) == '+5' then
          local member = string.sub(op, 3)
          local nl = string.find(member, '\\n', 1, true)
          added[index .. string.sub(member, 1, nl)] = string.sub(member, nl + 1)
          dropped[index .. member] = nil
        end
      end
    end
  end
  a = a + 3 + m
end
if #refused > 1 then return refused end
local out = {}
a = 2
for i = 0, #KEYS / 6 - 1 do
  local before, rec, m = ARGV[a], ARGV[a + 1], tonumber(ARGV[a + 2])
  if rec == '' and before == '' then out[#out + 1] = 'absent'
  elseif rec ~= '' and before ~= '' and not replace then out[#out + 1] = 'kept'
  else
    for j = 1, m do
      local op = ARGV[a + 2 + j]
      local key = KEYS[i * 6 + 1 + tonumber(string.sub(op, 2, 2))]
      if string.sub(op, 1, 1) == '-' then redis.call('ZREM', key, string.sub(op, 3)) else redis.call('ZADD', key, 0, string.sub(op, 3)) end
    end
    if rec == '' then
      redis.call('DEL', KEYS[i * 6 + 1])
      out[#out + 1] = 'deleted'
    else
      redis.call('SET', KEYS[i * 6 + 1], rec)
      out[#out + 1] = before == '' and 'created' or 'replaced'
    end
  end
  a = a + 3 + m
end
return out
`,

  // KEYS: a tenant's SECC-ID index, a station. ARGV: an index member of the station, the station
  // record as read ('' none). Removes the member only while the station is still as read (a stale
  // entry: the station no longer lists that SECC-ID); 1 when removed.
  dropSeccEntry: `
if (redis.call('GET', KEYS[2]) or '') ~= ARGV[2] then return 0 end
return redis.call('ZREM', KEYS[1], ARGV[1])
`,

  // KEYS: cert, its OCSP responses, OCSP due, signers' tails (ocsp-tail)
  // ARGV: signed status, revokedAt, reason, serial, schedule ('keep' | 'none' | next due ms), t, t
  //       tail ref/tail pairs, then the responses framed (redis-encoding.ts: hash code, 2-byte
  //       length, entry). The responses key is a string of framed entries: those written replace the
  //       entries of their hashes, the others are kept; one written before schema 5 (a hash) is
  //       replaced whole.
  putOcspResponses: `
local st = redis.call('HGET', KEYS[1], 'st')
if not st then return 0 end
local ra = redis.call('HGET', KEYS[1], 'ra') or ''
local rr = redis.call('HGET', KEYS[1], 'rr') or ''
if st ~= ARGV[1] or ra ~= ARGV[2] or rr ~= ARGV[3] then return 0 end
local first = 7 + 2 * tonumber(ARGV[6])
for i = 7, first - 1, 2 do redis.call('HSET', KEYS[4], ARGV[i], ARGV[i + 1]) end
if first <= #ARGV then
  local out, have = {}, {}
  for i = first, #ARGV do
    out[#out + 1] = ARGV[i]
    have[string.byte(ARGV[i], 1)] = true
  end
  if redis.call('TYPE', KEYS[2]).ok == 'string' then
    local cur = redis.call('GET', KEYS[2])
    local p = 1
    while p + 2 <= #cur do
      local n = string.byte(cur, p + 1) * 256 + string.byte(cur, p + 2)
      if not have[string.byte(cur, p)] then out[#out + 1] = string.sub(cur, p, p + 2 + n) end
      p = p + 3 + n
    end
  end
  redis.call('SET', KEYS[2], table.concat(out))
end
if ARGV[5] == 'none' then redis.call('ZREM', KEYS[3], ARGV[4])
elseif ARGV[5] ~= 'keep' then redis.call('ZADD', KEYS[3], ARGV[5], ARGV[4]) end
return 1
`,

  // KEYS: the hierarchy's rotation, issuers, issuer states, leaf-signing issuers' hierarchies.
  // ARGV: expected revision ('' none), rotation record, its revision, then per issuer: id, record,
  // state, hierarchy when it signs leaves ('' else). Writes only over the revision the caller read.
  commitRotation: `
local cur = redis.call('HGET', KEYS[1], 'rev') or ''
if cur ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'rev', ARGV[3], 'rec', ARGV[2])
for i = 4, #ARGV, 4 do
  redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1])
  redis.call('HSET', KEYS[3], ARGV[i], ARGV[i + 2])
  if ARGV[i + 3] == '' then redis.call('HDEL', KEYS[4], ARGV[i]) else redis.call('HSET', KEYS[4], ARGV[i], ARGV[i + 3]) end
end
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

  // KEYS: audit head (hash seq, hash), audit log (zset seq → entry), then tenant indexes (zset seq → seq)
  // ARGV: expected head seq, expected head hash, new head seq, new head hash, then per entry: the
  //       entry, the index of its tenant's key after the first two (0: none)
  // Compare-and-set on the head (the chain is computed by the caller: Lua has no SHA-256); on a
  // conflict writes nothing and returns the current head.
  appendAudit: `
${AUDIT_HEAD_CAS}local base = tonumber(ARGV[1])
for i = 1, (#ARGV - 4) / 2 do
  local s = base + i
  redis.call('ZADD', KEYS[2], s, ARGV[3 + 2 * i])
  local t = tonumber(ARGV[4 + 2 * i])
  if t > 0 then redis.call('ZADD', KEYS[2 + t], s, s) end
end
redis.call('HSET', KEYS[1], 'seq', ARGV[3], 'hash', ARGV[4])
return {'ok'}
`,

  // KEYS: tenant, tenant ids, claims index (zset of "<claim key>\n<tenant>", all scores 0), index built
  // ARGV: the record as read ('' none), the new record, the tenant id, n lookups, n pairs (kind, key):
  //       'x' a key held exactly, 'p' any key starting with it; then the number of index members to
  //       remove, those, then the members to add
  // Compare-and-set: writes only over the record read ('changed' otherwise); 'unindexed' while the
  // index is not built (the caller builds it); {'conflict', lookup number, member} when a lookup
  // finds another tenant's claim.
  tenantWrite: `
if redis.call('EXISTS', KEYS[4]) == 0 then return {'unindexed'} end
if (redis.call('GET', KEYS[1]) or '') ~= ARGV[1] then return {'changed'} end
local id, n = ARGV[3], tonumber(ARGV[4])
for i = 1, n do
  local v = ARGV[4 + 2 * i]
  local members
  if ARGV[3 + 2 * i] == 'p' then members = redis.call('ZRANGEBYLEX', KEYS[3], '[' .. v, '[' .. v .. '\\255')
  else members = redis.call('ZRANGEBYLEX', KEYS[3], '[' .. v .. '\\n', '[' .. v .. '\\n\\255') end
  for _, m in ipairs(members) do
    if string.match(m, '\\n([^\\n]*)$') ~= id then return {'conflict', tostring(i), m} end
  end
end
local at = 5 + 2 * n
local removals = tonumber(ARGV[at])
for i = at + 1, at + removals do redis.call('ZREM', KEYS[3], ARGV[i]) end
for i = at + removals + 1, #ARGV do redis.call('ZADD', KEYS[3], 0, ARGV[i]) end
redis.call('SET', KEYS[1], ARGV[2])
redis.call('SADD', KEYS[2], id)
return {'ok'}
`,

  // KEYS: tenant ids, claims index, index built, then every tenant's record key
  // ARGV: n tenants, their records as read ('' none), then every index member
  // Builds the claims index once, from the tenants as the caller read them (0: they changed meanwhile).
  tenantClaimsBuild: `
if redis.call('EXISTS', KEYS[3]) == 1 then return 1 end
local n = tonumber(ARGV[1])
if redis.call('SCARD', KEYS[1]) ~= n then return 0 end
for i = 1, n do
  if (redis.call('GET', KEYS[3 + i]) or '') ~= ARGV[1 + i] then return 0 end
end
redis.call('DEL', KEYS[2])
for i = n + 2, #ARGV do redis.call('ZADD', KEYS[2], 0, ARGV[i]) end
redis.call('SET', KEYS[3], '1')
return 1
`,

  // KEYS: audit checkpoint (hash seq, hash), audit log, then the tenant indexes of the pruned entries
  // ARGV: expected checkpoint seq, hash; new checkpoint seq, hash
  // Deletes the entries (and index rows) up to the new checkpoint and records it, only over the
  // checkpoint the caller read (compare-and-set: two prunes never interleave); 0 when it moved.
  pruneAudit: `
local cur = redis.call('HMGET', KEYS[1], 'seq', 'hash')
if (cur[1] or '0') ~= ARGV[1] or (cur[1] and cur[2] ~= ARGV[2]) then return 0 end
for i = 2, #KEYS do redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', ARGV[3]) end
redis.call('HSET', KEYS[1], 'seq', ARGV[3], 'hash', ARGV[4])
return 1
`,

  // KEYS: audit log, a tenant's index. ARGV: after seq, limit. Returns entry, seq, entry, seq, ...
  listAuditTenant: `
local seqs = redis.call('ZRANGEBYSCORE', KEYS[2], '(' .. ARGV[1], '+inf', 'LIMIT', 0, tonumber(ARGV[2]))
local out = {}
for _, s in ipairs(seqs) do
  local found = redis.call('ZRANGEBYSCORE', KEYS[1], s, s, 'WITHSCORES')
  for j = 1, #found do out[#out + 1] = found[j] end
end
return out
`,

  // KEYS: cert, old key index, new key index, old blocked-key entry, new blocked-key entry
  // ARGV: the record as read, the record with its new key hash, serial
  // Schema 2 (schema.ts): rewrites one certificate's key hash, only over the record read ({0}: it
  // changed meanwhile, e.g. another process migrated it). A key certified twice keeps its first
  // holder, returned as {1, holder}; else {1}.
  migrateKeyHash: `
if redis.call('HGET', KEYS[1], 'rec') ~= ARGV[1] then return {0} end
redis.call('HSET', KEYS[1], 'rec', ARGV[2])
if redis.call('GET', KEYS[2]) == ARGV[3] then redis.call('DEL', KEYS[2]) end
local holder = redis.call('GET', KEYS[3])
if not holder then redis.call('SET', KEYS[3], ARGV[3]) end
local blocked = redis.call('GET', KEYS[4])
if blocked then
  redis.call('SET', KEYS[5], blocked, 'NX')
  redis.call('DEL', KEYS[4])
end
if holder then return {1, holder} end
return {1}
`,

  // KEYS: schema marker. ARGV: version. The version only goes up.
  // Schema 3. KEYS: issuers, leaf-signing issuers' hierarchies. ARGV: id, the record read, the
  // record to write ('' to keep it), its hierarchy when it signs leaves ('' else). Only over the
  // record read (0: someone wrote it meanwhile, in schema 3).
  migrateIssuer: `
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then return 0 end
if ARGV[3] ~= '' then redis.call('HSET', KEYS[1], ARGV[1], ARGV[3]) end
if ARGV[4] == '' then redis.call('HDEL', KEYS[2], ARGV[1]) else redis.call('HSET', KEYS[2], ARGV[1], ARGV[4]) end
return 1
`,

  // Schema 3. KEYS: schema 2's rotation, the csms hierarchy's. ARGV: the record read, the record to
  // write, its revision. 1: moved (kept when the csms one exists), 0: gone already, -1: changed, read again.
  migrateRotation: `
local rec = redis.call('HGET', KEYS[1], 'rec')
if not rec then return 0 end
if rec ~= ARGV[1] then return -1 end
if redis.call('EXISTS', KEYS[2]) == 0 then redis.call('HSET', KEYS[2], 'rev', ARGV[3], 'rec', ARGV[2]) end
redis.call('DEL', KEYS[1])
return 1
`,

  raiseSchema: `
if tonumber(redis.call('GET', KEYS[1]) or '1') < tonumber(ARGV[1]) then redis.call('SET', KEYS[1], ARGV[1]) end
return 1
`,
} as const;
