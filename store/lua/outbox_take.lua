-- Take the head of the alert outbox for publication, keeping only alerts that
-- are still true (streams/alerts.py), and only while holding the lease.
-- ARGV: prefix, token, want, scan_max.
-- An entry whose dossier is no longer open in the alerted state is dropped
-- (counted as alerts_suppressed:{state}) and the state's "alerted" mark is
-- taken off the dossier's open record, so that entering that state again
-- queues a new alert. Returns the kept entries: they are then the head of the
-- outbox, in order, so outbox_commit.lua can trim exactly them.
if redis.call('GET', key_publisher()) ~= ARGV[2] then return {} end
local want = tonumber(ARGV[3])
local entries = redis.call('LRANGE', key_outbox(), 0, tonumber(ARGV[4]) - 1)
local open_key = key_open()
local kept = {}
for _, entry in ipairs(entries) do
  if #kept >= want then break end
  local alert = cjson.decode(entry)
  local raw = redis.call('HGET', open_key, alert['dossier_id'])
  local record = raw and cjson.decode(raw)
  if record and record[2] == alert['state'] then
    kept[#kept + 1] = entry
  else
    redis.call('LREM', key_outbox(), 1, entry)
    redis.call('HINCRBY', key_globals(), 'alerts_suppressed:' .. alert['state'], 1)
    if record then
      local mark = '|' .. alert['state'] .. '|'
      local at = string.find(record[4], mark, 1, true)
      if at then
        record[4] = string.sub(record[4], 1, at - 1) .. string.sub(record[4], at + #mark)
        redis.call('HSET', open_key, alert['dossier_id'], cjson.encode(record))
      end
    end
  end
end
return kept
