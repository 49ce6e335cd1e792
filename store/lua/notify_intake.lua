-- Take alerts in for delivery (store/notify_queue.py), once per alert id:
-- a redelivered alert (the consumer's at-least-once) changes nothing.
-- ARGV: prefix, now, keep_s, n_alerts,
--   (alert_id, digest_unit or '', alert_json, n_jobs, (job_id, job_json)*)*
-- Returns how many alerts were new.
local now = tonumber(ARGV[2])
local seen = key_notify_seen()
redis.call('ZREMRANGEBYSCORE', seen, '-inf', now - tonumber(ARGV[3]))
local p = 5
local new = 0
for i = 1, tonumber(ARGV[4]) do
  local id, unit, alert, n_jobs = ARGV[p], ARGV[p + 1], ARGV[p + 2], tonumber(ARGV[p + 3])
  p = p + 4
  local fresh = redis.call('ZADD', seen, 'NX', now, id) == 1
  if fresh then
    new = new + 1
    if unit ~= '' then
      redis.call('HSET', key_notify_digest(unit), id, alert)
      redis.call('SADD', key_notify_digest_units(), unit)
    end
    if n_jobs == 0 and unit == '' then redis.call('HINCRBY', key_notify_stats(), 'unrouted', 1) end
  end
  for j = 1, n_jobs do
    if fresh and redis.call('HSETNX', key_notify_jobs(), ARGV[p], ARGV[p + 1]) == 1 then
      redis.call('ZADD', key_notify_due(), now, ARGV[p])
    end
    p = p + 2
  end
end
return new
