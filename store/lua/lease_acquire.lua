-- Take a free lease or renew our own (streams/alerts.py). ARGV: prefix, token, ttl_ms.
-- Returns 2 when newly taken, 1 when renewed, 0 when someone else holds it.
local lease = key_publisher()
local cur = redis.call('GET', lease)
if cur == false or cur == ARGV[2] then
  redis.call('SET', lease, ARGV[2], 'PX', ARGV[3])
  return cur == ARGV[2] and 1 or 2
end
return 0
