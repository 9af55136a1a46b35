// etcdbench: the Go contestant of the benchmark suite (etcd's own clientv3 and
// clientv3/concurrency), speaking the same JSON-lines protocol as the Python workers
// (see benchmarks/contestants/_harness.py). Built by benchmarks/run.py in GOPATH mode:
//
//	GO111MODULE=off GOPATH=<benchmarks/go>:/usr/share/gocode go build etcdbench
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"go.etcd.io/etcd/clientv3"
	"go.etcd.io/etcd/clientv3/concurrency"
	"go.etcd.io/etcd/version"
)

var (
	out   = bufio.NewWriter(os.Stdout)
	in    = bufio.NewReaderSize(os.Stdin, 1<<20)
	value = []byte(stringsRepeat("v", 100))
	cli   *clientv3.Client
)

func stringsRepeat(s string, n int) string {
	b := make([]byte, 0, n*len(s))
	for i := 0; i < n; i++ {
		b = append(b, s...)
	}
	return string(b)
}

func emit(m map[string]interface{}) {
	b, _ := json.Marshal(m)
	out.Write(b)
	out.WriteByte('\n')
	out.Flush()
}

func readLine() map[string]interface{} {
	line, err := in.ReadBytes('\n')
	if err != nil {
		return nil
	}
	var m map[string]interface{}
	if json.Unmarshal(line, &m) != nil {
		return nil
	}
	return m
}

type params map[string]interface{}

func (p params) f(k string) float64 { v, _ := p[k].(float64); return v }
func (p params) i(k string) int     { return int(p.f(k)) }
func (p params) s(k string) string  { v, _ := p[k].(string); return v }

type notAvailable struct{ why string }

func (n notAvailable) Error() string { return n.why }

func pct(v []float64, q float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	r := int(q/100.0*float64(len(s))+0.5+0.5) - 1
	if r < 0 {
		r = 0
	}
	if r >= len(s) {
		r = len(s) - 1
	}
	return s[r]
}

func cpuSeconds() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return float64(ru.Utime.Sec) + float64(ru.Utime.Usec)/1e6 + float64(ru.Stime.Sec) + float64(ru.Stime.Usec)/1e6
}

// peakRSSMB reads VmHWM from /proc/self/status: getrusage's Maxrss is carried over execve
// from the forked parent on Linux, so it would report at least the runner's RSS.
func peakRSSMB() float64 {
	if data, err := os.ReadFile("/proc/self/status"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if strings.HasPrefix(line, "VmHWM:") {
				fields := strings.Fields(line)
				if len(fields) >= 2 {
					if kb, err := strconv.ParseFloat(fields[1], 64); err == nil {
						return kb / 1024.0
					}
				}
			}
		}
	}
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return float64(ru.Maxrss) / 1024.0
}

func latencies(lat []float64, wall float64) map[string]interface{} {
	sum := 0.0
	for _, x := range lat {
		sum += x
	}
	return map[string]interface{}{
		"p50_ms": pct(lat, 50) * 1e3, "p99_ms": pct(lat, 99) * 1e3,
		"mean_ms": sum / float64(len(lat)) * 1e3, "ops_s": float64(len(lat)) / wall, "n": len(lat),
	}
}

func seq(op func() error, p params) (map[string]interface{}, error) {
	for i := 0; i < p.i("warmup_n"); i++ {
		if err := op(); err != nil {
			return nil, err
		}
	}
	n := p.i("n")
	lat := make([]float64, 0, n)
	start := time.Now()
	deadline := start.Add(time.Duration(p.f("max_s") * 1e9))
	for i := 0; i < n; i++ {
		t0 := time.Now()
		if err := op(); err != nil {
			return nil, err
		}
		t1 := time.Now()
		lat = append(lat, t1.Sub(t0).Seconds())
		if t1.After(deadline) {
			break
		}
	}
	return latencies(lat, time.Since(start).Seconds()), nil
}

