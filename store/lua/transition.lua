-- Move dossiers whose state changed with time (store/timer.py). ARGV: prefix,
-- counting rules (CountingRules.fingerprint), n,
-- (expected_version, dossier, unit, state, no_apology, score, next_at, alert, info)*.
-- A dossier whose version moved since it was read is skipped (the apply that
-- moved it already set its state); returns how many were transitioned, or -3
-- (writing nothing) when the state is counted with other rules: the states were
-- computed with this worker's rules, and `chiso rebuild` recorded new ones
-- (apply.lua refuses the same way). No rules recorded: nothing was applied yet.
local rules = redis.call('GET', key_rules())
if rules and rules ~= ARGV[2] then return -3 end
local n = tonumber(ARGV[3])
local done = 0
local p = 4
for i = 1, n do
  if version_of(ARGV[p + 1]) == ARGV[p] then
    set_open(ARGV[p + 1], ARGV[p + 2], ARGV[p + 3], ARGV[p + 4], ARGV[p + 5], ARGV[p + 6], ARGV[p + 7], ARGV[p + 8])
    done = done + 1
  end
  p = p + 9
end
feed_units({})
return done
