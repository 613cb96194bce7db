package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/gemalto/kmip-go/kmip14"
	"github.com/gemalto/kmip-go/kmip20"
	"github.com/gemalto/kmip-go/ttlv"

	"github.com/kmip-adapter/kmip-adapter/kmip/attr"
	"github.com/kmip-adapter/kmip-adapter/kmip/client"
	"github.com/kmip-adapter/kmip-adapter/kmip/message"
	"github.com/kmip-adapter/kmip-adapter/kmip/wire"
)

// opFunc runs one operation of a workload on a connection.
type opFunc func(ctx context.Context, c *client.Conn) error

// workload is one kind of load. setup runs before the clock starts (it
// makes the keys that Gets need); worker returns the operation loop body
// of connection i.
type workload struct {
	name        string
	description string
	messages    int              // request messages per operation
	version     *message.Version // a fixed protocol version, or nil for --version
	batchIDs    bool             // Unique Batch Item IDs on every item
	setup       func(ctx context.Context, conns []*client.Conn, keys int) (any, error)
	worker      func(state any, i int) opFunc
}

var v11 = message.V1_1

// workloadOrder is the order of `--workload all` and of the help.
var workloadOrder = []string{"create", "get", "locate", "register", "mixed", "vcenter"}

var workloads = map[string]*workload{
	"create": {
		name: "create", messages: 1,
		description: "Create an AES-256 key (Encrypt|Decrypt), no name: an HSM RNG draw and AES-GCM seal, and a durable store write",
		setup:       noSetup,
		worker:      createWorker,
	},
	"get": {
		name: "get", messages: 1,
		description: "Get one of the prepared AES-256 keys, picked at random: one AES-GCM open in the HSM",
		setup:       keySetup(false),
		worker:      getWorker,
	},
	"locate": {
		name: "locate", messages: 1,
		description: "Locate one of the prepared keys by its Name: exactly one identifier expected",
		setup:       keySetup(true),
		worker:      locateWorker,
	},
	"register": {
		name: "register", messages: 1,
		description: "Register a client-made AES-256 key: AES-GCM seal in the HSM and a durable store write",
		setup:       registerSetup,
		worker:      registerWorker,
	},
	"mixed": {
		name: "mixed", messages: 1,
		description: "vCenter host boot: 90% Get of prepared keys, 8% Get Attributes (State), 2% Create",
		setup:       keySetup(false),
		worker:      mixedWorker,
	},
	"vcenter": {
		name: "vcenter", messages: 6, version: &v11, batchIDs: true,
		description: "vCenter 7.0.3 key creation as captured, in KMIP 1.1 with batch item ids: Discover Versions, Query, Create, Get Attributes, three Add Attribute in one message, Get (one op = the 6 messages)",
		setup:       noSetup,
		worker:      vcenterWorker,
	},
}

func workloadNames() []string { return append([]string(nil), workloadOrder...) }

func workloadHelp() string {
	var b strings.Builder
	for _, n := range workloadOrder {
		fmt.Fprintf(&b, "  %-9s %s\n", n, workloads[n].description)
	}
	return b.String()
}

func expandWorkloads(in []string) ([]string, error) {
	var out []string
	for _, n := range in {
		n = strings.TrimSpace(n)
		switch {
		case n == "all":
			out = append(out, workloadOrder...)
		case workloads[n] != nil:
			out = append(out, n)
		default:
			return nil, fmt.Errorf("--workload: unknown workload %q (known: %s, all)", n, strings.Join(workloadOrder, ", "))
		}
	}
	if len(out) == 0 {
		return nil, errors.New("--workload: name at least one workload")
	}
	return out, nil
}

func noSetup(context.Context, []*client.Conn, int) (any, error) { return nil, nil }

// expectOK decodes a response of n items and returns it, or the first
// failed item's error.
func expectOK(raw ttlv.TTLV, n int) (*client.Response, error) {
	resp, err := client.DecodeResponse(raw)
	if err != nil {
		return nil, err
	}
	if len(resp.Items) != n {
		if len(resp.Items) == 1 {
			if err := resp.Items[0].Err(); err != nil {
				return nil, err
			}
		}
		return nil, fmt.Errorf("kmip: %d items answered, %d sent", len(resp.Items), n)
	}
	for _, it := range resp.Items {
		if err := it.Err(); err != nil {
			return nil, err
		}
	}
	return resp, nil
}

// send sends a pre-encoded one-item request and checks its answer.
func send(ctx context.Context, c *client.Conn, msg []byte) (client.Result, error) {
	raw, err := c.RoundTrip(ctx, msg)
	if err != nil {
		return client.Result{}, err
	}
	resp, err := expectOK(raw, 1)
	if err != nil {
		return client.Result{}, err
	}
	return resp.Items[0], nil
}

func encode1(v message.Version, op message.Operation, payload any) ([]byte, error) {
	return client.EncodeRequest(client.RequestHeader{Version: v}, []client.Item{{Operation: op, Payload: payload}}, false, 0)
}

