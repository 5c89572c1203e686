-- access: ARGV[A..] = ino, gen, wanted GFS_ACCESS_* bits.
-- Returns {0, granted bits, attrs}.
local a, e = get_inode(ARGV[A], ARGV[A + 1])
if not a then
  return {e}
end
local want = tonumber(ARGV[A + 2])
local granted = 0
local function grant(bitv, ok)
  if bit.band(want, bitv) ~= 0 and ok then
    granted = granted + bitv
  end
end
local isdir = a.t == DIR
grant(1, may(a, 4))                -- READ
grant(2, isdir and may(a, 1))      -- LOOKUP
grant(4, may(a, 2))                -- MODIFY
grant(8, may(a, 2))                -- EXTEND
grant(16, isdir and may(a, 3))     -- DELETE (of entries in this directory)
grant(32, not isdir and may(a, 1)) -- EXECUTE
return {0, granted, flat(a)}
