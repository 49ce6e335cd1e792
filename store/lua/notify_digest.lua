-- One digest run (store/notify_queue.py): each unit's waiting alerts become one
-- digest delivery, and the next run is set, only if no other process ran it
-- first (compare-and-set on the next run's instant).
-- ARGV: prefix, expected_next ('' when unset), next, now, n_units, (unit, job_id, job_json or '')*
-- job_json ends with "items":[]} and the waiting alerts are put inside those
-- brackets; '' drops the unit's waiting alerts (it has no digest recipient).
local next_key = key_notify_digest_next()
if (redis.call('GET', next_key) or '') ~= ARGV[2] then return -1 end
local p = 6
local made = 0
for i = 1, tonumber(ARGV[5]) do
  local unit, id, template = ARGV[p], ARGV[p + 1], ARGV[p + 2]
  p = p + 3
  local key = key_notify_digest(unit)
  local waiting = redis.call('HVALS', key)
  if template ~= '' and #waiting > 0 then
    local job = string.sub(template, 1, #template - 2) .. table.concat(waiting, ',') .. ']}'
    if redis.call('HSETNX', key_notify_jobs(), id, job) == 1 then
      redis.call('ZADD', key_notify_due(), ARGV[4], id)
      made = made + 1
    end
  end
  redis.call('DEL', key)
  redis.call('SREM', key_notify_digest_units(), unit)
end
redis.call('SET', next_key, ARGV[3])
return made
