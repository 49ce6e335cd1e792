-- ARGV: prefix, n_states, state*, unit*. Returns a flat list: for each open
-- dossier of those units in those states, its id, its score (the effective due)
-- and its open record (false when there is none). One script call per chunk of
-- units instead of a ZRANGE per unit and state and an HMGET per 1,000 dossiers,
-- which redis-py's cluster pipeline routed command by command.
local n_s = tonumber(ARGV[2])
local open_key = key_open()
local out = {}
for u = 3 + n_s, #ARGV do
  for s = 1, n_s do
    local got = redis.call('ZRANGE', key_open_set(ARGV[u], ARGV[2 + s]), 0, -1, 'WITHSCORES')
    for i = 1, #got, 2 do
      out[#out + 1] = got[i]
      out[#out + 1] = got[i + 1]
      out[#out + 1] = redis.call('HGET', open_key, got[i])
    end
  end
end
return out
