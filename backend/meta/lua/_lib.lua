-- _lib.lua: the helpers every other script uses (see meta_conn.c: they are
-- loaded once as a Redis function library, or prepended to each script for
-- EVALSHA where functions are not available).
-- Calling convention: KEYS[1] = the settings key (routes the volume's hash
-- slot on Redis Cluster), ARGV[1] = key prefix "gatefs{V}:", ARGV[2..4] =
-- caller uid, gid, supplementary groups (space separated), ARGV[5..6] = the
-- gateway's clock (sec, nsec) for timestamps; the script's own arguments
-- start at ARGV[A].  Scripts return {status, ...}; status is 0 or a negative
-- errno.  Numbers are kept as decimal strings: Lua numbers are doubles and
-- tostring() would print large ones in exponent form.
local P, CRED -- per call: set from ARGV by the prologue meta_conn.c puts before each script
local A = 7

local E = {PERM = 1, NOENT = 2, IO = 5, AGAIN = 11, ACCES = 13, EXIST = 17, NOTDIR = 20, ISDIR = 21,
  INVAL = 22, FBIG = 27, NOSPC = 28, MLINK = 31, RANGE = 34, NAMETOOLONG = 36, NOTEMPTY = 39,
  NODATA = 61, STALE = 116, NOTSYNC = 10002, BADCOOKIE = 10003}
local CHUNK = 67108864
local REG, DIR, LNK = '1', '2', '3'
local MAX_SIZE = 4503599627370496 -- 2^52: beyond this, doubles lose bytes

-- Integers only ('%d' is a 64-bit long here, and much cheaper than '%.0f').
local function S(n)
  return string.format('%d', n)
end

local function ikey(ino)
  return P .. 'i' .. ino
end

local function now()
  return ARGV[5], ARGV[6]
end

-- An inode hash as a table, and the raw HGETALL reply (the client parses
-- that shape, so it can be returned without flat()).  The constructor
-- pre-sizes the table for the usual fields (false = absent): growing it
-- field by field cost about as much as the HGETALL itself.
local function hash(key)
  local r = redis.call('HGETALL', key)
  if #r == 0 then
    return nil
  end
  local t = {i = false, t = false, m = false, u = false, g = false, n = false, s = false, as = false, an = false,
    ms = false, mn = false, cs = false, cn = false, ch = false, gen = false, p = false, sq = false, cv = false}
  for i = 1, #r, 2 do
    t[r[i]] = r[i + 1]
  end
  return t, r
end