func aes256() attr.List {
	return client.AESKey(256, kmip14.CryptographicUsageMaskEncrypt|kmip14.CryptographicUsageMaskDecrypt)
}

// createWorker: the same Create message every time, encoded once.
func createWorker(_ any, _ int) opFunc {
	var once sync.Once
	var msg []byte
	var encErr error
	return func(ctx context.Context, c *client.Conn) error {
		once.Do(func() {
			p, err := client.CreatePayload(c.Version(), kmip14.ObjectTypeSymmetricKey, aes256())
			if err != nil {
				encErr = err
				return
			}
			msg, encErr = encode1(c.Version(), kmip20.OperationCreate, p)
		})
		if encErr != nil {
			return encErr
		}
		r, err := send(ctx, c, msg)
		if err != nil {
			return err
		}
		if len(r.Payload) <= wire.HeaderLen {
			return errors.New("kmip: Create answered no payload")
		}
		return nil
	}
}

// keyPool is the keys made before a run, with their pre-encoded requests.
type keyPool struct {
	ids, names []string
	gets       [][]byte // Get of ids[i]
	getState   [][]byte // Get Attributes (State) of ids[i]
	locates    [][]byte // Locate by names[i]
	create     []byte
}

// keySetup creates keys (Named kmipctl-bench-RUN-N for locate) over
// every connection, gets each once, and encodes the requests the workers
// send.
func keySetup(named bool) func(ctx context.Context, conns []*client.Conn, keys int) (any, error) {
	return func(ctx context.Context, conns []*client.Conn, keys int) (any, error) {
		run := make([]byte, 6)
		if _, err := rand.Read(run); err != nil {
			return nil, err
		}
		v := conns[0].Version()
		p := &keyPool{ids: make([]string, keys), names: make([]string, keys)}
		var next sync.Mutex
		i := 0
		errc := make(chan error, len(conns))
		var wg sync.WaitGroup
		for _, c := range conns {
			wg.Add(1)
			go func(c *client.Conn) {
				defer wg.Done()
				for {
					next.Lock()
					k := i
					i++
					next.Unlock()
					if k >= keys {
						return
					}
					name := fmt.Sprintf("kmipctl-bench-%s-%d", hex.EncodeToString(run), k)
					attrs := aes256()
					if named {
						attrs = append(attrs, client.Name(name))
					}
					id, err := c.Create(ctx, kmip14.ObjectTypeSymmetricKey, attrs)
					if err != nil {
						errc <- fmt.Errorf("creating the keys to work on: %w", err)
						return
					}
					// One Get before the clock starts: a key's first Get
					// ends its Fresh attribute (a store write), and the
					// keys of a host boot were served before.
					if _, err := c.Get(ctx, id); err != nil {
						errc <- fmt.Errorf("getting the keys to work on: %w", err)
						return
					}
					p.ids[k], p.names[k] = id, name
				}
			}(c)
		}
		wg.Wait()
		close(errc)
		if err := <-errc; err != nil {
			return nil, err
		}
		for k := range keys {
			g, err := encode1(v, kmip20.OperationGet, client.GetPayload(p.ids[k], 0))
			if err != nil {
				return nil, err
			}
			ga, err := client.GetAttributesPayload(v, p.ids[k], attr.State)
			if err != nil {
				return nil, err
			}
			gam, err := encode1(v, kmip20.OperationGetAttributes, ga)
			if err != nil {
				return nil, err
			}
			p.gets, p.getState = append(p.gets, g), append(p.getState, gam)
			if named {
				lp, err := client.LocatePayload(v, client.LocateOptions{Attributes: attr.List{client.Name(p.names[k])}})
				if err != nil {
					return nil, err
				}
				lm, err := encode1(v, kmip20.OperationLocate, lp)
				if err != nil {
					return nil, err
				}
				p.locates = append(p.locates, lm)
			}
		}
		cp, err := client.CreatePayload(v, kmip14.ObjectTypeSymmetricKey, aes256())
		if err != nil {
			return nil, err
		}
		if p.create, err = encode1(v, kmip20.OperationCreate, cp); err != nil {
			return nil, err
		}
		return p, nil
	}
}

func newRand(i int) *mrand.Rand {
	var seed [8]byte
	_, _ = rand.Read(seed[:])
	s := uint64(seed[0]) | uint64(seed[1])<<8 | uint64(seed[2])<<16 | uint64(seed[3])<<24 | uint64(seed[4])<<32
	return mrand.New(mrand.NewPCG(s, uint64(i)))
}

func getWorker(state any, i int) opFunc {
	p := state.(*keyPool)
	rng := newRand(i)
	return func(ctx context.Context, c *client.Conn) error {
		r, err := send(ctx, c, p.gets[rng.IntN(len(p.gets))])
		if err != nil {
			return err
		}
		if len(r.Payload) <= wire.HeaderLen {
			return errors.New("kmip: Get answered no payload")
		}
		return nil
	}
}

