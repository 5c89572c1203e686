-- link: ARGV[A..] = target ino, target gen, dir ino, dir gen, name.
-- Returns {0, target attrs, dir pre, dir attrs}.
local a, e = get_inode(ARGV[A], ARGV[A + 1])
if not a then
  return {e}
end
local dir
dir, e = get_dir(ARGV[A + 2], ARGV[A + 3])
if not dir then
  return {e}
end
if a.t == DIR then
  return {-E.PERM}
end
if not permit(dir, 3) then
  return {-E.ACCES}
end
if entry(dir.i, ARGV[A + 4]) then
  return {-E.EXIST}
end
if tonumber(a.n) >= 2147483647 then
  return {-E.MLINK}
end
local dir_pre = pre(dir)
add_entry(dir, ARGV[A + 4], a.t, a.i, a.gen)
add(a, 'n', 1)
touch(a, 'c', 'n')
touch(dir, 'm', 'sq')
return {0, flat(a), dir_pre, flat(dir)}
