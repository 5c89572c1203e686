-- clone: ARGV[A..] = source ino, gen, destination ino, gen, source offset,
-- destination offset, count (0 = to the source's end).  Makes bytes
-- [dst, dst+n) of the destination read what [src, src+n) of the source
-- reads, n = count cut at the source's end, by copying slice records: no
-- object is read or written (NFSv4.2 CLONE and COPY, FICLONERANGE).
--   1. every destination chunk list the range meets gets a hole record
--      over its part of the range, so that what the source has as holes
--      reads as zeros there;
--   2. the source's records meeting the range are appended, in their own
--      order (newest wins, as in the source), clipped to the range,
--      moved by dst - src and split where they cross a chunk boundary;
--   3. a slice that enters a chunk list that did not hold it gains one
--      reference in P sliceref (queue_records gives them back).
-- Read permission on the source and write permission on the destination
-- as for READ and WRITE; set-id bits of the destination drop as for a
-- write.  Overlapping ranges of one file: INVAL.  Returns {0, pre, attrs, n}.
local s, e = get_inode(ARGV[A], ARGV[A + 1])
if not s then
  return {e}
end
local d
d, e = get_inode(ARGV[A + 2], ARGV[A + 3])
if not d then
  return {e}
end
if s.t == DIR or d.t == DIR then
  return {-E.ISDIR}
elseif s.t ~= REG or d.t ~= REG then
  return {-E.INVAL}
end
if not permit(s, 4 + MAY_OWNER_OVERRIDE) or not permit(d, 2 + MAY_OWNER_OVERRIDE) then
  return {-E.ACCES}
end
local src, dst, count = tonumber(ARGV[A + 4]), tonumber(ARGV[A + 5]), tonumber(ARGV[A + 6])
local ssize = tonumber(s.s)
local n = math.max(0, ssize - src)
if count > 0 and count < n then
  n = count
end
local d_pre = pre(d)
if n == 0 then
  return {0, d_pre, flat(d), '0'}
end
if s.i == d.i and src < dst + n and dst < src + n then
  return {-E.INVAL}
end
local dend = dst + n
if dend > MAX_SIZE then
  return {-E.FBIG}
end
local old = tonumber(d.s)
local size = math.max(old, dend)
local grow = align4k(size) - align4k(old)
local cap = setting('capacity_bytes')
if cap > 0 and grow > 0 and tonumber(redis.call('GET', P .. 'usedspace') or '0') + grow > cap then
  return {-E.NOSPC}
end

-- Shared slices need every gateway to count references: a gatefs from
-- before clones refuses a volume of version 2.
if setting('version') < 2 then
  redis.call('HSET', KEYS[1], 'version', '2')
end

-- 1. hole records over the destination range
hole_records(d, dst, dend)

-- 2 and 3: the source's records, moved
local held = {} -- destination chunk index -> members its list held before step 2
local function members_of(idx)
  local m = held[idx]
  if not m then
    m = {}
    local data = redis.call('GET', chunk_key(d.i, idx)) or ''
    for off = 1, #data - 23, 24 do
      m[string.sub(data, off + 4, off + 15)] = true
    end
    held[idx] = m
  end
  return m
end
local function put(fpos, hi, lo, ssz, soff, len)
  while len > 0 do
    local idx = math.floor(fpos / CHUNK)
    local pos = fpos - idx * CHUNK
    local take = math.min(len, CHUNK - pos)
    if hi ~= 0 or lo ~= 0 then
      local m = members_of(idx)
      local member = struct.pack('>I4I4I4', hi, lo, ssz)
      if not m[member] then
        m[member] = true
        redis.call('HINCRBY', P .. 'sliceref', member, 1)
      end
    end
    local k = chunk_key(d.i, idx)
    if redis.call('APPEND', k, struct.pack('>I4I4I4I4I4I4', pos, hi, lo, ssz, soff, take)) == 24 then
      redis.call('ZADD', P .. 'k' .. d.i, idx, S(idx))
    end
    fpos, len = fpos + take, len - take
    if hi ~= 0 or lo ~= 0 then
      soff = soff + take
    end
  end
end
local send = src + n
local first, last = math.floor(src / CHUNK), math.floor((send - 1) / CHUNK)
local chunks = {}
if s.k == '1' then
  for _, idx in ipairs(redis.call('ZRANGEBYSCORE', P .. 'k' .. s.i, first, last)) do
    chunks[#chunks + 1] = tonumber(idx)
  end
else
  for idx = first, last do
    chunks[#chunks + 1] = idx
  end
end
for _, idx in ipairs(chunks) do
  local data = redis.call('GET', chunk_key(s.i, idx))
  if data then
    local base = idx * CHUNK
    local lo_c, hi_c = math.max(src, base) - base, math.min(send, base + CHUNK) - base
    for off = 1, #data - 23, 24 do
      local pos, ih, il, ssz, soff, len = struct.unpack('>I4I4I4I4I4I4', data, off)
      local a, b = math.max(pos, lo_c), math.min(pos + len, hi_c)
      if a < b then
        local hole = ih == 0 and il == 0
        put(base + a + dst - src, ih, il, ssz, hole and 0 or soff + (a - pos), b - a)
      end
    end
  end
end

if grow ~= 0 then
  redis.call('INCRBY', P .. 'usedspace', S(grow))
end
d.s = S(size)
d.m = S(mode_after_write(d))
touch(d, 'm', 's', 'm')
return {0, d_pre, flat(d), S(n)}
