-- compact: ARGV[A..] = ino, chunk index, old records, replacement records.
-- Replaces the leading old records if the list still starts with them
-- (else -EAGAIN); slices no longer referenced are queued for deletion.
local key = chunk_key(ARGV[A], tonumber(ARGV[A + 1]))
local old, repl = ARGV[A + 2], ARGV[A + 3]
local data = redis.call('GET', key)
if not data or string.sub(data, 1, #old) ~= old then
  return {-E.AGAIN}
end
local new = repl .. string.sub(data, #old + 1)
local live = {}
for off = 1, #new - 23, 24 do
  live[string.sub(new, off + 4, off + 15)] = true
end
queue_records(old, live)
if #new == 0 then
  redis.call('DEL', key)
else
  redis.call('SET', key, new)
end
return {0}
