//! The Lua scripts that count on the Redis server, atomically, and the keys they touch.
//! Keys read `<prefix>v1:{<deployment id>}:<what>`: `v1` is the layout version (bumped when
//! a script changes what a key holds, so releases with different layouts never share a key),
//! the braces are a Redis Cluster hash tag keeping one deployment's keys in one slot. Scripts
//! are called by their SHA-1 (`EVALSHA`), so two releases' scripts live side by side.

use sha2::{Digest, Sha256};

/// The key layout version.
pub const LAYOUT: &str = "v1";

/// Checks a deployment's cooldown, `rpm`/`tpm` window and parallel leases and, if all have
/// room, counts the request and takes a lease, in one step on the server's clock.
/// KEYS: rate (hash s=start ms, r=requests, t=tokens), lease (sorted set of lease ids by
/// expiry ms), cool (string with a TTL). ARGV: rpm, tpm, max parallel, lease
/// id, lease TTL ms, window ms, and 1 to take a lease without a parallel limit (least-busy
/// counts them); a limit of -1 is no limit. Returns {0, 0} admitted, {1, ms} cooling, {2, ms} at `rpm` or
/// `tpm` until the window ends, {3, ms} at the parallel limit.
pub const ADMIT: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local cool = redis.call('PTTL', KEYS[3])
if cool > 0 then return {1, cool} end
local rpm, tpm, max = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local ttl, window = tonumber(ARGV[5]), tonumber(ARGV[6])
local fresh, requests, tokens, start = true, 0, 0, now
if rpm >= 0 or tpm >= 0 then
  local w = redis.call('HMGET', KEYS[1], 's', 'r', 't')
  if w[1] and now - tonumber(w[1]) < window then
    fresh, start, requests, tokens = false, tonumber(w[1]), tonumber(w[2] or 0), tonumber(w[3] or 0)
  end
  if (rpm >= 0 and requests >= rpm) or (tpm >= 0 and tokens >= tpm) then return {2, start + window - now} end
end
if max >= 0 or ARGV[7] == '1' then
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
  if max >= 0 and redis.call('ZCARD', KEYS[2]) >= max then return {3, 0} end
  redis.call('ZADD', KEYS[2], now + ttl, ARGV[4])
  redis.call('PEXPIRE', KEYS[2], ttl * 2)
end
if rpm >= 0 or tpm >= 0 then
  if fresh then
    redis.call('HSET', KEYS[1], 's', now, 'r', 1, 't', 0)
    redis.call('PEXPIRE', KEYS[1], window * 2)
  else
    redis.call('HINCRBY', KEYS[1], 'r', 1)
  end
end
return {0, 0}
";

/// Counts a finished call's tokens in the deployment's window (a new one if it ended).
/// KEYS: rate. ARGV: tokens, window ms.
pub const SPEND: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[2])
local s = redis.call('HGET', KEYS[1], 's')
if s and now - tonumber(s) < window then
  redis.call('HINCRBY', KEYS[1], 't', ARGV[1])
else
  redis.call('HSET', KEYS[1], 's', now, 'r', 0, 't', ARGV[1])
  redis.call('PEXPIRE', KEYS[1], window * 2)
end
return 0
";

/// Pushes the expiry of this replica's live leases forward (leases already released or
/// expired stay gone). KEYS: lease. ARGV: lease TTL ms, then the lease ids.
pub const REFRESH: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[1])
for i = 2, #ARGV do redis.call('ZADD', KEYS[1], 'XX', now + ttl, ARGV[i]) end
redis.call('PEXPIRE', KEYS[1], ttl * 2)
return 0
";

/// What the routing strategies read of a deployment: calls in flight on every replica,
/// tokens this window, average time to response head in µs. KEYS: rate, lease. ARGV: window ms.
pub const STATS: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local flight = redis.call('ZCOUNT', KEYS[2], now, '+inf')
local w = redis.call('HMGET', KEYS[1], 's', 't', 'l')
local tokens = 0
if w[1] and now - tonumber(w[1]) < tonumber(ARGV[1]) then tokens = tonumber(w[2] or 0) end
return {flight, tokens, tonumber(w[3] or 0)}
";

