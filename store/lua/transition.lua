-- Move dossiers whose state changed with time (store/timer.py). ARGV: prefix, n,
-- (expected_version, dossier, unit, state, no_apology, score, next_at, alert, info)*.
-- A dossier whose version moved since it was read is skipped (the apply that
-- moved it already set its state); returns how many were transitioned.
local n = tonumber(ARGV[2])
local done = 0
local p = 3
for i = 1, n do
  if version_of(ARGV[p + 1]) == ARGV[p] then
    set_open(ARGV[p + 1], ARGV[p + 2], ARGV[p + 3], ARGV[p + 4], ARGV[p + 5], ARGV[p + 6], ARGV[p + 7], ARGV[p + 8])
    done = done + 1
  end
  p = p + 9
end
feed_units({})
return done
