-- index_remove.lua: removes key hashes from a token's entry in its project's index, the last
-- step of deleting or regenerating a token, after the records are gone.
--
-- KEYS[1]  token id to key hashes, hash      ta:v1:{p:<project id>}:tokens
-- KEYS[2]  token ids in creation order, sorted set  ta:v1:{p:<project id>}:order
-- ARGV[1]  token id
-- ARGV[2…] key hashes to remove; hashes not in the entry are ignored
--
-- Reply: how many key hashes the entry keeps. At 0 the token id is removed from both keys.
--
-- Example: the last step of a regeneration, which keeps the new hash.
--   EVALSHA <sha> 2 ta:v1:{p:shop}:tokens ta:v1:{p:shop}:order tok_01941f29c000a1b2c3d4 9f86d0..
--   -> 1

if #KEYS ~= 2 or #ARGV < 2 then
  return redis.error_reply('index_remove.lua expects 2 keys and at least 2 arguments, got '
    .. #KEYS .. ' and ' .. #ARGV)
end

local removed = {}
for index = 2, #ARGV do
  removed[ARGV[index]] = true
end

local kept = {}
local entry = redis.call('HGET', KEYS[1], ARGV[1]) or ''
for hash in string.gmatch(entry, '%S+') do
  if not removed[hash] then
    table.insert(kept, hash)
  end
end

if #kept == 0 then
  redis.call('HDEL', KEYS[1], ARGV[1])
  redis.call('ZREM', KEYS[2], ARGV[1])
else
  redis.call('HSET', KEYS[1], ARGV[1], table.concat(kept, ' '))
end
return #kept
