-- A rebuild's start (store/identity.py StateIdentity.flush), in one step so no
-- batch is applied half before and half after it. ARGV:
--   prefix, generation, rebuilding flag JSON, glob*  (the derived keys to delete)
-- The change feed is bumped for every unit first, so cached readers reload.
local seq = redis.call('INCR', key_seq())
for _, unit in ipairs(redis.call('SMEMBERS', key_units())) do
  redis.call('HSET', key_unit_seq(), unit, seq)
end
local deleted = 0
for i = 4, #ARGV do
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
return deleted
