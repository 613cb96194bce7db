package integration

import (
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kmip-adapter/kmip-adapter/integration/conformance"
)

// TestPostgresConformance replays the OASIS vectors (see TestConformance)
// against a server on the PostgreSQL store: every vector listed as
// passing on the embedded store must pass there too. Half of the vectors
// of the sessions go to each of two nodes sharing the database.
func TestPostgresConformance(t *testing.T) {
	dir, files := vectorFiles(t)
	listed, err := readPassingList()
	require.NoError(t, err)

	e := newPGEnv(t, "conformance")
	nodes := []*server{e.node(t), e.node(t)}
	cfg := nodes[0].clientTLS(t)
	var sessions atomic.Int64
	report := conformance.Run(files, conformance.Options{
		Connect: func() (conformance.Session, error) {
			s := nodes[sessions.Add(1)%2]
			conn, err := dialTLS(s, cfg)
			if err != nil {
				return nil, err
			}
			return tlsSession{conn}, nil
		},
	})
	t.Logf("conformance on the PostgreSQL store, %d sessions over two nodes:\n%s", sessions.Load(), report.Summary())
	for _, name := range listed {
		res, ok := report.Result(name)
		switch {
		case !ok:
			t.Errorf("%s is listed in %s but is no vector file of %s", name, passingList, dir)
		case !res.Passed:
			t.Errorf("%s passes on the embedded store but fails on PostgreSQL: %s", name, res)
		}
	}
}
