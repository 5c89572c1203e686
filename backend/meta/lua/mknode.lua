-- mknode (create, mkdir, symlink, mknod): ARGV[A..] = dir ino, dir gen,
-- name, type, mode, how (0 unchecked, 1 guarded, 2 exclusive), verifier
-- (hex), new generation, then only as far as the type needs: cookie
-- verifier (dirs), rdev major, rdev minor (devices), symlink target.
-- Returns {0, ino, mode, gid, dir wcc} for a new inode (the client knows
-- its other attributes: it sent them), or {0, attrs, dir wcc} when an
-- unchecked or repeated exclusive create finds the file (wcc_str: the
-- directory's row, and its post fields after a change).
local d, dir = dir_row(ARGV[A], ARGV[A + 1])
if not d then
  return {dir}
end
local name, t, how, verf = ARGV[A + 2], ARGV[A + 3], ARGV[A + 5], ARGV[A + 6]
if not permit(dir, 1) then
  return {-E.ACCES}
end

-- An existing name: the file itself for an unchecked create of a file or a
-- repeated exclusive one, else an error.
local function existing(en)
  if t == REG and how == '0' then
    if en.t == REG then
      return {0, redis.call('HGETALL', ikey(en.ino)), wcc_str(d)}
    end
    return {en.t == DIR and -E.ISDIR or -E.EXIST}
  elseif t == REG and how == '2' then
    local a, raw = hash(ikey(en.ino))
    if en.t == REG and a and a.v == verf then
      return {0, raw, wcc_str(d)}
    end
  end
  return {-E.EXIST}
end

-- Without the right to create (or room), the existing name still answers
-- first, as it would for a caller who may only look.
local cap = setting('capacity_inodes')
local denied
if not permit(dir, 3) then
  denied = -E.ACCES
elseif not may_mknod(t) then
  denied = -E.PERM
elseif cap > 0 and tonumber(redis.call('GET', P .. 'totalinodes') or '0') >= cap then
  denied = -E.NOSPC
end
if denied then
  local en = entry(dir.i, name)
  return en and existing(en) or {denied}
end
-- The number is taken before the name is known to be free: a name that
-- exists leaves a gap in the inode numbers, which is allowed.
local ino = S(redis.call('INCR', P .. 'nextinode'))
if not add_entry_nx(dir, name, t, ino, ARGV[A + 7]) then
  return existing(entry(dir.i, name))
end
local s, n = now()
local mode = tonumber(ARGV[A + 4]) % 4096
local gid = ARGV[3]
if bit.band(tonumber(dir.m), 1024) ~= 0 then -- setgid directory: inherit its group
  gid = dir.g
  if t == DIR then
    mode = bit.bor(mode, 1024)
  elseif bit.band(mode, 1032) == 1032 and CRED.uid ~= 0 and not in_group(tonumber(gid)) then
    -- a setgid executable of a group its creator is not in (inode_init_owner,
    -- CVE-2018-13405)
    mode = bit.band(mode, bit.bnot(1024))
  end
end
mode = S(mode)
local kv = {'i', ino, 't', t, 'm', mode, 'u', ARGV[2], 'g', gid, 'n', '1', 's', '0', 'as', s, 'an', n, 'ms', s, 'mn', n,
  'cs', s, 'cn', n, 'ch', '1', 'gen', ARGV[A + 7]}
if t == DIR then
  kv[12], kv[14] = '2', '4096'
  kv[#kv + 1], kv[#kv + 2], kv[#kv + 3], kv[#kv + 4], kv[#kv + 5], kv[#kv + 6] = 'p', dir.i, 'sq', '0', 'cv', ARGV[A + 8]
  add(dir, 'n', 1)
elseif t == LNK then
  kv[#kv + 1], kv[#kv + 2] = 'l', ARGV[A + 11]
elseif t == '4' or t == '5' then
  kv[#kv + 1], kv[#kv + 2], kv[#kv + 3], kv[#kv + 4] = 'ra', ARGV[A + 9], 'ri', ARGV[A + 10]
elseif t == REG and how == '2' then
  kv[#kv + 1], kv[#kv + 2] = 'v', verf
end
if t == REG then -- its chunk lists are indexed in P k<INO> (drop_chunks)
  kv[#kv + 1], kv[#kv + 2] = 'k', '1'
end
redis.call('HSET', ikey(ino), unpack(kv))
redis.call('INCR', P .. 'totalinodes')
return {0, ino, mode, gid, touch_dir(dir, d)}
