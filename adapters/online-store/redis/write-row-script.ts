/**
 * The conditional write of online rows (docs/design.md §5), as one Lua script call for a chunk of rows.
 * The condition is per row, exactly as if each row had its own call; batching only spares the
 * per-command cost on both sides (one ioredis Command, one script invocation, one argument per
 * row instead of 40), which was most of the online write time.
 *
 * KEYS[i] = row i's hash. ARGV[1] = ttlMs ('0' = none), ARGV[2] = channel ('' = none),
 * ARGV[2 + i] = row i packed as a JSON array of strings: [key, as_of, f1, v1, …] (row-layout.ts).
 * Returns one integer per row:
 *
 * 1. A stored `@as_of` newer than the row's: 0 (stale, nothing touched — not even TTL).
 * 2. Equal `as_of` and identical fields: 2 (idempotent rewrite; TTL refreshed, no publish).
 * 3. Otherwise the row replaces the hash (DEL + HSET, so a feature that became null disappears),
 *    sets its expiry, and — only then — PUBLISH the packed row itself on the channel: 1.
 *
 * Expiry (PEXPIREAT, Redis's clock): ttlMs after the later of the landing write and the row's own
 * `as_of`. From the landing write, so a row written late stays readable as OUTSIDE_TTL for a while;
 * never before `as_of + ttlMs`, the moment the row turns OUTSIDE_TTL, because an event time may lie
 * ahead of the clock (docs/semantics.md §1): a key gone while its row still read PRESENT would read
 * MISSING, and let an older row land and be served in its place.
 * Equal `as_of` with different values lands (case 3): the later row of a tie is the fresher one.
 *
 * Values stay JSON strings, so Redis stores the writer's exact text (no Lua number formatting).
 * In a Cluster all keys of one call share a slot (the caller groups them).
 */
export const WRITE_ROWS_SCRIPT = `
local ttl = tonumber(ARGV[1])
local channel = ARGV[2]
local clock = redis.call('TIME')
local nowMs = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local function expire(key, asOf)
  if ttl > 0 then redis.call('PEXPIREAT', key, string.format('%d', math.max(nowMs, asOf) + ttl)) end
end
local out = {}
for i = 1, #KEYS do
  local key = KEYS[i]
  local packed = ARGV[i + 2]
  local row = cjson.decode(packed)
  local asOf = tonumber(row[2])
  local result = 1
  local stored = redis.call('HGET', key, '@as_of')
  if stored then
    local storedAsOf = tonumber(stored)
    if asOf < storedAsOf then
      result = 0
    elseif asOf == storedAsOf then
      local cur = redis.call('HGETALL', key)
      if #cur == #row then
        local m = {}
        for j = 1, #cur, 2 do m[cur[j]] = cur[j + 1] end
        local same = true
        for j = 3, #row, 2 do
          if m[row[j]] ~= row[j + 1] then same = false break end
        end
        if same then
          expire(key, asOf)
          result = 2
        end
      end
    end
    if result == 1 then redis.call('DEL', key) end
  end
  if result == 1 then
    redis.call('HSET', key, '@as_of', row[2], unpack(row, 3))
    expire(key, asOf)
    if channel ~= '' then redis.call('PUBLISH', channel, packed) end
  end
  out[i] = result
end
return out
`

/**
 * Rows per script call: enough to make the per-call cost vanish, few enough that one call
 * (~15 µs a row in Redis) never holds up concurrent reads by more than about half a millisecond.
 */
export const ROWS_PER_CALL = 32
