-- Drop published alerts from the outbox and record the topic positions, only
-- while still holding the lease (streams/alerts.py).
-- ARGV: prefix, token, n_published, n_pos, (partition, offset)*, n_states, state*
if redis.call('GET', key_publisher()) ~= ARGV[2] then return 0 end
redis.call('LTRIM', key_outbox(), tonumber(ARGV[3]), -1)
local p = 4
local n_pos = tonumber(ARGV[p]); p = p + 1
for i = 1, n_pos do
  redis.call('HSET', key_alerts_pos(), ARGV[p], ARGV[p + 1]); p = p + 2
end
local n_s = tonumber(ARGV[p]); p = p + 1
for i = 1, n_s do redis.call('HINCRBY', key_globals(), 'alerts:' .. ARGV[p], 1); p = p + 1 end
return 1