local function flat(t)
  local r = {}
  for k, v in pairs(t) do
    if v then
      r[#r + 1] = k
      r[#r + 1] = v
    end
  end
  return r
end

-- An attribute row: the inode's fields in a fixed order, the reply shape
-- meta_reply.c parses (row_fields there): 1 i, 2 t, 3 m, 4 u, 5 g, 6 n,
-- 7 s, 8 as, 9 an, 10 ms, 11 mn, 12 cs, 13 cn, 14 ch, 15 p, 16 gen, 17 sq,
-- 18 ra, 19 ri, 20 l; a directory's row stops at sq (it has no others).
-- Absent fields are false; a missing inode has no i.  Reading a row and
-- returning it as is costs about half of HGETALL into a table and flat()
-- back (every argument and reply element costs), and the client parses it
-- without name lookups.
local function row(ino)
  return redis.call('HMGET', ikey(ino), 'i', 't', 'm', 'u', 'g', 'n', 's', 'as', 'an', 'ms', 'mn', 'cs', 'cn', 'ch',
    'p', 'gen', 'sq', 'ra', 'ri', 'l')
end

-- A directory's row, checked like get_dir, and a table of the fields the
-- permission checks and entry helpers use.
local function dir_row(ino, gen)
  local d = redis.call('HMGET', ikey(ino), 'i', 't', 'm', 'u', 'g', 'n', 's', 'as', 'an', 'ms', 'mn', 'cs', 'cn', 'ch',
    'p', 'gen', 'sq')
  if not d[1] or (gen ~= '0' and d[16] ~= gen) then
    return nil, -E.STALE
  end
  if d[2] ~= DIR then
    return nil, -E.NOTDIR
  end
  return d, {i = d[1], t = d[2], m = d[3], u = d[4], g = d[5], n = d[6], sq = d[17]}
end

-- A directory's wcc for the client as one string of space-separated
-- fields: its row as read before the change (row fields 1..17), then, after
-- a change, the six post fields {msec, mnsec, csec, cnsec, change, nlink}
-- (meta_parse_wcc_str in meta_reply.c).  Every element of a script's reply
-- costs Redis about 0.07 us: one string instead of 23 elements saved about
-- 2 us of a 21 us create.  An absent field (a damaged inode) is sent empty.
local function wcc_str(d)
  local ok, row = pcall(table.concat, d, ' ', 1, 17)
  if not ok then
    for i = 1, 17 do
      d[i] = d[i] or ''
    end
    row = table.concat(d, ' ', 1, 17)
  end
  return row
end

-- After an entry change: sets the directory's mtime and ctime, bumps its
-- change counter and writes sq and n if they changed.  Returns wcc_str of
-- the row read before and the new values: the client's wcc.
local function touch_dir(dir, d)
  local s, n = now()
  local ch = S(tonumber(d[14]) + 1)
  local kv = {'ms', s, 'mn', n, 'cs', s, 'cn', n, 'ch', ch}
  if dir.sq ~= d[17] then
    kv[#kv + 1], kv[#kv + 2] = 'sq', dir.sq
  end
  if dir.n ~= d[6] then
    kv[#kv + 1], kv[#kv + 2] = 'n', dir.n
  end
  redis.call('HSET', ikey(dir.i), unpack(kv))
  return wcc_str(d) .. ' ' .. s .. ' ' .. n .. ' ' .. s .. ' ' .. n .. ' ' .. ch .. ' ' .. dir.n
end

-- The inode, checked against the generation from the handle ('0' = any),
-- and its raw HGETALL reply.
local function get_inode(ino, gen)
  local a, raw = hash(ikey(ino))
  if not a or (gen ~= '0' and a.gen ~= gen) then
    return nil, -E.STALE
  end
  return a, raw
end

local function get_dir(ino, gen)
  local a, e = get_inode(ino, gen)
  if not a then
    return nil, e
  end
  if a.t ~= DIR then
    return nil, -E.NOTDIR
  end
  return a, e
end

local function in_group(gid)
  if CRED.gid == gid then
    return true
  end
  -- a plain find: no iterator closure per call
  return string.find(' ' .. ARGV[4] .. ' ', ' ' .. gid .. ' ', 1, true) ~= nil
end

local function is_owner(a)
  return CRED.uid == 0 or CRED.uid == tonumber(a.u)
end

-- The Lua half of the one permission model (meta_perm.h, meta_perm.c; the
-- table in tests/meta/meta_perm_test.c holds both to what knfsd does).
-- acc: 4 read, 2 write, 1 execute/search, plus 8 = the owner passes, 16 =
-- a regular file that may be executed may be read.  uid 0 passes everything
-- except executing a non-directory without any x bit.
local MAY_OWNER_OVERRIDE, MAY_READ_IF_EXEC = 8, 16
local function permit(a, acc)
  local mask = bit.band(acc, 7)
  local mode = tonumber(a.m)
  if CRED.uid == 0 then
    return bit.band(mask, 1) == 0 or a.t == DIR or bit.band(mode, 73) ~= 0
  end
  local owner = CRED.uid == tonumber(a.u)
  if owner and bit.band(acc, MAY_OWNER_OVERRIDE) ~= 0 then
    return true
  end
  local bits
  if owner then
    bits = bit.rshift(mode, 6)
  elseif in_group(tonumber(a.g)) then
    bits = bit.rshift(mode, 3)
  else
    bits = mode
  end
  if bit.band(bits, mask) == mask then
    return true
  end
  return bit.band(acc, MAY_READ_IF_EXEC) ~= 0 and mask == 4 and a.t == REG and bit.band(bits, 1) ~= 0
end

-- knfsd's ACCESS maps (meta_access_granted in meta_perm.c): per GFS_ACCESS_*
-- bit, what it asks of a directory and of anything else (0 = never).
local ACCESS_MAP = {{1, 4, 4}, {2, 1, 0}, {4, 3, 2}, {8, 3, 2}, {16, 3, 0}, {32, 0, 1}}
local function access_granted(a, want)
  local granted = 0
  for _, m in ipairs(ACCESS_MAP) do
    local acc = a.t == DIR and m[2] or m[3]
    if bit.band(want, m[1]) ~= 0 and acc ~= 0 and permit(a, acc) then
      granted = granted + m[1]
    end
  end
  return granted
end

-- The mode after a write or truncate by the caller (meta_mode_after_write):
-- S_ISUID, and S_ISGID with S_IXGRP, dropped from a regular file unless the
-- caller is uid 0 (Linux should_remove_suid).
local function drop_suid(mode)
  mode = bit.band(mode, bit.bnot(2048))
  if bit.band(mode, 8) ~= 0 then
    mode = bit.band(mode, bit.bnot(1024))
  end
  return mode
end

local function mode_after_write(a)
  local mode = tonumber(a.m)
  if a.t ~= REG or CRED.uid == 0 then
    return mode
  end
  return drop_suid(mode)
end

-- Only uid 0 makes block and character devices (knfsd: CAP_MKNOD).
local function may_mknod(t)
  return (t ~= '4' and t ~= '5') or CRED.uid == 0
end

-- Sticky directory: only root, the directory's owner or the entry's owner
-- may remove or replace the entry.
local function sticky_denies(dir, a)
  return bit.band(tonumber(dir.m), 512) ~= 0 and CRED.uid ~= 0 and CRED.uid ~= tonumber(dir.u) and
    CRED.uid ~= tonumber(a.u)
end

-- wcc "pre" attributes, taken before the mutation.
local function pre(a)
  return {a.s or '0', a.ms, a.mn, a.cs, a.cn, a.ch}
end

-- Writes the named fields of a, plus ctime (and mtime with what == 'm') and
-- a bumped change counter.
local function touch(a, what, ...)
  local s, n = now()
  a.cs, a.cn = s, n
  a.ch = S(tonumber(a.ch) + 1)
  local kv = {'cs', s, 'cn', n, 'ch', a.ch}
  if what == 'm' then
    a.ms, a.mn = s, n
    kv[#kv + 1], kv[#kv + 2], kv[#kv + 3], kv[#kv + 4] = 'ms', s, 'mn', n
  end
  for _, f in ipairs({...}) do
    if a[f] then
      kv[#kv + 1], kv[#kv + 2] = f, a[f]
    end
  end
  redis.call('HSET', ikey(a.i), unpack(kv))
end

local function add(a, field, delta)
  a[field] = S(tonumber(a[field]) + delta)
end

-- Directory entries: hash name -> "TYPE,INO,GEN,SEQ" and a sorted set
-- name by SEQ (the readdir order and cookie).
local function entry(dino, name)
  local v = redis.call('HGET', P .. 'd' .. dino, name)
  if not v then
    return nil
  end
  local t, ino, gen, seq = string.match(v, '^(%d+),(%d+),(%d+),(%d+)$')
  return {t = t, ino = ino, gen = gen, seq = seq}
end

-- The caller writes dir.sq back (touch(dir, ..., 'sq')).
local function add_entry(dir, name, t, ino, gen)
  add(dir, 'sq', 1)
  redis.call('HSET', P .. 'd' .. dir.i, name, t .. ',' .. ino .. ',' .. gen .. ',' .. dir.sq)
  redis.call('ZADD', P .. 'z' .. dir.i, dir.sq, name)
end

-- add_entry unless the name exists (then false, and nothing changed): one
-- HSETNX instead of a lookup and a write.
local function add_entry_nx(dir, name, t, ino, gen)
  local sq = S(tonumber(dir.sq) + 1)
  if redis.call('HSETNX', P .. 'd' .. dir.i, name, t .. ',' .. ino .. ',' .. gen .. ',' .. sq) == 0 then
    return false
  end
  dir.sq = sq
  redis.call('ZADD', P .. 'z' .. dir.i, sq, name)
  return true
end

local function del_entry(dino, name)
  redis.call('HDEL', P .. 'd' .. dino, name)
  redis.call('ZREM', P .. 'z' .. dino, name)
end

local function align4k(n)
  return math.ceil(n / 4096) * 4096
end

local function chunk_key(ino, idx)
  return P .. 'c' .. ino .. '_' .. S(idx)
end

-- One chunk list stops referencing every slice of a packed record string
-- (each once; members in keep are skipped, and added to it).  Member =
-- 8-byte id + 4-byte size, big-endian (bytes 5..16 of a record).  A slice
-- that other chunk lists still reference (a clone, P sliceref) loses one
-- count; the last reference queues it for deletion.  Scored with Redis's
-- clock, not the gateway's: the deleter of another gateway compares it
-- with Redis's clock too (meta_dead_slices), so a gateway whose clock is
-- behind cannot cut the delete delay short.
local function queue_records(data, keep)
  local s = redis.call('TIME')[1]
  local refs = P .. 'sliceref'
  local shared = redis.call('EXISTS', refs) == 1 -- no clone ever: no lookups
  for off = 1, #data - 23, 24 do
    local hi, lo = struct.unpack('>I4I4', data, off + 4)
    if hi ~= 0 or lo ~= 0 then
      local member = string.sub(data, off + 4, off + 15)
      if not keep[member] then
        keep[member] = true
        local n = shared and tonumber(redis.call('HGET', refs, member) or '0') or 0
        if n > 1 then
          redis.call('HINCRBY', refs, member, -1)
        elseif n == 1 then
          redis.call('HDEL', refs, member)
        else
          redis.call('ZADD', P .. 'delslices', s, member)
        end
      end
    end
  end
end

local function drop_chunk(ino, idx, done)
  local k = chunk_key(ino, idx)
  local data = redis.call('GET', k)
  if data then
    queue_records(data, done)
    redis.call('DEL', k)
  end
end

-- Deletes chunk lists from index first on.  A file made since chunk indexes
-- exist (field k = '1') lists its chunks in P k<INO>, so this costs what
-- the file holds, not what its size spans: a sparse file of petabytes must
-- not hold Redis for minutes.  Older files are walked by size.
-- Each chunk list drops its own references (a clone may have put one
-- slice into several chunks of one file).
local function drop_chunks(a, first)
  if a.k == '1' then
    local kk = P .. 'k' .. a.i
    for _, idx in ipairs(redis.call('ZRANGEBYSCORE', kk, first, '+inf')) do
      drop_chunk(a.i, idx, {})
    end
    redis.call('ZREMRANGEBYSCORE', kk, first, '+inf')
    return
  end
  for idx = first, math.ceil(tonumber(a.s) / CHUNK) - 1 do
    drop_chunk(a.i, S(idx), {})
  end
end

-- Appends a hole record over [first, stop) of file a to every chunk list
-- the range meets (punch; a clone's destination).  A chunk without a list
-- is a hole already; for a file with k = 1 only its indexed chunks are
-- visited, so a sparse file costs what it holds, not what the range spans.
local function hole_records(a, first, stop)
  local function zero(idx)
    local k = chunk_key(a.i, idx)
    if redis.call('EXISTS', k) == 0 then
      return
    end
    local base = idx * CHUNK
    local pos = math.max(first, base) - base
    local len = math.min(stop, base + CHUNK) - base - pos
    redis.call('APPEND', k, struct.pack('>I4I4I4I4I4I4', pos, 0, 0, 0, 0, len))
  end
  local lo, hi = math.floor(first / CHUNK), math.floor((stop - 1) / CHUNK)
  if a.k == '1' then
    for _, idx in ipairs(redis.call('ZRANGEBYSCORE', P .. 'k' .. a.i, lo, hi)) do
      zero(tonumber(idx))
    end
  else
    for idx = lo, hi do
      zero(idx)
    end
  end
end

local function delete_inode(a)
  local charge = a.t == REG and align4k(tonumber(a.s)) or 0
  if charge > 0 then
    drop_chunks(a, 0)
    redis.call('DECRBY', P .. 'usedspace', S(charge))
  end
  if a.t == DIR then
    redis.call('DEL', ikey(a.i), P .. 'x' .. a.i, P .. 'd' .. a.i, P .. 'z' .. a.i)
  else
    -- byte-range locks go with the file (FORMAT §13); the clients'
    -- lockinos entries for it are dropped as those clients are released
    redis.call('DEL', ikey(a.i), P .. 'x' .. a.i, P .. 'k' .. a.i, P .. 'lk' .. a.i)
  end
  redis.call('DECR', P .. 'totalinodes')
end

-- Drops one link of a non-directory; deletes it with the last link.
local function unlink_inode(a)
  add(a, 'n', -1)
  if tonumber(a.n) <= 0 then
    delete_inode(a)
  else
    touch(a, 'c', 'n')
  end
end

local function setting(name)
  local v = redis.call('HGET', KEYS[1], name)
  return v and tonumber(v) or 0
end