func throughput(makeOp func(i int) (func() error, error), p params) (map[string]interface{}, error) {
	conc := p.i("conc")
	counts := make([]int64, conc)
	var stop int32
	var firstErr atomic.Value
	var wg sync.WaitGroup
	var ready sync.WaitGroup
	ready.Add(conc)
	for i := 0; i < conc; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			op, err := makeOp(i)
			ready.Done()
			if err != nil {
				firstErr.Store(err)
				atomic.StoreInt32(&stop, 1)
				return
			}
			for atomic.LoadInt32(&stop) == 0 {
				if err := op(); err != nil {
					firstErr.Store(err)
					atomic.StoreInt32(&stop, 1)
					return
				}
				atomic.AddInt64(&counts[i], 1)
			}
		}(i)
	}
	ready.Wait()
	total := func() int64 {
		var s int64
		for i := range counts {
			s += atomic.LoadInt64(&counts[i])
		}
		return s
	}
	time.Sleep(time.Duration(p.f("warmup_s") * 1e9))
	c0, t0, cpu0 := total(), time.Now(), cpuSeconds()
	time.Sleep(time.Duration(p.f("duration_s") * 1e9))
	c1, t1, cpu1 := total(), time.Now(), cpuSeconds()
	atomic.StoreInt32(&stop, 1)
	wg.Wait()
	if e := firstErr.Load(); e != nil {
		return nil, e.(error)
	}
	ops := float64(c1 - c0)
	if ops < 1 {
		ops = 1
	}
	return map[string]interface{}{
		"ops_s": float64(c1-c0) / t1.Sub(t0).Seconds(), "cpu_us_per_op": (cpu1 - cpu0) / ops * 1e6,
	}, nil
}

func run(workload string, p params) (map[string]interface{}, error) {
	ctx := context.Background()
	tag := p.s("tag")
	switch workload {
	case "put_seq":
		key := "/bench/seq/" + tag
		return seq(func() error { _, err := cli.Put(ctx, key, string(value)); return err }, p)
	case "get_seq":
		key := p.s("get_key")
		return seq(func() error { _, err := cli.Get(ctx, key); return err }, p)
	case "put_tp":
		return throughput(func(i int) (func() error, error) {
			key := fmt.Sprintf("/bench/tp/%s/%d", tag, i)
			v := string(value)
			return func() error { _, err := cli.Put(ctx, key, v); return err }, nil
		}, p)
	case "get_tp":
		key := p.s("get_key")
		return throughput(func(i int) (func() error, error) {
			return func() error { _, err := cli.Get(ctx, key); return err }, nil
		}, p)
	case "txn_tp":
		return throughput(func(i int) (func() error, error) {
			key := fmt.Sprintf("/bench/cas/%s/%d", tag, i)
			if _, err := cli.Put(ctx, key, "0"); err != nil {
				return nil, err
			}
			state := 0
			return func() error {
				old, nw := strconv.Itoa(state), strconv.Itoa(state+1)
				r, err := cli.Txn(ctx).If(clientv3.Compare(clientv3.Value(key), "=", old)).
					Then(clientv3.OpPut(key, nw)).Commit()
				if err != nil {
					return err
				}
				if !r.Succeeded {
					return fmt.Errorf("compare-and-swap failed on %s", key)
				}
				state++
				return nil
			}, nil
		}, p)
	case "range":
		prefix := p.s("range_prefix")
		expected := p.i("range_keys")
		var lat []float64
		start := time.Now()
		for i := 0; i <= p.i("n"); i++ {
			t0 := time.Now()
			r, err := cli.Get(ctx, prefix, clientv3.WithPrefix())
			if err != nil {
				return nil, err
			}
			t1 := time.Now()
			if len(r.Kvs) != expected {
				return nil, fmt.Errorf("range returned %d keys, expected %d", len(r.Kvs), expected)
			}
			if i > 0 {
				lat = append(lat, t1.Sub(t0).Seconds())
			}
			if t1.Sub(start).Seconds() > p.f("max_s") && len(lat) >= 3 {
				break
			}
		}
		return latencies(lat, time.Since(start).Seconds()), nil
	case "watch":
		return watchBench(p)
	case "lease":
		return leaseBench(p)
	case "lock_uncontended":
		sess, err := concurrency.NewSession(cli, concurrency.WithTTL(10))
		if err != nil {
			return nil, err
		}
		defer sess.Close()
		m := concurrency.NewMutex(sess, "bench-lock-u-"+tag)
		n := 0
		start := time.Now()
		end := start.Add(time.Duration(p.f("duration_s") * 1e9))
		for {
			if err := m.Lock(ctx); err != nil {
				return nil, err
			}
			if err := m.Unlock(ctx); err != nil {
				return nil, err
			}
			n++
			if !time.Now().Before(end) {
				break
			}
		}
		return map[string]interface{}{"cycles_s": float64(n) / time.Since(start).Seconds()}, nil
	case "lock_contend":
		sess, err := concurrency.NewSession(cli, concurrency.WithTTL(10))
		if err != nil {
			return nil, err
		}
		defer sess.Close()
		name := p.s("lock_name")
		warm := concurrency.NewMutex(sess, name+"-warm")
		if err := warm.Lock(ctx); err != nil {
			return nil, err
		}
		warm.Unlock(ctx)
		m := concurrency.NewMutex(sess, name)
		startAt := int64(p.f("start_at_ns"))
		if d := startAt - time.Now().UnixNano(); d > 0 {
			time.Sleep(time.Duration(d))
		}
		end := startAt + int64(p.f("duration_s")*1e9)
		spans := [][2]int64{}
		for time.Now().UnixNano() < end {
			if err := m.Lock(ctx); err != nil {
				return nil, err
			}
			tAcq := time.Now().UnixNano()
			tRel := time.Now().UnixNano()
			if err := m.Unlock(ctx); err != nil {
				return nil, err
			}
			spans = append(spans, [2]int64{tAcq, tRel})
		}
		return map[string]interface{}{"spans": spans}, nil
	case "election":
		return electionBench(p)
	}
	return nil, notAvailable{"unknown workload " + workload}
}

