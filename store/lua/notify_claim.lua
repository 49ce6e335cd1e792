-- Claim the deliveries whose attempt is due (store/notify_queue.py): each is
-- pushed forward by the claim timeout, so that if this process dies mid-send
-- another attempt comes when the timeout passes (at-least-once).
-- ARGV: prefix, now, claim_s, max. Returns (id, job_json, failed_attempts)*.
local due = key_notify_due()
local now = tonumber(ARGV[2])
local out = {}
for _, id in ipairs(redis.call('ZRANGEBYSCORE', due, '-inf', now, 'LIMIT', 0, tonumber(ARGV[4]))) do
  local job = redis.call('HGET', key_notify_jobs(), id)
  if job then
    redis.call('ZADD', due, now + tonumber(ARGV[3]), id)
    out[#out + 1] = id
    out[#out + 1] = job
    out[#out + 1] = redis.call('HGET', key_notify_tries(), id) or '0'
  else
    redis.call('ZREM', due, id)
  end
end
return out
