-- Sum counter buckets inside Redis, so that only per-window totals cross the
-- network (parsing one small hash reply costs redis-py ~45 us: for a 1,000-unit
-- scrape that alone was seconds). ARGV: prefix, n_windows, cutoff*, n_buckets,
-- (bucket, n_windows_in, window index*)*, unit*. Returns per unit a JSON list,
-- per window, of {field: total}.
-- An as-of field "name@YYYY-MM-DD" (processors/measures.py) counts under "name"
-- when its date is at or before the window's cutoff, and not at all after it
-- (processors/asof.py reduce_fields is the same rule in Python).
local n_w = tonumber(ARGV[2])
local cutoffs = {}
for w = 1, n_w do cutoffs[w] = ARGV[2 + w] end
local p = 3 + n_w
local n_b = tonumber(ARGV[p]); p = p + 1
local plan = {}
for i = 1, n_b do
  local bucket = ARGV[p]; local n = tonumber(ARGV[p + 1]); p = p + 2
  local ws = {}
  for j = 1, n do ws[j] = tonumber(ARGV[p]) + 1; p = p + 1 end
  plan[i] = {bucket, ws}
end
-- A field's name and date, parsed once per call: fields repeat across units.
local parsed = {}
local function parse(field)
  local got = parsed[field]
  if got == nil then
    local name, day = string.match(field, '^(.*)@(%d%d%d%d%-%d%d%-%d%d)$')
    got = name and {name, day} or false
    parsed[field] = got
  end
  return got
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
        local field = h[f]
        local v = tonumber(h[f + 1])
        local asof = parse(field)
        for _, w in ipairs(ws) do
          local t = sums[w]
          if not asof then
            t[field] = (t[field] or 0) + v
          elseif asof[2] <= cutoffs[w] then
            t[asof[1]] = (t[asof[1]] or 0) + v
          end
        end
      end
    end
  end
  out[#out + 1] = cjson.encode(sums)
end
return out
