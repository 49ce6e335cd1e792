-- ARGV: prefix, unit*. Returns, for each unit in order, the records of its
-- petitions (HVALS of {p}pt:{unit}): one script call per chunk of units instead
-- of one command per unit, which redis-py's cluster pipeline routed one by one
-- (~0.15 s for 8 partitions x 1,000 units on a local Redis Cluster).
local out = {}
for i = 2, #ARGV do
  out[i - 1] = redis.call('HVALS', key_petitions(ARGV[i]))
end
return out
