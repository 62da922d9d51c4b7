package redislimit

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/lkgate/lkgate"
)

var _ lkgate.LeaseStore = (*Store)(nil)

const (
	leaseKeyPrefix = "lkgate:lease:"
	sweepKey       = "lkgate:lease-sweep"
	// pipelineBatch bounds the commands sent in one pipeline, so that a
	// sweep of many rooms neither builds one huge request nor holds one
	// huge reply.
	pipelineBatch = 512
	// scanCount is SCAN's COUNT hint for RenewAfter.
	scanCount = 512
)

// retentionMs is how long past its end a lease record is kept.
var retentionMs = lkgate.LeaseRetention.Milliseconds()

// leaseScript is Lease: ARGV are tenant, until, liveAfter and the
// retention, times in unix milliseconds of the Manager's clock. Another
// tenant's lease that ends after liveAfter refuses the call and is
// returned; otherwise the lease becomes the tenant's, ending at the later
// of until and the tenant's current end.
var leaseScript = redis.NewScript(`
local cur = redis.call("HMGET", KEYS[1], "tenant", "until")
local holder, ends = cur[1], tonumber(cur[2])
local untilMs = tonumber(ARGV[2])
if holder and holder ~= ARGV[1] and ends and ends > tonumber(ARGV[3]) then
  return holder
end
if holder == ARGV[1] and ends and ends > untilMs then
  untilMs = ends
end
redis.call("HSET", KEYS[1], "tenant", ARGV[1], "until", string.format("%.0f", untilMs))
redis.call("PEXPIREAT", KEYS[1], string.format("%.0f", untilMs + tonumber(ARGV[4])))
return ""
`)

// renewScript is one name of Renew: ARGV are the tenant for a name
// without a record (empty: none), until and the retention. A record keeps
// its tenant and is never shortened.
var renewScript = redis.NewScript(`
local cur = redis.call("HMGET", KEYS[1], "tenant", "until")
local ends = tonumber(cur[2])
local untilMs = tonumber(ARGV[2])
if cur[1] then
  if ends and ends >= untilMs then
    return 0
  end
elseif ARGV[1] == "" then
  return 0
else
  redis.call("HSET", KEYS[1], "tenant", ARGV[1])
end
redis.call("HSET", KEYS[1], "until", ARGV[2])
redis.call("PEXPIREAT", KEYS[1], string.format("%.0f", untilMs + tonumber(ARGV[3])))
return 1
`)

// renewAfterScript is one key of RenewAfter: ARGV are after, until and
// the retention. Only a lease ending after after and before until moves.
var renewAfterScript = redis.NewScript(`
local ends = tonumber(redis.call("HGET", KEYS[1], "until"))
local untilMs = tonumber(ARGV[2])
if not ends or ends <= tonumber(ARGV[1]) or ends >= untilMs then
  return 0
end
redis.call("HSET", KEYS[1], "until", ARGV[2])
redis.call("PEXPIREAT", KEYS[1], string.format("%.0f", untilMs + tonumber(ARGV[3])))
return 1
`)

// setSweepScript records ARGV[1] unless a later sweep is recorded; the
// record expires with the leases it could still renew.
var setSweepScript = redis.NewScript(`
local cur = tonumber(redis.call("GET", KEYS[1]))
if cur and cur >= tonumber(ARGV[1]) then
  return 0
end
redis.call("SET", KEYS[1], ARGV[1], "PXAT", string.format("%.0f", tonumber(ARGV[1]) + tonumber(ARGV[2])))
return 1
`)

func (s *Store) leaseKey(name string) string { return s.prefix + leaseKeyPrefix + name }

// Lease gives name to tenant until at least until, unless another
// tenant's lease ends after liveAfter: then it changes nothing and returns
// that tenant. One script, atomic on one key.
func (s *Store) Lease(ctx context.Context, name, tenant string, until, liveAfter time.Time) (string, error) {
	holder, err := leaseScript.Run(ctx, s.client, []string{s.leaseKey(name)},
		tenant, until.UnixMilli(), liveAfter.UnixMilli(), retentionMs).Text()
	if err != nil {
		return "", fmt.Errorf("redislimit: lease %s: %w", name, err)
	}
	return holder, nil
}

