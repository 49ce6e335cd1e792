-- Move one dossier between its unit's open-state sets, keep its timer entry, and
-- queue an alert the first time it enters nearing_due or overdue (the states
-- already alerted live in its open record, so a repeated transition never
-- queues a second alert). state '' = no longer open. info: what the points at
-- stake need without inflating the dossier (store/scripts.py OpenUpdate).

-- The units whose open dossiers this script call moved (the old and the new unit
-- of each dossier set). feed_units names them in the change feed, so a reader
-- that keeps a unit's open dossiers between reads (the exporter) reads them again
-- after a timer transition or a retention sweep too, not only after an apply.
local open_touched = {}

local function set_open(d, unit, state, na, score, next_at, alert, info)
  local open_key = key_open()
  local old = redis.call('HGET', open_key, d)
  local alerted = ''
  if old then
    local o = cjson.decode(old)
    open_touched[o[1]] = true
    redis.call('ZREM', key_open_set(o[1], o[2]), d)
    if o[3] == 1 then redis.call('ZREM', key_open_set(o[1], 'overdue_no_apology'), d) end
    alerted = o[4]
  end
  if state == '' then
    redis.call('HDEL', open_key, d)
  else
    open_touched[unit] = true
    redis.call('ZADD', key_open_set(unit, state), score, d)
    if na == '1' then redis.call('ZADD', key_open_set(unit, 'overdue_no_apology'), score, d) end
    if (state == 'nearing_due' or state == 'overdue') and not string.find(alerted, '|' .. state .. '|', 1, true) then
      alerted = alerted .. '|' .. state .. '|'
      redis.call('RPUSH', key_outbox(), alert)
    end
    -- the open record: store/codecs.py decode_open_record reads it
    redis.call('HSET', open_key, d, cjson.encode({unit, state, tonumber(na), alerted, info}))
  end
  if next_at ~= '' then
    redis.call('ZADD', key_timer(), next_at, d)
  else
    redis.call('ZREM', key_timer(), d)
  end
end

-- The change feed ({p}seq, {p}unit_seq): one new sequence number for this
-- script call, given to the units in ``units`` (a list) and to those set_open
-- touched. Called once, at the end of every script that calls set_open.
local function feed_units(units)
  local named = {}
  for _, u in ipairs(units) do named[u] = true end
  for u in pairs(open_touched) do named[u] = true end
  if next(named) == nil then return end
  local seq = redis.call('INCR', key_seq())
  for u in pairs(named) do redis.call('HSET', key_unit_seq(), u, seq) end
end

-- The version of a stored dossier or petition: the head of "{version}|{body}"
-- (store/codecs.py).
local function version_at(key)
  local head = redis.call('GETRANGE', key, 0, 24)
  return string.match(head, '^(%d+)|') or '0'
end

local function version_of(dossier_id)
  return version_at(key_dossier(dossier_id))
end
