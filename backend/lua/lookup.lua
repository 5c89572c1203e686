-- lookup: ARGV[A..] = dir ino, dir gen, name ('.' and '..' resolve).
-- Returns {0, child attrs}.
local dir, e = get_dir(ARGV[A], ARGV[A + 1])
if not dir then
  return {e}
end
if not may(dir, 1) then
  return {-E.ACCES}
end
local name = ARGV[A + 2]
local ino
if name == '.' then
  return {0, flat(dir)}
elseif name == '..' then
  ino = dir.p
else
  local en = entry(dir.i, name)
  if not en then
    return {-E.NOENT}
  end
  ino = en.ino
end
local a = hash(ikey(ino))
if not a then
  return {-E.NOENT}
end
return {0, flat(a)}
