// Package redislock is an lkgate.Locker backed by Redis, for several lkgate
// replicas serving the same tenants. It can use the Redis a LiveKit cluster
// already runs: keys are short-lived and namespaced.
//
// A lock is a key set with SET NX PX to a random token; unlock deletes the
// key only if it still holds that token, so a holder whose lock expired
// never releases someone else's. The expiry (Config.TTL) is what frees a
// room if a replica crashes while holding its lock.
package redislock

import (
	"context"
	cryptorand "crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/lkgate/lkgate"
)

// Defaults applied by New.
const (
	// DefaultTTL exceeds lkgate's DefaultRequestTimeout (10 s), the longest a
	// claim holds its lock, with room to spare.
	DefaultTTL           = 30 * time.Second
	DefaultRetryInterval = 25 * time.Millisecond
)

// Config configures New.
type Config struct {
	// Client reaches Redis: a *redis.Client, *redis.ClusterClient or
	// failover client. Required.
	Client redis.UniversalClient
	// TTL is how long a lock lives if its holder never releases it. It must
	// exceed lkgate.Config.RequestTimeout. Zero means DefaultTTL.
	TTL time.Duration
	// RetryInterval is the mean wait between attempts on a held lock; each
	// wait is jittered by ±50%. Zero means DefaultRetryInterval.
	RetryInterval time.Duration
	// Prefix is prepended to every key. Empty means none (lkgate's keys
	// already start with "lkgate:").
	Prefix string
}

// Locker implements lkgate.Locker on Redis. It is safe for concurrent use.
type Locker struct {
	cfg Config
}

var _ lkgate.Locker = (*Locker)(nil)

// unlockScript deletes the key only while it still holds the caller's token.
var unlockScript = redis.NewScript(`if redis.call("get", KEYS[1]) == ARGV[1] then return redis.call("del", KEYS[1]) end return 0`)

// New validates cfg and returns a Locker. It does not contact Redis.
func New(cfg Config) (*Locker, error) {
	if cfg.Client == nil {
		return nil, errors.New("redislock: Config.Client is required")
	}
	if cfg.TTL == 0 {
		cfg.TTL = DefaultTTL
	}
	if cfg.RetryInterval == 0 {
		cfg.RetryInterval = DefaultRetryInterval
	}
	if cfg.TTL < time.Millisecond || cfg.RetryInterval < 0 {
		return nil, fmt.Errorf("redislock: TTL (%s) must be at least 1ms and RetryInterval (%s) not negative", cfg.TTL, cfg.RetryInterval)
	}
	return &Locker{cfg: cfg}, nil
}

// Lock implements lkgate.Locker. It returns ctx's error if ctx ends while
// the lock is held by someone else, and Redis's error if Redis fails.
func (l *Locker) Lock(ctx context.Context, key string) (func(), error) {
	key = l.cfg.Prefix + key
	b := make([]byte, 16)
	_, _ = cryptorand.Read(b)
	token := hex.EncodeToString(b)
	for {
		ok, err := l.cfg.Client.SetNX(ctx, key, token, l.cfg.TTL).Result()
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, fmt.Errorf("redislock: %w", err)
		}
		if ok {
			return func() { l.unlock(key, token) }, nil
		}
		wait := time.Duration(float64(l.cfg.RetryInterval) * (0.5 + rand.Float64()))
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(wait):
		}
	}
}

// unlock runs on its own short context: the caller's may be over, and a
// lock left behind would block the room until its TTL.
func (l *Locker) unlock(key, token string) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = unlockScript.Run(ctx, l.cfg.Client, []string{key}, token).Err()
}
