-- A rebuild's start (store/identity.py StateIdentity.flush), in one step so no
-- batch is applied half before and half after it. ARGV:
--   prefix, generation, rebuilding flag JSON, counting rules, expected generation
--   ('' = any), glob*  (the derived keys to delete)
-- Returns the number of keys deleted, or -1 (nothing done) when the state is
-- not the expected generation: a worker that saw a reset log acts only on the
-- state it saw, not on one another flush already replaced.
-- The counting rules are recorded in the same step: from here on the apply
-- script refuses a batch planned with other rules (a worker still running
-- with the old ones), so no counter mixes the two.
-- The change feed is bumped for every unit first, so cached readers reload.
if ARGV[5] ~= '' and redis.call('GET', key_generation()) ~= ARGV[5] then
  return -1
end
local seq = redis.call('INCR', key_seq())
for _, unit in ipairs(redis.call('SMEMBERS', key_units())) do
  redis.call('HSET', key_unit_seq(), unit, seq)
end
local deleted = 0
for i = 6, #ARGV do
  local cursor = '0'
  repeat
    local page = redis.call('SCAN', cursor, 'MATCH', ARGV[i], 'COUNT', 1000)
    cursor = page[1]
    for _, key in ipairs(page[2]) do
      redis.call('UNLINK', key)
      deleted = deleted + 1
    end
  until cursor == '0'
end
redis.call('SET', key_generation(), ARGV[2])
redis.call('DEL', key_halted())
redis.call('SET', key_rebuilding(), ARGV[3])
redis.call('SET', key_rules(), ARGV[4])
return deleted
