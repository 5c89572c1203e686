-- unlink (remove, rmdir): ARGV[A..] = dir ino, dir gen, name, '1' for rmdir.
-- The last link deletes the inode, its xattrs and chunk lists, and queues
-- its slices for deletion.  Returns {0, dir pre, dir attrs}.
local dir, e = get_dir(ARGV[A], ARGV[A + 1])
if not dir then
  return {e}
end
local name, rmdir = ARGV[A + 2], ARGV[A + 3] == '1'
if not may(dir, 3) then
  return {-E.ACCES}
end
local en = entry(dir.i, name)
if not en then
  return {-E.NOENT}
end
if rmdir and en.t ~= DIR then
  return {-E.NOTDIR}
elseif not rmdir and en.t == DIR then
  return {-E.ISDIR}
end
local a = hash(ikey(en.ino))
if not a then
  return {-E.IO}
end
if sticky_denies(dir, a) then
  return {-E.PERM}
end
if rmdir and redis.call('ZCARD', P .. 'z' .. a.i) > 0 then
  return {-E.NOTEMPTY}
end
local dir_pre = pre(dir)
del_entry(dir.i, name)
if rmdir then
  delete_inode(a)
  add(dir, 'n', -1)
else
  unlink_inode(a)
end
touch(dir, 'm', 'n')
return {0, dir_pre, flat(dir)}
