-- The retention sweep (store/retention.py): the dossiers (ARGV[7] = 'd') that
-- ended, or the petitions ('p') first answered, at or before ARGV[2] (unix
-- time) lose their snapshot, replaced by a tombstone '0|' that expires after
-- ARGV[3] ms (0: never), and leave their closed set. Whatever else a dossier
-- may still hold is dropped with it (an open record, a timer entry, the
-- portal's reception candidates); a petition keeps the record in its unit's
-- hash (the petition indicators read it); the counters are never touched.
-- A snapshot read or written less than ARGV[4] seconds ago (OBJECT IDLETIME: a
-- replay of history is still feeding it) is left for a later run.
-- ARGV: prefix, cutoff, tombstone_ms, grace_s, offset, limit, kind.
-- Returns {swept, scanned}. Idempotent: a swept record has left the closed set.
local dossiers = ARGV[7] ~= 'p'
local closed = dossiers and key_closed() or key_closed_petitions()
local ids = redis.call('ZRANGEBYSCORE', closed, '-inf', ARGV[2], 'LIMIT', tonumber(ARGV[5]), tonumber(ARGV[6]))
local ttl = tonumber(ARGV[3])
local grace = tonumber(ARGV[4])
local swept = 0
for _, d in ipairs(ids) do
  local key = dossiers and key_dossier(d) or key_petition(d)
  local busy = false
  if grace > 0 then
    local ok, idle = pcall(redis.call, 'OBJECT', 'IDLETIME', key)
    busy = ok and idle ~= false and idle ~= nil and idle < grace
  end
  if not busy then
    if ttl > 0 then
      redis.call('SET', key, '0|', 'PX', ttl)
    else
      redis.call('SET', key, '0|')
    end
    if dossiers then
      set_open(d, '', '', '0', '0', '', '', '')
      redis.call('DEL', key_receptions(d))
    end
    redis.call('ZREM', closed, d)
    swept = swept + 1
  end
end
feed_units({})
return {swept, #ids}
