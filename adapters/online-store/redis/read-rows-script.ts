/**
 * Batched read: the HMGETs of many keys in ONE command, so a 100-entity request costs the client
 * one command object and one reply instead of a 100-command pipeline (in Node the client, not
 * Redis, is the bottleneck — see notes/limits.md). Read-only, so it may run on replicas.
 *
 * ARGV[1] = 'S': ARGV[2] = m, ARGV[3..m+2] = fields shared by every key.
 * ARGV[1] = 'P': per key i, ARGV holds n_i then its n_i fields, in key order.
 * Reply: one HMGET reply per key (array of bulk strings / nils), in key order.
 * Not used with Cluster: the keys of one call may live in different slots.
 */
export const READ_ROWS_SCRIPT = `#!lua flags=no-writes
local out = {}
if ARGV[1] == 'S' then
  local m = tonumber(ARGV[2])
  local fields = {}
  for j = 1, m do fields[j] = ARGV[j + 2] end
  for i = 1, #KEYS do out[i] = redis.call('HMGET', KEYS[i], unpack(fields)) end
else
  local a = 2
  for i = 1, #KEYS do
    local n = tonumber(ARGV[a])
    out[i] = redis.call('HMGET', KEYS[i], unpack(ARGV, a + 1, a + n))
    a = a + n + 1
  end
end
return out
`
