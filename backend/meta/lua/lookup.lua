-- lookup: ARGV[A..] = dir ino, dir gen, name ('.' and '..' resolve).
-- Returns {0, child row}.  The directory is read with HMGET of what the
-- checks need: turning hashes into Lua tables cost more than the calls.
local d = redis.call('HMGET', ikey(ARGV[A]), 'gen', 't', 'm', 'u', 'g', 'p')
if not d[1] or (ARGV[A + 1] ~= '0' and d[1] ~= ARGV[A + 1]) then
  return {-E.STALE}
elseif d[2] ~= DIR then
  return {-E.NOTDIR}
end
if not permit({t = d[2], m = d[3], u = d[4], g = d[5]}, 1) then
  return {-E.ACCES}
end
local name = ARGV[A + 2]
local ino
if name == '.' then
  ino = ARGV[A]
elseif name == '..' then
  ino = d[6]
else
  local v = redis.call('HGET', P .. 'd' .. ARGV[A], name)
  if not v then
    return {-E.NOENT}
  end
  ino = string.match(v, '^%d+,(%d+),')
end
local a = row(ino)
if not a[1] then
  return {-E.NOENT}
end
return {0, a}
