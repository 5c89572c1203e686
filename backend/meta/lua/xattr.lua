-- xattr: ARGV[A..] = op ('get', 'list', 'set', 'remove'), ino, gen, name,
-- value, flags (1 create, 2 replace).  get returns {0, value}; list
-- returns {0, {names}}; set and remove return {0}.
local op = ARGV[A]
local a, e = get_inode(ARGV[A + 1], ARGV[A + 2])
if not a then
  return {e}
end
local key, name = P .. 'x' .. a.i, ARGV[A + 3]
if op == 'get' or op == 'list' then
  if not permit(a, 4) then
    return {-E.ACCES}
  end
  if op == 'list' then
    return {0, redis.call('HKEYS', key)}
  end
  local v = redis.call('HGET', key, name)
  if not v then
    return {-E.NODATA}
  end
  return {0, v}
end
if not permit(a, 2) then
  return {-E.ACCES}
end
if op == 'set' then
  local flags = tonumber(ARGV[A + 5])
  local exists = redis.call('HEXISTS', key, name) == 1
  if bit.band(flags, 1) ~= 0 and exists then
    return {-E.EXIST}
  elseif bit.band(flags, 2) ~= 0 and not exists then
    return {-E.NODATA}
  end
  redis.call('HSET', key, name, ARGV[A + 4])
elseif op == 'remove' then
  if redis.call('HDEL', key, name) == 0 then
    return {-E.NODATA}
  end
else
  return {-E.INVAL}
end
touch(a, 'c')
return {0}
