-- setattr: ARGV[A..] = ino, gen, valid (GFS_SET_* bits), mode, uid, gid,
-- size, atime sec, atime nsec, mtime sec, mtime nsec, guard ('1' = check),
-- guard ctime sec, guard ctime nsec.  Returns {0, pre, attrs}.
local a, e = get_inode(ARGV[A], ARGV[A + 1])
if not a then
  return {e}
end
local valid = tonumber(ARGV[A + 2])
local function has(b)
  return bit.band(valid, b) ~= 0
end
if ARGV[A + 11] == '1' and (a.cs ~= ARGV[A + 12] or a.cn ~= ARGV[A + 13]) then
  return {-E.NOTSYNC}
end
local a_pre = pre(a)
local owner = is_owner(a)
local mode = tonumber(a.m)
local uid, gid = tonumber(ARGV[A + 4]), tonumber(ARGV[A + 5])
-- check everything first: nothing may change if any part is refused
if has(1) and not owner then
  return {-E.PERM}
end
if has(2) and uid ~= tonumber(a.u) and CRED.uid ~= 0 then
  return {-E.PERM}
end
if has(4) and gid ~= tonumber(a.g) and CRED.uid ~= 0 and (CRED.uid ~= tonumber(a.u) or not in_group(gid)) then
  return {-E.PERM}
end
local size
if has(8) then
  if a.t == DIR then
    return {-E.ISDIR}
  elseif a.t ~= REG then
    return {-E.INVAL}
  end
  if not may(a, 2) then
    return {-E.ACCES}
  end
  size = tonumber(ARGV[A + 6])
  if size > MAX_SIZE then
    return {-E.FBIG}
  end
  local cap = setting('capacity_bytes')
  local grow = align4k(size) - align4k(tonumber(a.s))
  if cap > 0 and grow > 0 and tonumber(redis.call('GET', P .. 'usedspace') or '0') + grow > cap then
    return {-E.NOSPC}
  end
end
if (has(32) or has(128)) and not owner and not may(a, 2) then
  return {-E.ACCES}
end
if (has(16) or has(64)) and not owner then
  return {-E.PERM}
end
-- apply
if has(1) then
  mode = tonumber(ARGV[A + 3]) % 4096
  if CRED.uid ~= 0 and not in_group(tonumber(a.g)) then
    mode = bit.band(mode, bit.bnot(1024)) -- setgid needs membership
  end
end
local chowned = false
if has(2) and uid ~= tonumber(a.u) then
  a.u, chowned = S(uid), true
end
if has(4) and gid ~= tonumber(a.g) then
  a.g, chowned = S(gid), true
end
if chowned and CRED.uid ~= 0 and a.t ~= DIR then
  mode = bit.band(mode, bit.bnot(3072)) -- drop setuid/setgid
end
a.m = S(mode)
local what = 'c'
if size then
  local old = tonumber(a.s)
  if size < old then
    drop_chunks(a, math.ceil(size / CHUNK))
    if size % CHUNK ~= 0 then
      -- the chunk holding the new end reads zeros from there on
      local idx = math.floor(size / CHUNK)
      local k = chunk_key(a.i, idx)
      if redis.call('EXISTS', k) == 1 then
        local pos = size - idx * CHUNK
        local stop = math.min(old, (idx + 1) * CHUNK) - idx * CHUNK
        redis.call('APPEND', k, struct.pack('>I4I4I4I4I4I4', pos, 0, 0, 0, 0, stop - pos))
      end
    end
  end
  redis.call('INCRBY', P .. 'usedspace', S(align4k(size) - align4k(old)))
  a.s = S(size)
  what = 'm'
end
local s, n = now()
if has(16) then
  a.as, a.an = ARGV[A + 7], ARGV[A + 8]
elseif has(32) then
  a.as, a.an = s, n
end
touch(a, what, 'm', 'u', 'g', 's', 'as', 'an')
-- explicit times are written after touch (which sets mtime to now on truncate)
if has(64) then
  a.ms, a.mn = ARGV[A + 9], ARGV[A + 10]
  redis.call('HSET', ikey(a.i), 'ms', a.ms, 'mn', a.mn)
elseif has(128) and what ~= 'm' then
  a.ms, a.mn = s, n
  redis.call('HSET', ikey(a.i), 'ms', s, 'mn', n)
end
return {0, a_pre, flat(a)}
