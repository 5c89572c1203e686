-- format: ARGV[A..] = force ('1'), root generation, root cookie verifier,
-- then setting field/value pairs.  A new volume gets its settings, the root
-- directory (inode 1, mode 0755, owner 0:0) and its counters.  With force on
-- an existing volume only the settings are written, and only if they name
-- the same uuid: an identity is never replaced, even by a caller that could
-- not read the old one.
local exists = redis.call('EXISTS', KEYS[1]) == 1
if exists and ARGV[A] ~= '1' then
  return {-E.EXIST}
end
local kv = {}
local uuid
for i = A + 3, #ARGV, 2 do
  kv[#kv + 1] = ARGV[i]
  kv[#kv + 1] = ARGV[i + 1]
  if ARGV[i] == 'uuid' then
    uuid = ARGV[i + 1]
  end
end
if exists and redis.call('HGET', KEYS[1], 'uuid') ~= uuid then
  return {-E.EXIST}
end
redis.call('HSET', KEYS[1], unpack(kv))
if exists then
  return {0}
end
local s, n = now()
redis.call('HSET', ikey('1'), 'i', '1', 't', DIR, 'm', '493', 'u', '0', 'g', '0', 'n', '2', 's', '4096', 'as', s,
  'an', n, 'ms', s, 'mn', n, 'cs', s, 'cn', n, 'ch', '1', 'gen', ARGV[A + 1], 'p', '1', 'sq', '0', 'cv', ARGV[A + 2])
redis.call('SET', P .. 'nextinode', '1')
redis.call('SET', P .. 'nextslice', '0')
redis.call('SET', P .. 'usedspace', '0')
redis.call('SET', P .. 'totalinodes', '1')
return {0}
