-- ARGV: prefix, n_states, state*, unit*. Returns a flat list: for each open
-- dossier of those units in those states, its id, its score (the effective due)
-- and its open record (false when there is none). One script call per chunk of
-- units instead of a ZRANGE per unit and state and an HMGET per 1,000 dossiers,
-- which redis-py's cluster pipeline routed command by command.
local n_s = tonumber(ARGV[2])
local open_key = key_open()
-- The records are read with one HMGET per open set (in slices: unpack's
-- arguments are bounded by Lua's C stack), not one HGET per dossier: each
-- redis.call costs more than the field it reads. Counters, not #t, index the
-- tables: # is a search on every call.
local SLICE = 1000
local out, o = {}, 0
for u = 3 + n_s, #ARGV do
  for s = 1, n_s do
    local got = redis.call('ZRANGE', key_open_set(ARGV[u], ARGV[2 + s]), 0, -1, 'WITHSCORES')
    local n = #got / 2
    for first = 1, n, SLICE do
      local last = math.min(n, first + SLICE - 1)
      local ids = {}
      for i = first, last do
        ids[i - first + 1] = got[2 * i - 1]
      end
      local records = redis.call('HMGET', open_key, unpack(ids))
      for i = first, last do
        out[o + 1] = got[2 * i - 1]
        out[o + 2] = got[2 * i]
        out[o + 3] = records[i - first + 1]
        o = o + 3
      end
    end
  end
end
return out
