-- ARGV: prefix, n_states, state*, unit*. Returns JSON {unit: [count per state]}:
-- one reply instead of units x states (5,000 ZCARD replies cost ~0.3 s to parse).
local n_s = tonumber(ARGV[2])
local out = {}
for u = 3 + n_s, #ARGV do
  local counts = {}
  for s = 1, n_s do
    counts[s] = redis.call('ZCARD', key_open_set(ARGV[u], ARGV[2 + s]))
  end
  out[ARGV[u]] = counts
end
return cjson.encode(out)
