-- unlink (remove, rmdir): ARGV[A..] = dir ino, dir gen, name, '1' for rmdir.
-- The last link deletes the inode, its xattrs and chunk lists, and queues
-- its slices for deletion.  Returns {0, dir wcc} (wcc_str).
local d, dir = dir_row(ARGV[A], ARGV[A + 1])
if not d then
  return {dir}
end
local name, rmdir = ARGV[A + 2], ARGV[A + 3] == '1'
if not permit(dir, 3) then
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
-- Only the fields unlinking or deleting needs.
local f = redis.call('HMGET', ikey(en.ino), 'u', 'n', 's', 'ch', 'k')
if not f[1] then
  return {-E.IO}
end
local a = {i = en.ino, t = en.t, u = f[1], n = f[2], s = f[3], ch = f[4], k = f[5]}
if sticky_denies(dir, a) then
  return {-E.PERM}
end
if rmdir and redis.call('ZCARD', P .. 'z' .. a.i) > 0 then
  return {-E.NOTEMPTY}
end
del_entry(dir.i, name)
if rmdir then
  delete_inode(a)
  add(dir, 'n', -1)
else
  unlink_inode(a)
end
return {0, touch_dir(dir, d)}
