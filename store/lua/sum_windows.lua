-- Sum counter buckets inside Redis, so that only per-window totals cross the
-- network (parsing one small hash reply costs redis-py ~45 us: for a 1,000-unit
-- scrape that alone was seconds). ARGV: prefix, n_windows, n_buckets,
-- (bucket, n_windows_in, window index*)*, unit*. Returns per unit a JSON list,
-- per window, of {field: total}.
local n_w = tonumber(ARGV[2])
local n_b = tonumber(ARGV[3])
local p = 4
local plan = {}
for i = 1, n_b do
  local bucket = ARGV[p]; local n = tonumber(ARGV[p + 1]); p = p + 2
  local ws = {}
  for j = 1, n do ws[j] = tonumber(ARGV[p]) + 1; p = p + 1 end
  plan[i] = {bucket, ws}
end
local out = {}
for u = p, #ARGV do
  local sums = {}
  for w = 1, n_w do sums[w] = {} end
  for i = 1, n_b do
    local h = redis.call('HGETALL', key_counters(ARGV[u], plan[i][1]))
    if #h > 0 then
      local ws = plan[i][2]
      for f = 1, #h, 2 do
        local v = tonumber(h[f + 1])
        for _, w in ipairs(ws) do
          local t = sums[w]
          t[h[f]] = (t[h[f]] or 0) + v
        end
      end
    end
  end
  out[#out + 1] = cjson.encode(sums)
end
return out
