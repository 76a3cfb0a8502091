-- project_finish_delete.lua: deletes a project's keys as the last step but one of deleting it,
-- after its tokens are gone.
--
-- KEYS[1]  project record, hash              ta:v1:{p:<project id>}:project
-- KEYS[2]  token id to key hashes, hash      ta:v1:{p:<project id>}:tokens
-- KEYS[3]  token ids in creation order, sorted set  ta:v1:{p:<project id>}:order
-- ARGV[1]  the claim the deletion began with
--
-- Reply: 1 when the keys were deleted; 0 when a creation of the same project has taken it over
-- since (the claim differs), and nothing changed.
--
-- Example:
--   EVALSHA <sha> 3 ta:v1:{p:shop}:project ta:v1:{p:shop}:tokens ta:v1:{p:shop}:order 7a0c..
--   -> 1

if #KEYS ~= 3 or #ARGV ~= 1 then
  return redis.error_reply('project_finish_delete.lua expects 3 keys and 1 argument, got '
    .. #KEYS .. ' and ' .. #ARGV)
end

if redis.call('HGET', KEYS[1], 'claim') ~= ARGV[1] then
  return 0
end
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])
return 1
