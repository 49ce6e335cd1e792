-- The outcome of one delivery attempt (store/notify_queue.py).
-- ARGV: prefix, id, outcome (sent | retry | failed), channel, retries, next_at, error
-- retries: failed attempts that were (or will be) tried again, for the counters.
-- A delivery already settled (by another process after a claim timeout) is left alone.
local id = ARGV[2]
local jobs = key_notify_jobs()
local job = redis.call('HGET', jobs, id)
if not job then return 0 end
local stats = key_notify_stats()
if tonumber(ARGV[5]) > 0 then redis.call('HINCRBY', stats, 'retries:' .. ARGV[4], ARGV[5]) end
if ARGV[3] == 'retry' then
  redis.call('ZADD', key_notify_due(), ARGV[6], id)
  redis.call('HINCRBY', key_notify_tries(), id, 1)
  return 1
end
if ARGV[3] == 'failed' then
  redis.call('HSET', key_notify_dead(), id, cjson.encode({job = job, error = ARGV[7]}))
end
redis.call('HINCRBY', stats, ARGV[3] .. ':' .. ARGV[4], 1)
redis.call('HDEL', jobs, id)
redis.call('HDEL', key_notify_tries(), id)
redis.call('ZREM', key_notify_due(), id)
return 1
