-- punch: ARGV[A..] = ino, gen, offset, length.  Makes [offset, offset +
-- length) of a regular file read as zeros (fallocate PUNCH_HOLE, NFSv4.2
-- DEALLOCATE): a zero record (slice id 0) is appended to every chunk list
-- the range meets within the file; a chunk without a list is a hole
-- already.  The size never changes; what the punched records shadow is
-- freed by compaction.  Write permission as for a WRITE (the owner passes,
-- as knfsd's fallocate does); set-id bits dropped as a write drops them.
-- Returns {0, pre, attrs}.
local a, e = get_inode(ARGV[A], ARGV[A + 1])
if not a then
  return {e}
end
if a.t == DIR then
  return {-E.ISDIR}
elseif a.t ~= REG then
  return {-E.INVAL}
end
if not permit(a, 2 + MAY_OWNER_OVERRIDE) then
  return {-E.ACCES}
end
local a_pre = pre(a)
local first = tonumber(ARGV[A + 2])
local stop = math.min(first + tonumber(ARGV[A + 3]), tonumber(a.s))
if first >= stop then
  return {0, a_pre, flat(a)} -- beyond the end: nothing to zero, no change
end
hole_records(a, first, stop)
a.m = S(mode_after_write(a))
touch(a, 'm', 'm')
return {0, a_pre, flat(a)}
