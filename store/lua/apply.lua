-- Apply one batch atomically (store/writer.py). ARGV (store/scripts.py ApplyArgs):
--   prefix, applied_at,
--   n_wm, (field, expected, new)*,
--   n_records, (kind d|p, id, expected_version, blob)*,
--   n_counters, (unit, bucket, field, delta)*, n_globals, (field, delta)*,
--   n_units, unit*, n_years, year*,
--   n_open, (dossier, unit, state, no_apology, score, next_at, alert, info)*,
--   n_asof_removed, member*, n_asof_added, (score, member)*,
--   n_petitions_removed, (unit, petition)*, n_petitions_placed, (unit, petition, record)*,
--   n_procedures, procedure*,
--   n_closed, (dossier, end or '' when not closed)*,
--   n_fingerprints, (field, fingerprint)*   (store/identity.py: the record at each new watermark)
-- Returns 1, or -1 / -2 when a watermark / a record moved since it was read.
-- Sent as two arguments, the prefix and the rest as ONE msgpack array
-- (ApplyArgs.argv): unpacked here into a local ARGV with the layout above.
local ARGV = (function(prefix, packed)
  local args = {prefix}
  for i = 1, #packed do args[i + 1] = packed[i] end
  return args
end)(ARGV[1], cmsgpack.unpack(ARGV[2]))
local p = 3
local wm_key = key_watermarks()
local n_wm = tonumber(ARGV[p]); p = p + 1
local wm_at = p
for i = 1, n_wm do
  if (redis.call('HGET', wm_key, ARGV[p]) or '-1') ~= ARGV[p + 1] then return -1 end
  p = p + 3
end

local function record_key(kind, id)
  if kind == 'p' then return key_petition(id) end
  return key_dossier(id)
end

local n_r = tonumber(ARGV[p]); p = p + 1
local r_at = p
for i = 1, n_r do
  if version_at(record_key(ARGV[p], ARGV[p + 1])) ~= ARGV[p + 2] then return -2 end
  p = p + 4
end
for i = 0, n_wm - 1 do
  redis.call('HSET', wm_key, ARGV[wm_at + 3 * i], ARGV[wm_at + 3 * i + 2])
end
for i = 0, n_r - 1 do
  local at = r_at + 4 * i
  redis.call('SET', record_key(ARGV[at], ARGV[at + 1]), ARGV[at + 3])
end
local n_c = tonumber(ARGV[p]); p = p + 1
for i = 1, n_c do
  redis.call('HINCRBY', key_counters(ARGV[p], ARGV[p + 1]), ARGV[p + 2], ARGV[p + 3])
  p = p + 4
end
local n_g = tonumber(ARGV[p]); p = p + 1
for i = 1, n_g do
  redis.call('HINCRBY', key_globals(), ARGV[p], ARGV[p + 1])
  p = p + 2
end
local n_u = tonumber(ARGV[p]); p = p + 1
-- the units whose counters or petitions changed: named in the change feed at the
-- end, with those whose open dossiers moved (feed_units, set_open.lua)
local fed = {}
for i = 1, n_u do
  redis.call('SADD', key_units(), ARGV[p])
  fed[i] = ARGV[p]
  p = p + 1
end
local n_y = tonumber(ARGV[p]); p = p + 1
for i = 1, n_y do redis.call('SADD', key_years(), ARGV[p]); p = p + 1 end
local n_o = tonumber(ARGV[p]); p = p + 1
for i = 1, n_o do
  set_open(ARGV[p], ARGV[p + 1], ARGV[p + 2], ARGV[p + 3], ARGV[p + 4], ARGV[p + 5], ARGV[p + 6], ARGV[p + 7])
  p = p + 8
end
-- as-of instants: removals first, a member that moved is removed then added
local n_ar = tonumber(ARGV[p]); p = p + 1
for i = 1, n_ar do redis.call('ZREM', key_asof(), ARGV[p]); p = p + 1 end
local n_aa = tonumber(ARGV[p]); p = p + 1
for i = 1, n_aa do redis.call('ZADD', key_asof(), ARGV[p], ARGV[p + 1]); p = p + 2 end
local n_pr = tonumber(ARGV[p]); p = p + 1
for i = 1, n_pr do redis.call('HDEL', key_petitions(ARGV[p]), ARGV[p + 1]); p = p + 2 end
local n_pp = tonumber(ARGV[p]); p = p + 1
for i = 1, n_pp do redis.call('HSET', key_petitions(ARGV[p]), ARGV[p + 1], ARGV[p + 2]); p = p + 3 end
local n_proc = tonumber(ARGV[p]); p = p + 1
for i = 1, n_proc do redis.call('SADD', key_procedures_seen(), ARGV[p]); p = p + 1 end
-- closed dossiers by end instant, for the retention sweep (store/retention.py)
local n_cl = tonumber(ARGV[p]); p = p + 1
for i = 1, n_cl do
  if ARGV[p + 1] == '' then redis.call('ZREM', key_closed(), ARGV[p])
  else redis.call('ZADD', key_closed(), ARGV[p + 1], ARGV[p]) end
  p = p + 2
end
local n_fp = tonumber(ARGV[p] or '0'); p = p + 1
for i = 1, n_fp do redis.call('HSET', key_fingerprints(), ARGV[p], ARGV[p + 1]); p = p + 2 end
feed_units(fed)
redis.call('SET', key_applied_at(), ARGV[2])
return 1