/// Folds one time to response head (µs) into the deployment's shared average, the newest
/// sample weighing ARGV[2] eighths. KEYS: rate. ARGV: sample µs, weight.
pub const LATENCY: &str = r"
local old = tonumber(redis.call('HGET', KEYS[1], 'l') or 0)
local sample, weight = tonumber(ARGV[1]), tonumber(ARGV[2])
local value = sample
if old > 0 then value = math.floor((old * (8 - weight) + sample * weight) / 8) end
redis.call('HSET', KEYS[1], 'l', value)
return value
";

/// Counts one failed attempt on the deployment across replicas and cools it for every
/// replica once the count in the window passes what is allowed (then counting starts again,
/// as in process), telling every replica's subscriber on the cooldowns channel (see [`COOL`]).
/// KEYS: fails, cool. ARGV: allowed failures, window ms, cooldown ms, channel.
/// Returns 1 when this failure cooled the deployment.
pub const FAIL: &str = r"
local fails = redis.call('INCR', KEYS[1])
if fails == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
if fails > tonumber(ARGV[1]) then
  redis.call('DEL', KEYS[1])
  if redis.call('SET', KEYS[2], 1, 'PX', ARGV[3], 'NX') then
    redis.call('PUBLISH', ARGV[4], ARGV[3] .. ' ' .. KEYS[2])
  end
  return 1
end
return 0
";

/// Cools a deployment for every replica unless it already rests, and tells every replica's
/// subscriber: the message on the cooldowns channel is `<ms> <cool key>`.
/// KEYS: cool. ARGV: cooldown ms, channel. Returns 1 when this call started the cooldown.
pub const COOL: &str = r"
if redis.call('SET', KEYS[1], 1, 'PX', ARGV[1], 'NX') then
  redis.call('PUBLISH', ARGV[2], ARGV[1] .. ' ' .. KEYS[1])
  return 1
end
return 0
";

/// The pub/sub channel cooldowns are announced on, under the key prefix and layout
/// (a channel is not a key: a plain `PUBLISH` reaches subscribers on every Cluster node).
pub fn channel(prefix: &str) -> String {
    format!("{prefix}{LAYOUT}:cooldowns")
}

/// One counted thing's keys (a deployment's, or the gateway-wide parallel limit's).
#[derive(Debug, Clone)]
pub struct Keys {
    pub rate: String,
    pub lease: String,
    pub cool: String,
    /// Failed attempts in the current cooldown window.
    pub fails: String,
}

impl Keys {
    /// The keys of deployment `id` (or `global`) under `prefix`. An id with a brace would
    /// break the hash tag, so such an id is replaced by its SHA-256.
    pub fn new(prefix: &str, id: &str) -> Self {
        let tag =
            if id.contains(['{', '}']) { crate::table::hex(&Sha256::digest(id.as_bytes())) } else { id.to_owned() };
        let base = format!("{prefix}{LAYOUT}:{{{tag}}}");
        Keys {
            rate: format!("{base}:rate"),
            lease: format!("{base}:lease"),
            cool: format!("{base}:cool"),
            fails: format!("{base}:fails"),
        }
    }
}

/// The name the gateway-wide limit counts under, beside the deployments' ids.
pub const GLOBAL: &str = "global_max_parallel_requests";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_carry_prefix_layout_and_one_hash_tag() {
        let k = Keys::new("model-router:", "dep-1");
        assert_eq!(k.rate, "model-router:v1:{dep-1}:rate");
        assert_eq!(k.lease, "model-router:v1:{dep-1}:lease");
        assert_eq!(k.fails, "model-router:v1:{dep-1}:fails");
        let odd = Keys::new("p:", "a{b}");
        assert_eq!(odd.cool.matches('{').count(), 1, "{}", odd.cool);
        assert!(!odd.cool.contains("a{b}"));
        assert_eq!(channel("model-router:"), "model-router:v1:cooldowns");
    }
}
