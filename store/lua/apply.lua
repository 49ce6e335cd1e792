-- Apply one batch atomically (store/writer.py). ARGV (store/scripts.py ApplyArgs):
--   prefix, applied_at, counting rules (CountingRules.fingerprint),
--   n_wm, (field, expected, new)*,
--   n_records, (kind d|p, id, expected_version, blob)*,
--   n_cell_groups, (unit, day, n_fields, (field, delta)*)*, n_globals, (field, delta)*,
--   n_units, unit*, n_years, year*,
--   n_open, (dossier, unit, state, no_apology, score, next_at, alert, info)*,
--   n_asof_removed, member*, n_asof_added, (score, member)*,
--   n_petitions_removed, (unit, petition)*, n_petitions_placed, (unit, petition, record)*,
--   n_procedures, procedure*,
--   n_closed, (dossier, end or '' when not closed)*,
--   n_closed_petitions, (petition, first answer or '' when unanswered)*,
--   n_fingerprints, (field, fingerprint)*   (store/identity.py: the record at each new watermark)
-- Returns 1, or -1 / -2 when a watermark / a record moved since it was read,
-- or -3 when the state is counted with other rules (store/layout.py check_rules).
-- Sent as two arguments, the prefix and the rest as ONE msgpack array
-- (ApplyArgs.argv): unpacked here into a local ARGV with the layout above.
local ARGV = (function(prefix, packed)
  local args = {prefix}
  for i = 1, #packed do args[i + 1] = packed[i] end
  return args
end)(ARGV[1], cmsgpack.unpack(ARGV[2]))
-- The rules the state is counted with (state:rules; on a Redis Cluster the
-- partition's own copy, in its slot): recorded by the first write if absent,
-- and a batch planned with other ones writes nothing. A worker started with
-- other rules refuses to start; this catches one that was already running
-- when `chiso rebuild` recorded new ones.
local rules_key = key_rules()
local rules = redis.call('GET', rules_key)
if rules and rules ~= ARGV[3] then return -3 end
local p = 4
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
if not rules then redis.call('SET', rules_key, ARGV[3]) end
for i = 0, n_wm - 1 do
  redis.call('HSET', wm_key, ARGV[wm_at + 3 * i], ARGV[wm_at + 3 * i + 2])
end
for i = 0, n_r - 1 do
  local at = r_at + 4 * i
  redis.call('SET', record_key(ARGV[at], ARGV[at + 1]), ARGV[at + 3])
end
-- Cells: each (unit, day, field, delta) is counted in its day and month
-- buckets, the field renamed exactly as processors/windows.py bucket_field
-- does: an as-of field 'name@D' (the LAST '@') becomes 'name' in a month
-- bucket whose last date is not before D, and keeps its '@D' otherwise
-- and in the day bucket (tests/integration/test_apply_buckets.py compares the
-- two on generated cells).
local MONTH_DAYS = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31}
local function month_end(day)  -- 'YYYY-MM-DD' -> the last date of its month
  local y, m = tonumber(day:sub(1, 4)), tonumber(day:sub(6, 7))
  local last = MONTH_DAYS[m]
  if m == 2 and y % 4 == 0 and (y % 100 ~= 0 or y % 400 == 0) then last = 29 end
  return day:sub(1, 8) .. (last < 10 and '0' or '') .. last
end
-- a > b as Python compares str: byte by byte (UTF-8 keeps code point order).
-- Not Lua's '>', which is strcoll and so follows redis-server's locale.
local function after(a, b)
  local n = #a
  if #b < n then n = #b end
  for i = 1, n do
    local x, y = a:byte(i), b:byte(i)
    if x ~= y then return x > y end
  end
  return #a > #b
end
local function bucket_field(field, last)
  if not field:find('@', 1, true) then return field end
  local name, d = field:match('^(.*)@([^@]*)$')
  if after(d, last) then return field end
  return name
end
-- A field that comes back to 0 is deleted (and with the last one its hash):
-- absent reads as 0 everywhere, and the stored fields are then the same
-- whichever batches a dossier's events came in (a retraction in a later batch
-- used to leave a 0 behind: 7% of the day fields, 13% of the month fields on
-- time-ordered input).
local function count(key, field, delta)
  if redis.call('HINCRBY', key, field, delta) == 0 then redis.call('HDEL', key, field) end
end
local n_cg = tonumber(ARGV[p]); p = p + 1
for i = 1, n_cg do
  local unit, day, n_f = ARGV[p], ARGV[p + 1], tonumber(ARGV[p + 2]); p = p + 3
  local day_key, month_key = key_counters(unit, day), key_counters(unit, day:sub(1, 7))
  local month_last = month_end(day)
  for j = 1, n_f do
    local field, delta = ARGV[p], ARGV[p + 1]; p = p + 2
    count(day_key, field, delta)
    count(month_key, bucket_field(field, month_last), delta)
  end
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
-- closed dossiers by end instant, then answered petitions by their first
-- answer, for the retention sweep (store/retention.py)
for _, closed in ipairs({key_closed(), key_closed_petitions()}) do
  local n_cl = tonumber(ARGV[p]); p = p + 1
  for i = 1, n_cl do
    if ARGV[p + 1] == '' then redis.call('ZREM', closed, ARGV[p])
    else redis.call('ZADD', closed, ARGV[p + 1], ARGV[p]) end
    p = p + 2
  end
end
local n_fp = tonumber(ARGV[p] or '0'); p = p + 1
for i = 1, n_fp do redis.call('HSET', key_fingerprints(), ARGV[p], ARGV[p + 1]); p = p + 2 end
feed_units(fed)
redis.call('SET', key_applied_at(), ARGV[2])
return 1