// Renew pushes the lease of each name in rooms to at least until, keeping
// its holder; a name without a lease record is leased to the tenant rooms
// maps it to, unless that is empty. One pipeline of one script per name.
func (s *Store) Renew(ctx context.Context, rooms map[string]string, until time.Time) error {
	calls := make([]scriptCall, 0, len(rooms))
	for name, tenant := range rooms {
		calls = append(calls, scriptCall{key: s.leaseKey(name), args: []any{tenant, until.UnixMilli(), retentionMs}})
	}
	if err := s.pipelined(ctx, renewScript, calls); err != nil {
		return fmt.Errorf("redislimit: renew leases: %w", err)
	}
	return nil
}

// RenewAfter pushes every lease that ends after after to at least until:
// it SCANs the lease keys (on every master of a cluster) and runs one
// script per key, pipelined.
func (s *Store) RenewAfter(ctx context.Context, after, until time.Time) error {
	args := []any{after.UnixMilli(), until.UnixMilli(), retentionMs}
	scan := func(ctx context.Context, node redis.UniversalClient) error {
		iter := node.Scan(ctx, 0, globEscape(s.prefix+leaseKeyPrefix)+"*", scanCount).Iterator()
		var calls []scriptCall
		for iter.Next(ctx) {
			calls = append(calls, scriptCall{key: iter.Val(), args: args})
			if len(calls) == pipelineBatch {
				if err := s.pipelined(ctx, renewAfterScript, calls); err != nil {
					return err
				}
				calls = calls[:0]
			}
		}
		if err := iter.Err(); err != nil {
			return err
		}
		return s.pipelined(ctx, renewAfterScript, calls)
	}
	var err error
	if cluster, ok := s.client.(*redis.ClusterClient); ok {
		err = cluster.ForEachMaster(ctx, func(ctx context.Context, node *redis.Client) error { return scan(ctx, node) })
	} else {
		err = scan(ctx, s.client)
	}
	if err != nil {
		return fmt.Errorf("redislimit: renew leases after %s: %w", after.UTC().Format(time.RFC3339), err)
	}
	return nil
}

// LastSweep returns the start of the last completed sweep; zero if none
// is recorded.
func (s *Store) LastSweep(ctx context.Context) (time.Time, error) {
	v, err := s.client.Get(ctx, s.prefix+sweepKey).Result()
	if errors.Is(err, redis.Nil) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("redislimit: last sweep: %w", err)
	}
	ms, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("redislimit: last sweep: malformed value %q", v)
	}
	return time.UnixMilli(ms), nil
}

// SetLastSweep records t as the start of the last completed sweep, unless
// a later one is recorded.
func (s *Store) SetLastSweep(ctx context.Context, t time.Time) error {
	if err := setSweepScript.Run(ctx, s.client, []string{s.prefix + sweepKey}, t.UnixMilli(), retentionMs).Err(); err != nil {
		return fmt.Errorf("redislimit: set last sweep: %w", err)
	}
	return nil
}

// scriptCall is one run of a script on one key.
type scriptCall struct {
	key  string
	args []any
}

// pipelined runs script once per call, in pipelines of pipelineBatch. It
// sends EVALSHA, and again with EVAL the calls of a Redis (or cluster
// node) that has not cached the script, which also caches it there.
func (s *Store) pipelined(ctx context.Context, script *redis.Script, calls []scriptCall) error {
	for len(calls) > 0 {
		batch := calls[:min(len(calls), pipelineBatch)]
		calls = calls[len(batch):]
		cmds := make([]*redis.Cmd, len(batch))
		_, err := s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i, c := range batch {
				cmds[i] = script.EvalSha(ctx, p, []string{c.key}, c.args...)
			}
			return nil
		})
		var missing []scriptCall
		for i, cmd := range cmds {
			switch err := cmd.Err(); {
			case err == nil:
			case redis.HasErrorPrefix(err, "NOSCRIPT"):
				missing = append(missing, batch[i])
			default:
				return fmt.Errorf("%s: %w", batch[i].key, err)
			}
		}
		// A pipeline that failed as a whole (no connection) may leave its
		// commands without an error of their own.
		if err != nil && !redis.HasErrorPrefix(err, "NOSCRIPT") {
			return err
		}
		if len(missing) == 0 {
			continue
		}
		cmds = cmds[:len(missing)]
		_, err = s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i, c := range missing {
				cmds[i] = script.Eval(ctx, p, []string{c.key}, c.args...)
			}
			return nil
		})
		for i, cmd := range cmds {
			if err := cmd.Err(); err != nil {
				return fmt.Errorf("%s: %w", missing[i].key, err)
			}
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// globEscape quotes the characters SCAN's MATCH pattern would interpret.
func globEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`*?[]\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}
