// Package redislimit is an lkgate.LimitStore, lkgate.LeaseStore,
// lkgate.BanStore and lkgate.SeenEvents backed by Redis, so that several
// lkgate replicas enforce each tenant's limits and bans together, shared
// room names stay leased across replicas and restarts, and a webhook event
// one replica handled is a duplicate to the others. One Store serves as
// Config.Limits.Store, Config.Leases, Config.Bans and
// httpx.Config.SeenEvents. It can share the Redis of
// redislock (and of LiveKit): its keys are namespaced.
//
// Rates use go-redis/redis_rate, the GCRA limiter maintained by the
// go-redis authors: one Lua script per check, timed by Redis's own clock,
// so replicas with skewed clocks still agree. Concurrency slots are a
// sorted set per limit whose scores are lease expiries, taken and trimmed
// by one Lua script, so a crashed replica's slots expire on their own.
//
// # Leases of shared names
//
// Each leased name is one hash, Prefix+"lkgate:lease:"+name, with the
// fields tenant and until (the lease's end, in unix milliseconds), and
// expires LeaseRetention (24 h) after until, so a sweep resuming after a
// gap still finds the leases that ended in it. Lease is one script that
// takes or extends a lease, or refuses it for another tenant's live lease,
// atomically; a lease is never shortened. Renew runs one script per name,
// pipelined; RenewAfter SCANs the lease keys (on every master of a
// cluster) and renews them the same way. The start of the last completed
// sweep is the key Prefix+"lkgate:lease-sweep", which only moves forward.
//
// Lease times are the Manager's clock (Config.Now), not Redis's: the
// replicas' clocks must agree within 30 s, the skew lkgate's lease window
// allows for, and stay within minutes of Redis's, which runs the records'
// 24-hour expiry.
//
// # Bans
//
// Each ban is one key, Prefix+"lkgate:ban:"+<len(tenant)>:<tenant><len(room)>:<room><identity>,
// holding its end in unix milliseconds and expiring 30 s after it;
// BannedUntil is one GET. The sorted set Prefix+"lkgate:bans" lists the
// bans for the Manager's ban sweep: member the key's part after
// "lkgate:ban:", score the end. Ban (SET, ZADD GT) and Unban (ZREM, DEL)
// are not transactions, as the keys may lie in different Cluster slots;
// their order keeps every held ban listed (see Store.Ban). On one Redis
// each is one pipeline; on a Redis Cluster, whose client sends each node's
// commands on their own, the second command waits for the first's reply:
// two round trips. Ban and Bans trim members ended more than 30 s ago. Bans recorded by a version before the list are not in it: the
// sweep misses them until they are recorded again.
//
// # Webhook event ids
//
// Each handled webhook event id is one key, Prefix+"lkgate:webhook:"+id,
// set with SET NX PXAT (so exactly one replica handles an event) and
// expiring when httpx asks: 30 s past the end of the event's replay
// window (lkgate.Manager.WebhookDeadline), so that Redis's clock and the
// replicas' may be up to 30 s apart.
//
// # Room index
//
// RoomIndex (NewRoomIndex, same Config) is an lkgate.RoomIndex shared by
// the replicas: a hash of each tenant's rooms, a sorted set of its
// finished sessions and the set of tenants with rooms, under one hash tag.
//
// Every Store script touches one key, and every RoomIndex script keys of
// one hash tag, so a Redis Cluster works too: the contract suites and each
// of these claims run on a three-master cluster (the TestCluster tests).
// A cluster is recognised as a *redis.ClusterClient; a client that wraps
// one is treated as a single Redis (RenewAfter would scan one node). Redis
// 6.2 or newer is needed (ZRANGE ... BYSCORE, SET ... PXAT).
package redislimit

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"

	"github.com/lkgate/lkgate"
)

// Config configures New.
type Config struct {
	// Client reaches Redis: a *redis.Client, *redis.ClusterClient or
	// failover client. Required.
	Client redis.UniversalClient
	// Prefix is prepended to every key. Empty means none (lkgate's keys
	// already start with "lkgate:limit:").
	Prefix string
}

// Store implements lkgate.LimitStore, lkgate.LeaseStore and
// lkgate.SeenEvents on Redis. It is safe for concurrent use.
type Store struct {
	client redis.UniversalClient
	rates  *redis_rate.Limiter
	prefix string
}