func watchBench(p params) (map[string]interface{}, error) {
	prefix := p.s("watch_prefix")
	expected := p.i("watch_events")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	wch := cli.Watch(ctx, prefix, clientv3.WithPrefix(), clientv3.WithCreatedNotify())
	first, ok := <-wch
	if !ok || !first.Created {
		return nil, fmt.Errorf("watch not created")
	}
	recv := make([]int64, 0, expected)
	vals := make([][]byte, 0, expected)
	done := make(chan struct{})
	go func() {
		closed := false
		for resp := range wch {
			for _, ev := range resp.Events {
				recv = append(recv, time.Now().UnixNano())
				vals = append(vals, ev.Kv.Value)
				if len(recv) >= expected && !closed {
					closed = true
					close(done)
				}
			}
		}
	}()
	emit(map[string]interface{}{"event": "watching"})
	cpu0 := cpuSeconds()
	msg := readLine()
	firstPut := int64(0)
	if msg != nil {
		if v, ok := msg["first_put_ns"].(float64); ok {
			firstPut = int64(v)
		}
	}
	select {
	case <-done:
	case <-time.After(time.Duration(p.f("timeout_s") * 1e9)):
	}
	cpu1 := cpuSeconds()
	cancel()
	n := len(recv)
	if n == 0 {
		return nil, fmt.Errorf("no watch event was delivered")
	}
	lat := make([]float64, 0, n)
	for i := 0; i < n && i < len(vals); i++ {
		if len(vals[i]) >= 19 {
			if sent, err := strconv.ParseInt(string(vals[i][:19]), 10, 64); err == nil {
				lat = append(lat, float64(recv[i]-sent)/1e9)
			}
		}
	}
	span := float64(recv[n-1]-firstPut) / 1e9
	missing := expected - n
	if missing < 0 {
		missing = 0
	}
	return map[string]interface{}{
		"events": n, "missing": missing, "events_s": float64(n) / span,
		"lat_p50_ms": pct(lat, 50) * 1e3, "lat_p99_ms": pct(lat, 99) * 1e3,
		"cpu_us_per_event": (cpu1 - cpu0) / float64(n) * 1e6, "peak_rss_mb": peakRSSMB(),
	}, nil
}

