-- Add reception candidates of synced dossiers (store/dvcqg.py), a compare-and-set
-- per dossier: its candidates are added only if its set still has the size it had
-- when it was read (sets only grow, so the same size means the same members). The
-- dossiers whose sets changed are returned, untouched, to be read and derived again.
-- ARGV: prefix, n, (dossier, expected size, k, member * k) * n
-- Returns the list of changed dossiers (empty: all added).
local n = tonumber(ARGV[2])
local p = 3
local changed = {}
for i = 1, n do
  local dossier, expected, k = ARGV[p], tonumber(ARGV[p + 1]), tonumber(ARGV[p + 2])
  local key = key_receptions(dossier)
  if redis.call('SCARD', key) ~= expected then
    changed[#changed + 1] = dossier
  else
    for j = p + 3, p + 2 + k do redis.call('SADD', key, ARGV[j]) end
  end
  p = p + 3 + k
end
return changed
