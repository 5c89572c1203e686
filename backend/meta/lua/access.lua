-- access: ARGV[A..] = ino, gen, wanted GFS_ACCESS_* bits.
-- Returns {0, granted bits, attrs}.
local a, e = get_inode(ARGV[A], ARGV[A + 1])
if not a then
  return {e}
end
return {0, access_granted(a, tonumber(ARGV[A + 2])), flat(a)}
