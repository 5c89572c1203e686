-- mknode (create, mkdir, symlink, mknod): ARGV[A..] = dir ino, dir gen,
-- name, type, mode, how (0 unchecked, 1 guarded, 2 exclusive), verifier
-- (hex), new generation, new cookie verifier, rdev major, rdev minor,
-- symlink target.  Returns {0, attrs, dir pre, dir attrs}.
local dir, e = get_dir(ARGV[A], ARGV[A + 1])
if not dir then
  return {e}
end
local name, t, how, verf = ARGV[A + 2], ARGV[A + 3], ARGV[A + 5], ARGV[A + 6]
if not may(dir, 1) then
  return {-E.ACCES}
end
local en = entry(dir.i, name)
if en then
  if t == REG and how == '0' then
    if en.t == REG then
      return {0, flat(hash(ikey(en.ino))), pre(dir), flat(dir)}
    end
    return {en.t == DIR and -E.ISDIR or -E.EXIST}
  elseif t == REG and how == '2' then
    local a = hash(ikey(en.ino))
    if en.t == REG and a and a.v == verf then
      return {0, flat(a), pre(dir), flat(dir)}
    end
  end
  return {-E.EXIST}
end
if not may(dir, 3) then
  return {-E.ACCES}
end
local cap = setting('capacity_inodes')
if cap > 0 and tonumber(redis.call('GET', P .. 'totalinodes') or '0') >= cap then
  return {-E.NOSPC}
end
local dir_pre = pre(dir)
local ino = S(redis.call('INCR', P .. 'nextinode'))
local s, n = now()
local mode = tonumber(ARGV[A + 4]) % 4096
local gid = CRED.gid
if bit.band(tonumber(dir.m), 1024) ~= 0 then -- setgid directory: inherit its group
  gid = tonumber(dir.g)
  if t == DIR then
    mode = bit.bor(mode, 1024)
  end
end
local a = {i = ino, t = t, m = S(mode), u = S(CRED.uid), g = S(gid), n = '1', s = '0', as = s, an = n, ms = s,
  mn = n, cs = s, cn = n, ch = '1', gen = ARGV[A + 7]}
if t == DIR then
  a.n, a.s, a.p, a.sq, a.cv = '2', '4096', dir.i, '0', ARGV[A + 8]
elseif t == LNK then
  a.l = ARGV[A + 11]
elseif t == '4' or t == '5' then
  a.ra, a.ri = ARGV[A + 9], ARGV[A + 10]
end
if t == REG and how == '2' then
  a.v = verf
end
redis.call('HSET', ikey(ino), unpack(flat(a)))
redis.call('INCR', P .. 'totalinodes')
add_entry(dir, name, t, ino, a.gen)
if t == DIR then
  add(dir, 'n', 1)
end
touch(dir, 'm', 'n', 'sq')
return {0, flat(a), dir_pre, flat(dir)}
