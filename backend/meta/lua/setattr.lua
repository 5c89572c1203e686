-- setattr: ARGV[A..] = ino, gen, valid (GFS_SET_* bits; GFS_SET_DROP_SUID
-- = 256 is what a WRITE by the caller drops), mode, uid, gid,
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
-- chown and chgrp (Linux chown_ok, chgrp_ok): even a change to the current
-- value needs the owner (or uid 0), so a no-op cannot probe or touch ctime.
local caller_owns = CRED.uid == tonumber(a.u)
if has(2) and CRED.uid ~= 0 and not (caller_owns and uid == tonumber(a.u)) then
  return {-E.PERM}
end
if has(4) and CRED.uid ~= 0 and not (caller_owns and (gid == tonumber(a.g) or in_group(gid))) then
  return {-E.PERM}
end
local size
if has(8) then
  if a.t == DIR then
    return {-E.ISDIR}
  elseif a.t ~= REG then
    return {-E.INVAL}
  end
  if not permit(a, 2 + MAY_OWNER_OVERRIDE) then
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
if (has(32) or has(128)) and not permit(a, 2 + MAY_OWNER_OVERRIDE) then
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
if has(2) then
  a.u = S(uid)
end
if has(4) then
  a.g = S(gid)
end
if (has(2) or has(4)) and a.t ~= DIR then
  -- chown drops S_ISUID, and S_ISGID with group-exec, whoever does it and
  -- whatever mode comes with it (knfsd nfsd_sanitize_attrs, notify_change)
  mode = drop_suid(mode)
elseif (size or has(256)) and not has(1) then
  -- a truncate or a WRITE (256: gfs_write asks before buffering its data)
  -- by anyone but uid 0; an explicit new mode in the same call wins
  mode = mode_after_write(a)
end
if has(256) and not has(1) and not has(2) and not has(4) and not size and mode == tonumber(a.m) then
  return {0, a_pre, flat(a)} -- nothing to drop: no change, no ctime
end
a.m = S(mode)
local what = 'c'
if size then
  local old = tonumber(a.s)
  if size < old then
    drop_chunks(a, math.ceil(size / CHUNK))
    if size % CHUNK ~= 0 then
      -- the chunk holding the new end reads zeros from there on
      hole_records(a, size, math.min(old, (math.floor(size / CHUNK) + 1) * CHUNK))
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
