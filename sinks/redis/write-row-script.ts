/**
 * The conditional write of one online row (DESIGN §5), as one Lua script on one key.
 *
 * KEYS[1] = the row's hash. ARGV = [as_of, ttlMs ('0' = none), channel ('' = none), f1, v1, …].
 *
 * 1. A stored `@as_of` newer than ARGV[1] wins: return 0 (stale, nothing touched — not even TTL).
 * 2. Equal `as_of` and identical fields: return 2 (idempotent rewrite; TTL refreshed, no publish).
 * 3. Otherwise the row replaces the hash (DEL + HSET, so a feature that became null disappears),
 *    PEXPIRE ttlMs (TTL counts from the landing write, see redis-online-store.ts), and — only then —
 *    PUBLISH `[key, ARGV]` as JSON on the channel: return 1.
 * Equal `as_of` with different values lands (case 3): the later row of a tie is the fresher one.
 */
export const WRITE_ROW_SCRIPT = `
local key = KEYS[1]
local asOf = tonumber(ARGV[1])
local stored = redis.call('HGET', key, '@as_of')
if stored then
  local storedAsOf = tonumber(stored)
  if asOf < storedAsOf then return 0 end
  if asOf == storedAsOf then
    local cur = redis.call('HGETALL', key)
    if #cur == #ARGV - 1 then
      local m = {}
      for i = 1, #cur, 2 do m[cur[i]] = cur[i + 1] end
      local same = true
      for i = 4, #ARGV, 2 do
        if m[ARGV[i]] ~= ARGV[i + 1] then same = false break end
      end
      if same then
        if ARGV[2] ~= '0' then redis.call('PEXPIRE', key, ARGV[2]) end
        return 2
      end
    end
  end
  redis.call('DEL', key)
end
redis.call('HSET', key, '@as_of', ARGV[1], unpack(ARGV, 4))
if ARGV[2] ~= '0' then redis.call('PEXPIRE', key, ARGV[2]) end
if ARGV[3] ~= '' then redis.call('PUBLISH', ARGV[3], cjson.encode({key, ARGV})) end
return 1
`
