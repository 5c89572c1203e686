-- readdir: ARGV[A..] = dir ino, dir gen, cookie, cookie verifier, plus
-- ('1' = with attrs), max entries.  Entries are those with seq > cookie - 2.
-- Returns {0, dir attrs, eof, {name, record, ...}, {attrs, ...}}.
local dir, e = get_dir(ARGV[A], ARGV[A + 1])
if not dir then
  return {e}
end
if not may(dir, 4) then
  return {-E.ACCES}
end
local cookie = tonumber(ARGV[A + 2])
-- verifier 0 means "none" (some clients never echo it); any other must match
if cookie ~= 0 and ARGV[A + 3] ~= '0' and ARGV[A + 3] ~= dir.cv then
  return {-E.BADCOOKIE}
end
local limit = tonumber(ARGV[A + 5])
local from = cookie > 2 and cookie - 2 or 0
local names = redis.call('ZRANGEBYSCORE', P .. 'z' .. dir.i, '(' .. S(from), '+inf', 'LIMIT', 0, limit)
local ents, attrs = {}, {}
for _, name in ipairs(names) do
  local rec = redis.call('HGET', P .. 'd' .. dir.i, name)
  if rec then
    ents[#ents + 1] = name
    ents[#ents + 1] = rec
    if ARGV[A + 4] == '1' then
      local ino = string.match(rec, '^%d+,(%d+),')
      attrs[#attrs + 1] = redis.call('HGETALL', ikey(ino))
    end
  end
end
return {0, flat(dir), #names < limit and 1 or 0, ents, attrs}
