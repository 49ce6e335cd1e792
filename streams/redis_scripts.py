"""The Lua scripts that make each write atomic (layout: chiso/redis_keys.py).

``set_open`` moves one dossier between the per-unit open-state sets, keeps its
timer entry, and queues an alert in the outbox the first time the dossier enters
nearing_due or overdue (the states already alerted are kept in its open record,
so a retried or repeated transition never queues a second alert).
"""

SET_OPEN = r"""
local function set_open(prefix, d, unit, state, na, score, next_at, alert)
  local open_key = prefix .. 'open'
  local old = redis.call('HGET', open_key, d)
  local alerted = ''
  if old then
    local o = cjson.decode(old)
    redis.call('ZREM', prefix .. 'o:' .. o[1] .. ':' .. o[2], d)
    if o[3] == 1 then redis.call('ZREM', prefix .. 'o:' .. o[1] .. ':overdue_no_apology', d) end
    alerted = o[4]
  end
  if state == '' then
    redis.call('HDEL', open_key, d)
  else
    redis.call('ZADD', prefix .. 'o:' .. unit .. ':' .. state, score, d)
    if na == '1' then redis.call('ZADD', prefix .. 'o:' .. unit .. ':overdue_no_apology', score, d) end
    if (state == 'nearing_due' or state == 'overdue') and not string.find(alerted, '|' .. state .. '|', 1, true) then
      alerted = alerted .. '|' .. state .. '|'
      redis.call('RPUSH', prefix .. 'outbox', alert)
    end
    redis.call('HSET', open_key, d, cjson.encode({unit, state, tonumber(na), alerted}))
  end
  if next_at ~= '' then
    redis.call('ZADD', prefix .. 'timer', next_at, d)
  else
    redis.call('ZREM', prefix .. 'timer', d)
  end
end

local function version_of(key)
  local head = redis.call('GETRANGE', key, 0, 24)
  return string.match(head, '^(%d+)|') or '0'
end
"""

# ARGV: globals-key, wm-key, units-key, years-key, applied-at-key, now, prefix,
#   n_wm, (field, expected, new)*, n_dossiers, (key, expected_version, blob)*,
#   n_incr, (key, field, delta)*, n_units, unit*, n_years, year*,
#   n_open, (dossier, unit, state, no_apology, score, next_at, alert)*
APPLY = SET_OPEN + r"""
local p = 8
local wm_key = ARGV[2]
local n_wm = tonumber(ARGV[p]); p = p + 1
local wm_at = p
for i = 1, n_wm do
  if (redis.call('HGET', wm_key, ARGV[p]) or '-1') ~= ARGV[p + 1] then return -1 end
  p = p + 3
end
local n_d = tonumber(ARGV[p]); p = p + 1
local d_at = p
for i = 1, n_d do
  if version_of(ARGV[p]) ~= ARGV[p + 1] then return -2 end
  p = p + 3
end
for i = 0, n_wm - 1 do
  redis.call('HSET', wm_key, ARGV[wm_at + 3 * i], ARGV[wm_at + 3 * i + 2])
end
for i = 0, n_d - 1 do
  redis.call('SET', ARGV[d_at + 3 * i], ARGV[d_at + 3 * i + 2])
end
local n_i = tonumber(ARGV[p]); p = p + 1
for i = 1, n_i do
  redis.call('HINCRBY', ARGV[p], ARGV[p + 1], ARGV[p + 2])
  p = p + 3
end
local n_u = tonumber(ARGV[p]); p = p + 1
if n_u > 0 then
  -- change feed for readers that cache per unit (the exporter): which units
  -- changed after which sequence number
  local seq = redis.call('INCR', ARGV[7] .. 'seq')
  for i = 1, n_u do
    redis.call('SADD', ARGV[3], ARGV[p])
    redis.call('HSET', ARGV[7] .. 'unit_seq', ARGV[p], seq)
    p = p + 1
  end
end
local n_y = tonumber(ARGV[p]); p = p + 1
for i = 1, n_y do redis.call('SADD', ARGV[4], ARGV[p]); p = p + 1 end
local n_o = tonumber(ARGV[p]); p = p + 1
for i = 1, n_o do
  set_open(ARGV[7], ARGV[p], ARGV[p + 1], ARGV[p + 2], ARGV[p + 3], ARGV[p + 4], ARGV[p + 5], ARGV[p + 6])
  p = p + 7
end
redis.call('SET', ARGV[5], ARGV[6])
return 1
"""

# ARGV: prefix, n, (dossier-key, expected_version, dossier, unit, state, no_apology, score, next_at, alert)*
# A dossier whose version moved since it was read is skipped (the apply that
# moved it already set its state); returns how many were transitioned.
TRANSITION = SET_OPEN + r"""
local n = tonumber(ARGV[2])
local done = 0
local p = 3
for i = 1, n do
  if version_of(ARGV[p]) == ARGV[p + 1] then
    set_open(ARGV[1], ARGV[p + 2], ARGV[p + 3], ARGV[p + 4], ARGV[p + 5], ARGV[p + 6], ARGV[p + 7], ARGV[p + 8])
    done = done + 1
  end
  p = p + 9
end
return done
"""
