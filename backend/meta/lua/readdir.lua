-- readdir: ARGV[A..] = dir ino, dir gen, cookie, cookie verifier, max
-- entries.  The entries are those with SEQ > cookie - 2 in SEQ order
-- (FORMAT.md section 5).  Returns {0, dir row, eof, names, records, cv}:
-- names joined by NUL bytes (a name holds none) and their "TYPE,INO,GEN,SEQ"
-- records joined by spaces, in the same order.  Two strings instead of two
-- arrays: each reply element cost Redis about 1.5k instructions (a third
-- of the script) and the client an allocation.  The caller asks for no more entries than it can use, so none is
-- read only to be dropped.  Readdirplus attributes are not read here: an
-- HMGET from Lua costs about twice the same HMGET pipelined by the client
-- (meta_readdir.c), and they need not be atomic with the listing.
local d = redis.call('HMGET', ikey(ARGV[A]), 'i', 't', 'm', 'u', 'g', 'n', 's', 'as', 'an', 'ms', 'mn', 'cs', 'cn',
  'ch', 'p', 'gen', 'sq', 'cv')
if not d[1] or (ARGV[A + 1] ~= '0' and d[16] ~= ARGV[A + 1]) then
  return {-E.STALE}
elseif d[2] ~= DIR then
  return {-E.NOTDIR}
end
if not permit({t = d[2], m = d[3], u = d[4], g = d[5]}, 4) then
  return {-E.ACCES}
end
local cv = d[18]
d[18] = nil -- the row stops at sq
local cookie = tonumber(ARGV[A + 2])
-- verifier 0 means "none" (some clients never echo it); any other must match
if cookie ~= 0 and ARGV[A + 3] ~= '0' and ARGV[A + 3] ~= cv then
  return {-E.BADCOOKIE}
end
local limit = tonumber(ARGV[A + 4])
local from = cookie > 2 and cookie - 2 or 0
local names = redis.call('ZRANGEBYSCORE', P .. 'z' .. ARGV[A], '(' .. S(from), '+inf', 'LIMIT', 0, limit)
local recs = ''
if #names > 0 then
  -- one read for all records: the hash and the sorted set hold the same
  -- names, so none is absent unless the directory is damaged (then the
  -- concat fails: the client gets an error, as for a bad record)
  recs = table.concat(redis.call('HMGET', P .. 'd' .. ARGV[A], unpack(names)), ' ')
end
return {0, d, #names < limit and 1 or 0, table.concat(names, '\0'), recs, cv}