var _ lkgate.LimitStore = (*Store)(nil)

// New validates cfg and returns a Store. It does not contact Redis.
func New(cfg Config) (*Store, error) {
	if cfg.Client == nil {
		return nil, errors.New("redislimit: Config.Client is required")
	}
	return &Store{client: cfg.Client, rates: redis_rate.NewLimiter(cfg.Client), prefix: cfg.Prefix}, nil
}

// Allow takes one event from the rate limit named key.
func (s *Store) Allow(ctx context.Context, key string, r lkgate.Rate) (bool, time.Duration, error) {
	burst := r.Burst
	if burst == 0 {
		burst = r.Events
	}
	res, err := s.rates.Allow(ctx, s.prefix+key, redis_rate.Limit{Rate: r.Events, Period: r.Per, Burst: burst})
	if err != nil {
		return false, 0, fmt.Errorf("redislimit: rate %s: %w", key, err)
	}
	if res.Allowed > 0 {
		return true, 0, nil
	}
	return false, res.RetryAfter, nil
}

// acquireScript drops expired leases, then renews ARGV[3]'s lease or adds
// it if fewer than ARGV[2] are held. Scores are expiry times in
// milliseconds of Redis's clock; ARGV[1] is the lease in milliseconds.
var acquireScript = redis.NewScript(`
local t = redis.call("TIME")
local now = t[1] * 1000 + math.floor(t[2] / 1000)
redis.call("ZREMRANGEBYSCORE", KEYS[1], "-inf", now)
if not redis.call("ZSCORE", KEYS[1], ARGV[3]) and redis.call("ZCARD", KEYS[1]) >= tonumber(ARGV[2]) then
  return 0
end
redis.call("ZADD", KEYS[1], now + tonumber(ARGV[1]), ARGV[3])
local last = redis.call("ZRANGE", KEYS[1], -1, -1, "WITHSCORES")
redis.call("PEXPIREAT", KEYS[1], last[2])
return 1
`)

// holdersScript returns the live leases and Redis's clock, in milliseconds.
var holdersScript = redis.NewScript(`
local t = redis.call("TIME")
local now = t[1] * 1000 + math.floor(t[2] / 1000)
return {now, redis.call("ZRANGE", KEYS[1], "(" .. now, "+inf", "BYSCORE", "WITHSCORES")}
`)

// Acquire takes holder's slot among max slots of key for ttl.
func (s *Store) Acquire(ctx context.Context, key, holder string, max int, ttl time.Duration) (bool, error) {
	ok, err := acquireScript.Run(ctx, s.client, []string{s.prefix + key}, ttl.Milliseconds(), max, holder).Int()
	if err != nil {
		return false, fmt.Errorf("redislimit: acquire %s: %w", key, err)
	}
	return ok == 1, nil
}

// Release frees holder's slot of key.
func (s *Store) Release(ctx context.Context, key, holder string) error {
	if err := s.client.ZRem(ctx, s.prefix+key, holder).Err(); err != nil {
		return fmt.Errorf("redislimit: release %s: %w", key, err)
	}
	return nil
}

// Holders returns key's live slots and their expiry, converted from
// Redis's clock to this machine's.
func (s *Store) Holders(ctx context.Context, key string) (map[string]time.Time, error) {
	res, err := holdersScript.Run(ctx, s.client, []string{s.prefix + key}).Slice()
	if err != nil {
		return nil, fmt.Errorf("redislimit: holders %s: %w", key, err)
	}
	if len(res) != 2 {
		return nil, fmt.Errorf("redislimit: holders %s: unexpected reply", key)
	}
	now, ok := res[0].(int64)
	pairs, ok2 := res[1].([]any)
	if !ok || !ok2 || len(pairs)%2 != 0 {
		return nil, fmt.Errorf("redislimit: holders %s: unexpected reply", key)
	}
	skew := time.Since(time.UnixMilli(now))
	out := make(map[string]time.Time, len(pairs)/2)
	for i := 0; i < len(pairs); i += 2 {
		holder, _ := pairs[i].(string)
		score, _ := pairs[i+1].(string)
		ms, err := strconv.ParseFloat(score, 64)
		if err != nil {
			return nil, fmt.Errorf("redislimit: holders %s: bad score %q", key, score)
		}
		out[holder] = time.UnixMilli(int64(ms)).Add(skew)
	}
	return out, nil
}
