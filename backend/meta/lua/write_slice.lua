-- write_slice: ARGV[A..] = ino, gen, chunk index, 24-byte record, new size
-- minimum.  Appends the record, raises the size, sets mtime/ctime.  Returns
-- {0, pre, attrs, nrecords}.  A slice for a dead inode or a non-file can
-- never be committed: it is queued for deletion here and the writer drops
-- it.  FBIG and NOSPC queue nothing: the writer owns the slice then (it
-- retries NOSPC, which may clear, and deletes the objects of what it drops).
local rec = ARGV[A + 3]
local a = hash(ikey(ARGV[A]))
local function drop(err)
  queue_records(rec, {})
  return {err}
end
if not a or (ARGV[A + 1] ~= '0' and a.gen ~= ARGV[A + 1]) then
  return drop(-E.STALE)
end
if a.t ~= REG then
  return drop(-E.INVAL)
end
local idx = tonumber(ARGV[A + 2])
local pos, _, _, _, _, len = struct.unpack('>I4I4I4I4I4I4', rec)
local old = tonumber(a.s)
local size = math.max(old, tonumber(ARGV[A + 4]), idx * CHUNK + pos + len)
if size > MAX_SIZE then
  return {-E.FBIG}
end
local grow = align4k(size) - align4k(old)
local cap = setting('capacity_bytes')
if cap > 0 and grow > 0 and tonumber(redis.call('GET', P .. 'usedspace') or '0') + grow > cap then
  return {-E.NOSPC}
end
local a_pre = pre(a)
local n = redis.call('APPEND', chunk_key(a.i, idx), rec) / 24
if n == 1 then -- a new chunk list: index it (see drop_chunks)
  redis.call('ZADD', P .. 'k' .. a.i, idx, S(idx))
end
if grow ~= 0 then
  redis.call('INCRBY', P .. 'usedspace', S(grow))
end
a.s = S(size)
touch(a, 'm', 's')
return {0, a_pre, flat(a), n}
