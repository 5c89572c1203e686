-- lock: byte-range locks and share reservations of one inode, shared by
-- every gateway of the volume (docs/FORMAT.md "Byte-range locks").
-- ARGV[A..] = op, then per op:
--   set     ino client owner type start end lease_ms  -> {0} or the conflict
--   test    ino client owner type start end            -> {0} or the conflict
--   unlock  ino client owner start end                 -> {0}
--   count   ino client owner                           -> {0, records held}
--   share   ino client owner access deny lease_ms      -> {0} or {-EACCES}
--   unshare ino client owner access deny               -> {0}
--   rel_owner  client owner                            -> {0, inodes touched}
--   rel_client client                                  -> {0, inodes touched}
--   rel_expired client        (rel_client if its lease ran out) -> {0, inodes touched or -1}
--   renew   client lease_ms                            -> {0}
-- A lock owner's field is client/owner, its value the packed ranges; an
-- open owner's share reservation is client:owner, its value two digits,
-- access then deny (bit 1 read, bit 2 write).  Owners are opaque bytes, so
-- the separator after the client (whose key has neither) tells them apart.
-- share ORs into the owner's reservation (an OPEN upgrades), after checking
-- the result against every other owner's: access meeting a deny, or deny
-- meeting an access, is a conflict; unshare sets it (0 access deletes it).
-- A conflict is {-EAGAIN, client, owner, type, start, end}.  start and end
-- are 17 lowercase hex digits, end exclusive (2^64 = "to EOF"), so plain
-- string comparison orders them and no 64-bit arithmetic is done in Lua
-- (its numbers are doubles).  A lock of an owner whose client lease key is
-- gone (its PX ran out on Redis's clock) is treated as absent and deleted
-- here, with the client's index entry for the inode; the asking client's
-- own locks are kept (it is alive).
local op = ARGV[A]
local REC = 35 -- type (1) + start (17) + end (17)

local function lease_key(client)
  return P .. 'lease:' .. client
end

local function index_key(client)
  return P .. 'lockinos:' .. client
end

local function recs(v)
  local t = {}
  for i = 1, #v, REC do
    t[#t + 1] = {v:sub(i, i), v:sub(i + 1, i + 17), v:sub(i + 18, i + 34)}
  end
  return t
end

local function pack(t)
  table.sort(t, function(x, y)
    return x[2] < y[2]
  end)
  local out = {}
  for i = 1, #t do
    out[i] = t[i][1] .. t[i][2] .. t[i][3]
  end
  return table.concat(out)
end

-- The client, the owner, and whether the field is a share reservation.
local function client_of(field)
  local sep = field:find('[/:]')
  return field:sub(1, sep - 1), field:sub(sep + 1), field:sub(sep, sep) == ':'
end

-- Whether field is one of client's (a lock or a share reservation).
local function of_client(field, client)
  local sep = field:sub(#client + 1, #client + 1)
  return field:sub(1, #client) == client and (sep == '/' or sep == ':')
end

-- Drops the inode from client's index unless client still holds a lock or
-- a share reservation on it.
local function unindex(lkey, ino, client)
  local fields = redis.call('HKEYS', lkey)
  for i = 1, #fields do
    if of_client(fields[i], client) then
      return
    end
  end
  redis.call('SREM', index_key(client), ino)
end

-- Tells every gateway that a lock on ino may have gone (docs/FORMAT.md
-- section 13, channel "unlocked"): they test their blocked lockers at once
-- instead of at their next periodic check.  A hint only: a gateway that
-- misses it (not subscribed yet, reconnecting) still finds out that way.
local function announce(ino)
  redis.call('PUBLISH', P .. 'unlocked', ino)
end

-- Every field of a client whose lease ran out is deleted; returns the
-- remaining {field, value} pairs.  The asking client is alive whatever its
-- lease key says (it is asking), so its own locks are never dropped here.
local function live_locks(lkey, ino, asker)
  local all = redis.call('HGETALL', lkey)
  local live, dead = {}, {[asker] = false}
  local gone = false
  for i = 1, #all, 2 do
    local c = client_of(all[i])
    if dead[c] == nil then
      dead[c] = redis.call('EXISTS', lease_key(c)) == 0
    end
    if dead[c] then
      redis.call('HDEL', lkey, all[i])
      gone = true
    else
      live[#live + 1] = {all[i], all[i + 1]}
    end
  end
  for c, d in pairs(dead) do
    if d then
      redis.call('SREM', index_key(c), ino)
    end
  end
  if gone then
    announce(ino)
  end
  return live
end

-- The first lock of another owner that overlaps [s, e) and conflicts with
-- type typ, as a reply; nil if none.
local function conflict(live, field, typ, s, e)
  for i = 1, #live do
    local _, _, is_share = client_of(live[i][1])
    if live[i][1] ~= field and not is_share then
      local t = recs(live[i][2])
      for j = 1, #t do
        local r = t[j]
        if r[2] < e and s < r[3] and (typ == 'w' or r[1] == 'w') then
          local c, o = client_of(live[i][1])
          return {-E.AGAIN, c, o, r[1], r[2], r[3]}
        end
      end
    end
  end
  return nil
end

-- The owner's records with [s, e) cut out (the pieces outside are kept).
local function cut(t, s, e)
  local out = {}
  for i = 1, #t do
    local r = t[i]
    if r[3] <= s or e <= r[2] then
      out[#out + 1] = r
    else
      if r[2] < s then
        out[#out + 1] = {r[1], r[2], s}
      end
      if e < r[3] then
        out[#out + 1] = {r[1], e, r[3]}
      end
    end
  end
  return out
end

if op == 'renew' then
  redis.call('SET', lease_key(ARGV[A + 1]), '1', 'PX', ARGV[A + 2])
  return {0}
end

if op == 'rel_expired' then
  if redis.call('EXISTS', lease_key(ARGV[A + 1])) == 1 then
    return {0, -1} -- alive: renewed through another gateway
  end
  op = 'rel_client'
end

if op == 'rel_owner' or op == 'rel_client' then
  local client = ARGV[A + 1]
  local ikey = index_key(client)
  local inos = redis.call('SMEMBERS', ikey)
  for i = 1, #inos do
    local lkey = P .. 'lk' .. inos[i]
    if op == 'rel_owner' then
      -- the owner's locks and its share reservations
      if redis.call('HDEL', lkey, client .. '/' .. ARGV[A + 2], client .. ':' .. ARGV[A + 2]) > 0 then
        announce(inos[i])
      end
      unindex(lkey, inos[i], client)
    else
      local fields = redis.call('HKEYS', lkey)
      for j = 1, #fields do
        if of_client(fields[j], client) then
          redis.call('HDEL', lkey, fields[j])
        end
      end
      announce(inos[i])
    end
  end
  if op == 'rel_client' then
    redis.call('DEL', ikey, lease_key(client))
  end
  return {0, #inos}
end

local ino, client = ARGV[A + 1], ARGV[A + 2]
local lkey = P .. 'lk' .. ino
local field = client .. '/' .. ARGV[A + 3]

if op == 'share' or op == 'unshare' then
  local sfield = client .. ':' .. ARGV[A + 3]
  local access, deny = tonumber(ARGV[A + 4]), tonumber(ARGV[A + 5])
  if op == 'unshare' then
    if access == 0 then
      if redis.call('HDEL', lkey, sfield) == 1 then
        unindex(lkey, ino, client)
      end
    else
      redis.call('HSET', lkey, sfield, access .. deny)
    end
    return {0}
  end
  if redis.call('EXISTS', ikey(ino)) == 0 then
    return {-E.STALE}
  end
  local old = redis.call('HGET', lkey, sfield)
  if old then
    access = bit.bor(access, tonumber(old:sub(1, 1)))
    deny = bit.bor(deny, tonumber(old:sub(2, 2)))
  end
  local live = live_locks(lkey, ino, client)
  for i = 1, #live do
    local _, _, is_share = client_of(live[i][1])
    if is_share and live[i][1] ~= sfield then
      local v = live[i][2]
      local a, d = tonumber(v:sub(1, 1)), tonumber(v:sub(2, 2))
      if bit.band(a, deny) ~= 0 or bit.band(d, access) ~= 0 then
        return {-E.ACCES}
      end
    end
  end
  redis.call('HSET', lkey, sfield, access .. deny)
  redis.call('SADD', index_key(client), ino)
  redis.call('SET', lease_key(client), '1', 'PX', ARGV[A + 6])
  return {0}
end

if op == 'count' then
  local v = redis.call('HGET', lkey, field)
  return {0, v and #v / REC or 0}
end

if op == 'test' then
  local typ, s, e = ARGV[A + 4], ARGV[A + 5], ARGV[A + 6]
  return conflict(live_locks(lkey, ino, client), field, typ, s, e) or {0}
end

if op == 'set' then
  -- a file removed meanwhile takes no lock: its lk key went with it and
  -- must not come back (fsck rule 8)
  if redis.call('EXISTS', ikey(ino)) == 0 then
    return {-E.STALE}
  end
  local typ, s, e, lease = ARGV[A + 4], ARGV[A + 5], ARGV[A + 6], ARGV[A + 7]
  local live = live_locks(lkey, ino, client)
  local denied = conflict(live, field, typ, s, e)
  if denied then
    return denied
  end
  -- POSIX: the new range replaces whatever this owner held there; ranges
  -- of the same type that overlap or touch it merge into it.
  local mine = recs(redis.call('HGET', lkey, field) or '')
  local ns, ne = s, e
  local keep = {}
  for i = 1, #mine do
    local r = mine[i]
    if r[1] == typ and r[2] <= e and s <= r[3] then
      if r[2] < ns then
        ns = r[2]
      end
      if r[3] > ne then
        ne = r[3]
      end
    else
      keep[#keep + 1] = r
    end
  end
  keep = cut(keep, s, e)
  keep[#keep + 1] = {typ, ns, ne}
  redis.call('HSET', lkey, field, pack(keep))
  redis.call('SADD', index_key(client), ino)
  -- The grant renews the client's lease: a client that locks is alive.
  redis.call('SET', lease_key(client), '1', 'PX', lease)
  return {0}
end

if op == 'unlock' then
  local s, e = ARGV[A + 4], ARGV[A + 5]
  local v = redis.call('HGET', lkey, field)
  if v then
    local left = cut(recs(v), s, e)
    local packed = pack(left)
    if packed ~= v then -- the range held something
      if #left == 0 then
        redis.call('HDEL', lkey, field)
        unindex(lkey, ino, client)
      else
        redis.call('HSET', lkey, field, packed)
      end
      announce(ino)
    end
  end
  return {0}
end

return {-E.INVAL}
