-- Move one dossier between its unit's open-state sets, keep its timer entry, and
-- queue an alert the first time it enters nearing_due or overdue (the states
-- already alerted live in its open record, so a repeated transition never
-- queues a second alert). state '' = no longer open. info: what the points at
-- stake need without inflating the dossier (store/scripts.py OpenUpdate).
local function set_open(d, unit, state, na, score, next_at, alert, info)
  local open_key = key_open()
  local old = redis.call('HGET', open_key, d)
  local alerted = ''
  if old then
    local o = cjson.decode(old)
    redis.call('ZREM', key_open_set(o[1], o[2]), d)
    if o[3] == 1 then redis.call('ZREM', key_open_set(o[1], 'overdue_no_apology'), d) end
    alerted = o[4]
  end
  if state == '' then
    redis.call('HDEL', open_key, d)
  else
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

-- The version of a stored dossier or petition: the head of "{version}|{body}"
-- (store/codecs.py).
local function version_at(key)
  local head = redis.call('GETRANGE', key, 0, 24)
  return string.match(head, '^(%d+)|') or '0'
end

local function version_of(dossier_id)
  return version_at(key_dossier(dossier_id))
end
