-- index_page.lua: reads one page of a complete project's token ids, in creation order, with
-- their key hashes. Reads only.
--
-- KEYS[1]  project record, hash              ta:v1:{p:<project id>}:project
-- KEYS[2]  token id to key hashes, hash      ta:v1:{p:<project id>}:tokens
-- KEYS[3]  token ids in creation order, sorted set  ta:v1:{p:<project id>}:order
-- ARGV[1]  return only ids that sort after this one; "" to start at the first
-- ARGV[2]  the most ids to return, at least 1
--
-- Reply: {"missing"} when the project does not exist or is not complete, else
-- {"ok", more, token_id, key_hashes, ...}, where more is 1 when ids remain after the page.
--
-- Example:
--   EVALSHA <sha> 3 ta:v1:{p:shop}:project ta:v1:{p:shop}:tokens ta:v1:{p:shop}:order "" 2
--   -> {"ok", 1, "tok_01941f29c000a1b2c3d4", "9f86d0..", "tok_01941f29c000e5f60718", "2c26b4.."}

if #KEYS ~= 3 or #ARGV ~= 2 then
  return redis.error_reply('index_page.lua expects 3 keys and 2 arguments, got '
    .. #KEYS .. ' and ' .. #ARGV)
end
local count = tonumber(ARGV[2])
if not count or count < 1 then
  return redis.error_reply('index_page.lua: the page size must be a number of at least 1')
end

if redis.call('HGET', KEYS[1], 'complete') ~= '1' then
  return {'missing'}
end

local lower = '-'
if ARGV[1] ~= '' then
  lower = '(' .. ARGV[1]
end
-- One id more than the page, to learn whether ids remain after it.
local ids = redis.call('ZRANGE', KEYS[3], lower, '+', 'BYLEX', 'LIMIT', 0, count + 1)

local reply = {'ok', 0}
if #ids > count then
  reply[2] = 1
  ids[#ids] = nil
end
for _, id in ipairs(ids) do
  table.insert(reply, id)
  table.insert(reply, redis.call('HGET', KEYS[2], id) or '')
end
return reply
