-- rename: ARGV[A..] = src dir ino, gen, src name, dst dir ino, gen, dst name.
-- Returns {0, src pre, src attrs, dst pre, dst attrs}.
local sd, e = get_dir(ARGV[A], ARGV[A + 1])
if not sd then
  return {e}
end
local dd = sd
if ARGV[A + 3] ~= sd.i then
  dd, e = get_dir(ARGV[A + 3], ARGV[A + 4])
  if not dd then
    return {e}
  end
elseif ARGV[A + 4] ~= '0' and ARGV[A + 4] ~= sd.gen then
  return {-E.STALE}
end
local sname, dname = ARGV[A + 2], ARGV[A + 5]
if not permit(sd, 3) or not permit(dd, 3) then
  return {-E.ACCES}
end
local se = entry(sd.i, sname)
if not se then
  return {-E.NOENT}
end
local src = hash(ikey(se.ino))
if not src then
  return {-E.IO}
end
local s_pre, d_pre = pre(sd), pre(dd)
local de = entry(dd.i, dname)
if de and de.ino == se.ino then -- same file (or hard links to it): nothing to do
  return {0, s_pre, flat(sd), d_pre, flat(dd)}
end
if sticky_denies(sd, src) then
  return {-E.PERM}
end
local moving_dir = se.t == DIR and sd.i ~= dd.i
if moving_dir then
  -- the new parent must not be the directory itself or inside it
  local cur, steps = dd.i, 0
  while cur ~= '1' do
    if cur == se.ino then
      return {-E.INVAL}
    end
    cur = redis.call('HGET', ikey(cur), 'p')
    steps = steps + 1
    if not cur or steps > 100000 then
      return {-E.IO}
    end
  end
  if not permit(src, 2) then -- its '..' changes
    return {-E.ACCES}
  end
end
local tgt
if de then
  tgt = hash(ikey(de.ino))
  if not tgt then
    return {-E.IO}
  end
  if sticky_denies(dd, tgt) then
    return {-E.PERM}
  end
  if se.t == DIR and de.t ~= DIR then
    return {-E.NOTDIR}
  elseif se.t ~= DIR and de.t == DIR then
    return {-E.ISDIR}
  elseif de.t == DIR and redis.call('ZCARD', P .. 'z' .. tgt.i) > 0 then
    return {-E.NOTEMPTY}
  end
  del_entry(dd.i, dname)
  if de.t == DIR then
    delete_inode(tgt)
    add(dd, 'n', -1)
  else
    unlink_inode(tgt)
  end
end
del_entry(sd.i, sname)
add_entry(dd, dname, se.t, se.ino, se.gen)
if moving_dir then
  add(sd, 'n', -1)
  add(dd, 'n', 1)
  src.p = dd.i
end
touch(src, 'c', 'p')
touch(sd, 'm', 'n', 'sq')
if dd ~= sd then
  touch(dd, 'm', 'n', 'sq')
end
return {0, s_pre, flat(sd), d_pre, flat(dd)}