func locateWorker(state any, i int) opFunc {
	p := state.(*keyPool)
	rng := newRand(i)
	return func(ctx context.Context, c *client.Conn) error {
		k := rng.IntN(len(p.locates))
		r, err := send(ctx, c, p.locates[k])
		if err != nil {
			return err
		}
		var found []string
		for _, it := range attr.Children(r.Payload) {
			if it.Tag() == kmip14.TagUniqueIdentifier && it.Type() == ttlv.TypeTextString {
				found = append(found, it.ValueTextString())
			}
		}
		if len(found) != 1 || found[0] != p.ids[k] {
			return fmt.Errorf("kmip: Locate by Name %s found %v, want [%s]", p.names[k], found, p.ids[k])
		}
		return nil
	}
}

func mixedWorker(state any, i int) opFunc {
	p := state.(*keyPool)
	rng := newRand(i)
	return func(ctx context.Context, c *client.Conn) error {
		k := rng.IntN(len(p.gets))
		var msg []byte
		switch r := rng.IntN(100); {
		case r < 90:
			msg = p.gets[k]
		case r < 98:
			msg = p.getState[k]
		default:
			msg = p.create
		}
		_, err := send(ctx, c, msg)
		return err
	}
}

// registerSetup encodes 64 Register requests, each with its own random
// AES-256 key, which the workers send in turn.
func registerSetup(_ context.Context, conns []*client.Conn, _ int) (any, error) {
	v := conns[0].Version()
	var msgs [][]byte
	for range 64 {
		material := make([]byte, 32)
		if _, err := rand.Read(material); err != nil {
			return nil, err
		}
		p, err := client.RegisterPayload(v, client.SymmetricKeyObject(kmip14.CryptographicAlgorithmAES, material),
			attr.List{{Name: attr.CryptographicUsageMask, Value: attr.Int(int32(kmip14.CryptographicUsageMaskEncrypt | kmip14.CryptographicUsageMaskDecrypt))}})
		if err != nil {
			return nil, err
		}
		m, err := encode1(v, kmip20.OperationRegister, p)
		if err != nil {
			return nil, err
		}
		msgs = append(msgs, m)
	}
	return msgs, nil
}

func registerWorker(state any, i int) opFunc {
	msgs := state.([][]byte)
	n := i
	return func(ctx context.Context, c *client.Conn) error {
		n++
		_, err := send(ctx, c, msgs[n%len(msgs)])
		return err
	}
}

// vcenterWorker replays the vCenter 7.0.3 conversation (DESIGN.md section
// 6) on a KMIP 1.1 connection whose items all carry batch item ids.
func vcenterWorker(_ any, _ int) opFunc {
	added := []attr.Attribute{
		client.Text("x-Product_Version", "7.0.3"),
		client.Text("x-Vendor", "VMware, Inc."),
		client.Text("x-Product", "VMware vSphere"),
	}
	return func(ctx context.Context, c *client.Conn) error {
		rs, err := c.Batch(ctx, client.Item{Operation: kmip20.OperationDiscoverVersions})
		if err != nil {
			return err
		}
		if err := rs[0].Err(); err != nil {
			return err
		}
		if _, err := c.Query(ctx, kmip14.QueryFunctionQueryServerInformation); err != nil {
			return err
		}
		id, err := c.Create(ctx, kmip14.ObjectTypeSymmetricKey, aes256())
		if err != nil {
			return err
		}
		if _, err := c.GetAttributes(ctx, id, "x-Product_Version"); err != nil {
			return err
		}
		items := make([]client.Item, len(added))
		for k, a := range added {
			p, err := client.AddAttributePayload(c.Version(), id, a)
			if err != nil {
				return err
			}
			items[k] = client.Item{Operation: kmip20.OperationAddAttribute, Payload: p}
		}
		rs, err = c.Batch(ctx, items...)
		if err != nil {
			return err
		}
		for _, r := range rs {
			if err := r.Err(); err != nil {
				return err
			}
		}
		o, err := c.Get(ctx, id)
		if err != nil {
			return err
		}
		if len(o.Material) != 32 {
			return fmt.Errorf("kmip: Get of the new key returned %d bytes of material, want 32", len(o.Material))
		}
		return nil
	}
}

// percentiles are nearest-rank percentiles of latencies in nanoseconds.
func percentiles(ns []int64) latencyMS {
	if len(ns) == 0 {
		return latencyMS{}
	}
	s := slices.Clone(ns)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	at := func(p float64) float64 {
		k := int(p*float64(len(s))+0.999999) - 1
		k = max(0, min(k, len(s)-1))
		return float64(s[k]) / 1e6
	}
	var sum float64
	for _, v := range s {
		sum += float64(v)
	}
	return latencyMS{P50: at(0.50), P90: at(0.90), P99: at(0.99), Max: float64(s[len(s)-1]) / 1e6, Mean: sum / float64(len(s)) / 1e6}
}