func parallel(count, conc int, f func(i int) error) error {
	var next int64 = -1
	var wg sync.WaitGroup
	var firstErr atomic.Value
	for w := 0; w < conc; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(atomic.AddInt64(&next, 1))
				if i >= count {
					return
				}
				if err := f(i); err != nil {
					firstErr.Store(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if e := firstErr.Load(); e != nil {
		return e.(error)
	}
	return nil
}

func leaseBench(p params) (map[string]interface{}, error) {
	ctx := context.Background()
	count, ttl, conc := p.i("leases"), int64(p.i("ttl")), p.i("grant_conc")
	ids := make([]clientv3.LeaseID, count)
	t0 := time.Now()
	err := parallel(count, conc, func(i int) error {
		r, err := cli.Grant(ctx, ttl)
		if err == nil {
			ids[i] = r.ID
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	grantS := float64(count) / time.Since(t0).Seconds()
	cpu0 := cpuSeconds()
	kctx, kcancel := context.WithCancel(ctx)
	for _, id := range ids {
		ch, err := cli.KeepAlive(kctx, id)
		if err != nil {
			kcancel()
			return nil, err
		}
		go func() {
			for range ch {
			}
		}()
	}
	time.Sleep(time.Duration(p.f("hold_s") * 1e9))
	cpu := cpuSeconds() - cpu0
	plain := make([]int64, count)
	for i, id := range ids {
		plain[i] = int64(id)
	}
	emit(map[string]interface{}{"event": "check", "ids": plain})
	readLine()
	kcancel()
	t1 := time.Now()
	err = parallel(count, conc, func(i int) error {
		_, err := cli.Revoke(ctx, ids[i])
		return err
	})
	if err != nil {
		return nil, err
	}
	return map[string]interface{}{
		"grants_s": grantS, "revokes_s": float64(count) / time.Since(t1).Seconds(),
		"ka_cpu_pct": cpu / p.f("hold_s") * 100, "peak_rss_mb": peakRSSMB(),
	}, nil
}

func electionBench(p params) (map[string]interface{}, error) {
	ctx := context.Background()
	name := "bench-election-" + p.s("tag")
	var elections [2]*concurrency.Election
	for i := range elections {
		sess, err := concurrency.NewSession(cli, concurrency.WithTTL(10))
		if err != nil {
			return nil, err
		}
		defer sess.Close()
		elections[i] = concurrency.NewElection(sess, name)
	}
	if err := elections[0].Campaign(ctx, "a"); err != nil {
		return nil, err
	}
	leader, waiter := 0, 1
	var lat []float64
	for k := 0; k < p.i("n"); k++ {
		elected := make(chan time.Time, 1)
		errs := make(chan error, 1)
		go func(e *concurrency.Election) {
			if err := e.Campaign(ctx, "b"); err != nil {
				errs <- err
				return
			}
			elected <- time.Now()
		}(elections[waiter])
		time.Sleep(time.Duration(p.f("settle_s") * 1e9))
		select {
		case <-elected:
			return nil, fmt.Errorf("a second candidate was elected while the leader held office")
		default:
		}
		t0 := time.Now()
		if err := elections[leader].Resign(ctx); err != nil {
			return nil, err
		}
		select {
		case t1 := <-elected:
			lat = append(lat, t1.Sub(t0).Seconds())
		case err := <-errs:
			return nil, err
		case <-time.After(time.Duration(p.f("timeout_s") * 1e9)):
			return nil, fmt.Errorf("no new leader after resign")
		}
		leader, waiter = waiter, leader
	}
	elections[leader].Resign(ctx)
	return map[string]interface{}{"p50_ms": pct(lat, 50) * 1e3, "p99_ms": pct(lat, 99) * 1e3, "n": len(lat)}, nil
}

func main() {
	endpoint := ""
	for i, a := range os.Args {
		if a == "--endpoint" && i+1 < len(os.Args) {
			endpoint = os.Args[i+1]
		}
	}
	var err error
	cli, err = clientv3.New(clientv3.Config{Endpoints: []string{endpoint}, DialTimeout: 10 * time.Second})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	emit(map[string]interface{}{"ready": true, "info": map[string]interface{}{
		"library": "go.etcd.io/etcd/clientv3 " + version.Version + " (Debian golang-etcd-server-dev)",
		"go":      runtime.Version(),
		"api":     "goroutines",
	}})
	for {
		msg := readLine()
		if msg == nil || msg["cmd"] == "quit" {
			break
		}
		runtime.GC()
		workload, _ := msg["workload"].(string)
		p, _ := msg["params"].(map[string]interface{})
		metrics, err := run(workload, params(p))
		if err != nil {
			if na, ok := err.(notAvailable); ok {
				emit(map[string]interface{}{"ok": false, "na": na.why})
			} else {
				emit(map[string]interface{}{"ok": false, "error": err.Error()})
			}
			continue
		}
		emit(map[string]interface{}{"ok": true, "metrics": metrics})
	}
	cli.Close()
}
